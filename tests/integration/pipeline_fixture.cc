// PipelineTest: see the header.
#include "tests/integration/pipeline_fixture.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "tests/support/stack.h"
#include "tools/loadgen/report.h"
#include "tools/loadgen/verifier.h"

namespace streammetrics::testing {

void PipelineTest::SetUp() {
  run_id_ = absl::StrCat("e2e-", getpid(), "-", absl::ToUnixMicros(absl::Now()) % 100000000);
  events_ = std::make_unique<ScopedTopic>("e2e-events", 6);
  dead_ = std::make_unique<ScopedTopic>("e2e-dead", 3);
  ASSERT_TRUE(events_->ok() && dead_->ok());
  ASSERT_NO_FATAL_FAILURE(StartIngest(&ingest_));
  absl::StatusOr<loadgen::SeriesCatalog> catalog = loadgen::SeriesCatalog::Create(
      {.run_id = run_id_, .services = 4, .metrics = 8, .tag_sets = 10});
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  catalog_.emplace(*std::move(catalog));
}

void PipelineTest::TearDown() {
  if (aggregator_ != nullptr) {
    EXPECT_EQ(aggregator_->Stop(SIGTERM), 0);
  }
  if (ingest_ != nullptr) {
    EXPECT_EQ(ingest_->Stop(SIGTERM), 0);
  }
}

void PipelineTest::StartIngest(std::unique_ptr<IngestChild>* out) {
  *out = std::make_unique<IngestChild>(events_->name(), dead_->name(), IngestFlags(), client_);
  ASSERT_TRUE((*out)->AwaitServing(absl::Seconds(60))) << "the ingest service did not start";
}

// A killed member holds its partitions until its session times out: 6 s instead of 45 s.
void PipelineTest::StartAggregator(std::unique_ptr<AggregatorChild>* out) {
  std::vector<std::string> flags = {
      absl::StrCat("--idle_after=", absl::FormatDuration(idle_after_)),
      "--dead_letter_topic=" + dead_->name(),
      "--kafka_consumer_properties=session.timeout.ms=6000,heartbeat.interval.ms=500"};
  for (std::string& f : AggregatorFlags()) flags.push_back(std::move(f));
  *out = std::make_unique<AggregatorChild>(events_->name(), "group-" + run_id_, flags);
  std::shared_ptr<grpc::Channel> channel = QueryChannel(out->get());
  ASSERT_NE(channel, nullptr);
  ASSERT_TRUE(
      channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(60)))
      << "the aggregation service did not start";
}

std::shared_ptr<grpc::Channel> PipelineTest::QueryChannel(const AggregatorChild* aggregator) const {
  if (aggregator == nullptr) aggregator = aggregator_.get();
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      security::MakeChannel(aggregator->query_address(), client_);
  EXPECT_TRUE(channel.ok()) << channel.status();
  return channel.ok() ? *channel : nullptr;
}

loadgen::RunOptions PipelineTest::Load(int64_t events, double rate,
                                       const std::string& target) const {
  loadgen::RunOptions o;
  o.target = target;
  o.security = client_;
  o.security.token = ingest_token_;
  o.run_id = run_id_;
  o.streams = 4;
  o.rate = rate;
  o.events = events;
  o.duration = absl::Minutes(10);  // the count ends the run
  o.invalid_fraction = 0.01;
  o.time_offset = kTimeOffset;
  return o;
}

uint64_t PipelineTest::Acked() const {
  const loadgen::LedgerCounts c = ledger_.counts();
  return c.events_accepted + c.events_rejected_as_expected;
}

void PipelineTest::RunLoad(const loadgen::RunOptions& options,
                           const std::function<void(loadgen::LoadRunner&)>& during,
                           AggregatorStart start) {
  loadgen::LoadRunner runner(options, &*catalog_, &values_, &ledger_);
  absl::Status run_status;
  std::thread run([&] { run_status = runner.Run(); });
  const bool flowing = PollUntil(kStep, [&] { return Acked() >= 1000; });
  if (flowing) {
    if (start == AggregatorStart::kBeforeDuring) StartAggregator();
    if (!HasFatalFailure() && during) during(runner);
    if (start == AggregatorStart::kAfterDuring && !HasFatalFailure()) StartAggregator();
  }
  if (!flowing || HasFatalFailure()) runner.Stop();
  run.join();
  ASSERT_TRUE(flowing) << "no acks from the ingest service";
  ASSERT_TRUE(run_status.ok()) << run_status;
  totals_ = runner.totals();
  const loadgen::LedgerCounts c = ledger_.counts();
  EXPECT_EQ(totals_.events_sent, static_cast<uint64_t>(options.events));
  // The load generator's own verdict: nothing unacked, given up or refused unexpectedly.
  EXPECT_THAT(loadgen::LoadProblems(totals_, c), ::testing::IsEmpty());
  EXPECT_EQ(c.events_accepted + c.events_rejected_as_expected, totals_.events_sent);
}

void PipelineTest::ExpectEveryWindowExact() {
  ASSERT_NE(aggregator_, nullptr);
  loadgen::GrpcWindowQuery query(QueryChannel(), absl::Seconds(30), query_token_);
  loadgen::VerifyOptions options;
  options.services = catalog_->services();
  options.timeout = absl::Minutes(3);
  options.poll_interval = absl::Seconds(1);
  std::string last;
  options.on_attempt = [&last](const loadgen::VerifyReport& r) {
    // Progress for the test log, when it changes.
    std::string line = absl::StrCat("verify: ", r.windows_equal, " of ", r.windows_expected,
                                    " windows final and equal, ", r.windows_not_final,
                                    " not final, ", r.windows_different, " different, ",
                                    r.windows_missing, " missing, ", r.windows_extra, " extra");
    if (line != last) std::fprintf(stderr, "%s\n", line.c_str());
    last = std::move(line);
  };
  absl::StatusOr<loadgen::VerifyReport> report = Verify(ledger_, query, options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->passed()) << loadgen::VerifyTable(*report);
  EXPECT_EQ(report->events_observed, ledger_.counts().events_accepted);
  EXPECT_GT(report->windows_expected, 0u);
}

}  // namespace streammetrics::testing
