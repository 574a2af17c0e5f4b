// Encoding and decoding of PostgreSQL's binary formats (network byte order; timestamps as
// microseconds since 2000-01-01 UTC, with the int64 extremes meaning -infinity and infinity).
#include "lib/pg/binary.h"

#include <bit>
#include <limits>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "lib/common/status_macros.h"

namespace streammetrics::pg {
namespace {

// 2000-01-01T00:00:00Z, PostgreSQL's timestamp epoch, in Unix microseconds.
constexpr int64_t kPgEpochUnixMicros = 946'684'800'000'000;
constexpr int64_t kPgMinusInfinity = std::numeric_limits<int64_t>::min();
constexpr int64_t kPgInfinity = std::numeric_limits<int64_t>::max();

std::string BigEndian(uint64_t value, int bytes) {
  std::string out(bytes, '\0');
  for (int i = bytes - 1; i >= 0; --i) {
    out[i] = static_cast<char>(value & 0xff);
    value >>= 8;
  }
  return out;
}

uint64_t FromBigEndian(absl::string_view bytes) {
  uint64_t value = 0;
  for (char c : bytes) value = (value << 8) | static_cast<unsigned char>(c);
  return value;
}

int64_t Micros(absl::Time t) {
  if (t == absl::InfinitePast()) return kPgMinusInfinity;
  if (t == absl::InfiniteFuture()) return kPgInfinity;
  // ToUnixMicros saturates at the int64 extremes; keep the subtraction from overflowing, and
  // never produce a finite value that reads back as an infinity.
  const int64_t unix_micros = absl::ToUnixMicros(t);
  if (unix_micros <= kPgMinusInfinity + kPgEpochUnixMicros) return kPgMinusInfinity;
  if (unix_micros == std::numeric_limits<int64_t>::max()) return kPgInfinity;
  return unix_micros - kPgEpochUnixMicros;
}

absl::Time FromPgMicros(int64_t micros) {
  if (micros == kPgMinusInfinity) return absl::InfinitePast();
  if (micros == kPgInfinity) return absl::InfiniteFuture();
  return absl::FromUnixMicros(kPgEpochUnixMicros) + absl::Microseconds(micros);
}

std::string EncodeDouble(double value) { return BigEndian(std::bit_cast<uint64_t>(value), 8); }
std::string EncodeBool(bool value) { return std::string(1, value ? '\1' : '\0'); }
std::string EncodeTimestamp(absl::Time value) {
  return BigEndian(static_cast<uint64_t>(Micros(value)), 8);
}

}  // namespace

Array& Array::Add(absl::string_view bytes) {
  elements_ += BigEndian(bytes.size(), 4);
  elements_.append(bytes.data(), bytes.size());
  ++count_;
  return *this;
}

Array& Array::Int32(int32_t value) { return Add(BigEndian(static_cast<uint32_t>(value), 4)); }
Array& Array::Int64(int64_t value) { return Add(BigEndian(static_cast<uint64_t>(value), 8)); }
Array& Array::Double(double value) { return Add(EncodeDouble(value)); }
Array& Array::Bool(bool value) { return Add(EncodeBool(value)); }
Array& Array::Bytes(absl::string_view value) { return Add(value); }
Array& Array::Timestamp(absl::Time value) { return Add(EncodeTimestamp(value)); }

std::string Array::Encode() const {
  // ndim 1, no NULLs, element type, then the one dimension: length and lower bound 1.
  std::string out = BigEndian(1, 4) + BigEndian(0, 4) + BigEndian(element_type_, 4) +
                    BigEndian(static_cast<uint32_t>(count_), 4) + BigEndian(1, 4);
  return out + elements_;
}

Params& Params::Add(std::string bytes, int format) {
  lengths_.push_back(static_cast<int>(bytes.size()));
  values_.push_back(std::move(bytes));
  null_.push_back(false);
  formats_.push_back(format);
  return *this;
}

Params& Params::Int32(int32_t value) { return Add(BigEndian(static_cast<uint32_t>(value), 4), 1); }

Params& Params::Int64(int64_t value) { return Add(BigEndian(static_cast<uint64_t>(value), 8), 1); }

Params& Params::Double(double value) { return Add(EncodeDouble(value), 1); }

Params& Params::Bool(bool value) { return Add(EncodeBool(value), 1); }

Params& Params::Bytes(absl::string_view value) { return Add(std::string(value), 1); }

Params& Params::Timestamp(absl::Time value) { return Add(EncodeTimestamp(value), 1); }

Params& Params::Array(const pg::Array& array) { return Add(array.Encode(), 1); }

Params& Params::Null() {
  Add(std::string(), 1);
  null_.back() = true;
  return *this;
}

Params& Params::Text(absl::string_view value) { return Add(std::string(value), 0); }

std::vector<const char*> Params::Pointers() const {
  std::vector<const char*> pointers;
  pointers.reserve(values_.size());
  for (size_t i = 0; i < values_.size(); ++i) {
    pointers.push_back(null_[i] ? nullptr : values_[i].data());
  }
  return pointers;
}

absl::Status Row::Bad(int column, absl::string_view why) const {
  return absl::DataLossError(
      absl::StrCat("column ", PQfname(result_, column), " of row ", row_, ": ", why));
}

absl::StatusOr<absl::string_view> Row::Fixed(int column, int size) const {
  if (PQgetisnull(result_, row_, column)) return Bad(column, "NULL where a value is required");
  const int length = PQgetlength(result_, row_, column);
  if (length != size) {
    return Bad(column, absl::StrCat(length, " bytes in binary format, expected ", size));
  }
  return absl::string_view(PQgetvalue(result_, row_, column), size);
}

absl::StatusOr<int32_t> Row::Int32(int column) const {
  ASSIGN_OR_RETURN(absl::string_view bytes, Fixed(column, 4));
  return static_cast<int32_t>(static_cast<uint32_t>(FromBigEndian(bytes)));
}

absl::StatusOr<int64_t> Row::Int64(int column) const {
  ASSIGN_OR_RETURN(absl::string_view bytes, Fixed(column, 8));
  return static_cast<int64_t>(FromBigEndian(bytes));
}

absl::StatusOr<std::optional<int64_t>> Row::NullableInt64(int column) const {
  if (PQgetisnull(result_, row_, column)) return std::optional<int64_t>();
  ASSIGN_OR_RETURN(int64_t value, Int64(column));
  return std::optional<int64_t>(value);
}

absl::StatusOr<double> Row::Double(int column) const {
  ASSIGN_OR_RETURN(absl::string_view bytes, Fixed(column, 8));
  return std::bit_cast<double>(FromBigEndian(bytes));
}

absl::StatusOr<bool> Row::Bool(int column) const {
  ASSIGN_OR_RETURN(absl::string_view bytes, Fixed(column, 1));
  return bytes[0] != '\0';
}

absl::StatusOr<std::string> Row::Bytes(int column) const {
  if (PQgetisnull(result_, row_, column)) return Bad(column, "NULL where a value is required");
  return std::string(PQgetvalue(result_, row_, column), PQgetlength(result_, row_, column));
}

absl::StatusOr<std::optional<absl::Time>> Row::NullableTimestamp(int column) const {
  if (PQgetisnull(result_, row_, column)) return std::optional<absl::Time>();
  ASSIGN_OR_RETURN(absl::string_view bytes, Fixed(column, 8));
  return std::optional<absl::Time>(FromPgMicros(static_cast<int64_t>(FromBigEndian(bytes))));
}

absl::StatusOr<absl::Time> Row::Timestamp(int column) const {
  ASSIGN_OR_RETURN(std::optional<absl::Time> t, NullableTimestamp(column));
  if (!t.has_value()) return Bad(column, "NULL where a value is required");
  return *t;
}

}  // namespace streammetrics::pg
