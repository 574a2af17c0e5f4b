// OTLP attributes as text (contract in otlp_attributes.h).
#include "ingest-service/otlp/otlp_attributes.h"

#include <charconv>
#include <cmath>
#include <system_error>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace streammetrics::ingest::otlp {
namespace {

using opentelemetry::proto::common::v1::AnyValue;

// Shortest round-trip text of a double; std::to_chars is the standard's exact algorithm for it.
std::string DoubleText(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Inf" : "-Inf";
  char buf[32];
  const std::to_chars_result r = std::to_chars(buf, buf + sizeof(buf), d);
  return std::string(buf, r.ptr);
}

void AppendJson(const AnyValue& value, std::string* out) {
  switch (value.value_case()) {
    case AnyValue::kStringValue:
      absl::StrAppend(out, "\"", absl::CEscape(value.string_value()), "\"");
      return;
    case AnyValue::kBytesValue:
      absl::StrAppend(out, "\"", absl::Base64Escape(value.bytes_value()), "\"");
      return;
    case AnyValue::kArrayValue: {
      out->push_back('[');
      const char* sep = "";
      for (const AnyValue& v : value.array_value().values()) {
        out->append(sep);
        AppendJson(v, out);
        sep = ",";
      }
      out->push_back(']');
      return;
    }
    case AnyValue::kKvlistValue: {
      out->push_back('{');
      const char* sep = "";
      for (const auto& kv : value.kvlist_value().values()) {
        absl::StrAppend(out, sep, "\"", absl::CEscape(kv.key()), "\":");
        AppendJson(kv.value(), out);
        sep = ",";
      }
      out->push_back('}');
      return;
    }
    case AnyValue::kBoolValue:
    case AnyValue::kIntValue:
    case AnyValue::kDoubleValue:
    case AnyValue::kStringValueStrindex:
    case AnyValue::VALUE_NOT_SET:
      // Bare JSON literals; an unset value is JSON's null.
      out->append(value.value_case() == AnyValue::VALUE_NOT_SET ||
                          value.value_case() == AnyValue::kStringValueStrindex
                      ? "null"
                      : AttributeText(value));
      return;
  }
}

}  // namespace

std::string AttributeText(const AnyValue& value) {
  switch (value.value_case()) {
    case AnyValue::kStringValue:
      return value.string_value();
    case AnyValue::kBoolValue:
      return value.bool_value() ? "true" : "false";
    case AnyValue::kIntValue:
      return absl::StrCat(value.int_value());
    case AnyValue::kDoubleValue:
      return DoubleText(value.double_value());
    case AnyValue::kBytesValue:
      return absl::Base64Escape(value.bytes_value());
    case AnyValue::kArrayValue:
    case AnyValue::kKvlistValue: {
      std::string json;
      AppendJson(value, &json);
      return json;
    }
    case AnyValue::kStringValueStrindex:  // profiles only: metrics senders must ignore it
    case AnyValue::VALUE_NOT_SET:
      break;
  }
  return "";
}

void AttributesToTags(const Attributes& attributes,
                      google::protobuf::Map<std::string, std::string>* tags) {
  tags->clear();
  for (const auto& kv : attributes) (*tags)[kv.key()] = AttributeText(kv.value());
}

std::optional<std::string> FindAttribute(const Attributes& attributes, absl::string_view key) {
  for (auto it = attributes.rbegin(); it != attributes.rend(); ++it) {
    if (it->key() == key) return AttributeText(it->value());
  }
  return std::nullopt;
}

}  // namespace streammetrics::ingest::otlp
