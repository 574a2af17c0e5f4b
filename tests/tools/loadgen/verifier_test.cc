// Verification: Compare's verdict for every kind of difference, and Verify's polling against a
// fake WindowQuery (windows becoming final, a query failing for a while).
#include "tools/loadgen/verifier.h"

#include <deque>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/events/series_key.h"

namespace streammetrics::loadgen {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000 - 1'800'000'000 % 300);

LedgerWindow Expected(const std::string& key, absl::Time start, uint64_t count, double sum,
                      v1::WindowSize size = v1::WINDOW_SIZE_1M) {
  return LedgerWindow{
      .series_key = key, .size = size, .start = start, .totals = {.count = count, .sum = sum}};
}

ObservedWindow Observed(const std::string& key, absl::Time start, uint64_t count, double sum,
                        bool final = true, v1::WindowSize size = v1::WINDOW_SIZE_1M) {
  return ObservedWindow{.series_key = key,
                        .size = size,
                        .start = start,
                        .totals = {.count = count, .sum = sum},
                        .is_final = final};
}

TEST(CompareTest, EqualFinalWindowsPass) {
  VerifyReport r =
      Compare({Expected("a", kT0, 3, 6), Expected("a", kT0, 3, 6, v1::WINDOW_SIZE_5M)},
              {Observed("a", kT0, 3, 6, true, v1::WINDOW_SIZE_5M), Observed("a", kT0, 3, 6)});
  EXPECT_TRUE(r.passed());
  EXPECT_EQ(r.windows_expected, 2u);
  EXPECT_EQ(r.windows_equal, 2u);
  EXPECT_EQ(r.events_expected, 3u) << "events are counted in 1-minute windows only";
  EXPECT_EQ(r.events_observed, 3u);
  EXPECT_TRUE(r.differences.empty());
}

TEST(CompareTest, EachKindOfDifferenceFails) {
  const std::vector<LedgerWindow> expected = {Expected("a", kT0, 3, 6), Expected("b", kT0, 1, 1)};
  struct Case {
    std::vector<ObservedWindow> observed;
    WindowDifference::Kind kind;
  };
  const std::vector<Case> cases = {
      {{Observed("a", kT0, 3, 6)}, WindowDifference::Kind::kMissing},
      {{Observed("a", kT0, 4, 7), Observed("b", kT0, 1, 1)}, WindowDifference::Kind::kCountOrSum},
      {{Observed("a", kT0, 3, 6.0000001), Observed("b", kT0, 1, 1)},
       WindowDifference::Kind::kCountOrSum},
      {{Observed("a", kT0, 3, 6), Observed("b", kT0, 1, 1, false)},
       WindowDifference::Kind::kNotFinal},
      {{Observed("a", kT0, 3, 6), Observed("b", kT0, 1, 1),
        Observed("a", kT0 + absl::Minutes(1), 1, 1)},
       WindowDifference::Kind::kExtra},
      {{Observed("a", kT0, 3, 6), Observed("b", kT0, 1, 1),
        Observed("b", kT0, 1, 1, true, v1::WINDOW_SIZE_5M)},
       WindowDifference::Kind::kExtra},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    VerifyReport r = Compare(expected, cases[i].observed);
    EXPECT_FALSE(r.passed()) << "case " << i;
    ASSERT_EQ(r.differences.size(), 1u) << "case " << i;
    EXPECT_EQ(r.differences[0].kind, cases[i].kind) << "case " << i;
  }
  VerifyReport missing = Compare(expected, {Observed("a", kT0, 3, 6)});
  EXPECT_EQ(missing.windows_missing, 1u);
  EXPECT_EQ(missing.differences[0].series_key, "b");
  EXPECT_EQ(missing.differences[0].expected.count, 1u);
}

TEST(CompareTest, ListsAtMostTheAskedNumberButCountsAll) {
  std::vector<LedgerWindow> expected;
  for (int i = 0; i < 50; ++i) expected.push_back(Expected(absl::StrCat("s", i), kT0, 1, 1));
  VerifyReport r = Compare(expected, {}, 7);
  EXPECT_EQ(r.windows_missing, 50u);
  EXPECT_EQ(r.differences.size(), 7u);
}

// Serves prepared answers in turn (the last one repeats); records every call; each call takes
// one second of `clock`.
class FakeWindowQuery final : public WindowQuery {
 public:
  explicit FakeWindowQuery(FakeClock* clock) : clock_(clock) {}
  std::deque<absl::StatusOr<std::vector<ObservedWindow>>> answers;
  std::vector<std::tuple<std::string, v1::WindowSize, absl::Time, absl::Time>> calls;

