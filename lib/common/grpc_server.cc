// GrpcServer: see grpc_server.h.
#include "lib/common/grpc_server.h"

#include <algorithm>
#include <climits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.pb.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/impl/server_builder_option.h"
#include "grpcpp/impl/server_builder_plugin.h"
#include "grpcpp/resource_quota.h"
#include "lib/common/status_macros.h"

namespace streammetrics {
namespace {

int Millis(absl::Duration d) {
  if (d == absl::InfiniteDuration()) return INT_MAX;
  return static_cast<int>(std::clamp<int64_t>(absl::ToInt64Milliseconds(d), 0, INT_MAX));
}

// Linking gRPC's reflection library registers its plugin for every server of the process; this
// option takes it out of one server's plugins.
class WithoutReflection final : public grpc::ServerBuilderOption {
 public:
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override {
    plugins->erase(std::remove_if(plugins->begin(), plugins->end(),
                                  [](const std::unique_ptr<grpc::ServerBuilderPlugin>& p) {
                                    return p->name() == "proto_server_reflection";
                                  }),
                   plugins->end());
  }
};

}  // namespace

void AddConnectionLimitFlags(ConfigLoader* loader, ConnectionLimits* l) {
  loader->Int("grpc_max_concurrent_streams", &l->max_concurrent_streams,
              "Calls open at once on one client connection.");
  loader->Int("grpc_max_ping_strikes", &l->max_ping_strikes,
              "Pings too close together before the connection is closed.");
  loader->Duration("grpc_min_ping_interval", &l->min_ping_interval,
                   "Pings without data closer than this are strikes against the connection.");
  loader->Duration("grpc_max_connection_idle", &l->max_connection_idle,
                   "A connection without calls this long is closed.");
  loader->Duration("grpc_max_connection_age", &l->max_connection_age,
                   "A connection is asked to go away (GOAWAY) after this long.");
  loader->Duration("grpc_max_connection_age_grace", &l->max_connection_age_grace,
                   "How long calls may finish after that GOAWAY before they are cancelled.");
  loader->Duration("grpc_handshake_timeout", &l->handshake_timeout,
                   "Time a new connection has to finish its TLS and HTTP/2 handshake.");
  loader->Bytes("grpc_memory_quota", &l->memory_quota_bytes,
                "Memory gRPC may use for all connections and calls.");
  loader->Bool("grpc_reflection", &l->reflection,
               "Serve grpc.reflection, so grpcurl needs no .proto files.");
}

absl::Status CheckConnectionLimits(const ConnectionLimits& l) {
  // gRPC reads its durations as int milliseconds; beyond that (24 days) only "infinite" makes
  // sense.
  const absl::Duration most = absl::Milliseconds(INT_MAX);
  auto in = [](absl::Duration d, absl::Duration lo, absl::Duration hi) {
    return d >= lo && (d <= hi || d == absl::InfiniteDuration());
  };
  std::vector<std::string> wrong;
  if (l.max_concurrent_streams < 1 || l.max_concurrent_streams > 1'000'000) {
    wrong.push_back("--grpc_max_concurrent_streams must be 1 to 1000000");
  }
  if (l.max_ping_strikes < 1 || l.max_ping_strikes > 1000) {
    wrong.push_back("--grpc_max_ping_strikes must be 1 to 1000 (gRPC reads 0 as no limit)");
  }
  if (!in(l.min_ping_interval, absl::ZeroDuration(), most)) {
    wrong.push_back("--grpc_min_ping_interval must be 0s to 24d");
  }
  if (!in(l.max_connection_idle, absl::Seconds(1), most) ||
      !in(l.max_connection_age, absl::Seconds(1), most)) {
    wrong.push_back(
        "--grpc_max_connection_idle and --grpc_max_connection_age must be 1s to 24d "
        "(or inf)");
  }
  if (!in(l.max_connection_age_grace, absl::ZeroDuration(), most)) {
    wrong.push_back("--grpc_max_connection_age_grace must be 0s to 24d (or inf)");
  }
  if (l.handshake_timeout < absl::Milliseconds(100) || l.handshake_timeout > absl::Minutes(10)) {
    wrong.push_back("--grpc_handshake_timeout must be 100ms to 10m");
  }
  if (l.memory_quota_bytes < (size_t{16} << 20)) {
    wrong.push_back("--grpc_memory_quota must be at least 16MiB");
  }
  if (wrong.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(wrong, "; "));
}

absl::StatusOr<std::unique_ptr<GrpcServer>> GrpcServer::Start(
    const GrpcServerOptions& options, const std::vector<grpc::Service*>& services) {
  // Process-wide switches of gRPC; setting them again is harmless.
  grpc::EnableDefaultHealthCheckService(true);
  // Links the health protocol's descriptor in, so reflection (and grpcurl) can describe it.
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  RETURN_IF_ERROR(CheckConnectionLimits(options.limits));
  RETURN_IF_ERROR(security::CheckServerSecurity(options.address, options.security));
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials,
                   security::MakeServerCredentials(options.security));

  grpc::ServerBuilder builder;
  // No SO_REUSEPORT: a second server on a taken port must fail to start, not silently share the
  // port's connections with the first (gRPC sets it by default on Linux).
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  const ConnectionLimits& l = options.limits;
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                             static_cast<int>(l.max_concurrent_streams));
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             Millis(l.min_ping_interval));
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, static_cast<int>(l.max_ping_strikes));
  // Clients may keep a quiet connection alive with pings (within the policing above).
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, Millis(l.max_connection_idle));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS, Millis(l.max_connection_age));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
                             Millis(l.max_connection_age_grace));
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, Millis(l.handshake_timeout));
  if (!l.reflection) builder.SetOption(std::make_unique<WithoutReflection>());
  grpc::ResourceQuota quota("streammetrics-server");
  quota.Resize(l.memory_quota_bytes);
  builder.SetResourceQuota(quota);
  int port = 0;
  builder.AddListeningPort(options.address, credentials, &port);
  if (options.max_receive_message_bytes >= 0) {
    builder.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  }
  for (grpc::Service* service : services) builder.RegisterService(service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  // gRPC reports a failed bind only through a null server or port 0.
  if (server == nullptr || port == 0) {
    if (server != nullptr) server->Shutdown();
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", options.address, " (address in use, or not an address of this host)"));
  }
  std::unique_ptr<GrpcServer> out(new GrpcServer(std::move(server), port, options.health_services));
  out->SetServing(true);
  return out;
}

GrpcServer::GrpcServer(std::unique_ptr<grpc::Server> server, int port,
                       std::vector<std::string> names)
    : server_(std::move(server)), port_(port), health_services_(std::move(names)) {}

GrpcServer::~GrpcServer() { Shutdown(absl::Seconds(5)); }

void GrpcServer::SetServing(bool serving) {
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  if (health == nullptr) return;
  health->SetServingStatus(serving);
  for (const std::string& name : health_services_) health->SetServingStatus(name, serving);
}

void GrpcServer::Shutdown(absl::Duration grace) {
  if (shut_down_) return;
  shut_down_ = true;
  SetServing(false);
  server_->Shutdown(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(grace));
  server_->Wait();
}

}  // namespace streammetrics
