// The query side on the real PostgreSQL: windows written by the real checkpoint path, read back
// through PostgresAggregateReader and QueryHandler, compared with plain SQL over the same tables
// (the ground truth): every filter shape, pagination returning every row exactly once, the series
// catalog, GetLatest, and Summarize over 60 one-minute windows against the raw values.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "aggregation-service/engine/window_math.h"
#include "aggregation-service/query/postgres_aggregate_reader.h"
#include "aggregation-service/query/query_handler.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/aggregation-service/query/query_test_util.h"
#include "tests/integration/postgres_store_fixture.h"

namespace streammetrics::aggregation::testing {
namespace {

class QueryPostgresTest : public PostgresStoreFixture {
 protected:
  void SetUp() override {
    PostgresStoreFixture::SetUp();
    PostgresReaderConfig config;
    config.conninfo = streammetrics::testing::PostgresUrl();
    absl::StatusOr<std::unique_ptr<PostgresAggregateReader>> reader =
        PostgresAggregateReader::Create(config);
    ASSERT_TRUE(reader.ok()) << reader.status();
    reader_ = *std::move(reader);
    QueryHandlerDeps deps;
    deps.reader = reader_.get();
    deps.metrics = &metrics_;
    // The tests' windows are at fixed times: a clock a day after them keeps them retained.
    deps.clock = &clock_;
    handler_ = std::make_unique<QueryHandler>(QueryLimits(), deps);
  }

  // Stores `windows` through the checkpoint path, as partition P(0) of this test's group.
  void Store(std::vector<v1::WindowAggregate> windows) {
    if (epoch_ == 0) {
      absl::StatusOr<PartitionClaim> claim = store_->ClaimPartition(P(0));
      ASSERT_TRUE(claim.ok()) << claim.status();
      epoch_ = claim->owner_epoch;
    }
    PartitionCheckpoint cp;
    cp.partition = P(0);
    cp.owner_epoch = epoch_;
    cp.next_offset = ++offset_;
    cp.delta.windows = std::move(windows);
    cp.delta.watermark = kQueryT0;
    absl::StatusOr<CheckpointResult> result = store_->Checkpoint({cp});
    ASSERT_TRUE(result.ok()) << result.status();
    ASSERT_TRUE(result->fenced.empty());
  }

  v1::WindowAggregate W(const std::string& service_suffix, const std::string& metric,
                        std::map<std::string, std::string> tags, v1::WindowSize size, int minute,
                        std::vector<double> values, bool is_final = true) {
    return MakeWindow(service_ + service_suffix, metric, tags, size,
                      kQueryT0 + absl::Minutes(minute), values, is_final);
  }

  // Every page of `r`, each window as "start|count|sum|is_final|series_key" (the key last: it
  // contains '|' itself).
  std::vector<std::string> AllPages(v1::QueryAggregatesRequest r) {
    std::vector<std::string> rows;
    for (int pages = 0; pages < 10000; ++pages) {
      absl::StatusOr<v1::QueryAggregatesResponse> page = handler_->QueryAggregates(r);
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) break;
      for (const v1::WindowAggregate& w : page->windows()) {
        rows.push_back(absl::StrCat(w.window_start().seconds(), "|", w.count(), "|", w.sum(), "|",
                                    w.is_final() ? "t" : "f", "|", w.series_key()));
      }
      if (page->next_page_token().empty()) break;
      r.set_page_token(page->next_page_token());
    }
    return rows;
  }

  // The same from SQL.
  std::vector<std::string> Truth(const v1::QueryAggregatesRequest& r) {
    std::string sql =
        "SELECT extract(epoch FROM timestamp)::bigint, count, sum, is_final, series_key "
        "FROM metrics.metric_aggregates WHERE service_id = $1 AND window_size = $2 AND "
        "timestamp >= to_timestamp($3) AND timestamp < to_timestamp($4)";
    std::vector<std::string> params = {r.service_id(), std::string(WindowSizeName(r.window_size())),
                                       absl::StrCat(r.start().seconds()),
                                       absl::StrCat(r.end().seconds())};
    if (!r.metric_name().empty()) {
      params.push_back(r.metric_name());
      absl::StrAppend(&sql, " AND metric_name = $", params.size());
    }
    if (!r.tags().empty()) {
      std::string json = "{";
      for (const auto& [k, v] :
           std::map<std::string, std::string>(r.tags().begin(), r.tags().end())) {
        absl::StrAppend(&json, json.size() > 1 ? "," : "", "\"", k, "\":\"", v, "\"");
      }
      params.push_back(json + "}");
      absl::StrAppend(&sql, " AND tags @> $", params.size(), "::jsonb");
    }
    absl::StrAppend(&sql, " ORDER BY timestamp, series_key COLLATE \"C\"");
    std::vector<std::string> rows;
    for (const std::string& row : Rows(sql, params)) {
      // Reformat the sum as the reader's side prints it (PostgreSQL prints the shortest exact
      // form, which strtod reads back exactly).
      std::vector<std::string> parts = absl::StrSplit(row, absl::MaxSplits('|', 4));
      rows.push_back(absl::StrCat(parts[0], "|", parts[1], "|",
                                  std::strtod(parts[2].c_str(), nullptr), "|", parts[3], "|",
                                  parts[4]));
    }
    return rows;
  }

