// Validation of metric events and batches (see validation.h): the limits of docs/contract.md as one
// ordered list of checks, each yielding the DeadLetterReason (or BatchRejectReason) and a sentence
// naming the field, what is wrong with it and the limit, so a producer can fix it without reading
// our source.
#include "lib/events/validation.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <iterator>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "lib/events/distribution_check.h"

namespace streammetrics::events {
size_t FindControlCharacter(absl::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7F) return i;
  }
  return absl::string_view::npos;
}

namespace {

using StringMap = google::protobuf::Map<std::string, std::string>;

// Tag and metadata keys are quoted in messages; a huge one is shortened so that the message (which
// travels in dead letters and acks) stays small.
constexpr size_t kMaxQuotedBytes = 64;

// Spans this long only come from nonsense timestamps (seconds near the int64 extremes), which
// absl would print as "inf" or as billions of hours; a round figure reads better.
constexpr absl::Duration kAbsurdSpan = absl::Hours(24 * 365 * 100000LL);

enum class TextProblem { kEmpty, kWhitespace, kTooLong, kControl };

struct TextViolation {
  TextProblem problem;
  std::string message;
};

std::string Quote(absl::string_view text) {
  std::string quoted = absl::StrCat("\"", absl::CHexEscape(text.substr(0, kMaxQuotedBytes)), "\"");
  if (text.size() > kMaxQuotedBytes) absl::StrAppend(&quoted, "...");
  return quoted;
}

bool IsOnlyWhitespace(absl::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return absl::ascii_isspace(static_cast<unsigned char>(c)); });
}

// Whether `text` passes CheckText's rules. Builds no message: most text is valid, and a message
// costs allocations (CheckEntries' field names quote the key) on every event of the hot path.
bool TextPasses(absl::string_view text, size_t max_length, bool reject_blank, bool reject_control) {
  if (text.size() > max_length) return false;
  if (reject_blank && (text.empty() || IsOnlyWhitespace(text))) return false;
  return !reject_control || FindControlCharacter(text) == absl::string_view::npos;
}

// The checks shared by every identifier-like string, in the documented order: blank, too long,
// control characters. `what` names the field in the message ("service_id", "tag key \"env\"").
std::optional<TextViolation> CheckText(absl::string_view what, absl::string_view text,
                                       size_t max_length, bool reject_blank, bool reject_control) {
  if (reject_blank && text.empty()) {
    return TextViolation{TextProblem::kEmpty, absl::StrCat(what, " is empty; it is required (1 to ",
                                                           max_length, " bytes)")};
  }
  if (reject_blank && IsOnlyWhitespace(text)) {
    return TextViolation{TextProblem::kWhitespace,
                         absl::StrCat(what,
                                      " is only whitespace; it must contain a visible "
                                      "character (1 to ",
                                      max_length, " bytes)")};
  }
  if (text.size() > max_length) {
    return TextViolation{
        TextProblem::kTooLong,
        absl::StrCat(what, " is ", text.size(), " bytes long; the limit is ", max_length)};
  }
  if (const size_t at = FindControlCharacter(text); reject_control && at != text.npos) {
    return TextViolation{
        TextProblem::kControl,
        absl::StrFormat("%s contains control character 0x%02X at byte %d; control characters "
                        "(bytes 0x00-0x1F and 0x7F) are not allowed",
                        what, static_cast<unsigned int>(static_cast<unsigned char>(text[at])), at)};
  }
  return std::nullopt;
}

v1::DeadLetterReason ReasonOf(TextProblem problem) {
  switch (problem) {
    case TextProblem::kEmpty:
    case TextProblem::kWhitespace:
      return v1::DEAD_LETTER_REASON_BLANK_FIELD;
    case TextProblem::kTooLong:
      return v1::DEAD_LETTER_REASON_FIELD_TOO_LONG;
    case TextProblem::kControl:
      return v1::DEAD_LETTER_REASON_INVALID_CHARACTERS;
  }
  return v1::DEAD_LETTER_REASON_UNSPECIFIED;
}

std::optional<EventViolation> ToEventViolation(std::optional<TextViolation> v) {
  if (!v.has_value()) return std::nullopt;
  return EventViolation{ReasonOf(v->problem), std::move(v->message)};
}

EventViolation Violation(v1::DeadLetterReason reason, std::string message) {
  return EventViolation{reason, std::move(message)};
}

std::string FormatTimestamp(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", t, absl::UTCTimeZone());
}

std::string FormatSpan(absl::Duration d) {
  if (d >= kAbsurdSpan) return "over 100000 years";
  return absl::FormatDuration(d);
}

// Shortest text that reads back as the same double ("-3", "0.1", "-0"), unlike StrCat's six
// significant digits, which could print a rejected value as an acceptable-looking one.
std::string FormatValue(double value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, result.ptr);
}

