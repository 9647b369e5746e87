// py_support.cc: the shared CPython facilities of loader/ (see the .h).
#include "loader/py_support.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>

#include "finders/pyc_header.h"

namespace bridgeimport {
namespace {

PyRefs& MutableRefs() {
  // Never destroyed: imports still happen during finalisation (atexit
  // handlers, daemon threads), and no Py_DECREF may run once it is over.
  static absl::NoDestructor<PyRefs> refs;
  return *refs;
}

py::object NewException(py::module_& m, const char* name, const char* doc,
                        py::tuple bases) {
  std::string qualified = std::string("bridgeimport.") + name;
  PyObject* type =
      PyErr_NewExceptionWithDoc(qualified.c_str(), doc, bases.ptr(), nullptr);
  if (!type) throw py::error_already_set();
  py::object obj = py::reinterpret_steal<py::object>(type);
  m.attr(name) = obj;
  return obj;
}

py::object Interned(const char* name) {
  PyObject* s = PyUnicode_InternFromString(name);
  if (s == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(s);
}

}  // namespace

const PyRefs& Refs() { return MutableRefs(); }

void InitPyRefs(py::module_& m) {
  PyRefs& r = MutableRefs();
  py::module_ bootstrap = FrozenBootstrap();
  py::module_ external = FrozenBootstrapExternal();
  r.module_spec = bootstrap.attr("ModuleSpec");
  r.compile = py::module_::import("builtins").attr("compile");
  r.decode_source = external.attr("decode_source");
  r.sys = py::module_::import("sys");
  InitCPythonPrivate();
  // importlib.machinery.all_suffixes(), spelled out.
  for (const char* kind :
       {"SOURCE_SUFFIXES", "BYTECODE_SUFFIXES", "EXTENSION_SUFFIXES"})
    for (py::handle s : external.attr(kind))
      r.module_suffixes.push_back(s.cast<std::string>());
  r.magic = external.attr("MAGIC_NUMBER").cast<std::string>();
  r.name_fromlist = py::make_tuple("__name__");
  r.s_spec = Interned("__spec__");
  r.s_loader = Interned("loader");
  r.s_package = Interned("__package__");
  r.s_name = Interned("__name__");
  r.s_path = Interned("__path__");
  r.s_file = Interned("__file__");
  py::object tag = r.sys.attr("implementation").attr("cache_tag");
  if (!tag.is_none()) r.cache_tag = tag.cast<std::string>();

  r.bridge_error = NewException(
      m, "BridgeImportError",
      "Base class of bridgeimport's errors; a subclass of ImportError.",
      py::make_tuple(py::handle(PyExc_ImportError)));
  r.invalid_name = NewException(
      m, "InvalidModuleNameError",
      "A module name that is not a dotted sequence of identifiers.",
      py::make_tuple(r.bridge_error, py::handle(PyExc_ValueError)));
  r.not_found = NewException(
      m, "BridgeNotFoundError",
      "No mounted directory serves the requested bridge module.",
      py::make_tuple(py::handle(PyExc_ModuleNotFoundError), r.bridge_error));
  // Defined here, with the errors, so that using it costs no import.
  NewException(
      m, "BridgeImportWarning",
      "Base class of bridgeimport's warnings; a subclass of UserWarning.",
      py::make_tuple(py::handle(PyExc_UserWarning)));
}

py::error_already_set MakeImportError(const py::object& type,
                                      const std::string& message,
                                      const std::string& name,
                                      const std::string& path) {
  py::dict kwargs;
  kwargs["name"] = name.empty() ? py::object(py::none()) : py::str(name);
  if (!path.empty()) kwargs["path"] = py::str(path);
  py::object exc = type(message, **kwargs);
  PyErr_SetObject(type.ptr(), exc.ptr());
  return py::error_already_set();
}

void AddNote(const py::error_already_set& error, const std::string& note) {
  py::object value = error.value();
  if (!value) return;
  try {
    if (py::hasattr(value, "add_note")) {
      value.attr("add_note")(note);
      return;
    }
    py::object notes = py::getattr(value, "__notes__", py::none());
    if (notes.is_none()) {
      notes = py::list();
      value.attr("__notes__") = notes;
    }
    notes.attr("append")(note);
  } catch (py::error_already_set&) {
    // An exception that refuses attributes keeps its original form.
  }
}

py::dict SysModules() {
  return py::reinterpret_borrow<py::dict>(PyImport_GetModuleDict());
}

py::object DictItem(py::handle dict, py::handle key) {
#if PY_VERSION_HEX >= 0x030D0000
  PyObject* value = nullptr;
  if (PyDict_GetItemRef(dict.ptr(), key.ptr(), &value) < 0)
    throw py::error_already_set();
  return py::reinterpret_steal<py::object>(value);
#else
  PyObject* value = PyDict_GetItemWithError(dict.ptr(), key.ptr());  // borrowed
  if (value == nullptr && PyErr_Occurred()) throw py::error_already_set();
  return py::reinterpret_borrow<py::object>(value);
#endif
}

py::object DictItem(py::handle dict, const char* key) {
#if PY_VERSION_HEX >= 0x030D0000
  PyObject* value = nullptr;
  if (PyDict_GetItemStringRef(dict.ptr(), key, &value) < 0)
    throw py::error_already_set();
  return py::reinterpret_steal<py::object>(value);
#else
  return DictItem(dict, py::str(key));
#endif
}

FileContents ReadFileForModule(const std::string& path,
                               const std::string& module, bool no_follow,
                               const std::vector<std::string>* within) {
  // The GIL stays held: these are small local files, and a thread that
  // re-acquires the GIL while the interpreter finalises is ended from inside
  // C++ destructors, which aborts the process.
  absl::StatusOr<FileContents> contents =
      ReadWholeFile(path, no_follow, within);
  if (contents.ok()) return *std::move(contents);
  std::string reason(contents.status().message());
  if (no_follow && reason.find(strerror(ELOOP)) != std::string::npos)
    reason += " (it was replaced by a symlink after it was found)";
  throw MakeImportError(
      Refs().bridge_error,
      "bridgeimport: " + reason + ", for module '" + module +
          "'; check that the file exists and is readable, then import again",
      module, path);
}

std::string CachePathFor(const std::string& source) {
  const PyRefs& r = Refs();
  if (r.cache_tag.empty()) return std::string();
  // Attributes of sys, not PySys_GetObject's borrowed references: another
  // thread may assign sys.pycache_prefix meanwhile.
  std::string optimization;
  py::object flags = py::getattr(r.sys, "flags", py::none());
  if (!flags.is_none()) {
    py::object level = py::getattr(flags, "optimize", py::int_(0));
    long value = level.cast<long>();
    if (value != 0) optimization = std::to_string(value);
  }
  std::optional<std::string> prefix;
  py::object pycache_prefix = py::getattr(r.sys, "pycache_prefix", py::none());
  if (!pycache_prefix.is_none()) prefix = ToUtf8(pycache_prefix);
  std::string cwd;
  if (prefix.has_value() && (source.empty() || source[0] != '/')) {
    char buf[4096];
    if (getcwd(buf, sizeof(buf)) != nullptr) cwd = buf;
  }
  return CacheFromSource(source, r.cache_tag, optimization, prefix, cwd);
}

bool IsPythonIdentifierPath(py::handle name) {
  py::list parts = name.attr("split")(".");
  if (parts.size() == 0) return false;
  for (py::handle part : parts) {
    int ok = PyUnicode_IsIdentifier(part.ptr());
    if (ok < 0) throw py::error_already_set();
    if (!ok) return false;
  }
  return true;
}

}  // namespace bridgeimport
