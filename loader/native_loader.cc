#include "loader/native_loader.h"

#include <algorithm>
#include <chrono>
#include <utility>
#include <vector>

#include "loader/load_context.h"
#include "loader/py_support.h"

namespace bridgeimport {
namespace {

// Entries of sys.modules strictly below `prefix` ("pkg." selects "pkg.x"),
// as a fresh dict. Only taken for packages, whose loads may import children.
py::dict SubtreeEntries(const std::string& prefix) {
  py::dict out;
  py::dict modules = SysModules();
  // Iterate over a copy of the items: other code may mutate sys.modules.
  py::list items = py::reinterpret_steal<py::list>(PyDict_Items(modules.ptr()));
  for (py::handle item : items) {
    py::handle key = PyTuple_GET_ITEM(item.ptr(), 0);
    if (!PyUnicode_Check(key.ptr())) continue;
    Py_ssize_t size;
    const char* utf8 = PyUnicode_AsUTF8AndSize(key.ptr(), &size);
    if (!utf8) throw py::error_already_set();
    if (static_cast<size_t>(size) > prefix.size() &&
        prefix.compare(0, prefix.size(), utf8, prefix.size()) == 0)
      out[key] = PyTuple_GET_ITEM(item.ptr(), 1);
  }
  return out;
}

// Puts the entries below `prefix` back to `before`: removes what was added,
// restores what was replaced or removed. Returns the names it changed.
std::vector<std::string> RestoreSubtree(const std::string& prefix,
                                        const py::dict& before) {
  std::vector<std::string> changed;
  py::dict modules = SysModules();
  py::dict now = SubtreeEntries(prefix);
  for (auto item : now) {
    if (before.contains(item.first) &&
        before[item.first].ptr() == item.second.ptr())
      continue;
    if (PyDict_DelItem(modules.ptr(), item.first.ptr()) != 0) PyErr_Clear();
    changed.push_back(py::str(item.first).cast<std::string>());
  }
  for (auto item : before) {
    if (now.contains(item.first) && now[item.first].ptr() == item.second.ptr())
      continue;
    modules[item.first] = item.second;
    std::string name = py::str(item.first).cast<std::string>();
    if (std::find(changed.begin(), changed.end(), name) == changed.end())
      changed.push_back(name);
  }
  std::sort(changed.begin(), changed.end());
  return changed;
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

}  // namespace

NativeLoader::NativeLoader(std::string name, std::string path, bool is_package,
                           bool synthetic, bool no_follow, bool atomic)
    : name_(std::move(name)),
      path_(std::move(path)),
      is_package_(is_package),
      synthetic_(synthetic),
      no_follow_(no_follow),
      atomic_(atomic),
      source_(py::none()) {}

py::object NativeLoader::path() const {
  if (synthetic_) return py::none();
  return py::str(path_);
}

void NativeLoader::CheckName(const py::object& fullname) const {
  if (fullname.is_none()) return;
  if (py::str(fullname).cast<std::string>() == name_) return;
  throw MakeImportError(
      py::reinterpret_borrow<py::object>(PyExc_ImportError),
      "loader for " + name_ + " cannot handle " +
          py::str(fullname).cast<std::string>(),
      py::str(fullname).cast<std::string>(), "");
}

py::object NativeLoader::CreateModule(py::handle) const {
  return py::none();  // default module creation, as SourceFileLoader
}

py::object NativeLoader::Compile() {
  py::bytes data = ReadFileForModule(path_, name_, no_follow_);
  py::object code = Refs().compile(data, path_, "exec", py::arg("dont_inherit") = true);
  source_ = std::move(data);
  return code;
}

py::object NativeLoader::GetCode(py::object fullname) {
  CheckName(fullname);
  if (synthetic_) return Refs().compile("", "<string>", "exec", py::arg("dont_inherit") = true);
  return Compile();
}

py::object NativeLoader::GetSource(py::object fullname) {
  CheckName(fullname);
  if (synthetic_) return py::str("");
  py::object data = source_;
  if (data.is_none()) data = ReadFileForModule(path_, name_, no_follow_);
  return Refs().decode_source(data);
}

py::object NativeLoader::GetFilename(py::object fullname) const {
  CheckName(fullname);
  if (synthetic_)
    throw MakeImportError(
        py::reinterpret_borrow<py::object>(PyExc_ImportError),
        "bridgeimport: package '" + name_ +
            "' is provided for a mount and has no file",
        name_, "");
  return py::str(path_);
}

bool NativeLoader::IsPackage(py::object fullname) const {
  CheckName(fullname);
  return is_package_;
}

py::bytes NativeLoader::GetData(const std::string& path) const {
  return ReadFileForModule(path, name_, false);
}

std::string NativeLoader::Repr() const {
  if (synthetic_)
    return "<bridgeimport.Loader '" + name_ + "' (mount package)>";
  return "<bridgeimport.Loader '" + name_ + "' from '" + path_ + "'>";
}

void NativeLoader::ExecModule(py::handle module) {
  if (synthetic_) return;
  py::object spec = py::getattr(module, "__spec__", py::none());
  // _load_unlocked() sets _initializing on a first load; importlib.reload()
  // does not. Anything else executing an existing module is a re-execution.
  bool first_load =
      !spec.is_none() &&
      py::bool_(py::getattr(spec, "_initializing", py::bool_(false)));
  py::dict ns = module.attr("__dict__");

  py::object snapshot = py::none();  // namespace to restore on failure
  py::dict subtree_before;           // sys.modules below a package
  const std::string prefix = name_ + ".";
  if (!first_load) {
    py::object pending = spec.is_none()
                             ? py::object(py::none())
                             : py::getattr(spec, kReloadSnapshotAttr, py::none());
    if (py::isinstance<py::tuple>(pending) &&
        pending[py::int_(0)].ptr() == module.ptr()) {
      snapshot = pending[py::int_(1)];
    } else {
      snapshot = py::reinterpret_steal<py::object>(PyDict_Copy(ns.ptr()));
      if (!snapshot) throw py::error_already_set();
    }
    if (!pending.is_none() && PyObject_DelAttrString(spec.ptr(), kReloadSnapshotAttr) != 0)
      PyErr_Clear();
  } else if (is_package_) {
    subtree_before = SubtreeEntries(prefix);
  }

  LoadFrame frame(name_, first_load, atomic_);
  const auto started = std::chrono::steady_clock::now();
  auto elapsed = [&started]() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started)
        .count();
  };
  try {
    py::object code = Compile();
    if (!ns.contains("__builtins__"))
      ns["__builtins__"] = py::handle(PyEval_GetBuiltins());
    PyObject* result = PyEval_EvalCode(code.ptr(), ns.ptr(), ns.ptr());
    if (!result) throw py::error_already_set();
    Py_DECREF(result);
  } catch (py::error_already_set& error) {
    RecordExecution(name_, elapsed(), false);
    std::string note = "bridgeimport: executing '" + path_ + "' as module '" +
                       name_ + "' failed; ";
    if (first_load) {
      std::vector<std::string> rolled_back;
      if (is_package_) rolled_back = RestoreSubtree(prefix, subtree_before);
      rolled_back.insert(rolled_back.begin(), name_);
      note += "rolled back sys.modules: " + JoinNames(rolled_back);
      std::vector<std::string> atomic = frame.Failed();
      if (!atomic.empty())
        note += "; atomic mode also removed: " + JoinNames(atomic);
      note += ". Fix the error and import again.";
    } else {
      frame.Failed();
      PyDict_Clear(ns.ptr());
      if (PyDict_Update(ns.ptr(), snapshot.ptr()) != 0) PyErr_Clear();
      note += "the module keeps its previous contents (namespace restored).";
    }
    AddNote(error, note);
    throw;
  }
  RecordExecution(name_, elapsed(), true);
  frame.Succeeded(module);
}

