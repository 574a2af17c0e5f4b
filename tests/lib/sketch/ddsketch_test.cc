// Tests of DDSketch accuracy and edge cases: quantile estimates against exact quantiles of sorted
// data for several distributions, the bounded-size (collapsing) behaviour, argument errors, and
// values at the edges of the double range. Merging and serialization: ddsketch_merge_test.cc.
#include "lib/sketch/ddsketch.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <iomanip>
#include <iostream>
#include <limits>
#include <random>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace streammetrics::sketch {
namespace {

using ::testing::HasSubstr;

constexpr double kQuantiles[] = {0, 0.01, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1};
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
// The bound is exact in real arithmetic; log/exp rounding can add a few ulps at bucket edges.
constexpr double kRoundingSlack = 1e-12;

// The exact quantile under the sketch's convention: the value of rank floor(q * (n - 1)).
double ExactQuantile(const std::vector<double>& sorted, double q) {
  return sorted[static_cast<size_t>(std::floor(q * static_cast<double>(sorted.size() - 1)))];
}

double RelativeError(double estimate, double exact) {
  if (exact == 0) return estimate == 0 ? 0 : kInf;
  return std::abs(estimate - exact) / std::abs(exact);
}

// Checks every quantile in `quantiles` of `sketch` (which holds exactly `values`) against the
// exact one and returns the largest relative error seen.
double ExpectAccurate(const DDSketch& sketch, std::vector<double> values,
                      const std::vector<double>& quantiles) {
  std::sort(values.begin(), values.end());
  EXPECT_EQ(sketch.count(), values.size());
  const double bound = sketch.relative_accuracy() * (1 + kRoundingSlack);
  double worst = 0;
  for (double q : quantiles) {
    const absl::StatusOr<double> estimate = sketch.Quantile(q);
    if (!estimate.ok()) {
      ADD_FAILURE() << "q=" << q << ": " << estimate.status();
      continue;
    }
    const double exact = ExactQuantile(values, q);
    const double error = RelativeError(*estimate, exact);
    EXPECT_LE(error, bound) << "q=" << q << " exact=" << exact << " estimate=" << *estimate;
    worst = std::max(worst, error);
  }
  return worst;
}

// Sketches `values` with `sketch`'s parameters, checks all kQuantiles, and reports the worst
// error on stdout (the figure quoted when the sketch's accuracy is discussed).
void CheckDistribution(const char* name, const std::vector<double>& values, DDSketch sketch) {
  for (double v : values) sketch.Add(v);
  const double worst = ExpectAccurate(
      sketch, values, std::vector<double>(std::begin(kQuantiles), std::end(kQuantiles)));
  std::cout << "[ accuracy ] " << name << ": max relative error " << std::setprecision(9) << worst
            << " (bound " << sketch.relative_accuracy() << ")\n";
}

TEST(DDSketchAccuracyTest, UniformIntegers) {
  std::vector<double> values;
  for (int i = 1; i <= 10000; ++i) values.push_back(i);
  std::shuffle(values.begin(), values.end(), std::mt19937_64(1));
  CheckDistribution("uniform 1..1e4", values, DDSketch());
}

TEST(DDSketchAccuracyTest, LogNormal) {
  std::mt19937_64 rng(2);
  std::lognormal_distribution<double> dist(3.0, 1.5);
  std::vector<double> values(100000);
  for (double& v : values) v = dist(rng);
  CheckDistribution("log-normal", values, DDSketch());
}

TEST(DDSketchAccuracyTest, LogNormalAtOtherAccuracies) {
  std::mt19937_64 rng(3);
  std::lognormal_distribution<double> dist(0.0, 2.0);
  std::vector<double> values(50000);
  for (double& v : values) v = dist(rng);
  for (double accuracy : {0.05, 0.001, 0.0001}) {
    SCOPED_TRACE(accuracy);
    CheckDistribution("log-normal (other accuracy)", values, DDSketch(accuracy, 1 << 20));
  }
}

TEST(DDSketchAccuracyTest, BimodalFarApart) {
  std::mt19937_64 rng(4);
  std::normal_distribution<double> low(100, 10);
  std::normal_distribution<double> high(1e6, 1e4);
  std::vector<double> values;
  while (values.size() < 100000) {
    const double v = values.size() % 3 == 0 ? high(rng) : low(rng);
    if (v > 0) values.push_back(v);
  }
  CheckDistribution("bimodal", values, DDSketch());
}

TEST(DDSketchAccuracyTest, Constant) {
  CheckDistribution("constant", std::vector<double>(10000, 42.5), DDSketch());
}

TEST(DDSketchAccuracyTest, GaugeWithNegativesAndZeros) {
  std::mt19937_64 rng(5);
  std::normal_distribution<double> dist(-5, 40);
  std::vector<double> values(60000);
  for (size_t i = 0; i < values.size(); ++i) values[i] = i % 7 == 0 ? 0.0 : dist(rng);
  CheckDistribution("gauge (negative, zero, positive)", values, DDSketch());
}

TEST(DDSketchAccuracyTest, AllNegative) {
  std::mt19937_64 rng(6);
  std::lognormal_distribution<double> dist(2.0, 1.0);
  std::vector<double> values(20000);
  for (double& v : values) v = -dist(rng);
  CheckDistribution("all negative", values, DDSketch());
}

TEST(DDSketchAccuracyTest, TinyAndHugeMagnitudes) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> spread(0.0, 0.5);
  std::vector<double> values = {1e-9, 1e12, -1e-9, -1e12};
  for (int i = 0; i < 40000; ++i) {
    const double magnitude = (i % 2 == 0 ? 1e-9 : 1e12) * spread(rng);
    values.push_back(i % 5 == 0 ? -magnitude : magnitude);
  }
  // 1e-10..1e13 spans ~2650 buckets at 1 %: give the stores room, so this test is about
  // magnitudes and not about collapsing (which has its own tests).
  CheckDistribution("tiny and huge (1e-9, 1e12)", values, DDSketch(0.01, 4096));
}

