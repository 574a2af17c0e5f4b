// TokenAuthenticator: decides who a call's bearer token belongs to and whether it may use a
// service, from a tokens file (token_file.h) that it re-reads when the file changes on disk.
//
// Re-reading: at most once per `recheck_interval`, the first call after it stats the file (size,
// modification time, inode, so a symlink or directory swap counts) and parses it again if any
// changed. A file that no longer parses, or cannot be read, keeps the previous tokens in force,
// logs an error naming the line, and counts a failed reload: a typo during rotation must not lock
// every client out, and must not go unnoticed either.
//
// Thread-safe; Authenticate never blocks on I/O for longer than one stat and, after a change, one
// read of a small file.
#ifndef STREAMMETRICS_LIB_SECURITY_TOKEN_AUTHENTICATOR_H_
#define STREAMMETRICS_LIB_SECURITY_TOKEN_AUTHENTICATOR_H_

#include <sys/stat.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "lib/common/clock.h"
#include "lib/security/token_file.h"

namespace streammetrics::security {

// Why a call was refused; a label of streammetrics_auth_refused_total.
enum class AuthRefusal {
  kMissingToken,  // no authorization header
  kMalformed,     // not "Bearer <token>", or an absurd length
  kUnknownToken,  // no line of the tokens file has its hash
  kWrongScope,    // a known token without the service's scope
};
absl::string_view AuthRefusalLabel(AuthRefusal refusal);

struct TokenAuthenticatorOptions {
  std::string tokens_file;
  // How often the file is checked for changes (on the next call after the interval).
  absl::Duration recheck_interval = absl::Seconds(1);
};

class TokenAuthenticator {
 public:
  // Reads and parses the tokens file. Fails with NotFound / PermissionDenied when it cannot be
  // read and InvalidArgument (naming the file and line) when it does not parse.
  static absl::StatusOr<std::unique_ptr<TokenAuthenticator>> Create(
      TokenAuthenticatorOptions options, const Clock* clock);

  // `authorization` is the value of the call's authorization header, nullopt without one.
  // On success, the name of the token's line. Fails with Unauthenticated (missing, malformed or
  // unknown token) or PermissionDenied (the token lacks `scope`), with a message a person can act
  // on that never quotes the token; `refusal`, when not null, is set to why.
  absl::StatusOr<std::string> Authenticate(std::optional<absl::string_view> authorization,
                                           Scope scope, AuthRefusal* refusal = nullptr);

  // Tokens in force, and reloads that failed since start (tests and /metrics).
  size_t token_count() const;
  uint64_t failed_reloads() const;
  uint64_t reloads() const;

 private:
  struct FileStamp {
    dev_t device = 0;
    ino_t inode = 0;
    off_t size = -1;
    timespec modified{};
    bool operator==(const FileStamp& o) const;
  };

  TokenAuthenticator(TokenAuthenticatorOptions options, const Clock* clock);
  // Reads, parses and installs the file. On failure the previous tokens stay in force.
  absl::Status Load() ABSL_EXCLUSIVE_LOCKS_REQUIRED(check_mu_);
  void MaybeReload();

  const TokenAuthenticatorOptions options_;
  const Clock* const clock_;

  // Held by the one call that checks the file; others skip the check rather than wait.
  absl::Mutex check_mu_;
  FileStamp stamp_ ABSL_GUARDED_BY(check_mu_);

  mutable absl::Mutex mu_;
  absl::Time next_check_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const std::vector<TokenEntry>> tokens_ ABSL_GUARDED_BY(mu_);
  uint64_t reloads_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t failed_reloads_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace streammetrics::security

#endif  // STREAMMETRICS_LIB_SECURITY_TOKEN_AUTHENTICATOR_H_
