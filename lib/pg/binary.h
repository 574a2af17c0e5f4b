// PostgreSQL's binary wire format for the few types the aggregate store exchanges: parameters to
// send (Params) and fields of results requested in binary (Row).
//
// Binary rather than text so doubles and timestamps cross exactly (no decimal round trip, no
// session time zone) and sketches and keys go as raw bytes without bytea escaping. Each
// parameter's encoding must match the type the statement declares for it (PQprepare's
// paramTypes), which the Oid constants below name.
#ifndef STREAMMETRICS_LIB_PG_BINARY_H_
#define STREAMMETRICS_LIB_PG_BINARY_H_

#include <libpq-fe.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace streammetrics::pg {

// Type oids from PostgreSQL's pg_type.dat (stable across versions).
inline constexpr Oid kBoolOid = 16;
inline constexpr Oid kByteaOid = 17;
inline constexpr Oid kInt8Oid = 20;
inline constexpr Oid kInt4Oid = 23;
inline constexpr Oid kTextOid = 25;
inline constexpr Oid kFloat8Oid = 701;
inline constexpr Oid kInt8ArrayOid = 1016;
inline constexpr Oid kTimestamptzOid = 1184;
inline constexpr Oid kJsonbOid = 3802;
// Array types, for Array parameters (element type in the comment).
inline constexpr Oid kBoolArrayOid = 1000;         // bool
inline constexpr Oid kByteaArrayOid = 1001;        // bytea
inline constexpr Oid kInt4ArrayOid = 1007;         // int4
inline constexpr Oid kTextArrayOid = 1009;         // text
inline constexpr Oid kFloat8ArrayOid = 1022;       // float8
inline constexpr Oid kTimestamptzArrayOid = 1185;  // timestamptz

// A one-dimensional array parameter without NULLs in binary format, built element by element,
// each encoded like the Params method of the same name. Lets one statement carry thousands of
// rows (INSERT ... SELECT FROM unnest($1, $2, ...)), which PostgreSQL executes as one set-based
// write instead of one statement per row. The element type must be the one the statement
// declares for the array ($1::int8[] takes an Array(kInt8Oid)): the server checks it.
class Array {
 public:
  explicit Array(Oid element_type) : element_type_(element_type) {}

  Array& Int32(int32_t value);
  Array& Int64(int64_t value);
  Array& Double(double value);
  Array& Bool(bool value);
  Array& Bytes(absl::string_view value);
  Array& Timestamp(absl::Time value);

  int size() const { return count_; }
  // The array in the wire format: header, dimension, then each element's length and bytes.
  std::string Encode() const;

 private:
  Array& Add(absl::string_view bytes);

  Oid element_type_;
  int count_ = 0;
  std::string elements_;
};

// The parameters of one statement, in order ($1, $2, ...).
class Params {
 public:
  // int4 / int8 / float8 / bool.
  Params& Int32(int32_t value);
  Params& Int64(int64_t value);
  Params& Double(double value);
  Params& Bool(bool value);
  // bytea, text or varchar: the bytes as they are.
  Params& Bytes(absl::string_view value);
  // timestamptz, to the microsecond (sub-microsecond parts are dropped, rounding toward the past);
  // absl::InfinitePast()/InfiniteFuture() become -infinity/infinity, as do times beyond the range
  // of a 64-bit microsecond count.
  Params& Timestamp(absl::Time value);
  // An array (binary format).
  Params& Array(const pg::Array& array);
  // SQL NULL.
  Params& Null();
  // A value in PostgreSQL's text format, parsed by the server as the declared type: for types
  // whose binary format is awkward (jsonb, arrays).
  Params& Text(absl::string_view value);

  int size() const { return static_cast<int>(values_.size()); }
  // For PQsendQueryPrepared. The pointers stay valid while this object is alive and unchanged.
  std::vector<const char*> Pointers() const;
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }

 private:
  Params& Add(std::string bytes, int format);

  std::vector<std::string> values_;
  std::vector<bool> null_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
};

// Binary-format fields of one row of a result. Every getter fails with DataLoss naming the column
// and row when the field has an unexpected size, or is NULL where a value is required.
class Row {
 public:
  // Precondition: `result` outlives the row and holds row `row`.
  Row(const PGresult* result, int row) : result_(result), row_(row) {}

  absl::StatusOr<int32_t> Int32(int column) const;
  absl::StatusOr<int64_t> Int64(int column) const;
  // NULL gives nullopt.
  absl::StatusOr<std::optional<int64_t>> NullableInt64(int column) const;
  absl::StatusOr<double> Double(int column) const;
  absl::StatusOr<bool> Bool(int column) const;
  // bytea, text or varchar.
  absl::StatusOr<std::string> Bytes(int column) const;
  // timestamptz; -infinity/infinity give absl::InfinitePast()/InfiniteFuture(), NULL nullopt.
  absl::StatusOr<std::optional<absl::Time>> NullableTimestamp(int column) const;
  absl::StatusOr<absl::Time> Timestamp(int column) const;

 private:
  absl::StatusOr<absl::string_view> Fixed(int column, int size) const;
  absl::Status Bad(int column, absl::string_view why) const;

  const PGresult* result_;
  int row_;
};

}  // namespace streammetrics::pg

#endif  // STREAMMETRICS_LIB_PG_BINARY_H_
