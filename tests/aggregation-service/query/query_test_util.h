// Windows for the query side's tests, in the positional form those tests read best, built by the
// store tests' MakeWindow (store_test_windows.h): a real sketch, the canonical series key, numbers
// consistent with the values.
#ifndef STREAMMETRICS_TESTS_AGGREGATION_SERVICE_QUERY_QUERY_TEST_UTIL_H_
#define STREAMMETRICS_TESTS_AGGREGATION_SERVICE_QUERY_QUERY_TEST_UTIL_H_

#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "tests/aggregation-service/store/store_test_windows.h"

namespace streammetrics::aggregation::testing {

// A 5-minute boundary.
inline const absl::Time kQueryT0 = kT0;

inline v1::WindowAggregate MakeWindow(const std::string& service, const std::string& metric,
                                      const std::map<std::string, std::string>& tags,
                                      v1::WindowSize size, absl::Time start,
                                      const std::vector<double>& values, bool is_final = true,
                                      uint64_t revision = 1) {
  return MakeWindow(WindowSpec{.service = service,
                               .metric = metric,
                               .tags = tags,
                               .size = size,
                               .start = start,
                               .values = values,
                               .is_final = is_final,
                               .revision = revision});
}

}  // namespace streammetrics::aggregation::testing

#endif  // STREAMMETRICS_TESTS_AGGREGATION_SERVICE_QUERY_QUERY_TEST_UTIL_H_
