// RecordSizeCheck: see record_size_check.h.
#include "lib/kafka/record_size_check.h"

#include <algorithm>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lib/common/status_macros.h"
#include "lib/kafka/topic_check.h"

namespace streammetrics::kafka {

absl::Status CheckRecordSizes(const ProducerSizeLimits& producer, size_t largest_record,
                              const std::map<std::string, int64_t>& topic_max_message_bytes) {
  std::vector<std::string> problems;
  const int64_t record =
      largest_record == 0 ? 0 : static_cast<int64_t>(largest_record) + kRecordFramingBytes;
  if (record > producer.message_max_bytes) {
    problems.push_back(
        absl::StrCat("the producer's message.max.bytes is ", producer.message_max_bytes,
                     " but this service writes records of up to ", record,
                     " bytes; raise it (--kafka_properties message.max.bytes=", record, ")"));
  }
  // librdkafka fills a batch up to batch.size; a single larger record goes out alone.
  const int64_t batch = std::max(std::min(producer.batch_size, producer.message_max_bytes), record);
  for (const auto& [topic, limit] : topic_max_message_bytes) {
    if (batch <= limit) continue;
    problems.push_back(absl::StrCat(
        "topic ", topic, " accepts record batches of up to max.message.bytes=", limit,
        " but the producer sends up to ", batch,
        " bytes; raise the topic's limit (kafka-configs.sh --alter --entity-type topics "
        "--entity-name ",
        topic, " --add-config max.message.bytes=", batch,
        ") or lower the producer's batch.size (--kafka_properties batch.size=", limit, ")"));
  }
  if (problems.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("Kafka would refuse records for their size: ", absl::StrJoin(problems, "; ")));
}

namespace {

absl::StatusOr<int64_t> ProducerProperty(rd_kafka_t* rk, const char* name) {
  char value[64];
  size_t size = sizeof(value);
  int64_t n = 0;
  if (rd_kafka_conf_get(rd_kafka_conf(rk), name, value, &size) != RD_KAFKA_CONF_OK ||
      !absl::SimpleAtoi(value, &n)) {
    return absl::InternalError(absl::StrCat("cannot read the producer's ", name));
  }
  return n;
}

}  // namespace

absl::Status CheckRecordSizes(rd_kafka_t* rk, absl::Span<const std::string> topics,
                              size_t largest_record, absl::Duration timeout) {
  ProducerSizeLimits producer;
  ASSIGN_OR_RETURN(producer.message_max_bytes, ProducerProperty(rk, "message.max.bytes"));
  ASSIGN_OR_RETURN(producer.batch_size, ProducerProperty(rk, "batch.size"));
  std::map<std::string, int64_t> limits;
  for (const std::string& topic : topics) {
    ASSIGN_OR_RETURN(auto configs, DescribeTopicConfig(rk, topic, timeout));
    auto it = configs.find("max.message.bytes");
    int64_t limit = 0;
    if (it == configs.end() || !absl::SimpleAtoi(it->second, &limit)) {
      return absl::UnavailableError(
          absl::StrCat("topic ", topic, ": the cluster did not report max.message.bytes"));
    }
    limits[topic] = limit;
  }
  return CheckRecordSizes(producer, largest_record, limits);
}

}  // namespace streammetrics::kafka
