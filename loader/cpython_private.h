// cpython_private.h: every use of CPython's private API, in one file.
//
// bridgeimport's native import path (import_system.h) and its bytecode
// policy (pyc_policy.h) do what importlib._bootstrap and
// _bootstrap_external do, so they need some of importlib's own private
// machinery: its module locks, ModuleSpec's _initializing flag, helpers of
// the _imp module. Each touch point below says why it is needed and on which
// CPython versions it exists. Nothing else in loader/ calls a _Py* function,
// reads an underscore attribute of the import system, or holds a version #if
// for one; a new CPython that changes one of them is fixed here.
//
// Example (a module lock, as _find_and_load takes it):
//
//   py::object lock = GetModuleLock(name);   // importlib's own lock object
//   if (ModuleLockIsCurrent(name, lock)) ... // _module_locks still maps it
#ifndef BRIDGEIMPORT_LOADER_CPYTHON_PRIVATE_H_
#define BRIDGEIMPORT_LOADER_CPYTHON_PRIVATE_H_

#include <pybind11/pybind11.h>

#include <string>

namespace bridgeimport {

namespace py = pybind11;

// The thread state of the calling thread, or null, without the fatal error
// PyThreadState_Get() raises when there is none. Needed by GilOwner
// (py_support.h) to notice that a destructor runs in a thread that lost the
// GIL (the forced unwind of a daemon thread ended at exit). Every supported
// version (3.9+) has _PyThreadState_UncheckedGet; 3.13 added the public name
// PyThreadState_GetUnchecked for the same function.
inline PyThreadState* UncheckedThreadState() {
  return _PyThreadState_UncheckedGet();
}

// The frozen import system (_frozen_importlib and
// _frozen_importlib_external: the modules the interpreter actually runs,
// always in sys.modules), else their importlib alias (importlib._bootstrap,
// importlib._bootstrap_external). Reading them imports nothing, where
// importlib.util would cost contextlib, functools and collections on the
// first bridge import (issue 11). All versions.
py::module_ FrozenBootstrap();
py::module_ FrozenBootstrapExternal();

// Looks up the private objects below. Once, from InitPyRefs, while the
// module initialises (before any other thread can reach the extension).
void InitCPythonPrivate();

// --- the import system's locks (importlib._bootstrap) ---------------------

// Holds the import system's global lock (_imp.acquire_lock()), as
// importlib._bootstrap._ImportLockContext does around each finder's
// find_spec: the native import path asks the finder under it as _find_spec
// does. _imp.acquire_lock/release_lock exist on every supported version.
// Re-entrant for its thread; parked at exit as ModuleLockGuard.
class ImportLockGuard {
 public:
  ImportLockGuard();
  ~ImportLockGuard();
  ImportLockGuard(const ImportLockGuard&) = delete;
  ImportLockGuard& operator=(const ImportLockGuard&) = delete;

 private:
  PyThreadState* tstate_;  // see GilOwner
};

// importlib._bootstrap._get_module_lock(name): the per-module lock a plain
// import of `name` takes, so that the native path and importlib exclude each
// other. Private on every version (3.9+).
py::object GetModuleLock(const py::object& name);

// True if importlib._bootstrap._module_locks (a dict of weak references,
// 3.9+; None if a future version drops it) maps `name` to `lock`. Reading it
// runs no bytecode, unlike _get_module_lock (see import_system.cc for why
// that matters at exit).
bool ModuleLockIsCurrent(const py::object& name, const py::object& lock);

// True if this interpreter's _find_and_load looks again after the
// _initializing check and imports afresh if the module left sys.modules
// meanwhile (gh-143650: 3.13.13+, 3.14.x). Told by _find_and_load calling
// itself (its co_names), since the fix was backported within minor versions.
bool FindAndLoadRechecks();

// --- ModuleSpec's private state (importlib._bootstrap) --------------------

// spec._initializing: True while _load_unlocked executes the module; the C
// fast path of `import` (import_ensure_initialized) waits on the module
// lock only while it is set. 3.9+. False for a spec without it.
bool SpecInitializing(py::handle spec);
void SetSpecInitializing(py::handle spec, bool value);

// parent_spec._uninitialized_submodules (3.12+; absent before): the names of
// a package's submodules being loaded, which the `from package import sub`
// path of 3.12+ consults to report circular imports. Appends `child` while
// alive, as _find_and_load_unlocked does; does nothing where the list is
// absent or `parent_spec` is None.
class UninitializedSubmoduleMark {
 public:
  UninitializedSubmoduleMark(py::object parent_spec, const std::string& child);
  ~UninitializedSubmoduleMark();
  UninitializedSubmoduleMark(const UninitializedSubmoduleMark&) = delete;
  UninitializedSubmoduleMark& operator=(const UninitializedSubmoduleMark&) =
      delete;

 private:
  PyThreadState* tstate_;  // see GilOwner
  py::object spec_;        // null when nothing was appended
};

// module.__cached__ = spec.cached, as _init_module_attrs does before 3.15
// (3.15 no longer sets it); nothing on 3.15+.
void SetCachedAttribute(py::handle module, py::handle spec);

// 3.15+ (PEP 810), as _find_and_load_unlocked: _imp._set_lazy_attributes
// settles the name's pending lazy imports (it leaves sys.lazy_modules). A
// failure is an ImportWarning, as there. Nothing before 3.15.
void SettleLazyAttributes(py::handle module, const py::object& name);

// logging.Logger._cache (3.7+; the logging module's, not the import
// system's): the dict isEnabledFor() memoises its answers in, which logging
// clears in place on every setLevel()/disable(). Reading it makes
// DebugEnabled() (debug_log.h) one dict lookup. A new reference if it is a
// dict, else null with no error set.
PyObject* LoggerLevelCache(PyObject* logger);

// True under -X importtime (sys._xoptions, 3.9+): the C import path then
// prints timings the native path would not, so it steps aside.
bool ImportTimeEnabled();

// --- bytecode (importlib._bootstrap_external, _imp) -----------------------

// The key of a hash-based pyc for source bytes `data`, as
// importlib.util.source_hash computes it: _imp.source_hash(key, data) with
// key int.from_bytes(MAGIC_NUMBER, "little"), which 3.14 moved from
// _bootstrap_external._RAW_MAGIC_NUMBER to _imp.pyc_magic_number_token.
py::bytes SourceHash(const std::string& data);

// _imp.check_hash_based_pycs ("default", "always" or "never"; 3.7+): the
// --check-hash-based-pycs option, which decides whether a hash-based pyc's
// source is read and hashed.
std::string CheckHashBasedPycs();

// _imp._fix_co_filename(code, path) (3.9+): points the code object (and its
// nested ones) at the source's real path, as SourceLoader.get_code does for
// code read from a pyc written under another name.
void FixCodeFilename(py::handle code, const std::string& path);

}  // namespace bridgeimport

#endif  // BRIDGEIMPORT_LOADER_CPYTHON_PRIVATE_H_
