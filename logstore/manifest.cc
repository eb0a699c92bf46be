#include "logstore/manifest.h"

#include <cinttypes>
#include <cstdio>
#include <sstream>

#include "common/crc32c.h"
#include "logstore/file.h"

namespace copycat::logstore {
namespace {

std::string segment_line(const ManifestSegment& s) {
    std::ostringstream line;
    line << "segment " << s.id << ' ' << s.version << ' ' << s.first_index;
    if (s.sealed) {
        line << " sealed " << s.last_index << ' ' << s.records << ' ' << s.size_bytes;
    } else {
        line << " active";
    }
    return line.str();
}

Result<ManifestSegment> parse_segment_line(std::istringstream& line) {
    ManifestSegment s;
    std::string state;
    if (!(line >> s.id >> s.version >> s.first_index >> state)) {
        return invalid_argument("malformed segment line");
    }
    if (state == "sealed") {
        s.sealed = true;
        if (!(line >> s.last_index >> s.records >> s.size_bytes)) {
            return invalid_argument("malformed sealed segment line");
        }
    } else if (state != "active") {
        return invalid_argument("unknown segment state '" + state + "'");
    }
    return s;
}

Status check_order(const Manifest& manifest) {
    const auto& segments = manifest.segments;
    if (segments.empty()) return invalid_argument("no segments");
    for (size_t i = 0; i < segments.size(); ++i) {
        bool last = i + 1 == segments.size();
        if (segments[i].sealed == last) {
            return invalid_argument("only the last segment may be active");
        }
        if (i > 0 && (segments[i].id <= segments[i - 1].id ||
                      segments[i].first_index <= segments[i - 1].last_index)) {
            return invalid_argument("segments overlap or are out of order at segment " +
                                    std::to_string(segments[i].id));
        }
    }
    return Status::ok();
}

Result<Manifest> parse_body(const std::string& body) {
    std::istringstream lines(body);
    std::string line_text;
    std::getline(lines, line_text);
    if (line_text != "copycat-manifest 1") return invalid_argument("unknown format line");
    Manifest manifest;
    while (std::getline(lines, line_text)) {
        std::istringstream line(line_text);
        std::string word;
        line >> word;
        if (word == "sequence") {
            line >> manifest.sequence;
        } else if (word == "segment") {
            Result<ManifestSegment> segment = parse_segment_line(line);
            if (!segment.is_ok()) return segment.status();
            manifest.segments.push_back(*segment);
        } else if (word == "truncate-intent") {
            std::string value;
            line >> value;
            if (value != "none") manifest.truncate_intent = std::stoull(value);
        } else {
            return invalid_argument("unknown line '" + line_text + "'");
        }
    }
    COPYCAT_RETURN_IF_ERROR(check_order(manifest));
    return manifest;
}

}  // namespace

std::string encode_manifest(const Manifest& manifest) {
    std::string body = "copycat-manifest 1\nsequence " + std::to_string(manifest.sequence) + "\n";
    for (const auto& segment : manifest.segments) body += segment_line(segment) + "\n";
    body += "truncate-intent " +
            (manifest.truncate_intent ? std::to_string(*manifest.truncate_intent) : "none") + "\n";
    char crc_line[32];
    std::snprintf(crc_line, sizeof crc_line, "crc32c %08x\n", crc32c(body.data(), body.size()));
    return body + crc_line;
}

Result<Manifest> decode_manifest(const std::string& text, const std::string& file_name) {
    size_t crc_at = text.rfind("crc32c ");
    unsigned stored_crc = 0;
    if (crc_at == std::string::npos || (crc_at > 0 && text[crc_at - 1] != '\n') ||
        std::sscanf(text.c_str() + crc_at, "crc32c %8x", &stored_crc) != 1) {
        return corruption("unreadable manifest " + file_name + ": no checksum line");
    }
    if (stored_crc != crc32c(text.data(), crc_at)) {
        return corruption("unreadable manifest " + file_name + ": checksum mismatch");
    }
    Result<Manifest> manifest = [&]() -> Result<Manifest> {
        try {
            return parse_body(text.substr(0, crc_at));
        } catch (const std::exception& e) {  // std::stoull on a malformed number
            return invalid_argument(e.what());
        }
    }();
    if (!manifest.is_ok()) {
        return corruption("unreadable manifest " + file_name + ": " + manifest.status().message());
    }
    return manifest;
}

Status write_manifest(const std::string& directory, const Manifest& manifest) {
    std::string text = encode_manifest(manifest);
    auto bytes =
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size());
    return replace_file(directory + "/" + kManifestFileName, bytes, true);
}

Result<Manifest> read_manifest(const std::string& directory) {
    std::string path = directory + "/" + kManifestFileName;
    Result<std::vector<uint8_t>> bytes = read_whole_file(path);
    if (!bytes.is_ok()) return bytes.status();
    return decode_manifest(std::string(bytes->begin(), bytes->end()), path);
}

}  // namespace copycat::logstore
