#include "loader/native_finder.h"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "finders/module_name.h"
#include "loader/debug_log.h"
#include "loader/load_context.h"
#include "loader/native_loader.h"
#include "loader/py_support.h"

namespace bridgeimport {
namespace {

// Names whose "does it exist elsewhere?" question is being asked on this
// thread, so that a finder asking importlib about the same name again does
// not recurse forever.
thread_local std::vector<std::string> asking_elsewhere;

// importlib.abc and importlib._abc (its Loader, 3.10+) define the ABCs the
// native classes are registered with, lazily: bridgeimport._abcs answers for
// these two names (see there).
bool IsImportlibAbc(absl::string_view name) {
  return name == "importlib.abc" || name == "importlib._abc";
}

PyObject* ImportlibAbcSpec(PyObject* fullname, PyObject* path, PyObject* target) {
  try {
    py::object find_spec = py::module_::import("bridgeimport._abcs").attr("find_spec");
    return CallParked(find_spec, py::make_tuple(py::handle(fullname), py::handle(path),
                                                py::handle(target)))
        .release()
        .ptr();
  } catch (py::error_already_set& e) {
    e.restore();
    return nullptr;
  }
}

// --- the METH_FASTCALL entry point ----------------------------------------

using FinderRef = std::shared_ptr<NativeFinder>;

PyObject* FastFindSpec(PyObject* capsule, PyObject* const* args,
                       Py_ssize_t nargs, PyObject* kwnames) {
  PyObject* params[3] = {nullptr, Py_None, Py_None};
  static const char* const kNames[3] = {"fullname", "path", "target"};
  if (nargs > 3) {
    PyErr_Format(PyExc_TypeError,
                 "find_spec() takes at most 3 arguments (%zd given)", nargs);
    return nullptr;
  }
  for (Py_ssize_t i = 0; i < nargs; ++i) params[i] = args[i];
  if (kwnames != nullptr) {
    Py_ssize_t nkw = PyTuple_GET_SIZE(kwnames);
    for (Py_ssize_t k = 0; k < nkw; ++k) {
      PyObject* key = PyTuple_GET_ITEM(kwnames, k);
      int slot = -1;
      for (int j = 0; j < 3; ++j)
        if (PyUnicode_CompareWithASCIIString(key, kNames[j]) == 0) slot = j;
      if (slot < 0 || slot < nargs) {
        PyErr_Format(PyExc_TypeError,
                     "find_spec() got an unexpected or repeated keyword "
                     "argument '%U'", key);
        return nullptr;
      }
      params[slot] = args[nargs + k];
    }
  }
  if (params[0] == nullptr) {
    PyErr_SetString(PyExc_TypeError,
                    "find_spec() missing required argument 'fullname'");
    return nullptr;
  }
  auto* finder = static_cast<FinderRef*>(PyCapsule_GetPointer(capsule, nullptr));
  if (finder == nullptr) return nullptr;
  return (*finder)->FindSpec(params[0], params[1], params[2]);
}

PyMethodDef kFastFindSpecDef = {
    "find_spec", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(FastFindSpec)),
    METH_FASTCALL | METH_KEYWORDS,
    "find_spec(fullname, path=None, target=None)\n--\n\n"
    "Returns a ModuleSpec for a bridge module or mount package, None for "
    "every other name."};

// Binds the fast entry point to `finder` and stores it in the instance dict,
// where attribute lookup finds it before the type's (slower) method.
void BindFastPath(py::object instance, const FinderRef& finder) {
  auto holder = std::make_unique<FinderRef>(finder);
  py::capsule capsule(holder.get(), [](void* p) {
    std::unique_ptr<FinderRef> owned(static_cast<FinderRef*>(p));
  });
  holder.release();  // now owned by the capsule's destructor
  PyObject* fn = PyCFunction_NewEx(&kFastFindSpecDef, capsule.ptr(), nullptr);
  if (!fn) throw py::error_already_set();
  instance.attr("find_spec") = py::reinterpret_steal<py::object>(fn);
}

// Converts a non-OK status from MountTable::Build into the Python exception a
// user expects for that kind of mistake.
[[noreturn]] void RaiseMountError(const absl::Status& status) {
  std::string message = "bridgeimport: " + std::string(status.message());
  switch (status.code()) {
    case absl::StatusCode::kNotFound:
      PyErr_SetString(PyExc_FileNotFoundError, message.c_str());
      break;
    case absl::StatusCode::kFailedPrecondition:
      PyErr_SetString(PyExc_NotADirectoryError, message.c_str());
      break;
    case absl::StatusCode::kPermissionDenied:
      PyErr_SetString(PyExc_PermissionError, message.c_str());
      break;
    default:
      PyErr_SetString(PyExc_ValueError, message.c_str());
  }
  throw py::error_already_set();
}

// The core's name rules, plus str.isidentifier() for non-ASCII components,
// which only the interpreter can judge exactly.
absl::Status ValidatePythonName(py::handle name, const std::string& utf8) {
  absl::Status valid = ValidateModuleName(utf8);
  if (valid.ok() && !IsAscii(utf8) && !IsPythonIdentifierPath(name))
    return absl::InvalidArgumentError("module name component is not an identifier");
  return valid;
}

const char* KindName(Resolution::Kind kind) {
  switch (kind) {
    case Resolution::Kind::kMiss: return "miss";
    case Resolution::Kind::kInvalidName: return "invalid";
    case Resolution::Kind::kNotFound: return "not_found";
    case Resolution::Kind::kPrefix: return "prefix";
    case Resolution::Kind::kModule: return "module";
    case Resolution::Kind::kPackage: return "package";
  }
  return "?";
}

void LogFindHit(PyObject* fullname, const py::object& spec) {
  py::object origin = py::getattr(spec, "origin", py::none());
  if (origin.is_none()) origin = py::str("mount package");
  DebugLog("find %s: %s", {fullname, origin});
}

}  // namespace

