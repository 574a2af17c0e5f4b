// StartExposer: see the header.
#include "lib/common/metrics_exposer.h"

#include <exception>

#include "absl/strings/str_cat.h"

namespace streammetrics {

// prometheus-cpp (civetweb) reports a port it cannot bind by throwing; this is the one place that
// exception can arise, and it becomes a clear error instead of std::terminate.
absl::StatusOr<std::unique_ptr<prometheus::Exposer>> StartExposer(const std::string& address) {
  try {
    return std::make_unique<prometheus::Exposer>(address);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve /metrics on ", address, ": ", e.what()));
  }
}

}  // namespace streammetrics
