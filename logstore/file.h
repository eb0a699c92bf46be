// The logstore's seam to the file system: POSIX files with errors as Status values,
// and named crash points for tests (FORMAT.md, "Operations and their crash points").
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"

namespace copycat::logstore {

// An open file descriptor; closed on destruction. Not thread-safe.
class File {
public:
    enum class Mode { read_only, read_write, create_new };

    static Result<File> open(const std::string& path, Mode mode);
    File() = default;
    File(File&& other) noexcept;
    File& operator=(File&& other) noexcept;
    File(const File&) = delete;
    File& operator=(const File&) = delete;
    ~File();

    const std::string& path() const { return path_; }
    bool is_open() const { return fd_ >= 0; }

    Result<uint64_t> size() const;
    // Reads exactly out.size() bytes at offset, or fails (a short file is an error).
    Status read_at(uint64_t offset, std::span<uint8_t> out) const;
    Status write_at(uint64_t offset, std::span<const uint8_t> data);
    Status append(std::span<const uint8_t> data);  // writes at the current end
    Status truncate(uint64_t size);
    // Allocates [offset, offset + length) on disk (fallocate), extending the file with
    // zeros; a file system without fallocate makes this a no-op.
    Status allocate(uint64_t offset, uint64_t length);
    Status sync_data();  // fdatasync
    void close();

private:
    friend Result<File> lock_file(const std::string& path);
    File(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
    int fd_ = -1;
    std::string path_;
};

// Creates path if needed and takes an exclusive advisory lock on it (flock), held while
// the returned File stays open. Fails if another process holds it.
Result<File> lock_file(const std::string& path);

Result<std::vector<uint8_t>> read_whole_file(const std::string& path);
// Writes path.tmp, optionally fdatasyncs it, renames it over path (then fsyncs the
// directory when durable). A reader sees the old contents or the new, whole.
Status replace_file(const std::string& path, std::span<const uint8_t> data, bool durable);
Status sync_directory(const std::string& directory);
Status remove_file(const std::string& path);
Status make_directories(const std::string& path);
bool file_exists(const std::string& path);
Result<std::vector<std::string>> list_directory(const std::string& directory);

// Crash points. Production code calls crash_point("name") after each step that a
// crash may follow; tests install a handler that throws to abandon the operation
// there, then reopen the directory as a restarted process would.
using CrashPointHandler = std::function<void(const char* name)>;
void set_crash_point_handler(CrashPointHandler handler);
void crash_point(const char* name);

}  // namespace copycat::logstore
