// The fixture of the PostgresAggregateStore integration tests: a store on the local stack's
// PostgreSQL and a second connection to inspect the tables.
//
// The tables are shared with every other test and run: each test works in a consumer group, a
// range of partitions and a service id of its own (random), and deletes them afterwards.
#ifndef STREAMMETRICS_TESTS_INTEGRATION_POSTGRES_STORE_FIXTURE_H_
#define STREAMMETRICS_TESTS_INTEGRATION_POSTGRES_STORE_FIXTURE_H_

#include <libpq-fe.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "aggregation-service/store/postgres_aggregate_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/aggregation-service/store/store_test_windows.h"
#include "tests/integration/pg_test_util.h"
#include "tests/support/proto_matchers.h"
#include "tests/support/stack.h"

namespace streammetrics::aggregation::testing {

using ::streammetrics::testing::EqualsProto;

using ::streammetrics::testing::PgConnDeleter;
using ::streammetrics::testing::PgResultDeleter;

inline std::vector<std::string> Values(const std::vector<OutboxRecord>& records) {
  std::vector<std::string> values;
  for (const OutboxRecord& r : records) values.push_back(r.value);
  return values;
}

// Deletes what a test wrote: windows and series of services starting with `service_prefix`,
// progress, dedup keys and outbox of `group`.
inline void DeleteTestRows(PGconn* conn, const std::string& group,
                           const std::string& service_prefix) {
  const auto run = [conn](const std::string& sql, const std::string& param) {
    const char* values[] = {param.c_str()};
    std::unique_ptr<PGresult, PgResultDeleter> r(
        PQexecParams(conn, sql.c_str(), 1, nullptr, values, nullptr, nullptr, 0));
    EXPECT_EQ(PQresultStatus(r.get()), PGRES_COMMAND_OK) << PQerrorMessage(conn) << sql;
  };
  run("DELETE FROM metrics.metric_aggregates WHERE service_id LIKE $1 || '%'", service_prefix);
  run("DELETE FROM metrics.series WHERE service_id LIKE $1 || '%'", service_prefix);
  for (const char* table : {"consumer_offsets", "dedup_keys", "outbox"}) {
    run(absl::StrCat("DELETE FROM metrics.", table, " WHERE consumer_group = $1"), group);
  }
}

// 16 random hex digits, to make a test's consumer group and service names its own.
inline std::string RandomTag(uint64_t* raw = nullptr) {
  std::mt19937_64 random(std::random_device{}());
  const uint64_t r = random();
  if (raw != nullptr) *raw = r;
  return absl::StrCat(absl::Hex(r, absl::kZeroPad16));
}

// A store of consumer group `group` on the local PostgreSQL, or null after a test failure.
inline std::unique_ptr<PostgresAggregateStore> NewPostgresStore(
    const std::string& group, absl::Duration statement_timeout = absl::Seconds(30)) {
  PostgresStoreConfig config;
  config.conninfo = streammetrics::testing::PostgresUrl();
  config.consumer_group = group;
  config.statement_timeout = statement_timeout;
  absl::StatusOr<std::unique_ptr<PostgresAggregateStore>> store =
      PostgresAggregateStore::Create(config);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? *std::move(store) : nullptr;
}

// `spec` with its service name prefixed, so the rows it makes belong to one test.
inline v1::WindowAggregate PrefixedWindow(const std::string& service_prefix, WindowSpec spec) {
  spec.service = service_prefix + spec.service;
  return MakeWindow(spec);
}

// A PostgresAggregateStore of its own consumer group, for the AggregateStore contract
// (tests/aggregation-service/store/aggregate_store_contract.h); deletes what it wrote when
// destroyed.
class PostgresStoreEnv {
 public:
  PostgresStoreEnv()
      : tag_(RandomTag()), group_("store-contract-" + tag_), service_("it-contract-" + tag_) {
    conn_.reset(PQconnectdb(streammetrics::testing::PostgresUrl().c_str()));
    EXPECT_EQ(PQstatus(conn_.get()), CONNECTION_OK) << PQerrorMessage(conn_.get());
    store_ = NewPostgresStore(group_);
  }
  ~PostgresStoreEnv() {
    store_.reset();
    if (PQstatus(conn_.get()) == CONNECTION_OK) DeleteTestRows(conn_.get(), group_, service_);
  }

  AggregateStore* store() { return store_.get(); }
  v1::WindowAggregate Window(WindowSpec spec) { return PrefixedWindow(service_, std::move(spec)); }

