// The OTLP mapping (contract in otlp_mapper.h; the table is in docs/otlp.md).
#include "ingest-service/otlp/otlp_mapper.h"

#include <cmath>
#include <optional>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "ingest-service/otlp/content_id.h"
#include "ingest-service/otlp/otlp_attributes.h"

namespace streammetrics::ingest::otlp {
namespace {

namespace pm = opentelemetry::proto::metrics::v1;
using Tags = google::protobuf::Map<std::string, std::string>;

constexpr uint32_t kNoRecordedValue = pm::DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK;

constexpr absl::string_view kDeltaAdvice =
    "set the exporter's temporality preference to delta "
    "(OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=delta)";

// What every point of one metric shares.
struct MetricContext {
  const pm::Metric* metric = nullptr;
  ContentId scope;
  // Empty when the resource's problem refuses every point.
  std::string service_id;
  std::string instance_id;
  char kind = '?';
};

// Why every point of a resource or a metric is refused, if one is.
struct Problem {
  v1::DeadLetterReason reason = v1::DEAD_LETTER_REASON_UNSPECIFIED;
  std::string why;
};

class Mapper {
 public:
  Mapper(const events::ValidationLimits& limits, CumulativeTracker* tracker, MappedExport* out)
      : limits_(limits), tracker_(tracker), out_(out) {}

  void Map(const ExportRequest& request) {
    for (const pm::ResourceMetrics& rm : request.resource_metrics()) {
      MetricContext m;
      resource_problem_ = ResourceProblem(rm.resource(), &m);
      const ContentId resource = ResourceId(rm.resource());
      for (const pm::ScopeMetrics& sm : rm.scope_metrics()) {
        m.scope = ScopeId(resource, sm.scope());
        for (const pm::Metric& metric : sm.metrics()) {
          m.metric = &metric;
          metric_problem_ = MetricProblem(metric);
          MapMetric(m);
        }
      }
    }
  }

 private:
  // Checks the resource's service.name and instance before any point copies them: a point of a
  // megabyte-long service.name must be refused without a megabyte copied per point.
  std::optional<Problem> ResourceProblem(const opentelemetry::proto::resource::v1::Resource& r,
                                         MetricContext* m) const {
    const std::optional<std::string> service = FindAttribute(r.attributes(), "service.name");
    if (!service.has_value()) {
      return Problem{v1::DEAD_LETTER_REASON_MISSING_SERVICE_NAME,
                     "comes from a resource without the service.name attribute; set it (e.g. "
                     "OTEL_SERVICE_NAME) so its points have a service_id"};
    }
    if (service->size() > limits_.max_service_id_length) {
      return Problem{v1::DEAD_LETTER_REASON_FIELD_TOO_LONG,
                     absl::StrCat("comes from a resource whose service.name is ", service->size(),
                                  " bytes long; the limit is ", limits_.max_service_id_length)};
    }
    std::string instance =
        FindAttribute(r.attributes(), "service.instance.id")
            .value_or(FindAttribute(r.attributes(), "host.name").value_or(kUnknownInstance));
    if (instance.size() > limits_.max_instance_id_length) {
      return Problem{v1::DEAD_LETTER_REASON_FIELD_TOO_LONG,
                     absl::StrCat("comes from a resource whose service.instance.id (or host.name) "
                                  "is ",
                                  instance.size(), " bytes long; the limit is ",
                                  limits_.max_instance_id_length)};
    }
    m->service_id = *service;
    m->instance_id = std::move(instance);
    return std::nullopt;
  }

  // The same for the metric's name and unit, which every event of it would copy.
  std::optional<Problem> MetricProblem(const pm::Metric& metric) const {
    if (metric.name().size() > limits_.max_metric_name_length) {
      return Problem{v1::DEAD_LETTER_REASON_FIELD_TOO_LONG,
                     absl::StrCat("has a name ", metric.name().size(), " bytes long; the limit is ",
                                  limits_.max_metric_name_length)};
    }
    if (metric.unit().size() > limits_.max_unit_length) {
      return Problem{v1::DEAD_LETTER_REASON_FIELD_TOO_LONG,
                     absl::StrCat("has a unit ", metric.unit().size(), " bytes long; the limit is ",
                                  limits_.max_unit_length)};
    }
    return std::nullopt;
  }

