// ValueDistribution: parsing of distribution specs and drawing values (see the header).
#include "tools/loadgen/value_distribution.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace streammetrics::loadgen {
namespace {

constexpr char kForms[] =
    "constant:V, uniform:LO:HI, exponential:MEAN, lognormal:MU:SIGMA or pareto:XM:ALPHA";

absl::Status Bad(absl::string_view spec, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("value distribution \"", spec, "\": ", why, " (expected ", kForms, ")"));
}

}  // namespace

double ValueDistribution::Quantize(double v) {
  if (!(v >= 1 / kQuantum)) return 1 / kQuantum;  // also NaN
  if (v > kMaxValue) return kMaxValue;
  return std::nearbyint(v * kQuantum) / kQuantum;
}

absl::StatusOr<ValueDistribution> ValueDistribution::Parse(absl::string_view spec) {
  std::vector<std::string> parts = absl::StrSplit(spec, ':');
  const std::string& name = parts[0];
  std::vector<double> args;
  for (size_t i = 1; i < parts.size(); ++i) {
    double v = 0;
    if (!absl::SimpleAtod(parts[i], &v) || !std::isfinite(v)) {
      return Bad(spec, absl::StrCat("\"", parts[i], "\" is not a finite number"));
    }
    args.push_back(v);
  }
  auto want = [&](size_t n) -> absl::Status {
    if (args.size() == n) return absl::OkStatus();
    return Bad(spec, absl::StrCat(name, " takes ", n, " number(s), got ", args.size()));
  };
  std::string normalized = absl::StrCat(name, args.empty() ? "" : ":", absl::StrJoin(args, ":"));
  if (name == "constant") {
    if (absl::Status s = want(1); !s.ok()) return s;
    if (args[0] <= 0) return Bad(spec, "V must be > 0 (events of most types need positive values)");
    return ValueDistribution(Kind::kConstant, args[0], 0, normalized);
  }
  if (name == "uniform") {
    if (absl::Status s = want(2); !s.ok()) return s;
    if (!(args[0] > 0 && args[0] < args[1])) return Bad(spec, "needs 0 < LO < HI");
    return ValueDistribution(Kind::kUniform, args[0], args[1], normalized);
  }
  if (name == "exponential") {
    if (absl::Status s = want(1); !s.ok()) return s;
    if (args[0] <= 0) return Bad(spec, "MEAN must be > 0");
    return ValueDistribution(Kind::kExponential, args[0], 0, normalized);
  }
  if (name == "lognormal") {
    if (absl::Status s = want(2); !s.ok()) return s;
    if (args[1] <= 0) return Bad(spec, "SIGMA must be > 0");
    return ValueDistribution(Kind::kLognormal, args[0], args[1], normalized);
  }
  if (name == "pareto") {
    if (absl::Status s = want(2); !s.ok()) return s;
    if (args[0] <= 0 || args[1] <= 0) return Bad(spec, "XM and ALPHA must be > 0");
    return ValueDistribution(Kind::kPareto, args[0], args[1], normalized);
  }
  return Bad(spec, absl::StrCat("unknown distribution \"", name, "\""));
}

double ValueDistribution::Draw(std::mt19937_64& rng) const {
  double v = a_;
  switch (kind_) {
    case Kind::kConstant:
      break;
    case Kind::kUniform:
      v = std::uniform_real_distribution<double>(a_, b_)(rng);
      break;
    case Kind::kExponential:
      v = std::exponential_distribution<double>(1 / a_)(rng);
      break;
    case Kind::kLognormal:
      v = std::lognormal_distribution<double>(a_, b_)(rng);
      break;
    case Kind::kPareto: {
      // Inverse transform: xm / U^(1/alpha), U in (0, 1].
      const double u = 1 - std::uniform_real_distribution<double>(0, 1)(rng);
      v = a_ / std::pow(u, 1 / b_);
      break;
    }
  }
  return Quantize(v);
}

}  // namespace streammetrics::loadgen
