// Tests of DDSketch merging and serialization: merged parts equal the sketch of the whole
// (exactly, collapsed or not), merge order does not matter, failed merges change nothing, and
// ToProto/FromProto round-trip while malformed protos are refused with a reason.
#include <algorithm>
#include <cfloat>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/sketch/ddsketch.h"

namespace streammetrics::sketch {
namespace {

using ::testing::HasSubstr;

constexpr uint64_t kMaxCount = std::numeric_limits<uint64_t>::max();

// Gauge-like data touching all three stores: log-normal magnitudes of both signs, and zeros.
std::vector<double> MixedValues(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> magnitude(2.0, 2.5);
  std::vector<double> values(n);
  for (size_t i = 0; i < n; ++i) {
    values[i] = i % 11 == 0 ? 0.0 : (i % 3 == 0 ? -magnitude(rng) : magnitude(rng));
  }
  return values;
}

DDSketch SketchOf(const std::vector<double>& values, size_t max_buckets = 2048) {
  DDSketch sketch(0.01, max_buckets);
  for (double v : values) sketch.Add(v);
  return sketch;
}

// Deals `values` into `k` parts at random (fixed seed) and sketches each part.
std::vector<DDSketch> SketchParts(const std::vector<double>& values, int k, uint64_t seed,
                                  size_t max_buckets = 2048) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> part(0, k - 1);
  std::vector<DDSketch> parts(k, DDSketch(0.01, max_buckets));
  for (double v : values) parts[part(rng)].Add(v);
  return parts;
}

DDSketch MergeAll(const std::vector<DDSketch>& parts, const std::vector<size_t>& order,
                  size_t max_buckets = 2048) {
  DDSketch merged(0.01, max_buckets);
  for (size_t i : order) EXPECT_TRUE(merged.Merge(parts[i]).ok());
  return merged;
}

std::vector<size_t> Iota(size_t n) {
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  return order;
}

class MergeEquivalenceTest : public ::testing::TestWithParam<int> {};

TEST_P(MergeEquivalenceTest, MergedPartsEqualTheWhole) {
  const int k = GetParam();
  const std::vector<double> values = MixedValues(30000, 11);
  const DDSketch whole = SketchOf(values);
  const std::vector<DDSketch> parts = SketchParts(values, k, 12 + k);

  std::vector<size_t> order = Iota(parts.size());
  EXPECT_EQ(MergeAll(parts, order), whole);
  std::reverse(order.begin(), order.end());
  EXPECT_EQ(MergeAll(parts, order), whole);
  std::shuffle(order.begin(), order.end(), std::mt19937_64(13));
  EXPECT_EQ(MergeAll(parts, order), whole);

  // Tree-shaped: merge neighbours pairwise until one is left.
  std::vector<DDSketch> level = parts;
  while (level.size() > 1) {
    std::vector<DDSketch> next;
    for (size_t i = 0; i < level.size(); i += 2) {
      next.push_back(level[i]);
      if (i + 1 < level.size()) {
        EXPECT_TRUE(next.back().Merge(level[i + 1]).ok());
      }
    }
    level = std::move(next);
  }
  EXPECT_EQ(level.front(), whole);
  EXPECT_EQ(*level.front().Quantile(0.99), *whole.Quantile(0.99));
}

TEST_P(MergeEquivalenceTest, MergedCollapsedPartsEqualTheCollapsedWhole) {
  // 64 buckets per store is far below the data's range, so the whole and most parts fold.
  const int k = GetParam();
  const std::vector<double> values = MixedValues(20000, 21);
  const DDSketch whole = SketchOf(values, 64);
  ASSERT_TRUE(whole.collapsed());
  const std::vector<DDSketch> parts = SketchParts(values, k, 22 + k, 64);

  std::vector<size_t> order = Iota(parts.size());
  std::shuffle(order.begin(), order.end(), std::mt19937_64(23));
  const DDSketch merged = MergeAll(parts, order, 64);
  EXPECT_EQ(merged, whole);
  EXPECT_TRUE(merged.collapsed());
}

INSTANTIATE_TEST_SUITE_P(Parts, MergeEquivalenceTest, ::testing::Values(2, 5, 60));

TEST(DDSketchMergeTest, CommutativeAndAssociative) {
  const DDSketch a = SketchOf(MixedValues(5000, 31));
  const DDSketch b = SketchOf(MixedValues(7000, 32));
  DDSketch c = SketchOf(MixedValues(3000, 33));
  c.Add(1e15);  // c alone reaches a bucket far above the others.

  DDSketch ab = a;
  ASSERT_TRUE(ab.Merge(b).ok());
  DDSketch ba = b;
  ASSERT_TRUE(ba.Merge(a).ok());
  EXPECT_EQ(ab, ba);

  DDSketch ab_c = ab;
  ASSERT_TRUE(ab_c.Merge(c).ok());
  DDSketch bc = b;
  ASSERT_TRUE(bc.Merge(c).ok());
  DDSketch a_bc = a;
  ASSERT_TRUE(a_bc.Merge(bc).ok());
  EXPECT_EQ(ab_c, a_bc);
  EXPECT_EQ(ab_c.count(), 15001u);
  EXPECT_NE(ab_c, ab);
}

TEST(DDSketchMergeTest, EmptySketchesAreNeutral) {
  const DDSketch full = SketchOf(MixedValues(1000, 41));
  DDSketch target = full;
  ASSERT_TRUE(target.Merge(DDSketch()).ok());
  EXPECT_EQ(target, full);

  DDSketch empty;
  ASSERT_TRUE(empty.Merge(full).ok());
  EXPECT_EQ(empty, full);
  EXPECT_EQ(empty.count(), 1000u);
}

TEST(DDSketchMergeTest, MergingIntoItselfDoubles) {
  const std::vector<double> values = MixedValues(2000, 42);
  DDSketch sketch = SketchOf(values);
  ASSERT_TRUE(sketch.Merge(sketch).ok());
  std::vector<double> twice = values;
  twice.insert(twice.end(), values.begin(), values.end());
  EXPECT_EQ(sketch, SketchOf(twice));
}

TEST(DDSketchMergeTest, MismatchedAccuracyFailsAndChangesNothing) {
  DDSketch target = SketchOf(MixedValues(1000, 43));
  const DDSketch before = target;
  DDSketch other(0.02);
  other.Add(5);
  // Close is not equal: the buckets still differ.
  DDSketch nearly(std::nextafter(0.01, 1.0));
  nearly.Add(5);
  for (const DDSketch* bad : {&other, &nearly}) {
    const absl::Status status = target.Merge(*bad);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(status.message(), HasSubstr("relative_accuracy"));
    EXPECT_EQ(target, before);
    EXPECT_EQ(target.count(), before.count());
  }
}

TEST(DDSketchMergeTest, CountOverflowFailsAndChangesNothing) {
  v1::DDSketch proto;
  proto.set_relative_accuracy(0.01);
  proto.set_zero_count(kMaxCount - 1);
  const absl::StatusOr<DDSketch> huge = DDSketch::FromProto(proto);
  ASSERT_TRUE(huge.ok()) << huge.status();

  DDSketch target = *huge;
  DDSketch two;
  two.Add(1);
  two.Add(2);
  const absl::Status status = target.Merge(two);
  EXPECT_EQ(status.code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(target, *huge);

  DDSketch one;
  one.Add(1);
  ASSERT_TRUE(target.Merge(one).ok());
  EXPECT_EQ(target.count(), kMaxCount);
  target.Add(3);  // No room left: dropped, as documented.
  EXPECT_EQ(target.count(), kMaxCount);
}

TEST(DDSketchProtoTest, RoundTripsExactly) {
  DDSketch collapsed(0.01, 32);
  for (double v : MixedValues(5000, 51)) collapsed.Add(v);
  ASSERT_TRUE(collapsed.collapsed());
  DDSketch zeros_only;
  zeros_only.Add(0);
  DDSketch coarse(0.2);
  for (double v : MixedValues(500, 52)) coarse.Add(v);

  for (const DDSketch& original :
       {DDSketch(), zeros_only, coarse, SketchOf(MixedValues(10000, 53)), collapsed}) {
    const v1::DDSketch proto = original.ToProto();
    // Through bytes too, as the aggregated topics carry it.
    v1::DDSketch parsed;
    ASSERT_TRUE(parsed.ParseFromString(proto.SerializeAsString()));
    const absl::StatusOr<DDSketch> read = DDSketch::FromProto(parsed, original.max_buckets());
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_EQ(*read, original);
    EXPECT_EQ(read->count(), original.count());
    EXPECT_EQ(read->ToProto().SerializeAsString(), proto.SerializeAsString());
  }
}

TEST(DDSketchProtoTest, ToProtoIsCanonical) {
  DDSketch sketch;
  for (double v : {-3.0, 0.0, 2.0, 1000.0}) sketch.Add(v);
  const v1::DDSketch proto = sketch.ToProto();
  EXPECT_EQ(proto.relative_accuracy(), 0.01);
  EXPECT_EQ(proto.zero_count(), 1u);
  ASSERT_GE(proto.positive().counts_size(), 2);
  EXPECT_NE(proto.positive().counts(0), 0u);
  EXPECT_NE(proto.positive().counts(proto.positive().counts_size() - 1), 0u);
  ASSERT_EQ(proto.negative().counts_size(), 1);
  EXPECT_EQ(proto.negative().counts(0), 1u);
  // ceil(log(2) / log(1.01 / 0.99)) = 35.
  EXPECT_EQ(proto.positive().offset(), 35);
  EXPECT_FALSE(DDSketch().ToProto().has_positive());
}

TEST(DDSketchProtoTest, AcceptsAndDropsZeroPadding) {
  DDSketch sketch;
  sketch.Add(2);
  sketch.Add(3);
  v1::DDSketch padded = sketch.ToProto();
  v1::SketchBuckets* positive = padded.mutable_positive();
  positive->set_offset(positive->offset() - 2);
  std::vector<uint64_t> counts = {0, 0};
  counts.insert(counts.end(), positive->counts().begin(), positive->counts().end());
  counts.push_back(0);
  positive->mutable_counts()->Assign(counts.begin(), counts.end());
  padded.mutable_negative()->add_counts(0);  // An all-zero store is an empty one.

  const absl::StatusOr<DDSketch> read = DDSketch::FromProto(padded);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, sketch);
}

// A valid one-value proto for the malformed cases to spoil.
v1::DDSketch OneValueProto() {
  DDSketch sketch;
  sketch.Add(10);
  return sketch.ToProto();
}

void ExpectRejected(const v1::DDSketch& proto, const std::string& reason, size_t max_buckets) {
  const absl::StatusOr<DDSketch> read = DDSketch::FromProto(proto, max_buckets);
  EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument) << proto.DebugString();
  EXPECT_THAT(read.status().message(), HasSubstr(reason)) << proto.DebugString();
}

