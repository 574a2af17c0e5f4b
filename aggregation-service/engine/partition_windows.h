// PartitionWindows: the window engine of one partition of `metrics-events` (docs/contract.md §5).
// Pure code, no I/O and no clock of its own: the caller passes "now", so tests drive time exactly.
//
// It owns, for its partition: the watermark; every open 1-minute window of every series (exact
// count, sum, min, max and a DDSketch); the final 1-minute windows whose 5-minute window is still
// open; and the idempotency keys counted in each open 1-minute window. A 5-minute window is never
// accumulated on its own: it is computed as the merge of its 1-minute windows, so it equals that
// merge exactly (sums included, as the same additions in the same order).
//
// Deduplication is scoped to windows on purpose. An event's idempotency key is remembered in its
// 1-minute window until that window is final; a resent copy of the event has the same timestamp,
// so it either finds its key there (duplicate) or finds the window final (late, dead-lettered,
// never counted). The state is therefore bounded by the events of open windows, not by the
// history of every client.
//
// The caller (Aggregator) checkpoints what TakeDelta returns in one PostgreSQL transaction, and
// after a restart or a rebalance rebuilds the engine from that with Restore.
#ifndef STREAMMETRICS_AGGREGATION_SERVICE_ENGINE_PARTITION_WINDOWS_H_
#define STREAMMETRICS_AGGREGATION_SERVICE_ENGINE_PARTITION_WINDOWS_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "lib/events/idempotency_key.h"
#include "lib/sketch/ddsketch.h"
#include "streammetrics/v1/aggregate.pb.h"
#include "streammetrics/v1/metric_event.pb.h"

namespace streammetrics::aggregation {

struct EngineOptions {
  // How far the watermark trails the newest event time (or the wall clock): an event may arrive
  // this much after its window's end and still be counted.
  absl::Duration allowed_lateness = absl::Seconds(30);
  // Relative accuracy of every window's sketch (docs/contract.md: 1 %).
  double relative_accuracy = sketch::DDSketch::kDefaultRelativeAccuracy;
  // Bucket bound per sketch store.
  size_t max_sketch_buckets = sketch::DDSketch::kDefaultMaxBuckets;
};

enum class AddOutcome {
  // Counted in its 1-minute window (and so in its 5-minute window).
  kCounted,
  // Its idempotency key was already counted in its window on this partition: not counted again.
  kDuplicate,
  // Its 1-minute window was already final: not counted. The caller dead-letters it as late.
  kLate,
  // A distribution that would take its 1-minute window's count past
  // WindowNumbers::kMaxWindowCount: not counted. The caller dead-letters it.
  kOverflow,
};

// Idempotency keys counted in the 1-minute window starting at `window_start` (all series of the
// partition), serialized as streammetrics.internal.DedupChunk. Chunks of one window are unions:
// restoring several chunks of a window restores the union of their keys.
struct DedupChunk {
  absl::Time window_start;
  std::string keys;
};

// What changed since the previous TakeDelta (or Restore), to be checkpointed in one transaction.
struct PartitionDelta {
  // Every 1m and 5m window whose numbers or finality changed, as the row to store and, when
  // is_final, the record to publish. Each window's revision is one more than in the previous
  // delta that carried it (1 the first time). A window appears with is_final = true exactly once,
  // and never again afterwards. Sketch, series, series_key, window bounds and p50/p95/p99 are set.
  std::vector<v1::WindowAggregate> windows;
  // Keys counted since the previous delta, at most one chunk per 1-minute window start.
  std::vector<DedupChunk> dedup_added;
  // Stored chunks of windows starting before this time are no longer needed (those windows are
  // final). absl::InfinitePast() when nothing can be released yet.
  absl::Time dedup_release_before = absl::InfinitePast();
  // The watermark after this delta; stored with it so a restart never moves it back.
  absl::Time watermark = absl::InfinitePast();
};

// What Restore needs: what the last committed checkpoints stored for the partition.
struct PartitionSnapshot {
  // absl::InfinitePast() for a partition never checkpointed.
  absl::Time watermark = absl::InfinitePast();
  // Every stored window of the partition that is not final, plus the final 1-minute windows whose
  // 5-minute window is not final (start >= the watermark floored to 5 minutes). Other final rows
  // are ignored.
  std::vector<v1::WindowAggregate> windows;
  // Every stored chunk of windows starting at or after dedup_release_before of the last delta.
  std::vector<DedupChunk> dedup;
};

class PartitionWindows {
 public:
  explicit PartitionWindows(EngineOptions options = {});
  ~PartitionWindows();
  PartitionWindows(const PartitionWindows&) = delete;
  PartitionWindows& operator=(const PartitionWindows&) = delete;

  // Replaces the state by `snapshot`. The windows' revisions continue from the stored ones.
  // Fails with InvalidArgument naming the window or chunk when a sketch or chunk does not parse or
  // a sketch's accuracy differs from the options'; the engine is then left empty. The same for a
  // snapshot no sequence of checkpoints could have stored: a row of no window size, bounds not
  // aligned to its size, an empty series key, count 0 or a sketch counting another number, a
  // window given twice, a final 1-minute row ending after the watermark, an open 5-minute row
  // with none of its 1-minute rows, a chunk not at a 1-minute start. Chunks of windows that the
  // watermark already closed are ignored.
  absl::Status Restore(const PartitionSnapshot& snapshot);

  // Counts one event whose record key is `series_key`. Precondition: the event passed validation
  // (timestamp set with valid nanos, value finite); the series (service_id, metric_name, tags) is
  // read from it. Late when the event's 1-minute window ends at or before the watermark.
  AddOutcome Add(absl::string_view series_key, const v1::MetricEvent& event,
                 const events::IdempotencyKey& key);

  // Moves the watermark forward, never back: to min(newest event time counted or seen, now) -
  // allowed_lateness, or, when `idle` (the partition is caught up and has had no records for a
  // while, the caller's judgement), to now - allowed_lateness. Windows whose end is at or before
  // the watermark become final and are reported by the next TakeDelta. The newest event time is
  // not in the snapshot: after Restore it is unknown until the next Add, so until then only an
  // idle Advance can move the restored watermark.
  void Advance(absl::Time now, bool idle);

  // Everything that changed since the previous call; see PartitionDelta. Final windows leave
  // memory here (a final 1-minute window stays until its 5-minute window is final).
  PartitionDelta TakeDelta();

  absl::Time watermark() const;
  // Windows not yet final: 1m plus 5m.
  size_t open_windows() const;
  // Idempotency keys held for open windows.
  size_t dedup_keys() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace streammetrics::aggregation

#endif  // STREAMMETRICS_AGGREGATION_SERVICE_ENGINE_PARTITION_WINDOWS_H_
