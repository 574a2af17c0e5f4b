// InProcessIngest: the real IngestServiceImpl served on a chosen loopback port in front of a
// FakeRecordSink (deliveries completed by hand or automatically), recording the sequence of every
// batch that reached the sink — what the server "saw" — for the client library's tests.
#ifndef STREAMMETRICS_TESTS_LIB_CLIENT_IN_PROCESS_INGEST_H_
#define STREAMMETRICS_TESTS_LIB_CLIENT_IN_PROCESS_INGEST_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/grpcpp.h"
#include "ingest-service/byte_budget.h"
#include "ingest-service/ingest_metrics.h"
#include "ingest-service/ingest_service.h"
#include "lib/common/clock.h"
#include "lib/events/idempotency_key.h"
#include "lib/kafka/fake_record_sink.h"

namespace streammetrics::client::testing {

// Forwards to a FakeRecordSink and records each batch's sequence (from its records' headers).
class RecordingSink final : public kafka::RecordSink {
 public:
  explicit RecordingSink(kafka::FakeRecordSink* inner) : inner_(inner) {}

  void SendBatch(std::vector<kafka::Record> records, kafka::BatchDeliveredCallback done) override {
    uint64_t sequence = 0;
    for (const auto& [name, value] : records.front().headers) {
      if (name == events::kHeaderSequence && !absl::SimpleAtoi(value, &sequence)) sequence = 0;
    }
    {
      absl::MutexLock lock(&mu_);
      sequences_.push_back(sequence);
    }
    inner_->SendBatch(std::move(records), std::move(done));
  }
  absl::Status Flush(absl::Duration timeout) override { return inner_->Flush(timeout); }

  std::vector<uint64_t> sequences() const {
    absl::MutexLock lock(&mu_);
    return sequences_;
  }

 private:
  kafka::FakeRecordSink* const inner_;
  mutable absl::Mutex mu_;
  std::vector<uint64_t> sequences_ ABSL_GUARDED_BY(mu_);
};

class InProcessIngest {
 public:
  // Serves on 127.0.0.1:`port`; ok() is false when the port could not be bound.
  InProcessIngest(int port, bool auto_complete, size_t max_batch_events = 1000)
      : fake_(auto_complete), sink_(&fake_), budget_(256 << 20) {
    deps_.sink = &sink_;
    deps_.budget = &budget_;
    deps_.clock = RealClock::Get();  // events carry real timestamps
    deps_.metrics = &metrics_;
    deps_.limits.max_batch_events = max_batch_events;
    service_ = std::make_unique<ingest::IngestServiceImpl>(deps_);
    grpc::ServerBuilder builder;
    int bound = 0;
    builder.AddListeningPort(absl::StrCat("127.0.0.1:", port), grpc::InsecureServerCredentials(),
                             &bound);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    if (bound != port) server_.reset();
  }

  ~InProcessIngest() {
    fake_.SetAutoComplete(true);  // nothing may stay pending, or streams could never end
    Stop(absl::Seconds(10));
  }

  bool ok() const { return server_ != nullptr; }
  kafka::FakeRecordSink& fake() { return fake_; }
  std::vector<uint64_t> sequences() const { return sink_.sequences(); }

  // Shuts the server down: open streams are cancelled after `grace`. Blocks until every stream
  // ended, which needs their pending deliveries completed (by another thread, or auto-complete).
  void Stop(absl::Duration grace) {
    if (server_ == nullptr) return;
    server_->Shutdown(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(grace));
    server_.reset();
  }

 private:
  kafka::FakeRecordSink fake_;
  RecordingSink sink_;
  ingest::ByteBudget budget_;
  ingest::IngestMetrics metrics_;
  ingest::IngestDeps deps_;
  std::unique_ptr<ingest::IngestServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace streammetrics::client::testing

#endif  // STREAMMETRICS_TESTS_LIB_CLIENT_IN_PROCESS_INGEST_H_
