// Proves the local PostgreSQL runs with the schema docs/contract.md §4 describes: the seed's
// metrics.metric_aggregates table with its columns and three indexes (GIN on tags included), the
// exactly-once additions (unique window key, sketch, is_final, revision, source_partition), and
// the checkpoint tables beside it (consumer offsets with owner epochs, dedup chunks, outbox), all
// created by versioned migrations.
#include <libpq-fe.h>

#include <map>
#include <memory>
#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/pg_test_util.h"
#include "tests/support/stack.h"

namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsSupersetOf;

using ::streammetrics::testing::PgConnPtr;
using ::streammetrics::testing::PgResultPtr;
using ::streammetrics::testing::PgRows;

class PostgresSchemaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    conn_.reset(PQconnectdb(streammetrics::testing::PostgresUrl().c_str()));
    ASSERT_EQ(PQstatus(conn_.get()), CONNECTION_OK) << PQerrorMessage(conn_.get());
  }

  // Every row of `sql`, its columns joined by '|'.
  std::vector<std::string> Rows(const std::string& sql) { return PgRows(conn_.get(), sql); }

  // column name -> "data_type|is_nullable"
  std::map<std::string, std::string> Columns(const std::string& table) {
    std::map<std::string, std::string> out;
    for (const std::string& row :
         Rows("SELECT column_name, data_type, is_nullable FROM information_schema.columns "
              "WHERE table_schema = 'metrics' AND table_name = '" +
              table + "'")) {
      const size_t bar = row.find('|');
      out[row.substr(0, bar)] = row.substr(bar + 1);
    }
    return out;
  }

  PgConnPtr conn_;
};

TEST_F(PostgresSchemaTest, AggregatesTableHasTheSeedsColumns) {
  auto cols = Columns("metric_aggregates");
  const std::map<std::string, std::string> seed = {
      {"id", "bigint|NO"},
      {"timestamp", "timestamp with time zone|NO"},
      {"service_id", "character varying|NO"},
      {"metric_name", "character varying|NO"},
      {"window_size", "character varying|NO"},
      {"count", "bigint|YES"},
      {"sum", "double precision|YES"},
      {"avg", "double precision|YES"},
      {"min", "double precision|YES"},
      {"max", "double precision|YES"},
      {"p50", "double precision|YES"},
      {"p95", "double precision|YES"},
      {"p99", "double precision|YES"},
      {"tags", "jsonb|YES"},
      {"created_at", "timestamp with time zone|YES"},
  };
  for (const auto& [name, type] : seed) {
    ASSERT_TRUE(cols.count(name)) << "missing column " << name;
    EXPECT_EQ(cols[name], type) << name;
  }
  // Column widths of the seed, which validation at ingest enforces too.
  EXPECT_THAT(Rows("SELECT column_name, character_maximum_length FROM information_schema.columns "
                   "WHERE table_schema='metrics' AND table_name='metric_aggregates' AND "
                   "column_name IN ('service_id','metric_name','window_size') ORDER BY 1"),
              ::testing::ElementsAre("metric_name|200", "service_id|100", "window_size|10"));
}

