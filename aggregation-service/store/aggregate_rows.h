// How a WindowAggregate maps to a row of metrics.metric_aggregates: the checkpoint's upsert and
// the claim's reload, with their SQL, so the column list and the code that fills or reads it sit
// side by side.
//
// Row <- window: timestamp/window_end from the window bounds, service_id and metric_name from the
// series, tags as a JSONB object of the series' tags, window_size "1m"/"5m", the numbers, the
// serialized v1.DDSketch, is_final, revision, and the owning partition (source_partition).
// Window <- row: the same, with the series parsed back from series_key (the key is canonical, the
// columns are copies for queries) and relative_accuracy taken from the sketch.
#ifndef STREAMMETRICS_AGGREGATION_SERVICE_STORE_AGGREGATE_ROWS_H_
#define STREAMMETRICS_AGGREGATION_SERVICE_STORE_AGGREGATE_ROWS_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "lib/pg/binary.h"
#include "lib/pg/connection.h"
#include "streammetrics/v1/aggregate.pb.h"

namespace streammetrics::aggregation {

// The tags as a JSONB text value, an object of strings (protobuf's JSON printer escapes). Fails
// with InvalidArgument when they cannot be written as JSON.
absl::StatusOr<std::string> TagsJson(const google::protobuf::Map<std::string, std::string>& tags);

// INSERT ... SELECT FROM unnest($1, ...) ON CONFLICT (series_key, window_size, timestamp) DO
// UPDATE of many windows in one statement, every column overwritten, updated_at = now(). One
// set-based statement instead of one per window: PostgreSQL plans and executes it once, and the
// rows cross the wire as arrays (see bench/aggregation_replay.sh for the difference). The
// windows of one statement must be distinct (PostgreSQL refuses to update a row twice in one
// statement); a checkpoint's delta holds each window once.
pg::StatementSpec UpsertWindowsStatement(absl::string_view name);

// The parameters of UpsertWindowsStatement, added window by window.
class WindowRows {
 public:
  explicit WindowRows(absl::string_view source_group) : source_group_(source_group) {}

  // Adds `window`, owned by `source_partition`. Fails with InvalidArgument naming the window when
  // its tags cannot be written as JSON. Precondition: ValidateCheckpoints accepted the window.
  absl::Status Add(const v1::WindowAggregate& window, int32_t source_partition);
  int size() const { return key_.size(); }
  pg::Params Params() const;

 private:
  std::string source_group_;
  pg::Array start_{pg::kTimestamptzOid}, end_{pg::kTimestamptzOid}, service_{pg::kTextOid},
      metric_{pg::kTextOid}, size_{pg::kTextOid}, count_{pg::kInt8Oid}, sum_{pg::kFloat8Oid},
      avg_{pg::kFloat8Oid}, min_{pg::kFloat8Oid}, max_{pg::kFloat8Oid}, p50_{pg::kFloat8Oid},
      p95_{pg::kFloat8Oid}, p99_{pg::kFloat8Oid}, tags_{pg::kTextOid}, key_{pg::kTextOid},
      sketch_{pg::kByteaOid}, final_{pg::kBoolOid}, revision_{pg::kInt8Oid},
      partition_{pg::kInt4Oid};
};

// The same for the series catalog (metrics.series, migration 0003): INSERT ... ON CONFLICT
// (series_key) DO UPDATE, where last_window_start moves to the given start unless it is already
// later.
pg::StatementSpec UpsertSeriesStatement(absl::string_view name);

// The parameters of UpsertSeriesStatement: the series of 1-minute windows, each series once (a
// series added twice keeps its latest window start), in key order.
class SeriesRows {
 public:
  // Fails like WindowRows::Add.
  absl::Status Add(const v1::WindowAggregate& window);
  int size() const { return static_cast<int>(series_.size()); }
  pg::Params Params() const;

 private:
  struct Entry {
    std::string service_id;
    std::string metric_name;
    std::string tags_json;
    absl::Time last_window_start;
  };
  std::map<std::string, Entry> series_;
};

// The windows a claim of a partition reloads: parameters $1 = partition (int4), $2 =
// ClaimFinalWindowsFrom(watermark) (timestamptz). Results in binary, read by WindowFromRow.
pg::StatementSpec SelectClaimedWindowsStatement(absl::string_view name);

// The select list WindowFromRow reads, in its order, for other statements over metric_aggregates
// (the query side), with `sketch` as the expression of the sketch column.
std::string WindowRowColumns(absl::string_view sketch = "sketch");

// A sketch-column expression for reads that do not return the sketch: the first 9 bytes of the
// serialized v1.DDSketch, which are its relative_accuracy field (field 1, a double: tag byte 0x09
// and 8 bytes; protobuf writes fields in number order, and the accuracy is never 0, so never
// omitted). WindowFromRow then parses a sketch holding only the accuracy, which is all the
// answer needs, without moving every bucket over the wire.
inline constexpr char kSketchAccuracyOnly[] = "substring(sketch FROM 1 FOR 9)";

// Rebuilds the window of one row of SelectClaimedWindowsStatement (or of any SELECT of
// WindowRowColumns()). Fails with DataLoss naming the
// window and the column when a value is NULL, negative where it cannot be, an unknown window
// size, or when the series key or the sketch does not parse.
absl::StatusOr<v1::WindowAggregate> WindowFromRow(const pg::Row& row);

}  // namespace streammetrics::aggregation

#endif  // STREAMMETRICS_AGGREGATION_SERVICE_STORE_AGGREGATE_ROWS_H_
