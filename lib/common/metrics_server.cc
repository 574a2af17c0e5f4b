// MetricsServer: see metrics_server.h.
#include "lib/common/metrics_server.h"

#include <microhttpd.h>
#include <netdb.h>
#include <sys/socket.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "lib/common/log.h"
#include "lib/common/log_throttle.h"
#include "prometheus/text_serializer.h"

namespace streammetrics {
namespace {

constexpr char kNotFound[] = "Not found: the metrics are at /metrics\n";

// libmicrohttpd's own lines (a refused connection, a bad request): at most one a second, since
// whoever reaches the port can cause them at will.
void LogMhd(void*, const char* format, va_list args) {
  static LogThrottle* throttle = new LogThrottle();
  uint64_t skipped = 0;
  if (!throttle->Allow(&skipped)) return;
  char text[512];
  std::vsnprintf(text, sizeof(text), format, args);
  SM_LOG(Warn, "metrics_http")
      .Kv("message", absl::StripAsciiWhitespace(text))
      .Kv("lines_not_logged_since_last_line", skipped);
}

MHD_Result Answer(MHD_Connection* connection, unsigned int code, const std::string& body,
                  const char* content_type) {
  MHD_Response* response = MHD_create_response_from_buffer(
      body.size(), const_cast<char*>(body.data()), MHD_RESPMEM_MUST_COPY);
  if (response == nullptr) return MHD_NO;
  MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
  const MHD_Result queued = MHD_queue_response(connection, code, response);
  MHD_destroy_response(response);
  return queued;
}

MHD_Result Handle(void* cls, MHD_Connection* connection, const char* url, const char* method,
                  const char*, const char*, size_t* upload_data_size, void** request_state) {
  // libmicrohttpd calls once when the headers are in, then again with any body; answer on the
  // second call, once nothing more is to be read.
  static int headers_seen;
  if (*request_state == nullptr) {
    *request_state = &headers_seen;
    return MHD_YES;
  }
  if (*upload_data_size != 0) {
    *upload_data_size = 0;  // a body to /metrics means nothing: drop it
    return MHD_YES;
  }
  if (std::strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
      std::strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
    return Answer(connection, MHD_HTTP_METHOD_NOT_ALLOWED, "Only GET /metrics\n", "text/plain");
  }
  if (std::strcmp(url, "/metrics") != 0) {
    return Answer(connection, MHD_HTTP_NOT_FOUND, kNotFound, "text/plain");
  }
  const auto* server = static_cast<const MetricsServer*>(cls);
  return Answer(connection, MHD_HTTP_OK, server->Render(), "text/plain; version=0.0.4");
}

absl::Status CheckOptions(const MetricsServerOptions& o) {
  if (o.connection_limit < 1 || o.connection_limit > 100'000 || o.connections_per_address < 1 ||
      o.connections_per_address > o.connection_limit || o.connection_timeout < absl::Seconds(1) ||
      o.connection_timeout > absl::Hours(1)) {
    return absl::InvalidArgumentError(
        "metrics_connection_limit must be in 1..100000, metrics_connections_per_address in "
        "1..metrics_connection_limit, metrics_connection_timeout in 1s..1h");
  }
  return absl::OkStatus();
}

}  // namespace

void AddMetricsServerFlags(ConfigLoader* loader, MetricsServerOptions* options) {
  loader->Int("metrics_connection_limit", &options->connection_limit,
              "/metrics connections open at once over all clients.");
  loader->Int("metrics_connections_per_address", &options->connections_per_address,
              "/metrics connections open at once from one client address.");
  loader->Duration("metrics_connection_timeout", &options->connection_timeout,
                   "A /metrics connection idle this long is closed.");
}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& address, const MetricsServerOptions& options) {
  if (absl::Status s = CheckOptions(options); !s.ok()) return s;
  const size_t colon = address.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics address \"", address, "\" is not host:port"));
  }
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  if (const int err = getaddrinfo(host.empty() ? nullptr : host.c_str(),
                                  std::to_string(port).c_str(), &hints, &found);
      err != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics address \"", address, "\": ", gai_strerror(err)));
  }
  std::unique_ptr<MetricsServer> server(new MetricsServer());
  unsigned int flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
  if (found->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
  server->daemon_ = MHD_start_daemon(
      flags, static_cast<uint16_t>(port), nullptr, nullptr, &Handle, server.get(),
      MHD_OPTION_EXTERNAL_LOGGER, &LogMhd, nullptr,  // first, or the defaults log to stderr
      MHD_OPTION_SOCK_ADDR, found->ai_addr, MHD_OPTION_CONNECTION_LIMIT,
      static_cast<unsigned int>(options.connection_limit), MHD_OPTION_PER_IP_CONNECTION_LIMIT,
      static_cast<unsigned int>(options.connections_per_address), MHD_OPTION_CONNECTION_TIMEOUT,
      static_cast<unsigned int>(absl::ToInt64Seconds(options.connection_timeout)), MHD_OPTION_END);
  freeaddrinfo(found);
  if (server->daemon_ == nullptr) {
    return absl::UnavailableError(absl::StrCat("cannot serve /metrics on ", address,
                                               " (in use, or not an address of this host)"));
  }
  return server;
}

MetricsServer::~MetricsServer() {
  if (daemon_ != nullptr) MHD_stop_daemon(daemon_);
}

void MetricsServer::RegisterCollectable(const std::weak_ptr<prometheus::Collectable>& collectable) {
  absl::MutexLock lock(&mu_);
  collectables_.push_back(collectable);
}

std::string MetricsServer::Render() const {
  std::vector<prometheus::MetricFamily> families;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& weak : collectables_) {
      if (auto collectable = weak.lock()) {
        std::vector<prometheus::MetricFamily> more = collectable->Collect();
        families.insert(families.end(), std::make_move_iterator(more.begin()),
                        std::make_move_iterator(more.end()));
      }
    }
  }
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

}  // namespace streammetrics