NativeFinder::NativeFinder()
    : cache_(std::make_shared<DirCache>()),
      table_(std::shared_ptr<const MountTable>(*MountTable::Build({}, cache_))) {}

void NativeFinder::SetMounts(const py::list& configs) {
  std::vector<MountConfig> parsed;
  for (py::handle item : configs) {
    py::tuple t(py::reinterpret_borrow<py::object>(item));  // any sequence
    if (t.size() < 4)
      throw py::value_error("bridgeimport: a mount config is (package, directories, "
                            "pattern, allow_external_symlinks[, atomic])");
    MountConfig c;
    c.package = ToUtf8(t[0]);
    for (py::handle d : t[1]) c.directories.push_back(ToUtf8(d));
    c.pattern = ToUtf8(t[2]);
    c.allow_external_symlinks = t[3].cast<bool>();
    c.atomic = t.size() > 4 && t[4].cast<bool>();
    parsed.push_back(std::move(c));
  }
  absl::StatusOr<std::unique_ptr<MountTable>> table =
      MountTable::Build(parsed, cache_);
  if (!table.ok()) RaiseMountError(table.status());
  table_.Publish(std::shared_ptr<const MountTable>(*std::move(table)));
}

py::list NativeFinder::Mounts() const {
  std::shared_ptr<const MountTable> table = table_.Get();
  py::list out;
  for (const Mount* m : table->mounts()) {
    py::tuple dirs(m->directories().size());
    for (size_t i = 0; i < m->directories().size(); ++i)
      dirs[i] = py::str(m->directories()[i]);
    out.append(py::make_tuple(m->package(), dirs, m->glob().text(),
                              m->allow_external_symlinks(), m->atomic()));
  }
  return out;
}

void NativeFinder::InvalidateCaches() { cache_->InvalidateAll(); }

PyObject* NativeFinder::FindSpec(PyObject* fullname, PyObject* path,
                                 PyObject* target) {
  if (!PyUnicode_Check(fullname)) Py_RETURN_NONE;
  Py_ssize_t size;
  const char* utf8 = PyUnicode_AsUTF8AndSize(fullname, &size);
  if (utf8 == nullptr) {  // lone surrogates: no mount can serve it
    PyErr_Clear();
    Py_RETURN_NONE;
  }
  absl::string_view name(utf8, static_cast<size_t>(size));
  if (!table_.Local().MayServe(name)) {  // the miss path: no lock, no allocation
    if (IsImportlibAbc(name)) return ImportlibAbcSpec(fullname, path, target);
    Py_RETURN_NONE;
  }
  try {
    std::shared_ptr<const MountTable> table = table_.Get();  // stable across Python calls
    py::object spec = FindSpecHit(table, name, fullname, path, target);
    if (!spec.is_none() && DebugEnabled()) LogFindHit(fullname, spec);
    return spec.release().ptr();
  } catch (py::error_already_set& e) {
    e.restore();
    return nullptr;
  } catch (const std::exception& e) {
    PyErr_Format(PyExc_RuntimeError, "bridgeimport: internal error in find_spec: %s",
                 e.what());
    return nullptr;
  }
}