TEST(DDSketchProtoTest, RejectsBadAccuracy) {
  for (double accuracy : {0.0, 1.0, -0.01, std::numeric_limits<double>::quiet_NaN(),
                          std::numeric_limits<double>::infinity(), 1e-7, 1.5}) {
    v1::DDSketch proto = OneValueProto();
    proto.set_relative_accuracy(accuracy);
    ExpectRejected(proto, "DDSketch.relative_accuracy", 2048);
  }
}

TEST(DDSketchProtoTest, RejectsIndexesNoFiniteValueHas) {
  // At 1 %, finite values map to about [-35400, 35500].
  for (int32_t offset :
       {std::numeric_limits<int32_t>::max(), std::numeric_limits<int32_t>::min(), 40000, -40000}) {
    v1::DDSketch proto = OneValueProto();
    proto.mutable_positive()->set_offset(offset);
    ExpectRejected(proto, "DDSketch.positive covers bucket indexes", 2048);
    proto = OneValueProto();
    proto.mutable_negative()->set_offset(offset);
    proto.mutable_negative()->add_counts(1);
    ExpectRejected(proto, "DDSketch.negative covers bucket indexes", 2048);
  }
  // In range at the start, out of range at the end.
  v1::DDSketch proto = OneValueProto();
  proto.mutable_positive()->set_offset(35000);
  for (int i = 0; i < 1000; ++i) proto.mutable_positive()->add_counts(0);
  ExpectRejected(proto, "DDSketch.positive covers bucket indexes", 2048);
}

