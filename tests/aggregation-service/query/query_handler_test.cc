// QueryHandler over the fake reader and cache: pagination returns every row exactly once, tag
// subsets filter, ranges reaching back past the retention are answered from its start and say so,
// GetLatest prefers the cache and falls back to the database (counting hits, misses and errors),
// Summarize merges sketches (not percentiles) within the stated error.
#include "aggregation-service/query/query_handler.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "aggregation-service/engine/window_math.h"
#include "aggregation-service/query/fake_aggregate_cache.h"
#include "aggregation-service/query/fake_aggregate_reader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/aggregation-service/query/query_test_util.h"

namespace streammetrics::aggregation {
namespace {

using ::testing::HasSubstr;
using testing::kQueryT0;
using testing::MakeWindow;

class QueryHandlerTest : public ::testing::Test {
 protected:
  QueryHandler MakeHandler(bool with_cache = true) {
    QueryHandlerDeps deps;
    deps.reader = &reader_;
    deps.cache = with_cache ? &cache_ : nullptr;
    deps.metrics = &metrics_;
    deps.clock = &clock_;
    deps.fill_cache = [this](const std::vector<v1::WindowAggregate>& ws) {
      filled_.insert(filled_.end(), ws.begin(), ws.end());
    };
    return QueryHandler(QueryLimits(), deps);
  }

  v1::QueryAggregatesRequest Query(const std::string& service, absl::Duration span) {
    v1::QueryAggregatesRequest r;
    r.set_service_id(service);
    r.set_window_size(v1::WINDOW_SIZE_1M);
    *r.mutable_start() = TimeToProto(kQueryT0);
    *r.mutable_end() = TimeToProto(kQueryT0 + span);
    return r;
  }

