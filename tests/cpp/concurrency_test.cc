// Multi-threaded tests of the core: many threads resolving names through one
// MountTable and DirCache while others change the tree, drop the cache and
// swap in new tables (what the finder does on mount()/unmount() and
// importlib.invalidate_caches()), also through Published, the finder's
// lock-free reader of its table (finders/published.h).
//
// Each test checks every answer it gets, so a torn listing or a table freed
// under a reader fails it in any build; the TSan build (`make sanitize`) also
// fails it on any unsynchronised access, even one that happened to give the
// right answer.
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "finders/dir_cache.h"
#include "finders/mount_table.h"
#include "finders/published.h"
#include "gtest/gtest.h"
#include "tests/cpp/temp_tree.h"

namespace bridgeimport {
namespace {

using bridgeimport_test::kPastMtime;
using Kind = Resolution::Kind;

constexpr int kReaders = 4;
constexpr int kIterations = 400;

class ConcurrencyTest : public bridgeimport_test::TempTreeTest {
 protected:
  void SetUp() override {
    TempTreeTest::SetUp();
    WriteFile("d1/stable.py");
    WriteFile("d1/pkg/__init__.py");
    WriteFile("d1/pkg/inner.py");
    WriteFile("d2/stable.py");  // shadowed by d1/stable.py
    WriteFile("d2/second.py");
    SetMtime("d1/pkg", kPastMtime);
    SetMtime("d2", kPastMtime);
  }

  MountConfig Config(const std::string& pattern = "*.py") const {
    MountConfig config;
    config.package = "plugins";
    config.directories = {Path("d1"), Path("d2")};
    config.pattern = pattern;
    return config;
  }

  std::unique_ptr<MountTable> MustBuild(const std::string& pattern = "*.py") {
    auto table = MountTable::Build({Config(pattern)}, cache_);
    EXPECT_TRUE(table.ok()) << table.status();
    return table.ok() ? *std::move(table) : nullptr;
  }

