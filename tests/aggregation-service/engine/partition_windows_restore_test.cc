// Tests of PartitionWindows::Restore: restarting from what the store kept gives the same results
// as never restarting (crashes between and in the middle of checkpoints), restored state (final
// minutes, revisions, watermark, keys) behaves like the original, and a bad snapshot is refused
// with a reason and leaves the engine empty.
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "aggregation-service/engine/partition_windows.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/aggregation-service/engine/window_engine_test_util.h"

namespace streammetrics::aggregation {
namespace {

using testing::AddTo;
using testing::ByWindow;
using testing::ExpectStoreMatches;
using testing::FakeStore;
using ::testing::HasSubstr;
using testing::kT0;
using testing::MakeEvent;
using testing::RandomWorkload;
using testing::ReferenceModel;
using testing::Step;
using testing::TestEvent;
using testing::WindowId;

constexpr v1::WindowSize k1m = v1::WINDOW_SIZE_1M;
constexpr v1::WindowSize k5m = v1::WINDOW_SIZE_5M;

void ExpectSameStore(const FakeStore& restarted, const FakeStore& continuous) {
  EXPECT_EQ(restarted.watermark(), continuous.watermark());
  ASSERT_EQ(restarted.rows().size(), continuous.rows().size());
  for (const auto& [id, row] : continuous.rows()) {
    auto it = restarted.rows().find(id);
    ASSERT_NE(it, restarted.rows().end()) << std::get<0>(id);
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(it->second, row))
        << "restarted:\n"
        << it->second.DebugString() << "continuous:\n"
        << row.DebugString();
  }
  EXPECT_EQ(restarted.Keys(), continuous.Keys());
}

// The same rows (in any order) and the same keys, watermark and release point.
void ExpectSameDelta(const PartitionDelta& restarted, const PartitionDelta& continuous) {
  const auto got = ByWindow(restarted);
  const auto want = ByWindow(continuous);
  ASSERT_EQ(got.size(), want.size());
  for (const auto& [id, row] : want) {
    auto it = got.find(id);
    ASSERT_NE(it, got.end()) << std::get<0>(id);
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(it->second, row))
        << "restarted:\n"
        << it->second.DebugString() << "continuous:\n"
        << row.DebugString();
  }
  std::map<absl::Time, std::set<testing::Key>> got_keys, want_keys;
  for (const DedupChunk& chunk : restarted.dedup_added) {
    got_keys[chunk.window_start] = testing::DecodeChunk(chunk.keys);
  }
  for (const DedupChunk& chunk : continuous.dedup_added) {
    want_keys[chunk.window_start] = testing::DecodeChunk(chunk.keys);
  }
  EXPECT_EQ(got_keys, want_keys);
  EXPECT_EQ(restarted.watermark, continuous.watermark);
  EXPECT_EQ(restarted.dedup_release_before, continuous.dedup_release_before);
}

TEST(PartitionWindowsRestoreTest, RestartingFromTheStoreChangesNoResult) {
  for (uint64_t seed : {11, 12, 13}) {
    SCOPED_TRACE(seed);
    PartitionWindows continuous;
    FakeStore continuous_store;
    auto restarted = std::make_unique<PartitionWindows>();
    FakeStore restarted_store;
    ReferenceModel model;
    int restarts = 0;
    const std::vector<Step> workload = RandomWorkload(seed, 300, 40);
    for (size_t i = 0; i < workload.size(); ++i) {
      const Step& step = workload[i];
      if (i % 11 == 5) {
        // A crash in the middle of a step: what was added is lost with the process and the
        // records are consumed again from the last committed offset.
        for (size_t j = 0; j < step.events.size() / 2; ++j) AddTo(*restarted, step.events[j]);
        restarted->Advance(step.now, step.idle);
      }
      if (i % 7 == 3 || i % 11 == 5) {
        restarted = std::make_unique<PartitionWindows>();
        ASSERT_TRUE(restarted->Restore(restarted_store.Snapshot()).ok());
        ++restarts;
        EXPECT_TRUE(restarted->TakeDelta().windows.empty());
      }
      for (const TestEvent& e : step.events) {
        const AddOutcome want = AddTo(continuous, e);
        ASSERT_EQ(AddTo(*restarted, e), want);
        ASSERT_EQ(model.Add(e), want);
      }
      continuous.Advance(step.now, step.idle);
      restarted->Advance(step.now, step.idle);
      model.Advance(step.now, step.idle);
      const PartitionDelta want = continuous.TakeDelta();
      const PartitionDelta got = restarted->TakeDelta();
      ExpectSameDelta(got, want);
      continuous_store.Apply(want);
      restarted_store.Apply(got);
      if (i % 50 == 49) ExpectSameStore(restarted_store, continuous_store);
      EXPECT_EQ(restarted->open_windows(), continuous.open_windows());
      EXPECT_EQ(restarted->dedup_keys(), continuous.dedup_keys());
      if (::testing::Test::HasFailure()) return;
    }
    ExpectSameStore(restarted_store, continuous_store);
    ExpectStoreMatches(restarted_store, model);
    EXPECT_GT(restarts, 50);
  }
}

