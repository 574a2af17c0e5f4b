// How OpenTelemetry attributes become StreamMetrics strings: a tag value from an AnyValue, the
// tags of a data point, and the resource attributes the mapping reads (service.name,
// service.instance.id). Pure code, no I/O.
#ifndef STREAMMETRICS_INGEST_SERVICE_OTLP_OTLP_ATTRIBUTES_H_
#define STREAMMETRICS_INGEST_SERVICE_OTLP_OTLP_ATTRIBUTES_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "google/protobuf/map.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "opentelemetry/proto/common/v1/common.pb.h"

namespace streammetrics::ingest::otlp {

using Attributes = google::protobuf::RepeatedPtrField<opentelemetry::proto::common::v1::KeyValue>;

// The text of an attribute value: a string as it is; a bool as "true"/"false"; an int in decimal;
// a double in the shortest form that reads back to the same double ("0.1", "1e+100", "NaN");
// bytes in base64; an array or key-value list as compact JSON of those texts (["a",1]); an unset
// value as "". Deterministic, so equal values give equal tags (and equal series keys).
std::string AttributeText(const opentelemetry::proto::common::v1::AnyValue& value);

// Sets `tags` to the attributes as key -> AttributeText. A key given twice (OTLP forbids it, but
// the wire allows it) keeps its last value, as OpenTelemetry SDKs do.
void AttributesToTags(const Attributes& attributes,
                      google::protobuf::Map<std::string, std::string>* tags);

// AttributeText of the last attribute named `key`, or nullopt when there is none.
std::optional<std::string> FindAttribute(const Attributes& attributes, absl::string_view key);

}  // namespace streammetrics::ingest::otlp

#endif  // STREAMMETRICS_INGEST_SERVICE_OTLP_OTLP_ATTRIBUTES_H_
