// Tests of PartitionWindows deduplication: duplicates within and across deltas, keys scoped to
// their 1-minute window and shared by the partition's series, resent events of final windows
// counted as late, the DedupChunk deltas and dedup_release_before, and duplicates after Restore.
#include <set>
#include <string>
#include <vector>

#include "aggregation-service/engine/partition_windows.h"
#include "gtest/gtest.h"
#include "tests/aggregation-service/engine/window_engine_test_util.h"

namespace streammetrics::aggregation {
namespace {

using testing::AddTo;
using testing::ByWindow;
using testing::DecodeChunk;
using testing::FakeStore;
using testing::Key;
using testing::kT0;
using testing::MakeEvent;
using testing::WindowId;

constexpr v1::WindowSize k1m = v1::WINDOW_SIZE_1M;

TEST(PartitionWindowsDedupTest, ADuplicateWithinADeltaIsCountedOnce) {
  PartitionWindows engine;
  const auto e = MakeEvent(kT0 + absl::Seconds(3), 10, "c", 7, 2);
  EXPECT_EQ(AddTo(engine, e), AddOutcome::kCounted);
  EXPECT_EQ(AddTo(engine, e), AddOutcome::kDuplicate);
  // Same key, other value: still the same event resent (the key identifies it).
  EXPECT_EQ(AddTo(engine, MakeEvent(kT0 + absl::Seconds(3), 99, "c", 7, 2)),
            AddOutcome::kDuplicate);
  EXPECT_EQ(engine.dedup_keys(), 1u);
  const auto rows = ByWindow(engine.TakeDelta());
  EXPECT_EQ(rows.at(WindowId{e.series_key, k1m, kT0}).count(), 1u);
  EXPECT_EQ(rows.at(WindowId{e.series_key, k1m, kT0}).sum(), 10);
}

TEST(PartitionWindowsDedupTest, ADuplicateAcrossDeltasIsCountedOnce) {
  PartitionWindows engine;
  std::vector<testing::TestEvent> batch;
  for (uint32_t i = 0; i < 5; ++i) batch.push_back(MakeEvent(kT0 + absl::Seconds(i), i, "c", 1, i));
  for (const auto& e : batch) AddTo(engine, e);
  const PartitionDelta first = engine.TakeDelta();
  ASSERT_EQ(first.dedup_added.size(), 1u);
  EXPECT_EQ(first.dedup_added[0].window_start, kT0);
  EXPECT_EQ(DecodeChunk(first.dedup_added[0].keys),
            (std::set<Key>{{"c", 1, 0}, {"c", 1, 1}, {"c", 1, 2}, {"c", 1, 3}, {"c", 1, 4}}));
  // The whole batch again, plus one new event of it.
  for (const auto& e : batch) EXPECT_EQ(AddTo(engine, e), AddOutcome::kDuplicate);
  EXPECT_EQ(AddTo(engine, MakeEvent(kT0 + absl::Seconds(9), 5, "c", 1, 5)), AddOutcome::kCounted);
  const PartitionDelta second = engine.TakeDelta();
  ASSERT_EQ(second.dedup_added.size(), 1u);
  EXPECT_EQ(DecodeChunk(second.dedup_added[0].keys), (std::set<Key>{{"c", 1, 5}}));
  const auto rows = ByWindow(second);
  EXPECT_EQ(rows.at(WindowId{batch[0].series_key, k1m, kT0}).count(), 6u);
  EXPECT_EQ(rows.at(WindowId{batch[0].series_key, k1m, kT0}).sum(), 15);
  EXPECT_EQ(engine.dedup_keys(), 6u);
}

TEST(PartitionWindowsDedupTest, KeysArePartitionWideWithinTheirMinute) {
  PartitionWindows engine;
  // One key, two series of the partition, same minute: counted once.
  EXPECT_EQ(AddTo(engine, MakeEvent(kT0, 1, "c", 1, 0, "svc", "a")), AddOutcome::kCounted);
  EXPECT_EQ(AddTo(engine, MakeEvent(kT0, 1, "c", 1, 0, "svc", "b")), AddOutcome::kDuplicate);
  // The same key in another minute is another event as far as the engine can tell: a resend
  // carries the original timestamp, so it could not land there.
  EXPECT_EQ(AddTo(engine, MakeEvent(kT0 + absl::Minutes(1), 1, "c", 1, 0)), AddOutcome::kCounted);
  // Another client or sequence is another key.
  EXPECT_EQ(AddTo(engine, MakeEvent(kT0, 1, "d", 1, 0)), AddOutcome::kCounted);
  EXPECT_EQ(AddTo(engine, MakeEvent(kT0, 1, "c", 2, 0)), AddOutcome::kCounted);
  EXPECT_EQ(engine.dedup_keys(), 4u);
  const PartitionDelta delta = engine.TakeDelta();
  ASSERT_EQ(delta.dedup_added.size(), 2u);
  std::map<absl::Time, std::set<Key>> chunks;
  for (const DedupChunk& chunk : delta.dedup_added)
    chunks[chunk.window_start] = DecodeChunk(chunk.keys);
  EXPECT_EQ(chunks[kT0], (std::set<Key>{{"c", 1, 0}, {"d", 1, 0}, {"c", 2, 0}}));
  EXPECT_EQ(chunks[kT0 + absl::Minutes(1)], (std::set<Key>{{"c", 1, 0}}));
}

TEST(PartitionWindowsDedupTest, OutOfOrderIndexesOfABatch) {
  PartitionWindows engine;
  for (uint32_t i : {4, 0, 3, 1}) {
    EXPECT_EQ(AddTo(engine, MakeEvent(kT0, i, "c", 1, i)), AddOutcome::kCounted);
  }
  for (uint32_t i : {0, 1, 3, 4}) {
    EXPECT_EQ(AddTo(engine, MakeEvent(kT0, i, "c", 1, i)), AddOutcome::kDuplicate);
  }
  EXPECT_EQ(AddTo(engine, MakeEvent(kT0, 2, "c", 1, 2)), AddOutcome::kCounted);
  const PartitionDelta delta = engine.TakeDelta();
  ASSERT_EQ(delta.dedup_added.size(), 1u);
  // DecodeChunk also checks the indexes are ascending.
  EXPECT_EQ(DecodeChunk(delta.dedup_added[0].keys).size(), 5u);
}

TEST(PartitionWindowsDedupTest, AResentEventWhoseWindowIsFinalIsLate) {
  PartitionWindows engine;
  const auto e = MakeEvent(kT0 + absl::Seconds(30), 1, "c", 1, 0);
  EXPECT_EQ(AddTo(engine, e), AddOutcome::kCounted);
  engine.TakeDelta();
  engine.Advance(kT0 + absl::Minutes(1) + absl::Seconds(30), true);
  // The window's keys are gone with it...
  EXPECT_EQ(engine.dedup_keys(), 0u);
  // ...and the resent event is late, not counted again and not a silent duplicate.
  EXPECT_EQ(AddTo(engine, e), AddOutcome::kLate);
  const auto rows = ByWindow(engine.TakeDelta());
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows.begin()->second.count(), 1u);
  EXPECT_TRUE(rows.begin()->second.is_final());
}

TEST(PartitionWindowsDedupTest, ChunksOfMinutesFinalByTheDeltaAreReleasedNotAdded) {
  PartitionWindows engine;
  AddTo(engine, MakeEvent(kT0 + absl::Seconds(10), 1, "c", 1, 0));
  AddTo(engine, MakeEvent(kT0 + absl::Seconds(70), 1, "c", 1, 1));
  engine.Advance(kT0 + absl::Seconds(40), true);  // watermark kT0 + 10 s
  PartitionDelta delta = engine.TakeDelta();
  EXPECT_EQ(delta.dedup_release_before, kT0);
  EXPECT_EQ(delta.dedup_added.size(), 2u);

  AddTo(engine, MakeEvent(kT0 + absl::Seconds(11), 1, "c", 1, 2));
  AddTo(engine, MakeEvent(kT0 + absl::Seconds(71), 1, "c", 1, 3));
  EXPECT_EQ(engine.dedup_keys(), 4u);
  engine.Advance(kT0 + absl::Seconds(90), true);  // watermark kT0 + 60 s: the first minute closes
  EXPECT_EQ(engine.dedup_keys(), 2u);
  delta = engine.TakeDelta();
  EXPECT_EQ(delta.watermark, kT0 + absl::Minutes(1));
  EXPECT_EQ(delta.dedup_release_before, kT0 + absl::Minutes(1));
  ASSERT_EQ(delta.dedup_added.size(), 1u);
  EXPECT_EQ(delta.dedup_added[0].window_start, kT0 + absl::Minutes(1));
  EXPECT_EQ(DecodeChunk(delta.dedup_added[0].keys), (std::set<Key>{{"c", 1, 3}}));

  // Mid-minute watermarks release up to the start of the minute they are in.
  engine.Advance(kT0 + absl::Seconds(149), true);
  EXPECT_EQ(engine.TakeDelta().dedup_release_before, kT0 + absl::Minutes(1));
  engine.Advance(kT0 + absl::Seconds(150), true);
  EXPECT_EQ(engine.TakeDelta().dedup_release_before, kT0 + absl::Minutes(2));
  EXPECT_EQ(engine.dedup_keys(), 0u);
}

TEST(PartitionWindowsDedupTest, DuplicatesAfterRestoreAreFoundInTheUnionOfChunks) {
  PartitionWindows engine;
  FakeStore store;
  std::vector<testing::TestEvent> sent;
  for (uint32_t i = 0; i < 6; ++i) {
    sent.push_back(MakeEvent(kT0 + absl::Seconds(i * 15), i, "c", 1 + i % 2, i));
    AddTo(engine, sent.back());
    if (i % 2 == 1) store.Apply(engine.TakeDelta());
  }
  // Three deltas: two chunks of the first minute, one of the second.
  ASSERT_EQ(store.Snapshot().dedup.size(), 3u);
  PartitionWindows restored;
  ASSERT_TRUE(restored.Restore(store.Snapshot()).ok());
  EXPECT_EQ(restored.dedup_keys(), 6u);
  for (const auto& e : sent) EXPECT_EQ(AddTo(restored, e), AddOutcome::kDuplicate);
  EXPECT_TRUE(restored.TakeDelta().windows.empty());
  EXPECT_EQ(AddTo(restored, MakeEvent(kT0, 9, "c", 1, 9)), AddOutcome::kCounted);
  const auto rows = ByWindow(restored.TakeDelta());
  EXPECT_EQ(rows.at(WindowId{sent[0].series_key, k1m, kT0}).count(), 5u);
  EXPECT_EQ(rows.at(WindowId{sent[0].series_key, k1m, kT0}).revision(), 3u);
}

}  // namespace
}  // namespace streammetrics::aggregation
