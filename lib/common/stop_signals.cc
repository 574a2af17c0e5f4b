// StopSignals: blocking and synchronous waiting (see the header).
#include "lib/common/stop_signals.h"

#include <pthread.h>

namespace streammetrics {

StopSignals StopSignals::Block() {
  StopSignals s;
  sigemptyset(&s.set_);
  sigaddset(&s.set_, SIGTERM);
  sigaddset(&s.set_, SIGINT);
  pthread_sigmask(SIG_BLOCK, &s.set_, nullptr);
  return s;
}

int StopSignals::Wait(absl::Duration timeout) const {
  const timespec tick = absl::ToTimespec(timeout);
  const int signal = sigtimedwait(&set_, nullptr, &tick);
  return signal > 0 ? signal : -1;
}

}  // namespace streammetrics
