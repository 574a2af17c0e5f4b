// Tests of WindowNumbers: exact count/sum/min/max, merging in window order, the row fields
// SetNumbers writes, and NumbersFromRow reading them back exactly or refusing a bad row.
#include "aggregation-service/engine/window_numbers.h"

#include <cmath>
#include <limits>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace streammetrics::aggregation {
namespace {

using ::testing::HasSubstr;

WindowNumbers NumbersOf(const std::vector<double>& values) {
  WindowNumbers numbers(0.01, 2048);
  for (double v : values) numbers.Add(v);
  return numbers;
}

TEST(WindowNumbersTest, AddKeepsExactNumbers) {
  const WindowNumbers numbers = NumbersOf({3.5, -2, 0, 10.25});
  EXPECT_EQ(numbers.count, 4u);
  EXPECT_EQ(numbers.sum, 3.5 - 2 + 0 + 10.25);
  EXPECT_EQ(numbers.min, -2);
  EXPECT_EQ(numbers.max, 10.25);
  EXPECT_EQ(numbers.sketch.count(), 4u);
}

TEST(WindowNumbersTest, MergeAddsSumsInOrderAndMergesSketches) {
  const std::vector<double> a = {0.1, 0.2, 0.3}, b = {1e16, 1, -1e16};
  WindowNumbers merged(0.01, 2048);
  ASSERT_TRUE(merged.Merge(NumbersOf(a)).ok());
  ASSERT_TRUE(merged.Merge(NumbersOf(b)).ok());
  EXPECT_EQ(merged.count, 6u);
  EXPECT_EQ(merged.sum, (0.0 + ((0.0 + 0.1) + 0.2) + 0.3) + ((1e16 + 1) - 1e16));
  EXPECT_EQ(merged.min, -1e16);
  EXPECT_EQ(merged.max, 1e16);
  WindowNumbers whole = NumbersOf(a);
  for (double v : b) whole.sketch.Add(v);
  EXPECT_EQ(merged.sketch, whole.sketch);
}

TEST(WindowNumbersTest, SumsSaturateInsteadOfBecomingInfinite) {
  // Values past validation's bound (a record that skipped it): the sum holds at the largest
  // double, and the row stays finite.
  constexpr double kMax = std::numeric_limits<double>::max();
  WindowNumbers up = NumbersOf({1e308, 1e308});
  EXPECT_EQ(up.sum, kMax);
  WindowNumbers down = NumbersOf({-1e308, -1e308, -1e308});
  EXPECT_EQ(down.sum, std::numeric_limits<double>::lowest());
  ASSERT_TRUE(up.Merge(NumbersOf({1e308})).ok());
  EXPECT_EQ(up.sum, kMax);
  ASSERT_TRUE(up.Merge(down).ok());
  EXPECT_TRUE(std::isfinite(up.sum));
  v1::WindowAggregate row;
  SetNumbers(NumbersOf({1e308, 1e308}), &row);
  EXPECT_TRUE(std::isfinite(row.sum()));
  EXPECT_TRUE(std::isfinite(row.avg()));
  EXPECT_EQ(row.avg(), kMax / 2);
  // Within the bound nothing saturates: 1e290 ten thousand times is 1e294, give or take the
  // rounding of 10,000 additions.
  WindowNumbers many(0.01, 2048);
  for (int i = 0; i < 10'000; ++i) many.Add(1e290);
  EXPECT_NEAR(many.sum / 1e294, 1, 1e-10);
}

TEST(WindowNumbersTest, FailedMergeChangesNothing) {
  WindowNumbers numbers = NumbersOf({1, 2});
  WindowNumbers other(0.02, 2048);
  other.Add(5);
  EXPECT_EQ(numbers.Merge(other).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(numbers.count, 2u);
  EXPECT_EQ(numbers.sum, 3);
  EXPECT_EQ(numbers.max, 2);
}

TEST(WindowNumbersTest, SetNumbersFillsTheRow) {
  std::vector<double> values;
  for (int i = 1; i <= 100; ++i) values.push_back(i);
  v1::WindowAggregate row;
  row.set_series_key("kept");
  SetNumbers(NumbersOf(values), &row);
  EXPECT_EQ(row.series_key(), "kept");
  EXPECT_EQ(row.count(), 100u);
  EXPECT_EQ(row.sum(), 5050);
  EXPECT_EQ(row.avg(), 50.5);
  EXPECT_EQ(row.min(), 1);
  EXPECT_EQ(row.max(), 100);
  // Ranks floor(q * 99): values 50, 95 and 99.
  EXPECT_NEAR(row.p50(), 50, 0.5);
  EXPECT_NEAR(row.p95(), 95, 0.95);
  EXPECT_NEAR(row.p99(), 99, 0.99);
  EXPECT_EQ(row.relative_accuracy(), 0.01);
  absl::StatusOr<sketch::DDSketch> sketch = sketch::DDSketch::FromProto(row.sketch());
  ASSERT_TRUE(sketch.ok());
  EXPECT_EQ(*sketch, NumbersOf(values).sketch);
}

TEST(WindowNumbersTest, PercentilesStayWithinMinAndMax) {
  // A bucket's representative of 245 is about 247.2; the exact bounds pull it back, so constant
  // data gives exact percentiles.
  v1::WindowAggregate row;
  SetNumbers(NumbersOf({245}), &row);
  EXPECT_EQ(row.p50(), 245);
  EXPECT_EQ(row.p99(), 245);
  SetNumbers(NumbersOf({-3, -3, -3}), &row);
  EXPECT_EQ(row.p50(), -3);
  SetNumbers(NumbersOf({1, 1000}), &row);
  EXPECT_LE(row.p99(), 1000);
  EXPECT_GE(row.p50(), 1);
}

TEST(WindowNumbersTest, RowRoundTripsExactly) {
  const WindowNumbers numbers = NumbersOf({-7.5, 0, 0.001, 42, 1e9});
  v1::WindowAggregate row;
  SetNumbers(numbers, &row);
  absl::StatusOr<WindowNumbers> read = NumbersFromRow(row, 0.01, 2048);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->count, numbers.count);
  EXPECT_EQ(read->sum, numbers.sum);
  EXPECT_EQ(read->min, numbers.min);
  EXPECT_EQ(read->max, numbers.max);
  EXPECT_EQ(read->sketch, numbers.sketch);
}

TEST(WindowNumbersTest, BadRowsAreRefusedWithAReason) {
  v1::WindowAggregate good;
  SetNumbers(NumbersOf({1, 2, 3}), &good);

  v1::WindowAggregate empty = good;
  empty.set_count(0);
  EXPECT_THAT(NumbersFromRow(empty, 0.01, 2048).status().message(), HasSubstr("count is 0"));

  v1::WindowAggregate corrupt = good;
  corrupt.mutable_sketch()->set_relative_accuracy(2);
  absl::Status status = NumbersFromRow(corrupt, 0.01, 2048).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("sketch"));

  EXPECT_THAT(NumbersFromRow(good, 0.02, 2048).status().message(), HasSubstr("accuracy"));

  v1::WindowAggregate miscounted = good;
  miscounted.set_count(4);
  status = NumbersFromRow(miscounted, 0.01, 2048).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("sketch counts 3"));
}

}  // namespace
}  // namespace streammetrics::aggregation
