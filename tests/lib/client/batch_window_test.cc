// BatchWindow: sealing by size and age, write order, every ack status, stream loss, and an
// exhaustive check of every ack order and outcome mix against a simple model.
#include "lib/client/batch_window.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace streammetrics::client {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);
constexpr absl::Duration kDelay = absl::Milliseconds(50);

v1::MetricEvent Event(int i) {
  v1::MetricEvent e;
  e.set_event_id(absl::StrCat("ev-", i));
  e.set_value(i);
  return e;
}

BatchWindow Window(size_t max_events, uint64_t first_sequence = 7) {
  return BatchWindow(BatchWindowOptions{"client-a", first_sequence, max_events, kDelay});
}

v1::BatchAck Ack(uint64_t sequence, v1::AckStatus status, uint32_t accepted = 0,
                 uint32_t rejected = 0) {
  v1::BatchAck a;
  a.set_sequence(sequence);
  a.set_status(status);
  a.set_events_accepted(accepted);
  a.set_events_rejected(rejected);
  return a;
}

// Writes every queued batch at `now`, returning their sequences in write order.
std::vector<uint64_t> WriteAll(BatchWindow& w, absl::Time now = kT0) {
  std::vector<uint64_t> written;
  while (auto b = w.NextToWrite()) {
    written.push_back(b->sequence());
    w.MarkWritten(b->sequence(), now);
    w.OnWriteCompleted(b->sequence());
  }
  return written;
}

TEST(BatchWindowTest, SealsWhenTheBatchIsFull) {
  BatchWindow w = Window(3);
  EXPECT_EQ(w.last_sealed_sequence(), 6u);
  for (int i = 0; i < 7; ++i) w.Add(Event(i), kT0);
  EXPECT_EQ(w.counters().batches_sealed, 2u);
  EXPECT_EQ(w.last_sealed_sequence(), 8u);
  EXPECT_EQ(w.buffered_events(), 7u);
  EXPECT_EQ(w.unacked_batches(), 2u);
  auto first = w.NextToWrite();
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->sequence(), 7u);
  EXPECT_EQ(first->client_id(), "client-a");
  ASSERT_EQ(first->events_size(), 3);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(first->events(i).event_id(), absl::StrCat("ev-", i));
  EXPECT_EQ(WriteAll(w), (std::vector<uint64_t>{7, 8}));
  // The seventh event waits in the open batch.
  EXPECT_EQ(w.NextToWrite(), nullptr);
  EXPECT_EQ(w.OpenBatchDueAt(), kT0 + kDelay);
}

TEST(BatchWindowTest, SealsAPartialBatchExactlyMaxDelayAfterItsFirstEvent) {
  BatchWindow w = Window(100);
  EXPECT_EQ(w.OpenBatchDueAt(), absl::InfiniteFuture());
  EXPECT_FALSE(w.SealIfDue(kT0));  // nothing open
  w.Add(Event(0), kT0);
  w.Add(Event(1), kT0 + absl::Milliseconds(40));  // a later event does not extend the deadline
  EXPECT_EQ(w.OpenBatchDueAt(), kT0 + kDelay);
  EXPECT_FALSE(w.SealIfDue(kT0 + kDelay - absl::Nanoseconds(1)));
  EXPECT_EQ(w.NextToWrite(), nullptr);
  EXPECT_TRUE(w.SealIfDue(kT0 + kDelay));
  ASSERT_NE(w.NextToWrite(), nullptr);
  EXPECT_EQ(w.NextToWrite()->events_size(), 2);
  EXPECT_EQ(w.OpenBatchDueAt(), absl::InfiniteFuture());
  // The next batch's clock starts at its own first event.
  w.Add(Event(2), kT0 + absl::Seconds(1));
  EXPECT_EQ(w.OpenBatchDueAt(), kT0 + absl::Seconds(1) + kDelay);
}

