// module.cc: the extension module bridgeimport._native.
//
// Exposes the finder (one per process, `_native.finder`), the loader type and
// bridgeimport's exception types. The public API lives in the Python package;
// this module is the thin layer between it and the pure C++ core.
//
// Declared safe without the GIL (Py_mod_gil = Py_MOD_GIL_NOT_USED, PEP 703):
// a free-threaded CPython then keeps the GIL off when it loads the module.
// What makes it so is set out in loader/py_support.h.
#include <pybind11/pybind11.h>

#include "loader/debug_log.h"
#include "loader/load_context.h"
#include "loader/native_finder.h"
#include "loader/native_loader.h"
#include "loader/py_support.h"

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
  bridgeimport::RegisterNativeLoader(m);
  bridgeimport::RegisterNativeFinder(m);
  bridgeimport::RegisterLoadContext(m);
}
