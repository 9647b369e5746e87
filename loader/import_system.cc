// import_system.cc: the native _find_and_load / _load_unlocked (see the .h).
#include "loader/import_system.h"

#include <optional>
#include <utility>

#include "absl/base/no_destructor.h"
#include "finders/module_name.h"
#include "loader/bridge_loader.h"
#include "loader/cpython_private.h"
#include "loader/finder.h"
#include "loader/py_support.h"

namespace bridgeimport {
namespace {

// --- module locks ----------------------------------------------------------

// The module locks of the bridge modules loaded natively, kept alive (one
// small object per module). Why: _get_module_lock() and the weakref callback
// that runs when a module lock dies execute bytecode while holding the
// interpreter's import lock. CPython < 3.12 ends a daemon thread there at
// exit with the import lock held; threads then waiting for it wait on memory
// that finalisation frees (_PyImport_Fini), and the exiting process crashes.
// Stock importlib has that race too; a kept lock takes bridge loads out of it.
// Never destroyed: finalisation must not free a lock a parked thread holds.
// Made at module init (InitImportSystem), before any thread can load: a
// dict, safe for many threads on its own. Every read takes a strong
// reference: Keep() on another thread may replace (and free) an entry.
py::dict& KeptLocks() {
  static absl::NoDestructor<py::dict> locks;
  return *locks;
}

// The import system's lock for `name`: the kept one while importlib's
// _module_locks still maps `name` to it (reading that is no bytecode), else
// _get_module_lock(name). While the kept lock lives, _get_module_lock(name)
// can only return it, so the answer stays right after the check.
py::object ModuleLockFor(const py::object& name) {
  py::object kept = DictItem(KeptLocks(), name);
  if (kept && ModuleLockIsCurrent(name, kept)) return kept;
  return GetModuleLock(name);
}

// Holds one of the import system's per-module locks (_ModuleLockManager).
class ModuleLockGuard {
 public:
  explicit ModuleLockGuard(const py::object& name)
      : lock_(ModuleLockFor(name)) {
    PyObject* r = ParkIfEndedAtExit(
        [&] { return PyObject_CallMethod(lock_.ptr(), "acquire", nullptr); });
    if (r == nullptr) throw py::error_already_set();
    Py_DECREF(r);
  }
  ~ModuleLockGuard() {
    // Run by a forced unwind (no GIL): release() would run without the GIL.
    owner_.ParkIfLost();
    // Release even while an exception is propagating; never throw here.
    // Everything below may run Python code (release(), the unraisable hook,
    // importlib's weakref callback when the last reference to the lock goes)
    // that may drop the GIL: see ParkIfEndedAtExit. The reference is dropped
    // with a raw Py_DECREF inside it, not by pybind11's noexcept ~object(),
    // through which the unwind would call std::terminate.
    PyObject* lock = lock_.release().ptr();
    ParkIfEndedAtExit([&] {
      PyObject* type;
      PyObject* value;
      PyObject* traceback;
      PyErr_Fetch(&type, &value, &traceback);
      PyObject* r = PyObject_CallMethod(lock, "release", nullptr);
      if (r == nullptr) PyErr_WriteUnraisable(lock);
      Py_XDECREF(r);
      Py_DECREF(lock);
      PyErr_Restore(type, value, traceback);
      return 0;
    });
  }
  // Keeps the lock alive for the next load of `name` (see KeptLocks).
  void Keep(const py::object& name) {
    if (PyDict_SetItem(KeptLocks().ptr(), name.ptr(), lock_.ptr()) != 0)
      throw py::error_already_set();
  }
  ModuleLockGuard(const ModuleLockGuard&) = delete;
  ModuleLockGuard& operator=(const ModuleLockGuard&) = delete;

