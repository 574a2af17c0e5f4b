// The RecordSink contract as one typed test suite, run against every implementation: the
// in-memory fake (lib_test) and Kafka (stack_test, on the local cluster). What callers rely on:
// one callback per batch, exactly once, with one status per record, never inside SendBatch;
// empty batches complete; Flush waits for every callback; a record reported OK is stored.
//
// Use: an environment type, default-constructible, with
//   kafka::RecordSink* sink();            // a sink that delivers successfully
//   const std::string& topic() const;     // a topic records may name (empty at start)
//   size_t Stored() const;                // records durable on topic()
// then INSTANTIATE_TYPED_TEST_SUITE_P(Name, RecordSinkContract, ::testing::Types<Env>);
#ifndef STREAMMETRICS_TESTS_LIB_KAFKA_RECORD_SINK_CONTRACT_H_
#define STREAMMETRICS_TESTS_LIB_KAFKA_RECORD_SINK_CONTRACT_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/kafka/record_sink.h"
#include "tests/support/stack.h"

namespace streammetrics::kafka::testing {

template <typename Env>
class RecordSinkContract : public ::testing::Test {
 protected:
  // What one batch's callback saw.
  struct Outcome {
    absl::Mutex mu;
    int calls = 0;
    std::vector<absl::Status> results;
    std::thread::id thread;
  };

  std::vector<Record> Records(int n) {
    std::vector<Record> records(n);
    for (int i = 0; i < n; ++i) {
      records[i].topic = env_.topic();
      records[i].key = absl::StrCat("series-", i % 7);
      records[i].value = absl::StrCat("value-", i);
      records[i].headers = {{"sm-client-id", "contract"}, {"sm-sequence", "1"}};
    }
    return records;
  }

  std::shared_ptr<Outcome> Send(std::vector<Record> records) {
    auto outcome = std::make_shared<Outcome>();
    env_.sink()->SendBatch(std::move(records), [outcome](std::vector<absl::Status> results) {
      absl::MutexLock lock(&outcome->mu);
      ++outcome->calls;
      outcome->results = std::move(results);
      outcome->thread = std::this_thread::get_id();
    });
    return outcome;
  }

  static bool AwaitCalled(Outcome& o) {
    absl::MutexLock lock(&o.mu);
    auto called = [&o]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(o.mu) { return o.calls > 0; };
    return o.mu.AwaitWithTimeout(absl::Condition(&called), absl::Seconds(60));
  }

  Env env_;
};

TYPED_TEST_SUITE_P(RecordSinkContract);

TYPED_TEST_P(RecordSinkContract, EveryRecordIsReportedOnceInOneCallbackAndStored) {
  auto outcome = this->Send(this->Records(50));
  ASSERT_TRUE(this->AwaitCalled(*outcome));
  ASSERT_TRUE(this->env_.sink()->Flush(absl::Seconds(30)).ok());
  absl::MutexLock lock(&outcome->mu);
  EXPECT_EQ(outcome->calls, 1);
  ASSERT_EQ(outcome->results.size(), 50u);
  for (const absl::Status& s : outcome->results) EXPECT_TRUE(s.ok()) << s;
  EXPECT_TRUE(streammetrics::testing::PollUntil(absl::Seconds(30),
                                                [&] { return this->env_.Stored() == 50; }))
      << "stored: " << this->env_.Stored();
}

TYPED_TEST_P(RecordSinkContract, AnEmptyBatchCompletes) {
  auto outcome = this->Send({});
  ASSERT_TRUE(this->AwaitCalled(*outcome));
  absl::MutexLock lock(&outcome->mu);
  EXPECT_EQ(outcome->calls, 1);
  EXPECT_TRUE(outcome->results.empty());
}

TYPED_TEST_P(RecordSinkContract, TheCallbackNeverRunsOnTheSendingThread) {
  for (int n : {0, 1, 20}) {
    auto outcome = this->Send(this->Records(n));
    ASSERT_TRUE(this->AwaitCalled(*outcome));
    absl::MutexLock lock(&outcome->mu);
    EXPECT_NE(outcome->thread, std::this_thread::get_id()) << n << " records";
  }
}

TYPED_TEST_P(RecordSinkContract, FlushReturnsOnceEveryCallbackRan) {
  std::vector<std::shared_ptr<typename TestFixture::Outcome>> outcomes;
  for (int i = 0; i < 8; ++i) outcomes.push_back(this->Send(this->Records(10)));
  ASSERT_TRUE(this->env_.sink()->Flush(absl::Seconds(60)).ok());
  for (auto& o : outcomes) {
    absl::MutexLock lock(&o->mu);
    EXPECT_EQ(o->calls, 1);
  }
  EXPECT_TRUE(streammetrics::testing::PollUntil(absl::Seconds(30),
                                                [&] { return this->env_.Stored() == 80; }));
}

REGISTER_TYPED_TEST_SUITE_P(RecordSinkContract, EveryRecordIsReportedOnceInOneCallbackAndStored,
                            AnEmptyBatchCompletes, TheCallbackNeverRunsOnTheSendingThread,
                            FlushReturnsOnceEveryCallbackRan);

}  // namespace streammetrics::kafka::testing

#endif  // STREAMMETRICS_TESTS_LIB_KAFKA_RECORD_SINK_CONTRACT_H_