  v1::QueryAggregatesRequest Query(const std::string& service_suffix, v1::WindowSize size,
                                   int from_minute, int to_minute, int page_size) {
    v1::QueryAggregatesRequest r;
    r.set_service_id(service_ + service_suffix);
    r.set_window_size(size);
    *r.mutable_start() = TimeToProto(kQueryT0 + absl::Minutes(from_minute));
    *r.mutable_end() = TimeToProto(kQueryT0 + absl::Minutes(to_minute));
    r.set_page_size(page_size);
    return r;
  }

  std::unique_ptr<PostgresAggregateReader> reader_;
  FakeClock clock_{kQueryT0 + absl::Hours(24)};
  QueryMetrics metrics_;
  std::unique_ptr<QueryHandler> handler_;
  int64_t epoch_ = 0;
  int64_t offset_ = 0;
};

TEST_F(QueryPostgresTest, EveryFilterShapeEqualsSqlPageByPage) {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> value(0.5, 500);
  std::vector<v1::WindowAggregate> windows;
  for (const char* service : {"-a", "-b"}) {
    for (const char* metric : {"latency", "errors"}) {
      for (const char* region : {"eu", "us", "ap"}) {
        for (const char* host : {"h1", "h2"}) {
          for (int m = 0; m < 40; ++m) {
            windows.push_back(W(service, metric, {{"region", region}, {"host", host}},
                                v1::WINDOW_SIZE_1M, m, {value(rng), value(rng)}, m < 38));
            if (m % 5 == 0) {
              windows.push_back(W(service, metric, {{"region", region}, {"host", host}},
                                  v1::WINDOW_SIZE_5M, m, {value(rng)}, m < 35));
            }
          }
        }
      }
    }
  }
  Store(windows);

  std::vector<v1::QueryAggregatesRequest> queries;
  queries.push_back(Query("-a", v1::WINDOW_SIZE_1M, 0, 40, 37));
  queries.push_back(Query("-a", v1::WINDOW_SIZE_1M, 3, 17, 1000));
  queries.push_back(Query("-b", v1::WINDOW_SIZE_5M, 0, 40, 4));
  v1::QueryAggregatesRequest metric = Query("-a", v1::WINDOW_SIZE_1M, 0, 40, 50);
  metric.set_metric_name("errors");
  queries.push_back(metric);
  v1::QueryAggregatesRequest tags = Query("-b", v1::WINDOW_SIZE_1M, 10, 30, 9);
  (*tags.mutable_tags())["region"] = "us";
  queries.push_back(tags);
  v1::QueryAggregatesRequest both = tags;
  both.set_metric_name("latency");
  (*both.mutable_tags())["host"] = "h2";
  queries.push_back(both);
  v1::QueryAggregatesRequest none = tags;
  (*none.mutable_tags())["region"] = "nowhere";
  queries.push_back(none);

  for (const v1::QueryAggregatesRequest& q : queries) {
    SCOPED_TRACE(q.ShortDebugString());
    const std::vector<std::string> truth = Truth(q);
    const std::vector<std::string> paged = AllPages(q);
    EXPECT_EQ(paged, truth);
    EXPECT_EQ(std::set<std::string>(paged.begin(), paged.end()).size(), paged.size());
  }
  // Sanity of the ground truth itself: the unfiltered 1m query of a service has every window.
  EXPECT_EQ(Truth(queries[0]).size(), 2u * 3u * 2u * 40u);
  EXPECT_TRUE(Truth(none).empty());
}

TEST_F(QueryPostgresTest, PagesStayExactWhileNewWindowsArrive) {
  std::vector<v1::WindowAggregate> first;
  for (int s = 0; s < 10; ++s) {
    for (int m = 0; m < 10; ++m) {
      first.push_back(W("", "lat", {{"s", absl::StrCat(s)}}, v1::WINDOW_SIZE_1M, m, {1.0 * m}));
    }
  }
  Store(first);
  v1::QueryAggregatesRequest r = Query("", v1::WINDOW_SIZE_1M, 0, 10, 15);
  absl::StatusOr<v1::QueryAggregatesResponse> page = handler_->QueryAggregates(r);
  ASSERT_TRUE(page.ok()) << page.status();
  // A new series appears before the cursor and after it; keyset pages neither repeat nor skip
  // what was there from the start.
  Store({W("", "lat", {{"s", "00"}}, v1::WINDOW_SIZE_1M, 0, {5}),
         W("", "lat", {{"s", "99"}}, v1::WINDOW_SIZE_1M, 9, {5})});
  std::set<std::string> seen;
  for (const v1::WindowAggregate& w : page->windows()) {
    seen.insert(absl::StrCat(w.window_start().seconds(), w.series_key()));
  }
  r.set_page_token(page->next_page_token());
  for (const std::string& row : AllPages(r)) {
    std::vector<std::string> parts = absl::StrSplit(row, absl::MaxSplits('|', 4));
    EXPECT_TRUE(seen.insert(parts[0] + parts[4]).second) << "repeated: " << row;
  }
  for (const v1::WindowAggregate& w : first) {
    EXPECT_EQ(seen.count(absl::StrCat(w.window_start().seconds(), w.series_key())), 1u);
  }
}

TEST_F(QueryPostgresTest, ReturnsTheSketchOnlyWhenAskedAndTheAccuracyAlways) {
  const v1::WindowAggregate stored =
      W("", "lat", {{"r", "eu"}}, v1::WINDOW_SIZE_1M, 0, {1, 2.5, 40, 7e5, 0.001});
  Store({stored});
  v1::QueryAggregatesRequest r = Query("", v1::WINDOW_SIZE_1M, 0, 1, 10);
  absl::StatusOr<v1::QueryAggregatesResponse> plain = handler_->QueryAggregates(r);
  ASSERT_TRUE(plain.ok()) << plain.status();
  ASSERT_EQ(plain->windows_size(), 1);
  EXPECT_FALSE(plain->windows(0).has_sketch());
  EXPECT_DOUBLE_EQ(plain->windows(0).relative_accuracy(), 0.01);
  EXPECT_EQ(plain->windows(0).p99(), stored.p99());
  r.set_include_sketch(true);
  absl::StatusOr<v1::QueryAggregatesResponse> with = handler_->QueryAggregates(r);
  ASSERT_TRUE(with.ok()) << with.status();
  ASSERT_EQ(with->windows_size(), 1);
  EXPECT_THAT(with->windows(0).sketch(), EqualsProto(stored.sketch()));
}

TEST_F(QueryPostgresTest, ListSeriesEqualsTheDistinctSeriesOfTheWindows) {
  std::vector<v1::WindowAggregate> windows;
  for (int s = 0; s < 13; ++s) {
    for (int m = 0; m <= s; ++m) {
      windows.push_back(W("", s % 3 ? "b.metric" : "a.metric", {{"n", absl::StrCat(s)}},
                          v1::WINDOW_SIZE_1M, m, {1}));
    }
  }
  Store(windows);
  // A later minute of series 0, and a revision-2 rewrite of an old window (no catalog change).
  Store({W("", "a.metric", {{"n", "0"}}, v1::WINDOW_SIZE_1M, 20, {1})});
  v1::ListSeriesRequest r;
  r.set_service_id(service_);
  r.set_page_size(4);
  std::vector<std::string> listed;
  while (true) {
    absl::StatusOr<v1::ListSeriesResponse> page = handler_->ListSeries(r);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const v1::SeriesInfo& s : page->series()) {
      listed.push_back(absl::StrCat(s.series().metric_name(), "|", s.series_key(), "|",
                                    s.last_window_start().seconds()));
    }
    if (page->next_page_token().empty()) break;
    r.set_page_token(page->next_page_token());
  }
  const std::vector<std::string> truth = Rows(
      "SELECT metric_name, series_key, extract(epoch FROM max(timestamp))::bigint FROM "
      "metrics.metric_aggregates WHERE service_id = $1 AND window_size = '1m' GROUP BY 1, 2 "
      "ORDER BY metric_name COLLATE \"C\", series_key COLLATE \"C\"",
      {service_});
  EXPECT_EQ(listed, truth);
  EXPECT_EQ(listed.size(), 13u);

