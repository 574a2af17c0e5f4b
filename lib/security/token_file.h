// Bearer tokens: the tokens file format, its parser, and the hashing both the file and the
// services use. Pure code, no I/O.
//
// A tokens file holds one token per line, as its SHA-256 and never the token itself, so a copy of
// the file (a backup, a ConfigMap, a support bundle) grants nothing:
//
//     # writer for the checkout fleet, minted 2026-12-04
//     3f1c...64 hex digits...9a  checkout-writer  ingest
//     a9b2...64 hex digits...0c  grafana          query
//     77de...64 hex digits...41  ops              ingest,query
//
// Fields are separated by spaces or tabs; `#` starts a comment (whole line or after the fields).
// The name is the caller's identity in logs, metrics labels and Kafka record headers. A name may
// appear on several lines: a rotation adds the new token under the same name, moves the clients
// over, then deletes the old line.
#ifndef STREAMMETRICS_LIB_SECURITY_TOKEN_FILE_H_
#define STREAMMETRICS_LIB_SECURITY_TOKEN_FILE_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace streammetrics::security {

// What a token allows. A service requires one scope of every call it authenticates.
enum class Scope : uint8_t {
  kIngest = 1,  // IngestService: write events
  kQuery = 2,   // QueryService: read windows and series
};
// A set of scopes as bits of Scope.
using ScopeSet = uint8_t;

inline bool Allows(ScopeSet set, Scope scope) { return (set & static_cast<uint8_t>(scope)) != 0; }
// "ingest" / "query".
absl::string_view ScopeName(Scope scope);
// "ingest,query" -> both bits. Fails with InvalidArgument naming an unknown or missing scope.
absl::StatusOr<ScopeSet> ParseScopes(absl::string_view csv);
// Both bits -> "ingest,query".
std::string ScopesText(ScopeSet set);

using Digest = std::array<uint8_t, 32>;

// SHA-256 of `data` (OpenSSL), raw and as 64 lowercase hex digits.
Digest Sha256(absl::string_view data);
std::string Sha256Hex(absl::string_view data);

struct TokenEntry {
  Digest digest{};
  std::string name;
  ScopeSet scopes = 0;
};

// A caller name: 1..64 bytes of [A-Za-z0-9._-], so it is safe as a log value, a Prometheus label
// and a Kafka header without escaping.
bool IsValidCallerName(absl::string_view name);

// Parses a whole tokens file. On success, every line's entry in file order (an empty file gives
// none: nobody is let in). Fails with InvalidArgument naming the line number and what is wrong
// (a hash that is not 64 hex digits, a bad name, an unknown scope, a hash given twice)
// and never quoting the hash.
absl::StatusOr<std::vector<TokenEntry>> ParseTokenFile(absl::string_view text);

// The line of a tokens file for a token: "<sha256 hex> <name> <scopes>".
std::string TokenFileLine(absl::string_view token, absl::string_view name, ScopeSet scopes);

}  // namespace streammetrics::security

#endif  // STREAMMETRICS_LIB_SECURITY_TOKEN_FILE_H_
