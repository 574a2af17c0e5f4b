// Backoff: the delays between attempts after failures — exponential from an initial delay up to
// a maximum, each with random jitter so that many clients cut off by the same server restart do
// not all reconnect in the same instant. The client library times its reconnections with it, the
// aggregation service its cache writes. Time comes from an injected Clock. Not thread-safe (the
// owner serializes calls).
#ifndef STREAMMETRICS_LIB_COMMON_BACKOFF_H_
#define STREAMMETRICS_LIB_COMMON_BACKOFF_H_

#include <functional>

#include "absl/time/time.h"
#include "lib/common/clock.h"

namespace streammetrics {

struct BackoffOptions {
  absl::Duration initial = absl::Milliseconds(100);
  absl::Duration max = absl::Seconds(5);
  double multiplier = 2.0;
  // Each delay is drawn uniformly from [d * (1 - jitter), d * (1 + jitter)], then capped at max.
  double jitter = 0.2;
};

class Backoff {
 public:
  // `uniform01` returns a number in [0, 1); by default a seeded absl::BitGen. Tests pass a fixed
  // sequence to check the bounds.
  explicit Backoff(BackoffOptions options, std::function<double()> uniform01 = nullptr);
  // The same, timing Failed() on `clock` (not owned; must outlive the Backoff).
  Backoff(BackoffOptions options, const Clock* clock, std::function<double()> uniform01 = nullptr);

  // The delay before the next attempt; each call grows the base delay by the multiplier (capped
  // at max). The result is always in [0, max].
  absl::Duration Next();

  // Back to the initial delay: the next call to Next() is about `initial` again. Called once a
  // connection proved healthy.
  void Reset();

  // A failed attempt: when the next may start, the clock's now plus Next().
  absl::Time Failed();

 private:
  BackoffOptions options_;
  const Clock* clock_;
  std::function<double()> uniform01_;
  absl::Duration base_;
};

}  // namespace streammetrics

#endif  // STREAMMETRICS_LIB_COMMON_BACKOFF_H_
