// libpq connection handling and pipelines (see connection.h).
#include "lib/pg/connection.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "lib/common/log.h"
#include "lib/pg/status.h"

namespace streammetrics::pg {
namespace {

// Server notices (warnings, and the error a server sends when it terminates an idle session) go
// to the structured log instead of libpq's default, a bare line on stderr.
void LogNotice(void* /*arg*/, const char* message) {
  SM_LOG(Warn, "postgres_notice").Kv("message", absl::StripTrailingAsciiWhitespace(message));
}

int64_t CeilMillis(absl::Duration d) {
  return std::max<int64_t>(1, absl::ToInt64Milliseconds(absl::Ceil(d, absl::Milliseconds(1))));
}

}  // namespace

absl::Status CheckConninfo(const std::string& conninfo) {
  char* parse_error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &parse_error);
  if (options != nullptr) {
    PQconninfoFree(options);
    return absl::OkStatus();
  }
  PQfreemem(parse_error);
  return absl::InvalidArgumentError(
      "the PostgreSQL URL does not parse (expected postgresql://user@host:port/dbname?param=value "
      "or key=value pairs; characters such as @ / : in a password must be percent-encoded)");
}

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(
    const ConnectOptions& options, const std::vector<StatementSpec>& statements) {
  const std::string connect_timeout = absl::StrCat(std::max<int64_t>(
      2, absl::ToInt64Seconds(absl::Ceil(options.connect_timeout, absl::Seconds(1)))));
  // dbname is expanded from the connection string first; the keywords after it override what
  // that string says about them.
  const char* keywords[] = {"dbname", "connect_timeout", "application_name", nullptr};
  const char* values[] = {options.conninfo.c_str(), connect_timeout.c_str(),
                          options.application_name.c_str(), nullptr};
  PGconn* raw = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  if (raw == nullptr) return absl::ResourceExhaustedError("libpq could not allocate a connection");
  std::unique_ptr<Connection> conn(new Connection(raw));
  if (PQstatus(raw) != CONNECTION_OK) return ErrorStatus("", PQerrorMessage(raw), "connect");
  PQsetNoticeProcessor(raw, &LogNotice, nullptr);

  // Binary timestamps are read and written as int64 microseconds (PostgreSQL 10+ knows nothing
  // else, but a server built otherwise would silently garble every window bound).
  const char* integer_datetimes = PQparameterStatus(raw, "integer_datetimes");
  if (integer_datetimes == nullptr || std::string(integer_datetimes) != "on") {
    return absl::FailedPreconditionError(
        "PostgreSQL server does not use 64-bit integer timestamps (integer_datetimes is off)");
  }
  const std::string set_timeout =
      absl::StrCat("SET statement_timeout = ", CeilMillis(options.statement_timeout));
  Result set(PQexec(raw, set_timeout.c_str()));
  if (PQresultStatus(set.get()) != PGRES_COMMAND_OK) {
    const char* sqlstate = PQresultErrorField(set.get(), PG_DIAG_SQLSTATE);
    return ErrorStatus(sqlstate == nullptr ? "" : sqlstate, PQerrorMessage(raw), "set timeout");
  }
  for (const StatementSpec& s : statements) {
    Result prepared(PQprepare(raw, s.name.c_str(), s.sql.c_str(),
                              static_cast<int>(s.param_types.size()), s.param_types.data()));
    if (PQresultStatus(prepared.get()) != PGRES_COMMAND_OK) {
      const char* sqlstate = PQresultErrorField(prepared.get(), PG_DIAG_SQLSTATE);
      return ErrorStatus(sqlstate == nullptr ? "" : sqlstate, PQerrorMessage(raw),
                         absl::StrCat("prepare ", s.name, " (is the schema migrated?)"));
    }
  }
  return conn;
}

Connection::~Connection() { PQfinish(conn_); }

