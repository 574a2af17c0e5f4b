// Connection: one libpq connection with its session settings and prepared statements, and a way
// to run a batch of statements in one pipeline (libpq pipeline mode, client library 14+): every
// statement is sent before any result is read, so a batch costs one round trip, not one each.
//
// Not thread-safe: one caller at a time, like the PGconn it wraps. A connection that failed (lost,
// or left in a state this class cannot vouch for) reports !Usable() and is to be replaced, never
// reused.
#ifndef STREAMMETRICS_LIB_PG_CONNECTION_H_
#define STREAMMETRICS_LIB_PG_CONNECTION_H_

#include <libpq-fe.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "lib/pg/binary.h"

namespace streammetrics::pg {

struct ResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

struct ConnectOptions {
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

// A statement to prepare on every new connection. param_types are type oids (lib/pg/binary.h); each
// parameter is then sent in the encoding Params gives that type.
struct StatementSpec {
  std::string name;
  std::string sql;
  std::vector<Oid> param_types;
};

// One statement of a pipeline: the prepared statement `prepared` with `params`, or, when
// `prepared` is empty, `sql` without parameters (BEGIN, COMMIT). Results come in binary format.
struct Statement {
  std::string prepared;
  std::string sql;
  Params params;
};

// What a failed pipeline reported, for callers that refine the status (e.g. name a column).
struct Error {
  // Empty when the connection itself failed.
  std::string sqlstate;
  std::string message;
  // Index of the failed statement; nullopt when the connection failed.
  std::optional<size_t> statement;
};

// OK when `conninfo` parses as a libpq connection string or URL; otherwise InvalidArgument
// naming the usual mistakes but not libpq's detail, which quotes the string, password included.
absl::Status CheckConninfo(const std::string& conninfo);

class Connection {
 public:
  // Connects, sets statement_timeout and prepares `statements`. Fails with Unavailable when the
  // server cannot be reached or refuses the login, FailedPrecondition when a statement does not
  // prepare (the schema is not migrated) or the server does not use 64-bit integer timestamps.
  static absl::StatusOr<std::unique_ptr<Connection>> Open(
      const ConnectOptions& options, const std::vector<StatementSpec>& statements);

  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // True when the connection can take the next call: not failed, no transaction open, and not
  // closed by the server while idle (checked without blocking by reading what it sent, so a
  // session terminated between calls is noticed before a call is spent on it).
  bool Usable();

  // Sends every statement, then a sync, then collects the results: one per statement, in order,
  // each PGRES_COMMAND_OK or PGRES_TUPLES_OK. On failure returns ErrorStatus(...) of the first
  // error and fills `*error`; the statements after a failed one were skipped by the server, and an
  // open transaction is left failed for the caller to roll back. A lost connection fails with
  // Unavailable and leaves the connection !Usable(). `context` names the batch in messages.
  absl::StatusOr<std::vector<Result>> RunPipeline(const std::vector<Statement>& statements,
                                                  absl::string_view context, Error* error);

  // Rolls back the open transaction, if any. Returns false (and the connection is !Usable())
  // when that failed.
  bool Rollback();

 private:
  explicit Connection(PGconn* conn) : conn_(conn) {}
  absl::Status Lost(absl::string_view context, Error* error);
  bool ExecCommand(const char* sql);

  PGconn* conn_;
  bool broken_ = false;
};

}  // namespace streammetrics::pg

#endif  // STREAMMETRICS_LIB_PG_CONNECTION_H_
