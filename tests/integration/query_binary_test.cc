// QueryService as users meet it: the streammetrics-aggregation binary on the real stack, called
// over gRPC. A known data set goes in; every RPC answers with what the aggregation stored;
// watchers see each window as it becomes final (and a watcher that does not read is cut off with
// RESOURCE_EXHAUSTED); bad requests get INVALID_ARGUMENT; with Redis stopped every RPC still
// answers from PostgreSQL and /metrics shows the degradation, and when Redis is back the cache
// fills again.
#include <signal.h>

#include <atomic>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "aggregation-service/engine/window_math.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "streammetrics/internal/page_token.pb.h"
#include "streammetrics/v1/query.grpc.pb.h"
#include "tests/integration/aggregation_harness.h"
#include "tests/support/kafka_topics.h"
#include "tests/support/stack.h"
#include "tests/support/test_producer.h"

namespace streammetrics::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr absl::Duration kDeadline = absl::Seconds(180);

// For the watch tests, the windows must become final after the watchers connected. An idle
// partition's watermark follows the wall clock, which would make data 40 minutes old late on
// arrival; with idle advance off, each partition's watermark follows its events instead, and
// events of another service 10 minutes old (Closer) then close every window of the data set.
const std::vector<std::string> kNoIdleAdvance = {"--idle_after=1h"};

// 96 series: every one of the 6 partitions gets some (a partition is missed with p < 1e-6).
AggregationDataSet Closer() {
  return AggregationDataSet(960, 96, absl::Minutes(1), 0, /*age=*/absl::Minutes(10));
}

class QueryBinaryTest : public ::testing::Test {
 protected:
  // Creates the events topic, runs `fill` on it, starts the binary (with `flags`, or
  // --idle_after=1s), and waits until its QueryService answers.
  void Start(const std::vector<std::string>& flags = {},
             const std::function<void(const std::string&)>& fill = nullptr) {
    events_ = std::make_unique<ScopedTopic>("it-query-events", 6);
    ASSERT_TRUE(events_->ok());
    if (fill) {
      ASSERT_NO_FATAL_FAILURE(fill(events_->name()));
    }
    std::vector<std::string> all = flags;
    if (all.empty()) all.push_back("--idle_after=1s");
    aggregator_ = std::make_unique<AggregatorChild>(
        events_->name(),
        absl::StrCat("group-query-", getpid(), "-", absl::ToUnixMicros(absl::Now())), all);
    channel_ =
        grpc::CreateChannel(aggregator_->query_address(), grpc::InsecureChannelCredentials());
    ASSERT_TRUE(
        channel_->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(60)));
    stub_ = v1::QueryService::NewStub(channel_);
  }

  void TearDown() override {
    if (aggregator_ != nullptr) {
      EXPECT_EQ(aggregator_->Stop(SIGTERM), 0);
    }
  }

  // Every page of the windows of `size` over the data set's range.
  std::vector<v1::WindowAggregate> AllWindows(const AggregationDataSet& data, v1::WindowSize size,
                                              int page_size) {
    v1::QueryAggregatesRequest r;
    r.set_service_id(data.service_id());
    r.set_window_size(size);
    *r.mutable_start() = aggregation::TimeToProto(absl::Now() - absl::Hours(2));
    *r.mutable_end() = aggregation::TimeToProto(absl::Now());
    r.set_page_size(page_size);
    std::vector<v1::WindowAggregate> all;
    for (int pages = 0; pages < 10000; ++pages) {
      grpc::ClientContext context;
      v1::QueryAggregatesResponse page;
      grpc::Status status = stub_->QueryAggregates(&context, r, &page);
      EXPECT_TRUE(status.ok()) << status.error_message();
      if (!status.ok()) break;
      all.insert(all.end(), page.windows().begin(), page.windows().end());
      if (page.next_page_token().empty()) break;
      r.set_page_token(page.next_page_token());
    }
    return all;
  }

  std::vector<v1::SeriesInfo> AllSeries(const AggregationDataSet& data) {
    v1::ListSeriesRequest r;
    r.set_service_id(data.service_id());
    r.set_page_size(3);
    std::vector<v1::SeriesInfo> all;
    for (int pages = 0; pages < 1000; ++pages) {
      grpc::ClientContext context;
      v1::ListSeriesResponse page;
      grpc::Status status = stub_->ListSeries(&context, r, &page);
      EXPECT_TRUE(status.ok()) << status.error_message();
      if (!status.ok()) break;
      all.insert(all.end(), page.series().begin(), page.series().end());
      if (page.next_page_token().empty()) break;
      r.set_page_token(page.next_page_token());
    }
    return all;
  }

  grpc::Status GetLatest(const v1::Series& series, v1::GetLatestResponse* response) {
    v1::GetLatestRequest r;
    r.set_service_id(series.service_id());
    r.set_metric_name(series.metric_name());
    *r.mutable_tags() = series.tags();
    r.set_window_size(v1::WINDOW_SIZE_1M);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return stub_->GetLatest(&context, r, response);
  }

  double Metric(const std::string& sample) {
    return MetricValue(ScrapeMetrics(aggregator_->metrics_address()), sample);
  }

  std::unique_ptr<ScopedTopic> events_;
  std::unique_ptr<AggregatorChild> aggregator_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::QueryService::Stub> stub_;
};

