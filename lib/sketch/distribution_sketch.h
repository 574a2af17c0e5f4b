// How a pre-aggregated Distribution (proto/streammetrics/v1/metric_event.proto) enters a window's
// DDSketch: each bucket's count is added at one representative value. Pure code, no I/O.
//
// The representative of a bucket whose values lie in [lo, hi] (the bucket's bounds clamped to the
// distribution's exact min and max) is the value relatively closest to all of them:
// 2 * lo * hi / (lo + hi) when the range does not touch zero, which is within
// (hi - lo) / (hi + lo) of every value in it. An exponential bucket at scale s has
// hi / lo = 2^(2^-s), so its representative is within (2^(2^-s) - 1) / (2^(2^-s) + 1) of its
// values: 3.3e-7 at scale 20, 0.0014 at scale 8, 1/3 at scale 0. A range that touches or spans
// zero is represented by its midpoint (no relative bound exists there). The sketch then adds its
// own relative accuracy, so a quantile of the window is within about the sum of the two.
#ifndef STREAMMETRICS_LIB_SKETCH_DISTRIBUTION_SKETCH_H_
#define STREAMMETRICS_LIB_SKETCH_DISTRIBUTION_SKETCH_H_

#include "absl/status/status.h"
#include "lib/sketch/ddsketch.h"
#include "streammetrics/v1/metric_event.pb.h"

namespace streammetrics::sketch {

// The value that represents a bucket holding values in [lo, hi] (lo <= hi, both finite); see
// above.
double BucketRepresentative(double lo, double hi);

// Adds the distribution's distribution.count() values to *sketch. Precondition: the distribution
// passed events::CheckDistribution (counts add up, numbers finite, min <= max). Fails, leaving the
// sketch unchanged, with OutOfRange when the sketch's count would pass 2^64 - 1.
absl::Status AddDistribution(const v1::Distribution& distribution, DDSketch* sketch);

}  // namespace streammetrics::sketch

#endif  // STREAMMETRICS_LIB_SKETCH_DISTRIBUTION_SKETCH_H_
