// Retention of stored windows: see retention.h.
#include "aggregation-service/store/retention.h"

#include <algorithm>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "aggregation-service/engine/window_math.h"

namespace streammetrics::aggregation {
namespace {

constexpr absl::Duration kDay = absl::Hours(24);
constexpr absl::string_view kTablePrefix = "metric_aggregates_";
constexpr char kDayFormat[] = "%Y%m%d";

constexpr v1::WindowSize kSizes[] = {v1::WINDOW_SIZE_1M, v1::WINDOW_SIZE_5M};

absl::Status CheckKeep(absl::string_view flag, absl::Duration keep) {
  if (keep < kMinimumRetention) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, "=", absl::FormatDuration(keep), " is too short: at least ",
                     absl::FormatDuration(kMinimumRetention),
                     " (events up to 24h old are accepted, and their windows must outlive them), "
                     "or inf to keep windows forever"));
  }
  return absl::OkStatus();
}

// "14 days" for whole days, "60h" otherwise.
std::string KeepText(absl::Duration keep) {
  absl::Duration rest;
  const int64_t days = absl::IDivDuration(keep, kDay, &rest);
  return rest == absl::ZeroDuration() ? absl::StrCat(days, days == 1 ? " day" : " days")
                                      : absl::FormatDuration(keep);
}

}  // namespace

absl::Status ValidateRetention(const RetentionPolicy& policy) {
  if (absl::Status s = CheckKeep("retention_1m", policy.keep_1m); !s.ok()) return s;
  if (absl::Status s = CheckKeep("retention_5m", policy.keep_5m); !s.ok()) return s;
  if (policy.create_ahead < kDay || policy.create_ahead > absl::Hours(24 * 366)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--partitions_ahead=", absl::FormatDuration(policy.create_ahead),
                     " must be between 24h and 8784h (a year)"));
  }
  if (policy.create_behind < absl::ZeroDuration() || policy.create_behind > absl::Hours(24 * 366)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--partitions_behind=", absl::FormatDuration(policy.create_behind),
                     " must be between 0s and 8784h (a year)"));
  }
  return absl::OkStatus();
}

absl::Duration RetentionOf(const RetentionPolicy& policy, v1::WindowSize size) {
  switch (size) {
    case v1::WINDOW_SIZE_1M:
      return policy.keep_1m;
    case v1::WINDOW_SIZE_5M:
      return policy.keep_5m;
    default:
      return absl::ZeroDuration();
  }
}

absl::Time DayStart(absl::Time t) { return WindowStart(t, kDay); }

absl::Time RetainedFrom(const RetentionPolicy& policy, v1::WindowSize size, absl::Time now) {
  const absl::Duration keep = RetentionOf(policy, size);
  if (keep == absl::InfiniteDuration()) return absl::InfinitePast();
  return DayStart(now - keep);
}

absl::StatusOr<absl::Time> RetainedStart(const RetentionPolicy& policy, v1::WindowSize size,
                                         absl::Time start, absl::Time end, absl::Time now) {
  const absl::Time from = RetainedFrom(policy, size, now);
  if (end <= from) {
    return absl::OutOfRangeError(
        absl::StrCat(WindowSizeName(size), " windows are kept for ",
                     KeepText(RetentionOf(policy, size)), ": the oldest kept ", "starts at ",
                     absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", from, absl::UTCTimeZone()),
                     ", and this range ends before it; ask for a range ending later"));
  }
  return std::max(start, from);
}

std::string SizeTableName(v1::WindowSize size) {
  return absl::StrCat(kTablePrefix, WindowSizeName(size));
}

std::string DefaultPartitionName(v1::WindowSize size) {
  return absl::StrCat(SizeTableName(size), "_default");
}

std::string PartitionName(const DayPartition& p) {
  return absl::StrCat(SizeTableName(p.size), "_",
                      absl::FormatTime(kDayFormat, p.day, absl::UTCTimeZone()));
}

std::optional<DayPartition> ParsePartitionName(absl::string_view name) {
  if (!absl::ConsumePrefix(&name, kTablePrefix)) return std::nullopt;
  // "1m_20261205": a size, an underscore, eight digits.
  if (name.size() != 11 || name[2] != '_') return std::nullopt;
  absl::StatusOr<v1::WindowSize> size = ParseWindowSizeName(name.substr(0, 2));
  if (!size.ok()) return std::nullopt;
  const absl::string_view digits = name.substr(3);
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  // Fields by hand: absl::ParseTime's %Y would swallow all eight digits.
  int year = 0, month = 0, mday = 0;
  if (!absl::SimpleAtoi(digits.substr(0, 4), &year) ||
      !absl::SimpleAtoi(digits.substr(4, 2), &month) ||
      !absl::SimpleAtoi(digits.substr(6, 2), &mday)) {
    return std::nullopt;
  }
  const absl::CivilDay civil(year, month, mday);
  // CivilDay normalizes impossible dates (20260230 -> March 2nd): only names we would write count.
  if (civil.year() != year || civil.month() != month || civil.day() != mday) return std::nullopt;
  const absl::Time day = absl::FromCivil(civil, absl::UTCTimeZone());
  return DayPartition{*size, day};
}

PartitionPlan PlanPartitions(const RetentionPolicy& policy, absl::Time now,
                             const std::vector<DayPartition>& existing) {
  const std::set<DayPartition> have(existing.begin(), existing.end());
  PartitionPlan plan;
  for (v1::WindowSize size : kSizes) {
    const absl::Duration keep = RetentionOf(policy, size);
    const absl::Time retained_from = RetainedFrom(policy, size, now);
    for (absl::Time day = DayStart(now - std::min(policy.create_behind, keep));
         day <= DayStart(now + policy.create_ahead); day += kDay) {
      if (have.count({size, day}) == 0) plan.create.push_back({size, day});
    }
    // Every row of a day before retained_from is older than now - keep (retention.h).
    for (const DayPartition& p : have) {
      if (p.size == size && p.day < retained_from) plan.drop.push_back(p);
    }
    (size == v1::WINDOW_SIZE_1M ? plan.purge_1m_before : plan.purge_5m_before) = retained_from;
  }
  std::sort(plan.create.begin(), plan.create.end());
  std::sort(plan.drop.begin(), plan.drop.end());
  return plan;
}

}  // namespace streammetrics::aggregation