  void MapMetric(MetricContext& m) {
    const pm::Metric& metric = *m.metric;
    switch (metric.data_case()) {
      case pm::Metric::kGauge:
        m.kind = 'g';
        for (const pm::NumberDataPoint& p : metric.gauge().data_points()) {
          MapNumber(m, p, v1::METRIC_TYPE_CUSTOM_GAUGE, /*delta=*/false);
        }
        return;
      case pm::Metric::kSum:
        m.kind = 's';
        for (const pm::NumberDataPoint& p : metric.sum().data_points()) MapSum(m, p);
        return;
      case pm::Metric::kHistogram:
        m.kind = 'h';
        for (const pm::HistogramDataPoint& p : metric.histogram().data_points()) {
          MapHistogram(m, p, metric.histogram().aggregation_temporality());
        }
        return;
      case pm::Metric::kExponentialHistogram:
        m.kind = 'e';
        for (const pm::ExponentialHistogramDataPoint& p :
             metric.exponential_histogram().data_points()) {
          MapExponential(m, p, metric.exponential_histogram().aggregation_temporality());
        }
        return;
      case pm::Metric::kSummary:
        m.kind = 'm';
        for (const pm::SummaryDataPoint& p : metric.summary().data_points()) {
          if (!Begin(m, p.attributes(), p.start_time_unix_nano(), p.time_unix_nano(), p)) {
            continue;
          }
          Reject(m, p, v1::DEAD_LETTER_REASON_UNSUPPORTED_POINT,
                 "is a Summary: quantiles of different points cannot be merged into a window's "
                 "percentiles; record it as a histogram (explicit or exponential) instead");
        }
        return;
      case pm::Metric::DATA_NOT_SET:
        return;  // no points
    }
  }

  // Starts a point: counts it, computes its tags and key. Returns false when the point is done
  // already (refused for its resource's or its metric's problem).
  template <typename Point>
  bool Begin(const MetricContext& m, const Attributes& attributes, uint64_t start, uint64_t time,
             const Point& p) {
    ++out_->points;
    // 0 is not a valid sequence; such a point is refused as too old by validation anyway.
    key_.sequence = time == 0 ? 1 : time;
    key_.event_index = 0;
    const std::optional<Problem>& problem = resource_problem_ ? resource_problem_ : metric_problem_;
    if (problem.has_value()) {
      // Keyed by the scope alone: a refused point is never counted, so its key only has to be
      // stable, and hashing a megabyte-long name per point is what the refusal avoids.
      key_.client_id = absl::StrCat(kClientIdPrefix, WithStart(m.scope, start).Hex());
      Reject(m, p, problem->reason, problem->why);
      return false;
    }
    AttributesToTags(attributes, &tags_);
    series_ = SeriesId(m.scope, m.metric->name(), m.kind, tags_);
    key_.client_id = absl::StrCat(kClientIdPrefix, WithStart(series_, start).Hex());
    return true;
  }

  template <typename Point>
  void Reject(const MetricContext& m, const Point& p, v1::DeadLetterReason reason,
              absl::string_view why) {
    PointRejection& r = out_->rejections.emplace_back();
    r.reason = reason;
    r.message = absl::StrCat(QuotedMetric(m.metric->name()), " ", why);
    r.original = p.SerializeAsString();
    r.original_type = std::string(Point::descriptor()->full_name());
    r.key = key_;
  }

  void Skipped(Skip skip) { ++out_->skipped[static_cast<size_t>(skip)]; }

