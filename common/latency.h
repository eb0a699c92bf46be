// Measuring for benchmarks (their own executables, never timed unit tests): latency samples
// summarized as percentiles, and the raw fdatasync rate of a directory, which every benchmark
// reports beside its figures so that a run on a slow or noisy disk reads as such.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace copycat {

struct LatencySummary {
    size_t count = 0;
    double per_second = 0;  // count / seconds
    double p50_us = 0;
    double p90_us = 0;
    double p99_us = 0;
    double p999_us = 0;
    double min_us = 0;
    double max_us = 0;
    double mean_us = 0;
};

// The samples (microseconds) of a run that lasted `seconds`. Sorts them.
LatencySummary summarize_latencies(std::vector<double>& samples_us, double seconds);

// write(record_bytes) + fdatasync in a loop for `seconds`, appending to a scratch file in
// `dir` (removed afterwards): what one synchronous writer gets from this disk now. A summary
// with count 0 if the file cannot be written.
LatencySummary fdatasync_reference(const std::string& dir, double seconds,
                                   size_t record_bytes = 100);

}  // namespace copycat
