// What one tidy check reports about one line of the file it was given.
#pragma once

#include <string>
#include <vector>

namespace copycat::tidy {

struct Finding {
    int line = 0;  // 1-based
    std::string message;
};

using Findings = std::vector<Finding>;

}  // namespace copycat::tidy