  // A day after the windows the tests store: all within the retention.
  FakeClock clock_{kQueryT0 + absl::Hours(24)};
  FakeAggregateReader reader_;
  FakeAggregateCache cache_;
  QueryMetrics metrics_;
  std::vector<v1::WindowAggregate> filled_;
};

TEST_F(QueryHandlerTest, PagesReturnEveryWindowExactlyOnceInOrder) {
  // 3 services x 7 series x 90 minutes, and 5-minute windows that must not show up.
  for (const char* service : {"a", "b", "c"}) {
    for (int s = 0; s < 7; ++s) {
      for (int m = 0; m < 90; ++m) {
        reader_.Put(MakeWindow(service, "m" + std::to_string(s % 3), {{"host", std::to_string(s)}},
                               v1::WINDOW_SIZE_1M, kQueryT0 + absl::Minutes(m), {1.0 * m}));
        if (m % 5 == 0) {
          reader_.Put(
              MakeWindow(service, "m", {}, v1::WINDOW_SIZE_5M, kQueryT0 + absl::Minutes(m), {1}));
        }
      }
    }
  }
  QueryHandler handler = MakeHandler();
  for (int page_size : {1, 7, 100, 629, 630, 631, 1000}) {
    SCOPED_TRACE(page_size);
    v1::QueryAggregatesRequest r = Query("b", absl::Minutes(90));
    r.set_page_size(page_size);
    std::vector<std::pair<int64_t, std::string>> seen;
    int pages = 0;
    while (true) {
      absl::StatusOr<v1::QueryAggregatesResponse> page = handler.QueryAggregates(r);
      ASSERT_TRUE(page.ok()) << page.status();
      ++pages;
      ASSERT_LE(page->windows_size(), page_size);
      for (const v1::WindowAggregate& w : page->windows()) {
        EXPECT_EQ(w.series().service_id(), "b");
        EXPECT_EQ(w.window_size(), v1::WINDOW_SIZE_1M);
        EXPECT_FALSE(w.has_sketch());
        seen.emplace_back(w.window_start().seconds(), w.series_key());
      }
      if (page->next_page_token().empty()) break;
      r.set_page_token(page->next_page_token());
    }
    EXPECT_EQ(seen.size(), 7u * 90u);
    EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
    EXPECT_EQ(std::set(seen.begin(), seen.end()).size(), seen.size());
    EXPECT_EQ(pages, (630 + page_size - 1) / page_size);
  }
}

TEST_F(QueryHandlerTest, FiltersByMetricAndTagSubset) {
  reader_.Put(MakeWindow("svc", "lat", {{"region", "eu"}, {"host", "1"}}, v1::WINDOW_SIZE_1M,
                         kQueryT0, {1}));
  reader_.Put(MakeWindow("svc", "lat", {{"region", "us"}, {"host", "2"}}, v1::WINDOW_SIZE_1M,
                         kQueryT0, {2}));
  reader_.Put(MakeWindow("svc", "err", {{"region", "eu"}}, v1::WINDOW_SIZE_1M, kQueryT0, {3}));
  QueryHandler handler = MakeHandler();
  v1::QueryAggregatesRequest r = Query("svc", absl::Minutes(1));
  (*r.mutable_tags())["region"] = "eu";
  absl::StatusOr<v1::QueryAggregatesResponse> page = handler.QueryAggregates(r);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->windows_size(), 2);
  r.set_metric_name("lat");
  page = handler.QueryAggregates(r);
  ASSERT_EQ(page->windows_size(), 1);
  EXPECT_EQ(page->windows(0).sum(), 1);
  (*r.mutable_tags())["host"] = "2";
  EXPECT_EQ(handler.QueryAggregates(r)->windows_size(), 0);
}

TEST_F(QueryHandlerTest, IncludesTheSketchOnlyWhenAsked) {
  reader_.Put(MakeWindow("svc", "lat", {}, v1::WINDOW_SIZE_1M, kQueryT0, {1, 2, 3}));
  QueryHandler handler = MakeHandler();
  v1::QueryAggregatesRequest r = Query("svc", absl::Minutes(1));
  r.set_include_sketch(true);
  absl::StatusOr<v1::QueryAggregatesResponse> page = handler.QueryAggregates(r);
  ASSERT_EQ(page->windows_size(), 1);
  EXPECT_TRUE(page->windows(0).has_sketch());
  EXPECT_DOUBLE_EQ(page->windows(0).relative_accuracy(), 0.01);
}

TEST_F(QueryHandlerTest, ReportsTheReaderFailure) {
  reader_.SetFailure(absl::UnavailableError("PostgreSQL down at db-7:5432"));
  QueryHandler handler = MakeHandler();
  const absl::Status status = handler.QueryAggregates(Query("svc", absl::Minutes(1))).status();
  EXPECT_TRUE(absl::IsUnavailable(status));
  // PostgreSQL's words stay in the log; the caller gets an id to quote.
  EXPECT_THAT(std::string(status.message()), ::testing::Not(HasSubstr("db-7")));
  EXPECT_THAT(status.message(), HasSubstr("correlation id "));
  // A store error that is no fault of the caller's is INTERNAL, whatever code the store gave.
  reader_.SetFailure(absl::InvalidArgumentError("invalid byte sequence for encoding UTF8: 0x00"));
  v1::ListSeriesRequest series;
  series.set_service_id("svc");
  const absl::Status odd = handler.ListSeries(series).status();
  EXPECT_TRUE(absl::IsInternal(odd)) << odd;
  EXPECT_THAT(std::string(odd.message()), ::testing::Not(HasSubstr("UTF8")));
}

v1::GetLatestRequest Latest(bool final_only = false) {
  v1::GetLatestRequest r;
  r.set_service_id("svc");
  r.set_metric_name("lat");
  (*r.mutable_tags())["region"] = "eu";
  r.set_window_size(v1::WINDOW_SIZE_1M);
  r.set_final_only(final_only);
  return r;
}

TEST_F(QueryHandlerTest, GetLatestServesACachedWindowFromTheCache) {
  const v1::WindowAggregate w =
      MakeWindow("svc", "lat", {{"region", "eu"}}, v1::WINDOW_SIZE_1M, kQueryT0, {4});
  ASSERT_TRUE(cache_.PutLatest({w}).ok());
  QueryHandler handler = MakeHandler();
  absl::StatusOr<v1::GetLatestResponse> r = handler.GetLatest(Latest());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->source(), v1::DATA_SOURCE_CACHE);
  EXPECT_EQ(r->window().sum(), 4);
  EXPECT_EQ(reader_.calls(), 0);
  EXPECT_EQ(metrics_.cache_hits(), 1);
}

