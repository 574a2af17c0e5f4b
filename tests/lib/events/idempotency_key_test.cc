// Tests of the idempotency-key record headers: EncodeHeaders' exact output and order, the round
// trip through DecodeHeaders, and every way a header can be missing, empty, non-canonical or out
// of range (each error naming the header).
#include "lib/events/idempotency_key.h"

#include <limits>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace streammetrics::events {
namespace {

using ::testing::_;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

// A lookup over `headers` that, like a Kafka record, returns the last value of a repeated name.
// The views point into the function's own copy, alive while DecodeHeaders runs.
std::function<std::optional<absl::string_view>(absl::string_view)> LookupIn(Headers headers) {
  return
      [headers = std::move(headers)](absl::string_view name) { return LastHeader(headers, name); };
}

Headers Valid() {
  return {{"content-type", std::string(kContentTypeMetricEvent)},
          {"sm-client-id", "checkout-7f9c-pod-3"},
          {"sm-sequence", "42"},
          {"sm-event-index", "7"}};
}

// Valid() with header `name` set to `value`.
Headers With(absl::string_view name, std::string value) {
  Headers headers = Valid();
  for (auto& [k, v] : headers) {
    if (k == name) v = value;
  }
  return headers;
}

Headers Without(absl::string_view name) {
  Headers headers = Valid();
  std::erase_if(headers, [&](const auto& header) { return header.first == name; });
  return headers;
}

TEST(IdempotencyKeyTest, EncodeWritesFourHeadersInFixedOrder) {
  const Headers headers = EncodeHeaders({"checkout-7f9c-pod-3", 42, 7}, kContentTypeMetricEvent);
  EXPECT_THAT(headers,
              ElementsAre(Pair("content-type",
                               "application/x-protobuf; messageType=streammetrics.v1.MetricEvent"),
                          Pair("sm-client-id", "checkout-7f9c-pod-3"), Pair("sm-sequence", "42"),
                          Pair("sm-event-index", "7")));
}

TEST(IdempotencyKeyTest, EncodeCarriesTheGivenContentType) {
  const Headers headers = EncodeHeaders({"c", 1, 0}, kContentTypeDeadLetter);
  ASSERT_EQ(headers.size(), 4u);
  EXPECT_EQ(headers[0].first, kHeaderContentType);
  EXPECT_EQ(headers[0].second, "application/x-protobuf; messageType=streammetrics.v1.DeadLetter");
}

TEST(IdempotencyKeyTest, EncodeWritesExtremesAsPlainDecimal) {
  const Headers headers = EncodeHeaders(
      {"c", std::numeric_limits<uint64_t>::max(), std::numeric_limits<uint32_t>::max()},
      kContentTypeMetricEvent);
  EXPECT_THAT(headers, ElementsAre(Pair("content-type", _), Pair("sm-client-id", "c"),
                                   Pair("sm-sequence", "18446744073709551615"),
                                   Pair("sm-event-index", "4294967295")));
}

TEST(IdempotencyKeyTest, RoundTrips) {
  const IdempotencyKey keys[] = {
      {"checkout-7f9c-pod-3", 1, 0},
      {"c", 42, 7},
      {"client with spaces and \xC3\xA9", 1000000, 999},
      {std::string(128, 'x'), std::numeric_limits<uint64_t>::max(),
       std::numeric_limits<uint32_t>::max()},
      {"9", 10, 10},
  };
  for (const IdempotencyKey& key : keys) {
    absl::StatusOr<IdempotencyKey> decoded =
        DecodeHeaders(LookupIn(EncodeHeaders(key, kContentTypeMetricEvent)));
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, key);
  }
}

TEST(IdempotencyKeyTest, DecodeIntoAKeyReplacesEveryField) {
  IdempotencyKey key{"a much longer client id than the next one", 99, 98};
  ASSERT_TRUE(
      DecodeHeaders(LookupIn(EncodeHeaders({"c", 2, 1}, kContentTypeMetricEvent)), &key).ok());
  EXPECT_EQ(key, (IdempotencyKey{"c", 2, 1}));
  EXPECT_FALSE(DecodeHeaders(LookupIn(Without("sm-sequence")), &key).ok());
}

