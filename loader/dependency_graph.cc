// dependency_graph.cc: the process-wide dependency records (see the .h).
#include "loader/dependency_graph.h"

#include <pybind11/stl.h>

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/base/no_destructor.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "loader/py_support.h"

namespace bridgeimport {
namespace {

// Module name -> recorded direct dependencies. Strings only, so destroying
// it after the interpreter has gone is harmless.
// Every thread records into it when an execution ends, and transactions read
// it from theirs: a mutex, with no Python under it (py_support.h). Never
// destroyed: daemon threads may still record while the interpreter finalises.
struct DependencyGraphState {
  absl::Mutex mu;
  absl::flat_hash_map<std::string, Deps> graph ABSL_GUARDED_BY(mu);
  // While a transaction runs: each changed name's record before its first
  // change (nullopt: it had none). See StartRecordJournal().
  bool journaling ABSL_GUARDED_BY(mu) = false;
  absl::flat_hash_map<std::string, std::optional<Deps>> journal
      ABSL_GUARDED_BY(mu);
};
DependencyGraphState& Graph() {
  static absl::NoDestructor<DependencyGraphState> state;
  return *state;
}

py::list ToList(const std::vector<std::string>& names) {
  py::list out;
  for (const std::string& n : names) out.append(n);
  return out;
}

std::vector<std::string> Sorted(const absl::flat_hash_set<std::string>& set) {
  std::vector<std::string> out(set.begin(), set.end());
  std::sort(out.begin(), out.end());
  return out;
}

// Saves `name`'s record before its first change while journaling.
void Journal(DependencyGraphState& g, const std::string& name)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(g.mu) {
  if (!g.journaling || g.journal.contains(name)) return;
  auto it = g.graph.find(name);
  g.journal.emplace(name, it == g.graph.end()
                              ? std::nullopt
                              : std::optional<Deps>(it->second));
}

}  // namespace

void CommitDependencies(const std::string& name, Deps record) {
  DependencyGraphState& g = Graph();
  absl::MutexLock lock(g.mu);
  Journal(g, name);
  std::swap(g.graph[name], record);  // the old record dies after the lock
}

py::list Dependencies(const std::string& name) {
  std::vector<std::string> out;
  {
    DependencyGraphState& g = Graph();
    absl::MutexLock lock(g.mu);
    auto it = g.graph.find(name);
    if (it != g.graph.end()) out = Sorted(it->second.bridges);
  }
  return ToList(out);
}

py::list Dependents(const std::string& name) {
  std::vector<std::string> out;
  {
    DependencyGraphState& g = Graph();
    absl::MutexLock lock(g.mu);
    for (const auto& [module, deps] : g.graph)
      if (deps.contains(name)) out.push_back(module);
  }
  std::sort(out.begin(), out.end());
  return ToList(out);
}

py::dict DependencyGraph() {
  std::vector<std::pair<std::string, std::vector<std::string>>> copy;
  {
    DependencyGraphState& g = Graph();
    absl::MutexLock lock(g.mu);
    for (const auto& [module, deps] : g.graph)
      copy.emplace_back(module, Sorted(deps.bridges));
  }
  py::dict out;
  for (const auto& [module, deps] : copy) out[py::str(module)] = ToList(deps);
  return out;
}

py::list DependentsClosure(const std::vector<std::string>& names) {
  absl::flat_hash_set<std::string> seen;
  {
    // One pass builds the reverse edges; a breadth-first walk follows them.
    DependencyGraphState& g = Graph();
    absl::MutexLock lock(g.mu);
    absl::flat_hash_map<std::string, std::vector<const std::string*>> users;
    for (const auto& [module, deps] : g.graph) {
      for (const std::string& dep : deps.bridges) users[dep].push_back(&module);
      for (const std::string& dep : deps.others) users[dep].push_back(&module);
    }
    std::vector<std::string> queue(names.begin(), names.end());
    while (!queue.empty()) {
      std::string current = std::move(queue.back());
      queue.pop_back();
      auto it = users.find(current);
      if (it == users.end()) continue;
      for (const std::string* user : it->second)
        if (seen.insert(*user).second) queue.push_back(*user);
    }
  }
  return ToList(Sorted(seen));
}

py::dict DependencyRecords(const std::vector<std::string>& names) {
  using Record = std::pair<std::vector<std::string>, std::vector<std::string>>;
  std::vector<std::optional<Record>> records;
  {
    DependencyGraphState& g = Graph();
    absl::MutexLock lock(g.mu);
    for (const std::string& name : names) {
      auto it = g.graph.find(name);
      if (it == g.graph.end())
        records.emplace_back();
      else
        records.emplace_back(
            Record(Sorted(it->second.bridges), Sorted(it->second.others)));
    }
  }
  py::dict out;
  for (size_t i = 0; i < names.size(); ++i)
    out[py::str(names[i])] =
        records[i] ? py::object(py::make_tuple(ToList(records[i]->first),
                                               ToList(records[i]->second)))
                   : py::object(py::none());
  return out;
}

void RestoreDependencyRecords(const py::dict& records) {
  std::vector<std::pair<std::string, std::optional<Deps>>>
      parsed;  // read first
  for (auto item : records) {
    std::string name = ToUtf8(item.first);
    if (item.second.is_none()) {
      parsed.emplace_back(std::move(name), std::nullopt);
      continue;
    }
    py::tuple both = py::reinterpret_borrow<py::tuple>(item.second);
    Deps deps;
    for (py::handle dep : both[0]) deps.bridges.insert(ToUtf8(dep));
    for (py::handle dep : both[1]) deps.others.insert(ToUtf8(dep));
    parsed.emplace_back(std::move(name), std::move(deps));
  }
  DependencyGraphState& g = Graph();
  absl::MutexLock lock(g.mu);
  for (auto& [name, deps] : parsed) {
    if (deps)
      g.graph[name] = std::move(*deps);
    else
      g.graph.erase(name);
  }
}

void EraseRecord(const std::string& name) {
  DependencyGraphState& g = Graph();
  absl::MutexLock lock(g.mu);
  Journal(g, name);
  g.graph.erase(name);
}

void StartRecordJournal() {
  DependencyGraphState& g = Graph();
  absl::MutexLock lock(g.mu);
  g.journaling = true;
  g.journal.clear();
}

py::dict TakeRecordJournal() {
  absl::flat_hash_map<std::string, std::optional<Deps>> taken;
  {
    DependencyGraphState& g = Graph();
    absl::MutexLock lock(g.mu);
    g.journaling = false;
    std::swap(taken, g.journal);
  }
  py::dict out;
  for (const auto& [name, deps] : taken)
    out[py::str(name)] =
        deps ? py::object(py::make_tuple(ToList(Sorted(deps->bridges)),
                                         ToList(Sorted(deps->others))))
             : py::object(py::none());
  return out;
}

void RegisterDependencyGraph(py::module_& m) {
  m.def("dependencies", &Dependencies, py::arg("name"),
        "Bridge modules the last successful execution of `name` imported.");
  m.def("dependents", &Dependents, py::arg("name"),
        "Modules whose recorded dependencies include `name`.");
  m.def("dependency_graph", &DependencyGraph,
        "{module: [direct dependencies]} for every recorded module.");
  m.def("dependents_closure", &DependentsClosure, py::arg("names"),
        "Every module depending on one of `names`, directly or transitively.");
  m.def("dependency_records", &DependencyRecords, py::arg("names"),
        "{name: [dependencies] or None} for `names` (for restore).");
  m.def("restore_dependency_records", &RestoreDependencyRecords,
        py::arg("records"),
        "Puts back records from dependency_records(); None erases.");
  m.def("start_record_journal", &StartRecordJournal,
        "From now on, save each record before its first change.");
  m.def("take_record_journal", &TakeRecordJournal,
        "Stops the journal: {name: record before the first change, or None}.");
}

}  // namespace bridgeimport
