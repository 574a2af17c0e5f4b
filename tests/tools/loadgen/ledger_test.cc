// Ledger: which acks count, per-window totals for both sizes, unexpected outcomes, latency, CSV.
#include "tools/loadgen/ledger.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/events/series_key.h"
#include "tests/support/stack.h"
#include "tools/loadgen/event_maker.h"
#include "tools/loadgen/value_distribution.h"

namespace streammetrics::loadgen {
namespace {

using ::testing::HasSubstr;

// 10:00:00 UTC on some day: a 5-minute boundary.
const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000 - 1'800'000'000 % 300);

v1::MetricEvent Event(const std::string& id, const std::string& metric, absl::Time t, double v) {
  v1::MetricEvent e;
  e.set_event_id(id);
  e.set_service_id("svc");
  e.set_metric_name(metric);
  (*e.mutable_tags())["k"] = "v";
  e.mutable_timestamp()->set_seconds(absl::ToUnixSeconds(t));
  e.set_value(v);
  return e;
}

v1::BatchAck Ack(v1::AckStatus status, std::vector<uint32_t> rejected = {}) {
  v1::BatchAck ack;
  ack.set_sequence(1);
  ack.set_status(status);
  for (uint32_t i : rejected) {
    v1::Rejection* r = ack.add_rejections();
    r->set_event_index(i);
    r->set_message(absl::StrCat("reason ", i));
  }
  return ack;
}

TEST(LedgerTest, DurableAcksCountTheirAcceptedEventsPerWindow) {
  Ledger ledger;
  v1::MetricBatch batch;
  *batch.add_events() = Event("e-0-0", "m", kT0 + absl::Seconds(1), 1.5);
  *batch.add_events() = Event("e-0-1", "m", kT0 + absl::Seconds(59), 2.5);
  *batch.add_events() = Event("e-0-2", "m", kT0 + absl::Seconds(60), 4);
  *batch.add_events() = Event("x-0-3", "m", kT0 + absl::Seconds(61), -1);  // broken on purpose
  *batch.add_events() = Event("e-0-4", "n", kT0 + absl::Seconds(299), 8);
  *batch.add_events() = Event("e-0-5", "n", kT0 + absl::Seconds(300), 16);
  ledger.OnAck(Ack(v1::ACK_STATUS_DURABLE, {3}), batch, kT0 + absl::Seconds(400));

  const LedgerCounts c = ledger.counts();
  EXPECT_EQ(c.batches_durable, 1u);
  EXPECT_EQ(c.events_accepted, 5u);
  EXPECT_EQ(c.events_rejected_as_expected, 1u);
  EXPECT_EQ(c.events_rejected_unexpectedly, 0u);

  const std::string m = events::SeriesKey(batch.events(0));
  const std::string n = events::SeriesKey(batch.events(4));
  std::vector<LedgerWindow> one = ledger.Windows(v1::WINDOW_SIZE_1M);
  ASSERT_EQ(one.size(), 4u);
  EXPECT_EQ(one[0].series_key, m);
  EXPECT_EQ(one[0].start, kT0);
  EXPECT_EQ(one[0].totals.count, 2u);
  EXPECT_EQ(one[0].totals.sum, 4.0);
  EXPECT_EQ(one[1].start, kT0 + absl::Minutes(1));
  EXPECT_EQ(one[1].totals.count, 1u) << "the rejected event at :61 is not counted";
  EXPECT_EQ(one[2].series_key, n);
  EXPECT_EQ(one[2].start, kT0 + absl::Minutes(4));
  EXPECT_EQ(one[3].start, kT0 + absl::Minutes(5));

  std::vector<LedgerWindow> five = ledger.Windows(v1::WINDOW_SIZE_5M);
  ASSERT_EQ(five.size(), 3u);
  EXPECT_EQ(five[0].series_key, m);
  EXPECT_EQ(five[0].size, v1::WINDOW_SIZE_5M);
  EXPECT_EQ(five[0].totals.count, 3u);
  EXPECT_EQ(five[0].totals.sum, 8.0);
  EXPECT_EQ(five[1].start, kT0);
  EXPECT_EQ(five[2].start, kT0 + absl::Minutes(5));
}

TEST(LedgerTest, CatalogKeysGiveTheSameWindowsAsComputedOnes) {
  SeriesCatalog catalog =
      *SeriesCatalog::Create({.run_id = "t", .services = 3, .metrics = 4, .tag_sets = 5});
  ValueDistribution values = *ValueDistribution::Parse("uniform:1:100");
  EventMaker maker(&catalog, &values, "t", 0, 7, 0.2);
  v1::MetricBatch batch;
  std::vector<uint32_t> rejected;
  bool spared = false;
  for (uint32_t i = 0; i < 1000; ++i) {
    *batch.add_events() = maker.Make(kT0 + absl::Seconds(i % 600));
    // Every broken event is rejected but the first one without a service: accepted
    // unexpectedly, it counts under its own series key, which its breakage changed.
    if (!EventMaker::IsDeliberatelyInvalid(batch.events(i))) continue;
    if (!spared && batch.events(i).service_id().empty()) {
      spared = true;
      continue;
    }
    rejected.push_back(i);
  }
  ASSERT_TRUE(spared) << "200 broken events include ones without a service";
  Ledger with_catalog(absl::ZeroDuration(), &catalog);
  Ledger without;
  with_catalog.OnAck(Ack(v1::ACK_STATUS_DURABLE, rejected), batch, kT0 + absl::Seconds(700));
  without.OnAck(Ack(v1::ACK_STATUS_DURABLE, rejected), batch, kT0 + absl::Seconds(700));
  for (v1::WindowSize size : {v1::WINDOW_SIZE_1M, v1::WINDOW_SIZE_5M}) {
    const std::vector<LedgerWindow> a = with_catalog.Windows(size);
    const std::vector<LedgerWindow> b = without.Windows(size);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].series_key, b[i].series_key);
      EXPECT_EQ(a[i].start, b[i].start);
      EXPECT_EQ(a[i].totals.count, b[i].totals.count);
      EXPECT_EQ(a[i].totals.sum, b[i].totals.sum);
    }
  }
  EXPECT_EQ(with_catalog.counts().events_accepted, without.counts().events_accepted);
  EXPECT_GT(with_catalog.counts().events_accepted_unexpectedly, 0u);
}

