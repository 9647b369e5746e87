// Tests for finders/file_io.h: whole-file reads and atomic writes.
#include "finders/file_io.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/cpp/temp_tree.h"

namespace bridgeimport {
namespace {

class FileIoTest : public bridgeimport_test::TempTreeTest {};

mode_t GetUmask() {
  mode_t mask = umask(0);
  umask(mask);
  return mask;
}

TEST_F(FileIoTest, ReadsWholeFileWithMetadataOfTheSameDescriptor) {
  std::string path = WriteFile("a.py", std::string(100000, 'x'));
  absl::StatusOr<FileContents> c = ReadWholeFile(path, false);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->data.size(), 100000u);
  EXPECT_EQ(c->size, 100000u);
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(c->mtime_sec, st.st_mtim.tv_sec);
  EXPECT_EQ(c->mtime_nsec, st.st_mtim.tv_nsec);
  EXPECT_TRUE(S_ISREG(c->mode));
}

TEST_F(FileIoTest, ReadErrors) {
  absl::StatusOr<FileContents> missing = ReadWholeFile(Path("nope.py"), false);
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(absl::IsNotFound(missing.status()));
  EXPECT_NE(missing.status().message().find("nope.py"),
            absl::string_view::npos);
  MakeDir("dir.py");
  EXPECT_FALSE(ReadWholeFile(Path("dir.py"), false).ok());
  WriteFile("target.py", "x");
  Symlink(Path("target.py"), "link.py");
  EXPECT_TRUE(ReadWholeFile(Path("link.py"), false).ok());
  EXPECT_FALSE(ReadWholeFile(Path("link.py"), true).ok());
  EXPECT_FALSE(StatFile(Path("link.py"), true).ok());
  EXPECT_TRUE(StatFile(Path("link.py"), false).ok());
}

TEST_F(FileIoTest, WithinRefusesWhatASwappedLinkOrDirectoryLeadsTo) {
  WriteFile("mnt/sub/m.py", "inside");
  WriteFile("mnt/real.py", "inside");
  WriteFile("outside/m.py", "outside");
  Symlink("real.py", "mnt/link.py");
  char buf[PATH_MAX];
  ASSERT_NE(realpath(Path("mnt").c_str(), buf), nullptr);
  const std::vector<std::string> roots = {buf};
  EXPECT_TRUE(ReadWholeFile(Path("mnt/sub/m.py"), true, &roots).ok());
  EXPECT_TRUE(ReadWholeFile(Path("mnt/link.py"), false, &roots).ok());
  EXPECT_TRUE(StatFile(Path("mnt/link.py"), false, &roots).ok());
  // The link is retargeted, and sub/ becomes a link, after they were found.
  Remove("mnt/link.py");
  Symlink(Path("outside/m.py"), "mnt/link.py");
  ASSERT_EQ(rename(Path("mnt/sub").c_str(), Path("old_sub").c_str()), 0);
  Symlink(Path("outside"), "mnt/sub");
  for (const char* rel : {"mnt/link.py", "mnt/sub/m.py"}) {
    absl::StatusOr<FileContents> c = ReadWholeFile(Path(rel), false, &roots);
    ASSERT_FALSE(c.ok()) << rel;
    EXPECT_TRUE(absl::IsPermissionDenied(c.status())) << c.status();
    EXPECT_NE(c.status().message().find("outside the mount"),
              absl::string_view::npos);
    EXPECT_NE(c.status().message().find(Path(rel)), absl::string_view::npos);
    EXPECT_FALSE(StatFile(Path(rel), false, &roots).ok()) << rel;
    EXPECT_TRUE(ReadWholeFile(Path(rel), false).ok())
        << rel;  // unchecked: followed
  }
  EXPECT_TRUE(IsBelowAny("/a/b", {"/a"}));
  EXPECT_FALSE(IsBelowAny("/ab/c", {"/a"}));
  EXPECT_FALSE(IsBelowAny("/a", {"/a"}));
  EXPECT_FALSE(IsBelowAny("/a/b", {""}));
}

TEST_F(FileIoTest, AtomicWriteCreatesParentsAndReplaces) {
  std::string path = Path("a/b/__pycache__/m.pyc");
  ASSERT_TRUE(WriteFileAtomic(path, "first", 0644).ok());
  ASSERT_TRUE(WriteFileAtomic(path, "second", 0644).ok());
  absl::StatusOr<FileContents> c = ReadWholeFile(path, false);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->data, "second");
  int entries = 0;
  for (const auto& e :
       std::filesystem::directory_iterator(Path("a/b/__pycache__"))) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 1);  // no temporary file left behind
  EXPECT_EQ(c->mode & 0777, 0644 & ~GetUmask());
}

TEST_F(FileIoTest, AtomicWriteFailsCleanlyWhereADirectoryCannotBe) {
  WriteFile("blocked", "a file where a directory should be");
  absl::Status s = WriteFileAtomic(Path("blocked/m.pyc"), "data", 0644);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("blocked"), absl::string_view::npos);
}

TEST_F(FileIoTest, WallClockIsPlausible) {
  EXPECT_GT(WallClockNanos(), int64_t{1'600'000'000} * 1'000'000'000);
}

TEST_F(FileIoTest, TimespecNanosIsTheStatClock) {
  struct timespec ts = {12, 345};
  EXPECT_EQ(TimespecNanos(ts), int64_t{12'000'000'345});
  WriteFile("m.py", "x");
  absl::StatusOr<FileStat> st = StatFile(Path("m.py"), false);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->mtime_ns, st->mtime_sec * 1'000'000'000 + st->mtime_nsec);
}

TEST_F(FileIoTest, RealPathResolvesOrIsEmpty) {
  EXPECT_EQ(RealPath(Path("missing")), "");
  WriteFile("f", "x");
  EXPECT_FALSE(RealPath(Path("f")).empty());
}

}  // namespace
}  // namespace bridgeimport
