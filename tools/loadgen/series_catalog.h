// SeriesCatalog: the series a load generator run writes to (pure code, no I/O).
//
// services x metrics x tag_sets series, each with a template event (service, metric name and
// type, unit, tags) that EventMaker copies. Service names start with the run's id, so the series of
// one run never mix with another run's and `--verify` can query exactly them.
#ifndef STREAMMETRICS_TOOLS_LOADGEN_SERIES_CATALOG_H_
#define STREAMMETRICS_TOOLS_LOADGEN_SERIES_CATALOG_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "streammetrics/v1/metric_event.pb.h"

namespace streammetrics::loadgen {

struct CatalogShape {
  // Prefix of every service name: "<run_id>-svc-<i>". 1..60 bytes of [A-Za-z0-9._-].
  std::string run_id = "lg";
  int64_t services = 10;
  // Metric names per service ("http.request.duration", "db.query.duration", ... eight kinds, then
  // again with a suffix ".1", ".2"); the metric type and unit go with the name.
  int64_t metrics = 10;
  // Tag sets per metric: {"endpoint": "/e/<k>", "region": "r<k % 4>"}; 0 means one set, no tags.
  int64_t tag_sets = 10;
};

class SeriesCatalog {
 public:
  // At most this many series: the ledger and the verification hold every series in memory.
  static constexpr int64_t kMaxSeries = 10'000'000;

  // Fails with InvalidArgument naming the bad field (a count < 1, tag_sets < 0, too many series,
  // a run_id that is empty, too long or has other characters).
  static absl::StatusOr<SeriesCatalog> Create(const CatalogShape& shape);

  size_t size() const { return templates_.size(); }
  // Series `i` (0 <= i < size()): its template event, without event_id, timestamp, value and
  // instance_id.
  const v1::MetricEvent& series(size_t i) const { return templates_[i]; }
  // Series `i`'s series key (events::SeriesKey of its template), computed once.
  const std::string& key(size_t i) const { return keys_[i]; }
  // Every service name, in order.
  const std::vector<std::string>& services() const { return services_; }

 private:
  SeriesCatalog() = default;
  std::vector<v1::MetricEvent> templates_;
  std::vector<std::string> keys_;
  std::vector<std::string> services_;
};

}  // namespace streammetrics::loadgen

#endif  // STREAMMETRICS_TOOLS_LOADGEN_SERIES_CATALOG_H_
