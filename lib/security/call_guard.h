// CallGuard: the door of every StreamMetrics RPC. A service asks it, when a call starts, who the
// caller is and whether it may use the service; the answer is the caller's name, or the status
// to end the call with. gRPC's health service and server reflection are not ours and never ask,
// so probes and grpcurl's `list`/`describe` work without a token.
//
// Identity: the bearer token's name when a tokens file is configured; otherwise the common name
// of a verified client certificate (mutual TLS); otherwise "anonymous".
//
// Why here and not in a grpc::AuthMetadataProcessor: gRPC 1.51 aborts the process when a
// processor is set on plaintext credentials, and a processor sees neither the method nor the
// service, so it could not tell a health probe from a query.
#ifndef STREAMMETRICS_LIB_SECURITY_CALL_GUARD_H_
#define STREAMMETRICS_LIB_SECURITY_CALL_GUARD_H_

#include <array>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/server_context.h"
#include "lib/common/log_throttle.h"
#include "lib/security/server_security.h"
#include "lib/security/token_authenticator.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace streammetrics::security {

class CallGuard {
 public:
  // `tokens` null: no token is asked for. Registers streammetrics_auth_* in `registry`.
  CallGuard(std::unique_ptr<TokenAuthenticator> tokens, prometheus::Registry& registry);

  // The guard a service's settings ask for: with the tokens file when one is set. Fails as
  // TokenAuthenticator::Create does.
  static absl::StatusOr<std::unique_ptr<CallGuard>> Create(const ServerSecurityConfig& config,
                                                           prometheus::Registry& registry);

  // On success the caller's name. Fails with Unauthenticated or PermissionDenied (see
  // TokenAuthenticator::Authenticate); each refusal is counted by reason and logged (at most a
  // line a second, with how many were not logged, so a flood cannot fill the disk).
  absl::StatusOr<std::string> Admit(const grpc::ServerContextBase& context, Scope scope);

  bool tokens_required() const { return tokens_ != nullptr; }
  double refused(AuthRefusal reason) const {
    return refused_[static_cast<size_t>(reason)]->Value();
  }

 private:
  void LogRefusal(const grpc::ServerContextBase& context, AuthRefusal reason,
                  const absl::Status& status);

  std::unique_ptr<TokenAuthenticator> tokens_;
  std::array<prometheus::Counter*, 4> refused_{};
  prometheus::Gauge* tokens_in_force_ = nullptr;
  prometheus::Gauge* failed_reloads_ = nullptr;

  LogThrottle log_throttle_;
};

}  // namespace streammetrics::security

#endif  // STREAMMETRICS_LIB_SECURITY_CALL_GUARD_H_
