// load_frame.h: dependency recording (and atomic scopes) while bridge
// modules execute.
//
// Each exec_module() of a bridge module opens a LoadFrame on its thread. The
// frames give two things docs/design.md section 5 asks for:
//
//  * Dependency recording: the bridge modules a module's execution imports,
//    directly (import statements, `from x import y`, function-level imports
//    run during exec, bridgeimport.load(), importlib.import_module() of a
//    module not loaded yet). Import statements of modules already in
//    sys.modules never reach a loader, so while any frame is open anywhere,
//    builtins.__import__ is wrapped by a native pass-through that records
//    imports for its own thread's innermost frame. The wrapper is installed
//    when the first frame opens and removed when the last one closes (unless
//    someone else replaced __import__ meanwhile: then it stays, as a
//    pass-through, inside their chain). builtins.__lazy_import__ (PEP 810,
//    3.15+) is wrapped the same way: a lazy import statement imports nothing
//    until first use, often after the execution ended, so the statement's
//    names are recorded for dependents() and transactions instead.
//
//  * Opt-in atomic loads: every bridge module first loaded inside a failed
//    atomic frame is removed again (sys.modules entry and parent attribute).
//    Atomic frames come from bridgeimport.load(name, atomic=True) on this
//    thread, from a mount made with atomic=True, or from an enclosing atomic
//    frame. It is not the default because other threads may already hold the
//    siblings a failed import loaded; removing them splits identity for them.
//
// Frames are per thread; what they leave behind (the dependency graph of
// dependency_graph.h, the wrapped builtins) is shared by every thread, each
// under its own absl::Mutex (the rules of py_support.h): on a free-threaded
// CPython (PEP 703) frames open and close on many threads at once. The
// removal itself is rollback.h's; the execution counts are
// execution_stats.h's.
#ifndef BRIDGEIMPORT_LOADER_LOAD_FRAME_H_
#define BRIDGEIMPORT_LOADER_LOAD_FRAME_H_

#include <pybind11/pybind11.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "loader/py_support.h"

namespace bridgeimport {

namespace py = pybind11;

class LoadFrame {
 public:
  LoadFrame(std::string name, bool first_load, bool atomic);
  ~LoadFrame();
  LoadFrame(const LoadFrame&) = delete;
  LoadFrame& operator=(const LoadFrame&) = delete;

  // The module executed successfully: its dependencies are committed and the
  // enclosing frame learns about it.
  void Succeeded(py::handle module);
  // The module failed. For an atomic frame, removes the bridge modules first
  // loaded inside it and returns their names.
  std::vector<std::string> Failed();
  // Names of the bridge modules first loaded inside this frame so far.
  std::vector<std::string> LoadedFirst() const;

 private:
  friend void RecordDependency(const std::string& name);
  friend PyObject* ImportHook(PyObject*, PyObject* const*, Py_ssize_t,
                              PyObject*);
  friend PyObject* LazyImportHook(PyObject*, PyObject* const*, Py_ssize_t,
                                  PyObject*);
  GilOwner owner_;  // see ~LoadFrame
  LoadFrame* parent_;
  std::string name_;
  bool first_load_;
  bool atomic_;
  bool done_ = false;

  // True if `name` needs no record: this frame's own module, or recorded
  // already.
  bool Known(const std::string& name) const;
  // Records `name` as imported by this execution: a bridge module as a
  // dependency, any other loaded module among the others, a mount package
  // (no code) not at all. `key`, if given, is `name` as a str.
  void Record(const std::string& name, py::handle key = py::handle());
  // The same for `module`, sys.modules[name] (not yet Known).
  void RecordModule(const std::string& name, py::handle module);
  // Records `absolute` (`key` as a str) and each package above it: `import
  // a.b.c` binds `a` and reaches a.b and a.b.c through it.
  void RecordWithParents(const std::string& absolute, py::handle key);
  // Takes back the dependencies child frames added since `mark` (the size of
  // loaded_deps_ before a from-import ran): that statement loaded them first
  // but binds none of them itself.
  void ForgetLoadedSince(size_t mark);
  // Records what `from absolute import <fromlist>` binds, eagerly or by a
  // lazy import statement (PEP 810).
  void RecordFromImport(const std::string& absolute, py::handle key,
                        py::handle fromlist);
  void RecordLazyFromImport(const std::string& absolute, py::handle fromlist);

  absl::flat_hash_set<std::string> deps_;        // bridge modules
  absl::flat_hash_set<std::string> other_deps_;  // other loaded modules
  absl::flat_hash_set<std::string> lazy_deps_;   // names lazy imports bound
  // The dependencies Succeeded() of child frames added, in order: an import
  // statement takes back those it loaded but does not bind (ImportHook).
  std::vector<std::string> loaded_deps_;
  std::vector<std::pair<std::string, py::object>> loaded_first_;
};

// Marks loads started on this thread while alive as atomic.
class AtomicScope {
 public:
  AtomicScope();
  ~AtomicScope();
};

// Records `name` (if it is a bridge module) as a dependency of the innermost
// frame on this thread, if any.
void RecordDependency(const std::string& name);

// builtins.__import__ while frames are open (see the file comment).
PyObject* ImportHook(PyObject* self, PyObject* const* args, Py_ssize_t nargs,
                     PyObject* kwnames);
// builtins.__lazy_import__ likewise, where the interpreter has one.
PyObject* LazyImportHook(PyObject* self, PyObject* const* args,
                         Py_ssize_t nargs, PyObject* kwnames);

// _native.import_hook and lazy_import_hook (the wrappers, for tests).
void RegisterLoadFrames(py::module_& m);

}  // namespace bridgeimport

#endif  // BRIDGEIMPORT_LOADER_LOAD_FRAME_H_