std::optional<EventViolation> CheckMetricType(int type) {
  if (type == v1::METRIC_TYPE_UNSPECIFIED) {
    return Violation(
        v1::DEAD_LETTER_REASON_UNKNOWN_METRIC_TYPE,
        absl::StrCat("metric_type is METRIC_TYPE_UNSPECIFIED; set one of the known "
                     "types 1 (METRIC_TYPE_HTTP_REQUEST) to ",
                     v1::MetricType_MAX, " (", v1::MetricType_Name(v1::MetricType_MAX), ")"));
  }
  if (!v1::MetricType_IsValid(type)) {
    return Violation(
        v1::DEAD_LETTER_REASON_UNKNOWN_METRIC_TYPE,
        absl::StrCat("metric_type is ", type,
                     ", which this version does not know; use one of the known types "
                     "1 (METRIC_TYPE_HTTP_REQUEST) to ",
                     v1::MetricType_MAX, " (", v1::MetricType_Name(v1::MetricType_MAX), ")"));
  }
  return std::nullopt;
}

std::optional<EventViolation> CheckTimestamp(const v1::MetricEvent& event,
                                             const ValidationLimits& limits, absl::Time now) {
  if (!event.has_timestamp()) {
    return Violation(v1::DEAD_LETTER_REASON_INVALID_TIMESTAMP,
                     "timestamp is not set; set it to when the measurement was taken");
  }
  const int32_t nanos = event.timestamp().nanos();
  if (nanos < 0 || nanos >= 1'000'000'000) {
    return Violation(
        v1::DEAD_LETTER_REASON_INVALID_TIMESTAMP,
        absl::StrCat("timestamp nanos is ", nanos, "; it must be between 0 and 999999999"));
  }
  // absl::Time represents every int64 count of seconds exactly, and its additions and subtractions
  // saturate at +/-infinity instead of overflowing. So INT64_MIN and INT64_MAX seconds compare
  // correctly against the bounds, with no signed overflow (UB) anywhere in this code.
  const absl::Time t =
      absl::FromUnixSeconds(event.timestamp().seconds()) + absl::Nanoseconds(nanos);
  if (t > now + limits.max_future_skew) {
    return Violation(
        v1::DEAD_LETTER_REASON_TIMESTAMP_IN_FUTURE,
        absl::StrCat("timestamp ", FormatTimestamp(t), " is ", FormatSpan(t - now),
                     " in the future; at most ", absl::FormatDuration(limits.max_future_skew),
                     " of clock skew is allowed"));
  }
  if (t < now - limits.max_age) {
    return Violation(
        v1::DEAD_LETTER_REASON_TIMESTAMP_TOO_OLD,
        absl::StrCat("timestamp ", FormatTimestamp(t), " is ", FormatSpan(now - t),
                     " old; events may be at most ", absl::FormatDuration(limits.max_age), " old"));
  }
  return std::nullopt;
}

std::optional<EventViolation> CheckValue(double value, v1::MetricType type) {
  if (std::isnan(value)) {
    return Violation(v1::DEAD_LETTER_REASON_NON_FINITE_VALUE,
                     "value is NaN; it must be a finite number");
  }
  if (std::isinf(value)) {
    return Violation(
        v1::DEAD_LETTER_REASON_NON_FINITE_VALUE,
        absl::StrCat("value is ", value > 0 ? "+Inf" : "-Inf", "; it must be a finite number"));
  }
  if (std::abs(value) > kMaxAbsValue) {
    return Violation(v1::DEAD_LETTER_REASON_VALUE_OUT_OF_RANGE,
                     absl::StrCat("value is ", FormatValue(value),
                                  "; its magnitude must be at most 1e290 (so sums stay finite)"));
  }
  if (type != v1::METRIC_TYPE_CUSTOM_GAUGE && !(value > 0)) {
    return Violation(v1::DEAD_LETTER_REASON_NON_POSITIVE_VALUE,
                     absl::StrCat("value is ", FormatValue(value), "; values must be > 0 for ",
                                  v1::MetricType_Name(type),
                                  " (only METRIC_TYPE_CUSTOM_GAUGE may be zero or negative)"));
  }
  return std::nullopt;
}

struct EntryRules {
  absl::string_view plural;    // "tags"
  absl::string_view singular;  // "tag"
  size_t max_entries;
  size_t max_key_length;
  size_t max_value_length;
  bool reject_control_in_value;
};

