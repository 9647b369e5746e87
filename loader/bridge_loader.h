// bridge_loader.h: the Python type bridgeimport.Loader, and what every
// loader bridgeimport makes has in common.
//
// The finder makes one loader per module spec, of one of two kinds:
//  * SourceLoader (source_loader.h): a bridge file, like CPython's
//    SourceFileLoader;
//  * MountPackageLoader (mount_package_loader.h): a mount package (a name at
//    or above a mount's package), which has no file and executes nothing.
// Both are the one Python type `Loader` (`type(spec.loader) is
// bridgeimport.Loader` holds for either): the kinds are C++ subclasses that
// pybind11 does not register, so it presents each through this base class,
// whose methods dispatch to the kind.
//
// Example:
//
//   py::object owner = BridgeLoaderOf(module);  // null: not a bridge module
//   if (owner && !owner.cast<const BridgeLoader&>().IsMountPackage()) ...
#ifndef BRIDGEIMPORT_LOADER_BRIDGE_LOADER_H_
#define BRIDGEIMPORT_LOADER_BRIDGE_LOADER_H_

#include <pybind11/pybind11.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace bridgeimport {

namespace py = pybind11;

class BridgeLoader {
 public:
  virtual ~BridgeLoader() = default;

  const std::string& name() const { return name_; }
  // The source file, or None for a mount package.
  virtual py::object path() const = 0;
  virtual bool IsMountPackage() const = 0;

  // The importlib.abc.Loader, InspectLoader, ExecutionLoader and
  // ResourceLoader protocols. `fullname` (None: this loader's) is checked as
  // CPython's _check_name decorator does.
  py::object CreateModule(py::handle spec) const;
  virtual void ExecModule(py::handle module) = 0;
  virtual py::object GetCode(py::object fullname) = 0;
  virtual py::object GetSource(py::object fullname) = 0;
  virtual py::object GetFilename(py::object fullname) const = 0;
  bool IsPackage(py::object fullname) const;
  py::bytes GetData(const std::string& path) const;
  // importlib.resources: the reader bridgeimport._resources.reader() picks
  // for this loader (`self` is the Python object wrapping it).
  py::object GetResourceReader(py::handle self, py::object fullname) const;
  virtual std::string Repr() const = 0;

  // See SourceLoader::SourceChanged and SourceStamp.
  virtual bool SourceChanged() const = 0;
  virtual py::object SourceStamp() const = 0;

  // What pickling keeps, as the stock loaders' __dict__ keeps (name, path):
  // a tuple LoaderFromPickleState() turns back into an equal loader, fresh
  // (it has executed nothing), whether or not a mount serves the name in the
  // unpickling process (issue 16: by-value pickling, __spec__ in a worker).
  virtual py::tuple PickleState() const = 0;

 protected:
  BridgeLoader(std::string name, bool is_package)
      : name_(std::move(name)), is_package_(is_package) {}
  // Raises ImportError if `fullname` is given and is not this loader's name.
  void CheckName(const py::object& fullname) const;
  // The directories importlib.resources reads: none of their own for a
  // source module (the file's directory serves), a mount's for a mount
  // package (its __path__ is a placeholder, not a directory).
  virtual const std::vector<std::string>& ResourceDirectories() const = 0;

  std::string name_;
  bool is_package_;
};

// Strings to a Python list and back (a pickle state's directories); the
// second raises py::cast_error for anything but a sequence of str.
py::list StringList(const std::vector<std::string>& strings);
std::vector<std::string> StringVector(const py::handle& sequence);

// The loader a PickleState() tuple describes; ValueError if it is not one.
std::unique_ptr<BridgeLoader> LoaderFromPickleState(const py::tuple& state);

// Wraps a new loader in the Python type Loader (owned by the object).
py::object WrapLoader(std::unique_ptr<BridgeLoader> loader);

// `module`'s __spec__.loader if it is a BridgeLoader (bridgeimport made it),
// else a null object. A reference of its own: another thread may replace the
// module's __spec__ (a reload does) and free the old loader meanwhile.
py::object BridgeLoaderOf(py::handle module);
bool IsBridgeModule(py::handle module);

// The type Loader.
void RegisterLoader(py::module_& m);

}  // namespace bridgeimport

#endif  // BRIDGEIMPORT_LOADER_BRIDGE_LOADER_H_
