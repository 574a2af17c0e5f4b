// Tests of what PartitionWindows::TakeDelta reports: revisions (1 the first time, +1 per delta
// carrying the window, is_final exactly once and never again), 5-minute windows equal to the
// merge of their 1-minute windows, empty deltas, and a long randomized run against the reference
// model.
#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "aggregation-service/engine/partition_windows.h"
#include "gtest/gtest.h"
#include "lib/sketch/ddsketch.h"
#include "tests/aggregation-service/engine/window_engine_test_util.h"

namespace streammetrics::aggregation {
namespace {

using testing::AddTo;
using testing::ByWindow;
using testing::ExpectRowMatches;
using testing::ExpectStoreMatches;
using testing::FakeStore;
using testing::kT0;
using testing::MakeEvent;
using testing::RandomWorkload;
using testing::ReferenceModel;
using testing::Step;
using testing::WindowId;

constexpr v1::WindowSize k1m = v1::WINDOW_SIZE_1M;
constexpr v1::WindowSize k5m = v1::WINDOW_SIZE_5M;

const std::string& Key() {
  static const std::string* const key = new std::string(MakeEvent(kT0, 0, "c", 1, 0).series_key);
  return *key;
}

TEST(PartitionWindowsDeltaTest, RevisionsCountTheDeltasCarryingEachWindow) {
  PartitionWindows engine;
  AddTo(engine, MakeEvent(kT0, 1, "c", 1, 0));
  auto rows = ByWindow(engine.TakeDelta());
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows.at(WindowId{Key(), k1m, kT0}).revision(), 1u);
  EXPECT_EQ(rows.at(WindowId{Key(), k5m, kT0}).revision(), 1u);

  // Two events in one delta: one more revision, not two.
  AddTo(engine, MakeEvent(kT0, 2, "c", 1, 1));
  AddTo(engine, MakeEvent(kT0, 3, "c", 1, 2));
  rows = ByWindow(engine.TakeDelta());
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows.at(WindowId{Key(), k1m, kT0}).revision(), 2u);
  EXPECT_EQ(rows.at(WindowId{Key(), k1m, kT0}).count(), 3u);
  EXPECT_EQ(rows.at(WindowId{Key(), k5m, kT0}).revision(), 2u);

  // A new minute: its own revision starts at 1, the 5-minute window's goes on.
  AddTo(engine, MakeEvent(kT0 + absl::Minutes(1), 4, "c", 1, 3));
  rows = ByWindow(engine.TakeDelta());
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows.at(WindowId{Key(), k1m, kT0 + absl::Minutes(1)}).revision(), 1u);
  EXPECT_EQ(rows.at(WindowId{Key(), k5m, kT0}).revision(), 3u);
  EXPECT_EQ(rows.at(WindowId{Key(), k5m, kT0}).count(), 4u);

  // Closing the first minute changes no number: its 1m row alone, final, one more revision.
  engine.Advance(kT0 + absl::Minutes(1) + absl::Seconds(30), true);
  rows = ByWindow(engine.TakeDelta());
  ASSERT_EQ(rows.size(), 1u);
  const v1::WindowAggregate& closed = rows.at(WindowId{Key(), k1m, kT0});
  EXPECT_TRUE(closed.is_final());
  EXPECT_EQ(closed.revision(), 3u);
  EXPECT_EQ(closed.count(), 3u);

  // Never again, even when its 5-minute window changes.
  AddTo(engine, MakeEvent(kT0 + absl::Minutes(2), 5, "c", 1, 4));
  rows = ByWindow(engine.TakeDelta());
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_FALSE(rows.contains(WindowId{Key(), k1m, kT0}));
  EXPECT_EQ(rows.at(WindowId{Key(), k5m, kT0}).revision(), 4u);
  EXPECT_EQ(rows.at(WindowId{Key(), k5m, kT0}).count(), 5u);
  EXPECT_FALSE(rows.at(WindowId{Key(), k5m, kT0}).is_final());

  // The 5-minute window closes with its last minutes, each final once.
  engine.Advance(kT0 + absl::Minutes(5) + absl::Seconds(30), true);
  rows = ByWindow(engine.TakeDelta());
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows.at(WindowId{Key(), k1m, kT0 + absl::Minutes(1)}).revision(), 2u);
  EXPECT_EQ(rows.at(WindowId{Key(), k1m, kT0 + absl::Minutes(2)}).revision(), 2u);
  EXPECT_EQ(rows.at(WindowId{Key(), k5m, kT0}).revision(), 5u);
  for (const auto& [id, row] : rows) EXPECT_TRUE(row.is_final());
  engine.Advance(kT0 + absl::Hours(1), true);
  EXPECT_TRUE(engine.TakeDelta().windows.empty());
}

