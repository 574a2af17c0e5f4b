// KafkaRecordSink: see kafka_record_sink.h.
//
// Threads: SendBatch runs on gRPC threads and only enqueues into librdkafka (never blocks: a full
// queue parks the rest of the batch in backlog_). The delivery thread polls librdkafka, which runs
// OnDeliveryReport and OnError on it, then drains the backlog, runs callbacks of batches that
// failed at enqueue time, and rebuilds the producer after a fatal error.
#include "lib/kafka/kafka_record_sink.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "lib/common/log.h"
#include "lib/common/status_macros.h"
#include "lib/kafka/record_size_check.h"
#include "lib/kafka/topic_check.h"

namespace streammetrics::kafka {

struct KafkaRecordSink::Batch {
  std::vector<Record> records;
  std::vector<Slot> slots;
  std::vector<absl::Status> results;
  // reported[i] != 0 once results[i] is final. Each index is written by one thread at a time: the
  // enqueuing thread (immediate failures, under rk_mu_ reader lock), the delivery thread (reports),
  // or a holder of the rk_mu_ writer lock (FailUnreported).
  std::vector<uint8_t> reported;
  std::atomic<size_t> remaining{0};
  absl::Time sent_at;
  BatchDeliveredCallback done;
};

namespace {

const absl::Status& Pending() {
  static const absl::Status* pending =
      new absl::Status(absl::UnavailableError("delivery report pending"));
  return *pending;
}

}  // namespace

absl::Status RecordFailure(rd_kafka_resp_err_t err, absl::string_view what) {
  switch (err) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:     // the producer's or the topic's limit
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:  // the batch is larger than a segment
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:         // e.g. a compacted topic without a key
    case RD_KAFKA_RESP_ERR_INVALID_TIMESTAMP:      // outside message.timestamp.*.ms
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
      return absl::FailedPreconditionError(
          absl::StrCat(what, ": ", rd_kafka_err2str(err), " (Kafka refuses it for good)"));
    default:
      return absl::UnavailableError(absl::StrCat(what, ": ", rd_kafka_err2str(err)));
  }
}

absl::StatusOr<std::unique_ptr<KafkaRecordSink>> KafkaRecordSink::Create(KafkaSinkConfig config,
                                                                         KafkaSinkHooks hooks) {
  std::unique_ptr<KafkaRecordSink> sink(new KafkaRecordSink(std::move(config), std::move(hooks)));
  ASSIGN_OR_RETURN(HandlePtr rk, sink->MakeProducer());
  if (sink->config_.check_topics) {
    RETURN_IF_ERROR(
        AwaitTopics(rk.get(), SpecsFor(sink->config_.topics), sink->config_.metadata_timeout));
    RETURN_IF_ERROR(CheckRecordSizes(rk.get(), sink->config_.topics,
                                     sink->config_.largest_record_bytes,
                                     sink->config_.metadata_timeout));
  }
  {
    absl::WriterMutexLock lock(&sink->rk_mu_);
    sink->rk_ = std::move(rk);
  }
  sink->delivery_thread_ = std::thread([s = sink.get()] { s->DeliveryLoop(); });
  return sink;
}

KafkaRecordSink::KafkaRecordSink(KafkaSinkConfig config, KafkaSinkHooks hooks)
    : config_(std::move(config)), hooks_(std::move(hooks)) {}

KafkaRecordSink::~KafkaRecordSink() { (void)Close(absl::Seconds(30)); }

Properties KafkaRecordSink::ProducerProperties(const KafkaSinkConfig& config) {
  Properties props = {
      // Throughput defaults, measured (docs/ingest.md); each can be overridden through
      // extra_properties. The brokers' CPU goes mostly per request, not per record: on the local
      // 3-broker stack at 50k events/s they spent 14 µs of CPU per event at linger.ms=5, 9 at 20
      // and 7.4 at 50, for about 20 ms more ack latency (bench/pipeline_bench.sh's CPU table).
      {"linger.ms", "50"},
      {"batch.size", "1000000"},
      {"compression.type", "lz4"},
      // Our own byte budget bounds memory; librdkafka's queue must never be the tighter bound for
      // message counts, or small events would hit QUEUE_FULL long before the budget.
      {"queue.buffering.max.messages", "2000000"},
      {"queue.buffering.max.kbytes", "1048576"},
  };
  for (auto& p : StallTolerantClientProperties()) props.push_back(std::move(p));
  props.insert(props.end(), config.extra_properties.begin(), config.extra_properties.end());
  // Zero loss is not negotiable: re-assert its settings after any pass-through.
  for (auto& p : ZeroLossProducerProperties(config.bootstrap_servers)) {
    props.push_back(std::move(p));
  }
  props.emplace_back("message.timeout.ms",
                     std::to_string(absl::ToInt64Milliseconds(config.message_timeout)));
  return props;
}

