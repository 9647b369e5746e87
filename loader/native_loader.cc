#include "loader/native_loader.h"

#include <marshal.h>  // not part of Python.h

#include <algorithm>
#include <chrono>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

#include "finders/pyc_header.h"
#include "loader/debug_log.h"
#include "loader/load_context.h"
#include "loader/py_support.h"

namespace bridgeimport {
namespace {

// True if the str `key` starts with `prefix` and is longer. Reads the
// characters in place for the common compact-ASCII case: no allocation.
bool KeyBelow(PyObject* key, const std::string& prefix) {
  if (!PyUnicode_Check(key)) return false;
  Py_ssize_t size;
  const char* data;
  if (PyUnicode_IS_COMPACT_ASCII(key)) {
    size = PyUnicode_GET_LENGTH(key);
    data = static_cast<const char*>(PyUnicode_DATA(key));
  } else {
    data = PyUnicode_AsUTF8AndSize(key, &size);
    if (data == nullptr) {
      PyErr_Clear();
      return false;
    }
  }
  return static_cast<size_t>(size) > prefix.size() &&
         std::memcmp(data, prefix.data(), prefix.size()) == 0;
}

// Removes the entries below `prefix` that a failed execution of `name` added
// to sys.modules, and returns their names. CPython inserted `name` right
// before executing it, and every module imported since was inserted (or, on
// success, moved) after it: dicts keep insertion order. So walking
// sys.modules backwards down to `name` finds exactly the additions, at no
// cost to successful loads. Entries that were there before the load sit
// before `name` and are left alone. If `name` is gone (the module removed
// itself), `loaded_here`, the bridge modules this execution loaded, stands
// in for the walk.
std::vector<std::string> RemoveAddedBelow(const std::string& name,
                                          const std::string& prefix,
                                          const std::vector<std::string>& loaded_here) {
  std::vector<std::string> added;
  py::dict modules = SysModules();
  bool reached_own = false;
  // The keys at one instant (PyDict_Keys copies them under the dict's lock):
  // other threads keep importing, and iterating the live dict would fail
  // with "dictionary changed size during iteration".
  py::list keys = py::reinterpret_steal<py::list>(PyDict_Keys(modules.ptr()));
  if (!keys) throw py::error_already_set();
  for (Py_ssize_t i = PyList_GET_SIZE(keys.ptr()) - 1; i >= 0; --i) {
    PyObject* key = PyList_GET_ITEM(keys.ptr(), i);  // the list holds it
    if (!PyUnicode_Check(key)) continue;
    std::string k = ToUtf8(key);
    if (k == name) {
      reached_own = true;
      break;
    }
    if (KeyBelow(key, prefix)) added.push_back(std::move(k));
  }
  if (!reached_own) {
    added.clear();
    for (const std::string& k : loaded_here)
      if (k.size() > prefix.size() && k.compare(0, prefix.size(), prefix) == 0)
        added.push_back(k);
  }
  // The failed module goes first: removing children may run __del__ and
  // switch threads, and while `name` is still there another thread's
  // `import name.x` would not wait on name's lock and could leave a fresh
  // orphan behind. Both callers (CPython's _load_unlocked and LoadNatively)
  // tolerate the entry being gone already.
  if (PyDict_DelItemString(modules.ptr(), name.c_str()) != 0) PyErr_Clear();
  for (const std::string& k : added)
    if (PyDict_DelItemString(modules.ptr(), k.c_str()) != 0) PyErr_Clear();
  std::sort(added.begin(), added.end());
  return added;
}

// Puts a module namespace back to `snapshot` (same keys, same objects)
// without ever showing other threads a half-empty module: snapshot values go
// back first, then the keys the failed run added are removed; the objects
// they held are released last, when the namespace is already whole.
void RestoreNamespace(const py::dict& ns, const py::object& snapshot) {
  if (PyDict_Update(ns.ptr(), snapshot.ptr()) != 0) PyErr_Clear();
  py::list released;
  py::list keys = py::reinterpret_steal<py::list>(PyDict_Keys(ns.ptr()));
  for (py::handle key : keys) {
    int in_snapshot = PyDict_Contains(snapshot.ptr(), key.ptr());
    if (in_snapshot != 0) {
      if (in_snapshot < 0) PyErr_Clear();
      continue;
    }
    py::object value = DictItem(ns, key);  // module code may run on other threads
    if (value) released.append(value);
    if (PyDict_DelItem(ns.ptr(), key.ptr()) != 0) PyErr_Clear();
  }
}  // `released` drops its references here

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
  // Another thread may have dropped it meanwhile: then there is no KeyError to keep.
  if (PyDict_DelItem(cache.ptr(), key.ptr()) != 0) PyErr_Clear();
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

}  // namespace

NativeLoader::NativeLoader(std::string name, std::string path, bool is_package,
                           bool synthetic, bool no_follow, bool atomic,
                           std::vector<std::string> roots)
    : name_(std::move(name)),
      path_(std::move(path)),
      is_package_(is_package),
      synthetic_(synthetic),
      no_follow_(no_follow),
      atomic_(atomic),
      roots_(std::move(roots)) {}

void NativeLoader::SetSource(py::object bytes) {
  py::object old;  // released after the lock
  absl::MutexLock lock(results_->mu);
  old = Exchange(results_->source, std::move(bytes));
}

py::object NativeLoader::Source() const {
  absl::MutexLock lock(results_->mu);
  return results_->source;  // Py_INCREF only
}

SourceObservation NativeLoader::Executed() const {
  absl::MutexLock lock(results_->mu);
  return results_->executed;  // Py_INCREF of its bytes only
}

py::object NativeLoader::path() const {
  if (synthetic_) return py::none();
  return py::str(path_);
}

void NativeLoader::CheckName(const py::object& fullname) const {
  if (fullname.is_none()) return;
  std::string asked = ToUtf8(fullname);
  if (asked == name_) return;
  throw MakeImportError(py::reinterpret_borrow<py::object>(PyExc_ImportError),
                        "loader for " + name_ + " cannot handle " + asked, asked, "");
}

py::object NativeLoader::CreateModule(py::handle) const {
  return py::none();  // default module creation, as SourceFileLoader
}

namespace {

std::string CheckHashBasedPycs() {
  return py::getattr(Refs().imp, "check_hash_based_pycs", py::str("default"))
      .cast<std::string>();
}

bool DontWriteBytecode() {
  // An attribute of sys, not PySys_GetObject's borrowed reference: another
  // thread may assign sys.dont_write_bytecode meanwhile.
  py::object flag = py::getattr(Refs().sys, "dont_write_bytecode", py::none());
  int truth = PyObject_IsTrue(flag.ptr());
  if (truth < 0) PyErr_Clear();
  return truth == 1;
}

// The code object in a pyc body, or None if it is not one (corrupt, foreign,
// truncated): such a file is ignored and rewritten, never trusted.
py::object UnmarshalCode(const std::string& pyc, const std::string& source_path) {
  PyObject* obj = PyMarshal_ReadObjectFromString(
      pyc.data() + kPycHeaderSize, static_cast<Py_ssize_t>(pyc.size() - kPycHeaderSize));
  if (obj == nullptr) {
    PyErr_Clear();
    return py::none();
  }
  py::object code = py::reinterpret_steal<py::object>(obj);
  if (!PyCode_Check(code.ptr())) return py::none();
  Refs().imp.attr("_fix_co_filename")(code, source_path);
  return code;
}

}  // namespace

py::object NativeLoader::Compile(SourceObservation* seen, const char** origin) {
  // importlib's SourceLoader.get_code, natively: a valid pyc is used as is; a
  // missing, stale, corrupt or untrusted one is replaced after compiling.
  const PyRefs& refs = Refs();
  const std::string cache_path = CachePathFor(path_);
  std::optional<FileContents> source;
  bool hash_based = false;
  bool check_source = true;
  if (!cache_path.empty()) {
    // Code from outside the mount must not run, by way of the pyc either. A
    // pyc in the source's own __pycache__ is checked as it is read (no extra
    // system call); under sys.pycache_prefix, the source is checked instead.
    const size_t slash = path_.rfind('/');
    const bool pyc_beside_source =
        slash != std::string::npos &&
        cache_path.compare(0, slash + 13, path_.substr(0, slash) + "/__pycache__/") == 0;
    const std::vector<std::string>* check_source_path =
        pyc_beside_source ? nullptr : &roots_;
    const std::vector<std::string>* check_pyc = pyc_beside_source ? &roots_ : nullptr;
    absl::StatusOr<FileStat> source_stat = StatFile(path_, no_follow_, check_source_path);
    absl::StatusOr<FileContents> pyc;
    if (source_stat.ok()) pyc = ReadWholeFile(cache_path, false, check_pyc);
    absl::StatusOr<PycHeader> header =
        pyc.ok() ? ParsePycHeader(pyc->data, refs.magic)
                 : absl::StatusOr<PycHeader>(pyc.status());
    if (header.ok()) {
      bool valid = false;
      if (header->hash_based()) {
        hash_based = true;
        check_source = header->check_source();
        std::string mode = CheckHashBasedPycs();
        if (mode != "never" && (check_source || mode == "always")) {
          source = ReadFileForModule(path_, name_, no_follow_, &roots_);
          py::bytes hash = SourceHash(source->data);
          valid = std::string(hash) == header->source_hash;
        } else {
          valid = true;  // unchecked hash-based pyc: trusted by definition
        }
      } else {
        valid = TimestampMatches(*header,
                                 PycMtimeSeconds(source_stat->mtime_sec,
                                                 source_stat->mtime_nsec),
                                 source_stat->size) &&
                !TimestampPycIsRacy(source_stat->mtime_ns, pyc->mtime_ns);
      }
      if (valid) {
        py::object code = UnmarshalCode(pyc->data, path_);
        if (!code.is_none()) {
          py::object bytes = source.has_value() ? py::object(py::bytes(source->data))
                                                : py::object(py::none());
          if (origin != nullptr) *origin = "bytecode cache";
          if (seen != nullptr) {
            seen->valid = true;
            seen->stat = source.has_value() ? static_cast<const FileStat&>(*source)
                                            : *source_stat;
            seen->observed_ns = WallClockNanos();
            seen->bytes = bytes;
          }
          SetSource(std::move(bytes));
          return code;
        }
      }
    }
  }
  if (!source.has_value()) source = ReadFileForModule(path_, name_, no_follow_, &roots_);
  py::bytes data(source->data);
  if (seen != nullptr) {
    seen->valid = true;
    seen->stat = *source;
    seen->observed_ns = WallClockNanos();
    seen->bytes = data;
  }
  py::object code = refs.compile(data, path_, "exec", py::arg("dont_inherit") = true);
  SetSource(data);
  bool written = !cache_path.empty() && !DontWriteBytecode() &&
                 WritePyc(cache_path, code, *source, hash_based, check_source);
  if (origin != nullptr) *origin = written ? "source, bytecode cache written" : "source";
  return code;
}

bool NativeLoader::WritePyc(const std::string& cache_path, const py::object& code,
                            const FileContents& source, bool hash_based,
                            bool check_source) const {
  const PyRefs& refs = Refs();
  std::string header;
  if (hash_based) {
    py::bytes hash = SourceHash(source.data);
    header = MakeHashPycHeader(refs.magic, std::string(hash), check_source);
  } else {
    // A timestamp pyc written before the source's second is over could not be
    // told from a same-second rewrite later: do not write one (never stale).
    if (TimestampPycIsRacy(source.mtime_ns, WallClockNanos())) return false;
    header = MakeTimestampPycHeader(
        refs.magic, PycMtimeSeconds(source.mtime_sec, source.mtime_nsec),
        source.data.size());
  }
  PyObject* marshalled = PyMarshal_WriteObjectToString(code.ptr(), Py_MARSHAL_VERSION);
  if (marshalled == nullptr) {
    PyErr_Clear();  // an unmarshallable constant: just no cache
    return false;
  }
  py::bytes body = py::reinterpret_steal<py::bytes>(marshalled);
  header += std::string(body);
  mode_t mode = (source.mode | 0200) & 0666;  // as CPython's _calc_mode
  // Read-only trees, full disks, permissions: the cache is skipped, the
  // import goes on (CPython's set_data does the same).
  return WriteFileAtomic(cache_path, header, mode).ok();
}

py::object NativeLoader::GetCode(py::object fullname) {
  CheckName(fullname);
  if (synthetic_) return Refs().compile("", "<string>", "exec", py::arg("dont_inherit") = true);
  return Compile();
}

py::object NativeLoader::GetSource(py::object fullname) {
  CheckName(fullname);
  if (synthetic_) return py::str("");
  py::object data = Source();
  if (!data || data.is_none()) data = py::bytes(ReadFileForModule(path_, name_, no_follow_, &roots_).data);
  return CallParked(Refs().decode_source, py::make_tuple(data));  // bytecode
}

py::object NativeLoader::GetFilename(py::object fullname) const {
  CheckName(fullname);
  if (synthetic_)
    throw MakeImportError(
        py::reinterpret_borrow<py::object>(PyExc_ImportError),
        "bridgeimport: package '" + name_ +
            "' is provided for a mount and has no file",
        name_, "");
  return py::str(path_);
}

bool NativeLoader::IsPackage(py::object fullname) const {
  CheckName(fullname);
  return is_package_;
}

py::bytes NativeLoader::GetData(const std::string& path) const {
  return py::bytes(ReadFileForModule(path, name_, false).data);
}

py::object NativeLoader::GetResourceReader(py::handle self, py::object fullname) const {
  CheckName(fullname);
  py::list directories;
  for (const std::string& d : resource_directories_) directories.append(d);
  return py::module_::import("bridgeimport._resources")
      .attr("reader")(self, name_, is_package_, directories);
}

std::string NativeLoader::Repr() const {
  if (synthetic_)
    return "<bridgeimport.Loader '" + name_ + "' (mount package)>";
  return "<bridgeimport.Loader '" + name_ + "' from '" + path_ + "'>";
}

void NativeLoader::ExecModule(py::handle module) {
  if (synthetic_) return;
  py::object spec = py::getattr(module, "__spec__", py::none());
  // _load_unlocked() sets _initializing on a first load; importlib.reload()
  // does not. Anything else executing an existing module is a re-execution.
  bool first_load =
      !spec.is_none() &&
      py::bool_(py::getattr(spec, "_initializing", py::bool_(false)));
  py::dict ns = module.attr("__dict__");

  const std::string prefix = name_ + ".";
  // Namespace to restore on failure.
  py::object snapshot = first_load ? py::object(py::none())
                                   : ReloadSnapshot(module, spec, ns, ExecutionEpoch(name_));

  LoadFrame frame(name_, first_load, atomic_);
  SourceObservation seen;
  const char* origin = "";
  BeginExecution(name_);  // every path below ends in RecordExecution
  const auto started = std::chrono::steady_clock::now();
  auto elapsed = [&started]() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started)
        .count();
  };
  try {
    py::object code = Compile(&seen, &origin);
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
  } catch (py::error_already_set& error) {
    RecordExecution(name_, elapsed(), false);
    std::string note = "bridgeimport: executing '" + path_ + "' as module '" +
                       name_ + "' failed; ";
    if (first_load) {
      std::vector<std::string> rolled_back;
      if (is_package_) rolled_back = RemoveAddedBelow(name_, prefix, frame.LoadedFirst());
      rolled_back.insert(rolled_back.begin(), name_);
      note += "rolled back sys.modules: " + JoinNames(rolled_back);
      std::vector<std::string> atomic = frame.Failed();
      if (!atomic.empty())
        note += "; atomic mode also removed: " + JoinNames(atomic);
      note += ". Fix the error and import again.";
    } else {
      frame.Failed();
      RestoreNamespace(ns, snapshot);
      note += "the module keeps its previous contents (namespace restored).";
    }
    AddNote(error, note);
    if (DebugEnabled())
      DebugLog(first_load ? "rollback %s: %s" : "reload failed %s: %s",
               {py::str(name_), py::str(note)});
    throw;
  }
  double seconds = elapsed();
  RecordExecution(name_, seconds, true);
  {
    absl::MutexLock lock(results_->mu);
    std::swap(results_->executed, seen);  // the older observation dies after the lock
  }
  frame.Succeeded(module);
  if (DebugEnabled())
    DebugLog(first_load ? "load %s from %s (code from %s, %.3f ms)"
                        : "reload %s from %s (code from %s, %.3f ms)",
             {py::str(name_), py::str(path_), py::str(origin),
              py::float_(seconds * 1e3)});
}

