// FakeEventSource: an in-memory EventSource for unit tests: a partitioned log that tests append
// to, and an assignment that tests change, which calls the RebalanceListener exactly as the
// Kafka consumer does (on the polling thread, inside Poll). Not thread-safe: one test thread
// appends, assigns and polls.
#ifndef STREAMMETRICS_AGGREGATION_SERVICE_CONSUME_FAKE_EVENT_SOURCE_H_
#define STREAMMETRICS_AGGREGATION_SERVICE_CONSUME_FAKE_EVENT_SOURCE_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "aggregation-service/consume/event_source.h"
#include "lib/events/idempotency_key.h"

namespace streammetrics::aggregation {

class FakeEventSource final : public EventSource {
 public:
  struct Record {
    std::string key;
    std::string value;
    events::Headers headers;
  };

  // `listener` must outlive the source.
  explicit FakeEventSource(RebalanceListener* listener) : listener_(listener) {}

  // Appends to `partition`'s log; returns the record's offset.
  int64_t Append(int32_t partition, Record record);

  // The next Poll first assigns `partitions` (through OnAssigned) / revokes them (OnRevoked).
  void Assign(std::vector<int32_t> partitions);
  void Revoke(std::vector<int32_t> partitions);

  // Delivers what is polled in one `on_records` call, as the Kafka source delivers a fetched batch.
  absl::Status Poll(absl::Duration timeout, size_t max_records,
                    RecordsCallback on_records) override;
  // The log's size: every appended record counts as known to the consumer.
  std::optional<int64_t> HighWatermark(int32_t partition) const override;
  void SetPaused(bool paused) override { paused_ = paused; }
  absl::Status Close() override;

  bool paused() const { return paused_; }
  const std::set<int32_t>& assignment() const { return assigned_; }
  // Where the next delivered record of `partition` comes from; -1 when not assigned.
  int64_t position(int32_t partition) const;

 private:
  RebalanceListener* listener_;
  std::map<int32_t, std::vector<Record>> logs_;
  std::map<int32_t, int64_t> positions_;
  std::set<int32_t> assigned_;
  std::vector<int32_t> to_assign_;
  std::vector<int32_t> to_revoke_;
  bool paused_ = false;
  bool closed_ = false;
};

}  // namespace streammetrics::aggregation

#endif  // STREAMMETRICS_AGGREGATION_SERVICE_CONSUME_FAKE_EVENT_SOURCE_H_