absl::StatusOr<HandlePtr> KafkaRecordSink::MakeProducer() {
  ASSIGN_OR_RETURN(ConfPtr conf, MakeConf(ProducerProperties(config_)));
  rd_kafka_conf_set_opaque(conf.get(), this);
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &KafkaRecordSink::OnDeliveryReport);
  rd_kafka_conf_set_error_cb(conf.get(), &KafkaRecordSink::OnError);
  rd_kafka_conf_set_log_cb(conf.get(), &KafkaRecordSink::OnLog);
  return MakeClient(RD_KAFKA_PRODUCER, std::move(conf));
}

void KafkaRecordSink::SendBatch(std::vector<Record> records, BatchDeliveredCallback done) {
  auto* batch = new Batch;
  const size_t n = records.size();
  batch->records = std::move(records);
  batch->slots.assign(n, Slot{batch});
  batch->results.assign(n, Pending());
  batch->reported.assign(n, 0);
  batch->remaining.store(n);
  batch->sent_at = absl::Now();
  batch->done = std::move(done);

  absl::ReaderMutexLock rk_lock(&rk_mu_);
  {
    absl::MutexLock lock(&mu_);
    outstanding_.insert(batch);
    if (n == 0) {
      completed_.push_back(batch);
      return;
    }
    if (closed_ || !rk_ || fatal_.load()) {
      // Fail everything; the delivery thread runs the callback (never inside SendBatch).
      for (size_t i = 0; i < n; ++i) {
        batch->results[i] = absl::UnavailableError(closed_ ? "the Kafka producer is shutting down"
                                                           : "Kafka producer is being rebuilt");
        batch->reported[i] = 1;
      }
      batch->remaining.store(0);
      completed_.push_back(batch);
      return;
    }
    // Keep FIFO order when records are already waiting for queue room.
    if (!backlog_.empty()) {
      backlog_.push_back({batch, 0});
      backlog_records_ += n;
      return;
    }
  }
  const size_t stopped_at = Produce(rk_.get(), batch, 0);
  if (stopped_at < n) {
    // `batch` cannot complete while records remain unproduced, so it is still alive here.
    absl::MutexLock lock(&mu_);
    backlog_.push_back({batch, stopped_at});
    backlog_records_ += n - stopped_at;
  }
}

size_t KafkaRecordSink::Produce(rd_kafka_t* rk, Batch* batch, size_t from) {
  // Read the size first: once the last record is handed over, the delivery thread may complete
  // and free the batch at any moment.
  const size_t n = batch->records.size();
  for (size_t i = from; i < n; ++i) {
    const Record& r = batch->records[i];
    rd_kafka_headers_t* headers = rd_kafka_headers_new(r.headers.size());
    for (const auto& [name, value] : r.headers) {
      rd_kafka_header_add(headers, name.data(), static_cast<ssize_t>(name.size()), value.data(),
                          static_cast<ssize_t>(value.size()));
    }
    rd_kafka_resp_err_t err = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(r.topic.c_str()), RD_KAFKA_V_KEY(r.key.data(), r.key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(r.value.data()), r.value.size()),
        // No RD_KAFKA_MSG_F_COPY: librdkafka points at r.value, which the batch keeps until every
        // record of it is reported (or, after a fatal error, until FailUnreported has purged and
        // destroyed the producer). Copying each value cost a malloc and a memcpy per record.
        RD_KAFKA_V_MSGFLAGS(0), RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_OPAQUE(&batch->slots[i]),
        RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) continue;
    rd_kafka_headers_destroy(headers);  // ownership passes to librdkafka only on success
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) return i;
    if (err == RD_KAFKA_RESP_ERR__FATAL) fatal_.store(true);
    // Not enqueued at all: certainly not stored.
    Report(batch, i, RecordFailure(err, "Kafka refused the record"), /*on_delivery_thread=*/false);
  }
  return n;
}

