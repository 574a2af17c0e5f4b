// FuzzCheck: a fuzz target's invariant. libFuzzer reports an abort as a finding with the input
// that caused it; assert() would vanish under NDEBUG, which the fuzz build defines.
#ifndef STREAMMETRICS_TESTS_FUZZ_FUZZ_CHECK_H_
#define STREAMMETRICS_TESTS_FUZZ_FUZZ_CHECK_H_

#include <cstdlib>

namespace streammetrics::fuzz {

inline void Check(bool holds) {
  if (!holds) std::abort();
}

}  // namespace streammetrics::fuzz

#endif  // STREAMMETRICS_TESTS_FUZZ_FUZZ_CHECK_H_
