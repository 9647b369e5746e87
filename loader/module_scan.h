// module_scan.h: what a reload transaction reads of sys.modules, in one
// native pass each.
//
// A transaction (python/bridgeimport/_transaction.py) selects the modules
// under its packages when it begins, classifies them, and at its end asks
// which entries are new. With a thousand modules loaded, those passes in
// Python cost more than re-running the one module that changed (issue 13:
// a changed-only transaction must cost what changed). Here each is one loop
// over a private copy of sys.modules, with no Python code run.
//
// Example (Python):
//
//   before = _native.select_modules(["app"])      # {"app": ..., "app.x": ...}
//   hinted = _native.modules_of_files(before, {"/src/app/x.py"})
//   code, packages, changed, others = _native.classify_modules(
//       {n: before[n] for n in hinted}, True)    # only app.x is checked
//   ...
//   fresh = _native.new_entries(["app"], before)  # loaded or replaced since
#ifndef BRIDGEIMPORT_LOADER_MODULE_SCAN_H_
#define BRIDGEIMPORT_LOADER_MODULE_SCAN_H_

#include <pybind11/pybind11.h>

namespace bridgeimport {

namespace py = pybind11;

void RegisterModuleScan(py::module_& m);

}  // namespace bridgeimport

#endif  // BRIDGEIMPORT_LOADER_MODULE_SCAN_H_