void RegisterNativeLoader(py::module_& m) {
  py::class_<NativeLoader>(m, "Loader", R"doc(
bridgeimport's loader for one bridge module (importlib.abc.Loader,
InspectLoader, ExecutionLoader and ResourceLoader protocols). Created by the
finder; one per module spec.)doc")
      .def_property_readonly("name", &NativeLoader::name,
                             "The module's fully qualified name.")
      .def_property_readonly("path", &NativeLoader::path,
                             "The source file, or None for a mount package.")
      .def("create_module", &NativeLoader::CreateModule, py::arg("spec"),
           "Returns None: the import system creates the module object.")
      .def("exec_module", &NativeLoader::ExecModule, py::arg("module"),
           "Executes the module's source in its namespace; rolls back on "
           "failure.")
      .def("get_code", &NativeLoader::GetCode, py::arg("fullname") = py::none(),
           "Reads and compiles the source; returns the code object.")
      .def("get_source", &NativeLoader::GetSource,
           py::arg("fullname") = py::none(),
           "The decoded source that was last compiled (else read from disk).")
      .def("get_filename", &NativeLoader::GetFilename,
           py::arg("fullname") = py::none(), "The module's file.")
      .def("is_package", &NativeLoader::IsPackage,
           py::arg("fullname") = py::none(),
           "True for packages (__init__.py and mount packages).")
      .def("get_data", &NativeLoader::GetData, py::arg("path"),
           "The bytes of the file at `path`.")
      .def("__repr__", &NativeLoader::Repr);
}

}  // namespace bridgeimport
