// ContentId: the 128-bit identity of an OpenTelemetry series (resource attributes, scope, metric
// name and kind, data point attributes), and of one series' points from one start time. The OTLP
// door derives each event's idempotency key from it (docs/otlp.md), so a retried export, read
// by any ingest instance, makes the same keys and is counted once.
//
// The digest is SHA-256 (OpenSSL) of a canonical encoding, truncated to 128 bits: stable across
// processes, versions and machines, unlike absl::Hash, which is seeded per process.
#ifndef STREAMMETRICS_INGEST_SERVICE_OTLP_CONTENT_ID_H_
#define STREAMMETRICS_INGEST_SERVICE_OTLP_CONTENT_ID_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "google/protobuf/map.h"
#include "opentelemetry/proto/common/v1/common.pb.h"
#include "opentelemetry/proto/resource/v1/resource.pb.h"

namespace streammetrics::ingest::otlp {

struct ContentId {
  uint64_t hi = 0;
  uint64_t lo = 0;

  friend bool operator==(const ContentId&, const ContentId&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const ContentId& id) {
    return H::combine(std::move(h), id.hi, id.lo);
  }
  // 32 lowercase hex digits.
  std::string Hex() const;
};

// Identities are chained, each a SHA-256 of the previous one's 16 bytes and its own fields, so each
// level is hashed once however many points share it, and no field is hashed more than once per
// point (a huge resource or scope costs one digest, not one per point). Attributes are sorted by
// key, a repeated key keeping its last value; every key, value and name is length-prefixed, so no
// two different inputs encode alike.

// The identity of a resource: its attributes.
ContentId ResourceId(const opentelemetry::proto::resource::v1::Resource& resource);

// The identity of an instrumentation scope under `resource`: its name and version.
ContentId ScopeId(const ContentId& resource,
                  const opentelemetry::proto::common::v1::InstrumentationScope& scope);

// The identity of the series `metric_name` of kind `kind` (one letter per OTLP data kind) with
// data point tags `tags`, under `scope`.
ContentId SeriesId(const ContentId& scope, absl::string_view metric_name, char kind,
                   const google::protobuf::Map<std::string, std::string>& tags);

// The identity of `series`' points that count from `start_unix_nano` (a counter's life).
ContentId WithStart(const ContentId& series, uint64_t start_unix_nano);

}  // namespace streammetrics::ingest::otlp

#endif  // STREAMMETRICS_INGEST_SERVICE_OTLP_CONTENT_ID_H_
