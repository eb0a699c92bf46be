#include "common/curve.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <vector>

#include "common/assert.h"
#include "common/config.h"
#include "common/log.h"

namespace copycat {
namespace {

constexpr size_t kZ85KeyChars = 40;
constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";

bool valid_name(const std::string& name) {
    if (name.empty() || name.size() > 64) return false;
    for (char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
        if (!ok) return false;
    }
    return true;
}

// A Z85 key of 40 characters that decodes to 32 bytes.
bool valid_z85_key(const std::string& key) {
    if (key.size() != kZ85KeyChars) return false;
    std::array<uint8_t, 32> bytes{};
    return zmq_z85_decode(bytes.data(), key.c_str()) != nullptr;
}

// The words of each line that holds any, with its line number; lines starting with '#' are
// comments.
Result<std::vector<std::pair<int, std::vector<std::string>>>> read_lines(
    const std::filesystem::path& path) {
    std::ifstream in(path);
    if (!in) {
        return invalid_argument("cannot read " + path.string() + ": " + std::strerror(errno));
    }
    std::vector<std::pair<int, std::vector<std::string>>> lines;
    std::string line;
    for (int number = 1; std::getline(in, line); ++number) {
        // Z85 keys may hold '#': only a line that starts with one is a comment.
        const size_t first = line.find_first_not_of(" \t");
        if (first != std::string::npos && line[first] == '#') continue;
        std::istringstream words(line);
        std::vector<std::string> fields;
        for (std::string word; words >> word;) fields.push_back(word);
        if (!fields.empty()) lines.emplace_back(number, std::move(fields));
    }
    return lines;
}

std::string where(const std::filesystem::path& path, int line) {
    return path.string() + ":" + std::to_string(line);
}

std::string public_of(const std::string& secret_key) {
    std::array<char, kZ85KeyChars + 1> text{};
    if (zmq_curve_public(text.data(), secret_key.c_str()) != 0) return {};
    return std::string(text.data());
}

std::string text_of(const zmq::message_t& message) {
    return std::string(static_cast<const char*>(message.data()), message.size());
}

}  // namespace

Result<CurveKeyPair> generate_curve_key_pair(const std::string& name) {
    if (!valid_name(name)) {
        return invalid_argument(
            "a key's name takes 1 to 64 letters, digits, '-', '_' or '.', not '" + name + "'");
    }
    std::array<char, kZ85KeyChars + 1> public_key{};
    std::array<char, kZ85KeyChars + 1> secret_key{};
    if (zmq_curve_keypair(public_key.data(), secret_key.data()) != 0) {
        return Status(StatusCode::unavailable,
                      std::string("cannot make a CURVE key pair: ") + zmq_strerror(zmq_errno()));
    }
    return CurveKeyPair{name, public_key.data(), secret_key.data()};
}

Result<CurveKeyPair> load_curve_key_pair(const std::filesystem::path& path) {
    auto lines = read_lines(path);
    if (!lines.is_ok()) return lines.status();
    if (lines->size() != 1 || lines->front().second.size() != 3) {
        return invalid_argument(path.string() +
                                " is not a key pair file: it holds one line 'NAME PUBLIC SECRET' "
                                "(copycat-ctl keygen writes them)");
    }
    const auto& [line, fields] = lines->front();
    CurveKeyPair pair{fields[0], fields[1], fields[2]};
    if (!valid_name(pair.name) || !valid_z85_key(pair.public_key) ||
        !valid_z85_key(pair.secret_key)) {
        return invalid_argument(where(path, line) +
                                ": not 'NAME PUBLIC SECRET' with 40-character Z85 keys");
    }
    if (public_of(pair.secret_key) != pair.public_key) {
        return invalid_argument(where(path, line) +
                                ": the public key is not the one of the secret key");
    }
    struct stat info {};
    if (::stat(path.c_str(), &info) == 0 && (info.st_mode & 077) != 0) {
        log::warn("a CURVE key pair file is readable by others: chmod 600 it",
                  {{"path", path.string()}});
    }
    return pair;
}

namespace {

// Creates `path` with `text` and the given mode; refused if it exists (O_EXCL).
Status write_new_file(const std::filesystem::path& path, const std::string& text, mode_t mode) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        const int error = errno;
        if (error == EEXIST) {
            return Status(StatusCode::conflict,
                          path.string() + " exists: keys are never overwritten; remove it first");
        }
        return io_error("cannot create " + path.string() + ": " + std::strerror(error));
    }
    const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    const bool synced = written && ::fsync(fd) == 0;
    const int error = errno;
    ::close(fd);
    if (!synced) return io_error("cannot write " + path.string() + ": " + std::strerror(error));
    return Status::ok();
}

}  // namespace