TEST(DDSketchAccuracyTest, SingleValue) {
  DDSketch sketch;
  sketch.Add(-3.25);
  for (double q : kQuantiles) {
    const absl::StatusOr<double> estimate = sketch.Quantile(q);
    ASSERT_TRUE(estimate.ok()) << estimate.status();
    EXPECT_LE(RelativeError(*estimate, -3.25), 0.01 * (1 + kRoundingSlack));
    EXPECT_LT(*estimate, 0);
  }
}

TEST(DDSketchQuantileTest, RejectsOutOfRangeQ) {
  DDSketch sketch;
  sketch.Add(1);
  for (double q : {-0.001, 1.0001, -kInf, kInf, kNaN}) {
    const absl::StatusOr<double> estimate = sketch.Quantile(q);
    EXPECT_EQ(estimate.status().code(), absl::StatusCode::kInvalidArgument) << q;
    EXPECT_THAT(estimate.status().message(), HasSubstr("[0, 1]")) << q;
  }
}

TEST(DDSketchQuantileTest, EmptySketchHasNoQuantile) {
  const DDSketch sketch;
  EXPECT_TRUE(sketch.empty());
  EXPECT_EQ(sketch.count(), 0u);
  for (double q : {0.0, 0.5, 1.0}) {
    EXPECT_EQ(sketch.Quantile(q).status().code(), absl::StatusCode::kFailedPrecondition) << q;
  }
  // A bad q is reported as such even when the sketch is also empty.
  EXPECT_EQ(sketch.Quantile(2).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(DDSketchQuantileTest, OrdersNegativesZerosPositives) {
  DDSketch sketch;
  for (double v : {5.0, -100.0, 0.0, -1.0, 1000.0}) sketch.Add(v);
  // Five values: q = 0, .25, .5, .75, 1 hit ranks 0..4 exactly.
  const double expected[] = {-100, -1, 0, 5, 1000};
  for (int i = 0; i < 5; ++i) {
    const absl::StatusOr<double> estimate = sketch.Quantile(i / 4.0);
    ASSERT_TRUE(estimate.ok()) << estimate.status();
    EXPECT_LE(RelativeError(*estimate, expected[i]), 0.01 * (1 + kRoundingSlack))
        << i << ": " << *estimate;
  }
}

TEST(DDSketchAddTest, ZerosAndValuesBelowMinIndexableCountAsZero) {
  DDSketch sketch;
  EXPECT_GT(sketch.min_indexable(), DBL_MIN);
  EXPECT_LT(sketch.min_indexable(), 1e-307);
  for (double v : {0.0, -0.0, std::nextafter(sketch.min_indexable(), 0.0), -DBL_MIN,
                   std::numeric_limits<double>::denorm_min()}) {
    sketch.Add(v);
  }
  EXPECT_EQ(sketch.count(), 5u);
  EXPECT_EQ(sketch.ToProto().zero_count(), 5u);
  EXPECT_FALSE(sketch.ToProto().has_positive());
  EXPECT_FALSE(sketch.ToProto().has_negative());
  EXPECT_EQ(*sketch.Quantile(0), 0.0);
  EXPECT_EQ(*sketch.Quantile(1), 0.0);

  sketch.Add(sketch.min_indexable());
  EXPECT_EQ(sketch.ToProto().zero_count(), 5u);
  EXPECT_EQ(sketch.ToProto().positive().counts_size(), 1);
  EXPECT_LE(RelativeError(*sketch.Quantile(1), sketch.min_indexable()),
            0.01 * (1 + kRoundingSlack));
}

TEST(DDSketchAddTest, ExtremesOfTheDoubleRangeKeepTheGuarantee) {
  // At 1e-6 the whole double range is ~7e8 buckets, more than any store may hold, so each
  // extreme gets a sketch of its own; the point is that its index and representative work.
  for (double accuracy : {0.01, DDSketch::kMinRelativeAccuracy, 0.5, 0.999}) {
    SCOPED_TRACE(accuracy);
    const double min_indexable = DDSketch(accuracy).min_indexable();
    for (double v : {-DBL_MAX, -min_indexable, min_indexable, DBL_MAX}) {
      DDSketch sketch(accuracy);
      sketch.Add(v);
      const absl::StatusOr<double> estimate = sketch.Quantile(0.5);
      ASSERT_TRUE(estimate.ok()) << estimate.status();
      EXPECT_TRUE(std::isfinite(*estimate));
      EXPECT_LE(RelativeError(*estimate, v), accuracy * (1 + kRoundingSlack))
          << v << " -> " << *estimate;
      // The index fits the wire format and reads back.
      const absl::StatusOr<DDSketch> read = DDSketch::FromProto(sketch.ToProto());
      ASSERT_TRUE(read.ok()) << read.status();
      EXPECT_EQ(*read, sketch);
    }
  }
  // At 1 % all of them fit in one sketch (~71,000 buckets).
  DDSketch sketch(0.01, 1 << 17);
  const double min_indexable = sketch.min_indexable();
  const std::vector<double> values = {-DBL_MAX, -min_indexable, min_indexable, DBL_MAX};
  for (double v : values) sketch.Add(v);
  EXPECT_FALSE(sketch.collapsed());
  ExpectAccurate(sketch, values, {0, 1 / 3.0, 2 / 3.0, 1});
}

TEST(DDSketchAddTest, NonFiniteValuesAreAPrecondition) {
  DDSketch sketch;
  sketch.Add(1);
  const DDSketch before = sketch;
  // Debug builds stop on the assert; release builds leave the sketch as it was.
  for (double v : {kNaN, kInf, -kInf}) {
    EXPECT_DEBUG_DEATH(sketch.Add(v), "finite") << v;
  }
  EXPECT_EQ(sketch, before);
  EXPECT_EQ(sketch.count(), 1u);
}

TEST(DDSketchCreateTest, ValidatesArguments) {
  const absl::StatusOr<DDSketch> ok = DDSketch::Create(0.02, 100);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->relative_accuracy(), 0.02);
  EXPECT_EQ(ok->max_buckets(), 100u);
  EXPECT_TRUE(ok->empty());
  EXPECT_FALSE(ok->collapsed());

  for (double accuracy : {0.0, 1.0, -0.01, kNaN, kInf, 1e-7}) {
    const absl::StatusOr<DDSketch> bad = DDSketch::Create(accuracy);
    EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << accuracy;
    EXPECT_THAT(bad.status().message(), HasSubstr("relative_accuracy")) << accuracy;
  }
  EXPECT_THAT(DDSketch::Create(0.01, 0).status().message(), HasSubstr("max_buckets"));
}

TEST(DDSketchCreateTest, DefaultsAreTheContractsOnePercent) {
  const DDSketch sketch;
  EXPECT_EQ(sketch.relative_accuracy(), 0.01);
  EXPECT_EQ(sketch.max_buckets(), 2048u);
}

TEST(DDSketchCollapseTest, StoresStayBoundedAndHighQuantilesKeepTheGuarantee) {
  // A realistic latency distribution plus 1 % near-zero noise 100+ decades below it: far more
  // than 2048 buckets of range, so the lowest buckets must fold.
  std::mt19937_64 rng(8);
  std::lognormal_distribution<double> latency(4.0, 1.0);
  std::uniform_real_distribution<double> exponent(-250, -100);
  std::vector<double> values(100000);
  for (size_t i = 0; i < values.size(); ++i) {
    values[i] = i % 100 == 0 ? std::pow(10.0, exponent(rng)) : latency(rng);
  }
  DDSketch sketch;
  for (double v : values) sketch.Add(v);

  EXPECT_TRUE(sketch.collapsed());
  EXPECT_LE(sketch.ToProto().positive().counts_size(), 2048);
  const double worst = ExpectAccurate(sketch, values, {0.05, 0.25, 0.5, 0.9, 0.95, 0.99, 1});
  std::cout << "[ accuracy ] collapsed store, q >= 0.05: max relative error " << worst << "\n";

  // The folded values now read as the lowest kept bucket: the minimum lost its guarantee.
  std::sort(values.begin(), values.end());
  EXPECT_GT(RelativeError(*sketch.Quantile(0), values.front()), 1.0);
}

TEST(DDSketchCollapseTest, NegativeStoreKeepsLargestMagnitudes) {
  DDSketch sketch(0.01, 64);
  std::vector<double> values;
  for (int e = -300; e <= 300; ++e) values.push_back(-std::pow(10.0, e));
  for (double v : values) sketch.Add(v);
  EXPECT_TRUE(sketch.collapsed());
  EXPECT_EQ(sketch.ToProto().negative().counts_size(), 64);
  EXPECT_EQ(sketch.count(), values.size());
  // The most negative value (q = 0) is in the kept window.
  EXPECT_LE(RelativeError(*sketch.Quantile(0), -1e300), 0.01 * (1 + kRoundingSlack));
}

TEST(DDSketchCollapseTest, RisingValuesSlideTheWindow) {
  // Each new maximum moves the window up by one or more buckets; the span must never exceed
  // the bound, whatever the order values come in.
  DDSketch sketch(0.01, 100);
  double v = 1e-200;
  for (int i = 0; i < 20000; ++i, v *= 1.03) {
    sketch.Add(v);
    ASSERT_LE(sketch.ToProto().positive().counts_size(), 100) << i;
  }
  EXPECT_EQ(sketch.count(), 20000u);
  EXPECT_LE(RelativeError(*sketch.Quantile(1), v / 1.03), 0.01 * (1 + kRoundingSlack));
}

TEST(DDSketchCollapseTest, OneBucketKeepsTheMaximum) {
  DDSketch sketch(0.01, 1);
  for (double v : {1.0, 1e10, 3.0, 1e-5}) sketch.Add(v);
  EXPECT_EQ(sketch.ToProto().positive().counts_size(), 1);
  EXPECT_LE(RelativeError(*sketch.Quantile(1), 1e10), 0.01 * (1 + kRoundingSlack));
  EXPECT_FALSE(DDSketch().collapsed());
}

}  // namespace
}  // namespace streammetrics::sketch