py::object NativeFinder::FindSpecHit(const std::shared_ptr<const MountTable>& table,
                                     absl::string_view name,
                                     py::handle fullname, py::handle path,
                                     py::handle target) {
  if (!IsAscii(name) && !IsPythonIdentifierPath(fullname)) return py::none();
  Resolution r = table->Resolve(name);
  switch (r.kind) {
    case Resolution::Kind::kMiss:
    case Resolution::Kind::kInvalidName:
    case Resolution::Kind::kNotFound:
      return py::none();
    case Resolution::Kind::kPrefix:
      if (ExistsElsewhere(fullname, path, target)) return py::none();
      return SyntheticSpec(r, fullname, target);
    case Resolution::Kind::kModule:
    case Resolution::Kind::kPackage:
      if (ShadowsRealModule(*table, r, name, path)) return py::none();
      return FileSpec(r, name, fullname, target);
  }
  return py::none();
}

bool NativeFinder::ExistsElsewhere(py::handle fullname, py::handle path,
                                   py::handle target) {
  std::string key = ToUtf8(fullname);
  if (std::find(asking_elsewhere.begin(), asking_elsewhere.end(), key) !=
      asking_elsewhere.end())
    return false;
  asking_elsewhere.push_back(key);
  struct Pop {
    ~Pop() { asking_elsewhere.pop_back(); }
  } pop;
  py::list meta_path(Refs().sys.attr("meta_path"));  // a copy
  for (py::handle finder : meta_path) {
    if (py::isinstance<NativeFinder>(finder)) continue;
    py::object find_spec = py::getattr(finder, "find_spec", py::none());
    if (find_spec.is_none()) continue;
    py::object spec = CallParked(find_spec, py::make_tuple(fullname, path, target));
    if (!spec.is_none()) return true;
  }
  return false;
}

bool NativeFinder::ShadowsRealModule(const MountTable& table,
                                     const Resolution& r,
                                     absl::string_view name, py::handle path) {
  absl::string_view parent = ParentName(name);
  if (parent.empty() || path.is_none()) return false;
  py::object module = SysModules().attr("get")(std::string(parent));
  if (module.is_none()) return false;
  if (IsBridgeModule(module)) return false;  // ours: no rival
  // A real package: its own directories (other than the mount's) come first.
  const std::vector<std::string>& mine = r.mount->real_directories();
  // Any iterable: a namespace package's __path__ is a _NamespacePath.
  py::list entries;
  try {
    entries = py::list(py::reinterpret_borrow<py::object>(path));
  } catch (py::error_already_set&) {
    return false;
  }
  for (py::handle entry : entries) {
    if (!PyUnicode_Check(entry.ptr())) continue;
    std::string dir = ToUtf8(entry);
    if (dir.empty() || dir[0] != '/') continue;
    std::string real = RealPath(dir);
    if (std::find(mine.begin(), mine.end(), real) != mine.end()) continue;
    if (DirectoryHasModule(table.cache(), dir, LastComponent(name),
                           Refs().module_suffixes))
      return true;
  }
  return false;
}

bool NativeFinder::GlobEnforced(const Mount& mount) const {
  py::object module = SysModules().attr("get")(mount.package());
  return module.is_none() || IsBridgeModule(module);
}

