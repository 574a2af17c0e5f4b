// IngestReactor: what both IngestService RPCs share — reading batches without blocking, validating
// and handing them to the RecordSink, accounting bytes in flight against the stream's and the
// process's budget, and turning delivery results into per-batch outcomes. The two RPCs differ only
// in what they do with outcomes (summary vs. one ack each) and when they may finish.
//
// Each stream belongs to one caller (admitted by the service before the reactor exists): it holds
// one of the caller's stream slots until OnDone, counts its events to the caller, and when the
// caller is over its event rate it waits (a grpc::Alarm) before reading the next batch, so the
// caller is slowed by TCP flow control instead of losing its stream.
//
// Ownership: the reactor owns itself through `self_` (set by Start, dropped in OnDone); delivery
// callbacks hold a shared_ptr, so the reactor outlives every callback of its batches. It calls
// Finish only once no batch is pending, so no callback can arrive after the RPC ended.
// Locking: mu_ guards stream state; it is never held while calling the sink, the budget, or gRPC.
#ifndef STREAMMETRICS_INGEST_SERVICE_INGEST_REACTOR_H_
#define STREAMMETRICS_INGEST_SERVICE_INGEST_REACTOR_H_

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "google/protobuf/arena.h"
#include "grpcpp/alarm.h"
#include "grpcpp/grpcpp.h"
#include "ingest-service/batch_parser.h"
#include "ingest-service/batch_preparer.h"
#include "ingest-service/byte_budget.h"
#include "ingest-service/ingest_metrics.h"
#include "lib/common/clock.h"
#include "lib/common/log.h"
#include "lib/common/log_throttle.h"
#include "lib/events/validation.h"
#include "lib/kafka/record_sink.h"
#include "lib/security/call_guard.h"
#include "lib/security/caller_limits.h"
#include "streammetrics/v1/ingest.pb.h"

namespace streammetrics::ingest {

// What the reactors need from the service; owned by the service, outliving every stream.
struct IngestDeps {
  kafka::RecordSink* sink = nullptr;
  ByteBudget* budget = nullptr;
  const Clock* clock = nullptr;
  IngestMetrics* metrics = nullptr;
  events::ValidationLimits limits;
  IngestTopics topics;
  // Bytes one stream may have in flight before it stops reading.
  size_t stream_bytes_limit = 8 << 20;
  // Bytes of acks one IngestStream may hold unwritten (the client is not reading) before it
  // stops reading.
  size_t stream_unread_ack_bytes_limit = 1 << 20;
  // Rejections listed in an IngestSummary (all are counted).
  size_t summary_rejections = 20;
  // Who may open streams, how many, and at what event rate.
  security::CallGuard* guard = nullptr;
  security::CallerSlots* streams = nullptr;
  security::CallerRateLimiter* rate = nullptr;
};

// A stream the service let in: whose it is, and the caller's stream slot it holds.
struct StreamAdmission {
  std::string caller;
  std::string peer;
  security::CallerSlots::Slot slot;
};

// What became of one batch, once final.
struct BatchOutcome {
  uint64_t sequence = 0;
  uint32_t events = 0;
  std::optional<events::BatchViolation> batch_violation;  // set: refused whole, nothing stored
  BatchResult result;
  std::vector<v1::Rejection> rejections;
  // When the batch was read (deps.clock): its answer's latency is measured from here.
  absl::Time read_at = absl::InfinitePast();
};

// One line a second at most for malformed batches, over all streams: a client can send them at
// will (each is counted in /metrics all the same).
inline LogThrottle& MalformedBatchLog() {
  static LogThrottle* throttle = new LogThrottle();
  return *throttle;
}

template <typename Base>
class IngestReactor : public Base {
 public:
  IngestReactor(const IngestDeps& deps, StreamAdmission admission)
      : deps_(deps),
        admission_(std::move(admission)),
        caller_counters_(deps.metrics->ForCaller(admission_.caller)) {}

  // Takes ownership of itself and starts reading. Call once, right after construction.
  void Start(std::shared_ptr<IngestReactor> self) {
    self_ = std::move(self);
    deps_.metrics->StreamOpened();
    caller_counters_.streams->Increment();
    SM_LOG(Info, "ingest_stream_opened")
        .Kv("caller", admission_.caller)
        .Kv("peer", admission_.peer);
    {
      absl::MutexLock lock(&mu_);
      reading_ = true;
    }
    this->StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the client half-closed, or the stream broke
      std::function<void()> action;
      {
        absl::MutexLock lock(&mu_);
        reading_ = false;
        half_closed_ = true;
        action = NextActionLocked();
      }
      if (action) action();  // may Finish: nothing touches `this` afterwards
      return;
    }
    HandleBatch();
    ContinueReading(/*after_read=*/true);
  }

