// Who may stream into the IngestService, how many streams, how fast: the service in process with
// a real CallGuard over a tokens file, per-caller stream slots and a rate limiter on a FakeClock,
// in front of a FakeRecordSink.
#include <filesystem>
#include <fstream>

#include "absl/strings/numbers.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "ingest-service/ingest_service.h"
#include "lib/common/clock.h"
#include "lib/kafka/fake_record_sink.h"
#include "lib/security/token_file.h"
#include "tests/ingest-service/test_events.h"
#include "tests/ingest-service/test_server.h"
#include "tests/support/stack.h"

namespace streammetrics::ingest {
namespace {

using testing::Batch;
using ::testing::HasSubstr;

constexpr absl::Duration kWait = absl::Seconds(20);

class IngestAdmissionTest : public ::testing::Test {
 protected:
  void Start(size_t streams_per_caller = 0, double rate = 0) {
    tokens_path_ = streammetrics::testing::UniqueTempPath("ingest_admission_tokens");
    std::ofstream(tokens_path_, std::ios::trunc)
        << security::TokenFileLine("writer-token", "writer", 1) << "\n"
        << security::TokenFileLine("other-token", "other", 1) << "\n"
        << security::TokenFileLine("reader-token", "reader", 2) << "\n";
    auto tokens = security::TokenAuthenticator::Create({tokens_path_, absl::Seconds(1)}, &clock_);
    ASSERT_TRUE(tokens.ok()) << tokens.status();
    guard_ = std::make_unique<security::CallGuard>(*std::move(tokens), *metrics_.registry());
    streams_ = std::make_unique<security::CallerSlots>("ingest streams", 0, streams_per_caller);
    rate_ = std::make_unique<security::CallerRateLimiter>(rate, rate, &clock_);
    sink_.SetAutoComplete(true);
    deps_.sink = &sink_;
    deps_.budget = &budget_;
    deps_.clock = &clock_;
    deps_.metrics = &metrics_;
    deps_.guard = guard_.get();
    deps_.streams = streams_.get();
    deps_.rate = rate_.get();
    service_ = std::make_unique<IngestServiceImpl>(deps_);
    testing::TestServer served = testing::ServeInProcess(service_.get());
    ASSERT_NE(served.server, nullptr);
    server_ = std::move(served.server);
    stub_ = std::move(served.stub);
  }

  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(10));
    std::filesystem::remove(tokens_path_);
  }

  // One StreamMetrics call with `token` ("" for none) sending `batches`.
  grpc::Status Stream(const std::string& token, std::vector<v1::MetricBatch> batches,
                      v1::IngestSummary* summary = nullptr) {
    grpc::ClientContext ctx;
    if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
    v1::IngestSummary ignored;
    auto writer = stub_->StreamMetrics(&ctx, summary != nullptr ? summary : &ignored);
    for (const auto& b : batches) writer->Write(b);
    writer->WritesDone();
    return writer->Finish();
  }

  // An IngestStream call of `token`, started and left open.
  struct OpenStream {
    grpc::ClientContext ctx;
    std::unique_ptr<grpc::ClientReaderWriter<v1::MetricBatch, v1::BatchAck>> rw;
  };
  std::unique_ptr<OpenStream> Open(const std::string& token) {
    auto s = std::make_unique<OpenStream>();
    s->ctx.AddMetadata("authorization", "Bearer " + token);
    s->rw = stub_->IngestStream(&s->ctx);
    return s;
  }

  // Ends a stream the server refused; its status and retry-after trailer.
  static std::pair<grpc::Status, int64_t> Refusal(OpenStream& s) {
    v1::BatchAck ack;
    EXPECT_FALSE(s.rw->Read(&ack));
    grpc::Status status = s.rw->Finish();
    int64_t retry_ms = -1;
    const auto& trailers = s.ctx.GetServerTrailingMetadata();
    if (auto it = trailers.find(kRetryAfterTrailer); it != trailers.end()) {
      EXPECT_TRUE(absl::SimpleAtoi(std::string(it->second.data(), it->second.size()), &retry_ms));
    }
    return {status, retry_ms};
  }

  absl::Time Now() const { return clock_.Now(); }

