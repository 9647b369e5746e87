// Tests for finders/glob_pattern.h: fnmatch.fnmatchcase semantics on one file
// name, code-point matching of UTF-8, and refusal of patterns that could reach
// outside a directory.
#include "finders/glob_pattern.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"

namespace bridgeimport {
namespace {

GlobPattern MustCompile(absl::string_view pattern) {
  absl::StatusOr<GlobPattern> glob = GlobPattern::Compile(pattern);
  if (!glob.ok()) {
    ADD_FAILURE() << "pattern '" << pattern << "': " << glob.status();
    return *GlobPattern::Compile("*");
  }
  return *std::move(glob);
}

// Checks `pattern` against names that must and must not match.
void ExpectMatches(absl::string_view pattern,
                   const std::vector<std::string>& yes,
                   const std::vector<std::string>& no) {
  GlobPattern glob = MustCompile(pattern);
  for (const std::string& name : yes)
    EXPECT_TRUE(glob.Matches(name)) << "'" << pattern << "' should match "
                                    << ::testing::PrintToString(name);
  for (const std::string& name : no)
    EXPECT_FALSE(glob.Matches(name)) << "'" << pattern << "' should not match "
                                     << ::testing::PrintToString(name);
}

// ---------------------------------------------------------------------------
// Matching

TEST(GlobMatchTest, StarDotPy) {
  ExpectMatches("*.py", {"x.py", "csv_reader.py", ".py", "a.b.py", "x.py.py"},
                {"x.pyc", "x.PY", "x_py", "py", "", "x.py "});
}

TEST(GlobMatchTest, SuffixPattern) {
  ExpectMatches("*_bridge.py",
                {"datetime_bridge.py", "_bridge.py", "a_bridge_bridge.py"},
                {"helper.py", "bridge.py", "datetime_bridge.pyc",
                 "datetime_bridge.py.bak", "x_Bridge.py"});
}

TEST(GlobMatchTest, LiteralIsExactAndCaseSensitive) {
  ExpectMatches("abc.py", {"abc.py"}, {"ABC.py", "abc.pyx", "xabc.py", ""});
}

TEST(GlobMatchTest, QuestionMarkIsExactlyOneCharacter) {
  ExpectMatches("?", {"a", "_", ".", "?", "*"}, {"", "ab"});
  ExpectMatches("a?c.py", {"abc.py", "a_c.py"}, {"ac.py", "abbc.py"});
}

TEST(GlobMatchTest, CharacterSet) {
  ExpectMatches("[abc]", {"a", "b", "c"}, {"d", "", "ab", "[", "]"});
  ExpectMatches("x[abc].py", {"xa.py", "xc.py"}, {"xd.py", "x.py"});
}

TEST(GlobMatchTest, NegatedCharacterSet) {
  ExpectMatches("[!abc]", {"d", "z", "!", "\xc3\xa9"},
                {"a", "b", "c", "", "dd"});
}

TEST(GlobMatchTest, Ranges) {
  ExpectMatches("[a-z]", {"a", "m", "z"}, {"A", "-", "0", "{"});
  ExpectMatches("[a-cx-z0-9]", {"a", "b", "y", "5"}, {"d", "w", "-"});
  ExpectMatches("[!a-z]", {"A", "0", "-"}, {"a", "q", "z"});
  // A '-' at either end of a set is a member, as in fnmatch.
  ExpectMatches("[a-]", {"a", "-"}, {"b"});
  ExpectMatches("[-a]", {"a", "-"}, {"b"});
  // A reversed range is empty: "[z-a]" matches nothing, "[!z-a]" anything.
  ExpectMatches("[z-a]", {}, {"a", "m", "z", "-"});
  ExpectMatches("[!z-a]", {"a", "m", "-"}, {""});
}

TEST(GlobMatchTest, ClosingBracketFirstInSetIsAMember) {
  ExpectMatches("[]]", {"]"}, {"[", "a"});
  ExpectMatches("[]a]", {"]", "a"}, {"b"});
  ExpectMatches("[!]]", {"a", "["}, {"]"});
}

TEST(GlobMatchTest, UnclosedBracketIsLiteral) {
  ExpectMatches("[", {"["}, {"a", ""});
  ExpectMatches("[abc", {"[abc"}, {"a", "b", "abc"});
  ExpectMatches("a[.py", {"a[.py"}, {"a.py", "ab.py"});
  ExpectMatches("[!", {"[!"}, {"a", "!"});
  ExpectMatches("[]", {"[]"}, {"]", "["});
  ExpectMatches("*[", {"x[", "["}, {"x"});
}

TEST(GlobMatchTest, DoubleStarIsStar) {
  const std::vector<std::string> names = {
      "x.py", ".py", "a.b.py", "x.pyc", "", "py", "datetime_bridge.py"};
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"**.py", "*.py"},
      {"**", "*"},
      {"a**b", "a*b"},
      {"***_bridge.py", "*_bridge.py"}};
  for (const auto& [doubled, single] : pairs) {
    GlobPattern a = MustCompile(doubled);
    GlobPattern b = MustCompile(single);
    for (const std::string& name : names)
      EXPECT_EQ(a.Matches(name), b.Matches(name))
          << "'" << doubled << "' and '" << single << "' on '" << name << "'";
  }
}