  void OnCancel() override {
    deps_.metrics->StreamCancelled();
    std::function<void()> action;
    {
      absl::MutexLock lock(&mu_);
      cancelled_ = true;
      action = NextActionLocked();
    }
    if (action) action();
  }

  void OnDone() override {
    deps_.metrics->StreamClosed();
    caller_counters_.streams->Decrement();
    admission_.slot.Release();
    SM_LOG(Info, "ingest_stream_closed")
        .Kv("caller", admission_.caller)
        .Kv("peer", admission_.peer)
        .Kv("batches", batches_read_);
    // Last statement: may destroy `this` when no delivery callback holds it. Moved under mu_:
    // a thread parking the stream copies self_ under mu_.
    std::shared_ptr<IngestReactor> keep;
    absl::MutexLock lock(&mu_);
    keep = std::move(self_);
  }

 protected:
  // Called when validation refused events of a batch, before the batch is sent (so in the order
  // rejections are found). Called with mu_ held.
  virtual void RecordRejectionsLocked(const std::vector<v1::Rejection>& rejections) = 0;
  // Records the outcome of one batch. Called with mu_ held.
  virtual void RecordOutcomeLocked(BatchOutcome outcome) = 0;
  // Returns what to do next (StartWrite, Finish), to be run after mu_ is released; nullptr for
  // nothing. Called with mu_ held after every state change. A returned Finish must be the last
  // thing the caller does with `this`.
  virtual std::function<void()> NextActionLocked() = 0;

