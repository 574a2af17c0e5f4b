// GrpcServer: the one way a StreamMetrics service opens its gRPC port. Every server gets the
// same things, set up here once: the standard health service (grpc.health.v1.Health), server
// reflection (so grpcurl works without .proto files), a message size limit, a check that the
// port was really bound, transport security (TLS, mutual TLS, and the refusal to expose a port
// beyond loopback unprotected; lib/security/server_security.h) and the connection limits below,
// so both services behave alike. Bearer tokens are checked per call by the services' CallGuard.
#ifndef STREAMMETRICS_LIB_COMMON_GRPC_SERVER_H_
#define STREAMMETRICS_LIB_COMMON_GRPC_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "lib/common/config_loader.h"
#include "lib/security/server_security.h"

namespace streammetrics {

// What one client connection may take. Each bound protects against a client that misbehaves, by
// bug or on purpose (docs/security.md).
struct ConnectionLimits {
  // Calls open at once on one connection (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS): more wait in
  // the client until one ends.
  int64_t max_concurrent_streams = 100;
  // Keepalive policing: pings closer together than this, without data in between, are strikes;
  // after max_ping_strikes the connection is closed (GOAWAY "too_many_pings"). 10 s admits
  // OpenTelemetry exporters, which ping every 10 s.
  absl::Duration min_ping_interval = absl::Seconds(10);
  int64_t max_ping_strikes = 2;
  // A connection without calls this long is closed.
  absl::Duration max_connection_idle = absl::Minutes(15);
  // A connection is asked to go away (GOAWAY) after this long, so clients re-resolve and load
  // spreads over new instances; its calls get `max_connection_age_grace` to finish, then are
  // cancelled (our client library resends what was not acked, and nothing is counted twice).
  absl::Duration max_connection_age = absl::Hours(2);
  absl::Duration max_connection_age_grace = absl::Minutes(1);
  // A connection must finish its TLS and HTTP/2 handshake within this.
  absl::Duration handshake_timeout = absl::Seconds(10);
  // Memory gRPC itself may use for connections and calls (buffers, metadata), over all of them;
  // beyond it gRPC stops reading from sockets and refuses new calls.
  size_t memory_quota_bytes = 512 << 20;
  // Serve grpc.reflection (grpcurl list/describe without .proto files).
  bool reflection = true;
};

// Registers the fields above as flags and STREAMMETRICS_* variables.
void AddConnectionLimitFlags(ConfigLoader* loader, ConnectionLimits* limits);

// OK when every limit is in its range (each a bound, none switched off by a zero); otherwise
// InvalidArgument naming the flag and its range.
absl::Status CheckConnectionLimits(const ConnectionLimits& limits);

struct GrpcServerOptions {
  // "host:port"; port 0 binds a free port (see GrpcServer::port).
  std::string address = "127.0.0.1:0";
  // Largest message a client may send; -1 keeps gRPC's default (4 MiB).
  int max_receive_message_bytes = -1;
  // Names the health service reports on besides the overall status (""), e.g.
  // "streammetrics.v1.IngestService". All start SERVING.
  std::vector<std::string> health_services;
  // TLS and the exposure rule (the tokens file is the services' business, but its presence
  // counts for the exposure rule).
  security::ServerSecurityConfig security;
  ConnectionLimits limits;
};

class GrpcServer {
 public:
  // Registers `services` (not owned; they must outlive the server) and starts serving.
  // Fails with Unavailable naming the address when it cannot be bound, with InvalidArgument when a
  // connection limit is out of range (CheckConnectionLimits), and with InvalidArgument or
  // FailedPrecondition when the security settings are wrong or would expose the port unprotected
  // (security::CheckServerSecurity, security::MakeServerCredentials).
  static absl::StatusOr<std::unique_ptr<GrpcServer>> Start(
      const GrpcServerOptions& options, const std::vector<grpc::Service*>& services);

  // Shuts down with a deadline of `grace` if not done yet.
  ~GrpcServer();

  // The bound port (the chosen one when the address asked for port 0).
  int port() const { return port_; }

  // Sets the overall status and every status named in health_services.
  void SetServing(bool serving);

  // Stops accepting calls at once; open calls may finish within `grace`, then are cancelled.
  // Returns when every call has ended. Idempotent.
  void Shutdown(absl::Duration grace);

  grpc::Server* server() const { return server_.get(); }

 private:
  GrpcServer(std::unique_ptr<grpc::Server> server, int port, std::vector<std::string> names);

  std::unique_ptr<grpc::Server> server_;
  const int port_;
  const std::vector<std::string> health_services_;
  bool shut_down_ = false;
};

}  // namespace streammetrics

#endif  // STREAMMETRICS_LIB_COMMON_GRPC_SERVER_H_
