// replay_bench: the two halves of bench/aggregation_replay.sh that are not the aggregator itself.
//
//   replay_bench fill --topic T --events N --series S [--minutes M]
//     Produces N valid events of S series (idempotent, acks=all, keyed by series, with
//     idempotency headers), event times spread over the last M minutes (default 10), in order.
//   replay_bench consume --topic T --events N
//     The baseline: a plain librdkafka consumer-group loop over T from the beginning that only
//     touches each record, until N records were read. Prints records/s and CPU µs per record.
//
// Progress goes to stderr once a second; results go to stdout ("rate <records/s>",
// "cpu_us_per_record <µs>" for consume).
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "aggregation-service/engine/window_math.h"
#include "lib/events/idempotency_key.h"
#include "lib/events/series_key.h"
#include "lib/kafka/kafka_config.h"
#include "streammetrics/v1/metric_event.pb.h"

namespace {

using namespace streammetrics;

std::string Flag(int argc, char** argv, const std::string& name, const std::string& fallback) {
  for (int i = 2; i + 1 < argc; ++i) {
    if (argv[i] == "--" + name) return argv[i + 1];
  }
  return fallback;
}

std::string Bootstrap() {
  const char* b = std::getenv("STREAMMETRICS_KAFKA_BOOTSTRAP");
  return b != nullptr ? b : "127.0.0.1:19092,127.0.0.1:29092,127.0.0.1:39092";
}

int Fill(const std::string& topic, int64_t events, int series, int minutes) {
  kafka::Properties props = kafka::ZeroLossProducerProperties(Bootstrap());
  props.insert(props.end(), {{"linger.ms", "5"},
                             {"batch.size", "1000000"},
                             {"compression.type", "lz4"},
                             {"queue.buffering.max.messages", "1000000"}});
  auto conf = kafka::MakeConf(props);
  if (!conf.ok()) return fprintf(stderr, "%s\n", conf.status().ToString().c_str()), 1;
  static int64_t failed = 0;
  rd_kafka_conf_set_dr_msg_cb(conf->get(), [](rd_kafka_t*, const rd_kafka_message_t* m, void*) {
    if (m->err) ++failed;
  });
  auto rk = kafka::MakeClient(RD_KAFKA_PRODUCER, *std::move(conf));
  if (!rk.ok()) return fprintf(stderr, "%s\n", rk.status().ToString().c_str()), 1;
  const absl::Time start = absl::Now() - absl::Minutes(minutes);
  absl::Time report = absl::Now() + absl::Seconds(1);
  for (int64_t i = 0; i < events; ++i) {
    v1::MetricEvent e;
    e.set_event_id(absl::StrCat("b", i));
    *e.mutable_timestamp() =
        aggregation::TimeToProto(start + absl::Minutes(minutes) * (double(i) / events));
    e.set_service_id("bench-replay");
    e.set_instance_id("pod-1");
    e.set_metric_type(v1::METRIC_TYPE_HTTP_REQUEST);
    e.set_metric_name(absl::StrCat("m", i % 10));
    (*e.mutable_tags())["endpoint"] = absl::StrCat("/e", (i / 10) % (series / 10 + 1));
    e.set_value(1 + (i * 7919) % 1000);
    const std::string key = events::SeriesKey(e);
    const std::string value = e.SerializeAsString();
    const events::Headers h = events::EncodeHeaders(
        {"bench", static_cast<uint64_t>(i / 1000 + 1), static_cast<uint32_t>(i % 1000)},
        events::kContentTypeMetricEvent);
    rd_kafka_headers_t* headers = rd_kafka_headers_new(h.size());
    for (const auto& [k, v] : h)
      rd_kafka_header_add(headers, k.data(), k.size(), v.data(), v.size());
    while (rd_kafka_producev(rk->get(), RD_KAFKA_V_TOPIC(topic.c_str()),
                             RD_KAFKA_V_KEY(key.data(), key.size()),
                             RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(headers),
                             RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(rk->get(), 50);
    }
    rd_kafka_poll(rk->get(), 0);
    if (absl::Now() >= report) {
      fprintf(stderr, "\rfill: %lld / %lld", static_cast<long long>(i),
              static_cast<long long>(events));
      report += absl::Seconds(1);
    }
  }
  rd_kafka_flush(rk->get(), 120000);
  fprintf(stderr, "\rfill: %lld events, %lld failed\n", static_cast<long long>(events),
          static_cast<long long>(failed));
  return failed == 0 ? 0 : 1;
}

int Consume(const std::string& topic, int64_t events) {
  auto conf = kafka::MakeConf(
      {{"bootstrap.servers", Bootstrap()},
       {"group.id", absl::StrCat("replay-baseline-", absl::ToUnixNanos(absl::Now()))},
       {"auto.offset.reset", "earliest"},
       {"enable.auto.commit", "false"},
       {"partition.assignment.strategy", "cooperative-sticky"}});
  if (!conf.ok()) return fprintf(stderr, "%s\n", conf.status().ToString().c_str()), 1;
  auto rk = kafka::MakeClient(RD_KAFKA_CONSUMER, *std::move(conf));
  if (!rk.ok()) return fprintf(stderr, "%s\n", rk.status().ToString().c_str()), 1;
  rd_kafka_poll_set_consumer(rk->get());
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, topic.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_subscribe(rk->get(), topics);
  rd_kafka_topic_partition_list_destroy(topics);
  int64_t read = 0;
  size_t bytes = 0;
  absl::Time first;
  absl::Time report = absl::Now() + absl::Seconds(1);
  while (read < events) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk->get(), 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (read++ == 0) first = absl::Now();
      bytes += m->len;  // touch the record, as the aggregator must
    }
    rd_kafka_message_destroy(m);
    if (absl::Now() >= report) {
      fprintf(stderr, "\rconsume: %lld / %lld", static_cast<long long>(read),
              static_cast<long long>(events));
      report += absl::Seconds(1);
    }
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - first);
  fprintf(stderr, "\rconsume: %lld records (%zu bytes) in %.2f s\n", static_cast<long long>(read),
          bytes, seconds);
  printf("rate %.0f\n", static_cast<double>(read) / seconds);
  // CPU per record (all threads, including librdkafka's): unlike the rate, it does not depend on
  // what else the two cores were doing.
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const double cpu_seconds =
      static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
      static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  printf("cpu_us_per_record %.2f\n", cpu_seconds * 1e6 / static_cast<double>(read));
  rd_kafka_consumer_close(rk->get());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  const std::string topic = Flag(argc, argv, "topic", "");
  const int64_t events = std::atoll(Flag(argc, argv, "events", "1000000").c_str());
  if (topic.empty() || (mode != "fill" && mode != "consume")) {
    fprintf(stderr, "usage: replay_bench fill|consume --topic T --events N [--series S]\n");
    return 2;
  }
  if (mode == "fill") {
    return Fill(topic, events, std::atoi(Flag(argc, argv, "series", "10000").c_str()),
                std::atoi(Flag(argc, argv, "minutes", "10").c_str()));
  }
  return Consume(topic, events);
}
