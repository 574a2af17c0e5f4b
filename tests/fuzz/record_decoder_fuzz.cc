// Fuzz target: one record of metrics-events as the aggregator reads it (key, value, headers), from
// any producer. RecordDecoder::Decode either accepts it (a MetricEvent keyed by its series, with
// an idempotency key) or makes a dead letter, which must be bounded however large the record. An
// accepted distribution must go into a window whole.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <string>
#include <vector>

#include "aggregation-service/consume/record_decoder.h"
#include "aggregation-service/engine/window_numbers.h"
#include "lib/events/dead_letter_original.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace streammetrics;
  FuzzedDataProvider in(data, size);
  std::vector<std::string> parts;
  const int headers = in.ConsumeIntegralInRange(0, 6);
  for (int i = 0; i < 2 * headers; ++i) {
    // Header names mostly from the real ones, so the decoder gets past them.
    static const char* const kNames[] = {"sm-client-id", "sm-sequence", "sm-event-index",
                                         "content-type"};
    parts.push_back(i % 2 == 0 && in.ConsumeBool() ? kNames[in.ConsumeIntegralInRange(0, 3)]
                                                   : in.ConsumeRandomLengthString(64));
  }
  const std::string key = in.ConsumeRandomLengthString(512);
  const std::string value = in.ConsumeRemainingBytesAsString();
  std::vector<aggregation::RecordHeader> list;
  for (size_t i = 0; i + 1 < parts.size(); i += 2) list.push_back({parts[i], parts[i + 1]});
  aggregation::SourceRecord record;
  record.partition = 3;
  record.offset = 42;
  record.key = key;
  record.value = value;
  record.headers = list;
  static const aggregation::RecordDecoder decoder("metrics-events", events::ValidationLimits{});
  aggregation::DecodedRecord out;
  std::optional<v1::DeadLetter> dead =
      decoder.Decode(record, absl::FromUnixSeconds(1'800'000'000), &out);
  if (dead.has_value()) {
    fuzz::Check(dead->original().size() <= events::kDeadLetterOriginalBytes);
    fuzz::Check(dead->original_size() == value.size());
    fuzz::Check(dead->ByteSizeLong() <= events::kDeadLetterMaxBytes);
  } else {
    fuzz::Check(out.series_key == key);  // accepted only when keyed by its own series
    if (out.event.has_distribution()) {
      // A validated distribution always goes into a window, every value into its sketch.
      aggregation::WindowNumbers numbers(0.01, 2048);
      const absl::Status added = numbers.AddDistribution(out.event.distribution());
      fuzz::Check(added.ok() ||
                  out.event.distribution().count() > aggregation::WindowNumbers::kMaxWindowCount);
      fuzz::Check(numbers.sketch.count() == numbers.count);
    }
  }
  return 0;
}
