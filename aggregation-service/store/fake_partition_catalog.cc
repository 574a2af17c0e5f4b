// FakePartitionCatalog: see the header.
#include "aggregation-service/store/fake_partition_catalog.h"

#include <set>
#include <utility>

namespace streammetrics::aggregation {

absl::StatusOr<std::vector<DayPartition>> FakePartitionCatalog::List() {
  absl::MutexLock lock(&mu_);
  if (!list_failure_.ok()) return std::exchange(list_failure_, absl::OkStatus());
  return std::vector<DayPartition>(partitions_.begin(), partitions_.end());
}

absl::StatusOr<PartitionChanges> FakePartitionCatalog::Apply(const PartitionPlan& plan) {
  absl::MutexLock lock(&mu_);
  ++applies_;
  if (!apply_failure_.ok()) return std::exchange(apply_failure_, absl::OkStatus());
  PartitionChanges changes;
  for (const DayPartition& p : plan.create) {
    if (!partitions_.insert(p).second) continue;
    ++changes.created;
    changes.rows_moved += static_cast<int64_t>(std::erase_if(default_rows_, [&p](const auto& row) {
      return row.size == p.size && DayStart(row.day) == p.day;
    }));
  }
  for (const DayPartition& p : plan.drop) changes.dropped += partitions_.erase(p);
  changes.rows_purged +=
      static_cast<int64_t>(std::erase_if(default_rows_, [&plan](const auto& row) {
        return row.day <
               (row.size == v1::WINDOW_SIZE_1M ? plan.purge_1m_before : plan.purge_5m_before);
      }));
  return changes;
}

std::vector<DayPartition> FakePartitionCatalog::partitions() const {
  absl::MutexLock lock(&mu_);
  return std::vector<DayPartition>(partitions_.begin(), partitions_.end());
}

void FakePartitionCatalog::AddPartition(const DayPartition& p) {
  absl::MutexLock lock(&mu_);
  partitions_.insert(p);
}

void FakePartitionCatalog::AddDefaultRow(v1::WindowSize size, absl::Time start) {
  absl::MutexLock lock(&mu_);
  default_rows_.insert({size, start});
}

size_t FakePartitionCatalog::default_rows() const {
  absl::MutexLock lock(&mu_);
  return default_rows_.size();
}

void FakePartitionCatalog::FailNextList(absl::Status status) {
  absl::MutexLock lock(&mu_);
  list_failure_ = std::move(status);
}

void FakePartitionCatalog::FailNextApply(absl::Status status) {
  absl::MutexLock lock(&mu_);
  apply_failure_ = std::move(status);
}

int FakePartitionCatalog::applies() const {
  absl::MutexLock lock(&mu_);
  return applies_;
}

}  // namespace streammetrics::aggregation
