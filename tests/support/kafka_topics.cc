#include "tests/support/kafka_topics.h"

#include <unistd.h>

#include <atomic>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "lib/kafka/kafka_config.h"
#include "lib/kafka/topic_check.h"
#include "tests/support/stack.h"

namespace streammetrics::testing {
namespace {

// Creates or deletes `name`; the admin request's own result decides.
absl::Status RunAdmin(rd_kafka_t* admin, const std::string& name, int partitions, bool create,
                      const std::map<std::string, std::string>& configs = {}) {
  char err[256];
  kafka::QueuePtr q(rd_kafka_queue_new(admin));
  if (create) {
    rd_kafka_NewTopic_t* t = rd_kafka_NewTopic_new(name.c_str(), partitions, 3, err, sizeof(err));
    if (t == nullptr) return absl::InvalidArgumentError(err);
    rd_kafka_NewTopic_set_config(t, "min.insync.replicas", "2");
    for (const auto& [config, value] : configs) {
      rd_kafka_NewTopic_set_config(t, config.c_str(), value.c_str());
    }
    rd_kafka_CreateTopics(admin, &t, 1, nullptr, q.get());
    rd_kafka_NewTopic_destroy(t);
  } else {
    rd_kafka_DeleteTopic_t* t = rd_kafka_DeleteTopic_new(name.c_str());
    rd_kafka_DeleteTopics(admin, &t, 1, nullptr, q.get());
    rd_kafka_DeleteTopic_destroy(t);
  }
  kafka::EventPtr ev(rd_kafka_queue_poll(q.get(), 30000));
  if (ev == nullptr) return absl::DeadlineExceededError("admin request timed out");
  if (rd_kafka_event_error(ev.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(rd_kafka_event_error_string(ev.get()));
  }
  size_t n = 0;
  const rd_kafka_topic_result_t** results =
      create
          ? rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev.get()), &n)
          : rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev.get()), &n);
  if (n != 1) return absl::InternalError("unexpected admin result count");
  if (rd_kafka_topic_result_error(results[0]) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(rd_kafka_topic_result_error_string(results[0]));
  }
  return absl::OkStatus();
}

}  // namespace

ScopedTopic::ScopedTopic(const std::string& prefix, int partitions,
                         const std::map<std::string, std::string>& configs)
    : partitions_(partitions) {
  static std::atomic<int> counter{0};
  // The pid too: ctest runs each test in a process of its own, and two of one fixture can start
  // in the same millisecond; with the same name, one would delete the other's topic.
  name_ = absl::StrCat(prefix, "-", getpid(), "-", absl::ToUnixMillis(absl::Now()), "-",
                       counter.fetch_add(1));
  auto conf = kafka::MakeConf({{"bootstrap.servers", KafkaBootstrap()}});
  auto admin = conf.ok() ? kafka::MakeClient(RD_KAFKA_PRODUCER, std::move(*conf))
                         : absl::StatusOr<kafka::HandlePtr>(conf.status());
  if (!admin.ok()) {
    status_ = admin.status();
    return;
  }
  admin_ = std::move(*admin);
  status_ = RunAdmin(admin_.get(), name_, partitions, /*create=*/true, configs);
  if (!status_.ok()) return;
  // Created means every broker knows every partition: KRaft propagates new topics to brokers
  // asynchronously, and a producer that refreshes metadata from a broker still missing some
  // partitions fails the records queued for them (_UNKNOWN_PARTITION). A fresh client bootstrapped
  // with one broker sends its first metadata request to that broker, so each is asked in turn.
  for (absl::string_view broker : absl::StrSplit(KafkaBootstrap(), ',')) {
    const bool known = PollUntil(absl::Seconds(30), [&] {
      auto one = kafka::MakeConf({{"bootstrap.servers", std::string(broker)}});
      if (!one.ok()) return false;
      auto client = kafka::MakeClient(RD_KAFKA_PRODUCER, std::move(*one));
      if (!client.ok()) return false;
      auto cluster = kafka::DescribeCluster(client->get(), absl::Seconds(5));
      return cluster.ok() && cluster->topics.count(name_) &&
             cluster->topics[name_].partitions == partitions;
    });
    if (!known) {
      status_ = absl::DeadlineExceededError(
          absl::StrCat("broker ", broker, " did not learn topic ", name_, " within 30 s"));
      return;
    }
  }
}

ScopedTopic::~ScopedTopic() {
  if (admin_ != nullptr) (void)RunAdmin(admin_.get(), name_, partitions_, /*create=*/false);
}

int64_t ScopedTopic::RecordCount() const {
  int64_t total = 0;
  for (int p = 0; p < partitions_; ++p) {
    int64_t low = 0, high = 0;
    if (rd_kafka_query_watermark_offsets(admin_.get(), name_.c_str(), p, &low, &high, 10000) !=
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      return -1;
    }
    total += high - low;
  }
  return total;
}

std::vector<ConsumedRecord> ConsumeAll(const std::string& topic, size_t expected,
                                       absl::Duration timeout) {
  std::vector<ConsumedRecord> out;
  auto conf = kafka::MakeConf(
      {{"bootstrap.servers", KafkaBootstrap()},
       {"group.id", absl::StrCat("it-", topic, "-", absl::ToUnixNanos(absl::Now()))},
       {"auto.offset.reset", "earliest"},
       {"enable.auto.commit", "false"},
       {"partition.assignment.strategy", "cooperative-sticky"}});
  if (!conf.ok()) return out;
  auto rk = kafka::MakeClient(RD_KAFKA_CONSUMER, std::move(*conf));
  if (!rk.ok()) return out;
  rd_kafka_poll_set_consumer(rk->get());
  kafka::PartitionListPtr topics(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(topics.get(), topic.c_str(), RD_KAFKA_PARTITION_UA);
  if (rd_kafka_subscribe(rk->get(), topics.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) return out;
  PollUntil(timeout, [&] {
    for (int i = 0; i < 1000 && out.size() < expected; ++i) {
      kafka::MessagePtr m(rd_kafka_consumer_poll(rk->get(), 100));
      if (m == nullptr) break;
      if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
      ConsumedRecord r;
      r.partition = m->partition;
      if (m->key) r.key.assign(static_cast<const char*>(m->key), m->key_len);
      if (m->payload) r.value.assign(static_cast<const char*>(m->payload), m->len);
      rd_kafka_headers_t* headers = nullptr;
      if (rd_kafka_message_headers(m.get(), &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* name;
        const void* value;
        size_t size;
        for (size_t h = 0; rd_kafka_header_get_all(headers, h, &name, &value, &size) ==
                           RD_KAFKA_RESP_ERR_NO_ERROR;
             ++h) {
          r.headers[name] = std::string(static_cast<const char*>(value), size);
        }
      }
      out.push_back(std::move(r));
    }
    return out.size() >= expected;
  });
  rd_kafka_consumer_close(rk->get());
  return out;
}

}  // namespace streammetrics::testing
