// Tests of the canonical series key: its exact format, determinism, that escaping keeps distinct
// series apart, that ParseSeriesKey inverts SeriesKey, and that malformed keys are refused.
#include "lib/events/series_key.h"

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace streammetrics::events {
namespace {

using ::testing::HasSubstr;
using TagMap = google::protobuf::Map<std::string, std::string>;

// A series in plain C++ types, so tests compare with == and print readably.
struct Parts {
  std::string service;
  std::string metric;
  std::map<std::string, std::string> tags;

  friend bool operator==(const Parts&, const Parts&) = default;
  friend void PrintTo(const Parts& p, std::ostream* os) {
    *os << "{\"" << absl::CHexEscape(p.service) << "\", \"" << absl::CHexEscape(p.metric)
        << "\", {";
    for (const auto& [k, v] : p.tags) {
      *os << "\"" << absl::CHexEscape(k) << "\": \"" << absl::CHexEscape(v) << "\", ";
    }
    *os << "}}";
  }
};

TagMap ToTagMap(const std::map<std::string, std::string>& tags) {
  TagMap map;
  for (const auto& [k, v] : tags) map[k] = v;
  return map;
}

std::string KeyOf(const Parts& p) { return SeriesKey(p.service, p.metric, ToTagMap(p.tags)); }

Parts FromSeries(const v1::Series& s) {
  Parts p{s.service_id(), s.metric_name(), {}};
  for (const auto& entry : s.tags()) p.tags[entry.first] = entry.second;
  return p;
}

// Parses `key` and fails the test if it is refused.
Parts MustParse(const std::string& key) {
  absl::StatusOr<v1::Series> series = ParseSeriesKey(key);
  EXPECT_TRUE(series.ok()) << "key \"" << absl::CHexEscape(key) << "\": " << series.status();
  return series.ok() ? FromSeries(*series) : Parts{};
}

TEST(SeriesKeyTest, FormatWithoutTags) {
  EXPECT_EQ(SeriesKey("payment-service", "api.request.duration", TagMap()),
            "payment-service|api.request.duration|");
}

TEST(SeriesKeyTest, FormatSortsTagsByKey) {
  EXPECT_EQ(KeyOf({"payment-service",
                   "api.request.duration",
                   {{"method", "POST"}, {"endpoint", "/api/payments"}, {"code", "200"}}}),
            "payment-service|api.request.duration|code=200,endpoint=/api/payments,method=POST");
}

TEST(SeriesKeyTest, EmptyTagValueKeepsTheEqualsSign) {
  EXPECT_EQ(KeyOf({"s", "m", {{"k", ""}}}), "s|m|k=");
  EXPECT_EQ(MustParse("s|m|k="), (Parts{"s", "m", {{"k", ""}}}));
  // A tag with an empty value is a different series from no tag at all.
  EXPECT_NE(KeyOf({"s", "m", {{"k", ""}}}), KeyOf({"s", "m", {}}));
}

TEST(SeriesKeyTest, EmptyPartsAreRepresentable) {
  EXPECT_EQ(KeyOf({"", "", {}}), "||");
  EXPECT_EQ(MustParse("||"), (Parts{"", "", {}}));
  EXPECT_EQ(KeyOf({"", "", {{"", ""}}}), "||=");
  EXPECT_EQ(MustParse("||="), (Parts{"", "", {{"", ""}}}));
}

TEST(SeriesKeyTest, TagInsertionOrderDoesNotMatter) {
  std::vector<std::pair<std::string, std::string>> tags;
  for (int i = 0; i < 40; ++i) tags.emplace_back("key" + std::to_string(i), std::to_string(i * 7));
  TagMap forward;
  for (const auto& [k, v] : tags) forward[k] = v;
  TagMap backward;
  for (auto it = tags.rbegin(); it != tags.rend(); ++it) backward[it->first] = it->second;
  std::mt19937 rng(42);
  std::shuffle(tags.begin(), tags.end(), rng);
  TagMap shuffled;
  for (const auto& [k, v] : tags) shuffled[k] = v;

  const std::string key = SeriesKey("s", "m", forward);
  EXPECT_EQ(SeriesKey("s", "m", backward), key);
  EXPECT_EQ(SeriesKey("s", "m", shuffled), key);
  EXPECT_THAT(key, HasSubstr("key0=0,key1=7,key10=70,key11=77,"));
}

TEST(SeriesKeyTest, TagsSortBytewiseUnsigned) {
  // 0xC3 (start of "é" in UTF-8) is above every ASCII byte; a signed-char sort would put it first.
  EXPECT_EQ(KeyOf({"s", "m", {{"z", "1"}, {"\xC3\xA9", "2"}, {"A", "3"}, {"a", "4"}, {"_", "5"}}}),
            "s|m|A=3,_=5,a=4,z=1,\xC3\xA9=2");
}

TEST(SeriesKeyTest, TagsSortByUnescapedKey) {
  // Unescaped, "a]" (0x5D) < "a|" (0x7C); escaped, "a\|" would sort first because '\' is 0x5C.
  EXPECT_EQ(KeyOf({"s", "m", {{"a|", "1"}, {"a]", "2"}}}), "s|m|a]=2,a\\|=1");
  EXPECT_EQ(MustParse("s|m|a]=2,a\\|=1"), (Parts{"s", "m", {{"a|", "1"}, {"a]", "2"}}}));
}

TEST(SeriesKeyTest, EventOverloadUsesOnlySeriesFields) {
  v1::MetricEvent event;
  event.set_service_id("svc");
  event.set_metric_name("latency");
  (*event.mutable_tags())["region"] = "eu";
  (*event.mutable_tags())["az"] = "b";
  event.set_instance_id("pod-1");
  event.set_unit("ms");
  (*event.mutable_metadata())["trace"] = "abc";
  EXPECT_EQ(SeriesKey(event), "svc|latency|az=b,region=eu");

  v1::MetricEvent other = event;
  other.set_instance_id("pod-2");
  other.set_unit("s");
  other.mutable_metadata()->clear();
  other.set_value(99);
  EXPECT_EQ(SeriesKey(other), SeriesKey(event));
  EXPECT_EQ(SeriesKey(event), SeriesKey(event.service_id(), event.metric_name(), event.tags()));
}

TEST(SeriesKeyTest, OutParameterOverloadOverwritesWhatWasThere) {
  v1::MetricEvent event;
  event.set_service_id("s|1");
  event.set_metric_name("m");
  for (int i = 9; i >= 0; --i) (*event.mutable_tags())[absl::StrCat("k", i)] = "v,=";
  std::string out = "left over from the previous record, longer than the key";
  SeriesKey(event, &out);
  EXPECT_EQ(out, SeriesKey(event));
  event.mutable_tags()->clear();
  SeriesKey(event, &out);
  EXPECT_EQ(out, "s\\|1|m|");
}

TEST(SeriesKeyTest, EscapesEverySpecialCharacterInEveryPart) {
  EXPECT_EQ(KeyOf({"a\\b|c,d=e", "f", {}}), "a\\\\b\\|c\\,d\\=e|f|");
  EXPECT_EQ(KeyOf({"s", "a\\b|c,d=e", {}}), "s|a\\\\b\\|c\\,d\\=e|");
  EXPECT_EQ(KeyOf({"s", "m", {{"a\\b|c,d=e", "v"}}}), "s|m|a\\\\b\\|c\\,d\\=e=v");
  EXPECT_EQ(KeyOf({"s", "m", {{"k", "a\\b|c,d=e"}}}), "s|m|k=a\\\\b\\|c\\,d\\=e");
  EXPECT_EQ(KeyOf({"\\", "\\\\", {{"\\", "\\"}}}), "\\\\|\\\\\\\\|\\\\=\\\\");
}

TEST(SeriesKeyTest, ParsesEscapedParts) {
  EXPECT_EQ(MustParse("s\\|1|m\\,2|k\\=3=v\\\\4,z=\\|"),
            (Parts{"s|1", "m,2", {{"k=3", "v\\4"}, {"z", "|"}}}));
}

// Pairs of series whose naive (unescaped) keys would be identical.
TEST(SeriesKeyTest, DistinctSeriesNeverCollide) {
  const std::vector<Parts> series = {
      {"a|b", "c", {}},
      {"a", "b|c", {}},
      {"a", "b", {{"c", ""}}},
      {"s", "m|k=v", {}},
      {"s", "m", {{"k", "v"}}},
      {"s", "m", {{"k", "v,x=y"}}},
      {"s", "m", {{"k", "v"}, {"x", "y"}}},
      {"s", "m", {{"k=v", "w"}}},
      {"s", "m", {{"k", "v=w"}}},
      {"s", "m", {{"k,x", "y"}}},
      {"s", "m", {{"k", ""}, {"x", "y"}}},
      {"s", "m", {{"k", ",x=y"}}},
      {"s", "m", {{"k", "v\\"}, {"x", "y"}}},
      {"s", "m", {{"k", "v\\,x=y"}}},
      {"a\\", "b", {}},
      {"a", "\\b", {}},
      {"a\\|b", "c", {}},
      {"a", "\\|b|c", {}},
      {"s", "m", {}},
      {"s", "m", {{"", ""}}},
      {"s", "m=", {}},
      {"s", "m", {{"=", ""}}},
      {"", "", {}},
      {"|", "", {}},
      {"", "|", {}},
  };
  std::set<std::string> keys;
  for (const Parts& p : series) {
    const std::string key = KeyOf(p);
    EXPECT_TRUE(keys.insert(key).second) << "collision on key \"" << absl::CHexEscape(key) << "\"";
    EXPECT_EQ(MustParse(key), p);
  }
}

TEST(SeriesKeyTest, RoundTripsTypicalSeries) {
  const std::vector<Parts> series = {
      {"payment-service", "api.request.duration", {}},
      {"payment-service", "api.request.duration", {{"endpoint", "/api/payments"}}},
      {"checkout", "db.query", {{"db", "orders"}, {"op", "SELECT"}, {"shard", "07"}}},
      {"svc with spaces", "metric name", {{"tag key", "tag value"}}},
      {"unicode-\xC3\xA9", "\xE2\x82\xAC", {{"\xF0\x9F\x98\x80", "\xC3\xA9"}}},
      {std::string("nul\0byte", 8), "m", {{std::string("\0", 1), std::string("\0\0", 2)}}},
      {std::string(100, 'x'),
       std::string(200, '|'),
       {{std::string(64, ','), std::string(256, '=')}}},
  };
  for (const Parts& p : series) {
    const std::string key = KeyOf(p);
    EXPECT_EQ(MustParse(key), p) << "key \"" << absl::CHexEscape(key) << "\"";
  }
}

// Random series over an alphabet rich in special characters: every one must survive the round
// trip, re-serialize to the same key (the parser accepts only canonical keys), and no two distinct
// series may share a key.
TEST(SeriesKeyTest, RandomizedRoundTripAndInjectivity) {
  std::mt19937 rng(20270115);  // Fixed: a failure must reproduce.
  const std::string alphabet = std::string("ab=,|\\ \x01\xFF") + std::string(1, '\0');
  auto random_text = [&](size_t max_length) {
    std::string text(std::uniform_int_distribution<size_t>(0, max_length)(rng), ' ');
    for (char& c : text) {
      c = alphabet[std::uniform_int_distribution<size_t>(0, alphabet.size() - 1)(rng)];
    }
    return text;
  };
  std::map<std::string, Parts> seen;
  for (int i = 0; i < 5000; ++i) {
    Parts p{random_text(4), random_text(4), {}};
    const int tag_count = std::uniform_int_distribution<int>(0, 4)(rng);
    for (int t = 0; t < tag_count; ++t) p.tags[random_text(3)] = random_text(3);

    const std::string key = KeyOf(p);
    absl::StatusOr<v1::Series> parsed = ParseSeriesKey(key);
    ASSERT_TRUE(parsed.ok()) << "iteration " << i << ": " << parsed.status();
    ASSERT_EQ(FromSeries(*parsed), p) << "iteration " << i;
    ASSERT_EQ(SeriesKey(parsed->service_id(), parsed->metric_name(), parsed->tags()), key);
    auto [it, inserted] = seen.emplace(key, p);
    ASSERT_TRUE(inserted || it->second == p)
        << "two series share key \"" << absl::CHexEscape(key) << "\"";
  }
  // Guards the generator itself: most series must be distinct, or the loop proved little.
  EXPECT_GT(seen.size(), 4000u);
}

struct MalformedCase {
  std::string key;
  std::string expected_in_message;
};

class MalformedSeriesKeyTest : public ::testing::TestWithParam<MalformedCase> {};

TEST_P(MalformedSeriesKeyTest, IsRejectedWithInvalidArgument) {
  absl::StatusOr<v1::Series> series = ParseSeriesKey(GetParam().key);
  ASSERT_FALSE(series.ok()) << "accepted \"" << absl::CHexEscape(GetParam().key) << "\" as "
                            << series->DebugString();
  EXPECT_EQ(series.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(series.status().message(), HasSubstr("series key \""));
  EXPECT_THAT(series.status().message(), HasSubstr(GetParam().expected_in_message));
}

INSTANTIATE_TEST_SUITE_P(
    SeriesKeyTest, MalformedSeriesKeyTest,
    ::testing::Values(
        // Wrong number of parts.
        MalformedCase{"", "has 1 '|'-separated parts"},
        MalformedCase{"svc", "has 1 '|'-separated parts"},
        MalformedCase{"svc|metric", "has 2 '|'-separated parts"},
        MalformedCase{"a\\|b|c", "has 2 '|'-separated parts"},  // An escaped '|' splits nothing.
        MalformedCase{"a|b|c|d", "has 4 '|'-separated parts"},
        MalformedCase{"a|b|k=v|", "has 4 '|'-separated parts"},
        MalformedCase{"||||", "has 5 '|'-separated parts"},
        // Tags without exactly one unescaped '='.
        MalformedCase{"a|b|k", "has 0 unescaped '='"},
        MalformedCase{"a|b|k\\=v", "has 0 unescaped '='"},
        MalformedCase{"a|b|k=v,x", "has 0 unescaped '='"},
        MalformedCase{"a|b|k=v,", "tag \"\" has 0 unescaped '='"},
        MalformedCase{"a|b|,k=v", "tag \"\" has 0 unescaped '='"},
        MalformedCase{"a|b|k=v,,x=y", "tag \"\" has 0 unescaped '='"},
        MalformedCase{"a|b|k=v=w", "has 2 unescaped '='"},
        // Dangling or unknown escapes.
        MalformedCase{"\\", "dangling"}, MalformedCase{"a|b|k=v\\", "dangling"},
        MalformedCase{"a|b\\", "dangling"}, MalformedCase{"a|b|\\\\\\", "dangling"},
        MalformedCase{"a\\x|b|", "escapes a character other than"},
        MalformedCase{"a|b|k=\\n", "escapes a character other than"},
        // Special characters SeriesKey would have escaped.
        MalformedCase{"a,b|c|", "service_id contains an unescaped ','"},
        MalformedCase{"a=b|c|", "service_id contains an unescaped '='"},
        MalformedCase{"a|b,c|", "metric_name contains an unescaped ','"},
        MalformedCase{"a|b=c|", "metric_name contains an unescaped '='"},
        // Tags out of order or repeated.
        MalformedCase{"a|b|z=1,a=2", "tag key \"a\" follows \"z\""},
        MalformedCase{"a|b|k=1,k=2", "tag key \"k\" follows \"k\""},
        MalformedCase{"a|b|=1,=2", "tag key \"\" follows \"\""},
        MalformedCase{"a|b|a=1,c=2,b=3", "tag key \"b\" follows \"c\""},
        MalformedCase{"s|m|a\\|=1,a]=2", "tag key \"a]\" follows \"a|\""}));

TEST(SeriesKeyTest, ErrorMessageShortensHugeKeys) {
  const std::string key(100000, 'x');
  absl::StatusOr<v1::Series> series = ParseSeriesKey(key);
  ASSERT_FALSE(series.ok());
  EXPECT_LT(series.status().message().size(), 400u);
  EXPECT_THAT(series.status().message(), HasSubstr("...\" is malformed"));
}

}  // namespace
}  // namespace streammetrics::events
