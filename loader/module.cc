// module.cc: the extension module bridgeimport._native, the binding layer.
//
// Exposes the finder (one per process, `_native.finder`), the loader type,
// bridgeimport's exception types and the native rules the Python package
// uses. The public API lives in the Python package; this module is the thin
// layer between it and the C++ of loader/ and finders/. Each file of
// loader/ registers what it defines (its Register* function); this one only
// initialises them in order.
//
// Declared safe without the GIL (Py_mod_gil = Py_MOD_GIL_NOT_USED, PEP 703):
// a free-threaded CPython then keeps the GIL off when it loads the module.
// What makes it so is set out in loader/py_support.h.
#include <pybind11/pybind11.h>

#include "loader/bridge_loader.h"
#include "loader/debug_log.h"
#include "loader/dependency_graph.h"
#include "loader/execution_stats.h"
#include "loader/finder.h"
#include "loader/load_frame.h"
#include "loader/module_scan.h"
#include "loader/py_support.h"
#include "loader/pyc_policy.h"

// pybind11 < 2.13 (Debian 12's 2.10, used by builds without build isolation)
// cannot declare it; those builds then run with the GIL, as before.
#if PYBIND11_VERSION_HEX >= 0x020D0000
PYBIND11_MODULE(_native, m, pybind11::mod_gil_not_used()) {
#else
PYBIND11_MODULE(_native, m) {
#endif
  m.doc() = "bridgeimport's native finder and loader (see bridgeimport).";
  bridgeimport::InitPyRefs(m);
  bridgeimport::InitDebugLog();
  bridgeimport::RegisterLoader(m);
  bridgeimport::RegisterFinder(m);
  bridgeimport::RegisterLoadFrames(m);
  bridgeimport::RegisterDependencyGraph(m);
  bridgeimport::RegisterExecutionStats(m);
  bridgeimport::RegisterModuleScan(m);
  bridgeimport::RegisterPycPolicy(m);
}
