// IngestServiceImpl: the gRPC callback service. For each RPC it admits the caller (bearer token
// and scope, the caller's and the process's stream limits, the caller's rate) and creates a
// reactor; the work is in the reactors (stream_reactors.h), which never block. A refused stream
// ends at once, before any message is read: UNAUTHENTICATED / PERMISSION_DENIED (CallGuard) or
// RESOURCE_EXHAUSTED with the delay to wait in the message and in the
// `streammetrics-retry-after-ms` trailer, which MetricsClient honours.
#ifndef STREAMMETRICS_INGEST_SERVICE_INGEST_SERVICE_H_
#define STREAMMETRICS_INGEST_SERVICE_INGEST_SERVICE_H_

#include <memory>

#include "absl/status/statusor.h"
#include "ingest-service/ingest_reactor.h"
#include "streammetrics/v1/ingest.grpc.pb.h"

namespace streammetrics::ingest {

// Trailer of a RESOURCE_EXHAUSTED refusal: milliseconds to wait before opening another stream.
inline constexpr char kRetryAfterTrailer[] = "streammetrics-retry-after-ms";

// Adds the kRetryAfterTrailer of `retry` (at least 1 ms) to the call; returns the milliseconds,
// for the refusal's message. Both doors' refusals say when to come back this way.
int64_t AddRetryAfter(grpc::CallbackServerContext* context, absl::Duration retry);

// Both methods are raw (bytes in, bytes out): the reactors parse each batch themselves, so a
// message that does not parse is answered (ParseBatch) instead of ending the stream in silence.
class IngestServiceImpl final
    : public v1::IngestService::WithRawCallbackMethod_StreamMetrics<
          v1::IngestService::WithRawCallbackMethod_IngestStream<v1::IngestService::Service>> {
 public:
  // `deps` and everything it points to must outlive the server. Null guard, streams or rate
  // (tests, benchmarks): every caller is "anonymous" and unlimited.
  explicit IngestServiceImpl(IngestDeps deps);

  grpc::ServerReadReactor<grpc::ByteBuffer>* StreamMetrics(grpc::CallbackServerContext* context,
                                                           grpc::ByteBuffer* summary) override;
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* IngestStream(
      grpc::CallbackServerContext* context) override;

 private:
  // On success, the stream's admission (caller, peer, a held stream slot). On failure the status
  // to end the call with (a retry-after trailer already added for RESOURCE_EXHAUSTED).
  absl::StatusOr<StreamAdmission> Admit(grpc::CallbackServerContext* context);

  // What fills the null parts of the deps; before deps_, which points at them.
  struct Defaults {
    std::unique_ptr<security::CallGuard> guard;
    std::unique_ptr<security::CallerSlots> streams;
    std::unique_ptr<security::CallerRateLimiter> rate;
  };
  static IngestDeps WithDefaults(IngestDeps deps, Defaults* defaults);

  Defaults defaults_;
  const IngestDeps deps_;
};

}  // namespace streammetrics::ingest

#endif  // STREAMMETRICS_INGEST_SERVICE_INGEST_SERVICE_H_
