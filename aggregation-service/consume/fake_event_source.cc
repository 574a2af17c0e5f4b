// FakeEventSource: the in-memory partitioned log behind aggregator unit tests.
#include "aggregation-service/consume/fake_event_source.h"

#include <utility>

namespace streammetrics::aggregation {

int64_t FakeEventSource::Append(int32_t partition, Record record) {
  std::vector<Record>& log = logs_[partition];
  log.push_back(std::move(record));
  return static_cast<int64_t>(log.size()) - 1;
}

void FakeEventSource::Assign(std::vector<int32_t> partitions) {
  to_assign_.insert(to_assign_.end(), partitions.begin(), partitions.end());
}

void FakeEventSource::Revoke(std::vector<int32_t> partitions) {
  to_revoke_.insert(to_revoke_.end(), partitions.begin(), partitions.end());
}

absl::Status FakeEventSource::Poll(absl::Duration /*timeout*/, size_t max_records,
                                   RecordsCallback on_records) {
  if (closed_) return absl::FailedPreconditionError("the source is closed");
  if (!to_revoke_.empty()) {
    std::vector<int32_t> revoked;
    revoked.swap(to_revoke_);
    listener_->OnRevoked(revoked);
    for (int32_t p : revoked) {
      assigned_.erase(p);
      positions_.erase(p);
    }
  }
  if (!to_assign_.empty()) {
    std::vector<int32_t> assigned;
    assigned.swap(to_assign_);
    std::vector<std::optional<int64_t>> starts = listener_->OnAssigned(assigned);
    for (size_t i = 0; i < assigned.size(); ++i) {
      assigned_.insert(assigned[i]);
      positions_[assigned[i]] = starts[i].value_or(0);
    }
  }
  if (paused_) return absl::OkStatus();
  // Batches of up to kBatch records; the header vectors are reserved, so spans into them stay
  // valid until the batch is delivered.
  constexpr size_t kBatch = 1024;
  std::vector<SourceRecord> records;
  std::vector<std::vector<RecordHeader>> headers;
  records.reserve(kBatch);
  headers.reserve(kBatch);
  auto deliver = [&] {
    if (!records.empty()) on_records(records);
    records.clear();
    headers.clear();
  };
  size_t delivered = 0;
  for (int32_t p : assigned_) {
    const std::vector<Record>& log = logs_[p];
    int64_t& position = positions_[p];
    while (delivered < max_records && position < static_cast<int64_t>(log.size())) {
      if (records.size() == kBatch) deliver();
      const Record& r = log[position];
      std::vector<RecordHeader>& hs = headers.emplace_back();
      for (const auto& [name, value] : r.headers) hs.push_back({name, value});
      SourceRecord& s = records.emplace_back();
      s.partition = p;
      s.offset = position;
      s.key = r.key;
      s.value = r.value;
      s.headers = hs;
      ++position;
      ++delivered;
    }
  }
  deliver();
  return absl::OkStatus();
}

std::optional<int64_t> FakeEventSource::HighWatermark(int32_t partition) const {
  auto it = logs_.find(partition);
  return it == logs_.end() ? 0 : static_cast<int64_t>(it->second.size());
}

absl::Status FakeEventSource::Close() {
  if (closed_) return absl::OkStatus();
  closed_ = true;
  std::vector<int32_t> all(assigned_.begin(), assigned_.end());
  if (!all.empty()) listener_->OnRevoked(all);
  assigned_.clear();
  positions_.clear();
  return absl::OkStatus();
}

int64_t FakeEventSource::position(int32_t partition) const {
  auto it = positions_.find(partition);
  return it == positions_.end() ? -1 : it->second;
}

}  // namespace streammetrics::aggregation
