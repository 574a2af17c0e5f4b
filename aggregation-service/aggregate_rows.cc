// WindowAggregate <-> metrics.metric_aggregates rows (see aggregate_rows.h).
#include "aggregation-service/aggregate_rows.h"

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "aggregation-service/store_rules.h"
#include "aggregation-service/window_math.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "lib/common/status_macros.h"
#include "lib/events/series_key.h"

namespace streammetrics::aggregation {
namespace {

// Parameter order of the upsert; UpsertWindowParams fills them in this order.
constexpr char kUpsertWindowSql[] = R"sql(
INSERT INTO metrics.metric_aggregates AS a (
    timestamp, window_end, service_id, metric_name, window_size,
    count, sum, avg, min, max, p50, p95, p99,
    tags, series_key, sketch, is_final, revision, source_partition, source_group, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
        $20, now())
ON CONFLICT (series_key, window_size, timestamp) DO UPDATE SET
    window_end = EXCLUDED.window_end, service_id = EXCLUDED.service_id,
    metric_name = EXCLUDED.metric_name, count = EXCLUDED.count, sum = EXCLUDED.sum,
    avg = EXCLUDED.avg, min = EXCLUDED.min, max = EXCLUDED.max, p50 = EXCLUDED.p50,
    p95 = EXCLUDED.p95, p99 = EXCLUDED.p99, tags = EXCLUDED.tags, sketch = EXCLUDED.sketch,
    is_final = EXCLUDED.is_final, revision = EXCLUDED.revision,
    source_partition = EXCLUDED.source_partition, source_group = EXCLUDED.source_group,
    updated_at = now())sql";

constexpr char kUpsertSeriesSql[] = R"sql(
INSERT INTO metrics.series AS s (series_key, service_id, metric_name, tags, last_window_start)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (series_key) DO UPDATE SET
    last_window_start = GREATEST(s.last_window_start, EXCLUDED.last_window_start),
    updated_at = now()
WHERE s.last_window_start < EXCLUDED.last_window_start)sql";

// `NOT is_final OR timestamp >= $2`, written with one range per arm of
// idx_metrics_partition_claim (0002_aggregation_checkpoints.sql), so a claim reads only the open
// windows and the recent final ones, never the partition's history.
#define SM_WINDOW_ROW_COLUMNS_BEFORE_SKETCH \
  "series_key, window_size, timestamp, window_end, count, sum, avg, min, max, p50, p95, p99, "
#define SM_WINDOW_ROW_COLUMNS_AFTER_SKETCH ", is_final, revision"
constexpr char kSelectClaimedWindowsSql[] =
    "SELECT " SM_WINDOW_ROW_COLUMNS_BEFORE_SKETCH "sketch" SM_WINDOW_ROW_COLUMNS_AFTER_SKETCH R"sql(
FROM metrics.metric_aggregates
WHERE source_group = $3 AND source_partition = $1
  AND (NOT is_final OR (is_final AND timestamp >= $2)))sql";

// Column indexes of the select list.
enum Column {
  kSeriesKey,
  kWindowSize,
  kStart,
  kEnd,
  kCount,
  kSum,
  kAvg,
  kMin,
  kMax,
  kP50,
  kP95,
  kP99,
  kSketch,
  kIsFinal,
  kRevision,
};

// Names the window in TagsJson's failure.
absl::StatusOr<std::string> WindowTagsJson(const v1::WindowAggregate& window) {
  absl::StatusOr<std::string> json = TagsJson(window.series().tags());
  if (!json.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("window ", DescribeWindow(window), ": ", json.status().message()));
  }
  return json;
}

}  // namespace

absl::StatusOr<std::string> TagsJson(const google::protobuf::Map<std::string, std::string>& tags) {
  google::protobuf::Struct object;
  for (const auto& [key, value] : tags) (*object.mutable_fields())[key].set_string_value(value);
  std::string json;
  const auto status = google::protobuf::util::MessageToJsonString(object, &json);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("tags cannot be written as JSON: ",
                     std::string(status.message().data(), status.message().size())));
  }
  return json;
}

PgStatementSpec UpsertWindowStatement(absl::string_view name) {
  return PgStatementSpec{
      .name = std::string(name),
      .sql = kUpsertWindowSql,
      .param_types = {kTimestamptzOid, kTimestamptzOid, kTextOid,   kTextOid,   kTextOid,
                      kInt8Oid,        kFloat8Oid,      kFloat8Oid, kFloat8Oid, kFloat8Oid,
                      kFloat8Oid,      kFloat8Oid,      kFloat8Oid, kJsonbOid,  kTextOid,
                      kByteaOid,       kBoolOid,        kInt8Oid,   kInt4Oid,   kTextOid},
  };
}

absl::StatusOr<PgParams> UpsertWindowParams(const v1::WindowAggregate& window,
                                            absl::string_view source_group,
                                            int32_t source_partition) {
  ASSIGN_OR_RETURN(std::string tags, WindowTagsJson(window));
  PgParams params;
  params.Timestamp(TimeFromProto(window.window_start()))
      .Timestamp(TimeFromProto(window.window_end()))
      .Bytes(window.series().service_id())
      .Bytes(window.series().metric_name())
      .Bytes(WindowSizeName(window.window_size()))
      .Int64(static_cast<int64_t>(window.count()))
      .Double(window.sum())
      .Double(window.avg())
      .Double(window.min())
      .Double(window.max())
      .Double(window.p50())
      .Double(window.p95())
      .Double(window.p99())
      .Text(tags)
      .Bytes(window.series_key())
      .Bytes(window.sketch().SerializeAsString())
      .Bool(window.is_final())
      .Int64(static_cast<int64_t>(window.revision()))
      .Int32(source_partition)
      .Bytes(source_group);
  return params;
}