TEST(LedgerTest, FailedAndRejectedBatchesCountNoEvents) {
  Ledger ledger;
  v1::MetricBatch batch;
  *batch.add_events() = Event("e-0-0", "m", kT0, 1);
  ledger.OnAck(Ack(v1::ACK_STATUS_FAILED), batch, kT0);
  v1::BatchAck rejected = Ack(v1::ACK_STATUS_REJECTED);
  rejected.set_error("too many events");
  ledger.OnAck(rejected, batch, kT0);
  const LedgerCounts c = ledger.counts();
  EXPECT_EQ(c.batches_failed, 1u);
  EXPECT_EQ(c.batches_rejected, 1u);
  EXPECT_EQ(c.events_accepted, 0u);
  EXPECT_TRUE(ledger.Windows(v1::WINDOW_SIZE_1M).empty());
  EXPECT_THAT(ledger.samples(), ::testing::ElementsAre(HasSubstr("too many events")));
}

TEST(LedgerTest, UnexpectedOutcomesAreCountedAndDescribed) {
  Ledger ledger;
  v1::MetricBatch batch;
  *batch.add_events() = Event("e-0-0", "m", kT0, 1);  // valid, yet rejected
  *batch.add_events() = Event("x-0-1", "m", kT0, 2);  // broken, yet accepted
  ledger.OnAck(Ack(v1::ACK_STATUS_DURABLE, {0}), batch, kT0);
  const LedgerCounts c = ledger.counts();
  EXPECT_EQ(c.events_rejected_unexpectedly, 1u);
  EXPECT_EQ(c.events_accepted_unexpectedly, 1u);
  EXPECT_EQ(c.events_accepted, 1u) << "accepted means the pipeline counts it";
  EXPECT_THAT(ledger.samples(), ::testing::ElementsAre(HasSubstr("e-0-0 rejected: reason 0"),
                                                       HasSubstr("x-0-1 was broken on purpose")));
}

TEST(LedgerTest, LatencyIsMeasuredFromEachEventsTimestamp) {
  Ledger ledger;
  v1::MetricBatch batch;
  for (int i = 0; i < 100; ++i) {
    *batch.add_events() = Event(absl::StrCat("e-0-", i), "m", kT0, 1);
    batch.mutable_events(i)->mutable_timestamp()->set_nanos(i * 10'000'000);  // +10 ms each
  }
  ledger.OnAck(Ack(v1::ACK_STATUS_DURABLE), batch, kT0 + absl::Seconds(2));
  EXPECT_NEAR(ledger.LatencyMs(0), 1010, 1010 * 0.02);
  EXPECT_NEAR(ledger.LatencyMs(1), 2000, 2000 * 0.02);
  EXPECT_NEAR(ledger.TakeIntervalLatencyMs(0.5), 1500, 1500 * 0.02);
  EXPECT_EQ(ledger.TakeIntervalLatencyMs(0.5), 0) << "the interval starts over";
  EXPECT_NEAR(ledger.LatencyMs(0.5), 1500, 1500 * 0.02) << "the run's latency stays";
}

TEST(LedgerTest, WritesTheOneMinuteWindowsAsCsv) {
  Ledger ledger;
  v1::MetricBatch batch;
  *batch.add_events() = Event("e-0-0", "a\"b", kT0, 0.1);
  ledger.OnAck(Ack(v1::ACK_STATUS_DURABLE), batch, kT0);
  const std::string path = streammetrics::testing::UniqueTempPath("ledger.csv");
  ASSERT_TRUE(ledger.WriteCsv(path).ok());
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::remove(path.c_str());
  EXPECT_EQ(text.str(),
            absl::StrCat("series_key,window_start,count,sum\n\"svc|a\"\"b|k=v\",",
                         absl::FormatTime(kT0, absl::UTCTimeZone()), ",1,0.10000000000000001\n"));
  EXPECT_FALSE(ledger.WriteCsv("/nonexistent-dir/ledger.csv").ok());
}

}  // namespace
}  // namespace streammetrics::loadgen
