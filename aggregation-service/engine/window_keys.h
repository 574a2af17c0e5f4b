// WindowKeys: the idempotency keys (client_id, sequence, event index) counted in one 1-minute
// window of one partition, all series together. The window engine asks it whether an event was
// already counted, and checkpoints what it learned as streammetrics.internal.DedupChunk bytes.
//
// Keys are grouped client -> sequence -> sorted event indexes because a batch's events arrive
// together with ascending indexes: the common insert is an append to the batch looked up for the
// previous key, and the chunk format stores exactly that grouping.
#ifndef STREAMMETRICS_AGGREGATION_SERVICE_ENGINE_WINDOW_KEYS_H_
#define STREAMMETRICS_AGGREGATION_SERVICE_ENGINE_WINDOW_KEYS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace streammetrics::aggregation {

class WindowKeys {
 public:
  WindowKeys() = default;
  WindowKeys(const WindowKeys&) = delete;
  WindowKeys& operator=(const WindowKeys&) = delete;

  // Adds a key. Returns true when it was new (count the event), false when it was already held
  // (a duplicate; nothing changes). A new key inserted with `pending` is also remembered for the
  // next TakePending; restored keys are not, as they are stored already.
  bool Insert(absl::string_view client_id, uint64_t sequence, uint32_t event_index, bool pending);

  // Whether the key is held. Changes nothing.
  bool Contains(absl::string_view client_id, uint64_t sequence, uint32_t event_index) const;

  // Inserts (not pending) every key of a serialized streammetrics.internal.DedupChunk; keys
  // already held are ignored, so several chunks of one window restore their union. Fails with
  // InvalidArgument when `bytes` does not parse, adding nothing.
  absl::Status InsertSerialized(absl::string_view bytes);

  // The keys inserted with `pending` since the previous call, as a serialized DedupChunk with
  // each client once, each of its sequences once and indexes ascending; "" when there are none.
  std::string TakePending();

  bool has_pending() const { return !pending_.empty(); }
  // Number of keys held.
  size_t size() const { return size_; }

 private:
  struct Client {
    std::string id;
    // sequence -> event indexes, ascending.
    absl::flat_hash_map<uint64_t, std::vector<uint32_t>> batches;
  };
  // 16 bytes, so remembering a key for the next chunk costs one small append.
  struct PendingKey {
    uint32_t client;  // index into clients_
    uint32_t event_index;
    uint64_t sequence;
  };

  // The indexes of (client_id, sequence), created empty if new; sets *client to its index.
  std::vector<uint32_t>* FindOrAddBatch(absl::string_view client_id, uint64_t sequence,
                                        uint32_t* client);

  absl::flat_hash_map<std::string, uint32_t> client_index_;
  std::vector<Client> clients_;
  std::vector<PendingKey> pending_;
  size_t size_ = 0;
  // The batch of the previous Insert. Only Insert's own slow path inserts into the maps, and it
  // resets these afterwards, so the pointer is never stale when used.
  std::vector<uint32_t>* last_batch_ = nullptr;
  uint32_t last_client_ = 0;
  uint64_t last_sequence_ = 0;
};

}  // namespace streammetrics::aggregation

#endif  // STREAMMETRICS_AGGREGATION_SERVICE_ENGINE_WINDOW_KEYS_H_
