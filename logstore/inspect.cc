#include "logstore/inspect.h"

#include <set>
#include <sstream>
#include <vector>

#include "common/json.h"
#include "logstore/file.h"
#include "logstore/manifest.h"
#include "logstore/meta_store.h"
#include "logstore/segment.h"

namespace copycat::logstore {
namespace {

struct SegmentReport {
    ManifestSegment manifest;
    std::string file_name;
    uint64_t first_index = 0;
    uint64_t last_index = 0;
    uint64_t entries = 0;
    uint64_t released = 0;
    uint64_t size_bytes = 0;
    std::string torn_tail;  // the active segment's cuttable tail, if any
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
    SegmentReport s{
        m, segment_file_name(m.id, m.version), m.first_index, m.first_index - 1, 0, 0, 0, ""};
    std::string path = dir + "/" + s.file_name;
    Result<std::vector<uint8_t>> bytes = read_whole_file(path);
    if (!bytes.is_ok()) {
        report->problems.push_back("segment " + path + " named by the manifest is missing");
        return;
    }
    s.size_bytes = bytes->size();
    std::optional<SegmentHeader> header = decode_segment_header(*bytes);
    if (!header || header->id != m.id || header->version != m.version ||
        header->first_index != m.first_index) {
        report->problems.push_back("bad segment header in " + path + " at offset 0");
        report->segments.push_back(s);
        return;
    }
    ScanOutcome scan = scan_segment(*bytes, *header, UINT32_MAX, nullptr);
    s.size_bytes = scan.valid_end;  // the data; an active segment's file is preallocated
    s.entries = scan.records;
    s.last_index = scan.last_index;
    if (scan.bad_offset) {
        std::string where = path + " at offset " + std::to_string(*scan.bad_offset);
        if (m.sealed || scan.valid_record_after_bad) {
            report->problems.push_back(scan.problem + " in " + where);
        } else {
            s.torn_tail = scan.problem + " at offset " + std::to_string(*scan.bad_offset) + " (" +
                          std::to_string(bytes->size() - scan.valid_end) +
                          " bytes a start-up would cut)";
        }
    }
    if (m.sealed && !scan.bad_offset &&
        (s.last_index != m.last_index || s.entries != m.records || s.size_bytes != m.size_bytes ||
         bytes->size() != m.size_bytes)) {
        report->problems.push_back("segment " + path + " does not match the manifest");
    }
    std::optional<std::vector<bool>> bits =
        read_release_bits(dir + "/" + release_file_name(m.id, m.version));
    if (bits) {
        for (bool bit : *bits) s.released += bit ? 1 : 0;
    }
    report->segments.push_back(s);
}

void find_orphans(const std::string& dir, Report* report) {
    std::set<std::string> live = {kManifestFileName, "meta", "LOCK"};
    for (const auto& s : report->segments) {
        live.insert(s.file_name);
        live.insert(release_file_name(s.manifest.id, s.manifest.version));
    }
    Result<std::vector<std::string>> names = list_directory(dir);
    if (!names.is_ok()) return;
    for (const std::string& name : *names) {
        if (live.count(name) == 0) report->orphans.push_back(name);
    }
}

void print_text(const Report& r, std::ostream& out) {
    out << "log " << r.directory << "\n";
    out << "term " << r.meta.term << ", vote " << r.meta.vote << ", configuration index "
        << r.meta.configuration_index << " (term " << r.meta.configuration_term << ", "
        << r.meta.configuration.size() << " bytes)\n";
    out << "manifest sequence " << r.manifest_sequence << ", " << r.segments.size()
        << " segments\n";
    for (const auto& s : r.segments) {
        out << "  " << s.file_name << "  " << (s.manifest.sealed ? "sealed" : "active")
            << "  version " << s.manifest.version << "  index " << s.first_index << ".."
            << s.last_index << "  entries " << s.entries << "  released " << s.released
            << "  bytes " << s.size_bytes;
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
    json.field("configuration_index", r.meta.configuration_index);
    json.field("manifest_sequence", r.manifest_sequence).key("segments").begin_array();
    for (const auto& s : r.segments) {
        json.begin_object().field("file", s.file_name).field("id", s.manifest.id);
        json.field("version", s.manifest.version).field("sealed", s.manifest.sealed);
        json.field("first_index", s.first_index).field("last_index", s.last_index);
        json.field("entries", s.entries).field("released", s.released);
        json.field("size_bytes", s.size_bytes).field("torn_tail", s.torn_tail).end_object();
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
