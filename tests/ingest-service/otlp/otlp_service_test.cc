// The OTLP door end to end in-process: a real gRPC server with OtlpMetricsService in front of
// FakeRecordSink, whose deliveries the tests complete by hand. Checks that an export is answered
// only once Kafka stored it, partial_success, the refusals' codes (malformed, too many points,
// exports in flight), UNAVAILABLE on a Kafka failure with a retry that makes the same records,
// and the wait for byte budget.
#include "ingest-service/otlp/otlp_service.h"

#include <future>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/impl/client_unary_call.h"
#include "gtest/gtest.h"
#include "lib/common/clock.h"
#include "lib/kafka/fake_record_sink.h"
#include "lib/security/call_guard.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.grpc.pb.h"
#include "tests/ingest-service/otlp/otlp_test_requests.h"
#include "tests/ingest-service/test_server.h"

namespace streammetrics::ingest::otlp {
namespace {

using ::testing::HasSubstr;
using testing::kNowNanos;
using testing::kSecond;
using testing::RequestBuilder;
namespace collector = opentelemetry::proto::collector::metrics::v1;

constexpr absl::Duration kWait = absl::Seconds(20);
constexpr uint64_t kT = kNowNanos - 10 * kSecond;

struct Answer {
  grpc::Status status;
  collector::ExportMetricsServiceResponse response;
};

class OtlpServiceTest : public ::testing::Test {
 protected:
  void Start(size_t max_points = 10000, size_t exports_per_caller = 0, size_t budget = 256 << 20) {
    budget_ = std::make_unique<ByteBudget>(budget);
    deps_.ingest.sink = &sink_;
    deps_.ingest.budget = budget_.get();
    deps_.ingest.clock = &clock_;
    deps_.ingest.metrics = &metrics_;
    deps_.ingest.guard = &guard_;
    deps_.ingest.rate = &rate_;
    exports_ = std::make_unique<security::CallerSlots>("OTLP exports", 0, exports_per_caller);
    deps_.exports = exports_.get();
    deps_.tracker = &tracker_;
    deps_.metrics = &otlp_metrics_;
    deps_.max_points_per_export = max_points;
    service_ = std::make_unique<OtlpMetricsService>(deps_);
    ingest::testing::TestServer served = ingest::testing::ServeInProcess(service_.get());
    ASSERT_NE(served.server, nullptr);
    server_ = std::move(served.server);
    channel_ = std::move(served.channel);
    stub_ = collector::MetricsService::NewStub(channel_);
  }

  void TearDown() override {
    sink_.SetAutoComplete(true);
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(10));
  }

  std::future<Answer> ExportAsync(const testing::ExportRequest& request) {
    return std::async(std::launch::async, [this, request] {
      grpc::ClientContext ctx;
      Answer a;
      a.status = stub_->Export(&ctx, request, &a.response);
      return a;
    });
  }

  static bool Answered(std::future<Answer>& f) {
    return f.wait_for(std::chrono::milliseconds(0)) == std::future_status::ready;
  }

