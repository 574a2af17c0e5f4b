// RateMeter: records per second over the last second, in ten 100 ms slices, on an injected Clock
// (tests move a FakeClock; nothing sleeps). Thread-safe. AdaptiveRecordSink decides by it which
// producer a batch goes to.
#ifndef STREAMMETRICS_LIB_KAFKA_RATE_METER_H_
#define STREAMMETRICS_LIB_KAFKA_RATE_METER_H_

#include <array>
#include <cstdint>

#include "absl/synchronization/mutex.h"
#include "lib/common/clock.h"

namespace streammetrics::kafka {

class RateMeter {
 public:
  explicit RateMeter(const Clock* clock) : clock_(clock) {}

  // Counts `n` records now.
  void Add(uint64_t n);
  // Records counted in the last second (the current slice and the nine before it).
  double PerSecond();

 private:
  static constexpr int kSlices = 10;
  static constexpr int64_t kSliceMillis = 100;

  // Empties the slices the clock has moved past since the last call. Holds mu_.
  void Advance(int64_t slice) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Clock* const clock_;
  absl::Mutex mu_;
  std::array<uint64_t, kSlices> counts_ ABSL_GUARDED_BY(mu_){};
  int64_t current_ ABSL_GUARDED_BY(mu_) = 0;  // the slice number counts_ is up to
  bool started_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace streammetrics::kafka

#endif  // STREAMMETRICS_LIB_KAFKA_RATE_METER_H_
