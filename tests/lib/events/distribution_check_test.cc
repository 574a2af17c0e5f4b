// Tests of CheckDistribution through ValidateEvent: a valid exponential and explicit distribution
// pass, and every rule refuses with its reason and a message naming the field, in the documented
// order. `now` is fixed (validation_test_util.h).
#include "lib/events/distribution_check.h"

#include <cstdint>
#include <limits>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/events/validation.h"
#include "tests/lib/events/validation_test_util.h"

namespace streammetrics::events::validation_test {
namespace {

constexpr v1::DeadLetterReason kInvalid = v1::DEAD_LETTER_REASON_INVALID_DISTRIBUTION;
constexpr v1::DeadLetterReason kOutOfRange = v1::DEAD_LETTER_REASON_VALUE_OUT_OF_RANGE;
constexpr uint64_t kU64Max = std::numeric_limits<uint64_t>::max();

// 10 values: 2 zeros, 5 positive in buckets 3..4, 3 negative in bucket 0, at scale 2.
v1::MetricEvent ExponentialEvent() {
  v1::MetricEvent e = ValidEvent();
  e.set_metric_type(v1::METRIC_TYPE_CUSTOM_HISTOGRAM);
  e.clear_value();
  v1::Distribution* d = e.mutable_distribution();
  d->set_count(10);
  d->set_sum(4.5);
  d->set_min(-1.1);
  d->set_max(2.3);
  v1::ExponentialBuckets* b = d->mutable_exponential();
  b->set_scale(2);
  b->set_zero_count(2);
  b->set_positive_offset(3);
  b->add_positive_counts(4);
  b->add_positive_counts(1);
  b->add_negative_counts(3);
  return e;
}

v1::MetricEvent ExplicitEvent() {
  v1::MetricEvent e = ExponentialEvent();
  v1::Distribution* d = e.mutable_distribution();
  d->set_min(0.5);
  d->set_max(80);
  d->set_sum(150);
  v1::ExplicitBuckets* b = d->mutable_explicit_bounds();
  for (double bound : {1.0, 10.0, 100.0}) b->add_bounds(bound);
  for (uint64_t count : {1, 6, 3, 0}) b->add_counts(count);
  return e;
}

TEST(DistributionCheckTest, ConsistentDistributionsPass) {
  EXPECT_THAT(Validate(ExponentialEvent()), IsValid());
  EXPECT_THAT(Validate(ExplicitEvent()), IsValid());
  v1::MetricEvent one_bucket = ExplicitEvent();
  one_bucket.mutable_distribution()->mutable_explicit_bounds()->clear_bounds();
  one_bucket.mutable_distribution()->mutable_explicit_bounds()->clear_counts();
  one_bucket.mutable_distribution()->mutable_explicit_bounds()->add_counts(10);
  EXPECT_THAT(Validate(one_bucket), IsValid());
}

TEST(DistributionCheckTest, NeedsTheHistogramTypeAndNoValue) {
  v1::MetricEvent e = ExponentialEvent();
  e.set_metric_type(v1::METRIC_TYPE_CUSTOM_GAUGE);
  EXPECT_THAT(Validate(e), Rejects(kInvalid,
                                   "METRIC_TYPE_CUSTOM_HISTOGRAM, not "
                                   "METRIC_TYPE_CUSTOM_GAUGE"));
  e = ExponentialEvent();
  e.set_value(3);
  EXPECT_THAT(Validate(e), Rejects(kInvalid, "value is 3 beside a distribution"));
}

TEST(DistributionCheckTest, CountSumMinMax) {
  v1::MetricEvent e = ExponentialEvent();
  e.mutable_distribution()->set_count(0);
  EXPECT_THAT(Validate(e), Rejects(kInvalid, "distribution.count is 0"));
  e = ExponentialEvent();
  e.mutable_distribution()->set_sum(std::nan(""));
  EXPECT_THAT(Validate(e), Rejects(kNonFinite, "distribution.sum is nan"));
  e = ExponentialEvent();
  e.mutable_distribution()->set_min(-kInf);
  EXPECT_THAT(Validate(e), Rejects(kNonFinite, "distribution.min is -inf"));
  e = ExponentialEvent();
  e.mutable_distribution()->set_max(2e290);
  EXPECT_THAT(Validate(e), Rejects(kOutOfRange, "distribution.max is 2e+290"));
  e = ExponentialEvent();
  e.mutable_distribution()->set_min(3);
  EXPECT_THAT(Validate(e), Rejects(kInvalid, "distribution.min is 3, above max 2.3"));
  e = ExponentialEvent();
  e.mutable_distribution()->clear_exponential();
  EXPECT_THAT(Validate(e), Rejects(kInvalid, "has no buckets"));
  // 10 values in [-1.1, 2.3] sum to within [-11, 23].
  e = ExponentialEvent();
  e.mutable_distribution()->set_sum(23.5);
  EXPECT_THAT(Validate(e), Rejects(kInvalid,
                                   "distribution.sum is 23.5, outside count * [min, "
                                   "max] = [-11, 23]"));
  e.mutable_distribution()->set_sum(-11);
  EXPECT_THAT(Validate(e), IsValid());
}

TEST(DistributionCheckTest, ExponentialRules) {
  for (int scale : {-11, 21}) {
    v1::MetricEvent e = ExponentialEvent();
    e.mutable_distribution()->mutable_exponential()->set_scale(scale);
    EXPECT_THAT(Validate(e), Rejects(kInvalid, "scale is " + std::to_string(scale)));
  }
  for (int scale : {-10, 20}) {
    v1::MetricEvent e = ExponentialEvent();
    e.mutable_distribution()->mutable_exponential()->set_scale(scale);
    EXPECT_THAT(Validate(e), IsValid()) << scale;
  }
  v1::MetricEvent e = ExponentialEvent();
  e.mutable_distribution()->mutable_exponential()->set_zero_threshold(-1);
  EXPECT_THAT(Validate(e), Rejects(kInvalid, "zero_threshold is -1"));
  e = ExponentialEvent();
  e.mutable_distribution()->mutable_exponential()->set_positive_offset(
      std::numeric_limits<int32_t>::max());
  EXPECT_THAT(Validate(e), Rejects(kInvalid, "past 2^31 - 1"));
  e = ExponentialEvent();
  e.mutable_distribution()->mutable_exponential()->add_positive_counts(1);
  EXPECT_THAT(Validate(e), Rejects(kInvalid, "count is 10 but its buckets hold 11 values"));
  e = ExponentialEvent();
  e.mutable_distribution()->mutable_exponential()->add_positive_counts(kU64Max);
  EXPECT_THAT(Validate(e), Rejects(kInvalid, "sum past 2^64 - 1"));
}

TEST(DistributionCheckTest, BucketLimitCountsBothSides) {
  ValidationLimits limits;
  limits.max_distribution_buckets = 3;
  EXPECT_THAT(Validate(ExponentialEvent(), limits), IsValid());  // 2 positive + 1 negative
  limits.max_distribution_buckets = 2;
  EXPECT_THAT(Validate(ExponentialEvent(), limits),
              Rejects(kInvalid, "has 3 buckets; the limit is 2"));
  EXPECT_THAT(Validate(ExplicitEvent(), limits),
              Rejects(kInvalid, "has 4 buckets; the limit is 2"));
}

TEST(DistributionCheckTest, ExplicitRules) {
  v1::MetricEvent e = ExplicitEvent();
  e.mutable_distribution()->mutable_explicit_bounds()->add_counts(0);
  EXPECT_THAT(Validate(e), Rejects(kInvalid, "3 bounds and 5 counts; it needs 4"));
  e = ExplicitEvent();
  e.mutable_distribution()->mutable_explicit_bounds()->set_bounds(1, 1.0);
  EXPECT_THAT(Validate(e), Rejects(kInvalid, "bounds[1] is 1, not above bounds[0] = 1"));
  e = ExplicitEvent();
  e.mutable_distribution()->mutable_explicit_bounds()->set_bounds(2, kInf);
  EXPECT_THAT(Validate(e), Rejects(kInvalid, "bounds[2] is inf; bounds must be finite"));
  e = ExplicitEvent();
  e.mutable_distribution()->mutable_explicit_bounds()->set_counts(3, 1);
  EXPECT_THAT(Validate(e), Rejects(kInvalid, "count is 10 but its buckets hold 11"));
}

TEST(DistributionCheckTest, IdentifiersAreCheckedFirst) {
  v1::MetricEvent e = ExponentialEvent();
  e.mutable_distribution()->set_count(0);
  e.set_metric_name("");
  EXPECT_THAT(Validate(e), Rejects(kBlank, "metric_name"));
}

}  // namespace
}  // namespace streammetrics::events::validation_test