TEST(BatchWindowTest, ZeroDelaySealsOnTheNextCheck) {
  BatchWindow w(BatchWindowOptions{"c", 1, 100, absl::ZeroDuration()});
  w.Add(Event(0), kT0);
  EXPECT_TRUE(w.SealIfDue(kT0));
}

TEST(BatchWindowTest, SealOpenTakesASequenceOnlyWhenABatchIsOpen) {
  BatchWindow w = Window(100);
  w.SealOpen();
  EXPECT_EQ(w.counters().batches_sealed, 0u);
  EXPECT_EQ(w.last_sealed_sequence(), 6u);
  EXPECT_TRUE(w.DoneThrough(w.last_sealed_sequence()));
  w.Add(Event(0), kT0);
  w.SealOpen();
  EXPECT_EQ(w.last_sealed_sequence(), 7u);
  EXPECT_FALSE(w.DoneThrough(7));
}

TEST(BatchWindowTest, DurableAckRetiresTheBatchAndCountsItsEvents) {
  BatchWindow w = Window(2);
  for (int i = 0; i < 4; ++i) w.Add(Event(i), kT0);
  WriteAll(w, kT0 + absl::Seconds(3));
  AckOutcome o = w.OnAck(Ack(8, v1::ACK_STATUS_DURABLE, 1, 1));  // out of order
  EXPECT_EQ(o.kind, AckOutcome::Kind::kDurable);
  EXPECT_EQ(o.events, 2u);
  EXPECT_EQ(o.first_written, kT0 + absl::Seconds(3));
  EXPECT_EQ(w.buffered_events(), 2u);
  EXPECT_EQ(w.counters().batches_durable, 1u);
  EXPECT_EQ(w.counters().events_accepted, 1u);
  EXPECT_EQ(w.counters().events_rejected, 1u);
  EXPECT_FALSE(w.DoneThrough(8)) << "batch 7 is still unacked";
  EXPECT_TRUE(w.DoneThrough(6));
  EXPECT_EQ(w.OnAck(Ack(7, v1::ACK_STATUS_DURABLE, 2)).kind, AckOutcome::Kind::kDurable);
  EXPECT_TRUE(w.DoneThrough(8));
  EXPECT_EQ(w.buffered_events(), 0u);
  EXPECT_EQ(w.unacked_batches(), 0u);
}

TEST(BatchWindowTest, RejectedAckRetiresTheBatchWithoutCountingItDurable) {
  BatchWindow w = Window(3);
  for (int i = 0; i < 3; ++i) w.Add(Event(i), kT0);
  WriteAll(w);
  AckOutcome o = w.OnAck(Ack(7, v1::ACK_STATUS_REJECTED));
  EXPECT_EQ(o.kind, AckOutcome::Kind::kRejected);
  EXPECT_EQ(w.counters().batches_rejected, 1u);
  EXPECT_EQ(w.counters().events_in_rejected_batches, 3u);
  EXPECT_EQ(w.counters().events_accepted + w.counters().events_rejected, 0u);
  EXPECT_EQ(w.buffered_events(), 0u);
  EXPECT_EQ(w.NextToWrite(), nullptr) << "a rejected batch is never resent";
}