py::object NativeFinder::FileSpec(const Resolution& r, absl::string_view name,
                                  py::handle fullname, py::handle target) {
  bool is_package = r.kind == Resolution::Kind::kPackage;
  // Links out of the mount were refused while resolving; the roots let the
  // loader refuse one swapped in between find_spec and exec_module.
  std::vector<std::string> roots;
  if (!r.mount->allow_external_symlinks()) roots = r.mount->real_directories();
  py::object loader = py::cast(NativeLoader(std::string(name), r.file, is_package,
                                            /*synthetic=*/false,
                                            /*no_follow=*/!r.file_is_symlink,
                                            /*atomic=*/r.mount->atomic(),
                                            std::move(roots)));
  // ModuleSpec's __init__ and properties are bytecode: parked calls.
  py::dict kwargs;
  kwargs["origin"] = r.file;
  kwargs["is_package"] = is_package;
  py::object spec = CallParked(Refs().module_spec, py::make_tuple(fullname, loader), kwargs);
  SetAttrParked(spec, "has_location", Py_True);
  std::string cached = CachePathFor(r.file);
  if (!cached.empty()) SetAttrParked(spec, "cached", py::str(cached));
  if (is_package) {
    py::list locations;
    if (GlobEnforced(*r.mount))
      locations.append(std::string(kPlaceholderScheme) + std::string(name));
    else
      locations.append(r.directory);
    spec.attr("submodule_search_locations") = locations;
  }
  if (!target.is_none() && py::hasattr(target, "__dict__")) {
    // importlib.reload(): remember the namespace before reload() rewrites it,
    // and which executions of the module had begun (see ReloadSnapshot).
    int64_t epoch = ExecutionEpoch(std::string(name));
    py::object snapshot = py::reinterpret_steal<py::object>(
        PyDict_Copy(target.attr("__dict__").ptr()));
    if (!snapshot) throw py::error_already_set();
    spec.attr(kReloadSnapshotAttr) = py::make_tuple(target, snapshot, epoch);
  }
  return spec;
}

py::object NativeFinder::SyntheticSpec(const Resolution& r, py::handle fullname,
                                       py::handle target) {
  std::string name = ToUtf8(fullname);
  NativeLoader native(name, "", true, /*synthetic=*/true, /*no_follow=*/false,
                      /*atomic=*/false);
  if (r.mount != nullptr) native.SetResourceDirectories(r.mount->directories());
  py::object loader = py::cast(std::move(native));
  py::dict kwargs;
  kwargs["origin"] = py::none();
  kwargs["is_package"] = true;
  py::object spec = CallParked(Refs().module_spec, py::make_tuple(fullname, loader), kwargs);
  py::list locations;
  locations.append(std::string(kPlaceholderScheme) + name);
  spec.attr("submodule_search_locations") = locations;
  (void)target;  // nothing to restore: a mount package executes no code
  return spec;
}

py::dict NativeFinder::Resolve(const py::object& name) {
  if (!PyUnicode_Check(name.ptr()))
    throw py::type_error("module name must be str, not " +
                         std::string(Py_TYPE(name.ptr())->tp_name));
  std::string utf8 = ToUtf8(name);
  std::shared_ptr<const MountTable> table = table_.Get();
  Resolution r;
  absl::Status valid = table->MayServe(utf8) ? ValidatePythonName(name, utf8) : absl::OkStatus();
  if (!valid.ok()) {
    r.kind = Resolution::Kind::kInvalidName;
    r.detail = std::string(valid.message());
  } else {
    r = table->Resolve(utf8);
  }
  if (r.kind == Resolution::Kind::kMiss)
    r.detail = "no mount serves it (the first component '" +
               std::string(FirstComponent(utf8)) + "' is not mounted)";
  py::dict out;
  out["kind"] = KindName(r.kind);
  out["file"] = r.file.empty() ? py::object(py::none()) : py::str(r.file);
  out["directory"] =
      r.directory.empty() ? py::object(py::none()) : py::str(r.directory);
  out["mount"] = r.mount ? py::object(py::str(r.mount->package())) : py::object(py::none());
  out["detail"] = r.detail;
  return out;
}

py::list NativeFinder::ListChildren(const py::object& package) {
  std::shared_ptr<const MountTable> table = table_.Get();
  py::list out;
  for (const ChildModule& c : table->ListChildren(ToUtf8(package))) {
    // The core accepts any non-ASCII UTF-8 letter-run; only the interpreter
    // knows str.isidentifier(). A name find_spec refuses is never listed.
    if (!IsAscii(c.name)) {
      py::str child(c.name);
      int ok = PyUnicode_IsIdentifier(child.ptr());
      if (ok < 0) throw py::error_already_set();
      if (!ok) continue;
    }
    py::list shadowed;
    for (const std::string& s : c.shadowed) shadowed.append(s);
    out.append(py::make_tuple(c.name, c.is_package, c.file, shadowed));
  }
  return out;
}

