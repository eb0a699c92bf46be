#include "common/assert.h"

#include <cstdio>
#include <cstdlib>

namespace copycat {

void assertion_failed(const char* expr, const char* file, int line, const char* why) {
    std::fprintf(stderr,
                 "{\"level\":\"fatal\",\"msg\":\"assertion failed: %s\",\"why\":\"%s\","
                 "\"at\":\"%s:%d\"}\n",
                 expr, why, file, line);
    std::fflush(stderr);
    std::abort();
}

}  // namespace copycat
