// PostgresPartitionCatalog: see the header.
#include "aggregation-service/store/postgres_partition_catalog.h"

#include <libpq-fe.h>

#include <algorithm>
#include <cstdlib>
#include <iterator>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "aggregation-service/engine/window_math.h"
#include "lib/common/status_macros.h"
#include "lib/pg/binary.h"

namespace streammetrics::aggregation {
namespace {

// Serializes Apply across instances (pg_advisory_xact_lock); any constant unique to this use.
constexpr int64_t kPartitionLockKey = 0x736d5f7061727473;  // "sm_parts"

constexpr v1::WindowSize kSizes[] = {v1::WINDOW_SIZE_1M, v1::WINDOW_SIZE_5M};

pg::Statement Sql(std::string sql) {
  return pg::Statement{.prepared = "", .sql = std::move(sql), .params = {}};
}

std::string Qualified(const std::string& table) { return absl::StrCat("metrics.", table); }

// A TIMESTAMPTZ literal. Only times this file computes (day starts, retention horizons) are
// written into SQL text: identifiers cannot be parameters, and DDL takes no parameters at all.
std::string TimeLiteral(absl::Time t) {
  return absl::StrCat("'", absl::FormatTime("%Y-%m-%d %H:%M:%E6S+00", t, absl::UTCTimeZone()),
                      "'::timestamptz");
}

int64_t AffectedRows(const pg::Result& result) {
  return std::strtoll(PQcmdTuples(result.get()), nullptr, 10);
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostgresPartitionCatalog>> PostgresPartitionCatalog::Create(
    PostgresCatalogConfig config) {
  RETURN_IF_ERROR(pg::CheckConninfo(config.conninfo));
  return std::unique_ptr<PostgresPartitionCatalog>(new PostgresPartitionCatalog(std::move(config)));
}

absl::StatusOr<pg::Connection*> PostgresPartitionCatalog::Connection() {
  if (conn_ != nullptr && conn_->Usable()) return conn_.get();
  conn_.reset();
  pg::ConnectOptions options;
  options.conninfo = config_.conninfo;
  options.connect_timeout = config_.connect_timeout;
  options.statement_timeout = config_.statement_timeout;
  options.application_name = "streammetrics-partitions";
  ASSIGN_OR_RETURN(conn_, pg::Connection::Open(options, {}));
  return conn_.get();
}

absl::StatusOr<std::vector<pg::Result>> PostgresPartitionCatalog::Run(
    const std::vector<pg::Statement>& statements, absl::string_view context) {
  ASSIGN_OR_RETURN(pg::Connection * conn, Connection());
  pg::Error error;
  absl::StatusOr<std::vector<pg::Result>> results = conn->RunPipeline(statements, context, &error);
  if (!results.ok() && !conn->Rollback()) conn_.reset();
  return results;
}

absl::StatusOr<std::vector<DayPartition>> PostgresPartitionCatalog::List() {
  // regclass casts fail (42P01, FailedPrecondition) while the table is not partitioned yet.
  ASSIGN_OR_RETURN(
      std::vector<pg::Result> results,
      Run({Sql("SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
               "WHERE i.inhparent IN ('metrics.metric_aggregates_1m'::regclass, "
               "'metrics.metric_aggregates_5m'::regclass)")},
          "listing the partitions of metrics.metric_aggregates"));
  std::vector<DayPartition> out;
  const PGresult* r = results[0].get();
  for (int i = 0; i < PQntuples(r); ++i) {
    ASSIGN_OR_RETURN(std::string name, pg::Row(r, i).Bytes(0));
    if (std::optional<DayPartition> p = ParsePartitionName(name)) out.push_back(*p);
  }
  return out;
}

absl::StatusOr<std::vector<pg::Result>> PostgresPartitionCatalog::Transaction(
    std::vector<pg::Statement> body, absl::string_view context) {
  std::vector<pg::Statement> statements = {
      Sql("BEGIN"),
      Sql(absl::StrCat("SET LOCAL lock_timeout = ",
                       absl::ToInt64Milliseconds(config_.lock_timeout))),
      Sql(absl::StrCat("SELECT pg_advisory_xact_lock(", kPartitionLockKey, ")")),
  };
  const size_t first = statements.size();
  for (pg::Statement& s : body) statements.push_back(std::move(s));
  statements.push_back(Sql("COMMIT"));
  ASSIGN_OR_RETURN(std::vector<pg::Result> results, Run(statements, context));
  // The body's results only, in the body's order.
  return std::vector<pg::Result>(std::make_move_iterator(results.begin() + first),
                                 std::make_move_iterator(results.end() - 1));
}

absl::StatusOr<PartitionChanges> PostgresPartitionCatalog::Apply(const PartitionPlan& plan) {
  PartitionChanges changes;
  // Three transactions, each taking its locks in the order checkpoints take them (a size's table,
  // then one of its partitions) or none a checkpoint waits on while holding another: a purge, the
  // new days, the old days. One that fails leaves the earlier ones done; a later pass redoes the
  // rest.
  std::vector<pg::Statement> purges;
  for (v1::WindowSize size : kSizes) {
    const absl::Time before =
        size == v1::WINDOW_SIZE_1M ? plan.purge_1m_before : plan.purge_5m_before;
    if (before == absl::InfinitePast()) continue;
    purges.push_back(Sql(absl::StrCat("DELETE FROM ", Qualified(DefaultPartitionName(size)),
                                      " WHERE timestamp < ", TimeLiteral(before))));
  }
  if (!purges.empty()) {
    ASSIGN_OR_RETURN(std::vector<pg::Result> results,
                     Transaction(std::move(purges), "purging old rows of the default partitions"));
    for (const pg::Result& r : results) changes.rows_purged += AffectedRows(r);
  }

  // Each new day is built beside the table, filled with its rows from the default partition, then
  // attached: a plain CREATE ... PARTITION OF would fail while the default partition holds rows of
  // the day. The default partition is locked against writes first (EXCLUSIVE: reads go on), so no
  // row of the day lands there between the move and the ATTACH, which would fail on it; a
  // checkpoint writing to it waits, holding only its lock on the size's table, which ATTACH does
  // not wait for. Everything is skipped for a day that exists (made by another instance meanwhile).
  if (!plan.create.empty()) {
    std::vector<pg::Statement> body;
    std::vector<std::pair<size_t, size_t>> creates;  // per day: its "is it new" check, its move
    for (v1::WindowSize size : kSizes) {
      const bool any = std::any_of(plan.create.begin(), plan.create.end(),
                                   [size](const DayPartition& p) { return p.size == size; });
      if (any) {
        body.push_back(Sql(absl::StrCat("LOCK TABLE ", Qualified(DefaultPartitionName(size)),
                                        " IN EXCLUSIVE MODE")));
      }
    }
    for (const DayPartition& p : plan.create) {
      const std::string table = Qualified(PartitionName(p));
      const size_t check = body.size();
      body.push_back(Sql(absl::StrCat("SELECT to_regclass('", table, "') IS NULL")));
      body.push_back(Sql(absl::StrCat("CREATE TABLE IF NOT EXISTS ", table, " (LIKE ",
                                      Qualified(SizeTableName(p.size)),
                                      " INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")));
      creates.emplace_back(check, body.size());
      body.push_back(Sql(
          absl::StrCat("WITH moved AS (DELETE FROM ", Qualified(DefaultPartitionName(p.size)),
                       " WHERE timestamp >= ", TimeLiteral(p.day), " AND timestamp < ",
                       TimeLiteral(p.day + absl::Hours(24)),
                       " AND NOT EXISTS (SELECT 1 FROM pg_inherits ", "WHERE inhrelid = '", table,
                       "'::regclass) RETURNING *) INSERT INTO ", table, " SELECT * FROM moved")));
      body.push_back(Sql(
          absl::StrCat("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = '",
                       table, "'::regclass) THEN ALTER TABLE ", Qualified(SizeTableName(p.size)),
                       " ATTACH PARTITION ", table, " FOR VALUES FROM (", TimeLiteral(p.day),
                       ") TO (", TimeLiteral(p.day + absl::Hours(24)), "); END IF; END $$")));
    }
    ASSIGN_OR_RETURN(std::vector<pg::Result> results,
                     Transaction(std::move(body), "creating day partitions"));
    for (const auto& [check, move] : creates) {
      ASSIGN_OR_RETURN(bool created, pg::Row(results[check].get(), 0).Bool(0));
      changes.created += created ? 1 : 0;
      changes.rows_moved += AffectedRows(results[move]);
    }
  }

  // DROP takes an exclusive lock on the size's table, waiting (at most lock_timeout) for the
  // checkpoints that hold it; this transaction holds nothing they could wait for.
  if (!plan.drop.empty()) {
    std::vector<pg::Statement> body;
    for (const DayPartition& p : plan.drop) {
      // A missing table is skipped.
      body.push_back(
          Sql(absl::StrCat("SELECT to_regclass('", Qualified(PartitionName(p)), "') IS NOT NULL")));
      body.push_back(Sql(absl::StrCat("DROP TABLE IF EXISTS ", Qualified(PartitionName(p)))));
    }
    ASSIGN_OR_RETURN(std::vector<pg::Result> results,
                     Transaction(std::move(body), "dropping day partitions past the retention"));
    for (size_t i = 0; i < results.size(); i += 2) {
      ASSIGN_OR_RETURN(bool existed, pg::Row(results[i].get(), 0).Bool(0));
      changes.dropped += existed ? 1 : 0;
    }
  }
  return changes;
}

}  // namespace streammetrics::aggregation
