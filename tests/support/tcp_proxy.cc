// TcpProxy: accept loop and pumps (see the header).
#include "tests/support/tcp_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"

namespace streammetrics::testing {
namespace {

// Short, so the pumps notice stop_, a pause ending, or a cut promptly.
constexpr int kPollMs = 20;

sockaddr_in Loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

}  // namespace

TcpProxy::TcpProxy(int upstream_port) : upstream_port_(upstream_port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr = Loopback(0);
  socklen_t len = sizeof(addr);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(fd, 16) != 0 || getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0) close(fd);
    return;
  }
  listen_fd_ = fd;
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { Accept(); });
}

TcpProxy::~TcpProxy() {
  stop_.store(true);
  if (acceptor_.joinable()) acceptor_.join();
  CutAll();
  absl::MutexLock lock(&mu_);
  for (auto& c : connections_) {
    c->up.join();
    c->down.join();
    close(c->client_fd);
    close(c->server_fd);
  }
  if (listen_fd_ >= 0) close(listen_fd_);
}

std::string TcpProxy::address() const { return absl::StrCat("127.0.0.1:", port_); }

int TcpProxy::CutAll() {
  absl::MutexLock lock(&mu_);
  int cut = 0;
  for (auto& c : connections_) {
    // shutdown, not close: the pumps still own the descriptors and end on the error they see.
    if (shutdown(c->client_fd, SHUT_RDWR) == 0) ++cut;
    shutdown(c->server_fd, SHUT_RDWR);
  }
  return cut;
}

void TcpProxy::Accept() {
  while (!stop_.load()) {
    pollfd p{.fd = listen_fd_, .events = POLLIN, .revents = 0};
    if (poll(&p, 1, kPollMs) <= 0) continue;
    const int client = accept(listen_fd_, nullptr, nullptr);
    if (client < 0) continue;
    const int server = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr = Loopback(upstream_port_);
    if (server < 0 || connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      close(client);  // upstream down: the client sees the connection refused, as it would
      if (server >= 0) close(server);
      continue;
    }
    const int one = 1;
    setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    auto c = std::make_unique<Connection>();
    c->client_fd = client;
    c->server_fd = server;
    c->up = std::thread([this, client, server] { Pump(client, server, false); });
    c->down = std::thread([this, client, server] { Pump(server, client, true); });
    accepted_.fetch_add(1);
    absl::MutexLock lock(&mu_);
    connections_.push_back(std::move(c));
  }
}

void TcpProxy::Pump(int from, int to, bool replies) {
  char buffer[64 * 1024];
  while (!stop_.load()) {
    if (replies && paused_.load()) {
      // Not reading is the pause: bytes wait in the kernel and the sender's window closes.
      pollfd p{.fd = to, .events = POLLRDHUP, .revents = 0};
      poll(&p, 1, kPollMs);
      if ((p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0) break;
      continue;
    }
    pollfd p{.fd = from, .events = POLLIN, .revents = 0};
    const int ready = poll(&p, 1, kPollMs);
    if (ready == 0) continue;
    if (ready < 0) break;
    const ssize_t n = read(from, buffer, sizeof(buffer));
    if (n <= 0) break;
    ssize_t written = 0;
    while (written < n) {
      const ssize_t w = send(to, buffer + written, static_cast<size_t>(n - written), MSG_NOSIGNAL);
      if (w <= 0) break;
      written += w;
    }
    if (written < n) break;
  }
  // Either side ending ends both directions.
  shutdown(from, SHUT_RDWR);
  shutdown(to, SHUT_RDWR);
}

}  // namespace streammetrics::testing
