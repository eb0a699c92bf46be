// The function-length check: a heuristic brace matcher over the code lines of a SourceText.
//
// A `{` outside any function opens a function body when the text before it (since the last
// `;`, `{` or `}` at that scope) looks like a signature: it ends with `)`, possibly followed by
// `const`, `override`, `final`, `noexcept`, `&`, `&&`, a trailing `-> T`, or a constructor's
// initializer list; a lambda at namespace scope counts too. Everything until the matching `}`
// belongs to that function, lambdas and local classes included. Preprocessor lines are skipped.
// The body is the lines strictly between the line of the `{` and the line of the `}`.
#pragma once

#include "tests/tidy/finding.h"
#include "tests/tidy/source_text.h"

namespace copycat::tidy {

struct FunctionLimits {
    int lines = 80;
    int long_lines = 160;  // with `// tidy: long-function (reason)` just above the signature
};

Findings check_function_length(const SourceText& source, const FunctionLimits& limits);

// Exposed for tests: whether `head`, the text before a `{` at namespace or class scope, is the
// signature of a function.
bool looks_like_function(std::string_view head);

}  // namespace copycat::tidy
