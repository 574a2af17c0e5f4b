// LoadAggregationConfig's retention and partition settings: the defaults, inf, the environment
// variables, and the refusals that name the flag to fix.
#include "aggregation-service/aggregation_config.h"

#include <cstdlib>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace streammetrics::aggregation {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<AggregationConfig> Load(std::vector<std::string> flags) {
  flags.insert(flags.begin(), "streammetrics-aggregation");
  std::vector<const char*> argv;
  for (const std::string& f : flags) argv.push_back(f.c_str());
  return LoadAggregationConfig(static_cast<int>(argv.size()), argv.data());
}

TEST(AggregationConfigRetentionTest, DefaultsKeepTwoWeeksAndNinetyDays) {
  absl::StatusOr<AggregationConfig> c = Load({});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->partitions.retention.keep_1m, absl::Hours(24 * 14));
  EXPECT_EQ(c->partitions.retention.keep_5m, absl::Hours(24 * 90));
  EXPECT_EQ(c->partitions.retention.create_ahead, absl::Hours(72));
  EXPECT_EQ(c->partitions.interval, absl::Hours(1));
  // The queries answer from the same rule the maintainer applies.
  EXPECT_EQ(c->limits.retention.keep_1m, c->partitions.retention.keep_1m);
  EXPECT_EQ(c->limits.retention.keep_5m, c->partitions.retention.keep_5m);
}

TEST(AggregationConfigRetentionTest, FlagsAndVariablesSetItAndInfKeepsForever) {
  absl::StatusOr<AggregationConfig> c =
      Load({"--retention_1m=inf", "--retention_5m=720h", "--partitions_ahead=168h",
            "--partitions_behind=0s", "--partition_maintenance_interval=10m"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->partitions.retention.keep_1m, absl::InfiniteDuration());
  EXPECT_EQ(c->limits.retention.keep_1m, absl::InfiniteDuration());
  EXPECT_EQ(c->partitions.retention.keep_5m, absl::Hours(720));
  EXPECT_EQ(c->partitions.retention.create_ahead, absl::Hours(168));
  EXPECT_EQ(c->partitions.retention.create_behind, absl::ZeroDuration());
  EXPECT_EQ(c->partitions.interval, absl::Minutes(10));

  ASSERT_EQ(setenv("STREAMMETRICS_RETENTION_5M", "100h", 1), 0);
  c = Load({});
  unsetenv("STREAMMETRICS_RETENTION_5M");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->partitions.retention.keep_5m, absl::Hours(100));
}

TEST(AggregationConfigRetentionTest, RefusalsNameTheFlag) {
  struct Case {
    std::vector<std::string> flags;
    std::string names;
  };
  for (const Case& c : std::vector<Case>{
           {{"--retention_1m=24h"}, "--retention_1m=24h is too short"},
           {{"--retention_5m=0s"}, "--retention_5m"},
           {{"--partitions_ahead=1h"}, "--partitions_ahead"},
           {{"--partitions_behind=-1h"}, "--partitions_behind"},
           {{"--partition_maintenance_interval=0s"}, "partition_maintenance_interval"},
           {{"--partition_maintenance_interval=37h"}, "at most half of partitions_ahead (36h)"},
       }) {
    absl::StatusOr<AggregationConfig> loaded = Load(c.flags);
    ASSERT_FALSE(loaded.ok()) << c.flags[0];
    EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument) << c.flags[0];
    EXPECT_THAT(loaded.status().message(), HasSubstr(c.names)) << c.flags[0];
  }
}

}  // namespace
}  // namespace streammetrics::aggregation
