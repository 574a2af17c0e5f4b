// LogThrottle: at most one log line per interval for an event that outsiders can trigger at will
// (refused calls, malformed messages), so a flood of them cannot fill a disk or drown the other
// lines. The lines not written are counted and reported on the next line that is.
#ifndef STREAMMETRICS_LIB_COMMON_LOG_THROTTLE_H_
#define STREAMMETRICS_LIB_COMMON_LOG_THROTTLE_H_

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace streammetrics {

class LogThrottle {
 public:
  explicit LogThrottle(absl::Duration interval = absl::Seconds(1)) : interval_(interval) {}

  // True when a line may be written now; then *skipped (if not null) is the number of lines
  // refused since the last one allowed. False counts one more refused line. Thread-safe.
  bool Allow(uint64_t* skipped = nullptr, absl::Time now = absl::Now()) {
    absl::MutexLock lock(&mu_);
    if (now - last_ < interval_) {
      ++skipped_;
      return false;
    }
    last_ = now;
    if (skipped != nullptr) *skipped = skipped_;
    skipped_ = 0;
    return true;
  }

 private:
  const absl::Duration interval_;
  absl::Mutex mu_;
  absl::Time last_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  uint64_t skipped_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace streammetrics

#endif  // STREAMMETRICS_LIB_COMMON_LOG_THROTTLE_H_
