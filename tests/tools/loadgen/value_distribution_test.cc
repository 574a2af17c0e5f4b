// ValueDistribution: spec parsing, bounds, quantization, and the exact sums --verify relies on.
#include "tools/loadgen/value_distribution.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace streammetrics::loadgen {
namespace {

using ::testing::HasSubstr;

TEST(ValueDistributionTest, ParsesEveryFormAndNormalizesTheSpec) {
  for (const char* spec :
       {"constant:5", "uniform:1:100", "exponential:50", "lognormal:3:1", "pareto:1:1.5"}) {
    absl::StatusOr<ValueDistribution> d = ValueDistribution::Parse(spec);
    ASSERT_TRUE(d.ok()) << spec << ": " << d.status();
    EXPECT_EQ(d->spec(), spec);
  }
  EXPECT_EQ(ValueDistribution::Parse("uniform:1.50:2")->spec(), "uniform:1.5:2");
}

TEST(ValueDistributionTest, RefusesBadSpecsSayingWhatWasExpected) {
  const std::vector<std::pair<const char*, const char*>> cases = {
      {"", "unknown distribution"},
      {"gaussian:1:2", "unknown distribution \"gaussian\""},
      {"constant", "takes 1 number(s), got 0"},
      {"constant:1:2", "takes 1 number(s), got 2"},
      {"constant:0", "V must be > 0"},
      {"constant:-3", "V must be > 0"},
      {"uniform:5:5", "0 < LO < HI"},
      {"uniform:0:5", "0 < LO < HI"},
      {"exponential:x", "\"x\" is not a finite number"},
      {"exponential:nan", "not a finite number"},
      {"exponential:0", "MEAN must be > 0"},
      {"lognormal:1:0", "SIGMA must be > 0"},
      {"pareto:0:1", "XM and ALPHA must be > 0"},
  };
  for (const auto& [spec, why] : cases) {
    absl::StatusOr<ValueDistribution> d = ValueDistribution::Parse(spec);
    ASSERT_FALSE(d.ok()) << spec;
    EXPECT_TRUE(absl::IsInvalidArgument(d.status()));
    EXPECT_THAT(d.status().message(), HasSubstr(why)) << spec;
    EXPECT_THAT(d.status().message(), HasSubstr("expected constant:V")) << spec;
  }
}

TEST(ValueDistributionTest, QuantizeClampsAndRoundsToTheQuantum) {
  const double q = 1 / ValueDistribution::kQuantum;
  EXPECT_EQ(ValueDistribution::Quantize(0), q);
  EXPECT_EQ(ValueDistribution::Quantize(-5), q);
  EXPECT_EQ(ValueDistribution::Quantize(std::nan("")), q);
  EXPECT_EQ(ValueDistribution::Quantize(1e300), ValueDistribution::kMaxValue);
  EXPECT_EQ(ValueDistribution::Quantize(2.0), 2.0);
  EXPECT_EQ(ValueDistribution::Quantize(1.0 + 0.4 * q), 1.0);
  EXPECT_EQ(ValueDistribution::Quantize(1.0 + 0.6 * q), 1.0 + q);
}

TEST(ValueDistributionTest, EveryDrawIsPositiveBoundedAndOnTheGrid) {
  std::mt19937_64 rng(7);
  for (const char* spec :
       {"constant:3.3", "uniform:1:100", "exponential:0.001", "lognormal:3:2", "pareto:0.5:0.8"}) {
    ValueDistribution d = *ValueDistribution::Parse(spec);
    for (int i = 0; i < 20000; ++i) {
      const double v = d.Draw(rng);
      ASSERT_GT(v, 0) << spec;
      ASSERT_LE(v, ValueDistribution::kMaxValue) << spec;
      ASSERT_EQ(v * ValueDistribution::kQuantum, std::floor(v * ValueDistribution::kQuantum))
          << spec << " drew " << v;
    }
  }
}

TEST(ValueDistributionTest, DrawsFollowTheDistribution) {
  std::mt19937_64 rng(11);
  auto mean = [&rng](const char* spec) {
    ValueDistribution d = *ValueDistribution::Parse(spec);
    double sum = 0;
    const int n = 200000;
    for (int i = 0; i < n; ++i) sum += d.Draw(rng);
    return sum / n;
  };
  EXPECT_NEAR(mean("constant:5"), 5, 1e-12);
  EXPECT_NEAR(mean("uniform:10:20"), 15, 0.1);
  EXPECT_NEAR(mean("exponential:50"), 50, 1);
  EXPECT_NEAR(mean("lognormal:3:0.5"), std::exp(3 + 0.125), 0.5);
  EXPECT_NEAR(mean("pareto:2:3"), 3, 0.1);  // alpha * xm / (alpha - 1)
}

TEST(ValueDistributionTest, SumsOfDrawsAreTheSameInAnyOrder) {
  // The property --verify's exact comparison rests on: the pipeline adds in another order.
  std::mt19937_64 rng(3);
  ValueDistribution d = *ValueDistribution::Parse("pareto:1:0.7");  // wide range of magnitudes
  std::vector<double> values(100000);
  for (double& v : values) v = d.Draw(rng);
  const double forward = std::accumulate(values.begin(), values.end(), 0.0);
  for (int round = 0; round < 5; ++round) {
    std::shuffle(values.begin(), values.end(), rng);
    EXPECT_EQ(std::accumulate(values.begin(), values.end(), 0.0), forward);
  }
}

}  // namespace
}  // namespace streammetrics::loadgen