TEST(PartitionWindowsRestoreTest, RestoredStateBehavesLikeTheOriginal) {
  PartitionWindows engine;
  FakeStore store;
  AddTo(engine, MakeEvent(kT0 + absl::Seconds(5), 1, "c", 1, 0));
  AddTo(engine, MakeEvent(kT0 + absl::Seconds(65), 2, "c", 1, 1));
  AddTo(engine, MakeEvent(kT0 + absl::Seconds(95), 4, "c", 1, 2));
  engine.Advance(kT0 + absl::Seconds(95), false);  // watermark kT0 + 65 s: minute 0 final
  store.Apply(engine.TakeDelta());
  const std::string key = MakeEvent(kT0, 0, "c", 1, 0).series_key;
  ASSERT_TRUE(store.rows().at(WindowId{key, k1m, kT0}).is_final());
  ASSERT_EQ(store.rows().at(WindowId{key, k5m, kT0}).revision(), 1u);

  PartitionWindows restored;
  ASSERT_TRUE(restored.Restore(store.Snapshot()).ok());
  EXPECT_EQ(restored.watermark(), engine.watermark());
  EXPECT_EQ(restored.open_windows(), engine.open_windows());
  EXPECT_EQ(restored.open_windows(), 2u);
  EXPECT_EQ(restored.dedup_keys(), 2u);
  EXPECT_TRUE(restored.TakeDelta().windows.empty());

  // An event for the restored final minute is late, whatever its key.
  EXPECT_EQ(AddTo(restored, MakeEvent(kT0 + absl::Seconds(59), 8, "z", 9, 9)), AddOutcome::kLate);
  EXPECT_EQ(AddTo(restored, MakeEvent(kT0 + absl::Seconds(65), 2, "c", 1, 1)),
            AddOutcome::kDuplicate);
  EXPECT_EQ(AddTo(restored, MakeEvent(kT0 + absl::Seconds(70), 16, "c", 2, 0)),
            AddOutcome::kCounted);
  const auto rows = ByWindow(restored.TakeDelta());
  ASSERT_EQ(rows.size(), 2u);
  const v1::WindowAggregate& minute = rows.at(WindowId{key, k1m, kT0 + absl::Minutes(1)});
  EXPECT_EQ(minute.count(), 3u);
  EXPECT_EQ(minute.sum(), 2 + 4 + 16);
  EXPECT_EQ(minute.revision(), 2u);
  // The restored final minute is still part of its 5-minute window.
  const v1::WindowAggregate& five = rows.at(WindowId{key, k5m, kT0});
  EXPECT_EQ(five.count(), 4u);
  EXPECT_EQ(five.sum(), 1 + (2 + 4 + 16));
  EXPECT_EQ(five.min(), 1);
  EXPECT_EQ(five.revision(), 2u);

  // Without events since the restart, a non-idle advance cannot move the watermark at all, and an
  // earlier clock never moves it back.
  restored.Advance(kT0, true);
  EXPECT_EQ(restored.watermark(), engine.watermark());
  PartitionWindows quiet;
  ASSERT_TRUE(quiet.Restore(store.Snapshot()).ok());
  quiet.Advance(kT0 + absl::Hours(1), false);
  EXPECT_EQ(quiet.watermark(), engine.watermark());
  EXPECT_EQ(quiet.TakeDelta().watermark, engine.watermark());
}

TEST(PartitionWindowsRestoreTest, RestoreReplacesTheStateAndIgnoresWhatIsFinalForGood) {
  PartitionWindows engine;
  FakeStore store;
  AddTo(engine, MakeEvent(kT0 + absl::Seconds(5), 1, "c", 1, 0));
  engine.Advance(kT0 + absl::Minutes(7), true);  // everything final
  const PartitionDelta delta = engine.TakeDelta();
  store.Apply(delta);
  PartitionSnapshot snapshot = store.Snapshot();
  EXPECT_TRUE(snapshot.windows.empty());
  // A store that hands over final rows anyway, and a chunk of a released minute.
  snapshot.windows = delta.windows;
  snapshot.dedup.push_back(DedupChunk{kT0, ""});

  PartitionWindows restored;
  AddTo(restored, MakeEvent(kT0 + absl::Minutes(30), 1, "c", 5, 0));
  ASSERT_TRUE(restored.Restore(snapshot).ok());
  EXPECT_EQ(restored.open_windows(), 0u);
  EXPECT_EQ(restored.dedup_keys(), 0u);
  EXPECT_EQ(restored.watermark(), kT0 + absl::Minutes(7) - absl::Seconds(30));
  EXPECT_TRUE(restored.TakeDelta().windows.empty());
}

class RestoreErrorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    AddTo(source_, MakeEvent(kT0 + absl::Seconds(5), 1, "c", 1, 0));
    AddTo(source_, MakeEvent(kT0 + absl::Seconds(65), 2, "c", 1, 1));
    source_.Advance(kT0 + absl::Seconds(95), true);  // minute 0 final, minute 1 open
    store_.Apply(source_.TakeDelta());
    good_ = store_.Snapshot();
    ASSERT_EQ(good_.windows.size(), 3u);
    ASSERT_EQ(good_.dedup.size(), 1u);
    ASSERT_TRUE(engine_.Restore(good_).ok());
  }

  v1::WindowAggregate* Row(v1::WindowSize size, absl::Time start) {
    for (v1::WindowAggregate& row : good_.windows) {
      if (row.window_size() == size && row.window_start().seconds() == absl::ToUnixSeconds(start)) {
        return &row;
      }
    }
    ADD_FAILURE() << "no such row";
    return &good_.windows[0];
  }

  // Restores `bad` into an engine that held state: refused, and the engine is left empty.
  void ExpectRefused(const PartitionSnapshot& bad, absl::string_view reason) {
    const absl::Status status = engine_.Restore(bad);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr(reason));
    EXPECT_EQ(engine_.watermark(), absl::InfinitePast());
    EXPECT_EQ(engine_.open_windows(), 0u);
    EXPECT_EQ(engine_.dedup_keys(), 0u);
    const PartitionDelta delta = engine_.TakeDelta();
    EXPECT_TRUE(delta.windows.empty());
    EXPECT_TRUE(delta.dedup_added.empty());
    // What was a duplicate of restored state is counted afresh in the empty engine.
    EXPECT_EQ(AddTo(engine_, MakeEvent(kT0 + absl::Seconds(65), 2, "c", 1, 1)),
              AddOutcome::kCounted);
  }

  PartitionWindows source_;
  FakeStore store_;
  PartitionSnapshot good_;
  PartitionWindows engine_;
};

TEST_F(RestoreErrorTest, CorruptSketchNamesTheWindow) {
  Row(k1m, kT0 + absl::Minutes(1))->mutable_sketch()->mutable_positive()->set_offset(1 << 30);
  ExpectRefused(good_, "1m window at 2027-01-15T08:01:00Z of series \"svc|latency|\": sketch");
}

TEST_F(RestoreErrorTest, SketchOfAnotherAccuracy) {
  PartitionWindows other_accuracy(EngineOptions{.relative_accuracy = 0.02});
  const absl::Status status = other_accuracy.Restore(good_);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("accuracy"));
  EXPECT_EQ(other_accuracy.open_windows(), 0u);
}

TEST_F(RestoreErrorTest, RowCountDisagreeingWithItsSketch) {
  Row(k1m, kT0)->set_count(5);
  ExpectRefused(good_, "sketch counts 1");
}

TEST_F(RestoreErrorTest, CorruptChunkBytesNameTheChunk) {
  good_.dedup[0].keys = "\x0a\xff\xff\xff\xff garbage";
  ExpectRefused(good_, "dedup chunk of 2027-01-15T08:01:00Z");
}

TEST_F(RestoreErrorTest, ChunkNotAtAMinuteStart) {
  good_.dedup[0].window_start += absl::Seconds(1);
  ExpectRefused(good_, "not a 1m window start");
}

TEST_F(RestoreErrorTest, FiveMinuteRowWithoutItsMinutes) {
  std::erase_if(good_.windows,
                [](const v1::WindowAggregate& row) { return row.window_size() == k1m; });
  ExpectRefused(good_, "5m window at 2027-01-15T08:00:00Z");
}

TEST_F(RestoreErrorTest, FinalRowEndingAfterTheWatermark) {
  Row(k1m, kT0 + absl::Minutes(1))->set_is_final(true);
  ExpectRefused(good_, "final but ends after the watermark");
}

TEST_F(RestoreErrorTest, RowStoredTwice) {
  good_.windows.push_back(*Row(k1m, kT0 + absl::Minutes(1)));
  ExpectRefused(good_, "stored twice");
}

TEST_F(RestoreErrorTest, RowOfNoWindowSize) {
  Row(k1m, kT0 + absl::Minutes(1))->set_window_size(v1::WINDOW_SIZE_UNSPECIFIED);
  ExpectRefused(good_, "window size 0");
}

TEST_F(RestoreErrorTest, RowNotAlignedToItsSize) {
  Row(k5m, kT0)->mutable_window_start()->set_seconds(absl::ToUnixSeconds(kT0) + 60);
  Row(k5m, kT0 + absl::Minutes(1))
      ->mutable_window_end()
      ->set_seconds(absl::ToUnixSeconds(kT0) + 360);
  ExpectRefused(good_, "not aligned");
}

TEST_F(RestoreErrorTest, RowWithoutEvents) {
  Row(k1m, kT0 + absl::Minutes(1))->set_count(0);
  ExpectRefused(good_, "count is 0");
}

}  // namespace
}  // namespace streammetrics::aggregation
