// A harness for integration tests of the streammetrics-aggregation binary on the real stack: a
// scoped events topic filled with a known data set (with resent batches), the binary as a child
// process that can be stopped with any signal, and checks of the rows it stored in PostgreSQL
// against the ground truth computed here.
#ifndef STREAMMETRICS_TESTS_INTEGRATION_AGGREGATION_HARNESS_H_
#define STREAMMETRICS_TESTS_INTEGRATION_AGGREGATION_HARNESS_H_

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "tests/support/kafka_topics.h"

namespace streammetrics::testing {

// The events of one run, as produced, and what every window must hold.
class AggregationDataSet {
 public:
  // `events` events of `series` series over `span` of event time starting at a 5-minute boundary
  // about `age` ago, in batches of 500; every `resend_every`-th batch is produced twice.
  AggregationDataSet(int events, int series, absl::Duration span, int resend_every,
                     absl::Duration age = absl::Minutes(40));

  const std::string& service_id() const { return service_id_; }
  int events() const { return static_cast<int>(values_.size()); }
  // Records to produce (resends included).
  int records() const { return records_; }

  // Produces every record to `topic` with an idempotent acks=all producer, after `prefix_junk`
  // undecodable records. Fails with the first delivery error.
  absl::Status Produce(const std::string& topic, int prefix_junk = 0) const;

  // Checks the final 1m and 5m rows of service_id() in PostgreSQL: exactly the expected windows,
  // each with exact count, sum, min, max and percentiles within 1 % of the exact rank value.
  // Returns a description of every difference, empty when none.
  std::vector<std::string> Verify() const;

  // Final rows stored for service_id() (1m and 5m), to poll for completion.
  int FinalRows() const;
  // Windows expected (1m plus 5m).
  int ExpectedWindows() const;

 private:
  struct Event {
    std::string series_key;
    absl::Time time;
    double value;
    uint64_t sequence;
    uint32_t index;
    std::string serialized;
  };
  std::string service_id_;
  std::vector<Event> events_;
  std::vector<double> values_;
  int records_ = 0;
  int resend_every_;
  // (series_key, "1m"/"5m", window start seconds) -> values.
  std::map<std::tuple<std::string, std::string, int64_t>, std::vector<double>> truth_;
};

// The aggregation binary as a child process.
class AggregatorChild {
 public:
  // Starts the binary reading `events_topic` in consumer group `group`, with extra flags.
  AggregatorChild(const std::string& events_topic, const std::string& group,
                  const std::vector<std::string>& extra_flags = {});
  ~AggregatorChild();
  // Sends `signal` and waits for the exit; returns the exit code (or 128 + signal).
  int Stop(int signal);
  bool running() const { return pid_ > 0; }
  // host:port of its QueryService and of its /metrics.
  const std::string& query_address() const { return query_address_; }
  const std::string& metrics_address() const { return metrics_address_; }

 private:
  pid_t pid_ = -1;
  std::string query_address_;
  std::string metrics_address_;
};

// Records committed by `group` in PostgreSQL (sum of the stored next offsets).
int64_t CommittedRecords(const std::string& group);

}  // namespace streammetrics::testing

#endif  // STREAMMETRICS_TESTS_INTEGRATION_AGGREGATION_HARNESS_H_
