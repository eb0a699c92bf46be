#include "consensus/server/snapshot_store.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>

#include "common/crc32c.h"
#include "common/log.h"
#include "logstore/file.h"

namespace copycat::server {

namespace {

using logstore::File;

constexpr char kMagic[8] = {'C', 'C', 'S', 'N', 'A', 'P', 'S', 'H'};
constexpr uint32_t kFormat = 1;
constexpr size_t kHeaderBytes = 40;
constexpr size_t kCrcBytes = 4;
constexpr std::string_view kPrefix = "snapshot-";
constexpr std::string_view kSuffix = ".snap";
constexpr size_t kIndexDigits = 20;

void put_u32(std::vector<uint8_t>& out, size_t at, uint32_t value) {
    for (int i = 0; i < 4; ++i) out[at + i] = static_cast<uint8_t>(value >> (8 * i));
}
void put_u64(std::vector<uint8_t>& out, size_t at, uint64_t value) {
    for (int i = 0; i < 8; ++i) out[at + i] = static_cast<uint8_t>(value >> (8 * i));
}
uint32_t get_u32(std::span<const uint8_t> in, size_t at) {
    uint32_t value = 0;
    for (int i = 0; i < 4; ++i) value |= static_cast<uint32_t>(in[at + i]) << (8 * i);
    return value;
}
uint64_t get_u64(std::span<const uint8_t> in, size_t at) {
    uint64_t value = 0;
    for (int i = 0; i < 8; ++i) value |= static_cast<uint64_t>(in[at + i]) << (8 * i);
    return value;
}

std::optional<uint64_t> parse_number(std::string_view text) {
    uint64_t value = 0;
    if (text.empty()) return std::nullopt;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
}

bool ends_with(std::string_view text, std::string_view suffix) {
    return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

std::string describe(raft::Index index) { return std::to_string(index); }

}  // namespace

// --- names ----------------------------------------------------------------------------------

std::string SnapshotName::file_name() const {
    std::string digits = std::to_string(index);
    if (digits.size() < kIndexDigits) digits.insert(0, kIndexDigits - digits.size(), '0');
    return std::string(kPrefix) + digits + "-" + std::to_string(term) + std::string(kSuffix);
}

std::optional<SnapshotName> parse_snapshot_name(std::string_view file_name) {
    if (file_name.substr(0, kPrefix.size()) != kPrefix || !ends_with(file_name, kSuffix)) {
        return std::nullopt;
    }
    std::string_view middle =
        file_name.substr(kPrefix.size(), file_name.size() - kPrefix.size() - kSuffix.size());
    const size_t dash = middle.find('-');
    if (dash != kIndexDigits) return std::nullopt;
    std::optional<uint64_t> index = parse_number(middle.substr(0, dash));
    std::optional<uint64_t> term = parse_number(middle.substr(dash + 1));
    if (!index || !term || *index == 0) return std::nullopt;
    return SnapshotName{*index, *term};
}

// --- the file's bytes -----------------------------------------------------------------------

SnapshotFraming frame_snapshot(const raft::Snapshot& snapshot) {
    static const std::vector<uint8_t> no_data;
    const std::vector<uint8_t>& data = snapshot.data != nullptr ? *snapshot.data : no_data;
    const std::vector<uint8_t> configuration = raft::encode_configuration(snapshot.configuration);
    SnapshotFraming framing;
    framing.head.resize(kHeaderBytes);
    std::memcpy(framing.head.data(), kMagic, sizeof(kMagic));
    put_u32(framing.head, 8, kFormat);
    put_u32(framing.head, 12, static_cast<uint32_t>(configuration.size()));
    put_u64(framing.head, 16, snapshot.index);
    put_u64(framing.head, 24, snapshot.term);
    put_u64(framing.head, 32, data.size());
    framing.head.insert(framing.head.end(), configuration.begin(), configuration.end());
    uint32_t crc = crc32c(framing.head.data(), framing.head.size());
    crc = crc32c_extend(crc, data.data(), data.size());
    for (size_t i = 0; i < kCrcBytes; ++i) framing.tail[i] = static_cast<uint8_t>(crc >> (8 * i));
    return framing;
}

Result<raft::Snapshot> decode_snapshot(std::span<const uint8_t> bytes) {
    if (bytes.size() < kHeaderBytes + kCrcBytes) return corruption("shorter than its header");
    if (std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) return corruption("bad magic");
    if (get_u32(bytes, 8) != kFormat) {
        return corruption("unknown format " + std::to_string(get_u32(bytes, 8)));
    }
    const uint64_t configuration_bytes = get_u32(bytes, 12);
    const uint64_t data_bytes = get_u64(bytes, 32);
    const uint64_t body = bytes.size() - kHeaderBytes - kCrcBytes;
    if (configuration_bytes > body || data_bytes != body - configuration_bytes) {
        return corruption("lengths do not match the file size " + std::to_string(bytes.size()));
    }
    const size_t crc_at = bytes.size() - kCrcBytes;
    if (crc32c(bytes.data(), crc_at) != get_u32(bytes, crc_at)) return corruption("bad CRC");
    raft::Snapshot snapshot;
    snapshot.index = get_u64(bytes, 16);
    snapshot.term = get_u64(bytes, 24);
    Result<raft::Configuration> configuration =
        raft::decode_configuration(bytes.subspan(kHeaderBytes, configuration_bytes));
    if (!configuration.is_ok()) {
        return corruption("configuration: " + configuration.status().message());
    }
    if (snapshot.index == 0 || configuration->index > snapshot.index) {
        return corruption("index " + describe(snapshot.index) + " before its configuration's");
    }
    snapshot.configuration = std::move(configuration.value());
    auto data = bytes.subspan(kHeaderBytes + configuration_bytes, data_bytes);
    snapshot.data = std::make_shared<const std::vector<uint8_t>>(data.begin(), data.end());
    return snapshot;
}

// --- falling back past a corrupt snapshot ----------------------------------------------------

Status fallback_check(raft::Index older_index, const SnapshotName& corrupt,
                      const std::vector<raft::Entry>& log) {
    const std::string range = describe(older_index + 1) + ".." + describe(corrupt.index) +
                              " (from the older state to "
                              "the corrupt snapshot)";
    auto from = std::lower_bound(
        log.begin(), log.end(), older_index + 1,
        [](const raft::Entry& entry, raft::Index index) { return entry.index < index; });
    raft::Index expected = older_index + 1;
    for (auto it = from; it != log.end() && it->index <= corrupt.index; ++it, ++expected) {
        if (it->index != expected) {
            return corruption("the log lacks index " + describe(expected) + " of " + range);
        }
        if (it->index == corrupt.index && it->term != corrupt.term) {
            return corruption("the log's entry " + describe(corrupt.index) + " has term " +
                              std::to_string(it->term) + ", the snapshot's is " +
                              std::to_string(corrupt.term));
        }
    }
    if (expected <= corrupt.index) {
        return corruption("the log lacks index " + describe(expected) + " of " + range);
    }
    return Status::ok();
}

// --- the log after the snapshot -------------------------------------------------------------

Result<bool> attach_snapshot(raft::RestoredState& restored,
                             std::optional<raft::Snapshot> snapshot) {
    const raft::Index covered = snapshot ? snapshot->index : 0;
    if (restored.first_index > covered + 1) {
        return corruption("the log starts at index " + describe(restored.first_index) +
                          (snapshot ? ", after the snapshot at " + describe(covered)
                                    : ", and no snapshot is stored") +
                          ": entries " + describe(covered + 1) + ".." +
                          describe(restored.first_index - 1) +
                          " are missing (were snapshots removed?). This node's state is lost: "
                          "remove it from the cluster, wipe its data directory and join it "
                          "again under a new id");
    }
    if (!snapshot) return false;
    auto at = std::lower_bound(
        restored.entries.begin(), restored.entries.end(), covered,
        [](const raft::Entry& entry, raft::Index index) { return entry.index < index; });
    const bool conflicts =
        at != restored.entries.end() && at->index == covered && at->term != snapshot->term;
    if (conflicts) {
        restored.entries.clear();
        restored.first_index = covered + 1;
    }
    if (restored.first_index == covered + 1) restored.term_before_first = snapshot->term;
    restored.snapshot = std::move(snapshot);
    return conflicts;
}

// --- the store ------------------------------------------------------------------------------

Result<std::unique_ptr<SnapshotStore>> SnapshotStore::open(std::string directory) {
    COPYCAT_RETURN_IF_ERROR(logstore::make_directories(directory));
    std::unique_ptr<SnapshotStore> store(new SnapshotStore(directory));
    Result<std::vector<std::string>> names = logstore::list_directory(directory);
    if (!names.is_ok()) return names.status();
    for (const std::string& name : *names) {
        if (!ends_with(name, ".tmp")) continue;
        log::info("removing a snapshot left half-written by a crash", {{"file", name}});
        COPYCAT_RETURN_IF_ERROR(logstore::remove_file(directory + "/" + name));
    }
    COPYCAT_RETURN_IF_ERROR(logstore::sync_directory(directory));
    const size_t slash = directory.find_last_of('/');
    if (slash != std::string::npos && slash > 0) {  // the folder's own entry, when just made
        COPYCAT_RETURN_IF_ERROR(logstore::sync_directory(directory.substr(0, slash)));
    }
    return store;
}

std::string SnapshotStore::path_of(const SnapshotName& name) const {
    return directory_ + "/" + name.file_name();
}

Result<std::vector<SnapshotName>> SnapshotStore::list() const {
    Result<std::vector<std::string>> names = logstore::list_directory(directory_);
    if (!names.is_ok()) return names.status();
    std::vector<SnapshotName> found;
    for (const std::string& name : *names) {
        if (std::optional<SnapshotName> parsed = parse_snapshot_name(name)) {
            found.push_back(*parsed);
        }
    }
    std::sort(found.rbegin(), found.rend());
    return found;
}

Result<raft::Snapshot> SnapshotStore::read(const SnapshotName& name) const {
    Result<std::vector<uint8_t>> bytes = logstore::read_whole_file(path_of(name));
    if (!bytes.is_ok()) return bytes.status();
    Result<raft::Snapshot> snapshot = decode_snapshot(*bytes);
    if (!snapshot.is_ok()) return snapshot.status();
    if (snapshot->index != name.index || snapshot->term != name.term) {
        return corruption("holds index " + describe(snapshot->index) + " term " +
                          std::to_string(snapshot->term) + ", not those of its name");
    }
    return snapshot;
}

Result<std::optional<raft::Snapshot>> SnapshotStore::load(const std::vector<raft::Entry>& log) {
    Result<std::vector<SnapshotName>> names = list();
    if (!names.is_ok()) return names.status();
    std::vector<SnapshotName> corrupt;
    std::optional<raft::Snapshot> chosen;
    std::string first_problem;
    for (const SnapshotName& name : *names) {
        Result<raft::Snapshot> snapshot = read(name);
        if (snapshot.is_ok()) {
            chosen = std::move(snapshot.value());
            break;
        }
        if (snapshot.status().code() != StatusCode::corruption) return snapshot.status();
        log::error("a snapshot fails its checks",
                   {{"file", path_of(name)}, {"error", snapshot.status()}});
        if (corrupt.empty()) first_problem = snapshot.status().message();
        corrupt.push_back(name);
    }
    if (!corrupt.empty()) {
        const raft::Index older = chosen ? chosen->index : 0;
        Status safe = fallback_check(older, corrupt.front(), log);
        if (!safe.is_ok()) {
            return corruption(
                "snapshot " + path_of(corrupt.front()) + " is corrupt (" + first_problem +
                ") and no older state can rebuild it: " + safe.message() +
                ". This node's state is lost: remove it from the cluster, wipe its data "
                "directory and join it again under a new id (SNAPSHOTS.md)");
        }
        log::error("falling back past corrupt snapshots: the log rebuilds their state",
                   {{"corrupt", corrupt.size()}, {"from_index", older}});
        COPYCAT_RETURN_IF_ERROR(set_aside_corrupt(corrupt));
    }
    COPYCAT_RETURN_IF_ERROR(keep_newest(2));
    return chosen;
}

Status SnapshotStore::set_aside_corrupt(const std::vector<SnapshotName>& corrupt) {
    for (const SnapshotName& name : corrupt) {
        const std::string path = path_of(name);
        if (std::rename(path.c_str(), (path + ".corrupt").c_str()) != 0) {
            return io_error("cannot rename " + path + ": " + std::strerror(errno));
        }
    }
    return logstore::sync_directory(directory_);
}

Status SnapshotStore::keep_newest(size_t keep) {
    Result<std::vector<SnapshotName>> names = list();
    if (!names.is_ok()) return names.status();
    if (names->size() <= keep) return Status::ok();
    for (size_t i = keep; i < names->size(); ++i) {
        COPYCAT_RETURN_IF_ERROR(logstore::remove_file(path_of((*names)[i])));
    }
    return logstore::sync_directory(directory_);
}

Status SnapshotStore::discard_all() {
    COPYCAT_RETURN_IF_ERROR(keep_newest(0));
    logstore::crash_point("snapshot.after_discard");
    return Status::ok();
}

Result<SnapshotStore::Saved> SnapshotStore::save(const raft::Snapshot& snapshot) {
    const std::string path = path_of({snapshot.index, snapshot.term});
    if (logstore::file_exists(path)) {
        Result<File> file = File::open(path, File::Mode::read_only);
        if (!file.is_ok()) return file.status();
        Result<uint64_t> size = file->size();
        if (!size.is_ok()) return size.status();
        return Saved{false, *size};
    }
    Result<uint64_t> bytes = write_durably(snapshot, path);
    if (!bytes.is_ok()) return bytes.status();
    COPYCAT_RETURN_IF_ERROR(keep_newest(2));
    logstore::crash_point("snapshot.after_cleanup");
    return Saved{true, *bytes};
}

// Steps 1-4 of SNAPSHOTS.md, "Writing one". The file's size once durable.
Result<uint64_t> SnapshotStore::write_durably(const raft::Snapshot& snapshot,
                                              const std::string& path) {
    const std::string tmp = path + ".tmp";
    COPYCAT_RETURN_IF_ERROR(logstore::remove_file(tmp));
    Result<File> file = File::open(tmp, File::Mode::create_new);
    if (!file.is_ok()) return file.status();
    const SnapshotFraming framing = frame_snapshot(snapshot);
    const std::span<const uint8_t> data = snapshot.data != nullptr
                                              ? std::span<const uint8_t>(*snapshot.data)
                                              : std::span<const uint8_t>();
    COPYCAT_RETURN_IF_ERROR(file->write_at(0, framing.head));
    COPYCAT_RETURN_IF_ERROR(file->write_at(framing.head.size(), data));
    COPYCAT_RETURN_IF_ERROR(file->write_at(framing.head.size() + data.size(), framing.tail));
    logstore::crash_point("snapshot.after_tmp_write");
    COPYCAT_RETURN_IF_ERROR(file->sync_data());
    file->close();
    logstore::crash_point("snapshot.after_tmp_sync");
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        return io_error("cannot rename " + tmp + ": " + std::strerror(errno));
    }
    logstore::crash_point("snapshot.after_rename");
    COPYCAT_RETURN_IF_ERROR(logstore::sync_directory(directory_));
    logstore::crash_point("snapshot.after_directory_sync");
    return framing.head.size() + data.size() + framing.tail.size();
}

}  // namespace copycat::server
