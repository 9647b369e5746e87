// file_io.h: whole-file reads and atomic writes for the bytecode cache.
//
// Reads report the file's metadata from the same open descriptor, so what is
// validated is what was read. Writes follow CPython's set_data/_write_atomic:
// missing parent directories are created one by one (a concurrent creator is
// fine), the data goes to a unique temporary file opened O_EXCL in the target
// directory, then rename() replaces the target atomically, so a reader sees
// the old file or the new one, never a torn one. Every failure (read-only
// tree, full disk, permissions) is reported, never fatal: callers just skip
// the cache.
#ifndef BRIDGEIMPORT_FINDERS_FILE_IO_H_
#define BRIDGEIMPORT_FINDERS_FILE_IO_H_

#include <sys/types.h>
#include <time.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace bridgeimport {

struct FileStat {
  int64_t mtime_sec = 0;
  int64_t mtime_nsec = 0;
  int64_t mtime_ns = 0;  // mtime_sec * 1e9 + mtime_nsec
  uint64_t size = 0;     // st_size
  mode_t mode = 0;
  // Identity and inode-change time: a file replaced by rename, or whose
  // mtime was set back (touch -d, os.utime), differs here even when mtime_ns
  // and size do not. Used to tell whether a loaded module's source changed.
  uint64_t ino = 0;
  int64_t ctime_ns = 0;
};

// A file's bytes and the metadata of the descriptor they were read from.
struct FileContents : FileStat {
  std::string data;
};

// Reads a regular file whole; never blocks on a FIFO or device (refused as
// not a regular file). With `no_follow`, a final symlink is refused.
// With `within` (real directory paths), the file actually opened must lie
// below one of them, judged on the open descriptor, so no symlink or
// directory swapped in after the check can lead elsewhere: PermissionDenied.
// The error status carries errno's text; NotFound for ENOENT.
absl::StatusOr<FileContents> ReadWholeFile(
    const std::string& path, bool no_follow,
    const std::vector<std::string>* within = nullptr);

// stat() of a path. With `no_follow`, a path that is a symlink is an error
// (the finder saw a regular file there). `within` as for ReadWholeFile (the
// file is then opened and fstat()ed).
absl::StatusOr<FileStat> StatFile(
    const std::string& path, bool no_follow,
    const std::vector<std::string>* within = nullptr);

// True if the canonical path `real` lies below one of the canonical
// directories `roots` (empty entries ignored).
bool IsBelowAny(const std::string& real, const std::vector<std::string>& roots);

// Writes `data` to `path` atomically with permission bits `mode & 0666`,
// creating missing parent directories.
absl::Status WriteFileAtomic(const std::string& path, absl::string_view data,
                             mode_t mode);

// The wall clock in nanoseconds since the epoch (CLOCK_REALTIME): the clock
// file timestamps are set from, so the one every "changed after" rule uses.
int64_t WallClockNanos();

// A timespec (st_mtim, st_ctim, clock_gettime) in nanoseconds.
inline int64_t TimespecNanos(const struct timespec& ts) {
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// realpath(3) as a string; empty on failure.
std::string RealPath(const std::string& path);

}  // namespace bridgeimport

#endif  // BRIDGEIMPORT_FINDERS_FILE_IO_H_
