#include "loader/debug_log.h"

#include "loader/py_support.h"

namespace bridgeimport {
namespace {

constexpr long kDebug = 10;  // logging.DEBUG

// References taken once and never released: they must stay valid through
// interpreter finalisation (imports still happen then), like PyRefs.
struct LoggerState {
  LoggerState()
      : logging_key(PyUnicode_InternFromString("logging")),
        debug_level(PyLong_FromLong(kDebug)) {
    if (logging_key == nullptr || debug_level == nullptr) PyErr_Clear();
  }
  PyObject* logging_key;          // "logging", interned
  PyObject* debug_level;          // 10
  PyObject* logger = nullptr;     // logging.getLogger("bridgeimport")
  PyObject* cache = nullptr;      // logger._cache when it is a dict
};

LoggerState& State() {
  static absl::NoDestructor<LoggerState> state;  // never destroyed, see above
  return *state;
}

// Saves the pending exception (if any) and puts it back on scope exit.
class PreserveError {
 public:
  PreserveError() { PyErr_Fetch(&type_, &value_, &traceback_); }
  ~PreserveError() {
    PyErr_Clear();
    PyErr_Restore(type_, value_, traceback_);
  }
  PreserveError(const PreserveError&) = delete;
  PreserveError& operator=(const PreserveError&) = delete;

 private:
  PyObject* type_;
  PyObject* value_;
  PyObject* traceback_;
};

// The "bridgeimport" logger (borrowed), or nullptr while `logging` has not
// been imported: then no one can have asked for DEBUG. Errors are cleared.
PyObject* Logger() {
  LoggerState& s = State();
  if (s.logger != nullptr) return s.logger;
  if (s.logging_key == nullptr) return nullptr;
  PyObject* logging = PyDict_GetItemWithError(PyImport_GetModuleDict(), s.logging_key);
  if (logging == nullptr) {
    PyErr_Clear();
    return nullptr;
  }
  Py_INCREF(logging);  // the call below may run code that drops sys.modules' ref
  PyObject* logger = PyObject_CallMethod(logging, "getLogger", "s", "bridgeimport");
  Py_DECREF(logging);
  if (logger == nullptr) {  // e.g. `logging` still initialising: ask again later
    PyErr_Clear();
    return nullptr;
  }
  s.logger = logger;
  PyObject* cache = PyObject_GetAttrString(logger, "_cache");
  if (cache != nullptr && PyDict_CheckExact(cache)) {
    s.cache = cache;
  } else {  // another logging implementation: isEnabledFor() every time
    Py_XDECREF(cache);
    PyErr_Clear();
  }
  return logger;
}

bool AskLogger() {
  PreserveError preserve;
  PyObject* logger = Logger();
  if (logger == nullptr) return false;
  PyObject* result = PyObject_CallMethod(logger, "isEnabledFor", "l", kDebug);
  if (result == nullptr) return false;
  int enabled = PyObject_IsTrue(result);
  Py_DECREF(result);
  return enabled == 1;
}

}  // namespace

bool DebugEnabled() {
  LoggerState& s = State();
  if (s.cache != nullptr && s.debug_level != nullptr) {
    // logging fills _cache[DEBUG] on the first isEnabledFor(DEBUG) after
    // each clear, so a hit is the logger's own current answer.
    PyObject* cached = PyDict_GetItemWithError(s.cache, s.debug_level);  // borrowed
    if (cached != nullptr) return cached == Py_True;
    if (PyErr_Occurred()) {
      PyErr_Clear();
      return false;
    }
  }
  return AskLogger();
}

void DebugLog(const char* format, std::initializer_list<py::handle> args) {
  PreserveError preserve;
  PyObject* logger = Logger();
  if (logger == nullptr) return;
  try {
    py::tuple call_args(1 + args.size());
    call_args[0] = py::str(format);
    size_t i = 1;
    for (py::handle arg : args) call_args[i++] = py::reinterpret_borrow<py::object>(arg);
    py::handle(logger).attr("debug")(*call_args);
  } catch (py::error_already_set& e) {
    e.discard_as_unraisable("bridgeimport debug logging");
  } catch (const std::exception&) {
  }
}

}  // namespace bridgeimport
