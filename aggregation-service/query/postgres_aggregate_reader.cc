// PostgresAggregateReader: the query side's SQL (see the header).
#include "aggregation-service/query/postgres_aggregate_reader.h"

#include <libpq-fe.h>

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "aggregation-service/engine/window_math.h"
#include "aggregation-service/store/aggregate_rows.h"
#include "google/protobuf/map.h"
#include "lib/common/status_macros.h"
#include "lib/events/series_key.h"

namespace streammetrics::aggregation {
namespace {

// One statement per filter shape rather than `($2 = '' OR metric_name = $2)`: a prepared
// statement's generic plan cannot use an index for a condition that may be switched off, and
// PostgreSQL moves to the generic plan after five executions.
constexpr char kWindows[] = "sm_q_windows";
constexpr char kWindowsMetric[] = "sm_q_windows_metric";
constexpr char kWindowsTags[] = "sm_q_windows_tags";
constexpr char kWindowsMetricTags[] = "sm_q_windows_metric_tags";
constexpr char kLatest[] = "sm_q_latest";
constexpr char kLatestFinal[] = "sm_q_latest_final";
constexpr char kSeries[] = "sm_q_series";
constexpr char kSeriesMetric[] = "sm_q_series_metric";

// $1 service, $2 window size, $3 start, $4 end, $5/$6 cursor (start, series key), $7 limit,
// $8 whether to return the sketch, then $9 metric and/or $10 tags. The cursor always applies: the
// first page's is (start, ""), before every row since no series key is empty. Keys compare
// bytewise (COLLATE "C") whatever the database's collation, so the order is the same everywhere
// and matches the fake's.
std::string WindowsSql(bool metric, bool tags) {
  return absl::StrCat(
      "SELECT ",
      WindowRowColumns(absl::StrCat("CASE WHEN $8 THEN sketch ELSE ", kSketchAccuracyOnly, " END")),
      " FROM metrics.metric_aggregates WHERE service_id = $1 AND window_size = $2"
      " AND timestamp >= $3 AND timestamp < $4"
      // The cursor's time is an index bound; the key only breaks ties.
      " AND timestamp >= $5 AND (timestamp > $5 OR series_key COLLATE \"C\" > $6)",
      metric ? " AND metric_name = $9" : "", tags ? " AND tags @> $10" : "",
      " ORDER BY timestamp, series_key COLLATE \"C\" LIMIT $7");
}

std::vector<pg::StatementSpec> Statements() {
  const std::vector<Oid> base = {pg::kTextOid,        pg::kTextOid,        pg::kTimestamptzOid,
                                 pg::kTimestamptzOid, pg::kTimestamptzOid, pg::kTextOid,
                                 pg::kInt8Oid,        pg::kBoolOid};
  auto with = [&base](std::vector<Oid> extra) {
    std::vector<Oid> types = base;
    types.insert(types.end(), extra.begin(), extra.end());
    return types;
  };
  // A statement must declare every parameter it numbers: the unused $9 of the tags-only shape is
  // still typed (and sent as NULL).
  return {
      {kWindows, WindowsSql(false, false), base},
      {kWindowsMetric, WindowsSql(true, false), with({pg::kTextOid})},
      {kWindowsTags, WindowsSql(false, true), with({pg::kTextOid, pg::kJsonbOid})},
      {kWindowsMetricTags, WindowsSql(true, true), with({pg::kTextOid, pg::kJsonbOid})},
      // Backward scan of the unique key (series_key, window_size, timestamp).
      {kLatest,
       absl::StrCat("SELECT ", WindowRowColumns(kSketchAccuracyOnly),
                    " FROM metrics.metric_aggregates WHERE series_key = $1 AND window_size = $2"
                    " ORDER BY timestamp DESC LIMIT 1"),
       {pg::kTextOid, pg::kTextOid}},
      {kLatestFinal,
       absl::StrCat("SELECT ", WindowRowColumns(kSketchAccuracyOnly),
                    " FROM metrics.metric_aggregates WHERE series_key = $1 AND window_size = $2"
                    " AND is_final ORDER BY timestamp DESC LIMIT 1"),
       {pg::kTextOid, pg::kTextOid}},
      {kSeries,
       "SELECT series_key, metric_name, last_window_start FROM metrics.series"
       " WHERE service_id = $1 AND (metric_name, series_key) > ($2, $3)"
       " ORDER BY metric_name, series_key LIMIT $4",
       {pg::kTextOid, pg::kTextOid, pg::kTextOid, pg::kInt8Oid}},
      {kSeriesMetric,
       "SELECT series_key, metric_name, last_window_start FROM metrics.series"
       " WHERE service_id = $1 AND metric_name = $5 AND (metric_name, series_key) > ($2, $3)"
       " ORDER BY metric_name, series_key LIMIT $4",
       {pg::kTextOid, pg::kTextOid, pg::kTextOid, pg::kInt8Oid, pg::kTextOid}},
  };
}

absl::StatusOr<std::vector<v1::WindowAggregate>> Windows(const PGresult* result,
                                                         bool include_sketch) {
  std::vector<v1::WindowAggregate> windows;
  windows.reserve(PQntuples(result));
  for (int i = 0; i < PQntuples(result); ++i) {
    ASSIGN_OR_RETURN(v1::WindowAggregate w, WindowFromRow(pg::Row(result, i)));
    if (!include_sketch) w.clear_sketch();
    windows.push_back(std::move(w));
  }
  return windows;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostgresAggregateReader>> PostgresAggregateReader::Create(
    PostgresReaderConfig config) {
  if (absl::Status s = pg::CheckConninfo(config.conninfo); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("PostgresReaderConfig: ", s.message()));
  }
  return std::unique_ptr<PostgresAggregateReader>(new PostgresAggregateReader(std::move(config)));
}

absl::StatusOr<pg::Result> PostgresAggregateReader::Run(const char* statement, pg::Params params,
                                                        absl::string_view context) {
  std::unique_ptr<pg::Connection> conn;
  {
    absl::MutexLock lock(&mu_);
    while (!idle_.empty() && conn == nullptr) {
      conn = std::move(idle_.back());
      idle_.pop_back();
      if (!conn->Usable()) conn.reset();
    }
  }
  if (conn == nullptr) {
    pg::ConnectOptions options{
        .conninfo = config_.conninfo,
        .connect_timeout = config_.connect_timeout,
        .statement_timeout = config_.statement_timeout,
        .application_name = "streammetrics-query",
    };
    ASSIGN_OR_RETURN(conn, pg::Connection::Open(options, Statements()));
  }
  pg::Error error;
  std::vector<pg::Statement> one;
  one.push_back(pg::Statement{.prepared = statement, .sql = "", .params = std::move(params)});
  absl::StatusOr<std::vector<pg::Result>> results = conn->RunPipeline(one, context, &error);
  if (conn->Usable()) {
    absl::MutexLock lock(&mu_);
    if (idle_.size() < config_.max_idle_connections) idle_.push_back(std::move(conn));
  }
  if (!results.ok()) return results.status();
  return std::move((*results)[0]);
}

absl::StatusOr<std::vector<v1::WindowAggregate>> PostgresAggregateReader::QueryWindows(
    const WindowQuery& query) {
  const bool metric = !query.metric_name.empty();
  const bool tags = !query.tags.empty();
  const char* statement =
      metric ? (tags ? kWindowsMetricTags : kWindowsMetric) : (tags ? kWindowsTags : kWindows);
  pg::Params params;
  params.Bytes(query.service_id)
      .Bytes(WindowSizeName(query.window_size))
      .Timestamp(query.start)
      .Timestamp(query.end);
  if (query.after.has_value()) {
    params.Timestamp(query.after->window_start).Bytes(query.after->series_key);
  } else {
    params.Timestamp(query.start).Bytes("");
  }
  params.Int64(query.limit).Bool(query.include_sketch);
  if (metric) {
    params.Bytes(query.metric_name);
  } else if (tags) {
    params.Null();
  }
  if (tags) {
    ASSIGN_OR_RETURN(std::string json, TagsJson(google::protobuf::Map<std::string, std::string>(
                                           query.tags.begin(), query.tags.end())));
    params.Text(json);
  }
  ASSIGN_OR_RETURN(pg::Result result, Run(statement, std::move(params), "query of windows"));
  return Windows(result.get(), query.include_sketch);
}

absl::StatusOr<std::optional<v1::WindowAggregate>> PostgresAggregateReader::LatestWindow(
    const LatestQuery& query) {
  ASSIGN_OR_RETURN(
      pg::Result result,
      Run(query.final_only ? kLatestFinal : kLatest,
          pg::Params().Bytes(query.series_key).Bytes(WindowSizeName(query.window_size)),
          "query of the latest window"));
  ASSIGN_OR_RETURN(std::vector<v1::WindowAggregate> windows, Windows(result.get(), false));
  if (windows.empty()) return std::optional<v1::WindowAggregate>();
  return std::optional<v1::WindowAggregate>(std::move(windows[0]));
}

absl::StatusOr<std::vector<v1::SeriesInfo>> PostgresAggregateReader::ListSeries(
    const SeriesQuery& query) {
  pg::Params params;
  params.Bytes(query.service_id);
  if (query.after.has_value()) {
    params.Bytes(query.after->metric_name).Bytes(query.after->series_key);
  } else {
    params.Bytes("").Bytes("");
  }
  params.Int64(query.limit);
  if (!query.metric_name.empty()) params.Bytes(query.metric_name);
  ASSIGN_OR_RETURN(pg::Result result, Run(query.metric_name.empty() ? kSeries : kSeriesMetric,
                                          std::move(params), "query of series"));
  std::vector<v1::SeriesInfo> series;
  for (int i = 0; i < PQntuples(result.get()); ++i) {
    const pg::Row row(result.get(), i);
    v1::SeriesInfo info;
    ASSIGN_OR_RETURN(*info.mutable_series_key(), row.Bytes(0));
    absl::StatusOr<v1::Series> parsed = events::ParseSeriesKey(info.series_key());
    if (!parsed.ok()) {
      return absl::DataLossError(
          absl::StrCat("stored series \"", info.series_key(), "\": ", parsed.status().message()));
    }
    *info.mutable_series() = *std::move(parsed);
    ASSIGN_OR_RETURN(absl::Time last, row.Timestamp(2));
    *info.mutable_last_window_start() = TimeToProto(last);
    series.push_back(std::move(info));
  }
  return series;
}

}  // namespace streammetrics::aggregation