TEST(IdempotencyKeyTest, LastHeaderFindsTheLastOfARepeatedName) {
  const Headers headers = {{"a", "1"}, {"b", ""}, {"a", "2"}};
  EXPECT_EQ(LastHeader(headers, "a"), "2");
  EXPECT_EQ(LastHeader(headers, "b"), "");
  EXPECT_EQ(LastHeader(headers, "c"), std::nullopt);
}

TEST(IdempotencyKeyTest, DecodeReadsTheLastValueOfARepeatedHeader) {
  Headers headers = Valid();
  headers.emplace_back("sm-sequence", "43");
  absl::StatusOr<IdempotencyKey> decoded = DecodeHeaders(LookupIn(headers));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->sequence, 43u);
}

TEST(IdempotencyKeyTest, DecodeDoesNotNeedContentType) {
  absl::StatusOr<IdempotencyKey> decoded = DecodeHeaders(LookupIn(Without("content-type")));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, (IdempotencyKey{"checkout-7f9c-pod-3", 42, 7}));
}

TEST(IdempotencyKeyTest, DecodeAcceptsBoundaryValues) {
  absl::StatusOr<IdempotencyKey> low = DecodeHeaders(LookupIn(With("sm-event-index", "0")));
  ASSERT_TRUE(low.ok()) << low.status();
  EXPECT_EQ(low->event_index, 0u);

  absl::StatusOr<IdempotencyKey> first = DecodeHeaders(LookupIn(With("sm-sequence", "1")));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->sequence, 1u);

  absl::StatusOr<IdempotencyKey> max_sequence =
      DecodeHeaders(LookupIn(With("sm-sequence", "18446744073709551615")));
  ASSERT_TRUE(max_sequence.ok()) << max_sequence.status();
  EXPECT_EQ(max_sequence->sequence, std::numeric_limits<uint64_t>::max());

  absl::StatusOr<IdempotencyKey> max_index =
      DecodeHeaders(LookupIn(With("sm-event-index", "4294967295")));
  ASSERT_TRUE(max_index.ok()) << max_index.status();
  EXPECT_EQ(max_index->event_index, std::numeric_limits<uint32_t>::max());
}

TEST(IdempotencyKeyTest, ClientIdIsTakenVerbatim) {
  // Only emptiness is refused here; client_id rules are enforced when the batch is received.
  absl::StatusOr<IdempotencyKey> decoded = DecodeHeaders(LookupIn(With("sm-client-id", " a ")));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->client_id, " a ");
}

struct BadHeadersCase {
  std::string name;
  Headers headers;
  std::string header_named;  // the header the message must name
  std::string expected_in_message;
};

class BadHeadersTest : public ::testing::TestWithParam<BadHeadersCase> {};

TEST_P(BadHeadersTest, IsRejectedNamingTheHeader) {
  absl::StatusOr<IdempotencyKey> decoded = DecodeHeaders(LookupIn(GetParam().headers));
  ASSERT_FALSE(decoded.ok()) << "decoded as {" << decoded->client_id << ", " << decoded->sequence
                             << ", " << decoded->event_index << "}";
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(decoded.status().message(),
              HasSubstr(absl::StrCat("record header ", GetParam().header_named, " ")));
  EXPECT_THAT(decoded.status().message(), HasSubstr(GetParam().expected_in_message));
}

BadHeadersCase NonCanonical(std::string name, absl::string_view header, std::string value) {
  return {std::move(name), With(header, value), std::string(header), "not a canonical decimal"};
}

