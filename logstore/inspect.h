// `copycat-logstore inspect`: an offline, read-only report of a node's log directory.
#pragma once

#include <ostream>
#include <string>

namespace copycat::logstore {

// Reads <data_dir>/log without changing anything: the manifest, each live segment (header,
// first/last index, entries, released, and a CRC check of every record), term and vote (and the
// log floor when it is not 0/0), and files the manifest does not name. Returns 0 if everything
// checks, 1 on corruption (each problem names its file and offset, on err as well as in the
// report), 2 if there is no log.
int inspect(const std::string& data_dir, bool json, std::ostream& out, std::ostream& err);

}  // namespace copycat::logstore
