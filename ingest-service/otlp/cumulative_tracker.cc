// CumulativeTracker (contract in cumulative_tracker.h).
#include "ingest-service/otlp/cumulative_tracker.h"

#include <algorithm>

namespace streammetrics::ingest::otlp {

CumulativeTracker::CumulativeTracker(size_t max_series)
    : max_series_(std::max<size_t>(1, max_series)) {}

CumulativeTracker::Result CumulativeTracker::Observe(const ContentId& series, const Point& point) {
  absl::MutexLock lock(&mu_);
  auto it = index_.find(series);
  if (it == index_.end()) {
    if (lru_.size() >= max_series_) {
      index_.erase(lru_.back().series);
      lru_.pop_back();
      ++evictions_;
    }
    lru_.push_front(State{series, point, false, 0});
    index_.emplace(series, lru_.begin());
    return {Outcome::kBaseline, 0};
  }
  lru_.splice(lru_.begin(), lru_, it->second);  // most recently seen first; iterators stay valid
  State& s = *it->second;
  const Point& last = s.last;
  if (point.start_unix_nano < last.start_unix_nano) return {Outcome::kStale, 0};
  if (point.start_unix_nano > last.start_unix_nano) {
    s = State{series, point, true, point.value};
    return {Outcome::kRestart, point.value};
  }
  if (point.time_unix_nano < last.time_unix_nano) return {Outcome::kStale, 0};
  if (point.time_unix_nano == last.time_unix_nano) {
    // The same point again: yield what it yielded. A different value at the same time is a
    // conflicting copy; the first one seen stands.
    if (point.value == last.value && s.has_delta) return {Outcome::kRepeat, s.delta};
    return {Outcome::kStale, 0};
  }
  if (point.value < last.value) {
    s = State{series, point, false, 0};
    return {Outcome::kReset, 0};
  }
  const double delta = point.value - last.value;
  s = State{series, point, true, delta};
  return {Outcome::kDelta, delta};
}

size_t CumulativeTracker::size() const {
  absl::MutexLock lock(&mu_);
  return lru_.size();
}

uint64_t CumulativeTracker::evictions() const {
  absl::MutexLock lock(&mu_);
  return evictions_;
}

}  // namespace streammetrics::ingest::otlp
