// debug_log.cc: the "bridgeimport" logger from native code (see the .h).
#include "loader/debug_log.h"

#include <atomic>

#include "loader/cpython_private.h"
#include "loader/py_support.h"

namespace bridgeimport {
namespace {

constexpr long kDebug = 10;  // logging.DEBUG

// References taken once and never released: they must stay valid through
// interpreter finalisation (imports still happen then), like PyRefs. The
// logger and its cache are found on first use, by whichever thread comes
// first; they are published with a compare-and-swap, so every thread sees
// either nothing or the complete pair (the cache before the logger).
struct LoggerState {
  LoggerState()
      : logging_key(PyUnicode_InternFromString("logging")),
        debug_level(PyLong_FromLong(kDebug)) {
    if (logging_key == nullptr || debug_level == nullptr) PyErr_Clear();
  }
  PyObject* const logging_key;             // "logging", interned
  PyObject* const debug_level;             // 10
  std::atomic<PyObject*> logger{nullptr};  // logging.getLogger("bridgeimport")
  std::atomic<PyObject*> cache{nullptr};   // logger._cache when it is a dict
};

LoggerState& State() {
  static absl::NoDestructor<LoggerState> state;  // never destroyed, see above
  return *state;
}

// Stores `value` (a new reference) into `slot` unless another thread stored
// one first; returns the one that stays. Never releases a published object.
PyObject* PublishOnce(std::atomic<PyObject*>& slot, PyObject* value) {
  PyObject* expected = nullptr;
  if (slot.compare_exchange_strong(expected, value, std::memory_order_acq_rel))
    return value;
  Py_DECREF(value);  // the same logger: getLogger() returns one object per name
  return expected;
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
  if (PyObject* logger = s.logger.load(std::memory_order_acquire))
    return logger;
  if (s.logging_key == nullptr) return nullptr;
  // A strong reference: another thread may drop sys.modules' entry.
  PyObject* logging = nullptr;
  try {
    logging = DictItem(PyImport_GetModuleDict(), s.logging_key).release().ptr();
  } catch (py::error_already_set&) {
    PyErr_Clear();
  }
  if (logging == nullptr) return nullptr;
  PyObject* logger =
      PyObject_CallMethod(logging, "getLogger", "s", "bridgeimport");
  Py_DECREF(logging);
  if (logger ==
      nullptr) {  // e.g. `logging` still initialising: ask again later
    PyErr_Clear();
    return nullptr;
  }
  // Without it (another logging implementation): isEnabledFor() every time.
  if (PyObject* cache = LoggerLevelCache(logger)) PublishOnce(s.cache, cache);
  return PublishOnce(s.logger, logger);
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

void InitDebugLog() { State(); }

bool DebugEnabled() {
  LoggerState& s = State();
  PyObject* cache = s.cache.load(std::memory_order_acquire);
  if (cache != nullptr && s.debug_level != nullptr) {
    // logging fills _cache[DEBUG] on the first isEnabledFor(DEBUG) after
    // each clear, so a hit is the logger's own current answer. Only the
    // value's identity is used: True and False are immortal, a borrowed
    // answer would do, but another thread may clear the dict meanwhile.
    try {
      py::object cached = DictItem(cache, s.debug_level);
      if (cached) return cached.ptr() == Py_True;
    } catch (py::error_already_set&) {
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
    for (py::handle arg : args)
      call_args[i++] = py::reinterpret_borrow<py::object>(arg);
    py::handle(logger).attr("debug")(*call_args);
  } catch (py::error_already_set& e) {
    e.discard_as_unraisable("bridgeimport debug logging");
  } catch (const std::exception&) {
  }
}

}  // namespace bridgeimport