// Reads a WatchAggregates stream on its own thread, keeping what arrives.
class Watch {
 public:
  Watch(v1::QueryService::Stub* stub, const std::string& service, bool read) {
    v1::WatchAggregatesRequest r;
    r.set_service_id(service);
    reader_ = stub->WatchAggregates(&context_, r);
    if (read) {
      thread_ = std::thread([this] {
        v1::WindowAggregate w;
        while (reader_->Read(&w)) {
          absl::MutexLock lock(&mu_);
          windows_.push_back(w);
        }
      });
    }
  }
  ~Watch() {
    context_.TryCancel();
    if (thread_.joinable()) thread_.join();
  }
  size_t received() {
    absl::MutexLock lock(&mu_);
    return windows_.size();
  }
  std::vector<v1::WindowAggregate> windows() {
    absl::MutexLock lock(&mu_);
    return windows_;
  }
  // For a watcher that never read: drains what is buffered, then the status.
  grpc::Status Drain() {
    v1::WindowAggregate w;
    while (reader_->Read(&w)) {
    }
    return reader_->Finish();
  }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<v1::WindowAggregate>> reader_;
  std::thread thread_;
  absl::Mutex mu_;
  std::vector<v1::WindowAggregate> windows_;
};

TEST_F(QueryBinaryTest, EveryRpcAnswersWhatWasAggregated) {
  ASSERT_NO_FATAL_FAILURE(Start(kNoIdleAdvance));
  AggregationDataSet data(8000, 16, absl::Minutes(10), /*resend_every=*/5);
  Watch watch(stub_.get(), data.service_id(), /*read=*/true);
  // The stream is open once the server has it; give the server's subscription a moment by
  // waiting for the watcher gauge.
  ASSERT_TRUE(
      PollUntil(absl::Seconds(30), [&] { return Metric("streammetrics_query_watchers") >= 1; }));
  ASSERT_TRUE(data.Produce(events_->name()).ok());
  ASSERT_TRUE(Closer().Produce(events_->name()).ok());
  ASSERT_TRUE(PollUntil(kDeadline, [&] { return data.FinalRows() == data.ExpectedWindows(); }))
      << data.FinalRows() << " of " << data.ExpectedWindows();
  EXPECT_THAT(data.Verify(), IsEmpty());

  // QueryAggregates: every window once, counting every event once.
  const std::vector<v1::WindowAggregate> m1 = AllWindows(data, v1::WINDOW_SIZE_1M, 7);
  const std::vector<v1::WindowAggregate> m5 = AllWindows(data, v1::WINDOW_SIZE_5M, 1000);
  EXPECT_EQ(static_cast<int>(m1.size() + m5.size()), data.ExpectedWindows());
  uint64_t counted_1m = 0, counted_5m = 0;
  std::set<std::string> keys;
  for (const v1::WindowAggregate& w : m1) {
    counted_1m += w.count();
    EXPECT_TRUE(w.is_final());
    EXPECT_TRUE(keys.insert(absl::StrCat(w.window_start().seconds(), w.series_key())).second);
  }
  for (const v1::WindowAggregate& w : m5) counted_5m += w.count();
  EXPECT_EQ(counted_1m, static_cast<uint64_t>(data.events()));
  EXPECT_EQ(counted_5m, static_cast<uint64_t>(data.events()));

  // ListSeries: the 16 series, each with its newest minute.
  const std::vector<v1::SeriesInfo> series = AllSeries(data);
  ASSERT_EQ(series.size(), 16u);

  // GetLatest: the newest window of a series, from the cache the checkpoint filled.
  v1::GetLatestResponse latest;
  ASSERT_TRUE(GetLatest(series[0].series(), &latest).ok());
  EXPECT_EQ(latest.source(), v1::DATA_SOURCE_CACHE);
  EXPECT_EQ(latest.window().window_start().seconds(), series[0].last_window_start().seconds());
  for (const v1::WindowAggregate& w : m1) {
    if (w.series_key() == series[0].series_key() &&
        w.window_start().seconds() == latest.window().window_start().seconds()) {
      EXPECT_EQ(w.count(), latest.window().count());
      EXPECT_EQ(w.sum(), latest.window().sum());
      EXPECT_EQ(w.revision(), latest.window().revision());
    }
  }
  EXPECT_GE(Metric("streammetrics_query_cache_hits_total"), 1);

  // Summarize: one answer over everything, exact count.
  v1::SummarizeRequest summarize;
  summarize.set_service_id(data.service_id());
  summarize.set_metric_name(series[0].series().metric_name());
  *summarize.mutable_start() = aggregation::TimeToProto(absl::Now() - absl::Hours(2));
  *summarize.mutable_end() = aggregation::TimeToProto(absl::Now());
  {
    grpc::ClientContext context;
    v1::SummarizeResponse s;
    ASSERT_TRUE(stub_->Summarize(&context, summarize, &s).ok());
    EXPECT_EQ(s.count(), static_cast<uint64_t>(data.events() / 4));  // one metric of four
    EXPECT_EQ(s.series_merged(), 4u);
    EXPECT_DOUBLE_EQ(s.relative_accuracy(), 0.01);
    EXPECT_EQ(s.quantiles_size(), 3);
  }

  // WatchAggregates: every window, as it became final.
  EXPECT_TRUE(PollUntil(absl::Seconds(60), [&] {
    return watch.received() >= static_cast<size_t>(data.ExpectedWindows());
  })) << watch.received();
  std::set<std::string> watched;
  for (const v1::WindowAggregate& w : watch.windows()) {
    EXPECT_TRUE(w.is_final());
    EXPECT_FALSE(w.has_sketch());
    watched.insert(absl::StrCat(w.window_size(), w.window_start().seconds(), w.series_key()));
  }
  EXPECT_EQ(static_cast<int>(watched.size()), data.ExpectedWindows());

  // A bad request: INVALID_ARGUMENT with a sentence.
  {
    grpc::ClientContext context;
    v1::QueryAggregatesRequest bad;
    bad.set_window_size(v1::WINDOW_SIZE_1M);
    v1::QueryAggregatesResponse response;
    grpc::Status status = stub_->QueryAggregates(&context, bad, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), HasSubstr("service_id is required"));
  }
  // A NUL in a name: refused up front, in our words, not PostgreSQL's ("invalid byte sequence").
  {
    grpc::ClientContext context;
    v1::ListSeriesRequest nul;
    nul.set_service_id(std::string("pay\0ment", 8));
    v1::ListSeriesResponse response;
    grpc::Status status = stub_->ListSeries(&context, nul, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), HasSubstr("control character 0x00 at byte 3"));
    EXPECT_THAT(status.error_message(), ::testing::Not(HasSubstr("byte sequence")));
  }
  // A page token made up by the client: refused, not followed.
  {
    grpc::ClientContext context;
    v1::QueryAggregatesRequest forged;
    forged.set_service_id(data.service_id());
    forged.set_window_size(v1::WINDOW_SIZE_1M);
    *forged.mutable_start() = aggregation::TimeToProto(absl::Now() - absl::Hours(2));
    *forged.mutable_end() = aggregation::TimeToProto(absl::Now());
    streammetrics::internal::PageToken token;
    token.set_kind(streammetrics::internal::PageToken::KIND_WINDOWS);
    token.set_after_series_key("zzz");
    forged.set_page_token(absl::WebSafeBase64Escape(token.SerializeAsString()));
    v1::QueryAggregatesResponse response;
    grpc::Status status = stub_->QueryAggregates(&context, forged, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), HasSubstr("page_token was not issued by this service"));
  }
  EXPECT_GE(
      Metric(
          "streammetrics_query_requests_total{code=\"invalid_argument\",rpc=\"QueryAggregates\"}"),
      1);
}

