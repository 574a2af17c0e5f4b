// ingest_bench: acked events per second into the real Kafka cluster, several ways in one tool:
//   --mode=grpc   through a running ingest service (IngestStream, one BatchAck per batch);
//   --mode=otlp   through a running ingest service's OTLP door (MetricsService/Export calls of
//                 --batch gauge points each; --target is then the OTLP address);
//   --mode=sink   the same KafkaRecordSink and batch preparation driven directly, without gRPC:
//                 the baseline the service is compared with, measured in the same run;
//   --mode=plain  the same records through a bare librdkafka producer with the same properties
//                 (PlainProducerSink): the ceiling;
//   --mode=serve-null  no load: serves IngestService on --listen in front of a sink that keeps
//                 nothing (NullRecordSink) for --duration or until SIGTERM, so --mode=grpc against
//                 it measures what gRPC, validation and batch preparation cost.
// Each stream keeps --window batches in flight. Prints a progress line each second on stderr and
// one result row (tab-separated, with a header when --header) on stdout. bench/ingest_bench.sh
// runs the matrix and prints the table.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "bench/bench_load.h"
#include "bench/null_record_sink.h"
#include "bench/otlp_stream.h"
#include "bench/plain_producer_sink.h"
#include "grpcpp/grpcpp.h"
#include "ingest-service/batch_preparer.h"
#include "ingest-service/byte_budget.h"
#include "ingest-service/ingest_metrics.h"
#include "ingest-service/ingest_service.h"
#include "lib/common/clock.h"
#include "lib/common/config_loader.h"
#include "lib/common/log.h"
#include "lib/common/stop_signals.h"
#include "lib/kafka/kafka_record_sink.h"
#include "lib/security/client_security.h"
#include "streammetrics/v1/ingest.grpc.pb.h"

