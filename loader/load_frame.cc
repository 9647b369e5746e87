// load_frame.cc: dependency recording while bridge modules execute (see the
// .h).
#include "loader/load_frame.h"

#include <pthread.h>

#include <mutex>
#include <utility>

#include "absl/base/no_destructor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "finders/module_name.h"
#include "loader/bridge_loader.h"
#include "loader/dependency_graph.h"
#include "loader/py_support.h"
#include "loader/rollback.h"

namespace bridgeimport {
namespace {

// The innermost open frame of this thread.
thread_local LoadFrame* innermost = nullptr;
thread_local int atomic_depth = 0;

// One builtins function wrapped while frames are open: the wrapper and the
// function it replaced.
struct WrappedSlot {
  WrappedSlot(const char* name) : slot(name) {}
  const char* slot;
  py::object hook;
  py::object wrapped;
  // Someone else's function came to wrap ours (or ours was put back as "the
  // original" by a patcher's undo): while that lasts the slot is not touched
  // and `wrapped` never changes, or hook -> theirs -> hook would recurse. The
  // hook just passes through. It ends when the function we wrap is back in
  // builtins (see WrapSlot).
  bool stranded = false;
};
// The wrappers' bookkeeping: how many frames are open process-wide,
// __import__, and __lazy_import__ (PEP 810, 3.15+: what a lazy import
// statement calls; absent before). Never destroyed (NoDestructor): daemon
// threads and atexit handlers may still be importing while the interpreter
// finalises.
//
// Frames open and close on every thread. The thread whose frame takes the
// count from 0 to 1 (or back) wraps (or unwraps) builtins, and marks the
// state `busy` meanwhile: that work stores into the builtins dict, which may
// wait for the dict's own lock detached, so it runs with no C++ lock held (a
// stop-the-world pause or a fork() may come then: py_support.h). Other
// threads opening or closing a frame meanwhile wait, detached, until it is
// done (WaitForHookWork): no frame's code runs before the wrapper is in
// place. `hook` is set once at init; the other slot fields belong to the busy
// thread, except `wrapped`, which ImportHook reads: it changes under `mu`.
struct HookState {
  absl::Mutex mu;
  int open_frames ABSL_GUARDED_BY(mu) = 0;
  bool busy ABSL_GUARDED_BY(mu) = false;
  WrappedSlot plain = {"__import__"};
  WrappedSlot lazy = {"__lazy_import__"};
};
HookState& Hook() {
  static absl::NoDestructor<HookState> state;  // valid through finalisation
  return *state;
}

// The absolute module name an `__import__(name, globals, ..., level)` call
// refers to, following importlib._bootstrap._calc___package__; empty if it
// cannot be told.
std::string AbsoluteName(PyObject* name, PyObject* globals, long level) {
  std::optional<std::string> encoded = Utf8Name(name);
  if (!encoded) return std::string();  // no mount serves it: nothing to record
  std::string base = std::move(*encoded);
  if (level <= 0) return base;
  if (globals == nullptr || !PyDict_Check(globals)) return std::string();
  py::dict g = py::reinterpret_borrow<py::dict>(globals);
  const PyRefs& r = Refs();
  std::string package;
  if (g.contains(r.s_package) && !g[r.s_package].is_none()) {
    package = ToUtf8(g[r.s_package]);
  } else if (g.contains(r.s_spec) && !g[r.s_spec].is_none()) {
    package = ToUtf8(g[r.s_spec].attr("parent"));
  } else if (g.contains(r.s_name)) {
    package = ToUtf8(g[r.s_name]);
    if (!g.contains(r.s_path)) package = std::string(ParentName(package));
  }
  for (long i = 1; i < level && !package.empty(); ++i)
    package = std::string(ParentName(package));
  if (package.empty()) return std::string();
  return base.empty() ? package : package + "." + base;
}

// `absolute` as the str sys.modules is keyed by: the call's own name for an
// absolute import (usually an interned constant of the importing code).
py::object NameKey(PyObject* name, long level, const std::string& absolute) {
  if (level <= 0 && PyUnicode_CheckExact(name))
    return py::reinterpret_borrow<py::object>(name);
  return py::str(absolute);
}

// The submodule sys.modules holds under `sub` (a strong reference) if it is
// what `from package import attr` binds as attr, else a null object. All
// three are str; `sub` is "package.attr".
py::object SubmoduleAttribute(py::handle package, py::handle attr,
                              py::handle sub) {
  py::dict modules = SysModules();
  // Strong references: another thread may remove either entry meanwhile.
  py::object owned_pkg = DictItem(modules, package);
  py::object owned_sub = DictItem(modules, sub);
  if (!owned_pkg || !owned_sub) return py::object();
  PyObject* value = PyObject_GetAttr(owned_pkg.ptr(), attr.ptr());
  if (value == nullptr) {
    PyErr_Clear();
    return py::object();
  }
  bool same = value == owned_sub.ptr();
  Py_DECREF(value);
  return same ? owned_sub : py::object();
}

// The UTF-8 of str `item`, a view into it (valid while it lives). A str
// holding lone surrogates raises UnicodeEncodeError, as ToUtf8.
absl::string_view Utf8View(py::handle item) {
  Py_ssize_t size;
  const char* utf8 = PyUnicode_AsUTF8AndSize(item.ptr(), &size);
  if (utf8 == nullptr) throw py::error_already_set();
  return absl::string_view(utf8, static_cast<size_t>(size));
}

// `item` (a str, or a subclass) as the exact str an attribute lookup takes,
// so a subclass's own __eq__ or __hash__ never runs.
py::object ExactStr(py::handle item, absl::string_view utf8) {
  if (PyUnicode_CheckExact(item.ptr()))
    return py::reinterpret_borrow<py::object>(item);
  return py::str(utf8.data(), utf8.size());
}

// `fromlist` as a tuple: itself if it is one (what import statements pass;
// read in place, with no iterator object), else a copy of its items.
py::tuple AsTuple(py::handle fromlist) {
  if (PyTuple_CheckExact(fromlist.ptr()))
    return py::reinterpret_borrow<py::tuple>(fromlist);
  return py::tuple(py::reinterpret_borrow<py::object>(fromlist));
}

// builtins[slot] as a strong reference (null if absent).
py::object SlotValue(PyObject* builtins, const char* slot) {
  try {
    return DictItem(builtins, slot);
  } catch (py::error_already_set&) {
    return py::object();  // the error is cleared: an absent slot
  }
}

// `w.wrapped = value`, for ImportHook's readers; returns the old value, to be
// released after the lock.
py::object SetWrapped(WrappedSlot& w, py::object value) {
  absl::MutexLock lock(Hook().mu);
  return Exchange(w.wrapped, std::move(value));
}

// Run by the busy thread only (see HookState). Every reference it drops goes
// to `released`, dropped once the thread is no longer busy: dropping one may
// free an object and run Python code, which may open a frame.
void WrapSlot(PyObject* builtins, WrappedSlot& w,
              std::vector<py::object>& released) {
  if (!w.hook) return;
  released.push_back(
      SlotValue(builtins, w.slot));  // alive while builtins changes
  PyObject* current = released.back().ptr();
  if (current == nullptr) return;  // no __lazy_import__ before 3.15
  if (w.stranded) {
    // Still inside someone else's chain: leave it. But once they have put
    // back the very function we wrap (mock.patch's undo), wrapping it again
    // cannot recurse (hook -> wrapped is the whole chain), and without it
    // dependency recording would be off for the rest of the process.
    if (current != w.wrapped.ptr()) return;
    w.stranded = false;
  }
  if (current == w.hook.ptr()) {  // put back by someone else: never re-wrap
    w.stranded = true;
    return;
  }
  released.push_back(
      SetWrapped(w, py::reinterpret_borrow<py::object>(current)));
  if (PyDict_SetItemString(builtins, w.slot, w.hook.ptr()) != 0) PyErr_Clear();
}

void UnwrapSlot(PyObject* builtins, WrappedSlot& w,
                std::vector<py::object>& released) {
  if (w.stranded || !w.wrapped) return;
  released.push_back(SlotValue(builtins, w.slot));
  if (released.back().ptr() == w.hook.ptr()) {
    if (PyDict_SetItemString(builtins, w.slot, w.wrapped.ptr()) != 0)
      PyErr_Clear();
  } else {
    // Someone replaced it while we were installed and may call us.
    w.stranded = true;
  }
}

// Lets another thread's wrapping or unwrapping end: a short sleep, detached
// (no lock held, so neither the GIL nor a stop-the-world pause waits on it).
void WaitForHookWork() {
  PyThreadState* state = PyEval_SaveThread();
  absl::SleepFor(absl::Microseconds(50));
  ParkIfEndedAtExit([&] {
    PyEval_RestoreThread(state);
    return 0;
  });
}

// Counts a frame opening (+1) or closing (-1). True if this thread took the
// count from 0 to 1 or back and must now wrap or unwrap builtins, marked
// busy: call EndHookWork() after.
bool CountFrame(int delta) {
  HookState& h = Hook();
  for (;;) {
    {
      absl::MutexLock lock(h.mu);
      if (!h.busy) {
        h.open_frames += delta;
        h.busy = h.open_frames == (delta > 0 ? 1 : 0);
        return h.busy;
      }
    }
    WaitForHookWork();
  }
}

void EndHookWork() {
  HookState& h = Hook();
  absl::MutexLock lock(h.mu);
  h.busy = false;
}

void InstallHook() {
  if (!CountFrame(+1)) return;
  std::vector<py::object> released;           // dropped after EndHookWork()
  PyObject* builtins = PyEval_GetBuiltins();  // borrowed: this frame's builtins
  if (builtins != nullptr) {
    WrapSlot(builtins, Hook().plain, released);
    WrapSlot(builtins, Hook().lazy, released);
  }
  EndHookWork();
}

void RemoveHook() {
  if (!CountFrame(-1)) return;
  std::vector<py::object> released;  // dropped after EndHookWork()
  PyObject* builtins = PyEval_GetBuiltins();
  if (builtins != nullptr) {
    UnwrapSlot(builtins, Hook().plain, released);
    UnwrapSlot(builtins, Hook().lazy, released);
  }
  EndHookWork();
}

// The function `w` wraps now (a new reference), or null.
py::object WrappedBy(WrappedSlot HookState::*slot) {
  HookState& h = Hook();
  absl::MutexLock lock(h.mu);
  return (h.*slot).wrapped;  // Py_INCREF only; the copy dies after the lock
}

// A fork() while another thread was busy wrapping: that thread does not
// exist in the child, which would wait for it forever.
void ForgetHookWorkInChild() {
  HookState& h = Hook();
  absl::MutexLock lock(h.mu);
  h.busy = false;
}

// The (name, globals, locals, fromlist, level) of an __import__-style call.
void ImportParams(PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames,
                  PyObject* params[5]) {
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
}

}  // namespace

// builtins.__import__ while frames are open: the real import, then a record
// for this thread's innermost frame. Recording never fails an import.
PyObject* ImportHook(PyObject*, PyObject* const* args, Py_ssize_t nargs,
                     PyObject* kwnames) {
  py::object target = WrappedBy(&HookState::plain);  // held for the call
  if (!target) {
    PyErr_SetString(PyExc_ImportError, "__import__ not found");
    return nullptr;
  }
  PyObject* params[5] = {nullptr, nullptr, nullptr, nullptr, nullptr};
  ImportParams(args, nargs, kwnames, params);
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
    py::object key = NameKey(params[0], level, absolute);
    if (!fromlist) {
      frame->RecordWithParents(absolute, key);
      return result;
    }
    if (frame == caller) frame->ForgetLoadedSince(mark);
    frame->RecordFromImport(absolute, key, fromlist);
  } catch (py::error_already_set& e) {
    e.discard_as_unraisable("bridgeimport dependency recording");
  } catch (const std::exception&) {
  }
  return result;
}

