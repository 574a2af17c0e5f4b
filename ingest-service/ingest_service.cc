#include "ingest-service/ingest_service.h"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "ingest-service/stream_reactors.h"
#include "lib/common/grpc_status.h"
#include "lib/common/protobuf_log.h"

namespace streammetrics::ingest {
namespace {

// A caller whose bucket is this far in debt gets no new stream: more streams would only park.
constexpr absl::Duration kMaxDebtAtOpen = absl::Seconds(1);
// What a caller over a stream limit is told to wait: streams are long-lived, so sooner is futile.
constexpr absl::Duration kStreamLimitRetry = absl::Seconds(1);

// A refused call: ends with `status` before reading anything, frees itself when gRPC is done.
template <typename Base>
class RefusedReactor final : public Base {
 public:
  explicit RefusedReactor(const absl::Status& status) { this->Finish(ToGrpcStatus(status)); }
  void OnDone() override { delete this; }
};

absl::Status Exhausted(grpc::CallbackServerContext* context, absl::Duration retry,
                       std::string message) {
  const int64_t ms = AddRetryAfter(context, retry);
  return absl::ResourceExhaustedError(absl::StrCat(message, "; retry in ", ms, " ms"));
}

}  // namespace

int64_t AddRetryAfter(grpc::CallbackServerContext* context, absl::Duration retry) {
  const int64_t ms = std::max<int64_t>(1, absl::ToInt64Milliseconds(retry));
  context->AddTrailingMetadata(kRetryAfterTrailer, std::to_string(ms));
  return ms;
}

IngestServiceImpl::IngestServiceImpl(IngestDeps deps) : deps_(WithDefaults(deps, &defaults_)) {
  RouteProtobufLogs();  // ParseBatch learns why a batch does not parse through protobuf's log
}

IngestDeps IngestServiceImpl::WithDefaults(IngestDeps deps, Defaults* defaults) {
  if (deps.guard == nullptr) {
    defaults->guard = std::make_unique<security::CallGuard>(nullptr, *deps.metrics->registry());
    deps.guard = defaults->guard.get();
  }
  if (deps.streams == nullptr) {
    defaults->streams = std::make_unique<security::CallerSlots>("ingest streams", 0, 0);
    deps.streams = defaults->streams.get();
  }
  if (deps.rate == nullptr) {
    defaults->rate = std::make_unique<security::CallerRateLimiter>(0, 0, deps.clock);
    deps.rate = defaults->rate.get();
  }
  return deps;
}

absl::StatusOr<StreamAdmission> IngestServiceImpl::Admit(grpc::CallbackServerContext* context) {
  absl::StatusOr<std::string> caller = deps_.guard->Admit(*context, security::Scope::kIngest);
  if (!caller.ok()) return caller.status();
  StreamAdmission admission;
  admission.caller = *std::move(caller);
  admission.peer = context->peer();
  if (const absl::Duration debt = deps_.rate->Debt(admission.caller); debt > kMaxDebtAtOpen) {
    deps_.metrics->StreamRefused(IngestMetrics::StreamRefusal::kCallerRate);
    return Exhausted(context, debt,
                     absl::StrCat("caller ", admission.caller,
                                  " is over its event rate limit on this instance"));
  }
  bool caller_limit = false;
  absl::Status slot = deps_.streams->Acquire(admission.caller, &admission.slot, &caller_limit);
  if (!slot.ok()) {
    deps_.metrics->StreamRefused(caller_limit ? IngestMetrics::StreamRefusal::kCallerStreams
                                              : IngestMetrics::StreamRefusal::kProcessStreams);
    return Exhausted(context, kStreamLimitRetry, std::string(slot.message()));
  }
  return admission;
}

grpc::ServerReadReactor<grpc::ByteBuffer>* IngestServiceImpl::StreamMetrics(
    grpc::CallbackServerContext* context, grpc::ByteBuffer* summary) {
  absl::StatusOr<StreamAdmission> admission = Admit(context);
  if (!admission.ok()) {
    return new RefusedReactor<grpc::ServerReadReactor<grpc::ByteBuffer>>(admission.status());
  }
  auto reactor = std::make_shared<SummaryReactor>(deps_, *std::move(admission), summary);
  reactor->Start(reactor);
  return reactor.get();
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* IngestServiceImpl::IngestStream(
    grpc::CallbackServerContext* context) {
  absl::StatusOr<StreamAdmission> admission = Admit(context);
  if (!admission.ok()) {
    return new RefusedReactor<grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>>(
        admission.status());
  }
  auto reactor = std::make_shared<AckReactor>(deps_, *std::move(admission));
  reactor->Start(reactor);
  return reactor.get();
}

}  // namespace streammetrics::ingest
