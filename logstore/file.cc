#include "logstore/file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace copycat::logstore {
namespace {

Status errno_status(const std::string& what, const std::string& path) {
    return io_error(what + " " + path + ": " + std::strerror(errno));
}

CrashPointHandler& crash_point_handler() {
    static CrashPointHandler handler;
    return handler;
}

}  // namespace

Result<File> File::open(const std::string& path, Mode mode) {
    int flags = O_CLOEXEC;
    if (mode == Mode::read_only) flags |= O_RDONLY;
    if (mode == Mode::read_write) flags |= O_RDWR;
    if (mode == Mode::create_new) flags |= O_RDWR | O_CREAT | O_EXCL;
    int fd = ::open(path.c_str(), flags, 0644);
    if (fd < 0) return errno_status("cannot open", path);
    return File(fd, path);
}

File::File(File&& other) noexcept : fd_(other.fd_), path_(std::move(other.path_)) {
    other.fd_ = -1;
}

File& File::operator=(File&& other) noexcept {
    if (this != &other) {
        close();
        fd_ = other.fd_;
        path_ = std::move(other.path_);
        other.fd_ = -1;
    }
    return *this;
}

File::~File() { close(); }

void File::close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

Result<uint64_t> File::size() const {
    struct stat st;
    if (::fstat(fd_, &st) != 0) return errno_status("cannot stat", path_);
    return static_cast<uint64_t>(st.st_size);
}

Status File::read_at(uint64_t offset, std::span<uint8_t> out) const {
    size_t done = 0;
    while (done < out.size()) {
        ssize_t n =
            ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno_status("cannot read", path_);
        if (n == 0) {
            return io_error("unexpected end of " + path_ + " at offset " +
                            std::to_string(offset + done));
        }
        done += static_cast<size_t>(n);
    }
    return Status::ok();
}

Status File::write_at(uint64_t offset, std::span<const uint8_t> data) {
    size_t done = 0;
    while (done < data.size()) {
        ssize_t n = ::pwrite(fd_, data.data() + done, data.size() - done,
                             static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno_status("cannot write", path_);
        done += static_cast<size_t>(n);
    }
    return Status::ok();
}

Status File::append(std::span<const uint8_t> data) {
    Result<uint64_t> end = size();
    if (!end.is_ok()) return end.status();
    return write_at(*end, data);
}

Status File::truncate(uint64_t size) {
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
        return errno_status("cannot truncate", path_);
    }
    return Status::ok();
}

Status File::allocate(uint64_t offset, uint64_t length) {
    if (length == 0) return Status::ok();
    int rc = ::fallocate(fd_, 0, static_cast<off_t>(offset), static_cast<off_t>(length));
    if (rc == 0 || errno == EOPNOTSUPP) return Status::ok();
    return errno_status("cannot allocate space in", path_);
}

Status File::sync_data() {
    // A failed fdatasync is never retried as if nothing happened (the kernel may have
    // dropped the dirty pages): the caller must stop accepting writes.
    if (::fdatasync(fd_) != 0) return errno_status("fdatasync failed on", path_);
    return Status::ok();
}

Result<File> lock_file(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return errno_status("cannot open lock file", path);
    File file(fd, path);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK) {
            return io_error(path +
                            " is locked by another process: is another one running on this "
                            "data directory?");
        }
        return errno_status("cannot lock", path);
    }
    return file;
}

Result<std::vector<uint8_t>> read_whole_file(const std::string& path) {
    Result<File> file = File::open(path, File::Mode::read_only);
    if (!file.is_ok()) return file.status();
    Result<uint64_t> size = file->size();
    if (!size.is_ok()) return size.status();
    std::vector<uint8_t> data(*size);
    COPYCAT_RETURN_IF_ERROR(file->read_at(0, data));
    return data;
}

Status replace_file(const std::string& path, std::span<const uint8_t> data, bool durable) {
    std::string tmp = path + ".tmp";
    ::unlink(tmp.c_str());
    Result<File> file = File::open(tmp, File::Mode::create_new);
    if (!file.is_ok()) return file.status();
    COPYCAT_RETURN_IF_ERROR(file->write_at(0, data));
    if (durable) COPYCAT_RETURN_IF_ERROR(file->sync_data());
    file->close();
    crash_point("replace.after_tmp_write");
    if (::rename(tmp.c_str(), path.c_str()) != 0) return errno_status("cannot rename", tmp);
    crash_point("replace.after_rename");
    if (!durable) return Status::ok();
    std::string directory = ".";
    size_t slash = path.rfind('/');
    if (slash != std::string::npos) directory = path.substr(0, slash);
    return sync_directory(directory);
}

Status sync_directory(const std::string& directory) {
    int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno_status("cannot open directory", directory);
    int rc = ::fsync(fd);
    int saved_errno = errno;
    ::close(fd);
    errno = saved_errno;
    if (rc != 0) return errno_status("cannot fsync directory", directory);
    return Status::ok();
}

Status remove_file(const std::string& path) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return errno_status("cannot remove", path);
    return Status::ok();
}

Status make_directories(const std::string& path) {
    std::string partial;
    for (size_t i = 0; i <= path.size(); ++i) {
        if (i < path.size() && path[i] != '/') continue;
        partial = path.substr(0, i);
        if (partial.empty()) continue;
        if (::mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST) {
            return errno_status("cannot create directory", partial);
        }
    }
    return Status::ok();
}

bool file_exists(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0;
}

Result<std::vector<std::string>> list_directory(const std::string& directory) {
    DIR* dir = ::opendir(directory.c_str());
    if (dir == nullptr) return errno_status("cannot list directory", directory);
    std::vector<std::string> names;
    while (struct dirent* item = ::readdir(dir)) {
        std::string name = item->d_name;
        if (name != "." && name != "..") names.push_back(name);
    }
    ::closedir(dir);
    return names;
}

void set_crash_point_handler(CrashPointHandler handler) {
    crash_point_handler() = std::move(handler);
}

void crash_point(const char* name) {
    if (crash_point_handler()) crash_point_handler()(name);
}

}  // namespace copycat::logstore
