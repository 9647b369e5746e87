// execution_stats.cc: the process-wide execution counts (see the .h).
#include "loader/execution_stats.h"

#include <optional>
#include <utility>
#include <vector>

#include "absl/base/no_destructor.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace bridgeimport {
namespace {

struct ExecStats {
  uint64_t started = 0;     // executions begun
  uint64_t executions = 0;  // executions ended (failed ones included)
  uint64_t failures = 0;
  double total_seconds = 0;
  double last_seconds = 0;
  uint64_t last_serial = 0;  // ExecutionSerial() of the last execution
  bool last_ok = false;
};
// Counts executions process-wide, so "what ran since X" needs no log. Every
// thread that executes a bridge module writes it: a mutex, as the graph.
struct ExecutionState {
  absl::Mutex mu;
  uint64_t serial ABSL_GUARDED_BY(mu) = 0;
  absl::flat_hash_map<std::string, ExecStats> stats ABSL_GUARDED_BY(mu);
};
ExecutionState& Executions() {
  static absl::NoDestructor<ExecutionState> state;
  return *state;
}

}  // namespace

int64_t BeginExecution(const std::string& name) {
  ExecutionState& e = Executions();
  absl::MutexLock lock(e.mu);
  ExecStats& s = e.stats[name];
  int64_t epoch =
      s.started == s.executions ? static_cast<int64_t>(s.started) : -1;
  ++s.started;
  return epoch;
}

int64_t ExecutionEpoch(const std::string& name) {
  ExecutionState& e = Executions();
  absl::MutexLock lock(e.mu);
  auto it = e.stats.find(name);
  if (it == e.stats.end()) return 0;
  const ExecStats& s = it->second;
  return s.started == s.executions ? static_cast<int64_t>(s.started) : -1;
}

void RecordExecution(const std::string& name, double seconds, bool ok) {
  ExecutionState& e = Executions();
  absl::MutexLock lock(e.mu);
  ExecStats& s = e.stats[name];
  ++s.executions;
  if (!ok) ++s.failures;
  s.total_seconds += seconds;
  s.last_seconds = seconds;
  s.last_serial = ++e.serial;
  s.last_ok = ok;
}

uint64_t ExecutionSerial() {
  ExecutionState& e = Executions();
  absl::MutexLock lock(e.mu);
  return e.serial;
}

py::dict ExecutionsSince(uint64_t serial) {
  std::vector<std::pair<std::string, ExecStats>> since;
  {
    ExecutionState& e = Executions();
    absl::MutexLock lock(e.mu);
    for (const auto& [name, s] : e.stats)
      if (s.last_serial > serial) since.emplace_back(name, s);
  }
  py::dict out;
  for (const auto& [name, s] : since) {
    py::dict entry;
    entry["last_ok"] = s.last_ok;
    entry["last_seconds"] = s.last_seconds;
    entry["executions"] = s.executions;
    entry["failures"] = s.failures;
    out[py::str(name)] = entry;
  }
  return out;
}

py::object ExecutionStats(const std::string& name) {
  std::optional<ExecStats> found;
  {
    ExecutionState& e = Executions();
    absl::MutexLock lock(e.mu);
    auto it = e.stats.find(name);
    // An entry made by BeginExecution alone counts once its execution ended.
    if (it != e.stats.end() && it->second.executions > 0) found = it->second;
  }
  if (!found) return py::none();
  py::dict out;
  out["executions"] = found->executions;
  out["failures"] = found->failures;
  out["total_seconds"] = found->total_seconds;
  out["last_seconds"] = found->last_seconds;
  return out;
}

void RegisterExecutionStats(py::module_& m) {
  m.def("execution_serial", &ExecutionSerial,
        "A counter of bridge-module executions so far (process-wide).");
  m.def("executions_since", &ExecutionsSince, py::arg("serial"),
        "{name: {last_ok, last_seconds, executions, failures}} of the modules "
        "whose last execution came after execution_serial() was `serial`.");
  m.def("execution_stats", &ExecutionStats, py::arg("name"),
        "{executions, failures, total_seconds, last_seconds} of a bridge "
        "module's executions (compile + run), or None.");
}

}  // namespace bridgeimport
