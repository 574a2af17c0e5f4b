// Child processes for integration tests: the service binaries started with fork/exec and stopped
// with a chosen signal.
#ifndef STREAMMETRICS_TESTS_SUPPORT_CHILD_PROCESS_H_
#define STREAMMETRICS_TESTS_SUPPORT_CHILD_PROCESS_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace streammetrics::testing {

// Starts args[0] with `args` (no shell); the child exits 127 when the exec fails. Returns its
// pid, or -1 when fork failed.
pid_t Spawn(const std::vector<std::string>& args);

// Sends `signal` to `pid` and waits for it to exit: its exit code, or 128 + the signal that ended
// it.
int StopChild(pid_t pid, int signal);

// Resident set of a process, in KiB (VmRSS of /proc/<pid>/status), or -1.
int64_t RssKib(pid_t pid);

}  // namespace streammetrics::testing

#endif  // STREAMMETRICS_TESTS_SUPPORT_CHILD_PROCESS_H_