TEST_F(QueryHandlerTest, GetLatestFallsBackToTheDatabaseOnAMissAndFillsTheCache) {
  reader_.Put(MakeWindow("svc", "lat", {{"region", "eu"}}, v1::WINDOW_SIZE_1M, kQueryT0, {1}));
  reader_.Put(MakeWindow("svc", "lat", {{"region", "eu"}}, v1::WINDOW_SIZE_1M,
                         kQueryT0 + absl::Minutes(1), {2}, /*is_final=*/false));
  QueryHandler handler = MakeHandler();
  absl::StatusOr<v1::GetLatestResponse> r = handler.GetLatest(Latest());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->source(), v1::DATA_SOURCE_DATABASE);
  EXPECT_EQ(r->window().sum(), 2);
  EXPECT_FALSE(r->window().is_final());
  EXPECT_EQ(metrics_.cache_misses(), 1);
  ASSERT_EQ(filled_.size(), 1u);
  EXPECT_EQ(filled_[0].sum(), 2);

  r = handler.GetLatest(Latest(/*final_only=*/true));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->window().sum(), 1);
  EXPECT_TRUE(r->window().is_final());
  // The newest final window is not offered to the cache: the writer would also file it as the
  // series' newest, older than the open window after it.
  EXPECT_EQ(filled_.size(), 1u);
}

TEST_F(QueryHandlerTest, GetLatestAnswersFromTheDatabaseWhileTheCacheIsDown) {
  reader_.Put(MakeWindow("svc", "lat", {{"region", "eu"}}, v1::WINDOW_SIZE_1M, kQueryT0, {1}));
  cache_.SetAvailable(false);
  QueryHandler handler = MakeHandler();
  absl::StatusOr<v1::GetLatestResponse> r = handler.GetLatest(Latest());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->source(), v1::DATA_SOURCE_DATABASE);
  EXPECT_EQ(metrics_.cache_errors(), 1);
}

TEST_F(QueryHandlerTest, GetLatestOfAnUnknownSeriesIsNotFound) {
  QueryHandler handler = MakeHandler();
  absl::StatusOr<v1::GetLatestResponse> r = handler.GetLatest(Latest());
  EXPECT_TRUE(absl::IsNotFound(r.status())) << r.status();
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("ListSeries"));
  EXPECT_TRUE(filled_.empty());
}

TEST_F(QueryHandlerTest, GetLatestWithoutACacheReadsTheDatabase) {
  reader_.Put(MakeWindow("svc", "lat", {{"region", "eu"}}, v1::WINDOW_SIZE_1M, kQueryT0, {1}));
  QueryHandler handler = MakeHandler(/*with_cache=*/false);
  EXPECT_EQ(handler.GetLatest(Latest())->source(), v1::DATA_SOURCE_DATABASE);
  EXPECT_EQ(cache_.get_calls(), 0u);
}

TEST_F(QueryHandlerTest, ListSeriesPagesEverySeriesOnceWithItsNewestMinute) {
  for (int s = 0; s < 25; ++s) {
    for (int m = 0; m < 3; ++m) {
      reader_.Put(MakeWindow("svc", s % 2 ? "odd" : "even", {{"n", std::to_string(s)}},
                             v1::WINDOW_SIZE_1M, kQueryT0 + absl::Minutes(m + s), {1}));
    }
  }
  reader_.Put(MakeWindow("other", "x", {}, v1::WINDOW_SIZE_1M, kQueryT0, {1}));
  QueryHandler handler = MakeHandler();
  v1::ListSeriesRequest r;
  r.set_service_id("svc");
  r.set_page_size(4);
  std::vector<std::pair<std::string, std::string>> seen;
  while (true) {
    absl::StatusOr<v1::ListSeriesResponse> page = handler.ListSeries(r);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const v1::SeriesInfo& s : page->series()) {
      seen.emplace_back(s.series().metric_name(), s.series_key());
      const int n = std::stoi(s.series().tags().at("n"));
      EXPECT_EQ(TimeFromProto(s.last_window_start()), kQueryT0 + absl::Minutes(2 + n));
    }
    if (page->next_page_token().empty()) break;
    r.set_page_token(page->next_page_token());
  }
  EXPECT_EQ(seen.size(), 25u);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_EQ(std::set(seen.begin(), seen.end()).size(), 25u);
}

