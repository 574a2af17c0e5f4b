// Migration 0004 (metric_aggregates partitioned by window size and day) on a database of its own,
// taken from the schema of 0001-0003 with rows in it: every row survives with its id, lands in
// the partition of its day, and the table still upserts on the window key and numbers new rows
// after the old ones.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/scratch_database.h"

namespace {

using ::streammetrics::testing::ScratchDatabase;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::IsSupersetOf;
using ::testing::UnorderedElementsAre;

class PartitionedAggregatesMigrationTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(db_.ok()) << db_.error(); }

  void Exec(const std::string& sql) { EXPECT_TRUE(db_.Exec(db_.conn(), sql)) << db_.error(); }
  void Migrate(const std::string& name) { ASSERT_TRUE(db_.Migrate({name})) << db_.error(); }
  std::vector<std::string> Rows(const std::string& sql) { return db_.Rows(sql); }

  ScratchDatabase db_{"migration"};
};

TEST_F(PartitionedAggregatesMigrationTest, KeepsEveryRowInThePartitionOfItsDay) {
  for (const char* m :
       {"0001_initial.sql", "0002_aggregation_checkpoints.sql", "0003_series_catalog.sql"}) {
    Migrate(m);
  }
  // Three days of 1-minute and 5-minute windows (10 series each), and windows from 2001.
  Exec(
      "INSERT INTO metrics.metric_aggregates (timestamp, window_end, service_id, metric_name, "
      "window_size, series_key, count, sum, sketch, is_final, source_partition, source_group) "
      "SELECT d + interval '7 hours', d + interval '7 hours' + "
      "(CASE WHEN size = '1m' THEN interval '1 minute' ELSE interval '5 minutes' END), 'svc', "
      "'m', size, 'key-' || s, s, s * 1.5, '\\x01'::bytea, true, s % 3, 'g' "
      "FROM generate_series('2026-03-01T00:00:00Z'::timestamptz, '2026-03-03T00:00:00Z', "
      "interval '1 day') d, "
      "unnest(ARRAY['1m', '5m']) size, generate_series(1, 10) s "
      "UNION ALL SELECT '2001-01-01T23:59:00Z', '2001-01-02', 'svc', 'm', '1m', 'old', 1, 1, "
      "'\\x02'::bytea, true, 0, 'g'");
  const std::vector<std::string> before =
      Rows("SELECT count(*), sum(count), sum(id), max(id) FROM metrics.metric_aggregates");
  ASSERT_THAT(before, ElementsAre(::testing::StartsWith("61|")));

  Migrate("0004_partitioned_aggregates.sql");

  EXPECT_EQ(Rows("SELECT count(*), sum(count), sum(id), max(id) FROM metrics.metric_aggregates"),
            before);
  EXPECT_THAT(
      Rows("SELECT relkind FROM pg_class WHERE oid = 'metrics.metric_aggregates'::regclass"),
      ElementsAre("p"));
  // Each row in the partition of its size and day, none in a default partition.
  EXPECT_THAT(
      Rows("SELECT tableoid::regclass, count(*) FROM metrics.metric_aggregates "
           "GROUP BY 1"),
      UnorderedElementsAre(
          "metrics.metric_aggregates_1m_20010101|1", "metrics.metric_aggregates_1m_20260301|10",
          "metrics.metric_aggregates_1m_20260302|10", "metrics.metric_aggregates_1m_20260303|10",
          "metrics.metric_aggregates_5m_20260301|10", "metrics.metric_aggregates_5m_20260302|10",
          "metrics.metric_aggregates_5m_20260303|10"));
  // Today and the three days ahead exist for both sizes, and both default partitions.
  const std::vector<std::string> partitions = Rows(
      "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
      "WHERE i.inhparent IN ('metrics.metric_aggregates_1m'::regclass, "
      "'metrics.metric_aggregates_5m'::regclass)");
  const std::vector<std::string> today = Rows(
      "SELECT to_char(now() AT TIME ZONE 'UTC' + d * interval '1 day', 'YYYYMMDD') "
      "FROM generate_series(0, 3) d");
  for (const std::string& day : today) {
    EXPECT_THAT(partitions, Contains("metric_aggregates_1m_" + day));
    EXPECT_THAT(partitions, Contains("metric_aggregates_5m_" + day));
  }
  EXPECT_THAT(partitions,
              IsSupersetOf({"metric_aggregates_1m_default", "metric_aggregates_5m_default"}));

  // The window key still makes the checkpoint's upsert an update...
  EXPECT_THAT(
      Rows("INSERT INTO metrics.metric_aggregates AS a (timestamp, window_end, service_id, "
           "metric_name, window_size, series_key, count, sketch) VALUES ('2026-03-02T07:00:00Z', "
           "'2026-03-02T07:01:00Z', 'svc', 'm', '1m', 'key-4', 99, '\\x01') "
           "ON CONFLICT (series_key, window_size, timestamp) DO UPDATE SET count = "
           "EXCLUDED.count, revision = a.revision + 1 RETURNING count, revision"),
      ElementsAre("99|2"));
  // ...and a new row is numbered after the old ones, in the default partition when its day has
  // none.
  const std::string max_id = before[0].substr(before[0].rfind('|') + 1);
  EXPECT_THAT(
      Rows("INSERT INTO metrics.metric_aggregates (timestamp, window_end, service_id, "
           "metric_name, window_size, series_key, count, sketch) VALUES ('2030-06-01T00:00:00Z', "
           "'2030-06-01T00:05:00Z', 'svc', 'm', '5m', 'new', 1, '\\x01') "
           "RETURNING id > " +
           max_id + ", tableoid::regclass"),
      ElementsAre("t|metrics.metric_aggregates_5m_default"));
  // The indexes queries and claims use are there, on the partitioned table.
  EXPECT_THAT(Rows("SELECT indexname FROM pg_indexes WHERE schemaname = 'metrics' AND "
                   "tablename = 'metric_aggregates' ORDER BY 1"),
              ElementsAre("idx_metrics_lookup", "idx_metrics_partition_claim", "idx_metrics_tags",
                          "idx_metrics_timestamp", "metric_aggregates_pkey",
                          "metric_aggregates_window_key"));
}

}  // namespace
