// Tests of ContentId: stable digests (a fixed input has a fixed id, so instances and versions
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
  // A digest pinned here (recomputed independently with Python's hashlib from the encoding in
  // content_id.h): changing the encoding would change every key, and a retry sent across an
  // upgrade would be counted twice. Change it only with a note in docs/otlp.md.
  const std::string prefix = ScopePrefix(ResourceOf({{"service.name", "checkout"}}), {});
  google::protobuf::Map<std::string, std::string> tags;
  tags["route"] = "/pay";
  const ContentId id = SeriesId(prefix, "http.server.duration", 'e', tags);
  EXPECT_EQ(id.Hex(), "f20a9ba1959564ca87920d17025361f4");
  EXPECT_EQ(id, SeriesId(prefix, "http.server.duration", 'e', tags));
  EXPECT_EQ(WithStart(id, 7).Hex(), WithStart(id, 7).Hex());
  EXPECT_NE(WithStart(id, 7), WithStart(id, 8));
  EXPECT_NE(WithStart(id, 7), id);
}

TEST(ContentIdTest, ResourceAttributeOrderDoesNotMatterButContentDoes) {
  const std::string ab = ScopePrefix(ResourceOf({{"a", "1"}, {"b", "2"}}), {});
  EXPECT_EQ(ab, ScopePrefix(ResourceOf({{"b", "2"}, {"a", "1"}}), {}));
  EXPECT_EQ(ab, ScopePrefix(ResourceOf({{"b", "9"}, {"a", "1"}, {"b", "2"}}), {}));  // last wins
  EXPECT_NE(ab, ScopePrefix(ResourceOf({{"a", "12"}}), {}));
  // Length prefixes keep fields apart: ("a", "1b") is not ("a1", "b").
  EXPECT_NE(ScopePrefix(ResourceOf({{"a", "1b"}}), {}), ScopePrefix(ResourceOf({{"a1", "b"}}), {}));
  opentelemetry::proto::common::v1::InstrumentationScope scope;
  scope.set_name("meter");
  EXPECT_NE(ab, ScopePrefix(ResourceOf({{"a", "1"}, {"b", "2"}}), scope));
  google::protobuf::Map<std::string, std::string> none;
  EXPECT_NE(SeriesId(ab, "m", 'g', none), SeriesId(ab, "m", 's', none));
}

}  // namespace
}  // namespace streammetrics::ingest::otlp
