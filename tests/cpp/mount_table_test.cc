// Tests for finders/mount_table.h: building mounts, resolving module names to
// files over real directory trees, listing children, and keeping every
// resolution inside the mount's directories.
#include "finders/mount_table.h"

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "finders/module_name.h"
#include "gtest/gtest.h"
#include "tests/cpp/temp_tree.h"

namespace bridgeimport {

// Readable Resolution::Kind values in failure messages (found by ADL).
inline void PrintTo(Resolution::Kind kind, std::ostream* os) {
  switch (kind) {
    case Resolution::Kind::kMiss:
      *os << "kMiss";
      return;
    case Resolution::Kind::kInvalidName:
      *os << "kInvalidName";
      return;
    case Resolution::Kind::kNotFound:
      *os << "kNotFound";
      return;
    case Resolution::Kind::kPrefix:
      *os << "kPrefix";
      return;
    case Resolution::Kind::kModule:
      *os << "kModule";
      return;
    case Resolution::Kind::kPackage:
      *os << "kPackage";
      return;
  }
  *os << "Kind(" << static_cast<int>(kind) << ")";
}

namespace {

using bridgeimport_test::kPastMtime;
using Kind = Resolution::Kind;

// The whole resolution, for failure messages.
std::string Describe(const Resolution& r) {
  std::string kind = ::testing::PrintToString(r.kind);
  return kind + " mount=" + (r.mount ? r.mount->package() : "(null)") +
         " file='" + r.file + "' directory='" + r.directory + "' detail='" +
         r.detail + "'";
}

bool Contains(absl::string_view haystack, absl::string_view needle) {
  return haystack.find(needle) != absl::string_view::npos;
}

std::vector<std::string> Names(const std::vector<ChildModule>& children) {
  std::vector<std::string> names;
  for (const ChildModule& child : children) names.push_back(child.name);
  return names;
}

class MountTableTest : public bridgeimport_test::TempTreeTest {
 protected:
  // Builds a table that must be valid.
  std::unique_ptr<MountTable> MustBuild(
      const std::vector<MountConfig>& configs) {
    absl::StatusOr<std::unique_ptr<MountTable>> table =
        MountTable::Build(configs, cache_);
    EXPECT_TRUE(table.ok()) << table.status();
    if (!table.ok()) return nullptr;
    return *std::move(table);
  }

  // Builds a table that must be refused, returning the status.
  absl::Status MustFail(const std::vector<MountConfig>& configs) {
    absl::StatusOr<std::unique_ptr<MountTable>> table =
        MountTable::Build(configs, cache_);
    EXPECT_FALSE(table.ok());
    return table.status();
  }

  // A mount of `dir` must be refused with PermissionDenied, its message
  // naming `dir` and saying `says` (and never `never_says`, if given).
  // Permission bits do not stop root: the build runs in a child that drops to
  // uid 65534 (nobody) when the test runs as root.
  static void ExpectPermissionDeniedAsNobody(const std::string& dir,
                                             const std::string& says,
                                             const std::string& never_says) {
    EXPECT_EXIT(
        {
          if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(3);
          auto table = MountTable::Build({Config("plugins", {dir})}, nullptr);
          if (table.ok()) _exit(1);
          absl::string_view message = table.status().message();
          bool clear =
              table.status().code() == absl::StatusCode::kPermissionDenied &&
              Contains(message, dir) && Contains(message, says) &&
              (never_says.empty() || !Contains(message, never_says));
          _exit(clear ? 0 : 2);
        },
        ::testing::ExitedWithCode(0), "");
  }

  static MountConfig Config(std::string package, std::vector<std::string> dirs,
                            std::string pattern = "*.py") {
    MountConfig config;
    config.package = std::move(package);
    config.directories = std::move(dirs);
    config.pattern = std::move(pattern);
    return config;
  }

  std::shared_ptr<DirCache> cache_ = std::make_shared<DirCache>();
};

// The usual layout: mount "plugins" on p1 then p2.
class PluginsTest : public MountTableTest {
 protected:
  void SetUp() override {
    MountTableTest::SetUp();
    WriteFile("p1/csv_reader.py");
    WriteFile("p1/sub/__init__.py");
    WriteFile("p1/sub/mod.py");
    WriteFile("p1/nopkg/mod.py");  // no __init__.py: not a package
    WriteFile("p1/my-file.py");    // not an identifier
    WriteFile("p1/notes.txt");     // not a .py file
    WriteFile("p1/x.py");
    WriteFile("p1/dual.py");
    WriteFile("p1/__init__.py");
    WriteFile("p2/x.py");  // shadowed by p1/x.py
    WriteFile("p2/only2.py");
    WriteFile("p2/dual/__init__.py");  // shadowed by p1/dual.py
    WriteFile("p2/sub/__init__.py");   // shadowed by p1/sub
    WriteFile("p2/sub/extra.py");
    table_ = MustBuild({Config("plugins", {Path("p1"), Path("p2")})});
    ASSERT_NE(table_, nullptr);
  }

