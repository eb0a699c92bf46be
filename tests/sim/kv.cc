#include "tests/sim/kv.h"

#include <utility>

namespace copycat::sim {
namespace {

class Writer {
public:
    void u8(uint8_t value) { bytes.push_back(value); }
    void u64(uint64_t value) {
        for (int shift = 0; shift < 64; shift += 8) bytes.push_back((value >> shift) & 0xFF);
    }
    void text(const std::string& value) {
        u64(value.size());
        bytes.insert(bytes.end(), value.begin(), value.end());
    }
    void optional_text(const std::optional<std::string>& value) {
        u8(value ? 1 : 0);
        if (value) text(*value);
    }
    std::vector<uint8_t> bytes;
};

class Reader {
public:
    explicit Reader(std::span<const uint8_t> bytes) : bytes_(bytes) {}
    bool u8(uint8_t& value) {
        if (position_ + 1 > bytes_.size()) return false;
        value = bytes_[position_++];
        return true;
    }
    bool u64(uint64_t& value) {
        if (position_ + 8 > bytes_.size()) return false;
        value = 0;
        for (int shift = 0; shift < 64; shift += 8) value |= uint64_t{bytes_[position_++]} << shift;
        return true;
    }
    bool text(std::string& value) {
        uint64_t size = 0;
        if (!u64(size) || size > bytes_.size() - position_) return false;
        value.assign(bytes_.begin() + position_, bytes_.begin() + position_ + size);
        position_ += size;
        return true;
    }
    bool optional_text(std::optional<std::string>& value) {
        uint8_t present = 0;
        if (!u8(present) || present > 1) return false;
        if (present == 0) return true;
        value.emplace();
        return text(*value);
    }
    bool at_end() const { return position_ == bytes_.size(); }

private:
    std::span<const uint8_t> bytes_;
    size_t position_ = 0;
};

constexpr uint8_t command_magic = 0xC7;

uint64_t hash_text(uint64_t hash, const std::string& text) {
    for (const char c : text) {
        hash ^= static_cast<unsigned char>(c);
        hash *= 0x100000001B3ULL;
    }
    return (hash ^ text.size()) * 0x100000001B3ULL;
}

uint64_t hash_output(const OpOutput& output) {
    uint64_t hash = hash_text(0xCBF29CE484222325ULL, output.value.value_or(""));
    return hash * 31 + (output.value ? 2 : 0) + (output.swapped ? 1 : 0);
}

}  // namespace

std::vector<uint8_t> encode_command(const Command& command) {
    Writer writer;
    writer.u8(command_magic);
    writer.u64(static_cast<uint64_t>(command.process));
    writer.u64(command.sequence);
    writer.u8(static_cast<uint8_t>(command.op.kind));
    writer.text(command.op.key);
    writer.optional_text(command.op.value);
    writer.optional_text(command.op.expected);
    return std::move(writer.bytes);
}

std::optional<Command> decode_command(std::span<const uint8_t> bytes) {
    Reader reader(bytes);
    uint8_t magic = 0;
    uint64_t process = 0;
    uint8_t kind = 0;
    Command command;
    if (!reader.u8(magic) || magic != command_magic || !reader.u64(process) ||
        !reader.u64(command.sequence) || !reader.u8(kind) || kind > 3 ||
        !reader.text(command.op.key) || !reader.optional_text(command.op.value) ||
        !reader.optional_text(command.op.expected) || !reader.at_end()) {
        return std::nullopt;
    }
    command.process = static_cast<int>(process);
    command.op.kind = static_cast<OpKind>(kind);
    return command;
}

CommandResult KvStore::apply(const Command& command) {
    LastCommand& last = last_command_[command.process];
    if (last.sequence > command.sequence) return {CommandResult::Kind::stale, {}};
    if (last.sequence == command.sequence) return {CommandResult::Kind::duplicate, last.output};
    last.sequence = command.sequence;
    last.output = execute(command.op);
    return {CommandResult::Kind::applied, last.output};
}

OpOutput KvStore::execute(const Op& op) {
    switch (op.kind) {
        case OpKind::read: return OpOutput::read(get(op.key));
        case OpKind::write: values_[op.key] = op.value.value_or(""); return OpOutput::none();
        case OpKind::remove: values_.erase(op.key); return OpOutput::none();
        case OpKind::cas: {
            const bool swapped = get(op.key) == op.expected;
            if (swapped) values_[op.key] = op.value.value_or("");
            return OpOutput::cas(swapped);
        }
    }
    return OpOutput::none();
}

std::optional<std::string> KvStore::get(const std::string& key) const {
    const auto found = values_.find(key);
    if (found == values_.end()) return std::nullopt;
    return found->second;
}

std::vector<uint8_t> KvStore::encode() const {
    Writer writer;
    writer.u64(values_.size());
    for (const auto& [key, value] : values_) {
        writer.text(key);
        writer.text(value);
    }
    writer.u64(last_command_.size());
    for (const auto& [process, last] : last_command_) {
        writer.u64(static_cast<uint64_t>(process));
        writer.u64(last.sequence);
        writer.optional_text(last.output.value);
        writer.u8(last.output.swapped ? 1 : 0);
    }
    return std::move(writer.bytes);
}

std::optional<KvStore> KvStore::decode(std::span<const uint8_t> bytes) {
    Reader reader(bytes);
    KvStore store;
    uint64_t count = 0;
    if (!reader.u64(count)) return std::nullopt;
    for (uint64_t i = 0; i < count; ++i) {
        std::string key;
        std::string value;
        if (!reader.text(key) || !reader.text(value)) return std::nullopt;
        store.values_[key] = value;
    }
    if (!reader.u64(count)) return std::nullopt;
    for (uint64_t i = 0; i < count; ++i) {
        uint64_t process = 0;
        LastCommand last;
        uint8_t swapped = 0;
        if (!reader.u64(process) || !reader.u64(last.sequence) ||
            !reader.optional_text(last.output.value) || !reader.u8(swapped)) {
            return std::nullopt;
        }
        last.output.swapped = swapped != 0;
        store.last_command_[static_cast<int>(process)] = last;
    }
    if (!reader.at_end()) return std::nullopt;
    return store;
}

uint64_t KvStore::state_hash() const {
    uint64_t hash = 0xCBF29CE484222325ULL;
    for (const auto& [key, value] : values_) hash = hash_text(hash_text(hash, key), value);
    for (const auto& [process, last] : last_command_) {
        hash = (hash ^ static_cast<uint64_t>(process)) * 0x100000001B3ULL;
        hash = (hash ^ last.sequence) * 0x100000001B3ULL;
        hash = (hash ^ hash_output(last.output)) * 0x100000001B3ULL;
    }
    return hash;
}

}  // namespace copycat::sim
