// IngestChild: the streammetrics-ingest binary as a child process of an integration test, on a
// port of its own, that can be stopped with any signal and started again on the same port.
#ifndef STREAMMETRICS_TESTS_INTEGRATION_INGEST_CHILD_H_
#define STREAMMETRICS_TESTS_INTEGRATION_INGEST_CHILD_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "lib/security/client_security.h"

namespace streammetrics::testing {

class IngestChild {
 public:
  // Starts the binary writing to `events_topic` and `dead_letter_topic`, with extra flags.
  // `client` is how AwaitServing reaches it (TLS settings, when the flags turn TLS on).
  IngestChild(const std::string& events_topic, const std::string& dead_letter_topic,
              std::vector<std::string> extra_flags = {},
              security::ClientSecurityConfig client = {});
  ~IngestChild();  // SIGKILL if still running
  IngestChild(const IngestChild&) = delete;
  IngestChild& operator=(const IngestChild&) = delete;

  // Starts it again (same port and flags) after Stop.
  void Start();
  // Sends `signal` and waits for the exit; returns the exit code (or 128 + signal).
  int Stop(int signal);
  // True once its health check answers SERVING within `timeout`.
  bool AwaitServing(absl::Duration timeout) const;

  const std::string& address() const { return address_; }
  int port() const { return port_; }
  const std::string& metrics_address() const { return metrics_address_; }
  // The OTLP door, on a port of its own.
  const std::string& otlp_address() const { return otlp_address_; }
  pid_t pid() const { return pid_; }

 private:
  std::vector<std::string> args_;
  security::ClientSecurityConfig client_;
  int port_;
  std::string address_;
  std::string metrics_address_;
  std::string otlp_address_;
  pid_t pid_ = -1;
};

}  // namespace streammetrics::testing

#endif  // STREAMMETRICS_TESTS_INTEGRATION_INGEST_CHILD_H_
