// TokenAuthenticator: see token_authenticator.h.
#include "lib/security/token_authenticator.h"

#include <openssl/crypto.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "lib/common/log.h"

namespace streammetrics::security {
namespace {

// Longer than any token streammetrics-token mints (47 bytes) by far, short enough that hashing
// what a hostile client sends costs nothing.
constexpr size_t kMaxTokenBytes = 512;

absl::Status ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    std::string reason = absl::StrCat("cannot read the tokens file ", path, ": ", strerror(err));
    return err == EACCES ? absl::PermissionDeniedError(reason) : absl::NotFoundError(reason);
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  *out = buffer.str();
  return absl::OkStatus();
}

}  // namespace

absl::string_view AuthRefusalLabel(AuthRefusal refusal) {
  switch (refusal) {
    case AuthRefusal::kMissingToken:
      return "missing_token";
    case AuthRefusal::kMalformed:
      return "malformed";
    case AuthRefusal::kUnknownToken:
      return "unknown_token";
    case AuthRefusal::kWrongScope:
      return "wrong_scope";
  }
  return "unknown";
}

bool TokenAuthenticator::FileStamp::operator==(const FileStamp& o) const {
  return device == o.device && inode == o.inode && size == o.size &&
         modified.tv_sec == o.modified.tv_sec && modified.tv_nsec == o.modified.tv_nsec;
}

absl::StatusOr<std::unique_ptr<TokenAuthenticator>> TokenAuthenticator::Create(
    TokenAuthenticatorOptions options, const Clock* clock) {
  std::unique_ptr<TokenAuthenticator> auth(new TokenAuthenticator(std::move(options), clock));
  absl::MutexLock lock(&auth->check_mu_);
  absl::Status loaded = auth->Load();
  if (!loaded.ok()) return loaded;
  return auth;
}

TokenAuthenticator::TokenAuthenticator(TokenAuthenticatorOptions options, const Clock* clock)
    : options_(std::move(options)),
      clock_(clock),
      next_check_(clock->Now() + options_.recheck_interval),
      tokens_(std::make_shared<const std::vector<TokenEntry>>()) {}

absl::Status TokenAuthenticator::Load() {
  // Stat before reading: a change that lands between the two is seen at the next check.
  struct stat st {};
  if (stat(options_.tokens_file.c_str(), &st) != 0) {
    return absl::NotFoundError(
        absl::StrCat("cannot read the tokens file ", options_.tokens_file, ": ", strerror(errno)));
  }
  FileStamp stamp{st.st_dev, st.st_ino, st.st_size, st.st_mtim};
  std::string text;
  absl::Status read = ReadFile(options_.tokens_file, &text);
  if (!read.ok()) return read;
  absl::StatusOr<std::vector<TokenEntry>> parsed = ParseTokenFile(text);
  // The stamp is taken even on failure: a broken file is reported once, not every second.
  stamp_ = stamp;
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("tokens file ", options_.tokens_file, " ", parsed.status().message()));
  }
  auto tokens = std::make_shared<const std::vector<TokenEntry>>(*std::move(parsed));
  absl::MutexLock lock(&mu_);
  // A file that suddenly holds no token is far more often one caught while being rewritten in
  // place (truncated, not yet written) than a decision to lock everyone out.
  if (tokens->empty() && !tokens_->empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "tokens file ", options_.tokens_file,
        " now holds no token (rewritten in place? write a new file and rename it over the old "
        "one); to refuse every caller, restart the service with the empty file"));
  }
  tokens_ = std::move(tokens);
  return absl::OkStatus();
}

