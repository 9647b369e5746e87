// native_loader.h: bridgeimport's loader (importlib.abc.Loader protocol).
//
// One Loader per module spec, like CPython's SourceFileLoader: it knows its
// module name and file. exec_module() reads the source once, compiles it with
// the real file name (PEP 263 cookies honoured by compile() on bytes) and
// executes it in the module's namespace.
//
// What it adds to CPython's behaviour, per DESIGN.md section 5:
//  * A failing first load of a package removes the entries its execution added
//    under the package (pkg.sub imported by a failing pkg/__init__.py) and
//    restores entries it replaced; CPython itself removes only the failed name
//    (it does that part for us, in _load_unlocked).
//  * A failing reload restores the module's namespace to its exact
//    pre-reload contents (same keys, same objects). The snapshot is taken by
//    the finder when importlib.reload() asks for a spec with a target, i.e.
//    before reload() touches __spec__ and friends.
//  * Every failure gets a note naming the file, the module and what was
//    rolled back.
//  * The bytes that were compiled are kept, so get_source() (and through it
//    inspect/linecache) shows the code that ran.
//
// One loader may be used by several threads at once (a reload on one,
// get_source() for a traceback or a transaction's source_changed() on
// others): what exec_module() leaves behind is under a mutex (py_support.h).
// Executions of one module are serialised by the import system's module
// lock, which importlib holds around exec_module() for loads and reloads.
#ifndef BRIDGEIMPORT_LOADER_NATIVE_LOADER_H_
#define BRIDGEIMPORT_LOADER_NATIVE_LOADER_H_

#include <pybind11/pybind11.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "finders/file_io.h"

namespace bridgeimport {

namespace py = pybind11;

// Attribute set on a spec by the finder for a reload: (module, snapshot,
// ExecutionEpoch() of the module when the snapshot was taken).
inline constexpr const char* kReloadSnapshotAttr = "_bridgeimport_reload";

// What exec_module() saw of the source it executed: the file's metadata, when
// it looked, and the bytes if it read them (compiled from source, or checked
// a hash-based pyc). SourceChanged() compares the file with it.
struct SourceObservation {
  bool valid = false;
  FileStat stat;
  int64_t observed_ns = 0;     // wall clock right after the stat or read
  py::object bytes;            // the bytes compiled, or None/null
};

class NativeLoader {
 public:
  // A loader for the source file `path`. `synthetic` loaders have no file:
  // they provide namespace-like packages for mount prefixes.
  // `roots`: the mount's real directories when links out of it are refused
  // (the source read is checked against them), else empty.
  NativeLoader(std::string name, std::string path, bool is_package,
               bool synthetic, bool no_follow, bool atomic,
               std::vector<std::string> roots = {});

  const std::string& name() const { return name_; }
  py::object path() const;  // None for synthetic packages
  bool synthetic() const { return synthetic_; }

  py::object CreateModule(py::handle spec) const;
  void ExecModule(py::handle module);
  py::object GetCode(py::object fullname);
  py::object GetSource(py::object fullname);
  py::object GetFilename(py::object fullname) const;
  bool IsPackage(py::object fullname) const;
  py::bytes GetData(const std::string& path) const;
  // importlib.resources: the reader bridgeimport._resources.reader() picks
  // for this loader (`self` is the Python object wrapping it).
  py::object GetResourceReader(py::handle self, py::object fullname) const;
  // The directories a synthetic package's resources come from: its mount's
  // (its __path__ is a placeholder, not a directory).
  void SetResourceDirectories(std::vector<std::string> directories) {
    resource_directories_ = std::move(directories);
  }
  std::string Repr() const;

  // True if the source file differs from what the last successful
  // exec_module() of this loader executed: metadata first (mtime_ns, size,
  // inode, ctime_ns); the bytes are compared when the metadata cannot decide
  // (a rewrite within the filesystem's timestamp resolution of the read, or
  // metadata changed by a touch). Without the bytes, such a case counts as
  // changed. Never executed, or the file is gone: True.
  bool SourceChanged() const;
  // The observation as a dict (mtime_ns, size, ino, ctime_ns, observed_ns,
  // has_bytes), or None if this loader never executed a module.
  py::object SourceStamp() const;

 private:
  // Raises ImportError if `fullname` is given and is not this loader's name,
  // as CPython's _check_name decorator does.
  void CheckName(const py::object& fullname) const;
  // The module's code: from a valid bytecode cache file, else compiled from
  // the source (whose bytes are then kept for GetSource()) and cached.
  // `origin` (if given) says where the code came from, for the debug log.
  py::object Compile(SourceObservation* seen = nullptr, const char** origin = nullptr);
  // The namespace a failed reload of `module` restores (see ExecModule).
  py::object ReloadSnapshot(py::handle module, const py::object& spec,
                            const py::dict& ns, int64_t epoch) const;
  // True if a cache file was written.
  bool WritePyc(const std::string& cache_path, const py::object& code,
                const FileContents& source, bool hash_based,
                bool check_source) const;

  std::string name_;
  std::string path_;
  bool is_package_;
  bool synthetic_;
  bool no_follow_;
  bool atomic_;        // roll back every bridge first loaded by a failed exec
  std::vector<std::string> roots_;  // the source must resolve below one of them
  std::vector<std::string> resource_directories_;  // synthetic packages only
  // What executions leave for the readers of other threads. Behind a pointer:
  // a Mutex does not move, and pybind11 moves loaders into their objects.
  struct Results {
    mutable absl::Mutex mu;
    py::object source ABSL_GUARDED_BY(mu);  // bytes last compiled, or None/null
    SourceObservation executed ABSL_GUARDED_BY(mu);  // the last successful exec
  };
  std::unique_ptr<Results> results_ = std::make_unique<Results>();
  void SetSource(py::object bytes);
  py::object Source() const;
  SourceObservation Executed() const;
};

// `module`'s __spec__.loader if it is a NativeLoader (bridgeimport made it),
// else a null object. A reference of its own: another thread may replace the
// module's __spec__ (a reload does) and free the old loader meanwhile.
py::object BridgeLoaderOf(py::handle module);
bool IsBridgeModule(py::handle module);

void RegisterNativeLoader(py::module_& m);

}  // namespace bridgeimport

#endif  // BRIDGEIMPORT_LOADER_NATIVE_LOADER_H_
