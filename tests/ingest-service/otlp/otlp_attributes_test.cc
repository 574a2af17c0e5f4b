// Tests of AttributeText and AttributesToTags: every AnyValue kind renders deterministically, and
// a repeated key keeps its last value.
#include "ingest-service/otlp/otlp_attributes.h"

#include <limits>

#include "gtest/gtest.h"

namespace streammetrics::ingest::otlp {
namespace {

using opentelemetry::proto::common::v1::AnyValue;

TEST(OtlpAttributesTest, ScalarsRenderAsText) {
  AnyValue v;
  v.set_string_value("GET");
  EXPECT_EQ(AttributeText(v), "GET");
  v.set_bool_value(true);
  EXPECT_EQ(AttributeText(v), "true");
  v.set_int_value(-42);
  EXPECT_EQ(AttributeText(v), "-42");
  v.set_double_value(0.1);
  EXPECT_EQ(AttributeText(v), "0.1");  // shortest text that reads back the same
  v.set_double_value(1e100);
  EXPECT_EQ(AttributeText(v), "1e+100");
  v.set_double_value(std::numeric_limits<double>::quiet_NaN());
  EXPECT_EQ(AttributeText(v), "NaN");
  v.set_bytes_value("\x01\x02");
  EXPECT_EQ(AttributeText(v), "AQI=");
  EXPECT_EQ(AttributeText(AnyValue()), "");
}

TEST(OtlpAttributesTest, ListsRenderAsCompactJson) {
  AnyValue v;
  auto* array = v.mutable_array_value();
  array->add_values()->set_string_value("a\"b");
  array->add_values()->set_int_value(1);
  array->add_values();  // unset
  auto* kv = array->add_values()->mutable_kvlist_value()->add_values();
  kv->set_key("k");
  kv->mutable_value()->set_bool_value(false);
  EXPECT_EQ(AttributeText(v), R"(["a\"b",1,null,{"k":false}])");
}

TEST(OtlpAttributesTest, TagsKeepTheLastValueOfARepeatedKey) {
  Attributes attributes;
  for (const char* value : {"1", "2"}) {
    auto* kv = attributes.Add();
    kv->set_key("k");
    kv->mutable_value()->set_string_value(value);
  }
  google::protobuf::Map<std::string, std::string> tags;
  tags["stale"] = "x";
  AttributesToTags(attributes, &tags);
  ASSERT_EQ(tags.size(), 1u);
  EXPECT_EQ(tags.at("k"), "2");
  EXPECT_EQ(FindAttribute(attributes, "k"), "2");
  EXPECT_EQ(FindAttribute(attributes, "missing"), std::nullopt);
}

}  // namespace
}  // namespace streammetrics::ingest::otlp