  FakeClock clock_{absl::FromUnixNanos(static_cast<int64_t>(kNowNanos))};
  kafka::FakeRecordSink sink_;
  IngestMetrics metrics_;
  OtlpMetrics otlp_metrics_{*metrics_.registry()};
  security::CallGuard guard_{nullptr, *metrics_.registry()};
  security::CallerRateLimiter rate_{0, 0, &clock_};
  CumulativeTracker tracker_{100};
  std::unique_ptr<security::CallerSlots> exports_;
  std::unique_ptr<ByteBudget> budget_;
  OtlpDeps deps_;
  std::unique_ptr<OtlpMetricsService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<collector::MetricsService::Stub> stub_;
};

TEST_F(OtlpServiceTest, AnswersOnlyOnceKafkaStoredEveryPoint) {
  Start();
  RequestBuilder b;
  b.Gauge("g", kT, 1);
  b.Gauge("g", kT + 1, 2);
  auto answer = ExportAsync(b.request());
  ASSERT_TRUE(sink_.AwaitPending(1, kWait));
  EXPECT_FALSE(Answered(answer)) << "answered before Kafka confirmed anything";
  sink_.CompleteAll();
  const Answer a = answer.get();
  ASSERT_TRUE(a.status.ok()) << a.status.error_message();
  EXPECT_FALSE(a.response.has_partial_success());
  EXPECT_EQ(sink_.Delivered().size(), 2u);
  EXPECT_EQ(metrics_.events_accepted(), 2);
  EXPECT_EQ(otlp_metrics_.points("event"), 2);
  EXPECT_EQ(otlp_metrics_.exports(grpc::StatusCode::OK), 1);
}

TEST_F(OtlpServiceTest, PartialSuccessCountsAndExplainsRefusedPoints) {
  Start();
  sink_.SetAutoComplete(true);
  RequestBuilder b;
  b.Gauge("g", kT, 1);
  b.Summary("s", kT);
  b.Gauge("g", kT + 1, std::nan(""));
  b.Sum("c", testing::pm::AGGREGATION_TEMPORALITY_CUMULATIVE, true, 1, kT, 5);  // a baseline
  const Answer a = ExportAsync(b.request()).get();
  ASSERT_TRUE(a.status.ok()) << a.status.error_message();
  EXPECT_EQ(a.response.partial_success().rejected_data_points(), 2);
  EXPECT_THAT(a.response.partial_success().error_message(),
              HasSubstr("2 of 4 data points were rejected"));
  EXPECT_THAT(a.response.partial_success().error_message(), HasSubstr("is a Summary"));
  EXPECT_THAT(a.response.partial_success().error_message(), HasSubstr("NaN"));
  EXPECT_EQ(sink_.Delivered().size(), 3u);  // 1 event, 2 dead letters
  EXPECT_EQ(metrics_.events_rejected(v1::DEAD_LETTER_REASON_UNSUPPORTED_POINT), 1);
  EXPECT_EQ(metrics_.events_rejected(v1::DEAD_LETTER_REASON_NON_FINITE_VALUE), 1);
  EXPECT_EQ(otlp_metrics_.points("baseline"), 1);
  EXPECT_EQ(otlp_metrics_.points("rejected"), 2);
}

TEST_F(OtlpServiceTest, AnExportOfOnlyBaselinesIsAnsweredAtOnce) {
  Start();
  RequestBuilder b;
  b.Sum("c", testing::pm::AGGREGATION_TEMPORALITY_CUMULATIVE, true, 1, kT, 5);
  const Answer a = ExportAsync(b.request()).get();
  EXPECT_TRUE(a.status.ok()) << a.status.error_message();
  EXPECT_EQ(sink_.PendingBatches(), 0u);
}

TEST_F(OtlpServiceTest, MalformedRequestIsInvalidArgumentWithTheReason) {
  Start();
  grpc::ClientContext ctx;
  grpc::ByteBuffer response;
  const grpc::ByteBuffer request = ingest::testing::Message("\x0a\x05\x01");  // truncated
  const grpc::Status status = grpc::internal::BlockingUnaryCall<grpc::ByteBuffer, grpc::ByteBuffer>(
      channel_.get(),
      grpc::internal::RpcMethod("/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
                                grpc::internal::RpcMethod::NORMAL_RPC),
      &ctx, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("does not parse"));
  EXPECT_EQ(otlp_metrics_.exports(grpc::StatusCode::INVALID_ARGUMENT), 1);
}

TEST_F(OtlpServiceTest, TooManyPointsIsInvalidArgument) {
  Start(/*max_points=*/2);
  RequestBuilder b;
  for (uint64_t i = 0; i < 3; ++i) b.Gauge("g", kT + i, 1);
  const Answer a = ExportAsync(b.request()).get();
  EXPECT_EQ(a.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(a.status.error_message(),
              HasSubstr("holds 3 data points in 3 resources, scopes and metrics; the limit is 2"));
  EXPECT_EQ(sink_.PendingBatches(), 0u);
}

TEST_F(OtlpServiceTest, KafkaFailureIsUnavailableAndTheRetryMakesTheSameRecords) {
  Start();
  RequestBuilder b;
  b.Sum("c", testing::pm::AGGREGATION_TEMPORALITY_CUMULATIVE, true, 1, kT, 5);
  b.Gauge("g", kT, 1);
  sink_.SetAutoComplete(true);
  ASSERT_TRUE(ExportAsync(b.request()).get().status.ok());  // the cumulative baseline
  sink_.SetAutoComplete(false);
  RequestBuilder next;
  next.Sum("c", testing::pm::AGGREGATION_TEMPORALITY_CUMULATIVE, true, 1, kT + kSecond, 9);
  next.Gauge("g", kT + kSecond, 2);
  auto failed = ExportAsync(next.request());
  ASSERT_TRUE(sink_.AwaitPending(1, kWait));
  sink_.CompleteOldest(
      [](size_t i) { return i == 0 ? absl::UnavailableError("broker down") : absl::OkStatus(); });
  const Answer a = failed.get();
  EXPECT_EQ(a.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(a.status.error_message(), HasSubstr("did not confirm 1 of 2"));
  EXPECT_THAT(a.status.error_message(), HasSubstr("counted once"));

  const size_t before = sink_.Delivered().size();
  sink_.SetAutoComplete(true);
  ASSERT_TRUE(ExportAsync(next.request()).get().status.ok());
  const std::vector<kafka::Record> delivered = sink_.Delivered();
  ASSERT_EQ(delivered.size(), before + 2);
  // The gauge delivered by the failed export and by its retry: identical keys and values.
  const kafka::Record& first_gauge = delivered[before - 1];
  const kafka::Record& retried_gauge = delivered[before + 1];
  EXPECT_EQ(first_gauge.headers, retried_gauge.headers);
  EXPECT_EQ(first_gauge.value, retried_gauge.value);
  // The cumulative increase, lost by Kafka the first time, is sent again: 9 - 5.
  v1::MetricEvent increase;
  ASSERT_TRUE(increase.ParseFromString(delivered[before].value));
  EXPECT_EQ(increase.value(), 4);
}

TEST_F(OtlpServiceTest, ExportsInFlightPerCallerAreBounded) {
  Start(10000, /*exports_per_caller=*/1);
  RequestBuilder b;
  b.Gauge("g", kT, 1);
  auto first = ExportAsync(b.request());
  ASSERT_TRUE(sink_.AwaitPending(1, kWait));
  const Answer second = ExportAsync(b.request()).get();
  EXPECT_EQ(second.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(second.status.error_message(), HasSubstr("retry in"));
  sink_.CompleteAll();
  EXPECT_TRUE(first.get().status.ok());
  // The slot is free as soon as the answer is: the next export is admitted at once.
  sink_.SetAutoComplete(true);
  const grpc::Status third = ExportAsync(b.request()).get().status;
  EXPECT_TRUE(third.ok()) << third.error_message();
}

TEST_F(OtlpServiceTest, WaitsForByteBudgetBeforeSending) {
  Start(10000, 0, /*budget=*/1000);
  budget_->Acquire(1000);  // spent by someone else
  RequestBuilder b;
  b.Gauge("g", kT, 1);
  sink_.SetAutoComplete(true);
  auto answer = ExportAsync(b.request());
  // Parked: its waiter is registered (so the release below is what sends it).
  for (const absl::Time deadline = absl::Now() + kWait;
       budget_->waiters() == 0 && absl::Now() < deadline;) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_EQ(budget_->waiters(), 1u);
  EXPECT_EQ(sink_.Delivered().size(), 0u);
  EXPECT_FALSE(Answered(answer));
  budget_->Release(1000);
  EXPECT_TRUE(answer.get().status.ok());
  EXPECT_EQ(sink_.Delivered().size(), 1u);
}

TEST_F(OtlpServiceTest, ACancelledExportWaitingForRoomIsAnsweredAndSendsNothing) {
  Start(10000, /*exports_per_caller=*/1, /*budget=*/1000);
  budget_->Acquire(1000);
  RequestBuilder b;
  b.Gauge("g", kT, 1);
  auto cancelled = std::async(std::launch::async, [&] {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(300));
    collector::ExportMetricsServiceResponse response;
    return stub_->Export(&ctx, b.request(), &response);
  });
  EXPECT_EQ(cancelled.get().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  // The server saw the cancel and answered at once, before any room appeared.
  for (const absl::Time deadline = absl::Now() + kWait;
       otlp_metrics_.exports(grpc::StatusCode::CANCELLED) == 0 && absl::Now() < deadline;) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(otlp_metrics_.exports(grpc::StatusCode::CANCELLED), 1);
  // Its slot is free (the caller's only one), and it sent nothing when room came.
  budget_->Release(1000);
  sink_.SetAutoComplete(true);
  const grpc::Status next = ExportAsync(b.request()).get().status;
  EXPECT_TRUE(next.ok()) << next.error_message();
  EXPECT_EQ(sink_.Delivered().size(), 1u);
}

TEST_F(OtlpServiceTest, ParkedExportsWokenTogetherEachWaitForRoomOfTheirOwn) {
  Start(10000, 0, /*budget=*/1);
  budget_->Acquire(1);
  RequestBuilder b;
  b.Gauge("g", kT, 1);
  auto first = ExportAsync(b.request());
  RequestBuilder c;
  c.Gauge("h", kT, 1);
  auto second = ExportAsync(c.request());
  for (const absl::Time deadline = absl::Now() + kWait;
       budget_->waiters() < 2 && absl::Now() < deadline;) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_EQ(budget_->waiters(), 2u);
  budget_->Release(1);
  // One took the room; the other parked again until the first's delivery gave it back.
  ASSERT_TRUE(sink_.AwaitPending(1, kWait));
  EXPECT_EQ(sink_.PendingBatches(), 1u);
  EXPECT_EQ(budget_->waiters(), 1u);
  // The first's delivery gives the room back, and the second goes.
  sink_.SetAutoComplete(true);
  EXPECT_TRUE(first.get().status.ok());
  EXPECT_TRUE(second.get().status.ok());
  EXPECT_EQ(sink_.Delivered().size(), 2u);
}

}  // namespace
}  // namespace streammetrics::ingest::otlp
