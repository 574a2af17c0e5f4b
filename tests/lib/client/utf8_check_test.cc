// FindInvalidUtf8 and CheckUtf8 (lib/client/utf8_check.h): the sequences RFC 3629 allows pass,
// every other byte pattern is found at its offset, and an event names its bad field.
#include "lib/client/utf8_check.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace streammetrics::client {
namespace {

using ::testing::HasSubstr;

constexpr size_t kNone = absl::string_view::npos;

TEST(FindInvalidUtf8Test, AcceptsEveryWellFormedLength) {
  for (const std::string& ok :
       {std::string(""), std::string("ascii"), std::string("\xc3\xa9"),  // é
        std::string("\xe2\x82\xac"),                                     // €
        std::string("\xf0\x9f\x98\x80"),                                 // U+1F600
        std::string("\xf4\x8f\xbf\xbf"),                                 // U+10FFFF
        std::string("\xed\x9f\xbf"),                                     // U+D7FF
        std::string("a\0b", 3)}) {
    EXPECT_EQ(FindInvalidUtf8(ok), kNone) << ok;
  }
}

TEST(FindInvalidUtf8Test, FindsTheFirstBadByte) {
  struct Case {
    std::string text;
    size_t at;
  };
  for (const Case& c :
       {Case{"ms\xff", 2}, Case{"\x80", 0}, Case{"ab\xc3", 2},  // truncated
        Case{"\xc0\xaf", 0},                                    // overlong '/'
        Case{"\xe0\x80\xaf", 0},                                // overlong
        Case{"x\xed\xa0\x80", 1},                               // a surrogate
        Case{"\xf4\x90\x80\x80", 0},                            // > U+10FFFF
        Case{"\xe2\x82", 0}, Case{"\xe2\x28\xa1", 0}, Case{"\xf5\x80\x80\x80", 0}}) {
    EXPECT_EQ(FindInvalidUtf8(c.text), c.at) << c.text;
  }
}

TEST(CheckUtf8Test, NamesTheField) {
  v1::MetricEvent e;
  e.set_service_id("checkout");
  e.set_metric_name("latency");
  EXPECT_TRUE(CheckUtf8(e).ok());
  e.set_unit("m\xc3\x28s");
  absl::Status s = CheckUtf8(e);
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_THAT(s.message(), HasSubstr("unit is not valid UTF-8 at byte 1"));
  e.clear_unit();
  (*e.mutable_tags())["region"] = "e\xffu";
  EXPECT_THAT(CheckUtf8(e).message(), HasSubstr("the value of tag region"));
  e.mutable_tags()->clear();
  (*e.mutable_metadata())["k\xfe"] = "v";
  EXPECT_THAT(CheckUtf8(e).message(), HasSubstr("a metadata key"));
}

}  // namespace
}  // namespace streammetrics::client
