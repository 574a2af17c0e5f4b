// SeriesCatalog: sizes, names, distinct series, and refused shapes.
#include "tools/loadgen/series_catalog.h"

#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/events/series_key.h"

namespace streammetrics::loadgen {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(SeriesCatalogTest, HoldsServicesTimesMetricsTimesTagSetsDistinctSeries) {
  SeriesCatalog c =
      *SeriesCatalog::Create({.run_id = "r1", .services = 3, .metrics = 4, .tag_sets = 5});
  ASSERT_EQ(c.size(), 60u);
  EXPECT_THAT(c.services(), ElementsAre("r1-svc-0", "r1-svc-1", "r1-svc-2"));
  std::set<std::string> keys;
  std::set<v1::MetricType> types;
  for (size_t i = 0; i < c.size(); ++i) {
    const v1::MetricEvent& e = c.series(i);
    keys.insert(events::SeriesKey(e));
    types.insert(e.metric_type());
    EXPECT_EQ(e.tags_size(), 2);
    EXPECT_TRUE(e.event_id().empty() && !e.has_timestamp() && e.instance_id().empty());
    EXPECT_FALSE(e.unit().empty());
  }
  EXPECT_EQ(keys.size(), 60u);
  EXPECT_EQ(types.size(), 4u) << "metric types cycle with the metric index";
}

TEST(SeriesCatalogTest, ZeroTagSetsMeansOneSeriesWithoutTags) {
  SeriesCatalog c =
      *SeriesCatalog::Create({.run_id = "r", .services = 2, .metrics = 1, .tag_sets = 0});
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c.series(0).tags_size(), 0);
  EXPECT_EQ(events::SeriesKey(c.series(1)), "r-svc-1|http.request.duration|");
}

TEST(SeriesCatalogTest, MetricNamesRepeatWithASuffixAfterTheEightKinds) {
  SeriesCatalog c =
      *SeriesCatalog::Create({.run_id = "r", .services = 1, .metrics = 17, .tag_sets = 0});
  EXPECT_EQ(c.series(0).metric_name(), "http.request.duration");
  EXPECT_EQ(c.series(7).metric_name(), "batch.processing.time");
  EXPECT_EQ(c.series(8).metric_name(), "http.request.duration.1");
  EXPECT_EQ(c.series(16).metric_name(), "http.request.duration.2");
  EXPECT_EQ(c.series(8).metric_type(), v1::METRIC_TYPE_HTTP_REQUEST);
}

TEST(SeriesCatalogTest, RefusesBadShapesNamingTheField) {
  const std::vector<std::pair<CatalogShape, const char*>> cases = {
      {{.run_id = "", .services = 1, .metrics = 1, .tag_sets = 1}, "run_id"},
      {{.run_id = std::string(61, 'a'), .services = 1, .metrics = 1, .tag_sets = 1}, "run_id"},
      {{.run_id = "a|b", .services = 1, .metrics = 1, .tag_sets = 1}, "[A-Za-z0-9._-]"},
      {{.run_id = "r", .services = 0, .metrics = 1, .tag_sets = 1}, "services"},
      {{.run_id = "r", .services = 1, .metrics = -1, .tag_sets = 1}, "metrics"},
      {{.run_id = "r", .services = 1, .metrics = 1, .tag_sets = -1}, "tag_sets"},
      {{.run_id = "r", .services = 10000, .metrics = 10000, .tag_sets = 1}, "at most 10000000"},
      {{.run_id = "r", .services = int64_t{1} << 40, .metrics = int64_t{1} << 40, .tag_sets = 4},
       "at most"},
  };
  for (const auto& [shape, why] : cases) {
    absl::StatusOr<SeriesCatalog> c = SeriesCatalog::Create(shape);
    ASSERT_FALSE(c.ok()) << why;
    EXPECT_TRUE(absl::IsInvalidArgument(c.status()));
    EXPECT_THAT(c.status().message(), HasSubstr(why));
  }
}

}  // namespace
}  // namespace streammetrics::loadgen