// Tags and metadata share their rules: count first, then every entry in key order. Key order makes
// "the first violation" the same on every run, which protobuf's map iteration order is not.
std::optional<EventViolation> CheckEntries(const StringMap& entries, const EntryRules& rules) {
  if (entries.size() > rules.max_entries) {
    return Violation(v1::DEAD_LETTER_REASON_TOO_MANY_ENTRIES,
                     absl::StrCat("event has ", entries.size(), " ", rules.plural,
                                  "; the limit is ", rules.max_entries));
  }
  // Proving every entry valid needs neither the key order nor the messages below.
  bool all_pass = true;
  for (const auto& [key, value] : entries) {
    if (key.empty() ||
        !TextPasses(key, rules.max_key_length, /*reject_blank=*/false, /*reject_control=*/true) ||
        !TextPasses(value, rules.max_value_length, /*reject_blank=*/false,
                    rules.reject_control_in_value)) {
      all_pass = false;
      break;
    }
  }
  if (all_pass) return std::nullopt;
  std::vector<std::pair<absl::string_view, absl::string_view>> sorted;
  sorted.reserve(entries.size());
  for (const auto& entry : entries) sorted.emplace_back(entry.first, entry.second);
  std::sort(sorted.begin(), sorted.end());
  for (const auto& [key, value] : sorted) {
    if (key.empty()) {
      return Violation(v1::DEAD_LETTER_REASON_BLANK_FIELD,
                       absl::StrCat("a ", rules.singular, " key is empty; ", rules.singular,
                                    " keys must be 1 to ", rules.max_key_length, " bytes long"));
    }
    if (auto v = CheckText(absl::StrCat(rules.singular, " key ", Quote(key)), key,
                           rules.max_key_length, /*reject_blank=*/false, /*reject_control=*/true)) {
      return ToEventViolation(std::move(v));
    }
    if (auto v = CheckText(absl::StrCat("value of ", rules.singular, " ", Quote(key)), value,
                           rules.max_value_length, /*reject_blank=*/false,
                           rules.reject_control_in_value)) {
      return ToEventViolation(std::move(v));
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<EventViolation> ValidateEvent(const v1::MetricEvent& event,
                                            const ValidationLimits& limits, absl::Time now) {
  const std::pair<absl::string_view, size_t> identifiers[] = {
      {"event_id", limits.max_event_id_length},
      {"service_id", limits.max_service_id_length},
      {"instance_id", limits.max_instance_id_length},
      {"metric_name", limits.max_metric_name_length},
  };
  const absl::string_view values[] = {event.event_id(), event.service_id(), event.instance_id(),
                                      event.metric_name()};
  for (size_t i = 0; i < std::size(identifiers); ++i) {
    if (auto v = CheckText(identifiers[i].first, values[i], identifiers[i].second,
                           /*reject_blank=*/true, /*reject_control=*/true)) {
      return ToEventViolation(std::move(v));
    }
  }
  if (auto v = CheckMetricType(event.metric_type())) return v;
  if (auto v = CheckTimestamp(event, limits, now)) return v;
  if (event.has_distribution()) {
    if (auto v = CheckDistribution(event, limits.max_distribution_buckets)) return v;
  } else if (auto v = CheckValue(event.value(), event.metric_type())) {
    return v;
  }
  if (auto v = CheckText("unit", event.unit(), limits.max_unit_length, /*reject_blank=*/false,
                         /*reject_control=*/true)) {
    return ToEventViolation(std::move(v));
  }
  if (auto v = CheckEntries(event.tags(), {"tags", "tag", limits.max_tags,
                                           limits.max_tag_key_length, limits.max_tag_value_length,
                                           /*reject_control_in_value=*/true})) {
    return v;
  }
  // Metadata values are free-form context (a stack trace may hold newlines), so only their keys
  // are held to the no-control-characters rule.
  if (auto v = CheckEntries(event.metadata(),
                            {"metadata entries", "metadata", limits.max_metadata,
                             limits.max_metadata_key_length, limits.max_metadata_value_length,
                             /*reject_control_in_value=*/false})) {
    return v;
  }
  if (const size_t size = event.ByteSizeLong(); size > limits.max_event_bytes) {
    return Violation(v1::DEAD_LETTER_REASON_EVENT_TOO_LARGE,
                     absl::StrCat("event is ", size, " bytes serialized; the limit is ",
                                  limits.max_event_bytes, " bytes"));
  }
  return std::nullopt;
}

std::optional<BatchViolation> ValidateBatch(const v1::MetricBatch& batch,
                                            const ValidationLimits& limits) {
  if (auto v = CheckText("client_id", batch.client_id(), limits.max_client_id_length,
                         /*reject_blank=*/true, /*reject_control=*/true)) {
    return BatchViolation{v1::BATCH_REJECT_REASON_INVALID_CLIENT_ID, std::move(v->message)};
  }
  if (batch.sequence() == 0) {
    return BatchViolation{v1::BATCH_REJECT_REASON_INVALID_SEQUENCE,
                          "sequence is 0; batch sequences start at 1"};
  }
  const size_t count = static_cast<size_t>(batch.events_size());
  if (count == 0) {
    return BatchViolation{v1::BATCH_REJECT_REASON_EMPTY,
                          absl::StrCat("batch has no events; send 1 to ", limits.max_batch_events,
                                       " events per batch")};
  }
  if (count > limits.max_batch_events) {
    return BatchViolation{
        v1::BATCH_REJECT_REASON_TOO_MANY_EVENTS,
        absl::StrCat("batch has ", count, " events; the limit is ", limits.max_batch_events,
                     ", so split it into smaller "
                     "batches")};
  }
  return std::nullopt;
}

}  // namespace streammetrics::events