// builtins.__lazy_import__ while frames are open (PEP 810): what a lazy
// import statement (or any import under `-X lazy_imports=all`) calls. The
// module it names is imported on first use, often after this execution has
// ended, where ImportHook no longer sees it; the statement is recorded
// instead, among the frame's lazy names (see LoadFrame::Succeeded).
PyObject* LazyImportHook(PyObject*, PyObject* const* args, Py_ssize_t nargs,
                         PyObject* kwnames) {
  py::object target = WrappedBy(&HookState::lazy);  // held for the call
  if (!target) {
    PyErr_SetString(PyExc_ImportError, "__lazy_import__ not found");
    return nullptr;
  }
  LoadFrame* caller = innermost;
  const size_t mark = caller != nullptr ? caller->loaded_deps_.size() : 0;
  PyObject* result = ParkIfEndedAtExit(
      [&] { return PyObject_Vectorcall(target.ptr(), args, nargs, kwnames); });
  LoadFrame* frame = innermost;
  if (result == nullptr || frame == nullptr) return result;
  PyObject* params[5] = {nullptr, nullptr, nullptr, nullptr, nullptr};
  ImportParams(args, nargs, kwnames, params);
  if (params[0] == nullptr || !PyUnicode_Check(params[0])) return result;
  try {
    long level = params[4] ? PyLong_AsLong(params[4]) : 0;
    if (level == -1 && PyErr_Occurred()) throw py::error_already_set();
    std::string absolute = AbsoluteName(params[0], params[1], level);
    if (absolute.empty()) return result;
    bool from = params[3] != nullptr && params[3] != Py_None &&
                PyObject_IsTrue(params[3]) == 1;
    if (PyErr_Occurred()) PyErr_Clear();
    // A lazy-imports filter may keep the import eager: then it is recorded
    // as ImportHook records one. Else `import a.b` binds a proxy, resolved on
    // first use; `from a import b` binds at once what loaded module a has
    // (its attribute b, or its loaded submodule a.b) and a proxy for the
    // rest. Proxies are recorded by name: once loaded they are what
    // ImportHook would record (whether a proxy's b is a submodule cannot be
    // told before a is loaded: then both a and a.b are).
    const bool eager = PyModule_Check(result);
    py::object key = NameKey(params[0], level, absolute);
    if (!from && eager) {
      frame->RecordWithParents(absolute, key);
    } else if (!from) {
      for (absl::string_view p = absolute; !p.empty(); p = ParentName(p))
        frame->lazy_deps_.insert(std::string(p));
    } else if (eager) {
      if (frame == caller) frame->ForgetLoadedSince(mark);  // as in ImportHook
      frame->RecordFromImport(absolute, key, py::handle(params[3]));
    } else {
      frame->RecordLazyFromImport(absolute, py::handle(params[3]));
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
PyMethodDef kLazyImportHookDef = {
    "__lazy_import__",
    reinterpret_cast<PyCFunction>(
        reinterpret_cast<void (*)(void)>(LazyImportHook)),
    METH_FASTCALL | METH_KEYWORDS,
    "__lazy_import__(name, globals=None, locals=None, fromlist=(), "
    "level=0)\n--\n\n"
    "builtins.__lazy_import__ while bridge modules execute: does what the "
    "original does and records the statement as a dependency (bridgeimport)."};
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
  Deps record;
  record.bridges = std::move(deps_);
  record.others = std::move(other_deps_);
  // Lazy import statements' names (PEP 810) count for dependents() and
  // transactions, not for dependencies(): the execution bound them but did
  // not import them. Unloaded names and attributes cost a string each.
  for (const std::string& lazy : lazy_deps_)
    if (lazy != name_ && !record.bridges.contains(lazy))
      record.others.insert(lazy);
  CommitDependencies(name_, std::move(record));
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
  if (!atomic_) {
    if (parent_ != nullptr)
      for (auto& entry : loaded_first_)
        parent_->loaded_first_.push_back(std::move(entry));
    loaded_first_.clear();
    return {};
  }
  std::vector<std::string> removed = RemoveLoadedModules(loaded_first_);
  for (const std::string& name : removed) EraseRecord(name);
  loaded_first_.clear();
  return removed;
}

std::vector<std::string> LoadFrame::LoadedFirst() const {
  std::vector<std::string> names;
  for (const auto& entry : loaded_first_) names.push_back(entry.first);
  return names;
}

bool LoadFrame::Known(const std::string& name) const {
  return name.empty() || name == name_ || deps_.contains(name) ||
         other_deps_.contains(name);
}

void LoadFrame::Record(const std::string& name, py::handle key) {
  if (Known(name)) return;
  // A strong reference: another thread may remove the entry meanwhile.
  py::object module =
      DictItem(SysModules(), key ? py::reinterpret_borrow<py::object>(key)
                                 : py::object(py::str(name)));
  if (module) RecordModule(name, module);
}

void LoadFrame::RecordModule(const std::string& name, py::handle module) {
  if (module.is_none()) return;
  py::object loader = BridgeLoaderOf(module);  // keeps the loader alive
  if (!loader)
    other_deps_.insert(name);
  else if (!loader.cast<const BridgeLoader&>().IsMountPackage())
    deps_.insert(name);
}

void LoadFrame::RecordWithParents(const std::string& absolute, py::handle key) {
  Record(absolute, key);
  for (absl::string_view p = ParentName(absolute); !p.empty();
       p = ParentName(p))
    Record(std::string(p));
}

void LoadFrame::ForgetLoadedSince(size_t mark) {
  for (size_t i = mark; i < loaded_deps_.size(); ++i)
    deps_.erase(loaded_deps_[i]);
  loaded_deps_.resize(mark);
}

// `from a import b, c` binds what it names: submodule a.b is a dependency of
// its own, a plain attribute c (or `*`) makes a one. `key` is `absolute` as
// a str.
void LoadFrame::RecordFromImport(const std::string& absolute, py::handle key,
                                 py::handle fromlist) {
  bool whole = false;
  std::string sub;  // "absolute.attr", its buffer reused
  for (py::handle item : AsTuple(fromlist)) {
    if (!PyUnicode_Check(item.ptr())) continue;
    absl::string_view attr = Utf8View(item);
    if (attr == "*") {
      whole = true;
      continue;
    }
    sub.assign(absolute).append(".").append(attr.data(), attr.size());
    py::object module =
        SubmoduleAttribute(key, ExactStr(item, attr), py::str(sub));
    if (!module)
      whole = true;
    else if (!Known(sub))
      RecordModule(sub, module);
  }
  if (whole) Record(absolute, key);
}

// A lazy `from a import b`: what loaded module a has is bound at once (its
// loaded submodule a.b, or its attribute b); the rest is a proxy, recorded
// by name.
void LoadFrame::RecordLazyFromImport(const std::string& absolute,
                                     py::handle fromlist) {
  py::dict modules = SysModules();
  py::object source = DictItem(modules, absolute.c_str());
  // Its namespace, read without attribute lookups (no __getattr__ runs).
  py::object ns =
      source && PyModule_Check(source.ptr())
          ? py::reinterpret_borrow<py::object>(PyModule_GetDict(source.ptr()))
          : py::object();
  bool whole = false;
  for (py::handle item : fromlist) {
    if (!PyUnicode_Check(item.ptr())) continue;
    std::string attr = ToUtf8(item);
    std::string sub = absolute + "." + attr;
    py::object value = ns ? DictItem(ns, attr.c_str()) : py::object();
    py::object module = value ? DictItem(modules, sub.c_str()) : py::object();
    if (module && module.ptr() == value.ptr()) {
      Record(sub);  // the loaded submodule, bound now
    } else if (value) {
      whole = true;  // an attribute of loaded a, bound now
    } else {
      lazy_deps_.insert(sub);
      if (!source) lazy_deps_.insert(absolute);
    }
  }
  if (whole) Record(absolute);
}

AtomicScope::AtomicScope() { ++atomic_depth; }
AtomicScope::~AtomicScope() { --atomic_depth; }

void RecordDependency(const std::string& name) {
  LoadFrame* frame = innermost;
  if (frame != nullptr) frame->Record(name);
}

void RegisterLoadFrames(py::module_& m) {
  HookState& h = Hook();
  PyObject* hook = PyCFunction_NewEx(&kImportHookDef, nullptr, nullptr);
  if (hook == nullptr) throw py::error_already_set();
  PyObject* lazy_hook =
      PyCFunction_NewEx(&kLazyImportHookDef, nullptr, nullptr);
  if (lazy_hook == nullptr) throw py::error_already_set();
  {
    // Once, before any frame can open (so read by busy threads unlocked).
    h.plain.hook = py::reinterpret_steal<py::object>(hook);
    h.lazy.hook = py::reinterpret_steal<py::object>(lazy_hook);
    static std::once_flag at_fork;
    std::call_once(at_fork, [] {
      pthread_atfork(nullptr, nullptr, ForgetHookWorkInChild);
    });
  }
  m.attr("import_hook") = py::handle(hook);
  m.attr("lazy_import_hook") = py::handle(lazy_hook);
}

}  // namespace bridgeimport