bool Connection::Usable() {
  if (broken_ || PQstatus(conn_) != CONNECTION_OK) return false;
  // A terminated session sends an error, then closes. One read may return just the error (libpq
  // stops reading once it got data), so read again: the second read meets the end of the stream.
  // Each read returns at once when nothing is pending (the socket is non-blocking).
  for (int read = 0; read < 2; ++read) {
    if (PQconsumeInput(conn_) == 0 || PQstatus(conn_) != CONNECTION_OK) {
      broken_ = true;
      return false;
    }
  }
  if (PQtransactionStatus(conn_) != PQTRANS_IDLE) {
    broken_ = true;
    return false;
  }
  return true;
}

absl::Status Connection::Lost(absl::string_view context, Error* error) {
  broken_ = true;
  error->sqlstate.clear();
  error->message = PQerrorMessage(conn_);
  error->statement.reset();
  return ErrorStatus("", absl::StrCat("connection failed: ", error->message), context);
}

absl::StatusOr<std::vector<Result>> Connection::RunPipeline(
    const std::vector<Statement>& statements, absl::string_view context, Error* error) {
  *error = Error();
  if (broken_) return Lost(context, error);
  if (PQenterPipelineMode(conn_) != 1) return Lost(context, error);
  // Blocking sends cannot deadlock on a long pipeline: when the socket is full libpq reads (and
  // buffers) the server's results before writing on.
  for (const Statement& s : statements) {
    int sent;
    if (s.prepared.empty()) {
      sent = PQsendQueryParams(conn_, s.sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr,
                               /*resultFormat=*/1);
    } else {
      const std::vector<const char*> values = s.params.Pointers();
      sent = PQsendQueryPrepared(conn_, s.prepared.c_str(), s.params.size(), values.data(),
                                 s.params.lengths(), s.params.formats(), /*resultFormat=*/1);
    }
    if (sent != 1) return Lost(context, error);
  }
  if (PQpipelineSync(conn_) != 1) return Lost(context, error);

  std::vector<Result> results;
  results.reserve(statements.size());
  absl::Status failure;
  for (size_t i = 0; i < statements.size(); ++i) {
    Result result(PQgetResult(conn_));
    if (result == nullptr) return Lost(context, error);
    const ExecStatusType status = PQresultStatus(result.get());
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
      results.push_back(std::move(result));
    } else if (status != PGRES_PIPELINE_ABORTED && failure.ok()) {
      // The server skips every statement after a failed one until the sync
      // (PGRES_PIPELINE_ABORTED); the first failure is the one to report.
      const char* sqlstate = PQresultErrorField(result.get(), PG_DIAG_SQLSTATE);
      error->sqlstate = sqlstate == nullptr ? "" : sqlstate;
      error->message = PQresultErrorMessage(result.get());
      error->statement = i;
      failure =
          ErrorStatus(error->sqlstate, error->message,
                      absl::StrCat(context, " (statement ", i + 1, " of ", statements.size(), ")"));
    }
    if (PQstatus(conn_) != CONNECTION_OK) {
      // The server ended the session (terminated, shut down): the transaction is gone with it.
      broken_ = true;
      if (!failure.ok() && error->statement.has_value()) {
        return absl::UnavailableError(failure.message());
      }
      return Lost(context, error);
    }
    // Each statement's results end with a null before the next statement's begin.
    Result end(PQgetResult(conn_));
    if (end != nullptr) return Lost(context, error);
  }
  Result sync(PQgetResult(conn_));
  if (sync == nullptr || PQresultStatus(sync.get()) != PGRES_PIPELINE_SYNC) {
    return Lost(context, error);
  }
  if (PQexitPipelineMode(conn_) != 1) return Lost(context, error);
  if (!failure.ok()) return failure;
  return results;
}

bool Connection::ExecCommand(const char* sql) {
  Result result(PQexec(conn_, sql));
  return PQresultStatus(result.get()) == PGRES_COMMAND_OK;
}

bool Connection::Rollback() {
  if (broken_ || PQstatus(conn_) != CONNECTION_OK) {
    broken_ = true;
    return false;
  }
  const PGTransactionStatusType state = PQtransactionStatus(conn_);
  if (state == PQTRANS_IDLE) return true;
  if ((state != PQTRANS_INTRANS && state != PQTRANS_INERROR) || !ExecCommand("ROLLBACK")) {
    broken_ = true;
    return false;
  }
  return true;
}

}  // namespace streammetrics::pg