  FakeClock clock_;
  std::string tokens_path_;
  kafka::FakeRecordSink sink_;
  IngestMetrics metrics_;
  ByteBudget budget_{256 << 20};
  std::unique_ptr<security::CallGuard> guard_;
  std::unique_ptr<security::CallerSlots> streams_;
  std::unique_ptr<security::CallerRateLimiter> rate_;
  IngestDeps deps_;
  std::unique_ptr<IngestServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::IngestService::Stub> stub_;
};

TEST_F(IngestAdmissionTest, MissingForgedAndWrongScopeTokensAreRefusedBeforeAnyRead) {
  Start();
  grpc::Status none = Stream("", {Batch(Now(), 1, 3)});
  EXPECT_EQ(none.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(none.error_message(), HasSubstr("authorization: Bearer"));
  grpc::Status forged = Stream("writer-tokeN", {Batch(Now(), 1, 3)});
  EXPECT_EQ(forged.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  grpc::Status reader = Stream("reader-token", {Batch(Now(), 1, 3)});
  EXPECT_EQ(reader.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(reader.error_message(), HasSubstr("requires ingest"));
  EXPECT_TRUE(sink_.Delivered().empty());
  EXPECT_EQ(metrics_.batches_received(), 0);
  EXPECT_EQ(guard_->refused(security::AuthRefusal::kMissingToken), 1);
  EXPECT_EQ(guard_->refused(security::AuthRefusal::kUnknownToken), 1);
  EXPECT_EQ(guard_->refused(security::AuthRefusal::kWrongScope), 1);
}

TEST_F(IngestAdmissionTest, EveryRecordNamesTheCaller) {
  Start();
  v1::IngestSummary summary;
  grpc::Status ok = Stream("writer-token", {Batch(Now(), 1, 3, /*nan_at=*/1)}, &summary);
  ASSERT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_EQ(summary.events_accepted(), 2u);
  std::vector<kafka::Record> records = sink_.Delivered();
  ASSERT_EQ(records.size(), 3u);
  for (const kafka::Record& r : records) {
    EXPECT_THAT(r.headers, ::testing::Contains(
                               std::make_pair(std::string(kCallerHeader), std::string("writer"))));
  }
  EXPECT_EQ(metrics_.ForCaller("writer").events->Value(), 3);
}

TEST_F(IngestAdmissionTest, ACallerAtItsStreamLimitIsRefusedOthersAreNot) {
  Start(/*streams_per_caller=*/2);
  auto a = Open("writer-token");
  auto b = Open("writer-token");
  // Both admitted: their first batches are acked.
  for (auto* s : {a.get(), b.get()}) {
    ASSERT_TRUE(s->rw->Write(Batch(Now(), 1, 1)));
    v1::BatchAck ack;
    ASSERT_TRUE(s->rw->Read(&ack));
    EXPECT_EQ(ack.status(), v1::ACK_STATUS_DURABLE);
  }
  auto third = Open("writer-token");
  auto [status, retry_ms] = Refusal(*third);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("caller writer already holds its limit of 2"));
  EXPECT_EQ(retry_ms, 1000);
  EXPECT_EQ(metrics_.streams_refused(IngestMetrics::StreamRefusal::kCallerStreams), 1);

  auto other = Open("other-token");
  ASSERT_TRUE(other->rw->Write(Batch(Now(), 1, 1, -1, "other-client")));
  v1::BatchAck ack;
  ASSERT_TRUE(other->rw->Read(&ack));

  // Closing one of the caller's streams frees its slot.
  a->rw->WritesDone();
  EXPECT_TRUE(a->rw->Finish().ok());
  EXPECT_TRUE(
      streammetrics::testing::PollUntil(kWait, [&] { return streams_->held_by("writer") == 1; }));
  auto again = Open("writer-token");
  ASSERT_TRUE(again->rw->Write(Batch(Now(), 5, 1)));
  ASSERT_TRUE(again->rw->Read(&ack));
  for (auto* s : {b.get(), other.get(), again.get()}) {
    s->rw->WritesDone();
    EXPECT_TRUE(s->rw->Finish().ok());
  }
}

TEST_F(IngestAdmissionTest, ACallerOverItsRateWaitsAndCannotOpenMoreStreams) {
  Start(/*streams_per_caller=*/0, /*rate=*/100);
  auto s = Open("writer-token");
  v1::BatchAck ack;
  // 100 events: the burst. 250 more: the bucket is 2.5 s in debt, so the stream waits.
  ASSERT_TRUE(s->rw->Write(Batch(Now(), 1, 100)));
  ASSERT_TRUE(s->rw->Read(&ack));
  ASSERT_TRUE(s->rw->Write(Batch(Now(), 2, 250)));
  ASSERT_TRUE(s->rw->Read(&ack));
  EXPECT_EQ(ack.status(), v1::ACK_STATUS_DURABLE);
  const IngestMetrics::CallerCounters writer = metrics_.ForCaller("writer");
  // The stream parks after handing the batch on, so possibly after its ack is read. The wait is
  // counted as it passes (the stream looks again every 250 ms of real time).
  EXPECT_TRUE(
      streammetrics::testing::PollUntil(kWait, [&] { return writer.paced_seconds->Value() > 0; }));

  // A new stream would only add to the debt: refused, with how long to wait.
  auto more = Open("writer-token");
  auto [status, retry_ms] = Refusal(*more);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("over its event rate limit"));
  EXPECT_EQ(retry_ms, 2500);
  EXPECT_EQ(metrics_.streams_refused(IngestMetrics::StreamRefusal::kCallerRate), 1);
  // Another caller is not slowed.
  v1::IngestSummary summary;
  EXPECT_TRUE(Stream("other-token", {Batch(Now(), 1, 100, -1, "other-client")}, &summary).ok());
  EXPECT_EQ(summary.events_accepted(), 100u);

  // Once the debt is paid (the clock moves), the paced stream reads its next batch.
  ASSERT_TRUE(s->rw->Write(Batch(Now(), 3, 1)));
  clock_.Advance(absl::Seconds(3));
  ASSERT_TRUE(s->rw->Read(&ack));
  EXPECT_EQ(ack.sequence(), 3u);
  s->rw->WritesDone();
  EXPECT_TRUE(s->rw->Finish().ok());
}

TEST_F(IngestAdmissionTest, DeliveriesThatCompleteWhileAStreamIsPacedDoNotMultiplyItsWaits) {
  Start(/*streams_per_caller=*/0, /*rate=*/100);
  sink_.SetAutoComplete(false);
  auto s = Open("writer-token");
  // Three batches in flight; the third puts the caller 1 s in debt (the clock stands still).
  ASSERT_TRUE(s->rw->Write(Batch(Now(), 1, 50)));
  ASSERT_TRUE(s->rw->Write(Batch(Now(), 2, 40)));
  ASSERT_TRUE(s->rw->Write(Batch(Now(), 3, 110)));
  ASSERT_TRUE(sink_.AwaitPending(3, kWait));
  const IngestMetrics::CallerCounters writer = metrics_.ForCaller("writer");
  EXPECT_TRUE(
      streammetrics::testing::PollUntil(kWait, [&] { return writer.paced_waits->Value() >= 1; }));
  // Each delivery would resume the stream; it stays parked on its one alarm instead.
  sink_.CompleteAll();
  v1::BatchAck ack;
  for (uint64_t seq : {1, 2, 3}) {
    ASSERT_TRUE(s->rw->Read(&ack));
    EXPECT_EQ(ack.sequence(), seq);
  }
  // Each wait of 250 ms that passed began one more (the clock stands still), and the first one
  // began before them: waits <= passed + 1 (+1 for a wait beginning while this reads). A stream
  // that began a wait on every delivery (the alarm re-armed instead of left alone) would count
  // three more; one whose cancelled alarm resumed it would count hundreds.
  EXPECT_TRUE(streammetrics::testing::PollUntil(
      kWait, [&] { return writer.paced_seconds->Value() >= 0.25; }));
  const double waits = writer.paced_waits->Value();  // before the seconds: see the bound above
  const double passed = writer.paced_seconds->Value() / 0.25;
  EXPECT_LE(waits, passed + 2);

  // The debt paid, the next batch is read and acked.
  ASSERT_TRUE(s->rw->Write(Batch(Now(), 4, 1)));
  clock_.Advance(absl::Seconds(3));
  ASSERT_TRUE(sink_.AwaitPending(1, kWait));
  sink_.CompleteAll();
  ASSERT_TRUE(s->rw->Read(&ack));
  EXPECT_EQ(ack.sequence(), 4u);
  s->rw->WritesDone();
  EXPECT_TRUE(s->rw->Finish().ok());
}

}  // namespace
}  // namespace streammetrics::ingest
