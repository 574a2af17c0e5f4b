// SQLSTATE classes to status codes (PostgreSQL docs, appendix A "Error Codes").
#include "lib/pg/status.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace streammetrics::pg {

absl::StatusCode StatusCode(absl::string_view sqlstate) {
  if (sqlstate.empty()) return absl::StatusCode::kUnavailable;
  if (sqlstate == "55P03") return absl::StatusCode::kUnavailable;
  if (sqlstate == "XX001" || sqlstate == "XX002") return absl::StatusCode::kDataLoss;
  const absl::string_view klass = sqlstate.substr(0, 2);
  if (klass == "08" || klass == "40" || klass == "53" || klass == "57" || klass == "58") {
    return absl::StatusCode::kUnavailable;
  }
  if (klass == "22" || klass == "23" || klass == "54") return absl::StatusCode::kInvalidArgument;
  if (klass == "42" || klass == "3F") return absl::StatusCode::kFailedPrecondition;
  return absl::StatusCode::kInternal;
}

absl::Status ErrorStatus(absl::string_view sqlstate, absl::string_view message,
                         absl::string_view context) {
  std::string text =
      absl::StrCat("PostgreSQL ", context, ": ", absl::StripTrailingAsciiWhitespace(message));
  if (!sqlstate.empty()) absl::StrAppend(&text, " (SQLSTATE ", sqlstate, ")");
  return absl::Status(StatusCode(sqlstate), text);
}

}  // namespace streammetrics::pg