TEST(DDSketchProtoTest, RejectsMoreBucketsThanTheBound) {
  v1::DDSketch proto = OneValueProto();
  proto.mutable_positive()->set_offset(0);
  proto.mutable_positive()->clear_counts();
  for (int i = 0; i < 2049; ++i) proto.mutable_positive()->add_counts(1);
  ExpectRejected(proto, "spans 2049 non-zero buckets", 2048);
  EXPECT_TRUE(DDSketch::FromProto(proto, 2049).ok());

  // Exactly the bound is accepted, and reported as possibly collapsed.
  proto.mutable_positive()->mutable_counts()->RemoveLast();
  const absl::StatusOr<DDSketch> full = DDSketch::FromProto(proto, 2048);
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_TRUE(full->collapsed());
  EXPECT_FALSE(DDSketch::FromProto(OneValueProto())->collapsed());
}

TEST(DDSketchProtoTest, RejectsCountsThatOverflow) {
  v1::DDSketch proto = OneValueProto();
  proto.mutable_positive()->set_counts(0, uint64_t{1} << 63);
  proto.mutable_negative()->add_counts(uint64_t{1} << 63);
  ExpectRejected(proto, "sum past 2^64 - 1", 2048);

  proto = OneValueProto();
  proto.set_zero_count(kMaxCount);
  ExpectRejected(proto, "sum past 2^64 - 1", 2048);
}

TEST(DDSketchProtoTest, RejectsZeroMaxBuckets) {
  ExpectRejected(OneValueProto(), "max_buckets", 0);
}

}  // namespace
}  // namespace streammetrics::sketch
