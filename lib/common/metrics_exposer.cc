// StartExposer: see the header.
#include "lib/common/metrics_exposer.h"

#include <exception>

#include "lib/common/log.h"

namespace streammetrics {

// prometheus-cpp (civetweb) reports a port it cannot bind by throwing; this is the one place that
// exception can arise, and it becomes a clear error instead of std::terminate.
std::unique_ptr<prometheus::Exposer> StartExposer(const std::string& address) {
  try {
    return std::make_unique<prometheus::Exposer>(address);
  } catch (const std::exception& e) {
    SM_LOG(Error, "metrics_listen_failed").Kv("address", address).Kv("reason", e.what());
    return nullptr;
  }
}

}  // namespace streammetrics