  absl::StatusOr<std::vector<ObservedWindow>> Windows(const std::string& service,
                                                      v1::WindowSize size, absl::Time start,
                                                      absl::Time end) override {
    calls.emplace_back(service, size, start, end);
    clock_->Advance(absl::Seconds(1));
    absl::StatusOr<std::vector<ObservedWindow>> all = answers.front();
    // An attempt ends after its 5-minute query, or at its first failure.
    if (answers.size() > 1 && (!all.ok() || size == v1::WINDOW_SIZE_5M)) answers.pop_front();
    if (!all.ok()) return all.status();
    std::vector<ObservedWindow> of_size;
    for (const ObservedWindow& w : *all) {
      if (w.size == size) of_size.push_back(w);
    }
    return of_size;
  }

 private:
  FakeClock* clock_;
};

class VerifyTest : public ::testing::Test {
 protected:
  VerifyTest() {
    e_.set_service_id("svc");
    e_.set_metric_name("m");
    e_.set_event_id("e-0-0");
    e_.mutable_timestamp()->set_seconds(absl::ToUnixSeconds(kT0 + absl::Seconds(70)));
    e_.set_value(2);
    v1::MetricBatch batch;
    *batch.add_events() = e_;
    v1::BatchAck ack;
    ack.set_status(v1::ACK_STATUS_DURABLE);
    ledger_.OnAck(ack, batch, absl::Now());
    key_ = events::SeriesKey(e_);
    options_.services = {"svc"};
    options_.poll_interval = absl::Milliseconds(1);
    options_.clock = &clock_;
    options_.on_attempt = [this](const VerifyReport&) { ++attempts_; };
  }
  std::vector<ObservedWindow> Windows(bool final) {
    return {Observed(key_, kT0 + absl::Minutes(1), 1, 2, final),
            Observed(key_, kT0, 1, 2, final, v1::WINDOW_SIZE_5M)};
  }

  FakeClock clock_{absl::FromUnixSeconds(1'900'000'000)};
  v1::MetricEvent e_;
  Ledger ledger_;
  std::string key_;
  VerifyOptions options_;
  int attempts_ = 0;
};

TEST_F(VerifyTest, PollsUntilEveryWindowIsFinalAndEqual) {
  FakeWindowQuery query(&clock_);
  query.answers = {std::vector<ObservedWindow>{}, Windows(false), Windows(true)};
  absl::StatusOr<VerifyReport> r = Verify(ledger_, query, options_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->passed());
  EXPECT_EQ(attempts_, 3);
  ASSERT_EQ(query.calls.size(), 6u) << "both sizes per attempt";
  const auto& [service, size, start, end] = query.calls[0];
  EXPECT_EQ(service, "svc");
  EXPECT_EQ(start, kT0) << "from the earliest 5-minute window";
  EXPECT_EQ(end, kT0 + absl::Minutes(6)) << "5 minutes past the latest start (1m at kT0+1m)";
}

TEST_F(VerifyTest, RetriesAFailingQueryAndReportsTheLastComparisonAtTheDeadline) {
  FakeWindowQuery query(&clock_);
  query.answers = {absl::UnavailableError("down"), Windows(false)};
  options_.timeout = absl::Seconds(10);
  absl::StatusOr<VerifyReport> r = Verify(ledger_, query, options_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->passed());
  EXPECT_EQ(r->windows_not_final, 2u);
  // The failed query costs 1 s, each comparison 2 s: compared at 3, 5, 7, 9 and 11 s, the last
  // past the 10 s deadline. The failed attempt is retried, not reported.
  EXPECT_EQ(attempts_, 5);
}

TEST_F(VerifyTest, FailsWithTheQueryErrorWhenItStillFailsAtTheDeadline) {
  FakeWindowQuery query(&clock_);
  query.answers = {absl::UnavailableError("QueryService down")};
  options_.timeout = absl::Seconds(5);
  absl::StatusOr<VerifyReport> r = Verify(ledger_, query, options_);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), testing::HasSubstr("QueryService down"));
}

TEST(VerifyEmptyLedgerTest, NothingAcceptedIsNothingToVerify) {
  Ledger empty;
  FakeClock clock(absl::FromUnixSeconds(1'900'000'000));
  FakeWindowQuery query(&clock);
  query.answers = {std::vector<ObservedWindow>{}};
  VerifyOptions options;
  options.services = {"svc"};
  absl::StatusOr<VerifyReport> r = Verify(empty, query, options);
  EXPECT_TRUE(absl::IsFailedPrecondition(r.status())) << r.status();
  EXPECT_THAT(r.status().message(), testing::HasSubstr("nothing to verify"));
}

}  // namespace
}  // namespace streammetrics::loadgen
