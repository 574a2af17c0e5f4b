// The AggregateStore contract as one typed test suite, run against every implementation: the
// in-memory fake (aggregation_test) and PostgreSQL (aggregation_integration_test). It observes the
// store only through the interface, so a fake that passes it keeps the two promises exactly-once
// rests on: atomic checkpoints and fencing of former owners.
//
// Use: an environment type, default-constructible, with
//   AggregateStore* store();                          // a store of its own, empty
//   v1::WindowAggregate Window(WindowSpec spec);      // a window unique to this environment
// (its destructor removes what it wrote), then
//   INSTANTIATE_TYPED_TEST_SUITE_P(Name, AggregateStoreContract, ::testing::Types<Env>);
#ifndef STREAMMETRICS_TESTS_AGGREGATION_SERVICE_STORE_AGGREGATE_STORE_CONTRACT_H_
#define STREAMMETRICS_TESTS_AGGREGATION_SERVICE_STORE_AGGREGATE_STORE_CONTRACT_H_

#include <string>
#include <vector>

#include "aggregation-service/store/aggregate_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/aggregation-service/store/store_test_windows.h"
#include "tests/support/proto_matchers.h"

namespace streammetrics::aggregation::testing {

template <typename Env>
class AggregateStoreContract : public ::testing::Test {
 protected:
  int64_t Claim(int32_t partition) {
    absl::StatusOr<PartitionClaim> claim = env_.store()->ClaimPartition(partition);
    EXPECT_TRUE(claim.ok()) << claim.status();
    return claim.ok() ? claim->owner_epoch : -1;
  }
  PartitionClaim ClaimState(int32_t partition) {
    absl::StatusOr<PartitionClaim> claim = env_.store()->ClaimPartition(partition);
    EXPECT_TRUE(claim.ok()) << claim.status();
    return claim.ok() ? *std::move(claim) : PartitionClaim{};
  }
  CheckpointResult Commit(const std::vector<PartitionCheckpoint>& checkpoints) {
    absl::StatusOr<CheckpointResult> result = env_.store()->Checkpoint(checkpoints);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *std::move(result) : CheckpointResult{};
  }
  static std::vector<std::string> Values(const std::vector<OutboxRecord>& records) {
    std::vector<std::string> values;
    for (const OutboxRecord& r : records) values.push_back(r.value);
    return values;
  }
  static std::vector<std::string> Keys(const std::vector<DedupChunk>& chunks) {
    std::vector<std::string> keys;
    for (const DedupChunk& c : chunks) keys.push_back(c.keys);
    return keys;
  }

