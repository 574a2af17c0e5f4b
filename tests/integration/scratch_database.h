// ScratchDatabase: a database of its own on the local stack's PostgreSQL server, for tests that
// change what other tests share (the partitions of metrics.metric_aggregates, the migrations
// themselves): created empty, given the migrations a test asks for, dropped afterwards.
#ifndef STREAMMETRICS_TESTS_INTEGRATION_SCRATCH_DATABASE_H_
#define STREAMMETRICS_TESTS_INTEGRATION_SCRATCH_DATABASE_H_

#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/integration/pg_test_util.h"
#include "tests/support/stack.h"

namespace streammetrics::testing {

// Every migration file, in order, as deploy/migrate.sh applies them.
inline const std::vector<std::string>& AllMigrations() {
  static const std::vector<std::string> all = {
      "0001_initial.sql", "0002_aggregation_checkpoints.sql", "0003_series_catalog.sql",
      "0004_partitioned_aggregates.sql"};
  return all;
}

class ScratchDatabase {
 public:
  // Creates the database (named after `stem`, the process and a counter, so parallel tests never
  // share one). Check ok() before use.
  explicit ScratchDatabase(const std::string& stem) {
    static std::atomic<int> counter{0};
    name_ = absl::StrCat("sm_scratch_", stem, "_", getpid(), "_", counter++);
    admin_.reset(PQconnectdb(PostgresUrl().c_str()));
    if (PQstatus(admin_.get()) != CONNECTION_OK) {
      error_ = PQerrorMessage(admin_.get());
      return;
    }
    if (!Exec(admin_.get(), absl::StrCat("DROP DATABASE IF EXISTS ", name_, " WITH (FORCE)")) ||
        !Exec(admin_.get(), absl::StrCat("CREATE DATABASE ", name_))) {
      return;
    }
    conn_.reset(PQconnectdb(url().c_str()));
    if (PQstatus(conn_.get()) != CONNECTION_OK) error_ = PQerrorMessage(conn_.get());
  }
  ~ScratchDatabase() {
    conn_.reset();
    if (admin_ != nullptr && PQstatus(admin_.get()) == CONNECTION_OK) {
      Exec(admin_.get(), absl::StrCat("DROP DATABASE IF EXISTS ", name_, " WITH (FORCE)"));
    }
  }

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  PGconn* conn() { return conn_.get(); }

  // The stack's URL with this database's name in its path.
  std::string url() const {
    const std::string base = PostgresUrl();
    const size_t query = base.find('?');
    const std::string path = base.substr(0, query);
    const size_t slash = path.rfind('/');
    const size_t authority = path.find("://");
    const std::string server =
        slash != std::string::npos && authority != std::string::npos && slash > authority + 2
            ? path.substr(0, slash)
            : path;
    return absl::StrCat(server, "/", name_, query == std::string::npos ? "" : base.substr(query));
  }

  // Applies deploy/migrations/<file>, each in a transaction as deploy/migrate.sh does. False
  // (with error()) when one fails.
  bool Migrate(const std::vector<std::string>& files) {
    for (const std::string& file : files) {
      std::ifstream in(SourcePath("deploy/migrations/" + file));
      std::stringstream sql;
      sql << in.rdbuf();
      if (sql.str().empty()) {
        error_ = "cannot read " + file;
        return false;
      }
      if (!Exec(conn_.get(), "BEGIN;\n" + sql.str() + "\nCOMMIT;")) return false;
    }
    return true;
  }

  // Runs `sql` (one or more statements); false (with error()) when it fails.
  bool Exec(PGconn* conn, const std::string& sql) {
    PgResultPtr r(PQexec(conn, sql.c_str()));
    const ExecStatusType status = PQresultStatus(r.get());
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return true;
    error_ = absl::StrCat(PQerrorMessage(conn), " in: ", sql.substr(0, 200));
    return false;
  }

  // Every row of `sql` in this database, its columns joined by '|' (PgRows).
  std::vector<std::string> Rows(const std::string& sql) { return PgRows(conn_.get(), sql); }

 private:
  std::string name_;
  std::string error_;
  PgConnPtr admin_;
  PgConnPtr conn_;
};

}  // namespace streammetrics::testing

#endif  // STREAMMETRICS_TESTS_INTEGRATION_SCRATCH_DATABASE_H_
