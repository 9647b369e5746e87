// mount_table.h: package prefixes mapped to bridge directories, and the
// resolution of a module name to the one file that serves it.
//
// A mount maps a dotted package ("plugins", "mlpy.stdlib") to an ordered list
// of directories and a file-name glob. <package>.<stem> is served by the first
// directory holding <stem>.py matching the glob; a subdirectory holding
// __init__.py is a subpackage whose modules follow the same glob. A name found
// in several directories is served from the first; the others are reported as
// shadowed, never mixed.
//
// MountTable is immutable after Build(): the finder swaps in a new table when
// the mounts change, so lookups need no lock. The miss path, MayServe(), is one
// hash lookup of the name's first component and allocates nothing; every
// import in the process goes through it.
//
// No name, glob or symlink makes resolution return a file outside the mount's
// directories: names are validated (module_name.h), globs cannot contain a
// separator (glob_pattern.h), and an entry that is a symlink is followed only
// if its real path stays inside one of the mount's directories (unless the
// mount allows external symlinks explicitly).
#ifndef BRIDGEIMPORT_FINDERS_MOUNT_TABLE_H_
#define BRIDGEIMPORT_FINDERS_MOUNT_TABLE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "finders/dir_cache.h"
#include "finders/file_io.h"  // RealPath
#include "finders/glob_pattern.h"
#include "finders/module_name.h"  // FirstComponent

namespace bridgeimport {

struct MountConfig {
  std::string package;                   // dotted package name
  std::vector<std::string> directories;  // absolute paths, in priority order
  std::string pattern = "*.py";          // glob over file names
  bool allow_external_symlinks = false;  // follow links leaving the mount
  bool atomic = false;  // loader policy carried for the Python layer: a
                        // failed load rolls back every bridge it loaded
};

// A validated, compiled mount.
class Mount {
 public:
  const std::string& package() const { return package_; }
  const std::vector<std::string>& directories() const { return directories_; }
  const GlobPattern& glob() const { return glob_; }
  bool allow_external_symlinks() const { return allow_external_symlinks_; }
  bool atomic() const { return atomic_; }
  // realpath() of each directory, for comparisons with other paths.
  const std::vector<std::string>& real_directories() const {
    return real_directories_;
  }

  // True if the file name `file_name` ("x.py") is one this mount serves.
  bool Serves(absl::string_view file_name) const;

 private:
  friend class MountTable;
  explicit Mount(GlobPattern glob) : glob_(std::move(glob)) {}
  std::string package_;
  std::vector<std::string> directories_;
  std::vector<std::string> real_directories_;  // realpath of each directory
  GlobPattern glob_;
  bool allow_external_symlinks_ = false;
  bool atomic_ = false;
};

struct Resolution {
  enum class Kind {
    kMiss,         // no mount is concerned: the finder returns None at once
    kInvalidName,  // under a mount, but not a valid module name
    kNotFound,     // under a mount, no file serves it
    kPrefix,       // a mount's package or an ancestor of one, with no file:
                   // the caller decides between a real package elsewhere and
                   // a synthetic one
    kModule,       // `file` is the module's source
    kPackage,      // `file` is <directory>/__init__.py
  };
  Kind kind = Kind::kMiss;
  const Mount* mount = nullptr;  // the mount serving the name (kPrefix: the
                                 // mount whose package it is, if any)
  std::string file;
  std::string directory;         // kPackage: the package's directory
  bool file_is_symlink = false;  // the final entry is a (permitted) symlink
  std::string detail;            // kInvalidName / kNotFound: why, for messages
};

// One direct child of a served package, for listings and pkgutil.
struct ChildModule {
  std::string name;  // last component only
  bool is_package = false;
  std::string file;
  // Files hidden by `file`: the same name in later directories, or a module
  // file beside a package directory of the same name.
  std::vector<std::string> shadowed;
};

class MountTable {
 public:
  // Validates every config (names, directories absolute and existing, globs,
  // one mount per package) and compiles the table.
  static absl::StatusOr<std::unique_ptr<MountTable>> Build(
      const std::vector<MountConfig>& configs, std::shared_ptr<DirCache> cache);

  // The miss path: false means no mount can serve `fullname`. One hash lookup
  // on the first component; no allocation.
  bool MayServe(absl::string_view fullname) const {
    return roots_.contains(FirstComponent(fullname));
  }

  // Maps `fullname` to what serves it. Reads directory listings through the
  // cache (one stat per directory level when the cache is warm).
  Resolution Resolve(absl::string_view fullname) const;

  // Direct children of `package`, which must resolve to kPrefix (a mount
  // package) or kPackage. Sorted by name.
  std::vector<ChildModule> ListChildren(absl::string_view package) const;

  // The mount whose package is exactly `package`, or null.
  const Mount* FindMount(absl::string_view package) const;

  // All mounts in the order they were configured.
  const std::vector<const Mount*>& mounts() const { return order_; }

  DirCache& cache() const { return *cache_; }

 private:
  MountTable() = default;
  // The mount with the longest package that `fullname` lies within, or null.
  const Mount* LongestMountFor(absl::string_view fullname) const;
  // Resolves the components below `mount`'s package; kNotFound if none.
  Resolution ResolveBelow(const Mount& mount, absl::string_view relative) const;
  // Resolves `parts` inside one directory of a mount.
  Resolution ResolveInDirectory(const Mount& mount, size_t dir_index,
                                const std::vector<absl::string_view>& parts,
                                std::string* refusal) const;
  // True if the entry `path` (a symlink) may be followed for `mount`.
  bool SymlinkAllowed(const Mount& mount, const std::string& path) const;
  // The directory serving package `package` (a mount package yields every
  // mount directory, a subpackage its own directory).
  std::vector<std::string> PackageDirectories(absl::string_view package,
                                              const Mount** mount) const;

  absl::flat_hash_set<std::string> roots_;     // first components
  absl::flat_hash_set<std::string> prefixes_;  // strict ancestors of mounts
  absl::flat_hash_map<std::string, std::unique_ptr<Mount>> by_package_;
  std::vector<const Mount*> order_;
  std::shared_ptr<DirCache> cache_;
};

// True if the plain directory `dir` holds a module named `stem` that CPython's
// path finder would import: `stem` + one of `suffixes` (".py", ".so", ...), or
// a directory `stem` holding __init__ + a suffix. Used so that a mount inside a
// real package never shadows that package's own modules.
bool DirectoryHasModule(DirCache& cache, const std::string& dir,
                        absl::string_view stem,
                        const std::vector<std::string>& suffixes);

}  // namespace bridgeimport

#endif  // BRIDGEIMPORT_FINDERS_MOUNT_TABLE_H_
