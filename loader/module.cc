// module.cc: the extension module bridgeimport._native.
//
// Exposes the finder (one per process, `_native.finder`), the loader type and
// bridgeimport's exception types. The public API lives in the Python package;
// this module is the thin layer between it and the pure C++ core.
#include <pybind11/pybind11.h>

#include "loader/load_context.h"
#include "loader/native_finder.h"
#include "loader/native_loader.h"
#include "loader/py_support.h"

PYBIND11_MODULE(_native, m) {
  m.doc() = "bridgeimport's native finder and loader (see bridgeimport).";
  bridgeimport::InitPyRefs(m);
  bridgeimport::RegisterNativeLoader(m);
  bridgeimport::RegisterNativeFinder(m);
  bridgeimport::RegisterLoadContext(m);
}
