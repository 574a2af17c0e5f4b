// PageTokenKeys: see page_token_keys.h.
#include "aggregation-service/query/page_token_keys.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace streammetrics::aggregation {
namespace {

std::string Mac(const std::string& key, absl::string_view payload) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(payload.data()), payload.size(), mac, &length);
  return std::string(reinterpret_cast<const char*>(mac), length);
}

}  // namespace

PageTokenKeys PageTokenKeys::Random() {
  std::string key(kMinKeyBytes, '\0');
  // RAND_bytes fails only when the system has no entropy source, which makes TLS impossible as
  // well; an all-zero key would still sign, only guessably, so it is worth stopping for.
  if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), static_cast<int>(key.size())) != 1) {
    OPENSSL_die("RAND_bytes failed: no entropy for the page token key", __FILE__, __LINE__);
  }
  return PageTokenKeys({std::move(key)});
}

absl::StatusOr<PageTokenKeys> PageTokenKeys::FromText(absl::string_view text) {
  std::vector<std::string> keys;
  for (absl::string_view key :
       absl::StrSplit(text, absl::ByAnyChar(", \t\r\n"), absl::SkipEmpty())) {
    if (key.size() < kMinKeyBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("page token key ", keys.size() + 1, " is ", key.size(),
                       " bytes long; keys must have at least ", kMinKeyBytes,
                       " (make one with `openssl rand -hex 32`)"));
    }
    keys.emplace_back(key);
  }
  if (keys.empty()) {
    return absl::InvalidArgumentError(
        "no page token key given: one or more keys separated by commas or newlines, the signing "
        "key first");
  }
  return PageTokenKeys(std::move(keys));
}

std::string PageTokenKeys::Sign(absl::string_view payload) const {
  return absl::StrCat(payload, Mac(keys_.front(), payload));
}

std::optional<std::string> PageTokenKeys::Verify(absl::string_view token) const {
  if (token.size() < kMacBytes) return std::nullopt;
  const absl::string_view payload = token.substr(0, token.size() - kMacBytes);
  const absl::string_view mac = token.substr(token.size() - kMacBytes);
  for (const std::string& key : keys_) {
    const std::string expected = Mac(key, payload);
    if (CRYPTO_memcmp(expected.data(), mac.data(), kMacBytes) == 0) return std::string(payload);
  }
  return std::nullopt;
}

}  // namespace streammetrics::aggregation
