// Every rule of a QueryService request (an INVALID_ARGUMENT with a sentence that says what to
// fix) and the page tokens' guarantees.
#include "aggregation-service/query/query_requests.h"

#include <string>

#include "absl/strings/escaping.h"
#include "absl/time/time.h"
#include "aggregation-service/engine/window_math.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "streammetrics/internal/page_token.pb.h"
#include "tests/aggregation-service/query/query_test_util.h"

namespace streammetrics::aggregation {
namespace {

using ::testing::HasSubstr;
using testing::kQueryT0;
using testing::MakeWindow;

v1::QueryAggregatesRequest ValidQuery() {
  v1::QueryAggregatesRequest r;
  r.set_service_id("checkout");
  r.set_window_size(v1::WINDOW_SIZE_1M);
  *r.mutable_start() = TimeToProto(kQueryT0);
  *r.mutable_end() = TimeToProto(kQueryT0 + absl::Hours(1));
  return r;
}

void ExpectInvalid(const absl::Status& status, const std::string& fragment) {
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr(fragment));
}

TEST(ParseQueryAggregatesTest, AcceptsAValidRequestWithDefaults) {
  absl::StatusOr<WindowQuery> q = ParseQueryAggregates(ValidQuery(), QueryLimits());
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->service_id, "checkout");
  EXPECT_EQ(q->limit, 100);
  EXPECT_EQ(q->start, kQueryT0);
  EXPECT_EQ(q->end, kQueryT0 + absl::Hours(1));
  EXPECT_FALSE(q->after.has_value());
}