TEST(PartitionWindowsDeltaTest, AWindowOpenedAndClosedBetweenDeltasIsReportedOnceFinal) {
  PartitionWindows engine;
  AddTo(engine, MakeEvent(kT0 + absl::Seconds(5), 7, "c", 1, 0));
  engine.Advance(kT0 + absl::Minutes(6), true);
  const auto rows = ByWindow(engine.TakeDelta());
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& [id, row] : rows) {
    EXPECT_TRUE(row.is_final());
    EXPECT_EQ(row.revision(), 1u);
    EXPECT_EQ(row.count(), 1u);
  }
  EXPECT_TRUE(engine.TakeDelta().windows.empty());
  EXPECT_EQ(engine.open_windows(), 0u);
}

TEST(PartitionWindowsDeltaTest, TakeDeltaTwiceWithNothingBetweenIsEmpty) {
  PartitionWindows engine;
  PartitionDelta first = engine.TakeDelta();
  EXPECT_TRUE(first.windows.empty());
  EXPECT_TRUE(first.dedup_added.empty());
  EXPECT_EQ(first.watermark, absl::InfinitePast());
  EXPECT_EQ(first.dedup_release_before, absl::InfinitePast());

  AddTo(engine, MakeEvent(kT0, 1, "c", 1, 0));
  engine.Advance(kT0 + absl::Seconds(40), true);
  first = engine.TakeDelta();
  EXPECT_EQ(first.windows.size(), 2u);
  EXPECT_EQ(first.dedup_added.size(), 1u);
  const PartitionDelta second = engine.TakeDelta();
  EXPECT_TRUE(second.windows.empty());
  EXPECT_TRUE(second.dedup_added.empty());
  EXPECT_EQ(second.watermark, first.watermark);
  EXPECT_EQ(second.dedup_release_before, first.dedup_release_before);
  // A duplicate or a late event changes nothing either.
  AddTo(engine, MakeEvent(kT0, 1, "c", 1, 0));
  engine.Advance(kT0 + absl::Minutes(1) + absl::Seconds(30), true);
  engine.TakeDelta();
  AddTo(engine, MakeEvent(kT0, 1, "c", 1, 1));
  EXPECT_TRUE(engine.TakeDelta().windows.empty());
}

TEST(PartitionWindowsDeltaTest, OnlyChangedSeriesAreReported) {
  PartitionWindows engine;
  AddTo(engine, MakeEvent(kT0, 1, "c", 1, 0, "svc", "a"));
  AddTo(engine, MakeEvent(kT0, 1, "c", 1, 1, "svc", "b"));
  EXPECT_EQ(engine.TakeDelta().windows.size(), 4u);
  const auto b = MakeEvent(kT0 + absl::Seconds(1), 2, "c", 1, 2, "svc", "b");
  AddTo(engine, b);
  const auto rows = ByWindow(engine.TakeDelta());
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& [id, row] : rows) EXPECT_EQ(row.series_key(), b.series_key);
}

