// mount_package_loader.h: the loader of a mount package, a namespace-like
// package bridgeimport provides for a name at or above a mount's package.
//
// For a mount "mlpy.stdlib", the names "mlpy" and "mlpy.stdlib" become
// packages that have no file and execute nothing (the finder serves them
// only when no other finder knows the name: a mount never shadows a real
// package). Their __path__ is a placeholder entry ("bridgeimport://<name>")
// answered by bridgeimport's path hook; importlib.resources reads the
// mount's own directories instead (ResourceDirectories). It is a Loader like
// the source loader's (bridge_loader.h), answering the protocol as a
// namespace package's loader does: empty code, empty source, no file.
#ifndef BRIDGEIMPORT_LOADER_MOUNT_PACKAGE_LOADER_H_
#define BRIDGEIMPORT_LOADER_MOUNT_PACKAGE_LOADER_H_

#include <string>
#include <utility>
#include <vector>

#include "loader/bridge_loader.h"

namespace bridgeimport {

class MountPackageLoader final : public BridgeLoader {
 public:
  // `resource_directories`: the mount's directories, if the package is a
  // mount's own package, else none.
  MountPackageLoader(std::string name,
                     std::vector<std::string> resource_directories)
      : BridgeLoader(std::move(name), /*is_package=*/true),
        resource_directories_(std::move(resource_directories)) {}

  py::object path() const override { return py::none(); }
  bool IsMountPackage() const override { return true; }
  void ExecModule(py::handle) override {}  // nothing to execute
  py::object GetCode(py::object fullname) override;
  py::object GetSource(py::object fullname) override;
  // Raises ImportError: a mount package has no file.
  py::object GetFilename(py::object fullname) const override;
  std::string Repr() const override;
  bool SourceChanged() const override { return false; }  // no source to change
  py::object SourceStamp() const override { return py::none(); }
  // ("package", name, resource_directories).
  py::tuple PickleState() const override {
    return py::make_tuple("package", name_, StringList(resource_directories_));
  }

 private:
  const std::vector<std::string>& ResourceDirectories() const override {
    return resource_directories_;
  }
  std::vector<std::string> resource_directories_;
};

}  // namespace bridgeimport

#endif  // BRIDGEIMPORT_LOADER_MOUNT_PACKAGE_LOADER_H_