py::object NativeFinder::Load(const py::object& name, bool atomic) {
  if (!PyUnicode_Check(name.ptr()))
    throw py::type_error("bridgeimport.load() takes a module name (str), not " +
                         std::string(Py_TYPE(name.ptr())->tp_name));
  std::string utf8 = ToUtf8(name);
  py::dict modules = SysModules();
  // Warm path, as _find_and_load's: an initialised bridge module is returned
  // as is. Where the interpreter's _find_and_load looks again after the
  // _initializing check (gh-143650), so does this: another thread's failed
  // import may have removed it meanwhile, and the slow path then imports it
  // again (raising that import's own error). A strong reference: a
  // concurrent rollback may drop sys.modules' one.
  py::object module = DictItem(modules, name);
  if (module && !module.is_none() && IsBridgeModule(module) &&
      !py::bool_(py::getattr(module.attr("__spec__"), "_initializing", py::bool_(false))) &&
      (!Refs().find_and_load_rechecks || DictItem(modules, name).ptr() == module.ptr())) {
    RecordDependency(utf8);
    return module;
  }
  std::shared_ptr<const MountTable> table = table_.Get();
  // Judged before the mount table: "" or "a/b" is malformed, not "unmounted".
  absl::Status valid = ValidatePythonName(name, utf8);
  if (!valid.ok())
    throw MakeImportError(Refs().invalid_name,
                          "bridgeimport: invalid module name '" + utf8 +
                              "': " + std::string(valid.message()),
                          utf8, "");
  std::optional<AtomicScope> scope;
  if (atomic) scope.emplace();
  // A null result means "not loaded here"; None is a legitimate result (a
  // module that put None in sys.modules), returned as CPython returns it.
  module = table->MayServe(utf8) ? LoadNatively(name, utf8) : py::object();
  if (!module) {
    py::dict r = Resolve(name);
    std::string kind = r["kind"].cast<std::string>();
    if (kind == "miss" || kind == "not_found" || kind == "invalid")
      throw MakeImportError(Refs().not_found,
                            "bridgeimport: no bridge module '" + utf8 + "': " +
                                r["detail"].cast<std::string>(),
                            utf8, "");
    module = ImportThroughImportSystem(name);
  }
  RecordDependency(utf8);  // a load() during another bridge's execution
  return module;
}

py::object NativeFinder::ImportThroughImportSystem(const py::object& name) {
  // The import system proper: same module locks, same sys.modules protocol
  // as a plain import statement. The module is the one the import returns
  // (a fromlist naming an attribute every module has makes it return the
  // module, not the top-level package), as importlib.import_module returns
  // _find_and_load's: looking it up again would race with another thread's
  // reload, which takes it out of sys.modules for an instant (_exec).
  PyObject* module = ParkIfEndedAtExit([&] {
    return PyImport_ImportModuleLevelObject(name.ptr(), nullptr, nullptr,
                                            Refs().name_fromlist.ptr(), 0);
  });
  if (!module) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(module);
}

