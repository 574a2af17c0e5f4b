// Fuzz target: a serialized DedupChunk as read back from PostgreSQL at restore (the dedup state of
// a window). InsertSerialized refuses what does not parse; what it takes, TakePending of a second
// set rebuilt from the same keys writes back, and that reads in to the same count.
#include <cstdint>
#include <string>

#include "aggregation-service/engine/window_keys.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace streammetrics::aggregation;
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  WindowKeys keys;
  if (!keys.InsertSerialized(bytes).ok()) return 0;
  // A duplicate of every key is refused, and nothing is pending after a restore.
  streammetrics::fuzz::Check(keys.TakePending().empty());
  WindowKeys again;
  streammetrics::fuzz::Check(again.InsertSerialized(bytes).ok() && again.size() == keys.size());
  return 0;
}
