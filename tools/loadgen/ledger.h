// Ledger: what the ingest service acknowledged during a load generator run, per series and
// window, and how long the acks took. Fed by MetricsClient's ack callback (any thread); read by
// the progress line, the final table and the verification.
//
// Only DURABLE acks enter it: an event counts when its batch is durable and the ack does not list
// it as rejected. A deliberately invalid event (EventMaker) is expected among the rejections; a
// valid event rejected, or an invalid one accepted, is counted as unexpected and its reason kept.
// Ack latency is measured per valid event from its timestamp, which in an open-loop run is the
// time it was meant to be sent, so time spent blocked behind backpressure is counted, not hidden.
#ifndef STREAMMETRICS_TOOLS_LOADGEN_LEDGER_H_
#define STREAMMETRICS_TOOLS_LOADGEN_LEDGER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "lib/sketch/ddsketch.h"
#include "streammetrics/v1/aggregate.pb.h"
#include "streammetrics/v1/ingest.pb.h"
#include "tools/loadgen/series_catalog.h"

namespace streammetrics::loadgen {

// The expected (or observed) totals of one window of one series.
struct WindowTotals {
  uint64_t count = 0;
  double sum = 0;
};

struct LedgerWindow {
  std::string series_key;
  v1::WindowSize size = v1::WINDOW_SIZE_UNSPECIFIED;
  absl::Time start;
  WindowTotals totals;
};

struct LedgerCounts {
  uint64_t batches_durable = 0;
  uint64_t batches_failed = 0;    // FAILED acks (the client resends those batches)
  uint64_t batches_rejected = 0;  // refused whole
  uint64_t events_accepted = 0;   // valid and accepted: what the windows must add up to
  uint64_t events_rejected_as_expected = 0;
  uint64_t events_rejected_unexpectedly = 0;  // valid, yet rejected
  uint64_t events_accepted_unexpectedly = 0;  // deliberately invalid, yet accepted
};

class Ledger {
 public:
  // `time_offset`: how long before their intended send time events are stamped
  // (RunOptions::time_offset), added back when measuring latency. `catalog` (optional, must
  // outlive the ledger): the catalog EventMaker drew the events from. The series key of an event
  // it made and did not break is then looked up by the index in its event id instead of being
  // computed again for every acked event.
  explicit Ledger(absl::Duration time_offset = absl::ZeroDuration(),
                  const SeriesCatalog* catalog = nullptr)
      : time_offset_(time_offset), catalog_(catalog) {}

  // At most this many unexpected outcomes are kept as sentences (all are counted).
  static constexpr size_t kMaxSamples = 10;

  // Records one ack of `batch`; `now` is when it arrived.
  void OnAck(const v1::BatchAck& ack, const v1::MetricBatch& batch, absl::Time now);

  LedgerCounts counts() const;

  // Every window with at least one accepted event: 1-minute windows as counted, 5-minute ones as
  // their merge. Ordered by series key, then start.
  std::vector<LedgerWindow> Windows(v1::WindowSize size) const;

  // Ack latency in milliseconds over the whole run at quantile q (0 when nothing was acked).
  double LatencyMs(double q) const;
  // The same over the acks since the previous call, and resets that interval (progress line).
  double TakeIntervalLatencyMs(double q);

  // Sentences about unexpected rejections and acceptances, at most kMaxSamples.
  std::vector<std::string> samples() const;

  // Writes the 1-minute windows as CSV (series_key,window_start,count,sum), sums with every
  // digit. Fails with the file's error.
  absl::Status WriteCsv(const std::string& path) const;

 private:
  const absl::Duration time_offset_;
  const SeriesCatalog* const catalog_;
  mutable absl::Mutex mu_;
  LedgerCounts counts_ ABSL_GUARDED_BY(mu_);
  // series key -> 1-minute window start (unix seconds) -> totals.
  absl::flat_hash_map<std::string, absl::flat_hash_map<int64_t, WindowTotals>> windows_
      ABSL_GUARDED_BY(mu_);
  sketch::DDSketch latency_ ABSL_GUARDED_BY(mu_);
  sketch::DDSketch interval_latency_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> samples_ ABSL_GUARDED_BY(mu_);
};

}  // namespace streammetrics::loadgen

#endif  // STREAMMETRICS_TOOLS_LOADGEN_LEDGER_H_
