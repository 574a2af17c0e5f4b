// Helpers shared by the validation tests (validation_test.cc, validate_batch_test.cc): a fixed
// `now`, an event valid at that time, short names for the reason codes, and matchers that print
// the reason and message of an unexpected result.
#ifndef STREAMMETRICS_TESTS_LIB_EVENTS_VALIDATION_TEST_UTIL_H_
#define STREAMMETRICS_TESTS_LIB_EVENTS_VALIDATION_TEST_UTIL_H_

#include <cstdint>
#include <limits>
#include <optional>
#include <ostream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "lib/events/validation.h"

namespace streammetrics::events {

// Found by ADL, so a failed expectation shows the reason and message instead of raw bytes.
inline void PrintTo(const EventViolation& v, std::ostream* os) {
  *os << v1::DeadLetterReason_Name(v.reason) << ": " << v.message;
}
inline void PrintTo(const BatchViolation& v, std::ostream* os) {
  *os << v1::BatchRejectReason_Name(v.reason) << ": " << v.message;
}

namespace validation_test {

using StringMap = google::protobuf::Map<std::string, std::string>;

inline constexpr int64_t kNowSeconds = 1'800'000'000;  // 2027-01-15T08:00:00Z
inline const absl::Time kNow = absl::FromUnixSeconds(kNowSeconds);
inline constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
inline constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();
inline constexpr double kInf = std::numeric_limits<double>::infinity();

// Short names for the reason codes, so that most expectations fit on one line.
inline constexpr v1::DeadLetterReason kBlank = v1::DEAD_LETTER_REASON_BLANK_FIELD;
inline constexpr v1::DeadLetterReason kTooLong = v1::DEAD_LETTER_REASON_FIELD_TOO_LONG;
inline constexpr v1::DeadLetterReason kControl = v1::DEAD_LETTER_REASON_INVALID_CHARACTERS;
inline constexpr v1::DeadLetterReason kUnknownType = v1::DEAD_LETTER_REASON_UNKNOWN_METRIC_TYPE;
inline constexpr v1::DeadLetterReason kBadTimestamp = v1::DEAD_LETTER_REASON_INVALID_TIMESTAMP;
inline constexpr v1::DeadLetterReason kFuture = v1::DEAD_LETTER_REASON_TIMESTAMP_IN_FUTURE;
inline constexpr v1::DeadLetterReason kTooOld = v1::DEAD_LETTER_REASON_TIMESTAMP_TOO_OLD;
inline constexpr v1::DeadLetterReason kNonFinite = v1::DEAD_LETTER_REASON_NON_FINITE_VALUE;
inline constexpr v1::DeadLetterReason kNonPositive = v1::DEAD_LETTER_REASON_NON_POSITIVE_VALUE;
inline constexpr v1::DeadLetterReason kTooMany = v1::DEAD_LETTER_REASON_TOO_MANY_ENTRIES;
inline constexpr v1::DeadLetterReason kTooLarge = v1::DEAD_LETTER_REASON_EVENT_TOO_LARGE;
inline constexpr v1::BatchRejectReason kBadClient = v1::BATCH_REJECT_REASON_INVALID_CLIENT_ID;
inline constexpr v1::BatchRejectReason kBadSequence = v1::BATCH_REJECT_REASON_INVALID_SEQUENCE;
inline constexpr v1::BatchRejectReason kEmpty = v1::BATCH_REJECT_REASON_EMPTY;
inline constexpr v1::BatchRejectReason kTooManyEvents = v1::BATCH_REJECT_REASON_TOO_MANY_EVENTS;

// An event that passes every check at kNow; tests break one field at a time.
inline v1::MetricEvent ValidEvent() {
  v1::MetricEvent e;
  e.set_event_id("6f1c2a3e-9b4d-4c1e-8f2a-1d3b5c7e9f00");
  e.mutable_timestamp()->set_seconds(kNowSeconds - 60);
  e.set_service_id("payment-service");
  e.set_instance_id("payment-7f9c-pod-3");
  e.set_metric_type(v1::METRIC_TYPE_HTTP_REQUEST);
  e.set_metric_name("api.request.duration");
  e.set_value(12.5);
  e.set_unit("milliseconds");
  (*e.mutable_tags())["endpoint"] = "/api/payments";
  (*e.mutable_metadata())["trace_id"] = "4bf92f3577b34da6";
  return e;
}

// ValidateEvent at the fixed kNow.
inline std::optional<EventViolation> Validate(const v1::MetricEvent& e,
                                              const ValidationLimits& l = {}) {
  return ValidateEvent(e, l, kNow);
}

inline std::string MessageOf(const std::optional<EventViolation>& v) {
  return v.has_value() ? v->message : "<accepted>";
}

inline std::string ReasonName(v1::DeadLetterReason r) { return v1::DeadLetterReason_Name(r); }
inline std::string ReasonName(v1::BatchRejectReason r) { return v1::BatchRejectReason_Name(r); }

// For events and batches alike. gtest shows the actual result with PrintTo (above).
MATCHER(IsValid, "is accepted") { return !arg.has_value(); }

// Rejected with `reason` and a message containing `text`.
MATCHER_P2(Rejects, reason, text,
           absl::StrCat("is rejected with ", ReasonName(reason), " and a message containing \"",
                        text, "\"")) {
  return arg.has_value() && arg->reason == reason && absl::StrContains(arg->message, text);
}

}  // namespace validation_test
}  // namespace streammetrics::events

#endif  // STREAMMETRICS_TESTS_LIB_EVENTS_VALIDATION_TEST_UTIL_H_
