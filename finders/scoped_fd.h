// scoped_fd.h: a file descriptor closed when its owner goes out of scope.
//
// The bytecode cache's reads and atomic writes (file_io.cc) and the mount
// fuzzer's tree builder open descriptors on paths that may fail half-way;
// owning them keeps every early return leak-free.
#ifndef BRIDGEIMPORT_FINDERS_SCOPED_FD_H_
#define BRIDGEIMPORT_FINDERS_SCOPED_FD_H_

#include <unistd.h>

namespace bridgeimport {

class ScopedFd {
 public:
  explicit ScopedFd(int fd) : fd_(fd) {}
  ~ScopedFd() { reset(-1); }
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;

  int get() const { return fd_; }
  // Closes the current descriptor (if any) and owns `fd` instead.
  void reset(int fd) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }
  // Gives up ownership without closing.
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

}  // namespace bridgeimport

#endif  // BRIDGEIMPORT_FINDERS_SCOPED_FD_H_
