// A minimal HTTP/1.0 GET for process tests: the body of http://127.0.0.1:<port><path>, or
// nullopt if nothing answered or the status was not 200.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace copycat::testing {

std::optional<std::string> http_get(int port, const std::string& path,
                                    std::chrono::milliseconds timeout);

// The sum of the samples of `metric` in Prometheus text whose labels contain every one of
// `labels` (e.g. {"op=\"command\""}); 0 when there are none.
double metric_sum(const std::string& text, const std::string& metric,
                  const std::vector<std::string>& labels = {});

}  // namespace copycat::testing
