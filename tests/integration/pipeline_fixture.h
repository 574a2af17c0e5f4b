// PipelineTest: the fixture of the end-to-end tests. streammetrics-loadgen's parts (client
// library, ledger, verification) stream load through the real ingest binary into the real
// 3-broker Kafka, the real aggregation binary counts it into PostgreSQL, and every 1- and 5-minute
// window QueryService returns must equal what the ingest service acknowledged: nothing lost,
// nothing counted twice.
//
// Events are stamped six minutes before they are sent (RunOptions::time_offset): more than a
// 5-minute window plus the allowed lateness, so every window, 5-minute ones included, can be
// final soon after the load ends (idle partitions advance to now - lateness) instead of up to five
// and a half minutes later. --idle_after (15 s by default; longer where a test stalls partitions
// on purpose) keeps a stalled partition from being advanced by wall clock, which would make its
// backdated events late.
#ifndef STREAMMETRICS_TESTS_INTEGRATION_PIPELINE_FIXTURE_H_
#define STREAMMETRICS_TESTS_INTEGRATION_PIPELINE_FIXTURE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "lib/security/client_security.h"
#include "tests/integration/aggregation_harness.h"
#include "tests/integration/ingest_child.h"
#include "tests/support/kafka_topics.h"
#include "tools/loadgen/ledger.h"
#include "tools/loadgen/load_runner.h"
#include "tools/loadgen/run_summary.h"
#include "tools/loadgen/series_catalog.h"
#include "tools/loadgen/value_distribution.h"

namespace streammetrics::testing {

inline constexpr absl::Duration kTimeOffset = absl::Minutes(6);
inline constexpr absl::Duration kStep = absl::Seconds(90);  // deadline of each wait for progress

class PipelineTest : public ::testing::Test {
 protected:
  // Topics of the test's own, one ingest service serving, the series catalog.
  void SetUp() override;
  // Every process still running gets SIGTERM and must exit 0.
  void TearDown() override;

  // What a variant adds to the services' flags (SetUp starts the ingest service with them).
  virtual std::vector<std::string> IngestFlags() { return {}; }
  virtual std::vector<std::string> AggregatorFlags() { return {}; }

  // Starts an ingest service more, on the test's topics, into *out; a fatal failure when it does
  // not serve within a minute.
  void StartIngest(std::unique_ptr<IngestChild>* out);
  // Starts an aggregation service more, in the test's consumer group, into *out; a fatal failure
  // when its QueryService does not answer within a minute.
  void StartAggregator(std::unique_ptr<AggregatorChild>* out);
  void StartAggregator() { StartAggregator(&aggregator_); }

  // The QueryService channel of `aggregator` (aggregator_ by default), with the test's TLS.
  std::shared_ptr<grpc::Channel> QueryChannel(const AggregatorChild* aggregator = nullptr) const;

  // A counted run at `rate` events/s to `target` (one address, or several comma-separated).
  loadgen::RunOptions Load(int64_t events, double rate, const std::string& target) const;
  // Events acked so far (accepted, and rejected as the load intended).
  uint64_t Acked() const;

  // When RunLoad starts aggregator_, relative to `during`.
  enum class AggregatorStart {
    kBeforeDuring,  // `during` acts on a running aggregator
    kAfterDuring,   // `during` acts on the load alone: it never waits for an aggregator's start,
                    // which on a busy 2-core machine can take longer than the load lasts
  };

  // Runs `options` to the end. The aggregator starts once load flows (an aggregator idle
  // before the first record would advance its partitions past the backdated events); `during`
  // acts on the pipeline while the load goes on.
  void RunLoad(const loadgen::RunOptions& options,
               const std::function<void(loadgen::LoadRunner&)>& during,
               AggregatorStart start = AggregatorStart::kBeforeDuring);

  // Every window aggregator_'s QueryService returns for the run's services equals the ledger,
  // and is final.
  void ExpectEveryWindowExact();

  // How the test's clients reach the services: TLS settings, and the tokens of the two scopes.
  security::ClientSecurityConfig client_;
  std::string ingest_token_;
  std::string query_token_;
  // Longer than any stall a test causes on purpose (see the file comment).
  absl::Duration idle_after_ = absl::Seconds(15);
  std::string run_id_;
  std::unique_ptr<ScopedTopic> events_;
  std::unique_ptr<ScopedTopic> dead_;
  std::unique_ptr<IngestChild> ingest_;
  std::unique_ptr<AggregatorChild> aggregator_;
  std::optional<loadgen::SeriesCatalog> catalog_;  // 320 series under the run's services
  loadgen::ValueDistribution values_ = *loadgen::ValueDistribution::Parse("lognormal:3:1");
  loadgen::Ledger ledger_{kTimeOffset};
  loadgen::RunTotals totals_;
};

}  // namespace streammetrics::testing

#endif  // STREAMMETRICS_TESTS_INTEGRATION_PIPELINE_FIXTURE_H_