  std::unique_ptr<MountTable> table_;
};

// ---------------------------------------------------------------------------
// The miss path and name validation

TEST_F(PluginsTest, MayServeOnlyNamesUnderAMountRoot) {
  EXPECT_TRUE(table_->MayServe("plugins"));
  EXPECT_TRUE(table_->MayServe("plugins.csv_reader"));
  EXPECT_TRUE(table_->MayServe("plugins.anything.at.all"));
  EXPECT_FALSE(table_->MayServe("os"));
  EXPECT_FALSE(table_->MayServe("os.path"));
  EXPECT_FALSE(table_->MayServe("pluginsx"));
  EXPECT_FALSE(table_->MayServe("plugin"));
  EXPECT_FALSE(table_->MayServe("plugins_x.y"));
  EXPECT_FALSE(table_->MayServe(""));
}

TEST_F(PluginsTest, UnrelatedNamesMiss) {
  for (const char* name :
       {"os", "os.path", "pluginsx", "pluginsx.csv_reader", "numpy.plugins"}) {
    Resolution r = table_->Resolve(name);
    EXPECT_EQ(r.kind, Kind::kMiss) << name << ": " << Describe(r);
    EXPECT_EQ(r.mount, nullptr) << name;
  }
}

TEST_F(PluginsTest, InvalidNamesUnderAMountAreRefused) {
  for (const std::string& name :
       {std::string("plugins..x"), std::string("plugins.a-b"),
        std::string("plugins."), std::string("plugins.1x"),
        std::string("plugins./etc"), std::string("plugins.a\\b"),
        std::string("plugins.x\0y", 11), std::string("plugins.\xc0\xae"),
        std::string("plugins.") + std::string(kMaxModuleNameLength, 'a')}) {
    Resolution r = table_->Resolve(name);
    EXPECT_EQ(r.kind, Kind::kInvalidName) << Describe(r);
    EXPECT_FALSE(r.detail.empty());
    EXPECT_TRUE(r.file.empty());
  }
}

// ---------------------------------------------------------------------------
// Resolution over a tree

TEST_F(PluginsTest, ModuleResolvesToItsFile) {
  Resolution r = table_->Resolve("plugins.csv_reader");
  ASSERT_EQ(r.kind, Kind::kModule) << Describe(r);
  EXPECT_EQ(r.file, Path("p1/csv_reader.py"));
  EXPECT_EQ(r.mount, table_->FindMount("plugins"));
  EXPECT_FALSE(r.file_is_symlink);
}

TEST_F(PluginsTest, ModuleOnlyInSecondDirectory) {
  Resolution r = table_->Resolve("plugins.only2");
  ASSERT_EQ(r.kind, Kind::kModule) << Describe(r);
  EXPECT_EQ(r.file, Path("p2/only2.py"));
}

TEST_F(PluginsTest, SubpackageResolvesToInit) {
  Resolution r = table_->Resolve("plugins.sub");
  ASSERT_EQ(r.kind, Kind::kPackage) << Describe(r);
  EXPECT_EQ(r.file, Path("p1/sub/__init__.py"));
  EXPECT_EQ(r.directory, Path("p1/sub"));
  EXPECT_EQ(r.mount, table_->FindMount("plugins"));
}

TEST_F(PluginsTest, ModuleInSubpackage) {
  Resolution r = table_->Resolve("plugins.sub.mod");
  ASSERT_EQ(r.kind, Kind::kModule) << Describe(r);
  EXPECT_EQ(r.file, Path("p1/sub/mod.py"));
}

TEST_F(PluginsTest, SubpackagesAreNotMergedAcrossDirectories) {
  // p1/sub serves "plugins.sub"; p2/sub/extra.py is not mixed in.
  Resolution r = table_->Resolve("plugins.sub.extra");
  EXPECT_EQ(r.kind, Kind::kNotFound) << Describe(r);
}

TEST_F(PluginsTest, DirectoryWithoutInitIsNotAPackage) {
  Resolution r = table_->Resolve("plugins.nopkg");
  EXPECT_EQ(r.kind, Kind::kNotFound) << Describe(r);
  EXPECT_FALSE(r.detail.empty());
  r = table_->Resolve("plugins.nopkg.mod");
  EXPECT_EQ(r.kind, Kind::kNotFound) << Describe(r);
}

TEST_F(PluginsTest, MissingNamesAreNotFound) {
  for (const char* name :
       {"plugins.missing", "plugins.notes", "plugins.sub.missing",
        "plugins.csv_reader.x", "plugins.missing.x", "plugins.Csv_reader"}) {
    Resolution r = table_->Resolve(name);
    EXPECT_EQ(r.kind, Kind::kNotFound) << name << ": " << Describe(r);
    EXPECT_TRUE(r.file.empty()) << name;
  }
}

TEST_F(PluginsTest, InitIsNeverAModule) {
  EXPECT_EQ(table_->Resolve("plugins.__init__").kind, Kind::kNotFound);
  EXPECT_EQ(table_->Resolve("plugins.sub.__init__").kind, Kind::kNotFound);
}

TEST_F(PluginsTest, FirstDirectoryWins) {
  Resolution r = table_->Resolve("plugins.x");
  ASSERT_EQ(r.kind, Kind::kModule) << Describe(r);
  EXPECT_EQ(r.file, Path("p1/x.py"));

  // Also across kinds: p1/dual.py beats the package p2/dual.
  r = table_->Resolve("plugins.dual");
  ASSERT_EQ(r.kind, Kind::kModule) << Describe(r);
  EXPECT_EQ(r.file, Path("p1/dual.py"));
}

TEST_F(PluginsTest, MountPackageIsAPrefix) {
  Resolution r = table_->Resolve("plugins");
  EXPECT_EQ(r.kind, Kind::kPrefix) << Describe(r);
  EXPECT_EQ(r.mount, table_->FindMount("plugins"));
  ASSERT_NE(r.mount, nullptr);
  EXPECT_EQ(r.mount->package(), "plugins");
  EXPECT_EQ(r.mount->directories(),
            (std::vector<std::string>{Path("p1"), Path("p2")}));
}

TEST_F(PluginsTest, ListChildrenOfTheMountPackage) {
  std::vector<ChildModule> children = table_->ListChildren("plugins");
  ASSERT_EQ(Names(children), (std::vector<std::string>{"csv_reader", "dual",
                                                       "only2", "sub", "x"}));
  const ChildModule& csv = children[0];
  EXPECT_FALSE(csv.is_package);
  EXPECT_EQ(csv.file, Path("p1/csv_reader.py"));
  EXPECT_TRUE(csv.shadowed.empty());

  const ChildModule& dual = children[1];
  EXPECT_FALSE(dual.is_package);
  EXPECT_EQ(dual.file, Path("p1/dual.py"));
  EXPECT_EQ(dual.shadowed,
            std::vector<std::string>{Path("p2/dual/__init__.py")});

  EXPECT_EQ(children[2].file, Path("p2/only2.py"));

  const ChildModule& sub = children[3];
  EXPECT_TRUE(sub.is_package);
  EXPECT_EQ(sub.file, Path("p1/sub/__init__.py"));
  EXPECT_EQ(sub.shadowed, std::vector<std::string>{Path("p2/sub/__init__.py")});

  const ChildModule& x = children[4];
  EXPECT_EQ(x.file, Path("p1/x.py"));
  EXPECT_EQ(x.shadowed, std::vector<std::string>{Path("p2/x.py")});
}

TEST_F(PluginsTest, ListChildrenOfASubpackage) {
  std::vector<ChildModule> children = table_->ListChildren("plugins.sub");
  ASSERT_EQ(Names(children), std::vector<std::string>{"mod"});
  EXPECT_EQ(children[0].file, Path("p1/sub/mod.py"));
}

TEST_F(PluginsTest, ListChildrenOfNonPackagesIsEmpty) {
  EXPECT_TRUE(table_->ListChildren("plugins.csv_reader").empty());
  EXPECT_TRUE(table_->ListChildren("plugins.nopkg").empty());
  EXPECT_TRUE(table_->ListChildren("plugins.missing").empty());
  EXPECT_TRUE(table_->ListChildren("os").empty());
  EXPECT_TRUE(table_->ListChildren("plugins..x").empty());
}

TEST_F(PluginsTest, WarmCacheResolvesWithoutReading) {
  SetMtime("p1", kPastMtime);
  SetMtime("p1/sub", kPastMtime);
  ASSERT_EQ(table_->Resolve("plugins.sub.mod").kind, Kind::kModule);
  uint64_t reads = cache_->reads();
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(table_->Resolve("plugins.sub.mod").kind, Kind::kModule);
  EXPECT_EQ(cache_->reads(), reads);
  // A miss never touches the cache at all.
  EXPECT_EQ(table_->Resolve("os.path").kind, Kind::kMiss);
  EXPECT_EQ(cache_->reads(), reads);
}

TEST_F(PluginsTest, MountsAreListedInOrder) {
  ASSERT_EQ(table_->mounts().size(), 1u);
  EXPECT_EQ(table_->mounts()[0]->package(), "plugins");
  EXPECT_EQ(table_->FindMount("plugins"), table_->mounts()[0]);
  EXPECT_EQ(table_->FindMount("plugins.sub"), nullptr);
  EXPECT_EQ(table_->FindMount("plugin"), nullptr);
  EXPECT_EQ(&table_->cache(), cache_.get());
}

// ---------------------------------------------------------------------------
// Changes on disk

TEST_F(MountTableTest, DeletedFileIsNotFoundOnceTheMtimeChanges) {
  WriteFile("m/gone.py");
  SetMtime("m", kPastMtime);
  auto table = MustBuild({Config("plugins", {Path("m")})});
  ASSERT_NE(table, nullptr);
  ASSERT_EQ(table->Resolve("plugins.gone").kind, Kind::kModule);

  Remove("m/gone.py");
  SetMtime("m", kPastMtime + 10);
  Resolution r = table->Resolve("plugins.gone");
  EXPECT_EQ(r.kind, Kind::kNotFound) << Describe(r);

  WriteFile("m/added.py");
  SetMtime("m", kPastMtime + 20);
  r = table->Resolve("plugins.added");
  EXPECT_EQ(r.kind, Kind::kModule) << Describe(r);
}

TEST_F(MountTableTest, PackageDirectoryBeatsModuleInSameDirectory) {
  WriteFile("m/x.py");
  WriteFile("m/x/__init__.py");
  auto table = MustBuild({Config("plugins", {Path("m")})});
  ASSERT_NE(table, nullptr);
  Resolution r = table->Resolve("plugins.x");
  ASSERT_EQ(r.kind, Kind::kPackage) << Describe(r);
  EXPECT_EQ(r.file, Path("m/x/__init__.py"));
  EXPECT_EQ(r.directory, Path("m/x"));

  std::vector<ChildModule> children = table->ListChildren("plugins");
  ASSERT_EQ(Names(children), std::vector<std::string>{"x"});
  EXPECT_TRUE(children[0].is_package);
  EXPECT_EQ(children[0].file, Path("m/x/__init__.py"));
}

TEST_F(MountTableTest, ListChildrenSkipsNonIdentifiersAndUnmatchedFiles) {
  for (const char* name :
       {"m/b.py", "m/a.py", "m/my-file.py", "m/1st.py", "m/c.pyc", "m/d.txt",
        "m/.hidden.py", "m/__init__.py", "m/pkg/__init__.py",
        "m/my-pkg/__init__.py", "m/plain/x.py"})
    WriteFile(name);
  auto table = MustBuild({Config("plugins", {Path("m")})});
  ASSERT_NE(table, nullptr);
  std::vector<ChildModule> children = table->ListChildren("plugins");
  EXPECT_EQ(Names(children), (std::vector<std::string>{"a", "b", "pkg"}));
  for (const ChildModule& child : children)
    EXPECT_EQ(child.is_package, child.name == "pkg") << child.name;
}

// ---------------------------------------------------------------------------
// Globs

TEST_F(MountTableTest, GlobSelectsServedFiles) {
  WriteFile("m/datetime_bridge.py");
  WriteFile("m/helper.py");
  WriteFile("m/__init__.py");
  WriteFile("m/sub/__init__.py");
  WriteFile("m/sub/inner_bridge.py");
  WriteFile("m/sub/other.py");
  auto table = MustBuild({Config("plugins", {Path("m")}, "*_bridge.py")});
  ASSERT_NE(table, nullptr);
  const Mount* mount = table->FindMount("plugins");
  ASSERT_NE(mount, nullptr);
  EXPECT_EQ(mount->glob().text(), "*_bridge.py");
  EXPECT_TRUE(mount->Serves("datetime_bridge.py"));
  EXPECT_FALSE(mount->Serves("helper.py"));
  EXPECT_FALSE(mount->Serves("__init__.py"));

  Resolution r = table->Resolve("plugins.datetime_bridge");
  ASSERT_EQ(r.kind, Kind::kModule) << Describe(r);
  EXPECT_EQ(r.file, Path("m/datetime_bridge.py"));
  r = table->Resolve("plugins.helper");
  EXPECT_EQ(r.kind, Kind::kNotFound) << Describe(r);
  EXPECT_TRUE(Contains(r.detail, "*_bridge.py")) << r.detail;
  EXPECT_EQ(table->Resolve("plugins.__init__").kind, Kind::kNotFound);

  // Subpackages follow the same glob.
  EXPECT_EQ(table->Resolve("plugins.sub").kind, Kind::kPackage);
  EXPECT_EQ(table->Resolve("plugins.sub.inner_bridge").kind, Kind::kModule);
  EXPECT_EQ(table->Resolve("plugins.sub.other").kind, Kind::kNotFound);
  EXPECT_EQ(table->Resolve("plugins.sub.__init__").kind, Kind::kNotFound);

  EXPECT_EQ(Names(table->ListChildren("plugins")),
            (std::vector<std::string>{"datetime_bridge", "sub"}));
  EXPECT_EQ(Names(table->ListChildren("plugins.sub")),
            std::vector<std::string>{"inner_bridge"});
}

TEST_F(MountTableTest, ServesOnlyPySources) {
  MakeDir("m");
  auto table = MustBuild({Config("plugins", {Path("m")}, "*")});
  ASSERT_NE(table, nullptr);
  const Mount* mount = table->FindMount("plugins");
  ASSERT_NE(mount, nullptr);
  EXPECT_TRUE(mount->Serves("x.py"));
  EXPECT_FALSE(mount->Serves(".py"));
  EXPECT_FALSE(mount->Serves("x.pyc"));
  EXPECT_FALSE(mount->Serves("x.so"));
  EXPECT_FALSE(mount->Serves("x"));
  EXPECT_FALSE(mount->Serves("__init__.py"));
}

// ---------------------------------------------------------------------------
// Prefixes: mount packages and their ancestors

TEST_F(MountTableTest, AncestorOfAMountIsAPrefixWithoutMount) {
  WriteFile("stdlib/json_bridge.py");
  auto table = MustBuild({Config("mlpy.stdlib", {Path("stdlib")})});
  ASSERT_NE(table, nullptr);

  EXPECT_TRUE(table->MayServe("mlpy"));
  EXPECT_TRUE(table->MayServe("mlpy.other"));
  EXPECT_FALSE(table->MayServe("stdlib"));

  Resolution r = table->Resolve("mlpy");
  EXPECT_EQ(r.kind, Kind::kPrefix) << Describe(r);
  EXPECT_EQ(r.mount, nullptr);

  r = table->Resolve("mlpy.stdlib");
  EXPECT_EQ(r.kind, Kind::kPrefix) << Describe(r);
  EXPECT_EQ(r.mount, table->FindMount("mlpy.stdlib"));
  ASSERT_NE(r.mount, nullptr);

  r = table->Resolve("mlpy.other");
  EXPECT_EQ(r.kind, Kind::kMiss) << Describe(r);
  r = table->Resolve("mlpy.other.deeper");
  EXPECT_EQ(r.kind, Kind::kMiss) << Describe(r);

  r = table->Resolve("mlpy.stdlib.json_bridge");
  ASSERT_EQ(r.kind, Kind::kModule) << Describe(r);
  EXPECT_EQ(r.file, Path("stdlib/json_bridge.py"));

  EXPECT_EQ(Names(table->ListChildren("mlpy.stdlib")),
            std::vector<std::string>{"json_bridge"});
  EXPECT_TRUE(table->ListChildren("mlpy").empty());
}

TEST_F(MountTableTest, NestedMountsWithMissingIntermediatePackage) {
  WriteFile("a/top.py");  // no a/b
  WriteFile("c/leaf.py");
  auto table =
      MustBuild({Config("a", {Path("a")}), Config("a.b.c", {Path("c")})});
  ASSERT_NE(table, nullptr);

  Resolution r = table->Resolve("a");
  EXPECT_EQ(r.kind, Kind::kPrefix) << Describe(r);
  EXPECT_EQ(r.mount, table->FindMount("a"));

  r = table->Resolve("a.b");
  EXPECT_EQ(r.kind, Kind::kPrefix) << Describe(r);
  EXPECT_EQ(r.mount, nullptr);

  r = table->Resolve("a.b.c");
  EXPECT_EQ(r.kind, Kind::kPrefix) << Describe(r);
  EXPECT_EQ(r.mount, table->FindMount("a.b.c"));

  r = table->Resolve("a.b.c.leaf");
  ASSERT_EQ(r.kind, Kind::kModule) << Describe(r);
  EXPECT_EQ(r.file, Path("c/leaf.py"));
  EXPECT_EQ(r.mount, table->FindMount("a.b.c"));

  r = table->Resolve("a.top");
  ASSERT_EQ(r.kind, Kind::kModule) << Describe(r);
  EXPECT_EQ(r.mount, table->FindMount("a"));

  EXPECT_EQ(table->Resolve("a.b.x").kind, Kind::kNotFound);
  EXPECT_EQ(table->Resolve("a.b.c.top").kind, Kind::kNotFound);

  ASSERT_EQ(table->mounts().size(), 2u);
  EXPECT_EQ(table->mounts()[0]->package(), "a");
  EXPECT_EQ(table->mounts()[1]->package(), "a.b.c");
}

TEST_F(MountTableTest, EnclosingMountsRealSubpackageWinsOverInnerPrefix) {
  WriteFile("a/b/__init__.py");
  WriteFile("a/b/c/__init__.py");
  WriteFile("c/leaf.py");
  auto table =
      MustBuild({Config("a", {Path("a")}), Config("a.b.c", {Path("c")})});
  ASSERT_NE(table, nullptr);

  Resolution r = table->Resolve("a.b");
  ASSERT_EQ(r.kind, Kind::kPackage) << Describe(r);
  EXPECT_EQ(r.file, Path("a/b/__init__.py"));

  r = table->Resolve("a.b.c");
  ASSERT_EQ(r.kind, Kind::kPackage) << Describe(r);
  EXPECT_EQ(r.file, Path("a/b/c/__init__.py"));

  // Names below the inner mount are still the inner mount's.
  r = table->Resolve("a.b.c.leaf");
  ASSERT_EQ(r.kind, Kind::kModule) << Describe(r);
  EXPECT_EQ(r.file, Path("c/leaf.py"));
}

TEST_F(MountTableTest, InnerMountListsTheChildrenItResolves) {
  // Found by fuzz/fuzz_mount_resolve: a.b.c listed a/b/c's modules, which
  // resolve to nothing, and not the inner mount's, which do.
  WriteFile("a/b/__init__.py");
  WriteFile("a/b/c/__init__.py");
  WriteFile("a/b/c/outer_only.py");
  WriteFile("c/leaf.py");
  auto table =
      MustBuild({Config("a", {Path("a")}), Config("a.b.c", {Path("c")})});
  ASSERT_NE(table, nullptr);

  EXPECT_EQ(table->Resolve("a.b.c.outer_only").kind, Kind::kNotFound);
  std::vector<ChildModule> children = table->ListChildren("a.b.c");
  ASSERT_EQ(Names(children), std::vector<std::string>{"leaf"});
  EXPECT_EQ(children[0].file, table->Resolve("a.b.c.leaf").file);
  EXPECT_EQ(Names(table->ListChildren("a.b")), std::vector<std::string>{"c"});
}

// ---------------------------------------------------------------------------
// Symlinks

class SymlinkTest : public MountTableTest {
 protected:
  void SetUp() override {
    MountTableTest::SetUp();
    WriteFile("outside/ext.py");
    WriteFile("outside/extpkg/__init__.py");
    WriteFile("outside/extpkg/m.py");
    WriteFile("m_evil/e.py");  // a sibling whose name extends the mount's
    WriteFile("m/real.py");
    WriteFile("m/inner/__init__.py");
    WriteFile("m/inner/x.py");
    WriteFile("m/evil/placeholder.txt");
    Symlink(Path("outside/ext.py"), "m/ext.py");  // absolute, outside
    Symlink("../outside/ext.py", "m/sneaky.py");  // relative, outside
    Symlink(Path("m_evil/e.py"),
            "m/prefix_trick.py");                 // "m" prefix of "m_evil"
    Symlink(Path("outside/extpkg"), "m/extpkg");  // directory, outside
    Symlink(Path("outside/extpkg/__init__.py"), "m/evil/__init__.py");
    Symlink("real.py", "m/alias.py");        // inside
    Symlink("inner", "m/linkpkg");           // inside
    Symlink("../real.py", "m/inner/up.py");  // inside, other level
  }

