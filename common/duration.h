// Durations as people write them in flags, environment variables and config files: a number
// with a unit ("750ms", "5s", "1.5s", "2m", "1h", "100us"). A bare number is refused, because
// "--election-timeout=750" could mean milliseconds or seconds (CONVENTIONS.md, Processes).
#pragma once

#include <boost/any.hpp>
#include <chrono>
#include <compare>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace copycat {

// A length of time with microsecond resolution. Converts from any std::chrono::duration
// (truncating below a microsecond) so defaults read naturally: Duration(750ms).
class Duration {
public:
    constexpr Duration() = default;
    template <typename Rep, typename Period>
    constexpr Duration(std::chrono::duration<Rep, Period> length)  // NOLINT: implicit on purpose
        : microseconds_(std::chrono::duration_cast<std::chrono::microseconds>(length).count()) {}

    constexpr int64_t microseconds() const { return microseconds_; }
    constexpr int64_t milliseconds() const { return microseconds_ / 1000; }  // toward zero
    constexpr double seconds() const { return static_cast<double>(microseconds_) / 1e6; }
    constexpr std::chrono::microseconds chrono() const {
        return std::chrono::microseconds(microseconds_);
    }

    friend constexpr auto operator<=>(const Duration&, const Duration&) = default;

private:
    int64_t microseconds_ = 0;
};

// Parses "<number><unit>": the number is non-negative and may have a fraction ("1.5s"); the
// unit is one of us, ms, s, m, h. Errors (invalid_argument) say what was wrong and show an
// example, e.g. "duration '750' has no unit: write it as 750ms or 750s (units: us, ms, s, m,
// h)". The result must be a whole number of microseconds and fit in 64 bits.
Result<Duration> parse_duration(std::string_view text);

// The shortest exact text in the largest unit that divides the duration: "750ms", "5s",
// "2m", "1h", "100us", "0s". parse_duration(format_duration(d)) == d for d >= 0.
std::string format_duration(Duration duration);

std::ostream& operator<<(std::ostream& out, Duration duration);

// Lets Boost.Program_options parse po::value<Duration>() with parse_duration (found by
// argument-dependent lookup). A bad value is reported as an invalid value of that option.
void validate(boost::any& stored, const std::vector<std::string>& values, Duration*, int);

}  // namespace copycat
