// MetricsServer (lib/common/metrics_server.h): GET /metrics answers the registered metrics, other
// requests get a clear status, and connections that never send a request cannot keep a scraper
// out: they are bounded per address and in all, and closed after the timeout.
#include "lib/common/metrics_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"
#include "tests/support/stack.h"

namespace streammetrics {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// A TCP connection to 127.0.0.1:port from `source` (another loopback address stands for another
// host); -1 when it cannot connect.
int Connect(int port, const char* source = "127.0.0.1") {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  inet_pton(AF_INET, source, &from.sin_addr);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  timeval timeout{5, 0};  // no answer within 5 s counts as no answer
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  if (bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof(from)) != 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// The whole response to `request` (HTTP/1.0, so the server closes after it), or "".
std::string Ask(int port, const std::string& request, const char* source = "127.0.0.1") {
  const int fd = Connect(port, source);
  if (fd < 0) return "";
  std::string response;
  if (write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
    char buffer[8192];
    ssize_t n;
    while ((n = read(fd, buffer, sizeof(buffer))) > 0) response.append(buffer, n);
  }
  close(fd);
  return response;
}

std::string Get(int port, const std::string& path, const char* source = "127.0.0.1") {
  return Ask(port, absl::StrCat("GET ", path, " HTTP/1.0\r\n\r\n"), source);
}

// True once the server has closed `fd` (read sees the end), within `timeout`.
bool ClosedByServer(int fd, absl::Duration timeout) {
  return testing::PollUntil(timeout, [fd] {
    char c;
    const ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
  });
}

class MetricsServerTest : public ::testing::Test {
 protected:
  void Start(MetricsServerOptions options = {}) {
    port_ = testing::FreePort();
    auto server = MetricsServer::Start(absl::StrCat("127.0.0.1:", port_), options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    auto& family =
        prometheus::BuildCounter().Name("test_things_total").Help("Things.").Register(*registry_);
    family.Add({}).Increment(3);
    server_->RegisterCollectable(registry_);
  }

  int port_ = 0;
  std::shared_ptr<prometheus::Registry> registry_ = std::make_shared<prometheus::Registry>();
  std::unique_ptr<MetricsServer> server_;
};

TEST_F(MetricsServerTest, ServesTheRegisteredMetricsAndNothingElse) {
  Start();
  const std::string ok = Get(port_, "/metrics");
  EXPECT_THAT(ok, StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(ok, HasSubstr("Content-Type: text/plain; version=0.0.4"));
  EXPECT_THAT(ok, HasSubstr("test_things_total 3"));
  EXPECT_THAT(Get(port_, "/"), StartsWith("HTTP/1.1 404"));
  EXPECT_THAT(Ask(port_, "POST /metrics HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc"),
              StartsWith("HTTP/1.1 405"));
  EXPECT_THAT(Ask(port_, "garbage\r\n\r\n"), ::testing::Not(HasSubstr("test_things_total")));
}

TEST_F(MetricsServerTest, FiveHundredSilentConnectionsDoNotKeepAScraperOut) {
  MetricsServerOptions options;
  options.connection_timeout = absl::Seconds(2);
  Start(options);
  // 500 connections from one host that never send a byte (a slowloris, or a port scanner).
  std::vector<int> silent;
  for (int i = 0; i < 500; ++i) {
    const int fd = Connect(port_);
    if (fd >= 0) silent.push_back(fd);
  }
  // Those past the host's 16 are closed at once; the scraper, another host, is answered.
  const std::string scrape = Get(port_, "/metrics", "127.0.0.2");
  EXPECT_THAT(scrape, StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(scrape, HasSubstr("test_things_total 3"));
  EXPECT_TRUE(ClosedByServer(silent.back(), absl::Seconds(5))) << "over the per-address bound";
  // The 16 admitted are closed once the timeout passes, and the host may scrape again.
  EXPECT_TRUE(ClosedByServer(silent.front(), absl::Seconds(20))) << "idle past the timeout";
  for (int fd : silent) close(fd);
  EXPECT_TRUE(testing::PollUntil(absl::Seconds(10), [&] {
    return absl::StrContains(Get(port_, "/metrics"), "test_things_total 3");
  }));
}

TEST(MetricsServerStartTest, RefusesBadAddressesAndOptions) {
  EXPECT_EQ(MetricsServer::Start("no-port", {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MetricsServer::Start("no.such.host.invalid:9464", {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  MetricsServerOptions zero;
  zero.connection_limit = 0;
  EXPECT_THAT(MetricsServer::Start("127.0.0.1:0", zero).status().message(),
              HasSubstr("metrics_connection_limit"));
  // A port taken already.
  const int port = testing::FreePort();
  auto first = MetricsServer::Start(absl::StrCat("127.0.0.1:", port), {});
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(MetricsServer::Start(absl::StrCat("127.0.0.1:", port), {}).status().code(),
            absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace streammetrics
