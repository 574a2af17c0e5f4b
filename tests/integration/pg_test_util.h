// What integration tests use to look into PostgreSQL directly: libpq handles owned by
// std::unique_ptr, and the rows of a query as text.
#ifndef STREAMMETRICS_TESTS_INTEGRATION_PG_TEST_UTIL_H_
#define STREAMMETRICS_TESTS_INTEGRATION_PG_TEST_UTIL_H_

#include <libpq-fe.h>

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace streammetrics::testing {

struct PgConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct PgResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgConnPtr = std::unique_ptr<PGconn, PgConnDeleter>;
using PgResultPtr = std::unique_ptr<PGresult, PgResultDeleter>;

// Every row of `sql` (no parameters), its columns joined by '|'. A query that fails is a test
// failure (naming the query), and no rows.
inline std::vector<std::string> PgRows(PGconn* conn, const std::string& sql) {
  PgResultPtr r(PQexec(conn, sql.c_str()));
  EXPECT_EQ(PQresultStatus(r.get()), PGRES_TUPLES_OK) << PQerrorMessage(conn) << sql;
  std::vector<std::string> rows;
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    std::string row;
    for (int j = 0; j < PQnfields(r.get()); ++j) {
      if (j > 0) row += "|";
      row += PQgetvalue(r.get(), i, j);
    }
    rows.push_back(row);
  }
  return rows;
}

}  // namespace streammetrics::testing

#endif  // STREAMMETRICS_TESTS_INTEGRATION_PG_TEST_UTIL_H_