TEST(GlobMatchTest, StarMatchesEmptyAndAnything) {
  ExpectMatches("*", {"", "a", "x.py", "caf\xc3\xa9"}, {});
  ExpectMatches("a*", {"a", "abc"}, {"", "ba"});
  ExpectMatches("*a", {"a", "bca"}, {"", "ab"});
  ExpectMatches("a*b*c", {"abc", "aXbYc", "abbbc", "acbc"}, {"acb", "ab"});
}

TEST(GlobMatchTest, QuestionMarkMatchesOneCodePoint) {
  // "é" is two bytes in UTF-8 but one character.
  ExpectMatches("caf?.py", {"caf\xc3\xa9.py", "cafe.py"},
                {"caf\xc3\xa9\xc3\xa9.py", "caf.py"});
  ExpectMatches("caf??.py", {"cafe\xc3\xa9.py"}, {"caf\xc3\xa9.py"});
  ExpectMatches("?.py", {"\xe2\x82\xac.py", "\xf0\x9f\x98\x80.py"}, {});
}

TEST(GlobMatchTest, NonAsciiLiteralsAndSets) {
  ExpectMatches("caf\xc3\xa9.py", {"caf\xc3\xa9.py"}, {"cafe.py", "caf.py"});
  // A set of "é" and "e": one code point each.
  ExpectMatches(
      "[\xc3\xa9"
      "e].py",
      {"\xc3\xa9.py", "e.py"}, {"\xc3.py", "\xa9.py", "a.py"});
}

TEST(GlobMatchTest, InvalidBytesInNamesAreOneCharacterEach) {
  // Python sees undecodable file name bytes as one (surrogate-escaped)
  // character each, so '?' matches one invalid byte.
  ExpectMatches("?.py", {"\xff.py", "\x80.py"}, {"\xff\xff.py"});
  ExpectMatches("x?y", {"x\xc3y"}, {"xy"});  // truncated sequence
}

TEST(GlobMatchTest, InvalidSequencesAreNotDecodedAsCharacters) {
  // Overlong encodings are invalid UTF-8 ("\xc1\x9f" is an overlong '_',
  // "\xc0\xae" an overlong '.'). Per the header invalid bytes decode to
  // U+FFFD and so can match '*' or '?', never a literal; fnmatchcase on the
  // surrogate-escaped name (one character per invalid byte) agrees.
  ExpectMatches("x_y.py", {}, {"x\xc1\x9fy.py"});
  ExpectMatches("*_bridge.py", {},
                {"x\xc1\x9f"
                 "bridge.py"});
  ExpectMatches("a.py", {}, {"a\xc0\xaepy"});
  // A surrogate (U+D800 as 3 bytes) is 3 invalid bytes, not one character.
  ExpectMatches("?", {}, {"\xed\xa0\x80"});
}

TEST(GlobMatchTest, PathologicalPatternCompletes) {
  // A naive backtracking matcher is exponential here; this one is O(n*m).
  GlobPattern glob = MustCompile("*a*a*a*a*a*a*b");
  std::string name(20000, 'a');
  EXPECT_FALSE(glob.Matches(name));
  EXPECT_TRUE(glob.Matches(name + "b"));
  GlobPattern many = MustCompile("*?*?*?*?*?*?*?*?*?*?*!");
  EXPECT_FALSE(many.Matches(name));
}

// ---------------------------------------------------------------------------
// Compile

