// dir_cache.cc: cached directory listings, revalidated by directory mtime
// (see the .h).
#include "finders/dir_cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "finders/file_io.h"  // WallClockNanos, TimespecNanos

namespace bridgeimport {
namespace {

int64_t MtimeNanos(const struct stat& st) { return TimespecNanos(st.st_mtim); }

EntryKind KindOfMode(mode_t mode) {
  if (S_ISREG(mode)) return EntryKind::kFile;
  if (S_ISDIR(mode)) return EntryKind::kDirectory;
  return EntryKind::kOther;
}

// What `name` (relative to the directory `dir_fd`, or a whole path with
// AT_FDCWD) is, following a symlink to its target: kNone if it is missing.
EntryInfo StatEntry(int dir_fd, const char* name) {
  EntryInfo info;
  struct stat lst;
  if (fstatat(dir_fd, name, &lst, AT_SYMLINK_NOFOLLOW) != 0) return info;
  if (!S_ISLNK(lst.st_mode)) {
    info.kind = KindOfMode(lst.st_mode);
    return info;
  }
  info.is_symlink = true;
  struct stat target;
  info.kind = fstatat(dir_fd, name, &target, 0) == 0
                  ? KindOfMode(target.st_mode)
                  : EntryKind::kOther;  // dangling link
  return info;
}

// "/a/b/c" -> ("/a/b", "c"), "/a" -> ("/", "a"); the name is empty for "/"
// and for a relative path.
std::pair<std::string, std::string> SplitPath(absl::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  size_t slash = path.rfind('/');
  if (slash == absl::string_view::npos || path.size() == 1) return {};
  return {std::string(path.substr(0, slash == 0 ? 1 : slash)),
          std::string(path.substr(slash + 1))};
}

// Closes a DIR* on scope exit.
struct DirCloser {
  void operator()(DIR* d) const {
    if (d) closedir(d);
  }
};

}  // namespace

std::string JoinPath(absl::string_view dir, absl::string_view name) {
  if (!dir.empty() && dir.back() == '/') return absl::StrCat(dir, name);
  return absl::StrCat(dir, "/", name);
}

std::vector<std::pair<std::string, EntryInfo>> Listing::Sorted() const {
  std::vector<std::pair<std::string, EntryInfo>> out(entries_.begin(),
                                                     entries_.end());
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

std::shared_ptr<const Listing> DirCache::Read(const std::string& dir) const {
  auto listing = std::make_shared<Listing>();
  int64_t now = WallClockNanos();
  std::unique_ptr<DIR, DirCloser> d(opendir(dir.c_str()));
  if (!d) return listing;  // missing or unreadable: empty, exists() false
  struct stat st;
  if (fstat(dirfd(d.get()), &st) != 0) return listing;
  listing->exists_ = true;
  listing->mtime_ns_ = MtimeNanos(st);
  listing->inode_ = st.st_ino;
  listing->device_ = st.st_dev;
  listing->racy_ = now - listing->mtime_ns_ < kRacyWindowNanos;
  int fd = dirfd(d.get());
  while (struct dirent* e = readdir(d.get())) {
    absl::string_view name(e->d_name);
    if (name == "." || name == "..") continue;
    EntryInfo info;
    switch (e->d_type) {
      case DT_REG:
        info.kind = EntryKind::kFile;
        break;
      case DT_DIR:
        info.kind = EntryKind::kDirectory;
        break;
      case DT_LNK:
      case DT_UNKNOWN:
        info = StatEntry(fd, e->d_name);
        if (info.kind == EntryKind::kNone) continue;  // gone meanwhile
        break;
      default:
        info.kind = EntryKind::kOther;
    }
    listing->entries_.emplace(std::string(name), info);
  }
  return listing;
}

std::shared_ptr<const Listing> DirCache::Get(const std::string& dir) {
  std::shared_ptr<const Listing> cached;
  {
    absl::MutexLock lock(mu_);
    auto it = listings_.find(dir);
    if (it != listings_.end()) cached = it->second;
  }
  if (cached && !cached->racy_) {
    struct stat st;
    bool exists = stat(dir.c_str(), &st) == 0;
    if (exists == cached->exists_ &&
        (!exists ||
         (MtimeNanos(st) == cached->mtime_ns_ && st.st_ino == cached->inode_ &&
          st.st_dev == cached->device_)))
      return cached;
  }
  std::shared_ptr<const Listing> fresh = Read(dir);
  absl::MutexLock lock(mu_);
  ++reads_;
  listings_[dir] = fresh;
  return fresh;
}

void DirCache::InvalidateAll() {
  absl::MutexLock lock(mu_);
  listings_.clear();
}

int DirCache::Revalidate(const std::string& path) {
  std::vector<std::shared_ptr<const Listing>> stale;  // freed after the lock
  bool listed = false;  // some ancestor of `path` has a listing
  std::string entry = path;
  for (;;) {
    auto [dir, name] = SplitPath(entry);
    if (name.empty()) break;
    struct stat st;
    const bool exists = stat(dir.c_str(), &st) == 0;
    const EntryInfo is = StatEntry(AT_FDCWD, entry.c_str());
    bool here = false;  // `dir` has a listing, under any spelling
    {
      absl::MutexLock lock(mu_);
      for (auto it = listings_.begin(); it != listings_.end();) {
        const Listing& l = *it->second;
        // The same directory: the same key, or (through a symlink, or
        // spelled another way) the same device and inode.
        if (it->first != dir &&
            !(exists && l.exists_ && l.inode_ == st.st_ino &&
              l.device_ == st.st_dev)) {
          ++it;
          continue;
        }
        here = true;
        EntryInfo was = l.Find(name);
        if (was.kind == is.kind && was.is_symlink == is.is_symlink) {
          ++it;
          continue;
        }
        stale.push_back(std::move(it->second));
        listings_.erase(it++);
      }
    }
    if (here) {
      listed = true;
    } else if (listed) {
      break;  // unlisted from here up: nothing cached to be wrong
    }
    entry = dir;
  }
  absl::MutexLock lock(mu_);
  if (!listed) {
    for (auto& [dir, listing] : listings_) stale.push_back(std::move(listing));
    listings_.clear();
  }
  return static_cast<int>(stale.size());
}

uint64_t DirCache::reads() const {
  absl::MutexLock lock(mu_);
  return reads_;
}

}  // namespace bridgeimport
