// lock.h: the mutex of the finders core.
//
// Normally absl::Mutex. Debian's abseil is not built with ThreadSanitizer, so
// TSan cannot see absl::Mutex's lock and unlock (they happen in uninstrumented
// code) and reports every access it guards as a race. The TSan build
// (CMake: BRIDGEIMPORT_STD_MUTEX=ON, set by default when BRIDGEIMPORT_SANITIZE
// contains "thread") swaps in std::mutex, whose pthread calls TSan intercepts,
// so a report there is a real missing lock, not an artefact. Both types have
// the same interface and the same thread-safety annotations, so code written
// against one compiles and is checked identically against the other.
#ifndef BRIDGEIMPORT_FINDERS_LOCK_H_
#define BRIDGEIMPORT_FINDERS_LOCK_H_

#include "absl/base/thread_annotations.h"

#ifdef BRIDGEIMPORT_STD_MUTEX
#include <mutex>
#else
#include "absl/synchronization/mutex.h"
#endif

namespace bridgeimport {

#ifdef BRIDGEIMPORT_STD_MUTEX

class ABSL_LOCKABLE Mutex {
 public:
  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }

 private:
  std::mutex mu_;
};

class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) {
    mu_->Lock();
  }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

#else

using Mutex = absl::Mutex;
using MutexLock = absl::MutexLock;

#endif

}  // namespace bridgeimport

#endif  // BRIDGEIMPORT_FINDERS_LOCK_H_
