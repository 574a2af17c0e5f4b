// Aggregator: records -> engines -> fenced checkpoints -> outbox publication (see the header).
#include "aggregation-service/consume/aggregator.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "aggregation-service/engine/window_math.h"
#include "lib/common/log.h"
#include "lib/events/dead_letter_original.h"

namespace streammetrics::aggregation {

namespace {

constexpr char kContentTypeWindowAggregate[] =
    "application/x-protobuf; messageType=streammetrics.v1.WindowAggregate";

}  // namespace

Aggregator::Aggregator(AggregatorOptions options, AggregatorDeps deps)
    : options_(std::move(options)), deps_(deps), decoder_(options_.events_topic, options_.limits) {}

Aggregator::~Aggregator() = default;

std::vector<std::optional<int64_t>> Aggregator::OnAssigned(const std::vector<int32_t>& ids) {
  std::vector<std::optional<int64_t>> starts;
  for (int32_t id : ids) {
    absl::StatusOr<PartitionClaim> claim = deps_.store->ClaimPartition(id);
    while (!claim.ok()) {
      deps_.metrics->ClaimFailed();
      SM_LOG(Warn, "partition_claim_failed")
          .Kv("partition", id)
          .Kv("status", claim.status().ToString())
          .Kv("retry_in", absl::FormatDuration(options_.claim_retry));
      if (stopping_.WaitForNotificationWithTimeout(options_.claim_retry)) break;
      claim = deps_.store->ClaimPartition(id);
    }
    if (!claim.ok()) {
      // Stopping: the partition is assigned but not ours; its records are ignored until the
      // consumer closes, and the next owner starts from the committed state.
      starts.push_back(std::nullopt);
      continue;
    }
    Partition p;
    p.epoch = claim->owner_epoch;
    p.next_offset = claim->next_offset.value_or(-1);
    p.committed_offset = p.next_offset;
    p.committed_watermark = claim->snapshot.watermark;
    p.last_record = deps_.clock->Now();
    p.engine = std::make_unique<PartitionWindows>(options_.engine);
    if (absl::Status restored = p.engine->Restore(claim->snapshot); !restored.ok()) {
      fatal_ = absl::DataLossError(
          absl::StrCat("stored state of partition ", id, " does not parse: ", restored.message()));
      SM_LOG(Error, "partition_state_corrupt").Kv("partition", id).Kv("status", fatal_.ToString());
      starts.push_back(std::nullopt);
      continue;
    }
    SM_LOG(Info, "partition_claimed")
        .Kv("partition", id)
        .Kv("epoch", p.epoch)
        .Kv("next_offset", p.next_offset)
        .Kv("windows", claim->snapshot.windows.size())
        .Kv("unconfirmed_outbox", claim->outbox.size());
    starts.push_back(claim->next_offset);
    partitions_[id] = std::move(p);
    if (!claim->outbox.empty()) Publish(id, std::move(claim->outbox));
  }
  deps_.metrics->SetAssignedPartitions(partitions_.size());
  return starts;
}

void Aggregator::OnRevoked(const std::vector<int32_t>& ids) {
  if (absl::Status s = CheckpointNow(); !s.ok()) {
    SM_LOG(Warn, "revoke_checkpoint_failed")
        .Kv("partitions", absl::StrJoin(ids, ","))
        .Kv("status", s.ToString())
        .Kv("consequence", "the next owner replays from the last committed checkpoint");
  }
  for (int32_t id : ids) Drop(id);
  deps_.metrics->SetAssignedPartitions(partitions_.size());
}

void Aggregator::Drop(int32_t id) {
  partitions_.erase(id);
  pending_.erase(std::remove_if(pending_.begin(), pending_.end(),
                                [id](const PartitionCheckpoint& c) { return c.partition == id; }),
                 pending_.end());
  absl::MutexLock lock(&mu_);
  delivered_.erase(id);
  failed_.erase(id);
}

void Aggregator::Consume(absl::Span<const SourceRecord> records) {
  const absl::Time now = deps_.clock->Now();
  size_t consumed = 0;
  size_t counted = 0;
  size_t duplicates = 0;
  // The partition of the previous record: a batch usually holds runs of one partition.
  int32_t last_id = -1;
  Partition* p = nullptr;
  for (const SourceRecord& record : records) {
    if (p == nullptr || record.partition != last_id) {
      auto it = partitions_.find(record.partition);
      p = it == partitions_.end() ? nullptr : &it->second;
      last_id = record.partition;
    }
    if (p == nullptr) continue;
    if (p->next_offset >= 0 && record.offset < p->next_offset) continue;
    p->next_offset = record.offset + 1;
    p->last_record = now;
    ++consumed;

    if (std::optional<v1::DeadLetter> dead = decoder_.Decode(record, now, &decoded_)) {
      DeadLetter(*p, record.key, *dead);
      continue;
    }
    switch (p->engine->Add(record.key, decoded_.event, decoded_.key)) {
      case AddOutcome::kCounted:
        ++counted;
        break;
      case AddOutcome::kDuplicate:
        ++duplicates;
        break;
      case AddOutcome::kLate:
        deps_.metrics->EventLate();
        DeadLetter(*p, record.key,
                   decoder_.Late(record, decoded_.key, TimeFromProto(decoded_.event.timestamp()),
                                 p->engine->watermark(), now));
        break;
      case AddOutcome::kOverflow:
        DeadLetter(
            *p, record.key,
            decoder_.Overflow(record, decoded_.key, decoded_.event.distribution().count(), now));
        break;
    }
  }
  deps_.metrics->RecordsConsumed(consumed);
  deps_.metrics->EventsCounted(counted);
  deps_.metrics->EventsDuplicate(duplicates);
}

void Aggregator::DeadLetter(Partition& p, absl::string_view key,
                            const v1::DeadLetter& dead_letter) {
  deps_.metrics->DeadLettered(dead_letter.reason());
  OutboxRecord r;
  r.topic = options_.dead_letter_topic;
  r.key = events::DeadLetterKey(std::string(key));
  r.value = dead_letter.SerializeAsString();
  p.dead_letters.push_back(std::move(r));
}

absl::Status Aggregator::Tick(
    const std::function<std::optional<int64_t>(int32_t)>& high_watermark) {
  const absl::Time now = deps_.clock->Now();
  int64_t lag = 0;
  size_t open = 0;
  size_t keys = 0;
  absl::Duration watermark_delay;
  bool caught_up_everywhere = true;
  for (auto& [id, p] : partitions_) {
    const std::optional<int64_t> high = high_watermark(id);
    const int64_t position = std::max<int64_t>(p.next_offset, 0);
    const bool caught_up = high.has_value() && position >= *high;
    caught_up_everywhere = caught_up_everywhere && caught_up;
    if (high.has_value()) lag += std::max<int64_t>(0, *high - position);
    p.engine->Advance(now, caught_up && now - p.last_record >= options_.idle_after);
    open += p.engine->open_windows();
    keys += p.engine->dedup_keys();
    if (p.engine->watermark() != absl::InfinitePast()) {
      watermark_delay = std::max(watermark_delay, now - p.engine->watermark());
    }
  }
  deps_.metrics->SetConsumerLag(lag);
  deps_.metrics->SetOpenWindows(open);
  deps_.metrics->SetDedupKeys(keys);
  deps_.metrics->SetWatermarkDelay(watermark_delay);
  deps_.metrics->SetOutboxUnconfirmed(unconfirmed());
  if (next_checkpoint_ == absl::InfinitePast()) {
    next_checkpoint_ = now + options_.checkpoint_interval;
    last_checkpoint_ = now;
  } else if (now >= next_checkpoint_ ||
             (caught_up_everywhere && now >= last_checkpoint_ + options_.checkpoint_interval)) {
    RepublishFailed();
    (void)CheckpointNow();  // failures are logged, counted and retried at the next interval
    // Checkpoints run on this thread. When one is slow (many changed windows, e.g. replaying a
    // backlog of many series), the next waits longer, so checkpoints take at most
    // max_checkpoint_share of the loop and consumption is not starved; each then carries more
    // records for about the same number of window rows.
    const absl::Time end = deps_.clock->Now();
    last_checkpoint_ = end;
    const double share = options_.max_checkpoint_share;
    next_checkpoint_ =
        end + std::max(options_.checkpoint_interval, (end - now) * ((1 - share) / share));
  }
  return fatal_;
}

absl::Status Aggregator::CheckpointNow() {
  if (!pending_.empty()) {
    absl::Status retried = Commit();
    if (!retried.ok()) return retried;
  }
  BuildCheckpoints();
  return Commit();
}

void Aggregator::BuildCheckpoints() {
  std::map<int32_t, std::vector<int64_t>> delivered;
  {
    absl::MutexLock lock(&mu_);
    delivered.swap(delivered_);
  }
  for (auto& [id, p] : partitions_) {
    PartitionCheckpoint c;
    c.partition = id;
    c.owner_epoch = p.epoch;
    c.delta = p.engine->TakeDelta();
    c.outbox_add = std::move(p.dead_letters);
    p.dead_letters.clear();
    if (auto d = delivered.find(id); d != delivered.end())
      c.outbox_delivered = std::move(d->second);
    if (c.delta.windows.empty() && c.delta.dedup_added.empty() && c.outbox_add.empty() &&
        c.outbox_delivered.empty() && p.next_offset == p.committed_offset &&
        c.delta.watermark == p.committed_watermark) {
      continue;
    }
    if (p.next_offset < 0) continue;  // nothing consumed and nothing stored yet: no row to move
    c.next_offset = p.next_offset;
    for (const v1::WindowAggregate& w : c.delta.windows) {
      if (!w.is_final()) continue;
      OutboxRecord r;
      r.topic = w.window_size() == v1::WINDOW_SIZE_5M ? options_.aggregated_5m_topic
                                                      : options_.aggregated_1m_topic;
      r.key = w.series_key();
      r.value = w.SerializeAsString();
      c.outbox_add.push_back(std::move(r));
    }
    pending_.push_back(std::move(c));
  }
}

absl::Status Aggregator::Commit() {
  while (!pending_.empty()) {
    const absl::Time start = absl::Now();
    absl::StatusOr<CheckpointResult> result = deps_.store->Checkpoint(pending_);
    if (!result.ok()) {
      deps_.metrics->CheckpointFailed();
      deps_.metrics->SetCheckpointPending(true);
      failing_.store(true, std::memory_order_relaxed);
      SM_LOG(Warn, "checkpoint_failed")
          .Kv("status", result.status().ToString())
          .Kv("partitions", pending_.size())
          .Kv("consequence", "state kept; consumption paused; retried every interval");
      return result.status();
    }
    if (!result->fenced.empty()) {
      for (int32_t id : result->fenced) {
        deps_.metrics->PartitionFenced();
        SM_LOG(Warn, "partition_fenced")
            .Kv("partition", id)
            .Kv("consequence", "another instance claimed it; this instance's state is dropped");
        Drop(id);
      }
      deps_.metrics->SetAssignedPartitions(partitions_.size());
      continue;
    }
    size_t windows = 0;
    size_t outbox = 0;
    const absl::Time now = deps_.clock->Now();
    for (size_t i = 0; i < pending_.size(); ++i) {
      PartitionCheckpoint& c = pending_[i];
      windows += c.delta.windows.size();
      outbox += c.outbox_add.size();
      for (const v1::WindowAggregate& w : c.delta.windows) {
        if (w.is_final()) deps_.metrics->WindowClosed(now - TimeFromProto(w.window_end()));
      }
      auto p = partitions_.find(c.partition);
      if (p != partitions_.end()) {
        p->second.committed_offset = c.next_offset;
        p->second.committed_watermark = c.delta.watermark;
      }
      if (deps_.on_committed && !c.delta.windows.empty()) {
        deps_.on_committed(std::move(c.delta.windows));
      }
      const std::vector<int64_t>& ids = result->outbox_ids[i];
      for (size_t k = 0; k < c.outbox_add.size() && k < ids.size(); ++k) {
        c.outbox_add[k].id = ids[k];
      }
      if (!c.outbox_add.empty()) Publish(c.partition, std::move(c.outbox_add));
    }
    deps_.metrics->CheckpointDone(absl::Now() - start, windows, outbox);
    deps_.metrics->SetCheckpointPending(false);
    pending_.clear();
  }
  failing_.store(false, std::memory_order_relaxed);
  return absl::OkStatus();
}

void Aggregator::Publish(int32_t partition, std::vector<OutboxRecord> records) {
  std::vector<kafka::Record> out;
  out.reserve(records.size());
  for (const OutboxRecord& r : records) {
    kafka::Record o;
    o.topic = r.topic;
    o.key = r.key;
    o.value = r.value;
    o.headers = {
        {std::string(events::kHeaderContentType), r.topic == options_.dead_letter_topic
                                                      ? std::string(events::kContentTypeDeadLetter)
                                                      : std::string(kContentTypeWindowAggregate)}};
    out.push_back(std::move(o));
  }
  {
    absl::MutexLock lock(&mu_);
    unconfirmed_ += records.size();
  }
  deps_.publisher->SendBatch(std::move(out), [this, partition, records = std::move(records)](
                                                 std::vector<absl::Status> results) mutable {
    absl::MutexLock lock(&mu_);
    for (size_t i = 0; i < records.size(); ++i) {
      const bool ok = i < results.size() && results[i].ok();
      deps_.metrics->Published(ok);
      if (ok) {
        delivered_[partition].push_back(records[i].id);
      } else {
        failed_[partition].push_back(std::move(records[i]));
      }
    }
    unconfirmed_ -= records.size();
  });
}

void Aggregator::RepublishFailed() {
  std::map<int32_t, std::vector<OutboxRecord>> failed;
  {
    absl::MutexLock lock(&mu_);
    failed.swap(failed_);
  }
  for (auto& [id, records] : failed) {
    if (!partitions_.contains(id)) continue;  // the next owner republishes them from the outbox
    SM_LOG(Warn, "outbox_republish").Kv("partition", id).Kv("records", records.size());
    Publish(id, std::move(records));
  }
}

std::vector<int32_t> Aggregator::partitions() const {
  std::vector<int32_t> ids;
  for (const auto& [id, p] : partitions_) ids.push_back(id);
  return ids;
}

size_t Aggregator::unconfirmed() const {
  absl::MutexLock lock(&mu_);
  return unconfirmed_;
}

}  // namespace streammetrics::aggregation