  Env env_;
};

TYPED_TEST_SUITE_P(AggregateStoreContract);

TYPED_TEST_P(AggregateStoreContract, EachClaimFencesThePreviousOwner) {
  const int64_t first = this->Claim(3);
  EXPECT_EQ(this->Claim(3), first + 1);
  EXPECT_EQ(this->Claim(3), first + 2);
  EXPECT_EQ(this->Claim(4), 1) << "epochs are per partition";
}

TYPED_TEST_P(AggregateStoreContract, ANewPartitionHasNothingCommitted) {
  const PartitionClaim claim = this->ClaimState(5);
  EXPECT_EQ(claim.owner_epoch, 1);
  EXPECT_FALSE(claim.next_offset.has_value());
  EXPECT_EQ(claim.snapshot.watermark, absl::InfinitePast());
  EXPECT_THAT(claim.snapshot.windows, ::testing::IsEmpty());
  EXPECT_THAT(claim.snapshot.dedup, ::testing::IsEmpty());
  EXPECT_THAT(claim.outbox, ::testing::IsEmpty());
}

TYPED_TEST_P(AggregateStoreContract, ACheckpointIsWhatTheNextClaimReads) {
  using ::streammetrics::testing::EqualsProto;
  const int64_t epoch = this->Claim(0);
  PartitionCheckpoint cp = Progress(0, epoch, 42, kT0 + absl::Seconds(30));
  const v1::WindowAggregate window = this->env_.Window({.tags = {{"method", "POST"}}});
  cp.delta.windows = {window};
  cp.delta.dedup_added = {Chunk(kT0, "k1")};
  cp.outbox_add = {Record("key", "v1")};
  const CheckpointResult result = this->Commit({cp});
  EXPECT_THAT(result.fenced, ::testing::IsEmpty());
  ASSERT_THAT(result.outbox_ids, ::testing::ElementsAre(::testing::SizeIs(1)));

  const PartitionClaim claim = this->ClaimState(0);
  EXPECT_EQ(claim.owner_epoch, epoch + 1);
  EXPECT_EQ(claim.next_offset, 42);
  EXPECT_EQ(claim.snapshot.watermark, kT0 + absl::Seconds(30));
  EXPECT_THAT(claim.snapshot.windows, ::testing::ElementsAre(EqualsProto(window)));
  EXPECT_THAT(this->Keys(claim.snapshot.dedup), ::testing::ElementsAre("k1"));
  ASSERT_THAT(claim.outbox, ::testing::SizeIs(1));
  EXPECT_EQ(claim.outbox[0].id, result.outbox_ids[0][0]);
  EXPECT_EQ(claim.outbox[0].topic, "metrics-aggregated-1m");
  EXPECT_EQ(claim.outbox[0].key, "key");
  EXPECT_EQ(claim.outbox[0].value, "v1");
}

TYPED_TEST_P(AggregateStoreContract, AFormerOwnerIsFencedAndWritesNothing) {
  const int64_t epoch = this->Claim(1);
  PartitionCheckpoint first = Progress(1, epoch, 10);
  first.delta.windows = {this->env_.Window({.revision = 1})};
  first.outbox_add = {Record("k", "first")};
  const CheckpointResult committed = this->Commit({first});
  ASSERT_THAT(committed.outbox_ids, ::testing::ElementsAre(::testing::SizeIs(1)));
  ASSERT_EQ(this->Claim(1), epoch + 1);  // a new owner

  PartitionCheckpoint zombie = Progress(1, epoch, 99, kT0 + absl::Hours(1));
  zombie.delta.windows = {this->env_.Window({.values = {7}, .revision = 2})};
  zombie.delta.dedup_added = {Chunk(kT0, "zombie")};
  zombie.outbox_add = {Record("k", "zombie")};
  zombie.outbox_delivered = {committed.outbox_ids[0][0]};
  const CheckpointResult result = this->Commit({zombie});
  EXPECT_THAT(result.fenced, ::testing::ElementsAre(1));
  EXPECT_THAT(result.outbox_ids, ::testing::IsEmpty());

  const PartitionClaim claim = this->ClaimState(1);
  EXPECT_EQ(claim.next_offset, 10);
  EXPECT_EQ(claim.snapshot.watermark, kT0);
  ASSERT_THAT(claim.snapshot.windows, ::testing::SizeIs(1));
  EXPECT_EQ(claim.snapshot.windows[0].revision(), 1u);
  EXPECT_THAT(claim.snapshot.dedup, ::testing::IsEmpty());
  EXPECT_THAT(this->Values(claim.outbox), ::testing::ElementsAre("first"));
}

TYPED_TEST_P(AggregateStoreContract, OneFencedPartitionStopsTheWholeCheckpoint) {
  const int64_t one = this->Claim(1);
  this->Claim(2);
  const int64_t two = this->Claim(2);  // partition 2 has a newer owner than the caller's epoch
  PartitionCheckpoint ok = Progress(1, one, 5);
  ok.delta.windows = {this->env_.Window({.service = "a"})};
  PartitionCheckpoint stale = Progress(2, two - 1, 5);
  const CheckpointResult result = this->Commit({ok, stale});
  EXPECT_THAT(result.fenced, ::testing::ElementsAre(2));
  const PartitionClaim claim = this->ClaimState(1);
  EXPECT_FALSE(claim.next_offset.has_value()) << "partition 1's part was not written either";
  EXPECT_THAT(claim.snapshot.windows, ::testing::IsEmpty());
}

TYPED_TEST_P(AggregateStoreContract, DeliveredOutboxRecordsAreDeleted) {
  const int64_t epoch = this->Claim(6);
  PartitionCheckpoint cp = Progress(6, epoch, 1);
  cp.outbox_add = {Record("k", "r1"), Record("k", "r2"), Record("k", "r3")};
  const CheckpointResult added = this->Commit({cp});
  ASSERT_THAT(added.outbox_ids, ::testing::ElementsAre(::testing::SizeIs(3)));
  PartitionCheckpoint delivered = Progress(6, epoch, 2);
  delivered.outbox_delivered = {added.outbox_ids[0][0], added.outbox_ids[0][2]};
  this->Commit({delivered});
  EXPECT_THAT(this->Values(this->ClaimState(6).outbox), ::testing::ElementsAre("r2"));
}

TYPED_TEST_P(AggregateStoreContract, AnEmptyCheckpointIsANoOpAndANegativePartitionIsRefused) {
  const CheckpointResult result = this->Commit({});
  EXPECT_THAT(result.fenced, ::testing::IsEmpty());
  EXPECT_THAT(result.outbox_ids, ::testing::IsEmpty());
  EXPECT_EQ(this->env_.store()->ClaimPartition(-1).status().code(),
            absl::StatusCode::kInvalidArgument);
}

REGISTER_TYPED_TEST_SUITE_P(AggregateStoreContract, EachClaimFencesThePreviousOwner,
                            ANewPartitionHasNothingCommitted, ACheckpointIsWhatTheNextClaimReads,
                            AFormerOwnerIsFencedAndWritesNothing,
                            OneFencedPartitionStopsTheWholeCheckpoint,
                            DeliveredOutboxRecordsAreDeleted,
                            AnEmptyCheckpointIsANoOpAndANegativePartitionIsRefused);

}  // namespace streammetrics::aggregation::testing

#endif  // STREAMMETRICS_TESTS_AGGREGATION_SERVICE_STORE_AGGREGATE_STORE_CONTRACT_H_
