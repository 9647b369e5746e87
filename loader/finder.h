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

// Finder.resolve()'s answer: how the mount table resolves a name, with
// strings for Python. kind is "module", "package", "prefix" (a mount
// package), "miss", "invalid" or "not_found" (KindName); the others are
// empty when they do not apply.
struct ResolvedName {
  std::string kind;
  std::string file;
  std::string directory;
  std::string mount;  // the serving mount's package
  std::string detail;
};

class NativeFinder {
 public:
  NativeFinder();

  // Replaces the mounts with `configs`, a sequence of _native.MountConfig.
  // Raises TypeError for anything else, ValueError, FileNotFoundError or
  // NotADirectoryError for a bad entry, and then keeps the old mounts.
  void SetMounts(const py::iterable& configs);
  // The mounts in force, as MountConfig.
  std::vector<MountConfig> Mounts() const;

  // The protocol entry point. Returns a new reference, or nullptr with a
  // Python error set. Never raises for names outside the mounts.
  PyObject* FindSpec(PyObject* fullname, PyObject* path, PyObject* target);
  void InvalidateCaches();
  // Forgets only the listings that disagree with the file system about
  // `paths` (DirCache::Revalidate); returns how many it forgot.
  int Revalidate(const py::iterable& paths);

  // bridgeimport.load(): the module a plain import of `name` returns, by the
  // native import path where it applies (import_system.h). With `atomic`, a
  // failure also removes every bridge module first loaded during this load
  // (load_frame.h).
  py::object Load(const py::object& name, bool atomic);
  // What serves `name` (bound as _native.Resolution).
  ResolvedName Resolve(const py::object& name);
  // Direct children of a served package (bound as _native.Child).
  std::vector<ChildModule> ListChildren(const py::object& package);

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
