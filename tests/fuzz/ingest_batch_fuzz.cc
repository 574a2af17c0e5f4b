// Fuzz target: the bytes of one IngestService batch message, as a client sends them. ParseBatch,
// then what the ingest does with a batch that parsed: ValidateBatch, PrepareBatch (validation of
// every event, dead letters with their bounded originals), Tally. Invariants: a parse failure is
// InvalidArgument; every prepared record fits LargestRecordBytes; one record per event.
#include <cstdint>
#include <string>

#include "grpcpp/support/byte_buffer.h"
#include "ingest-service/batch_parser.h"
#include "ingest-service/batch_preparer.h"
#include "lib/events/validation.h"
#include "tests/fuzz/fuzz_check.h"

using streammetrics::fuzz::Check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace streammetrics;
  grpc::Slice slice(data, size);
  grpc::ByteBuffer bytes(&slice, 1);
  v1::MetricBatch batch;
  absl::Status parsed = ingest::ParseBatch(&bytes, &batch);
  if (!parsed.ok()) {
    Check(absl::IsInvalidArgument(parsed));
    return 0;
  }
  const events::ValidationLimits limits;
  if (events::ValidateBatch(batch, limits).has_value()) return 0;
  const int events = batch.events_size();
  ingest::PreparedBatch prepared = ingest::PrepareBatch(
      batch, limits, ingest::IngestTopics{}, "fuzz-caller", absl::FromUnixSeconds(1'800'000'000));
  Check(static_cast<int>(prepared.records.size()) == events);
  for (const kafka::Record& r : prepared.records) {
    Check(r.ByteSize() - kafka::Record::kOverheadBytes <= ingest::LargestRecordBytes(limits));
  }
  std::vector<absl::Status> results(prepared.records.size());
  ingest::BatchResult tally = ingest::Tally(results, prepared.rejections);
  Check(tally.accepted + tally.rejected == static_cast<uint32_t>(events));
  return 0;
}
