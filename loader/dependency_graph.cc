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
  // The reverse edges: name -> the modules whose record includes it, kept
  // with every change of `graph` (Replace), so that dependents() and a
  // transaction's closure cost what they find, not a pass over every record
  // (issue 13).
  absl::flat_hash_map<std::string, absl::flat_hash_set<std::string>> users
      ABSL_GUARDED_BY(mu);
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

// Adds (`link`) or removes `name`'s reverse edges for `deps`.
void UpdateUsers(DependencyGraphState& g, const std::string& name,
                 const Deps& deps, bool link)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(g.mu) {
  for (const auto* set : {&deps.bridges, &deps.others}) {
    for (const std::string& dep : *set) {
      if (link) {
        g.users[dep].insert(name);
        continue;
      }
      auto it = g.users.find(dep);
      if (it == g.users.end()) continue;
      it->second.erase(name);
      if (it->second.empty()) g.users.erase(it);
    }
  }
}

// Ends the journal and hands it over (to be destroyed after the lock).
absl::flat_hash_map<std::string, std::optional<Deps>> StopRecordJournal() {
  absl::flat_hash_map<std::string, std::optional<Deps>> taken;
  DependencyGraphState& g = Graph();
  absl::MutexLock lock(g.mu);
  g.journaling = false;
  std::swap(taken, g.journal);
  return taken;
}

// Makes `record` `name`'s record (nullopt: none) and returns the old one,
// for the caller to destroy after the lock.
std::optional<Deps> Replace(DependencyGraphState& g, const std::string& name,
                            std::optional<Deps> record)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(g.mu) {
  std::optional<Deps> old;
  auto it = g.graph.find(name);
  if (it != g.graph.end()) {
    UpdateUsers(g, name, it->second, /*link=*/false);
    old = std::move(it->second);
    g.graph.erase(it);
  }
  if (record) {
    UpdateUsers(g, name, *record, /*link=*/true);
    g.graph.emplace(name, std::move(*record));
  }
  return old;
}

}  // namespace

void CommitDependencies(const std::string& name, Deps record) {
  std::optional<Deps> old;  // dies after the lock
  DependencyGraphState& g = Graph();
  absl::MutexLock lock(g.mu);
  Journal(g, name);
  old = Replace(g, name, std::move(record));
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
    auto it = g.users.find(name);
    if (it != g.users.end()) out.assign(it->second.begin(), it->second.end());
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
    // A depth-first walk of the reverse edges.
    DependencyGraphState& g = Graph();
    absl::MutexLock lock(g.mu);
    std::vector<std::string> stack(names.begin(), names.end());
    while (!stack.empty()) {
      std::string current = std::move(stack.back());
      stack.pop_back();
      auto it = g.users.find(current);
      if (it == g.users.end()) continue;
      for (const std::string& user : it->second)
        if (seen.insert(user).second) stack.push_back(user);
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
  std::vector<std::optional<Deps>> old;  // dies after the lock
  DependencyGraphState& g = Graph();
  absl::MutexLock lock(g.mu);
  for (auto& [name, deps] : parsed)
    old.push_back(Replace(g, name, std::move(deps)));
}

void EraseRecord(const std::string& name) {
  std::optional<Deps> old;  // dies after the lock
  DependencyGraphState& g = Graph();
  absl::MutexLock lock(g.mu);
  Journal(g, name);
  old = Replace(g, name, std::nullopt);
}

void StartRecordJournal() {
  DependencyGraphState& g = Graph();
  absl::MutexLock lock(g.mu);
  g.journaling = true;
  g.journal.clear();
}

py::dict TakeRecordJournal() {
  py::dict out;
  for (const auto& [name, deps] : StopRecordJournal())
    out[py::str(name)] =
        deps ? py::object(py::make_tuple(ToList(Sorted(deps->bridges)),
                                         ToList(Sorted(deps->others))))
             : py::object(py::none());
  return out;
}

void DropRecordJournal() { StopRecordJournal(); }

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
  m.def("drop_record_journal", &DropRecordJournal,
        "Stops the journal and forgets it (a commit).");
}

}  // namespace bridgeimport
