// Tests for finders/module_name.h: identifier and dotted-name validation, and
// the allocation-free name splitting helpers.
#include "finders/module_name.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"

namespace bridgeimport {
namespace {

// Byte strings quoted and escaped for failure messages ("a\\0b").
std::string Escaped(absl::string_view s) {
  return ::testing::PrintToString(std::string(s));
}

void ExpectRefused(absl::string_view name) {
  absl::Status s = ValidateModuleName(name);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument)
      << "name " << Escaped(name) << " should be refused; got " << s;
  EXPECT_FALSE(s.message().empty())
      << "refusal of " << Escaped(name) << " should explain itself";
}

void ExpectAccepted(absl::string_view name) {
  absl::Status s = ValidateModuleName(name);
  EXPECT_TRUE(s.ok()) << "name " << Escaped(name) << " should be accepted; got "
                      << s;
}

// ---------------------------------------------------------------------------
// IsIdentifier

TEST(IsIdentifierTest, AcceptsAsciiIdentifiers) {
  for (absl::string_view part :
       {"a", "_", "_x", "x_2", "Abc", "__init__", "csv_reader", "A1_b2"}) {
    EXPECT_TRUE(IsIdentifier(part)) << Escaped(part);
  }
}

TEST(IsIdentifierTest, RefusesNonIdentifiers) {
  for (absl::string_view part :
       {"", "1", "1a", "a-b", "a b", "a.b", ".", "a/b", "a\\b", "$", "a$"}) {
    EXPECT_FALSE(IsIdentifier(part)) << Escaped(part);
  }
  EXPECT_FALSE(IsIdentifier(absl::string_view("a\0b", 3)));
  EXPECT_FALSE(IsIdentifier(absl::string_view("\0", 1)));
}

TEST(IsIdentifierTest, AcceptsValidUtf8) {
  EXPECT_TRUE(IsIdentifier("caf\xc3\xa9"));        // café: 2-byte sequence
  EXPECT_TRUE(IsIdentifier("\xc3\xa9t\xc3\xa9"));  // été: non-ASCII start
  EXPECT_TRUE(IsIdentifier("x\xe0\xa0\x80"));      // U+0800, smallest 3-byte
  EXPECT_TRUE(IsIdentifier("x\xed\x9f\xbf"));      // U+D7FF, below surrogates
  EXPECT_TRUE(IsIdentifier("x\xee\x80\x80"));      // U+E000, above surrogates
  EXPECT_TRUE(IsIdentifier("x\xf0\x90\x80\x80"));  // U+10000, smallest 4-byte
  EXPECT_TRUE(IsIdentifier("x\xf4\x8f\xbf\xbf"));  // U+10FFFF, the maximum
}

TEST(IsIdentifierTest, RefusesInvalidUtf8) {
  const std::vector<std::string> bad = {
      "\xff",               // never valid in UTF-8
      "a\xfe",              // never valid in UTF-8
      "\x80",               // lone continuation byte
      "caf\xc3",            // truncated 2-byte sequence
      "caf\xc3(",           // bad continuation byte
      "x\xe2\x82",          // truncated 3-byte sequence
      "x\xf0\x9f\x98",      // truncated 4-byte sequence
      "x\xf4\x90\x80\x80",  // U+110000, above the Unicode range
      "x\xf5\x80\x80\x80",  // lead byte above F4
  };
  for (const std::string& part : bad) {
    EXPECT_FALSE(IsIdentifier(part)) << Escaped(part);
  }
}

TEST(IsIdentifierTest, RefusesOverlongUtf8) {
  const std::vector<std::string> overlong = {
      "\xc0\xaf",           // '/' in 2 bytes
      "a\xc0\xae",          // '.' in 2 bytes
      "a\xc1\x81",          // 'A' in 2 bytes
      "a\xe0\x80\xaf",      // '/' in 3 bytes
      "a\xe0\x9f\xbf",      // U+07FF in 3 bytes
      "a\xf0\x80\x80\xaf",  // '/' in 4 bytes
      "a\xf0\x8f\xbf\xbf",  // U+FFFF in 4 bytes
  };
  for (const std::string& part : overlong) {
    EXPECT_FALSE(IsIdentifier(part)) << Escaped(part);
  }
}

TEST(IsIdentifierTest, RefusesSurrogates) {
  EXPECT_FALSE(IsIdentifier("a\xed\xa0\x80"));  // U+D800
  EXPECT_FALSE(IsIdentifier("a\xed\xbf\xbf"));  // U+DFFF
  // A CESU-8 style surrogate pair.
  EXPECT_FALSE(IsIdentifier("a\xed\xa0\xbd\xed\xb8\x80"));
}

TEST(IsAsciiTest, DetectsNonAsciiBytes) {
  EXPECT_TRUE(IsAscii(""));
  EXPECT_TRUE(IsAscii("plugins.csv_reader"));
  EXPECT_FALSE(IsAscii("caf\xc3\xa9"));
  EXPECT_FALSE(IsAscii("\x80"));
}

// ---------------------------------------------------------------------------
// ValidateModuleName

TEST(ValidateModuleNameTest, AcceptsDottedIdentifiers) {
  ExpectAccepted("a");
  ExpectAccepted("_x.y_2");
  ExpectAccepted("plugins.csv_reader");
  ExpectAccepted("a.b.c.d");
  ExpectAccepted("caf\xc3\xa9");
  ExpectAccepted("plugins.caf\xc3\xa9");
}

TEST(ValidateModuleNameTest, RefusesEmptyComponents) {
  ExpectRefused("");
  ExpectRefused(".");
  ExpectRefused("..");
  ExpectRefused("a..b");
  ExpectRefused(".a");
  ExpectRefused("a.");
  ExpectRefused("a.b.");
}

TEST(ValidateModuleNameTest, RefusesPathCharacters) {
  ExpectRefused("a/b");
  ExpectRefused("a\\b");
  ExpectRefused("../x");
  ExpectRefused("a./b");
  ExpectRefused("/a");
}

TEST(ValidateModuleNameTest, RefusesNonIdentifierComponents) {
  ExpectRefused("a.1b");
  ExpectRefused("1a");
  ExpectRefused("a-b");
  ExpectRefused("a.b-c");
  ExpectRefused("a b");
  ExpectRefused("a.b c");
}

TEST(ValidateModuleNameTest, RefusesEmbeddedNul) {
  ExpectRefused(std::string("a\0b", 3));
  ExpectRefused(std::string("a.\0", 3));
  ExpectRefused(std::string("a\0", 2));
}

TEST(ValidateModuleNameTest, RefusesInvalidUtf8) {
  ExpectRefused("caf\xc3");                     // truncated
  ExpectRefused("plugins.\xff");                // invalid byte
  ExpectRefused("a.\x80x");                     // lone continuation
  ExpectRefused("a.\xc0\xaf");                  // overlong '/'
  ExpectRefused("a.\xc0\xae");                  // overlong '.'
  ExpectRefused("a\xe0\x80\xae\xe0\x80\xaex");  // overlong ".."
  ExpectRefused("a.\xed\xa0\x80");              // surrogate U+D800
  ExpectRefused("a.\xf4\x90\x80\x80");          // above U+10FFFF
}

TEST(ValidateModuleNameTest, EnforcesMaximumLength) {
  ExpectAccepted(std::string(kMaxModuleNameLength, 'a'));
  ExpectRefused(std::string(kMaxModuleNameLength + 1, 'a'));

  // The limit is on the whole dotted name, not a component.
  std::string dotted(kMaxModuleNameLength, 'a');  // "a.a.a. ... .a.aa"
  for (size_t i = 1; i + 2 < dotted.size(); i += 2) dotted[i] = '.';
  ExpectAccepted(dotted);
  ExpectRefused(dotted + ".c");

  absl::Status s =
      ValidateModuleName(std::string(kMaxModuleNameLength + 1, 'a'));
  EXPECT_NE(s.message().find(std::to_string(kMaxModuleNameLength)),
            absl::string_view::npos)
      << "the refusal should name the limit: " << s;
}

// ---------------------------------------------------------------------------
// Splitting helpers

// True if `part` is a view into `whole` (the helpers must not allocate).
bool IsViewInto(absl::string_view part, absl::string_view whole) {
  return part.data() >= whole.data() &&
         part.data() + part.size() <= whole.data() + whole.size();
}

TEST(SplitTest, FirstComponent) {
  EXPECT_EQ(FirstComponent("a.b.c"), "a");
  EXPECT_EQ(FirstComponent("plugins.csv_reader"), "plugins");
  EXPECT_EQ(FirstComponent("a"), "a");
  EXPECT_EQ(FirstComponent(""), "");
  absl::string_view name = "mlpy.stdlib.x";
  EXPECT_TRUE(IsViewInto(FirstComponent(name), name));
}

TEST(SplitTest, ParentName) {
  EXPECT_EQ(ParentName("a.b.c"), "a.b");
  EXPECT_EQ(ParentName("a.b"), "a");
  EXPECT_EQ(ParentName("a"), "");
  EXPECT_TRUE(ParentName("a").empty());
  EXPECT_EQ(ParentName(""), "");
  absl::string_view name = "mlpy.stdlib.x";
  EXPECT_TRUE(IsViewInto(ParentName(name), name));
}

TEST(SplitTest, LastComponent) {
  EXPECT_EQ(LastComponent("a.b.c"), "c");
  EXPECT_EQ(LastComponent("plugins.csv_reader"), "csv_reader");
  EXPECT_EQ(LastComponent("a"), "a");
  EXPECT_EQ(LastComponent(""), "");
  absl::string_view name = "mlpy.stdlib.x";
  EXPECT_TRUE(IsViewInto(LastComponent(name), name));
}

TEST(SplitTest, ParentAndLastRebuildTheName) {
  for (absl::string_view name : {"a.b.c", "plugins.sub.mod", "x.y"}) {
    EXPECT_EQ(
        std::string(ParentName(name)) + "." + std::string(LastComponent(name)),
        name);
  }
}

TEST(IsWithinPackageTest, SelectsThePackageAndItsDescendantsOnly) {
  EXPECT_TRUE(IsWithinPackage("app", "app"));
  EXPECT_TRUE(IsWithinPackage("app.x", "app"));
  EXPECT_TRUE(IsWithinPackage("app.x.y", "app"));
  EXPECT_TRUE(IsWithinPackage("app.x.y", "app.x"));

  EXPECT_FALSE(IsWithinPackage("apple", "app"));
  EXPECT_FALSE(IsWithinPackage("app_x", "app"));
  EXPECT_FALSE(IsWithinPackage("ap", "app"));
  EXPECT_FALSE(IsWithinPackage("app.xy", "app.x"));
  EXPECT_FALSE(IsWithinPackage("app", "app.x"));
  EXPECT_FALSE(IsWithinPackage("other.app", "app"));
}

}  // namespace
}  // namespace bridgeimport
