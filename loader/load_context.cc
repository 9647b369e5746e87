#include "loader/load_context.h"

#include <algorithm>

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
absl::flat_hash_map<std::string, absl::flat_hash_set<std::string>>& Graph() {
  static absl::flat_hash_map<std::string, absl::flat_hash_set<std::string>>
      graph;
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
  // "the original" by a patcher's undo): from then on builtins.__import__ is
  // never touched again and `wrapped` never changes, or hook -> theirs ->
  // hook would recurse. The hook just passes through.
  bool stranded = false;
};
HookState& Hook() {
  static NoDestructor<HookState> state;  // valid through finalisation
  return state.get();
}

struct ExecStats {
  uint64_t executions = 0;
  uint64_t failures = 0;
  double total_seconds = 0;
  double last_seconds = 0;
};
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

void AddIfBridge(const std::string& name,
                 absl::flat_hash_set<std::string>* deps,
                 const std::string& self) {
  if (name.empty() || name == self) return;
  PyObject* borrowed = PyDict_GetItemString(PyImport_GetModuleDict(), name.c_str());
  if (borrowed == nullptr) return;
  // Owned before any Python code (attribute lookups) can run.
  py::object module = py::reinterpret_borrow<py::object>(borrowed);
  if (!IsBridgeModule(module)) return;
  // Mount packages provided for a prefix run no code: nothing to depend on.
  py::object loader = module.attr("__spec__").attr("loader");
  if (!py::isinstance<NativeLoader>(loader)) return;
  if (!loader.cast<const NativeLoader&>().synthetic()) deps->insert(name);
}

void InstallHook() {
  HookState& h = Hook();
  if (h.open_frames++ > 0 || !h.hook || h.stranded) return;
  PyObject* builtins = PyEval_GetBuiltins();  // borrowed dict
  PyObject* current = builtins ? PyDict_GetItemString(builtins, "__import__") : nullptr;
  if (current == nullptr) return;
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
  PyObject* result = ParkIfEndedAtExit(
      [&] { return PyObject_Vectorcall(target.ptr(), args, nargs, kwnames); });
  LoadFrame* frame = innermost;
  if (result == nullptr || frame == nullptr) return result;

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
  if (params[0] == nullptr || !PyUnicode_Check(params[0])) return result;
  try {
    long level = params[4] ? PyLong_AsLong(params[4]) : 0;
    if (level == -1 && PyErr_Occurred()) throw py::error_already_set();
    std::string absolute = AbsoluteName(params[0], params[1], level);
    if (absolute.empty()) return result;
    // `import a.b.c` runs a, a.b and a.b.c; `from a.b import c` may import
    // the submodule a.b.c.
    for (absl::string_view p = absolute; !p.empty(); p = ParentName(p))
      AddIfBridge(std::string(p), &frame->deps_, frame->name_);
    if (params[3] != nullptr && params[3] != Py_None &&
        PyObject_IsTrue(params[3]) == 1) {
      py::object items = py::reinterpret_borrow<py::object>(params[3]);
      for (py::handle item : items) {
        if (!PyUnicode_Check(item.ptr())) continue;
        std::string attr = ToUtf8(item);
        if (attr == "*") continue;
        AddIfBridge(absolute + "." + attr, &frame->deps_, frame->name_);
      }
    }
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
  if (!done_) Failed();
  innermost = parent_;
  RemoveHook();
}

void LoadFrame::Succeeded(py::handle module) {
  done_ = true;
  Graph()[name_] = std::move(deps_);
  if (parent_ != nullptr) {
    if (parent_->name_ != name_) parent_->deps_.insert(name_);
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

AtomicScope::AtomicScope() { ++atomic_depth; }
AtomicScope::~AtomicScope() { --atomic_depth; }

void RecordDependency(const std::string& name) {
  LoadFrame* frame = innermost;
  if (frame != nullptr) AddIfBridge(name, &frame->deps_, frame->name_);
}

py::list Dependencies(const std::string& name) {
  std::vector<std::string> out;
  auto it = Graph().find(name);
  if (it != Graph().end()) out.assign(it->second.begin(), it->second.end());
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

void RecordExecution(const std::string& name, double seconds, bool ok) {
  ExecStats& s = Executions()[name];
  ++s.executions;
  if (!ok) ++s.failures;
  s.total_seconds += seconds;
  s.last_seconds = seconds;
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
  m.def("execution_stats", &ExecutionStats, py::arg("name"),
        "{executions, failures, total_seconds, last_seconds} of a bridge "
        "module's executions (compile + run), or None.");
}

}  // namespace bridgeimport
