// EventMaker: valid events pass the ingest service's own validation, deliberately broken ones fail
// it for the intended reason, and a seed reproduces a run.
#include "tools/loadgen/event_maker.h"

#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "gtest/gtest.h"
#include "lib/events/series_key.h"
#include "lib/events/validation.h"

namespace streammetrics::loadgen {
namespace {

// Deterministic bytes (map order fixed), so NaN values compare equal too.
std::string Bytes(const v1::MetricEvent& e) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    e.SerializeToCodedStream(&coded);
  }
  return out;
}

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

struct Fixture {
  SeriesCatalog catalog =
      *SeriesCatalog::Create({.run_id = "t", .services = 2, .metrics = 8, .tag_sets = 3});
  ValueDistribution values = *ValueDistribution::Parse("lognormal:2:1");
};

TEST(EventMakerTest, ValidEventsPassValidationAndCoverTheCatalog) {
  Fixture f;
  EventMaker maker(&f.catalog, &f.values, "t", 3, 1, 0.0);
  std::set<std::string> series;
  for (int i = 0; i < 5000; ++i) {
    v1::MetricEvent e = maker.Make(kNow);
    std::optional<events::EventViolation> v = events::ValidateEvent(e, {}, kNow);
    ASSERT_FALSE(v.has_value()) << e.ShortDebugString() << ": " << v->message;
    EXPECT_FALSE(EventMaker::IsDeliberatelyInvalid(e));
    ASSERT_TRUE(absl::StartsWith(e.event_id(), absl::StrCat("e-3-", i, "@"))) << e.event_id();
    // The id names the catalog series the event was made from.
    const std::optional<size_t> index = EventMaker::SeriesIndexOf(e);
    ASSERT_TRUE(index.has_value()) << e.event_id();
    EXPECT_EQ(events::SeriesKey(e), f.catalog.key(*index));
    EXPECT_EQ(e.instance_id(), "t-stream-3");
    EXPECT_EQ(e.timestamp().seconds(), absl::ToUnixSeconds(kNow));
    series.insert(events::SeriesKey(e));
  }
  EXPECT_EQ(series.size(), f.catalog.size()) << "5000 uniform draws reach all 48 series";
}

TEST(EventMakerTest, BrokenEventsFailValidationForEachIntendedReason) {
  Fixture f;
  EventMaker maker(&f.catalog, &f.values, "t", 0, 1, 1.0);
  std::map<v1::DeadLetterReason, int> reasons;
  for (int i = 0; i < 5 * kInvalidKinds; ++i) {
    v1::MetricEvent e = maker.Make(kNow);
    ASSERT_TRUE(EventMaker::IsDeliberatelyInvalid(e));
    std::optional<events::EventViolation> v = events::ValidateEvent(e, {}, kNow);
    ASSERT_TRUE(v.has_value()) << e.ShortDebugString();
    ++reasons[v->reason];
  }
  EXPECT_EQ(reasons.size(), static_cast<size_t>(kInvalidKinds)) << "one reason per kind";
  for (const auto& [reason, n] : reasons) EXPECT_EQ(n, 5) << reason;
}

TEST(EventMakerTest, SeriesIndexOfNeedsAnIndexAfterTheLastAt) {
  v1::MetricEvent e;
  e.set_event_id("e-1-2@17");
  EXPECT_EQ(EventMaker::SeriesIndexOf(e), 17u);
  e.set_event_id("x-1-2@0");
  EXPECT_EQ(EventMaker::SeriesIndexOf(e), 0u);
  for (const char* id : {"e-1-2", "e-1-2@", "e-1-2@x", "e-1-2@-1", ""}) {
    e.set_event_id(id);
    EXPECT_EQ(EventMaker::SeriesIndexOf(e), std::nullopt) << id;
  }
}

TEST(EventMakerTest, InvalidFractionIsRespected) {
  Fixture f;
  EventMaker maker(&f.catalog, &f.values, "t", 0, 9, 0.1);
  int invalid = 0;
  const int n = 100000;
  for (int i = 0; i < n; ++i) invalid += EventMaker::IsDeliberatelyInvalid(maker.Make(kNow));
  EXPECT_NEAR(invalid, n / 10, n / 100);
}

TEST(EventMakerTest, TheSameSeedAndStreamMakeTheSameEvents) {
  Fixture f;
  EventMaker a(&f.catalog, &f.values, "t", 1, 42, 0.2);
  EventMaker b(&f.catalog, &f.values, "t", 1, 42, 0.2);
  EventMaker other_stream(&f.catalog, &f.values, "t", 2, 42, 0.2);
  int same_as_other = 0;
  for (int i = 0; i < 1000; ++i) {
    v1::MetricEvent x = a.Make(kNow);
    v1::MetricEvent y = b.Make(kNow);
    v1::MetricEvent z = other_stream.Make(kNow);
    ASSERT_EQ(Bytes(x), Bytes(y)) << i;
    same_as_other += x.value() == z.value();
  }
  EXPECT_LT(same_as_other, 50) << "streams draw independently";
}

}  // namespace
}  // namespace streammetrics::loadgen