TEST(BatchWindowTest, FailedAckQueuesTheSameBatchAgain) {
  BatchWindow w = Window(2);
  for (int i = 0; i < 5; ++i) w.Add(Event(i), kT0);
  w.SealOpen();  // batch 9
  auto original = w.NextToWrite();
  EXPECT_FALSE(w.MarkWritten(7, kT0));
  w.OnWriteCompleted(7);
  w.MarkWritten(8, kT0);
  AckOutcome o = w.OnAck(Ack(7, v1::ACK_STATUS_FAILED));
  EXPECT_EQ(o.kind, AckOutcome::Kind::kResend);
  EXPECT_EQ(w.counters().batches_failed, 1u);
  EXPECT_EQ(w.buffered_events(), 5u);
  auto again = w.NextToWrite();
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again.get(), original.get()) << "same sequence, same events, same order";
  EXPECT_TRUE(w.MarkWritten(7, kT0 + absl::Seconds(1)));
  EXPECT_EQ(w.counters().batches_resent, 0u) << "counted once the write completes";
  w.OnWriteCompleted(7);
  EXPECT_EQ(w.counters().batches_resent, 1u);
  ASSERT_TRUE(w.Find(7).has_value());
  EXPECT_EQ(w.Find(7)->first_written, kT0) << "latency is measured from the first write";
  EXPECT_EQ(w.Find(7)->batch.get(), original.get());
  ASSERT_TRUE(w.Find(9).has_value());
  EXPECT_EQ(w.Find(9)->first_written, absl::InfiniteFuture()) << "sealed, never written";
  o = w.OnAck(Ack(7, v1::ACK_STATUS_DURABLE, 2));
  EXPECT_EQ(o.first_written, kT0);
  EXPECT_FALSE(w.Find(7).has_value());
  EXPECT_EQ(w.buffered_events(), 3u);
}

// gRPC may deliver a batch's ack before it reports the batch's write done: the resend must
// still be counted, and counted once.
TEST(BatchWindowTest, AResendIsCountedOnceWhicheverOfAckAndWriteDoneComesFirst) {
  for (bool ack_first : {true, false}) {
    SCOPED_TRACE(ack_first ? "ack first" : "write done first");
    BatchWindow w = Window(2);
    for (int i = 0; i < 2; ++i) w.Add(Event(i), kT0);  // batch 7
    EXPECT_FALSE(w.MarkWritten(7, kT0));
    // The FAILED ack overtakes the first write's completion.
    EXPECT_EQ(w.OnAck(Ack(7, v1::ACK_STATUS_FAILED)).kind, AckOutcome::Kind::kResend);
    w.OnWriteCompleted(7);
    EXPECT_TRUE(w.MarkWritten(7, kT0)) << "the server answered the first write";
    EXPECT_EQ(w.counters().batches_resent, 0u);
    if (ack_first) {
      EXPECT_EQ(w.OnAck(Ack(7, v1::ACK_STATUS_DURABLE, 2)).kind, AckOutcome::Kind::kDurable);
      EXPECT_EQ(w.counters().batches_resent, 1u);
      w.OnWriteCompleted(7);  // the batch is gone: nothing more to count
    } else {
      w.OnWriteCompleted(7);
      EXPECT_EQ(w.counters().batches_resent, 1u);
      EXPECT_EQ(w.OnAck(Ack(7, v1::ACK_STATUS_DURABLE, 2)).kind, AckOutcome::Kind::kDurable);
    }
    EXPECT_EQ(w.counters().batches_resent, 1u);
  }
}

TEST(BatchWindowTest, IgnoresAcksForNothingItWaitsOn) {
  BatchWindow w = Window(2);
  for (int i = 0; i < 4; ++i) w.Add(Event(i), kT0);
  w.MarkWritten(7, kT0);
  EXPECT_EQ(w.OnAck(Ack(99, v1::ACK_STATUS_DURABLE)).kind, AckOutcome::Kind::kIgnored);
  EXPECT_EQ(w.OnAck(Ack(7, v1::ACK_STATUS_UNSPECIFIED)).kind, AckOutcome::Kind::kIgnored);
  // Batch 8 was never written: a FAILED ack for it cannot be ours.
  EXPECT_EQ(w.OnAck(Ack(8, v1::ACK_STATUS_FAILED)).kind, AckOutcome::Kind::kIgnored);
  EXPECT_EQ(w.OnAck(Ack(7, v1::ACK_STATUS_DURABLE)).kind, AckOutcome::Kind::kDurable);
  EXPECT_EQ(w.OnAck(Ack(7, v1::ACK_STATUS_DURABLE)).kind, AckOutcome::Kind::kIgnored);
  EXPECT_EQ(w.counters().unexpected_acks, 4u);
  EXPECT_EQ(w.counters().batches_durable, 1u);
  EXPECT_EQ(w.buffered_events(), 2u);
  w.MarkWritten(42, kT0);  // not queued: no-op
  EXPECT_EQ(w.written_batches(), 0u);
}

