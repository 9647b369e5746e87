#include "loader/load_context.h"

#include <algorithm>

#include <pybind11/stl.h>

#include "absl/container/flat_hash_map.h"
#include "finders/module_name.h"
#include "loader/native_loader.h"
#include "loader/py_support.h"

namespace bridgeimport {
namespace {

// The innermost open frame of this thread.
thread_local LoadFrame* innermost = nullptr;
thread_local int atomic_depth = 0;

// Module name -> recorded direct dependencies. Strings only, so destroying
// it after the interpreter has gone is harmless.
// What one execution imported: bridge modules (the public dependencies()),
// and other modules (ordinary packages a transaction may be asked to retire).
struct Deps {
  absl::flat_hash_set<std::string> bridges;
  absl::flat_hash_set<std::string> others;
  bool contains(const std::string& name) const {
    return bridges.contains(name) || others.contains(name);
  }
};
absl::flat_hash_map<std::string, Deps>& Graph() {
  static absl::flat_hash_map<std::string, Deps> graph;
  return graph;
}

// The wrapper's bookkeeping: how many frames are open process-wide, the
// wrapper function and the __import__ it replaced. Never destroyed
// (NoDestructor): daemon threads and atexit handlers may still be importing
// while the interpreter finalises.
struct HookState {
  int open_frames = 0;
  py::object hook;
  py::object wrapped;
  // Someone else's __import__ came to wrap ours (or ours was put back as
  // "the original" by a patcher's undo): while that lasts builtins.__import__
  // is not touched and `wrapped` never changes, or hook -> theirs -> hook
  // would recurse. The hook just passes through. It ends when the __import__
  // we wrap is back in builtins (see InstallHook).
  bool stranded = false;
};
HookState& Hook() {
  static absl::NoDestructor<HookState> state;  // valid through finalisation
  return *state;
}

struct ExecStats {
  uint64_t executions = 0;
  uint64_t failures = 0;
  double total_seconds = 0;
  double last_seconds = 0;
  uint64_t last_serial = 0;  // ExecutionSerial() of the last execution
  bool last_ok = false;
};
// Counts executions process-wide, so "what ran since X" needs no log.
uint64_t& Serial() {
  static uint64_t serial = 0;
  return serial;
}
absl::flat_hash_map<std::string, ExecStats>& Executions() {
  static absl::flat_hash_map<std::string, ExecStats> stats;
  return stats;
}

// The absolute module name an `__import__(name, globals, ..., level)` call
// refers to, following importlib._bootstrap._calc___package__; empty if it
// cannot be told.
std::string AbsoluteName(PyObject* name, PyObject* globals, long level) {
  std::string base = ToUtf8(name);
  if (level <= 0) return base;
  if (globals == nullptr || !PyDict_Check(globals)) return std::string();
  py::dict g = py::reinterpret_borrow<py::dict>(globals);
  std::string package;
  if (g.contains("__package__") && !g["__package__"].is_none()) {
    package = ToUtf8(g["__package__"]);
  } else if (g.contains("__spec__") && !g["__spec__"].is_none()) {
    package = ToUtf8(g["__spec__"].attr("parent"));
  } else if (g.contains("__name__")) {
    package = ToUtf8(g["__name__"]);
    if (!g.contains("__path__")) package = std::string(ParentName(package));
  }
  for (long i = 1; i < level && !package.empty(); ++i)
    package = std::string(ParentName(package));
  if (package.empty()) return std::string();
  return base.empty() ? package : package + "." + base;
}

// True if `package.attr` is the submodule sys.modules holds under that name
// (what `from package import attr` binds when attr is a submodule).
bool IsSubmoduleAttribute(const std::string& package, const std::string& attr) {
  PyObject* modules = PyImport_GetModuleDict();
  PyObject* pkg = PyDict_GetItemString(modules, package.c_str());
  PyObject* sub = PyDict_GetItemString(modules, (package + "." + attr).c_str());
  if (pkg == nullptr || sub == nullptr) return false;
  // Owned before any Python code (a module __getattr__) can run.
  py::object owned_pkg = py::reinterpret_borrow<py::object>(pkg);
  py::object owned_sub = py::reinterpret_borrow<py::object>(sub);
  PyObject* value = PyObject_GetAttrString(owned_pkg.ptr(), attr.c_str());
  if (value == nullptr) {
    PyErr_Clear();
    return false;
  }
  bool same = value == owned_sub.ptr();
  Py_DECREF(value);
  return same;
}

void InstallHook() {
  HookState& h = Hook();
  if (h.open_frames++ > 0 || !h.hook) return;
  PyObject* builtins = PyEval_GetBuiltins();  // borrowed dict
  PyObject* current = builtins ? PyDict_GetItemString(builtins, "__import__") : nullptr;
  if (current == nullptr) return;
  if (h.stranded) {
    // Still inside someone else's chain: leave it. But once they have put
    // back the very __import__ we wrap (mock.patch's undo), wrapping it again
    // cannot recurse (hook -> wrapped is the whole chain), and without it
    // dependency recording would be off for the rest of the process.
    if (current != h.wrapped.ptr()) return;
    h.stranded = false;
  }
  if (current == h.hook.ptr()) {  // put back by someone else: never re-wrap
    h.stranded = true;
    return;
  }
  h.wrapped = py::reinterpret_borrow<py::object>(current);
  if (PyDict_SetItemString(builtins, "__import__", h.hook.ptr()) != 0)
    PyErr_Clear();
}

void RemoveHook() {
  HookState& h = Hook();
  if (--h.open_frames > 0 || h.stranded) return;
  PyObject* builtins = PyEval_GetBuiltins();
  if (builtins == nullptr || !h.wrapped) return;
  if (PyDict_GetItemString(builtins, "__import__") == h.hook.ptr()) {
    if (PyDict_SetItemString(builtins, "__import__", h.wrapped.ptr()) != 0)
      PyErr_Clear();
  } else {
    // Someone replaced __import__ while we were installed and may call us.
    h.stranded = true;
  }
}

}  // namespace

// builtins.__import__ while frames are open: the real import, then a record
// for this thread's innermost frame. Recording never fails an import.
PyObject* ImportHook(PyObject*, PyObject* const* args, Py_ssize_t nargs,
                     PyObject* kwnames) {
  py::object target = Hook().wrapped;  // a reference for the call's duration
  if (!target) {
    PyErr_SetString(PyExc_ImportError, "__import__ not found");
    return nullptr;
  }
  PyObject* params[5] = {nullptr, nullptr, nullptr, nullptr, nullptr};
  static const char* const kNames[5] = {"name", "globals", "locals", "fromlist",
                                        "level"};
  for (Py_ssize_t i = 0; i < nargs && i < 5; ++i) params[i] = args[i];
  if (kwnames != nullptr) {
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(kwnames); ++k) {
      for (int j = 0; j < 5; ++j)
        if (PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, k),
                                             kNames[j]) == 0)
          params[j] = args[nargs + k];
    }
  }
  // `import a.b.c` binds `a` and reaches a.b and a.b.c through it: all three
  // are dependencies. `from a.b import c, d` binds only what it names:
  // submodule c is a dependency of its own, a plain attribute d (or `*`)
  // makes a.b one; a.b is not one merely because this statement loaded it
  // first (which a child frame's Succeeded() records), so a changed a.b does
  // not force re-running every module that took one submodule from it.
  py::object fromlist;
  if (params[3] != nullptr && params[3] != Py_None) {
    int truth = PyObject_IsTrue(params[3]);
    if (truth < 0) PyErr_Clear();
    if (truth == 1) fromlist = py::reinterpret_borrow<py::object>(params[3]);
  }
  LoadFrame* caller = innermost;
  const size_t mark = caller != nullptr ? caller->loaded_deps_.size() : 0;

  PyObject* result = ParkIfEndedAtExit(
      [&] { return PyObject_Vectorcall(target.ptr(), args, nargs, kwnames); });
  LoadFrame* frame = innermost;
  if (result == nullptr || frame == nullptr) return result;
  if (params[0] == nullptr || !PyUnicode_Check(params[0])) return result;
  try {
    long level = params[4] ? PyLong_AsLong(params[4]) : 0;
    if (level == -1 && PyErr_Occurred()) throw py::error_already_set();
    std::string absolute = AbsoluteName(params[0], params[1], level);
    if (absolute.empty()) return result;
    if (!fromlist) {
      for (absl::string_view p = absolute; !p.empty(); p = ParentName(p))
        frame->Record(std::string(p));
      return result;
    }
    if (frame == caller) {
      for (size_t i = mark; i < frame->loaded_deps_.size(); ++i)
        frame->deps_.erase(frame->loaded_deps_[i]);
      frame->loaded_deps_.resize(mark);
    }
    bool whole = false;
    for (py::handle item : fromlist) {
      if (!PyUnicode_Check(item.ptr())) continue;
      std::string attr = ToUtf8(item);
      if (attr != "*" && IsSubmoduleAttribute(absolute, attr))
        frame->Record(absolute + "." + attr);
      else
        whole = true;
    }
    if (whole) frame->Record(absolute);
  } catch (py::error_already_set& e) {
    e.discard_as_unraisable("bridgeimport dependency recording");
  } catch (const std::exception&) {
  }
  return result;
}

