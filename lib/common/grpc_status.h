// The one place where absl::Status becomes grpc::Status: our code returns absl::Status at every
// boundary and converts only when answering an RPC. The canonical codes share numbers.
#ifndef STREAMMETRICS_LIB_COMMON_GRPC_STATUS_H_
#define STREAMMETRICS_LIB_COMMON_GRPC_STATUS_H_

#include <string>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace streammetrics {

inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

}  // namespace streammetrics

#endif  // STREAMMETRICS_LIB_COMMON_GRPC_STATUS_H_