INSTANTIATE_TEST_SUITE_P(
    IdempotencyKeyTest, BadHeadersTest,
    ::testing::Values(
        BadHeadersCase{"NoHeadersAtAll", {}, "sm-client-id", "is missing"},
        BadHeadersCase{"MissingClientId", Without("sm-client-id"), "sm-client-id", "is missing"},
        BadHeadersCase{"MissingSequence", Without("sm-sequence"), "sm-sequence", "is missing"},
        BadHeadersCase{"MissingEventIndex", Without("sm-event-index"), "sm-event-index",
                       "is missing"},
        BadHeadersCase{"EmptyClientId", With("sm-client-id", ""), "sm-client-id", "is empty"},
        NonCanonical("SequencePlus", "sm-sequence", "+1"),
        NonCanonical("SequenceLeadingZero", "sm-sequence", "01"),
        NonCanonical("SequenceDoubleZero", "sm-sequence", "00"),
        NonCanonical("SequenceLeadingSpace", "sm-sequence", " 1"),
        NonCanonical("SequenceTrailingSpace", "sm-sequence", "1 "),
        NonCanonical("SequenceEmpty", "sm-sequence", ""),
        NonCanonical("SequenceNegative", "sm-sequence", "-1"),
        NonCanonical("SequenceHex", "sm-sequence", "0x10"),
        NonCanonical("SequenceFraction", "sm-sequence", "1.0"),
        NonCanonical("SequenceExponent", "sm-sequence", "1e3"),
        NonCanonical("SequenceNulByte", "sm-sequence", std::string("1\0", 2)),
        NonCanonical("SequenceArabicIndicDigit", "sm-sequence", "\xD9\xA1"),
        NonCanonical("IndexPlus", "sm-event-index", "+1"),
        NonCanonical("IndexLeadingZero", "sm-event-index", "01"),
        NonCanonical("IndexLeadingSpace", "sm-event-index", " 1"),
        NonCanonical("IndexTrailingSpace", "sm-event-index", "1 "),
        NonCanonical("IndexEmpty", "sm-event-index", ""),
        NonCanonical("IndexNegative", "sm-event-index", "-1"),
        NonCanonical("IndexHex", "sm-event-index", "0x10"),
        BadHeadersCase{"SequenceZero", With("sm-sequence", "0"), "sm-sequence",
                       "is 0; batch sequences start at 1"},
        BadHeadersCase{"SequenceOverflow", With("sm-sequence", "18446744073709551616"),
                       "sm-sequence", "above the largest allowed value 18446744073709551615"},
        BadHeadersCase{"SequenceFarOverflow", With("sm-sequence", "99999999999999999999999"),
                       "sm-sequence", "above the largest allowed value"},
        BadHeadersCase{"IndexAboveUint32", With("sm-event-index", "4294967296"), "sm-event-index",
                       "above the largest allowed value 4294967295"},
        BadHeadersCase{"IndexFarAboveUint32", With("sm-event-index", "18446744073709551616"),
                       "sm-event-index", "above the largest allowed value 4294967295"}),
    [](const ::testing::TestParamInfo<BadHeadersCase>& param_info) {
      return param_info.param.name;
    });

TEST(IdempotencyKeyTest, ErrorQuotesTheOffendingValue) {
  absl::StatusOr<IdempotencyKey> decoded = DecodeHeaders(LookupIn(With("sm-sequence", " 1")));
  ASSERT_FALSE(decoded.ok());
  EXPECT_THAT(decoded.status().message(), HasSubstr("record header sm-sequence is \" 1\""));
}

TEST(IdempotencyKeyTest, ErrorShortensHugeValues) {
  absl::StatusOr<IdempotencyKey> decoded =
      DecodeHeaders(LookupIn(With("sm-event-index", std::string(100000, 'z'))));
  ASSERT_FALSE(decoded.ok());
  EXPECT_LT(decoded.status().message().size(), 300u);
}

TEST(IdempotencyKeyTest, ChecksHeadersInOrderClientIdSequenceIndex) {
  Headers all_bad = {{"sm-client-id", ""}, {"sm-sequence", "0"}, {"sm-event-index", "x"}};
  EXPECT_THAT(DecodeHeaders(LookupIn(all_bad)).status().message(), HasSubstr("sm-client-id"));
  all_bad[0].second = "c";
  EXPECT_THAT(DecodeHeaders(LookupIn(all_bad)).status().message(), HasSubstr("sm-sequence"));
  all_bad[1].second = "1";
  EXPECT_THAT(DecodeHeaders(LookupIn(all_bad)).status().message(), HasSubstr("sm-event-index"));
}

}  // namespace
}  // namespace streammetrics::events
