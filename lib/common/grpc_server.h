// GrpcServer: the one way a StreamMetrics service opens its gRPC port. Every server gets the
// same things, set up here once: the standard health service (grpc.health.v1.Health), server
// reflection (so grpcurl works without .proto files), a message size limit, and a check that the
// port was really bound. Transport security, authentication and connection limits plug in here,
// so both services behave alike.
#ifndef STREAMMETRICS_LIB_COMMON_GRPC_SERVER_H_
#define STREAMMETRICS_LIB_COMMON_GRPC_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"

namespace streammetrics {

struct GrpcServerOptions {
  // "host:port"; port 0 binds a free port (see GrpcServer::port).
  std::string address = "127.0.0.1:0";
  // Largest message a client may send; -1 keeps gRPC's default (4 MiB).
  int max_receive_message_bytes = -1;
  // Names the health service reports on besides the overall status (""), e.g.
  // "streammetrics.v1.IngestService". All start SERVING.
  std::vector<std::string> health_services;
};

class GrpcServer {
 public:
  // Registers `services` (not owned; they must outlive the server) and starts serving.
  // Fails with Unavailable naming the address when it cannot be bound.
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
