#include "tests/support/stack.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace streammetrics::testing {
namespace {

std::string EnvOr(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

}  // namespace

std::string KafkaBootstrap() {
  return EnvOr("STREAMMETRICS_KAFKA_BOOTSTRAP", "127.0.0.1:19092,127.0.0.1:29092,127.0.0.1:39092");
}

std::string PostgresUrl() {
  // The local stack's password comes with STREAMMETRICS_PG_URL (deploy/local/lib.sh) or
  // PGPASSWORD; none is compiled in.
  return EnvOr("STREAMMETRICS_PG_URL", "postgresql://streammetrics@127.0.0.1:55432/streammetrics");
}

std::string SourcePath(const std::string& relative) {
  return absl::StrCat(STREAMMETRICS_SOURCE_DIR, "/", relative);
}

std::string RedisHost() { return EnvOr("STREAMMETRICS_REDIS_HOST", "127.0.0.1"); }

int RedisPort() {
  int port = 56379;
  (void)absl::SimpleAtoi(EnvOr("STREAMMETRICS_REDIS_PORT", "56379"), &port);
  return port;
}

absl::Status KafkaNode(const std::string& action, int node) {
  const std::string cmd =
      absl::StrCat(STREAMMETRICS_SOURCE_DIR, "/deploy/local/kafka-node.sh ", action, " ", node);
  const int rc = std::system(cmd.c_str());
  if (rc != 0) return absl::InternalError(absl::StrCat(cmd, " exited with ", rc));
  return absl::OkStatus();
}

absl::Status PostgresControl(const std::string& action) {
  const std::string cmd =
      absl::StrCat(STREAMMETRICS_SOURCE_DIR, "/deploy/local/postgres-ctl.sh ", action);
  const int rc = std::system(cmd.c_str());
  if (rc != 0) return absl::InternalError(absl::StrCat(cmd, " exited with ", rc));
  return absl::OkStatus();
}

absl::Status RedisControl(const std::string& action) {
  const std::string cmd =
      absl::StrCat(STREAMMETRICS_SOURCE_DIR, "/deploy/local/redis-ctl.sh ", action);
  const int rc = std::system(cmd.c_str());
  if (rc != 0) return absl::InternalError(absl::StrCat(cmd, " exited with ", rc));
  return absl::OkStatus();
}

std::string UniqueTempPath(const std::string& stem) {
  static std::atomic<int> calls{0};
  const char* dir = std::getenv("TMPDIR");
  return absl::StrCat(dir != nullptr && *dir != '\0' ? dir : "/tmp", "/streammetrics-test-",
                      getpid(), "-", calls.fetch_add(1), "-", stem);
}

bool PollUntil(absl::Duration timeout, const std::function<bool()>& done) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (done()) return true;
    // A short pause between polls of an external process, not a wait for time to pass.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return done();
}

int FreePort() {
  // Below the ephemeral range (net.ipv4.ip_local_port_range, 32768 by default).
  int ephemeral_low = 32768;
  if (FILE* f = std::fopen("/proc/sys/net/ipv4/ip_local_port_range", "r")) {
    if (std::fscanf(f, "%d", &ephemeral_low) != 1) ephemeral_low = 32768;
    std::fclose(f);
  }
  const int low = 20000, high = std::max(low + 1000, ephemeral_low) - 1;
  static std::atomic<uint64_t> calls{0};
  std::mt19937 random(static_cast<uint32_t>(getpid() * 7919 + calls.fetch_add(1) * 104729 +
                                            absl::ToUnixNanos(absl::Now())));
  std::uniform_int_distribution<int> pick(low, high);
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const int port = pick(random);
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    const bool free = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    close(fd);
    if (free) return port;
  }
  return 0;
}

std::string ScrapeMetrics(const std::string& address) {
  const size_t colon = address.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port)) return "";
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, address.substr(0, colon).c_str(), &addr.sin_addr);
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const std::string request = "GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n";
    if (write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      char buffer[8192];
      ssize_t n;
      while ((n = read(fd, buffer, sizeof(buffer))) > 0) response.append(buffer, n);
    }
  }
  close(fd);
  const size_t body = response.find("\r\n\r\n");
  return body == std::string::npos ? "" : response.substr(body + 4);
}

double MetricValue(const std::string& exposition, const std::string& sample) {
  const std::string prefix = sample + " ";
  size_t at = 0;
  while (at < exposition.size()) {
    const size_t end = exposition.find('\n', at);
    const std::string line =
        exposition.substr(at, end == std::string::npos ? std::string::npos : end - at);
    double value = 0;
    if (line.rfind(prefix, 0) == 0 && absl::SimpleAtod(line.substr(prefix.size()), &value)) {
      return value;
    }
    if (end == std::string::npos) break;
    at = end + 1;
  }
  return -1;
}

}  // namespace streammetrics::testing