namespace {

// The module locks of the bridge modules loaded natively, kept alive (one
// small object per module). Why: _get_module_lock() and the weakref callback
// that runs when a module lock dies execute bytecode while holding the
// interpreter's import lock. CPython < 3.12 ends a daemon thread there at
// exit with the import lock held; threads then waiting for it wait on memory
// that finalisation frees (_PyImport_Fini), and the exiting process crashes.
// Stock importlib has that race too; a kept lock takes bridge loads out of it.
// Never destroyed: finalisation must not free a lock a parked thread holds.
// Made at module init (RegisterNativeFinder), before any thread can load: a
// dict, safe for many threads on its own. Every read takes a strong
// reference: Keep() on another thread may replace (and free) an entry.
py::dict& KeptLocks() {
  static absl::NoDestructor<py::dict> locks;
  return *locks;
}

// The import system's lock for `name`: the kept one while importlib's
// _module_locks still maps `name` to it (reading that is no bytecode), else
// _get_module_lock(name). While the kept lock lives, _get_module_lock(name)
// can only return it, so the answer stays right after the check.
py::object ModuleLockFor(const py::object& name) {
  py::object kept = DictItem(KeptLocks(), name);
  PyObject* locks = Refs().module_locks.ptr();
  if (kept && PyDict_Check(locks)) {
    // A strong reference to the weakref: the callback of a dying lock (on
    // any thread) deletes entries of _module_locks.
    py::object ref = DictItem(locks, name);
    if (ref && PyWeakref_Check(ref.ptr())) {
#if PY_VERSION_HEX >= 0x030D0000
      PyObject* target = nullptr;
      if (PyWeakref_GetRef(ref.ptr(), &target) < 0) throw py::error_already_set();
      Py_XDECREF(target);  // `kept` keeps it alive: comparing the address is enough
#else
      PyObject* target = PyWeakref_GetObject(ref.ptr());  // borrowed
#endif
      if (target == kept.ptr()) return kept;
    }
  }
  return CallParked(Refs().get_module_lock, py::make_tuple(name));
}

// Holds one of the import system's per-module locks (_ModuleLockManager).
class ModuleLockGuard {
 public:
  explicit ModuleLockGuard(const py::object& name) : lock_(ModuleLockFor(name)) {
    PyObject* r = ParkIfEndedAtExit(
        [&] { return PyObject_CallMethod(lock_.ptr(), "acquire", nullptr); });
    if (r == nullptr) throw py::error_already_set();
    Py_DECREF(r);
  }
  ~ModuleLockGuard() {
    // Run by a forced unwind (no GIL): release() would run without the GIL.
    owner_.ParkIfLost();
    // Release even while an exception is propagating; never throw here.
    // Everything below may run Python code (release(), the unraisable hook,
    // importlib's weakref callback when the last reference to the lock goes)
    // that may drop the GIL: see ParkIfEndedAtExit. The reference is dropped
    // with a raw Py_DECREF inside it, not by pybind11's noexcept ~object(),
    // through which the unwind would call std::terminate.
    PyObject* lock = lock_.release().ptr();
    ParkIfEndedAtExit([&] {
      PyObject* type;
      PyObject* value;
      PyObject* traceback;
      PyErr_Fetch(&type, &value, &traceback);
      PyObject* r = PyObject_CallMethod(lock, "release", nullptr);
      if (r == nullptr) PyErr_WriteUnraisable(lock);
      Py_XDECREF(r);
      Py_DECREF(lock);
      PyErr_Restore(type, value, traceback);
      return 0;
    });
  }
  // Keeps the lock alive for the next load of `name` (see KeptLocks).
  void Keep(const py::object& name) {
    if (PyDict_SetItem(KeptLocks().ptr(), name.ptr(), lock_.ptr()) != 0)
      throw py::error_already_set();
  }
  ModuleLockGuard(const ModuleLockGuard&) = delete;
  ModuleLockGuard& operator=(const ModuleLockGuard&) = delete;

 private:
  GilOwner owner_;
  py::object lock_;
};

bool ImportTimeEnabled() {
  // sys._xoptions as an attribute (a strong reference), not PySys_GetXOptions'
  // borrowed one.
  py::object xoptions = py::getattr(Refs().sys, "_xoptions", py::none());
  if (!PyDict_Check(xoptions.ptr())) return false;
  int present = PyDict_Contains(xoptions.ptr(), py::str("importtime").ptr());
  if (present < 0) PyErr_Clear();
  return present == 1;
}

}  // namespace

