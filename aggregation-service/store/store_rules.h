// Rules every AggregateStore applies the same way, so the in-memory fake answers as PostgreSQL
// does: what a checkpoint may contain, the column widths a window must fit, which stored windows
// a claim reloads, and how windows are named in messages.
#ifndef STREAMMETRICS_AGGREGATION_SERVICE_STORE_STORE_RULES_H_
#define STREAMMETRICS_AGGREGATION_SERVICE_STORE_STORE_RULES_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "aggregation-service/engine/window_math.h"
#include "aggregation-service/store/aggregate_store.h"
#include "streammetrics/v1/aggregate.pb.h"

namespace streammetrics::aggregation {

// Widths, in characters, of metrics.metric_aggregates' VARCHAR columns
// (deploy/migrations/0001_initial.sql).
inline constexpr size_t kServiceIdColumnChars = 100;
inline constexpr size_t kMetricNameColumnChars = 200;

// OK when `checkpoints` can be stored whatever the database holds. Otherwise InvalidArgument
// naming the first problem: a partition that is negative or appears twice, a negative
// next_offset, a window without a series key, a window size, a start or an end, a count or
// revision above 2^63 - 1 (BIGINT columns), an outbox record without a topic.
absl::Status ValidateCheckpoints(const std::vector<PartitionCheckpoint>& checkpoints);

// OK when the window's service_id and metric_name fit their columns; otherwise InvalidArgument
// naming the window, the column, the value's length and the column's width. Lengths count UTF-8
// characters, as VARCHAR(n) does.
absl::Status CheckColumnWidths(const v1::WindowAggregate& window);

// Where a claim starts reloading final windows: the watermark floored to 5 minutes, i.e. the
// start of the 5-minute window that is not final yet (its final 1-minute windows are still needed
// to compute it). Infinite watermarks give themselves.
absl::Time ClaimFinalWindowsFrom(absl::Time watermark);

// Whether a claim reloads a stored window: it is not final, or it starts at or after `final_from`
// (ClaimFinalWindowsFrom of the stored watermark).
bool ClaimReloads(bool is_final, absl::Time window_start, absl::Time final_from);

// What a TIMESTAMPTZ column keeps of `t`: whole microseconds, rounded toward the past (so a
// watermark read back is never later than the one written). Infinite times stay infinite.
absl::Time StoredTime(absl::Time t);

// "<series_key> <size> <start>", naming a window in messages.
std::string DescribeWindow(const v1::WindowAggregate& window);

}  // namespace streammetrics::aggregation

#endif  // STREAMMETRICS_AGGREGATION_SERVICE_STORE_STORE_RULES_H_
