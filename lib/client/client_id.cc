#include "lib/client/client_id.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace streammetrics::client {

absl::Status ValidateClientId(absl::string_view client_id) {
  if (client_id.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("client_id is empty; it is required (1 to ", kMaxClientIdBytes, " bytes)"));
  }
  if (std::all_of(client_id.begin(), client_id.end(),
                  [](char c) { return absl::ascii_isspace(static_cast<unsigned char>(c)); })) {
    return absl::InvalidArgumentError("client_id is only whitespace");
  }
  if (client_id.size() > kMaxClientIdBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "client_id is ", client_id.size(), " bytes long; the limit is ", kMaxClientIdBytes));
  }
  for (size_t i = 0; i < client_id.size(); ++i) {
    const auto byte = static_cast<unsigned char>(client_id[i]);
    if (byte < 0x20 || byte == 0x7F) {
      return absl::InvalidArgumentError(
          absl::StrFormat("client_id contains control character 0x%02X at byte %d", byte, i));
    }
  }
  return absl::OkStatus();
}

}  // namespace streammetrics::client
