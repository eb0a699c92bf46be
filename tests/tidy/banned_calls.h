// The banned-call checks. Names are matched as whole identifiers on code lines (comments and
// literals blanked), with enough context to tell `rand()` from `x.rand()`, `runtime()` or the
// declaration `int rand()`. `#include` lines are not searched, except for <iostream>.
#pragma once

#include "tests/tidy/finding.h"
#include "tests/tidy/source_text.h"

namespace copycat::tidy {

// Banned in every file: rand() and std::rand, system().
Findings check_banned_everywhere(const SourceText& source);

// Banned in the pure cores: clocks, randomness, threads and locks, sockets, files, sleeping,
// the environment, and unordered containers (unless `// tidy: unordered-ok (reason)`).
Findings check_banned_in_core(const SourceText& source);

// `#include <iostream>`, banned in library code.
Findings check_no_iostream(const SourceText& source);

}  // namespace copycat::tidy
