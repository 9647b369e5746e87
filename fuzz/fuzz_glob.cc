// Fuzz target: mount globs (finders/glob_pattern.h).
//
// Input: <pattern> NUL <file name> (no NUL: the whole input is the pattern
// and the name is empty). The whole input is also compiled as a pattern.
// Properties:
//  * Compile refuses exactly the patterns that could reach outside a mount
//    directory or mean nothing: empty, '.', '..', or holding '/', '\\', NUL;
//  * Matches agrees with a reference written here from CPython 3.11's
//    fnmatch.translate (the set syntax, its chunking of '-' ranges and its
//    removal of empty ranges) and the regular expression it builds, matched
//    by dynamic programming over code points;
//  * a pattern without '*', '?' or '[' matches its own text and nothing else,
//    so a name with '/' (which no compiled pattern contains) never matches it;
//  * "*.py" matches every name ending in ".py";
//  * DecodeUtf8Lenient agrees with an independent decoder.
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "finders/glob_pattern.h"
#include "fuzz/fuzz_util.h"

namespace {

using bridgeimport::DecodeUtf8Lenient;
using bridgeimport::GlobPattern;
using bridgeimport_fuzz::ReferenceDecode;

struct RefToken {
  enum Kind { kLiteral, kAny, kStar, kSet } kind;
  char32_t c = 0;
  bool negated = false;
  std::vector<std::pair<char32_t, char32_t>> ranges;  // inclusive
};

// Parses the inside of a regex character class the way sre_parse does, for
// the strings fnmatch.translate builds ('^' negates, '\\' escapes one
// character, a '-' between two items makes a range, a final '-' is literal).
// False where sre_parse would raise (a reversed range).
bool ParseClass(const std::u32string& stuff, RefToken* set) {
  set->kind = RefToken::kSet;
  size_t i = 0;
  if (!stuff.empty() && stuff[0] == U'^') {
    set->negated = true;
    i = 1;
  }
  auto item = [&]() -> char32_t {
    if (stuff[i] == U'\\' && i + 1 < stuff.size()) {
      i += 2;
      return stuff[i - 1];
    }
    return stuff[i++];
  };
  while (i < stuff.size()) {
    char32_t lo = item();
    if (i + 1 < stuff.size() && stuff[i] == U'-') {
      ++i;
      char32_t hi = item();
      if (lo > hi) return false;
      set->ranges.emplace_back(lo, hi);
    } else {
      set->ranges.emplace_back(lo, lo);
    }
  }
  return true;
}

// fnmatch.translate, token by token. False where Python would raise.
bool ReferenceTranslate(const std::u32string& pat, std::vector<RefToken>* out) {
  size_t i = 0, n = pat.size();
  while (i < n) {
    char32_t c = pat[i++];
    RefToken t;
    if (c == U'*') {
      if (out->empty() || out->back().kind != RefToken::kStar) {
        t.kind = RefToken::kStar;
        out->push_back(t);
      }
      continue;
    }
    if (c == U'?') {
      t.kind = RefToken::kAny;
      out->push_back(t);
      continue;
    }
    if (c != U'[') {
      t.kind = RefToken::kLiteral;
      t.c = c;
      out->push_back(t);
      continue;
    }
    size_t j = i;
    if (j < n && pat[j] == U'!') ++j;
    if (j < n && pat[j] == U']') ++j;
    while (j < n && pat[j] != U']') ++j;
    if (j >= n) {
      t.kind = RefToken::kLiteral;
      t.c = U'[';
      out->push_back(t);
      continue;
    }
    std::u32string stuff = pat.substr(i, j - i);
    const bool written_negated = pat[i] == U'!';
    if (stuff.find(U'-') != std::u32string::npos) {
      std::vector<std::u32string> chunks;
      size_t k = pat[i] == U'!' ? i + 2 : i + 1;
      while (true) {
        size_t dash =
            k < j ? pat.substr(0, j).find(U'-', k) : std::u32string::npos;
        if (dash == std::u32string::npos) break;
        chunks.push_back(pat.substr(i, dash - i));
        i = dash + 1;
        k = dash + 3;
      }
      std::u32string chunk = pat.substr(i, j - i);
      if (!chunk.empty()) {
        chunks.push_back(chunk);
      } else {
        chunks.back() += U'-';
      }
      for (size_t m = chunks.size() - 1; m > 0; --m) {
        if (chunks[m - 1].empty() || chunks[m].empty())
          return false;  // IndexError
        if (chunks[m - 1].back() > chunks[m].front()) {
          chunks[m - 1] = chunks[m - 1].substr(0, chunks[m - 1].size() - 1) +
                          chunks[m].substr(1);
          chunks.erase(chunks.begin() + m);
        }
      }
      stuff.clear();
      for (size_t m = 0; m < chunks.size(); ++m) {
        if (m > 0) stuff += U'-';
        for (char32_t ch : chunks[m]) {
          if (ch == U'\\' || ch == U'-') stuff += U'\\';
          stuff += ch;
        }
      }
    }
    // ('\\' cannot occur: Compile refused it. '&', '~', '|' are escaped by
    // translate and literal either way.)
    i = j + 1;
    // CPython 3.11-3.13 quirk: dropping a reversed range in front of a '!'
    // ("[h-c!a]") makes that '!' lead the set, which then negates it (3.9
    // raised re.error instead). The core keeps the '!' literal; no reference
    // for such a set.
    if (!written_negated && !stuff.empty() && stuff[0] == U'!') return false;
    if (stuff.empty()) {
      t.kind = RefToken::kSet;  // (?!): never matches
    } else if (stuff == U"!") {
      t.kind = RefToken::kAny;
    } else {
      if (stuff[0] == U'!') {
        stuff[0] = U'^';
      } else if (stuff[0] == U'^' || stuff[0] == U'[') {
        stuff.insert(stuff.begin(), U'\\');
      }
      if (!ParseClass(stuff, &t)) return false;
    }
    out->push_back(std::move(t));
  }
  return true;
}

bool TokenMatches(const RefToken& t, char32_t c) {
  switch (t.kind) {
    case RefToken::kLiteral:
      return t.c == c;
    case RefToken::kAny:
      return true;
    case RefToken::kStar:
      return false;
    case RefToken::kSet: {
      bool in = false;
      for (const auto& [lo, hi] : t.ranges) in |= lo <= c && c <= hi;
      return in != t.negated;
    }
  }
  return false;
}

// Full match by dynamic programming: ok[k] is true if the first tokens
// consumed so far can match name[0, k).
bool ReferenceMatch(const std::vector<RefToken>& tokens,
                    const std::u32string& name) {
  std::vector<char> ok(name.size() + 1, 0);
  ok[0] = 1;
  for (const RefToken& t : tokens) {
    std::vector<char> next(name.size() + 1, 0);
    if (t.kind == RefToken::kStar) {
      bool reached = false;
      for (size_t k = 0; k <= name.size(); ++k) next[k] = reached |= ok[k];
    } else {
      for (size_t k = 0; k < name.size(); ++k)
        if (ok[k] && TokenMatches(t, name[k])) next[k + 1] = 1;
    }
    ok.swap(next);
  }
  return ok[name.size()];
}

bool ShouldCompile(absl::string_view pattern) {
  return !pattern.empty() && pattern != "." && pattern != ".." &&
         pattern.find_first_of(absl::string_view("/\\\0", 3)) ==
             absl::string_view::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view input(reinterpret_cast<const char*>(data), size);
  FUZZ_CHECK(GlobPattern::Compile(input).ok() == ShouldCompile(input));

  size_t nul = input.find('\0');
  absl::string_view pattern = input.substr(0, nul);
  absl::string_view name = nul == absl::string_view::npos
                               ? absl::string_view()
                               : input.substr(nul + 1);
  FUZZ_CHECK(DecodeUtf8Lenient(pattern) == ReferenceDecode(pattern));
  FUZZ_CHECK(DecodeUtf8Lenient(name) == ReferenceDecode(name));

  absl::StatusOr<GlobPattern> glob = GlobPattern::Compile(pattern);
  FUZZ_CHECK(glob.ok() == ShouldCompile(pattern));
  if (!glob.ok()) return 0;
  bool matches = glob->Matches(name);

  std::vector<RefToken> tokens;
  if (ReferenceTranslate(ReferenceDecode(pattern), &tokens))
    FUZZ_CHECK(matches == ReferenceMatch(tokens, ReferenceDecode(name)));

  // (Not for U+FFFD: every invalid byte decodes to it, so a pattern holding
  // one matches any other invalid byte there. Harmless: a served name is valid
  // UTF-8, see module_name.h.)
  bool replacement =
      ReferenceDecode(pattern).find(U'\uFFFD') != std::u32string::npos ||
      ReferenceDecode(name).find(U'\uFFFD') != std::u32string::npos;
  if (pattern.find_first_of("*?[") == absl::string_view::npos && !replacement) {
    FUZZ_CHECK(matches == (name == pattern));
    FUZZ_CHECK(!matches || name.find('/') == absl::string_view::npos);
  }
  if (glob->matches_all_py() && name.size() >= 3 &&
      name.substr(name.size() - 3) == ".py")
    FUZZ_CHECK(matches);
  return 0;
}
