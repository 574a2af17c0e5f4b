// CumulativeTracker (contract in cumulative_tracker.h).
#include "ingest-service/otlp/cumulative_tracker.h"

#include <algorithm>

namespace streammetrics::ingest::otlp {

CumulativeTracker::CumulativeTracker(size_t max_series)
    : max_series_(std::max<size_t>(1, max_series)) {}

void CumulativeTracker::State::Push(const Seen& seen) {
  for (size_t i = std::min(size, kRemembered - 1); i > 0; --i) recent[i] = recent[i - 1];
  recent[0] = seen;
  size = std::min(size + 1, kRemembered);
}

CumulativeTracker::Result CumulativeTracker::Observe(const ContentId& series, const Point& point) {
  absl::MutexLock lock(&mu_);
  auto it = index_.find(series);
  if (it == index_.end()) {
    if (lru_.size() >= max_series_) {
      index_.erase(lru_.back().series);
      lru_.pop_back();
      ++evictions_;
    }
    State fresh;
    fresh.series = series;
    fresh.Push(Seen{point, false, 0});
    lru_.push_front(fresh);
    index_.emplace(series, lru_.begin());
    return {Outcome::kBaseline, 0};
  }
  lru_.splice(lru_.begin(), lru_, it->second);  // most recently seen first; iterators stay valid
  State& s = *it->second;
  const Point& last = s.last();
  if (point.start_unix_nano < last.start_unix_nano) return {Outcome::kStale, 0};
  if (point.start_unix_nano > last.start_unix_nano) {
    // A new life: the points remembered belong to the old one.
    s.size = 0;
    s.Push(Seen{point, true, point.value});
    return {Outcome::kRestart, point.value};
  }
  if (point.time_unix_nano <= last.time_unix_nano) {
    // A point seen again yields what it yielded. A different value at the same time is a
    // conflicting copy: the first one seen stands.
    for (size_t i = 0; i < s.size; ++i) {
      const Seen& seen = s.recent[i];
      if (seen.point.time_unix_nano != point.time_unix_nano) continue;
      if (seen.point.value == point.value && seen.has_delta) return {Outcome::kRepeat, seen.delta};
      break;
    }
    return {Outcome::kStale, 0};
  }
  if (point.value < last.value) {
    s.Push(Seen{point, false, 0});
    return {Outcome::kReset, 0};
  }
  const double delta = point.value - last.value;
  s.Push(Seen{point, true, delta});
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
