// Content identities (contract in content_id.h).
#include "ingest-service/otlp/content_id.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/strings/escaping.h"
#include "absl/strings/string_view.h"
#include "ingest-service/otlp/otlp_attributes.h"

namespace streammetrics::ingest::otlp {
namespace {

void AppendField(absl::string_view bytes, std::string* out) {
  const uint64_t n = bytes.size();
  char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<char>(n >> (8 * i));
  out->append(len, sizeof(len));
  out->append(bytes.data(), bytes.size());
}

// OpenSSL 3's one-shot SHA256() looks the algorithm up on every call, under global locks: a
// quarter of the mapping's time in otlp_mapping_bench. The algorithm is fetched once and each
// thread reuses one context instead.
const EVP_MD* Sha256() {
  static const EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

ContentId Digest(absl::string_view bytes) {
  thread_local const std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(),
                                                                                 &EVP_MD_CTX_free);
  unsigned char md[SHA256_DIGEST_LENGTH];
  unsigned int length = 0;
  if (ctx == nullptr || EVP_DigestInit_ex(ctx.get(), Sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), bytes.data(), bytes.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), md, &length) != 1 || length != SHA256_DIGEST_LENGTH) {
    // Only a broken OpenSSL gets here. Going on would give points keys that are not their
    // content's, and retries would be counted twice: stop loudly instead.
    std::fprintf(stderr, "fatal: OpenSSL cannot compute SHA-256; OTLP keys cannot be derived\n");
    std::abort();
  }
  ContentId id;
  for (int i = 0; i < 8; ++i) {
    id.hi = (id.hi << 8) | md[i];
    id.lo = (id.lo << 8) | md[8 + i];
  }
  return id;
}

// The id's 16 bytes, high half first, each half little-endian.
void AppendId(const ContentId& id, std::string* out) {
  char raw[16];
  for (int i = 0; i < 8; ++i) {
    raw[i] = static_cast<char>(id.hi >> (8 * i));
    raw[8 + i] = static_cast<char>(id.lo >> (8 * i));
  }
  out->append(raw, sizeof(raw));
}

// Sorted (key, text) pairs, the last of a repeated key winning.
template <typename Pairs>
void AppendSorted(Pairs pairs, std::string* out) {
  std::stable_sort(pairs.begin(), pairs.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  // Of equal keys the stable sort keeps input order: the last one is the one that counts.
  size_t kept = 0;
  for (size_t i = 0; i < pairs.size(); ++i) {
    if (i + 1 < pairs.size() && pairs[i + 1].first == pairs[i].first) continue;
    if (kept != i) pairs[kept] = std::move(pairs[i]);
    ++kept;
  }
  AppendField(std::to_string(kept), out);
  for (size_t i = 0; i < kept; ++i) {
    AppendField(pairs[i].first, out);
    AppendField(pairs[i].second, out);
  }
}

}  // namespace

std::string ContentId::Hex() const {
  char raw[16];
  for (int i = 0; i < 8; ++i) {
    raw[i] = static_cast<char>(hi >> (56 - 8 * i));
    raw[8 + i] = static_cast<char>(lo >> (56 - 8 * i));
  }
  return absl::BytesToHexString(absl::string_view(raw, sizeof(raw)));
}

ContentId ResourceId(const opentelemetry::proto::resource::v1::Resource& resource) {
  std::vector<std::pair<std::string, std::string>> attributes;
  attributes.reserve(static_cast<size_t>(resource.attributes_size()));
  for (const auto& kv : resource.attributes()) {
    attributes.emplace_back(kv.key(), AttributeText(kv.value()));
  }
  std::string bytes;
  AppendSorted(std::move(attributes), &bytes);
  return Digest(bytes);
}

ContentId ScopeId(const ContentId& resource,
                  const opentelemetry::proto::common::v1::InstrumentationScope& scope) {
  std::string bytes;
  AppendId(resource, &bytes);
  AppendField(scope.name(), &bytes);
  AppendField(scope.version(), &bytes);
  return Digest(bytes);
}

ContentId SeriesId(const ContentId& scope, absl::string_view metric_name, char kind,
                   const google::protobuf::Map<std::string, std::string>& tags) {
  // One buffer per thread, reused: the hot path of every OTLP point allocates nothing here.
  thread_local std::string bytes;
  bytes.clear();
  AppendId(scope, &bytes);
  AppendField(metric_name, &bytes);
  bytes.push_back(kind);
  absl::InlinedVector<std::pair<absl::string_view, absl::string_view>, 16> sorted(tags.begin(),
                                                                                  tags.end());
  AppendSorted(std::move(sorted), &bytes);
  return Digest(bytes);
}

ContentId WithStart(const ContentId& series, uint64_t start_unix_nano) {
  std::string bytes;
  AppendId(series, &bytes);
  char start[8];
  for (int i = 0; i < 8; ++i) start[i] = static_cast<char>(start_unix_nano >> (8 * i));
  bytes.append(start, sizeof(start));
  return Digest(bytes);
}

}  // namespace streammetrics::ingest::otlp
