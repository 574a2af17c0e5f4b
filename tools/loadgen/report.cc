// Report: formatting of the progress line, the tables and the JSON (see the header).
#include "tools/loadgen/report.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace streammetrics::loadgen {
namespace {

std::string Table(const std::vector<std::pair<std::string, std::string>>& rows) {
  size_t left = 0, right = 0;
  for (const auto& [k, v] : rows) {
    left = std::max(left, k.size());
    right = std::max(right, v.size());
  }
  std::string out = absl::StrFormat("| %-*s | %*s |\n|%s|%s|\n", left, "", right, "",
                                    std::string(left + 2, '-'), std::string(right + 2, '-'));
  for (const auto& [k, v] : rows)
    absl::StrAppendFormat(&out, "| %-*s | %*s |\n", left, k, right, v);
  return out;
}

std::string Ms(double ms) { return absl::StrFormat("%.1f", ms); }

const char* SizeName(v1::WindowSize size) { return size == v1::WINDOW_SIZE_5M ? "5m" : "1m"; }

const char* KindName(WindowDifference::Kind kind) {
  switch (kind) {
    case WindowDifference::Kind::kMissing:
      return "missing";
    case WindowDifference::Kind::kExtra:
      return "extra";
    case WindowDifference::Kind::kCountOrSum:
      return "different";
    case WindowDifference::Kind::kNotFinal:
      return "not final";
  }
  return "?";
}

// JSON string escaping for the few strings we emit (run ids and sentences).
std::string Quoted(absl::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      absl::StrAppendFormat(&out, "\\u%04x", c);
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace

std::string Thousands(uint64_t n) {
  std::string digits = absl::StrCat(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string ProgressLine(const Progress& p) {
  const uint64_t in_flight = p.sent > p.acked ? p.sent - p.acked : 0;
  return absl::StrFormat(
      "t=%4.0fs  sent %s (%s/s)  acked %s (%s/s)  in flight %s  p99 ack %s ms  rejected %s",
      absl::ToDoubleSeconds(p.elapsed), Thousands(p.sent),
      Thousands(static_cast<uint64_t>(p.sent_per_s)), Thousands(p.acked),
      Thousands(static_cast<uint64_t>(p.acked_per_s)), Thousands(in_flight), Ms(p.p99_ms),
      Thousands(p.rejected));
}

std::string RunTable(const RunSummary& s) {
  const double secs = absl::ToDoubleSeconds(s.totals.elapsed);
  const uint64_t acked = s.counts.events_accepted + s.counts.events_rejected_as_expected +
                         s.counts.events_rejected_unexpectedly;
  std::vector<std::pair<std::string, std::string>> rows = {
      {"run id", s.run_id},
      {"target rate (events/s)",
       s.target_rate > 0 ? Thousands(static_cast<uint64_t>(s.target_rate)) : "unpaced"},
      {"streams x batch size", absl::StrCat(s.streams, " x ", s.batch_size)},
      {"series", Thousands(s.series)},
      {"values", s.values},
      {"sending time (s)", absl::StrFormat("%.1f", secs)},
      {"events sent", Thousands(s.totals.events_sent)},
      {"sent rate (events/s)",
       Thousands(static_cast<uint64_t>(secs > 0 ? s.totals.events_sent / secs : 0))},
      {"events acked durable", Thousands(acked)},
      {"  accepted", Thousands(s.counts.events_accepted)},
      {"  rejected as intended", Thousands(s.counts.events_rejected_as_expected)},
      {"  rejected unexpectedly", Thousands(s.counts.events_rejected_unexpectedly)},
      {"  broken yet accepted", Thousands(s.counts.events_accepted_unexpectedly)},
      {"events unacked at the end", Thousands(s.totals.events_unacked)},
      {"sends given up (backpressure)", Thousands(s.totals.send_timeouts)},
      {"batches durable / failed / rejected",
       absl::StrCat(Thousands(s.counts.batches_durable), " / ", Thousands(s.counts.batches_failed),
                    " / ", Thousands(s.counts.batches_rejected))},
      {"batches resent / reconnects",
       absl::StrCat(Thousands(s.totals.batches_resent), " / ", Thousands(s.totals.reconnects))},
      {"final flush (s)", absl::StrFormat("%.2f", absl::ToDoubleSeconds(s.totals.flush_time))},
      {"loadgen CPU (s, µs per event)",
       absl::StrFormat("%.2f, %.2f", absl::ToDoubleSeconds(s.totals.cpu_time),
                       s.totals.events_sent == 0 ? 0.0
                                                 : absl::ToDoubleMicroseconds(s.totals.cpu_time) /
                                                       static_cast<double>(s.totals.events_sent))},
      {"ack latency p50 / p90 (ms)", absl::StrCat(Ms(s.p50_ms), " / ", Ms(s.p90_ms))},
      {"ack latency p99 / p99.9 / max (ms)",
       absl::StrCat(Ms(s.p99_ms), " / ", Ms(s.p999_ms), " / ", Ms(s.max_ms))},
  };
  return Table(rows);
}

std::string VerifyTable(const VerifyReport& r) {
  std::string out = Table({
      {"windows expected (1m + 5m)", Thousands(r.windows_expected)},
      {"final and equal", Thousands(r.windows_equal)},
      {"missing", Thousands(r.windows_missing)},
      {"different count or sum", Thousands(r.windows_different)},
      {"equal, not final yet", Thousands(r.windows_not_final)},
      {"extra (not acked)", Thousands(r.windows_extra)},
      {"events acked / counted (1m)",
       absl::StrCat(Thousands(r.events_expected), " / ", Thousands(r.events_observed))},
      {"result", r.passed() ? "PASS" : "FAIL"},
  });
  for (const WindowDifference& d : r.differences) {
    absl::StrAppendFormat(
        &out, "  %-9s %s %s %s  acked count %d sum %.17g, pipeline count %d sum %.17g\n",
        KindName(d.kind), SizeName(d.size),
        absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", d.start, absl::UTCTimeZone()), d.series_key,
        d.expected.count, d.expected.sum, d.observed.count, d.observed.sum);
  }
  return out;
}

std::string ReportJson(const RunSummary& s) {
  std::vector<std::string> fields = {
      absl::StrCat("\"run_id\":", Quoted(s.run_id)),
      absl::StrCat("\"target_rate\":", s.target_rate),
      absl::StrCat("\"streams\":", s.streams),
      absl::StrCat("\"batch_size\":", s.batch_size),
      absl::StrCat("\"series\":", s.series),
      absl::StrCat("\"seconds\":", absl::ToDoubleSeconds(s.totals.elapsed)),
      absl::StrCat("\"events_sent\":", s.totals.events_sent),
      absl::StrCat("\"events_accepted\":", s.counts.events_accepted),
      absl::StrCat("\"events_rejected_as_expected\":", s.counts.events_rejected_as_expected),
      absl::StrCat("\"events_rejected_unexpectedly\":", s.counts.events_rejected_unexpectedly),
      absl::StrCat("\"events_accepted_unexpectedly\":", s.counts.events_accepted_unexpectedly),
      absl::StrCat("\"events_unacked\":", s.totals.events_unacked),
      absl::StrCat("\"send_timeouts\":", s.totals.send_timeouts),
      absl::StrCat("\"batches_durable\":", s.counts.batches_durable),
      absl::StrCat("\"batches_failed\":", s.counts.batches_failed),
      absl::StrCat("\"batches_rejected\":", s.counts.batches_rejected),
      absl::StrCat("\"batches_resent\":", s.totals.batches_resent),
      absl::StrCat("\"reconnects\":", s.totals.reconnects),
      absl::StrCat("\"flush_seconds\":", absl::ToDoubleSeconds(s.totals.flush_time)),
      absl::StrCat("\"cpu_seconds\":", absl::ToDoubleSeconds(s.totals.cpu_time)),
      absl::StrCat("\"ack_ms\":{\"p50\":", s.p50_ms, ",\"p90\":", s.p90_ms, ",\"p99\":", s.p99_ms,
                   ",\"p999\":", s.p999_ms, ",\"max\":", s.max_ms, "}"),
  };
  std::vector<std::string> cdf;
  for (const auto& [q, ms] : s.latency_cdf) cdf.push_back(absl::StrCat("[", q, ",", ms, "]"));
  fields.push_back(absl::StrCat("\"ack_ms_cdf\":[", absl::StrJoin(cdf, ","), "]"));
  if (s.verify.has_value()) {
    const VerifyReport& r = *s.verify;
    fields.push_back(absl::StrCat(
        "\"verify\":{\"passed\":", r.passed() ? "true" : "false",
        ",\"windows_expected\":", r.windows_expected, ",\"windows_equal\":", r.windows_equal,
        ",\"windows_missing\":", r.windows_missing, ",\"windows_different\":", r.windows_different,
        ",\"windows_not_final\":", r.windows_not_final, ",\"windows_extra\":", r.windows_extra,
        ",\"events_expected\":", r.events_expected, ",\"events_observed\":", r.events_observed,
        "}"));
  }
  return absl::StrCat("{", absl::StrJoin(fields, ","), "}\n");
}

}  // namespace streammetrics::loadgen
