// py_support.h: the few CPython facilities the native finder and loader share.
//
//  * References to interpreter objects looked up once (ModuleSpec, compile,
//    decode_source, ...), and the names the import hook reads on every
//    import, interned once; valid until the process ends: imports can still
//    happen during finalisation.
//  * The exception types of bridgeimport (all subclasses of ImportError) and
//    its warning category BridgeImportWarning (a UserWarning).
//  * Helpers: add a note to an exception on every supported Python, read a
//    whole file without a Python file object, validate a name exactly as
//    str.isidentifier() would, read dicts other threads change.
//  * The private CPython API some of these rest on lives in
//    cpython_private.h, and nowhere else.
//
// Free threading (PEP 703). The extension declares Py_MOD_GIL_NOT_USED
// (module.cc): on a free-threaded build its code runs in many threads at once,
// and on any build other threads run whenever Python code runs. The rules
// every file of loader/ follows:
//  * Each piece of mutable C++ state has an absl::Mutex (ABSL_GUARDED_BY). A
//    critical section under one calls no Python C API beyond Py_INCREF and
//    moving pointers: no Py_DECREF, no new Python object, nothing that can run
//    a finaliser. So a thread that blocks on it while attached (or holding the
//    GIL) waits for C++ work only, never for the GIL, a stop-the-world pause or
//    its own re-entry. Python objects are built after the lock is released,
//    and references leave guarded slots through Exchange() (below).
//    Being pure C++, such a section is never cut by a stop-the-world pause,
//    so no os.fork() finds one of these mutexes held (the free-threaded build
//    stops the world to fork; with the GIL only the forking thread runs).
//    Work that must call the C API exclusively (wrapping builtins,
//    load_frame.cc) is marked by a flag instead; threads that wait for it
//    wait detached, and a fork() child forgets it.
//  * An object read from a dict other threads may change (sys.modules, module
//    namespaces, builtins, importlib's lock table) is taken as a strong
//    reference (DictItem): a borrowed one may be freed before its first use.
//  * What InitPyRefs looks up is written once, while the module initialises
//    (before any other thread can reach the extension), and only read after.
//  * Thread-local state (load frames, the elsewhere-guard) needs no lock.
#ifndef BRIDGEIMPORT_LOADER_PY_SUPPORT_H_
#define BRIDGEIMPORT_LOADER_PY_SUPPORT_H_

#include <pybind11/pybind11.h>
#include <unistd.h>

#if defined(__GLIBCXX__)
#include <cxxabi.h>  // abi::__forced_unwind
#endif

#include <new>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/no_destructor.h"
#include "finders/file_io.h"
#include "loader/cpython_private.h"

