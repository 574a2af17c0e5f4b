// PostgresAggregateStore against the local stack's PostgreSQL: owner epochs and fencing, atomic
// checkpoints, exact round trips of windows, the claim's window filter, dedup chunks, the outbox,
// data errors. Failures of the database itself are in postgres_aggregate_store_fault_test.cc.
#include "aggregation-service/store/postgres_aggregate_store.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/aggregation-service/store/aggregate_store_contract.h"
#include "tests/integration/postgres_store_fixture.h"

namespace streammetrics::aggregation {
namespace {

using ::streammetrics::aggregation::testing::Chunk;
using ::streammetrics::aggregation::testing::EqualsProto;
using ::streammetrics::aggregation::testing::kT0;
using ::streammetrics::aggregation::testing::Progress;
using ::streammetrics::aggregation::testing::Record;
using ::streammetrics::aggregation::testing::Values;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;

using PostgresAggregateStoreTest = ::streammetrics::aggregation::testing::PostgresStoreFixture;

TEST_F(PostgresAggregateStoreTest, ClaimCreatesEpochOneThenIncrements) {
  absl::StatusOr<PartitionClaim> first = store_->ClaimPartition(P(0));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->owner_epoch, 1);
  EXPECT_FALSE(first->next_offset.has_value());
  EXPECT_EQ(first->snapshot.watermark, absl::InfinitePast());
  EXPECT_THAT(first->snapshot.windows, IsEmpty());
  EXPECT_THAT(first->snapshot.dedup, IsEmpty());
  EXPECT_THAT(first->outbox, IsEmpty());
  EXPECT_THAT(Offsets(P(0)), ElementsAre("1|null|null"));
  // Another instance (another store) claiming it moves the epoch on.
  std::unique_ptr<PostgresAggregateStore> other = NewStore();
  EXPECT_EQ(other->ClaimPartition(P(0))->owner_epoch, 2);
  EXPECT_EQ(store_->ClaimPartition(P(0))->owner_epoch, 3);
  EXPECT_THAT(Offsets(P(0)), ElementsAre("3|null|null"));
}

TEST_F(PostgresAggregateStoreTest, StaleEpochIsFencedAndWritesNothing) {
  ASSERT_TRUE(store_->ClaimPartition(P(0)).ok());
  PartitionCheckpoint first = Progress(P(0), 1, 10, kT0);
  first.delta.windows = {Window({.metric = "m", .revision = 1})};
  first.delta.dedup_added = {Chunk(kT0, "first")};
  first.outbox_add = {Record("k", "first")};
  absl::StatusOr<CheckpointResult> written = store_->Checkpoint({first});
  ASSERT_TRUE(written.ok()) << written.status();
  ASSERT_THAT(written->fenced, IsEmpty());

  std::unique_ptr<PostgresAggregateStore> new_owner = NewStore();
  ASSERT_EQ(new_owner->ClaimPartition(P(0))->owner_epoch, 2);

  PartitionCheckpoint zombie = Progress(P(0), 1, 99, kT0 + absl::Hours(1));
  zombie.delta.windows = {Window({.metric = "m", .values = {7}, .revision = 2}),
                          Window({.metric = "zombie-only"})};
  zombie.delta.dedup_added = {Chunk(kT0, "zombie")};
  zombie.delta.dedup_release_before = kT0 + absl::Hours(1);
  zombie.outbox_add = {Record("k", "zombie")};
  zombie.outbox_delivered = written->outbox_ids[0];
  absl::StatusOr<CheckpointResult> fenced = store_->Checkpoint({zombie});
  ASSERT_TRUE(fenced.ok()) << fenced.status();
  EXPECT_THAT(fenced->fenced, ElementsAre(P(0)));
  EXPECT_THAT(fenced->outbox_ids, IsEmpty());

  EXPECT_THAT(Offsets(P(0)), ElementsAre(absl::StrCat("2|10|", absl::ToUnixSeconds(kT0))));
  EXPECT_THAT(StoredWindows(), ElementsAre("m|1m|3|1|f"));
  EXPECT_THAT(StoredDedup(P(0)), ElementsAre("first"));
  EXPECT_THAT(StoredOutbox(P(0)), ElementsAre("first"));
  // The store stays usable after a fenced checkpoint (its transaction was rolled back).
  EXPECT_TRUE(store_->ClaimPartition(P(1)).ok());
}

TEST_F(PostgresAggregateStoreTest, OneFencedPartitionOfTwoWritesNeither) {
  ASSERT_TRUE(store_->ClaimPartition(P(0)).ok());
  ASSERT_TRUE(store_->ClaimPartition(P(1)).ok());
  ASSERT_TRUE(NewStore()->ClaimPartition(P(1)).ok());  // P(1) now at epoch 2
  PartitionCheckpoint ok = Progress(P(0), 1, 5);
  ok.delta.windows = {Window({.metric = "a"})};
  ok.outbox_add = {Record("k", "a")};
  PartitionCheckpoint stale = Progress(P(1), 1, 5);
  stale.delta.windows = {Window({.metric = "b"})};
  // The fenced partition first in the call, the other first in lock order.
  absl::StatusOr<CheckpointResult> result = store_->Checkpoint({stale, ok});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(result->fenced, ElementsAre(P(1)));
  EXPECT_THAT(StoredWindows(), IsEmpty());
  EXPECT_THAT(StoredOutbox(P(0)), IsEmpty());
  EXPECT_THAT(Offsets(P(0)), ElementsAre("1|null|null"));
  EXPECT_THAT(Offsets(P(1)), ElementsAre("2|null|null"));
  // Dropping the fenced partition, the other checkpoints fine.
  result = store_->Checkpoint({ok});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(result->fenced, IsEmpty());
  EXPECT_THAT(StoredWindows(), ElementsAre("a|1m|3|1|f"));
}

TEST_F(PostgresAggregateStoreTest, UnclaimedPartitionIsFenced) {
  absl::StatusOr<CheckpointResult> result = store_->Checkpoint({Progress(P(0), 1, 1)});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(result->fenced, ElementsAre(P(0)));
  EXPECT_THAT(Offsets(P(0)), IsEmpty());
}

TEST_F(PostgresAggregateStoreTest, WindowsRoundTripExactly) {
  ASSERT_TRUE(store_->ClaimPartition(P(0)).ok());
  // Values whose sum is not a short decimal, tags that need JSON escaping.
  const std::map<std::string, std::string> tags = {
      {"method", "POST"}, {"path", "/a\"b\\c|d,e=f"}, {"r\xc3\xa9gion", "\xe6\x9d\xb1"}};
  const v1::WindowAggregate open = Window({
      .metric = "api.latency",
      .tags = tags,
      .values = {0.1, 0.2, 1e-300, 12345.678, 3.0e12},
      .revision = 7,
  });
  const v1::WindowAggregate open_5m = Window({
      .metric = "api.latency",
      .tags = tags,
      .size = v1::WINDOW_SIZE_5M,
      .values = {-2.5, 0, 42},
      .revision = 2,
  });
  PartitionCheckpoint cp = Progress(P(0), 1, 1234, kT0 + absl::Seconds(30));
  cp.delta.windows = {open, open_5m};
  ASSERT_TRUE(store_->Checkpoint({cp}).ok());

  absl::StatusOr<PartitionClaim> claim = NewStore()->ClaimPartition(P(0));
  ASSERT_TRUE(claim.ok()) << claim.status();
  EXPECT_EQ(claim->next_offset, 1234);
  EXPECT_EQ(claim->snapshot.watermark, kT0 + absl::Seconds(30));
  EXPECT_THAT(claim->snapshot.windows,
              UnorderedElementsAre(EqualsProto(open), EqualsProto(open_5m)));

  // The columns queries read: seed columns, tags as a JSONB object (GIN containment), sketch.
  const std::string key = open.series_key();
  EXPECT_THAT(
      Rows("SELECT service_id = $2, metric_name, window_size, count, source_partition, is_final, "
           "revision, extract(epoch FROM timestamp)::bigint, "
           "extract(epoch FROM window_end)::bigint, encode(sketch, 'hex') FROM "
           "metrics.metric_aggregates WHERE series_key = $1 AND window_size = '1m'",
           {key, open.series().service_id()}),
      ElementsAre(absl::StrCat("t|api.latency|1m|5|", P(0), "|f|7|", absl::ToUnixSeconds(kT0), "|",
                               absl::ToUnixSeconds(kT0) + 60, "|",
                               absl::BytesToHexString(open.sketch().SerializeAsString()))));
  EXPECT_THAT(Rows("SELECT count(*) FROM metrics.metric_aggregates WHERE series_key = $1 AND "
                   "tags @> $2::jsonb",
                   {key, R"({"method": "POST", "path": "/a\"b\\c|d,e=f"})"}),
              ElementsAre("2"));
  EXPECT_THAT(Rows("SELECT count(*) FROM metrics.metric_aggregates WHERE series_key = $1 AND "
                   "tags = $2::jsonb",
                   {key,
                    "{\"method\": \"POST\", \"path\": \"/a\\\"b\\\\c|d,e=f\", "
                    "\"r\xc3\xa9gion\": \"\xe6\x9d\xb1\"}"}),
              ElementsAre("2"));
  EXPECT_THAT(Rows("SELECT count(*) FROM metrics.metric_aggregates WHERE series_key = $1 AND "
                   "tags @> '{\"method\": \"GET\"}'",
                   {key}),
              ElementsAre("0"));

  // An upsert overwrites the row.
  v1::WindowAggregate finalized = open;
  finalized.set_is_final(true);
  finalized.set_revision(8);
  finalized.set_count(6);
  cp = Progress(P(0), claim->owner_epoch, 1300, kT0 + absl::Minutes(2));
  cp.delta.windows = {finalized};
  ASSERT_TRUE(store_->Checkpoint({cp}).ok());
  EXPECT_THAT(Rows("SELECT count, revision, is_final FROM metrics.metric_aggregates WHERE "
                   "series_key = $1 AND window_size = '1m'",
                   {key}),
              ElementsAre("6|8|t"));
}

TEST_F(PostgresAggregateStoreTest, TimesAreKeptToTheMicrosecond) {
  ASSERT_TRUE(store_->ClaimPartition(P(0)).ok());
  PartitionCheckpoint cp = Progress(P(0), 1, 1, kT0 + absl::Nanoseconds(1'999));
  cp.delta.dedup_added = {Chunk(kT0 - absl::Nanoseconds(1), "k")};
  ASSERT_TRUE(store_->Checkpoint({cp}).ok());
  absl::StatusOr<PartitionClaim> claim = store_->ClaimPartition(P(0));
  ASSERT_TRUE(claim.ok()) << claim.status();
  EXPECT_EQ(claim->snapshot.watermark, kT0 + absl::Microseconds(1));
  ASSERT_THAT(claim->snapshot.dedup, SizeIs(1));
  EXPECT_EQ(claim->snapshot.dedup[0].window_start, kT0 - absl::Microseconds(1));
}

TEST_F(PostgresAggregateStoreTest, ClaimReloadsOpenWindowsAndFinalOnesOfTheOpenFiveMinutes) {
  ASSERT_TRUE(store_->ClaimPartition(P(0)).ok());
  ASSERT_TRUE(store_->ClaimPartition(P(1)).ok());
  // Watermark kT0 + 7m30s: the 5-minute window [kT0+5m, kT0+10m) is open.
  PartitionCheckpoint cp = Progress(P(0), 1, 100, kT0 + absl::Seconds(450));
  cp.delta.windows = {
      Window({.metric = "final-before", .start = kT0 + absl::Minutes(4), .is_final = true}),
      Window({.metric = "final-at-floor", .start = kT0 + absl::Minutes(5), .is_final = true}),
      Window({.metric = "final-after", .start = kT0 + absl::Minutes(6), .is_final = true}),
      Window({.metric = "open", .start = kT0 + absl::Minutes(7)}),
      Window({.metric = "open-old", .start = kT0 - absl::Minutes(30)}),
      Window({.metric = "final-5m", .size = v1::WINDOW_SIZE_5M, .start = kT0, .is_final = true}),
      Window({.metric = "open-5m", .size = v1::WINDOW_SIZE_5M, .start = kT0 + absl::Minutes(5)}),
  };
  PartitionCheckpoint other = Progress(P(1), 1, 1, kT0 + absl::Seconds(450));
  other.delta.windows = {Window({.metric = "other-partition", .start = kT0 + absl::Minutes(7)})};
  ASSERT_TRUE(store_->Checkpoint({cp, other}).ok());

  absl::StatusOr<PartitionClaim> claim = store_->ClaimPartition(P(0));
  ASSERT_TRUE(claim.ok()) << claim.status();
  std::vector<std::string> metrics;
  for (const v1::WindowAggregate& w : claim->snapshot.windows) {
    metrics.push_back(w.series().metric_name());
  }
  EXPECT_THAT(metrics,
              UnorderedElementsAre("final-at-floor", "final-after", "open", "open-old", "open-5m"));
}

TEST_F(PostgresAggregateStoreTest, DedupChunksAreStoredAndReleased) {
  ASSERT_TRUE(store_->ClaimPartition(P(0)).ok());
  PartitionCheckpoint cp = Progress(P(0), 1, 1);
  cp.delta.dedup_added = {Chunk(kT0 + absl::Minutes(1), "b"), Chunk(kT0, "a")};
  ASSERT_TRUE(store_->Checkpoint({cp}).ok());
  EXPECT_THAT(StoredDedup(P(0)), ElementsAre("a", "b"));

  cp = Progress(P(0), 1, 2);
  cp.delta.dedup_added = {Chunk(kT0 + absl::Minutes(1), "b2"), Chunk(kT0 - absl::Minutes(1), "z")};
  // Releases the chunks before kT0 + 1m, "z" added by this very checkpoint included.
  cp.delta.dedup_release_before = kT0 + absl::Minutes(1);
  ASSERT_TRUE(store_->Checkpoint({cp}).ok());
  EXPECT_THAT(StoredDedup(P(0)), ElementsAre("b", "b2"));

  absl::StatusOr<PartitionClaim> claim = store_->ClaimPartition(P(0));
  ASSERT_TRUE(claim.ok()) << claim.status();
  ASSERT_THAT(claim->snapshot.dedup, SizeIs(2));
  EXPECT_EQ(claim->snapshot.dedup[0].window_start, kT0 + absl::Minutes(1));
  EXPECT_EQ(claim->snapshot.dedup[0].keys, "b");
  EXPECT_EQ(claim->snapshot.dedup[1].keys, "b2");
}

TEST_F(PostgresAggregateStoreTest, OutboxRecordsAreReturnedUntilDelivered) {
  ASSERT_TRUE(store_->ClaimPartition(P(0)).ok());
  ASSERT_TRUE(store_->ClaimPartition(P(1)).ok());
  PartitionCheckpoint cp = Progress(P(0), 1, 1);
  cp.outbox_add = {Record("k1", "r1"), Record("k2", "r2", "metrics-dead-letter"),
                   Record("k3", std::string("r3\0bin", 6))};
  PartitionCheckpoint cp1 = Progress(P(1), 1, 1);
  cp1.outbox_add = {Record("k", "other")};
  absl::StatusOr<CheckpointResult> result = store_->Checkpoint({cp, cp1});
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_THAT(result->outbox_ids, ElementsAre(SizeIs(3), SizeIs(1)));
  const std::vector<int64_t> ids = result->outbox_ids[0];
  EXPECT_LT(ids[0], ids[1]);
  EXPECT_LT(ids[1], ids[2]);

  absl::StatusOr<PartitionClaim> claim = NewStore()->ClaimPartition(P(0));
  ASSERT_TRUE(claim.ok()) << claim.status();
  ASSERT_THAT(claim->outbox, SizeIs(3));
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(claim->outbox[i].id, ids[i]);
  EXPECT_EQ(claim->outbox[1].topic, "metrics-dead-letter");
  EXPECT_EQ(claim->outbox[1].key, "k2");
  EXPECT_EQ(claim->outbox[2].value, std::string("r3\0bin", 6));
  // Returned again by the next claim: nothing was delivered yet.
  claim = store_->ClaimPartition(P(0));
  ASSERT_TRUE(claim.ok()) << claim.status();
  EXPECT_THAT(claim->outbox, SizeIs(3));

  // Another partition's id is not this partition's to delete.
  PartitionCheckpoint delivered = Progress(P(0), claim->owner_epoch, 2);
  delivered.outbox_delivered = {ids[0], ids[2], result->outbox_ids[1][0]};
  ASSERT_TRUE(store_->Checkpoint({delivered}).ok());
  claim = store_->ClaimPartition(P(0));
  ASSERT_TRUE(claim.ok()) << claim.status();
  EXPECT_THAT(Values(claim->outbox), ElementsAre("r2"));
  EXPECT_THAT(StoredOutbox(P(1)), ElementsAre("other"));
}

TEST_F(PostgresAggregateStoreTest, ThousandsOfWindowsAcrossPartitionsGoInBulkAndExactly) {
  // More windows than one statement carries (5,000), over two partitions, with every value
  // checked afterwards; and one series with two new 1-minute windows in the same checkpoint,
  // which the catalog records once with the later start.
  ASSERT_TRUE(store_->ClaimPartition(P(0)).ok());
  ASSERT_TRUE(store_->ClaimPartition(P(1)).ok());
  PartitionCheckpoint a = Progress(P(0), 1, 100);
  PartitionCheckpoint b = Progress(P(1), 1, 200);
  constexpr int kSeries = 6001;
  for (int i = 0; i < kSeries; ++i) {
    PartitionCheckpoint& cp = i % 2 == 0 ? a : b;
    cp.delta.windows.push_back(Window({.metric = absl::StrCat("m", i),
                                       .values = {1.0 * i, 0.5},
                                       .revision = static_cast<uint64_t>(i % 3 + 1)}));
    cp.delta.windows.push_back(Window({.metric = absl::StrCat("m", i),
                                       .size = v1::WINDOW_SIZE_5M,
                                       .values = {1.0 * i, 0.5, 2},
                                       .revision = 1}));
  }
  a.delta.windows.push_back(
      Window({.metric = "m0", .start = kT0 + absl::Minutes(1), .revision = 1}));
  absl::StatusOr<CheckpointResult> result = store_->Checkpoint({a, b});
  ASSERT_TRUE(result.ok()) << result.status();

  // Every value is exact in a double, so the sum is compared exactly. m0's second window holds
  // the default values, which sum to 266.5.
  const double sum = 1.0 * kSeries * (kSeries - 1) + 3.0 * kSeries + 266.5;
  EXPECT_THAT(Rows("SELECT count(*), sum(count), sum(sum) = $2::float8, "
                   "count(DISTINCT source_partition) FROM metrics.metric_aggregates "
                   "WHERE service_id = $1",
                   {service_ + "svc", absl::StrFormat("%.1f", sum)}),
              ElementsAre(absl::StrCat(2 * kSeries + 1, "|", 5 * kSeries + 3, "|t|2")));
  const v1::WindowAggregate probe =
      Window({.metric = "m4321", .values = {4321, 0.5}, .revision = 4321 % 3 + 1});
  absl::StatusOr<PartitionClaim> claim = NewStore()->ClaimPartition(P(1));
  ASSERT_TRUE(claim.ok()) << claim.status();
  EXPECT_EQ(claim->snapshot.windows.size(), 2u * (kSeries / 2));
  EXPECT_THAT(claim->snapshot.windows, ::testing::Contains(EqualsProto(probe)));
  // Catalog rows only for revision-1 one-minute windows, m0 once with its later window.
  EXPECT_THAT(Rows("SELECT count(*) FROM metrics.series WHERE service_id = $1", {service_ + "svc"}),
              ElementsAre(absl::StrCat((kSeries + 2) / 3)));
  EXPECT_THAT(Rows("SELECT extract(epoch FROM last_window_start)::bigint FROM metrics.series "
                   "WHERE service_id = $1 AND metric_name = 'm0'",
                   {service_ + "svc"}),
              ElementsAre(absl::StrCat(absl::ToUnixSeconds(kT0) + 60)));
}

TEST_F(PostgresAggregateStoreTest, TooLongServiceIdIsInvalidArgumentAndWritesNothing) {
  ASSERT_TRUE(store_->ClaimPartition(P(0)).ok());
  PartitionCheckpoint cp = Progress(P(0), 1, 5);
  const v1::WindowAggregate fits = Window({.metric = "fits"});
  v1::WindowAggregate too_long =
      Window({.service = std::string(kServiceIdColumnChars, 'x'), .metric = "too-long"});
  cp.delta.windows = {fits, too_long};
  cp.delta.dedup_added = {Chunk(kT0, "k")};
  cp.outbox_add = {Record("k", "v")};
  absl::Status status = store_->Checkpoint({cp}).status();
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("service_id"));
  EXPECT_THAT(status.message(), HasSubstr("too-long"));
  EXPECT_THAT(StoredWindows(), IsEmpty());
  EXPECT_THAT(StoredDedup(P(0)), IsEmpty());
  EXPECT_THAT(StoredOutbox(P(0)), IsEmpty());
  EXPECT_THAT(Offsets(P(0)), ElementsAre("1|null|null"));

  // The store carries on: the same checkpoint without the bad window commits.
  cp.delta.windows = {fits};
  absl::StatusOr<CheckpointResult> result = store_->Checkpoint({cp});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(StoredWindows(), ElementsAre("fits|1m|3|1|f"));
}

TEST_F(PostgresAggregateStoreTest, CorruptStoredSketchIsDataLossAndLeavesTheEpoch) {
  ASSERT_TRUE(store_->ClaimPartition(P(0)).ok());
  PartitionCheckpoint cp = Progress(P(0), 1, 5);
  const v1::WindowAggregate window = Window({});
  cp.delta.windows = {window};
  ASSERT_TRUE(store_->Checkpoint({cp}).ok());
  Rows("UPDATE metrics.metric_aggregates SET sketch = '\\xffff' WHERE series_key = $1",
       {window.series_key()});
  absl::Status status = store_->ClaimPartition(P(0)).status();
  EXPECT_TRUE(absl::IsDataLoss(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("sketch"));
  EXPECT_THAT(Offsets(P(0)), ElementsAre(absl::StrCat("1|5|", absl::ToUnixSeconds(kT0))));
}

}  // namespace

namespace testing {

// The AggregateStore contract, which FakeAggregateStore passes too.
INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, AggregateStoreContract,
                               ::testing::Types<PostgresStoreEnv>);

}  // namespace testing
}  // namespace streammetrics::aggregation
