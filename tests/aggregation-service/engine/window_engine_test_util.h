// Helpers for the window engine's tests: events and keys, a simulated store that keeps what the
// Aggregator's checkpoints would (and checks the revision rules on the way), and a reference
// model that computes, without the engine, what every event's outcome and every window's numbers
// must be.
#ifndef STREAMMETRICS_TESTS_AGGREGATION_SERVICE_ENGINE_WINDOW_ENGINE_TEST_UTIL_H_
#define STREAMMETRICS_TESTS_AGGREGATION_SERVICE_ENGINE_WINDOW_ENGINE_TEST_UTIL_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "aggregation-service/engine/partition_windows.h"
#include "lib/events/idempotency_key.h"
#include "streammetrics/v1/aggregate.pb.h"
#include "streammetrics/v1/metric_event.pb.h"

namespace streammetrics::aggregation::testing {

// A 5-minute (so also 1-minute) boundary in 2027.
inline const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);
inline constexpr absl::Duration kLateness = absl::Seconds(30);

// One event as the Aggregator hands it to the engine.
struct TestEvent {
  std::string series_key;
  v1::MetricEvent event;
  events::IdempotencyKey key;
};

// An event of series (service, metric, tags) at `t`, with idempotency key (client, sequence,
// index); series_key is computed with events::SeriesKey.
TestEvent MakeEvent(absl::Time t, double value, absl::string_view client, uint64_t sequence,
                    uint32_t index, absl::string_view service = "svc",
                    absl::string_view metric = "latency",
                    const std::map<std::string, std::string>& tags = {});

AddOutcome AddTo(PartitionWindows& engine, const TestEvent& e);

// The identity of a stored window: its unique key in PostgreSQL.
using WindowId = std::tuple<std::string, v1::WindowSize, absl::Time>;
WindowId IdOf(const v1::WindowAggregate& row);

// The rows of a delta by window. Fails the test when a window appears twice.
std::map<WindowId, v1::WindowAggregate> ByWindow(const PartitionDelta& delta);

using Key = std::tuple<std::string, uint64_t, uint32_t>;
// The keys of a serialized DedupChunk. Fails the test when it does not parse, when a client or a
// (client, sequence) appears twice, or when a batch's indexes are not strictly ascending.
std::set<Key> DecodeChunk(const std::string& bytes);

// Keeps the latest row of every window and the chunks not released, like the store does.
class FakeStore {
 public:
  // Stores `delta`. Fails the test when a window's revision is not one more than its stored one
  // (1 when new), when a window comes back after a final row, or when a delta carries two chunks
  // of one window start.
  void Apply(const PartitionDelta& delta);
  // What ClaimPartition would give Restore (partition_windows.h, PartitionSnapshot).
  PartitionSnapshot Snapshot() const;

  const std::map<WindowId, v1::WindowAggregate>& rows() const { return rows_; }
  // The union of the stored chunks' keys per window start.
  std::map<absl::Time, std::set<Key>> Keys() const;
  absl::Time watermark() const { return watermark_; }

 private:
  std::map<WindowId, v1::WindowAggregate> rows_;
  std::map<absl::Time, std::vector<std::string>> chunks_;
  absl::Time watermark_ = absl::InfinitePast();
};

// The semantics of docs/contract.md §5, written plainly: absl::Time, sets and vectors, no shared
// code with the engine beyond events::SeriesKey.
class ReferenceModel {
 public:
  explicit ReferenceModel(absl::Duration lateness = kLateness) : lateness_(lateness) {}

  // The outcome the engine must give; records the value when counted.
  AddOutcome Add(const TestEvent& e);
  void Advance(absl::Time now, bool idle);
  absl::Time watermark() const { return watermark_; }

  // The values counted in a 1-minute window, in the order they were counted.
  const std::vector<double>& Values(const std::string& series_key, absl::Time minute) const;
  // Every (series key, 1-minute window start) that counted an event.
  std::vector<std::pair<std::string, absl::Time>> Windows() const;

 private:
  absl::Duration lateness_;
  absl::Time watermark_ = absl::InfinitePast();
  absl::Time newest_ = absl::InfinitePast();
  std::map<absl::Time, std::set<Key>> keys_;
  std::map<std::pair<std::string, absl::Time>, std::vector<double>> values_;
};

// One step of a workload: events handed to the engine, then Advance(now, idle) and TakeDelta.
struct Step {
  std::vector<TestEvent> events;
  absl::Time now;
  bool idle = false;
};

// A randomized workload from kT0 on: `series` series with tags, four clients sending batches of
// gauge values (positive, negative and zero), out of order by up to 45 s (so some are late), with
// resent batches (duplicates, or late once their window is final) and idle steps. Every step
// with events holds one at exactly `now` and `now` only grows, so the newest event time after any
// step is that step's `now` whether or not the engine restarted before it.
std::vector<Step> RandomWorkload(uint64_t seed, int steps, int series);

// Checks a 1-minute row against the values counted in it, in counting order: count, min, max
// exact, sum equal to the same additions, avg = sum / count, p50/p95/p99 within the row's relative
// accuracy of the exact value of rank floor(q * (count - 1)).
void ExpectNumbers(const v1::WindowAggregate& row, const std::vector<double>& values);

// The same for a 5-minute row, from the values of each of its 1-minute windows in window order:
// its sum must equal the 1-minute sums added in that order.
void ExpectFiveNumbers(const v1::WindowAggregate& row,
                       const std::vector<std::vector<double>>& minutes);

// Checks one row just taken from the engine against `model`: its numbers as above, its bounds,
// and is_final == (window end <= `watermark`, the delta's).
void ExpectRowMatches(const v1::WindowAggregate& row, const ReferenceModel& model,
                      absl::Time watermark);

// Checks every row of `store` against `model`, and that every window the model counted in is
// stored (1m and its 5m): the end-to-end ground truth of the randomized tests.
void ExpectStoreMatches(const FakeStore& store, const ReferenceModel& model);

}  // namespace streammetrics::aggregation::testing

#endif  // STREAMMETRICS_TESTS_AGGREGATION_SERVICE_ENGINE_WINDOW_ENGINE_TEST_UTIL_H_
