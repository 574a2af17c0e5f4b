// PageTokenKeys: the keys QueryService page tokens are signed with, so a client cannot forge a
// cursor (a token it made up, or one edited to point elsewhere). A token is the cursor's bytes
// followed by their HMAC-SHA256; the first key signs, every key verifies, which is how keys
// rotate: put the new key first, keep the old one after it for as long as old tokens may come
// back, then drop it. Pure code (OpenSSL's HMAC); no I/O.
#ifndef STREAMMETRICS_AGGREGATION_SERVICE_QUERY_PAGE_TOKEN_KEYS_H_
#define STREAMMETRICS_AGGREGATION_SERVICE_QUERY_PAGE_TOKEN_KEYS_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace streammetrics::aggregation {

class PageTokenKeys {
 public:
  // Bytes of the MAC appended to a payload.
  static constexpr size_t kMacBytes = 32;
  // Shortest key accepted (e.g. `openssl rand -hex 32` gives 64 characters).
  static constexpr size_t kMinKeyBytes = 32;

  // One random key (OpenSSL's RAND_bytes): tokens verify only in this process, so a client
  // following pages through a load balancer to another instance is asked to start again.
  static PageTokenKeys Random();

  // Keys separated by commas or whitespace, the signing key first. Fails with InvalidArgument
  // when there is none or one is shorter than kMinKeyBytes (naming its position, never its
  // value).
  static absl::StatusOr<PageTokenKeys> FromText(absl::string_view text);

  // `payload` followed by its MAC under the first key.
  std::string Sign(absl::string_view payload) const;

  // The payload of `token` when its MAC matches one of the keys (compared in constant time);
  // nullopt otherwise.
  std::optional<std::string> Verify(absl::string_view token) const;

  size_t size() const { return keys_.size(); }

 private:
  explicit PageTokenKeys(std::vector<std::string> keys) : keys_(std::move(keys)) {}
  std::vector<std::string> keys_;
};

}  // namespace streammetrics::aggregation

#endif  // STREAMMETRICS_AGGREGATION_SERVICE_QUERY_PAGE_TOKEN_KEYS_H_
