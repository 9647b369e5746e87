// dir_cache.h: cached directory listings, revalidated by directory mtime.
//
// The finder answers "does <dir>/<name> exist, and is it a file or a
// directory?" many times per import. Like CPython's FileFinder it keeps one
// listing per directory and re-reads it when the directory's mtime changes, so
// a hit costs one stat() per directory level instead of one per candidate.
//
// Two things differ from FileFinder, both for correctness:
//  * mtimes are compared at nanosecond resolution together with the inode, not
//    as float seconds;
//  * a listing read while the directory's mtime is still within
//    kRacyWindowNanos of the clock is "racy" (a file added in the same clock
//    tick would not change the mtime) and is re-read on next use, the way git
//    treats racily clean index entries.
//
// Thread-safe: listings are immutable once built and handed out as
// shared_ptr<const Listing>; the map is guarded by a mutex that is never held
// across file system calls.
#ifndef BRIDGEIMPORT_FINDERS_DIR_CACHE_H_
#define BRIDGEIMPORT_FINDERS_DIR_CACHE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace bridgeimport {

enum class EntryKind : uint8_t { kNone, kFile, kDirectory, kOther };

struct EntryInfo {
  EntryKind kind = EntryKind::kNone;
  bool is_symlink = false;  // kind is then the kind of the link's target
};

// A snapshot of one directory.
class Listing {
 public:
  EntryInfo Find(absl::string_view name) const {
    auto it = entries_.find(name);
    return it == entries_.end() ? EntryInfo{} : it->second;
  }
  // Entries sorted by name, for deterministic reports.
  std::vector<std::pair<std::string, EntryInfo>> Sorted() const;
  bool exists() const { return exists_; }

 private:
  friend class DirCache;
  bool exists_ = false;
  int64_t mtime_ns_ = 0;
  uint64_t inode_ = 0;
  uint64_t device_ = 0;
  bool racy_ = true;
  absl::flat_hash_map<std::string, EntryInfo> entries_;
};

class DirCache {
 public:
  // A listing older than this (directory mtime versus the clock) is trusted
  // until the mtime changes. Larger than any file system timestamp tick.
  static constexpr int64_t kRacyWindowNanos = 50'000'000;

  // The current listing of `dir` (an absolute path). A missing or unreadable
  // directory yields an empty listing with exists() false.
  std::shared_ptr<const Listing> Get(const std::string& dir);

  // Drops every listing (importlib.invalidate_caches()).
  void InvalidateAll();

  // Drops the cached listings that disagree with the file system about
  // `path` (an absolute path): each listing of its directory whose entry
  // for it differs (present or not, its kind, a symlink or not), and so on
  // up for each ancestor while one is listed. A directory's listings are
  // found by name and by device and inode, so one listed through a symlink
  // or under another spelling is checked too. If no ancestor of `path` is
  // listed at all, every listing is dropped. Returns how many were dropped.
  //
  // For a file watcher's hints: a listing holds names and kinds only, so
  // the listing of a directory whose reported files changed their content
  // (or were saved by rename) stays, and only additions, removals and
  // kind changes cost a re-read.
  int Revalidate(const std::string& path);

  // Number of listings read from disk so far (for tests and stats).
  uint64_t reads() const;

 private:
  std::shared_ptr<const Listing> Read(const std::string& dir) const;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<const Listing>> listings_
      ABSL_GUARDED_BY(mu_);
  uint64_t reads_ ABSL_GUARDED_BY(mu_) = 0;
};

// Joins a directory and an entry name with '/'.
std::string JoinPath(absl::string_view dir, absl::string_view name);

}  // namespace bridgeimport

#endif  // BRIDGEIMPORT_FINDERS_DIR_CACHE_H_
