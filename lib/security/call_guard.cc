// CallGuard: see call_guard.h.
#include "lib/security/call_guard.h"

#include <optional>
#include <utility>

#include "grpcpp/security/auth_context.h"
#include "lib/common/log.h"

namespace streammetrics::security {
namespace {

constexpr AuthRefusal kRefusals[] = {AuthRefusal::kMissingToken, AuthRefusal::kMalformed,
                                     AuthRefusal::kUnknownToken, AuthRefusal::kWrongScope};

std::optional<absl::string_view> AuthorizationOf(const grpc::ServerContextBase& context) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) return std::nullopt;
  return absl::string_view(it->second.data(), it->second.size());
}

// The verified client certificate's common name, when it is a valid caller name.
std::optional<std::string> CertificateName(const grpc::ServerContextBase& context) {
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr || !auth->IsPeerAuthenticated()) return std::nullopt;
  for (const grpc::string_ref& cn : auth->FindPropertyValues("x509_common_name")) {
    absl::string_view name(cn.data(), cn.size());
    if (IsValidCallerName(name)) return std::string(name);
  }
  return std::nullopt;
}

}  // namespace

CallGuard::CallGuard(std::unique_ptr<TokenAuthenticator> tokens, prometheus::Registry& registry)
    : tokens_(std::move(tokens)) {
  auto& refused = prometheus::BuildCounter()
                      .Name("streammetrics_auth_refused_total")
                      .Help(
                          "Calls refused before any work, by reason: missing_token, malformed, "
                          "unknown_token (UNAUTHENTICATED), wrong_scope (PERMISSION_DENIED).")
                      .Register(registry);
  for (AuthRefusal reason : kRefusals) {
    refused_[static_cast<size_t>(reason)] =
        &refused.Add({{"reason", std::string(AuthRefusalLabel(reason))}});
  }
  tokens_in_force_ = &prometheus::BuildGauge()
                          .Name("streammetrics_auth_tokens")
                          .Help("Tokens in force from the tokens file (0 without one).")
                          .Register(registry)
                          .Add({});
  failed_reloads_ = &prometheus::BuildGauge()
                         .Name("streammetrics_auth_tokens_file_failed_reloads")
                         .Help(
                             "Times the changed tokens file could not be read or parsed since "
                             "start; the previous tokens stayed in force. Alert when it rises.")
                         .Register(registry)
                         .Add({});
  if (tokens_ != nullptr) tokens_in_force_->Set(static_cast<double>(tokens_->token_count()));
}

absl::StatusOr<std::unique_ptr<CallGuard>> CallGuard::Create(const ServerSecurityConfig& config,
                                                             prometheus::Registry& registry) {
  std::unique_ptr<TokenAuthenticator> tokens;
  if (config.tokens()) {
    absl::StatusOr<std::unique_ptr<TokenAuthenticator>> loaded = TokenAuthenticator::Create(
        {config.auth_tokens_file, config.auth_tokens_reload_interval}, RealClock::Get());
    if (!loaded.ok()) return loaded.status();
    tokens = *std::move(loaded);
  }
  return std::make_unique<CallGuard>(std::move(tokens), registry);
}

absl::StatusOr<std::string> CallGuard::Admit(const grpc::ServerContextBase& context, Scope scope) {
  if (tokens_ == nullptr) return CertificateName(context).value_or("anonymous");
  AuthRefusal reason{};
  absl::StatusOr<std::string> caller =
      tokens_->Authenticate(AuthorizationOf(context), scope, &reason);
  tokens_in_force_->Set(static_cast<double>(tokens_->token_count()));
  failed_reloads_->Set(static_cast<double>(tokens_->failed_reloads()));
  if (!caller.ok()) {
    refused_[static_cast<size_t>(reason)]->Increment();
    LogRefusal(context, reason, caller.status());
  }
  return caller;
}

void CallGuard::LogRefusal(const grpc::ServerContextBase& context, AuthRefusal reason,
                           const absl::Status& status) {
  uint64_t unlogged = 0;
  if (!log_throttle_.Allow(&unlogged)) return;
  SM_LOG(Warn, "call_refused")
      .Kv("reason", AuthRefusalLabel(reason))
      .Kv("peer", context.peer())
      .Kv("code", absl::StatusCodeToString(status.code()))
      .Kv("refusals_not_logged_since_last_line", unlogged);
}

}  // namespace streammetrics::security