TEST(BatchWindowTest, APermanentFailureGivesTheBatchUpAtOnce) {
  BatchWindow w = Window(2);
  for (int i = 0; i < 4; ++i) w.Add(Event(i), kT0);  // batches 7 and 8
  WriteAll(w);
  v1::BatchAck failed = Ack(7, v1::ACK_STATUS_FAILED);
  failed.set_permanent(true);
  EXPECT_EQ(w.OnAck(failed).kind, AckOutcome::Kind::kAbandoned);
  EXPECT_EQ(w.NextToWrite(), nullptr) << "not resent";
  EXPECT_TRUE(w.DoneThrough(7));
  EXPECT_EQ(w.buffered_events(), 2u);
  EXPECT_EQ(w.counters().batches_abandoned, 1u);
  EXPECT_EQ(w.counters().events_in_abandoned_batches, 2u);
  EXPECT_EQ(w.counters().batches_failed, 1u);
}

TEST(BatchWindowTest, ABatchIsGivenUpAtItsMaxFailedAcks) {
  BatchWindowOptions options{"client-a", 7, 1, kDelay};
  options.max_failed_acks = 3;
  BatchWindow w(options);
  w.Add(Event(0), kT0);
  for (int attempt = 1; attempt <= 3; ++attempt) {
    EXPECT_EQ(WriteAll(w), std::vector<uint64_t>{7}) << "attempt " << attempt;
    const AckOutcome o = w.OnAck(Ack(7, v1::ACK_STATUS_FAILED));
    EXPECT_EQ(o.kind, attempt < 3 ? AckOutcome::Kind::kResend : AckOutcome::Kind::kAbandoned);
  }
  EXPECT_EQ(w.NextToWrite(), nullptr);
  EXPECT_EQ(w.unacked_batches(), 0u);
  EXPECT_EQ(w.counters().events_in_abandoned_batches, 1u);
}

TEST(BatchWindowTest, StreamLossQueuesEveryWrittenUnackedBatchInSequenceOrder) {
  BatchWindow w = Window(1);
  for (int i = 0; i < 5; ++i) w.Add(Event(i), kT0);  // batches 7..11
  for (uint64_t s = 7; s <= 9; ++s) {
    w.MarkWritten(s, kT0);
    w.OnWriteCompleted(s);
  }
  w.OnAck(Ack(8, v1::ACK_STATUS_DURABLE, 1));
  EXPECT_EQ(w.written_batches(), 2u);
  EXPECT_EQ(w.OnStreamLost(), 2u);
  EXPECT_EQ(w.written_batches(), 0u);
  // Unacked 7 and 9 go out again, before the never-written 10 and 11, in sequence order.
  EXPECT_EQ(WriteAll(w), (std::vector<uint64_t>{7, 9, 10, 11}));
  EXPECT_EQ(w.counters().batches_resent, 2u);
  // A stream that breaks before a write completes: the attempt is not a resend.
  EXPECT_EQ(w.OnStreamLost(), 4u);
  EXPECT_TRUE(w.MarkWritten(7, kT0));
  EXPECT_EQ(w.OnStreamLost(), 1u);
  EXPECT_EQ(w.counters().batches_resent, 2u);
  EXPECT_EQ(w.OnStreamLost(), 0u);
  // A durable ack for a queued batch is still final.
  EXPECT_EQ(w.OnAck(Ack(9, v1::ACK_STATUS_DURABLE, 1)).kind, AckOutcome::Kind::kDurable);
  EXPECT_EQ(WriteAll(w), (std::vector<uint64_t>{7, 10, 11}));
}