  std::unique_ptr<MountTable> Build(bool allow_external) {
    MountConfig config = Config("plugins", {Path("m")});
    config.allow_external_symlinks = allow_external;
    return MustBuild({config});
  }
};

TEST_F(SymlinkTest, LinksLeavingTheMountAreRefused) {
  auto table = Build(false);
  ASSERT_NE(table, nullptr);
  for (const char* name :
       {"plugins.ext", "plugins.sneaky", "plugins.prefix_trick",
        "plugins.extpkg", "plugins.extpkg.m", "plugins.evil"}) {
    Resolution r = table->Resolve(name);
    EXPECT_EQ(r.kind, Kind::kNotFound) << name << ": " << Describe(r);
    EXPECT_TRUE(Contains(r.detail, "symlink")) << name << ": " << r.detail;
    EXPECT_TRUE(r.file.empty()) << name;
  }
}

TEST_F(SymlinkTest, LinksInsideTheMountAreFollowed) {
  auto table = Build(false);
  ASSERT_NE(table, nullptr);
  Resolution r = table->Resolve("plugins.alias");
  ASSERT_EQ(r.kind, Kind::kModule) << Describe(r);
  EXPECT_EQ(r.file, Path("m/alias.py"));
  EXPECT_TRUE(r.file_is_symlink);

  r = table->Resolve("plugins.linkpkg");
  ASSERT_EQ(r.kind, Kind::kPackage) << Describe(r);
  EXPECT_EQ(r.directory, Path("m/linkpkg"));
  EXPECT_EQ(r.file, Path("m/linkpkg/__init__.py"));

  r = table->Resolve("plugins.linkpkg.x");
  ASSERT_EQ(r.kind, Kind::kModule) << Describe(r);
  EXPECT_EQ(r.file, Path("m/linkpkg/x.py"));

  r = table->Resolve("plugins.inner.up");
  ASSERT_EQ(r.kind, Kind::kModule) << Describe(r);
  EXPECT_TRUE(r.file_is_symlink);

  r = table->Resolve("plugins.real");
  ASSERT_EQ(r.kind, Kind::kModule) << Describe(r);
  EXPECT_FALSE(r.file_is_symlink);
}

TEST_F(SymlinkTest, ListChildrenOmitsRefusedLinks) {
  auto table = Build(false);
  ASSERT_NE(table, nullptr);
  EXPECT_EQ(Names(table->ListChildren("plugins")),
            (std::vector<std::string>{"alias", "inner", "linkpkg", "real"}));
}

TEST_F(SymlinkTest, ExternalLinksFollowedWhenAllowed) {
  auto table = Build(true);
  ASSERT_NE(table, nullptr);
  EXPECT_TRUE(table->FindMount("plugins")->allow_external_symlinks());

  Resolution r = table->Resolve("plugins.ext");
  ASSERT_EQ(r.kind, Kind::kModule) << Describe(r);
  EXPECT_EQ(r.file, Path("m/ext.py"));
  EXPECT_TRUE(r.file_is_symlink);

  r = table->Resolve("plugins.extpkg");
  ASSERT_EQ(r.kind, Kind::kPackage) << Describe(r);
  EXPECT_EQ(r.directory, Path("m/extpkg"));

  EXPECT_EQ(table->Resolve("plugins.extpkg.m").kind, Kind::kModule);
  EXPECT_EQ(table->Resolve("plugins.sneaky").kind, Kind::kModule);
  EXPECT_EQ(table->Resolve("plugins.evil").kind, Kind::kPackage);

  EXPECT_EQ(
      Names(table->ListChildren("plugins")),
      (std::vector<std::string>{"alias", "evil", "ext", "extpkg", "inner",
                                "linkpkg", "prefix_trick", "real", "sneaky"}));
}

TEST_F(MountTableTest, LinkIntoAnotherDirectoryOfTheSameMountIsFollowed) {
  WriteFile("m2/target.py");
  WriteFile("m1/own.py");
  Symlink(Path("m2/target.py"), "m1/cross.py");
  auto table = MustBuild({Config("plugins", {Path("m1"), Path("m2")})});
  ASSERT_NE(table, nullptr);
  Resolution r = table->Resolve("plugins.cross");
  ASSERT_EQ(r.kind, Kind::kModule) << Describe(r);
  EXPECT_EQ(r.file, Path("m1/cross.py"));
}

TEST_F(MountTableTest, SymlinkedMountDirectoryWorks) {
  WriteFile("real_m/x.py");
  Symlink(Path("real_m"), "m");
  Symlink("x.py", "real_m/y.py");
  auto table = MustBuild({Config("plugins", {Path("m")})});
  ASSERT_NE(table, nullptr);
  Resolution r = table->Resolve("plugins.x");
  ASSERT_EQ(r.kind, Kind::kModule) << Describe(r);
  EXPECT_EQ(r.file, Path("m/x.py"));
  r = table->Resolve("plugins.y");
  ASSERT_EQ(r.kind, Kind::kModule) << Describe(r);
  EXPECT_TRUE(r.file_is_symlink);
}

// ---------------------------------------------------------------------------
// Build errors

TEST_F(MountTableTest, BuildRefusesRelativeDirectory) {
  absl::Status s = MustFail({Config("plugins", {"relative/dir"})});
  EXPECT_TRUE(Contains(s.message(), "relative/dir")) << s;
  s = MustFail({Config("plugins", {""})});
  EXPECT_TRUE(Contains(s.message(), "plugins")) << s;
}

TEST_F(MountTableTest, BuildRefusesMissingDirectory) {
  absl::Status s = MustFail({Config("plugins", {Path("nope")})});
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;  // FileNotFoundError
  EXPECT_TRUE(Contains(s.message(), Path("nope"))) << s;
}

TEST_F(MountTableTest, BuildRefusesAFileAsDirectory) {
  WriteFile("file.py");
  absl::Status s = MustFail({Config("plugins", {Path("file.py")})});
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition)
      << s;  // NotADirectoryError
  EXPECT_TRUE(Contains(s.message(), Path("file.py"))) << s;
}

TEST_F(MountTableTest, BuildRefusesAnUnreadableDirectory) {
  MakeDir("locked");
  ASSERT_EQ(chmod(root().c_str(), 0755), 0);
  ASSERT_EQ(chmod(Path("locked").c_str(), 0), 0);
  ExpectPermissionDeniedAsNobody(Path("locked"), "cannot be read", "");
  chmod(Path("locked").c_str(), 0755);
}

// A directory under a parent this process cannot enter: stat() says EACCES,
// and the message says so rather than "does not exist" (issue 16).
TEST_F(MountTableTest, BuildReportsAnUnreachableDirectoryAsPermissionDenied) {
  MakeDir("closed/plugins");
  ASSERT_EQ(chmod(root().c_str(), 0755), 0);
  ASSERT_EQ(chmod(Path("closed").c_str(), 0), 0);
  ExpectPermissionDeniedAsNobody(Path("closed/plugins"), "cannot be reached",
                                 "does not exist");
  chmod(Path("closed").c_str(), 0755);
}

TEST_F(MountTableTest, BuildRefusesDuplicatePackage) {
  MakeDir("a");
  MakeDir("b");
  absl::Status s = MustFail(
      {Config("plugins", {Path("a")}), Config("plugins", {Path("b")})});
  EXPECT_TRUE(Contains(s.message(), "plugins")) << s;
}

TEST_F(MountTableTest, BuildRefusesInvalidPackageName) {
  MakeDir("a");
  for (const char* package : {"bad-name", "a..b", "", "plugins.1x", "../x"}) {
    absl::Status s = MustFail({Config(package, {Path("a")})});
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    EXPECT_TRUE(Contains(s.message(), std::string("'") + package + "'")) << s;
  }
}

TEST_F(MountTableTest, BuildRefusesBadGlob) {
  MakeDir("a");
  for (const char* pattern : {"sub/*.py", "..", "*\\x.py"}) {
    absl::Status s = MustFail({Config("plugins", {Path("a")}, pattern)});
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    EXPECT_TRUE(Contains(s.message(), "plugins")) << s;
  }
  absl::Status s = MustFail({Config("plugins", {Path("a")}, "sub/*.py")});
  EXPECT_TRUE(Contains(s.message(), "sub/*.py")) << s;
  s = MustFail({Config("plugins", {Path("a")}, "")});
  EXPECT_TRUE(Contains(s.message(), "plugins")) << s;
}

TEST_F(MountTableTest, BuildRefusesMountWithoutDirectories) {
  absl::Status s = MustFail({Config("plugins", {})});
  EXPECT_TRUE(Contains(s.message(), "plugins")) << s;
}

TEST_F(MountTableTest, BuildAcceptsEmptyConfigAndDropsRepeatedDirectory) {
  auto empty = MustBuild({});
  ASSERT_NE(empty, nullptr);
  EXPECT_TRUE(empty->mounts().empty());
  EXPECT_FALSE(empty->MayServe("plugins"));
  EXPECT_EQ(empty->Resolve("plugins").kind, Kind::kMiss);

  WriteFile("a/x.py");
  auto table = MustBuild({Config("plugins", {Path("a"), Path("a")})});
  ASSERT_NE(table, nullptr);
  EXPECT_EQ(table->FindMount("plugins")->directories(),
            std::vector<std::string>{Path("a")});
  std::vector<ChildModule> children = table->ListChildren("plugins");
  ASSERT_EQ(Names(children), std::vector<std::string>{"x"});
  EXPECT_TRUE(children[0].shadowed.empty());
}

TEST_F(MountTableTest, DirectoryAliasedThroughSymlinkIsNotItsOwnShadow) {
  WriteFile("a/x.py");
  Symlink(Path("a"), "alias");
  auto table = MustBuild({Config("plugins", {Path("a"), Path("alias")})});
  ASSERT_NE(table, nullptr);
  EXPECT_EQ(table->FindMount("plugins")->directories(),
            std::vector<std::string>{Path("a")});
  std::vector<ChildModule> children = table->ListChildren("plugins");
  ASSERT_EQ(Names(children), std::vector<std::string>{"x"});
  EXPECT_TRUE(children[0].shadowed.empty());
}

TEST_F(MountTableTest, BuildWithoutCacheMakesItsOwn) {
  WriteFile("a/x.py");
  absl::StatusOr<std::unique_ptr<MountTable>> table =
      MountTable::Build({Config("plugins", {Path("a")})}, nullptr);
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ((*table)->Resolve("plugins.x").kind, Kind::kModule);
}

// ---------------------------------------------------------------------------
// Helpers

TEST_F(MountTableTest, DirectoryHasModule) {
  WriteFile("d/plain.py");
  WriteFile("d/ext.cpython-311-x86_64-linux-gnu.so");
  WriteFile("d/pkg/__init__.py");
  WriteFile("d/nopkg/x.py");
  WriteFile("d/cpkg/__init__.cpython-311-x86_64-linux-gnu.so");
  const std::vector<std::string> suffixes = {".cpython-311-x86_64-linux-gnu.so",
                                             ".abi3.so", ".so", ".py", ".pyc"};
  DirCache& cache = *cache_;
  std::string d = Path("d");
  EXPECT_TRUE(DirectoryHasModule(cache, d, "plain", suffixes));
  EXPECT_TRUE(DirectoryHasModule(cache, d, "ext", suffixes));
  EXPECT_TRUE(DirectoryHasModule(cache, d, "pkg", suffixes));
  EXPECT_TRUE(DirectoryHasModule(cache, d, "cpkg", suffixes));
  EXPECT_FALSE(DirectoryHasModule(cache, d, "nopkg", suffixes));
  EXPECT_FALSE(DirectoryHasModule(cache, d, "missing", suffixes));
  EXPECT_FALSE(DirectoryHasModule(cache, d, "plain", {".so"}));
  EXPECT_FALSE(DirectoryHasModule(cache, Path("nodir"), "plain", suffixes));
}

TEST_F(MountTableTest, RealPathResolvesLinks) {
  MakeDir("real");
  Symlink(Path("real"), "link");
  EXPECT_EQ(RealPath(Path("link")), RealPath(Path("real")));
  EXPECT_FALSE(RealPath(Path("real")).empty());
  EXPECT_EQ(RealPath(Path("missing")), "");
}

}  // namespace
}  // namespace bridgeimport
