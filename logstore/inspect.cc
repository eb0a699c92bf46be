#include "logstore/inspect.h"

#include <set>
#include <sstream>
#include <vector>

#include "common/json.h"
#include "logstore/file.h"
#include "logstore/log.h"
#include "logstore/manifest.h"
#include "logstore/meta_store.h"
#include "logstore/segment.h"

namespace copycat::logstore {
namespace {

struct SegmentReport {
    SegmentSummary summary;  // what the log would report of the segment once open
    std::string torn_tail;   // the active segment's cuttable tail, if any
};

struct Report {
    std::string directory;
    Meta meta;
    bool meta_present = false;
    uint64_t manifest_sequence = 0;
    std::vector<SegmentReport> segments;
    std::vector<std::string> orphans;
    std::vector<std::string> problems;
};

void check_segment(const std::string& dir, const ManifestSegment& m, Report* report) {
    SegmentReport s{{m.id, m.version, segment_file_name(m.id, m.version), m.first_index,
                     m.first_index - 1, 0, 0, 0, m.sealed},
                    ""};
    std::string path = dir + "/" + s.summary.file_name;
    Result<std::vector<uint8_t>> bytes = read_whole_file(path);
    if (!bytes.is_ok()) {
        report->problems.push_back("segment " + path + " named by the manifest is missing");
        return;
    }
    s.summary.size_bytes = bytes->size();
    std::optional<SegmentHeader> header = decode_segment_header(*bytes);
    if (!header || header->id != m.id || header->version != m.version ||
        header->first_index != m.first_index) {
        report->problems.push_back("bad segment header in " + path + " at offset 0");
        report->segments.push_back(s);
        return;
    }
    ScanOutcome scan = scan_segment(*bytes, *header, UINT32_MAX, nullptr);
    s.summary.size_bytes = scan.valid_end;  // the data; an active segment's file is preallocated
    s.summary.records = scan.records;
    s.summary.last_index = scan.last_index;
    if (scan.bad_offset) {
        std::string where = path + " at offset " + std::to_string(*scan.bad_offset);
        if (m.sealed || scan.valid_record_after_bad) {
            report->problems.push_back(scan.problem + " in " + where);
        } else {
            uint64_t data_end = end_of_nonzero_bytes(*bytes, scan.valid_end);
            s.torn_tail = scan.problem + " at offset " + std::to_string(*scan.bad_offset) + " (" +
                          std::to_string(data_end - scan.valid_end) +
                          " bytes a start-up would cut)";
        }
    }
    if (m.sealed && !scan.bad_offset &&
        (s.summary.last_index != m.last_index || s.summary.records != m.records ||
         s.summary.size_bytes != m.size_bytes || bytes->size() != m.size_bytes)) {
        report->problems.push_back("segment " + path + " does not match the manifest");
    }
    std::optional<std::vector<bool>> bits =
        read_release_bits(dir + "/" + release_file_name(m.id, m.version));
    if (bits) {
        for (bool bit : *bits) s.summary.released += bit ? 1 : 0;
    }
    report->segments.push_back(s);
}

void find_orphans(const std::string& dir, Report* report) {
    std::set<std::string> live = {kManifestFileName, "meta", "LOCK"};
    for (const auto& s : report->segments) {
        live.insert(s.summary.file_name);
        live.insert(release_file_name(s.summary.id, s.summary.version));
    }
    Result<std::vector<std::string>> names = list_directory(dir);
    if (!names.is_ok()) return;
    for (const std::string& name : *names) {
        if (live.count(name) == 0) report->orphans.push_back(name);
    }
}

// Released records over records: with the version, what minor compaction weighs
// (compactor/README.md, "How runs are chosen").
double released_ratio(const SegmentSummary& s) {
    return s.records == 0 ? 0.0 : static_cast<double>(s.released) / static_cast<double>(s.records);
}

std::string percent(double ratio) {
    std::ostringstream text;
    text.setf(std::ios::fixed);
    text.precision(1);
    text << ratio * 100 << "%";
    return text.str();
}

// Only a log that was reset has a floor; the others print as they always did.
bool has_floor(const Meta& meta) { return meta.floor_term != 0 || meta.floor_index != 0; }

void print_text(const Report& r, std::ostream& out) {
    out << "log " << r.directory << "\n";
    out << "term " << r.meta.term << ", vote " << r.meta.vote;
    if (has_floor(r.meta)) {
        out << ", floor index " << r.meta.floor_index << " (term " << r.meta.floor_term << ")";
    }
    if (r.meta.holes_released_by != 0) {
        out << ", holes released by index " << r.meta.holes_released_by;
    }
    out << ", configuration index " << r.meta.configuration_index << " (term "
        << r.meta.configuration_term << ", " << r.meta.configuration.size() << " bytes)\n";
    out << "manifest sequence " << r.manifest_sequence << ", " << r.segments.size()
        << " segments\n";
    for (const auto& s : r.segments) {
        out << "  " << s.summary.file_name << "  " << (s.summary.sealed ? "sealed" : "active")
            << "  version " << s.summary.version << "  index " << s.summary.first_index << ".."
            << s.summary.last_index << "  entries " << s.summary.records << "  released "
            << s.summary.released << " (" << percent(released_ratio(s.summary)) << ")  bytes "
            << s.summary.size_bytes;
        if (!s.torn_tail.empty()) out << "  torn tail: " << s.torn_tail;
        out << "\n";
    }
    for (const auto& name : r.orphans) out << "  orphan " << name << " (removed at start-up)\n";
    for (const auto& p : r.problems) out << "CORRUPTION: " << p << "\n";
    out << (r.problems.empty() ? "ok: every record checked\n" : "corrupt\n");
}

void print_json(const Report& r, std::ostream& out) {
    JsonWriter json;
    json.begin_object().field("directory", r.directory).field("ok", r.problems.empty());
    json.field("term", r.meta.term).field("vote", r.meta.vote);
    if (has_floor(r.meta)) {
        json.field("floor_term", r.meta.floor_term).field("floor_index", r.meta.floor_index);
    }
    if (r.meta.holes_released_by != 0) json.field("holes_released_by", r.meta.holes_released_by);
    json.field("configuration_index", r.meta.configuration_index);
    json.field("manifest_sequence", r.manifest_sequence).key("segments").begin_array();
    for (const auto& s : r.segments) {
        json.begin_object().field("file", s.summary.file_name).field("id", s.summary.id);
        json.field("version", s.summary.version).field("sealed", s.summary.sealed);
        json.field("first_index", s.summary.first_index).field("last_index", s.summary.last_index);
        json.field("entries", s.summary.records).field("released", s.summary.released);
        json.field("released_ratio", released_ratio(s.summary));
        json.field("size_bytes", s.summary.size_bytes).field("torn_tail", s.torn_tail).end_object();
    }
    json.end_array().key("orphans").begin_array();
    for (const auto& name : r.orphans) json.value(name);
    json.end_array().key("problems").begin_array();
    for (const auto& p : r.problems) json.value(p);
    json.end_array().end_object();
    out << json.str() << "\n";
}

}  // namespace

int inspect(const std::string& data_dir, bool json, std::ostream& out, std::ostream& err) {
    Report report;
    report.directory = data_dir + "/log";
    if (!file_exists(report.directory + "/" + kManifestFileName)) {
        err << "copycat-logstore inspect: no log in " << report.directory << " (no MANIFEST)\n";
        return 2;
    }
    Result<Manifest> manifest = read_manifest(report.directory);
    if (!manifest.is_ok()) {
        err << "copycat-logstore inspect: " << manifest.status().message() << "\n";
        return 1;
    }
    report.manifest_sequence = manifest->sequence;
    if (file_exists(report.directory + "/meta")) {
        Result<Meta> meta = MetaStore::read(report.directory + "/meta");
        if (meta.is_ok()) report.meta = *meta;
        if (!meta.is_ok()) report.problems.push_back(meta.status().message());
    }
    for (const auto& segment : manifest->segments)
        check_segment(report.directory, segment, &report);
    find_orphans(report.directory, &report);
    json ? print_json(report, out) : print_text(report, out);
    for (const auto& problem : report.problems) err << "corruption: " << problem << "\n";
    return report.problems.empty() ? 0 : 1;
}

}  // namespace copycat::logstore