Status write_curve_key_pair(const std::filesystem::path& dir, const CurveKeyPair& pair) {
    const std::filesystem::path public_path = dir / (pair.name + ".pub");
    std::error_code error;
    if (std::filesystem::exists(public_path, error)) {
        return Status(StatusCode::conflict, public_path.string() +
                                                " exists: keys are never overwritten; remove it "
                                                "first");
    }
    COPYCAT_RETURN_IF_ERROR(
        write_new_file(dir / (pair.name + ".key"),
                       "# copycat CURVE key pair (keep it secret): NAME PUBLIC SECRET\n" +
                           pair.name + " " + pair.public_key + " " + pair.secret_key + "\n",
                       0600));
    return write_new_file(public_path, pair.name + " " + pair.public_key + "\n", 0644);
}

const std::string* CurvePublicKeys::find(const std::string& name) const {
    auto it = by_name.find(name);
    return it == by_name.end() ? nullptr : &it->second;
}

const std::string* CurvePublicKeys::name_of(const std::string& public_key) const {
    for (const auto& [name, key] : by_name) {
        if (key == public_key) return &name;
    }
    return nullptr;
}

Result<CurvePublicKeys> load_curve_public_keys(const std::filesystem::path& path) {
    auto lines = read_lines(path);
    if (!lines.is_ok()) return lines.status();
    CurvePublicKeys keys;
    for (const auto& [line, fields] : *lines) {
        if (fields.size() != 2 || !valid_name(fields[0]) || !valid_z85_key(fields[1])) {
            return invalid_argument(where(path, line) +
                                    ": not 'NAME PUBLIC' with a 40-character Z85 key (a .pub file "
                                    "of copycat-ctl keygen)");
        }
        auto [it, added] = keys.by_name.emplace(fields[0], fields[1]);
        if (!added && it->second != fields[1]) {
            return invalid_argument(where(path, line) + ": " + fields[0] +
                                    " is listed twice with different keys");
        }
    }
    if (keys.by_name.empty()) {
        return invalid_argument(path.string() + " lists no key: nobody could connect");
    }
    return keys;
}

void make_curve_server(zmq::socket_t& socket, const CurveServer& server) {
    socket.set(zmq::sockopt::curve_server, 1);
    socket.set(zmq::sockopt::curve_secretkey, server.own.secret_key);
    socket.set(zmq::sockopt::zap_domain, server.link);
}

void make_curve_client(zmq::socket_t& socket, const CurveClient& client) {
    socket.set(zmq::sockopt::curve_serverkey, client.server_public_key);
    socket.set(zmq::sockopt::curve_publickey, client.own.public_key);
    socket.set(zmq::sockopt::curve_secretkey, client.own.secret_key);
}

ZapHandler::ZapHandler(zmq::context_t& context, Metrics& metrics)
    : socket_(context, zmq::socket_type::rep),
      refused_total_(metrics.counter_family(
          "copycat_auth_refused_total",
          "Connections refused by the ZAP handler (CURVE key not listed), by link")),
      admitted_total_(metrics.counter_family("copycat_auth_admitted_total",
                                             "Connections admitted by the ZAP handler, by link")) {
    socket_.set(zmq::sockopt::linger, 0);
}

Status ZapHandler::bind() {
    try {
        socket_.bind(kZapEndpoint);
    } catch (const zmq::error_t& e) {
        return Status(StatusCode::unavailable,
                      std::string("cannot start the ZAP handler: ") + e.what());
    }
    return Status::ok();
}

