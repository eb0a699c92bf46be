#include "client/ctl/keygen.h"

#include "common/curve.h"

namespace copycat::ctl {

Result<Outcome> run_keygen(const Command& command) {
    const std::string& name = command.args.at(0);
    Result<CurveKeyPair> pair = generate_curve_key_pair(name);
    if (!pair.is_ok()) return pair.status();
    const std::filesystem::path dir = command.flags.out_dir;
    std::error_code error;
    if (!std::filesystem::is_directory(dir, error)) {
        return invalid_argument("--out-dir " + dir.string() + " is not a directory");
    }
    COPYCAT_RETURN_IF_ERROR(write_curve_key_pair(dir, *pair));
    const std::string key_file = (dir / (name + ".key")).string();
    const std::string pub_file = (dir / (name + ".pub")).string();
    Outcome outcome;
    outcome.fields = {field("name", name), field("public_key", pair->public_key),
                      field("key_file", key_file), field("pub_file", pub_file)};
    outcome.simple = {pair->public_key};
    outcome.notes = {"wrote " + key_file + " (the key pair: keep it secret) and " + pub_file +
                     " (the public key, for the keys files of its peers)"};
    return outcome;
}

}  // namespace copycat::ctl