TEST_F(QueryHandlerTest, SummarizeMergesSketchesWithinTheStatedErrorOfTheRawValues) {
  // 60 one-minute windows of two series (log-normal values), one of them still open.
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> dist(3, 1);
  std::vector<double> all;
  for (int host = 0; host < 2; ++host) {
    for (int m = 0; m < 60; ++m) {
      std::vector<double> values(50 + m);
      for (double& v : values) v = dist(rng);
      all.insert(all.end(), values.begin(), values.end());
      reader_.Put(MakeWindow("svc", "lat", {{"host", std::to_string(host)}}, v1::WINDOW_SIZE_1M,
                             kQueryT0 + absl::Minutes(m), values, /*is_final=*/m < 59));
    }
  }
  // Outside the range: must not count.
  reader_.Put(MakeWindow("svc", "lat", {{"host", "0"}}, v1::WINDOW_SIZE_1M,
                         kQueryT0 + absl::Minutes(60), {1e9}));
  QueryHandler handler = MakeHandler();
  v1::SummarizeRequest r;
  r.set_service_id("svc");
  r.set_metric_name("lat");
  *r.mutable_start() = TimeToProto(kQueryT0);
  *r.mutable_end() = TimeToProto(kQueryT0 + absl::Hours(1));
  for (double q : {0.0, 0.5, 0.9, 0.99, 0.999, 1.0}) r.add_quantiles(q);
  absl::StatusOr<v1::SummarizeResponse> s = handler.Summarize(r);
  ASSERT_TRUE(s.ok()) << s.status();
  std::sort(all.begin(), all.end());
  EXPECT_EQ(s->count(), all.size());
  EXPECT_EQ(s->windows_merged(), 120u);
  EXPECT_EQ(s->series_merged(), 2u);
  EXPECT_TRUE(s->includes_open_windows());
  EXPECT_EQ(s->min(), all.front());
  EXPECT_EQ(s->max(), all.back());
  double sum = 0;
  for (double v : all) sum += v;
  EXPECT_NEAR(s->sum(), sum, 1e-9 * sum);
  EXPECT_DOUBLE_EQ(s->relative_accuracy(), 0.01);
  ASSERT_EQ(s->quantiles_size(), 6);
  for (const v1::QuantileValue& q : s->quantiles()) {
    // The lower rank's value, as DDSketch ranks: rank = q * (n - 1).
    const double exact = all[static_cast<size_t>(std::floor(q.quantile() * (all.size() - 1)))];
    EXPECT_LE(std::abs(q.value() - exact), s->relative_accuracy() * exact + 1e-12)
        << "q=" << q.quantile();
  }

  // A tag subset merges one series only.
  (*r.mutable_tags())["host"] = "1";
  s = handler.Summarize(r);
  EXPECT_EQ(s->series_merged(), 1u);
  EXPECT_EQ(s->windows_merged(), 60u);
}

// Windows on both sides of the oldest day the retention keeps (1-minute windows, 14 days).
class QueryRetentionTest : public QueryHandlerTest {
 protected:
  void SetUp() override {
    for (int m = -30; m < 30; ++m) {
      reader_.Put(MakeWindow("svc", "lat", {}, v1::WINDOW_SIZE_1M, kDayT + absl::Minutes(m), {2}));
    }
    clock_.Set(kDayT + absl::Hours(24 * 14 + 1));
  }
  // A UTC midnight: RetainedFrom at the clock's now.
  const absl::Time kDayT = DayStart(kQueryT0) + absl::Hours(24);
};

