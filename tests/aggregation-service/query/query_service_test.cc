// QueryServiceImpl over an in-process gRPC channel, with the fake reader and cache: each RPC
// answers what the handler decides with the right gRPC code, calls beyond the workers' queue are
// refused with RESOURCE_EXHAUSTED, and watch streams carry published windows until the hub
// closes.
#include "aggregation-service/query/query_service.h"

#include <memory>
#include <thread>
#include <vector>

#include "aggregation-service/engine/window_math.h"
#include "aggregation-service/query/fake_aggregate_cache.h"
#include "aggregation-service/query/fake_aggregate_reader.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/aggregation-service/query/query_test_util.h"
#include "tests/support/stack.h"

namespace streammetrics::aggregation {
namespace {

using ::testing::HasSubstr;
using testing::kQueryT0;
using testing::MakeWindow;

class QueryServiceTest : public ::testing::Test {
 protected:
  void Start(QueryServiceOptions options = {}) {
    QueryHandlerDeps deps;
    deps.reader = &reader_;
    deps.cache = &cache_;
    deps.metrics = &metrics_;
    handler_ = std::make_unique<QueryHandler>(QueryLimits(), deps);
    service_ = std::make_unique<QueryServiceImpl>(options, handler_.get(), &hub_, &metrics_);
    grpc::ServerBuilder builder;
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = v1::QueryService::NewStub(server_->InProcessChannel(grpc::ChannelArguments()));
  }

  void TearDown() override {
    hub_.Close();
    if (server_ != nullptr) server_->Shutdown();
  }

  FakeAggregateReader reader_;
  FakeAggregateCache cache_;
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

}  // namespace
}  // namespace streammetrics::aggregation
