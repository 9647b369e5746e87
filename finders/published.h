// published.h: an immutable object swapped whole by writers and read without
// a lock by every thread, for the finder's mount table.
//
// Every import in the process asks the finder first, from any thread at once
// on a free-threaded CPython (PEP 703), so the read must not contend: each
// thread keeps its own shared_ptr to the current object and refreshes it only
// when a newer one was published, which it learns from one atomic load of a
// version number. Writers (mount()/unmount(), rare) take a mutex; old objects
// die when the last thread holding one has refreshed or exited.
//
// Versions come from one process-wide counter, so a Published destroyed and
// another made at the same address can never be mistaken for each other.
#ifndef BRIDGEIMPORT_FINDERS_PUBLISHED_H_
#define BRIDGEIMPORT_FINDERS_PUBLISHED_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace bridgeimport {

template <typename T>
class Published {
 public:
  explicit Published(std::shared_ptr<const T> initial) {
    Publish(std::move(initial));
  }
  Published(const Published&) = delete;
  Published& operator=(const Published&) = delete;

  // Makes `next` the object every later Get()/Local() returns.
  void Publish(std::shared_ptr<const T> next) {
    std::shared_ptr<const T> old;  // destroyed after the lock is released
    absl::MutexLock lock(mu_);
    old = std::exchange(current_, std::move(next));
    version_.store(NextVersion(), std::memory_order_release);
  }

  // This thread's copy of the current object: valid until this thread calls
  // Local() or Get() again (a call that may then drop it). The miss path.
  const T& Local() const { return *Cached().value; }

  // A reference of its own to the current object, for use across calls that
  // may come back here (Python code run by the finder).
  std::shared_ptr<const T> Get() const { return Cached().value; }

 private:
  struct ThreadCopy {
    const Published* owner = nullptr;
    uint64_t version = 0;
    std::shared_ptr<const T> value;
  };

  static uint64_t NextVersion() {
    static std::atomic<uint64_t> counter{0};
    return counter.fetch_add(1, std::memory_order_relaxed) + 1;
  }

  ThreadCopy& Cached() const {
    static thread_local ThreadCopy copy;
    if (copy.owner != this ||
        copy.version != version_.load(std::memory_order_acquire)) {
      std::shared_ptr<const T> old;  // destroyed after the lock is released
      absl::MutexLock lock(mu_);
      old = std::exchange(copy.value, current_);
      copy.version = version_.load(std::memory_order_relaxed);
      copy.owner = this;
    }
    return copy;
  }

  mutable absl::Mutex mu_;
  std::shared_ptr<const T> current_ ABSL_GUARDED_BY(mu_);
  std::atomic<uint64_t> version_{0};
};

}  // namespace bridgeimport

#endif  // BRIDGEIMPORT_FINDERS_PUBLISHED_H_
