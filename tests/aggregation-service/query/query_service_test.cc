// QueryServiceImpl over an in-process gRPC channel, with the fake reader and cache: each RPC
// answers what the handler decides with the right gRPC code, calls beyond the workers' queue are
// refused with RESOURCE_EXHAUSTED, and watch streams carry published windows until the hub
// closes.
#include "aggregation-service/query/query_service.h"

#include <fstream>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include "aggregation-service/engine/window_math.h"
#include "aggregation-service/query/fake_aggregate_cache.h"
#include "aggregation-service/query/fake_aggregate_reader.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "lib/security/token_authenticator.h"
#include "lib/security/token_file.h"
#include "tests/aggregation-service/query/query_test_util.h"
#include "tests/support/stack.h"

namespace streammetrics::aggregation {
namespace {

using ::testing::HasSubstr;
using testing::kQueryT0;
using testing::MakeWindow;

class QueryServiceTest : public ::testing::Test {
 protected:
  void Start(QueryServiceOptions options = {}, security::CallGuard* guard = nullptr) {
    QueryHandlerDeps deps;
    deps.reader = &reader_;
    deps.cache = &cache_;
    deps.metrics = &metrics_;
    // The tests' windows are at fixed times: a clock a day after them keeps them retained.
    deps.clock = &clock_;
    handler_ = std::make_unique<QueryHandler>(QueryLimits(), deps);
    service_ = std::make_unique<QueryServiceImpl>(options, handler_.get(), &hub_, &metrics_, guard);
    grpc::ServerBuilder builder;
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = v1::QueryService::NewStub(server_->InProcessChannel(grpc::ChannelArguments()));
  }

  void TearDown() override {
    reader_.Hold(false);
    hub_.Close();
    if (server_ != nullptr) server_->Shutdown();
  }

