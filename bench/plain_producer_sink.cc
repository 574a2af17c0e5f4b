// PlainProducerSink: a bare librdkafka producer behind the RecordSink interface (see the header).
#include "bench/plain_producer_sink.h"

#include <chrono>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "lib/kafka/kafka_config.h"

namespace streammetrics::bench {

// One client batch: its callback, its size, how many records are still unreported and how many
// failed (the ceiling only counts failures, so they are not kept by position).
struct PlainProducerSink::Batch {
  kafka::BatchDeliveredCallback done;
  // Kept until the last report: librdkafka points at the values, as the ingest service's does.
  std::vector<kafka::Record> records;
  size_t size = 0;
  std::atomic<size_t> pending{0};
  std::atomic<size_t> failed{0};

  // Records one outcome; the last one reports the batch and deletes it.
  void Report(bool ok) {
    if (!ok) failed.fetch_add(1);
    if (pending.fetch_sub(1) != 1) return;
    std::vector<absl::Status> results(size, absl::OkStatus());
    for (size_t i = 0; i < failed.load(); ++i) results[i] = absl::UnavailableError("not delivered");
    done(std::move(results));
    delete this;
  }
};

absl::StatusOr<std::unique_ptr<PlainProducerSink>> PlainProducerSink::Create(
    const kafka::KafkaSinkConfig& config) {
  absl::StatusOr<kafka::ConfPtr> conf =
      kafka::MakeConf(kafka::KafkaRecordSink::ProducerProperties(config));
  if (!conf.ok()) return conf.status();
  rd_kafka_conf_set_dr_msg_cb(conf->get(), &PlainProducerSink::OnDelivery);
  absl::StatusOr<kafka::HandlePtr> producer =
      kafka::MakeClient(RD_KAFKA_PRODUCER, *std::move(conf));
  if (!producer.ok()) return producer.status();
  return std::unique_ptr<PlainProducerSink>(new PlainProducerSink(*std::move(producer)));
}

PlainProducerSink::PlainProducerSink(kafka::HandlePtr producer) : producer_(std::move(producer)) {
  poller_ = std::thread([this] {
    while (!stop_.load()) rd_kafka_poll(producer_.get(), 100);
  });
}

PlainProducerSink::~PlainProducerSink() {
  (void)Flush(absl::Seconds(30));
  stop_.store(true);
  poller_.join();
}

void PlainProducerSink::OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
  static_cast<Batch*>(m->_private)->Report(m->err == RD_KAFKA_RESP_ERR_NO_ERROR);
}

void PlainProducerSink::SendBatch(std::vector<kafka::Record> records,
                                  kafka::BatchDeliveredCallback done) {
  auto* batch = new Batch;
  batch->done = std::move(done);
  batch->size = records.size();
  batch->pending.store(records.size());
  batch->records = std::move(records);
  // Read the size first: once the last record is handed over, the batch may be reported and
  // deleted on the poller thread at any moment.
  const size_t n = batch->records.size();
  for (size_t i = 0; i < n; ++i) {
    const kafka::Record& r = batch->records[i];
    rd_kafka_headers_t* headers = rd_kafka_headers_new(r.headers.size());
    for (const auto& [k, v] : r.headers) {
      rd_kafka_header_add(headers, k.data(), static_cast<ssize_t>(k.size()), v.data(),
                          static_cast<ssize_t>(v.size()));
    }
    rd_kafka_resp_err_t err;
    // QUEUE_FULL: wait for the poller's deliveries to make room, as a simple application would.
    while ((err = rd_kafka_producev(
                producer_.get(), RD_KAFKA_V_TOPIC(r.topic.c_str()),
                RD_KAFKA_V_KEY(r.key.data(), r.key.size()),
                RD_KAFKA_V_VALUE(const_cast<char*>(r.value.data()), r.value.size()),
                RD_KAFKA_V_MSGFLAGS(0), RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_OPAQUE(batch),
                RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_headers_destroy(headers);
      batch->Report(false);
    }
  }
}

absl::Status PlainProducerSink::Flush(absl::Duration timeout) {
  const rd_kafka_resp_err_t err =
      rd_kafka_flush(producer_.get(), static_cast<int>(absl::ToInt64Milliseconds(timeout)));
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return absl::OkStatus();
  return absl::DeadlineExceededError(absl::StrCat("plain producer flush: ", rd_kafka_err2str(err)));
}

}  // namespace streammetrics::bench
