// The PostgreSQL binary encodings (lib/pg/binary.h) round-trip exactly and match the server's
// formats at known points, and SQLSTATEs map to the status codes callers act on (lib/pg/status.h).
// No server: results are built with libpq's PQmakeEmptyPGresult.
#include <libpq-fe.h>

#include <cmath>
#include <limits>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/pg/binary.h"
#include "lib/pg/status.h"

namespace streammetrics::pg {
namespace {

using ::testing::HasSubstr;

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

// A one-row result whose columns hold `params`' encoded values (NULL where the param is NULL),
// as a server returns them in binary format.
Result AsRow(const Params& params) {
  Result r(PQmakeEmptyPGresult(nullptr, PGRES_TUPLES_OK));
  std::vector<PGresAttDesc> attrs(params.size());
  std::vector<std::string> names;
  for (int i = 0; i < params.size(); ++i) names.push_back("c" + std::to_string(i));
  for (int i = 0; i < params.size(); ++i) {
    attrs[i] = PGresAttDesc{};
    attrs[i].name = names[i].data();
    attrs[i].format = 1;
  }
  EXPECT_EQ(PQsetResultAttrs(r.get(), params.size(), attrs.data()), 1);
  const std::vector<const char*> values = params.Pointers();
  for (int i = 0; i < params.size(); ++i) {
    EXPECT_EQ(PQsetvalue(r.get(), 0, i, const_cast<char*>(values[i]),
                         values[i] == nullptr ? -1 : params.lengths()[i]),
              1);
  }
  return r;
}

TEST(PgBinaryTest, ValuesRoundTripExactly) {
  const absl::Time t = absl::FromUnixMicros(1'800'000'000'123'456);
  const absl::Time before_2000 = absl::FromUnixSeconds(-86400);
  Params params;
  params.Int32(-7)
      .Int64(std::numeric_limits<int64_t>::min() + 1)
      .Double(0.1 + 0.2)
      .Double(-0.0)
      .Bool(true)
      .Bool(false)
      .Bytes(std::string("a\0b\xff", 4))
      .Timestamp(t)
      .Timestamp(before_2000)
      .Timestamp(absl::InfinitePast())
      .Timestamp(absl::InfiniteFuture())
      .Null();
  Result r = AsRow(params);
  const Row row(r.get(), 0);
  EXPECT_EQ(*row.Int32(0), -7);
  EXPECT_EQ(*row.Int64(1), std::numeric_limits<int64_t>::min() + 1);
  EXPECT_EQ(*row.Double(2), 0.1 + 0.2);
  EXPECT_TRUE(std::signbit(*row.Double(3)));
  EXPECT_TRUE(*row.Bool(4));
  EXPECT_FALSE(*row.Bool(5));
  EXPECT_EQ(*row.Bytes(6), std::string("a\0b\xff", 4));
  EXPECT_EQ(*row.Timestamp(7), t);
  EXPECT_EQ(*row.Timestamp(8), before_2000);
  EXPECT_EQ(*row.Timestamp(9), absl::InfinitePast());
  EXPECT_EQ(*row.Timestamp(10), absl::InfiniteFuture());
  EXPECT_FALSE(row.NullableTimestamp(11)->has_value());
  EXPECT_FALSE(row.NullableInt64(11)->has_value());
}

TEST(PgBinaryTest, EncodingsMatchTheServersFormats) {
  Params params;
  // int8 is big-endian; timestamptz counts microseconds from 2000-01-01T00:00:00Z.
  params.Int64(0x0102030405060708).Timestamp(absl::FromUnixSeconds(946'684'800 + 1));
  EXPECT_EQ(std::string(params.Pointers()[0], 8), std::string("\1\2\3\4\5\6\7\x08", 8));
  EXPECT_EQ(std::string(params.Pointers()[1], 8), std::string("\0\0\0\0\0\x0f\x42\x40", 8));
  EXPECT_EQ(params.formats()[0], 1);
  // Text-format parameters are marked as such for the server to parse.
  params.Text("{1,2}");
  EXPECT_EQ(params.formats()[2], 0);
}

TEST(PgBinaryTest, ArraysFollowArraySendsLayout) {
  // array_send: ndim, has-nulls flag, element oid, then per dimension its length and lower
  // bound, then each element as a length and its bytes (each element encoded like a scalar).
  Array ints(pg::kInt4Oid);
  ints.Int32(1).Int32(-2);
  EXPECT_EQ(ints.size(), 2);
  EXPECT_EQ(ints.Encode(), std::string("\0\0\0\1"
                                       "\0\0\0\0"
                                       "\0\0\0\x17"
                                       "\0\0\0\2"
                                       "\0\0\0\1"
                                       "\0\0\0\4\0\0\0\1"
                                       "\0\0\0\4\xff\xff\xff\xfe",
                                       36));
  Array texts(pg::kTextOid);
  texts.Bytes("ab").Bytes("");
  EXPECT_EQ(texts.Encode().substr(20), std::string("\0\0\0\2ab\0\0\0\0", 10));
  Array empty(pg::kFloat8Oid);
  EXPECT_EQ(empty.Encode(), std::string("\0\0\0\1\0\0\0\0\0\0\x02\xbd\0\0\0\0\0\0\0\1", 20));

  // Elements are encoded exactly like the scalar parameters.
  const absl::Time t = absl::FromUnixMicros(1'800'000'000'123'456);
  Params scalars;
  scalars.Int64(-5).Double(0.1).Bool(true).Timestamp(t);
  const std::vector<std::pair<Array, int>> arrays = [&] {
    std::vector<std::pair<Array, int>> out;
    out.emplace_back(Array(pg::kInt8Oid), 0);
    out.back().first.Int64(-5);
    out.emplace_back(Array(pg::kFloat8Oid), 1);
    out.back().first.Double(0.1);
    out.emplace_back(Array(pg::kBoolOid), 2);
    out.back().first.Bool(true);
    out.emplace_back(Array(pg::kTimestamptzOid), 3);
    out.back().first.Timestamp(t);
    return out;
  }();
  for (const auto& [array, i] : arrays) {
    const std::string element = array.Encode().substr(24);
    EXPECT_EQ(element, std::string(scalars.Pointers()[i], scalars.lengths()[i])) << i;
  }
  Params params;
  params.Array(ints);
  EXPECT_EQ(params.formats()[0], 1);
  EXPECT_EQ(std::string(params.Pointers()[0], params.lengths()[0]), ints.Encode());
}

TEST(PgBinaryTest, SubMicrosecondsRoundTowardThePast) {
  Params params;
  params.Timestamp(absl::FromUnixNanos(1'800'000'000'000'000'999))
      .Timestamp(absl::FromUnixNanos(-1));
  Result r = AsRow(params);
  EXPECT_EQ(*Row(r.get(), 0).Timestamp(0), absl::FromUnixMicros(1'800'000'000'000'000));
  EXPECT_EQ(*Row(r.get(), 0).Timestamp(1), absl::FromUnixMicros(-1));
}

TEST(PgBinaryTest, WrongSizesAndNullsAreDataLossNamingTheColumn) {
  Params params;
  params.Int32(1).Null();
  Result r = AsRow(params);
  const Row row(r.get(), 0);
  absl::Status wrong = row.Int64(0).status();
  EXPECT_TRUE(absl::IsDataLoss(wrong)) << wrong;
  EXPECT_THAT(wrong.message(), HasSubstr("c0"));
  absl::Status null = row.Bytes(1).status();
  EXPECT_TRUE(absl::IsDataLoss(null)) << null;
  EXPECT_THAT(null.message(), HasSubstr("c1"));
  EXPECT_TRUE(absl::IsDataLoss(row.Timestamp(1).status()));
}

TEST(PgStatusTest, SqlstatesMapToWhatCallersActOn) {
  EXPECT_EQ(StatusCode(""), absl::StatusCode::kUnavailable);
  EXPECT_EQ(StatusCode("08006"), absl::StatusCode::kUnavailable);
  EXPECT_EQ(StatusCode("40001"), absl::StatusCode::kUnavailable);
  EXPECT_EQ(StatusCode("40P01"), absl::StatusCode::kUnavailable);
  EXPECT_EQ(StatusCode("57P01"), absl::StatusCode::kUnavailable);
  EXPECT_EQ(StatusCode("57014"), absl::StatusCode::kUnavailable);
  EXPECT_EQ(StatusCode("53300"), absl::StatusCode::kUnavailable);
  EXPECT_EQ(StatusCode("55P03"), absl::StatusCode::kUnavailable);
  EXPECT_EQ(StatusCode("22001"), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(StatusCode("22021"), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(StatusCode("23514"), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(StatusCode("54000"), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(StatusCode("42P01"), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(StatusCode("XX001"), absl::StatusCode::kDataLoss);
  EXPECT_EQ(StatusCode("XX000"), absl::StatusCode::kInternal);
  EXPECT_EQ(StatusCode("P0001"), absl::StatusCode::kInternal);
}

TEST(PgStatusTest, MessageCarriesContextAndSqlstate) {
  absl::Status s = ErrorStatus("22001", "ERROR:  value too long\n", "checkpoint");
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_EQ(s.message(), "PostgreSQL checkpoint: ERROR:  value too long (SQLSTATE 22001)");
}

}  // namespace
}  // namespace streammetrics::pg