void ZapHandler::admit(const CurveServer& server) {
    admitted_[server.link] = server.admitted;
    // Created now, so that a dashboard shows 0 before the first refusal.
    refused_total_.Add({{"link", server.link}});
    admitted_total_.Add({{"link", server.link}});
}

void ZapHandler::on_readable() {
    while (true) {
        std::vector<zmq::message_t> frames;
        zmq::message_t frame;
        if (!socket_.recv(frame, zmq::recv_flags::dontwait)) return;
        frames.push_back(std::move(frame));
        while (frames.back().more()) {
            zmq::message_t next;
            if (!socket_.recv(next, zmq::recv_flags::none)) break;
            frames.push_back(std::move(next));
        }
        // version, request id, domain, address, routing id, mechanism, credentials...
        if (frames.size() < 6) {
            zmq::message_t version("1.0", 3);
            zmq::message_t request_id;
            answer("", "", "", "", request_id, version);
            continue;
        }
        const std::string credential = frames.size() > 6 ? text_of(frames[6]) : std::string();
        answer(text_of(frames[2]), text_of(frames[3]), text_of(frames[5]), credential, frames[1],
               frames[0]);
    }
}

void ZapHandler::answer(const std::string& domain, const std::string& address,
                        const std::string& mechanism, const std::string& credential,
                        zmq::message_t& request_id, zmq::message_t& version) {
    std::string public_key;
    if (credential.size() == 32) {
        std::array<char, kZ85KeyChars + 1> text{};
        zmq_z85_encode(text.data(), reinterpret_cast<const uint8_t*>(credential.data()), 32);
        public_key = text.data();
    }
    const std::string* name = nullptr;
    if (mechanism == "CURVE" && !public_key.empty()) {
        if (auto link = admitted_.find(domain); link != admitted_.end()) {
            name = link->second.name_of(public_key);
        }
    }
    const bool ok = name != nullptr;
    const std::string link = domain.empty() ? "none" : domain;
    if (ok) {
        admitted_total_.Add({{"link", link}}).Increment();
    } else {
        ++refused_;
        refused_total_.Add({{"link", link}}).Increment();
        log::warn_once("zap-refused-" + link + "-" + public_key + "-" + address,
                       "refused a connection: its CURVE key is not listed for this link",
                       {{"link", link},
                        {"address", address},
                        {"mechanism", mechanism},
                        {"public_key", public_key.empty() ? "none" : public_key}});
    }
    const std::string code = ok ? "200" : "400";
    const std::string text = ok ? "OK" : "public key not listed";
    const std::string user = ok ? *name : "";
    socket_.send(version, zmq::send_flags::sndmore);
    socket_.send(request_id, zmq::send_flags::sndmore);
    socket_.send(zmq::buffer(code), zmq::send_flags::sndmore);
    socket_.send(zmq::buffer(text), zmq::send_flags::sndmore);
    socket_.send(zmq::buffer(user), zmq::send_flags::sndmore);
    socket_.send(zmq::const_buffer(nullptr, 0), zmq::send_flags::none);
}

Result<std::optional<CurveKeyPair>> load_key_pair_flag(const std::string& path,
                                                       std::string_view flag) {
    if (path.empty()) return std::optional<CurveKeyPair>();
    Result<CurveKeyPair> pair = load_curve_key_pair(path);
    if (!pair.is_ok()) return invalid_argument(std::string(flag) + ": " + pair.status().message());
    return std::optional<CurveKeyPair>(std::move(pair.value()));
}

Result<std::optional<CurvePublicKeys>> load_public_keys_flag(const std::string& path,
                                                             std::string_view flag) {
    if (path.empty()) return std::optional<CurvePublicKeys>();
    Result<CurvePublicKeys> keys = load_curve_public_keys(path);
    if (!keys.is_ok()) return invalid_argument(std::string(flag) + ": " + keys.status().message());
    return std::optional<CurvePublicKeys>(std::move(keys.value()));
}

