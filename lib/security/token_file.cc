// Tokens file parsing and hashing: see token_file.h.
#include "lib/security/token_file.h"

#include <openssl/evp.h>

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace streammetrics::security {
namespace {

constexpr Scope kAllScopes[] = {Scope::kIngest, Scope::kQuery};

bool IsHex(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

absl::string_view ScopeName(Scope scope) {
  switch (scope) {
    case Scope::kIngest:
      return "ingest";
    case Scope::kQuery:
      return "query";
  }
  return "unknown";
}

absl::StatusOr<ScopeSet> ParseScopes(absl::string_view csv) {
  ScopeSet set = 0;
  for (absl::string_view part : absl::StrSplit(csv, ',')) {
    part = absl::StripAsciiWhitespace(part);
    bool known = false;
    for (Scope scope : kAllScopes) {
      if (part == ScopeName(scope)) {
        set |= static_cast<uint8_t>(scope);
        known = true;
      }
    }
    if (!known) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown scope \"", absl::CHexEscape(part), "\": scopes are ingest, query"));
    }
  }
  return set;
}

std::string ScopesText(ScopeSet set) {
  std::string out;
  for (Scope scope : kAllScopes) {
    if (Allows(set, scope)) absl::StrAppend(&out, out.empty() ? "" : ",", ScopeName(scope));
  }
  return out;
}

Digest Sha256(absl::string_view data) {
  Digest digest{};
  unsigned int size = 0;
  // EVP_Digest with SHA-256 cannot fail for in-memory input short of memory exhaustion, which
  // OpenSSL reports by aborting in its allocator anyway.
  EVP_Digest(data.data(), data.size(), digest.data(), &size, EVP_sha256(), nullptr);
  return digest;
}

std::string Sha256Hex(absl::string_view data) {
  const Digest d = Sha256(data);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
}

bool IsValidCallerName(absl::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return false;
    }
  }
  return true;
}

absl::StatusOr<std::vector<TokenEntry>> ParseTokenFile(absl::string_view text) {
  std::vector<TokenEntry> entries;
  std::set<Digest> digests;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    if (size_t hash = line.find('#'); hash != absl::string_view::npos) line = line.substr(0, hash);
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
    if (fields.empty()) continue;
    auto error = [line_number](absl::string_view what) {
      return absl::InvalidArgumentError(absl::StrCat("line ", line_number, ": ", what));
    };
    if (fields.size() != 3) {
      return error(absl::StrCat("expected \"<sha256 hex> <name> <scope>[,<scope>]\", found ",
                                fields.size(), " fields"));
    }
    if (fields[0].size() != 64 || !IsHex(fields[0])) {
      return error(
          "the first field must be the token's SHA-256 as 64 hex digits (streammetrics-token "
          "hash prints it), not the token itself");
    }
    TokenEntry entry;
    const std::string raw = absl::HexStringToBytes(absl::AsciiStrToLower(fields[0]));
    std::copy(raw.begin(), raw.end(), entry.digest.begin());
    if (!IsValidCallerName(fields[1])) {
      return error(absl::StrCat("the name \"", absl::CHexEscape(fields[1]),
                                "\" must be 1 to 64 characters of A-Z a-z 0-9 . _ -"));
    }
    entry.name = std::string(fields[1]);
    absl::StatusOr<ScopeSet> scopes = ParseScopes(fields[2]);
    if (!scopes.ok()) return error(scopes.status().message());
    entry.scopes = *scopes;
    if (!digests.insert(entry.digest).second) {
      return error("this hash appears on an earlier line: each token has one line");
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

std::string TokenFileLine(absl::string_view token, absl::string_view name, ScopeSet scopes) {
  return absl::StrCat(Sha256Hex(token), " ", name, " ", ScopesText(scopes));
}

}  // namespace streammetrics::security
