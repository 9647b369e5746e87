#include "loader/py_support.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>

namespace bridgeimport {
namespace {

// Owned for the interpreter's lifetime; cleared from an atexit callback.
PyRefs& MutableRefs() {
  static PyRefs refs;
  return refs;
}

py::object NewException(py::module_& m, const char* name, const char* doc,
                        py::tuple bases) {
  std::string qualified = std::string("bridgeimport.") + name;
  PyObject* type = PyErr_NewExceptionWithDoc(qualified.c_str(), doc,
                                             bases.ptr(), nullptr);
  if (!type) throw py::error_already_set();
  py::object obj = py::reinterpret_steal<py::object>(type);
  m.attr(name) = obj;
  return obj;
}

// Closes a file descriptor on scope exit.
struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) close(fd);
  }
};

}  // namespace

const PyRefs& Refs() { return MutableRefs(); }

void InitPyRefs(py::module_& m) {
  PyRefs& r = MutableRefs();
  py::module_ machinery = py::module_::import("importlib.machinery");
  r.module_spec = machinery.attr("ModuleSpec");
  r.compile = py::module_::import("builtins").attr("compile");
  r.decode_source = py::module_::import("importlib.util").attr("decode_source");
  r.sys = py::module_::import("sys");
  for (py::handle s : machinery.attr("all_suffixes")())
    r.module_suffixes.push_back(s.cast<std::string>());

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

  py::cpp_function release([]() { MutableRefs() = PyRefs(); });
  py::module_::import("atexit").attr("register")(release);
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

py::bytes ReadFileForModule(const std::string& path, const std::string& module,
                            bool no_follow) {
  std::string data;
  int err = 0;
  const char* what = "";
  {
    py::gil_scoped_release unlocked;
    int flags = O_RDONLY | O_CLOEXEC | (no_follow ? O_NOFOLLOW : 0);
    FdCloser file{open(path.c_str(), flags)};
    struct stat st;
    if (file.fd < 0) {
      err = errno;
      what = "cannot open";
    } else if (fstat(file.fd, &st) != 0) {
      err = errno;
      what = "cannot stat";
    } else if (!S_ISREG(st.st_mode)) {
      err = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
      what = "not a regular file:";
    } else {
      data.resize(static_cast<size_t>(st.st_size));
      size_t done = 0;
      while (true) {
        if (done == data.size()) data.resize(data.size() * 2 + 4096);
        ssize_t n = read(file.fd, &data[done], data.size() - done);
        if (n < 0) {
          if (errno == EINTR) continue;
          err = errno;
          what = "cannot read";
          break;
        }
        if (n == 0) break;
        done += static_cast<size_t>(n);
      }
      data.resize(done);
    }
  }
  if (err != 0) {
    std::string reason = strerror(err);
    if (err == ELOOP && no_follow)
      reason = "it was replaced by a symlink after it was found";
    throw MakeImportError(
        py::reinterpret_borrow<py::object>(Refs().bridge_error),
        std::string("bridgeimport: ") + what + " '" + path +
            "' for module '" + module + "' (" + reason +
            "); check that the file exists and is readable, then import "
            "again",
        module, path);
  }
  return py::bytes(data);
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
