// bridge_loader.cc: the Python type Loader and the loaders' shared protocol
// (see the .h).
#include "loader/bridge_loader.h"

#include <optional>
#include <utility>

#include "loader/mount_package_loader.h"
#include "loader/py_support.h"
#include "loader/source_loader.h"

namespace bridgeimport {
namespace {

// The Python type Loader, set once by RegisterLoader (while the module
// initialises, as InitPyRefs' references: py_support.h) and never released.
// BridgeLoaderOf runs for each module a load frame records, where
// py::isinstance<BridgeLoader> would look the type up in pybind11's registry
// every time.
PyObject* loader_type = nullptr;

}  // namespace

void BridgeLoader::CheckName(const py::object& fullname) const {
  if (fullname.is_none()) return;
  std::optional<std::string> encoded = Utf8Name(fullname);
  std::string asked = encoded ? *encoded : ToUtf8(py::repr(fullname));
  if (encoded && asked == name_) return;
  throw MakeImportError(py::reinterpret_borrow<py::object>(PyExc_ImportError),
                        "loader for " + name_ + " cannot handle " + asked,
                        asked, "");
}

py::object BridgeLoader::CreateModule(py::handle) const {
  return py::none();  // default module creation, as SourceFileLoader
}

bool BridgeLoader::IsPackage(py::object fullname) const {
  CheckName(fullname);
  return is_package_;
}

py::bytes BridgeLoader::GetData(const std::string& path) const {
  return py::bytes(ReadFileForModule(path, name_, false).data);
}

py::object BridgeLoader::GetResourceReader(py::handle self,
                                           py::object fullname) const {
  CheckName(fullname);
  return py::module_::import("bridgeimport._resources")
      .attr("reader")(self, name_, is_package_,
                      StringList(ResourceDirectories()));
}

py::list StringList(const std::vector<std::string>& strings) {
  py::list out;
  for (const std::string& s : strings) out.append(py::str(s));
  return out;
}

std::vector<std::string> StringVector(const py::handle& sequence) {
  if (!PyList_Check(sequence.ptr()) && !PyTuple_Check(sequence.ptr()))
    throw py::cast_error("not a list");
  std::vector<std::string> out;
  for (py::handle item : sequence) out.push_back(item.cast<std::string>());
  return out;
}

std::unique_ptr<BridgeLoader> LoaderFromPickleState(const py::tuple& state) {
  try {
    if (state.size() == 0) throw py::cast_error("empty");
    std::string kind = state[0].cast<std::string>();
    if (kind == "source" && state.size() == 7) {
      SourceLoaderOptions options;
      options.is_package = state[3].cast<bool>();
      options.no_follow = state[4].cast<bool>();
      options.atomic = state[5].cast<bool>();
      options.roots = StringVector(state[6]);
      return std::make_unique<SourceLoader>(state[1].cast<std::string>(),
                                            state[2].cast<std::string>(),
                                            std::move(options));
    }
    if (kind == "package" && state.size() == 3)
      return std::make_unique<MountPackageLoader>(state[1].cast<std::string>(),
                                                  StringVector(state[2]));
  } catch (const py::cast_error&) {
  }  // falls through: not a state this version wrote
  throw py::value_error(
      "bridgeimport: cannot unpickle a Loader from " + ToUtf8(py::repr(state)) +
      ": not the state of a bridgeimport Loader (pickled by another "
      "version of bridgeimport?)");
}

py::object WrapLoader(std::unique_ptr<BridgeLoader> loader) {
  // The kinds are not registered with pybind11: the object is a Loader.
  return py::cast(std::move(loader));
}

py::object BridgeLoaderOf(py::handle module) {
  const PyRefs& r = Refs();
  PyObject* spec = PyObject_GetAttr(module.ptr(), r.s_spec.ptr());
  if (spec == nullptr) {
    PyErr_Clear();
    return py::object();
  }
  py::object owned_spec = py::reinterpret_steal<py::object>(spec);
  PyObject* loader = PyObject_GetAttr(spec, r.s_loader.ptr());
  if (loader == nullptr) {
    PyErr_Clear();
    return py::object();
  }
  py::object owned = py::reinterpret_steal<py::object>(loader);
  // Python subclasses of Loader count, as with py::isinstance.
  int is_loader = PyObject_IsInstance(loader, loader_type);
  if (is_loader < 0) throw py::error_already_set();
  return is_loader ? owned : py::object();
}

bool IsBridgeModule(py::handle module) {
  return static_cast<bool>(BridgeLoaderOf(module));
}

void RegisterLoader(py::module_& m) {
  py::class_<BridgeLoader> cls(m, "Loader");
  loader_type = cls.inc_ref().ptr();  // see loader_type
  // The docstring goes in __doc__, not through pybind11's tp_doc: pybind11
  // 2.10 allocates tp_doc with PyObject_Malloc and CPython 3.13 frees it with
  // PyMem_Free (gh-118909), a fatal error under PYTHONMALLOC=debug.
  cls.doc() = R"doc(
bridgeimport's loader for one bridge module (importlib.abc.Loader,
InspectLoader, ExecutionLoader and ResourceLoader protocols). Created by the
finder; one per module spec.)doc";
  cls.def_property_readonly("name", &BridgeLoader::name,
                            "The module's fully qualified name.")
      .def_property_readonly("path", &BridgeLoader::path,
                             "The source file, or None for a mount package.")
      .def("create_module", &BridgeLoader::CreateModule, py::arg("spec"),
           "Returns None: the import system creates the module object.")
      .def("exec_module", &BridgeLoader::ExecModule, py::arg("module"),
           "Executes the module's source in its namespace; rolls back on "
           "failure.")
      .def("get_code", &BridgeLoader::GetCode, py::arg("fullname") = py::none(),
           "Reads and compiles the source; returns the code object.")
      .def("get_source", &BridgeLoader::GetSource,
           py::arg("fullname") = py::none(),
           "The decoded source that was last compiled (else read from disk).")
      .def("get_filename", &BridgeLoader::GetFilename,
           py::arg("fullname") = py::none(), "The module's file.")
      .def("is_package", &BridgeLoader::IsPackage,
           py::arg("fullname") = py::none(),
           "True for packages (__init__.py and mount packages).")
      .def("get_data", &BridgeLoader::GetData, py::arg("path"),
           "The bytes of the file at `path`.")
      .def(
          "get_resource_reader",
          [](py::object self, py::object fullname) {
            return self.cast<const BridgeLoader&>().GetResourceReader(self,
                                                                      fullname);
          },
          py::arg("fullname") = py::none(),
          "The importlib.resources reader: the file's directory, or a mount "
          "package's directories (see bridgeimport._resources).")
      .def("source_changed", &BridgeLoader::SourceChanged,
           "True if the file differs from the source the module last executed "
           "(metadata first, bytes where metadata cannot decide).")
      .def_property_readonly("source_stamp", &BridgeLoader::SourceStamp,
                             "What the last exec saw of the file, or None.")
      .def("__repr__", &BridgeLoader::Repr)
      .def(py::pickle(
          [](const BridgeLoader& loader) { return loader.PickleState(); },
          [](const py::tuple& state) { return LoaderFromPickleState(state); }));
}

}  // namespace bridgeimport
