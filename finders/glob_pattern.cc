// glob_pattern.cc: the file-name glob of a mount (see the .h).
#include "finders/glob_pattern.h"

#include "absl/strings/str_cat.h"
#include "finders/module_name.h"

namespace bridgeimport {

std::u32string DecodeUtf8Lenient(absl::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out.push_back(c);
      ++i;
      continue;
    }
    size_t len = Utf8CharLength(s, i);
    if (len == 0) {  // not valid UTF-8: one U+FFFD per byte
      out.push_back(U'\uFFFD');
      ++i;
      continue;
    }
    char32_t cp = c & (0x7F >> len);
    for (size_t k = 1; k < len; ++k)
      cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    out.push_back(cp);
    i += len;
  }
  return out;
}

size_t GlobPattern::ParseToken(const std::u32string& p, size_t i,
                               Token* token) {
  char32_t c = p[i];
  if (c == U'*') {
    token->kind = Token::kAnyRun;
    return i + 1;
  }
  if (c == U'?') {
    token->kind = Token::kAnyOne;
    return i + 1;
  }
  token->kind = Token::kLiteral;
  token->literal = c;
  if (c != U'[') return i + 1;
  // Find the closing bracket the way fnmatch.translate does: a ']' right
  // after '[' or '[!' is a member, not the end.
  size_t j = i + 1;
  if (j < p.size() && p[j] == U'!') ++j;
  if (j < p.size() && p[j] == U']') ++j;
  while (j < p.size() && p[j] != U']') ++j;
  if (j >= p.size()) return i + 1;  // unclosed: a literal '['
  token->kind = Token::kSet;
  size_t k = i + 1;
  if (p[k] == U'!') {
    token->negated = true;
    ++k;
  }
  while (k < j) {
    if (k + 2 < j && p[k + 1] == U'-') {
      if (p[k] <= p[k + 2]) token->ranges.emplace_back(p[k], p[k + 2]);
      k += 3;
    } else {
      token->ranges.emplace_back(p[k], p[k]);
      ++k;
    }
  }
  return j + 1;
}

absl::StatusOr<GlobPattern> GlobPattern::Compile(absl::string_view pattern) {
  if (pattern.empty()) return absl::InvalidArgumentError("glob is empty");
  for (char c : pattern) {
    if (c == '/' || c == '\\' || c == '\0')
      return absl::InvalidArgumentError(absl::StrCat(
          "glob '", pattern,
          "' contains a path separator or NUL; a glob selects file names "
          "inside the mount directories only"));
  }
  if (pattern == "." || pattern == "..")
    return absl::InvalidArgumentError("glob may not be '.' or '..'");

  GlobPattern glob;
  glob.text_ = std::string(pattern);
  std::u32string p = DecodeUtf8Lenient(pattern);
  for (size_t i = 0; i < p.size();) {
    Token token;
    i = ParseToken(p, i, &token);
    bool repeated_run = token.kind == Token::kAnyRun && !glob.tokens_.empty() &&
                        glob.tokens_.back().kind == Token::kAnyRun;
    if (!repeated_run) glob.tokens_.push_back(std::move(token));  // "**" is "*"
  }
  glob.matches_all_py_ = glob.text_ == "*.py" || glob.text_ == "*";
  return glob;
}

bool GlobPattern::TokenMatches(const Token& token, char32_t c) const {
  switch (token.kind) {
    case Token::kLiteral:
      return token.literal == c;
    case Token::kAnyOne:
      return true;
    case Token::kSet: {
      bool in = false;
      for (const auto& r : token.ranges)
        if (c >= r.first && c <= r.second) in = true;
      return in != token.negated;
    }
    case Token::kAnyRun:
      return false;
  }
  return false;
}

bool GlobPattern::Matches(absl::string_view name) const {
  std::u32string s = DecodeUtf8Lenient(name);
  // Iterative wildcard matching with one backtrack point: linear in practice,
  // O(n*m) at worst, never exponential.
  size_t ti = 0, si = 0;
  size_t star_t = std::u32string::npos, star_s = 0;
  while (si < s.size()) {
    if (ti < tokens_.size() && tokens_[ti].kind == Token::kAnyRun) {
      star_t = ti++;
      star_s = si;
    } else if (ti < tokens_.size() && TokenMatches(tokens_[ti], s[si])) {
      ++ti;
      ++si;
    } else if (star_t != std::u32string::npos) {
      ti = star_t + 1;
      si = ++star_s;
    } else {
      return false;
    }
  }
  while (ti < tokens_.size() && tokens_[ti].kind == Token::kAnyRun) ++ti;
  return ti == tokens_.size();
}

}  // namespace bridgeimport
