// The key/value register state machine the simulated clients use, on top of committed
// EntryType::command entries (initialize and configuration entries carry no state for it).
//
// A command is one write, cas or delete of history.h's model, tagged with the client process and
// its sequence number. Commands deduplicate: a process runs one operation at a time and retries
// it with the same sequence, so a command whose sequence the process already applied returns
// the cached result and changes nothing (TESTING.md failure 5: "each (session, sequence)
// applies once"), and an older sequence is ignored. Reads never go through the log: the node
// answers them from the store once it has applied up to the read's index.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tests/sim/history.h"

namespace copycat::sim {

struct Command {
    int process = 0;
    uint64_t sequence = 0;
    Op op;  // write, cas or remove
};

std::vector<uint8_t> encode_command(const Command& command);
// nullopt for bytes that are not an encoded command.
std::optional<Command> decode_command(std::span<const uint8_t> bytes);

struct CommandResult {
    enum class Kind { applied, duplicate, stale };
    Kind kind = Kind::applied;
    OpOutput output;  // applied and duplicate: what the operation returned
};

class KvStore {
public:
    CommandResult apply(const Command& command);
    std::optional<std::string> get(const std::string& key) const;
    // A hash of the whole state (values and the deduplication table), equal on every node that
    // applied the same commands.
    uint64_t state_hash() const;
    size_t keys() const { return values_.size(); }

    // The whole state as bytes, for a Raft snapshot, and back (nullopt for bad bytes).
    std::vector<uint8_t> encode() const;
    static std::optional<KvStore> decode(std::span<const uint8_t> bytes);

private:
    OpOutput execute(const Op& op);

    struct LastCommand {
        uint64_t sequence = 0;
        OpOutput output;
    };
    std::map<std::string, std::string> values_;
    std::map<int, LastCommand> last_command_;  // by client process
};

}  // namespace copycat::sim
