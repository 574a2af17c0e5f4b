// StartExposer: the Prometheus /metrics HTTP endpoint of a service (prometheus-cpp's Exposer),
// started without letting its bind failure escape as an exception.
#ifndef STREAMMETRICS_LIB_COMMON_METRICS_EXPOSER_H_
#define STREAMMETRICS_LIB_COMMON_METRICS_EXPOSER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "prometheus/exposer.h"

namespace streammetrics {

// Serves /metrics on `address` ("host:port"). Fails with Unavailable naming the address and the
// reason when it cannot be bound.
absl::StatusOr<std::unique_ptr<prometheus::Exposer>> StartExposer(const std::string& address);

}  // namespace streammetrics

#endif  // STREAMMETRICS_LIB_COMMON_METRICS_EXPOSER_H_
