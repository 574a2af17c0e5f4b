// WatchQueue's state machine (one write at a time, bounded, finishing only when no write is in
// flight) and WatchHub's fan-out: a slow watcher is cut off without holding up the others.
#include "aggregation-service/query/watch_hub.h"

#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "tests/aggregation-service/query/query_test_util.h"

namespace streammetrics::aggregation {
namespace {

using testing::kQueryT0;
using testing::MakeWindow;

WatchFilter Filter(const std::string& service = "svc") {
  WatchFilter f;
  f.service_id = service;
  return f;
}

v1::WindowAggregate Window(int minute, const std::string& service = "svc") {
  return MakeWindow(service, "lat", {}, v1::WINDOW_SIZE_1M, kQueryT0 + absl::Minutes(minute),
                    {1.0 * minute});
}

TEST(WatchQueueTest, WritesOneAtATimeInOrder) {
  WatchQueue q(Filter(), 10);
  WatchAction a = q.Offer(Window(1));
  ASSERT_EQ(a.kind, WatchAction::kWrite);
  EXPECT_EQ(a.write->sum(), 1);
  EXPECT_EQ(q.Offer(Window(2)).kind, WatchAction::kNone);
  EXPECT_EQ(q.Offer(Window(3)).kind, WatchAction::kNone);
  a = q.WriteDone(true);
  ASSERT_EQ(a.kind, WatchAction::kWrite);
  EXPECT_EQ(a.write->sum(), 2);
  a = q.WriteDone(true);
  ASSERT_EQ(a.kind, WatchAction::kWrite);
  EXPECT_EQ(a.write->sum(), 3);
  EXPECT_EQ(q.WriteDone(true).kind, WatchAction::kNone);
  EXPECT_EQ(q.queued(), 0u);
  // Idle again: the next offer writes at once.
  EXPECT_EQ(q.Offer(Window(4)).kind, WatchAction::kWrite);
}

TEST(WatchQueueTest, OverflowEndsWithResourceExhaustedAfterTheWriteInFlight) {
  WatchQueue q(Filter(), 2);
  ASSERT_EQ(q.Offer(Window(1)).kind, WatchAction::kWrite);
  EXPECT_EQ(q.Offer(Window(2)).kind, WatchAction::kNone);
  // Full (1 in flight + 1 waiting): the third cuts it off, but a write is in flight.
  WatchAction cut = q.Offer(Window(3));
  EXPECT_EQ(cut.kind, WatchAction::kNone);
  EXPECT_TRUE(cut.cut_off);
  // Only the window in flight is still held; later windows are not taken, nor counted again.
  EXPECT_EQ(q.queued(), 1u);
  WatchAction after = q.Offer(Window(4));
  EXPECT_EQ(after.kind, WatchAction::kNone);
  EXPECT_FALSE(after.cut_off);
  WatchAction a = q.WriteDone(true);
  ASSERT_EQ(a.kind, WatchAction::kFinish);
  EXPECT_TRUE(absl::IsResourceExhausted(a.status)) << a.status;
  EXPECT_NE(a.status.message().find("fell 2 windows behind"), absl::string_view::npos);
  // Finished: nothing more, ever.
  EXPECT_EQ(q.Offer(Window(5)).kind, WatchAction::kNone);
  EXPECT_EQ(q.End(absl::CancelledError("x")).kind, WatchAction::kNone);
  EXPECT_EQ(q.WriteDone(true).kind, WatchAction::kNone);
}

TEST(WatchQueueTest, OverflowWithNoWriteInFlightFinishesAtOnce) {
  WatchQueue q(Filter(), 0);
  WatchAction a = q.Offer(Window(1));
  ASSERT_EQ(a.kind, WatchAction::kFinish);
  EXPECT_TRUE(a.cut_off);
  EXPECT_TRUE(absl::IsResourceExhausted(a.status));
}

TEST(WatchQueueTest, EndWaitsForTheWriteInFlight) {
  WatchQueue q(Filter(), 10);
  ASSERT_EQ(q.Offer(Window(1)).kind, WatchAction::kWrite);
  q.Offer(Window(2));
  EXPECT_EQ(q.End(absl::CancelledError("gone")).kind, WatchAction::kNone);
  WatchAction a = q.WriteDone(true);
  ASSERT_EQ(a.kind, WatchAction::kFinish);
  EXPECT_TRUE(absl::IsCancelled(a.status));
}

TEST(WatchQueueTest, AFailedWriteEndsTheStream) {
  WatchQueue q(Filter(), 10);
  ASSERT_EQ(q.Offer(Window(1)).kind, WatchAction::kWrite);
  q.Offer(Window(2));
  WatchAction a = q.WriteDone(false);
  ASSERT_EQ(a.kind, WatchAction::kFinish);
  EXPECT_TRUE(absl::IsCancelled(a.status));
}

TEST(WatchQueueTest, EndWhenIdleFinishesAtOnce) {
  WatchQueue q(Filter(), 10);
  WatchAction a = q.End(absl::UnavailableError("shutting down"));
  ASSERT_EQ(a.kind, WatchAction::kFinish);
  EXPECT_TRUE(absl::IsUnavailable(a.status));
}

// A watcher whose writes complete only when the test says so, recording what it was told.
struct RecordingWatcher {
  explicit RecordingWatcher(WatchFilter filter, size_t capacity) {
    watcher = std::make_shared<Watcher>();
    watcher->queue = std::make_shared<WatchQueue>(std::move(filter), capacity);
    watcher->execute = [this](WatchAction a) {
      EXPECT_NE(a.kind, WatchAction::kNone) << "the hub hands out only actions to carry out";
      actions.push_back(std::move(a));
    };
  }
  // Completes the write in flight, recording what follows.
  void Complete() {
    WatchAction a = watcher->queue->WriteDone(true);
    if (a.kind != WatchAction::kNone) actions.push_back(std::move(a));
  }
  size_t writes() const {
    size_t n = 0;
    for (const WatchAction& a : actions) n += a.kind == WatchAction::kWrite;
    return n;
  }
  bool finished() const { return !actions.empty() && actions.back().kind == WatchAction::kFinish; }
  std::shared_ptr<Watcher> watcher;
  std::vector<WatchAction> actions;
};

TEST(WatchHubTest, ASlowWatcherIsCutOffWhileAFastOneGetsEverything) {
  QueryMetrics metrics;
  WatchHub hub(100, &metrics);
  RecordingWatcher fast(Filter(), 4);
  RecordingWatcher slow(Filter(), 4);
  RecordingWatcher elsewhere(Filter("other"), 4);
  ASSERT_TRUE(hub.Subscribe(fast.watcher));
  ASSERT_TRUE(hub.Subscribe(slow.watcher));
  ASSERT_TRUE(hub.Subscribe(elsewhere.watcher));
  for (int m = 0; m < 100; ++m) {
    hub.Publish(Window(m));
    fast.Complete();
  }
  EXPECT_EQ(fast.writes(), 100u);
  EXPECT_FALSE(fast.finished());
  // The slow one never completed its first write: 4 queued, the fifth overflowed.
  EXPECT_EQ(slow.writes(), 1u);
  // Counted when it was cut off, before its stream could end.
  EXPECT_EQ(metrics.watchers_exhausted(), 1);
  slow.Complete();
  ASSERT_TRUE(slow.finished());
  EXPECT_TRUE(absl::IsResourceExhausted(slow.actions.back().status));
  EXPECT_TRUE(elsewhere.actions.empty());
  EXPECT_EQ(hub.published(), 100u);
}

TEST(WatchHubTest, CloseEndsEveryStreamAndRefusesNewOnes) {
  WatchHub hub;
  RecordingWatcher a(Filter(), 4);
  ASSERT_TRUE(hub.Subscribe(a.watcher));
  hub.Close();
  ASSERT_TRUE(a.finished());
  EXPECT_TRUE(absl::IsUnavailable(a.actions.back().status));
  RecordingWatcher b(Filter(), 4);
  EXPECT_FALSE(hub.Subscribe(b.watcher));
}

TEST(WatchHubTest, LimitsTheNumberOfWatchersAndForgetsUnsubscribedOnes) {
  WatchHub hub(/*max_watchers=*/1);
  RecordingWatcher a(Filter(), 4);
  RecordingWatcher b(Filter(), 4);
  ASSERT_TRUE(hub.Subscribe(a.watcher));
  EXPECT_FALSE(hub.Subscribe(b.watcher));
  hub.Unsubscribe(a.watcher);
  EXPECT_EQ(hub.watchers(), 0u);
  hub.Publish(Window(1));
  EXPECT_TRUE(a.actions.empty());
  EXPECT_TRUE(hub.Subscribe(b.watcher));
}

}  // namespace
}  // namespace streammetrics::aggregation
