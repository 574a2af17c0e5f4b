// ServerSecurity: the transport security settings both services share — TLS with certificates
// re-read from disk, optional mutual TLS, the bearer tokens file — with their flags, the check
// that refuses to expose a plaintext or token-less port beyond loopback, and the gRPC server
// credentials they make.
#ifndef STREAMMETRICS_LIB_SECURITY_SERVER_SECURITY_H_
#define STREAMMETRICS_LIB_SECURITY_SERVER_SECURITY_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/security/server_credentials.h"
#include "lib/common/config_loader.h"
#include "lib/security/loopback.h"

namespace streammetrics::security {

struct ServerSecurityConfig {
  // PEM certificate chain and private key the server presents. Both set: TLS (1.2 or later);
  // neither: plaintext. The files are re-read every `tls_reload_interval`, so a renewed
  // certificate is served without a restart (swap both at once, e.g. by renaming a directory or
  // a symlink to one: a half-written pair is ignored until it matches).
  std::string tls_cert_file;
  std::string tls_key_file;
  // PEM CA bundle. Set: every client must present a certificate signed by it (mutual TLS).
  std::string tls_client_ca_file;
  absl::Duration tls_reload_interval = absl::Seconds(10);
  // Tokens file (lib/security/token_file.h). Set: every call needs a bearer token with the
  // service's scope; unset: no tokens are asked for.
  std::string auth_tokens_file;
  // How often the tokens file is checked for changes.
  absl::Duration auth_tokens_reload_interval = absl::Seconds(1);
  // Allows listening beyond loopback without TLS and a tokens file.
  bool allow_insecure = false;
  // Allows /metrics (plain HTTP, no authentication) on an address beyond loopback. It carries no
  // secret, but names services and callers: exposing it is a decision of its own.
  bool allow_exposed_metrics = false;

  bool tls() const { return !tls_cert_file.empty(); }
  bool tokens() const { return !auth_tokens_file.empty(); }
};

// Registers the settings above as flags and STREAMMETRICS_* variables.
void AddServerSecurityFlags(ConfigLoader* loader, ServerSecurityConfig* config);

// OK when the settings are coherent and `address` may be served with them. Fails with
// InvalidArgument when only one of cert/key is set, or a client CA is set without TLS; with
// FailedPrecondition, naming the missing flags, when a non-loopback address would be served
// without TLS and a tokens file and allow_insecure is false.
absl::Status CheckServerSecurity(absl::string_view address, const ServerSecurityConfig& config);

// OK when `metrics_address` is loopback or allow_exposed_metrics is set; FailedPrecondition naming
// the flag otherwise.
absl::Status CheckMetricsExposure(absl::string_view metrics_address,
                                  const ServerSecurityConfig& config);

// Credentials for the listening port: TLS from the watched files when configured (after checking
// now that the files hold a certificate and the key that matches it, so a wrong path fails the
// start instead of every handshake), plaintext otherwise. Fails with InvalidArgument naming the
// file and what is wrong with it.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerSecurityConfig& config);

}  // namespace streammetrics::security

#endif  // STREAMMETRICS_LIB_SECURITY_SERVER_SECURITY_H_