TEST_F(QueryBinaryTest, AWatcherThatDoesNotReadIsCutOffAndTheOthersAreNot) {
  // Final windows are put on the aggregated topics by hand, at a pace the reading watcher keeps
  // up with, until the one that never reads has overflowed (its transport absorbs some first;
  // how much depends on HTTP/2 flow control, so the test sends until the cut-off happens).
  ScopedTopic agg1("it-query-agg1m", 3), agg5("it-query-agg5m", 3);
  ASSERT_TRUE(agg1.ok() && agg5.ok());
  ASSERT_NO_FATAL_FAILURE(Start({"--watch_buffer=100", "--aggregated_1m_topic=" + agg1.name(),
                                 "--aggregated_5m_topic=" + agg5.name()}));
  const std::string service =
      absl::StrCat("it-watch-", getpid(), "-", absl::ToUnixMicros(absl::Now()));
  Watch slow(stub_.get(), service, /*read=*/false);
  Watch fast(stub_.get(), service, /*read=*/true);
  ASSERT_TRUE(
      PollUntil(absl::Seconds(30), [&] { return Metric("streammetrics_query_watchers") >= 2; }));
  TestProducer producer;
  ASSERT_TRUE(producer.ok());
  size_t sent = 0;
  const absl::Time t0 = absl::FromUnixSeconds(1'800'000'000);
  while (Metric("streammetrics_query_watchers_exhausted_total") < 1 && sent < 200'000) {
    for (int i = 0; i < 90; ++i, ++sent) {
      v1::WindowAggregate w;
      w.mutable_series()->set_service_id(service);
      w.mutable_series()->set_metric_name("m");
      (*w.mutable_series()->mutable_tags())["n"] = absl::StrCat(sent % 1000);
      // Bigger windows fill the slow client's flow-control window sooner.
      (*w.mutable_series()->mutable_tags())["pad"] = std::string(200, 'p');
      w.set_series_key(absl::StrCat(service, "|m|n=", sent % 1000));
      w.set_window_size(v1::WINDOW_SIZE_1M);
      *w.mutable_window_start() = aggregation::TimeToProto(t0 + absl::Minutes(sent / 1000));
      w.set_count(1);
      w.set_is_final(true);
      w.set_revision(1);
      ASSERT_NO_FATAL_FAILURE(producer.Send(agg1.name(), static_cast<int32_t>(sent % 3), w));
    }
    // Another service's window: never reaches these watchers.
    v1::WindowAggregate other;
    other.mutable_series()->set_service_id(service + "-other");
    other.set_window_size(v1::WINDOW_SIZE_5M);
    ASSERT_NO_FATAL_FAILURE(producer.Send(agg5.name(), 0, other));
    ASSERT_NO_FATAL_FAILURE(producer.Flush());
    ASSERT_TRUE(PollUntil(absl::Seconds(30), [&] { return fast.received() >= sent; }))
        << fast.received() << " of " << sent;
  }
  ASSERT_GE(Metric("streammetrics_query_watchers_exhausted_total"), 1) << sent << " sent";
  EXPECT_EQ(fast.received(), sent);
  for (const v1::WindowAggregate& w : fast.windows()) {
    ASSERT_EQ(w.series().service_id(), service);
  }
  grpc::Status status = slow.Drain();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("fell 100 windows behind"));
  // The fast watcher still gets what comes next.
  v1::WindowAggregate after;
  after.mutable_series()->set_service_id(service);
  after.set_window_size(v1::WINDOW_SIZE_1M);
  ASSERT_NO_FATAL_FAILURE(producer.Send(agg1.name(), 0, after));
  ASSERT_NO_FATAL_FAILURE(producer.Flush());
  EXPECT_TRUE(PollUntil(absl::Seconds(30), [&] { return fast.received() == sent + 1; }));
}

