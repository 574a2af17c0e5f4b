// Tests of AddDistribution and BucketRepresentative: counts land where the contract says, clamped
// to [min, max]; quantiles of a fine exponential histogram stay within the sketch's accuracy plus
// the histogram's half-width of the true quantiles of the values that made it; explicit buckets
// within their stated bound; overflow leaves the sketch as it was.
#include "lib/sketch/distribution_sketch.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "lib/sketch/ddsketch.h"

namespace streammetrics::sketch {
namespace {

TEST(BucketRepresentativeTest, RelativelyClosestToBothEnds) {
  EXPECT_DOUBLE_EQ(BucketRepresentative(1, 3), 1.5);  // 2*1*3/4: 50 % from 3, 50 % from 1
  EXPECT_DOUBLE_EQ(BucketRepresentative(-3, -1), -1.5);
  EXPECT_DOUBLE_EQ(BucketRepresentative(-2, 4), 1);  // spans zero: the midpoint
  EXPECT_DOUBLE_EQ(BucketRepresentative(0, 5), 2.5);
  EXPECT_DOUBLE_EQ(BucketRepresentative(7, 7), 7);
  const double big = 1e290;
  EXPECT_TRUE(std::isfinite(BucketRepresentative(big, big)));
  EXPECT_TRUE(std::isfinite(BucketRepresentative(-big, big)));
}

// The exponential histogram of `values` at `scale` (positive and negative, zero threshold 0), as
// an OpenTelemetry SDK would make it: bucket i holds (base^i, base^(i+1)].
v1::Distribution Exponential(const std::vector<double>& values, int scale) {
  v1::Distribution d;
  d.set_count(values.size());
  d.set_min(*std::min_element(values.begin(), values.end()));
  d.set_max(*std::max_element(values.begin(), values.end()));
  std::vector<int64_t> pos;
  std::vector<int64_t> neg;
  double sum = 0;
  uint64_t zeros = 0;
  for (double v : values) {
    sum += v;
    if (v == 0) {
      ++zeros;
      continue;
    }
    const auto index =
        static_cast<int64_t>(std::ceil(std::ldexp(std::log2(std::abs(v)), scale))) - 1;
    (v > 0 ? pos : neg).push_back(index);
  }
  d.set_sum(sum);
  v1::ExponentialBuckets* b = d.mutable_exponential();
  b->set_scale(scale);
  b->set_zero_count(zeros);
  auto fill = [](const std::vector<int64_t>& idx, int32_t* offset,
                 google::protobuf::RepeatedField<uint64_t>* counts) {
    if (idx.empty()) return;
    const int64_t lo = *std::min_element(idx.begin(), idx.end());
    const int64_t hi = *std::max_element(idx.begin(), idx.end());
    *offset = static_cast<int32_t>(lo);
    counts->Resize(static_cast<int>(hi - lo + 1), 0);
    for (int64_t i : idx) ++(*counts)[static_cast<int>(i - lo)];
  };
  int32_t offset = 0;
  fill(pos, &offset, b->mutable_positive_counts());
  b->set_positive_offset(offset);
  offset = 0;
  fill(neg, &offset, b->mutable_negative_counts());
  b->set_negative_offset(offset);
  return d;
}

double TrueQuantile(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  return values[static_cast<size_t>(std::floor(q * static_cast<double>(values.size() - 1)))];
}

TEST(AddDistributionTest, FineExponentialHistogramKeepsTheSketchAccuracy) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> latency(3, 1.2);
  std::vector<double> values;
  for (int i = 0; i < 20000; ++i) values.push_back(latency(rng));
  for (int scale : {20, 8, 3}) {
    DDSketch sketch;
    ASSERT_TRUE(AddDistribution(Exponential(values, scale), &sketch).ok());
    EXPECT_EQ(sketch.count(), values.size());
    const double base = std::exp2(std::ldexp(1.0, -scale));
    const double half_width = (base - 1) / (base + 1);
    const double bound = (1 + half_width) * (1 + sketch.relative_accuracy()) - 1;
    for (double q : {0.0, 0.25, 0.5, 0.9, 0.95, 0.99, 1.0}) {
      const double want = TrueQuantile(values, q);
      const double got = *sketch.Quantile(q);
      EXPECT_LE(std::abs(got - want), bound * want * (1 + 1e-9))
          << "scale " << scale << " q " << q << " want " << want << " got " << got;
    }
  }
}

TEST(AddDistributionTest, NegativeAndZeroValuesKeepTheirSide) {
  const std::vector<double> values = {-40, -3, -3, 0, 0, 0, 5, 9, 9, 9};
  DDSketch sketch;
  ASSERT_TRUE(AddDistribution(Exponential(values, 10), &sketch).ok());
  EXPECT_EQ(sketch.count(), 10u);
  EXPECT_NEAR(*sketch.Quantile(0), -40, 40 * 0.011);
  EXPECT_NEAR(*sketch.Quantile(0.2), -3, 3 * 0.011);
  EXPECT_EQ(*sketch.Quantile(0.4), 0);
  EXPECT_NEAR(*sketch.Quantile(1), 9, 9 * 0.011);
}

TEST(AddDistributionTest, BucketsAreClampedToMinAndMax) {
  // Scale -10: one bucket spans (1, 2^1024]; min = max = 1000 puts every value at 1000.
  v1::Distribution d;
  d.set_count(3);
  d.set_sum(3000);
  d.set_min(1000);
  d.set_max(1000);
  d.mutable_exponential()->set_scale(-10);
  d.mutable_exponential()->set_positive_offset(0);
  d.mutable_exponential()->add_positive_counts(3);
  DDSketch sketch;
  ASSERT_TRUE(AddDistribution(d, &sketch).ok());
  DDSketch want;
  ASSERT_TRUE(want.AddCopies(1000, 3).ok());
  EXPECT_EQ(sketch, want);
}

TEST(AddDistributionTest, ExplicitBucketsAtTheirRepresentatives) {
  // Bounds 10, 100: buckets (-inf, 10], (10, 100], (100, inf), values in [2, 400].
  v1::Distribution d;
  d.set_count(6);
  d.set_sum(700);
  d.set_min(2);
  d.set_max(400);
  d.mutable_explicit_bounds()->add_bounds(10);
  d.mutable_explicit_bounds()->add_bounds(100);
  for (uint64_t c : {1, 3, 2}) d.mutable_explicit_bounds()->add_counts(c);
  DDSketch sketch;
  ASSERT_TRUE(AddDistribution(d, &sketch).ok());
  DDSketch want;
  ASSERT_TRUE(want.AddCopies(BucketRepresentative(2, 10), 1).ok());
  ASSERT_TRUE(want.AddCopies(BucketRepresentative(10, 100), 3).ok());
  ASSERT_TRUE(want.AddCopies(BucketRepresentative(100, 400), 2).ok());
  EXPECT_EQ(sketch, want);
  // Each estimate is within its bucket's (hi - lo) / (hi + lo) of any value in it, plus 1 %.
  const double mid = *sketch.Quantile(0.5);  // rank 2: in (10, 100]
  EXPECT_GE(mid, 10 * 0.99);
  EXPECT_LE(mid, 100 * 1.01);
}

TEST(AddDistributionTest, OverflowLeavesTheSketchUnchanged) {
  DDSketch sketch;
  ASSERT_TRUE(sketch.AddCopies(5, std::numeric_limits<uint64_t>::max() - 1).ok());
  const DDSketch before = sketch;
  v1::Distribution d;
  d.set_count(2);
  d.set_sum(2);
  d.set_min(1);
  d.set_max(1);
  d.mutable_explicit_bounds()->add_counts(2);
  EXPECT_EQ(AddDistribution(d, &sketch).code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(sketch, before);
}

TEST(DDSketchAddCopiesTest, EqualsRepeatedAdds) {
  DDSketch a;
  DDSketch b;
  for (double v : {-7.5, 0.0, 1e-320, 3.25, 1e200}) {
    ASSERT_TRUE(a.AddCopies(v, 4).ok());
    for (int i = 0; i < 4; ++i) b.Add(v);
  }
  ASSERT_TRUE(a.AddCopies(9, 0).ok());
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.count(), 20u);
}

}  // namespace
}  // namespace streammetrics::sketch
