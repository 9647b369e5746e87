// module_scan.cc: what a reload transaction reads of sys.modules, in one
// native pass each (see the .h).
#include "loader/module_scan.h"

#include <pybind11/stl.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "finders/module_name.h"
#include "loader/bridge_loader.h"
#include "loader/py_support.h"

namespace bridgeimport {
namespace {

// A transaction's packages: a name is selected if it is one of them or
// starts with one of them and a dot ("app" selects "app.x", never "apple").
class Selection {
 public:
  explicit Selection(const std::vector<std::string>& packages)
      : names_(packages) {
    for (const std::string& p : packages)
      objects_.emplace_back(py::str(p), py::str(p + "."));
  }

  // Any key is handled (a non-str key is never selected); ASCII keys, which
  // module names nearly always are, by their bytes.
  bool Selects(PyObject* key) const {
    if (!PyUnicode_Check(key)) return false;
    if (PyUnicode_IS_ASCII(key)) {
      absl::string_view k(static_cast<const char*>(PyUnicode_DATA(key)),
                          static_cast<size_t>(PyUnicode_GET_LENGTH(key)));
      for (const std::string& p : names_)
        if (IsWithinPackage(k, p)) return true;
      return false;
    }
    for (const auto& [name, prefix] : objects_) {
      if (PyUnicode_Compare(key, name.ptr()) == 0) return true;
      Py_ssize_t match =
          PyUnicode_Tailmatch(key, prefix.ptr(), 0, PY_SSIZE_T_MAX, -1);
      if (match < 0) throw py::error_already_set();
      if (match == 1) return true;
    }
    return false;
  }

 private:
  std::vector<std::string> names_;  // UTF-8, as an ASCII key's bytes compare
  std::vector<std::pair<py::str, py::str>> objects_;  // (name, name + ".")
};

// A private copy of `dict` to loop over: the loops may run Python code (a
// module's __spec__ may be a property), which may change the original.
py::dict Snapshot(py::handle dict) {
  PyObject* copy = PyDict_Copy(dict.ptr());
  if (copy == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::dict>(copy);
}

void SetItem(const py::dict& out, PyObject* key, PyObject* value) {
  if (PyDict_SetItem(out.ptr(), key, value) != 0) throw py::error_already_set();
}

// The sys.modules entries under `packages`, in sys.modules order; with
// `before`, only those whose object is not the one `before` holds under that
// name (None where it holds none, as before.get(name) in Python: a blocking
// None is no module).
py::dict SelectedEntries(const std::vector<std::string>& packages,
                         const py::dict* before) {
  const Selection selection(packages);
  py::dict snapshot = Snapshot(SysModules()), out;
  Py_ssize_t pos = 0;
  PyObject *key, *value;
  while (PyDict_Next(snapshot.ptr(), &pos, &key, &value)) {
    if (!selection.Selects(key)) continue;
    if (before != nullptr) {
      py::object old = DictItem(*before, key);
      if ((old ? old.ptr() : Py_None) == value) continue;
    }
    SetItem(out, key, value);
  }
  return out;
}

py::dict SelectModules(const std::vector<std::string>& packages) {
  return SelectedEntries(packages, nullptr);
}

// Modules loaded (or replaced) under `packages` since `before` was selected.
py::dict NewEntries(const std::vector<std::string>& packages,
                    const py::dict& before) {
  return SelectedEntries(packages, &before);
}

// The names in `modules` ({name: module}) whose module's __file__ is in
// `files` (a container of paths), in `modules`' order.
py::list ModulesOfFiles(const py::dict& modules, const py::object& files) {
  py::dict snapshot = Snapshot(modules);
  py::list out;
  Py_ssize_t pos = 0;
  PyObject *key, *value;
  while (PyDict_Next(snapshot.ptr(), &pos, &key, &value)) {
    if (!PyModule_Check(value)) continue;
    py::object path = DictItem(PyModule_GetDict(value), Refs().s_file);
    if (!path) continue;
    int found = PySequence_Contains(files.ptr(), path.ptr());
    if (found < 0) throw py::error_already_set();
    if (found == 1) out.append(key);
  }
  return out;
}

// (code, packages, changed, others) of `modules` ({name: module}), as lists
// of names in `modules`' order: the bridge modules with code; the mount
// packages (no code to run); with `check`, the bridge modules whose source
// changed since they ran; and the modules bridgeimport did not load, for the
// transaction to look at.
py::tuple ClassifyModules(const py::dict& modules, bool check) {
  py::dict snapshot = Snapshot(modules);
  py::list code, packages, changed, others;
  Py_ssize_t pos = 0;
  PyObject *key, *value;
  while (PyDict_Next(snapshot.ptr(), &pos, &key, &value)) {
    py::handle name(key);
    py::object owner = BridgeLoaderOf(value);  // keeps the loader alive
    if (!owner) {
      others.append(name);
      continue;
    }
    const BridgeLoader& loader = owner.cast<const BridgeLoader&>();
    if (loader.IsMountPackage()) {
      packages.append(name);
      continue;
    }
    code.append(name);
    if (check && loader.SourceChanged()) changed.append(name);
  }
  return py::make_tuple(code, packages, changed, others);
}

}  // namespace

void RegisterModuleScan(py::module_& m) {
  m.def("select_modules", &SelectModules, py::arg("packages"),
        "The sys.modules entries under the packages, in sys.modules order.");
  m.def("new_entries", &NewEntries, py::arg("packages"), py::arg("before"),
        "The sys.modules entries under the packages whose object is not "
        "before's under that name.");
  m.def("modules_of_files", &ModulesOfFiles, py::arg("modules"),
        py::arg("files"),
        "The names of the modules whose __file__ is in files.");
  m.def("classify_modules", &ClassifyModules, py::arg("modules"),
        py::arg("check"),
        "(code, packages, changed, others): names of the bridge modules with "
        "code, the mount packages, with check=True the bridge modules whose "
        "source changed, and the modules bridgeimport did not load.");
}

}  // namespace bridgeimport
