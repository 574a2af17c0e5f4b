// DDSketch (Masson, Rim, Lee; VLDB 2019): the mergeable quantile summary behind every window's
// p50/p95/p99. Pure code, no I/O.
//
// A positive value v falls in bucket i = ceil(log(v) / log(gamma)), gamma = (1 + a) / (1 - a) for
// relative accuracy a; bucket i covers (gamma^(i-1), gamma^i] and is represented by
// 2 * gamma^i / (gamma + 1) = (1 - a) * gamma^i, which is within a (relatively) of every value in
// the bucket. Negative values go to a second store by magnitude; magnitudes below
// min_indexable() count as zero. Merging adds bucket counts, so a 5-minute sketch is exactly the
// merge of its 1-minute sketches, and the result does not depend on how the values were split or
// in which order the parts were merged.
//
// Written by hand because Debian 12 ships no maintained C++ DDSketch, and the serialized form
// (v1::DDSketch in proto/streammetrics/v1/aggregate.proto) is part of the project's contract.
#ifndef STREAMMETRICS_LIB_SKETCH_DDSKETCH_H_
#define STREAMMETRICS_LIB_SKETCH_DDSKETCH_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "streammetrics/v1/aggregate.pb.h"

namespace streammetrics::sketch {

// A value type: copy it to snapshot a window. Const methods may run concurrently; anything else
// needs external synchronization, as for a standard container.
class DDSketch {
 public:
  // The accuracy the project uses (docs/contract.md: 1 %) and the default bucket bound per store.
  // 2048 buckets at 1 % span a dynamic range of gamma^2048, about 6e17, before any collapsing.
  static constexpr double kDefaultRelativeAccuracy = 0.01;
  static constexpr size_t kDefaultMaxBuckets = 2048;
  // Accepted relative accuracies are [kMinRelativeAccuracy, 1). The lower bound keeps the index of
  // every finite double (about +-709.8 / log(gamma)) within +-4e8, far inside the sint32 offset
  // of SketchBuckets, so no finite value ever needs an index the wire format cannot hold.
  static constexpr double kMinRelativeAccuracy = 1e-6;

  // Precondition: kMinRelativeAccuracy <= relative_accuracy < 1 and max_buckets >= 1 (checked by
  // assert). In a release build a sketch built with an invalid accuracy is inert: Add ignores
  // every value, so it stays empty, and FromProto refuses what ToProto makes of it;
  // max_buckets 0 acts as 1. Use Create when the arguments come from configuration.
  explicit DDSketch(double relative_accuracy = kDefaultRelativeAccuracy,
                    size_t max_buckets = kDefaultMaxBuckets);

  // The checked constructor: an empty sketch, or InvalidArgument naming the bad argument.
  static absl::StatusOr<DDSketch> Create(double relative_accuracy,
                                         size_t max_buckets = kDefaultMaxBuckets);

  // Counts one value: > 0 into the positive store, < 0 into the negative store by magnitude,
  // |value| < min_indexable() (including 0 and -0) as zero. Precondition: `value` is finite
  // (callers validate events first; checked by assert). In a release build NaN and +-Inf are not
  // added: the sketch is left unchanged and count() does not move. A value is likewise dropped
  // if count() is already 2^64 - 1, which only a sketch read by FromProto can reach.
  void Add(double value);

  // Counts `value` `n` times, as n calls of Add(value) would, in one step. Same preconditions and
  // release-build behaviour as Add; n == 0 changes nothing. Fails, leaving the sketch unchanged,
  // with OutOfRange when count() + n would exceed 2^64 - 1.
  absl::Status AddCopies(double value, uint64_t n);

  // Adds `other`'s buckets to this sketch's; afterwards this sketch equals (==) the sketch of the
  // union of both inputs, bounded to max_buckets() per store the same way Add bounds it (so,
  // when every part has the same max_buckets, the merge of parts == the sketch of the whole,
  // folded or not, in any merge order). Merging a sketch into itself doubles it. Fails, leaving
  // this sketch unchanged, with InvalidArgument when the relative accuracies differ (compared
  // exactly: different buckets cannot be added), or with OutOfRange when the merged count would
  // exceed 2^64 - 1.
  absl::Status Merge(const DDSketch& other);

  // The estimate of the value of rank floor(q * (count() - 1)) (0-based) in sorted order: the
  // representative of the bucket holding that rank, within relative_accuracy() of the true value
  // (0 is exact), unless the rank lies in a collapsed bucket (see collapsed()). Fails with
  // InvalidArgument when q is not in [0, 1] (NaN included), FailedPrecondition when empty.
  absl::StatusOr<double> Quantile(double q) const;

