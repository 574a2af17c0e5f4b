// FakeAggregateStore keeps AggregateStore's promises (epochs, fencing, all-or-nothing checkpoints,
// outbox ids, the claim's window filter) and its test hooks work, so aggregator tests built on it
// test against PostgreSQL's behaviour.
#include "aggregation-service/store/fake_aggregate_store.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/aggregation-service/store/aggregate_store_contract.h"
#include "tests/aggregation-service/store/store_test_windows.h"
#include "tests/support/proto_matchers.h"

namespace streammetrics::aggregation {
namespace {

using ::streammetrics::aggregation::testing::Chunk;
using ::streammetrics::aggregation::testing::kT0;
using ::streammetrics::aggregation::testing::MakeWindow;
using ::streammetrics::aggregation::testing::Progress;
using ::streammetrics::aggregation::testing::Record;
using ::streammetrics::aggregation::testing::WindowSpec;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;

using ::streammetrics::testing::EqualsProto;

std::vector<std::string> Keys(const std::vector<DedupChunk>& chunks) {
  std::vector<std::string> keys;
  for (const DedupChunk& c : chunks) keys.push_back(c.keys);
  return keys;
}

std::vector<std::string> Values(const std::vector<OutboxRecord>& records) {
  std::vector<std::string> values;
  for (const OutboxRecord& r : records) values.push_back(r.value);
  return values;
}

TEST(FakeAggregateStoreTest, ClaimCreatesEpochOneThenIncrements) {
  FakeAggregateStore store;
  absl::StatusOr<PartitionClaim> first = store.ClaimPartition(3);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->owner_epoch, 1);
  EXPECT_FALSE(first->next_offset.has_value());
  EXPECT_EQ(first->snapshot.watermark, absl::InfinitePast());
  EXPECT_THAT(first->snapshot.windows, IsEmpty());
  EXPECT_THAT(first->outbox, IsEmpty());
  EXPECT_EQ(store.ClaimPartition(3)->owner_epoch, 2);
  EXPECT_EQ(store.ClaimPartition(3)->owner_epoch, 3);
  EXPECT_EQ(store.ClaimPartition(4)->owner_epoch, 1);
}

TEST(FakeAggregateStoreTest, CheckpointIsReadBackByTheNextClaim) {
  FakeAggregateStore store;
  ASSERT_TRUE(store.ClaimPartition(0).ok());
  PartitionCheckpoint cp = Progress(0, 1, 42, kT0 + absl::Seconds(30));
  const v1::WindowAggregate window = MakeWindow({.tags = {{"method", "POST"}}});
  cp.delta.windows = {window};
  cp.delta.dedup_added = {Chunk(kT0, "k1")};
  cp.outbox_add = {Record("key", "v1")};
  absl::StatusOr<CheckpointResult> result = store.Checkpoint({cp});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(result->fenced, IsEmpty());
  ASSERT_THAT(result->outbox_ids, ElementsAre(SizeIs(1)));

  absl::StatusOr<PartitionClaim> claim = store.ClaimPartition(0);
  ASSERT_TRUE(claim.ok()) << claim.status();
  EXPECT_EQ(claim->owner_epoch, 2);
  EXPECT_EQ(claim->next_offset, 42);
  EXPECT_EQ(claim->snapshot.watermark, kT0 + absl::Seconds(30));
  EXPECT_THAT(claim->snapshot.windows, ElementsAre(EqualsProto(window)));
  EXPECT_THAT(Keys(claim->snapshot.dedup), ElementsAre("k1"));
  ASSERT_THAT(claim->outbox, SizeIs(1));
  EXPECT_EQ(claim->outbox[0].id, result->outbox_ids[0][0]);
  EXPECT_EQ(claim->outbox[0].topic, "metrics-aggregated-1m");
  EXPECT_EQ(claim->outbox[0].key, "key");
  EXPECT_EQ(claim->outbox[0].value, "v1");
  ASSERT_TRUE(store.Window(window.series_key(), v1::WINDOW_SIZE_1M, kT0).has_value());
  EXPECT_EQ(store.Window(window.series_key(), v1::WINDOW_SIZE_1M, kT0)->source_partition, 0);
}

TEST(FakeAggregateStoreTest, StaleEpochIsFencedAndWritesNothing) {
  FakeAggregateStore store;
  ASSERT_TRUE(store.ClaimPartition(1).ok());
  PartitionCheckpoint first = Progress(1, 1, 10);
  first.delta.windows = {MakeWindow({.revision = 1})};
  first.outbox_add = {Record("k", "first")};
  ASSERT_TRUE(store.Checkpoint({first}).ok());
  ASSERT_EQ(store.ClaimPartition(1)->owner_epoch, 2);  // a new owner

  PartitionCheckpoint zombie = Progress(1, 1, 99, kT0 + absl::Hours(1));
  zombie.delta.windows = {MakeWindow({.values = {7}, .revision = 2})};
  zombie.delta.dedup_added = {Chunk(kT0, "zombie")};
  zombie.outbox_add = {Record("k", "zombie")};
  zombie.outbox_delivered = {1};
  absl::StatusOr<CheckpointResult> result = store.Checkpoint({zombie});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(result->fenced, ElementsAre(1));
  EXPECT_THAT(result->outbox_ids, IsEmpty());

  EXPECT_EQ(store.Offsets(1)->next_offset, 10);
  EXPECT_EQ(store.Offsets(1)->watermark, kT0);
  EXPECT_EQ(store.Offsets(1)->owner_epoch, 2);
  ASSERT_THAT(store.Windows(), SizeIs(1));
  EXPECT_EQ(store.Windows()[0].window.revision(), 1u);
  EXPECT_THAT(store.Dedup(1), IsEmpty());
  EXPECT_THAT(Values(store.Outbox(1)), ElementsAre("first"));
}

TEST(FakeAggregateStoreTest, OneFencedPartitionStopsTheWholeCheckpoint) {
  FakeAggregateStore store;
  ASSERT_TRUE(store.ClaimPartition(1).ok());
  ASSERT_TRUE(store.ClaimPartition(2).ok());
  ASSERT_TRUE(store.ClaimPartition(2).ok());  // partition 2 now at epoch 2
  PartitionCheckpoint ok = Progress(1, 1, 5);
  ok.delta.windows = {MakeWindow({.service = "a"})};
  PartitionCheckpoint stale = Progress(2, 1, 5);
  stale.delta.windows = {MakeWindow({.service = "b"})};
  absl::StatusOr<CheckpointResult> result = store.Checkpoint({ok, stale});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(result->fenced, ElementsAre(2));
  EXPECT_THAT(store.Windows(), IsEmpty());
  EXPECT_FALSE(store.Offsets(1)->next_offset.has_value());
}

TEST(FakeAggregateStoreTest, UnclaimedPartitionIsFenced) {
  FakeAggregateStore store;
  absl::StatusOr<CheckpointResult> result = store.Checkpoint({Progress(9, 1, 1)});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(result->fenced, ElementsAre(9));
  EXPECT_FALSE(store.Offsets(9).has_value());
}

TEST(FakeAggregateStoreTest, TimesAreKeptToTheMicrosecondAsInPostgres) {
  FakeAggregateStore store;
  ASSERT_TRUE(store.ClaimPartition(0).ok());
  PartitionCheckpoint cp = Progress(0, 1, 1, kT0 + absl::Nanoseconds(1'999));
  ASSERT_TRUE(store.Checkpoint({cp}).ok());
  EXPECT_EQ(store.ClaimPartition(0)->snapshot.watermark, kT0 + absl::Microseconds(1));
}

TEST(FakeAggregateStoreTest, ClaimReloadsOpenWindowsAndFinalOnesOfTheOpenFiveMinutes) {
  FakeAggregateStore store;
  ASSERT_TRUE(store.ClaimPartition(0).ok());
  ASSERT_TRUE(store.ClaimPartition(1).ok());
  // Watermark kT0 + 7m30s: the 5-minute window [kT0+5m, kT0+10m) is open.
  PartitionCheckpoint cp = Progress(0, 1, 100, kT0 + absl::Seconds(450));
  cp.delta.windows = {
      MakeWindow({.metric = "final-before", .start = kT0 + absl::Minutes(4), .is_final = true}),
      MakeWindow({.metric = "final-at-floor", .start = kT0 + absl::Minutes(5), .is_final = true}),
      MakeWindow({.metric = "final-after", .start = kT0 + absl::Minutes(6), .is_final = true}),
      MakeWindow({.metric = "open", .start = kT0 + absl::Minutes(7)}),
      MakeWindow({.metric = "open-old", .start = kT0 - absl::Minutes(30)}),
      MakeWindow(
          {.metric = "final-5m", .size = v1::WINDOW_SIZE_5M, .start = kT0, .is_final = true}),
      MakeWindow(
          {.metric = "open-5m", .size = v1::WINDOW_SIZE_5M, .start = kT0 + absl::Minutes(5)}),
  };
  PartitionCheckpoint other = Progress(1, 1, 1, kT0 + absl::Seconds(450));
  other.delta.windows = {
      MakeWindow({.metric = "other-partition", .start = kT0 + absl::Minutes(7)})};
  ASSERT_TRUE(store.Checkpoint({cp, other}).ok());

  absl::StatusOr<PartitionClaim> claim = store.ClaimPartition(0);
  ASSERT_TRUE(claim.ok()) << claim.status();
  std::vector<std::string> metrics;
  for (const v1::WindowAggregate& w : claim->snapshot.windows) {
    metrics.push_back(w.series().metric_name());
  }
  EXPECT_THAT(metrics,
              UnorderedElementsAre("final-at-floor", "final-after", "open", "open-old", "open-5m"));
}

TEST(FakeAggregateStoreTest, DedupChunksAreAddedAndReleased) {
  FakeAggregateStore store;
  ASSERT_TRUE(store.ClaimPartition(0).ok());
  PartitionCheckpoint cp = Progress(0, 1, 1);
  cp.delta.dedup_added = {Chunk(kT0 + absl::Minutes(1), "b"), Chunk(kT0, "a")};
  ASSERT_TRUE(store.Checkpoint({cp}).ok());
  cp = Progress(0, 1, 2);
  cp.delta.dedup_added = {Chunk(kT0 + absl::Minutes(1), "b2"), Chunk(kT0 - absl::Minutes(1), "z")};
  // Releases the chunks before kT0 + 1m, including "z" added by this very checkpoint.
  cp.delta.dedup_release_before = kT0 + absl::Minutes(1);
  ASSERT_TRUE(store.Checkpoint({cp}).ok());
  EXPECT_THAT(Keys(store.Dedup(0)), ElementsAre("b", "b2"));
  EXPECT_THAT(Keys(store.ClaimPartition(0)->snapshot.dedup), ElementsAre("b", "b2"));
}

TEST(FakeAggregateStoreTest, OutboxRecordsStayUntilDelivered) {
  FakeAggregateStore store;
  ASSERT_TRUE(store.ClaimPartition(0).ok());
  ASSERT_TRUE(store.ClaimPartition(1).ok());
  PartitionCheckpoint cp = Progress(0, 1, 1);
  cp.outbox_add = {Record("k", "r1"), Record("k", "r2"), Record("k", "r3")};
  PartitionCheckpoint cp1 = Progress(1, 1, 1);
  cp1.outbox_add = {Record("k", "other")};
  absl::StatusOr<CheckpointResult> result = store.Checkpoint({cp, cp1});
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_THAT(result->outbox_ids, ElementsAre(SizeIs(3), SizeIs(1)));
  const std::vector<int64_t>& ids = result->outbox_ids[0];
  EXPECT_LT(ids[0], ids[1]);
  EXPECT_LT(ids[1], ids[2]);

  absl::StatusOr<PartitionClaim> claim = store.ClaimPartition(0);
  ASSERT_TRUE(claim.ok());
  EXPECT_THAT(Values(claim->outbox), ElementsAre("r1", "r2", "r3"));
  // Ids of another partition are not this partition's to delete.
  PartitionCheckpoint delivered = Progress(0, claim->owner_epoch, 2);
  delivered.outbox_delivered = {ids[0], ids[2], result->outbox_ids[1][0]};
  ASSERT_TRUE(store.Checkpoint({delivered}).ok());
  EXPECT_THAT(Values(store.Outbox(0)), ElementsAre("r2"));
  EXPECT_THAT(Values(store.Outbox(1)), ElementsAre("other"));
  EXPECT_EQ(store.Outbox(0)[0].id, ids[1]);
}

TEST(FakeAggregateStoreTest, InjectedFailureBeforeWriteChangesNothing) {
  FakeAggregateStore store;
  ASSERT_TRUE(store.ClaimPartition(0).ok());
  store.FailNextCalls(2);
  PartitionCheckpoint cp = Progress(0, 1, 5);
  cp.delta.windows = {MakeWindow({})};
  EXPECT_TRUE(absl::IsUnavailable(store.Checkpoint({cp}).status()));
  EXPECT_TRUE(absl::IsUnavailable(store.ClaimPartition(0).status()));
  EXPECT_THAT(store.Windows(), IsEmpty());
  EXPECT_EQ(store.Offsets(0)->owner_epoch, 1);
  EXPECT_FALSE(store.Offsets(0)->next_offset.has_value());
  // Both failures used up: the retry goes through.
  EXPECT_TRUE(store.Checkpoint({cp}).ok());
  EXPECT_THAT(store.Windows(), SizeIs(1));
  EXPECT_EQ(store.calls(), 4);
}

TEST(FakeAggregateStoreTest, InjectedFailureAfterCommitKeepsTheWrites) {
  FakeAggregateStore store;
  ASSERT_TRUE(store.ClaimPartition(0).ok());
  store.FailNextCalls(1, FakeAggregateStore::Failure::kAfterCommit);
  PartitionCheckpoint cp = Progress(0, 1, 5);
  cp.outbox_add = {Record("k", "v")};
  EXPECT_TRUE(absl::IsUnavailable(store.Checkpoint({cp}).status()));
  EXPECT_EQ(store.Offsets(0)->next_offset, 5);
  // Retrying the same checkpoint is what a caller does: the outbox holds the record twice (at
  // least once), everything else is the same.
  ASSERT_TRUE(store.Checkpoint({cp}).ok());
  EXPECT_THAT(Values(store.Outbox(0)), ElementsAre("v", "v"));
}

TEST(FakeAggregateStoreTest, RefusesWhatCannotBeStored) {
  FakeAggregateStore store;
  ASSERT_TRUE(store.ClaimPartition(0).ok());
  store.FailNextCalls(1);  // input checks come first and do not use it up

  PartitionCheckpoint cp = Progress(0, 1, 5);
  absl::Status twice = store.Checkpoint({cp, cp}).status();
  EXPECT_TRUE(absl::IsInvalidArgument(twice)) << twice;
  EXPECT_THAT(twice.message(), HasSubstr("twice"));

  PartitionCheckpoint no_size = Progress(0, 1, 5);
  no_size.delta.windows = {MakeWindow({.size = v1::WINDOW_SIZE_UNSPECIFIED})};
  EXPECT_TRUE(absl::IsInvalidArgument(store.Checkpoint({no_size}).status()));

  PartitionCheckpoint negative = Progress(0, 1, -1);
  EXPECT_TRUE(absl::IsInvalidArgument(store.Checkpoint({negative}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(store.ClaimPartition(-1).status()));
  EXPECT_EQ(store.calls(), 1);
  EXPECT_TRUE(absl::IsUnavailable(store.Checkpoint({cp}).status()));
}

TEST(FakeAggregateStoreTest, TooLongServiceIdIsInvalidArgumentAndWritesNothing) {
  FakeAggregateStore store;
  ASSERT_TRUE(store.ClaimPartition(0).ok());
  PartitionCheckpoint cp = Progress(0, 1, 5);
  cp.delta.windows = {MakeWindow({.service = "fits"}),
                      MakeWindow({.service = std::string(kServiceIdColumnChars + 1, 's')})};
  cp.outbox_add = {Record("k", "v")};
  absl::Status status = store.Checkpoint({cp}).status();
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("service_id"));
  EXPECT_THAT(store.Windows(), IsEmpty());
  EXPECT_THAT(store.Outbox(0), IsEmpty());
  EXPECT_FALSE(store.Offsets(0)->next_offset.has_value());
  // Width counts characters, not bytes: 100 two-byte characters fit.
  std::string wide;
  for (size_t i = 0; i < kServiceIdColumnChars; ++i) wide += "\xc3\xa9";
  cp.delta.windows = {MakeWindow({.service = wide})};
  EXPECT_TRUE(store.Checkpoint({cp}).ok());
}

TEST(FakeAggregateStoreTest, UpsertReplacesTheWindowAndEmptyCheckpointIsANoOp) {
  FakeAggregateStore store;
  ASSERT_TRUE(store.ClaimPartition(0).ok());
  PartitionCheckpoint cp = Progress(0, 1, 5);
  cp.delta.windows = {MakeWindow({.values = {1}, .revision = 1})};
  ASSERT_TRUE(store.Checkpoint({cp}).ok());
  cp.delta.windows = {MakeWindow({.values = {1, 2}, .is_final = true, .revision = 2})};
  ASSERT_TRUE(store.Checkpoint({cp}).ok());
  ASSERT_THAT(store.Windows(), SizeIs(1));
  EXPECT_EQ(store.Windows()[0].window.count(), 2u);
  EXPECT_EQ(store.Windows()[0].window.revision(), 2u);
  EXPECT_TRUE(store.Windows()[0].window.is_final());

  store.FailNextCalls(1);
  absl::StatusOr<CheckpointResult> empty = store.Checkpoint({});
  ASSERT_TRUE(empty.ok());
  EXPECT_THAT(empty->fenced, IsEmpty());
  EXPECT_THAT(empty->outbox_ids, IsEmpty());
}

}  // namespace

namespace testing {

// The AggregateStore contract, which PostgresAggregateStore passes too.
class FakeStoreEnv {
 public:
  AggregateStore* store() { return &store_; }
  v1::WindowAggregate Window(const WindowSpec& spec) { return MakeWindow(spec); }

 private:
  FakeAggregateStore store_;
};
INSTANTIATE_TYPED_TEST_SUITE_P(Fake, AggregateStoreContract, ::testing::Types<FakeStoreEnv>);

}  // namespace testing
}  // namespace streammetrics::aggregation
