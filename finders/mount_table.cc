// mount_table.cc: package prefixes mapped to bridge directories, and name
// resolution against them (see the .h).
#include "finders/mount_table.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "finders/module_name.h"

namespace bridgeimport {
namespace {

constexpr absl::string_view kInitFile = "__init__.py";
constexpr absl::string_view kSourceSuffix = ".py";

Resolution NotFound(std::string detail) {
  Resolution r;
  r.kind = Resolution::Kind::kNotFound;
  r.detail = std::move(detail);
  return r;
}

bool Found(const Resolution& r) {
  return r.kind == Resolution::Kind::kModule ||
         r.kind == Resolution::Kind::kPackage;
}

}  // namespace

bool DirectoryHasModule(DirCache& cache, const std::string& dir,
                        absl::string_view stem,
                        const std::vector<std::string>& suffixes) {
  std::shared_ptr<const Listing> listing = cache.Get(dir);
  if (!listing->exists()) return false;
  for (const std::string& suffix : suffixes) {
    if (listing->Find(absl::StrCat(stem, suffix)).kind == EntryKind::kFile)
      return true;
  }
  if (listing->Find(stem).kind != EntryKind::kDirectory) return false;
  std::shared_ptr<const Listing> package = cache.Get(JoinPath(dir, stem));
  for (const std::string& suffix : suffixes) {
    if (package->Find(absl::StrCat("__init__", suffix)).kind ==
        EntryKind::kFile)
      return true;
  }
  return false;
}

bool Mount::Serves(absl::string_view file_name) const {
  if (file_name.size() <= kSourceSuffix.size() ||
      file_name.substr(file_name.size() - kSourceSuffix.size()) !=
          kSourceSuffix)
    return false;
  if (file_name == kInitFile) return false;
  return glob_.matches_all_py() || glob_.Matches(file_name);
}

namespace {

// Why `dir` cannot be one of the directories of mount `package`, or OK:
// it must be an absolute path to a directory this process can list.
absl::Status CheckDirectory(const std::string& package,
                            const std::string& dir) {
  if (dir.empty() || dir[0] != '/')
    return absl::InvalidArgumentError(
        absl::StrCat("mount '", package, "': directory '", dir,
                     "' is not an absolute path"));
  if (dir.find('\0') != std::string::npos)
    return absl::InvalidArgumentError(
        absl::StrCat("mount '", package, "': directory path contains NUL"));
  struct stat st;
  if (stat(dir.c_str(), &st) != 0) {
    if (errno == EACCES)  // a parent cannot be entered: it may well exist
      return absl::PermissionDeniedError(absl::StrCat(
          "mount '", package, "': directory '", dir, "' cannot be reached (",
          strerror(EACCES),
          "); check the x permission of each of its parent directories"));
    if (errno != ENOENT && errno != ENOTDIR)
      return absl::UnavailableError(
          absl::StrCat("mount '", package, "': directory '", dir,
                       "' cannot be examined (", strerror(errno), ")"));
    return absl::NotFoundError(absl::StrCat(
        "mount '", package, "': directory '", dir, "' does not exist"));
  }
  if (!S_ISDIR(st.st_mode))
    return absl::FailedPreconditionError(
        absl::StrCat("mount '", package, "': '", dir, "' is not a directory"));
  // An unreadable directory would serve nothing and every import from it
  // would say only "not found": refuse it here, where the cause is known.
  if (DIR* probe = opendir(dir.c_str())) {
    closedir(probe);
  } else {
    return absl::PermissionDeniedError(absl::StrCat(
        "mount '", package, "': directory '", dir, "' cannot be read (",
        strerror(errno), "); check its permissions (r and x)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<MountTable>> MountTable::Build(
    const std::vector<MountConfig>& configs, std::shared_ptr<DirCache> cache) {
  std::unique_ptr<MountTable> table(new MountTable());
  table->cache_ = cache ? std::move(cache) : std::make_shared<DirCache>();
  for (const MountConfig& config : configs) {
    if (absl::Status s = ValidateModuleName(config.package); !s.ok())
      return absl::InvalidArgumentError(absl::StrCat(
          "cannot mount package '", config.package, "': ", s.message()));
    if (table->by_package_.contains(config.package))
      return absl::AlreadyExistsError(
          absl::StrCat("package '", config.package, "' is mounted twice"));
    if (config.directories.empty())
      return absl::InvalidArgumentError(absl::StrCat(
          "mount '", config.package, "' needs at least one directory"));
    absl::StatusOr<GlobPattern> glob = GlobPattern::Compile(config.pattern);
    if (!glob.ok())
      return absl::InvalidArgumentError(absl::StrCat(
          "mount '", config.package, "': ", glob.status().message()));
    std::unique_ptr<Mount> mount(new Mount(*std::move(glob)));
    mount->package_ = config.package;
    mount->allow_external_symlinks_ = config.allow_external_symlinks;
    mount->atomic_ = config.atomic;
    for (const std::string& dir : config.directories) {
      if (absl::Status s = CheckDirectory(config.package, dir); !s.ok())
        return s;
      // The same directory twice (or under another spelling, through a
      // symlink) adds nothing; it would only shadow itself.
      std::string real = RealPath(dir);
      if (std::find(mount->real_directories_.begin(),
                    mount->real_directories_.end(),
                    real) != mount->real_directories_.end())
        continue;
      mount->directories_.push_back(dir);
      mount->real_directories_.push_back(std::move(real));
    }
    table->roots_.insert(std::string(FirstComponent(config.package)));
    for (absl::string_view p = ParentName(config.package); !p.empty();
         p = ParentName(p))
      table->prefixes_.insert(std::string(p));
    table->order_.push_back(mount.get());
    table->by_package_.emplace(config.package, std::move(mount));
  }
  return table;
}

const Mount* MountTable::FindMount(absl::string_view package) const {
  auto it = by_package_.find(package);
  return it == by_package_.end() ? nullptr : it->second.get();
}

const Mount* MountTable::LongestMountFor(absl::string_view fullname) const {
  for (absl::string_view p = fullname; !p.empty(); p = ParentName(p)) {
    if (const Mount* m = FindMount(p)) return m;
  }
  return nullptr;
}

Resolution MountTable::Resolve(absl::string_view fullname) const {
  if (!MayServe(fullname)) return Resolution{};
  if (absl::Status s = ValidateModuleName(fullname); !s.ok()) {
    Resolution r;
    r.kind = Resolution::Kind::kInvalidName;
    r.detail = std::string(s.message());
    return r;
  }
  const Mount* mount = LongestMountFor(fullname);
  Resolution prefix;
  prefix.kind = Resolution::Kind::kPrefix;
  if (mount != nullptr && mount->package() == fullname) {
    // The mount's own package: a real bridge subpackage of an enclosing mount
    // comes first, else the caller decides (real package elsewhere or
    // synthetic).
    prefix.mount = mount;
    if (const Mount* outer = LongestMountFor(ParentName(fullname))) {
      Resolution r =
          ResolveBelow(*outer, fullname.substr(outer->package().size() + 1));
      if (Found(r)) return r;
    }
    return prefix;
  }
  if (mount == nullptr)
    return prefixes_.contains(fullname) ? prefix : Resolution{};
  Resolution r =
      ResolveBelow(*mount, fullname.substr(mount->package().size() + 1));
  if (!Found(r) && prefixes_.contains(fullname)) return prefix;
  return r;
}

Resolution MountTable::ResolveBelow(const Mount& mount,
                                    absl::string_view relative) const {
  std::vector<absl::string_view> parts = absl::StrSplit(relative, '.');
  std::string refusal;
  // The first directory that serves the first component serves the whole
  // name: a subpackage found in directory i never takes modules from a
  // shadowed copy of itself in a later directory.
  const std::vector<absl::string_view> first = {parts.front()};
  for (size_t i = 0; i < mount.directories_.size(); ++i) {
    Resolution head = ResolveInDirectory(mount, i, first, &refusal);
    if (!Found(head)) continue;
    if (parts.size() == 1) return head;
    if (head.kind != Resolution::Kind::kPackage)
      break;  // a module has no children
    Resolution r = ResolveInDirectory(mount, i, parts, &refusal);
    if (Found(r)) return r;
    break;
  }
  if (!refusal.empty()) return NotFound(std::move(refusal));
  return NotFound(absl::StrCat(
      "no '", absl::StrJoin(parts, "/"), ".py' matching '", mount.glob().text(),
      "' (nor a package directory with __init__.py) in ",
      absl::StrJoin(mount.directories_, ", ")));
}

bool MountTable::SymlinkAllowed(const Mount& mount,
                                const std::string& path) const {
  if (mount.allow_external_symlinks_) return true;
  std::string real = RealPath(path);
  if (real.empty()) return false;
  for (const std::string& root : mount.real_directories_) {
    if (root.empty()) continue;
    if (real.size() > root.size() && real.compare(0, root.size(), root) == 0 &&
        (root.back() == '/' || real[root.size()] == '/'))
      return true;
  }
  return false;
}

Resolution MountTable::ResolveInDirectory(
    const Mount& mount, size_t dir_index,
    const std::vector<absl::string_view>& parts, std::string* refusal) const {
  // Checks a symlinked entry; records why it was refused.
  auto allowed = [&](const EntryInfo& info, const std::string& path) {
    if (!info.is_symlink || SymlinkAllowed(mount, path)) return true;
    *refusal = absl::StrCat("refused '", path,
                            "': it is a symlink that leads outside the mount's "
                            "directories (mount with "
                            "allow_external_symlinks=True to follow it)");
    return false;
  };
  // True if `dir` is a package directory (holds a file __init__.py).
  auto is_package_dir = [&](const std::string& dir) {
    EntryInfo init = cache_->Get(dir)->Find(kInitFile);
    return init.kind == EntryKind::kFile &&
           allowed(init, JoinPath(dir, kInitFile));
  };

  std::string current = mount.directories_[dir_index];
  for (size_t k = 0; k + 1 < parts.size(); ++k) {
    EntryInfo info = cache_->Get(current)->Find(parts[k]);
    if (info.kind != EntryKind::kDirectory) return Resolution{};
    std::string next = JoinPath(current, parts[k]);
    if (!allowed(info, next) || !is_package_dir(next)) return Resolution{};
    current = std::move(next);
  }
  absl::string_view last = parts.back();
  std::shared_ptr<const Listing> listing = cache_->Get(current);
  EntryInfo info = listing->Find(last);
  if (info.kind == EntryKind::kDirectory) {
    std::string dir = JoinPath(current, last);
    if (allowed(info, dir) && is_package_dir(dir)) {
      Resolution r;
      r.kind = Resolution::Kind::kPackage;
      r.mount = &mount;
      r.file = JoinPath(dir, kInitFile);
      r.file_is_symlink = cache_->Get(dir)->Find(kInitFile).is_symlink;
      r.directory = std::move(dir);
      return r;
    }
  }
  std::string file_name = absl::StrCat(last, kSourceSuffix);
  if (mount.Serves(file_name)) {
    EntryInfo file = listing->Find(file_name);
    std::string path = JoinPath(current, file_name);
    if (file.kind == EntryKind::kFile && allowed(file, path)) {
      Resolution r;
      r.kind = Resolution::Kind::kModule;
      r.mount = &mount;
      r.file = std::move(path);
      r.file_is_symlink = file.is_symlink;
      return r;
    }
  }
  return Resolution{};
}

std::vector<std::string> MountTable::PackageDirectories(
    absl::string_view package, const Mount** mount) const {
  // A mount's own package takes its children from the mount, as Resolve()
  // does, even when an enclosing mount serves the package itself.
  if (const Mount* own = FindMount(package)) {
    *mount = own;
    return own->directories_;
  }
  Resolution r = Resolve(package);
  if (r.kind == Resolution::Kind::kPackage) {
    *mount = r.mount;
    return {r.directory};
  }
  if (r.kind == Resolution::Kind::kPrefix && r.mount != nullptr) {
    *mount = r.mount;
    return r.mount->directories_;
  }
  *mount = nullptr;
  return {};
}

std::vector<ChildModule> MountTable::ListChildren(
    absl::string_view package) const {
  const Mount* mount = nullptr;
  std::vector<std::string> dirs = PackageDirectories(package, &mount);
  std::vector<ChildModule> children;
  absl::flat_hash_map<std::string, size_t> index;
  for (const std::string& dir : dirs) {
    for (const auto& [entry, info] : cache_->Get(dir)->Sorted()) {
      ChildModule child;
      std::string path = JoinPath(dir, entry);
      if (info.kind == EntryKind::kDirectory) {
        if (!IsIdentifier(entry)) continue;
        if (info.is_symlink && !SymlinkAllowed(*mount, path)) continue;
        EntryInfo init = cache_->Get(path)->Find(kInitFile);
        std::string init_path = JoinPath(path, kInitFile);
        if (init.kind != EntryKind::kFile ||
            (init.is_symlink && !SymlinkAllowed(*mount, init_path)))
          continue;
        child.name = entry;
        child.is_package = true;
        child.file = std::move(init_path);
      } else if (info.kind == EntryKind::kFile && mount->Serves(entry)) {
        absl::string_view stem(entry);
        stem.remove_suffix(kSourceSuffix.size());
        if (!IsIdentifier(stem)) continue;
        if (info.is_symlink && !SymlinkAllowed(*mount, path)) continue;
        child.name = std::string(stem);
        child.file = std::move(path);
      } else {
        continue;
      }
      // First directory wins; within one directory "x/" sorts before "x.py",
      // so a package beats a module of the same name, as in FileFinder.
      auto it = index.find(child.name);
      if (it == index.end()) {
        index.emplace(child.name, children.size());
        children.push_back(std::move(child));
      } else {
        children[it->second].shadowed.push_back(child.file);
      }
    }
  }
  std::sort(children.begin(), children.end(),
            [](const ChildModule& a, const ChildModule& b) {
              return a.name < b.name;
            });
  return children;
}

}  // namespace bridgeimport