HandshakeMonitor::HandshakeMonitor(zmq::context_t& context, zmq::socket_t& socket)
    : pair_(context, zmq::socket_type::pair) {
    static std::atomic<uint64_t> next{0};
    const std::string endpoint = "inproc://copycat-handshake-monitor-" + std::to_string(++next);
    const int events = ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                       ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL;
    const int rc = zmq_socket_monitor(socket.handle(), endpoint.c_str(), events);
    COPYCAT_ASSERT(rc == 0, "zmq_socket_monitor failed");
    pair_.set(zmq::sockopt::linger, 0);
    pair_.connect(endpoint);
}

std::vector<std::string> HandshakeMonitor::take_failures() {
    std::set<std::string> seen;
    std::vector<std::string> failures;
    while (true) {
        zmq::message_t event;
        if (!pair_.recv(event, zmq::recv_flags::dontwait)) break;
        zmq::message_t address;
        if (event.more()) (void)pair_.recv(address, zmq::recv_flags::dontwait);
        if (event.size() < 6) continue;
        uint16_t kind = 0;
        uint32_t value = 0;
        std::memcpy(&kind, event.data(), 2);
        std::memcpy(&value, static_cast<const char*>(event.data()) + 2, 4);
        std::string said;
        if (kind == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
            said = "the server refused this process's CURVE key (status " + std::to_string(value) +
                   "): it is not in the server's list of admitted keys";
        } else if (kind == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) {
            said = "the handshake failed (ZMTP protocol error " + std::to_string(value) +
                   "): do both ends use CURVE, and is the server's public key the right one?";
        } else {
            said = std::string("the handshake failed: ") + zmq_strerror(static_cast<int>(value)) +
                   " (is the server's public key the right one?)";
        }
        if (seen.insert(said).second) failures.push_back(said);
    }
    return failures;
}

prometheus::Family<prometheus::Counter>& handshake_failures_family(Metrics& metrics) {
    return metrics.counter_family(
        "copycat_auth_handshake_failures_total",
        "Handshakes of this process's outgoing CURVE connections that failed, by link");
}

void report_handshake_failures(HandshakeMonitor& monitor,
                               prometheus::Family<prometheus::Counter>& failures,
                               const std::string& link, const std::string& peer) {
    for (const std::string& failure : monitor.take_failures()) {
        failures.Add({{"link", link}}).Increment();
        log::warn_once("handshake-" + link + "-" + peer + "-" + failure,
                       "a connection's CURVE handshake failed",
                       {{"link", link}, {"peer", peer}, {"why", failure}});
    }
}

Result<std::optional<CurveClient>> load_client_curve_flags(const std::string& key_path,
                                                           const std::string& gateway_key_path) {
    if (key_path.empty() != gateway_key_path.empty()) {
        return invalid_argument("--curve-key and --curve-gateway-key go together");
    }
    if (key_path.empty()) return std::optional<CurveClient>();
    Result<std::optional<CurveKeyPair>> own = load_key_pair_flag(key_path, "--curve-key");
    if (!own.is_ok()) return own.status();
    Result<std::optional<CurvePublicKeys>> gateway =
        load_public_keys_flag(gateway_key_path, "--curve-gateway-key");
    if (!gateway.is_ok()) return gateway.status();
    if (gateway.value()->by_name.size() != 1) {
        return invalid_argument(
            "--curve-gateway-key: give a file with the gateways' one public key (their .pub "
            "file)");
    }
    return std::optional<CurveClient>(CurveClient{**own, gateway.value()->by_name.begin()->second});
}

Status load_curve_flags(const boost::program_options::variables_map& variables,
                        std::optional<CurveKeyPair>& key,
                        std::initializer_list<CurveListFlag> lists) {
    auto pair = load_key_pair_flag(text_or_empty(variables, "curve-key"), "--curve-key");
    if (!pair.is_ok()) return pair.status();
    key = std::move(pair.value());
    for (const auto& [name, target] : lists) {
        auto keys = load_public_keys_flag(text_or_empty(variables, name), std::string("--") + name);
        if (!keys.is_ok()) return keys.status();
        *target = std::move(keys.value());
    }
    return Status::ok();
}

std::string node_key_name(uint64_t id) { return "node-" + std::to_string(id); }

}  // namespace copycat