PgStatementSpec UpsertSeriesStatement(absl::string_view name) {
  return PgStatementSpec{
      .name = std::string(name),
      .sql = kUpsertSeriesSql,
      .param_types = {kTextOid, kTextOid, kTextOid, kJsonbOid, kTimestamptzOid},
  };
}

absl::StatusOr<PgParams> UpsertSeriesParams(const v1::WindowAggregate& window) {
  ASSIGN_OR_RETURN(std::string tags, WindowTagsJson(window));
  PgParams params;
  params.Bytes(window.series_key())
      .Bytes(window.series().service_id())
      .Bytes(window.series().metric_name())
      .Text(tags)
      .Timestamp(TimeFromProto(window.window_start()));
  return params;
}

std::string WindowRowColumns(absl::string_view sketch) {
  return absl::StrCat(SM_WINDOW_ROW_COLUMNS_BEFORE_SKETCH, sketch,
                      SM_WINDOW_ROW_COLUMNS_AFTER_SKETCH);
}

#undef SM_WINDOW_ROW_COLUMNS_BEFORE_SKETCH
#undef SM_WINDOW_ROW_COLUMNS_AFTER_SKETCH

PgStatementSpec SelectClaimedWindowsStatement(absl::string_view name) {
  return PgStatementSpec{
      .name = std::string(name),
      .sql = kSelectClaimedWindowsSql,
      .param_types = {kInt4Oid, kTimestamptzOid, kTextOid},
  };
}

absl::StatusOr<v1::WindowAggregate> WindowFromRow(const PgRow& row) {
  v1::WindowAggregate w;
  ASSIGN_OR_RETURN(*w.mutable_series_key(), row.Bytes(kSeriesKey));
  ASSIGN_OR_RETURN(std::string size, row.Bytes(kWindowSize));
  ASSIGN_OR_RETURN(absl::Time start, row.Timestamp(kStart));
  ASSIGN_OR_RETURN(absl::Time end, row.Timestamp(kEnd));
  // Named from here on, so every later failure says which window it is.
  auto bad = [&w](absl::string_view why) {
    return absl::DataLossError(absl::StrCat("stored window ", DescribeWindow(w), ": ", why));
  };
  auto with_window = [&w](const absl::Status& s) {
    return absl::DataLossError(
        absl::StrCat("stored window ", DescribeWindow(w), ": ", s.message()));
  };
  absl::StatusOr<v1::WindowSize> window_size = ParseWindowSizeName(size);
  if (!window_size.ok()) return with_window(window_size.status());
  w.set_window_size(*window_size);
  if (start == absl::InfinitePast() || start == absl::InfiniteFuture() ||
      end == absl::InfinitePast() || end == absl::InfiniteFuture()) {
    return bad("an infinite timestamp or window_end");
  }
  *w.mutable_window_start() = TimeToProto(start);
  *w.mutable_window_end() = TimeToProto(end);

  absl::StatusOr<v1::Series> series = events::ParseSeriesKey(w.series_key());
  if (!series.ok()) return with_window(series.status());
  *w.mutable_series() = *std::move(series);

  absl::StatusOr<int64_t> count = row.Int64(kCount);
  if (!count.ok()) return with_window(count.status());
  if (*count < 0) return bad(absl::StrCat("negative count ", *count));
  w.set_count(static_cast<uint64_t>(*count));
  absl::StatusOr<int64_t> revision = row.Int64(kRevision);
  if (!revision.ok()) return with_window(revision.status());
  if (*revision < 0) return bad(absl::StrCat("negative revision ", *revision));
  w.set_revision(static_cast<uint64_t>(*revision));
  absl::StatusOr<bool> is_final = row.Bool(kIsFinal);
  if (!is_final.ok()) return with_window(is_final.status());
  w.set_is_final(*is_final);

  struct DoubleColumn {
    Column column;
    void (v1::WindowAggregate::*set)(double);
  };
  for (const DoubleColumn& c : {DoubleColumn{kSum, &v1::WindowAggregate::set_sum},
                                DoubleColumn{kAvg, &v1::WindowAggregate::set_avg},
                                DoubleColumn{kMin, &v1::WindowAggregate::set_min},
                                DoubleColumn{kMax, &v1::WindowAggregate::set_max},
                                DoubleColumn{kP50, &v1::WindowAggregate::set_p50},
                                DoubleColumn{kP95, &v1::WindowAggregate::set_p95},
                                DoubleColumn{kP99, &v1::WindowAggregate::set_p99}}) {
    absl::StatusOr<double> value = row.Double(c.column);
    if (!value.ok()) return with_window(value.status());
    (w.*c.set)(*value);
  }

  absl::StatusOr<std::string> sketch = row.Bytes(kSketch);
  if (!sketch.ok()) return with_window(sketch.status());
  if (!w.mutable_sketch()->ParseFromString(*sketch)) {
    return bad(absl::StrCat("the sketch (", sketch->size(), " bytes) is not a v1.DDSketch"));
  }
  w.set_relative_accuracy(w.sketch().relative_accuracy());
  return w;
}

}  // namespace streammetrics::aggregation
