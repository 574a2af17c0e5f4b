// Tests of ContentId: stable digests (fixed inputs have fixed ids, so instances and versions
// agree), encodings that keep fields apart, and start times that separate a counter's lives.
#include "ingest-service/otlp/content_id.h"

#include "gtest/gtest.h"

namespace streammetrics::ingest::otlp {
namespace {

opentelemetry::proto::resource::v1::Resource ResourceOf(
    std::initializer_list<std::pair<const char*, const char*>> attributes) {
  opentelemetry::proto::resource::v1::Resource r;
  for (const auto& [k, v] : attributes) {
    auto* kv = r.add_attributes();
    kv->set_key(k);
    kv->mutable_value()->set_string_value(v);
  }
  return r;
}

TEST(ContentIdTest, IsStableAcrossProcesses) {
  // Digests pinned here, recomputed independently with Python's hashlib from the encoding in
  // content_id.h: changing the encoding would change every key, and a retry sent across an
  // upgrade would be counted twice. Change them only with a note in docs/otlp.md.
  const ContentId scope = ScopeId(ResourceId(ResourceOf({{"service.name", "checkout"}})), {});
  google::protobuf::Map<std::string, std::string> tags;
  tags["route"] = "/pay";
  const ContentId series = SeriesId(scope, "http.server.duration", 'e', tags);
  EXPECT_EQ(series.Hex(), "1611589d1407cc6308d76da3ff2c1582");
  EXPECT_EQ(WithStart(series, 7).Hex(), "3d8b5139252c5e51f266a0f292fabf3e");
  EXPECT_NE(WithStart(series, 7), WithStart(series, 8));
}

TEST(ContentIdTest, AttributeOrderDoesNotMatterButContentDoes) {
  const ContentId ab = ResourceId(ResourceOf({{"a", "1"}, {"b", "2"}}));
  EXPECT_EQ(ab, ResourceId(ResourceOf({{"b", "2"}, {"a", "1"}})));
  EXPECT_EQ(ab, ResourceId(ResourceOf({{"b", "9"}, {"a", "1"}, {"b", "2"}})));  // last wins
  EXPECT_NE(ab, ResourceId(ResourceOf({{"a", "12"}})));
  // Length prefixes keep fields apart: ("a", "1b") is not ("a1", "b").
  EXPECT_NE(ResourceId(ResourceOf({{"a", "1b"}})), ResourceId(ResourceOf({{"a1", "b"}})));
  opentelemetry::proto::common::v1::InstrumentationScope meter;
  meter.set_name("meter");
  EXPECT_NE(ScopeId(ab, {}), ScopeId(ab, meter));
  google::protobuf::Map<std::string, std::string> none;
  const ContentId scope = ScopeId(ab, {});
  EXPECT_NE(SeriesId(scope, "m", 'g', none), SeriesId(scope, "m", 's', none));
  google::protobuf::Map<std::string, std::string> tag;
  tag["k"] = "v";
  EXPECT_NE(SeriesId(scope, "m", 'g', none), SeriesId(scope, "m", 'g', tag));
}

}  // namespace
}  // namespace streammetrics::ingest::otlp
