// finder.h: bridgeimport's meta-path finder (importlib.abc.MetaPathFinder):
// find_spec() turns a name into a ModuleSpec through the mount table.
//
// The finder holds the mount table (finders/mount_table.h) and turns a
// resolution into a real importlib.machinery.ModuleSpec. Every import in the
// process passes through find_spec, so its entry point is a raw METH_FASTCALL
// C function stored pre-bound in the instance dict: `finder.find_spec` costs a
// dict lookup (no bound-method allocation, no pybind11 argument dispatch), and
// a miss is one hash lookup of the name's first component.
//
// Names at a mount's package or above it ("plugins", "mlpy" for a mount
// "mlpy.stdlib") are served only when no other finder on sys.meta_path knows
// them: a mount never shadows a real package. For those it provides a
// namespace-like package whose __path__ is a placeholder entry
// ("bridgeimport://<name>") answered by bridgeimport's path hook, so the stock
// path finder cannot import files the mount's glob excludes.
//
// Every thread imports through it at once on a free-threaded CPython: the
// mount table is immutable and published whole (finders/published.h), so a
// miss reads this thread's copy of it, without a lock; the directory cache
// has its own mutex; the rest of the finder's state is per call.
#ifndef BRIDGEIMPORT_LOADER_FINDER_H_
#define BRIDGEIMPORT_LOADER_FINDER_H_

#include <pybind11/pybind11.h>

#include <memory>
#include <string>

#include "finders/dir_cache.h"
#include "finders/mount_table.h"
#include "finders/published.h"

namespace bridgeimport {

namespace py = pybind11;

// Prefix of the __path__ placeholder entries of mount packages.
inline constexpr const char* kPlaceholderScheme = "bridgeimport://";

class NativeFinder {
 public:
  NativeFinder();

  // Replaces the mounts. `configs` is a list of (package, [directories],
  // pattern, allow_external_symlinks, atomic). Raises ValueError,
  // FileNotFoundError or NotADirectoryError and keeps the old mounts if any
  // entry is bad.
  void SetMounts(const py::list& configs);
  // (package, (directories...), pattern, allow_external_symlinks, atomic).
  py::list Mounts() const;

  // The protocol entry point. Returns a new reference, or nullptr with a
  // Python error set. Never raises for names outside the mounts.
  PyObject* FindSpec(PyObject* fullname, PyObject* path, PyObject* target);
  void InvalidateCaches();

  // bridgeimport.load(): the module a plain import of `name` returns, by the
  // native import path where it applies (import_system.h). With `atomic`, a
  // failure also removes every bridge module first loaded during this load
  // (load_frame.h).
  py::object Load(const py::object& name, bool atomic);
  // The resolution of `name` as a dict (kind, file, directory, mount, detail).
  py::dict Resolve(const py::object& name);
  // Direct children of a served package: (name, is_package, file, shadowed).
  py::list ListChildren(const py::object& package);

 private:
  py::object FindSpecHit(const std::shared_ptr<const MountTable>& table,
                         absl::string_view name, py::handle fullname,
                         py::handle path, py::handle target);
  bool ExistsElsewhere(py::handle fullname, py::handle path, py::handle target);
  bool ShadowsRealModule(const MountTable& table, const Resolution& r,
                         absl::string_view name, py::handle path);
  bool GlobEnforced(const Mount& mount) const;
  py::object FileSpec(const Resolution& r, absl::string_view name,
                      py::handle fullname, py::handle target);
  // A mount package (mount_package_loader.h) for a mount prefix; `r.mount`
  // (if any) gives its resource directories.
  py::object MountPackageSpec(const Resolution& r, py::handle fullname,
                              py::handle target);

  std::shared_ptr<DirCache> cache_;
  Published<MountTable> table_;  // swapped whole by SetMounts
};

// The type Finder, the process's one instance `_native.finder`, and
// PLACEHOLDER_SCHEME.
void RegisterFinder(py::module_& m);

}  // namespace bridgeimport

#endif  // BRIDGEIMPORT_LOADER_FINDER_H_
