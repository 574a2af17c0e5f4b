// Tests of ValidateEvent's rules for tags and metadata (the same rules, one parameterized suite):
// count, key and value lengths, control characters, and which violation is reported first.
// The other rules: validation_test.cc.
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/events/validation.h"
#include "tests/lib/events/validation_test_util.h"

namespace streammetrics::events::validation_test {
namespace {

using ::testing::Values;

// ---- tags and metadata ----

struct Entries {
  std::string name;
  StringMap* (v1::MetricEvent::*map)();
  size_t ValidationLimits::*max_entries;
  size_t ValidationLimits::*max_key;
  size_t ValidationLimits::*max_value;
  size_t contract_max_value;
  std::string plural;
  bool value_control_rejected;
};

class EntriesTest : public ::testing::TestWithParam<Entries> {
 protected:
  using List = std::vector<std::pair<std::string, std::string>>;
  // ValidEvent() with exactly `entries` as its tags (or metadata).
  std::optional<EventViolation> ValidateWith(const List& entries) {
    v1::MetricEvent e = ValidEvent();
    StringMap* map = (e.*GetParam().map)();
    map->clear();
    for (const auto& [k, v] : entries) (*map)[k] = v;
    return Validate(e);
  }
  List Numbered(size_t n) {
    List entries;
    for (size_t i = 0; i < n; ++i) entries.emplace_back(absl::StrCat("k", i), "v");
    return entries;
  }
  const std::string& name() { return GetParam().name; }
};

TEST_P(EntriesTest, DefaultLimitsAreTheContracts) {
  const ValidationLimits limits;
  EXPECT_EQ(limits.*GetParam().max_entries, 16u);
  EXPECT_EQ(limits.*GetParam().max_key, 64u);
  EXPECT_EQ(limits.*GetParam().max_value, GetParam().contract_max_value);
}

TEST_P(EntriesTest, CountLimit) {
  EXPECT_THAT(ValidateWith({}), IsValid());
  EXPECT_THAT(ValidateWith(Numbered(16)), IsValid());
  EXPECT_EQ(MessageOf(ValidateWith(Numbered(17))),
            absl::StrCat("event has 17 ", GetParam().plural, "; the limit is 16"));
  EXPECT_THAT(ValidateWith(Numbered(17)), Rejects(kTooMany, ""));
  // The count is checked before any entry.
  List entries = Numbered(17);
  entries[0].first = "";
  EXPECT_THAT(ValidateWith(entries), Rejects(kTooMany, ""));
}

TEST_P(EntriesTest, KeyLength) {
  EXPECT_EQ(MessageOf(ValidateWith({{"", "v"}})),
            absl::StrCat("a ", name(), " key is empty; ", name(),
                         " keys must be 1 to 64 bytes "
                         "long"));
  EXPECT_THAT(ValidateWith({{"", "v"}}), Rejects(kBlank, ""));
  EXPECT_THAT(ValidateWith({{std::string(64, 'k'), "v"}}), IsValid());
  const std::string long_key(65, 'k');
  EXPECT_EQ(MessageOf(ValidateWith({{long_key, "v"}})),
            absl::StrCat(name(), " key \"", std::string(64, 'k'),
                         "\"... is 65 bytes long; the limit is 64"));
  EXPECT_THAT(ValidateWith({{long_key, "v"}}), Rejects(kTooLong, ""));
}

TEST_P(EntriesTest, ValueLength) {
  const size_t max = GetParam().contract_max_value;
  EXPECT_THAT(ValidateWith({{"k", ""}}), IsValid());
  EXPECT_THAT(ValidateWith({{"k", std::string(max, 'v')}}), IsValid());
  EXPECT_THAT(ValidateWith({{"k", std::string(max + 1, 'v')}}),
              Rejects(kTooLong, absl::StrCat("value of ", name(), " \"k\" is ", max + 1,
                                             " bytes long; the limit is ", max)));
}

TEST_P(EntriesTest, ControlCharacters) {
  for (char c : {'\0', '\x1F', '\x7F', '\n'}) {
    // 'z' after c: CHexEscape would also escape a hex digit that follows a \x escape.
    EXPECT_THAT(ValidateWith({{std::string("a") + c + "z", "v"}}),
                Rejects(kControl, absl::StrFormat("%s key \"a%sz\" contains control character "
                                                  "0x%02X at byte 1",
                                                  name(), absl::CHexEscape(std::string(1, c)),
                                                  static_cast<int>(c))));
    const auto in_value = ValidateWith({{"k", std::string("a") + c}});
    if (GetParam().value_control_rejected) {
      EXPECT_THAT(in_value, Rejects(kControl, absl::StrCat("value of ", name(),
                                                           " \"k\" contains "
                                                           "control")));
    } else {
      EXPECT_THAT(in_value, IsValid()) << "free-form metadata values may hold any byte";
    }
  }
}

TEST_P(EntriesTest, FirstViolationIsTheSmallestKeyWhateverTheInsertionOrder) {
  EXPECT_THAT(ValidateWith({{"b\x01", "v"}, {"a\x01", "v"}}), Rejects(kControl, "\"a\\x01\""));
  EXPECT_THAT(ValidateWith({{"a\x01", "v"}, {"b\x01", "v"}}), Rejects(kControl, "\"a\\x01\""));
}

INSTANTIATE_TEST_SUITE_P(
    ValidationTest, EntriesTest,
    Values(Entries{"tag", &v1::MetricEvent::mutable_tags, &ValidationLimits::max_tags,
                   &ValidationLimits::max_tag_key_length, &ValidationLimits::max_tag_value_length,
                   256, "tags", true},
           Entries{"metadata", &v1::MetricEvent::mutable_metadata, &ValidationLimits::max_metadata,
                   &ValidationLimits::max_metadata_key_length,
                   &ValidationLimits::max_metadata_value_length, 1024, "metadata entries", false}),
    [](const auto& param_info) { return param_info.param.name; });

}  // namespace
}  // namespace streammetrics::events::validation_test
