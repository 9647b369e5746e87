// glob_pattern.h: the file-name glob of a mount ("*.py", "*_bridge.py").
//
// Semantics are those of Python's fnmatch.fnmatchcase on one file name:
// '*' any run of characters, '?' one character, '[seq]' / '[!seq]' a set with
// ranges, an unclosed '[' a literal. Matching is on Unicode code points decoded
// from UTF-8, so '?' matches one character, not one byte.
//
// A glob selects file names inside a mount directory and nothing else: a
// pattern containing '/', '\\' or NUL, or naming "." or "..", is refused, so no
// pattern can reach outside the directory it is applied to.
#ifndef BRIDGEIMPORT_FINDERS_GLOB_PATTERN_H_
#define BRIDGEIMPORT_FINDERS_GLOB_PATTERN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace bridgeimport {

class GlobPattern {
 public:
  // Validates and compiles `pattern`. InvalidArgument explains a refusal.
  static absl::StatusOr<GlobPattern> Compile(absl::string_view pattern);

  // True if the whole file name `name` matches.
  bool Matches(absl::string_view name) const;

  // The pattern as given.
  const std::string& text() const { return text_; }

  // True for patterns that match every name ending in ".py" ("*.py"); lets
  // callers skip matching in the common case.
  bool matches_all_py() const { return matches_all_py_; }

 private:
  struct Token {
    enum Kind { kLiteral, kAnyOne, kAnyRun, kSet } kind;
    char32_t literal = 0;
    bool negated = false;
    std::vector<std::pair<char32_t, char32_t>> ranges;  // inclusive
  };

  GlobPattern() = default;
  bool TokenMatches(const Token& token, char32_t c) const;
  // The token at p[i] (a '[' starts a set, as in fnmatch.translate) and
  // the index after it.
  static size_t ParseToken(const std::u32string& p, size_t i, Token* token);

  std::string text_;
  std::vector<Token> tokens_;
  bool matches_all_py_ = false;
};

// Decodes UTF-8 into code points; invalid bytes become U+FFFD so that they can
// only ever match '*' or '?', never a literal.
std::u32string DecodeUtf8Lenient(absl::string_view s);

}  // namespace bridgeimport

#endif  // BRIDGEIMPORT_FINDERS_GLOB_PATTERN_H_
