// StopSignals: how every StreamMetrics program learns it must stop. SIGTERM and SIGINT are blocked
// in every thread (threads inherit the mask of the thread that starts them, so Block() must run
// before any thread starts) and main collects them synchronously with Wait(), which needs no
// async-signal-safe handler and lets main do periodic work between waits.
#ifndef STREAMMETRICS_LIB_COMMON_STOP_SIGNALS_H_
#define STREAMMETRICS_LIB_COMMON_STOP_SIGNALS_H_

#include <csignal>

#include "absl/time/time.h"

namespace streammetrics {

class StopSignals {
 public:
  // Blocks SIGTERM and SIGINT in the calling thread.
  static StopSignals Block();

  // Waits up to `timeout` for one of them: its number, or -1 when none arrived in time.
  int Wait(absl::Duration timeout) const;

 private:
  StopSignals() = default;
  sigset_t set_;
};

}  // namespace streammetrics

#endif  // STREAMMETRICS_LIB_COMMON_STOP_SIGNALS_H_
