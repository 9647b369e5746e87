// execution_stats.h: how often, how long and how successfully each bridge
// module executed, process-wide.
//
// The source loader counts every execution (first load or reload) here.
// bridgeimport.execution_stats() and transactions' reports read the counts;
// the execution epoch lets a reload tell whether its namespace snapshot
// (rollback.h) is still valid. Every thread that executes a bridge module
// writes it: one absl::Mutex, with no Python under it (py_support.h).
#ifndef BRIDGEIMPORT_LOADER_EXECUTION_STATS_H_
#define BRIDGEIMPORT_LOADER_EXECUTION_STATS_H_

#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>

namespace bridgeimport {

namespace py = pybind11;

// Counts the start of an execution of `name`, and returns ExecutionEpoch()
// as it was just before.
int64_t BeginExecution(const std::string& name);
// A number that changes whenever an execution of `name` begins, or -1 while
// one is running: a reload's namespace snapshot is valid for its execution
// only if no other execution of the module began (or was running) between
// the two (rollback.h).
int64_t ExecutionEpoch(const std::string& name);
// Counts the end of one execution of `name` (first load or reload) that took
// `seconds`.
void RecordExecution(const std::string& name, double seconds, bool ok);
// {executions, failures, total_seconds, last_seconds} for `name`, or None.
py::object ExecutionStats(const std::string& name);
// The number of executions recorded so far, and the modules whose last
// execution came after that number was `serial` (a transaction's report).
uint64_t ExecutionSerial();
py::dict ExecutionsSince(uint64_t serial);

// _native.execution_serial, executions_since, execution_stats.
void RegisterExecutionStats(py::module_& m);

}  // namespace bridgeimport

#endif  // BRIDGEIMPORT_LOADER_EXECUTION_STATS_H_
