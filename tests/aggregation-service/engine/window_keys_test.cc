// Tests of WindowKeys: duplicates found in and out of order, the pending delta as a well-formed
// DedupChunk (grouped, ascending, taken once), and restoring chunks as a union.
#include "aggregation-service/engine/window_keys.h"

#include <algorithm>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"
#include "streammetrics/internal/dedup.pb.h"

namespace streammetrics::aggregation {
namespace {

using Key = std::tuple<std::string, uint64_t, uint32_t>;

std::set<Key> KeysOf(const std::string& bytes) {
  internal::DedupChunk chunk;
  EXPECT_TRUE(chunk.ParseFromString(bytes));
  std::set<Key> keys;
  for (const auto& client : chunk.clients()) {
    for (const auto& batch : client.batches()) {
      for (uint32_t index : batch.event_indexes()) {
        keys.emplace(client.client_id(), batch.sequence(), index);
      }
    }
  }
  return keys;
}

TEST(WindowKeysTest, SecondInsertOfAKeyIsADuplicate) {
  WindowKeys keys;
  EXPECT_TRUE(keys.Insert("a", 1, 0, true));
  EXPECT_TRUE(keys.Insert("a", 1, 1, true));
  EXPECT_FALSE(keys.Insert("a", 1, 0, true));
  EXPECT_FALSE(keys.Insert("a", 1, 1, true));
  // Any part differing makes another key.
  EXPECT_TRUE(keys.Insert("a", 2, 0, true));
  EXPECT_TRUE(keys.Insert("b", 1, 0, true));
  // Client ids are bytes: a trailing NUL makes another client.
  EXPECT_TRUE(keys.Insert(std::string("a\0", 2), 1, 0, true));
  EXPECT_EQ(keys.size(), 5u);
}

TEST(WindowKeysTest, OutOfOrderInsertsKeepDuplicatesFound) {
  WindowKeys keys;
  const std::vector<uint32_t> order = {5, 1, 9, 0, 3, 7, 2, 8, 6, 4};
  for (uint32_t i : order) EXPECT_TRUE(keys.Insert("c", 3, i, true)) << i;
  for (uint32_t i = 0; i < 10; ++i) EXPECT_FALSE(keys.Insert("c", 3, i, true)) << i;
  EXPECT_EQ(keys.size(), 10u);
  // The chunk lists them ascending whatever the insertion order.
  internal::DedupChunk chunk;
  ASSERT_TRUE(chunk.ParseFromString(keys.TakePending()));
  ASSERT_EQ(chunk.clients_size(), 1);
  ASSERT_EQ(chunk.clients(0).batches_size(), 1);
  const auto& indexes = chunk.clients(0).batches(0).event_indexes();
  EXPECT_EQ(std::vector<uint32_t>(indexes.begin(), indexes.end()),
            (std::vector<uint32_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(WindowKeysTest, RandomInsertsMatchASet) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int> client(0, 4), sequence(1, 6), index(0, 40);
  WindowKeys keys;
  std::set<Key> truth;
  for (int i = 0; i < 20000; ++i) {
    Key key{"client-" + std::to_string(client(rng)), sequence(rng),
            static_cast<uint32_t>(index(rng))};
    const bool is_new = truth.insert(key).second;
    EXPECT_EQ(keys.Insert(std::get<0>(key), std::get<1>(key), std::get<2>(key), true), is_new);
  }
  EXPECT_EQ(keys.size(), truth.size());
  EXPECT_EQ(KeysOf(keys.TakePending()), truth);
}

TEST(WindowKeysTest, PendingChunkGroupsClientsAndSequencesOnce) {
  WindowKeys keys;
  // Interleaved batches of two clients, as a partition sees them.
  keys.Insert("a", 1, 0, true);
  keys.Insert("b", 1, 0, true);
  keys.Insert("a", 1, 1, true);
  keys.Insert("a", 2, 0, true);
  keys.Insert("b", 1, 1, true);
  keys.Insert("a", 1, 2, true);
  internal::DedupChunk chunk;
  ASSERT_TRUE(chunk.ParseFromString(keys.TakePending()));
  ASSERT_EQ(chunk.clients_size(), 2);
  for (const auto& client : chunk.clients()) {
    std::set<uint64_t> sequences;
    for (const auto& batch : client.batches()) {
      EXPECT_TRUE(sequences.insert(batch.sequence()).second);
      EXPECT_TRUE(std::is_sorted(batch.event_indexes().begin(), batch.event_indexes().end()));
    }
  }
  EXPECT_EQ(KeysOf(chunk.SerializeAsString()),
            (std::set<Key>{
                {"a", 1, 0}, {"a", 1, 1}, {"a", 1, 2}, {"a", 2, 0}, {"b", 1, 0}, {"b", 1, 1}}));
}

TEST(WindowKeysTest, PendingIsTakenOnceAndOnlyNewKeysFollow) {
  WindowKeys keys;
  EXPECT_FALSE(keys.has_pending());
  EXPECT_EQ(keys.TakePending(), "");
  keys.Insert("a", 1, 0, true);
  keys.Insert("a", 1, 1, true);
  EXPECT_TRUE(keys.has_pending());
  EXPECT_EQ(KeysOf(keys.TakePending()), (std::set<Key>{{"a", 1, 0}, {"a", 1, 1}}));
  EXPECT_FALSE(keys.has_pending());
  EXPECT_EQ(keys.TakePending(), "");
  // A duplicate is not pending; a new key of the same batch is.
  EXPECT_FALSE(keys.Insert("a", 1, 1, true));
  EXPECT_FALSE(keys.has_pending());
  keys.Insert("a", 1, 2, true);
  EXPECT_EQ(KeysOf(keys.TakePending()), (std::set<Key>{{"a", 1, 2}}));
  // A key inserted without `pending` is held but never reported.
  EXPECT_TRUE(keys.Insert("z", 9, 9, false));
  EXPECT_FALSE(keys.has_pending());
  EXPECT_FALSE(keys.Insert("z", 9, 9, true));
  EXPECT_EQ(keys.size(), 4u);
}

TEST(WindowKeysTest, InsertSerializedRestoresTheUnionWithoutPending) {
  WindowKeys first;
  first.Insert("a", 1, 0, true);
  first.Insert("a", 1, 1, true);
  WindowKeys second;
  second.Insert("a", 1, 1, true);
  second.Insert("b", 4, 2, true);
  WindowKeys restored;
  ASSERT_TRUE(restored.InsertSerialized(first.TakePending()).ok());
  ASSERT_TRUE(restored.InsertSerialized(second.TakePending()).ok());
  EXPECT_EQ(restored.size(), 3u);
  EXPECT_FALSE(restored.has_pending());
  EXPECT_FALSE(restored.Insert("a", 1, 0, true));
  EXPECT_FALSE(restored.Insert("a", 1, 1, true));
  EXPECT_FALSE(restored.Insert("b", 4, 2, true));
  EXPECT_TRUE(restored.Insert("b", 4, 1, true));
  EXPECT_TRUE(restored.InsertSerialized("").ok());  // An empty chunk holds no key.
  EXPECT_EQ(restored.size(), 4u);
}

TEST(WindowKeysTest, InsertSerializedAcceptsUnsortedAndRepeatedIndexes) {
  internal::DedupChunk chunk;
  auto* batch = chunk.add_clients();
  batch->set_client_id("a");
  auto* keys_of_batch = batch->add_batches();
  keys_of_batch->set_sequence(3);
  for (uint32_t i : {4, 2, 4, 0}) keys_of_batch->add_event_indexes(i);
  WindowKeys keys;
  ASSERT_TRUE(keys.InsertSerialized(chunk.SerializeAsString()).ok());
  EXPECT_EQ(keys.size(), 3u);
  EXPECT_TRUE(keys.Insert("a", 3, 1, true));
  EXPECT_TRUE(keys.Insert("a", 3, 3, true));
  EXPECT_FALSE(keys.Insert("a", 3, 2, true));
}

TEST(WindowKeysTest, CorruptBytesAreRefusedAndAddNothing) {
  WindowKeys keys;
  keys.Insert("a", 1, 0, false);
  const absl::Status status = keys.InsertSerialized("\xff\xff\xff garbage");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(keys.size(), 1u);
  EXPECT_FALSE(keys.has_pending());
}

}  // namespace
}  // namespace streammetrics::aggregation
