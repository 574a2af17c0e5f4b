// Clock: the one source of "now" for code that decides by time (validation skew/age, watermarks,
// checkpoint intervals, backoffs), and of waiting until a time, so tests inject a FakeClock
// instead of sleeping.
#ifndef STREAMMETRICS_LIB_COMMON_CLOCK_H_
#define STREAMMETRICS_LIB_COMMON_CLOCK_H_

#include <atomic>
#include <cstdint>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace streammetrics {

class Clock {
 public:
  virtual ~Clock() = default;
  // Current wall-clock time (UTC). Thread-safe.
  virtual absl::Time Now() const = 0;

  // Waits on `cv` (with `mu` held, as CondVar::Wait) until it is signalled or, perhaps, until
  // this clock reaches `deadline`. May return early (spuriously): callers re-check their
  // condition and the time in a loop, as with any condition variable.
  virtual void WaitWithDeadline(absl::CondVar* cv, absl::Mutex* mu, absl::Time deadline) const {
    cv->WaitWithDeadline(mu, deadline);
  }
};

// The system clock.
class RealClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
  // A process-wide instance; never destroyed.
  static RealClock* Get() {
    static RealClock* clock = new RealClock();
    return clock;
  }
};

// A clock that moves only when told to. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1'800'000'000))
      : nanos_(absl::ToUnixNanos(start)) {}
  absl::Time Now() const override { return absl::FromUnixNanos(nanos_.load()); }
  void Set(absl::Time t) { nanos_.store(absl::ToUnixNanos(t)); }
  void Advance(absl::Duration d) { nanos_.fetch_add(absl::ToInt64Nanoseconds(d)); }

  // The deadline is on this clock, which a test moves: waits at most a millisecond of real time,
  // so the caller's loop sees an Advance promptly.
  void WaitWithDeadline(absl::CondVar* cv, absl::Mutex* mu, absl::Time deadline) const override {
    if (deadline == absl::InfiniteFuture()) {
      cv->Wait(mu);
    } else if (Now() < deadline) {
      cv->WaitWithTimeout(mu, absl::Milliseconds(1));
    }
  }

 private:
  std::atomic<int64_t> nanos_;
};

}  // namespace streammetrics

#endif  // STREAMMETRICS_LIB_COMMON_CLOCK_H_
