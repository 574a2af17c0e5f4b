// Tests of ValidateEvent: every rule of docs/contract.md at its boundaries (at the limit accepted,
// one past it refused), the reason code and message of each check, and the order in which checks
// run. `now` is fixed; the real clock is never read. Tags and metadata:
// validation_entries_test.cc; ValidateBatch: validate_batch_test.cc.
#include "lib/events/validation.h"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/lib/events/validation_test_util.h"

namespace streammetrics::events::validation_test {
namespace {

using ::testing::Values;

TEST(ValidationTest, ValidEventIsAccepted) { EXPECT_THAT(Validate(ValidEvent()), IsValid()); }

// ---- identifiers ----

struct Identifier {
  std::string name;
  std::string* (v1::MetricEvent::*field)();
  size_t ValidationLimits::*limit;
  size_t contract_limit;
};

class IdentifierTest : public ::testing::TestWithParam<Identifier> {
 protected:
  std::optional<EventViolation> ValidateWith(const std::string& value,
                                             const ValidationLimits& limits = {}) {
    v1::MetricEvent e = ValidEvent();
    *(e.*GetParam().field)() = value;
    return Validate(e, limits);
  }
  const std::string& name() { return GetParam().name; }
  size_t limit() { return GetParam().contract_limit; }
};

TEST_P(IdentifierTest, DefaultLimitIsTheContracts) {
  EXPECT_EQ(ValidationLimits().*GetParam().limit, limit());
}

TEST_P(IdentifierTest, BlankIsRejected) {
  EXPECT_EQ(MessageOf(ValidateWith("")),
            absl::StrCat(name(), " is empty; it is required (1 to ", limit(), " bytes)"));
  EXPECT_THAT(ValidateWith(""), Rejects(kBlank, name()));
  for (const std::string blank : {" ", "   ", "\t", "\t\t", " \t\n\r\v\f"}) {
    EXPECT_THAT(ValidateWith(blank), Rejects(kBlank, absl::StrCat(name(), " is only whitespace")));
  }
  // Blank is checked before length.
  EXPECT_THAT(ValidateWith(std::string(limit() + 1, ' ')), Rejects(kBlank, name()));
  EXPECT_THAT(ValidateWith(" a "), IsValid());
}

TEST_P(IdentifierTest, LengthLimitInBytes) {
  EXPECT_THAT(ValidateWith(std::string(limit(), 'x')), IsValid());
  EXPECT_EQ(MessageOf(ValidateWith(std::string(limit() + 1, 'x'))),
            absl::StrCat(name(), " is ", limit() + 1, " bytes long; the limit is ", limit()));
  EXPECT_THAT(ValidateWith(std::string(limit() + 1, 'x')), Rejects(kTooLong, name()));
  // Bytes, not characters: limit/2 + 1 two-byte characters are over the limit.
  std::string accents;
  for (size_t i = 0; i < limit() / 2 + 1; ++i) accents += "\xC3\xA9";
  EXPECT_THAT(ValidateWith(accents), Rejects(kTooLong, name()));
  // Length is checked before control characters.
  EXPECT_THAT(ValidateWith(std::string(limit(), 'x') + "\n"), Rejects(kTooLong, name()));
}

TEST_P(IdentifierTest, ConfiguredLimitApplies) {
  ValidationLimits limits;
  limits.*GetParam().limit = 5;
  EXPECT_THAT(ValidateWith("abcde", limits), IsValid());
  EXPECT_THAT(ValidateWith("abcdef", limits), Rejects(kTooLong, "is 6 bytes long; the limit is 5"));
}

TEST_P(IdentifierTest, ControlCharactersAreRejected) {
  EXPECT_EQ(MessageOf(ValidateWith("ab\ncd")),
            absl::StrCat(name(),
                         " contains control character 0x0A at byte 2; control characters "
                         "(bytes 0x00-0x1F and 0x7F) are not allowed"));
  for (int c = 0; c < 0x80; ++c) {
    const std::string value = std::string("ab") + static_cast<char>(c);
    if (c < 0x20 || c == 0x7F) {
      EXPECT_THAT(ValidateWith(value), Rejects(kControl, absl::StrFormat("0x%02X at byte 2", c)));
    } else {
      EXPECT_THAT(ValidateWith(value), IsValid()) << "byte " << c;
    }
  }
  EXPECT_THAT(ValidateWith(std::string("\0x", 2)), Rejects(kControl, "0x00 at byte 0"));
  EXPECT_THAT(ValidateWith("caf\xC3\xA9"), IsValid());
}

INSTANTIATE_TEST_SUITE_P(ValidationTest, IdentifierTest,
                         Values(Identifier{"event_id", &v1::MetricEvent::mutable_event_id,
                                           &ValidationLimits::max_event_id_length, 128},
                                Identifier{"service_id", &v1::MetricEvent::mutable_service_id,
                                           &ValidationLimits::max_service_id_length, 100},
                                Identifier{"instance_id", &v1::MetricEvent::mutable_instance_id,
                                           &ValidationLimits::max_instance_id_length, 100},
                                Identifier{"metric_name", &v1::MetricEvent::mutable_metric_name,
                                           &ValidationLimits::max_metric_name_length, 200}),
                         [](const auto& param_info) { return param_info.param.name; });

// ---- metric_type ----

TEST(ValidationTest, MetricTypeMustBeKnown) {
  v1::MetricEvent e = ValidEvent();
  for (int type = 1; type <= 10; ++type) {
    e.set_metric_type(static_cast<v1::MetricType>(type));
    EXPECT_THAT(Validate(e), IsValid()) << v1::MetricType_Name(e.metric_type());
  }
  e.set_metric_type(v1::METRIC_TYPE_UNSPECIFIED);
  EXPECT_EQ(MessageOf(Validate(e)),
            "metric_type is METRIC_TYPE_UNSPECIFIED; set one of the known types 1 "
            "(METRIC_TYPE_HTTP_REQUEST) to 10 (METRIC_TYPE_CUSTOM_HISTOGRAM)");
  EXPECT_THAT(Validate(e), Rejects(kUnknownType, ""));
  for (int type :
       {11, -1, 1000, std::numeric_limits<int32_t>::max(), std::numeric_limits<int32_t>::min()}) {
    e.set_metric_type(static_cast<v1::MetricType>(type));
    EXPECT_THAT(Validate(e),
                Rejects(kUnknownType, absl::StrCat("metric_type is ", type,
                                                   ", which this version does not "
                                                   "know; use one of the known types")));
  }
}

// ---- timestamp ----

v1::MetricEvent At(int64_t seconds, int32_t nanos) {
  v1::MetricEvent e = ValidEvent();
  e.mutable_timestamp()->set_seconds(seconds);
  e.mutable_timestamp()->set_nanos(nanos);
  return e;
}

TEST(ValidationTest, TimestampMustBeSetWithNanosInRange) {
  v1::MetricEvent e = ValidEvent();
  e.clear_timestamp();
  EXPECT_EQ(MessageOf(Validate(e)),
            "timestamp is not set; set it to when the measurement was taken");
  EXPECT_THAT(Validate(e), Rejects(kBadTimestamp, ""));
  EXPECT_THAT(Validate(At(kNowSeconds, 0)), IsValid());
  EXPECT_THAT(Validate(At(kNowSeconds - 1, 999'999'999)), IsValid());
  EXPECT_THAT(Validate(At(kNowSeconds, -1)),
              Rejects(kBadTimestamp, "timestamp nanos is -1; it must be between 0 and 999999999"));
  EXPECT_THAT(Validate(At(kNowSeconds, 1'000'000'000)),
              Rejects(kBadTimestamp, "nanos is 1000000000"));
  EXPECT_THAT(Validate(At(kNowSeconds, std::numeric_limits<int32_t>::min())),
              Rejects(kBadTimestamp, "nanos"));
  // Nanos are checked before skew and age.
  EXPECT_THAT(Validate(At(kInt64Max, -1)), Rejects(kBadTimestamp, "nanos"));
  EXPECT_THAT(Validate(At(kInt64Min, 1'000'000'000)), Rejects(kBadTimestamp, "nanos"));
}

TEST(ValidationTest, FutureSkewBoundary) {
  EXPECT_THAT(Validate(At(kNowSeconds + 300, 0)), IsValid());
  EXPECT_THAT(Validate(At(kNowSeconds + 299, 999'999'999)), IsValid());
  EXPECT_THAT(Validate(At(kNowSeconds + 300, 1)),
              Rejects(kFuture,
                      "timestamp 2027-01-15T08:05:00.000000001Z is 5m0.000000001s in the future; "
                      "at most 5m of clock skew is allowed"));
  EXPECT_EQ(MessageOf(Validate(At(kNowSeconds + 360, 0))),
            "timestamp 2027-01-15T08:06:00Z is 6m in the future; at most 5m of clock skew is "
            "allowed");
}

TEST(ValidationTest, MaxAgeBoundary) {
  EXPECT_THAT(Validate(At(kNowSeconds - 86400, 0)), IsValid());
  EXPECT_THAT(Validate(At(kNowSeconds - 86401, 999'999'999)),
              Rejects(kTooOld,
                      "timestamp 2027-01-14T07:59:59.999999999Z is 24h0.000000001s old; events may "
                      "be at most 24h old"));
  EXPECT_THAT(Validate(At(0, 0)), Rejects(kTooOld, "timestamp 1970-01-01T00:00:00Z is"));
}

TEST(ValidationTest, Int64ExtremeSecondsAreRejectedWithoutOverflow) {
  for (int32_t nanos : {0, 999'999'999}) {
    EXPECT_THAT(Validate(At(kInt64Max, nanos)),
                Rejects(kFuture, "is over 100000 years in the future"));
    EXPECT_THAT(Validate(At(kInt64Min, nanos)), Rejects(kTooOld, "is over 100000 years old"));
    EXPECT_THAT(Validate(At(kInt64Max - 1, nanos)), Rejects(kFuture, ""));
    EXPECT_THAT(Validate(At(kInt64Min + 1, nanos)), Rejects(kTooOld, ""));
  }
}

TEST(ValidationTest, ConfiguredTimeLimitsApplyAndSaturate) {
  ValidationLimits limits;
  limits.max_future_skew = absl::ZeroDuration();
  limits.max_age = absl::Seconds(1);
  EXPECT_THAT(Validate(At(kNowSeconds, 0), limits), IsValid());
  EXPECT_THAT(Validate(At(kNowSeconds, 1), limits), Rejects(kFuture, "1ns in the future"));
  EXPECT_THAT(Validate(At(kNowSeconds - 1, 0), limits), IsValid());
  EXPECT_THAT(Validate(At(kNowSeconds - 2, 999'999'999), limits),
              Rejects(kTooOld, "at most 1s old"));
  // Unbounded limits: now +/- inf saturates instead of wrapping, so nothing is out of range.
  limits.max_future_skew = absl::InfiniteDuration();
  limits.max_age = absl::InfiniteDuration();
  EXPECT_THAT(Validate(At(kInt64Max, 999'999'999), limits), IsValid());
  EXPECT_THAT(Validate(At(kInt64Min, 0), limits), IsValid());
}

// ---- value ----

v1::MetricEvent WithValue(double value, v1::MetricType type = v1::METRIC_TYPE_HTTP_REQUEST) {
  v1::MetricEvent e = ValidEvent();
  e.set_metric_type(type);
  e.set_value(value);
  return e;
}

TEST(ValidationTest, NonFiniteValuesAreRejectedForEveryType) {
  for (auto type : {v1::METRIC_TYPE_HTTP_REQUEST, v1::METRIC_TYPE_CUSTOM_GAUGE}) {
    EXPECT_EQ(MessageOf(Validate(WithValue(std::nan(""), type))),
              "value is NaN; it must be a finite number");
    EXPECT_THAT(Validate(WithValue(std::nan(""), type)), Rejects(kNonFinite, ""));
    EXPECT_THAT(Validate(WithValue(-std::nan(""), type)), Rejects(kNonFinite, "value is NaN"));
    EXPECT_THAT(Validate(WithValue(kInf, type)),
                Rejects(kNonFinite, "value is +Inf; it must be a finite number"));
    EXPECT_THAT(Validate(WithValue(-kInf, type)),
                Rejects(kNonFinite, "value is -Inf; it must be a finite number"));
  }
}

TEST(ValidationTest, ValuesBeyondTheMagnitudeBoundAreRejectedForEveryType) {
  for (auto type : {v1::METRIC_TYPE_HTTP_REQUEST, v1::METRIC_TYPE_CUSTOM_GAUGE}) {
    EXPECT_THAT(Validate(WithValue(kMaxAbsValue, type)), IsValid());
    for (double value :
         {std::nextafter(kMaxAbsValue, kInf), 1e308, std::numeric_limits<double>::max(), -1e291,
          std::numeric_limits<double>::lowest()}) {
      EXPECT_THAT(Validate(WithValue(value, type)),
                  Rejects(v1::DEAD_LETTER_REASON_VALUE_OUT_OF_RANGE,
                          "; its magnitude must be at most 1e290 (so sums stay finite)"))
          << value;
    }
  }
  EXPECT_THAT(Validate(WithValue(-1e290, v1::METRIC_TYPE_CUSTOM_GAUGE)), IsValid());
}

TEST(ValidationTest, NonPositiveValuesAreRejectedExceptForGauges) {
  for (int t = 1; t <= 10; ++t) {
    const auto type = static_cast<v1::MetricType>(t);
    for (double value : {0.0, -0.0, -3.0, -std::numeric_limits<double>::denorm_min(), -1e290}) {
      if (type == v1::METRIC_TYPE_CUSTOM_GAUGE) {
        EXPECT_THAT(Validate(WithValue(value, type)), IsValid()) << value;
      } else {
        EXPECT_THAT(Validate(WithValue(value, type)),
                    Rejects(kNonPositive,
                            absl::StrCat("; values must be > 0 for ", v1::MetricType_Name(type))));
      }
    }
  }
  EXPECT_EQ(MessageOf(Validate(WithValue(-3))),
            "value is -3; values must be > 0 for METRIC_TYPE_HTTP_REQUEST (only "
            "METRIC_TYPE_CUSTOM_GAUGE may be zero or negative)");
  // The value is printed exactly, never rounded to something that looks acceptable.
  const std::pair<double, std::string> printed[] = {{0.0, "value is 0;"},
                                                    {-0.0, "value is -0;"},
                                                    {-1e-300, "value is -1e-300;"},
                                                    {-1234567.25, "value is -1234567.25;"},
                                                    {-0.1, "value is -0.1;"}};
  for (const auto& [value, text] : printed) {
    EXPECT_THAT(Validate(WithValue(value)), Rejects(kNonPositive, text));
  }
}

TEST(ValidationTest, TinyAndHugePositiveValuesAreAccepted) {
  for (double value : {std::numeric_limits<double>::denorm_min(),
                       std::numeric_limits<double>::min(), 1e-300, 1.0, kMaxAbsValue}) {
    EXPECT_THAT(Validate(WithValue(value)), IsValid()) << value;
  }
}

// ---- unit ----

TEST(ValidationTest, UnitLengthLimit) {
  v1::MetricEvent e = ValidEvent();
  for (size_t length : {0, 1, 32}) {
    e.set_unit(std::string(length, 'u'));
    EXPECT_THAT(Validate(e), IsValid()) << length;
  }
  e.set_unit(std::string(33, 'u'));
  EXPECT_EQ(MessageOf(Validate(e)), "unit is 33 bytes long; the limit is 32");
  EXPECT_THAT(Validate(e), Rejects(kTooLong, "unit"));
  // A terminal escape sequence in the unit would reach every dashboard that prints it.
  e.set_unit("ms\x1b[31m");
  EXPECT_EQ(MessageOf(Validate(e)),
            "unit contains control character 0x1B at byte 2; control characters (bytes 0x00-0x1F "
            "and 0x7F) are not allowed");
  e.set_unit(std::string("m\0s", 3));
  EXPECT_THAT(Validate(e), Rejects(v1::DEAD_LETTER_REASON_INVALID_CHARACTERS, "0x00 at byte 1"));
}

// ---- serialized size ----

TEST(ValidationTest, SerializedSizeLimit) {
  v1::MetricEvent e = ValidEvent();
  ValidationLimits limits;
  limits.max_event_bytes = e.ByteSizeLong();
  EXPECT_THAT(Validate(e, limits), IsValid());
  limits.max_event_bytes = e.ByteSizeLong() - 1;
  EXPECT_EQ(MessageOf(Validate(e, limits)),
            absl::StrCat("event is ", e.ByteSizeLong(), " bytes serialized; the limit is ",
                         limits.max_event_bytes, " bytes"));
  EXPECT_THAT(Validate(e, limits), Rejects(kTooLarge, ""));

  // With the defaults, 16 maximal metadata entries are each valid but together too large.
  e.mutable_metadata()->clear();
  for (int i = 10; i < 26; ++i) {
    (*e.mutable_metadata())[absl::StrCat(std::string(62, 'k'), i)] = std::string(1024, 'v');
  }
  ASSERT_GT(e.ByteSizeLong(), 16u * 1024);
  EXPECT_THAT(Validate(e), Rejects(kTooLarge, "bytes serialized; the limit is 16384 bytes"));
}

// ---- check order ----

// Starts from an event that breaks every rule and fixes one at a time; each step must surface the
// next check in the documented order.
TEST(ValidationTest, ChecksRunInTheDocumentedOrder) {
  v1::MetricEvent e;
  e.set_unit(std::string(33, 'u'));
  e.set_value(std::nan(""));
  for (int i = 0; i < 17; ++i) (*e.mutable_tags())[absl::StrCat("t", i)] = "v";
  for (int i = 0; i < 17; ++i) (*e.mutable_metadata())[absl::StrCat("m", i)] = "v";
  ValidationLimits limits;
  limits.max_event_bytes = 1;
  auto expect = [&](v1::DeadLetterReason reason, const std::string& text) {
    EXPECT_THAT(ValidateEvent(e, limits, kNow), Rejects(reason, text));
  };

  expect(kBlank, "event_id");
  e.set_event_id("id");
  expect(kBlank, "service_id");
  e.set_service_id(std::string(101, 's'));
  expect(kTooLong, "service_id");
  e.set_service_id("svc");
  expect(kBlank, "instance_id");
  e.set_instance_id("i\n");
  expect(kControl, "instance_id");
  e.set_instance_id("i");
  expect(kBlank, "metric_name");
  e.set_metric_name("m");
  expect(kUnknownType, "metric_type");
  e.set_metric_type(v1::METRIC_TYPE_CACHE_HIT);
  expect(kBadTimestamp, "not set");
  e.mutable_timestamp()->set_seconds(kNowSeconds + 3600);
  e.mutable_timestamp()->set_nanos(-1);
  expect(kBadTimestamp, "nanos");
  e.mutable_timestamp()->set_nanos(0);
  expect(kFuture, "in the future");
  e.mutable_timestamp()->set_seconds(kNowSeconds - 2 * 86400);
  expect(kTooOld, "old");
  e.mutable_timestamp()->set_seconds(kNowSeconds);
  expect(kNonFinite, "NaN");
  e.set_value(-1);
  expect(kNonPositive, "METRIC_TYPE_CACHE_HIT");
  e.set_value(1);
  expect(kTooLong, "unit");
  e.clear_unit();
  expect(kTooMany, "17 tags");
  e.mutable_tags()->erase("t0");
  (*e.mutable_tags())["t1"] = std::string(257, 'v');
  expect(kTooLong, "value of tag \"t1\"");
  (*e.mutable_tags())["t1"] = "v";
  expect(kTooMany, "17 metadata entries");
  e.mutable_metadata()->erase("m0");
  expect(kTooLarge, "serialized");
  limits.max_event_bytes = ValidationLimits().max_event_bytes;
  EXPECT_THAT(ValidateEvent(e, limits, kNow), IsValid());
}

}  // namespace
}  // namespace streammetrics::events::validation_test
