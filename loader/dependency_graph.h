// dependency_graph.h: the dependencies each bridge module's last successful
// execution recorded, process-wide, and the queries on them.
//
// Load frames (load_frame.h) record what an execution imports and commit it
// here when the execution succeeds; bridgeimport.dependencies(),
// dependents() and transactions read it. Every thread commits and reads at
// once on a free-threaded CPython: one absl::Mutex, with no Python under it
// (the rules of py_support.h).
#ifndef BRIDGEIMPORT_LOADER_DEPENDENCY_GRAPH_H_
#define BRIDGEIMPORT_LOADER_DEPENDENCY_GRAPH_H_

#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"

namespace bridgeimport {

namespace py = pybind11;

// What one execution imported: bridge modules (the public dependencies()),
// and other modules (ordinary packages a transaction may be asked to retire).
struct Deps {
  absl::flat_hash_set<std::string> bridges;
  absl::flat_hash_set<std::string> others;
  bool contains(const std::string& name) const {
    return bridges.contains(name) || others.contains(name);
  }
};

// Replaces `name`'s record with `record` (the old one is destroyed after
// the lock is released).
void CommitDependencies(const std::string& name, Deps record);
// Forgets `name`'s record (a module an atomic rollback removed).
void EraseRecord(const std::string& name);

// Direct dependencies of `name` recorded at its last successful execution,
// and the modules whose recorded dependencies include `name`.
py::list Dependencies(const std::string& name);
py::list Dependents(const std::string& name);
// {module: [dependencies]} for every module with a record.
py::dict DependencyGraph();
// Every module that depends on one of `names`, directly or transitively
// (the names themselves only if reached through a cycle), sorted.
py::list DependentsClosure(const std::vector<std::string>& names);
// {name: ([bridge dependencies], [other modules]) or None} for `names`, and
// putting such a record back (None erases): a transaction saves the records
// of the modules it retires and restores them when it rolls back.
py::dict DependencyRecords(const std::vector<std::string>& names);
void RestoreDependencyRecords(const py::dict& records);

// The journal of a transaction (one runs at a time): from
// StartRecordJournal() on, the first change to each name's record (commit,
// erase) first saves the record as it was. TakeRecordJournal() stops it and
// returns {name: record as before, or None}, in DependencyRecords' format, so
// a rollback puts back exactly the graph of its begin(), also for a module
// first loaded in its body that had a record from an earlier life (issue 15).
// A commit has no use for it: DropRecordJournal() stops it and forgets it.
void StartRecordJournal();
py::dict TakeRecordJournal();
void DropRecordJournal();

// _native.dependencies, dependents, dependency_graph, ...
void RegisterDependencyGraph(py::module_& m);

}  // namespace bridgeimport

#endif  // BRIDGEIMPORT_LOADER_DEPENDENCY_GRAPH_H_
