#include "lib/common/backoff.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/random/random.h"

namespace streammetrics {

Backoff::Backoff(BackoffOptions options, std::function<double()> uniform01)
    : Backoff(options, RealClock::Get(), std::move(uniform01)) {}

Backoff::Backoff(BackoffOptions options, const Clock* clock, std::function<double()> uniform01)
    : options_(options), clock_(clock), uniform01_(std::move(uniform01)), base_(options.initial) {
  if (!uniform01_) {
    auto gen = std::make_shared<absl::BitGen>();
    uniform01_ = [gen] { return absl::Uniform<double>(*gen, 0.0, 1.0); };
  }
}

absl::Duration Backoff::Next() {
  const double factor = 1.0 + options_.jitter * (2.0 * uniform01_() - 1.0);
  const absl::Duration delay = std::clamp(base_ * factor, absl::ZeroDuration(), options_.max);
  base_ = std::min(base_ * options_.multiplier, options_.max);
  return delay;
}

void Backoff::Reset() { base_ = options_.initial; }

absl::Time Backoff::Failed() { return clock_->Now() + Next(); }

}  // namespace streammetrics
