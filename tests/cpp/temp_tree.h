// temp_tree.h: a fresh temporary directory per test, with helpers to build
// small file trees in it (files, directories, symlinks, fixed mtimes).
//
// Tests derive their fixture from TempTreeTest; SetUp creates the directory
// with mkdtemp and TearDown removes it recursively (symlinks are removed, never
// followed).
#ifndef BRIDGEIMPORT_TESTS_CPP_TEMP_TREE_H_
#define BRIDGEIMPORT_TESTS_CPP_TEMP_TREE_H_

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

#include "gtest/gtest.h"

namespace bridgeimport_test {

// Whole seconds since the epoch, far enough in the past that a listing read
// now is outside DirCache's racy window.
inline constexpr int64_t kPastMtime = 1'000'000'000;  // 2001-09-09

class TempTreeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string base = ::testing::TempDir();
    if (base.empty()) base = "/tmp/";
    if (base.back() != '/') base += '/';
    std::string templ = base + "bridgeimport_test_XXXXXX";
    std::vector<char> buf(templ.begin(), templ.end());
    buf.push_back('\0');
    ASSERT_NE(mkdtemp(buf.data()), nullptr)
        << "mkdtemp(" << templ << "): " << std::strerror(errno);
    root_ = buf.data();
  }

  void TearDown() override {
    if (root_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
    EXPECT_FALSE(ec) << "removing " << root_ << ": " << ec.message();
  }

  // The temporary directory (absolute, no trailing '/').
  const std::string& root() const { return root_; }

  // `rel` below the temporary directory; root() itself for "".
  std::string Path(const std::string& rel) const {
    return rel.empty() ? root_ : root_ + "/" + rel;
  }

  // Creates the directory `rel` and any missing parents; returns its path.
  std::string MakeDir(const std::string& rel) {
    std::string path = Path(rel);
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    EXPECT_FALSE(ec) << "mkdir " << path << ": " << ec.message();
    return path;
  }

  // Writes the file `rel` (creating parent directories); returns its path.
  std::string WriteFile(const std::string& rel,
                        const std::string& contents = "") {
    std::string path = Path(rel);
    std::filesystem::path parent = std::filesystem::path(path).parent_path();
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    EXPECT_FALSE(ec) << "mkdir " << parent << ": " << ec.message();
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << contents;
    out.close();
    EXPECT_TRUE(out.good()) << "writing " << path;
    return path;
  }

  // Creates the symlink `rel` pointing at `target` (stored verbatim, so it may
  // be relative to the link's directory); returns the link's path.
  std::string Symlink(const std::string& target, const std::string& rel) {
    std::string path = Path(rel);
    EXPECT_EQ(symlink(target.c_str(), path.c_str()), 0)
        << "symlink " << path << " -> " << target << ": "
        << std::strerror(errno);
    return path;
  }

  // Removes the file or empty directory `rel`.
  void Remove(const std::string& rel) {
    std::string path = Path(rel);
    EXPECT_EQ(::remove(path.c_str()), 0)
        << "remove " << path << ": " << std::strerror(errno);
  }

  // Sets the access and modification times of `rel` (not following a final
  // symlink) to `seconds` since the epoch.
  void SetMtime(const std::string& rel, int64_t seconds) {
    std::string path = Path(rel);
    struct timespec times[2];
    times[0].tv_sec = static_cast<time_t>(seconds);
    times[0].tv_nsec = 0;
    times[1] = times[0];
    EXPECT_EQ(utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW), 0)
        << "utimensat " << path << ": " << std::strerror(errno);
  }

 private:
  std::string root_;
};

}  // namespace bridgeimport_test

#endif  // BRIDGEIMPORT_TESTS_CPP_TEMP_TREE_H_
