// copycat-ctl keygen: a CURVE key pair for a node, a gateway or a client (common/curve.h),
// made locally; no cluster is asked.
#pragma once

#include "client/ctl/command_line.h"
#include "client/ctl/output.h"
#include "common/status.h"

namespace copycat::ctl {

// Writes NAME.key (secret, mode 0600) and NAME.pub into --out-dir; never overwrites.
Result<Outcome> run_keygen(const Command& command);

}  // namespace copycat::ctl