namespace bridgeimport {

namespace py = pybind11;

// CPython before 3.14 ends a daemon thread that wants the GIL back while the
// interpreter finalises with pthread_exit(): a forced unwind through our
// frames, whose destructors and catch blocks (Py_DECREF, a module lock's
// release(), a ModuleSpec property) would then run Python code without the
// GIL, next to the finalising main thread, and crash the exiting process.
// Such a thread is parked for good instead, as CPython 3.14 itself does; the
// process exit ends it. The park has to come before any of our cleanups, so
// it is taken at two places:
//  * around each call that may run bytecode or block (ParkIfEndedAtExit,
//    CallParked), the raw C call inside with nothing of ours to destroy;
//  * in every destructor or catch (...) that runs Python (GilOwner), for an
//    unwind starting anywhere else (a GC-run finaliser, a property).
[[noreturn]] inline void ParkForever() {
  for (;;) pause();
}

// Runs `f`, a call into Python that may drop the GIL, and parks the thread if
// it is ended meanwhile (see above).
//
// UBSan is off for this one frame: libstdc++ delivers the forced unwind to
// `catch (abi::__forced_unwind&)` as a reference bound to a null pointer,
// which UBSan reports ("reference binding to null pointer of type
// '__forced_unwind'") although that is glibc's documented idiom. `f` is a
// function of its own and stays instrumented.
template <typename F>
#if defined(__GLIBCXX__)
__attribute__((no_sanitize("undefined")))
#endif
decltype(auto)
ParkIfEndedAtExit(F&& f) {
#if defined(__GLIBCXX__)
  try {
    return f();
  } catch (abi::__forced_unwind&) {
    ParkForever();
  }
#else
  return f();
#endif
}

// callable(*args, **kwargs) (kwargs may be null), parked as ParkIfEndedAtExit.
inline py::object CallParked(py::handle callable, const py::tuple& args,
                             py::handle kwargs = py::handle()) {
  PyObject* r = ParkIfEndedAtExit(
      [&] { return PyObject_Call(callable.ptr(), args.ptr(), kwargs.ptr()); });
  if (r == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(r);
}

// getattr / setattr that may run a property's bytecode (ModuleSpec.parent,
// .cached, .has_location), parked as ParkIfEndedAtExit.
inline py::object GetAttrParked(py::handle obj, const char* name) {
  PyObject* r = ParkIfEndedAtExit(
      [&] { return PyObject_GetAttrString(obj.ptr(), name); });
  if (r == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(r);
}
inline void SetAttrParked(py::handle obj, const char* name, py::handle value) {
  int r = ParkIfEndedAtExit(
      [&] { return PyObject_SetAttrString(obj.ptr(), name, value.ptr()); });
  if (r != 0) throw py::error_already_set();
}

// The thread state that held the GIL when this was made. A destructor or
// catch block that finds it no longer current is being run by the forced
// unwind of a thread ended at exit (it holds no GIL): it parks the thread
// before touching Python.
class GilOwner {
 public:
  GilOwner() : tstate_(PyThreadState_Get()) {}
  void ParkIfLost() const {
    if (UncheckedThreadState() != tstate_) ParkForever();
  }

 private:
  PyThreadState* tstate_;
};

// Taken from the frozen _bootstrap / _bootstrap_external modules (which
// importlib.machinery and importlib.util re-export), so that loading the
// extension imports nothing.
struct PyRefs {
  py::object module_spec;    // importlib.machinery.ModuleSpec
  py::object compile;        // builtins.compile
  py::object decode_source;  // importlib.util.decode_source
  py::object sys;            // the sys module
  py::object bridge_error;   // bridgeimport.BridgeImportError(ImportError)
  py::object
      invalid_name;  // InvalidModuleNameError(BridgeImportError, ValueError)
  py::object
      not_found;  // BridgeNotFoundError(ModuleNotFoundError, BridgeImportError)
  std::vector<std::string>
      module_suffixes;       // importlib.machinery.all_suffixes()
  std::string magic;         // importlib.util.MAGIC_NUMBER
  std::string cache_tag;     // sys.implementation.cache_tag ("" if None)
  py::object name_fromlist;  // ("__name__",): PyImport_ImportModuleLevelObject
                             // then returns the module itself
  // Interned attribute and key names, read on every import while load frames
  // are open (load_frame.cc): PyObject_GetAttrString would make a new str,
  // hashed afresh, per call.
  py::object s_spec;     // "__spec__"
  py::object s_loader;   // "loader"
  py::object s_package;  // "__package__"
  py::object s_name;     // "__name__"
  py::object s_path;     // "__path__"
  py::object s_file;     // "__file__" (module_scan.cc)
};

// Looks everything up (and InitCPythonPrivate()'s objects) and defines the
// exception types in `m`. Once, from the module init function.
void InitPyRefs(py::module_& m);
const PyRefs& Refs();

// Raises `type(message, name=name, path=path)` (path omitted when empty) as
// the current Python error and returns the error_already_set to throw.
py::error_already_set MakeImportError(const py::object& type,
                                      const std::string& message,
                                      const std::string& name,
                                      const std::string& path);

// Adds `note` to the exception held by `error`: add_note() on 3.11+, the
// __notes__ list by hand before (older tracebacks just do not print it).
void AddNote(const py::error_already_set& error, const std::string& note);

// str(obj) as UTF-8. A str holding lone surrogates (text decoded with
// surrogateescape) raises Python's UnicodeEncodeError, never a pybind11
// cast error.
inline std::string ToUtf8(py::handle obj) {
  py::str text(obj);
  Py_ssize_t size;
  const char* utf8 = PyUnicode_AsUTF8AndSize(text.ptr(), &size);
  if (utf8 == nullptr) throw py::error_already_set();
  return std::string(utf8, static_cast<size_t>(size));
}

// `obj` as UTF-8 if it is a str UTF-8 can encode, else nullopt with no
// Python error set: a module name no mount can serve (mount names and
// files are UTF-8), which the caller answers as for any unserved name.
inline std::optional<std::string> Utf8Name(py::handle obj) {
  if (!PyUnicode_Check(obj.ptr())) return std::nullopt;
  Py_ssize_t size;
  const char* utf8 = PyUnicode_AsUTF8AndSize(obj.ptr(), &size);
  if (utf8 == nullptr) {
    PyErr_Clear();
    return std::nullopt;
  }
  return std::string(utf8, static_cast<size_t>(size));
}

// The module dict sys.modules, as the import system uses it.
py::dict SysModules();

// dict[key] as a strong reference, or a null object if `key` is absent.
// Throws the Python error (e.g. an unhashable key) if the lookup fails.
// PyDict_GetItemRef on 3.13+; before, a borrowed lookup under the GIL.
py::object DictItem(py::handle dict, py::handle key);
py::object DictItem(py::handle dict, const char* key);

// Puts `value` into `slot` and returns what was there, without releasing any
// reference: the caller drops the result once it holds no lock.
inline py::object Exchange(py::object& slot, py::object value) {
  py::object old = py::reinterpret_steal<py::object>(slot.release());
  slot = py::reinterpret_steal<py::object>(value.release());  // slot was null
  return old;
}

// Reads the whole file at `path`. With `no_follow`, a final component that
// has become a symlink since it was found is refused (O_NOFOLLOW). Throws
// BridgeImportError naming `module` and the file on any failure. With
// `within`, the opened file must lie below one of those real directories
// (see ReadWholeFile). Keeps the GIL (see the .cc).
FileContents ReadFileForModule(
    const std::string& path, const std::string& module, bool no_follow,
    const std::vector<std::string>* within = nullptr);

// The bytecode cache path for `source` under the interpreter's current
// settings (cache_tag, sys.flags.optimize, sys.pycache_prefix); "" when the
// interpreter has no cache tag.
std::string CachePathFor(const std::string& source);

// True if `name` (a str) is a dotted name whose every component satisfies
// str.isidentifier(); exact for non-ASCII names the C++ core can only
// approximate.
bool IsPythonIdentifierPath(py::handle name);

}  // namespace bridgeimport

#endif  // BRIDGEIMPORT_LOADER_PY_SUPPORT_H_
