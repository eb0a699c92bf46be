#include "common/duration.h"

#include <boost/program_options/errors.hpp>
#include <boost/program_options/value_semantic.hpp>
#include <ostream>

namespace copycat {
namespace {

struct Unit {
    std::string_view name;
    int64_t microseconds;
};

// Largest first: format_duration picks the first unit that divides exactly.
constexpr Unit kUnits[] = {
    {"h", 3'600'000'000}, {"m", 60'000'000}, {"s", 1'000'000}, {"ms", 1'000}, {"us", 1},
};

constexpr int kMaxFractionDigits = 9;

const Unit* find_unit(std::string_view name) {
    for (const Unit& unit : kUnits) {
        if (unit.name == name) return &unit;
    }
    return nullptr;
}

Status bad_duration(std::string_view text, std::string_view why) {
    return invalid_argument("duration '" + std::string(text) + "' " + std::string(why) +
                            " (units: us, ms, s, m, h; e.g. 750ms, 1.5s)");
}

// Accumulates decimal digits into `value`; false on overflow.
bool accumulate_digits(std::string_view digits, int64_t& value) {
    for (char c : digits) {
        if (__builtin_mul_overflow(value, 10, &value) ||
            __builtin_add_overflow(value, c - '0', &value)) {
            return false;
        }
    }
    return true;
}

struct Number {
    std::string_view whole;
    std::string_view fraction;
    bool has_point = false;
    std::string_view unit;
};

// Splits "12.5ms" into "12", "5" and "ms" without judging the unit.
Number split_number(std::string_view text) {
    Number number;
    size_t i = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    number.whole = text.substr(0, i);
    if (i < text.size() && text[i] == '.') {
        number.has_point = true;
        const size_t start = ++i;
        while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
        number.fraction = text.substr(start, i - start);
    }
    number.unit = text.substr(i);
    return number;
}

Result<Duration> to_duration(std::string_view text, const Number& number, const Unit& unit) {
    int64_t whole = 0, fraction = 0, scale = 1;
    if (!accumulate_digits(number.whole, whole)) return bad_duration(text, "is too large");
    if (!accumulate_digits(number.fraction, fraction)) return bad_duration(text, "is too long");
    for (size_t i = 0; i < number.fraction.size(); ++i) scale *= 10;
    int64_t total = 0;
    if (__builtin_mul_overflow(whole, unit.microseconds, &total)) {
        return bad_duration(text, "is too large");
    }
    // fraction < scale <= 1e9 and unit <= 3.6e9: the product fits in 64 bits.
    const int64_t fraction_us = fraction * unit.microseconds;
    if (fraction_us % scale != 0) return bad_duration(text, "is finer than a microsecond");
    if (__builtin_add_overflow(total, fraction_us / scale, &total)) {
        return bad_duration(text, "is too large");
    }
    return Duration(std::chrono::microseconds(total));
}

}  // namespace

Result<Duration> parse_duration(std::string_view text) {
    if (text.empty()) return bad_duration(text, "is empty");
    const Number number = split_number(text);
    if (number.whole.empty() && number.fraction.empty()) {
        return bad_duration(text, "does not start with a non-negative number");
    }
    if (number.has_point && number.fraction.empty()) {
        return bad_duration(text, "has a decimal point without digits after it");
    }
    if (number.fraction.size() > kMaxFractionDigits) {
        return bad_duration(text, "has too many decimals");
    }
    if (number.unit.empty()) {
        const std::string n(text);
        return bad_duration(text, "has no unit: write it as " + n + "ms or " + n + "s");
    }
    const Unit* unit = find_unit(number.unit);
    if (unit == nullptr) {
        return bad_duration(text, "has an unknown unit '" + std::string(number.unit) + "'");
    }
    return to_duration(text, number, *unit);
}

std::string format_duration(Duration duration) {
    const int64_t us = duration.microseconds();
    if (us == 0) return "0s";
    for (const Unit& unit : kUnits) {
        if (us % unit.microseconds == 0) {
            return std::to_string(us / unit.microseconds) + std::string(unit.name);
        }
    }
    return std::to_string(us) + "us";  // not reached: every count divides by 1us
}

std::ostream& operator<<(std::ostream& out, Duration duration) {
    return out << format_duration(duration);
}

void validate(boost::any& stored, const std::vector<std::string>& values, Duration*, int) {
    namespace po = boost::program_options;
    po::validators::check_first_occurrence(stored);
    const std::string& text = po::validators::get_single_string(values);
    Result<Duration> duration = parse_duration(text);
    if (!duration.is_ok()) {
        throw po::error_with_option_name("the value of option '%canonical_option%' is invalid: " +
                                         duration.status().message());
    }
    stored = boost::any(*duration);
}

}  // namespace copycat
