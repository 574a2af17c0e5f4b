// SeriesCatalog: builds the run's series templates (see the header).
#include "tools/loadgen/series_catalog.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "lib/events/series_key.h"

namespace streammetrics::loadgen {
namespace {

// Cycled through by metric index, each with a plausible name and unit.
struct MetricKind {
  v1::MetricType type;
  const char* name;
  const char* unit;
};
constexpr MetricKind kKinds[] = {
    {v1::METRIC_TYPE_HTTP_REQUEST, "http.request.duration", "milliseconds"},
    {v1::METRIC_TYPE_DATABASE_QUERY, "db.query.duration", "milliseconds"},
    {v1::METRIC_TYPE_CACHE_HIT, "cache.hit.latency", "microseconds"},
    {v1::METRIC_TYPE_EXTERNAL_API_CALL, "external.call.duration", "milliseconds"},
    {v1::METRIC_TYPE_MESSAGE_QUEUE_PUBLISH, "queue.publish.size", "bytes"},
    {v1::METRIC_TYPE_CUSTOM_COUNTER, "jobs.completed", "1"},
    {v1::METRIC_TYPE_CUSTOM_GAUGE, "pool.connections", "1"},
    {v1::METRIC_TYPE_CUSTOM_HISTOGRAM, "batch.processing.time", "seconds"},
};
constexpr int64_t kKindCount = sizeof(kKinds) / sizeof(kKinds[0]);

absl::Status Bad(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("load shape: ", why));
}

}  // namespace

absl::StatusOr<SeriesCatalog> SeriesCatalog::Create(const CatalogShape& shape) {
  if (shape.run_id.empty() || shape.run_id.size() > 60) {
    return Bad("run_id must be 1..60 characters");
  }
  for (char c : shape.run_id) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return Bad(absl::StrCat("run_id \"", shape.run_id, "\" may only hold [A-Za-z0-9._-]"));
    }
  }
  if (shape.services < 1) return Bad("services must be >= 1");
  if (shape.metrics < 1) return Bad("metrics must be >= 1");
  if (shape.tag_sets < 0) return Bad("tag_sets must be >= 0");
  const int64_t sets = shape.tag_sets == 0 ? 1 : shape.tag_sets;
  // Checked step by step so the product cannot overflow.
  if (shape.services > kMaxSeries || shape.metrics > kMaxSeries || sets > kMaxSeries ||
      shape.services * shape.metrics > kMaxSeries ||
      shape.services * shape.metrics * sets > kMaxSeries) {
    return Bad(absl::StrCat("services x metrics x tag_sets must be at most ", kMaxSeries));
  }
  SeriesCatalog catalog;
  catalog.templates_.reserve(shape.services * shape.metrics * sets);
  for (int64_t s = 0; s < shape.services; ++s) {
    catalog.services_.push_back(absl::StrCat(shape.run_id, "-svc-", s));
    for (int64_t m = 0; m < shape.metrics; ++m) {
      // The first round of names is plain; later rounds get a suffix ("http.request.duration.1").
      const MetricKind& t = kKinds[m % kKindCount];
      const std::string name = m < kKindCount ? t.name : absl::StrCat(t.name, ".", m / kKindCount);
      for (int64_t k = 0; k < sets; ++k) {
        v1::MetricEvent e;
        e.set_service_id(catalog.services_.back());
        e.set_metric_name(name);
        e.set_metric_type(t.type);
        e.set_unit(t.unit);
        if (shape.tag_sets > 0) {
          (*e.mutable_tags())["endpoint"] = absl::StrCat("/e/", k);
          (*e.mutable_tags())["region"] = absl::StrCat("r", k % 4);
        }
        catalog.keys_.push_back(events::SeriesKey(e));
        catalog.templates_.push_back(std::move(e));
      }
    }
  }
  return catalog;
}

}  // namespace streammetrics::loadgen
