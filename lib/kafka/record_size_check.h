// RecordSizeCheck: whether the records a producer builds fit what its topics accept, checked at
// start. A topic whose max.message.bytes is below the producer's batches refuses them with
// MESSAGE_TOO_LARGE, which no resend cures: better to refuse to start, naming both numbers.
#ifndef STREAMMETRICS_LIB_KAFKA_RECORD_SIZE_CHECK_H_
#define STREAMMETRICS_LIB_KAFKA_RECORD_SIZE_CHECK_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "lib/kafka/rdkafka_handles.h"

namespace streammetrics::kafka {

// A record batch's framing beyond its records' keys, values and headers: the batch header
// (61 bytes) and each record's own varints and attributes, rounded up.
inline constexpr int64_t kRecordFramingBytes = 512;

// The producer properties that size what it sends (librdkafka's effective values).
struct ProducerSizeLimits {
  int64_t message_max_bytes = 0;  // message.max.bytes: the largest request, and single record
  int64_t batch_size = 0;         // batch.size: the largest record batch, framing included
};

// OK when a record of `largest_record` bytes (key, value and headers; 0: not checked) fits the
// producer's message.max.bytes and every topic's max.message.bytes, and the producer's largest
// batch fits every topic. Otherwise FailedPrecondition listing each mismatch with both numbers and
// what to change.
absl::Status CheckRecordSizes(const ProducerSizeLimits& producer, size_t largest_record,
                              const std::map<std::string, int64_t>& topic_max_message_bytes);

// The same for a live producer `rk` (its effective configuration) and the max.message.bytes of
// each of `topics` read from the cluster. Unavailable when the cluster does not answer.
absl::Status CheckRecordSizes(rd_kafka_t* rk, absl::Span<const std::string> topics,
                              size_t largest_record, absl::Duration timeout);

}  // namespace streammetrics::kafka

#endif  // STREAMMETRICS_LIB_KAFKA_RECORD_SIZE_CHECK_H_
