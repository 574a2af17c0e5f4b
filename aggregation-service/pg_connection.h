// PgConnection: one libpq connection with its session settings and prepared statements, and a way
// to run a batch of statements in one pipeline (libpq pipeline mode, client library 14+): every
// statement is sent before any result is read, so a batch costs one round trip, not one each.
//
// Not thread-safe: one caller at a time, like the PGconn it wraps. A connection that failed (lost,
// or left in a state this class cannot vouch for) reports !Usable() and is to be replaced, never
// reused.
#ifndef STREAMMETRICS_AGGREGATION_SERVICE_PG_CONNECTION_H_
#define STREAMMETRICS_AGGREGATION_SERVICE_PG_CONNECTION_H_

#include <libpq-fe.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "aggregation-service/pg_binary.h"

namespace streammetrics::aggregation {

struct PgResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
using PgResult = std::unique_ptr<PGresult, PgResultDeleter>;

struct PgConnectOptions {
  // libpq connection string or URL.
  std::string conninfo;
  // Limit on establishing the connection; rounded up to whole seconds, at least 2 (libpq's
  // minimum).
  absl::Duration connect_timeout = absl::Seconds(10);
  // Session statement_timeout: a statement running longer is cancelled by the server.
  absl::Duration statement_timeout = absl::Seconds(30);
  // Shown in pg_stat_activity.
  std::string application_name = "streammetrics";
};

// A statement to prepare on every new connection. param_types are type oids (pg_binary.h); each
// parameter is then sent in the encoding PgParams gives that type.
struct PgStatementSpec {
  std::string name;
  std::string sql;
  std::vector<Oid> param_types;
};

// One statement of a pipeline: the prepared statement `prepared` with `params`, or, when
// `prepared` is empty, `sql` without parameters (BEGIN, COMMIT). Results come in binary format.
struct PgStatement {
  std::string prepared;
  std::string sql;
  PgParams params;
};

// What a failed pipeline reported, for callers that refine the status (e.g. name a column).
struct PgError {
  // Empty when the connection itself failed.
  std::string sqlstate;
  std::string message;
  // Index of the failed statement; nullopt when the connection failed.
  std::optional<size_t> statement;
};

class PgConnection {
 public:
  // Connects, sets statement_timeout and prepares `statements`. Fails with Unavailable when the
  // server cannot be reached or refuses the login, FailedPrecondition when a statement does not
  // prepare (the schema is not migrated) or the server does not use 64-bit integer timestamps.
  static absl::StatusOr<std::unique_ptr<PgConnection>> Open(
      const PgConnectOptions& options, const std::vector<PgStatementSpec>& statements);

  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // True when the connection can take the next call: not failed, no transaction open, and not
  // closed by the server while idle (checked without blocking by reading what it sent, so a
  // session terminated between calls is noticed before a call is spent on it).
  bool Usable();

  // Sends every statement, then a sync, then collects the results: one per statement, in order,
  // each PGRES_COMMAND_OK or PGRES_TUPLES_OK. On failure returns PgStatus(...) of the first error
  // and fills `*error`; the statements after a failed one were skipped by the server, and an
  // open transaction is left failed for the caller to roll back. A lost connection fails with
  // Unavailable and leaves the connection !Usable(). `context` names the batch in messages.
  absl::StatusOr<std::vector<PgResult>> RunPipeline(const std::vector<PgStatement>& statements,
                                                    absl::string_view context, PgError* error);

  // Rolls back the open transaction, if any. Returns false (and the connection is !Usable())
  // when that failed.
  bool Rollback();

 private:
  explicit PgConnection(PGconn* conn) : conn_(conn) {}
  absl::Status Lost(absl::string_view context, PgError* error);
  bool ExecCommand(const char* sql);

  PGconn* conn_;
  bool broken_ = false;
};

}  // namespace streammetrics::aggregation

#endif  // STREAMMETRICS_AGGREGATION_SERVICE_PG_CONNECTION_H_
