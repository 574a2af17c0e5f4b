// WindowKeys: see window_keys.h.
#include "aggregation-service/engine/window_keys.h"

#include <algorithm>
#include <utility>

#include "streammetrics/internal/dedup.pb.h"

namespace streammetrics::aggregation {

std::vector<uint32_t>* WindowKeys::FindOrAddBatch(absl::string_view client_id, uint64_t sequence,
                                                  uint32_t* client) {
  auto it = client_index_.find(client_id);
  if (it == client_index_.end()) {
    it =
        client_index_.emplace(std::string(client_id), static_cast<uint32_t>(clients_.size())).first;
    clients_.push_back(Client{std::string(client_id), {}});
  }
  *client = it->second;
  return &clients_[it->second].batches[sequence];
}

bool WindowKeys::Insert(absl::string_view client_id, uint64_t sequence, uint32_t event_index,
                        bool pending) {
  std::vector<uint32_t>* batch = last_batch_;
  uint32_t client = last_client_;
  if (batch == nullptr || sequence != last_sequence_ || clients_[client].id != client_id) {
    batch = FindOrAddBatch(client_id, sequence, &client);
    last_batch_ = batch;
    last_client_ = client;
    last_sequence_ = sequence;
  }
  if (batch->empty() || batch->back() < event_index) {
    batch->push_back(event_index);
  } else {
    // A batch resent in part, or events reordered: keep the indexes sorted.
    auto pos = std::lower_bound(batch->begin(), batch->end(), event_index);
    if (*pos == event_index) return false;
    batch->insert(pos, event_index);
  }
  ++size_;
  if (pending) pending_.push_back(PendingKey{client, event_index, sequence});
  return true;
}

bool WindowKeys::Contains(absl::string_view client_id, uint64_t sequence,
                          uint32_t event_index) const {
  const auto client = client_index_.find(client_id);
  if (client == client_index_.end()) return false;
  const auto& batches = clients_[client->second].batches;
  const auto batch = batches.find(sequence);
  return batch != batches.end() &&
         std::binary_search(batch->second.begin(), batch->second.end(), event_index);
}

absl::Status WindowKeys::InsertSerialized(absl::string_view bytes) {
  internal::DedupChunk chunk;
  if (!chunk.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::InvalidArgumentError("dedup chunk does not parse as a DedupChunk");
  }
  for (const internal::ClientKeys& client : chunk.clients()) {
    for (const internal::BatchKeys& batch : client.batches()) {
      for (uint32_t index : batch.event_indexes()) {
        Insert(client.client_id(), batch.sequence(), index, /*pending=*/false);
      }
    }
  }
  return absl::OkStatus();
}

std::string WindowKeys::TakePending() {
  if (pending_.empty()) return "";
  internal::DedupChunk chunk;
  // Proto elements live behind stable pointers, so these maps may hold them while the chunk
  // grows. Consecutive keys of one batch (the common case) skip both lookups.
  absl::flat_hash_map<uint32_t, internal::ClientKeys*> clients;
  absl::flat_hash_map<std::pair<uint32_t, uint64_t>, internal::BatchKeys*> batches;
  internal::BatchKeys* batch = nullptr;
  uint32_t batch_client = 0;
  uint64_t batch_sequence = 0;
  for (const PendingKey& key : pending_) {
    if (batch == nullptr || key.client != batch_client || key.sequence != batch_sequence) {
      internal::BatchKeys*& slot = batches[{key.client, key.sequence}];
      if (slot == nullptr) {
        internal::ClientKeys*& client = clients[key.client];
        if (client == nullptr) {
          client = chunk.add_clients();
          client->set_client_id(clients_[key.client].id);
        }
        slot = client->add_batches();
        slot->set_sequence(key.sequence);
      }
      batch = slot;
      batch_client = key.client;
      batch_sequence = key.sequence;
    }
    batch->add_event_indexes(key.event_index);
  }
  for (auto& [unused, keys] : batches) {
    auto* indexes = keys->mutable_event_indexes();
    if (!std::is_sorted(indexes->begin(), indexes->end())) {
      std::sort(indexes->begin(), indexes->end());
    }
  }
  pending_.clear();
  return chunk.SerializeAsString();
}

}  // namespace streammetrics::aggregation
