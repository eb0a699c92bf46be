// copycat-gateway: the stateless front end that clients connect to (gateway/README.md).
#include "gateway/gateway_main.h"

int main(int argc, char* argv[]) { return copycat::gateway::gateway_main(argc, argv); }