py::object NativeFinder::LoadNatively(const py::object& name, const std::string& utf8) {
  const GilOwner owner;  // for the cleanups below (see GilOwner)
  // Only when a plain import would reach this finder first, and nothing the
  // C import path adds (-X importtime) is asked for.
  py::list meta_path(Refs().sys.attr("meta_path"));
  if (meta_path.size() == 0 || !py::isinstance<NativeFinder>(meta_path[0]) ||
      ImportTimeEnabled())
    return py::object();
  py::object sys_path = py::getattr(Refs().sys, "path", py::none());
  py::object hooks = py::getattr(Refs().sys, "path_hooks", py::none());
  if (PySys_Audit("import", "OOOOO", name.ptr(), Py_None, sys_path.ptr(),
                  meta_path.ptr(), hooks.ptr()) < 0)
    throw py::error_already_set();

  py::dict modules = SysModules();
  std::string parent(ParentName(utf8));
  std::string child(LastComponent(utf8));

  // As _find_and_load: wait for the module's lock, then look again. Present:
  // another thread imported it, the general path returns it (waiting for
  // its _initializing to end). Absent: a concurrent import failed, and this
  // thread imports it itself (and sees the module's own error), as importlib
  // does.
  ModuleLockGuard lock(name);
  if (modules.contains(name)) return py::object();
  // _find_and_load_unlocked: the parent is imported under the module's lock;
  // if that imported the module too ("crazy side-effects"), it is returned.
  py::object path = py::none();
  py::object parent_spec = py::none();
  if (!parent.empty()) {
    if (!modules.contains(parent)) {
      PyObject* top = ParkIfEndedAtExit([&] {
        return PyImport_ImportModuleLevel(parent.c_str(), nullptr, nullptr, nullptr, 0);
      });
      if (!top) throw py::error_already_set();
      Py_DECREF(top);
    }
    if (modules.contains(name)) return py::object();
    py::object parent_module = DictItem(modules, parent.c_str());
    if (!parent_module) return py::object();
    if (!py::hasattr(parent_module, "__path__")) return py::object();
    path = parent_module.attr("__path__");
    parent_spec = py::getattr(parent_module, "__spec__", py::none());
  }
  // _find_spec: each finder is asked under the global import lock, and a
  // name the finder's work imported meanwhile is the import system's.
  py::object spec;
  {
    ImportLockGuard import_lock;
    spec = py::reinterpret_steal<py::object>(FindSpec(name.ptr(), path.ptr(), Py_None));
  }
  if (!spec) throw py::error_already_set();
  if (spec.is_none() || modules.contains(name)) return py::object();
  py::object loader_obj = spec.attr("loader");
  NativeLoader& loader = loader_obj.cast<NativeLoader&>();

  // module_from_spec + _init_module_attrs, in CPython's order.
  py::object module = py::reinterpret_steal<py::object>(PyModule_NewObject(name.ptr()));
  if (!module) throw py::error_already_set();
  module.attr("__loader__") = loader_obj;
  module.attr("__package__") = GetAttrParked(spec, "parent");
  module.attr("__spec__") = spec;
  py::object locations = spec.attr("submodule_search_locations");
  if (!locations.is_none()) module.attr("__path__") = locations;
  if (py::bool_(GetAttrParked(spec, "has_location"))) {  // mount packages have no file
    module.attr("__file__") = spec.attr("origin");
#if PY_VERSION_HEX < 0x030F0000  // 3.15's _init_module_attrs no longer sets it
    py::object cached = GetAttrParked(spec, "cached");
    if (!cached.is_none()) module.attr("__cached__") = cached;
#endif
  }

  // _load_unlocked: _initializing before the insert (the C fast path waits
  // only on that flag), exec, move to the end, a replacement wins.
  bool tracks_children =
      !parent_spec.is_none() && py::hasattr(parent_spec, "_uninitialized_submodules");
  if (tracks_children) parent_spec.attr("_uninitialized_submodules").attr("append")(child);
  struct ChildTracking {  // parent_spec._uninitialized_submodules.pop()
    const GilOwner& owner;
    py::object spec;
    bool on;
    ~ChildTracking() {
      if (!on) return;
      owner.ParkIfLost();
      PyObject* list = PyObject_GetAttrString(spec.ptr(), "_uninitialized_submodules");
      PyObject* r = list ? ParkIfEndedAtExit(
                               [&] { return PyObject_CallMethod(list, "pop", nullptr); })
                         : nullptr;
      if (r == nullptr) PyErr_Clear();
      Py_XDECREF(r);
      Py_XDECREF(list);
    }
  } tracking{owner, parent_spec, tracks_children};
  spec.attr("_initializing") = true;
  try {
    modules[name] = module;
    try {
      loader.ExecModule(module);
    } catch (py::error_already_set&) {
      if (PyDict_DelItem(modules.ptr(), name.ptr()) != 0) PyErr_Clear();
      throw;
    }
    // sys.modules.pop(name), as a strong reference (not a borrowed one that
    // another thread's `del sys.modules[name]` could free).
    py::object current = DictItem(modules, name);
    if (!current) {
      PyErr_SetObject(PyExc_KeyError, name.ptr());
      throw py::error_already_set();
    }
    module = std::move(current);
    if (PyDict_DelItem(modules.ptr(), name.ptr()) != 0) throw py::error_already_set();
    modules[name] = module;
  } catch (...) {
    owner.ParkIfLost();  // a forced unwind: no Python without the GIL
    spec.attr("_initializing") = false;
    throw;
  }
  spec.attr("_initializing") = false;
  lock.Keep(name);
  py::object parent_now = parent.empty() ? py::object() : DictItem(modules, parent.c_str());
  if (parent_now) {
    if (PyObject_SetAttrString(parent_now.ptr(), child.c_str(), module.ptr()) != 0) {
      PyErr_Clear();
      std::string message = "Cannot set an attribute on '" + parent +
                            "' for child module '" + child + "'";
      if (PyErr_WarnEx(PyExc_ImportWarning, message.c_str(), 1) != 0)
        throw py::error_already_set();
    }
  }
#if PY_VERSION_HEX >= 0x030F0000
  // 3.15 (PEP 810), as _find_and_load_unlocked: the name's pending lazy
  // imports are settled (it leaves sys.lazy_modules).
  py::object settle = py::getattr(Refs().imp, "_set_lazy_attributes", py::none());
  if (!settle.is_none()) {
    PyObject* r = PyObject_CallFunctionObjArgs(settle.ptr(), module.ptr(), name.ptr(), nullptr);
    if (r == nullptr) {
      py::error_already_set e;
      std::string message = "Cannot set lazy attributes on '" + utf8 + "': " +
                            py::repr(e.value()).cast<std::string>();
      if (PyErr_WarnEx(PyExc_ImportWarning, message.c_str(), 1) != 0)
        throw py::error_already_set();
    }
    Py_XDECREF(r);
  }
#endif
  return module;
}