namespace {
PyMethodDef kImportHookDef = {
    "__import__",
    reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(ImportHook)),
    METH_FASTCALL | METH_KEYWORDS,
    "__import__(name, globals=None, locals=None, fromlist=(), level=0)\n--\n\n"
    "builtins.__import__ while bridge modules execute: imports as the "
    "original does and records bridge-module dependencies (bridgeimport)."};
}  // namespace

LoadFrame::LoadFrame(std::string name, bool first_load, bool atomic)
    : parent_(innermost),
      name_(std::move(name)),
      first_load_(first_load),
      atomic_(atomic || atomic_depth > 0 || (innermost && innermost->atomic_)) {
  innermost = this;
  InstallHook();
}

LoadFrame::~LoadFrame() {
  // Run by a forced unwind (no GIL): the rollback and the hook's removal
  // below would touch Python without the GIL.
  owner_.ParkIfLost();
  if (!done_) Failed();
  innermost = parent_;
  RemoveHook();
}

void LoadFrame::Succeeded(py::handle module) {
  done_ = true;
  Deps& record = Graph()[name_];
  record.bridges = std::move(deps_);
  record.others = std::move(other_deps_);
  if (parent_ != nullptr) {
    if (parent_->name_ != name_ && parent_->deps_.insert(name_).second)
      parent_->loaded_deps_.push_back(name_);
    for (auto& entry : loaded_first_)
      parent_->loaded_first_.push_back(std::move(entry));
    if (first_load_)
      parent_->loaded_first_.emplace_back(
          name_, py::reinterpret_borrow<py::object>(module));
  }
  loaded_first_.clear();
}

