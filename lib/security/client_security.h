// ClientSecurity: how our clients (MetricsClient, the load generator, the query tools, the test
// harness) reach a server that serves TLS, asks for a client certificate, or wants a bearer
// token. The token travels as call metadata ("authorization: Bearer ..."), added to each call's
// ClientContext, so it works on TLS and on a plaintext loopback port alike (gRPC's own call
// credentials refuse plaintext channels).
#ifndef STREAMMETRICS_LIB_SECURITY_CLIENT_SECURITY_H_
#define STREAMMETRICS_LIB_SECURITY_CLIENT_SECURITY_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "lib/common/config_loader.h"

namespace streammetrics::security {

struct ClientSecurityConfig {
  // PEM CA bundle that signed the server's certificate. Set: TLS; unset: plaintext.
  std::string tls_ca_file;
  // The client's own certificate chain and key, for servers that require mutual TLS.
  std::string tls_client_cert_file;
  std::string tls_client_key_file;
  // Name expected in the server's certificate, when it differs from the target's host (e.g.
  // connecting by IP address to a certificate issued for a DNS name).
  std::string tls_server_name;
  // Bearer token sent with every call; empty: none.
  std::string token;
  // Sends the token over plaintext to a server beyond loopback, where anyone on the path can
  // read it. Off: such a channel is refused.
  bool allow_insecure = false;

  bool tls() const { return !tls_ca_file.empty(); }
};

// Registers the settings above as flags and STREAMMETRICS_* variables (the token as a secret:
// --token, --token_file, STREAMMETRICS_TOKEN, STREAMMETRICS_TOKEN_FILE).
void AddClientSecurityFlags(ConfigLoader* loader, ClientSecurityConfig* config);

// A channel to `target` with `args` plus what `config` asks for. Fails with InvalidArgument naming
// the file that cannot be read, or a client certificate given without its key (or the reverse);
// with FailedPrecondition when a token would travel without TLS to a target beyond loopback and
// allow_insecure is false.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const std::string& target,
                                                           const ClientSecurityConfig& config,
                                                           grpc::ChannelArguments args = {});

// Adds the bearer token, if any, to a call's metadata. Call on every ClientContext.
void AddCallCredentials(const ClientSecurityConfig& config, grpc::ClientContext* context);

}  // namespace streammetrics::security

#endif  // STREAMMETRICS_LIB_SECURITY_CLIENT_SECURITY_H_
