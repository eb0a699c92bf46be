#include "common/latency.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <numeric>

namespace copycat {

namespace {

double at_fraction(const std::vector<double>& sorted, double fraction) {
    size_t rank = static_cast<size_t>(fraction * static_cast<double>(sorted.size()));
    return sorted[std::min(sorted.size() - 1, rank)];
}

}  // namespace

LatencySummary summarize_latencies(std::vector<double>& samples_us, double seconds) {
    LatencySummary summary;
    summary.count = samples_us.size();
    if (samples_us.empty()) return summary;
    std::sort(samples_us.begin(), samples_us.end());
    summary.per_second = seconds > 0 ? static_cast<double>(samples_us.size()) / seconds : 0;
    summary.p50_us = at_fraction(samples_us, 0.50);
    summary.p90_us = at_fraction(samples_us, 0.90);
    summary.p99_us = at_fraction(samples_us, 0.99);
    summary.p999_us = at_fraction(samples_us, 0.999);
    summary.min_us = samples_us.front();
    summary.max_us = samples_us.back();
    summary.mean_us = std::accumulate(samples_us.begin(), samples_us.end(), 0.0) /
                      static_cast<double>(samples_us.size());
    return summary;
}

LatencySummary fdatasync_reference(const std::string& dir, double seconds, size_t record_bytes) {
    using Clock = std::chrono::steady_clock;
    const std::string path = dir + "/fdatasync-reference";
    int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0) return {};
    std::vector<double> samples;
    const std::vector<char> record(record_bytes, 'r');
    const auto start = Clock::now();
    const auto end = start + std::chrono::duration<double>(seconds);
    while (Clock::now() < end) {
        const auto before = Clock::now();
        if (::write(fd, record.data(), record.size()) != static_cast<ssize_t>(record.size())) {
            break;
        }
        if (::fdatasync(fd) != 0) break;
        samples.push_back(std::chrono::duration<double, std::micro>(Clock::now() - before).count());
    }
    ::close(fd);
    std::error_code ignored;
    std::filesystem::remove(path, ignored);
    return summarize_latencies(samples,
                               std::chrono::duration<double>(Clock::now() - start).count());
}

}  // namespace copycat
