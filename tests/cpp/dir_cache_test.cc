// Tests for finders/dir_cache.h: listings, entry kinds, mtime revalidation
// (including the racy window), InvalidateAll, Revalidate and thread safety.
#include "finders/dir_cache.h"

#include <sys/stat.h>
#include <time.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/cpp/temp_tree.h"

namespace bridgeimport {

// Readable EntryKind values in failure messages (found by ADL).
inline void PrintTo(EntryKind kind, std::ostream* os) {
  switch (kind) {
    case EntryKind::kNone:
      *os << "kNone";
      return;
    case EntryKind::kFile:
      *os << "kFile";
      return;
    case EntryKind::kDirectory:
      *os << "kDirectory";
      return;
    case EntryKind::kOther:
      *os << "kOther";
      return;
  }
  *os << "EntryKind(" << static_cast<int>(kind) << ")";
}

namespace {

using bridgeimport_test::kPastMtime;

class DirCacheTest : public bridgeimport_test::TempTreeTest {
 protected:
  DirCache cache_;
};

TEST_F(DirCacheTest, ListsFilesAndDirectories) {
  WriteFile("d/a.py", "x = 1\n");
  WriteFile("d/b.txt");
  MakeDir("d/sub");
  std::shared_ptr<const Listing> listing = cache_.Get(Path("d"));
  ASSERT_TRUE(listing->exists());

  EXPECT_EQ(listing->Find("a.py").kind, EntryKind::kFile);
  EXPECT_FALSE(listing->Find("a.py").is_symlink);
  EXPECT_EQ(listing->Find("b.txt").kind, EntryKind::kFile);
  EXPECT_EQ(listing->Find("sub").kind, EntryKind::kDirectory);
  EXPECT_FALSE(listing->Find("sub").is_symlink);
  EXPECT_EQ(listing->Find("missing.py").kind, EntryKind::kNone);
  EXPECT_EQ(listing->Find(".").kind, EntryKind::kNone);
  EXPECT_EQ(listing->Find("..").kind, EntryKind::kNone);
  EXPECT_EQ(listing->Find("").kind, EntryKind::kNone);

  auto sorted = listing->Sorted();
  ASSERT_EQ(sorted.size(), 3u);
  EXPECT_EQ(sorted[0].first, "a.py");
  EXPECT_EQ(sorted[1].first, "b.txt");
  EXPECT_EQ(sorted[2].first, "sub");
  EXPECT_EQ(sorted[2].second.kind, EntryKind::kDirectory);
}

TEST_F(DirCacheTest, SortedIsByteOrder) {
  for (const char* name :
       {"b.py", "B.py", "a", "a.py", "_x.py", "caf\xc3\xa9.py"})
    WriteFile(std::string("d/") + name);
  auto sorted = cache_.Get(Path("d"))->Sorted();
  std::vector<std::string> names;
  for (const auto& entry : sorted) names.push_back(entry.first);
  EXPECT_EQ(names, (std::vector<std::string>{"B.py", "_x.py", "a", "a.py",
                                             "b.py", "caf\xc3\xa9.py"}));
}

TEST_F(DirCacheTest, EmptyDirectoryExists) {
  MakeDir("empty");
  std::shared_ptr<const Listing> listing = cache_.Get(Path("empty"));
  EXPECT_TRUE(listing->exists());
  EXPECT_TRUE(listing->Sorted().empty());
}

TEST_F(DirCacheTest, MissingDirectoryIsEmpty) {
  std::shared_ptr<const Listing> listing = cache_.Get(Path("nope"));
  EXPECT_FALSE(listing->exists());
  EXPECT_TRUE(listing->Sorted().empty());
  EXPECT_EQ(listing->Find("x.py").kind, EntryKind::kNone);
}

TEST_F(DirCacheTest, FileGivenAsDirectoryIsEmpty) {
  WriteFile("plain.py");
  std::shared_ptr<const Listing> listing = cache_.Get(Path("plain.py"));
  EXPECT_FALSE(listing->exists());
  EXPECT_TRUE(listing->Sorted().empty());
}

TEST_F(DirCacheTest, DirectoryCreatedAfterAMissIsSeen) {
  EXPECT_FALSE(cache_.Get(Path("later"))->exists());
  WriteFile("later/x.py");
  SetMtime("later", kPastMtime);
  std::shared_ptr<const Listing> listing = cache_.Get(Path("later"));
  EXPECT_TRUE(listing->exists());
  EXPECT_EQ(listing->Find("x.py").kind, EntryKind::kFile);
}

TEST_F(DirCacheTest, DirectoryRemovedAfterAListingIsMissing) {
  WriteFile("gone/x.py");
  SetMtime("gone", kPastMtime);
  EXPECT_TRUE(cache_.Get(Path("gone"))->exists());
  Remove("gone/x.py");
  Remove("gone");
  std::shared_ptr<const Listing> listing = cache_.Get(Path("gone"));
  EXPECT_FALSE(listing->exists());
  EXPECT_EQ(listing->Find("x.py").kind, EntryKind::kNone);
}

TEST_F(DirCacheTest, SymlinkToFileIsAFileAndASymlink) {
  WriteFile("d/target.py");
  Symlink("target.py", "d/link.py");
  EntryInfo info = cache_.Get(Path("d"))->Find("link.py");
  EXPECT_EQ(info.kind, EntryKind::kFile);
  EXPECT_TRUE(info.is_symlink);
  EXPECT_FALSE(cache_.Get(Path("d"))->Find("target.py").is_symlink);
}

TEST_F(DirCacheTest, SymlinkToDirectoryIsADirectoryAndASymlink) {
  MakeDir("real");
  MakeDir("d");
  Symlink(Path("real"), "d/alias");
  EntryInfo info = cache_.Get(Path("d"))->Find("alias");
  EXPECT_EQ(info.kind, EntryKind::kDirectory);
  EXPECT_TRUE(info.is_symlink);
}

TEST_F(DirCacheTest, DanglingSymlinkIsOther) {
  MakeDir("d");
  Symlink("does_not_exist.py", "d/dangling.py");
  EntryInfo info = cache_.Get(Path("d"))->Find("dangling.py");
  EXPECT_EQ(info.kind, EntryKind::kOther);
  EXPECT_TRUE(info.is_symlink);
}

TEST_F(DirCacheTest, SymlinkLoopIsOther) {
  MakeDir("d");
  Symlink("loop_b", "d/loop_a");
  Symlink("loop_a", "d/loop_b");
  EntryInfo info = cache_.Get(Path("d"))->Find("loop_a");
  EXPECT_EQ(info.kind, EntryKind::kOther);
  EXPECT_TRUE(info.is_symlink);
}

TEST_F(DirCacheTest, FifoIsOther) {
  MakeDir("d");
  ASSERT_EQ(mkfifo(Path("d/pipe").c_str(), 0600), 0);
  EntryInfo info = cache_.Get(Path("d"))->Find("pipe");
  EXPECT_EQ(info.kind, EntryKind::kOther);
  EXPECT_FALSE(info.is_symlink);
}

TEST_F(DirCacheTest, FreshDirectoryIsReReadAndSeesNewFiles) {
  // A directory whose mtime is within the racy window (here: in the future,
  // so the test does not depend on timing) is never trusted.
  WriteFile("d/a.py");
  int64_t future = static_cast<int64_t>(time(nullptr)) + 3600;
  SetMtime("d", future);
  uint64_t before = cache_.reads();
  EXPECT_EQ(cache_.Get(Path("d"))->Find("a.py").kind, EntryKind::kFile);
  EXPECT_EQ(cache_.reads(), before + 1);

  // Same mtime, new file: a racy listing is re-read anyway, so it is seen.
  WriteFile("d/b.py");
  SetMtime("d", future);
  EXPECT_EQ(cache_.Get(Path("d"))->Find("b.py").kind, EntryKind::kFile);
  EXPECT_EQ(cache_.reads(), before + 2);
  cache_.Get(Path("d"));
  EXPECT_EQ(cache_.reads(), before + 3);
}

TEST_F(DirCacheTest, JustCreatedDirectorySeesAFileAddedRightAway) {
  // The common case the racy window exists for: create, list, add, list,
  // all within one timestamp tick.
  MakeDir("d");
  EXPECT_EQ(cache_.Get(Path("d"))->Find("new.py").kind, EntryKind::kNone);
  WriteFile("d/new.py");
  EXPECT_EQ(cache_.Get(Path("d"))->Find("new.py").kind, EntryKind::kFile);
}

TEST_F(DirCacheTest, TrustedListingIsNotReReadUntilMtimeChanges) {
  WriteFile("d/a.py");
  SetMtime("d", kPastMtime);
  uint64_t before = cache_.reads();
  std::shared_ptr<const Listing> first = cache_.Get(Path("d"));
  EXPECT_EQ(cache_.reads(), before + 1);
  EXPECT_EQ(first->Find("a.py").kind, EntryKind::kFile);

  // Unchanged mtime: the same listing, no read.
  std::shared_ptr<const Listing> second = cache_.Get(Path("d"));
  EXPECT_EQ(cache_.reads(), before + 1);
  EXPECT_EQ(second.get(), first.get());

  // A new file and a different (still past) mtime: re-read, file seen.
  WriteFile("d/b.py");
  SetMtime("d", kPastMtime + 100);
  std::shared_ptr<const Listing> third = cache_.Get(Path("d"));
  EXPECT_EQ(cache_.reads(), before + 2);
  EXPECT_EQ(third->Find("b.py").kind, EntryKind::kFile);
  EXPECT_EQ(third->Find("a.py").kind, EntryKind::kFile);

  // The old snapshot is immutable.
  EXPECT_EQ(first->Find("b.py").kind, EntryKind::kNone);

  // And trusted again from now on.
  cache_.Get(Path("d"));
  EXPECT_EQ(cache_.reads(), before + 2);
}

TEST_F(DirCacheTest, MtimeComparedAtNanosecondResolution) {
  WriteFile("d/a.py");
  struct timespec times[2] = {{kPastMtime, 100}, {kPastMtime, 100}};
  ASSERT_EQ(utimensat(AT_FDCWD, Path("d").c_str(), times, 0), 0);
  cache_.Get(Path("d"));
  uint64_t before = cache_.reads();

  WriteFile("d/b.py");
  times[0].tv_nsec = times[1].tv_nsec = 200;  // same second
  ASSERT_EQ(utimensat(AT_FDCWD, Path("d").c_str(), times, 0), 0);
  struct stat st;
  ASSERT_EQ(stat(Path("d").c_str(), &st), 0);
  if (st.st_mtim.tv_nsec != 200)
    GTEST_SKIP() << "file system does not keep nanosecond mtimes";
  EXPECT_EQ(cache_.Get(Path("d"))->Find("b.py").kind, EntryKind::kFile);
  EXPECT_EQ(cache_.reads(), before + 1);
}

TEST_F(DirCacheTest, ReplacedDirectoryWithSameMtimeIsReRead) {
  // The inode is part of the validation: a directory swapped for another one
  // with an identical mtime is still noticed.
  WriteFile("d/old.py");
  SetMtime("d", kPastMtime);
  EXPECT_EQ(cache_.Get(Path("d"))->Find("old.py").kind, EntryKind::kFile);

  ASSERT_EQ(rename(Path("d").c_str(), Path("d_old").c_str()), 0);
  WriteFile("d/new.py");
  SetMtime("d", kPastMtime);
  std::shared_ptr<const Listing> listing = cache_.Get(Path("d"));
  EXPECT_EQ(listing->Find("new.py").kind, EntryKind::kFile);
  EXPECT_EQ(listing->Find("old.py").kind, EntryKind::kNone);
}

TEST_F(DirCacheTest, InvalidateAllForcesAReRead) {
  WriteFile("d/a.py");
  WriteFile("e/a.py");
  SetMtime("d", kPastMtime);
  SetMtime("e", kPastMtime);
  cache_.Get(Path("d"));
  cache_.Get(Path("e"));
  uint64_t before = cache_.reads();
  cache_.Get(Path("d"));
  EXPECT_EQ(cache_.reads(), before);

  // A change that leaves the mtime as it was is invisible to revalidation;
  // InvalidateAll (importlib.invalidate_caches) is how it becomes visible.
  WriteFile("d/b.py");
  SetMtime("d", kPastMtime);
  cache_.InvalidateAll();
  EXPECT_EQ(cache_.Get(Path("d"))->Find("b.py").kind, EntryKind::kFile);
  EXPECT_EQ(cache_.Get(Path("e"))->Find("a.py").kind, EntryKind::kFile);
  EXPECT_EQ(cache_.reads(), before + 2);

  // reads() counts over the cache's lifetime; invalidation does not reset it.
  cache_.InvalidateAll();
  EXPECT_EQ(cache_.reads(), before + 2);
}

TEST_F(DirCacheTest, ListingOutlivesInvalidation) {
  WriteFile("d/a.py");
  std::shared_ptr<const Listing> listing = cache_.Get(Path("d"));
  cache_.InvalidateAll();
  EXPECT_EQ(listing->Find("a.py").kind, EntryKind::kFile);
}

TEST_F(DirCacheTest, ConcurrentGetFindAndInvalidateAll) {
  constexpr int kThreads = 8;
  constexpr int kIterations = 2000;
  // One directory shared by all threads (trusted: mtime in the past) and one
  // per thread (fresh, so racy and re-read on every Get).
  WriteFile("shared/known.py");
  MakeDir("shared/pkg");
  SetMtime("shared", kPastMtime);
  for (int t = 0; t < kThreads; ++t)
    WriteFile("own" + std::to_string(t) + "/known.py");

  std::atomic<bool> done{false};
  std::atomic<int> wrong{0};
  std::atomic<int> invalidations{0};
  std::thread invalidator([&] {
    do {
      cache_.InvalidateAll();
      invalidations.fetch_add(1, std::memory_order_relaxed);
      std::this_thread::yield();
    } while (!done.load(std::memory_order_acquire));
  });
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&, t] {
      std::string shared = Path("shared");
      std::string own = Path("own" + std::to_string(t));
      for (int i = 0; i < kIterations; ++i) {
        const std::string& dir = (i % 2 == 0) ? shared : own;
        std::shared_ptr<const Listing> listing = cache_.Get(dir);
        if (!listing->exists() ||
            listing->Find("known.py").kind != EntryKind::kFile ||
            listing->Find("absent.py").kind != EntryKind::kNone)
          wrong.fetch_add(1, std::memory_order_relaxed);
        if (dir == shared && listing->Find("pkg").kind != EntryKind::kDirectory)
          wrong.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  for (std::thread& w : workers) w.join();
  done.store(true, std::memory_order_release);
  invalidator.join();

  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GT(invalidations.load(), 0);
  // Every Get that missed the cache read the directory; there were at least
  // as many reads as distinct directories.
  EXPECT_GE(cache_.reads(), static_cast<uint64_t>(kThreads + 1));
  EXPECT_LE(cache_.reads(), static_cast<uint64_t>(kThreads * kIterations));
}

// Revalidate: the hints of a file watcher. Each test keeps the directory's
// mtime in the past after its change, so that only Revalidate (not the
// mtime check) can make the change visible.
class RevalidateTest : public DirCacheTest {
 protected:
  // Lists d (and its parent, the tree's root) as trusted listings.
  void ListTrusted() {
    SetMtime("d", kPastMtime);
    SetMtime("", kPastMtime);
    cache_.Get(Path("d"));
    cache_.Get(Path(""));
  }
  // True if `rel`'s listing is read again on its next Get.
  bool ReRead(const std::string& rel) {
    uint64_t before = cache_.reads();
    cache_.Get(Path(rel));
    return cache_.reads() > before;
  }
};

TEST_F(RevalidateTest, ContentChangeKeepsTheListing) {
  WriteFile("d/a.py", "x = 1\n");
  ListTrusted();
  WriteFile("d/a.py", "x = 2\n");  // in place, or by rename: same entry
  SetMtime("d", kPastMtime);
  EXPECT_EQ(cache_.Revalidate(Path("d/a.py")), 0);
  EXPECT_FALSE(ReRead("d"));
}

TEST_F(RevalidateTest, NewFileDropsItsDirectory) {
  WriteFile("d/a.py");
  ListTrusted();
  WriteFile("d/b.py");
  SetMtime("d", kPastMtime);
  EXPECT_EQ(cache_.Get(Path("d"))->Find("b.py").kind, EntryKind::kNone);
  EXPECT_EQ(cache_.Revalidate(Path("d/b.py")), 1);
  EXPECT_EQ(cache_.Get(Path("d"))->Find("b.py").kind, EntryKind::kFile);
  EXPECT_FALSE(ReRead(""));
}

TEST_F(RevalidateTest, RemovedFileDropsItsDirectory) {
  WriteFile("d/a.py");
  WriteFile("d/b.py");
  ListTrusted();
  Remove("d/b.py");
  SetMtime("d", kPastMtime);
  EXPECT_EQ(cache_.Revalidate(Path("d/b.py")), 1);
  EXPECT_EQ(cache_.Get(Path("d"))->Find("b.py").kind, EntryKind::kNone);
}

TEST_F(RevalidateTest, KindAndSymlinkChangesDropTheDirectory) {
  WriteFile("d/a.py");
  WriteFile("d/target.py");
  ListTrusted();
  Remove("d/a.py");
  MakeDir("d/a.py");  // a file became a directory
  SetMtime("d", kPastMtime);
  EXPECT_EQ(cache_.Revalidate(Path("d/a.py")), 1);
  EXPECT_EQ(cache_.Get(Path("d"))->Find("a.py").kind, EntryKind::kDirectory);

  SetMtime("d", kPastMtime);
  cache_.Get(Path("d"));
  Remove("d/target.py");
  Symlink("a.py", "d/target.py");  // a file became a link to a directory
  SetMtime("d", kPastMtime);
  EXPECT_EQ(cache_.Revalidate(Path("d/target.py")), 1);
  EXPECT_TRUE(cache_.Get(Path("d"))->Find("target.py").is_symlink);
}

TEST_F(RevalidateTest, FileInANewDirectoryDropsTheListedAncestor) {
  WriteFile("d/a.py");
  ListTrusted();
  WriteFile("d/sub/b.py");  // d/sub was never listed: d's listing lacks it
  SetMtime("d", kPastMtime);
  EXPECT_EQ(cache_.Revalidate(Path("d/sub/b.py")), 1);
  EXPECT_EQ(cache_.Get(Path("d"))->Find("sub").kind, EntryKind::kDirectory);
}

TEST_F(RevalidateTest, ListingThroughASymlinkIsFoundByTheTarget) {
  WriteFile("d/real/x.py");
  Symlink("real", "d/link");
  ListTrusted();
  SetMtime("d/real", kPastMtime);
  EXPECT_EQ(cache_.Get(Path("d/link"))->Find("x.py").kind, EntryKind::kFile);
  WriteFile("d/real/y.py");
  SetMtime("d/real", kPastMtime);
  // Reported by its real path, listed through the link: the same directory.
  EXPECT_EQ(cache_.Revalidate(Path("d/real/y.py")), 1);
  EXPECT_EQ(cache_.Get(Path("d/link"))->Find("y.py").kind, EntryKind::kFile);
}

TEST_F(RevalidateTest, PathOutsideEveryListingDropsThemAll) {
  WriteFile("d/a.py");
  ListTrusted();
  // Not below any listed directory: perhaps the same file spelled another
  // way (a symlinked root). Nothing can be trusted then.
  EXPECT_EQ(cache_.Revalidate("/nonexistent_bridgeimport_dir/x/a.py"), 2);
  EXPECT_TRUE(ReRead("d"));
  cache_.Get(Path(""));
  EXPECT_EQ(cache_.Revalidate("relative/a.py"), 2);
}

TEST(JoinPathTest, JoinsWithOneSlash) {
  EXPECT_EQ(JoinPath("/a/b", "c.py"), "/a/b/c.py");
  EXPECT_EQ(JoinPath("/a/b/", "c.py"), "/a/b/c.py");
  EXPECT_EQ(JoinPath("/", "c.py"), "/c.py");
}

}  // namespace
}  // namespace bridgeimport
