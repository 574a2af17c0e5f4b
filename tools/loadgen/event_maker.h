// EventMaker: the events one load generator stream sends (pure code, no I/O).
//
// Each event belongs to a series drawn uniformly from the catalog, has a value from the
// distribution, and is stamped with the time the caller gives (the intended send time in an
// open-loop run). A fraction of events is made invalid on purpose, cycling through kinds the ingest
// service must reject (see InvalidKind); their event_id starts with "x-" (valid ones with "e-"), so
// the ledger can tell a deliberate rejection from an unexpected one.
//
// Not thread-safe: one EventMaker per stream.
#ifndef STREAMMETRICS_TOOLS_LOADGEN_EVENT_MAKER_H_
#define STREAMMETRICS_TOOLS_LOADGEN_EVENT_MAKER_H_

#include <cstdint>
#include <optional>
#include <random>
#include <string>

#include "absl/time/time.h"
#include "streammetrics/v1/metric_event.pb.h"
#include "tools/loadgen/series_catalog.h"
#include "tools/loadgen/value_distribution.h"

namespace streammetrics::loadgen {

// The ways a deliberately invalid event is broken, used in turn.
enum class InvalidKind {
  kNanValue,         // value NaN
  kNegativeValue,    // value -1 on a non-gauge type
  kEmptyService,     // service_id ""
  kUnknownType,      // metric_type outside the enum
  kFutureTimestamp,  // timestamp one hour ahead (the default skew allowed is 5 minutes)
};
inline constexpr int kInvalidKinds = 5;

class EventMaker {
 public:
  // `catalog` and `values` must outlive the maker. `stream` numbers the maker's events
  // ("e-<stream>-<n>@<series index>") and names its instance ("<run_id>-stream-<stream>"); `seed`
  // and `stream` together seed its random numbers, so a run is reproducible. invalid_fraction in
  // [0, 1].
  EventMaker(const SeriesCatalog* catalog, const ValueDistribution* values,
             const std::string& run_id, int stream, uint64_t seed, double invalid_fraction);

  // The next event, stamped with `timestamp`.
  v1::MetricEvent Make(absl::Time timestamp);

  // True for an event EventMaker broke on purpose (by its event_id).
  static bool IsDeliberatelyInvalid(const v1::MetricEvent& event);

  // The catalog index of the series an event was made from (its event_id ends "@<index>"), or
  // nullopt for an id without one.
  static std::optional<size_t> SeriesIndexOf(const v1::MetricEvent& event);

 private:
  void Break(v1::MetricEvent& event);

  const SeriesCatalog* catalog_;
  const ValueDistribution* values_;
  std::string id_prefix_;  // "-<stream>-"
  std::string instance_id_;
  std::mt19937_64 rng_;
  std::uniform_int_distribution<size_t> pick_series_;
  std::bernoulli_distribution pick_invalid_;
  uint64_t made_ = 0;
  uint64_t broken_ = 0;
};

}  // namespace streammetrics::loadgen

#endif  // STREAMMETRICS_TOOLS_LOADGEN_EVENT_MAKER_H_
