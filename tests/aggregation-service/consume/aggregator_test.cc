// Aggregator: records in, exact windows, dead letters and outbox publications out, with the fake
// source, store and sink.
#include "aggregation-service/consume/aggregator.h"

#include "aggregator_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace streammetrics::aggregation::testing {
namespace {

using ::testing::SizeIs;

class AggregatorTest : public AggregatorFixture {};

std::vector<v1::DeadLetter> DeadLetters(const kafka::FakeRecordSink& sink) {
  std::vector<v1::DeadLetter> out;
  for (const auto& r : sink.Delivered()) {
    if (r.topic != "metrics-dead-letter") continue;
    v1::DeadLetter dl;
    EXPECT_TRUE(dl.ParseFromString(r.value));
    out.push_back(dl);
  }
  return out;
}

TEST_F(AggregatorTest, CountsEventsIntoFinalWindowsAndPublishesThem) {
  StartInstance();
  for (int i = 1; i <= 100; ++i) {
    Append(0, EventRecord(Event(kT0 + absl::Seconds(i % 60), i), 1, i - 1));
  }
  for (int i = 1; i <= 50; ++i) {
    Append(0, EventRecord(Event(kT0 + absl::Minutes(1) + absl::Seconds(i), 1000 + i), 2, i - 1));
  }
  source_->Assign({0});
  Pump();
  FinishWindows();

  const v1::MetricEvent e = Event(kT0, 1);
  auto m0 = Stored(e, v1::WINDOW_SIZE_1M, kT0);
  ASSERT_TRUE(m0.has_value());
  EXPECT_EQ(m0->count(), 100u);
  EXPECT_EQ(m0->sum(), 5050);
  EXPECT_EQ(m0->min(), 1);
  EXPECT_EQ(m0->max(), 100);
  EXPECT_TRUE(m0->is_final());
  auto m1 = Stored(e, v1::WINDOW_SIZE_1M, kT0 + absl::Minutes(1));
  ASSERT_TRUE(m1.has_value());
  EXPECT_EQ(m1->count(), 50u);
  auto m5 = Stored(e, v1::WINDOW_SIZE_5M, kT0);
  ASSERT_TRUE(m5.has_value());
  EXPECT_EQ(m5->count(), 150u);
  EXPECT_EQ(m5->sum(), m0->sum() + m1->sum());
  EXPECT_TRUE(m5->is_final());
  EXPECT_EQ(store_.Offsets(0)->next_offset, 150);

  std::vector<std::string> topics;
  for (const auto& r : sink_.Delivered()) {
    topics.push_back(r.topic);
    ASSERT_THAT(r.headers, SizeIs(1));
    EXPECT_EQ(r.headers[0].first, "content-type");
    EXPECT_EQ(r.key, events::SeriesKey(e));
  }
  EXPECT_THAT(topics,
              ::testing::UnorderedElementsAre("metrics-aggregated-1m", "metrics-aggregated-1m",
                                              "metrics-aggregated-5m"));
  // Their delivery (confirmed by now: the sink was flushed) is recorded by the next checkpoint,
  // which empties the outbox.
  ASSERT_TRUE(aggregator_->CheckpointNow().ok());
  EXPECT_TRUE(store_.Outbox(0).empty());
  EXPECT_EQ(metrics_.events_counted(), 150);
}

TEST_F(AggregatorTest, ResentBatchIsCountedOnce) {
  StartInstance();
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 100; ++i) {
      Append(0, EventRecord(Event(kT0 + absl::Seconds(i % 60), i + 1), 7, i));
    }
  }
  source_->Assign({0});
  Pump();
  FinishWindows();
  auto m0 = Stored(Event(kT0, 1), v1::WINDOW_SIZE_1M, kT0);
  ASSERT_TRUE(m0.has_value());
  EXPECT_EQ(m0->count(), 100u);
  EXPECT_EQ(metrics_.events_duplicate(), 100);
}

TEST_F(AggregatorTest, LateEventIsDeadLetteredAndNotCounted) {
  StartInstance();
  Append(0, EventRecord(Event(kT0 + absl::Seconds(5), 3), 1, 0));
  source_->Assign({0});
  Pump();
  FinishWindows();
  Append(0, EventRecord(Event(kT0 + absl::Seconds(6), 4), 2, 0));
  Pump();
  ASSERT_TRUE(aggregator_->CheckpointNow().ok());
  ASSERT_TRUE(sink_.Flush(absl::Seconds(10)).ok());

  auto m0 = Stored(Event(kT0, 1), v1::WINDOW_SIZE_1M, kT0);
  ASSERT_TRUE(m0.has_value());
  EXPECT_EQ(m0->count(), 1u);
  std::vector<v1::DeadLetter> dead = DeadLetters(sink_);
  ASSERT_THAT(dead, SizeIs(1));
  EXPECT_EQ(dead[0].reason(), v1::DEAD_LETTER_REASON_LATE_EVENT);
  EXPECT_EQ(dead[0].sequence(), 2u);
  EXPECT_EQ(dead[0].source_offset(), 1);
  EXPECT_EQ(dead[0].source_service(), "aggregation-service");
  EXPECT_EQ(metrics_.events_late(), 1);
  EXPECT_EQ(store_.Offsets(0)->next_offset, 2);
}

