// DDSketch buckets, bounded stores, quantiles and the wire form (contract in ddsketch.h).
//
// The bound is enforced by "collapsing lowest": a store's buckets always lie in
// [max index seen - max_buckets + 1, max index seen], and whatever falls below goes to the lowest
// bucket of that window. The window only ever moves up, so the state after any sequence of Adds
// and Merges is a function of the multiset of values alone; that is what makes merged sketches
// exactly equal to the sketch of all values, collapsed or not.
#include "lib/sketch/ddsketch.h"

#include <algorithm>
#include <cassert>
#include <cfloat>
#include <cmath>
#include <limits>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "lib/common/status_macros.h"

namespace streammetrics::sketch {
namespace {

constexpr uint64_t kMaxCount = std::numeric_limits<uint64_t>::max();

// Spare cells added on each growth beyond half the span, so tiny stores do not reallocate on
// every new bucket.
constexpr int64_t kMinSpareCells = 16;

// Indexes never span more than ~8e8 (see kMinRelativeAccuracy), so a larger bound is the same as
// no bound; clamping keeps the int64 arithmetic on spans far from overflow.
constexpr size_t kMaxUsefulBound = size_t{1} << 31;

bool IsValidAccuracy(double relative_accuracy) {
  // Written so NaN fails: every comparison with it is false.
  return relative_accuracy >= DDSketch::kMinRelativeAccuracy && relative_accuracy < 1;
}

absl::Status CheckAccuracy(double relative_accuracy, absl::string_view what) {
  if (IsValidAccuracy(relative_accuracy)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(what, " is ", relative_accuracy,
                                                 "; it must be in [",
                                                 DDSketch::kMinRelativeAccuracy, ", 1)"));
}

absl::Status CheckMaxBuckets(size_t max_buckets) {
  if (max_buckets >= 1) return absl::OkStatus();
  return absl::InvalidArgumentError("max_buckets is 0; it must be at least 1");
}

// The validated, trimmed content of one serialized store.
struct Trimmed {
  int32_t offset = 0;
  const uint64_t* counts = nullptr;
  size_t size = 0;
};

absl::StatusOr<Trimmed> ReadBuckets(const v1::SketchBuckets& buckets, absl::string_view name,
                                    int32_t min_index, int32_t max_index, size_t max_buckets,
                                    uint64_t* total) {
  Trimmed trimmed;
  const size_t size = static_cast<size_t>(buckets.counts_size());
  if (size == 0) return trimmed;  // No bucket: the offset means nothing.
  const int64_t first = buckets.offset();
  const int64_t last = first + static_cast<int64_t>(size) - 1;
  if (first < min_index || last > max_index) {
    return absl::InvalidArgumentError(absl::StrCat(
        "DDSketch.", name, " covers bucket indexes [", first, ", ", last, "], outside [", min_index,
        ", ", max_index, "], the indexes finite values map to at this relative_accuracy"));
  }
  const uint64_t* counts = buckets.counts().data();
  for (size_t k = 0; k < size; ++k) {
    if (counts[k] > kMaxCount - *total) {
      return absl::InvalidArgumentError(absl::StrCat("DDSketch counts sum past 2^64 - 1 (at ", name,
                                                     ".counts[", k, "] = ", counts[k], ")"));
    }
    *total += counts[k];
  }
  size_t begin = 0;
  while (begin < size && counts[begin] == 0) ++begin;
  if (begin == size) return trimmed;  // All zero: an empty store.
  size_t end = size;
  while (counts[end - 1] == 0) --end;
  if (end - begin > max_buckets) {
    return absl::InvalidArgumentError(absl::StrCat("DDSketch.", name, " spans ", end - begin,
                                                   " non-zero buckets; max_buckets allows ",
                                                   max_buckets));
  }
  trimmed.offset = static_cast<int32_t>(first + static_cast<int64_t>(begin));
  trimmed.counts = counts + begin;
  trimmed.size = end - begin;
  return trimmed;
}

}  // namespace

// ---- Store ----

void DDSketch::Store::Add(int32_t index, uint64_t n, int64_t max_buckets, bool* collapsed) {
  // The common case, a bucket inside the current range, touches one cell and nothing else.
  if (index >= min_ && index <= max_) {
    cell(index) += n;
    return;
  }
  const int32_t floor = Prepare(index, index, max_buckets, collapsed);
  cell(std::max(index, floor)) += n;
}

void DDSketch::Store::MergeFrom(const Store& other, int64_t max_buckets, bool* collapsed) {
  if (other.empty()) return;
  // One Prepare for the whole range: the window then already sits where it would after adding
  // other's buckets one at a time, since it depends only on the highest index.
  const int32_t floor = Prepare(other.min_, other.max_, max_buckets, collapsed);
  for (int32_t i = other.min_; i <= other.max_; ++i) {
    const uint64_t n = other.at(i);
    if (n != 0) cell(std::max(i, floor)) += n;
  }
}

int32_t DDSketch::Store::Prepare(int32_t lo, int32_t hi, int64_t max_buckets, bool* collapsed) {
  // Callers write non-zero counts at lo and hi, so the new [min_, max_] keeps non-zero ends.
  const int64_t new_lo = empty() ? lo : std::min(min_, lo);
  const int64_t new_hi = empty() ? hi : std::max(max_, hi);
  if (new_hi - new_lo + 1 <= max_buckets) {
    EnsureCells(new_lo, new_hi, max_buckets);
    min_ = static_cast<int32_t>(new_lo);
    max_ = static_cast<int32_t>(new_hi);
    return min_;
  }
  // Too wide: keep the top max_buckets indexes, fold the rest into the lowest of them. The
  // folded bucket is non-zero: it gets either our old lowest bucket or the incoming lo.
  *collapsed = true;
  const int64_t floor = new_hi - max_buckets + 1;
  uint64_t folded = 0;
  if (!empty()) {
    const int64_t last = std::min<int64_t>(max_, floor - 1);
    for (int64_t i = min_; i <= last; ++i) {
      uint64_t& c = cell(static_cast<int32_t>(i));
      folded += c;
      c = 0;
    }
  }
  EnsureCells(floor, new_hi, max_buckets);
  min_ = static_cast<int32_t>(floor);
  max_ = static_cast<int32_t>(new_hi);
  cell(min_) += folded;
  return min_;
}

void DDSketch::Store::EnsureCells(int64_t lo, int64_t hi, int64_t max_buckets) {
  const int64_t size = static_cast<int64_t>(counts_.size());
  if (lo >= base_ && hi < base_ + size) return;
  const int64_t span = hi - lo + 1;
  // Grow by half again (amortized O(1) per new bucket). Up to twice the bound, so a collapsed
  // store whose window slides up one bucket at a time reallocates once per max_buckets slides
  // rather than on every one.
  const int64_t capacity =
      std::max(span, std::min(span + span / 2 + kMinSpareCells, 2 * max_buckets));
  const int64_t spare = capacity - span;
  // Put the spare room on the side the store is growing towards.
  const bool down = counts_.empty() || lo < base_;
  const bool up = counts_.empty() || hi >= base_ + size;
  const int64_t below = down && up ? spare / 2 : (down ? spare : 0);
  const int64_t new_base = lo - below;

  std::vector<uint64_t> cells(static_cast<size_t>(capacity), 0);
  const int64_t from = std::max(base_, new_base);
  const int64_t to = std::min(base_ + size, new_base + capacity);
  if (from < to) {
    std::copy(counts_.begin() + (from - base_), counts_.begin() + (to - base_),
              cells.begin() + (from - new_base));
  }
  counts_.swap(cells);
  base_ = new_base;
}

void DDSketch::Store::Assign(int32_t offset, const uint64_t* counts, size_t size) {
  counts_.assign(counts, counts + size);
  base_ = offset;
  min_ = size == 0 ? 1 : offset;
  max_ = size == 0 ? 0 : static_cast<int32_t>(offset + static_cast<int64_t>(size) - 1);
}

void DDSketch::Store::ToProto(v1::SketchBuckets* proto) const {
  proto->set_offset(min_);
  proto->mutable_counts()->Reserve(max_ - min_ + 1);
  for (int32_t i = min_; i <= max_; ++i) proto->add_counts(at(i));
}

bool DDSketch::Store::operator==(const Store& other) const {
  if (empty() || other.empty()) return empty() == other.empty();
  if (min_ != other.min_ || max_ != other.max_) return false;
  const auto begin = counts_.begin() + (min_ - base_);
  return std::equal(begin, begin + (max_ - min_ + 1),
                    other.counts_.begin() + (other.min_ - other.base_));
}

// ---- DDSketch ----

DDSketch::DDSketch(double relative_accuracy, size_t max_buckets)
    : relative_accuracy_(relative_accuracy),
      max_buckets_(std::max<size_t>(max_buckets, 1)),
      valid_(IsValidAccuracy(relative_accuracy)) {
  assert(valid_ && "DDSketch: relative_accuracy must be in [kMinRelativeAccuracy, 1)");
  assert(max_buckets >= 1 && "DDSketch: max_buckets must be at least 1");
  if (!valid_) return;
  // log1p keeps log(gamma) accurate for small accuracies, where (1+a)/(1-a) rounds.
  log_gamma_ = std::log1p(relative_accuracy) - std::log1p(-relative_accuracy);
  inverse_log_gamma_ = 1 / log_gamma_;
  min_indexable_ = DBL_MIN * std::exp(log_gamma_);
}

absl::StatusOr<DDSketch> DDSketch::Create(double relative_accuracy, size_t max_buckets) {
  RETURN_IF_ERROR(CheckAccuracy(relative_accuracy, "relative_accuracy"));
  RETURN_IF_ERROR(CheckMaxBuckets(max_buckets));
  return DDSketch(relative_accuracy, max_buckets);
}

int32_t DDSketch::Index(double magnitude) const {
  // Multiplying by the inverse is cheaper than dividing and just as monotonic, which is all the
  // bucket boundaries need; values on a boundary may land either side, at an error of ~1 ulp.
  return static_cast<int32_t>(std::ceil(std::log(magnitude) * inverse_log_gamma_));
}

double DDSketch::Representative(int32_t index) const {
  // (1 - a) * gamma^i == 2 * gamma^i / (gamma + 1). In the top bucket it can exceed DBL_MAX (exp
  // gives inf); every value there is <= DBL_MAX, so DBL_MAX is closer to all of them.
  return std::min(std::exp(index * log_gamma_) * (1 - relative_accuracy_), DBL_MAX);
}

int32_t DDSketch::MinIndex() const { return Index(min_indexable_); }
int32_t DDSketch::MaxIndex() const { return Index(DBL_MAX); }

void DDSketch::Add(double value) {
  assert(std::isfinite(value) && "DDSketch::Add: callers pass finite values only");
  const double magnitude = std::abs(value);
  // `!(x <= max)` rejects NaN and +-Inf in one comparison.
  if (!(magnitude <= DBL_MAX) || !valid_ || count_ == kMaxCount) return;
  const int64_t bound = static_cast<int64_t>(std::min(max_buckets_, kMaxUsefulBound));
  if (magnitude < min_indexable_) {
    ++zero_count_;
  } else if (value > 0) {
    positive_.Add(Index(magnitude), 1, bound, &collapsed_);
  } else {
    negative_.Add(Index(magnitude), 1, bound, &collapsed_);
  }
  ++count_;
}

absl::Status DDSketch::AddCopies(double value, uint64_t n) {
  assert(std::isfinite(value) && "DDSketch::AddCopies: callers pass finite values only");
  if (n > kMaxCount - count_) {
    return absl::OutOfRangeError(
        absl::StrCat("adding ", n, " values to a sketch of ", count_, " overflows the count"));
  }
  const double magnitude = std::abs(value);
  if (n == 0 || !(magnitude <= DBL_MAX) || !valid_) return absl::OkStatus();
  const int64_t bound = static_cast<int64_t>(std::min(max_buckets_, kMaxUsefulBound));
  if (magnitude < min_indexable_) {
    zero_count_ += n;
  } else if (value > 0) {
    positive_.Add(Index(magnitude), n, bound, &collapsed_);
  } else {
    negative_.Add(Index(magnitude), n, bound, &collapsed_);
  }
  count_ += n;
  return absl::OkStatus();
}

absl::Status DDSketch::Merge(const DDSketch& other) {
  if (!(other.relative_accuracy_ == relative_accuracy_)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot merge a sketch of relative_accuracy ", other.relative_accuracy_,
        " into one of relative_accuracy ", relative_accuracy_, ": their buckets differ"));
  }
  if (other.count_ > kMaxCount - count_) {
    return absl::OutOfRangeError(absl::StrCat("merging sketches of ", count_, " and ", other.count_,
                                              " values overflows the count"));
  }
  if (&other == this) {
    // Merging reads the other stores while growing ours: read a copy instead.
    const DDSketch copy = other;
    return Merge(copy);
  }
  const int64_t bound = static_cast<int64_t>(std::min(max_buckets_, kMaxUsefulBound));
  collapsed_ = collapsed_ || other.collapsed_;
  positive_.MergeFrom(other.positive_, bound, &collapsed_);
  negative_.MergeFrom(other.negative_, bound, &collapsed_);
  zero_count_ += other.zero_count_;
  count_ += other.count_;
  return absl::OkStatus();
}

