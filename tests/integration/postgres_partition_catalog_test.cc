// PostgresPartitionCatalog on the local stack's PostgreSQL: it lists the day partitions the
// migration and the service made, creates one (taking over the rows its day had in the default
// partition), drops one, purges old default rows and skips what is already done. Each test has a
// database of its own: the services running beside it purge and create partitions in theirs.
#include "aggregation-service/store/postgres_partition_catalog.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/scratch_database.h"

namespace streammetrics::aggregation {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Not;

absl::Time Utc(int y, int mo, int d, int h = 0) {
  return absl::FromCivil(absl::CivilHour(y, mo, d, h), absl::UTCTimeZone());
}

class PostgresPartitionCatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(db_.ok()) << db_.error();
    ASSERT_TRUE(db_.Migrate(streammetrics::testing::AllMigrations())) << db_.error();
    PostgresCatalogConfig config;
    config.conninfo = db_.url();
    absl::StatusOr<std::unique_ptr<PostgresPartitionCatalog>> catalog =
        PostgresPartitionCatalog::Create(config);
    ASSERT_TRUE(catalog.ok()) << catalog.status();
    catalog_ = *std::move(catalog);
  }

  // A window row of `size` starting at `start` (SQL text), through the partitioned table.
  std::string Insert(const std::string& size, const std::string& start, const std::string& key) {
    std::vector<std::string> rows = Rows(absl::StrCat(
        "INSERT INTO metrics.metric_aggregates (timestamp, window_end, service_id, metric_name, "
        "window_size, series_key, count, sketch) VALUES ('",
        start, "'::timestamptz, '", start,
        "'::timestamptz + interval '5 minutes', 'catalog-test', 'm', '", size, "', ",
        "'catalog-test-", key, "', 1, '\\x01') RETURNING tableoid::regclass"));
    return rows.empty() ? "" : rows[0];
  }
  std::vector<std::string> Rows(const std::string& sql) { return db_.Rows(sql); }
  std::vector<DayPartition> List() {
    absl::StatusOr<std::vector<DayPartition>> listed = catalog_->List();
    EXPECT_TRUE(listed.ok()) << listed.status();
    return listed.ok() ? *listed : std::vector<DayPartition>{};
  }

  const DayPartition kFuture1m{v1::WINDOW_SIZE_1M, Utc(2091, 3, 4)};
  const DayPartition kFuture5m{v1::WINDOW_SIZE_5M, Utc(2091, 3, 4)};
  streammetrics::testing::ScratchDatabase db_{"catalog"};
  std::unique_ptr<PostgresPartitionCatalog> catalog_;
};

TEST_F(PostgresPartitionCatalogTest, ListsTheDaysAroundToday) {
  const absl::Time today = DayStart(absl::Now());
  std::vector<DayPartition> listed = List();
  // The migration (or the service) made today and the days ahead for both sizes.
  EXPECT_THAT(listed, Contains(DayPartition{v1::WINDOW_SIZE_1M, today}));
  EXPECT_THAT(listed, Contains(DayPartition{v1::WINDOW_SIZE_5M, today + absl::Hours(24)}));
}

TEST_F(PostgresPartitionCatalogTest, CreatingADayTakesItsRowsOverFromTheDefaultPartition) {
  EXPECT_EQ(Insert("1m", "2091-03-04T10:00:00Z", "a"), "metrics.metric_aggregates_1m_default");
  EXPECT_EQ(Insert("1m", "2091-03-04T23:59:00Z", "b"), "metrics.metric_aggregates_1m_default");
  EXPECT_EQ(Insert("1m", "2091-03-05T00:00:00Z", "c"), "metrics.metric_aggregates_1m_default");

  PartitionPlan plan;
  plan.create = {kFuture1m, kFuture5m};
  absl::StatusOr<PartitionChanges> changes = catalog_->Apply(plan);
  ASSERT_TRUE(changes.ok()) << changes.status();
  EXPECT_EQ(changes->created, 2);
  EXPECT_EQ(changes->rows_moved, 2);
  EXPECT_THAT(List(), Contains(kFuture1m));
  EXPECT_THAT(
      Rows("SELECT tableoid::regclass FROM metrics.metric_aggregates WHERE series_key "
           "LIKE 'catalog-test-%' ORDER BY series_key"),
      ElementsAre("metrics.metric_aggregates_1m_20910304", "metrics.metric_aggregates_1m_20910304",
                  "metrics.metric_aggregates_1m_default"));
  // New rows of the day go to its partition, and the window key still holds across it.
  EXPECT_EQ(Insert("5m", "2091-03-04T12:00:00Z", "d"), "metrics.metric_aggregates_5m_20910304");
  EXPECT_THAT(
      Rows("SELECT indexdef FROM pg_indexes WHERE tablename = 'metric_aggregates_1m_20910304'"
           " AND indexdef LIKE '%UNIQUE%(series_key, window_size, \"timestamp\")'"),
      ::testing::SizeIs(1));
  // Creating it again changes nothing.
  changes = catalog_->Apply(plan);
  ASSERT_TRUE(changes.ok()) << changes.status();
  EXPECT_EQ(changes->created, 0);
  EXPECT_EQ(changes->rows_moved, 0);
}

