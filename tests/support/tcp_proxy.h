// TcpProxy: a loopback TCP forwarder between a client and a server, for tests that must cut a
// live connection or hold back the server's answers without stopping the server. Written by hand
// because the cut has to be done on demand from the test (no tool in Debian does that
// in-process); it only has to be correct, not fast.
//
// Each accepted connection gets a connection to the upstream and two pump threads. PauseReplies
// stops forwarding server-to-client bytes (they wait in the kernel's buffers, so the server keeps
// reading and working while the client hears nothing); CutAll shuts every open connection down
// in both directions, as a network failure would.
#ifndef STREAMMETRICS_TESTS_SUPPORT_TCP_PROXY_H_
#define STREAMMETRICS_TESTS_SUPPORT_TCP_PROXY_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace streammetrics::testing {

class TcpProxy {
 public:
  // Listens on 127.0.0.1 (a free port) and forwards to 127.0.0.1:`upstream_port`. Check ok().
  explicit TcpProxy(int upstream_port);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  bool ok() const { return listen_fd_ >= 0; }
  // "127.0.0.1:<port>" for the client.
  std::string address() const;

  void PauseReplies() { paused_.store(true); }
  void ResumeReplies() { paused_.store(false); }
  // Shuts down every open connection; returns how many there were. New connections are accepted.
  int CutAll();
  // Connections accepted so far.
  int accepted() const { return accepted_.load(); }

 private:
  struct Connection {
    int client_fd = -1;
    int server_fd = -1;
    std::thread up;    // client -> server
    std::thread down;  // server -> client
  };
  void Accept();
  void Pump(int from, int to, bool replies);

  int upstream_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> paused_{false};
  std::atomic<int> accepted_{0};
  std::thread acceptor_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<Connection>> connections_ ABSL_GUARDED_BY(mu_);
};

}  // namespace streammetrics::testing

#endif  // STREAMMETRICS_TESTS_SUPPORT_TCP_PROXY_H_