TEST_F(PostgresSchemaTest, AggregatesTableHasTheExactlyOnceAdditions) {
  auto cols = Columns("metric_aggregates");
  EXPECT_EQ(cols["series_key"], "text|NO");
  EXPECT_EQ(cols["sketch"], "bytea|NO");
  EXPECT_EQ(cols["is_final"], "boolean|NO");
  EXPECT_EQ(cols["revision"], "bigint|NO");
  EXPECT_EQ(cols["window_end"], "timestamp with time zone|NO");
  // One row per (series, window size, window start): the upsert target of every checkpoint.
  EXPECT_THAT(Rows("SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                   "WHERE conrelid = 'metrics.metric_aggregates'::regclass AND contype = 'u'"),
              Contains("UNIQUE (series_key, window_size, \"timestamp\")"));
}

TEST_F(PostgresSchemaTest, SeedIndexesExist) {
  std::map<std::string, std::string> defs;
  for (const std::string& row :
       Rows("SELECT indexname, indexdef FROM pg_indexes WHERE "
            "schemaname = 'metrics' AND tablename = 'metric_aggregates'")) {
    const size_t bar = row.find('|');
    defs[row.substr(0, bar)] = row.substr(bar + 1);
  }
  ASSERT_TRUE(defs.count("idx_metrics_lookup"));
  EXPECT_THAT(defs["idx_metrics_lookup"],
              HasSubstr("(service_id, metric_name, \"timestamp\" DESC)"));
  ASSERT_TRUE(defs.count("idx_metrics_tags"));
  EXPECT_THAT(defs["idx_metrics_tags"], HasSubstr("USING gin (tags)"));
  ASSERT_TRUE(defs.count("idx_metrics_timestamp"));
  EXPECT_THAT(defs["idx_metrics_timestamp"], HasSubstr("(\"timestamp\" DESC)"));
}

TEST_F(PostgresSchemaTest, CheckpointTablesExist) {
  auto offsets = Columns("consumer_offsets");
  EXPECT_EQ(offsets["consumer_group"], "text|NO");
  EXPECT_EQ(offsets["topic"], "text|NO");
  EXPECT_EQ(offsets["partition"], "integer|NO");
  // NULL: claimed, never checkpointed.
  EXPECT_EQ(offsets["next_offset"], "bigint|YES");
  EXPECT_EQ(offsets["owner_epoch"], "bigint|NO");
  EXPECT_EQ(offsets["watermark"], "timestamp with time zone|YES");
  auto dedup = Columns("dedup_keys");
  EXPECT_EQ(dedup["consumer_group"], "text|NO");
  EXPECT_EQ(dedup["partition"], "integer|NO");
  EXPECT_EQ(dedup["window_start"], "timestamp with time zone|NO");
  EXPECT_EQ(dedup["id"], "bigint|NO");
  EXPECT_EQ(dedup["keys"], "bytea|NO");
  auto outbox = Columns("outbox");
  EXPECT_EQ(outbox["id"], "bigint|NO");
  EXPECT_EQ(outbox["topic"], "text|NO");
  EXPECT_EQ(outbox["key"], "bytea|NO");
  EXPECT_EQ(outbox["value"], "bytea|NO");
  // Replaced by the window-scoped dedup chunks (0002).
  EXPECT_TRUE(Columns("client_sequences").empty());
  EXPECT_EQ(Columns("metric_aggregates")["source_partition"], "integer|YES");
  EXPECT_EQ(Columns("metric_aggregates")["source_group"], "text|YES");
  EXPECT_THAT(Rows("SELECT indexdef FROM pg_indexes WHERE schemaname = 'metrics' AND "
                   "indexname = 'idx_metrics_partition_claim'"),
              ElementsAre(HasSubstr("(source_group, source_partition, is_final, \"timestamp\")")));
}

TEST_F(PostgresSchemaTest, MigrationsAreRecordedInOrder) {
  std::vector<std::string> versions =
      Rows("SELECT version FROM metrics.schema_migrations ORDER BY 1");
  ASSERT_GE(versions.size(), 2u);
  EXPECT_EQ(versions[0], "1");
  EXPECT_EQ(versions[1], "2");
}

TEST_F(PostgresSchemaTest, WindowKeyRejectsASecondRowAndUpsertUpdatesIt) {
  PgResultPtr begin(PQexec(conn_.get(), "BEGIN"));
  const char* insert =
      "INSERT INTO metrics.metric_aggregates (timestamp, window_end, service_id, metric_name, "
      "window_size, series_key, count, sketch, tags) VALUES ('2026-01-01T00:00:00Z', "
      "'2026-01-01T00:01:00Z', 'it-svc', 'it.metric', '1m', 'it-key', $1::bigint, '\\x00', "
      "'{\"method\":\"POST\"}') ON CONFLICT (series_key, window_size, timestamp) DO UPDATE SET "
      "count = EXCLUDED.count, revision = metric_aggregates.revision + 1 RETURNING count, revision";
  for (const char* count : {"3", "5"}) {
    const char* params[] = {count};
    PgResultPtr r(PQexecParams(conn_.get(), insert, 1, nullptr, params, nullptr, nullptr, 0));
    ASSERT_EQ(PQresultStatus(r.get()), PGRES_TUPLES_OK) << PQerrorMessage(conn_.get());
  }
  EXPECT_THAT(Rows("SELECT count, revision FROM metrics.metric_aggregates WHERE "
                   "series_key = 'it-key'"),
              ::testing::ElementsAre("5|2"));
  // The GIN index answers containment queries on tags.
  EXPECT_THAT(Rows("SELECT count FROM metrics.metric_aggregates WHERE series_key = 'it-key' AND "
                   "tags @> '{\"method\":\"POST\"}'"),
              ::testing::ElementsAre("5"));
  PgResultPtr rollback(PQexec(conn_.get(), "ROLLBACK"));
  EXPECT_THAT(Rows("SELECT count(*) FROM metrics.metric_aggregates WHERE series_key = 'it-key'"),
              ::testing::ElementsAre("0"));
}

}  // namespace