  // An event of the current point (Begin ran), at `time`, tags moved in.
  v1::MetricEvent& Emit(const MetricContext& m, uint64_t time, v1::MetricType type) {
    MappedEvent& e = out_->events.emplace_back();
    e.key = key_;
    v1::MetricEvent& event = e.event;
    event.set_event_id(absl::StrCat(key_.client_id, "-", time));
    event.mutable_timestamp()->set_seconds(static_cast<int64_t>(time / 1'000'000'000));
    event.mutable_timestamp()->set_nanos(static_cast<int32_t>(time % 1'000'000'000));
    event.set_service_id(m.service_id);
    event.set_instance_id(m.instance_id);
    event.set_metric_type(type);
    event.set_metric_name(m.metric->name());
    event.set_unit(m.metric->unit());
    event.mutable_tags()->swap(tags_);
    return event;
  }

  static double NumberValue(const pm::NumberDataPoint& p) {
    return p.value_case() == pm::NumberDataPoint::kAsInt ? static_cast<double>(p.as_int())
                                                         : p.as_double();
  }

  // Starts a number point (Begin) and reads its value; nullopt when the point is done already:
  // refused, flagged as holding no value, or without one.
  std::optional<double> BeginNumber(const MetricContext& m, const pm::NumberDataPoint& p) {
    if (!Begin(m, p.attributes(), p.start_time_unix_nano(), p.time_unix_nano(), p)) {
      return std::nullopt;
    }
    if ((p.flags() & kNoRecordedValue) != 0) {
      Skipped(Skip::kNoValue);
      return std::nullopt;
    }
    if (p.value_case() == pm::NumberDataPoint::VALUE_NOT_SET) {
      Reject(m, p, v1::DEAD_LETTER_REASON_UNSUPPORTED_POINT,
             "has a data point without a value (neither as_double nor as_int)");
      return std::nullopt;
    }
    return NumberValue(p);
  }

  // A gauge point, a delta sum point, or a cumulative non-monotonic sum point (a level).
  void MapNumber(const MetricContext& m, const pm::NumberDataPoint& p, v1::MetricType type,
                 bool delta) {
    const std::optional<double> read = BeginNumber(m, p);
    if (!read.has_value()) return;
    const double value = *read;
    if (delta && value == 0) return Skipped(Skip::kZeroDelta);
    Emit(m, p.time_unix_nano(), type).set_value(value);
  }

  void MapSum(const MetricContext& m, const pm::NumberDataPoint& p) {
    const pm::Sum& sum = m.metric->sum();
    // Monotonic increases are counters (> 0); other changes, and levels, may have any sign.
    const v1::MetricType type =
        sum.is_monotonic() ? v1::METRIC_TYPE_CUSTOM_COUNTER : v1::METRIC_TYPE_CUSTOM_GAUGE;
    switch (sum.aggregation_temporality()) {
      case pm::AGGREGATION_TEMPORALITY_DELTA:
        return MapNumber(m, p, type, /*delta=*/true);
      case pm::AGGREGATION_TEMPORALITY_CUMULATIVE:
        if (!sum.is_monotonic()) return MapNumber(m, p, type, /*delta=*/false);
        break;
      default:
        if (!Begin(m, p.attributes(), p.start_time_unix_nano(), p.time_unix_nano(), p)) return;
        return Reject(m, p, v1::DEAD_LETTER_REASON_UNSUPPORTED_POINT,
                      "is a Sum without an aggregation temporality; set DELTA or CUMULATIVE");
    }
    const std::optional<double> read = BeginNumber(m, p);
    if (!read.has_value()) return;
    const double value = *read;
    if (!std::isfinite(value)) {  // let validation refuse it, without touching the state
      Emit(m, p.time_unix_nano(), type).set_value(value);
      return;
    }
    const CumulativeTracker::Result r =
        tracker_->Observe(series_, {p.start_time_unix_nano(), p.time_unix_nano(), value});
    switch (r.outcome) {
      case CumulativeTracker::Outcome::kBaseline:
        return Skipped(Skip::kBaseline);
      case CumulativeTracker::Outcome::kReset:
        return Skipped(Skip::kReset);
      case CumulativeTracker::Outcome::kStale:
        return Skipped(Skip::kStale);
      case CumulativeTracker::Outcome::kDelta:
      case CumulativeTracker::Outcome::kRestart:
      case CumulativeTracker::Outcome::kRepeat:
        if (r.delta == 0) return Skipped(Skip::kZeroDelta);
        Emit(m, p.time_unix_nano(), type).set_value(r.delta);
        return;
    }
  }

  // Shared by both histogram kinds: temporality, min/max/sum presence, empty points.
  template <typename Point>
  bool HistogramUsable(const MetricContext& m, const Point& p,
                       pm::AggregationTemporality temporality) {
    if (!Begin(m, p.attributes(), p.start_time_unix_nano(), p.time_unix_nano(), p)) return false;
    if ((p.flags() & kNoRecordedValue) != 0) {
      Skipped(Skip::kNoValue);
      return false;
    }
    if (temporality != pm::AGGREGATION_TEMPORALITY_DELTA) {
      Reject(m, p, v1::DEAD_LETTER_REASON_UNSUPPORTED_POINT,
             absl::StrCat("is a histogram of ",
                          temporality == pm::AGGREGATION_TEMPORALITY_CUMULATIVE
                              ? "CUMULATIVE temporality: its min and max cover the counter's "
                                "whole life, so no window's min and max can be exact; "
                              : "unspecified temporality; ",
                          kDeltaAdvice));
      return false;
    }
    if (p.count() == 0) {
      Skipped(Skip::kEmpty);
      return false;
    }
    if (!p.has_sum() || !p.has_min() || !p.has_max()) {
      Reject(m, p, v1::DEAD_LETTER_REASON_UNSUPPORTED_POINT,
             "is a histogram point without sum, min or max; StreamMetrics counts them exactly, "
             "so the exporter must send all three (OpenTelemetry SDKs record min and max unless "
             "told not to)");
      return false;
    }
    return true;
  }

  v1::Distribution* EmitDistribution(const MetricContext& m, uint64_t time, uint64_t count,
                                     double sum, double min, double max) {
    v1::Distribution* d = Emit(m, time, v1::METRIC_TYPE_CUSTOM_HISTOGRAM).mutable_distribution();
    d->set_count(count);
    d->set_sum(sum);
    d->set_min(min);
    d->set_max(max);
    return d;
  }

  void MapHistogram(const MetricContext& m, const pm::HistogramDataPoint& p,
                    pm::AggregationTemporality temporality) {
    if (!HistogramUsable(m, p, temporality)) return;
    v1::ExplicitBuckets* b =
        EmitDistribution(m, p.time_unix_nano(), p.count(), p.sum(), p.min(), p.max())
            ->mutable_explicit_bounds();
    if (p.bucket_counts_size() == 0) {
      // OTLP allows a point without buckets: then everything is in one.
      b->add_counts(p.count());
      return;
    }
    *b->mutable_bounds() = p.explicit_bounds();
    *b->mutable_counts() = p.bucket_counts();
  }

  void MapExponential(const MetricContext& m, const pm::ExponentialHistogramDataPoint& p,
                      pm::AggregationTemporality temporality) {
    if (!HistogramUsable(m, p, temporality)) return;
    v1::ExponentialBuckets* b =
        EmitDistribution(m, p.time_unix_nano(), p.count(), p.sum(), p.min(), p.max())
            ->mutable_exponential();
    b->set_scale(p.scale());
    b->set_zero_count(p.zero_count());
    b->set_zero_threshold(p.zero_threshold());
    b->set_positive_offset(p.positive().offset());
    *b->mutable_positive_counts() = p.positive().bucket_counts();
    b->set_negative_offset(p.negative().offset());
    *b->mutable_negative_counts() = p.negative().bucket_counts();
  }

  const events::ValidationLimits& limits_;
  CumulativeTracker* const tracker_;
  MappedExport* const out_;
  std::optional<Problem> resource_problem_;
  std::optional<Problem> metric_problem_;
  // The current point's.
  Tags tags_;
  ContentId series_;
  events::IdempotencyKey key_;
};

size_t PointsOf(const pm::Metric& metric) {
  switch (metric.data_case()) {
    case pm::Metric::kGauge:
      return static_cast<size_t>(metric.gauge().data_points_size());
    case pm::Metric::kSum:
      return static_cast<size_t>(metric.sum().data_points_size());
    case pm::Metric::kHistogram:
      return static_cast<size_t>(metric.histogram().data_points_size());
    case pm::Metric::kExponentialHistogram:
      return static_cast<size_t>(metric.exponential_histogram().data_points_size());
    case pm::Metric::kSummary:
      return static_cast<size_t>(metric.summary().data_points_size());
    case pm::Metric::DATA_NOT_SET:
      break;
  }
  return 0;
}

}  // namespace

std::string QuotedMetric(absl::string_view name) {
  constexpr size_t kMaxQuoted = 200;  // the longest valid metric_name
  return absl::StrCat("metric \"", absl::CHexEscape(name.substr(0, kMaxQuoted)), "\"",
                      name.size() > kMaxQuoted ? "..." : "");
}

const char* SkipLabel(Skip skip) {
  switch (skip) {
    case Skip::kBaseline:
      return "baseline";
    case Skip::kReset:
      return "reset";
    case Skip::kStale:
      return "stale";
    case Skip::kZeroDelta:
      return "zero_delta";
    case Skip::kNoValue:
      return "no_value";
    case Skip::kEmpty:
      return "empty";
    case Skip::kCount:
      break;
  }
  return "unknown";
}

MappedExport MapExport(const ExportRequest& request, const events::ValidationLimits& limits,
                       CumulativeTracker* tracker) {
  MappedExport out;
  // Most points become events. A walk over the metrics, not the points, so cheap beside mapping.
  out.events.reserve(CountExport(request).points);
  Mapper(limits, tracker, &out).Map(request);
  return out;
}

ExportCounts CountExport(const ExportRequest& request) {
  ExportCounts n;
  n.containers = static_cast<size_t>(request.resource_metrics_size());
  for (const pm::ResourceMetrics& rm : request.resource_metrics()) {
    n.containers += static_cast<size_t>(rm.scope_metrics_size());
    for (const pm::ScopeMetrics& sm : rm.scope_metrics()) {
      n.containers += static_cast<size_t>(sm.metrics_size());
      for (const pm::Metric& metric : sm.metrics()) n.points += PointsOf(metric);
    }
  }
  return n;
}

}  // namespace streammetrics::ingest::otlp
