// finder.cc: bridgeimport's meta-path finder (see the .h).
#include "loader/finder.h"

#include <pybind11/stl.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "finders/module_name.h"
#include "loader/bridge_loader.h"
#include "loader/cpython_private.h"
#include "loader/debug_log.h"
#include "loader/import_system.h"
#include "loader/load_frame.h"
#include "loader/mount_package_loader.h"
#include "loader/py_support.h"
#include "loader/rollback.h"
#include "loader/source_loader.h"

namespace bridgeimport {
namespace {

// Names whose "does it exist elsewhere?" question is being asked on this
// thread, so that a finder asking importlib about the same name again does
// not recurse forever.
thread_local std::vector<std::string> asking_elsewhere;

// Why a name holding lone surrogates is served by no mount.
constexpr char kNotUtf8[] =
    "it holds characters UTF-8 cannot encode (lone surrogates), and mounts "
    "serve UTF-8 names only";

// importlib.abc and importlib._abc (its Loader, 3.10+) define the ABCs the
// native classes are registered with, lazily: bridgeimport._abcs answers for
// these two names (see there).
bool IsImportlibAbc(absl::string_view name) {
  return name == "importlib.abc" || name == "importlib._abc";
}

PyObject* ImportlibAbcSpec(PyObject* fullname, PyObject* path,
                           PyObject* target) {
  try {
    py::object find_spec =
        py::module_::import("bridgeimport._abcs").attr("find_spec");
    return CallParked(find_spec,
                      py::make_tuple(py::handle(fullname), py::handle(path),
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
                     "argument '%U'",
                     key);
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
  auto* finder =
      static_cast<FinderRef*>(PyCapsule_GetPointer(capsule, nullptr));
  if (finder == nullptr) return nullptr;
  return (*finder)->FindSpec(params[0], params[1], params[2]);
}

PyMethodDef kFastFindSpecDef = {
    "find_spec",
    reinterpret_cast<PyCFunction>(
        reinterpret_cast<void (*)(void)>(FastFindSpec)),
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
    // stat() failed other than missing or denied (EIO, ELOOP...).
    case absl::StatusCode::kUnavailable:
      PyErr_SetString(PyExc_OSError, message.c_str());
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
    return absl::InvalidArgumentError(
        "module name component is not an identifier");
  return valid;
}

const char* KindName(Resolution::Kind kind) {
  switch (kind) {
    case Resolution::Kind::kMiss:
      return "miss";
    case Resolution::Kind::kInvalidName:
      return "invalid";
    case Resolution::Kind::kNotFound:
      return "not_found";
    case Resolution::Kind::kPrefix:
      return "prefix";
    case Resolution::Kind::kModule:
      return "module";
    case Resolution::Kind::kPackage:
      return "package";
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
      table_(
          std::shared_ptr<const MountTable>(*MountTable::Build({}, cache_))) {}

void NativeFinder::SetMounts(const py::iterable& configs) {
  std::vector<MountConfig> parsed;
  for (py::handle item : configs) {
    if (!py::isinstance<MountConfig>(item))
      throw py::type_error(
          "bridgeimport: Finder.set_mounts() takes _native.MountConfig "
          "objects, not " +
          std::string(Py_TYPE(item.ptr())->tp_name));
    parsed.push_back(item.cast<MountConfig>());
  }
  absl::StatusOr<std::unique_ptr<MountTable>> table =
      MountTable::Build(parsed, cache_);
  if (!table.ok()) RaiseMountError(table.status());
  table_.Publish(std::shared_ptr<const MountTable>(*std::move(table)));
}

std::vector<MountConfig> NativeFinder::Mounts() const {
  std::shared_ptr<const MountTable> table = table_.Get();
  std::vector<MountConfig> out;
  for (const Mount* m : table->mounts()) {
    MountConfig c;
    c.package = m->package();
    c.directories = m->directories();
    c.pattern = m->glob().text();
    c.allow_external_symlinks = m->allow_external_symlinks();
    c.atomic = m->atomic();
    out.push_back(std::move(c));
  }
  return out;
}

void NativeFinder::InvalidateCaches() { cache_->InvalidateAll(); }

int NativeFinder::Revalidate(const py::iterable& paths) {
  std::vector<std::string> parsed;  // read first: no Python under the cache
  for (py::handle path : paths) parsed.push_back(ToUtf8(path));
  int dropped = 0;
  for (const std::string& path : parsed) dropped += cache_->Revalidate(path);
  return dropped;
}

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
  if (!table_.Local().MayServe(
          name)) {  // the miss path: no lock, no allocation
    if (IsImportlibAbc(name)) return ImportlibAbcSpec(fullname, path, target);
    Py_RETURN_NONE;
  }
  try {
    std::shared_ptr<const MountTable> table =
        table_.Get();  // stable across Python calls
    py::object spec = FindSpecHit(table, name, fullname, path, target);
    if (!spec.is_none() && DebugEnabled()) LogFindHit(fullname, spec);
    return spec.release().ptr();
  } catch (py::error_already_set& e) {
    e.restore();
    return nullptr;
  } catch (const std::exception& e) {
    PyErr_Format(PyExc_RuntimeError,
                 "bridgeimport: internal error in find_spec: %s", e.what());
    return nullptr;
  }
}

py::object NativeFinder::FindSpecHit(
    const std::shared_ptr<const MountTable>& table, absl::string_view name,
    py::handle fullname, py::handle path, py::handle target) {
  if (!IsAscii(name) && !IsPythonIdentifierPath(fullname)) return py::none();
  Resolution r = table->Resolve(name);
  switch (r.kind) {
    case Resolution::Kind::kMiss:
    case Resolution::Kind::kInvalidName:
    case Resolution::Kind::kNotFound:
      return py::none();
    case Resolution::Kind::kPrefix:
      if (ExistsElsewhere(fullname, path, target)) return py::none();
      return MountPackageSpec(r, fullname, target);
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
    py::object spec =
        CallParked(find_spec, py::make_tuple(fullname, path, target));
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
  SourceLoaderOptions options;
  options.is_package = is_package;
  options.no_follow = !r.file_is_symlink;
  options.atomic = r.mount->atomic();
  if (!r.mount->allow_external_symlinks())
    options.roots = r.mount->real_directories();
  py::object loader = WrapLoader(std::make_unique<SourceLoader>(
      std::string(name), r.file, std::move(options)));
  // ModuleSpec's __init__ and properties are bytecode: parked calls.
  py::dict kwargs;
  kwargs["origin"] = r.file;
  kwargs["is_package"] = is_package;
  py::object spec =
      CallParked(Refs().module_spec, py::make_tuple(fullname, loader), kwargs);
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
  // importlib.reload(): remember the namespace before reload() rewrites it.
  if (!target.is_none() && py::hasattr(target, "__dict__"))
    AttachReloadSnapshot(spec, target, std::string(name));
  return spec;
}

py::object NativeFinder::MountPackageSpec(const Resolution& r,
                                          py::handle fullname,
                                          py::handle target) {
  std::string name = ToUtf8(fullname);
  std::vector<std::string> resources;
  if (r.mount != nullptr) resources = r.mount->directories();
  py::object loader = WrapLoader(
      std::make_unique<MountPackageLoader>(name, std::move(resources)));
  py::dict kwargs;
  kwargs["origin"] = py::none();
  kwargs["is_package"] = true;
  py::object spec =
      CallParked(Refs().module_spec, py::make_tuple(fullname, loader), kwargs);
  py::list locations;
  locations.append(std::string(kPlaceholderScheme) + name);
  spec.attr("submodule_search_locations") = locations;
  (void)target;  // nothing to restore: a mount package executes no code
  return spec;
}

ResolvedName NativeFinder::Resolve(const py::object& name) {
  if (!PyUnicode_Check(name.ptr()))
    throw py::type_error("module name must be str, not " +
                         std::string(Py_TYPE(name.ptr())->tp_name));
  std::optional<std::string> encoded = Utf8Name(name);
  if (!encoded)
    return ResolvedName{KindName(Resolution::Kind::kInvalidName), "", "", "",
                        kNotUtf8};
  const std::string& utf8 = *encoded;
  std::shared_ptr<const MountTable> table = table_.Get();
  Resolution r;
  absl::Status valid =
      table->MayServe(utf8) ? ValidatePythonName(name, utf8) : absl::OkStatus();
  if (!valid.ok()) {
    r.kind = Resolution::Kind::kInvalidName;
    r.detail = std::string(valid.message());
  } else {
    r = table->Resolve(utf8);
  }
  if (r.kind == Resolution::Kind::kMiss)
    r.detail = "no mount serves it (the first component '" +
               std::string(FirstComponent(utf8)) + "' is not mounted)";
  return ResolvedName{KindName(r.kind), r.file, r.directory,
                      r.mount ? r.mount->package() : std::string(), r.detail};
}

std::vector<ChildModule> NativeFinder::ListChildren(const py::object& package) {
  std::shared_ptr<const MountTable> table = table_.Get();
  std::vector<ChildModule> out;
  std::optional<std::string> encoded = Utf8Name(package);
  if (!encoded) return out;  // no mount serves it, so it has no children
  for (ChildModule& c : table->ListChildren(*encoded)) {
    // The core accepts any non-ASCII UTF-8 letter-run; only the interpreter
    // knows str.isidentifier(). A name find_spec refuses is never listed.
    if (!IsAscii(c.name)) {
      py::str child(c.name);
      int ok = PyUnicode_IsIdentifier(child.ptr());
      if (ok < 0) throw py::error_already_set();
      if (!ok) continue;
    }
    out.push_back(std::move(c));
  }
  return out;
}

py::object NativeFinder::Load(const py::object& name, bool atomic) {
  if (!PyUnicode_Check(name.ptr()))
    throw py::type_error("bridgeimport.load() takes a module name (str), not " +
                         std::string(Py_TYPE(name.ptr())->tp_name));
  std::optional<std::string> encoded = Utf8Name(name);
  if (!encoded)
    throw MakeImportError(Refs().invalid_name,
                          "bridgeimport: invalid module name " +
                              ToUtf8(py::repr(name)) + ": " + kNotUtf8,
                          "", "");
  const std::string& utf8 = *encoded;
  py::dict modules = SysModules();
  // Warm path, as _find_and_load's: an initialised bridge module is returned
  // as is. Where the interpreter's _find_and_load looks again after the
  // _initializing check (gh-143650), so does this: another thread's failed
  // import may have removed it meanwhile, and the slow path then imports it
  // again (raising that import's own error). A strong reference: a
  // concurrent rollback may drop sys.modules' one.
  py::object module = DictItem(modules, name);
  if (module && !module.is_none() && IsBridgeModule(module) &&
      !SpecInitializing(module.attr("__spec__")) &&
      (!FindAndLoadRechecks() ||
       DictItem(modules, name).ptr() == module.ptr())) {
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
  module = table->MayServe(utf8) ? FindAndLoadNatively(*this, name, utf8)
                                 : py::object();
  if (!module) {
    ResolvedName r = Resolve(name);
    if (r.kind == "miss" || r.kind == "not_found" || r.kind == "invalid")
      throw MakeImportError(
          Refs().not_found,
          "bridgeimport: no bridge module '" + utf8 + "': " + r.detail, utf8,
          "");
    module = ImportThroughImportSystem(name);
  }
  RecordDependency(utf8);  // a load() during another bridge's execution
  return module;
}

namespace {

py::tuple StringTuple(const std::vector<std::string>& items) {
  py::tuple out(items.size());
  for (size_t i = 0; i < items.size(); ++i) out[i] = py::str(items[i]);
  return out;
}

py::object StrOrNone(const std::string& s) {
  return s.empty() ? py::object(py::none()) : py::object(py::str(s));
}

// The records that cross the boundary between the mount table and Python:
// one mount (MountConfig, what set_mounts takes and mounts() gives), one
// child of a package (Child, list_children) and one resolution (Resolution,
// resolve). Read-only; the Python layers validate before they build one.
void RegisterMountTypes(py::module_& m) {
  py::class_<MountConfig>(m, "MountConfig",
                          "One mount as the native finder serves it.")
      .def(py::init([](py::str package, py::iterable directories,
                       py::str pattern, bool allow_external_symlinks,
                       bool atomic) {
             MountConfig c;
             c.package = ToUtf8(package);
             for (py::handle d : directories)
               c.directories.push_back(ToUtf8(d));
             c.pattern = ToUtf8(pattern);
             c.allow_external_symlinks = allow_external_symlinks;
             c.atomic = atomic;
             return c;
           }),
           py::arg("package"), py::arg("directories"),
           py::arg("pattern") = "*.py",
           py::arg("allow_external_symlinks") = false,
           py::arg("atomic") = false)
      .def_readonly("package", &MountConfig::package)
      .def_property_readonly(
          "directories",
          [](const MountConfig& c) { return StringTuple(c.directories); })
      .def_readonly("pattern", &MountConfig::pattern)
      .def_readonly("allow_external_symlinks",
                    &MountConfig::allow_external_symlinks)
      .def_readonly("atomic", &MountConfig::atomic)
      .def("__eq__",
           [](const MountConfig& a, py::object other) -> py::object {
             if (!py::isinstance<MountConfig>(other))
               return py::reinterpret_borrow<py::object>(Py_NotImplemented);
             const MountConfig& b = other.cast<const MountConfig&>();
             return py::bool_(
                 a.package == b.package && a.directories == b.directories &&
                 a.pattern == b.pattern &&
                 a.allow_external_symlinks == b.allow_external_symlinks &&
                 a.atomic == b.atomic);
           })
      .def("__repr__", [](const MountConfig& c) {
        return py::str("MountConfig({!r}, {!r}, pattern={!r})")
            .format(c.package, StringTuple(c.directories), c.pattern);
      });
  py::class_<ChildModule>(m, "Child", "One direct child of a served package.")
      .def_readonly("name", &ChildModule::name)
      .def_readonly("is_package", &ChildModule::is_package)
      .def_readonly("file", &ChildModule::file)
      .def_property_readonly(
          "shadowed",
          [](const ChildModule& c) { return StringTuple(c.shadowed); })
      .def("__repr__", [](const ChildModule& c) {
        return py::str("Child({!r}, {!r})").format(c.name, c.file);
      });
  py::class_<ResolvedName>(m, "Resolution",
                           "What serves a name: Finder.resolve()'s answer.")
      .def_readonly("kind", &ResolvedName::kind)
      .def_property_readonly(
          "file", [](const ResolvedName& r) { return StrOrNone(r.file); })
      .def_property_readonly(
          "directory",
          [](const ResolvedName& r) { return StrOrNone(r.directory); })
      .def_property_readonly(
          "mount", [](const ResolvedName& r) { return StrOrNone(r.mount); })
      .def_readonly("detail", &ResolvedName::detail)
      .def("__repr__", [](const ResolvedName& r) {
        return py::str("Resolution({!r}, {!r})").format(r.kind, r.detail);
      });
}

}  // namespace

void RegisterFinder(py::module_& m) {
  InitImportSystem();  // its state made now, before any load can reach it
  RegisterMountTypes(m);
  py::class_<NativeFinder, std::shared_ptr<NativeFinder>> cls(
      m, "Finder", py::dynamic_attr());
  // __doc__, not a tp_doc: see RegisterLoader (bridge_loader.cc).
  cls.doc() = R"doc(
bridgeimport's meta-path finder (importlib.abc.MetaPathFinder protocol).
The process has one, `bridgeimport._native.finder`; bridgeimport.install()
puts it at sys.meta_path[0].)doc";
  cls.def(
         "find_spec",
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
      .def("revalidate", &NativeFinder::Revalidate, py::arg("paths"),
           "Forgets the cached directory listings that disagree with the "
           "file system about these absolute paths (a file watcher's "
           "hints); returns how many.")
      .def("set_mounts", &NativeFinder::SetMounts, py::arg("configs"))
      .def("mounts", &NativeFinder::Mounts)
      .def("resolve", &NativeFinder::Resolve, py::arg("name"))
      .def("list_children", &NativeFinder::ListChildren, py::arg("package"))
      .def("load", &NativeFinder::Load, py::arg("name"),
           py::arg("atomic") = false)
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