 private:
  const std::string tag_;
  const std::string group_;
  const std::string service_;
  std::unique_ptr<PGconn, PgConnDeleter> conn_;
  std::unique_ptr<PostgresAggregateStore> store_;
};

class PostgresStoreFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    uint64_t r = 0;
    const std::string tag = RandomTag(&r);
    group_ = "store-test-" + tag;
    service_ = "it-store-" + tag;
    // Far above any real partition, and 1000 apart per test so tests never share one.
    base_partition_ = 1'000'000 + static_cast<int32_t>(r % 2'000'000) * 1000;
    inspect_.reset(PQconnectdb(streammetrics::testing::PostgresUrl().c_str()));
    ASSERT_EQ(PQstatus(inspect_.get()), CONNECTION_OK) << PQerrorMessage(inspect_.get());
    store_ = NewStore();
    ASSERT_NE(store_, nullptr);
  }

  void TearDown() override {
    if (inspect_ == nullptr || PQstatus(inspect_.get()) != CONNECTION_OK) return;
    DeleteTestRows(inspect_.get(), group_, service_);
  }

  std::unique_ptr<PostgresAggregateStore> NewStore(
      absl::Duration statement_timeout = absl::Seconds(30)) {
    return NewPostgresStore(group_, statement_timeout);
  }

  int32_t P(int i) const { return base_partition_ + i; }

  v1::WindowAggregate Window(WindowSpec spec) { return PrefixedWindow(service_, std::move(spec)); }

  // Runs `sql` with text parameters on the inspection connection; each row's columns joined by
  // '|', NULL as "null".
  std::vector<std::string> Rows(const std::string& sql, const std::vector<std::string>& params) {
    std::vector<const char*> values;
    for (const std::string& p : params) values.push_back(p.c_str());
    std::unique_ptr<PGresult, PgResultDeleter> r(
        PQexecParams(inspect_.get(), sql.c_str(), static_cast<int>(values.size()), nullptr,
                     values.data(), nullptr, nullptr, 0));
    const ExecStatusType status = PQresultStatus(r.get());
    EXPECT_TRUE(status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK)
        << PQerrorMessage(inspect_.get()) << sql;
    std::vector<std::string> rows;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      std::vector<std::string> columns;
      for (int j = 0; j < PQnfields(r.get()); ++j) {
        columns.push_back(PQgetisnull(r.get(), i, j) ? "null" : PQgetvalue(r.get(), i, j));
      }
      rows.push_back(absl::StrJoin(columns, "|"));
    }
    return rows;
  }

  // "epoch|next_offset|watermark as Unix seconds" of partition p.
  std::vector<std::string> Offsets(int32_t p) {
    return Rows(
        "SELECT owner_epoch, next_offset, extract(epoch FROM watermark)::bigint FROM "
        "metrics.consumer_offsets WHERE consumer_group = $1 AND topic = 'metrics-events' AND "
        "partition = $2",
        {group_, absl::StrCat(p)});
  }
  // "metric_name|window_size|count|revision|is_final" of this test's windows.
  std::vector<std::string> StoredWindows() {
    return Rows(
        "SELECT metric_name, window_size, count, revision, is_final FROM "
        "metrics.metric_aggregates WHERE service_id LIKE $1 || '%' ORDER BY 1, 2",
        {service_});
  }
  std::vector<std::string> StoredDedup(int32_t p) {
    return Rows(
        "SELECT encode(keys, 'escape') FROM metrics.dedup_keys WHERE consumer_group = $1 AND "
        "partition = $2 ORDER BY window_start, id",
        {group_, absl::StrCat(p)});
  }
  std::vector<std::string> StoredOutbox(int32_t p) {
    return Rows(
        "SELECT encode(value, 'escape') FROM metrics.outbox WHERE consumer_group = $1 AND "
        "partition = $2 ORDER BY id",
        {group_, absl::StrCat(p)});
  }
  // The pid of the store's session, found by its application_name.
  std::vector<std::string> StorePids() {
    return Rows("SELECT pid FROM pg_stat_activity WHERE application_name = $1",
                {"streammetrics-aggregation/" + group_});
  }

  // Locks partition p's progress row from the inspection connection until Unlock(), so the
  // store's next checkpoint of p waits at its fence.
  void Lock(int32_t p) {
    Rows("BEGIN", {});
    EXPECT_THAT(Rows("SELECT 1 FROM metrics.consumer_offsets WHERE consumer_group = $1 AND "
                     "partition = $2 FOR UPDATE",
                     {group_, absl::StrCat(p)}),
                ::testing::SizeIs(1));
  }
  void Unlock() { Rows("ROLLBACK", {}); }

  std::string group_;
  std::string service_;
  int32_t base_partition_ = 0;
  std::unique_ptr<PGconn, PgConnDeleter> inspect_;
  std::unique_ptr<PostgresAggregateStore> store_;
};

}  // namespace streammetrics::aggregation::testing

#endif  // STREAMMETRICS_TESTS_INTEGRATION_POSTGRES_STORE_FIXTURE_H_