TEST_F(AggregatorTest, BadRecordsAreDeadLetteredAndDoNotStallThePartition) {
  StartInstance();
  FakeEventSource::Record undecodable{"k", std::string("\xff\xff\xff", 3), {}};
  FakeEventSource::Record no_key = EventRecord(Event(kT0, 1), 1, 0);
  no_key.headers.clear();
  FakeEventSource::Record invalid = EventRecord(Event(kT0, -5), 1, 1);  // negative counter
  FakeEventSource::Record wrong_key = EventRecord(Event(kT0, 2), 1, 2);
  wrong_key.key = "other|key|";
  for (const auto& r : {undecodable, no_key, invalid, wrong_key}) Append(0, r);
  Append(0, EventRecord(Event(kT0 + absl::Seconds(1), 9), 1, 3));
  source_->Assign({0});
  Pump();
  FinishWindows();

  std::vector<v1::DeadLetterReason> reasons;
  for (const auto& dl : DeadLetters(sink_)) reasons.push_back(dl.reason());
  EXPECT_THAT(reasons,
              ::testing::UnorderedElementsAre(v1::DEAD_LETTER_REASON_UNDECODABLE,
                                              v1::DEAD_LETTER_REASON_MISSING_IDEMPOTENCY_KEY,
                                              v1::DEAD_LETTER_REASON_NON_POSITIVE_VALUE,
                                              v1::DEAD_LETTER_REASON_KEY_MISMATCH));
  auto m0 = Stored(Event(kT0, 1), v1::WINDOW_SIZE_1M, kT0);
  ASSERT_TRUE(m0.has_value());
  EXPECT_EQ(m0->count(), 1u);
  EXPECT_EQ(m0->sum(), 9);
  EXPECT_EQ(store_.Offsets(0)->next_offset, 5);
  EXPECT_EQ(metrics_.dead_lettered(v1::DEAD_LETTER_REASON_UNDECODABLE), 1);
}

TEST_F(AggregatorTest, RestartResumesFromTheCheckpointWithoutDoubleCounting) {
  StartInstance();
  for (int i = 0; i < 60; ++i) Append(0, EventRecord(Event(kT0 + absl::Seconds(i), 1), 1, i));
  source_->Assign({0});
  Pump();
  ASSERT_TRUE(aggregator_->CheckpointNow().ok());
  for (int i = 0; i < 40; ++i) Append(0, EventRecord(Event(kT0 + absl::Seconds(i), 1), 2, i));
  Pump(/*max_records=*/10);  // counted, not checkpointed: lost with the crash below

  StartInstance();  // crash and restart: only what was committed survives
  source_->Assign({0});
  Pump();
  EXPECT_EQ(source_->position(0), 100);
  FinishWindows();
  auto m0 = Stored(Event(kT0, 1), v1::WINDOW_SIZE_1M, kT0);
  ASSERT_TRUE(m0.has_value());
  EXPECT_EQ(m0->count(), 100u);
  EXPECT_EQ(Stored(Event(kT0, 1), v1::WINDOW_SIZE_5M, kT0)->count(), 100u);
}

TEST_F(AggregatorTest, ResendAcrossARestartIsStillCountedOnce) {
  StartInstance();
  for (int i = 0; i < 30; ++i) Append(0, EventRecord(Event(kT0 + absl::Seconds(i), 1), 1, i));
  source_->Assign({0});
  Pump();
  ASSERT_TRUE(aggregator_->CheckpointNow().ok());
  StartInstance();
  source_->Assign({0});
  Pump();
  for (int i = 0; i < 30; ++i) Append(0, EventRecord(Event(kT0 + absl::Seconds(i), 1), 1, i));
  Pump();
  FinishWindows();
  EXPECT_EQ(Stored(Event(kT0, 1), v1::WINDOW_SIZE_1M, kT0)->count(), 30u);
}

TEST_F(AggregatorTest, FailedCheckpointIsKeptAndRetried) {
  StartInstance();
  for (int i = 0; i < 10; ++i) Append(0, EventRecord(Event(kT0 + absl::Seconds(i), 1), 1, i));
  source_->Assign({0});
  Pump();
  store_.FailNextCalls(2);
  EXPECT_FALSE(aggregator_->CheckpointNow().ok());
  EXPECT_TRUE(aggregator_->checkpoint_pending());
  EXPECT_FALSE(aggregator_->CheckpointNow().ok());
  EXPECT_EQ(metrics_.checkpoint_failures(), 2);
  ASSERT_TRUE(aggregator_->CheckpointNow().ok());
  EXPECT_FALSE(aggregator_->checkpoint_pending());
  FinishWindows();
  EXPECT_EQ(Stored(Event(kT0, 1), v1::WINDOW_SIZE_1M, kT0)->count(), 10u);
}

