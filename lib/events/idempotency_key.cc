// Encodes the idempotency key of an event as Kafka record headers and decodes it back (see
// idempotency_key.h). Decoding is strict: the aggregation service deduplicates by these values, so
// anything but the exact text EncodeHeaders writes is refused rather than guessed at.
#include "lib/events/idempotency_key.h"

#include <limits>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "lib/common/status_macros.h"

namespace streammetrics::events {
namespace {

// Header values are quoted in error messages; longer ones are shortened so a record carrying
// garbage cannot flood the log.
constexpr size_t kMaxQuotedBytes = 64;

std::string Quote(absl::string_view value) {
  std::string quoted = absl::StrCat("\"", absl::CHexEscape(value.substr(0, kMaxQuotedBytes)), "\"");
  if (value.size() > kMaxQuotedBytes) absl::StrAppend(&quoted, "...");
  return quoted;
}

absl::StatusOr<absl::string_view> Require(HeaderLookup lookup, absl::string_view name) {
  std::optional<absl::string_view> value = lookup(name);
  if (!value.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("record header ", name, " is missing; the idempotency key needs ",
                     kHeaderClientId, ", ", kHeaderSequence, " and ", kHeaderEventIndex));
  }
  return *value;
}

// Parses a canonical decimal: one or more ASCII digits, no sign, no whitespace, no leading zero
// (except "0" itself), at most `max`. absl::SimpleAtoi is not used because it accepts "+1", " 1 "
// and "01": two different header texts would then decode to the same key, hiding a producer that
// does not follow the contract (and Java or kcat readers that compare text would disagree).
absl::StatusOr<uint64_t> ParseCanonicalDecimal(absl::string_view name, absl::string_view text,
                                               uint64_t max) {
  bool canonical = !text.empty() && (text.size() == 1 || text[0] != '0');
  for (char c : text) canonical = canonical && c >= '0' && c <= '9';
  if (!canonical) {
    return absl::InvalidArgumentError(
        absl::StrCat("record header ", name, " is ", Quote(text),
                     ", not a canonical decimal number (ASCII digits only: no sign, spaces, "
                     "prefix or leading zeros)"));
  }
  uint64_t value = 0;
  for (char c : text) {
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    // Checked before multiplying so the arithmetic itself never wraps.
    if (value > (max - digit) / 10) {
      return absl::InvalidArgumentError(absl::StrCat("record header ", name, " is ", Quote(text),
                                                     ", above the largest allowed value ", max));
    }
    value = value * 10 + digit;
  }
  return value;
}

}  // namespace

Headers EncodeHeaders(const IdempotencyKey& key, absl::string_view content_type) {
  return {
      {std::string(kHeaderContentType), std::string(content_type)},
      {std::string(kHeaderClientId), key.client_id},
      {std::string(kHeaderSequence), absl::StrCat(key.sequence)},
      {std::string(kHeaderEventIndex), absl::StrCat(key.event_index)},
  };
}

absl::Status DecodeHeaders(HeaderLookup lookup, IdempotencyKey* key) {
  ASSIGN_OR_RETURN(const absl::string_view client_id, Require(lookup, kHeaderClientId));
  if (client_id.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("record header ", kHeaderClientId,
                     " is empty; it must name the client that sent the event"));
  }
  key->client_id.assign(client_id.data(), client_id.size());

  ASSIGN_OR_RETURN(const absl::string_view sequence_text, Require(lookup, kHeaderSequence));
  ASSIGN_OR_RETURN(key->sequence, ParseCanonicalDecimal(kHeaderSequence, sequence_text,
                                                        std::numeric_limits<uint64_t>::max()));
  if (key->sequence == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("record header ", kHeaderSequence, " is 0; batch sequences start at 1"));
  }

  ASSIGN_OR_RETURN(const absl::string_view index_text, Require(lookup, kHeaderEventIndex));
  ASSIGN_OR_RETURN(
      const uint64_t index,
      ParseCanonicalDecimal(kHeaderEventIndex, index_text, std::numeric_limits<uint32_t>::max()));
  key->event_index = static_cast<uint32_t>(index);
  return absl::OkStatus();
}

absl::StatusOr<IdempotencyKey> DecodeHeaders(HeaderLookup lookup) {
  IdempotencyKey key;
  RETURN_IF_ERROR(DecodeHeaders(lookup, &key));
  return key;
}

std::optional<absl::string_view> LastHeader(const Headers& headers, absl::string_view name) {
  std::optional<absl::string_view> found;
  for (const auto& [k, v] : headers) {
    if (k == name) found = v;
  }
  return found;
}

}  // namespace streammetrics::events