void RegisterNativeFinder(py::module_& m) {
  KeptLocks();  // made now, before any load can reach it
  py::class_<NativeFinder, std::shared_ptr<NativeFinder>> cls(m, "Finder", py::dynamic_attr());
  // __doc__, not a tp_doc: see RegisterNativeLoader.
  cls.doc() = R"doc(
bridgeimport's meta-path finder (importlib.abc.MetaPathFinder protocol).
The process has one, `bridgeimport._native.finder`; bridgeimport.install()
puts it at sys.meta_path[0].)doc";
  cls.def("find_spec",
           [](NativeFinder& f, py::object fullname, py::object path,
              py::object target) {
             PyObject* r = f.FindSpec(fullname.ptr(), path.ptr(), target.ptr());
             if (!r) throw py::error_already_set();
             return py::reinterpret_steal<py::object>(r);
           },
           py::arg("fullname"), py::arg("path") = py::none(),
           py::arg("target") = py::none(),
           "Returns a ModuleSpec for a bridge module or mount package, None "
           "for every other name.")
      .def("invalidate_caches", &NativeFinder::InvalidateCaches,
           "Forgets cached directory listings (importlib.invalidate_caches).")
      .def("set_mounts", &NativeFinder::SetMounts, py::arg("configs"))
      .def("mounts", &NativeFinder::Mounts)
      .def("resolve", &NativeFinder::Resolve, py::arg("name"))
      .def("list_children", &NativeFinder::ListChildren, py::arg("package"))
      .def("load", &NativeFinder::Load, py::arg("name"), py::arg("atomic") = false)
      .def("__repr__", [](const NativeFinder&) {
        return std::string("<bridgeimport.Finder>");
      });

  auto finder = std::make_shared<NativeFinder>();
  py::object instance = py::cast(finder);
  BindFastPath(instance, finder);
  m.attr("finder") = instance;
  m.attr("PLACEHOLDER_SCHEME") = kPlaceholderScheme;
}

}  // namespace bridgeimport