TEST_F(AggregatorTest, ASlowCheckpointDelaysTheNextOnlyWhileRecordsWait) {
  options_.checkpoint_interval = absl::Seconds(1);
  options_.max_checkpoint_share = 0.25;
  StartInstance();
  for (int i = 0; i < 40; ++i) Append(0, EventRecord(Event(kT0 + absl::Seconds(i), 1), 1, i));
  source_->Assign({0});
  // Each checkpoint takes 4 s of the clock: at a share of 0.25 the next may start 12 s later.
  store_.OnCheckpoint([this] { clock_.Advance(absl::Seconds(4)); });
  int checkpoints = 0;
  // One second, one record, one tick; returns whether that tick checkpointed.
  auto step = [&](size_t records) {
    clock_.Advance(absl::Seconds(1));
    EXPECT_TRUE(source_
                    ->Poll(absl::ZeroDuration(), records,
                           [&](absl::Span<const SourceRecord> r) { aggregator_->Consume(r); })
                    .ok());
    const int before = store_.calls();
    EXPECT_TRUE(aggregator_->Tick([&](int32_t p) { return source_->HighWatermark(p); }).ok());
    checkpoints += store_.calls() - before;
    return store_.calls() > before;
  };
  step(1);  // the first tick only schedules
  ASSERT_TRUE(step(1)) << "due after one interval";
  EXPECT_EQ(checkpoints, 1);
  // Records wait: 12 s without a checkpoint, then the next one.
  for (int i = 0; i < 11; ++i) EXPECT_FALSE(step(1)) << i;
  EXPECT_TRUE(step(1));
  // Caught up (the rest read at once): nothing is starved, so the next comes one interval after
  // the last ended instead of 12 s.
  EXPECT_TRUE(step(100));
  EXPECT_EQ(checkpoints, 3);
}

TEST_F(AggregatorTest, CommitWhoseOutcomeWasUnknownIsRetriedWithoutDoubleCounting) {
  StartInstance();
  for (int i = 0; i < 10; ++i) Append(0, EventRecord(Event(kT0 + absl::Seconds(i), 1), 1, i));
  source_->Assign({0});
  Pump();
  store_.FailNextCalls(1, FakeAggregateStore::Failure::kAfterCommit);
  EXPECT_FALSE(aggregator_->CheckpointNow().ok());
  for (int i = 10; i < 20; ++i) Append(0, EventRecord(Event(kT0 + absl::Seconds(i), 1), 1, i));
  Pump();
  FinishWindows();
  EXPECT_EQ(Stored(Event(kT0, 1), v1::WINDOW_SIZE_1M, kT0)->count(), 20u);
  EXPECT_EQ(store_.Offsets(0)->next_offset, 20);
}

TEST_F(AggregatorTest, ClaimRetriesWhileTheStoreFails) {
  StartInstance();
  options_.claim_retry = absl::Milliseconds(1);
  StartInstance();
  Append(0, EventRecord(Event(kT0, 1), 1, 0));
  store_.FailNextCalls(3);
  source_->Assign({0});
  Pump();
  EXPECT_EQ(aggregator_->partitions(), std::vector<int32_t>{0});
  EXPECT_EQ(store_.Offsets(0)->owner_epoch, 1);
}

TEST_F(AggregatorTest, ZombieIsFencedAndItsStateDropped) {
  StartInstance();
  for (int i = 0; i < 50; ++i) Append(0, EventRecord(Event(kT0 + absl::Seconds(i), 1), 1, i));
  source_->Assign({0});
  Pump();
  Aggregator* zombie = aggregator_.release();
  auto zombie_source = std::move(source_);

  StartInstance();  // a second instance takes the partition over
  source_->Assign({0});
  Pump();
  ASSERT_TRUE(aggregator_->CheckpointNow().ok());
  EXPECT_EQ(store_.Offsets(0)->owner_epoch, 2);

  // The first instance wakes up and tries to checkpoint what it counted: fenced, nothing written.
  EXPECT_TRUE(zombie->CheckpointNow().ok());
  EXPECT_TRUE(zombie->partitions().empty());
  EXPECT_EQ(metrics_.partitions_fenced(), 1);
  zombie_source.reset();
  delete zombie;

  FinishWindows();
  EXPECT_EQ(Stored(Event(kT0, 1), v1::WINDOW_SIZE_1M, kT0)->count(), 50u);
}

TEST_F(AggregatorTest, RevokeCheckpointsAndForgetsThePartition) {
  StartInstance();
  for (int i = 0; i < 5; ++i) Append(1, EventRecord(Event(kT0 + absl::Seconds(i), 1), 1, i));
  source_->Assign({1});
  Pump(/*max_records=*/1);
  source_->Revoke({1});
  Pump();
  EXPECT_TRUE(aggregator_->partitions().empty());
  EXPECT_EQ(store_.Offsets(1)->next_offset, 5);
  auto w = Stored(Event(kT0, 1), v1::WINDOW_SIZE_1M, kT0);
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->count(), 5u);
  EXPECT_FALSE(w->is_final());
}

}  // namespace
}  // namespace streammetrics::aggregation::testing