  // Number of values added (merged sketches included).
  uint64_t count() const { return count_; }
  double relative_accuracy() const { return relative_accuracy_; }
  bool empty() const { return count_ == 0; }
  // The bound on buckets per store (positive and negative separately).
  size_t max_buckets() const { return max_buckets_; }
  // Smallest magnitude given a bucket: gamma * DBL_MIN (about 2.2e-308 at 1 %). Below it a
  // bucket's bounds and representative would be subnormal doubles, whose few bits of precision
  // cannot keep the relative guarantee, so such values count as zero (an absolute error below
  // 2.3e-308).
  double min_indexable() const { return min_indexable_; }

  // True once a store needed more than max_buckets() buckets, here or in a sketch merged in, and
  // its lowest-index buckets were folded into one. Buckets keep their guarantee from the largest
  // magnitudes down, so p95/p99 of positive data stay within relative_accuracy(); estimates of
  // small magnitudes (low quantiles of positive data, high quantiles of negative data) may not.
  // The proto has no field for it: FromProto sets it when a store spans exactly max_buckets
  // buckets (it may have been folded). Not part of ==.
  bool collapsed() const { return collapsed_; }

  // The canonical serialized form: a store's counts run from its lowest to its highest non-zero
  // bucket (no leading or trailing zeros); an empty store is left unset.
  v1::DDSketch ToProto() const;

  // Reads a serialized sketch. Fails with InvalidArgument naming the field when the accuracy is
  // not in [kMinRelativeAccuracy, 1), a store's indexes leave the range a finite value can map to
  // at that accuracy, a store spans more than `max_buckets` non-zero buckets, or the counts sum
  // past 2^64 - 1. Leading and trailing zero counts are accepted and dropped, so the result ==
  // the sketch that produced `proto`.
  static absl::StatusOr<DDSketch> FromProto(const v1::DDSketch& proto,
                                            size_t max_buckets = kDefaultMaxBuckets);

  // Same accuracy (exactly) and the same count in every bucket, zero included. max_buckets() and
  // collapsed() are policy and history, not content, so they are not compared.
  friend bool operator==(const DDSketch& a, const DDSketch& b);

 private:
  // Dense counts of one sign: cell k holds bucket index base_ + k. Spare cells on both sides let
  // the store grow in either direction in amortized O(1). [min_, max_] is the range between the
  // lowest and highest non-zero bucket (both always non-zero), which keeps the content canonical.
  class Store {
   public:
    bool empty() const { return max_ < min_; }
    int32_t min_index() const { return min_; }
    int32_t max_index() const { return max_; }
    uint64_t at(int32_t index) const { return counts_[index - base_]; }

    // Adds `n` (>= 1) values to bucket `index`, folding buckets as the bound requires.
    void Add(int32_t index, uint64_t n, int64_t max_buckets, bool* collapsed);
    // Adds every bucket of `other` (a different store) the same way.
    void MergeFrom(const Store& other, int64_t max_buckets, bool* collapsed);
    // Replaces the content by `counts` at `offset`; `counts` has non-zero ends.
    void Assign(int32_t offset, const uint64_t* counts, size_t size);
    void ToProto(v1::SketchBuckets* proto) const;

    // Same non-zero buckets with the same counts; spare cells do not matter.
    bool operator==(const Store& other) const;

   private:
    // Makes room for buckets [lo, hi] plus what the store holds, folding the lowest buckets when
    // the span would exceed `max_buckets`. Returns the lowest index that may now be written:
    // incoming buckets below it belong in it.
    int32_t Prepare(int32_t lo, int32_t hi, int64_t max_buckets, bool* collapsed);
    // Reallocates so cells cover [lo, hi]; cells outside it are dropped (they must be zero).
    void EnsureCells(int64_t lo, int64_t hi, int64_t max_buckets);
    uint64_t& cell(int32_t index) { return counts_[index - base_]; }

    std::vector<uint64_t> counts_;
    int64_t base_ = 0;
    int32_t min_ = 1;
    int32_t max_ = 0;
  };

  int32_t Index(double magnitude) const;
  double Representative(int32_t index) const;
  // The index range Add can produce: [Index(min_indexable()), Index(DBL_MAX)].
  int32_t MinIndex() const;
  int32_t MaxIndex() const;

  double relative_accuracy_;
  size_t max_buckets_;
  // False for an out-of-range accuracy: the sketch is inert (see the constructor).
  bool valid_;
  double log_gamma_ = 0;
  double inverse_log_gamma_ = 0;
  double min_indexable_ = 0;
  Store positive_;
  Store negative_;
  uint64_t zero_count_ = 0;
  uint64_t count_ = 0;
  bool collapsed_ = false;
};

}  // namespace streammetrics::sketch

#endif  // STREAMMETRICS_LIB_SKETCH_DDSKETCH_H_
