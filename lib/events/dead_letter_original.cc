// DeadLetterOriginal: see dead_letter_original.h.
#include "lib/events/dead_letter_original.h"

#include <openssl/sha.h>

#include <algorithm>

namespace streammetrics::events {

void SetOriginal(absl::string_view original, v1::DeadLetter* dead) {
  dead->set_original(original.data(), std::min(original.size(), kDeadLetterOriginalBytes));
  dead->set_original_size(original.size());
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(original.data()), original.size(), digest);
  dead->set_original_sha256(digest, sizeof(digest));
}

std::string DeadLetterKey(std::string key) {
  if (key.size() > kDeadLetterKeyBytes) key.clear();
  return key;
}

}  // namespace streammetrics::events