TEST(GlobCompileTest, RefusesPathSeparatorsAndNul) {
  for (const std::string& pattern :
       {std::string("a/b"), std::string("/"), std::string("../*.py"),
        std::string("*/x.py"), std::string("a\\b"), std::string("\\"),
        std::string("a\0b", 3), std::string("*.py\0", 5),
        std::string("\0", 1)}) {
    absl::StatusOr<GlobPattern> glob = GlobPattern::Compile(pattern);
    EXPECT_FALSE(glob.ok())
        << "pattern of " << pattern.size() << " bytes: '" << pattern << "'";
    if (!glob.ok())
      EXPECT_EQ(glob.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(GlobCompileTest, RefusesEmptyDotAndDotDot) {
  for (const std::string& pattern : {"", ".", ".."}) {
    absl::StatusOr<GlobPattern> glob = GlobPattern::Compile(pattern);
    EXPECT_FALSE(glob.ok()) << "'" << pattern << "'";
    if (!glob.ok()) {
      EXPECT_EQ(glob.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_FALSE(glob.status().message().empty());
    }
  }
}

TEST(GlobCompileTest, RefusalNamesThePattern) {
  absl::StatusOr<GlobPattern> glob = GlobPattern::Compile("sub/*.py");
  ASSERT_FALSE(glob.ok());
  EXPECT_NE(glob.status().message().find("sub/*.py"), absl::string_view::npos)
      << glob.status();
}

TEST(GlobCompileTest, AcceptsOrdinaryPatterns) {
  for (const std::string& pattern :
       {"*.py", "*_bridge.py", "?", "[", "[abc]", "*", "...", ".*", "x..py"}) {
    EXPECT_TRUE(GlobPattern::Compile(pattern).ok()) << "'" << pattern << "'";
  }
}

TEST(GlobCompileTest, TextIsThePatternAsGiven) {
  EXPECT_EQ(MustCompile("*_bridge.py").text(), "*_bridge.py");
  EXPECT_EQ(MustCompile("**.py").text(), "**.py");
}

TEST(GlobCompileTest, MatchesAllPy) {
  EXPECT_TRUE(MustCompile("*.py").matches_all_py());
  EXPECT_FALSE(MustCompile("*_bridge.py").matches_all_py());
  EXPECT_FALSE(MustCompile("?.py").matches_all_py());
  EXPECT_FALSE(MustCompile("a*.py").matches_all_py());
  // Whatever the flag says, it must never claim more than Matches() does.
  for (const char* pattern : {"*", "*.py", "**.py", "*_bridge.py", "x.py"}) {
    GlobPattern glob = MustCompile(pattern);
    if (glob.matches_all_py()) {
      for (const char* name : {"x.py", ".py", "a_b.py", "caf\xc3\xa9.py"})
        EXPECT_TRUE(glob.Matches(name)) << pattern << " on " << name;
    }
  }
}

// ---------------------------------------------------------------------------
// DecodeUtf8Lenient

TEST(DecodeUtf8LenientTest, DecodesValidUtf8) {
  EXPECT_EQ(DecodeUtf8Lenient(""), U"");
  EXPECT_EQ(DecodeUtf8Lenient("abc"), U"abc");
  EXPECT_EQ(DecodeUtf8Lenient("caf\xc3\xa9"), U"caf\u00e9");
  EXPECT_EQ(DecodeUtf8Lenient("\xe2\x82\xac"), U"\u20ac");
  EXPECT_EQ(DecodeUtf8Lenient("\xf0\x9f\x98\x80"), U"\U0001F600");
  EXPECT_EQ(DecodeUtf8Lenient("\xf4\x8f\xbf\xbf"), U"\U0010FFFF");
}

TEST(DecodeUtf8LenientTest, ReplacesInvalidBytes) {
  EXPECT_EQ(DecodeUtf8Lenient("\xff"), U"\uFFFD");
  EXPECT_EQ(DecodeUtf8Lenient("a\x80z"), U"a\uFFFDz");
  EXPECT_EQ(DecodeUtf8Lenient("caf\xc3"), U"caf\uFFFD");
  EXPECT_EQ(DecodeUtf8Lenient("\xc3("), U"\uFFFD(");
}

TEST(DecodeUtf8LenientTest, ReplacesOverlongSurrogateAndOutOfRange) {
  // None of these is valid UTF-8; none may decode to a real character (in
  // particular an overlong '/' must not become '/').
  for (const std::string& bad :
       {std::string("\xc0\xaf"), std::string("\xc1\x9f"),
        std::string("\xe0\x80\xaf"), std::string("\xf0\x80\x80\xaf"),
        std::string("\xed\xa0\x80"), std::string("\xf4\x90\x80\x80"),
        std::string("\xf5\x80\x80\x80")}) {
    std::u32string decoded = DecodeUtf8Lenient(bad);
    EXPECT_EQ(decoded, std::u32string(bad.size(), U'\uFFFD'))
        << "input of " << bad.size() << " bytes decoded to " << decoded.size()
        << " code point(s), the first U+" << std::hex
        << (decoded.empty() ? 0u : static_cast<unsigned>(decoded[0]));
  }
}

}  // namespace
}  // namespace bridgeimport