void KafkaRecordSink::Report(Batch* batch, size_t index, absl::Status status,
                             bool on_delivery_thread) {
  if (batch->reported[index]) return;
  batch->reported[index] = 1;
  const bool ok = status.ok();
  batch->results[index] = std::move(status);
  if (hooks_.on_delivery) {
    hooks_.on_delivery(batch->records[index], absl::Now() - batch->sent_at, ok);
  }
  if (batch->remaining.fetch_sub(1) != 1) return;
  if (on_delivery_thread) {
    Complete(batch);
  } else {
    absl::MutexLock lock(&mu_);
    completed_.push_back(batch);
  }
}

void KafkaRecordSink::Complete(Batch* batch) {
  batch->done(std::move(batch->results));
  absl::MutexLock lock(&mu_);
  outstanding_.erase(batch);
  delete batch;
}

void KafkaRecordSink::OnDeliveryReport(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* self = static_cast<KafkaRecordSink*>(opaque);
  auto* slot = static_cast<Slot*>(m->_private);
  Batch* batch = slot->batch;
  const size_t index = static_cast<size_t>(slot - batch->slots.data());
  absl::Status status = absl::OkStatus();
  if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    // A timed-out in-flight message is "possibly persisted": not acknowledged, and a resend is
    // safe because the idempotency key deduplicates it downstream.
    status =
        RecordFailure(m->err, rd_kafka_message_status(m) == RD_KAFKA_MSG_STATUS_POSSIBLY_PERSISTED
                                  ? "Kafka delivery failed (possibly persisted)"
                                  : "Kafka delivery failed");
    if (m->err == RD_KAFKA_RESP_ERR__FATAL) self->fatal_.store(true);
  }
  self->Report(batch, index, std::move(status), /*on_delivery_thread=*/true);
}

void KafkaRecordSink::OnError(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  auto* self = static_cast<KafkaRecordSink*>(opaque);
  if (err == RD_KAFKA_RESP_ERR__FATAL) {
    char fatal[512];
    rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
    SM_LOG(Error, "kafka_fatal_error").Kv("reason", fatal);
    self->fatal_.store(true);
    return;
  }
  // Transport errors and all-brokers-down are retried by librdkafka; they delay acks, never fake
  // them. Logged so an operator sees why acks are slow.
  SM_LOG(Warn, "kafka_error")
      .Kv("code", rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err)))
      .Kv("reason", reason);
}

void KafkaRecordSink::OnLog(const rd_kafka_t*, int level, const char* facility,
                            const char* message) {
  // librdkafka uses syslog levels: 0-3 error, 4 warning, 5-6 info, 7 debug.
  const LogLevel ours = level <= 3   ? LogLevel::kError
                        : level == 4 ? LogLevel::kWarn
                        : level <= 6 ? LogLevel::kInfo
                                     : LogLevel::kDebug;
  LogLine(ours, "kafka_log").Kv("facility", facility).Kv("message", message);
}

void KafkaRecordSink::DeliveryLoop() {
  while (!stop_.load()) {
    rd_kafka_t* rk;
    {
      absl::ReaderMutexLock lock(&rk_mu_);
      rk = rk_.get();
    }
    // Only this thread replaces rk_, so it stays valid while this thread polls it. It is null
    // only after a rebuild failed; sends fail meanwhile, and the rebuild is retried below.
    if (rk != nullptr) {
      rd_kafka_poll(rk, 20);
      DrainBacklog();
    }
    RunCompleted();
    if (fatal_.load()) Rebuild();
  }
}

void KafkaRecordSink::DrainBacklog() {
  absl::ReaderMutexLock rk_lock(&rk_mu_);
  while (true) {
    BacklogEntry entry;
    {
      absl::MutexLock lock(&mu_);
      if (backlog_.empty()) return;
      entry = backlog_.front();
      backlog_.pop_front();
    }
    const size_t n = entry.batch->records.size();
    const size_t stopped_at = Produce(rk_.get(), entry.batch, entry.next);
    absl::MutexLock lock(&mu_);
    backlog_records_ -= stopped_at - entry.next;
    if (stopped_at < n) {
      backlog_.push_front({entry.batch, stopped_at});  // still full: retry after the next poll
      return;
    }
  }
}