namespace streammetrics::bench {
namespace {

struct Options {
  std::string mode = "grpc";
  std::string target = "127.0.0.1:50051";
  std::string listen = "127.0.0.1:50061";
  std::string kafka_bootstrap = "127.0.0.1:19092,127.0.0.1:29092,127.0.0.1:39092";
  std::string kafka_properties;
  std::string events_topic = "metrics-events";
  int64_t streams = 1;
  int64_t batch = 500;
  int64_t window = 8;
  int64_t series = 1000;
  absl::Duration duration = absl::Seconds(10);
  bool header = false;
  // TLS and bearer token of the grpc mode's clients.
  security::ClientSecurityConfig security;
};

v1::MetricBatch MakeBatch(const Options& o, int stream, uint64_t sequence) {
  v1::MetricBatch b;
  b.set_client_id(absl::StrFormat("bench-%d-%d", stream, absl::ToUnixMillis(absl::Now())));
  b.set_sequence(sequence);
  const int64_t now_ns = absl::ToUnixNanos(absl::Now());
  for (int64_t i = 0; i < o.batch; ++i) {
    v1::MetricEvent* e = b.add_events();
    const int64_t n = static_cast<int64_t>(sequence) * o.batch + i;
    e->set_event_id(absl::StrFormat("%d-%d", stream, n));
    e->mutable_timestamp()->set_seconds(now_ns / 1000000000);
    e->mutable_timestamp()->set_nanos(static_cast<int32_t>(now_ns % 1000000000));
    e->set_service_id(absl::StrFormat("svc-%d", n % 10));
    e->set_instance_id(absl::StrFormat("pod-%d", stream));
    e->set_metric_type(v1::METRIC_TYPE_HTTP_REQUEST);
    e->set_metric_name(absl::StrFormat("api.latency.%d", (n / 10) % (o.series / 10 + 1)));
    e->set_value(1.0 + static_cast<double>(n % 997));
    e->set_unit("ms");
    (*e->mutable_tags())["method"] = n % 2 ? "GET" : "POST";
  }
  return b;
}

void GrpcStream(const Options& o, int stream, absl::Time end, Results* results) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      security::MakeChannel(o.target, o.security);
  if (!channel.ok()) {
    std::fprintf(stderr, "%s\n", channel.status().ToString().c_str());
    return;
  }
  auto stub = v1::IngestService::NewStub(*channel);
  grpc::ClientContext ctx;
  security::AddCallCredentials(o.security, &ctx);
  auto rpc = stub->IngestStream(&ctx);
  Window window(o.window);
  absl::Mutex mu;
  std::map<uint64_t, absl::Time> sent_at;
  std::thread reader([&] {
    v1::BatchAck ack;
    while (rpc->Read(&ack)) {
      absl::Time t;
      {
        absl::MutexLock lock(&mu);
        t = sent_at[ack.sequence()];
        sent_at.erase(ack.sequence());
      }
      results->Ack(ack.events_accepted(), ack.status() == v1::ACK_STATUS_DURABLE, absl::Now() - t);
      window.Release();
    }
  });
  // Batches are built before the clock starts mattering: one template, sequence patched per send.
  v1::MetricBatch batch = MakeBatch(o, stream, 1);
  for (uint64_t seq = 1; absl::Now() < end; ++seq) {
    if (!window.Acquire(end)) break;
    batch.set_sequence(seq);
    {
      absl::MutexLock lock(&mu);
      sent_at[seq] = absl::Now();
    }
    if (!rpc->Write(batch)) break;
  }
  rpc->WritesDone();
  reader.join();
  grpc::Status status = rpc->Finish();
  if (!status.ok()) SM_LOG(Error, "bench_stream_failed").Kv("status", status.error_message());
}

void SinkStream(const Options& o, int stream, absl::Time end, kafka::RecordSink* sink,
                Results* results) {
  Window window(o.window);
  v1::MetricBatch batch = MakeBatch(o, stream, 1);
  ingest::IngestTopics topics;
  topics.events = o.events_topic;
  for (uint64_t seq = 1; absl::Now() < end; ++seq) {
    if (!window.Acquire(end)) break;
    v1::MetricBatch copy = batch;
    copy.set_sequence(seq);
    ingest::PreparedBatch p =
        ingest::PrepareBatch(copy, events::ValidationLimits{}, topics, "bench", absl::Now());
    const absl::Time t = absl::Now();
    sink->SendBatch(std::move(p.records), [&, t](std::vector<absl::Status> r) {
      size_t ok = 0;
      for (const auto& s : r) ok += s.ok();
      results->Ack(ok, ok == r.size(), absl::Now() - t);
      window.Release();
    });
  }
  (void)sink->Flush(absl::Seconds(120));
}

// Serves IngestService over NullRecordSink until --duration passes or SIGTERM/SIGINT arrives.
int ServeNull(const Options& o) {
  const StopSignals stop = StopSignals::Block();
  // Declared before the sink, so they outlive the callbacks it may still run at shutdown.
  ingest::ByteBudget budget(256 << 20);
  ingest::IngestMetrics metrics;
  NullRecordSink sink;
  ingest::IngestDeps deps;
  deps.sink = &sink;
  deps.budget = &budget;
  deps.clock = RealClock::Get();
  deps.metrics = &metrics;
  ingest::IngestServiceImpl service(deps);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(o.listen, grpc::InsecureServerCredentials(), &port);
  builder.SetMaxReceiveMessageSize(4 << 20);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::fprintf(stderr, "cannot listen on %s\n", o.listen.c_str());
    return 1;
  }
  std::fprintf(stderr, "serving IngestService over a null sink on %s\n", o.listen.c_str());
  (void)stop.Wait(o.duration);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  return 0;
}

double Percentile(std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
}