  // True while the stream must not read because of what it has not written back yet (the
  // client is not reading its answers). Whoever makes it false again calls ResumeReading.
  virtual bool ReadHeldLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return false; }

  // Reads again after ReadHeldLocked turned false. Call without mu_, and not after a Finish.
  void ResumeReading() {
    {
      absl::MutexLock lock(&mu_);
      read_held_ = false;
    }
    ContinueReading(/*after_read=*/false);
  }

  // True when the stream has nothing more to read or deliver.
  bool DrainedLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return (half_closed_ || cancelled_) && !reading_ && pending_batches_ == 0;
  }

  const IngestDeps& deps_;
  StreamAdmission admission_;
  const IngestMetrics::CallerCounters caller_counters_;
  absl::Mutex mu_;
  bool half_closed_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;

 private:
  struct InFlight {
    uint64_t sequence;
    uint32_t events;
    size_t bytes;
    std::vector<v1::Rejection> rejections;
    absl::Time read_at;  // the batch was read
    absl::Time sent_at;  // its records were handed to the sink
  };

  static google::protobuf::ArenaOptions ArenaOptions() {
    google::protobuf::ArenaOptions o;
    // A batch of 500 typical events takes a few hundred KB: blocks of up to 64 KB keep the
    // number of blocks (each freed by Reset) small.
    o.start_block_size = 4096;
    o.max_block_size = 64 << 10;
    return o;
  }

  void HandleBatch() {
    const absl::Time read_at = deps_.clock->Now();
    v1::MetricBatch& batch = *FreshBatch();
    if (absl::Status parsed = ParseBatch(&request_, &batch); !parsed.ok()) {
      ++batches_read_;
      deps_.metrics->BatchReceived(0);
      deps_.metrics->BatchRejected(v1::BATCH_REJECT_REASON_MALFORMED);
      uint64_t skipped = 0;
      if (MalformedBatchLog().Allow(&skipped)) {
        SM_LOG(Warn, "ingest_batch_malformed")
            .Kv("caller", admission_.caller)
            .Kv("peer", admission_.peer)
            .Kv("sequence", batch.sequence())
            .Kv("reason", parsed.message())
            .Kv("lines_not_logged_since_last_line", skipped);
      }
      Refuse(
          batch.sequence(), 0, read_at,
          events::BatchViolation{v1::BATCH_REJECT_REASON_MALFORMED, std::string(parsed.message())});
      return;
    }
    const auto events = static_cast<uint32_t>(batch.events_size());
    deps_.metrics->BatchReceived(events);
    caller_counters_.events->Increment(events);
    ++batches_read_;
    if (deps_.rate->enabled()) {
      const absl::Duration wait = deps_.rate->Reserve(admission_.caller, events);
      if (wait > absl::ZeroDuration()) {
        absl::MutexLock lock(&mu_);
        read_after_ = deps_.clock->Now() + wait;
      }
    }
    if (std::optional<events::BatchViolation> violation =
            events::ValidateBatch(batch, deps_.limits)) {
      deps_.metrics->BatchRejected(violation->reason);
      Refuse(batch.sequence(), events, read_at, *std::move(violation));
      return;
    }
    PreparedBatch prepared =
        PrepareBatch(batch, deps_.limits, deps_.topics, admission_.caller, deps_.clock->Now());
    for (const v1::Rejection& r : prepared.rejections) deps_.metrics->EventRejected(r.reason());
    auto in_flight = std::make_shared<InFlight>(InFlight{prepared.sequence, events, prepared.bytes,
                                                         std::move(prepared.rejections), read_at,
                                                         deps_.clock->Now()});
    deps_.budget->Acquire(prepared.bytes);
    {
      absl::MutexLock lock(&mu_);
      in_flight_bytes_ += prepared.bytes;
      ++pending_batches_;
      if (!in_flight->rejections.empty()) RecordRejectionsLocked(in_flight->rejections);
    }
    deps_.sink->SendBatch(std::move(prepared.records),
                          [self = self_, in_flight](std::vector<absl::Status> results) {
                            self->OnDelivered(*in_flight, results);
                          });
  }

  // Answers a batch refused whole (malformed, or against the batch rules): nothing is stored.
  void Refuse(uint64_t sequence, uint32_t event_count, absl::Time read_at,
              events::BatchViolation violation) {
    BatchOutcome outcome;
    outcome.sequence = sequence;
    outcome.events = event_count;
    outcome.read_at = read_at;
    outcome.batch_violation = std::move(violation);
    Record(std::move(outcome));
  }

  // Runs on the sink's delivery thread.
  void OnDelivered(InFlight& batch, const std::vector<absl::Status>& results) {
    deps_.metrics->BatchDelivered(deps_.clock->Now() - batch.sent_at);
    BatchOutcome outcome;
    outcome.sequence = batch.sequence;
    outcome.events = batch.events;
    outcome.read_at = batch.read_at;
    outcome.result = Tally(results, batch.rejections);
    outcome.rejections = std::move(batch.rejections);
    deps_.metrics->EventsAccepted(outcome.result.accepted);
    deps_.metrics->EventsFailed(outcome.result.failed, outcome.result.failed_permanently);
    deps_.budget->Release(batch.bytes);
    {
      absl::MutexLock lock(&mu_);
      in_flight_bytes_ -= batch.bytes;
      --pending_batches_;
    }
    Record(std::move(outcome));
    ContinueReading(/*after_read=*/false);  // the caller's shared_ptr keeps `this` alive
  }

  void Record(BatchOutcome outcome) {
    if (outcome.read_at != absl::InfinitePast()) {
      deps_.metrics->BatchAnswered(deps_.clock->Now() - outcome.read_at);
    }
    std::function<void()> action;
    {
      absl::MutexLock lock(&mu_);
      RecordOutcomeLocked(std::move(outcome));
      action = NextActionLocked();
    }
    if (action) action();
  }

  // Issues the next read when the stream and the process have room; otherwise leaves the stream
  // parked, to be resumed by its own deliveries or by the process budget's wake-up.
  void ContinueReading(bool after_read) {
    std::function<void()> action;
    bool claimed = false;
    {
      absl::MutexLock lock(&mu_);
      if (after_read) reading_ = false;  // request_ and the arena are free again
      if (reading_ || half_closed_ || cancelled_ || finished_) {
        // A cancel can arrive while this thread hands the batch to the sink, and the batch's
        // delivery can complete before this line: then clearing reading_ is the last state
        // change the stream waited for, and nobody else will look at it again.
        if (after_read) action = NextActionLocked();
      } else if (pace_armed_) {
        // The pacing alarm resumes the stream.
      } else if (ReadHeldLocked()) {
        // The writes that drain what the client has not read resume the stream.
        if (!read_held_) deps_.metrics->UnreadAckHold();
        read_held_ = true;
      } else if (in_flight_bytes_ < deps_.stream_bytes_limit) {  // else own deliveries wake us
        reading_ = true;  // claim the read so concurrent callers back off
        claimed = true;
      }
    }
    if (!claimed) {
      if (action) action();  // may Finish: nothing touches `this` afterwards
      return;
    }
    if (const absl::Duration wait = PaceWait(); wait > absl::ZeroDuration()) {
      // Woken at least every 250 ms to look again: the wait is on deps_.clock, which a test may
      // move, and a few wake-ups a second cost nothing.
      const absl::Duration nap = std::min(wait, absl::Milliseconds(250));
      bool park;
      {
        absl::MutexLock lock(&mu_);
        reading_ = false;
        action = NextActionLocked();  // as below: a cancel may have left the finish to us
        park = !(half_closed_ || cancelled_ || finished_);
        if (park) {
          // One alarm per stream: while it is armed nobody else claims a read (see above), so
          // the alarm replaced here has fired already. Destroying a pending alarm would cancel
          // it, and a cancelled alarm's callback that resumed the stream would re-arm at once:
          // a busy loop.
          pace_armed_ = true;
          pace_alarm_ = std::make_unique<grpc::Alarm>();
          std::weak_ptr<IngestReactor> weak = self_;
          pace_alarm_->Set(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(nap),
                           [weak, nap](bool expired) {
                             if (!expired) return;  // cancelled: the reactor is going away
                             if (auto self = weak.lock()) self->OnPaceAlarm(nap);
                           });
        }
      }
      if (action) action();  // a Finish only comes with park == false
      if (park) caller_counters_.paced_waits->Increment();
      return;
    }
    if (!deps_.budget->HasRoom()) {
      bool park;
      std::weak_ptr<IngestReactor> weak;
      {
        absl::MutexLock lock(&mu_);
        reading_ = false;
        // As above: a cancel that came while the read was claimed left the finish to this line.
        action = NextActionLocked();
        park = !(half_closed_ || cancelled_ || finished_);
        // Taken under mu_: once reading_ is false a cancel may finish the stream and OnDone
        // drop self_.
        if (park) weak = self_;
      }
      if (action) action();  // a Finish only comes with park == false: `this` is not touched
      if (!park) return;
      const bool parked = deps_.budget->CallWhenRoom([weak] {
        if (auto self = weak.lock()) self->ContinueReading(false);
      });
      if (!parked) ContinueReading(false);  // room appeared in between
      return;
    }
    this->StartRead(&request_);
  }

  // Runs on gRPC's alarm thread once a pacing wait of `nap` has passed.
  void OnPaceAlarm(absl::Duration nap) {
    caller_counters_.paced_seconds->Increment(absl::ToDoubleSeconds(nap));
    {
      absl::MutexLock lock(&mu_);
      pace_armed_ = false;
    }
    ContinueReading(/*after_read=*/false);
  }

  // How long the stream must still wait for its caller's rate limit before reading.
  absl::Duration PaceWait() {
    absl::MutexLock lock(&mu_);
    if (read_after_ == absl::InfinitePast()) return absl::ZeroDuration();
    const absl::Duration wait = read_after_ - deps_.clock->Now();
    if (wait <= absl::ZeroDuration()) read_after_ = absl::InfinitePast();
    return std::max(wait, absl::ZeroDuration());
  }

  // The message the batch just read is parsed into: a new one on the emptied arena. Only called
  // by HandleBatch, once the previous batch is done with (PrepareBatch copies out what the
  // records need).
  v1::MetricBatch* FreshBatch() {
    arena_.Reset();
    return google::protobuf::Arena::CreateMessage<v1::MetricBatch>(&arena_);
  }

  std::shared_ptr<IngestReactor> self_;
  // Each batch is parsed onto arena_, and the arena is reset before the next read: parsing then
  // allocates by bumping a pointer, and dropping a batch frees a few blocks instead of every
  // event's strings and map nodes one by one (which cost about 5 % of the service's CPU).
  google::protobuf::Arena arena_{ArenaOptions()};
  // The bytes of the batch being read: parsed by HandleBatch (ParseBatch), so a message that does
  // not parse is answered instead of ending the stream in silence.
  grpc::ByteBuffer request_;
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
  bool read_held_ ABSL_GUARDED_BY(mu_) = false;  // stopped by ReadHeldLocked, not yet resumed
  size_t in_flight_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  size_t pending_batches_ ABSL_GUARDED_BY(mu_) = 0;
  // Set when the caller went over its rate: no read before then.
  absl::Time read_after_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  uint64_t batches_read_ = 0;  // reads are sequential: only the reading thread touches it
  // The pacing timer, set anew for each wait (grpc::Alarm::Set overwrites the callback, so it is
  // not re-set from inside its own callback; destroying a fired alarm is safe, its state is
  // reference-counted until the callback returns). pace_armed_: set while it is pending.
  std::unique_ptr<grpc::Alarm> pace_alarm_ ABSL_GUARDED_BY(mu_);
  bool pace_armed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace streammetrics::ingest

#endif  // STREAMMETRICS_INGEST_SERVICE_INGEST_REACTOR_H_
