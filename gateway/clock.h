// Time as the gateway's cores see it: instants of the shell's steady clock, passed in with every
// input (the cores never read a clock). GatewayClock is only a tag that keeps these instants
// apart from other clocks' in the type system; it has no now().
#pragma once

#include <chrono>

namespace copycat::gateway {

struct GatewayClock {};
using Time = std::chrono::time_point<GatewayClock, std::chrono::microseconds>;
using Micros = std::chrono::microseconds;

}  // namespace copycat::gateway
