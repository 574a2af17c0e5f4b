// PostgresAggregateStore when the database fails: bad configuration, an unreachable server, a
// session terminated between calls or inside a checkpoint, a statement timeout, a PostgreSQL
// restart; and the time a checkpoint of 10,000 windows takes (printed, not asserted).
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/postgres_store_fixture.h"

namespace streammetrics::aggregation {
namespace {

using ::streammetrics::aggregation::testing::kT0;
using ::streammetrics::aggregation::testing::Progress;
using ::streammetrics::aggregation::testing::Record;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

using PostgresAggregateStoreTest = ::streammetrics::aggregation::testing::PostgresStoreFixture;
// Stops the shared server: runs alone (tests/CMakeLists.txt).
using PostgresAggregateStoreFaultTest = PostgresAggregateStoreTest;

TEST_F(PostgresAggregateStoreTest, BadConfigAndUnreachableServerAreReported) {
  PostgresStoreConfig config;
  config.conninfo = "postgresql://[broken";
  EXPECT_TRUE(absl::IsInvalidArgument(PostgresAggregateStore::Create(config).status()));
  config.conninfo = streammetrics::testing::PostgresUrl();
  config.consumer_group = "";
  EXPECT_TRUE(absl::IsInvalidArgument(PostgresAggregateStore::Create(config).status()));
  // A database without the schema (the server's maintenance database): the statements do not
  // prepare.
  config.consumer_group = group_;
  const std::string url = streammetrics::testing::PostgresUrl();
  config.conninfo = url.substr(0, url.rfind('/')) + "/postgres";
  if (url.find("@127.0.0.1:55432/") != std::string::npos) {
    absl::Status status = PostgresAggregateStore::Create(config).status();
    EXPECT_TRUE(absl::IsFailedPrecondition(status)) << status;
  }
  // Port 1 on the loopback: refused at once.
  config.consumer_group = group_;
  config.conninfo = "postgresql://streammetrics@127.0.0.1:1/streammetrics";
  absl::Status status = PostgresAggregateStore::Create(config).status();
  EXPECT_TRUE(absl::IsUnavailable(status)) << status;
}

TEST_F(PostgresAggregateStoreTest, TerminatedSessionIsReplacedAndNothingIsLost) {
  ASSERT_TRUE(store_->ClaimPartition(P(0)).ok());
  PartitionCheckpoint cp = Progress(P(0), 1, 10);
  cp.delta.windows = {Window({.metric = "before"})};
  ASSERT_TRUE(store_->Checkpoint({cp}).ok());

  const std::vector<std::string> pids = StorePids();
  ASSERT_THAT(pids, SizeIs(1));
  EXPECT_THAT(Rows("SELECT pg_terminate_backend($1::int)", {pids[0]}), ElementsAre("t"));
  ASSERT_TRUE(streammetrics::testing::PollUntil(absl::Seconds(10), [&] {
    return Rows("SELECT 1 FROM pg_stat_activity WHERE pid = $1::int", {pids[0]}).empty();
  }));

  cp = Progress(P(0), 1, 20);
  cp.delta.windows = {Window({.metric = "after"})};
  // Either the store notices the closed session before using it, or this call fails with
  // Unavailable having written nothing and the next one reconnects.
  absl::StatusOr<CheckpointResult> result = store_->Checkpoint({cp});
  std::cout << "[   INFO   ] first call after it: " << result.status() << "\n";
  if (!result.ok()) {
    EXPECT_TRUE(absl::IsUnavailable(result.status())) << result.status();
    result = store_->Checkpoint({cp});
  }
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(result->fenced, IsEmpty());
  EXPECT_THAT(StoredWindows(), ElementsAre("after|1m|3|1|f", "before|1m|3|1|f"));
  EXPECT_THAT(Offsets(P(0)), ElementsAre(absl::StrCat("1|20|", absl::ToUnixSeconds(kT0))));
  EXPECT_THAT(StorePids(), SizeIs(1));
  EXPECT_NE(StorePids(), pids);
}

TEST_F(PostgresAggregateStoreTest, SessionTerminatedMidCheckpointWritesNothing) {
  ASSERT_TRUE(store_->ClaimPartition(P(0)).ok());
  const std::vector<std::string> pids = StorePids();
  ASSERT_THAT(pids, SizeIs(1));
  Lock(P(0));
  PartitionCheckpoint cp = Progress(P(0), 1, 10);
  cp.delta.windows = {Window({.metric = "lost"})};
  cp.outbox_add = {Record("k", "lost")};
  absl::StatusOr<CheckpointResult> result;
  std::thread checkpoint([&] { result = store_->Checkpoint({cp}); });
  // Terminated while it waits inside its transaction, at the fence.
  EXPECT_TRUE(streammetrics::testing::PollUntil(absl::Seconds(10), [&] {
    return !Rows("SELECT 1 FROM pg_stat_activity WHERE pid = $1::int AND wait_event_type = 'Lock'",
                 {pids[0]})
                .empty();
  }));
  Rows("SELECT pg_terminate_backend($1::int)", {pids[0]});
  checkpoint.join();
  Unlock();
  EXPECT_TRUE(absl::IsUnavailable(result.status())) << result.status();
  EXPECT_THAT(StoredWindows(), IsEmpty());
  EXPECT_THAT(StoredOutbox(P(0)), IsEmpty());
  EXPECT_THAT(Offsets(P(0)), ElementsAre("1|null|null"));

  // The next call reconnects and the retried checkpoint commits.
  result = store_->Checkpoint({cp});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(StoredWindows(), ElementsAre("lost|1m|3|1|f"));
  EXPECT_THAT(StoredOutbox(P(0)), ElementsAre("lost"));
}

TEST_F(PostgresAggregateStoreTest, StatementTimeoutIsUnavailableAndTheStoreCarriesOn) {
  std::unique_ptr<PostgresAggregateStore> store = NewStore(absl::Milliseconds(300));
  ASSERT_TRUE(store->ClaimPartition(P(0)).ok());
  const std::vector<std::string> pids = StorePids();
  Lock(P(0));
  PartitionCheckpoint cp = Progress(P(0), 1, 10);
  cp.delta.windows = {Window({.metric = "late"})};
  absl::StatusOr<CheckpointResult> result = store->Checkpoint({cp});
  Unlock();
  EXPECT_TRUE(absl::IsUnavailable(result.status())) << result.status();
  EXPECT_THAT(result.status().message(), HasSubstr("57014"));
  EXPECT_THAT(StoredWindows(), IsEmpty());
  // Rolled back on the same session, which stays in use.
  result = store->Checkpoint({cp});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(StoredWindows(), ElementsAre("late|1m|3|1|f"));
  EXPECT_EQ(StorePids(), pids);
}

TEST_F(PostgresAggregateStoreFaultTest, SurvivesAPostgresRestart) {
  ASSERT_TRUE(store_->ClaimPartition(P(0)).ok());
  PartitionCheckpoint cp = Progress(P(0), 1, 10);
  cp.delta.windows = {Window({.metric = "before"})};
  ASSERT_TRUE(store_->Checkpoint({cp}).ok());

  ASSERT_TRUE(streammetrics::testing::PostgresControl("restart").ok());
  inspect_.reset(PQconnectdb(streammetrics::testing::PostgresUrl().c_str()));
  ASSERT_EQ(PQstatus(inspect_.get()), CONNECTION_OK) << PQerrorMessage(inspect_.get());

  cp = Progress(P(0), 1, 20);
  cp.delta.windows = {Window({.metric = "after"})};
  absl::StatusOr<CheckpointResult> result = store_->Checkpoint({cp});
  std::cout << "[   INFO   ] first call after it: " << result.status() << "\n";
  if (!result.ok()) {
    EXPECT_TRUE(absl::IsUnavailable(result.status())) << result.status();
    result = store_->Checkpoint({cp});
  }
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(StoredWindows(), ElementsAre("after|1m|3|1|f", "before|1m|3|1|f"));
  EXPECT_THAT(Offsets(P(0)), ElementsAre(absl::StrCat("1|20|", absl::ToUnixSeconds(kT0))));
}

TEST_F(PostgresAggregateStoreTest, CheckpointOfTenThousandWindows) {
  constexpr int kWindows = 10'000;
  ASSERT_TRUE(store_->ClaimPartition(P(0)).ok());
  PartitionCheckpoint cp = Progress(P(0), 1, kWindows, kT0);
  for (int i = 0; i < kWindows; ++i) {
    cp.delta.windows.push_back(Window({.metric = absl::StrCat("m", i),
                                       .tags = {{"host", absl::StrCat("h", i % 17)}},
                                       .start = kT0 + absl::Minutes(i % 3)}));
  }
  const absl::Time start = absl::Now();
  absl::StatusOr<CheckpointResult> result = store_->Checkpoint({cp});
  const absl::Duration took = absl::Now() - start;
  ASSERT_TRUE(result.ok()) << result.status();
  std::cout << "[   INFO   ] checkpoint of " << kWindows << " windows (one transaction, "
            << kWindows << " rows upserted) took " << absl::FormatDuration(took) << "\n";
  EXPECT_THAT(Rows("SELECT count(*) FROM metrics.metric_aggregates WHERE source_partition = $1",
                   {absl::StrCat(P(0))}),
              ElementsAre(absl::StrCat(kWindows)));

  const absl::Time claim_start = absl::Now();
  absl::StatusOr<PartitionClaim> claim = store_->ClaimPartition(P(0));
  ASSERT_TRUE(claim.ok()) << claim.status();
  std::cout << "[   INFO   ] claim reloading " << claim->snapshot.windows.size() << " windows took "
            << absl::FormatDuration(absl::Now() - claim_start) << "\n";
  EXPECT_THAT(claim->snapshot.windows, SizeIs(kWindows));
}

}  // namespace
}  // namespace streammetrics::aggregation
