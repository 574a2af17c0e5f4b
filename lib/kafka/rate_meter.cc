// RateMeter (contract in rate_meter.h).
#include "lib/kafka/rate_meter.h"

#include <algorithm>

namespace streammetrics::kafka {

void RateMeter::Advance(int64_t slice) {
  if (!started_) {
    started_ = true;
    current_ = slice;
    return;
  }
  if (slice <= current_) return;  // a clock that went back adds to the current slice
  // Clear every slice passed over, at most all of them.
  for (int64_t s = current_ + 1; s <= std::min(slice, current_ + kSlices); ++s) {
    counts_[static_cast<size_t>(s % kSlices)] = 0;
  }
  current_ = slice;
}

void RateMeter::Add(uint64_t n) {
  const int64_t slice = absl::ToUnixMillis(clock_->Now()) / kSliceMillis;
  absl::MutexLock lock(&mu_);
  Advance(slice);
  counts_[static_cast<size_t>(current_ % kSlices)] += n;
}

double RateMeter::PerSecond() {
  const int64_t slice = absl::ToUnixMillis(clock_->Now()) / kSliceMillis;
  absl::MutexLock lock(&mu_);
  Advance(slice);
  uint64_t total = 0;
  for (uint64_t c : counts_) total += c;
  return static_cast<double>(total) * 1000.0 / (kSlices * kSliceMillis);
}

}  // namespace streammetrics::kafka