TEST(ParseQueryAggregatesTest, RefusesEachBadField) {
  const QueryLimits limits;
  struct Case {
    std::string name;
    void (*mutate)(v1::QueryAggregatesRequest*);
    std::string fragment;
  };
  const Case cases[] = {
      {"missing service", [](v1::QueryAggregatesRequest* r) { r->clear_service_id(); },
       "service_id is required"},
      {"long service",
       [](v1::QueryAggregatesRequest* r) { r->set_service_id(std::string(101, 's')); },
       "at most 100"},
      {"long metric",
       [](v1::QueryAggregatesRequest* r) { r->set_metric_name(std::string(201, 'm')); },
       "at most 200"},
      {"NUL in service",
       [](v1::QueryAggregatesRequest* r) { r->set_service_id(std::string("pay\0x", 5)); },
       "service_id contains control character 0x00 at byte 3"},
      {"escape in metric", [](v1::QueryAggregatesRequest* r) { r->set_metric_name("lat\x1b[2J"); },
       "metric_name contains control character 0x1B at byte 3"},
      {"control in tag key",
       [](v1::QueryAggregatesRequest* r) { (*r->mutable_tags())["re\x7fgion"] = "eu"; },
       "a tag key contains control character 0x7F"},
      {"control in tag value",
       [](v1::QueryAggregatesRequest* r) { (*r->mutable_tags())["region"] = "e\nu"; },
       "the value of tag \"region\" contains control character 0x0A at byte 1"},
      {"no window size",
       [](v1::QueryAggregatesRequest* r) { r->set_window_size(v1::WINDOW_SIZE_UNSPECIFIED); },
       "window_size is required"},
      {"unknown window size",
       [](v1::QueryAggregatesRequest* r) { r->set_window_size(static_cast<v1::WindowSize>(7)); },
       "window_size 7 is unknown"},
      {"no start", [](v1::QueryAggregatesRequest* r) { r->clear_start(); }, "start is required"},
      {"no end", [](v1::QueryAggregatesRequest* r) { r->clear_end(); }, "end is required"},
      {"bad nanos", [](v1::QueryAggregatesRequest* r) { r->mutable_end()->set_nanos(-1); },
       "end is not a valid timestamp"},
      {"start after end",
       [](v1::QueryAggregatesRequest* r) {
         *r->mutable_end() = TimeToProto(kQueryT0 - absl::Minutes(1));
       },
       "must be before end"},
      {"start equals end", [](v1::QueryAggregatesRequest* r) { *r->mutable_end() = r->start(); },
       "must be before end"},
      {"span too long",
       [](v1::QueryAggregatesRequest* r) {
         *r->mutable_end() = TimeToProto(kQueryT0 + absl::Hours(24 * 31) + absl::Seconds(1));
       },
       "split it"},
      {"page too large", [](v1::QueryAggregatesRequest* r) { r->set_page_size(1001); },
       "at most 1000"},
      {"negative page", [](v1::QueryAggregatesRequest* r) { r->set_page_size(-1); }, "is negative"},
      {"empty tag key", [](v1::QueryAggregatesRequest* r) { (*r->mutable_tags())[""] = "x"; },
       "empty key"},
      {"too many tags",
       [](v1::QueryAggregatesRequest* r) {
         for (int i = 0; i < 17; ++i) (*r->mutable_tags())["k" + std::to_string(i)] = "v";
       },
       "at most 16"},
      {"malformed token", [](v1::QueryAggregatesRequest* r) { r->set_page_token("!!nope!!"); },
       "page_token is malformed"},
      {"token of garbage bytes",
       [](v1::QueryAggregatesRequest* r) {
         r->set_page_token(absl::WebSafeBase64Escape("\xff\xff"));
       },
       "page_token was not issued by this service"},
      {"token not base64", [](v1::QueryAggregatesRequest* r) { r->set_page_token("***"); },
       "page_token is malformed"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    v1::QueryAggregatesRequest r = ValidQuery();
    c.mutate(&r);
    ExpectInvalid(ParseQueryAggregates(r, limits).status(), c.fragment);
  }
}

TEST(ParseQueryAggregatesTest, ASpanOfExactlyTheLimitIsAccepted) {
  v1::QueryAggregatesRequest r = ValidQuery();
  *r.mutable_end() = TimeToProto(kQueryT0 + absl::Hours(24 * 31));
  EXPECT_TRUE(ParseQueryAggregates(r, QueryLimits()).ok());
}

TEST(PageTokenTest, CarriesTheCursorOfTheLastRow) {
  const QueryLimits limits;
  v1::QueryAggregatesRequest r = ValidQuery();
  const v1::WindowAggregate last = MakeWindow("checkout", "latency", {{"region", "eu"}},
                                              v1::WINDOW_SIZE_1M, kQueryT0 + absl::Minutes(7), {1});
  r.set_page_token(NextWindowsToken(r, last, limits));
  absl::StatusOr<WindowQuery> q = ParseQueryAggregates(r, limits);
  ASSERT_TRUE(q.ok()) << q.status();
  ASSERT_TRUE(q->after.has_value());
  EXPECT_EQ(q->after->window_start, kQueryT0 + absl::Minutes(7));
  EXPECT_EQ(q->after->series_key, last.series_key());
}

TEST(PageTokenTest, SurvivesAChangeOfPageSizeOrSketchOnly) {
  const QueryLimits limits;
  v1::QueryAggregatesRequest r = ValidQuery();
  const v1::WindowAggregate last =
      MakeWindow("checkout", "latency", {}, v1::WINDOW_SIZE_1M, kQueryT0, {1});
  r.set_page_token(NextWindowsToken(r, last, limits));
  r.set_page_size(500);
  r.set_include_sketch(true);
  EXPECT_TRUE(ParseQueryAggregates(r, limits).ok());
}

TEST(PageTokenTest, IsRefusedForAnotherFilter) {
  const QueryLimits limits;
  v1::QueryAggregatesRequest r = ValidQuery();
  const v1::WindowAggregate last =
      MakeWindow("checkout", "latency", {}, v1::WINDOW_SIZE_1M, kQueryT0, {1});
  const std::string token = NextWindowsToken(r, last, limits);
  for (auto mutate : std::vector<void (*)(v1::QueryAggregatesRequest*)>{
           [](v1::QueryAggregatesRequest* q) { q->set_metric_name("other"); },
           [](v1::QueryAggregatesRequest* q) { (*q->mutable_tags())["a"] = "b"; },
           [](v1::QueryAggregatesRequest* q) { q->set_window_size(v1::WINDOW_SIZE_5M); },
           [](v1::QueryAggregatesRequest* q) {
             q->mutable_end()->set_seconds(q->end().seconds() + 60);
           },
       }) {
    v1::QueryAggregatesRequest changed = r;
    mutate(&changed);
    changed.set_page_token(token);
    ExpectInvalid(ParseQueryAggregates(changed, limits).status(), "other filters");
  }
}

TEST(PageTokenTest, OfListSeriesIsRefusedByQueryAggregatesAndBack) {
  const QueryLimits limits;
  v1::ListSeriesRequest series;
  series.set_service_id("checkout");
  v1::SeriesInfo info;
  info.mutable_series()->set_metric_name("latency");
  info.set_series_key("k");
  v1::QueryAggregatesRequest r = ValidQuery();
  r.set_page_token(NextSeriesToken(series, info, limits));
  ExpectInvalid(ParseQueryAggregates(r, limits).status(), "issued by ListSeries");

  series.set_page_token(NextWindowsToken(
      ValidQuery(), MakeWindow("checkout", "latency", {}, v1::WINDOW_SIZE_1M, kQueryT0, {1}),
      limits));
  ExpectInvalid(ParseListSeries(series, limits).status(), "issued by QueryAggregates");
}

TEST(PageTokenTest, AForgedOrEditedTokenIsRefused) {
  const QueryLimits limits;
  v1::QueryAggregatesRequest r = ValidQuery();
  const v1::WindowAggregate last =
      MakeWindow("checkout", "latency", {}, v1::WINDOW_SIZE_1M, kQueryT0, {1});
  const std::string token = NextWindowsToken(r, last, limits);
  // Made up from scratch: the cursor a client would like, with the right fingerprint even.
  streammetrics::internal::PageToken forged;
  forged.set_kind(streammetrics::internal::PageToken::KIND_WINDOWS);
  forged.set_after_series_key("zzz");
  r.set_page_token(absl::WebSafeBase64Escape(forged.SerializeAsString()));
  ExpectInvalid(ParseQueryAggregates(r, limits).status(), "not issued by this service");
  // One byte of a real token changed.
  std::string bytes;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(token, &bytes));
  bytes[bytes.size() / 2] ^= 1;
  r.set_page_token(absl::WebSafeBase64Escape(bytes));
  ExpectInvalid(ParseQueryAggregates(r, limits).status(), "not issued by this service");
  // Another instance's random key.
  r.set_page_token(token);
  ExpectInvalid(ParseQueryAggregates(r, QueryLimits()).status(), "not issued by this service");
  // Longer than any token issued: refused before decoding.
  r.set_page_token(std::string(limits.max_page_token_length + 1, 'A'));
  ExpectInvalid(ParseQueryAggregates(r, limits).status(), "characters long");
}