TEST_F(QueryRetentionTest, QueryAggregatesAnswersFromTheRetainedDayAndSaysSo) {
  QueryHandler handler = MakeHandler();
  v1::QueryAggregatesRequest r = Query("svc", absl::Hours(2));
  *r.mutable_start() = TimeToProto(kDayT - absl::Hours(1));
  *r.mutable_end() = TimeToProto(kDayT + absl::Hours(1));
  absl::StatusOr<v1::QueryAggregatesResponse> answer = handler.QueryAggregates(r);
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(answer->windows_size(), 30);
  EXPECT_EQ(TimeFromProto(answer->windows(0).window_start()), kDayT);
  ASSERT_TRUE(answer->has_retained_from());
  EXPECT_EQ(TimeFromProto(answer->retained_from()), kDayT);
  // A range inside the retention says nothing.
  *r.mutable_start() = TimeToProto(kDayT);
  answer = handler.QueryAggregates(r);
  ASSERT_TRUE(answer.ok());
  EXPECT_FALSE(answer->has_retained_from());
  EXPECT_EQ(answer->windows_size(), 30);
  // A range wholly before it is refused, not answered with silence.
  *r.mutable_start() = TimeToProto(kDayT - absl::Hours(1));
  *r.mutable_end() = TimeToProto(kDayT);
  answer = handler.QueryAggregates(r);
  EXPECT_EQ(answer.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(answer.status().message(), HasSubstr("1m windows are kept for 14 days"));
}

TEST_F(QueryRetentionTest, SummarizeStartsAtTheRetainedDay) {
  QueryHandler handler = MakeHandler();
  v1::SummarizeRequest r;
  r.set_service_id("svc");
  r.set_metric_name("lat");
  *r.mutable_start() = TimeToProto(kDayT - absl::Hours(1));
  *r.mutable_end() = TimeToProto(kDayT + absl::Hours(1));
  absl::StatusOr<v1::SummarizeResponse> s = handler.Summarize(r);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(TimeFromProto(s->effective_start()), kDayT);
  EXPECT_EQ(s->count(), 30u);
  *r.mutable_end() = TimeToProto(kDayT - absl::Minutes(1));
  EXPECT_EQ(handler.Summarize(r).status().code(), absl::StatusCode::kOutOfRange);
}

TEST_F(QueryHandlerTest, SummarizeOfNothingIsZeroWithTheQuantilesNamed) {
  QueryHandler handler = MakeHandler();
  v1::SummarizeRequest r;
  r.set_service_id("svc");
  r.set_metric_name("lat");
  *r.mutable_start() = TimeToProto(kQueryT0);
  *r.mutable_end() = TimeToProto(kQueryT0 + absl::Hours(1));
  absl::StatusOr<v1::SummarizeResponse> s = handler.Summarize(r);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->count(), 0u);
  EXPECT_EQ(s->quantiles_size(), 3);
  EXPECT_EQ(s->windows_merged(), 0u);
}

TEST_F(QueryHandlerTest, SummarizePastItsDeadlineSaysSo) {
  reader_.Put(MakeWindow("svc", "lat", {}, v1::WINDOW_SIZE_1M, kQueryT0, {1}));
  QueryHandler handler = MakeHandler();
  v1::SummarizeRequest r;
  r.set_service_id("svc");
  r.set_metric_name("lat");
  *r.mutable_start() = TimeToProto(kQueryT0);
  *r.mutable_end() = TimeToProto(kQueryT0 + absl::Hours(1));
  EXPECT_TRUE(absl::IsDeadlineExceeded(handler.Summarize(r, absl::InfinitePast()).status()));
  EXPECT_TRUE(absl::IsCancelled(
      handler.Summarize(r, absl::InfiniteFuture(), [] { return true; }).status()));
  EXPECT_TRUE(handler.Summarize(r, absl::InfiniteFuture(), [] { return false; }).ok());
}

}  // namespace
}  // namespace streammetrics::aggregation
