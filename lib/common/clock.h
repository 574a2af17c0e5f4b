// Clock: the one source of "now" for code that decides by time (validation skew/age, watermarks,
// checkpoint intervals), so tests inject a FakeClock instead of sleeping.
#ifndef STREAMMETRICS_LIB_COMMON_CLOCK_H_
#define STREAMMETRICS_LIB_COMMON_CLOCK_H_

#include <atomic>
#include <cstdint>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace streammetrics {

class Clock {
 public:
  virtual ~Clock() = default;
  // Current wall-clock time (UTC). Thread-safe.
  virtual absl::Time Now() const = 0;
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

 private:
  std::atomic<int64_t> nanos_;
};

}  // namespace streammetrics

#endif  // STREAMMETRICS_LIB_COMMON_CLOCK_H_