  std::shared_ptr<DirCache> cache_ = std::make_shared<DirCache>();
};

// Describes a wrong answer; empty if `r` is what `name` must resolve to.
std::string Check(const Resolution& r, Kind kind, const std::string& file) {
  if (r.kind == kind && r.file == file) return "";
  return "kind " + std::to_string(static_cast<int>(r.kind)) + " file '" +
         r.file + "', wanted kind " + std::to_string(static_cast<int>(kind)) +
         " file '" + file + "'";
}

TEST_F(ConcurrencyTest, ResolveWhileTreeChangesAndCacheIsDropped) {
  std::unique_ptr<MountTable> table = MustBuild();
  ASSERT_NE(table, nullptr);
  const std::string stable = Path("d1/stable.py");
  const std::string inner = Path("d1/pkg/inner.py");
  const std::string second = Path("d2/second.py");
  const std::string flap = Path("d1/flap.py");

  std::atomic<bool> done{false};
  std::atomic<int> flips{0};
  // Creates and removes d1/flap.py and d1/flappkg/ (a package) over and over,
  // so d1's listing keeps changing under the readers.
  std::thread writer([&] {
    while (!done.load(std::memory_order_acquire)) {
      WriteFile("d1/flap.py");
      WriteFile("d1/flappkg/__init__.py");
      Remove("d1/flap.py");
      Remove("d1/flappkg/__init__.py");
      Remove("d1/flappkg");
      flips.fetch_add(1, std::memory_order_relaxed);
    }
  });
  std::thread invalidator([&] {
    while (!done.load(std::memory_order_acquire)) {
      cache_->InvalidateAll();
      std::this_thread::yield();
    }
  });

  std::vector<std::string> errors(kReaders);
  std::vector<std::thread> readers;
  for (int t = 0; t < kReaders; ++t) {
    readers.emplace_back([&, t] {
      std::string& error = errors[t];
      for (int i = 0; i < kIterations && error.empty(); ++i) {
        error = Check(table->Resolve("plugins.stable"), Kind::kModule, stable);
        if (error.empty())
          error =
              Check(table->Resolve("plugins.pkg.inner"), Kind::kModule, inner);
        if (error.empty())
          error =
              Check(table->Resolve("plugins.second"), Kind::kModule, second);
        if (error.empty())
          error = Check(table->Resolve("plugins"), Kind::kPrefix, "");
        if (!error.empty()) break;
        // Present or absent, never anything else.
        Resolution r = table->Resolve("plugins.flap");
        if (r.kind != Kind::kNotFound && Check(r, Kind::kModule, flap) != "")
          error = "plugins.flap: " + Check(r, Kind::kModule, flap);
        r = table->Resolve("plugins.flappkg");
        if (r.kind != Kind::kNotFound && r.kind != Kind::kPackage)
          error = "plugins.flappkg: " + Check(r, Kind::kPackage, "");
        if (!DirectoryHasModule(*cache_, Path("d1"), "stable", {".py"}))
          error = "DirectoryHasModule lost d1/stable.py";
        // The children always include the stable ones, first directory first.
        bool has_stable = false, has_pkg = false, has_second = false;
        for (const ChildModule& c : table->ListChildren("plugins")) {
          if (c.name == "stable")
            has_stable = c.file == stable && c.shadowed.size() == 1 &&
                         c.shadowed[0] == Path("d2/stable.py");
          has_pkg |= c.name == "pkg" && c.is_package;
          has_second |= c.name == "second" && c.file == second;
        }
        if (error.empty() && !(has_stable && has_pkg && has_second))
          error = "ListChildren lost a stable child";
      }
    });
  }
  for (std::thread& r : readers) r.join();
  done.store(true, std::memory_order_release);
  writer.join();
  invalidator.join();

  for (int t = 0; t < kReaders; ++t) EXPECT_EQ(errors[t], "") << "reader " << t;
  EXPECT_GT(flips.load(), 0);
}

// The finder publishes a new table on every mount change while other threads
// may still be resolving through the old one; both share one DirCache.
TEST_F(ConcurrencyTest, ResolveThroughTablesSwappedUnderneath) {
  std::shared_ptr<const MountTable> current(MustBuild("*.py"));
  ASSERT_NE(current, nullptr);
  const std::string stable = Path("d1/stable.py");
  const std::string second = Path("d2/second.py");

  std::atomic<bool> done{false};
  std::atomic<int> swaps{0};
  std::thread swapper([&] {
    bool narrow = false;
    while (!done.load(std::memory_order_acquire)) {
      narrow = !narrow;
      std::shared_ptr<const MountTable> next(
          MustBuild(narrow ? "st*.py" : "*.py"));
      if (next == nullptr) return;
      std::atomic_store(&current, std::move(next));
      if (swaps.fetch_add(1, std::memory_order_relaxed) % 8 == 0)
        cache_->InvalidateAll();
    }
  });

  std::vector<std::string> errors(kReaders);
  std::vector<std::thread> readers;
  for (int t = 0; t < kReaders; ++t) {
    readers.emplace_back([&, t] {
      std::string& error = errors[t];
      for (int i = 0; i < kIterations && error.empty(); ++i) {
        std::shared_ptr<const MountTable> table = std::atomic_load(&current);
        const Mount* mount = table->FindMount("plugins");
        if (mount == nullptr) {
          error = "the plugins mount vanished";
          break;
        }
        bool narrow = mount->glob().text() == "st*.py";
        error = Check(table->Resolve("plugins.stable"), Kind::kModule, stable);
        // The answer follows the glob of the table this thread holds, however
        // many tables were published since.
        if (error.empty())
          error = narrow ? Check(table->Resolve("plugins.second"),
                                 Kind::kNotFound, "")
                         : Check(table->Resolve("plugins.second"),
                                 Kind::kModule, second);
        if (error.empty() && table->ListChildren("plugins").size() !=
                                 (narrow ? 2u : 3u))  // stable, pkg (, second)
          error = "ListChildren disagrees with the table's glob";
      }
    });
  }
  for (std::thread& r : readers) r.join();
  done.store(true, std::memory_order_release);
  swapper.join();

  for (int t = 0; t < kReaders; ++t) EXPECT_EQ(errors[t], "") << "reader " << t;
  EXPECT_GT(swaps.load(), 0);
}

// What the finder does since issue 12: the table is Published, the miss path
// reads this thread's copy (Local) without a lock, a hit takes a reference
// (Get). Every reader sees whole tables and, once a publication is visible,
// never an older one again.
TEST_F(ConcurrencyTest, PublishedTablesReadLockFreeWhileSwapped) {
  std::shared_ptr<const MountTable> wide(MustBuild("*.py"));
  std::shared_ptr<const MountTable> narrow(MustBuild("st*.py"));
  ASSERT_NE(wide, nullptr);
  ASSERT_NE(narrow, nullptr);
  Published<MountTable> published(wide);
  const std::string second = Path("d2/second.py");

  std::atomic<bool> done{false};
  std::atomic<int> swaps{0};
  std::thread swapper([&] {
    for (int i = 0; !done.load(std::memory_order_acquire); ++i) {
      // A fresh table each time: the old one dies when its last reader drops
      // it.
      std::shared_ptr<const MountTable> next(
          MustBuild(i % 2 ? "*.py" : "st*.py"));
      if (next == nullptr) return;
      published.Publish(std::move(next));
      swaps.fetch_add(1, std::memory_order_relaxed);
    }
  });

  std::vector<std::string> errors(kReaders);
  std::vector<std::thread> readers;
  for (int t = 0; t < kReaders; ++t) {
    readers.emplace_back([&, t] {
      std::string& error = errors[t];
      for (int i = 0; i < kIterations * 4 && error.empty(); ++i) {
        if (!published.Local().MayServe("plugins.stable") ||
            published.Local().MayServe("json"))
          error = "the miss path answered from a torn table";
        std::shared_ptr<const MountTable> table = published.Get();
        const Mount* mount = table->FindMount("plugins");
        if (error.empty() && mount == nullptr)
          error = "the plugins mount vanished";
        if (!error.empty()) break;
        bool is_narrow = mount->glob().text() == "st*.py";
        error = is_narrow ? Check(table->Resolve("plugins.second"),
                                  Kind::kNotFound, "")
                          : Check(table->Resolve("plugins.second"),
                                  Kind::kModule, second);
      }
    });
  }
  for (std::thread& r : readers) r.join();
  done.store(true, std::memory_order_release);
  swapper.join();

  for (int t = 0; t < kReaders; ++t) EXPECT_EQ(errors[t], "") << "reader " << t;
  EXPECT_GT(swaps.load(), 0);
  // After the last publication, every thread's next read is the newest table.
  std::shared_ptr<const MountTable> last = published.Get();
  std::thread late([&] { EXPECT_EQ(published.Get(), last); });
  late.join();
}

// A thread's cached copy belongs to one Published: another one made later at
// the same address (the finder of a re-initialised module) is not mistaken for
// it.
TEST_F(ConcurrencyTest, PublishedCopiesAreNotSharedBetweenInstances) {
  std::shared_ptr<const MountTable> wide(MustBuild("*.py"));
  std::shared_ptr<const MountTable> narrow(MustBuild("st*.py"));
  ASSERT_NE(wide, nullptr);
  ASSERT_NE(narrow, nullptr);
  for (int i = 0; i < 50; ++i) {
    auto a = std::make_unique<Published<MountTable>>(i % 2 ? wide : narrow);
    EXPECT_EQ(&a->Local(), (i % 2 ? wide : narrow).get());
    a.reset();
    auto b = std::make_unique<Published<MountTable>>(i % 2 ? narrow : wide);
    EXPECT_EQ(&b->Local(), (i % 2 ? narrow : wide).get()) << "round " << i;
  }
}

}  // namespace
}  // namespace bridgeimport
