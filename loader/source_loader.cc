// source_loader.cc: the loader of bridge files (see the .h).
#include "loader/source_loader.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <utility>
#include <vector>

#include "finders/pyc_header.h"
#include "loader/cpython_private.h"
#include "loader/debug_log.h"
#include "loader/execution_stats.h"
#include "loader/load_frame.h"
#include "loader/py_support.h"
#include "loader/pyc_policy.h"
#include "loader/rollback.h"

namespace bridgeimport {
namespace {

// linecache revalidates an entry by size and mtime only, so after a
// same-size rewrite within the clock's resolution it keeps the old lines while
// the new code runs, and tracebacks show lines that did not run (stock
// CPython does too). Dropping the entry of a file about to run makes
// linecache read the file again: the bytes just compiled (or those the pyc
// was validated against). One dict deletion; refilling the entry with the
// compiled lines instead would cost a decode and split on every such exec.
void ForgetLinecacheEntry(const std::string& path) {
  py::object linecache = DictItem(SysModules(), "linecache");
  if (!linecache) return;  // not imported: nothing cached
  py::object cache = py::getattr(linecache, "cache", py::none());
  if (!PyDict_Check(cache.ptr())) return;
  // Lazy entries too: theirs would be an older loader's get_source.
  py::str key(path);
  int present = PyDict_Contains(cache.ptr(), key.ptr());
  if (present <= 0) {
    if (present < 0) PyErr_Clear();
    return;  // the common case, without raising a KeyError
  }
  // Another thread may have dropped it meanwhile: then there is no KeyError to
  // keep.
  if (PyDict_DelItem(cache.ptr(), key.ptr()) != 0) PyErr_Clear();
}

// Fills `seen` (if asked for) with what was just read or validated.
void Observe(SourceObservation* seen, const FileStat& stat,
             const py::object& bytes) {
  if (seen == nullptr) return;
  seen->valid = true;
  seen->stat = stat;
  seen->observed_ns = WallClockNanos();
  seen->bytes = bytes;
}

}  // namespace

SourceLoader::SourceLoader(std::string name, std::string path,
                           SourceLoaderOptions options)
    : BridgeLoader(std::move(name), options.is_package),
      path_(std::move(path)),
      options_(std::move(options)) {}

py::tuple SourceLoader::PickleState() const {
  return py::make_tuple("source", name_, path_, options_.is_package,
                        options_.no_follow, options_.atomic,
                        StringList(options_.roots));
}

void SourceLoader::SetSource(py::object bytes) {
  py::object old;  // released after the lock
  absl::MutexLock lock(results_->mu);
  old = Exchange(results_->source, std::move(bytes));
}

py::object SourceLoader::Source() const {
  absl::MutexLock lock(results_->mu);
  return results_->source;  // Py_INCREF only
}

SourceObservation SourceLoader::Executed() const {
  absl::MutexLock lock(results_->mu);
  return results_->executed;  // Py_INCREF of its bytes only
}

py::object SourceLoader::Compile(SourceObservation* seen, const char** origin) {
  const std::string cache_path = CachePathFor(path_);
  const SourceFile file{path_, name_, options_.no_follow, &options_.roots};
  CachedCode cached =
      cache_path.empty() ? CachedCode() : ReadCachedCode(cache_path, file);
  if (cached.code) {
    py::object bytes = cached.source.has_value()
                           ? py::object(py::bytes(cached.source->data))
                           : py::object(py::none());
    if (origin != nullptr) *origin = "bytecode cache";
    Observe(seen, cached.source_stat, bytes);
    SetSource(std::move(bytes));
    return cached.code;
  }
  FileContents source =
      cached.source.has_value()
          ? std::move(*cached.source)
          : ReadFileForModule(path_, name_, options_.no_follow,
                              &options_.roots);
  py::bytes data(source.data);
  Observe(seen, source, data);
  py::object code =
      Refs().compile(data, path_, "exec", py::arg("dont_inherit") = true);
  SetSource(data);
  bool written =
      !cache_path.empty() && WritePyc(cache_path, code, source,
                                      cached.hash_based, cached.check_source);
  if (origin != nullptr)
    *origin = written ? "source, bytecode cache written" : "source";
  return code;
}

py::object SourceLoader::GetCode(py::object fullname) {
  CheckName(fullname);
  return Compile();
}

py::object SourceLoader::GetSource(py::object fullname) {
  CheckName(fullname);
  py::object data = Source();
  if (!data || data.is_none())
    data = py::bytes(
        ReadFileForModule(path_, name_, options_.no_follow, &options_.roots)
            .data);
  return CallParked(Refs().decode_source, py::make_tuple(data));  // bytecode
}

py::object SourceLoader::GetFilename(py::object fullname) const {
  CheckName(fullname);
  return py::str(path_);
}

std::string SourceLoader::Repr() const {
  return "<bridgeimport.Loader '" + name_ + "' from '" + path_ + "'>";
}

void SourceLoader::RunCode(const py::dict& ns, SourceObservation* seen,
                           const char** origin) {
  py::object code = Compile(seen, origin);
  try {
    ForgetLinecacheEntry(path_);
  } catch (py::error_already_set&) {
    // Only what tracebacks display: never a reason to fail the import.
  }
  if (!ns.contains("__builtins__"))
    ns["__builtins__"] = py::handle(PyEval_GetBuiltins());
  PyObject* result = ParkIfEndedAtExit(
      [&] { return PyEval_EvalCode(code.ptr(), ns.ptr(), ns.ptr()); });
  if (!result) throw py::error_already_set();
  Py_DECREF(result);
}

std::string SourceLoader::RollBack(bool first_load, LoadFrame& frame,
                                   const py::dict& ns,
                                   const py::object& snapshot) const {
  std::string note = "bridgeimport: executing '" + path_ + "' as module '" +
                     name_ + "' failed; ";
  if (!first_load) {
    std::vector<std::string> loaded = frame.LoadedFirst();
    frame.Failed();  // atomic mode: removes what the reload loaded first
    RestoreNamespace(ns, snapshot);
    if (is_package_) ReattachLoadedChildren(name_, ns, loaded);
    return note +
           "the module keeps its previous contents (namespace restored).";
  }
  std::vector<std::string> rolled_back;
  if (is_package_)
    rolled_back = RemoveAddedBelow(name_, name_ + ".", frame.LoadedFirst());
  rolled_back.insert(rolled_back.begin(), name_);
  note += "rolled back sys.modules: " + JoinNames(rolled_back);
  std::vector<std::string> atomic = frame.Failed();
  if (!atomic.empty())
    note += "; atomic mode also removed: " + JoinNames(atomic);
  return note + ". Fix the error and import again.";
}

void SourceLoader::ExecModule(py::handle module) {
  py::object spec = py::getattr(module, "__spec__", py::none());
  // _load_unlocked() sets _initializing on a first load; importlib.reload()
  // does not. Anything else executing an existing module is a re-execution.
  const bool first_load = SpecInitializing(spec);
  py::dict ns = module.attr("__dict__");
  // Namespace to restore on failure.
  py::object snapshot =
      first_load ? py::object(py::none())
                 : TakeReloadSnapshot(module, spec, ns, ExecutionEpoch(name_));

  LoadFrame frame(name_, first_load, options_.atomic);
  SourceObservation seen;
  const char* origin = "";
  BeginExecution(name_);  // every path below ends in RecordExecution
  const auto started = std::chrono::steady_clock::now();
  auto elapsed = [&started]() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                         started)
        .count();
  };
  try {
    RunCode(ns, &seen, &origin);
  } catch (py::error_already_set& error) {
    RecordExecution(name_, elapsed(), false);
    std::string note = RollBack(first_load, frame, ns, snapshot);
    AddNote(error, note);
    if (DebugEnabled())
      DebugLog(first_load ? "rollback %s: %s" : "reload failed %s: %s",
               {py::str(name_), py::str(note)});
    throw;
  }
  const double seconds = elapsed();
  RecordExecution(name_, seconds, true);
  {
    absl::MutexLock lock(results_->mu);
    std::swap(results_->executed,
              seen);  // the older observation dies after the lock
  }
  frame.Succeeded(module);
  if (DebugEnabled())
    DebugLog(first_load ? "load %s from %s (code from %s, %.3f ms)"
                        : "reload %s from %s (code from %s, %.3f ms)",
             {py::str(name_), py::str(path_), py::str(origin),
              py::float_(seconds * 1e3)});
}

