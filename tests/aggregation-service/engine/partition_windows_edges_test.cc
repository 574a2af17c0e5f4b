// Tests of PartitionWindows at the edges of time: window boundaries, the lateness boundary to the
// nanosecond, out-of-order events, how Advance moves the watermark (idle or not, never back),
// times before 1970, gauge values of any sign, open_windows, and 10,000 series at once.
#include <string>
#include <vector>

#include "aggregation-service/engine/partition_windows.h"
#include "gtest/gtest.h"
#include "tests/aggregation-service/engine/window_engine_test_util.h"

namespace streammetrics::aggregation {
namespace {

using testing::AddTo;
using testing::ByWindow;
using testing::ExpectNumbers;
using testing::ExpectStoreMatches;
using testing::FakeStore;
using testing::kT0;
using testing::MakeEvent;
using testing::ReferenceModel;
using testing::WindowId;

constexpr v1::WindowSize k1m = v1::WINDOW_SIZE_1M;
constexpr v1::WindowSize k5m = v1::WINDOW_SIZE_5M;

std::string KeyOf(const testing::TestEvent& e) { return e.series_key; }

TEST(PartitionWindowsEdgesTest, StartIsInclusiveAndAnEventAtTheEndBelongsToTheNextWindow) {
  PartitionWindows engine;
  const auto at_start = MakeEvent(kT0, 1, "c", 1, 0);
  const auto before_end = MakeEvent(kT0 + absl::Minutes(1) - absl::Nanoseconds(1), 2, "c", 1, 1);
  const auto at_end = MakeEvent(kT0 + absl::Minutes(1), 4, "c", 1, 2);
  const auto at_five_end = MakeEvent(kT0 + absl::Minutes(5), 8, "c", 1, 3);
  for (const auto* e : {&at_start, &before_end, &at_end, &at_five_end}) {
    EXPECT_EQ(AddTo(engine, *e), AddOutcome::kCounted);
  }
  const auto rows = ByWindow(engine.TakeDelta());
  const std::string key = KeyOf(at_start);
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(rows.at(WindowId{key, k1m, kT0}).count(), 2u);
  EXPECT_EQ(rows.at(WindowId{key, k1m, kT0}).sum(), 3);
  EXPECT_EQ(rows.at(WindowId{key, k1m, kT0 + absl::Minutes(1)}).sum(), 4);
  EXPECT_EQ(rows.at(WindowId{key, k5m, kT0}).count(), 3u);
  EXPECT_EQ(rows.at(WindowId{key, k5m, kT0}).sum(), 7);
  EXPECT_EQ(rows.at(WindowId{key, k1m, kT0 + absl::Minutes(5)}).sum(), 8);
  EXPECT_EQ(rows.at(WindowId{key, k5m, kT0 + absl::Minutes(5)}).sum(), 8);
  const v1::WindowAggregate& row = rows.at(WindowId{key, k1m, kT0});
  EXPECT_EQ(row.window_start().seconds(), absl::ToUnixSeconds(kT0));
  EXPECT_EQ(row.window_start().nanos(), 0);
  EXPECT_EQ(row.window_end().seconds(), absl::ToUnixSeconds(kT0) + 60);
  EXPECT_EQ(rows.at(WindowId{key, k5m, kT0}).window_end().seconds(),
            absl::ToUnixSeconds(kT0) + 300);
  EXPECT_EQ(row.series().service_id(), "svc");
  EXPECT_EQ(row.series().metric_name(), "latency");
  EXPECT_EQ(row.series_key(), key);
  EXPECT_FALSE(row.is_final());
}

TEST(PartitionWindowsEdgesTest, AWindowEndingExactlyAtTheWatermarkIsLate) {
  PartitionWindows engine;
  // Idle: watermark = now - 30 s = exactly the end of the window starting at kT0.
  engine.Advance(kT0 + absl::Minutes(1) + absl::Seconds(30), /*idle=*/true);
  ASSERT_EQ(engine.watermark(), kT0 + absl::Minutes(1));
  EXPECT_EQ(AddTo(engine, MakeEvent(kT0, 1, "c", 1, 0)), AddOutcome::kLate);
  EXPECT_EQ(AddTo(engine, MakeEvent(kT0 + absl::Minutes(1) - absl::Nanoseconds(1), 1, "c", 1, 1)),
            AddOutcome::kLate);
  EXPECT_EQ(AddTo(engine, MakeEvent(kT0 + absl::Minutes(1), 1, "c", 1, 2)), AddOutcome::kCounted);
  EXPECT_EQ(engine.dedup_keys(), 1u);
}

TEST(PartitionWindowsEdgesTest, OneNanosecondBeforeItsEndTheWindowIsStillOpen) {
  PartitionWindows engine;
  engine.Advance(kT0 + absl::Minutes(1) + absl::Seconds(30) - absl::Nanoseconds(1), true);
  ASSERT_EQ(engine.watermark(), kT0 + absl::Minutes(1) - absl::Nanoseconds(1));
  EXPECT_EQ(AddTo(engine, MakeEvent(kT0, 5, "c", 1, 0)), AddOutcome::kCounted);
  const PartitionDelta delta = engine.TakeDelta();
  ASSERT_EQ(delta.windows.size(), 2u);
  EXPECT_FALSE(delta.windows[0].is_final());
  EXPECT_FALSE(delta.windows[1].is_final());
  // The last nanosecond closes it.
  engine.Advance(kT0 + absl::Minutes(1) + absl::Seconds(30), true);
  const auto rows = ByWindow(engine.TakeDelta());
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_TRUE(rows.begin()->second.is_final());
  EXPECT_EQ(std::get<1>(rows.begin()->first), k1m);
}

TEST(PartitionWindowsEdgesTest, OutOfOrderEventsWithinTheLatenessAreCounted) {
  PartitionWindows engine;
  ReferenceModel model;
  FakeStore store;
  const absl::Time now = kT0 + absl::Hours(1);
  auto add = [&](absl::Duration at, uint32_t index, AddOutcome want) {
    const auto e = MakeEvent(kT0 + at, static_cast<double>(index), "c", 1, index);
    EXPECT_EQ(model.Add(e), want) << "model, event " << index;
    EXPECT_EQ(AddTo(engine, e), want) << "event " << index;
    engine.Advance(now, false);
    model.Advance(now, false);
    EXPECT_EQ(engine.watermark(), model.watermark());
  };
  add(absl::Seconds(70), 0, AddOutcome::kCounted);  // watermark kT0 + 40 s
  add(absl::Seconds(10), 1, AddOutcome::kCounted);
  add(absl::Seconds(89), 2, AddOutcome::kCounted);  // watermark kT0 + 59 s
  add(absl::Seconds(0), 3, AddOutcome::kCounted);
  add(absl::Seconds(90), 4, AddOutcome::kCounted);  // watermark kT0 + 60 s: first minute final
  add(absl::Seconds(59), 5, AddOutcome::kLate);
  add(absl::Seconds(60), 6, AddOutcome::kCounted);
  store.Apply(engine.TakeDelta());
  ExpectStoreMatches(store, model);
  EXPECT_EQ(store.rows().at(WindowId{KeyOf(MakeEvent(kT0, 0, "c", 1, 0)), k1m, kT0}).count(), 2u);
}

TEST(PartitionWindowsEdgesTest, NonIdleAdvanceFollowsTheOlderOfNewestEventAndNow) {
  PartitionWindows engine;
  engine.Advance(kT0, false);
  EXPECT_EQ(engine.watermark(), absl::InfinitePast()) << "no event seen yet";
  AddTo(engine, MakeEvent(kT0 + absl::Minutes(10), 1, "c", 1, 0));
  // An event ahead of the clock (within the allowed skew) cannot close windows early.
  engine.Advance(kT0 + absl::Minutes(2), false);
  EXPECT_EQ(engine.watermark(), kT0 + absl::Minutes(2) - absl::Seconds(30));
  engine.Advance(kT0 + absl::Hours(1), false);
  EXPECT_EQ(engine.watermark(), kT0 + absl::Minutes(10) - absl::Seconds(30));
  // A late event is older than the newest: it holds nothing back.
  EXPECT_EQ(AddTo(engine, MakeEvent(kT0, 1, "c", 2, 0)), AddOutcome::kLate);
  engine.Advance(kT0 + absl::Hours(1), false);
  EXPECT_EQ(engine.watermark(), kT0 + absl::Minutes(10) - absl::Seconds(30));
  AddTo(engine, MakeEvent(kT0 + absl::Minutes(11), 1, "c", 3, 0));
  engine.Advance(kT0 + absl::Hours(1), false);
  EXPECT_EQ(engine.watermark(), kT0 + absl::Minutes(11) - absl::Seconds(30));
}

TEST(PartitionWindowsEdgesTest, TheWatermarkNeverMovesBack) {
  PartitionWindows engine;
  engine.Advance(kT0 + absl::Minutes(5), true);
  const absl::Time w = engine.watermark();
  EXPECT_EQ(w, kT0 + absl::Minutes(5) - absl::Seconds(30));
  engine.Advance(kT0, true);
  EXPECT_EQ(engine.watermark(), w);
  AddTo(engine, MakeEvent(kT0 + absl::Minutes(5), 1, "c", 1, 0));
  engine.Advance(kT0 + absl::Hours(1), false);  // newest - 30 s == w
  EXPECT_EQ(engine.watermark(), w);
  EXPECT_EQ(engine.TakeDelta().watermark, w);
}

TEST(PartitionWindowsEdgesTest, IdleAdvanceClosesWindowsWithoutTraffic) {
  PartitionWindows engine;
  const auto e = MakeEvent(kT0 + absl::Seconds(20), 3, "c", 1, 0);
  AddTo(engine, e);
  engine.Advance(kT0 + absl::Seconds(21), false);
  EXPECT_EQ(engine.TakeDelta().windows.size(), 2u);
  // No more events: only an idle advance can close the windows.
  engine.Advance(kT0 + absl::Minutes(20), false);
  EXPECT_TRUE(engine.TakeDelta().windows.empty());
  EXPECT_EQ(engine.open_windows(), 2u);
  engine.Advance(kT0 + absl::Minutes(1) + absl::Seconds(30), true);
  auto rows = ByWindow(engine.TakeDelta());
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_TRUE(rows.at(WindowId{KeyOf(e), k1m, kT0}).is_final());
  EXPECT_EQ(engine.open_windows(), 1u);
  engine.Advance(kT0 + absl::Minutes(5) + absl::Seconds(30), true);
  rows = ByWindow(engine.TakeDelta());
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_TRUE(rows.at(WindowId{KeyOf(e), k5m, kT0}).is_final());
  EXPECT_EQ(rows.at(WindowId{KeyOf(e), k5m, kT0}).revision(), 2u);
  EXPECT_EQ(engine.open_windows(), 0u);
}

TEST(PartitionWindowsEdgesTest, OpenWindowsCountsOneAndFiveMinuteWindowsNotFinal) {
  PartitionWindows engine;
  EXPECT_EQ(engine.open_windows(), 0u);
  AddTo(engine, MakeEvent(kT0, 1, "c", 1, 0, "svc", "a"));
  AddTo(engine, MakeEvent(kT0 + absl::Minutes(1), 1, "c", 1, 1, "svc", "a"));
  AddTo(engine, MakeEvent(kT0 + absl::Minutes(5), 1, "c", 1, 2, "svc", "a"));
  AddTo(engine, MakeEvent(kT0 + absl::Minutes(1), 1, "c", 1, 3, "svc", "b"));
  // a: 1m x3, 5m x2; b: 1m x1, 5m x1.
  EXPECT_EQ(engine.open_windows(), 7u);
  // Final as soon as the watermark passes, before any TakeDelta.
  engine.Advance(kT0 + absl::Minutes(1) + absl::Seconds(30), true);
  EXPECT_EQ(engine.open_windows(), 6u);
  engine.TakeDelta();
  EXPECT_EQ(engine.open_windows(), 6u);
  engine.Advance(kT0 + absl::Minutes(5) + absl::Seconds(30), true);
  EXPECT_EQ(engine.open_windows(), 2u);
  engine.TakeDelta();
  EXPECT_EQ(engine.open_windows(), 2u);
  engine.Advance(kT0 + absl::Minutes(10) + absl::Seconds(30), true);
  EXPECT_EQ(engine.open_windows(), 0u);
}

TEST(PartitionWindowsEdgesTest, TimesBefore1970FloorToTheirWindow) {
  PartitionWindows engine;
  const absl::Time t = absl::UnixEpoch() - absl::Seconds(30);
  const auto e = MakeEvent(t, 1, "c", 1, 0);
  ASSERT_EQ(e.event.timestamp().seconds(), -30);
  EXPECT_EQ(AddTo(engine, e), AddOutcome::kCounted);
  EXPECT_EQ(AddTo(engine, MakeEvent(absl::UnixEpoch() - absl::Nanoseconds(1), 2, "c", 1, 1)),
            AddOutcome::kCounted);
  const auto rows = ByWindow(engine.TakeDelta());
  ASSERT_EQ(rows.size(), 2u);
  const v1::WindowAggregate& minute =
      rows.at(WindowId{KeyOf(e), k1m, absl::UnixEpoch() - absl::Minutes(1)});
  EXPECT_EQ(minute.count(), 2u);
  EXPECT_EQ(minute.window_end().seconds(), 0);
  EXPECT_EQ(rows.at(WindowId{KeyOf(e), k5m, absl::UnixEpoch() - absl::Minutes(5)}).count(), 2u);
  engine.Advance(absl::UnixEpoch() + absl::Seconds(30), true);
  EXPECT_EQ(AddTo(engine, MakeEvent(t, 1, "c", 2, 0)), AddOutcome::kLate);
}

TEST(PartitionWindowsEdgesTest, GaugeValuesOfAnySignAreExact) {
  PartitionWindows engine;
  const std::vector<double> values = {-5, 0, -0.5, 3, -0.0, 1e-3, -1e6, 0, 42};
  uint32_t i = 0;
  for (double v : values) {
    AddTo(engine, MakeEvent(kT0 + absl::Seconds(i), v, "c", 1, i));
    ++i;
  }
  const auto rows = ByWindow(engine.TakeDelta());
  const std::string key = KeyOf(MakeEvent(kT0, 0, "c", 1, 0));
  const v1::WindowAggregate& row = rows.at(WindowId{key, k1m, kT0});
  ExpectNumbers(row, values);
  EXPECT_EQ(row.min(), -1e6);
  EXPECT_EQ(row.max(), 42);
  EXPECT_EQ(row.p50(), 0) << "zero is exact";
  PartitionWindows only_negative;
  for (uint32_t j = 0; j < 3; ++j) {
    AddTo(only_negative, MakeEvent(kT0, -1.0 - j, "c", 1, j));
  }
  const auto negative = ByWindow(only_negative.TakeDelta());
  ExpectNumbers(negative.at(WindowId{key, k1m, kT0}), {-1, -2, -3});
  EXPECT_EQ(negative.at(WindowId{key, k1m, kT0}).max(), -1);
  EXPECT_EQ(negative.at(WindowId{key, k1m, kT0}).avg(), -2);
}

TEST(PartitionWindowsEdgesTest, TenThousandSeriesMatchTheGroundTruth) {
  PartitionWindows engine;
  ReferenceModel model;
  FakeStore store;
  constexpr int kSeries = 10000;
  std::vector<absl::Time> counted;
  for (int round = 0; round < 3; ++round) {
    for (int s = 0; s < kSeries; ++s) {
      const absl::Time t = kT0 + absl::Seconds((s * 7 + round * 50) % 170);
      const auto e =
          MakeEvent(t, (s % 13) - 4.5 + round, "c", static_cast<uint64_t>(round) + 1,
                    static_cast<uint32_t>(s), "svc", "m", {{"series", std::to_string(s)}});
      const AddOutcome outcome = AddTo(engine, e);
      ASSERT_EQ(outcome, model.Add(e));
      if (outcome == AddOutcome::kCounted) counted.push_back(t);
    }
    engine.Advance(kT0 + absl::Minutes(3), false);
    model.Advance(kT0 + absl::Minutes(3), false);
    store.Apply(engine.TakeDelta());
    ExpectStoreMatches(store, model);
  }
  // Keys are held for the open minute only: the ones whose events are counted there.
  size_t held = 0;
  for (absl::Time t : counted) held += t >= kT0 + absl::Minutes(2) ? 1 : 0;
  EXPECT_EQ(engine.watermark(), kT0 + absl::Seconds(169 - 30));
  EXPECT_GT(held, 0u);
  EXPECT_LT(held, counted.size());
  EXPECT_EQ(engine.dedup_keys(), held);
  engine.Advance(kT0 + absl::Minutes(6), true);
  model.Advance(kT0 + absl::Minutes(6), true);
  store.Apply(engine.TakeDelta());
  ExpectStoreMatches(store, model);
  EXPECT_EQ(engine.open_windows(), 0u);
  EXPECT_EQ(engine.dedup_keys(), 0u);
  size_t finals = 0;
  for (const auto& [id, row] : store.rows()) finals += row.is_final() ? 1 : 0;
  EXPECT_EQ(finals, store.rows().size());
}

}  // namespace
}  // namespace streammetrics::aggregation