  r.clear_page_token();
  r.set_metric_name("a.metric");
  r.set_page_size(100);
  EXPECT_EQ(handler_->ListSeries(r)->series_size(), 5);
}

TEST_F(QueryPostgresTest, GetLatestReadsTheNewestAndTheNewestFinalWindow) {
  Store({W("", "lat", {{"r", "eu"}}, v1::WINDOW_SIZE_1M, 0, {1}),
         W("", "lat", {{"r", "eu"}}, v1::WINDOW_SIZE_1M, 1, {2}),
         W("", "lat", {{"r", "eu"}}, v1::WINDOW_SIZE_1M, 2, {3}, /*is_final=*/false),
         W("", "lat", {{"r", "us"}}, v1::WINDOW_SIZE_1M, 5, {9})});
  v1::GetLatestRequest r;
  r.set_service_id(service_);
  r.set_metric_name("lat");
  (*r.mutable_tags())["r"] = "eu";
  r.set_window_size(v1::WINDOW_SIZE_1M);
  absl::StatusOr<v1::GetLatestResponse> latest = handler_->GetLatest(r);
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ(latest->source(), v1::DATA_SOURCE_DATABASE);
  EXPECT_EQ(latest->window().sum(), 3);
  EXPECT_FALSE(latest->window().is_final());
  EXPECT_FALSE(latest->window().has_sketch());
  EXPECT_DOUBLE_EQ(latest->window().relative_accuracy(), 0.01);
  r.set_final_only(true);
  EXPECT_EQ(handler_->GetLatest(r)->window().sum(), 2);
  r.set_window_size(v1::WINDOW_SIZE_5M);
  EXPECT_TRUE(absl::IsNotFound(handler_->GetLatest(r).status()));
}

