// What the codec tests share: comparing values field by field (the message structs have no
// operator==), checking that a test sample sets every field to something other than its
// default (so that a field forgotten by an encoder or a decoder changes the round trip), and
// mutating valid encodings for the robustness tests.
//
// Each test file says what the fields of a type are with an overload
//     auto fields(const T& value) { return std::tie(value.a, value.b, ...); }
// listing every member of T in declaration order, and compares the tuples with these.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <random>
#include <tuple>
#include <utility>
#include <vector>

namespace copycat::wire::testing {

using Bytes = std::vector<uint8_t>;

template <typename Field>
void expect_field_differs(const Field& sample, const Field& fallback, const char* type,
                          size_t index) {
    EXPECT_FALSE(sample == fallback)
        << type << ": field " << index << " of the sample has its default value";
}

template <typename Tuple, size_t... I>
void expect_fields_differ(const Tuple& sample, const Tuple& defaults,
                          [[maybe_unused]] const char* type, std::index_sequence<I...>) {
    (expect_field_differs(std::get<I>(sample), std::get<I>(defaults), type, I), ...);
}

// Every element of `sample` differs from the same element of `defaults`:
//     expect_fields_differ(fields(sample), fields(T{}), "T");
template <typename Tuple>
void expect_fields_differ(const Tuple& sample, const Tuple& defaults, const char* type) {
    expect_fields_differ(sample, defaults, type,
                         std::make_index_sequence<std::tuple_size_v<Tuple>>());
}

template <typename Field>
void expect_field_equal(const Field& expected, const Field& actual, const char* type,
                        size_t index) {
    EXPECT_TRUE(expected == actual)
        << type << ": field " << index << " did not survive the round trip";
}

template <typename Tuple, size_t... I>
void expect_fields_equal(const Tuple& expected, const Tuple& actual,
                         [[maybe_unused]] const char* type, std::index_sequence<I...>) {
    (expect_field_equal(std::get<I>(expected), std::get<I>(actual), type, I), ...);
}

// Every element of `actual` equals the same element of `expected`:
//     expect_fields_equal(fields(sent), fields(received), "T");
template <typename Tuple>
void expect_fields_equal(const Tuple& expected, const Tuple& actual, const char* type) {
    expect_fields_equal(expected, actual, type,
                        std::make_index_sequence<std::tuple_size_v<Tuple>>());
}

// One random damage to a valid encoding: bit flips, a cut, an extension, overwritten words
// (small values too, which make plausible offsets, lengths and union types), or a
// duplicated slice.
Bytes mutate(Bytes bytes, std::mt19937_64& random);

}  // namespace copycat::wire::testing
