// CheckConninfo (lib/pg/connection.h): what parses is accepted, and a refusal never repeats the
// string it refused, which may hold a password. No server.
#include "lib/pg/connection.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace streammetrics::pg {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(CheckConninfoTest, UrlsAndKeyValueStringsParse) {
  EXPECT_TRUE(CheckConninfo("postgresql://streammetrics@127.0.0.1:5432/streammetrics").ok());
  EXPECT_TRUE(CheckConninfo("postgresql://u:p%40ss@db.example/metrics?sslmode=verify-full").ok());
  EXPECT_TRUE(CheckConninfo("host=127.0.0.1 port=5432 dbname=streammetrics user=u").ok());
  EXPECT_TRUE(CheckConninfo("").ok());  // libpq's defaults (PGHOST, PGUSER, ...)
}

TEST(CheckConninfoTest, ARefusalNamesTheFormatButNotTheString) {
  const std::string secret = "Sup3rSecretPassw0rd";
  for (const std::string& bad : {
           "postgresql://u:" + secret + "@host:5432/db?nosuchparam%zz=1",  // bad %-encoding
           "host=127.0.0.1 password " + secret,                            // missing '='
           "postgresql://u@host/db?" + secret + "=1",                      // unknown parameter
       }) {
    absl::Status s = CheckConninfo(bad);
    ASSERT_FALSE(s.ok()) << "accepted: " << bad;
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(s.message(), HasSubstr("does not parse"));
    EXPECT_THAT(std::string(s.message()), Not(HasSubstr(secret)));
  }
}

}  // namespace
}  // namespace streammetrics::pg
