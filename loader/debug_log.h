// debug_log.h: DEBUG lines on the "bridgeimport" logger from native code.
//
// The native finder and loader log find hits, loads, reloads and rollbacks.
// The question "is DEBUG on?" must cost nothing measurable when it is off, so
// DebugEnabled() answers from the logger's own level cache (Logger._cache, a
// dict logging clears in place on every setLevel()/disable()): one dict
// lookup. Before `logging` is imported nobody can have enabled DEBUG, and the
// answer is one sys.modules lookup. Misses of the finder never ask.
#ifndef BRIDGEIMPORT_LOADER_DEBUG_LOG_H_
#define BRIDGEIMPORT_LOADER_DEBUG_LOG_H_

#include <pybind11/pybind11.h>

#include <initializer_list>

namespace bridgeimport {

namespace py = pybind11;

// Makes the state DebugEnabled() reads: once, at module init, so that no
// thread ever waits on a C++ static initialiser that calls Python.
void InitDebugLog();

// True if logging.getLogger("bridgeimport").isEnabledFor(logging.DEBUG).
// Never raises (an error counts as "off").
bool DebugEnabled();

// logging.getLogger("bridgeimport").debug(format, *args), %-style as logging
// does it. Never raises and leaves any pending Python exception as it was:
// logging must never change the outcome of an import.
void DebugLog(const char* format, std::initializer_list<py::handle> args);

}  // namespace bridgeimport

#endif  // BRIDGEIMPORT_LOADER_DEBUG_LOG_H_