// Tests that stop, kill or restart a shared server: run alone (tests/CMakeLists.txt).
class QueryBinaryFaultTest : public QueryBinaryTest {};

TEST_F(QueryBinaryFaultTest, WithRedisStoppedEveryRpcAnswersFromPostgresAndTheCacheRefillsAfter) {
  AggregationDataSet data(4000, 8, absl::Minutes(5), /*resend_every=*/0);
  ASSERT_NO_FATAL_FAILURE(
      Start({}, [&](const std::string& topic) { ASSERT_TRUE(data.Produce(topic).ok()); }));
  ASSERT_TRUE(PollUntil(kDeadline, [&] { return data.FinalRows() == data.ExpectedWindows(); }));
  const std::vector<v1::SeriesInfo> series = AllSeries(data);
  ASSERT_EQ(series.size(), 8u);
  v1::GetLatestResponse before;
  ASSERT_TRUE(GetLatest(series[0].series(), &before).ok());
  EXPECT_EQ(before.source(), v1::DATA_SOURCE_CACHE);

  ASSERT_TRUE(RedisControl("stop").ok());
  absl::Cleanup restart = [] { (void)RedisControl("start"); };
  for (const v1::SeriesInfo& s : series) {
    v1::GetLatestResponse r;
    grpc::Status status = GetLatest(s.series(), &r);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(r.source(), v1::DATA_SOURCE_DATABASE);
  }
  v1::GetLatestResponse during;
  ASSERT_TRUE(GetLatest(series[0].series(), &during).ok());
  EXPECT_EQ(during.window().count(), before.window().count());
  EXPECT_EQ(during.window().sum(), before.window().sum());
  EXPECT_EQ(static_cast<int>(AllWindows(data, v1::WINDOW_SIZE_1M, 100).size() +
                             AllWindows(data, v1::WINDOW_SIZE_5M, 100).size()),
            data.ExpectedWindows());
  EXPECT_EQ(AllSeries(data).size(), 8u);
  EXPECT_TRUE(PollUntil(absl::Seconds(10),
                        [&] { return Metric("streammetrics_query_cache_available") == 0; }));
  EXPECT_GE(Metric("streammetrics_query_cache_errors_total"), 1);

  ASSERT_TRUE(RedisControl("start").ok());
  std::move(restart).Cancel();
  // Reads from PostgreSQL are offered back to the cache; once Redis answers they land there.
  EXPECT_TRUE(PollUntil(absl::Seconds(30), [&] {
    v1::GetLatestResponse r;
    return GetLatest(series[1].series(), &r).ok() && r.source() == v1::DATA_SOURCE_CACHE;
  }));
  EXPECT_TRUE(PollUntil(absl::Seconds(10),
                        [&] { return Metric("streammetrics_query_cache_available") == 1; }));
}

}  // namespace
}  // namespace streammetrics::testing