TEST(PageTokenTest, ConfiguredKeysRotate) {
  const std::string old_key(40, 'o'), new_key(40, 'n');
  QueryLimits before, during, after;
  before.page_token_keys = *PageTokenKeys::FromText(old_key);
  during.page_token_keys = *PageTokenKeys::FromText(new_key + "," + old_key);
  after.page_token_keys = *PageTokenKeys::FromText(new_key);
  v1::QueryAggregatesRequest r = ValidQuery();
  const v1::WindowAggregate last =
      MakeWindow("checkout", "latency", {}, v1::WINDOW_SIZE_1M, kQueryT0, {1});
  r.set_page_token(NextWindowsToken(r, last, before));
  EXPECT_TRUE(ParseQueryAggregates(r, during).ok()) << "old tokens verify while both keys are in";
  ExpectInvalid(ParseQueryAggregates(r, after).status(), "signing key has been retired");
  r.set_page_token(NextWindowsToken(r, last, during));
  EXPECT_TRUE(ParseQueryAggregates(r, after).ok()) << "the new key signs";
  EXPECT_FALSE(ParseQueryAggregates(r, before).ok());
}

TEST(PageTokenKeysTest, RefusesShortOrMissingKeysWithoutShowingThem) {
  EXPECT_TRUE(PageTokenKeys::FromText(std::string(32, 'k')).ok());
  absl::StatusOr<PageTokenKeys> short_key =
      PageTokenKeys::FromText(std::string(40, 'k') + "\nsecret-but-short");
  ASSERT_FALSE(short_key.ok());
  EXPECT_THAT(short_key.status().message(), HasSubstr("key 2 is 16 bytes long"));
  EXPECT_THAT(short_key.status().message(), ::testing::Not(HasSubstr("secret-but-short")));
  EXPECT_FALSE(PageTokenKeys::FromText(" ,\n").ok());
}

