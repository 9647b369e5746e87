// dir_cache.cc: cached directory listings, revalidated by directory mtime
// (see the .h).
#include "finders/dir_cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>

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
      case DT_UNKNOWN: {
        struct stat lst;
        if (fstatat(fd, e->d_name, &lst, AT_SYMLINK_NOFOLLOW) != 0) continue;
        if (S_ISLNK(lst.st_mode)) {
          info.is_symlink = true;
          struct stat target;
          info.kind = fstatat(fd, e->d_name, &target, 0) == 0
                          ? KindOfMode(target.st_mode)
                          : EntryKind::kOther;  // dangling link
        } else {
          info.kind = KindOfMode(lst.st_mode);
        }
        break;
      }
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

uint64_t DirCache::reads() const {
  absl::MutexLock lock(mu_);
  return reads_;
}

}  // namespace bridgeimport