TEST_F(QueryPostgresTest, SummarizeOfSixtyMinutesIsTheSketchMergeWithinErrorOfTheRawValues) {
  std::mt19937_64 rng(5);
  std::lognormal_distribution<double> latency(4, 0.8);
  std::vector<double> raw;
  std::vector<v1::WindowAggregate> windows;
  sketch::DDSketch merged;
  for (int m = 0; m < 60; ++m) {
    std::vector<double> values(200);
    for (double& v : values) v = latency(rng);
    raw.insert(raw.end(), values.begin(), values.end());
    windows.push_back(W("", "lat", {{"r", "eu"}}, v1::WINDOW_SIZE_1M, m, values));
    absl::StatusOr<sketch::DDSketch> s = sketch::DDSketch::FromProto(windows.back().sketch());
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE(merged.Merge(*s).ok());
  }
  Store(windows);
  v1::SummarizeRequest r;
  r.set_service_id(service_);
  r.set_metric_name("lat");
  *r.mutable_start() = TimeToProto(kQueryT0);
  *r.mutable_end() = TimeToProto(kQueryT0 + absl::Hours(1));
  for (double q : {0.5, 0.9, 0.95, 0.99, 0.999}) r.add_quantiles(q);
  absl::StatusOr<v1::SummarizeResponse> s = handler_->Summarize(r);
  ASSERT_TRUE(s.ok()) << s.status();
  std::sort(raw.begin(), raw.end());
  EXPECT_EQ(s->count(), raw.size());
  EXPECT_EQ(s->windows_merged(), 60u);
  EXPECT_EQ(s->min(), raw.front());
  EXPECT_EQ(s->max(), raw.back());
  EXPECT_FALSE(s->includes_open_windows());
  ASSERT_EQ(s->quantiles_size(), 5);
  for (const v1::QuantileValue& q : s->quantiles()) {
    SCOPED_TRACE(q.quantile());
    // Exactly the merged sketch's estimate (clamped to the exact range, as every answer is).
    EXPECT_EQ(q.value(), std::clamp(*merged.Quantile(q.quantile()), raw.front(), raw.back()));
    const double exact = raw[static_cast<size_t>(std::floor(q.quantile() * (raw.size() - 1)))];
    EXPECT_LE(std::abs(q.value() - exact), s->relative_accuracy() * exact);
  }
  // Not a percentile of percentiles: the mean of the windows' p99 is another number.
  double mean_p99 = 0;
  for (const v1::WindowAggregate& w : windows) mean_p99 += w.p99() / 60;
  EXPECT_NE(s->quantiles(3).value(), mean_p99);
}

}  // namespace
}  // namespace streammetrics::aggregation::testing
