// ValueDistribution: where the load generator's event values come from (pure code, no I/O).
//
// A distribution is named by a spec string, e.g. "lognormal:3:1" (see Parse). Every value drawn is
// positive (so it is valid for every metric type) and a multiple of 1/kQuantum: sums of such
// values are exact in a double whatever the order of the additions (while they stay below
// 2^53 / kQuantum, about 8.8e12), so `--verify` can compare the pipeline's window sums with the
// ledger's exactly instead of within a tolerance.
#ifndef STREAMMETRICS_TOOLS_LOADGEN_VALUE_DISTRIBUTION_H_
#define STREAMMETRICS_TOOLS_LOADGEN_VALUE_DISTRIBUTION_H_

#include <random>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace streammetrics::loadgen {

class ValueDistribution {
 public:
  // Values are multiples of 1 / kQuantum (a power of two, so the rounding is exact).
  static constexpr double kQuantum = 1024;
  // Values are clamped to [1 / kQuantum, kMaxValue]: positive, and small enough that a window of
  // up to 8.6e6 events (about 143k events/s into one series for a minute) still sums exactly.
  static constexpr double kMaxValue = 1e6;

  // Parses one of:
  //   constant:V           always V
  //   uniform:LO:HI        uniform in [LO, HI)
  //   exponential:MEAN     exponential with that mean (latency-like, many small values)
  //   lognormal:MU:SIGMA   exp(normal(MU, SIGMA)) (long-tailed, e.g. request durations)
  //   pareto:XM:ALPHA      Pareto with scale XM and shape ALPHA (heavy tail)
  // Fails with InvalidArgument saying which form was expected and what was wrong.
  static absl::StatusOr<ValueDistribution> Parse(absl::string_view spec);

  // One value drawn with `rng`, clamped and rounded as described above.
  double Draw(std::mt19937_64& rng) const;

  // The spec it was parsed from, normalized ("lognormal:3:1").
  const std::string& spec() const { return spec_; }

  // Rounds `v` to the nearest multiple of 1 / kQuantum within [1 / kQuantum, kMaxValue].
  static double Quantize(double v);

 private:
  enum class Kind { kConstant, kUniform, kExponential, kLognormal, kPareto };
  ValueDistribution(Kind kind, double a, double b, std::string spec)
      : kind_(kind), a_(a), b_(b), spec_(std::move(spec)) {}

  Kind kind_;
  double a_;
  double b_;
  std::string spec_;
};

}  // namespace streammetrics::loadgen

#endif  // STREAMMETRICS_TOOLS_LOADGEN_VALUE_DISTRIBUTION_H_