TEST_F(PostgresPartitionCatalogTest, DroppingADayDropsItsRowsOnlyOnce) {
  PartitionPlan create;
  create.create = {kFuture1m};
  ASSERT_TRUE(catalog_->Apply(create).ok());
  Insert("1m", "2091-03-04T10:00:00Z", "a");
  PartitionPlan drop;
  drop.drop = {kFuture1m};
  absl::StatusOr<PartitionChanges> changes = catalog_->Apply(drop);
  ASSERT_TRUE(changes.ok()) << changes.status();
  EXPECT_EQ(changes->dropped, 1);
  EXPECT_THAT(List(), Not(Contains(kFuture1m)));
  EXPECT_THAT(Rows("SELECT 1 FROM metrics.metric_aggregates WHERE series_key = 'catalog-test-a'"),
              ::testing::IsEmpty());
  changes = catalog_->Apply(drop);
  ASSERT_TRUE(changes.ok()) << changes.status();
  EXPECT_EQ(changes->dropped, 0);
}

TEST_F(PostgresPartitionCatalogTest, PurgesDefaultRowsBeforeTheHorizonOnly) {
  Insert("1m", "1990-01-01T10:00:00Z", "old");
  Insert("1m", "1990-01-02T00:00:00Z", "kept");
  Insert("5m", "1990-01-01T10:00:00Z", "old5");
  PartitionPlan plan;
  plan.purge_1m_before = Utc(1990, 1, 2);
  absl::StatusOr<PartitionChanges> changes = catalog_->Apply(plan);
  ASSERT_TRUE(changes.ok()) << changes.status();
  EXPECT_EQ(changes->rows_purged, 1);
  EXPECT_THAT(Rows("SELECT series_key FROM metrics.metric_aggregates WHERE series_key LIKE "
                   "'catalog-test-%' ORDER BY 1"),
              ElementsAre("catalog-test-kept", "catalog-test-old5"));
}

TEST(PostgresPartitionCatalogErrorsTest, AnUnpartitionedTableIsAFailedPrecondition) {
  streammetrics::testing::ScratchDatabase db("unmigrated");
  ASSERT_TRUE(db.ok()) << db.error();
  ASSERT_TRUE(db.Migrate(
      {"0001_initial.sql", "0002_aggregation_checkpoints.sql", "0003_series_catalog.sql"}))
      << db.error();
  absl::StatusOr<std::unique_ptr<PostgresPartitionCatalog>> catalog =
      PostgresPartitionCatalog::Create({.conninfo = db.url()});
  ASSERT_TRUE(catalog.ok());
  EXPECT_EQ((*catalog)->List().status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(PostgresPartitionCatalogErrorsTest, AnUnreachableDatabaseIsUnavailable) {
  PostgresCatalogConfig config;
  config.conninfo = "postgresql://streammetrics@127.0.0.1:1/streammetrics";
  config.connect_timeout = absl::Seconds(2);
  absl::StatusOr<std::unique_ptr<PostgresPartitionCatalog>> catalog =
      PostgresPartitionCatalog::Create(config);
  ASSERT_TRUE(catalog.ok());
  EXPECT_EQ((*catalog)->List().status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(
      PostgresPartitionCatalog::Create({.conninfo = "host=127.0.0.1 password"}).status().code(),
      absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace streammetrics::aggregation
