// rollback.h: putting sys.modules and module namespaces back after a failed
// execution of a bridge module.
//
// What bridgeimport adds to CPython's behaviour on failure (docs/design.md
// section 5); the source loader and the load frames decide when, these
// functions do it:
//  * a failing first load of a package removes the entries its execution
//    added under the package (pkg.sub imported by a failing pkg/__init__.py);
//    CPython itself removes only the failed name (_load_unlocked does);
//  * a failing reload restores the module's namespace to its exact
//    pre-reload contents (same keys, same objects), from a snapshot the
//    finder takes when importlib.reload() asks for a spec with a target,
//    but for the submodules the reload loaded, which stay loaded and stay
//    the package's attributes;
//  * a failed atomic load (load_frame.h) removes every bridge module first
//    loaded inside it, from sys.modules and from its parent's attributes.
// Each says what it removed, for the note the failure gets.
#ifndef BRIDGEIMPORT_LOADER_ROLLBACK_H_
#define BRIDGEIMPORT_LOADER_ROLLBACK_H_

#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace bridgeimport {

namespace py = pybind11;

// Attribute set on a spec by the finder for a reload: (module, snapshot,
// ExecutionEpoch() of the module when the snapshot was taken).
inline constexpr const char* kReloadSnapshotAttr = "_bridgeimport_reload";

// For importlib.reload(): remembers `target`'s namespace on `spec` before
// reload() rewrites it, with the execution epoch of module `name`.
void AttachReloadSnapshot(py::handle spec, py::handle target,
                          const std::string& name);

// The namespace a failed reload of `module` restores: the snapshot the
// finder attached to `spec` if no other execution of the module began since
// (its epoch is still `epoch`), else `ns` as it is now. Detaches the
// snapshot from the spec either way.
py::object TakeReloadSnapshot(py::handle module, const py::object& spec,
                              const py::dict& ns, int64_t epoch);

// Puts a module namespace back to `snapshot` (same keys, same objects)
// without ever showing other threads a half-empty module.
void RestoreNamespace(const py::dict& ns, const py::object& snapshot);

// After a failed reload of package `package` restored its namespace `ns`:
// each direct submodule the reload loaded first (of `loaded`) that is still
// in sys.modules is made the package's attribute again, as the import system
// made it (CPython's failed reload keeps the attribute too; issue 15 found
// bridgeimport's restore dropping it).
void ReattachLoadedChildren(const std::string& package, const py::dict& ns,
                            const std::vector<std::string>& loaded);

// Removes `name` and the entries below `prefix` that a failed execution of
// `name` added to sys.modules, and returns the latter's names, sorted.
// `loaded_here` (the bridge modules the execution loaded first) stands in
// when `name` is no longer in sys.modules (see the .cc).
std::vector<std::string> RemoveAddedBelow(
    const std::string& name, const std::string& prefix,
    const std::vector<std::string>& loaded_here);

// Removes each (name, module) of `loaded` that is still what sys.modules
// holds under its name, from sys.modules and from its parent package's
// attributes, latest first; returns the names removed, sorted.
std::vector<std::string> RemoveLoadedModules(
    const std::vector<std::pair<std::string, py::object>>& loaded);

// "a, b, c".
std::string JoinNames(const std::vector<std::string>& names);

}  // namespace bridgeimport

#endif  // BRIDGEIMPORT_LOADER_ROLLBACK_H_