bool SourceLoader::SourceChanged() const {
  const SourceObservation executed = Executed();  // a copy: no lock held below
  if (!executed.valid) return true;
  absl::StatusOr<FileStat> now = StatFile(path_, options_.no_follow);
  if (!now.ok()) return true;
  const FileStat& then = executed.stat;
  bool same_metadata = now->mtime_ns == then.mtime_ns &&
                       now->size == then.size && now->ino == then.ino &&
                       now->ctime_ns == then.ctime_ns;
  // A change made within the timestamp resolution after the observation
  // could leave every field as it was (the same rule as for timestamp pycs).
  bool settled = SettledBefore(std::max(then.mtime_ns, then.ctime_ns),
                               executed.observed_ns);
  if (same_metadata && settled) return false;
  if (!executed.bytes || executed.bytes.is_none() || now->size != then.size)
    return true;
  absl::StatusOr<FileContents> current =
      ReadWholeFile(path_, options_.no_follow);
  if (!current.ok()) return true;
  char* data = nullptr;
  Py_ssize_t size = 0;
  if (PyBytes_AsStringAndSize(executed.bytes.ptr(), &data, &size) != 0) {
    PyErr_Clear();
    return true;
  }
  return current->data.size() != static_cast<size_t>(size) ||
         std::memcmp(current->data.data(), data, current->data.size()) != 0;
}

py::object SourceLoader::SourceStamp() const {
  const SourceObservation executed = Executed();
  if (!executed.valid) return py::none();
  py::dict out;
  out["mtime_ns"] = executed.stat.mtime_ns;
  out["size"] = executed.stat.size;
  out["ino"] = executed.stat.ino;
  out["ctime_ns"] = executed.stat.ctime_ns;
  out["observed_ns"] = executed.observed_ns;
  out["has_bytes"] = executed.bytes && !executed.bytes.is_none();
  return out;
}

}  // namespace bridgeimport