bool NativeLoader::SourceChanged() const {
  if (synthetic_) return false;
  const SourceObservation executed = Executed();  // a copy: no lock held below
  if (!executed.valid) return true;
  absl::StatusOr<FileStat> now = StatFile(path_, no_follow_);
  if (!now.ok()) return true;
  const FileStat& then = executed.stat;
  bool same_metadata = now->mtime_ns == then.mtime_ns && now->size == then.size &&
                       now->ino == then.ino && now->ctime_ns == then.ctime_ns;
  // A change made within the timestamp resolution after the observation
  // could leave every field as it was (the same rule as for timestamp pycs).
  bool racy = TimestampPycIsRacy(std::max(then.mtime_ns, then.ctime_ns),
                                 executed.observed_ns);
  if (same_metadata && !racy) return false;
  if (!executed.bytes || executed.bytes.is_none() || now->size != then.size)
    return true;
  absl::StatusOr<FileContents> current = ReadWholeFile(path_, no_follow_);
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

py::object NativeLoader::SourceStamp() const {
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

// The snapshot the finder took when importlib.reload() asked for the spec,
// before reload() rewrote __spec__ and the other import attributes, if no
// other execution of the module began since or was running then. Two
// threads' reloads of one module can both pass importlib's _RELOADING check;
// they then take turns on the module lock, and a snapshot taken while the
// other one ran would bring back its half-made namespace. Else the namespace
// as it is now, under the module lock: nothing of another run is half done,
// and only the import attributes stay as this reload set them.
py::object NativeLoader::ReloadSnapshot(py::handle module, const py::object& spec,
                                        const py::dict& ns, int64_t epoch) const {
  py::object pending = spec.is_none() ? py::object(py::none())
                                      : py::getattr(spec, kReloadSnapshotAttr, py::none());
  py::object snapshot;
  if (epoch >= 0 && py::isinstance<py::tuple>(pending) && py::len(pending) == 3 &&
      pending[py::int_(0)].ptr() == module.ptr() &&
      py::int_(pending[py::int_(2)]).cast<int64_t>() == epoch) {
    snapshot = pending[py::int_(1)];
  } else {
    snapshot = py::reinterpret_steal<py::object>(PyDict_Copy(ns.ptr()));
    if (!snapshot) throw py::error_already_set();
  }
  if (!pending.is_none() && PyObject_DelAttrString(spec.ptr(), kReloadSnapshotAttr) != 0)
    PyErr_Clear();
  return snapshot;
}

py::object BridgeLoaderOf(py::handle module) {
  PyObject* spec = PyObject_GetAttrString(module.ptr(), "__spec__");
  if (spec == nullptr) {
    PyErr_Clear();
    return py::object();
  }
  py::object owned_spec = py::reinterpret_steal<py::object>(spec);
  PyObject* loader = PyObject_GetAttrString(spec, "loader");
  if (loader == nullptr) {
    PyErr_Clear();
    return py::object();
  }
  py::object owned = py::reinterpret_steal<py::object>(loader);
  if (!py::isinstance<NativeLoader>(owned)) return py::object();
  return owned;
}

bool IsBridgeModule(py::handle module) { return static_cast<bool>(BridgeLoaderOf(module)); }

namespace {

// What a transaction needs to know of many modules at once, in one call:
// None for a module bridgeimport did not load, "package" for a mount package
// (no code), else "bridge", or with `check` "changed"/"unchanged".
py::list BridgeStates(const py::iterable& modules, bool check) {
  const py::str kPackage("package"), kBridge("bridge"), kChanged("changed"),
      kUnchanged("unchanged");
  py::list out;
  for (py::handle module : modules) {
    py::object owner = BridgeLoaderOf(module);  // keeps the loader alive
    if (!owner) {
      out.append(py::none());
      continue;
    }
    const NativeLoader& loader = owner.cast<const NativeLoader&>();
    if (loader.synthetic())
      out.append(kPackage);
    else if (!check)
      out.append(kBridge);
    else
      out.append(loader.SourceChanged() ? kChanged : kUnchanged);
  }
  return out;
}

}  // namespace

void RegisterNativeLoader(py::module_& m) {
  m.def("bridge_states", &BridgeStates, py::arg("modules"), py::arg("check") = false,
        "Per module: None (not a bridge module), 'package' (mount package), "
        "'bridge', or with check=True 'changed'/'unchanged'.");
  py::class_<NativeLoader> cls(m, "Loader");
  // The docstring goes in __doc__, not through pybind11's tp_doc: pybind11
  // 2.10 allocates tp_doc with PyObject_Malloc and CPython 3.13 frees it with
  // PyMem_Free (gh-118909), a fatal error under PYTHONMALLOC=debug.
  cls.doc() = R"doc(
bridgeimport's loader for one bridge module (importlib.abc.Loader,
InspectLoader, ExecutionLoader and ResourceLoader protocols). Created by the
finder; one per module spec.)doc";
  cls.def_property_readonly("name", &NativeLoader::name,
                             "The module's fully qualified name.")
      .def_property_readonly("path", &NativeLoader::path,
                             "The source file, or None for a mount package.")
      .def("create_module", &NativeLoader::CreateModule, py::arg("spec"),
           "Returns None: the import system creates the module object.")
      .def("exec_module", &NativeLoader::ExecModule, py::arg("module"),
           "Executes the module's source in its namespace; rolls back on "
           "failure.")
      .def("get_code", &NativeLoader::GetCode, py::arg("fullname") = py::none(),
           "Reads and compiles the source; returns the code object.")
      .def("get_source", &NativeLoader::GetSource,
           py::arg("fullname") = py::none(),
           "The decoded source that was last compiled (else read from disk).")
      .def("get_filename", &NativeLoader::GetFilename,
           py::arg("fullname") = py::none(), "The module's file.")
      .def("is_package", &NativeLoader::IsPackage,
           py::arg("fullname") = py::none(),
           "True for packages (__init__.py and mount packages).")
      .def("get_data", &NativeLoader::GetData, py::arg("path"),
           "The bytes of the file at `path`.")
      .def("get_resource_reader",
           [](py::object self, py::object fullname) {
             return self.cast<const NativeLoader&>().GetResourceReader(self, fullname);
           },
           py::arg("fullname") = py::none(),
           "The importlib.resources reader: the file's directory, or a mount "
           "package's directories (see bridgeimport._resources).")
      .def("source_changed", &NativeLoader::SourceChanged,
           "True if the file differs from the source the module last executed "
           "(metadata first, bytes where metadata cannot decide).")
      .def_property_readonly("source_stamp", &NativeLoader::SourceStamp,
                             "What the last exec saw of the file, or None.")
      .def("__repr__", &NativeLoader::Repr);
}

}  // namespace bridgeimport