std::vector<std::string> LoadFrame::Failed() {
  done_ = true;
  std::vector<std::string> removed;
  if (!atomic_) {
    if (parent_ != nullptr)
      for (auto& entry : loaded_first_)
        parent_->loaded_first_.push_back(std::move(entry));
    loaded_first_.clear();
    return removed;
  }
  py::dict modules = SysModules();
  for (auto it = loaded_first_.rbegin(); it != loaded_first_.rend(); ++it) {
    const std::string& name = it->first;
    PyObject* current = PyDict_GetItemString(modules.ptr(), name.c_str());
    if (current != it->second.ptr()) continue;  // replaced or gone: not ours
    if (PyDict_DelItemString(modules.ptr(), name.c_str()) != 0) PyErr_Clear();
    std::string parent(ParentName(name));
    PyObject* borrowed = parent.empty()
                             ? nullptr
                             : PyDict_GetItemString(modules.ptr(), parent.c_str());
    if (borrowed != nullptr) {
      py::object pkg = py::reinterpret_borrow<py::object>(borrowed);  // owned first
      std::string child(LastComponent(name));
      PyObject* attr = PyObject_GetAttrString(pkg.ptr(), child.c_str());
      if (attr == nullptr) PyErr_Clear();
      if (attr == it->second.ptr() &&
          PyObject_DelAttrString(pkg.ptr(), child.c_str()) != 0)
        PyErr_Clear();
      Py_XDECREF(attr);
    }
    Graph().erase(name);
    removed.push_back(name);
  }
  loaded_first_.clear();
  std::sort(removed.begin(), removed.end());
  return removed;
}

std::vector<std::string> LoadFrame::LoadedFirst() const {
  std::vector<std::string> names;
  for (const auto& entry : loaded_first_) names.push_back(entry.first);
  return names;
}

void LoadFrame::Record(const std::string& name) {
  if (name.empty() || name == name_ || deps_.contains(name) || other_deps_.contains(name))
    return;
  PyObject* borrowed = PyDict_GetItemString(PyImport_GetModuleDict(), name.c_str());
  if (borrowed == nullptr || borrowed == Py_None) return;
  // Owned before any Python code (attribute lookups) can run.
  py::object module = py::reinterpret_borrow<py::object>(borrowed);
  const NativeLoader* loader = BridgeLoaderOf(module);
  if (loader == nullptr)
    other_deps_.insert(name);
  else if (!loader->synthetic())
    deps_.insert(name);
}