void TokenAuthenticator::MaybeReload() {
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_->Now();
    if (now < next_check_) return;
    next_check_ = now + options_.recheck_interval;
  }
  if (!check_mu_.TryLock()) return;  // another call is checking right now
  struct stat st {};
  bool changed = true;
  if (stat(options_.tokens_file.c_str(), &st) == 0) {
    changed = !(FileStamp{st.st_dev, st.st_ino, st.st_size, st.st_mtim} == stamp_);
  } else {
    changed = stamp_.size != -1;  // it was there at the last check: report once
    if (changed) stamp_ = FileStamp{};
  }
  if (changed) {
    absl::Status loaded = Load();
    size_t count = 0;
    {
      absl::MutexLock lock(&mu_);
      ++reloads_;
      if (!loaded.ok()) ++failed_reloads_;
      count = tokens_->size();
    }
    if (loaded.ok()) {
      SM_LOG(Info, "tokens_file_reloaded")
          .Kv("file", options_.tokens_file)
          .Kv("tokens", static_cast<uint64_t>(count));
    } else {
      SM_LOG(Error, "tokens_file_reload_failed_previous_tokens_kept")
          .Kv("status", loaded.ToString())
          .Kv("tokens_in_force", static_cast<uint64_t>(count));
    }
  }
  check_mu_.Unlock();
}

absl::StatusOr<std::string> TokenAuthenticator::Authenticate(
    std::optional<absl::string_view> authorization, Scope scope, AuthRefusal* refusal) {
  auto refuse = [refusal](AuthRefusal why, absl::Status status) {
    if (refusal != nullptr) *refusal = why;
    return status;
  };
  if (!authorization.has_value()) {
    return refuse(AuthRefusal::kMissingToken,
                  absl::UnauthenticatedError(absl::StrCat(
                      "this server requires a bearer token: send the metadata "
                      "\"authorization: Bearer <token>\" with a token that has the ",
                      ScopeName(scope), " scope (streammetrics-token new mints one)")));
  }
  absl::string_view value = absl::StripAsciiWhitespace(*authorization);
  constexpr absl::string_view kScheme = "bearer ";
  if (value.size() <= kScheme.size() ||
      !absl::EqualsIgnoreCase(value.substr(0, kScheme.size()), kScheme) ||
      value.size() > kScheme.size() + kMaxTokenBytes) {
    return refuse(AuthRefusal::kMalformed,
                  absl::UnauthenticatedError(
                      "the authorization metadata must be \"Bearer <token>\" (one space, a token "
                      "of at most 512 characters)"));
  }
  const Digest presented = Sha256(absl::StripLeadingAsciiWhitespace(value.substr(kScheme.size())));

  MaybeReload();
  std::shared_ptr<const std::vector<TokenEntry>> tokens;
  {
    absl::MutexLock lock(&mu_);
    tokens = tokens_;
  }
  // Every entry is compared, in constant time, and the loop never exits early: how long the
  // lookup takes says nothing about which bytes of which hash matched.
  const TokenEntry* match = nullptr;
  for (const TokenEntry& entry : *tokens) {
    const bool equal = CRYPTO_memcmp(entry.digest.data(), presented.data(), presented.size()) == 0;
    if (equal) match = &entry;
  }
  if (match == nullptr) {
    return refuse(AuthRefusal::kUnknownToken,
                  absl::UnauthenticatedError(
                      "the bearer token is not in this server's tokens file (mistyped, revoked, "
                      "or meant for another deployment): ask its operator for a valid token"));
  }
  if (!Allows(match->scopes, scope)) {
    return refuse(AuthRefusal::kWrongScope,
                  absl::PermissionDeniedError(absl::StrCat(
                      "the token of \"", match->name, "\" has the scopes ",
                      ScopesText(match->scopes), " but this service requires ", ScopeName(scope),
                      ": use a token with that scope, or add it to the token's line in the "
                      "tokens file")));
  }
  return match->name;
}

size_t TokenAuthenticator::token_count() const {
  absl::MutexLock lock(&mu_);
  return tokens_->size();
}

uint64_t TokenAuthenticator::failed_reloads() const {
  absl::MutexLock lock(&mu_);
  return failed_reloads_;
}

uint64_t TokenAuthenticator::reloads() const {
  absl::MutexLock lock(&mu_);
  return reloads_;
}

}  // namespace streammetrics::security
