// cpython_private.cc: the private CPython API bridgeimport uses (see the .h).
#include "loader/cpython_private.h"

#include <unistd.h>

#include "absl/base/no_destructor.h"
#include "loader/py_support.h"

namespace bridgeimport {
namespace {

// Written once by InitCPythonPrivate, before any other thread can reach the
// extension, and only read after (the rules of py_support.h). Never
// destroyed: imports still happen during finalisation.
struct PrivateRefs {
  py::object imp;              // the _imp module
  py::object lock_held;        // _imp.lock_held
  py::object source_hash;      // _imp.source_hash
  py::object raw_magic;        // its key (see SourceHash)
  py::object fix_co_filename;  // _imp._fix_co_filename
  py::object get_module_lock;  // _bootstrap._get_module_lock
  py::object module_locks;     // _bootstrap._module_locks, or None
  bool find_and_load_rechecks = false;
};

PrivateRefs& MutablePrivate() {
  static absl::NoDestructor<PrivateRefs> refs;
  return *refs;
}
const PrivateRefs& Private() { return MutablePrivate(); }

// Runs `call` (a C API call returning a new reference or null) with the
// pending exception saved, reporting its failure as unraisable on `where`:
// for destructors, which must neither throw nor lose an exception that is
// propagating.
template <typename F>
void CallPreservingError(PyObject* where, F&& call) {
  ParkIfEndedAtExit([&] {
    PyObject* type;
    PyObject* value;
    PyObject* traceback;
    PyErr_Fetch(&type, &value, &traceback);
    PyObject* r = call();
    if (r == nullptr) PyErr_WriteUnraisable(where);
    Py_XDECREF(r);
    PyErr_Restore(type, value, traceback);
    return 0;
  });
}

}  // namespace

namespace {

py::module_ FrozenImportlib(const char* frozen, const char* alias) {
  py::object found = SysModules().attr("get")(frozen);
  return py::reinterpret_borrow<py::module_>(
      found.is_none() ? py::module_::import(alias) : found);
}

}  // namespace

py::module_ FrozenBootstrap() {
  return FrozenImportlib("_frozen_importlib", "importlib._bootstrap");
}

py::module_ FrozenBootstrapExternal() {
  return FrozenImportlib("_frozen_importlib_external",
                         "importlib._bootstrap_external");
}

void InitCPythonPrivate() {
  PrivateRefs& r = MutablePrivate();
  py::module_ bootstrap = FrozenBootstrap();
  py::module_ external = FrozenBootstrapExternal();
  r.imp = py::module_::import("_imp");
  r.lock_held = r.imp.attr("lock_held");
  r.raw_magic = py::hasattr(r.imp, "pyc_magic_number_token")
                    ? r.imp.attr("pyc_magic_number_token")
                    : external.attr("_RAW_MAGIC_NUMBER");
  r.source_hash = r.imp.attr("source_hash");
  r.fix_co_filename = r.imp.attr("_fix_co_filename");
  r.get_module_lock = bootstrap.attr("_get_module_lock");
  r.module_locks = py::getattr(bootstrap, "_module_locks", py::none());
  py::object find_and_load =
      py::getattr(bootstrap, "_find_and_load", py::none());
  py::object code = py::getattr(find_and_load, "__code__", py::none());
  py::object names = py::getattr(code, "co_names", py::tuple());
  r.find_and_load_rechecks =
      PySequence_Contains(names.ptr(), py::str("_find_and_load").ptr()) == 1;
}

namespace {

// Before 3.13, _imp.acquire_lock() waits for the global import lock with the
// GIL released, inside CPython, and CPython frees that lock at finalisation
// (_PyImport_Fini) under any thread still waiting there: the exiting process
// crashes (issue 15, part 4; benchmarks/exit_stress.py). The holder at exit
// is typically a daemon thread parked while it held the lock. So while
// another thread holds it, wait here instead, where taking the GIL back
// parks a thread ended at exit. A bounded wait: the holder may be this very
// thread (an import inside a finder that stock _find_spec called under the
// lock), which only the blocking acquire below can pass. From 3.13 the lock
// is a PyMutex that finalisation does not free.
void WaitWhileImportLockHeldElsewhere() {
#if PY_VERSION_HEX < 0x030D0000
  constexpr int kPolls = 200;  // at least 1 ms: far longer than a finder call
  for (int i = 0; i < kPolls; ++i) {
    PyObject* held = ParkIfEndedAtExit(
        [&] { return PyObject_CallNoArgs(Private().lock_held.ptr()); });
    if (held == nullptr) {
      PyErr_Clear();  // the blocking acquire reports what is wrong
      return;
    }
    bool busy = held == Py_True;
    Py_DECREF(held);
    if (!busy) return;
    ParkIfEndedAtExit([] {
      Py_BEGIN_ALLOW_THREADS usleep(5);
      Py_END_ALLOW_THREADS return 0;
    });
  }
#endif
}

}  // namespace

ImportLockGuard::ImportLockGuard() : tstate_(PyThreadState_Get()) {
  WaitWhileImportLockHeldElsewhere();
  PyObject* r = ParkIfEndedAtExit([&] {
    return PyObject_CallMethod(Private().imp.ptr(), "acquire_lock", nullptr);
  });
  if (r == nullptr) throw py::error_already_set();
  Py_DECREF(r);
}

ImportLockGuard::~ImportLockGuard() {
  if (UncheckedThreadState() != tstate_) ParkForever();  // see GilOwner
  PyObject* imp = Private().imp.ptr();
  CallPreservingError(
      imp, [&] { return PyObject_CallMethod(imp, "release_lock", nullptr); });
}

py::object GetModuleLock(const py::object& name) {
  return CallParked(Private().get_module_lock, py::make_tuple(name));
}

bool ModuleLockIsCurrent(const py::object& name, const py::object& lock) {
  PyObject* locks = Private().module_locks.ptr();
  if (!PyDict_Check(locks)) return false;
  // A strong reference to the weakref: the callback of a dying lock (on any
  // thread) deletes entries of _module_locks.
  py::object ref = DictItem(locks, name);
  if (!ref || !PyWeakref_Check(ref.ptr())) return false;
#if PY_VERSION_HEX >= 0x030D0000
  // 3.13 deprecates PyWeakref_GetObject (a borrowed reference another thread
  // may free) for PyWeakref_GetRef.
  PyObject* target = nullptr;
  if (PyWeakref_GetRef(ref.ptr(), &target) < 0) throw py::error_already_set();
  Py_XDECREF(target);  // `lock` keeps it alive: comparing the address is enough
#else
  PyObject* target = PyWeakref_GetObject(ref.ptr());  // borrowed
#endif
  return target == lock.ptr();
}

bool FindAndLoadRechecks() { return Private().find_and_load_rechecks; }

bool SpecInitializing(py::handle spec) {
  if (spec.is_none()) return false;
  return py::bool_(py::getattr(spec, "_initializing", py::bool_(false)));
}

void SetSpecInitializing(py::handle spec, bool value) {
  spec.attr("_initializing") = py::bool_(value);
}

UninitializedSubmoduleMark::UninitializedSubmoduleMark(py::object parent_spec,
                                                       const std::string& child)
    : tstate_(PyThreadState_Get()) {
  if (parent_spec.is_none() ||
      !py::hasattr(parent_spec, "_uninitialized_submodules"))
    return;
  parent_spec.attr("_uninitialized_submodules").attr("append")(child);
  spec_ = std::move(parent_spec);
}

UninitializedSubmoduleMark::~UninitializedSubmoduleMark() {
  if (!spec_) return;
  if (UncheckedThreadState() != tstate_) ParkForever();  // see GilOwner
  // _uninitialized_submodules.pop(); a failure is forgotten, as the
  // `finally:` of _find_and_load_unlocked cannot report one either.
  PyObject* list =
      PyObject_GetAttrString(spec_.ptr(), "_uninitialized_submodules");
  PyObject* r = list ? ParkIfEndedAtExit([&] {
    return PyObject_CallMethod(list, "pop", nullptr);
  })
                     : nullptr;
  if (r == nullptr) PyErr_Clear();
  Py_XDECREF(r);
  Py_XDECREF(list);
}

void SetCachedAttribute(py::handle module, py::handle spec) {
#if PY_VERSION_HEX < 0x030F0000  // 3.15's _init_module_attrs no longer sets it
  py::object cached = GetAttrParked(spec, "cached");
  if (!cached.is_none()) module.attr("__cached__") = cached;
#else
  (void)module;
  (void)spec;
#endif
}

void SettleLazyAttributes(py::handle module, const py::object& name) {
#if PY_VERSION_HEX >= 0x030F0000
  py::object settle =
      py::getattr(Private().imp, "_set_lazy_attributes", py::none());
  if (settle.is_none()) return;
  PyObject* r = PyObject_CallFunctionObjArgs(settle.ptr(), module.ptr(),
                                             name.ptr(), nullptr);
  if (r == nullptr) {
    py::error_already_set e;
    std::string message = "Cannot set lazy attributes on '" + ToUtf8(name) +
                          "': " + py::repr(e.value()).cast<std::string>();
    if (PyErr_WarnEx(PyExc_ImportWarning, message.c_str(), 1) != 0)
      throw py::error_already_set();
  }
  Py_XDECREF(r);
#else
  (void)module;
  (void)name;
#endif
}

PyObject* LoggerLevelCache(PyObject* logger) {
  PyObject* cache = PyObject_GetAttrString(logger, "_cache");
  if (cache != nullptr && PyDict_CheckExact(cache)) return cache;
  Py_XDECREF(cache);
  PyErr_Clear();
  return nullptr;
}

bool ImportTimeEnabled() {
  // sys._xoptions as an attribute (a strong reference), not PySys_GetXOptions'
  // borrowed one.
  py::object xoptions = py::getattr(Refs().sys, "_xoptions", py::none());
  if (!PyDict_Check(xoptions.ptr())) return false;
  int present = PyDict_Contains(xoptions.ptr(), py::str("importtime").ptr());
  if (present < 0) PyErr_Clear();
  return present == 1;
}

py::bytes SourceHash(const std::string& data) {
  const PrivateRefs& r = Private();
  return r.source_hash(r.raw_magic, py::bytes(data));
}

std::string CheckHashBasedPycs() {
  return py::getattr(Private().imp, "check_hash_based_pycs", py::str("default"))
      .cast<std::string>();
}

void FixCodeFilename(py::handle code, const std::string& path) {
  Private().fix_co_filename(code, path);
}

}  // namespace bridgeimport
