// Retention of stored windows: how long each window size is kept, which day partitions of
// metrics.metric_aggregates should exist at a given time, and from when an answer is complete.
// Pure code, no I/O: the PartitionMaintainer applies the plan through a PartitionCatalog, the
// QueryHandler answers from RetainedFrom.
//
// The table is partitioned by window size, then by day (UTC) of the window start
// (deploy/migrations/0004_partitioned_aggregates.sql). Each size also has a default partition
// that takes rows of days without a partition of their own (a replay older than the days created,
// test data at fixed dates), so no write ever fails for want of a partition.
//
// The rule, per size, at time `now`:
//   - day partitions exist from DayStart(now - min(create_behind, keep)) through
//     DayStart(now + create_ahead): the days a window can still be written to (events are at most
//     24 h old and 5 min ahead at ingest; a replay of the events topic reaches back its 7 days);
//   - a day partition is dropped once all of it is older than now - keep (the day ended at or
//     before it), so whole days go at once and no row younger than `keep` ever does;
//   - rows of the default partition older than the same horizon are deleted.
// Windows starting at or after RetainedFrom(now) = DayStart(now - keep) are therefore always kept.
#ifndef STREAMMETRICS_AGGREGATION_SERVICE_STORE_RETENTION_H_
#define STREAMMETRICS_AGGREGATION_SERVICE_STORE_RETENTION_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "streammetrics/v1/aggregate.pb.h"

namespace streammetrics::aggregation {

struct RetentionPolicy {
  // How long windows are kept, from their start. absl::InfiniteDuration() keeps them forever.
  // At least kMinimumRetention each.
  absl::Duration keep_1m = absl::Hours(24 * 14);
  absl::Duration keep_5m = absl::Hours(24 * 90);
  // How far ahead of now day partitions are created: the maintainer may fail or be down this long
  // before new windows start to land in the default partition. At least one day.
  absl::Duration create_ahead = absl::Hours(24 * 3);
  // How far back day partitions are created (never beyond `keep`): the metrics-events topic's
  // retention (7 d) and a day, so a replay from the topic's start writes into day partitions.
  absl::Duration create_behind = absl::Hours(24 * 8);
};

// The shortest retention accepted: events up to 24 h old are accepted at ingest, and their windows
// must outlive the time they can still change.
inline constexpr absl::Duration kMinimumRetention = absl::Hours(48);

// OK, or InvalidArgument naming the setting (its flag name) and what it must be.
absl::Status ValidateRetention(const RetentionPolicy& policy);

// keep_1m or keep_5m; zero for any other size.
absl::Duration RetentionOf(const RetentionPolicy& policy, v1::WindowSize size);

// Midnight (UTC) starting the day of `t`; infinite times are returned unchanged.
absl::Time DayStart(absl::Time t);

// The oldest window start of `size` guaranteed to be stored at `now`: DayStart(now - keep), or
// absl::InfinitePast() when windows are kept forever. Windows before it may be gone.
absl::Time RetainedFrom(const RetentionPolicy& policy, v1::WindowSize size, absl::Time now);

// Where an answer over the windows of `size` starting in [start, end) begins, at `now`: `start`,
// or RetainedFrom when that is later (the windows before it may be gone). OutOfRange, saying how
// long windows of that size are kept and from when, when the whole range is before it.
absl::StatusOr<absl::Time> RetainedStart(const RetentionPolicy& policy, v1::WindowSize size,
                                         absl::Time start, absl::Time end, absl::Time now);

// One day partition: windows of `size` starting in [day, day + 24 h).
struct DayPartition {
  v1::WindowSize size = v1::WINDOW_SIZE_UNSPECIFIED;
  absl::Time day;  // a UTC midnight

  bool operator==(const DayPartition& o) const { return size == o.size && day == o.day; }
  bool operator<(const DayPartition& o) const {
    return size != o.size ? size < o.size : day < o.day;
  }
};

// The parent (one per size) and default partition tables, without the schema:
// "metric_aggregates_1m", "metric_aggregates_1m_default".
std::string SizeTableName(v1::WindowSize size);
std::string DefaultPartitionName(v1::WindowSize size);
// "metric_aggregates_1m_20261205". Precondition: `p.size` is 1m or 5m.
std::string PartitionName(const DayPartition& p);
// Inverse of PartitionName; nullopt for any other name (tables an operator added by hand are
// never touched).
std::optional<DayPartition> ParsePartitionName(absl::string_view name);

// What to change, in the order a catalog applies it.
struct PartitionPlan {
  std::vector<DayPartition> create;  // sorted
  std::vector<DayPartition> drop;    // sorted
  // Per size, rows of its default partition before this time are deleted (InfinitePast: none).
  absl::Time purge_1m_before = absl::InfinitePast();
  absl::Time purge_5m_before = absl::InfinitePast();

  bool empty() const { return create.empty() && drop.empty(); }
};

// The plan that brings `existing` (in any order, duplicates ignored) to the rule above at `now`.
// Precondition: ValidateRetention(policy) is OK.
PartitionPlan PlanPartitions(const RetentionPolicy& policy, absl::Time now,
                             const std::vector<DayPartition>& existing);

}  // namespace streammetrics::aggregation

#endif  // STREAMMETRICS_AGGREGATION_SERVICE_STORE_RETENTION_H_
