// ingest_bench's --mode=otlp: one stream of OTLP MetricsService/Export calls, each holding
// `points` gauge points (one per event the native mode would send), `window` calls in flight.
#ifndef STREAMMETRICS_BENCH_OTLP_STREAM_H_
#define STREAMMETRICS_BENCH_OTLP_STREAM_H_

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "bench/bench_load.h"
#include "lib/security/client_security.h"

namespace streammetrics::bench {

struct OtlpStreamOptions {
  std::string target;
  security::ClientSecurityConfig security;
  int64_t points = 500;
  int64_t window = 8;
  int64_t series = 1000;
};

// Sends until `end`, then waits for every call's answer. Points of a refused export, or of an
// answer with partial_success, count as failed.
void OtlpStream(const OtlpStreamOptions& o, int stream, absl::Time end, Results* results);

}  // namespace streammetrics::bench

#endif  // STREAMMETRICS_BENCH_OTLP_STREAM_H_
