// source_loader.h: the loader of one bridge file (importlib's
// SourceFileLoader, natively).
//
// One per module spec: it knows its module name and file. exec_module()
// gets the module's code (from a valid pyc, else by compiling the source
// with the real file name, PEP 263 cookies honoured by compile() on bytes,
// and caching it: pyc_policy.h) and executes it in the module's namespace,
// inside a load frame that records what it imports (load_frame.h).
//
// What it adds to CPython's behaviour, per docs/design.md section 5:
//  * A failing first load of a package removes the entries its execution
//    added under the package; a failing reload restores the module's
//    namespace to its exact pre-reload contents (rollback.h).
//  * Every failure gets a note naming the file, the module and what was
//    rolled back.
//  * The bytes that were compiled are kept, so get_source() (and through it
//    inspect/linecache) shows the code that ran, and source_changed() can
//    tell whether the file still holds them.
//
// One loader may be used by several threads at once (a reload on one,
// get_source() for a traceback or a transaction's source_changed() on
// others): what exec_module() leaves behind is under a mutex (py_support.h).
// Executions of one module are serialised by the import system's module
// lock, which importlib holds around exec_module() for loads and reloads.
//
// Example (what the finder does):
//
//   SourceLoaderOptions options;
//   options.is_package = true;
//   options.roots = mount.real_directories();
//   py::object loader = WrapLoader(std::make_unique<SourceLoader>(
//       "plugins.csv", "/srv/plugins/csv/__init__.py", std::move(options)));
#ifndef BRIDGEIMPORT_LOADER_SOURCE_LOADER_H_
#define BRIDGEIMPORT_LOADER_SOURCE_LOADER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "finders/file_io.h"
#include "loader/bridge_loader.h"

namespace bridgeimport {

class LoadFrame;

struct SourceLoaderOptions {
  bool is_package = false;  // the file is a package's __init__.py
  // Refuse the file if its final component has become a symlink since the
  // finder saw a regular file there (O_NOFOLLOW).
  bool no_follow = false;
  // Roll back every bridge module first loaded by a failed execution
  // (load_frame.h: a mount made with atomic=True).
  bool atomic = false;
  // The mount's real directories when links out of it are refused: the
  // source (and its pyc) must still resolve below one of them when read.
  std::vector<std::string> roots;
};

// What exec_module() saw of the source it executed: the file's metadata, when
// it looked, and the bytes if it read them (compiled from source, or checked
// a hash-based pyc). SourceChanged() compares the file with it.
struct SourceObservation {
  bool valid = false;
  FileStat stat;
  int64_t observed_ns = 0;  // wall clock right after the stat or read
  py::object bytes;         // the bytes compiled, or None/null
};

class SourceLoader final : public BridgeLoader {
 public:
  SourceLoader(std::string name, std::string path, SourceLoaderOptions options);

  py::object path() const override { return py::str(path_); }
  bool IsMountPackage() const override { return false; }
  void ExecModule(py::handle module) override;
  py::object GetCode(py::object fullname) override;
  py::object GetSource(py::object fullname) override;
  py::object GetFilename(py::object fullname) const override;
  std::string Repr() const override;

  // True if the source file differs from what the last successful
  // exec_module() of this loader executed: metadata first (mtime_ns, size,
  // inode, ctime_ns); the bytes are compared when the metadata cannot decide
  // (a rewrite within the filesystem's timestamp resolution of the read, or
  // metadata changed by a touch). Without the bytes, such a case counts as
  // changed. Never executed, or the file is gone: True.
  bool SourceChanged() const override;
  // ("source", name, path, is_package, no_follow, atomic, roots).
  py::tuple PickleState() const override;
  // The observation as a dict (mtime_ns, size, ino, ctime_ns, observed_ns,
  // has_bytes), or None if this loader never executed a module.
  py::object SourceStamp() const override;

 private:
  const std::vector<std::string>& ResourceDirectories() const override {
    return no_directories_;  // the file's directory serves
  }
  // The module's code: from a valid bytecode cache file, else compiled from
  // the source (whose bytes are then kept for GetSource()) and cached.
  // `origin` (if given) says where the code came from, for the debug log.
  py::object Compile(SourceObservation* seen = nullptr,
                     const char** origin = nullptr);
  // Compiles and runs the module's code in `ns`.
  void RunCode(const py::dict& ns, SourceObservation* seen,
               const char** origin);
  // Undoes what a failed execution left (rollback.h) and returns the note
  // the error gets.
  std::string RollBack(bool first_load, LoadFrame& frame, const py::dict& ns,
                       const py::object& snapshot) const;

  std::string path_;
  SourceLoaderOptions options_;
  std::vector<std::string> no_directories_;
  // What executions leave for the readers of other threads. Behind a pointer:
  // a Mutex does not move.
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

}  // namespace bridgeimport

#endif  // BRIDGEIMPORT_LOADER_SOURCE_LOADER_H_
