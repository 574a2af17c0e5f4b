// FakeAggregateReader: an in-memory AggregateReader for unit tests, answering from windows the
// test adds, with the same filters, order and limits as the PostgreSQL one (the integration tests
// check that one against SQL; these rules are the spec both follow).
#ifndef STREAMMETRICS_AGGREGATION_SERVICE_QUERY_FAKE_AGGREGATE_READER_H_
#define STREAMMETRICS_AGGREGATION_SERVICE_QUERY_FAKE_AGGREGATE_READER_H_

#include <map>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "aggregation-service/query/aggregate_reader.h"

namespace streammetrics::aggregation {

class FakeAggregateReader final : public AggregateReader {
 public:
  // Stores `window` (with its sketch), replacing the one with the same series key, size and
  // start, as the checkpoint's upsert does.
  void Put(const v1::WindowAggregate& window);
  // While not OK, every call fails with this status.
  void SetFailure(absl::Status status);
  // Calls answered (failed ones included).
  int calls() const;
  // While held, calls wait in the reader (a slow database); started() counts calls that began.
  void Hold(bool held);
  int started() const;

  absl::StatusOr<std::vector<v1::WindowAggregate>> QueryWindows(const WindowQuery& query) override;
  absl::StatusOr<std::optional<v1::WindowAggregate>> LatestWindow(
      const LatestQuery& query) override;
  absl::StatusOr<std::vector<v1::SeriesInfo>> ListSeries(const SeriesQuery& query) override;

 private:
  // (window size, start micros, series key): the query order within a size.
  using Key = std::tuple<int, int64_t, std::string>;

  absl::Status Call();

  mutable absl::Mutex mu_;
  std::map<Key, v1::WindowAggregate> windows_ ABSL_GUARDED_BY(mu_);
  absl::Status failure_ ABSL_GUARDED_BY(mu_);
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
  int started_ ABSL_GUARDED_BY(mu_) = 0;
  bool held_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace streammetrics::aggregation

#endif  // STREAMMETRICS_AGGREGATION_SERVICE_QUERY_FAKE_AGGREGATE_READER_H_