absl::StatusOr<double> DDSketch::Quantile(double q) const {
  if (!(q >= 0 && q <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat("quantile ", q, " is not in [0, 1]"));
  }
  if (empty()) {
    return absl::FailedPreconditionError("the sketch is empty: there is no quantile to estimate");
  }
  // floor(q * (n - 1)), guarded: near 2^64 the double product can round up past n - 1.
  const uint64_t last = count_ - 1;
  const double scaled = std::floor(q * static_cast<double>(last));
  const uint64_t rank = scaled >= static_cast<double>(last) ? last : static_cast<uint64_t>(scaled);

  // Ascending value order: negatives by decreasing magnitude, zeros, positives.
  uint64_t seen = 0;
  if (!negative_.empty()) {
    for (int32_t i = negative_.max_index(); i >= negative_.min_index(); --i) {
      seen += negative_.at(i);
      if (seen > rank) return -Representative(i);
    }
  }
  seen += zero_count_;
  if (seen > rank) return 0.0;
  if (!positive_.empty()) {
    for (int32_t i = positive_.min_index(); i <= positive_.max_index(); ++i) {
      seen += positive_.at(i);
      if (seen > rank) return Representative(i);
    }
  }
  // The buckets always sum to count_; reaching here means that invariant broke.
  return absl::InternalError(
      absl::StrCat("DDSketch buckets hold ", seen, " values, count() is ", count_));
}

