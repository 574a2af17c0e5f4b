// AckStream: one IngestService/IngestStream call of the client library, as a gRPC callback
// reactor. It only moves messages: writes the batches its owner hands it (one at a time), reads
// every BatchAck and passes it on, half-closes on request, and reports the end of the call. All
// decisions (what to write, what an ack means, when to reconnect) are the owner's (MetricsClient).
//
// Reactions never block: they take a short internal lock and call the Listener, which must not
// block either. Ownership: the owner holds the stream in a shared_ptr and must keep it until
// Listener::OnStreamDone has been called (gRPC needs the reactor until OnDone); methods called
// after that are harmless no-ops. A hold keeps the call open for writes started from the owner's
// threads; it is released once no write can follow (half-close requested, or the call broke).
#ifndef STREAMMETRICS_LIB_CLIENT_ACK_STREAM_H_
#define STREAMMETRICS_LIB_CLIENT_ACK_STREAM_H_

#include <memory>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "lib/security/client_security.h"
#include "streammetrics/v1/ingest.grpc.pb.h"

namespace streammetrics::client {

class AckStream final : public grpc::ClientBidiReactor<v1::MetricBatch, v1::BatchAck> {
 public:
  // Called on gRPC's callback threads, in this order per call: any number of OnAck and
  // OnWriteDone, then OnStreamDone once.
  class Listener {
   public:
    virtual ~Listener() = default;
    virtual void OnAck(const v1::BatchAck& ack) = 0;
    // The write started by Write finished; `ok` false means the call is broken.
    virtual void OnWriteDone(bool ok) = 0;
    // The call is over (OK only after a half-close the server answered cleanly). `retry_after`
    // is what the server asked the client to wait before the next stream (its
    // streammetrics-retry-after-ms trailer), zero when it did not.
    virtual void OnStreamDone(const grpc::Status& status, absl::Duration retry_after) = 0;
  };

  // `stub`, `listener` and `security` (whose token goes with the call) must outlive the call.
  AckStream(v1::IngestService::StubInterface* stub, Listener* listener,
            const security::ClientSecurityConfig* security);

  // Starts the call and the first read. Call once.
  void Start();

  // Starts writing `batch`; the owner keeps at most one write in flight (wait for OnWriteDone).
  // Returns false, writing nothing, once the call no longer takes writes (half-closed or broken).
  bool Write(std::shared_ptr<const v1::MetricBatch> batch);

  // Half-closes once the write in flight, if any, is done; no Write is accepted afterwards. The
  // server then finishes the call after its last ack. Idempotent.
  void FinishWrites();

  // Ends the call now (Close timed out). Safe at any time, also after the call ended.
  void Cancel();

  // grpc::ClientBidiReactor
  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnWritesDoneDone(bool /*ok*/) override {}
  void OnDone(const grpc::Status& status) override;

 private:
  v1::IngestService::StubInterface* const stub_;
  const security::ClientSecurityConfig* const security_;
  Listener* const listener_;
  grpc::ClientContext context_;
  v1::BatchAck ack_;  // the read buffer; one read in flight at a time

  absl::Mutex mu_;
  std::shared_ptr<const v1::MetricBatch> writing_ ABSL_GUARDED_BY(mu_);  // the write in flight
  bool writes_open_ ABSL_GUARDED_BY(mu_) = true;
  bool writes_done_wanted_ ABSL_GUARDED_BY(mu_) = false;
  bool hold_released_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace streammetrics::client

#endif  // STREAMMETRICS_LIB_CLIENT_ACK_STREAM_H_
