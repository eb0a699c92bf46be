// copycat-ctl: a command line client for copycat clusters, modelled on etcdctl (ctl.h).
#include <unistd.h>

#include <iostream>

#include "client/ctl/ctl.h"

int main(int argc, char* argv[]) {
    std::vector<std::string> arguments(argv + 1, argv + argc);
    return copycat::ctl::run_ctl(arguments, copycat::ctl::process_environment(), STDIN_FILENO,
                                 std::cout, std::cerr);
}
