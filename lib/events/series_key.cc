// Builds and parses the canonical series key (format in series_key.h and docs/contract.md).
//
// The parser is strict on purpose: it accepts exactly the strings SeriesKey can produce, so a key
// that parses re-serializes to itself and two spellings of one series can never coexist in Kafka,
// PostgreSQL or Redis.
#include "lib/events/series_key.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "lib/common/status_macros.h"

namespace streammetrics::events {
namespace {

constexpr char kEscape = '\\';
constexpr char kPartSeparator = '|';
constexpr char kTagSeparator = ',';
constexpr char kKeyValueSeparator = '=';

// Keys are quoted in error messages; a key longer than this is shortened so one bad record cannot
// produce a megabyte of log.
constexpr size_t kMaxQuotedBytes = 200;

bool IsSpecial(char c) {
  return c == kEscape || c == kPartSeparator || c == kTagSeparator || c == kKeyValueSeparator;
}

void AppendEscaped(absl::string_view text, std::string* out) {
  for (char c : text) {
    if (IsSpecial(c)) out->push_back(kEscape);
    out->push_back(c);
  }
}

absl::Status Malformed(absl::string_view key, absl::string_view why) {
  std::string quoted = absl::CHexEscape(key.substr(0, kMaxQuotedBytes));
  if (key.size() > kMaxQuotedBytes) absl::StrAppend(&quoted, "...");
  return absl::InvalidArgumentError(
      absl::StrCat("series key \"", quoted, "\" is malformed: ", why));
}

// Every escape must be one SeriesKey writes. Checked once up front so the splitting below can
// treat "backslash + next byte" as a unit without running off the end.
absl::Status CheckEscapes(absl::string_view key) {
  for (size_t i = 0; i < key.size(); ++i) {
    if (key[i] != kEscape) continue;
    if (i + 1 == key.size()) {
      return Malformed(key,
                       "it ends with a dangling '\\'; a backslash must escape one of \\ | , =");
    }
    if (!IsSpecial(key[i + 1])) {
      return Malformed(key, absl::StrCat("'\\' at byte ", i,
                                         " escapes a character other than \\ | , = (only those "
                                         "four are escaped)"));
    }
    ++i;
  }
  return absl::OkStatus();
}

// Splits at every unescaped `separator`. Escapes stay in the pieces (Unescape removes them), so a
// piece can still be split at a different separator. Requires CheckEscapes to have passed.
std::vector<absl::string_view> SplitUnescaped(absl::string_view text, char separator) {
  std::vector<absl::string_view> pieces;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == kEscape) {
      ++i;
    } else if (text[i] == separator) {
      pieces.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  pieces.push_back(text.substr(start));
  return pieces;
}

// Removes the escapes of one part. A special character left unescaped here (e.g. ',' in the
// service_id) is one SeriesKey would have escaped, so the key is not canonical.
absl::StatusOr<std::string> Unescape(absl::string_view key, absl::string_view piece,
                                     absl::string_view what) {
  std::string out;
  out.reserve(piece.size());
  for (size_t i = 0; i < piece.size(); ++i) {
    if (piece[i] == kEscape) {
      out.push_back(piece[++i]);
    } else if (IsSpecial(piece[i])) {
      return Malformed(key, absl::StrCat(what, " contains an unescaped '",
                                         absl::string_view(&piece[i], 1), "'"));
    } else {
      out.push_back(piece[i]);
    }
  }
  return out;
}

void AppendSeriesKey(absl::string_view service_id, absl::string_view metric_name,
                     const google::protobuf::Map<std::string, std::string>& tags,
                     std::string* key) {
  // Map iteration order is unspecified (and differs between processes), so sort to be
  // deterministic. string_view compares like memcmp: bytewise, unsigned. Inline room for the
  // usual handful of tags keeps this free of allocations.
  absl::InlinedVector<std::pair<absl::string_view, absl::string_view>, 8> sorted;
  size_t tag_bytes = 0;
  for (const auto& entry : tags) {
    sorted.emplace_back(entry.first, entry.second);
    tag_bytes += entry.first.size() + entry.second.size() + 2;
  }
  std::sort(sorted.begin(), sorted.end());

  key->reserve(key->size() + service_id.size() + metric_name.size() + tag_bytes + 2);
  AppendEscaped(service_id, key);
  key->push_back(kPartSeparator);
  AppendEscaped(metric_name, key);
  key->push_back(kPartSeparator);
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (i > 0) key->push_back(kTagSeparator);
    AppendEscaped(sorted[i].first, key);
    key->push_back(kKeyValueSeparator);
    AppendEscaped(sorted[i].second, key);
  }
}

}  // namespace

std::string SeriesKey(const v1::MetricEvent& event) {
  return SeriesKey(event.service_id(), event.metric_name(), event.tags());
}

void SeriesKey(const v1::MetricEvent& event, std::string* out) {
  out->clear();
  AppendSeriesKey(event.service_id(), event.metric_name(), event.tags(), out);
}

std::string SeriesKey(absl::string_view service_id, absl::string_view metric_name,
                      const google::protobuf::Map<std::string, std::string>& tags) {
  std::string key;
  AppendSeriesKey(service_id, metric_name, tags, &key);
  return key;
}

absl::StatusOr<v1::Series> ParseSeriesKey(absl::string_view key) {
  RETURN_IF_ERROR(CheckEscapes(key));
  const std::vector<absl::string_view> parts = SplitUnescaped(key, kPartSeparator);
  if (parts.size() != 3) {
    return Malformed(key, absl::StrCat("it has ", parts.size(),
                                       " '|'-separated parts; a series key has exactly 3 "
                                       "(service_id|metric_name|tags)"));
  }

  v1::Series series;
  ASSIGN_OR_RETURN(*series.mutable_service_id(), Unescape(key, parts[0], "service_id"));
  ASSIGN_OR_RETURN(*series.mutable_metric_name(), Unescape(key, parts[1], "metric_name"));
  // An empty third part means "no tags"; otherwise every comma-separated entry is one tag, so
  // "a=1," (an empty entry) is rejected below as a tag without '='.
  if (parts[2].empty()) return series;

  std::string previous_key;
  bool first = true;
  for (absl::string_view tag : SplitUnescaped(parts[2], kTagSeparator)) {
    const std::vector<absl::string_view> key_value = SplitUnescaped(tag, kKeyValueSeparator);
    if (key_value.size() != 2) {
      return Malformed(
          key, absl::StrCat("tag \"", absl::CHexEscape(tag), "\" has ", key_value.size() - 1,
                            " unescaped '='; each tag is exactly key=value"));
    }
    ASSIGN_OR_RETURN(std::string tag_key, Unescape(key, key_value[0], "a tag key"));
    ASSIGN_OR_RETURN(std::string tag_value, Unescape(key, key_value[1], "a tag value"));
    // Strictly increasing also rules out duplicates, which a map could not represent anyway.
    if (!first && !(previous_key < tag_key)) {
      return Malformed(key, absl::StrCat("tag key \"", absl::CHexEscape(tag_key), "\" follows \"",
                                         absl::CHexEscape(previous_key),
                                         "\"; tags must be sorted by key, each key once"));
    }
    first = false;
    (*series.mutable_tags())[tag_key] = std::move(tag_value);
    previous_key = std::move(tag_key);
  }
  return series;
}

}  // namespace streammetrics::events
