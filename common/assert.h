// Assertions for broken invariants. Always on (also in release builds): a Raft
// server that continues past a broken invariant can lose acknowledged data.
#pragma once

namespace copycat {
[[noreturn]] void assertion_failed(const char* expr, const char* file, int line, const char* why);
}

// COPYCAT_ASSERT(cond, "what is wrong and what to do")
#define COPYCAT_ASSERT(cond, why)                                                 \
    do {                                                                          \
        if (!(cond)) ::copycat::assertion_failed(#cond, __FILE__, __LINE__, why); \
    } while (0)