  FakeAggregateReader reader_;
  FakeAggregateCache cache_;
  FakeClock clock_{kQueryT0 + absl::Hours(24)};
  QueryMetrics metrics_;
  WatchHub hub_;
  std::unique_ptr<QueryHandler> handler_;
  std::unique_ptr<QueryServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::QueryService::Stub> stub_;
};

TEST_F(QueryServiceTest, AnswersEachUnaryRpcWithTheHandlersResult) {
  ASSERT_NO_FATAL_FAILURE(Start());
  reader_.Put(MakeWindow("svc", "lat", {{"r", "eu"}}, v1::WINDOW_SIZE_1M, kQueryT0, {1, 2}));
  {
    v1::QueryAggregatesRequest r;
    r.set_service_id("svc");
    r.set_window_size(v1::WINDOW_SIZE_1M);
    *r.mutable_start() = TimeToProto(kQueryT0);
    *r.mutable_end() = TimeToProto(kQueryT0 + absl::Hours(1));
    grpc::ClientContext context;
    v1::QueryAggregatesResponse response;
    ASSERT_TRUE(stub_->QueryAggregates(&context, r, &response).ok());
    ASSERT_EQ(response.windows_size(), 1);
    EXPECT_EQ(response.windows(0).count(), 2u);
  }
  {
    v1::GetLatestRequest r;
    r.set_service_id("svc");
    r.set_metric_name("lat");
    (*r.mutable_tags())["r"] = "eu";
    r.set_window_size(v1::WINDOW_SIZE_1M);
    grpc::ClientContext context;
    v1::GetLatestResponse response;
    ASSERT_TRUE(stub_->GetLatest(&context, r, &response).ok());
    EXPECT_EQ(response.source(), v1::DATA_SOURCE_DATABASE);
    (*r.mutable_tags())["r"] = "us";
    grpc::ClientContext again;
    EXPECT_EQ(stub_->GetLatest(&again, r, &response).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  {
    v1::ListSeriesRequest r;
    r.set_service_id("svc");
    grpc::ClientContext context;
    v1::ListSeriesResponse response;
    ASSERT_TRUE(stub_->ListSeries(&context, r, &response).ok());
    EXPECT_EQ(response.series_size(), 1);
  }
  {
    v1::SummarizeRequest r;
    r.set_service_id("svc");
    r.set_metric_name("lat");
    *r.mutable_start() = TimeToProto(kQueryT0);
    *r.mutable_end() = TimeToProto(kQueryT0 + absl::Hours(1));
    grpc::ClientContext context;
    v1::SummarizeResponse response;
    ASSERT_TRUE(stub_->Summarize(&context, r, &response).ok());
    EXPECT_EQ(response.count(), 2u);
    EXPECT_EQ(response.sum(), 3);
  }
  EXPECT_EQ(metrics_.answered(QueryMetrics::kGetLatest, absl::StatusCode::kOk), 1);
  EXPECT_EQ(metrics_.answered(QueryMetrics::kGetLatest, absl::StatusCode::kNotFound), 1);
}

TEST_F(QueryServiceTest, ABadRequestIsInvalidArgumentWithTheSentence) {
  ASSERT_NO_FATAL_FAILURE(Start());
  v1::SummarizeRequest r;
  r.set_service_id("svc");
  grpc::ClientContext context;
  v1::SummarizeResponse response;
  grpc::Status status = stub_->Summarize(&context, r, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("metric_name is required"));
  EXPECT_EQ(metrics_.answered(QueryMetrics::kSummarize, absl::StatusCode::kInvalidArgument), 1);
}

TEST_F(QueryServiceTest, ACallBeyondTheWorkersQueueIsRefused) {
  QueryServiceOptions options;
  options.worker_threads = 1;
  options.max_queued_calls = 0;
  ASSERT_NO_FATAL_FAILURE(Start(options));
  v1::ListSeriesRequest r;
  r.set_service_id("svc");
  grpc::ClientContext context;
  v1::ListSeriesResponse response;
  grpc::Status status = stub_->ListSeries(&context, r, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("retry with backoff"));
  EXPECT_EQ(reader_.calls(), 0);
}

TEST_F(QueryServiceTest, WatchStreamsPublishedWindowsOfItsFilterUntilTheHubCloses) {
  ASSERT_NO_FATAL_FAILURE(Start());
  v1::WatchAggregatesRequest r;
  r.set_service_id("svc");
  r.set_window_size(v1::WINDOW_SIZE_1M);
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<v1::WindowAggregate>> reader =
      stub_->WatchAggregates(&context, r);
  ASSERT_TRUE(
      streammetrics::testing::PollUntil(absl::Seconds(10), [&] { return hub_.watchers() == 1; }));
  for (int m = 0; m < 5; ++m) {
    hub_.Publish(
        MakeWindow("svc", "lat", {}, v1::WINDOW_SIZE_1M, kQueryT0 + absl::Minutes(m), {1.0 * m}));
    hub_.Publish(MakeWindow("svc", "lat", {}, v1::WINDOW_SIZE_5M, kQueryT0, {1}));
    hub_.Publish(MakeWindow("other", "lat", {}, v1::WINDOW_SIZE_1M, kQueryT0, {1}));
  }
  for (int m = 0; m < 5; ++m) {
    v1::WindowAggregate w;
    ASSERT_TRUE(reader->Read(&w));
    EXPECT_EQ(w.series().service_id(), "svc");
    EXPECT_EQ(w.window_size(), v1::WINDOW_SIZE_1M);
    EXPECT_EQ(w.sum(), m);
    EXPECT_FALSE(w.has_sketch());
  }
  hub_.Close();
  v1::WindowAggregate w;
  EXPECT_FALSE(reader->Read(&w));
  grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(), HasSubstr("shutting down"));
}

TEST_F(QueryServiceTest, AWatchWithoutAServiceIsRefused) {
  ASSERT_NO_FATAL_FAILURE(Start());
  v1::WatchAggregatesRequest r;
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<v1::WindowAggregate>> reader =
      stub_->WatchAggregates(&context, r);
  v1::WindowAggregate w;
  EXPECT_FALSE(reader->Read(&w));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

// With a tokens file: calls need a token with the query scope, and what one caller may hold
// (watchers, queued calls) leaves room for the others.
class QueryServiceCallerTest : public QueryServiceTest {
 protected:
  void StartWithTokens(QueryServiceOptions options) {
    path_ = streammetrics::testing::UniqueTempPath("query_service_tokens");
    std::ofstream(path_, std::ios::trunc)
        << security::TokenFileLine("dash-token", "dashboard", 2) << "\n"
        << security::TokenFileLine("ops-token", "ops", 3) << "\n"
        << security::TokenFileLine("writer-token", "writer", 1) << "\n";
    auto tokens = security::TokenAuthenticator::Create({path_, absl::Seconds(1)}, &clock_);
    ASSERT_TRUE(tokens.ok()) << tokens.status();
    guard_ = std::make_unique<security::CallGuard>(*std::move(tokens), *metrics_.registry());
    ASSERT_NO_FATAL_FAILURE(Start(options, guard_.get()));
  }

  grpc::Status ListSeries(const std::string& token) {
    v1::ListSeriesRequest r;
    r.set_service_id("svc");
    grpc::ClientContext context;
    if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
    v1::ListSeriesResponse response;
    return stub_->ListSeries(&context, r, &response);
  }

  struct Watch {
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReader<v1::WindowAggregate>> reader;
  };
  std::unique_ptr<Watch> StartWatch(const std::string& token) {
    auto w = std::make_unique<Watch>();
    w->context.AddMetadata("authorization", "Bearer " + token);
    v1::WatchAggregatesRequest r;
    r.set_service_id("svc");
    r.set_window_size(v1::WINDOW_SIZE_1M);
    w->reader = stub_->WatchAggregates(&w->context, r);
    return w;
  }

  FakeClock clock_;
  std::string path_;
  std::unique_ptr<security::CallGuard> guard_;
};

TEST_F(QueryServiceCallerTest, TokensAndScopesDecideWhoMayQuery) {
  ASSERT_NO_FATAL_FAILURE(StartWithTokens({}));
  EXPECT_EQ(ListSeries("").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(ListSeries("forged").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  grpc::Status writer = ListSeries("writer-token");
  EXPECT_EQ(writer.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(writer.error_message(), HasSubstr("requires query"));
  EXPECT_TRUE(ListSeries("dash-token").ok());
  EXPECT_TRUE(ListSeries("ops-token").ok());
  EXPECT_EQ(reader_.calls(), 2);
  auto watch = StartWatch("writer-token");
  v1::WindowAggregate w;
  EXPECT_FALSE(watch->reader->Read(&w));
  EXPECT_EQ(watch->reader->Finish().error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(QueryServiceCallerTest, OneCallersWatchersLeaveRoomForOthers) {
  QueryServiceOptions options;
  options.max_watchers = 10;
  options.max_watchers_per_caller = 3;
  ASSERT_NO_FATAL_FAILURE(StartWithTokens(options));
  std::vector<std::unique_ptr<Watch>> mine;
  for (int i = 0; i < 3; ++i) mine.push_back(StartWatch("dash-token"));
  ASSERT_TRUE(
      streammetrics::testing::PollUntil(absl::Seconds(10), [&] { return hub_.watchers() == 3; }));
  auto fourth = StartWatch("dash-token");
  v1::WindowAggregate w;
  EXPECT_FALSE(fourth->reader->Read(&w));
  grpc::Status refused = fourth->reader->Finish();
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(refused.error_message(), HasSubstr("caller dashboard already holds its limit of 3"));
  auto other = StartWatch("ops-token");
  ASSERT_TRUE(
      streammetrics::testing::PollUntil(absl::Seconds(10), [&] { return hub_.watchers() == 4; }));
  hub_.Publish(MakeWindow("svc", "lat", {}, v1::WINDOW_SIZE_1M, kQueryT0, {1}));
  EXPECT_TRUE(other->reader->Read(&w));
  for (auto& m : mine) m->context.TryCancel();
  other->context.TryCancel();
}

TEST_F(QueryServiceCallerTest, OneCallersQueuedCallsLeaveRoomForOthers) {
  QueryServiceOptions options;
  options.worker_threads = 1;
  options.max_queued_calls = 16;
  options.max_queued_calls_per_caller = 2;
  ASSERT_NO_FATAL_FAILURE(StartWithTokens(options));
  reader_.Hold(true);  // the database is slow: calls pile up
  std::vector<std::future<grpc::Status>> pending;
  for (int i = 0; i < 2; ++i) {
    pending.push_back(std::async(std::launch::async, [this] { return ListSeries("dash-token"); }));
  }
  // Both admitted (one running, one queued) before the third is sent: otherwise the third could
  // take the second's place in the queue and wait behind the held reader forever.
  ASSERT_TRUE(streammetrics::testing::PollUntil(absl::Seconds(10), [&] {
    return reader_.started() == 1 && service_->CallsHeldBy("dashboard") == 2;
  }));
  // The caller's third call is refused at once; another caller's call waits its turn.
  grpc::Status third = ListSeries("dash-token");
  EXPECT_EQ(third.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(third.error_message(), HasSubstr("caller dashboard already holds its limit of 2"));
  auto other = std::async(std::launch::async, [this] { return ListSeries("ops-token"); });
  reader_.Hold(false);
  for (auto& p : pending) EXPECT_TRUE(p.get().ok());
  EXPECT_TRUE(other.get().ok());
}

}  // namespace
}  // namespace streammetrics::aggregation
