// Tests of distribution events in PartitionWindows: count, sum, min and max add exactly beside
// single values, the sketch holds every value, the 5-minute window is their merge, a resent
// distribution is a duplicate, and one that would overflow its window's count is refused without
// taking its key.
#include <cstdint>
#include <map>

#include "aggregation-service/engine/partition_windows.h"
#include "aggregation-service/engine/window_numbers.h"
#include "gtest/gtest.h"
#include "tests/aggregation-service/engine/window_engine_test_util.h"

namespace streammetrics::aggregation {
namespace {

using testing::AddTo;
using testing::ByWindow;
using testing::kT0;
using testing::MakeEvent;
using testing::TestEvent;
using testing::WindowId;

// A distribution event of `count` values at 10 (explicit bounds: one bucket), sum 10 * count,
// min 10, max 10, unless min/max given.
TestEvent Distribution(absl::Time t, uint64_t count, absl::string_view client, uint64_t sequence,
                       double min = 10, double max = 10) {
  TestEvent e = MakeEvent(t, 0, client, sequence, 0);
  e.event.set_metric_type(v1::METRIC_TYPE_CUSTOM_HISTOGRAM);
  e.event.clear_value();
  v1::Distribution* d = e.event.mutable_distribution();
  d->set_count(count);
  d->set_sum(10.0 * static_cast<double>(count));
  d->set_min(min);
  d->set_max(max);
  d->mutable_explicit_bounds()->add_counts(count);
  return e;
}

TEST(PartitionWindowsDistributionTest, AddsExactlyBesideSingleValues) {
  PartitionWindows engine;
  ASSERT_EQ(AddTo(engine, MakeEvent(kT0 + absl::Seconds(1), 3, "c", 1, 0)), AddOutcome::kCounted);
  const TestEvent d = Distribution(kT0 + absl::Seconds(2), 4, "otlp", 7, 1, 25);
  ASSERT_EQ(AddTo(engine, d), AddOutcome::kCounted);
  EXPECT_EQ(AddTo(engine, d), AddOutcome::kDuplicate);
  ASSERT_EQ(AddTo(engine, Distribution(kT0 + absl::Seconds(70), 2, "otlp", 8)),
            AddOutcome::kCounted);
  const auto rows = ByWindow(engine.TakeDelta());
  const v1::WindowAggregate& m1 = rows.at(WindowId{d.series_key, v1::WINDOW_SIZE_1M, kT0});
  EXPECT_EQ(m1.count(), 5u);
  EXPECT_EQ(m1.sum(), 43);
  EXPECT_EQ(m1.min(), 1);
  EXPECT_EQ(m1.max(), 25);
  uint64_t in_sketch = m1.sketch().zero_count();
  for (uint64_t c : m1.sketch().positive().counts()) in_sketch += c;
  EXPECT_EQ(in_sketch, 5u);
  const v1::WindowAggregate& m5 = rows.at(WindowId{d.series_key, v1::WINDOW_SIZE_5M, kT0});
  EXPECT_EQ(m5.count(), 7u);
  EXPECT_EQ(m5.sum(), 63);
  EXPECT_EQ(m5.min(), 1);
  EXPECT_EQ(m5.max(), 25);
}

TEST(PartitionWindowsDistributionTest, AWindowCountPastTheBoundIsRefused) {
  PartitionWindows engine;
  const uint64_t half = WindowNumbers::kMaxWindowCount / 2;
  ASSERT_EQ(AddTo(engine, Distribution(kT0, half, "c", 1)), AddOutcome::kCounted);
  ASSERT_EQ(AddTo(engine, Distribution(kT0, half, "c", 2)), AddOutcome::kCounted);
  const TestEvent over = Distribution(kT0, 1, "c", 3);
  EXPECT_EQ(AddTo(engine, over), AddOutcome::kOverflow);
  EXPECT_EQ(engine.dedup_keys(), 2u);  // the refused one took no key
  EXPECT_EQ(AddTo(engine, Distribution(kT0, WindowNumbers::kMaxWindowCount + 1, "c", 4,
                                       /*min=*/10, /*max=*/10)),
            AddOutcome::kOverflow);
  // Another window of the same series still counts.
  EXPECT_EQ(AddTo(engine, Distribution(kT0 + absl::Minutes(1), 1, "c", 3)), AddOutcome::kCounted);
  const auto rows = ByWindow(engine.TakeDelta());
  EXPECT_EQ(rows.at(WindowId{over.series_key, v1::WINDOW_SIZE_1M, kT0}).count(),
            WindowNumbers::kMaxWindowCount);
  EXPECT_EQ(rows.at(WindowId{over.series_key, v1::WINDOW_SIZE_5M, kT0}).count(),
            WindowNumbers::kMaxWindowCount + 1);
}

}  // namespace
}  // namespace streammetrics::aggregation
