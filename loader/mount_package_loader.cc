// mount_package_loader.cc: the loader of mount packages (see the .h).
#include "loader/mount_package_loader.h"

#include "loader/py_support.h"

namespace bridgeimport {

py::object MountPackageLoader::GetCode(py::object fullname) {
  CheckName(fullname);
  return Refs().compile("", "<string>", "exec", py::arg("dont_inherit") = true);
}

py::object MountPackageLoader::GetSource(py::object fullname) {
  CheckName(fullname);
  return py::str("");
}

py::object MountPackageLoader::GetFilename(py::object fullname) const {
  CheckName(fullname);
  throw MakeImportError(py::reinterpret_borrow<py::object>(PyExc_ImportError),
                        "bridgeimport: package '" + name_ +
                            "' is provided for a mount and has no file",
                        name_, "");
}

std::string MountPackageLoader::Repr() const {
  return "<bridgeimport.Loader '" + name_ + "' (mount package)>";
}

}  // namespace bridgeimport
