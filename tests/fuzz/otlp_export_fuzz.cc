// Fuzz target: the bytes of one OTLP ExportMetricsServiceRequest, as an exporter sends them to the
// OTLP door. What the door does with a request that parses: MapExport (with a small cumulative
// state that persists across inputs, so evictions and resets are reached), PrepareExport, Tally.
// Invariants: every point is accounted for once (an event, a refusal or a skip), one record per
// event or refusal, every record fits LargestRecordBytes (a huge metric name or data point must
// not make a dead letter Kafka refuses), and the tally adds up.
#include <cstdint>
#include <string>
#include <vector>

#include "ingest-service/batch_preparer.h"
#include "ingest-service/otlp/otlp_mapper.h"
#include "ingest-service/otlp/otlp_records.h"
#include "tests/fuzz/fuzz_check.h"

using streammetrics::fuzz::Check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace streammetrics;
  using namespace streammetrics::ingest::otlp;
  ExportRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  static CumulativeTracker* tracker = new CumulativeTracker(64);
  MappedExport mapped = MapExport(request, events::ValidationLimits{}, tracker);
  Check(tracker->size() <= 64);
  uint64_t skipped = 0;
  for (uint64_t s : mapped.skipped) skipped += s;
  Check(mapped.points == CountExport(request).points);
  Check(mapped.events.size() + mapped.rejections.size() + skipped == mapped.points);
  const size_t records = mapped.events.size() + mapped.rejections.size();
  const events::ValidationLimits limits;
  const PreparedExport prepared = PrepareExport(
      mapped, limits, ingest::IngestTopics{}, "fuzz-caller", absl::FromUnixSeconds(1'800'000'000));
  Check(prepared.records.size() == records);
  for (const kafka::Record& r : prepared.records) {
    Check(r.ByteSize() - kafka::Record::kOverheadBytes <= ingest::LargestRecordBytes(limits));
  }
  const ingest::BatchResult tally =
      ingest::Tally(std::vector<absl::Status>(records), prepared.rejections);
  Check(tally.accepted + tally.rejected == records);
  return 0;
}
