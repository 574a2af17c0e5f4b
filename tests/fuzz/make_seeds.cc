// fuzz_make_seeds DIR: writes a seed corpus per fuzz target under DIR/<target>/, made from the
// inputs the unit tests use (valid and invalid batches, OTLP exports, records, rows, dedup chunks,
// tokens, configuration texts). tests/fuzz/run.sh --seeds refreshes tests/fuzz/corpus with it.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "aggregation-service/engine/window_keys.h"
#include "aggregation-service/engine/window_numbers.h"
#include "tests/ingest-service/otlp/otlp_test_requests.h"
#include "tests/ingest-service/test_events.h"

namespace {

using streammetrics::ingest::testing::Batch;

void Write(const std::string& dir, const std::string& target, const std::string& bytes, int* n) {
  const std::string path = dir + "/" + target;
  std::filesystem::create_directories(path);
  std::ofstream(path + "/seed-" + std::to_string((*n)++), std::ios::binary) << bytes;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace streammetrics;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const absl::Time t = absl::FromUnixSeconds(1'800'000'000);
  int n = 0;

  // Batches: valid, a NaN, a malformed unit, a large metadata value, empty, no client id.
  std::vector<v1::MetricBatch> batches = {Batch(t, 1, 3), Batch(t, 2, 2, 1), Batch(t, 3, 0),
                                          Batch(t, 4, 2, -1, "")};
  v1::MetricBatch odd = Batch(t, 5, 2);
  odd.mutable_events(1)->set_unit("ms\xff");
  (*odd.mutable_events(0)->mutable_metadata())["blob"] = std::string(20'000, 'm');
  batches.push_back(odd);
  for (const auto& b : batches) Write(dir, "ingest_batch_fuzz", b.SerializePartialAsString(), &n);

  // Records: events as the ingest writes them (the fuzzer's own framing takes the rest).
  for (const auto& b : batches) {
    for (const auto& e : b.events()) {
      Write(dir, "record_decoder_fuzz", e.SerializePartialAsString(), &n);
    }
  }

  // Dedup chunks: what a window's keys serialize to.
  {
    aggregation::WindowKeys keys;
    for (uint32_t i = 0; i < 5; ++i) keys.Insert("client-a", 7, i, /*pending=*/true);
    keys.Insert("client-b", 1, 0, /*pending=*/true);
    keys.Insert("client-b", 900, 3, /*pending=*/true);
    Write(dir, "dedup_chunk_fuzz", keys.TakePending(), &n);
  }

  // Rows: windows of a few shapes.
  for (const std::vector<double>& values :
       std::vector<std::vector<double>>{{1}, {1, 2, 3, 1000}, {-5, 0, 5}, {1e-9, 1e290}}) {
    aggregation::WindowNumbers numbers(0.01, 2048);
    for (double v : values) numbers.Add(v);
    v1::WindowAggregate row;
    aggregation::SetNumbers(numbers, &row);
    Write(dir, "ddsketch_fuzz", row.SerializeAsString(), &n);
  }

  // OTLP exports: every kind of point, cumulative sums in order (baseline, increase, reset), a
  // resource without service.name.
  {
    namespace pm = opentelemetry::proto::metrics::v1;
    using streammetrics::ingest::otlp::testing::RequestBuilder;
    const uint64_t ns = 1'800'000'000ULL * 1'000'000'000ULL - 10'000'000'000ULL;
    RequestBuilder b;
    b.Gauge("queue.depth", ns, 12, {{"queue", "orders"}});
    b.Sum("requests", pm::AGGREGATION_TEMPORALITY_DELTA, true, ns - 1, ns, 3);
    for (int i = 0; i < 3; ++i) {
      b.Sum("bytes", pm::AGGREGATION_TEMPORALITY_CUMULATIVE, true, 1, ns + i, i == 2 ? 1 : 10 * i);
    }
    b.Exponential("latency", pm::AGGREGATION_TEMPORALITY_DELTA, ns - 1, ns, {2, 0, 3}, 14, 2.4,
                  3.3);
    b.Histogram("size", pm::AGGREGATION_TEMPORALITY_DELTA, ns - 1, ns, {10, 100}, {1, 3, 2}, 700, 2,
                400);
    b.Summary("rpc", ns);
    Write(dir, "otlp_export_fuzz", b.request().SerializeAsString(), &n);
    RequestBuilder nameless(std::nullopt);
    nameless.Gauge("g", ns, 1);
    Write(dir, "otlp_export_fuzz", nameless.request().SerializeAsString(), &n);

    // A distribution event for the aggregator's decoder.
    v1::MetricEvent e = batches[0].events(0);
    e.set_metric_type(v1::METRIC_TYPE_CUSTOM_HISTOGRAM);
    e.clear_value();
    v1::Distribution* d = e.mutable_distribution();
    d->set_count(5);
    d->set_sum(14);
    d->set_min(2.4);
    d->set_max(3.3);
    d->mutable_exponential()->set_scale(3);
    d->mutable_exponential()->set_positive_offset(10);
    for (uint64_t c : {2, 0, 3}) d->mutable_exponential()->add_positive_counts(c);
    Write(dir, "record_decoder_fuzz", e.SerializeAsString(), &n);
  }

  // Requests: service, metric, a page token (its last byte picks the window size, and so on).
  for (const std::string& text :
       {std::string("checkout\x08latency\x00\x01", 18), std::string("svc"),
        absl::WebSafeBase64Escape("\x08\x01\x11\x01\x02\x03\x04\x05\x06\x07\x08")}) {
    Write(dir, "page_token_fuzz", text, &n);
  }

  // Configuration texts, each followed by the byte that picks its parser.
  const std::vector<std::pair<std::string, char>> texts = {
      {"linger.ms=5,compression.type=lz4", 0},
      {"security.protocol=SASL_SSL,sasl.password=secret", 0},
      {"# tokens\n" + std::string(64, 'a') + " writer ingest\n" + std::string(64, 'b') +
           " reader query,ingest\n",
       1},
      {std::string(40, 'k') + "," + std::string(32, 'o'), 2},
      {"checkout|latency|region=eu", 3},
      {"host=db user=sm password=hunter22 sslmode=verify-full", 4},
      {"postgresql://sm:pw@db:5432/sm", 4},
      {"--name=x\n--count=3\n--rate=0.5\n--bytes=64MiB\n--wait=5s\n--flag\n--secret=abcdefgh", 5},
  };
  for (const auto& [text, which] : texts) Write(dir, "config_fuzz", text + which, &n);
  std::printf("%d seeds written under %s\n", n, dir.c_str());
  return 0;
}
