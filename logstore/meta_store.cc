#include "logstore/meta_store.h"

#include <cstring>
#include <optional>

#include "common/crc32c.h"

namespace copycat::logstore {
namespace {

// The slot format is the magic's last two digits (FORMAT.md, "Metadata"). Saves write 02; 01,
// written before the log floor existed, is still read (its floor is 0/0). Both put term and
// vote at the same offsets.
constexpr char kMetaMagic[8] = {'C', 'C', 'M', 'E', 'T', 'A', '0', '2'};
constexpr char kMetaMagicV1[8] = {'C', 'C', 'M', 'E', 'T', 'A', '0', '1'};
constexpr size_t kHeaderBytes = 76;    // format 02: up to the configuration
constexpr size_t kV1HeaderBytes = 52;  // format 01
static_assert(kHeaderBytes + 4 == kMetaSlotOverheadBytes);

struct Slot {
    uint64_t sequence = 0;
    Meta meta;
};

std::vector<uint8_t> encode_slot(const Slot& slot) {
    const Meta& m = slot.meta;
    std::vector<uint8_t> bytes(kHeaderBytes + m.configuration.size() + 4);
    uint8_t* p = bytes.data();
    uint32_t length = static_cast<uint32_t>(m.configuration.size());
    std::memcpy(p, kMetaMagic, 8);
    std::memcpy(p + 8, &slot.sequence, 8);
    std::memcpy(p + 16, &m.term, 8);
    std::memcpy(p + 24, &m.vote, 8);
    std::memcpy(p + 32, &m.configuration_index, 8);
    std::memcpy(p + 40, &m.configuration_term, 8);
    std::memcpy(p + 48, &m.floor_term, 8);
    std::memcpy(p + 56, &m.floor_index, 8);
    std::memcpy(p + 64, &m.holes_released_by, 8);
    std::memcpy(p + 72, &length, 4);
    if (length > 0) std::memcpy(p + kHeaderBytes, m.configuration.data(), length);
    uint32_t crc = crc32c(p, kHeaderBytes + length);
    std::memcpy(p + kHeaderBytes + length, &crc, 4);
    return bytes;
}

std::optional<Slot> decode_slot(const uint8_t* p, size_t available) {
    if (available < 8) return std::nullopt;
    const bool v1 = std::memcmp(p, kMetaMagicV1, 8) == 0;
    if (!v1 && std::memcmp(p, kMetaMagic, 8) != 0) return std::nullopt;
    const size_t header = v1 ? kV1HeaderBytes : kHeaderBytes;
    if (available < header + 4) return std::nullopt;
    uint32_t length = 0, crc = 0;
    std::memcpy(&length, p + header - 4, 4);
    if (length > kMetaSlotBytes - header - 4 || header + 4 + length > available) {
        return std::nullopt;
    }
    std::memcpy(&crc, p + header + length, 4);
    if (crc != crc32c(p, header + length)) return std::nullopt;
    Slot slot;
    std::memcpy(&slot.sequence, p + 8, 8);
    std::memcpy(&slot.meta.term, p + 16, 8);
    std::memcpy(&slot.meta.vote, p + 24, 8);
    std::memcpy(&slot.meta.configuration_index, p + 32, 8);
    std::memcpy(&slot.meta.configuration_term, p + 40, 8);
    if (!v1) {
        std::memcpy(&slot.meta.floor_term, p + 48, 8);
        std::memcpy(&slot.meta.floor_index, p + 56, 8);
        std::memcpy(&slot.meta.holes_released_by, p + 64, 8);
    }
    slot.meta.configuration.assign(p + header, p + header + length);
    return slot;
}

Result<std::pair<Slot, int>> read_newest_slot(const std::string& path) {
    Result<std::vector<uint8_t>> bytes = read_whole_file(path);
    if (!bytes.is_ok()) return bytes.status();
    std::optional<Slot> best;
    int best_slot = -1;
    for (int slot = 0; slot < 2; ++slot) {
        size_t offset = slot * kMetaSlotBytes;
        if (bytes->size() <= offset) break;
        std::optional<Slot> decoded = decode_slot(bytes->data() + offset, bytes->size() - offset);
        if (decoded && (!best || decoded->sequence > best->sequence)) {
            best = decoded;
            best_slot = slot;
        }
    }
    if (!best) {
        return corruption("unreadable " + path + ": no valid slot at offset 0 or " +
                          std::to_string(kMetaSlotBytes));
    }
    return std::make_pair(*best, best_slot);
}

}  // namespace

MetaStore::MetaStore(File file, Meta meta, uint64_t sequence, int slot)
    : file_(std::move(file)), meta_(std::move(meta)), sequence_(sequence), newest_slot_(slot) {}

Result<MetaStore> MetaStore::open(const std::string& path) {
    if (!file_exists(path)) {
        // Created whole by rename, holding a valid first slot: from then on a `meta`
        // without a valid slot can only be corruption, never a torn first save.
        COPYCAT_RETURN_IF_ERROR(replace_file(path, encode_slot(Slot{1, Meta{}}), true));
    }
    Result<std::pair<Slot, int>> newest = read_newest_slot(path);
    if (!newest.is_ok()) return newest.status();
    Result<File> file = File::open(path, File::Mode::read_write);
    if (!file.is_ok()) return file.status();
    return MetaStore(std::move(*file), newest->first.meta, newest->first.sequence, newest->second);
}

Result<Meta> MetaStore::read(const std::string& path) {
    Result<std::pair<Slot, int>> newest = read_newest_slot(path);
    if (!newest.is_ok()) return newest.status();
    return newest->first.meta;
}

Status MetaStore::save(const Meta& meta) {
    if (meta.term < meta_.term) {
        return conflict("term " + std::to_string(meta.term) + " is lower than the stored term " +
                        std::to_string(meta_.term));
    }
    if (meta.configuration.size() > kMetaConfigurationMaxBytes) {
        return invalid_argument("configuration of " + std::to_string(meta.configuration.size()) +
                                " bytes exceeds " + std::to_string(kMetaConfigurationMaxBytes));
    }
    int slot = newest_slot_ == 0 ? 1 : 0;
    std::vector<uint8_t> bytes = encode_slot(Slot{sequence_ + 1, meta});
    COPYCAT_RETURN_IF_ERROR(file_.write_at(slot * kMetaSlotBytes, bytes));
    COPYCAT_RETURN_IF_ERROR(file_.sync_data());
    meta_ = meta;
    sequence_++;
    newest_slot_ = slot;
    return Status::ok();
}

}  // namespace copycat::logstore
