// DeadLetterOriginal: what a dead letter keeps of the record it refuses, bounded so that every
// dead letter fits in a Kafka record. An event too large for its topic would otherwise make a dead
// letter too large for its own, and a batch that can never be stored (Kafka refuses it for good,
// the client resends it forever). Pure code, no I/O.
#ifndef STREAMMETRICS_LIB_EVENTS_DEAD_LETTER_ORIGINAL_H_
#define STREAMMETRICS_LIB_EVENTS_DEAD_LETTER_ORIGINAL_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"
#include "streammetrics/v1/dead_letter.pb.h"

namespace streammetrics::events {

// Bytes of the original a dead letter keeps (its prefix).
inline constexpr size_t kDeadLetterOriginalBytes = 16 << 10;
// Longest record key a dead letter is written with.
inline constexpr size_t kDeadLetterKeyBytes = 1 << 10;
// Largest dead letter value: the prefix plus every other field at its bound (detail, client id,
// caller, topic, numbers), rounded up. Topics and producer must take records this large.
inline constexpr size_t kDeadLetterMaxBytes = kDeadLetterOriginalBytes + (8 << 10);

// Sets dead->original to the first kDeadLetterOriginalBytes of `original`, original_size to its
// whole length and original_sha256 to the SHA-256 of all of it.
void SetOriginal(absl::string_view original, v1::DeadLetter* dead);

// `key` when at most kDeadLetterKeyBytes long, else empty (the record is then spread over the
// partitions; the key's parts are in the original).
std::string DeadLetterKey(std::string key);

}  // namespace streammetrics::events

#endif  // STREAMMETRICS_LIB_EVENTS_DEAD_LETTER_ORIGINAL_H_
