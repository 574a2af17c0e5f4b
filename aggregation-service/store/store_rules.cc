// The rules shared by PostgresAggregateStore and FakeAggregateStore.
#include "aggregation-service/store/store_rules.h"

#include <cstdint>
#include <limits>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace streammetrics::aggregation {
namespace {

constexpr uint64_t kMaxBigint = std::numeric_limits<int64_t>::max();

// Code points in UTF-8 text: every byte that does not continue a multi-byte sequence.
size_t Utf8Chars(absl::string_view text) {
  size_t chars = 0;
  for (char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++chars;
  }
  return chars;
}

absl::Status CheckWidth(const v1::WindowAggregate& window, absl::string_view column,
                        absl::string_view value, size_t width) {
  const size_t chars = Utf8Chars(value);
  if (chars <= width) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("window ", DescribeWindow(window), ": ", column,
                                                 " has ", chars, " characters, its column holds ",
                                                 width));
}

absl::Status CheckWindow(int32_t partition, const v1::WindowAggregate& w) {
  absl::string_view problem;
  if (w.series_key().empty()) {
    problem = "no series_key";
  } else if (WindowSizeName(w.window_size()).empty()) {
    problem = "no window_size";
  } else if (!w.has_window_start() || !w.has_window_end()) {
    problem = "no window_start or window_end";
  } else if (w.count() > kMaxBigint) {
    problem = "a count above 2^63 - 1";
  } else if (w.revision() > kMaxBigint) {
    problem = "a revision above 2^63 - 1";
  } else {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("partition ", partition, ": window ", DescribeWindow(w), " has ", problem));
}

}  // namespace

absl::Status ValidateCheckpoints(const std::vector<PartitionCheckpoint>& checkpoints) {
  absl::flat_hash_set<int32_t> seen;
  for (const PartitionCheckpoint& cp : checkpoints) {
    if (cp.partition < 0) {
      return absl::InvalidArgumentError(absl::StrCat("partition ", cp.partition, " is negative"));
    }
    if (!seen.insert(cp.partition).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("partition ", cp.partition, " appears twice in one checkpoint"));
    }
    if (cp.next_offset < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("partition ", cp.partition, ": next_offset ", cp.next_offset, " < 0"));
    }
    for (const v1::WindowAggregate& w : cp.delta.windows) {
      if (absl::Status s = CheckWindow(cp.partition, w); !s.ok()) return s;
    }
    for (const OutboxRecord& record : cp.outbox_add) {
      if (record.topic.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("partition ", cp.partition, ": an outbox record has no topic"));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status CheckColumnWidths(const v1::WindowAggregate& window) {
  if (absl::Status s =
          CheckWidth(window, "service_id", window.series().service_id(), kServiceIdColumnChars);
      !s.ok()) {
    return s;
  }
  return CheckWidth(window, "metric_name", window.series().metric_name(), kMetricNameColumnChars);
}

absl::Time ClaimFinalWindowsFrom(absl::Time watermark) {
  return WindowStart(watermark, WindowLength(v1::WINDOW_SIZE_5M));
}

bool ClaimReloads(bool is_final, absl::Time window_start, absl::Time final_from) {
  return !is_final || window_start >= final_from;
}

absl::Time StoredTime(absl::Time t) {
  if (t == absl::InfinitePast() || t == absl::InfiniteFuture()) return t;
  return absl::FromUnixMicros(absl::ToUnixMicros(t));
}

std::string DescribeWindow(const v1::WindowAggregate& window) {
  // Series keys are client data: escaped so a message stays one printable line.
  absl::string_view size = WindowSizeName(window.window_size());
  return absl::StrCat("\"", absl::CHexEscape(window.series_key()), "\" ", size.empty() ? "?" : size,
                      " ",
                      absl::FormatTime(absl::RFC3339_full, TimeFromProto(window.window_start()),
                                       absl::UTCTimeZone()));
}

}  // namespace streammetrics::aggregation
