// import_system.h: bridgeimport.load()'s native import path and the module
// locks it takes: importlib._bootstrap's _find_and_load and _load_unlocked,
// for a bridge file, in C++.
//
// bridgeimport.load(name) must return what `import name` would, under the
// same module locks and the same sys.modules protocol, so that a load()
// and a plain import on another thread (or a reload) exclude each other and
// agree on the one module object. Going through PyImport_ImportModule costs
// the generic machinery's Python frames; where a plain import would reach
// bridgeimport's finder first anyway (it is sys.meta_path[0]) the native
// path does the same steps itself, in CPython's order:
//
//   _find_and_load:           audit "import"; take the module's lock; look
//                             in sys.modules again;
//   _find_and_load_unlocked:  import the parent first; take its __path__;
//   _find_spec:               ask the finder under the global import lock;
//   _load_unlocked:           module_from_spec + _init_module_attrs, mark
//                             the spec _initializing, insert, exec, move the
//                             entry to the end; bind it on the parent; keep
//                             the lock (see KeptLocks in the .cc).
//
// Anywhere it cannot vouch for doing exactly what the import system would
// (another finder first, -X importtime, the name imported meanwhile by a
// side effect), it returns a null object and the caller imports through the
// import system proper (ImportThroughImportSystem).
#ifndef BRIDGEIMPORT_LOADER_IMPORT_SYSTEM_H_
#define BRIDGEIMPORT_LOADER_IMPORT_SYSTEM_H_

#include <pybind11/pybind11.h>

#include <string>

namespace bridgeimport {

namespace py = pybind11;

class NativeFinder;

// Makes the state the import path keeps across loads. Once, at module init,
// before any thread can load.
void InitImportSystem();

// _find_and_load(name) for a name `finder` serves, natively; a null object
// when the name needs the general import path instead (None is a result: a
// module that put None in sys.modules). `utf8` is `name` as UTF-8.
py::object FindAndLoadNatively(NativeFinder& finder, const py::object& name,
                               const std::string& utf8);

// The import system proper, as importlib.import_module(name): the module
// itself, never its top-level package.
py::object ImportThroughImportSystem(const py::object& name);

}  // namespace bridgeimport

#endif  // BRIDGEIMPORT_LOADER_IMPORT_SYSTEM_H_