TEST(ParseGetLatestTest, BuildsTheSeriesKeyOfTheExactTags) {
  v1::GetLatestRequest r;
  r.set_service_id("checkout");
  r.set_metric_name("latency");
  (*r.mutable_tags())["region"] = "eu";
  r.set_window_size(v1::WINDOW_SIZE_5M);
  absl::StatusOr<LatestQuery> q = ParseGetLatest(r, QueryLimits());
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->series_key,
            MakeWindow("checkout", "latency", {{"region", "eu"}}, v1::WINDOW_SIZE_5M, kQueryT0, {1})
                .series_key());
  r.clear_metric_name();
  ExpectInvalid(ParseGetLatest(r, QueryLimits()).status(), "metric_name is required");
  r.set_metric_name("latency");
  r.clear_window_size();
  ExpectInvalid(ParseGetLatest(r, QueryLimits()).status(), "window_size is required");
}

TEST(ParseSummarizeTest, RoundsOutwardsToWholeMinutesAndDefaultsTheQuantiles) {
  v1::SummarizeRequest r;
  r.set_service_id("checkout");
  r.set_metric_name("latency");
  *r.mutable_start() = TimeToProto(kQueryT0 + absl::Seconds(30));
  *r.mutable_end() = TimeToProto(kQueryT0 + absl::Minutes(10) + absl::Seconds(1));
  absl::StatusOr<SummaryQuery> q = ParseSummarize(r, QueryLimits());
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->start, kQueryT0);
  EXPECT_EQ(q->end, kQueryT0 + absl::Minutes(11));
  EXPECT_THAT(q->quantiles, ::testing::ElementsAre(0.5, 0.95, 0.99));

  *r.mutable_end() = TimeToProto(kQueryT0 + absl::Minutes(10));
  EXPECT_EQ(ParseSummarize(r, QueryLimits())->end, kQueryT0 + absl::Minutes(10));
}

TEST(ParseSummarizeTest, RefusesQuantilesOutsideZeroToOne) {
  v1::SummarizeRequest r;
  r.set_service_id("checkout");
  r.set_metric_name("latency");
  *r.mutable_start() = TimeToProto(kQueryT0);
  *r.mutable_end() = TimeToProto(kQueryT0 + absl::Hours(1));
  r.add_quantiles(99);
  ExpectInvalid(ParseSummarize(r, QueryLimits()).status(), "ask for 0.99, not 99");
  r.set_quantiles(0, std::nan(""));
  ExpectInvalid(ParseSummarize(r, QueryLimits()).status(), "outside [0, 1]");
  r.set_quantiles(0, 1.0);
  EXPECT_TRUE(ParseSummarize(r, QueryLimits()).ok());
}

TEST(ParseSummarizeTest, LimitsTheRoundedSpan) {
  v1::SummarizeRequest r;
  r.set_service_id("checkout");
  r.set_metric_name("latency");
  *r.mutable_start() = TimeToProto(kQueryT0 + absl::Seconds(1));
  // 31 days exactly, but rounding outwards adds a minute.
  *r.mutable_end() = TimeToProto(kQueryT0 + absl::Seconds(1) + absl::Hours(24 * 31));
  ExpectInvalid(ParseSummarize(r, QueryLimits()).status(), "split it");
}

TEST(ParseWatchTest, NeedsAServiceAndAcceptsBothSizes) {
  v1::WatchAggregatesRequest r;
  ExpectInvalid(ParseWatch(r, QueryLimits()).status(), "service_id is required");
  r.set_service_id("checkout");
  absl::StatusOr<WatchFilter> f = ParseWatch(r, QueryLimits());
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->Matches(MakeWindow("checkout", "a", {}, v1::WINDOW_SIZE_1M, kQueryT0, {1})));
  EXPECT_TRUE(f->Matches(MakeWindow("checkout", "b", {}, v1::WINDOW_SIZE_5M, kQueryT0, {1})));
  EXPECT_FALSE(f->Matches(MakeWindow("cart", "a", {}, v1::WINDOW_SIZE_1M, kQueryT0, {1})));
  r.set_metric_name("a");
  r.set_window_size(v1::WINDOW_SIZE_5M);
  f = ParseWatch(r, QueryLimits());
  EXPECT_FALSE(f->Matches(MakeWindow("checkout", "a", {}, v1::WINDOW_SIZE_1M, kQueryT0, {1})));
  EXPECT_TRUE(f->Matches(MakeWindow("checkout", "a", {}, v1::WINDOW_SIZE_5M, kQueryT0, {1})));
  EXPECT_FALSE(f->Matches(MakeWindow("checkout", "b", {}, v1::WINDOW_SIZE_5M, kQueryT0, {1})));
}

}  // namespace
}  // namespace streammetrics::aggregation