TEST(PartitionWindowsDeltaTest, FiveMinuteWindowIsTheMergeOfItsMinutes) {
  PartitionWindows engine;
  std::mt19937_64 rng(3);
  std::lognormal_distribution<double> latency(4, 1.2);
  uint32_t index = 0;
  for (int i = 0; i < 5000; ++i) {
    const absl::Time t = kT0 + absl::Milliseconds(static_cast<int64_t>(rng() % 300'000));
    const double v = i % 17 == 0 ? -latency(rng) : latency(rng);
    ASSERT_EQ(AddTo(engine, MakeEvent(t, v, "c", 1, index++)), AddOutcome::kCounted);
  }
  engine.Advance(kT0 + absl::Minutes(6), true);
  const auto rows = ByWindow(engine.TakeDelta());
  ASSERT_EQ(rows.size(), 6u);
  const v1::WindowAggregate& five = rows.at(WindowId{Key(), k5m, kT0});
  sketch::DDSketch merged;
  uint64_t count = 0;
  double sum = 0, min = 1e300, max = -1e300;
  for (int m = 0; m < 5; ++m) {
    const v1::WindowAggregate& minute = rows.at(WindowId{Key(), k1m, kT0 + absl::Minutes(m)});
    absl::StatusOr<sketch::DDSketch> part = sketch::DDSketch::FromProto(minute.sketch());
    ASSERT_TRUE(part.ok());
    ASSERT_TRUE(merged.Merge(*part).ok());
    count += minute.count();
    sum += minute.sum();
    min = std::min(min, minute.min());
    max = std::max(max, minute.max());
  }
  absl::StatusOr<sketch::DDSketch> five_sketch = sketch::DDSketch::FromProto(five.sketch());
  ASSERT_TRUE(five_sketch.ok());
  EXPECT_EQ(*five_sketch, merged);
  EXPECT_EQ(five.count(), count);
  EXPECT_EQ(count, 5000u);
  EXPECT_EQ(five.sum(), sum);
  EXPECT_EQ(five.avg(), sum / 5000);
  EXPECT_EQ(five.min(), min);
  EXPECT_EQ(five.max(), max);
  EXPECT_EQ(five.p50(), *merged.Quantile(0.5));
  EXPECT_EQ(five.p95(), *merged.Quantile(0.95));
  EXPECT_EQ(five.p99(), *merged.Quantile(0.99));
}

TEST(PartitionWindowsDeltaTest, FiveMinuteRowsStayTheMergeWhileMinutesClose) {
  // Minutes close one by one while later ones still change; every 5m row along the way must be
  // the merge of what the minutes held at that delta.
  PartitionWindows engine;
  std::map<absl::Time, v1::WindowAggregate> minutes;
  uint32_t index = 0;
  for (int m = 0; m < 5; ++m) {
    for (int i = 0; i < 20; ++i) {
      AddTo(engine, MakeEvent(kT0 + absl::Minutes(m) + absl::Seconds(i), m * 100 + i * 0.1, "c", 1,
                              index++));
    }
    engine.Advance(kT0 + absl::Minutes(m) + absl::Seconds(50), false);
    const auto rows = ByWindow(engine.TakeDelta());
    for (const auto& [id, row] : rows) {
      if (std::get<1>(id) == k1m) minutes[std::get<2>(id)] = row;
    }
    const v1::WindowAggregate& five = rows.at(WindowId{Key(), k5m, kT0});
    EXPECT_EQ(five.revision(), static_cast<uint64_t>(m) + 1);
    uint64_t count = 0;
    double sum = 0;
    sketch::DDSketch merged;
    for (const auto& [start, row] : minutes) {
      count += row.count();
      sum += row.sum();
      ASSERT_TRUE(merged.Merge(*sketch::DDSketch::FromProto(row.sketch())).ok());
    }
    EXPECT_EQ(five.count(), count);
    EXPECT_EQ(five.sum(), sum);
    EXPECT_EQ(*sketch::DDSketch::FromProto(five.sketch()), merged);
  }
}

TEST(PartitionWindowsDeltaTest, RandomizedRunMatchesTheReferenceModel) {
  for (uint64_t seed : {1, 2, 3}) {
    SCOPED_TRACE(seed);
    PartitionWindows engine;
    ReferenceModel model;
    FakeStore store;
    size_t late = 0, duplicates = 0;
    const std::vector<Step> workload = RandomWorkload(seed, 400, 60);
    for (size_t i = 0; i < workload.size(); ++i) {
      const Step& step = workload[i];
      for (const auto& e : step.events) {
        const AddOutcome want = model.Add(e);
        ASSERT_EQ(AddTo(engine, e), want);
        late += want == AddOutcome::kLate ? 1 : 0;
        duplicates += want == AddOutcome::kDuplicate ? 1 : 0;
      }
      engine.Advance(step.now, step.idle);
      model.Advance(step.now, step.idle);
      ASSERT_EQ(engine.watermark(), model.watermark());
      const PartitionDelta delta = engine.TakeDelta();
      for (const v1::WindowAggregate& row : delta.windows) {
        ExpectRowMatches(row, model, delta.watermark);
      }
      store.Apply(delta);
      // The whole store (which also proves no window was left out) now and then: it only grows.
      if (i % 50 == 49 || i + 1 == workload.size()) ExpectStoreMatches(store, model);
      if (::testing::Test::HasFailure()) return;
    }
    // The workload must exercise every outcome to prove anything.
    EXPECT_GT(late, 20u);
    EXPECT_GT(duplicates, 20u);
  }
}

}  // namespace
}  // namespace streammetrics::aggregation
