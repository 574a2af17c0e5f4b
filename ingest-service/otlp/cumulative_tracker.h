// CumulativeTracker: turns the points of cumulative monotonic OpenTelemetry sums into deltas, one
// series at a time, the way the OpenTelemetry Collector's cumulativetodelta processor does: the
// first point of a series is only a baseline, each later point yields its increase over the
// previous one, a new start_time_unix_nano is a counter restart (the point's value is all
// increase since then) and a decrease without one is a reset (a new baseline, nothing counted).
//
// Beyond the Collector, it makes retries safe: each of the last kRemembered points of a series,
// seen again (an exporter resending an export whose answer it lost, or whose records Kafka did not
// all confirm, even after later points arrived), yields the same delta again, which the event's
// content-derived idempotency key then counts once; older points are ignored.
//
// State is bounded: at most `max_series` series, the least recently seen one forgotten to make
// room (its next point is a baseline again, so one interval of it goes uncounted). State lives in
// memory only: after a restart every series starts with a baseline (docs/otlp.md). Thread-safe.
#ifndef STREAMMETRICS_INGEST_SERVICE_OTLP_CUMULATIVE_TRACKER_H_
#define STREAMMETRICS_INGEST_SERVICE_OTLP_CUMULATIVE_TRACKER_H_

#include <array>
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

  // Points of a series whose deltas a repeat can yield again.
  static constexpr size_t kRemembered = 4;

  enum class Outcome {
    kBaseline,  // first point of the series (or first after it was forgotten): nothing counted
    kDelta,     // counted: delta = value - previous value
    kRestart,   // a later start time: delta = value (the counter restarted from zero)
    kRepeat,    // one of the last kRemembered points again: delta = the delta it yielded then
    kReset,     // a decrease with the same start time: new baseline, nothing counted
    kStale,     // older than those (or an earlier start time, or a conflicting copy): ignored
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
  // A point seen, and the delta it yielded (none for a baseline or a reset).
  struct Seen {
    Point point;
    bool has_delta = false;
    double delta = 0;
  };
  struct State {
    ContentId series;
    // recent[0] is the last point; up to kRemembered of one start time, newest first.
    std::array<Seen, kRemembered> recent;
    size_t size = 0;
    const Point& last() const { return recent[0].point; }
    // Makes `seen` the last point, keeping the ones before it.
    void Push(const Seen& seen);
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