AtomicScope::AtomicScope() { ++atomic_depth; }
AtomicScope::~AtomicScope() { --atomic_depth; }

void RecordDependency(const std::string& name) {
  LoadFrame* frame = innermost;
  if (frame != nullptr) frame->Record(name);
}

py::list Dependencies(const std::string& name) {
  std::vector<std::string> out;
  auto it = Graph().find(name);
  if (it != Graph().end()) out.assign(it->second.bridges.begin(), it->second.bridges.end());
  std::sort(out.begin(), out.end());
  py::list result;
  for (const std::string& n : out) result.append(n);
  return result;
}

py::list Dependents(const std::string& name) {
  std::vector<std::string> out;
  for (const auto& [module, deps] : Graph())
    if (deps.contains(name)) out.push_back(module);
  std::sort(out.begin(), out.end());
  py::list result;
  for (const std::string& n : out) result.append(n);
  return result;
}

py::dict DependencyGraph() {
  py::dict out;
  for (const auto& [module, deps] : Graph()) out[py::str(module)] = Dependencies(module);
  return out;
}

py::list DependentsClosure(const std::vector<std::string>& names) {
  // One pass builds the reverse edges; a breadth-first walk follows them.
  absl::flat_hash_map<std::string, std::vector<const std::string*>> users;
  for (const auto& [module, deps] : Graph()) {
    for (const std::string& dep : deps.bridges) users[dep].push_back(&module);
    for (const std::string& dep : deps.others) users[dep].push_back(&module);
  }
  absl::flat_hash_set<std::string> seen;
  std::vector<std::string> queue(names.begin(), names.end());
  while (!queue.empty()) {
    std::string current = std::move(queue.back());
    queue.pop_back();
    auto it = users.find(current);
    if (it == users.end()) continue;
    for (const std::string* user : it->second)
      if (seen.insert(*user).second) queue.push_back(*user);
  }
  std::vector<std::string> out(seen.begin(), seen.end());
  std::sort(out.begin(), out.end());
  py::list result;
  for (const std::string& n : out) result.append(n);
  return result;
}

py::dict DependencyRecords(const std::vector<std::string>& names) {
  auto sorted_list = [](const absl::flat_hash_set<std::string>& set) {
    std::vector<std::string> v(set.begin(), set.end());
    std::sort(v.begin(), v.end());
    py::list out;
    for (const std::string& n : v) out.append(n);
    return out;
  };
  py::dict out;
  for (const std::string& name : names) {
    auto it = Graph().find(name);
    if (it == Graph().end())
      out[py::str(name)] = py::none();
    else
      out[py::str(name)] =
          py::make_tuple(sorted_list(it->second.bridges), sorted_list(it->second.others));
  }
  return out;
}

void RestoreDependencyRecords(const py::dict& records) {
  for (auto item : records) {
    std::string name = ToUtf8(item.first);
    if (item.second.is_none()) {
      Graph().erase(name);
      continue;
    }
    py::tuple both = py::reinterpret_borrow<py::tuple>(item.second);
    Deps deps;
    for (py::handle dep : both[0]) deps.bridges.insert(ToUtf8(dep));
    for (py::handle dep : both[1]) deps.others.insert(ToUtf8(dep));
    Graph()[name] = std::move(deps);
  }
}

void RecordExecution(const std::string& name, double seconds, bool ok) {
  ExecStats& s = Executions()[name];
  ++s.executions;
  if (!ok) ++s.failures;
  s.total_seconds += seconds;
  s.last_seconds = seconds;
  s.last_serial = ++Serial();
  s.last_ok = ok;
}

uint64_t ExecutionSerial() { return Serial(); }

py::dict ExecutionsSince(uint64_t serial) {
  py::dict out;
  for (const auto& [name, s] : Executions()) {
    if (s.last_serial <= serial) continue;
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
  auto it = Executions().find(name);
  if (it == Executions().end()) return py::none();
  py::dict out;
  out["executions"] = it->second.executions;
  out["failures"] = it->second.failures;
  out["total_seconds"] = it->second.total_seconds;
  out["last_seconds"] = it->second.last_seconds;
  return out;
}

void RegisterLoadContext(py::module_& m) {
  PyObject* hook = PyCFunction_NewEx(&kImportHookDef, nullptr, nullptr);
  if (hook == nullptr) throw py::error_already_set();
  Hook().hook = py::reinterpret_steal<py::object>(hook);
  m.attr("import_hook") = Hook().hook;
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