v1::DDSketch DDSketch::ToProto() const {
  v1::DDSketch proto;
  proto.set_relative_accuracy(relative_accuracy_);
  if (!positive_.empty()) positive_.ToProto(proto.mutable_positive());
  if (!negative_.empty()) negative_.ToProto(proto.mutable_negative());
  proto.set_zero_count(zero_count_);
  return proto;
}

absl::StatusOr<DDSketch> DDSketch::FromProto(const v1::DDSketch& proto, size_t max_buckets) {
  RETURN_IF_ERROR(CheckMaxBuckets(max_buckets));
  RETURN_IF_ERROR(CheckAccuracy(proto.relative_accuracy(), "DDSketch.relative_accuracy"));
  DDSketch sketch(proto.relative_accuracy(), max_buckets);
  const int32_t min_index = sketch.MinIndex();
  const int32_t max_index = sketch.MaxIndex();
  uint64_t total = proto.zero_count();
  ASSIGN_OR_RETURN(const Trimmed positive, ReadBuckets(proto.positive(), "positive", min_index,
                                                       max_index, max_buckets, &total));
  ASSIGN_OR_RETURN(const Trimmed negative, ReadBuckets(proto.negative(), "negative", min_index,
                                                       max_index, max_buckets, &total));
  sketch.positive_.Assign(positive.offset, positive.counts, positive.size);
  sketch.negative_.Assign(negative.offset, negative.counts, negative.size);
  sketch.zero_count_ = proto.zero_count();
  sketch.count_ = total;
  // A full-width store may be the result of folding; assume it was, so low quantiles are not
  // trusted more than they deserve.
  sketch.collapsed_ = positive.size == max_buckets || negative.size == max_buckets;
  return sketch;
}

bool operator==(const DDSketch& a, const DDSketch& b) {
  return a.relative_accuracy_ == b.relative_accuracy_ && a.zero_count_ == b.zero_count_ &&
         a.count_ == b.count_ && a.positive_ == b.positive_ && a.negative_ == b.negative_;
}

}  // namespace streammetrics::sketch
