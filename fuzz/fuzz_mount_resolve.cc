// Fuzz target: mount resolution (finders/mount_table.h) over a real tree.
//
// Input: lines that build a small tree in a fresh temporary directory, mount
// parts of it and ask questions (see fuzz/corpus/mount_resolve for examples):
//   f <path>             a regular file (parents created)
//   d <path>             a directory
//   l <path> <target>    a symlink; the target is any text ("../o/x.py"
//                        leaves the tree: o/ beside it holds ext.py, pkg/)
//   m <package> <glob> <x|-> <dir>...   a mount over tree directories ("."
//                        is the tree itself); x allows external symlinks
//   r <name>             resolve a module name (any bytes)
//   c <package>          list a package's children
// Paths are '/'-separated components other than "", "." and ".."; the tree is
// built with *at() calls that never follow a symlink, so nothing is written
// outside the temporary directory.
// Properties of every answer:
//  * no mount can serve the name: kMiss; an invalid name: never a file;
//  * a module is <mount directory>/<name below the mount, '.' -> '/'>.py,
//    its file name is served by the glob, and it is a regular file; a package
//    is <that directory>/__init__.py, a regular file;
//  * unless the mount allows external symlinks, the real path of every file
//    returned lies inside one of the mount's directories;
//  * answers do not depend on the cache: the same after InvalidateAll;
//  * every child ListChildren reports resolves to the same file and kind.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "finders/dir_cache.h"
#include "finders/module_name.h"
#include "finders/mount_table.h"
#include "finders/scoped_fd.h"
#include "fuzz/fuzz_util.h"

