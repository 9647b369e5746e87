// file_io.cc: whole-file reads and atomic writes for the bytecode cache (see
// the .h).
#include "finders/file_io.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <vector>

#include "absl/strings/str_cat.h"
#include "finders/scoped_fd.h"

namespace bridgeimport {
namespace {

absl::Status ErrnoStatus(int err, absl::string_view what,
                         absl::string_view path) {
  std::string message = absl::StrCat(what, " '", path, "': ", strerror(err));
  if (err == ENOENT) return absl::NotFoundError(message);
  if (err == EACCES || err == EPERM || err == EROFS)
    return absl::PermissionDeniedError(message);
  return absl::UnavailableError(message);
}

FileStat StatOf(const struct stat& st) {
  FileStat out;
  out.mtime_sec = st.st_mtim.tv_sec;
  out.mtime_nsec = st.st_mtim.tv_nsec;
  out.mtime_ns = TimespecNanos(st.st_mtim);
  out.size = static_cast<uint64_t>(st.st_size);
  out.mode = st.st_mode;
  out.ino = static_cast<uint64_t>(st.st_ino);
  out.ctime_ns = TimespecNanos(st.st_ctim);
  return out;
}

bool IsDirectory(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string Dirname(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return std::string();
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// The canonical path of what `fd` refers to: /proc/self/fd on Linux, else
// realpath() of the name it was opened by (a narrower race, not none).
std::string CanonicalPath(int fd, const std::string& path) {
  char buf[PATH_MAX];
  std::string link = absl::StrCat("/proc/self/fd/", fd);
  ssize_t n = readlink(link.c_str(), buf, sizeof(buf) - 1);
  if (n > 0 && buf[0] == '/') return std::string(buf, static_cast<size_t>(n));
  return RealPath(path);
}

absl::Status CheckWithin(int fd, const std::string& path,
                         const std::vector<std::string>* within) {
  if (within == nullptr || within->empty()) return absl::OkStatus();
  std::string real = CanonicalPath(fd, path);
  if (!real.empty() && IsBelowAny(real, *within)) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(
      "refused '", path, "': it now resolves to '", real,
      "', outside the mount's directories (a symlink or directory changed "
      "after the module was found; mount with allow_external_symlinks=True "
      "to follow links out of the mount)"));
}

int OpenFlags(bool no_follow) {
  // O_NONBLOCK: opening a FIFO or device must not block (callers hold the
  // GIL); it changes nothing for the regular files that are read.
  return O_RDONLY | O_CLOEXEC | O_NONBLOCK | (no_follow ? O_NOFOLLOW : 0);
}

}  // namespace

bool IsBelowAny(const std::string& real,
                const std::vector<std::string>& roots) {
  for (const std::string& root : roots) {
    if (root.empty()) continue;
    if (real.size() > root.size() && real.compare(0, root.size(), root) == 0 &&
        (root.back() == '/' || real[root.size()] == '/'))
      return true;
  }
  return false;
}

int64_t WallClockNanos() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return TimespecNanos(ts);
}

std::string RealPath(const std::string& path) {
  char buf[PATH_MAX];
  if (realpath(path.c_str(), buf) == nullptr) return std::string();
  return std::string(buf);
}

absl::StatusOr<FileStat> StatFile(const std::string& path, bool no_follow,
                                  const std::vector<std::string>* within) {
  struct stat st;
  if (within != nullptr && !within->empty()) {
    ScopedFd fd(open(path.c_str(), OpenFlags(no_follow)));
    if (fd.get() < 0) return ErrnoStatus(errno, "cannot open", path);
    if (fstat(fd.get(), &st) != 0)
      return ErrnoStatus(errno, "cannot stat", path);
    if (absl::Status s = CheckWithin(fd.get(), path, within); !s.ok()) return s;
    return StatOf(st);
  }
  if ((no_follow ? lstat(path.c_str(), &st) : stat(path.c_str(), &st)) != 0)
    return ErrnoStatus(errno, "cannot stat", path);
  if (S_ISLNK(st.st_mode)) return ErrnoStatus(ELOOP, "cannot stat", path);
  return StatOf(st);
}

absl::StatusOr<FileContents> ReadWholeFile(
    const std::string& path, bool no_follow,
    const std::vector<std::string>* within) {
  ScopedFd fd(open(path.c_str(), OpenFlags(no_follow)));
  if (fd.get() < 0) return ErrnoStatus(errno, "cannot open", path);
  if (absl::Status s = CheckWithin(fd.get(), path, within); !s.ok()) return s;
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return ErrnoStatus(errno, "cannot stat", path);
  if (!S_ISREG(st.st_mode))
    return ErrnoStatus(S_ISDIR(st.st_mode) ? EISDIR : EINVAL,
                       "not a regular file:", path);
  FileContents out;
  static_cast<FileStat&>(out) = StatOf(st);
  out.data.resize(out.size);
  size_t done = 0;
  while (true) {
    if (done == out.data.size()) out.data.resize(out.data.size() * 2 + 4096);
    ssize_t n = read(fd.get(), &out.data[done], out.data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "cannot read", path);
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  out.data.resize(done);
  return out;
}

absl::Status WriteFileAtomic(const std::string& path, absl::string_view data,
                             mode_t mode) {
  // Create missing parents, outermost first (as CPython's set_data).
  std::vector<std::string> missing;
  for (std::string parent = Dirname(path);
       !parent.empty() && !IsDirectory(parent); parent = Dirname(parent)) {
    missing.push_back(parent);
    if (parent == "/") break;
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    if (mkdir(it->c_str(), 0777) != 0 && errno != EEXIST)
      return ErrnoStatus(errno, "cannot create directory", *it);
  }
  static std::atomic<uint64_t> counter{0};
  std::string temp =
      absl::StrCat(path, ".", getpid(), ".", counter.fetch_add(1), ".",
                   WallClockNanos() % 1000000, ".tmp");
  ScopedFd fd(
      open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode & 0666));
  if (fd.get() < 0) return ErrnoStatus(errno, "cannot create", temp);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd.get(), data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      unlink(temp.c_str());
      return ErrnoStatus(err, "cannot write", temp);
    }
    done += static_cast<size_t>(n);
  }
  if (close(fd.release()) != 0) {
    int err = errno;
    unlink(temp.c_str());
    return ErrnoStatus(err, "cannot write", temp);
  }
  if (rename(temp.c_str(), path.c_str()) != 0) {
    int err = errno;
    unlink(temp.c_str());
    return ErrnoStatus(err, "cannot replace", path);
  }
  return absl::OkStatus();
}

}  // namespace bridgeimport