// Every order of acks for four batches, each batch ending DURABLE, REJECTED, or FAILED first and
// DURABLE on its resend, with a stream loss in the middle: the window must agree with a model on
// buffered events, DoneThrough, what is resent, and the counters.
TEST(BatchWindowTest, EveryAckOrderAndOutcomeMatchesTheModel) {
  constexpr int kBatches = 4;
  const int sizes[kBatches] = {1, 2, 3, 4};
  enum Fate { kDurable, kRejected, kFailedThenDurable };
  int cases = 0;
  for (int fates = 0; fates < 81; ++fates) {
    Fate fate[kBatches];
    for (int b = 0, f = fates; b < kBatches; ++b, f /= 3) fate[b] = static_cast<Fate>(f % 3);
    std::vector<int> order(kBatches);
    std::iota(order.begin(), order.end(), 0);
    do {
      for (int lose_after = 0; lose_after <= kBatches; ++lose_after) {
        SCOPED_TRACE(absl::StrCat("fates ", fates, " lose_after ", lose_after, " order ", order[0],
                                  order[1], order[2], order[3]));
        BatchWindow w(BatchWindowOptions{"c", 1, 100, kDelay});
        for (int b = 0; b < kBatches; ++b) {
          for (int e = 0; e < sizes[b]; ++e) w.Add(Event(e), kT0);
          w.SealOpen();
        }
        WriteAll(w);
        size_t buffered = 10;
        std::map<uint64_t, bool> done;
        uint64_t accepted = 0, in_rejected = 0, resent = 0;
        for (int k = 0; k < kBatches; ++k) {
          if (k == lose_after) {
            // Everything unacked is written again, lowest sequence first.
            std::vector<uint64_t> expect;
            for (uint64_t s = 1; s <= kBatches; ++s) {
              if (!done[s]) expect.push_back(s);
            }
            w.OnStreamLost();
            ASSERT_EQ(WriteAll(w), expect);
            resent += expect.size();
          }
          const int b = order[k];
          const uint64_t seq = static_cast<uint64_t>(b) + 1;
          const auto n = static_cast<uint32_t>(sizes[b]);
          if (fate[b] == kRejected) {
            ASSERT_EQ(w.OnAck(Ack(seq, v1::ACK_STATUS_REJECTED)).kind, AckOutcome::Kind::kRejected);
            in_rejected += n;
          } else {
            if (fate[b] == kFailedThenDurable) {
              ASSERT_EQ(w.OnAck(Ack(seq, v1::ACK_STATUS_FAILED)).kind, AckOutcome::Kind::kResend);
              ASSERT_EQ(WriteAll(w), std::vector<uint64_t>{seq});
              ++resent;
            }
            ASSERT_EQ(w.OnAck(Ack(seq, v1::ACK_STATUS_DURABLE, n)).kind,
                      AckOutcome::Kind::kDurable);
            accepted += n;
          }
          done[seq] = true;
          buffered -= n;
          ASSERT_EQ(w.buffered_events(), buffered);
          for (uint64_t s = 1; s <= kBatches; ++s) {
            bool all = true;
            for (uint64_t t = 1; t <= s; ++t) all = all && done[t];
            ASSERT_EQ(w.DoneThrough(s), all) << "sequence " << s;
          }
        }
        ASSERT_EQ(w.NextToWrite(), nullptr);
        ASSERT_EQ(w.unacked_batches(), 0u);
        ASSERT_EQ(w.counters().events_accepted, accepted);
        ASSERT_EQ(w.counters().events_in_rejected_batches, in_rejected);
        ASSERT_EQ(w.counters().batches_resent, resent);
        ASSERT_EQ(w.counters().unexpected_acks, 0u);
        ++cases;
      }
    } while (std::next_permutation(order.begin(), order.end()));
  }
  EXPECT_EQ(cases, 81 * 24 * 5);
}

}  // namespace
}  // namespace streammetrics::client