 private:
  GilOwner owner_;
  py::object lock_;
};

// --- the steps of _find_and_load ------------------------------------------

// Only when a plain import would reach this finder first, and nothing the
// C import path adds (-X importtime) is asked for. Audits the import (the
// "import" event CPython's _find_and_load raises) when it applies.
bool NativePathApplies(const py::object& name) {
  py::list meta_path(Refs().sys.attr("meta_path"));
  if (meta_path.size() == 0 || !py::isinstance<NativeFinder>(meta_path[0]) ||
      ImportTimeEnabled())
    return false;
  py::object sys_path = py::getattr(Refs().sys, "path", py::none());
  py::object hooks = py::getattr(Refs().sys, "path_hooks", py::none());
  if (PySys_Audit("import", "OOOOO", name.ptr(), Py_None, sys_path.ptr(),
                  meta_path.ptr(), hooks.ptr()) < 0)
    throw py::error_already_set();
  return true;
}

// The module's parent package, as _find_and_load_unlocked sees it.
struct Parent {
  std::string name;              // "" for a top-level module
  std::string child;             // the module's last component
  py::object path = py::none();  // the parent's __path__ (None: top level)
  py::object spec = py::none();  // the parent's __spec__
};

// _find_and_load_unlocked's first half: the parent is imported (under the
// module's lock); if that imported the module too ("crazy side-effects"),
// or the parent is not a package, the import system's own path takes over
// (nullopt).
std::optional<Parent> ImportParent(const py::dict& modules,
                                   const py::object& name,
                                   const std::string& utf8) {
  Parent parent;
  parent.name = std::string(ParentName(utf8));
  parent.child = std::string(LastComponent(utf8));
  if (parent.name.empty()) return parent;
  if (!modules.contains(parent.name)) {
    PyObject* top = ParkIfEndedAtExit([&] {
      return PyImport_ImportModuleLevel(parent.name.c_str(), nullptr, nullptr,
                                        nullptr, 0);
    });
    if (!top) throw py::error_already_set();
    Py_DECREF(top);
  }
  if (modules.contains(name)) return std::nullopt;
  py::object parent_module = DictItem(modules, parent.name.c_str());
  if (!parent_module || !py::hasattr(parent_module, "__path__"))
    return std::nullopt;
  parent.path = parent_module.attr("__path__");
  parent.spec = py::getattr(parent_module, "__spec__", py::none());
  return parent;
}

// _find_spec: the finder is asked under the global import lock. None (or a
// name the finder's work imported meanwhile, which is the import system's):
// a null object.
py::object FindSpecUnderImportLock(NativeFinder& finder,
                                   const py::dict& modules,
                                   const py::object& name,
                                   const py::object& path) {
  py::object spec;
  {
    ImportLockGuard import_lock;
    spec = py::reinterpret_steal<py::object>(
        finder.FindSpec(name.ptr(), path.ptr(), Py_None));
  }
  if (!spec) throw py::error_already_set();
  if (spec.is_none() || modules.contains(name)) return py::object();
  return spec;
}

// module_from_spec + _init_module_attrs, in CPython's order.
py::object ModuleFromSpec(const py::object& name, const py::object& spec,
                          const py::object& loader) {
  py::object module =
      py::reinterpret_steal<py::object>(PyModule_NewObject(name.ptr()));
  if (!module) throw py::error_already_set();
  module.attr("__loader__") = loader;
  module.attr("__package__") = GetAttrParked(spec, "parent");
  module.attr("__spec__") = spec;
  py::object locations = spec.attr("submodule_search_locations");
  if (!locations.is_none()) module.attr("__path__") = locations;
  if (py::bool_(GetAttrParked(
          spec, "has_location"))) {  // mount packages have no file
    module.attr("__file__") = spec.attr("origin");
    SetCachedAttribute(module, spec);
  }
  return module;
}

// Runs the module in sys.modules, as _load_unlocked: _initializing is set
// before the insert (the C fast path waits only on that flag); on failure
// the entry goes (the loader rolled back the rest); on success the entry is
// moved to the end, and a module that replaced itself there wins.
py::object LoadUnlocked(const GilOwner& owner, const py::dict& modules,
                        const py::object& name, const py::object& spec,
                        const Parent& parent) {
  py::object loader_obj = spec.attr("loader");
  BridgeLoader& loader = loader_obj.cast<BridgeLoader&>();
  py::object module = ModuleFromSpec(name, spec, loader_obj);
  UninitializedSubmoduleMark mark(parent.spec, parent.child);
  SetSpecInitializing(spec, true);
  try {
    modules[name] = module;
    try {
      loader.ExecModule(module);
    } catch (py::error_already_set&) {
      if (PyDict_DelItem(modules.ptr(), name.ptr()) != 0) PyErr_Clear();
      throw;
    }
    // sys.modules.pop(name), as a strong reference (not a borrowed one that
    // another thread's `del sys.modules[name]` could free).
    py::object current = DictItem(modules, name);
    if (!current) {
      PyErr_SetObject(PyExc_KeyError, name.ptr());
      throw py::error_already_set();
    }
    module = std::move(current);
    if (PyDict_DelItem(modules.ptr(), name.ptr()) != 0)
      throw py::error_already_set();
    modules[name] = module;
  } catch (...) {
    owner.ParkIfLost();  // a forced unwind: no Python without the GIL
    SetSpecInitializing(spec, false);
    throw;
  }
  SetSpecInitializing(spec, false);
  return module;
}

// _find_and_load_unlocked's end: the module becomes an attribute of its
// parent (an ImportWarning if the parent refuses it).
void BindToParent(const py::dict& modules, const Parent& parent,
                  const py::object& module) {
  if (parent.name.empty()) return;
  py::object parent_now = DictItem(modules, parent.name.c_str());
  if (!parent_now) return;
  if (PyObject_SetAttrString(parent_now.ptr(), parent.child.c_str(),
                             module.ptr()) == 0)
    return;
  PyErr_Clear();
  std::string message = "Cannot set an attribute on '" + parent.name +
                        "' for child module '" + parent.child + "'";
  if (PyErr_WarnEx(PyExc_ImportWarning, message.c_str(), 1) != 0)
    throw py::error_already_set();
}

}  // namespace

void InitImportSystem() { KeptLocks(); }

py::object FindAndLoadNatively(NativeFinder& finder, const py::object& name,
                               const std::string& utf8) {
  const GilOwner owner;  // for the cleanups of LoadUnlocked (see GilOwner)
  if (!NativePathApplies(name)) return py::object();
  py::dict modules = SysModules();
  // As _find_and_load: wait for the module's lock, then look again. Present:
  // another thread imported it, the general path returns it (waiting for
  // its _initializing to end). Absent: a concurrent import failed, and this
  // thread imports it itself (and sees the module's own error), as importlib
  // does.
  ModuleLockGuard lock(name);
  if (modules.contains(name)) return py::object();
  std::optional<Parent> parent = ImportParent(modules, name, utf8);
  if (!parent) return py::object();
  py::object spec =
      FindSpecUnderImportLock(finder, modules, name, parent->path);
  if (!spec) return py::object();
  py::object module = LoadUnlocked(owner, modules, name, spec, *parent);
  lock.Keep(name);
  BindToParent(modules, *parent, module);
  SettleLazyAttributes(module, name);
  return module;
}

py::object ImportThroughImportSystem(const py::object& name) {
  // The import system proper: same module locks, same sys.modules protocol
  // as a plain import statement. The module is the one the import returns
  // (a fromlist naming an attribute every module has makes it return the
  // module, not the top-level package), as importlib.import_module returns
  // _find_and_load's: looking it up again would race with another thread's
  // reload, which takes it out of sys.modules for an instant (_exec).
  PyObject* module = ParkIfEndedAtExit([&] {
    return PyImport_ImportModuleLevelObject(name.ptr(), nullptr, nullptr,
                                            Refs().name_fromlist.ptr(), 0);
  });
  if (!module) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(module);
}

}  // namespace bridgeimport