int Run(int argc, char** argv) {
  Options o;
  ConfigLoader loader("ingest_bench");
  loader.String("mode", &o.mode, "grpc, otlp, sink, plain or serve-null (see the file comment).");
  loader.String("target", &o.target, "Ingest service address (grpc mode).");
  loader.String("listen", &o.listen, "Address to serve on (serve-null mode).");
  loader.String("kafka_bootstrap", &o.kafka_bootstrap, "Kafka brokers (sink mode).");
  loader.String("kafka_properties", &o.kafka_properties, "Extra producer properties (sink mode).");
  loader.String("events_topic", &o.events_topic, "Topic (sink mode).");
  loader.Int("streams", &o.streams, "Concurrent streams.");
  loader.Int("batch", &o.batch, "Events per batch.");
  loader.Int("window", &o.window, "Batches in flight per stream.");
  loader.Int("series", &o.series, "Distinct metric names (cardinality).");
  loader.Duration("duration", &o.duration, "How long to send.");
  loader.Bool("header", &o.header, "Print the column header first.");
  security::AddClientSecurityFlags(&loader, &o.security);
  if (absl::Status s = loader.Load(argc, argv); !s.ok()) {
    if (absl::IsCancelled(s)) return 0;
    std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
    return 2;
  }
  if (o.mode == "serve-null") return ServeNull(o);
  std::unique_ptr<kafka::RecordSink> sink;
  if (o.mode == "sink" || o.mode == "plain") {
    kafka::KafkaSinkConfig config;
    config.bootstrap_servers = o.kafka_bootstrap;
    config.topics = {o.events_topic};
    auto props = kafka::ParseProperties(o.kafka_properties);
    if (!props.ok()) return 2;
    config.extra_properties = *props;
    absl::StatusOr<std::unique_ptr<kafka::RecordSink>> created;
    if (o.mode == "sink") {
      created = kafka::KafkaRecordSink::Create(config);
    } else {
      created = PlainProducerSink::Create(config);
    }
    if (!created.ok()) {
      std::fprintf(stderr, "%s\n", created.status().ToString().c_str());
      return 1;
    }
    sink = std::move(*created);
  } else if (o.mode != "grpc" && o.mode != "otlp") {
    std::fprintf(stderr, "--mode must be grpc, otlp, sink, plain or serve-null\n");
    return 2;
  }

  Results results;
  const absl::Time start = absl::Now();
  const absl::Time end = start + o.duration;
  std::vector<std::thread> threads;
  for (int s = 0; s < o.streams; ++s) {
    threads.emplace_back([&, s] {
      if (sink) {
        SinkStream(o, s, end, sink.get(), &results);
      } else if (o.mode == "otlp") {
        OtlpStream({o.target, o.security, o.batch, o.window, o.series}, s, end, &results);
      } else {
        GrpcStream(o, s, end, &results);
      }
    });
  }
  std::atomic<bool> done{false};
  std::thread progress([&] {
    uint64_t last = 0;
    while (!done.load()) {
      absl::SleepFor(absl::Seconds(1));  // a progress display's own pace, not a test wait
      const uint64_t now = results.acked.load();
      std::fprintf(stderr, "\r  %s %lld streams: %8.0f events/s acked, %llu total   ",
                   o.mode.c_str(), static_cast<long long>(o.streams),
                   static_cast<double>(now - last), static_cast<unsigned long long>(now));
      last = now;
    }
    std::fprintf(stderr, "\n");
  });
  for (auto& t : threads) t.join();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  done = true;
  progress.join();
  if (sink) (void)sink->Flush(absl::Seconds(60));
  sink.reset();

  std::vector<double> lat;
  {
    absl::MutexLock lock(&results.mu);
    lat = results.latencies_ms;
  }
  if (o.header)
    std::printf(
        "mode\tstreams\tbatch\twindow\tacked\tfailed\tseconds\tevents_per_s\tack_p50_ms\tack_p99_"
        "ms\n");
  std::printf("%s\t%lld\t%lld\t%lld\t%llu\t%llu\t%.2f\t%.0f\t%.1f\t%.1f\n", o.mode.c_str(),
              static_cast<long long>(o.streams), static_cast<long long>(o.batch),
              static_cast<long long>(o.window),
              static_cast<unsigned long long>(results.acked.load()),
              static_cast<unsigned long long>(results.failed.load()), seconds,
              static_cast<double>(results.acked.load()) / seconds, Percentile(lat, 0.5),
              Percentile(lat, 0.99));
  return results.failed.load() == 0 ? 0 : 1;
}

}  // namespace
}  // namespace streammetrics::bench

int main(int argc, char** argv) { return streammetrics::bench::Run(argc, argv); }
