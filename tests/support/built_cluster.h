// ClusterOptions naming the binaries a process test was built against. Each test target defines
// COPYCAT_<PROCESS>_BINARY in its CMakeLists for the processes it starts; those it does not
// define stay empty (ProcessCluster then does not start them).
#pragma once

#include "tests/support/consensus_cluster.h"

namespace copycat::testing {

inline ClusterOptions built_cluster_options() {
    ClusterOptions options;
#ifdef COPYCAT_LOGSTORE_BINARY
    options.logstore_binary = COPYCAT_LOGSTORE_BINARY;
#endif
#ifdef COPYCAT_CONSENSUS_BINARY
    options.consensus_binary = COPYCAT_CONSENSUS_BINARY;
#endif
#ifdef COPYCAT_GATEWAY_BINARY
    options.gateway_binary = COPYCAT_GATEWAY_BINARY;
#endif
#ifdef COPYCAT_COMPACTOR_BINARY
    options.compactor_binary = COPYCAT_COMPACTOR_BINARY;
#endif
    return options;
}

}  // namespace copycat::testing
