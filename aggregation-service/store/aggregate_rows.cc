// WindowAggregate <-> metrics.metric_aggregates rows (see aggregate_rows.h).
#include "aggregation-service/store/aggregate_rows.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "aggregation-service/engine/window_math.h"
#include "aggregation-service/store/store_rules.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "lib/common/status_macros.h"
#include "lib/events/series_key.h"

namespace streammetrics::aggregation {
namespace {

// Array parameters in the order WindowRows::Params gives them; $20 is the source group.
constexpr char kUpsertWindowsSql[] = R"sql(
INSERT INTO metrics.metric_aggregates AS a (
    timestamp, window_end, service_id, metric_name, window_size,
    count, sum, avg, min, max, p50, p95, p99,
    tags, series_key, sketch, is_final, revision, source_partition, source_group, updated_at)
SELECT w.start, w.window_end, w.service_id, w.metric_name, w.window_size,
       w.count, w.sum, w.avg, w.min, w.max, w.p50, w.p95, w.p99,
       w.tags::jsonb, w.series_key, w.sketch, w.is_final, w.revision, w.source_partition, $20,
       now()
FROM unnest($1::timestamptz[], $2::timestamptz[], $3::text[], $4::text[], $5::text[],
            $6::int8[], $7::float8[], $8::float8[], $9::float8[], $10::float8[], $11::float8[],
            $12::float8[], $13::float8[], $14::text[], $15::text[], $16::bytea[], $17::bool[],
            $18::int8[], $19::int4[])
  AS w(start, window_end, service_id, metric_name, window_size, count, sum, avg, min, max, p50,
       p95, p99, tags, series_key, sketch, is_final, revision, source_partition)
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
SELECT r.series_key, r.service_id, r.metric_name, r.tags::jsonb, r.last_window_start
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[])
  AS r(series_key, service_id, metric_name, tags, last_window_start)
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

pg::StatementSpec UpsertWindowsStatement(absl::string_view name) {
  return pg::StatementSpec{
      .name = std::string(name),
      .sql = kUpsertWindowsSql,
      .param_types = {pg::kTimestamptzArrayOid, pg::kTimestamptzArrayOid,
                      pg::kTextArrayOid,        pg::kTextArrayOid,
                      pg::kTextArrayOid,        pg::kInt8ArrayOid,
                      pg::kFloat8ArrayOid,      pg::kFloat8ArrayOid,
                      pg::kFloat8ArrayOid,      pg::kFloat8ArrayOid,
                      pg::kFloat8ArrayOid,      pg::kFloat8ArrayOid,
                      pg::kFloat8ArrayOid,      pg::kTextArrayOid,
                      pg::kTextArrayOid,        pg::kByteaArrayOid,
                      pg::kBoolArrayOid,        pg::kInt8ArrayOid,
                      pg::kInt4ArrayOid,        pg::kTextOid},
  };
}

absl::Status WindowRows::Add(const v1::WindowAggregate& window, int32_t source_partition) {
  ASSIGN_OR_RETURN(std::string tags, WindowTagsJson(window));
  start_.Timestamp(TimeFromProto(window.window_start()));
  end_.Timestamp(TimeFromProto(window.window_end()));
  service_.Bytes(window.series().service_id());
  metric_.Bytes(window.series().metric_name());
  size_.Bytes(WindowSizeName(window.window_size()));
  count_.Int64(static_cast<int64_t>(window.count()));
  sum_.Double(window.sum());
  avg_.Double(window.avg());
  min_.Double(window.min());
  max_.Double(window.max());
  p50_.Double(window.p50());
  p95_.Double(window.p95());
  p99_.Double(window.p99());
  tags_.Bytes(tags);
  key_.Bytes(window.series_key());
  sketch_.Bytes(window.sketch().SerializeAsString());
  final_.Bool(window.is_final());
  revision_.Int64(static_cast<int64_t>(window.revision()));
  partition_.Int32(source_partition);
  return absl::OkStatus();
}

pg::Params WindowRows::Params() const {
  pg::Params params;
  for (const pg::Array* a :
       {&start_, &end_, &service_, &metric_, &size_, &count_, &sum_, &avg_, &min_, &max_, &p50_,
        &p95_, &p99_, &tags_, &key_, &sketch_, &final_, &revision_, &partition_}) {
    params.Array(*a);
  }
  params.Bytes(source_group_);
  return params;
}

pg::StatementSpec UpsertSeriesStatement(absl::string_view name) {
  return pg::StatementSpec{
      .name = std::string(name),
      .sql = kUpsertSeriesSql,
      .param_types = {pg::kTextArrayOid, pg::kTextArrayOid, pg::kTextArrayOid, pg::kTextArrayOid,
                      pg::kTimestamptzArrayOid},
  };
}

absl::Status SeriesRows::Add(const v1::WindowAggregate& window) {
  const absl::Time start = TimeFromProto(window.window_start());
  auto it = series_.find(window.series_key());
  if (it != series_.end()) {
    it->second.last_window_start = std::max(it->second.last_window_start, start);
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(std::string tags, WindowTagsJson(window));
  series_.emplace(window.series_key(), Entry{.service_id = window.series().service_id(),
                                             .metric_name = window.series().metric_name(),
                                             .tags_json = std::move(tags),
                                             .last_window_start = start});
  return absl::OkStatus();
}

pg::Params SeriesRows::Params() const {
  pg::Array key(pg::kTextOid), service(pg::kTextOid), metric(pg::kTextOid), tags(pg::kTextOid),
      start(pg::kTimestamptzOid);
  for (const auto& [k, e] : series_) {
    key.Bytes(k);
    service.Bytes(e.service_id);
    metric.Bytes(e.metric_name);
    tags.Bytes(e.tags_json);
    start.Timestamp(e.last_window_start);
  }
  pg::Params params;
  params.Array(key).Array(service).Array(metric).Array(tags).Array(start);
  return params;
}

std::string WindowRowColumns(absl::string_view sketch) {
  return absl::StrCat(SM_WINDOW_ROW_COLUMNS_BEFORE_SKETCH, sketch,
                      SM_WINDOW_ROW_COLUMNS_AFTER_SKETCH);
}

#undef SM_WINDOW_ROW_COLUMNS_BEFORE_SKETCH
#undef SM_WINDOW_ROW_COLUMNS_AFTER_SKETCH

pg::StatementSpec SelectClaimedWindowsStatement(absl::string_view name) {
  return pg::StatementSpec{
      .name = std::string(name),
      .sql = kSelectClaimedWindowsSql,
      .param_types = {pg::kInt4Oid, pg::kTimestamptzOid, pg::kTextOid},
  };
}

absl::StatusOr<v1::WindowAggregate> WindowFromRow(const pg::Row& row) {
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
