// MetricsServer: a service's Prometheus /metrics endpoint. Served by libmicrohttpd from one epoll
// thread rather than by prometheus-cpp's Exposer (civetweb), whose thread per connection let a few
// hundred connections that never send a request hold every thread until their timeout, so the
// scraper timed out too and the service looked down. Here an idle connection costs a socket,
// never a thread; connections are bounded in all and per client address, and one that sends no
// complete request within the timeout is closed.
#ifndef STREAMMETRICS_LIB_COMMON_METRICS_SERVER_H_
#define STREAMMETRICS_LIB_COMMON_METRICS_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "lib/common/config_loader.h"
#include "prometheus/collectable.h"

struct MHD_Daemon;

namespace streammetrics {

struct MetricsServerOptions {
  // Connections open at once over all clients; more are refused at accept.
  int64_t connection_limit = 256;
  // Connections open at once from one address: a scraper needs one or two, so one host holding
  // many cannot take them all.
  int64_t connections_per_address = 16;
  // A connection idle this long (no complete request, or nothing after its answer) is closed.
  absl::Duration connection_timeout = absl::Seconds(10);
};

// --metrics_connection_limit, --metrics_connections_per_address, --metrics_connection_timeout.
void AddMetricsServerFlags(ConfigLoader* loader, MetricsServerOptions* options);

class MetricsServer {
 public:
  // Serves GET /metrics on `address` ("host:port", the host an IP address or a name) with the
  // collectables registered later. Fails with InvalidArgument for a bad address or an option out
  // of range (naming the flag), Unavailable naming the address when it cannot be bound.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(const std::string& address,
                                                              const MetricsServerOptions& options);
  ~MetricsServer();  // stops serving; waits for the answer being written
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // Adds what /metrics shows; gone collectables are skipped.
  void RegisterCollectable(const std::weak_ptr<prometheus::Collectable>& collectable);

  // The exposition text of every registered collectable (what GET /metrics answers).
  std::string Render() const;

 private:
  MetricsServer() = default;

  mutable absl::Mutex mu_;
  std::vector<std::weak_ptr<prometheus::Collectable>> collectables_ ABSL_GUARDED_BY(mu_);
  MHD_Daemon* daemon_ = nullptr;
};

}  // namespace streammetrics

#endif  // STREAMMETRICS_LIB_COMMON_METRICS_SERVER_H_
