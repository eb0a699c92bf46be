#include "client/ctl/value_text.h"

namespace copycat::ctl {

namespace {

// Length of the valid UTF-8 sequence at text[0], or 0 (truncated, overlong, a surrogate, or
// above U+10FFFF).
size_t sequence_length(std::string_view text) {
    const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
    const unsigned char lead = byte(0);
    if (lead < 0x80) return 1;
    size_t length = 0;
    unsigned char min_second = 0x80, max_second = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
        length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3;
        if (lead == 0xE0) min_second = 0xA0;
        if (lead == 0xED) max_second = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4;
        if (lead == 0xF0) min_second = 0x90;
        if (lead == 0xF4) max_second = 0x8F;
    } else {
        return 0;
    }
    if (text.size() < length || byte(1) < min_second || byte(1) > max_second) return 0;
    for (size_t i = 2; i < length; ++i) {
        if ((byte(i) & 0xC0) != 0x80) return 0;
    }
    return length;
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

bool is_valid_utf8(std::string_view text) {
    size_t i = 0;
    while (i < text.size()) {
        const size_t length = sequence_length(text.substr(i));
        if (length == 0) return false;
        i += length;
    }
    return true;
}

bool is_single_line_text(std::string_view text) {
    for (char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte == 0x7F) return false;
    }
    return is_valid_utf8(text);
}

std::string escape_bytes(std::string_view bytes) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size());
    for (char c : bytes) {
        const auto byte = static_cast<unsigned char>(c);
        if (c == '\\') {
            out += "\\\\";
        } else if (byte >= 0x20 && byte < 0x7F) {
            out += c;
        } else {
            out += "\\x";
            out += kHex[byte >> 4];
            out += kHex[byte & 0xF];
        }
    }
    return out;
}

Result<Bytes> unescape_bytes(std::string_view text) {
    Bytes out;
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '\\') {
            out.push_back(static_cast<uint8_t>(text[i]));
            continue;
        }
        if (i + 1 < text.size() && text[i + 1] == '\\') {
            out.push_back('\\');
            ++i;
            continue;
        }
        const bool hex = i + 3 < text.size() && text[i + 1] == 'x';
        const int high = hex ? hex_digit(text[i + 2]) : -1;
        const int low = hex ? hex_digit(text[i + 3]) : -1;
        if (high < 0 || low < 0) {
            return invalid_argument("bad escape at byte " + std::to_string(i) + " of '" +
                                    std::string(text) + "': write \\\\ or \\xNN");
        }
        out.push_back(static_cast<uint8_t>(high * 16 + low));
        i += 3;
    }
    return out;
}

std::string display_text(std::string_view bytes) {
    return is_valid_utf8(bytes) ? std::string(bytes) : escape_bytes(bytes);
}

std::string cell_text(std::string_view bytes) {
    return is_single_line_text(bytes) ? std::string(bytes) : escape_bytes(bytes);
}

}  // namespace copycat::ctl