void KafkaRecordSink::RunCompleted() {
  while (true) {
    Batch* batch;
    {
      absl::MutexLock lock(&mu_);
      if (completed_.empty()) return;
      batch = completed_.front();
      completed_.pop_front();
    }
    Complete(batch);
  }
}

void KafkaRecordSink::Rebuild() {
  char reason[512] = "a previous rebuild failed";
  {
    absl::ReaderMutexLock lock(&rk_mu_);
    if (rk_) rd_kafka_fatal_error(rk_.get(), reason, sizeof(reason));
  }
  if (hooks_.on_health) hooks_.on_health(false, reason);
  SM_LOG(Error, "kafka_producer_rebuild").Kv("reason", reason);
  absl::StatusOr<HandlePtr> fresh = MakeProducer();
  {
    absl::WriterMutexLock lock(&rk_mu_);
    // The old producer can deliver nothing more: fail every record it did not report, so every
    // client hears "not stored" and may resend (the idempotency key makes that safe).
    FailUnreported(absl::StrCat("Kafka producer failed fatally: ", reason));
    if (fresh.ok()) {
      rk_ = std::move(*fresh);
      fatal_.store(false);
    }
  }
  RunCompleted();
  if (!fresh.ok()) {
    // Properties were valid at start, so this is unexpected; keep failing sends loudly and retry
    // once a second (this thread has nothing else to do without a producer).
    SM_LOG(Error, "kafka_producer_rebuild_failed").Kv("status", fresh.status().ToString());
    absl::SleepFor(absl::Seconds(1));
    return;
  }
  if (hooks_.on_health) hooks_.on_health(true, "");
  SM_LOG(Info, "kafka_producer_rebuilt");
}

void KafkaRecordSink::FailUnreported(const std::string& why) {
  // Destroying the producer frees its queued messages without delivery reports; every record not
  // reported yet is failed here instead.
  if (rk_) {
    rd_kafka_purge(rk_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rk_.reset();
  }
  std::vector<Batch*> batches;
  {
    absl::MutexLock lock(&mu_);
    batches.assign(outstanding_.begin(), outstanding_.end());
    backlog_.clear();
    backlog_records_ = 0;
  }
  for (Batch* batch : batches) {
    if (batch->remaining.load() == 0) continue;  // already queued in completed_
    for (size_t i = 0; i < batch->records.size(); ++i) {
      if (!batch->reported[i]) Report(batch, i, absl::UnavailableError(why), false);
    }
  }
}

absl::Status KafkaRecordSink::Flush(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto drained = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return outstanding_.empty(); };
  if (!mu_.AwaitWithTimeout(absl::Condition(&drained), timeout)) {
    size_t records = 0;
    for (Batch* b : outstanding_) records += b->remaining.load();
    return absl::DeadlineExceededError(absl::StrCat(records, " records in ", outstanding_.size(),
                                                    " batches were not confirmed by Kafka within ",
                                                    absl::FormatDuration(timeout)));
  }
  return absl::OkStatus();
}

absl::Status KafkaRecordSink::Close(absl::Duration timeout) {
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return absl::OkStatus();
  }
  absl::Status flushed = Flush(timeout);
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }
  stop_.store(true);
  if (delivery_thread_.joinable()) delivery_thread_.join();
  {
    absl::WriterMutexLock lock(&rk_mu_);
    if (!flushed.ok()) SM_LOG(Error, "kafka_close_unconfirmed").Kv("status", flushed.ToString());
    FailUnreported("the producer shut down before Kafka confirmed the record");
  }
  RunCompleted();
  return flushed;
}

size_t KafkaRecordSink::QueueDepth() const {
  size_t depth = 0;
  {
    absl::ReaderMutexLock lock(&rk_mu_);
    if (rk_) depth = static_cast<size_t>(rd_kafka_outq_len(rk_.get()));
  }
  absl::MutexLock lock(&mu_);
  return depth + backlog_records_;
}

rd_kafka_t* KafkaRecordSink::HandleForTest() const {
  absl::ReaderMutexLock lock(&rk_mu_);
  return rk_.get();
}

}  // namespace streammetrics::kafka
