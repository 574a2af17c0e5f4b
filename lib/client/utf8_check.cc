// Utf8Check: see utf8_check.h.
#include "lib/client/utf8_check.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace streammetrics::client {

size_t FindInvalidUtf8(absl::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t length;
    unsigned char low = 0x80, high = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      length = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      length = 3;
      if (c == 0xE0) low = 0xA0;   // overlong
      if (c == 0xED) high = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      length = 4;
      if (c == 0xF0) low = 0x90;   // overlong
      if (c == 0xF4) high = 0x8F;  // above U+10FFFF
    } else {
      return i;  // a continuation byte alone, C0/C1 (overlong) or F5..FF
    }
    if (i + length > n || s[i + 1] < low || s[i + 1] > high) return i;
    for (size_t k = 2; k < length; ++k) {
      if (s[i + k] < 0x80 || s[i + k] > 0xBF) return i;
    }
    i += length;
  }
  return absl::string_view::npos;
}

namespace {

absl::Status Check(absl::string_view field, absl::string_view text) {
  const size_t at = FindInvalidUtf8(text);
  if (at == absl::string_view::npos) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(field, " is not valid UTF-8 at byte ", at,
                   "; protobuf string fields must be UTF-8 (the event is not queued)"));
}

}  // namespace

absl::Status CheckUtf8(const v1::MetricEvent& event) {
  for (const auto& [field, text] :
       {std::pair<absl::string_view, absl::string_view>{"event_id", event.event_id()},
        {"service_id", event.service_id()},
        {"instance_id", event.instance_id()},
        {"metric_name", event.metric_name()},
        {"unit", event.unit()}}) {
    if (absl::Status s = Check(field, text); !s.ok()) return s;
  }
  for (const auto& [key, value] : event.tags()) {
    if (absl::Status s = Check("a tag key", key); !s.ok()) return s;
    if (absl::Status s = Check(absl::StrCat("the value of tag ", key), value); !s.ok()) return s;
  }
  for (const auto& [key, value] : event.metadata()) {
    if (absl::Status s = Check("a metadata key", key); !s.ok()) return s;
    if (absl::Status s = Check(absl::StrCat("the value of metadata ", key), value); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace streammetrics::client