namespace {

using namespace bridgeimport;  // NOLINT
using Kind = Resolution::Kind;

constexpr size_t kMaxLines = 48;
constexpr size_t kMaxDepth = 6;

std::string& Root() {  // <tmp>/bridgeimport_fuzz_XXXXXX
  static std::string* root = new std::string();
  return *root;
}
std::string Tree() { return Root() + "/t"; }

void RemoveRoot() {
  std::error_code ec;
  if (!Root().empty()) std::filesystem::remove_all(Root(), ec);
}

// Splits a tree path; false if any component is "", "." or "..".
bool SplitTreePath(absl::string_view path, std::vector<std::string>* parts) {
  for (absl::string_view p : absl::StrSplit(path, '/')) {
    if (p.empty() || p == "." || p == ".." || p.find('\0') != p.npos)
      return false;
    parts->emplace_back(p);
  }
  return !parts->empty() && parts->size() <= kMaxDepth;
}

// Opens the directory holding the last component, creating missing
// directories, never following a symlink. -1 if that fails.
int OpenParent(const std::vector<std::string>& parts) {
  ScopedFd dir(open(Tree().c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW));
  for (size_t k = 0; k + 1 < parts.size() && dir.get() >= 0; ++k) {
    mkdirat(dir.get(), parts[k].c_str(), 0755);
    dir.reset(openat(dir.get(), parts[k].c_str(),
                     O_RDONLY | O_DIRECTORY | O_NOFOLLOW));
  }
  int fd = dir.get();
  if (fd >= 0) {
    int dup_fd = dup(fd);
    return dup_fd;
  }
  return -1;
}

void MakeEntry(char op, absl::string_view path, absl::string_view target) {
  std::vector<std::string> parts;
  if (!SplitTreePath(path, &parts)) return;
  ScopedFd parent(OpenParent(parts));
  if (parent.get() < 0) return;
  const char* name = parts.back().c_str();
  if (op == 'f') {
    ScopedFd file(openat(parent.get(), name,
                         O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0644));
  } else if (op == 'd') {
    mkdirat(parent.get(), name, 0755);
  } else if (op == 'l' && target.find('\0') == target.npos) {
    symlinkat(std::string(target).c_str(), parent.get(), name);
  }
}

bool StartsWithDir(const std::string& path, const std::string& dir) {
  if (dir.empty()) return false;
  if (dir == "/") return path.size() > 1 && path[0] == '/';
  return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
         path[dir.size()] == '/';
}

bool IsRegularFile(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool SameAnswer(const Resolution& a, const Resolution& b) {
  return a.kind == b.kind && a.mount == b.mount && a.file == b.file &&
         a.directory == b.directory && a.file_is_symlink == b.file_is_symlink;
}

// Checks every property of `r`, the answer for `name`.
void CheckResolution(const MountTable& table, absl::string_view name,
                     const Resolution& r) {
  if (!table.MayServe(name)) FUZZ_CHECK(r.kind == Kind::kMiss);
  if (!ValidateModuleName(name).ok()) {
    FUZZ_CHECK(r.kind ==
               (table.MayServe(name) ? Kind::kInvalidName : Kind::kMiss));
    return;
  }
  if (r.kind == Kind::kPrefix) {
    bool is_prefix = false;
    for (const Mount* m : table.mounts())
      is_prefix |= IsWithinPackage(m->package(), name);
    FUZZ_CHECK(is_prefix);
  }
  if (r.kind != Kind::kModule && r.kind != Kind::kPackage) {
    FUZZ_CHECK(r.file.empty());
    return;
  }
  const Mount* m = r.mount;
  FUZZ_CHECK(m != nullptr);
  FUZZ_CHECK(IsWithinPackage(name, m->package()) && name != m->package());
  std::string relative =
      absl::StrReplaceAll(name.substr(m->package().size() + 1), {{".", "/"}});
  bool spelled = false;
  for (const std::string& dir : m->directories()) {
    std::string base = JoinPath(dir, relative);
    spelled |=
        r.kind == Kind::kModule ? r.file == base + ".py" : r.directory == base;
  }
  FUZZ_CHECK(spelled);
  if (r.kind == Kind::kModule) {
    FUZZ_CHECK(m->Serves(absl::StrCat(LastComponent(name), ".py")));
  } else {
    FUZZ_CHECK(r.file == JoinPath(r.directory, "__init__.py"));
  }
  FUZZ_CHECK(IsRegularFile(r.file));
  struct stat lst;
  FUZZ_CHECK(lstat(r.file.c_str(), &lst) == 0);
  FUZZ_CHECK(r.file_is_symlink == S_ISLNK(lst.st_mode));
  if (!m->allow_external_symlinks()) {
    std::string real = RealPath(r.file);
    bool inside = false;
    for (const std::string& root : m->real_directories())
      inside |= StartsWithDir(real, root);
    FUZZ_CHECK(inside);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* tmp = getenv("TMPDIR");
  std::string templ =
      absl::StrCat(tmp && *tmp ? tmp : "/tmp", "/bridgeimport_fuzz_XXXXXX");
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) std::abort();
  Root() = buf.data();
  std::atexit(RemoveRoot);
  // Outside the tree, for symlinks to leave it.
  std::string o = Root() + "/o";
  mkdir(o.c_str(), 0755);
  mkdir((o + "/pkg").c_str(), 0755);
  for (const char* f : {"/ext.py", "/pkg/__init__.py", "/pkg/inner.py"})
    ScopedFd(open((o + f).c_str(), O_WRONLY | O_CREAT, 0644));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::error_code ec;
  std::filesystem::remove_all(Tree(), ec);
  FUZZ_CHECK(mkdir(Tree().c_str(), 0755) == 0);

  absl::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<MountConfig> configs;
  std::vector<std::pair<char, std::string>> questions;
  size_t lines = 0;
  for (absl::string_view line : absl::StrSplit(input, '\n')) {
    if (++lines > kMaxLines || line.size() < 2 || line[1] != ' ') continue;
    char op = line[0];
    absl::string_view rest = line.substr(2);
    if (op == 'f' || op == 'd') {
      MakeEntry(op, rest, "");
    } else if (op == 'l') {
      size_t sp = rest.find(' ');
      if (sp != rest.npos)
        MakeEntry(op, rest.substr(0, sp), rest.substr(sp + 1));
    } else if (op == 'm' && configs.size() < 3) {
      std::vector<std::string> f = absl::StrSplit(rest, ' ');
      if (f.size() < 4) continue;
      MountConfig config;
      config.package = f[0];
      config.pattern = f[1];
      config.allow_external_symlinks = f[2] == "x";
      for (size_t k = 3; k < f.size() && k < 6; ++k) {
        std::vector<std::string> parts;
        if (f[k] == ".")
          config.directories.push_back(Tree());
        else if (SplitTreePath(f[k], &parts))
          config.directories.push_back(JoinPath(Tree(), f[k]));
      }
      configs.push_back(std::move(config));
    } else if (op == 'r' || op == 'c') {
      questions.emplace_back(op, std::string(rest));
    }
  }

  auto cache = std::make_shared<DirCache>();
  absl::StatusOr<std::unique_ptr<MountTable>> built =
      MountTable::Build(configs, cache);
  if (!built.ok()) return 0;
  const MountTable& table = **built;

  for (const auto& [op, text] : questions) {
    if (op == 'r') {
      Resolution r = table.Resolve(text);
      CheckResolution(table, text, r);
      cache->InvalidateAll();
      FUZZ_CHECK(SameAnswer(r, table.Resolve(text)));  // cold cache
      FUZZ_CHECK(SameAnswer(r, table.Resolve(text)));  // warm cache
      continue;
    }
    for (const ChildModule& child : table.ListChildren(text)) {
      FUZZ_CHECK(IsIdentifier(child.name));
      std::string name = absl::StrCat(text, ".", child.name);
      Resolution r = table.Resolve(name);
      CheckResolution(table, name, r);
      FUZZ_CHECK(r.kind == (child.is_package ? Kind::kPackage : Kind::kModule));
      FUZZ_CHECK(r.file == child.file);
      for (const std::string& hidden : child.shadowed)
        FUZZ_CHECK(hidden != child.file);
    }
  }
  return 0;
}
