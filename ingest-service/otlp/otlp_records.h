// Turns a mapped export (otlp_mapper.h) into the Kafka records that carry it: each event that
// passes validation as a record on the events topic, each point refused by the mapping or by
// validation as a DeadLetter, exactly as the native door writes them (batch_preparer.h). Pure
// code: the time comes in as an argument.
#ifndef STREAMMETRICS_INGEST_SERVICE_OTLP_OTLP_RECORDS_H_
#define STREAMMETRICS_INGEST_SERVICE_OTLP_OTLP_RECORDS_H_

#include <cstddef>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ingest-service/batch_preparer.h"
#include "ingest-service/otlp/otlp_mapper.h"
#include "lib/events/validation.h"
#include "lib/kafka/record_sink.h"

namespace streammetrics::ingest::otlp {

struct PreparedExport {
  std::vector<kafka::Record> records;
  // One per dead letter, in record order: event_index is the record's position in `records`
  // (what Tally expects), reason and message say why.
  std::vector<v1::Rejection> rejections;
  // Sum of the records' sizes, for the byte budget.
  size_t bytes = 0;
};

// Moves the events out of `mapped`.
PreparedExport PrepareExport(MappedExport& mapped, const events::ValidationLimits& limits,
                             const IngestTopics& topics, absl::string_view caller, absl::Time now);

}  // namespace streammetrics::ingest::otlp

#endif  // STREAMMETRICS_INGEST_SERVICE_OTLP_OTLP_RECORDS_H_
