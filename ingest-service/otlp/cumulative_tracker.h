// CumulativeTracker: turns the points of cumulative monotonic OpenTelemetry sums into deltas, one
// series at a time, the way the OpenTelemetry Collector's cumulativetodelta processor does: the
// first point of a series is only a baseline, each later point yields its increase over the
// previous one, a new start_time_unix_nano is a counter restart (the point's value is all
// increase since then) and a decrease without one is a reset (a new baseline, nothing counted).
//
// Beyond the Collector, it makes retries safe: the point it saw last, seen again (an exporter
// resending an export whose answer it lost), yields the same delta again, which the event's
// content-derived idempotency key then counts once; older points are ignored.
//
// State is bounded: at most `max_series` series, the least recently seen one forgotten to make
// room (its next point is a baseline again, so one interval of it goes uncounted). State lives in
// memory only: after a restart every series starts with a baseline (docs/otlp.md). Thread-safe.
#ifndef STREAMMETRICS_INGEST_SERVICE_OTLP_CUMULATIVE_TRACKER_H_
#define STREAMMETRICS_INGEST_SERVICE_OTLP_CUMULATIVE_TRACKER_H_

#include <cstddef>
#include <cstdint>
#include <list>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "ingest-service/otlp/content_id.h"

namespace streammetrics::ingest::otlp {

class CumulativeTracker {
 public:
  // max_series >= 1.
  explicit CumulativeTracker(size_t max_series);
  CumulativeTracker(const CumulativeTracker&) = delete;
  CumulativeTracker& operator=(const CumulativeTracker&) = delete;

  struct Point {
    uint64_t start_unix_nano = 0;
    uint64_t time_unix_nano = 0;
    double value = 0;
  };

  enum class Outcome {
    kBaseline,  // first point of the series (or first after it was forgotten): nothing counted
    kDelta,     // counted: delta = value - previous value
    kRestart,   // a later start time: delta = value (the counter restarted from zero)
    kRepeat,    // the last point again: delta = the delta it yielded then
    kReset,     // a decrease with the same start time: new baseline, nothing counted
    kStale,     // older than the last point (or an earlier start time): ignored, state unchanged
  };

  struct Result {
    Outcome outcome = Outcome::kBaseline;
    double delta = 0;  // for kDelta, kRestart and kRepeat
  };

  Result Observe(const ContentId& series, const Point& point);

  size_t size() const;
  // Series forgotten to make room, since construction.
  uint64_t evictions() const;

 private:
  struct State {
    ContentId series;
    Point last;
    // Whether `last` yielded a delta, and which: a repeat of it yields the same.
    bool has_delta = false;
    double delta = 0;
  };
  using Lru = std::list<State>;  // most recently seen first

  const size_t max_series_;
  mutable absl::Mutex mu_;
  Lru lru_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<ContentId, Lru::iterator> index_ ABSL_GUARDED_BY(mu_);
  uint64_t evictions_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace streammetrics::ingest::otlp

#endif  // STREAMMETRICS_INGEST_SERVICE_OTLP_CUMULATIVE_TRACKER_H_
