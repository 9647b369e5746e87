// fuzz_util.h: what the fuzz targets share: a property check that aborts (so
// libFuzzer saves the input) and a UTF-8 reference independent of finders/.
#ifndef BRIDGEIMPORT_FUZZ_FUZZ_UTIL_H_
#define BRIDGEIMPORT_FUZZ_FUZZ_UTIL_H_

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"

#define FUZZ_CHECK(cond)                                                       \
  do {                                                                         \
    if (!(cond)) {                                                             \
      std::fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, \
                   #cond);                                                     \
      std::abort();                                                            \
    }                                                                          \
  } while (0)

namespace bridgeimport_fuzz {

// Length of the well-formed UTF-8 sequence starting at s[i], or 0. Written
// from the Unicode standard's table of well-formed byte sequences (the range
// allowed for the second byte depends on the first), not from the decoder
// under test.
inline size_t WellFormedLength(absl::string_view s, size_t i) {
  auto at = [&](size_t k) -> int {
    return k < s.size() ? static_cast<unsigned char>(s[k]) : -1;
  };
  auto in = [](int b, int lo, int hi) { return b >= lo && b <= hi; };
  auto tail = [&](size_t from, size_t n) {
    for (size_t k = from; k < from + n; ++k)
      if (!in(at(k), 0x80, 0xBF)) return false;
    return true;
  };
  int b0 = at(i), b1 = at(i + 1);
  if (in(b0, 0x00, 0x7F)) return 1;
  if (in(b0, 0xC2, 0xDF)) return tail(i + 1, 1) ? 2 : 0;
  if (b0 == 0xE0) return in(b1, 0xA0, 0xBF) && tail(i + 2, 1) ? 3 : 0;
  if (in(b0, 0xE1, 0xEC) || in(b0, 0xEE, 0xEF)) return tail(i + 1, 2) ? 3 : 0;
  if (b0 == 0xED) return in(b1, 0x80, 0x9F) && tail(i + 2, 1) ? 3 : 0;
  if (b0 == 0xF0) return in(b1, 0x90, 0xBF) && tail(i + 2, 2) ? 4 : 0;
  if (in(b0, 0xF1, 0xF3)) return tail(i + 1, 3) ? 4 : 0;
  if (b0 == 0xF4) return in(b1, 0x80, 0x8F) && tail(i + 2, 2) ? 4 : 0;
  return 0;
}

// Code points of `s`; each byte that does not start a well-formed sequence
// becomes U+FFFD.
inline std::u32string ReferenceDecode(absl::string_view s) {
  std::u32string out;
  for (size_t i = 0; i < s.size();) {
    size_t len = WellFormedLength(s, i);
    if (len == 0) {
      out.push_back(U'\uFFFD');
      ++i;
      continue;
    }
    static constexpr unsigned char kLeadMask[] = {0, 0x7F, 0x1F, 0x0F, 0x07};
    char32_t cp = static_cast<unsigned char>(s[i]) & kLeadMask[len];
    for (size_t k = 1; k < len; ++k)
      cp = cp << 6 | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    out.push_back(cp);
    i += len;
  }
  return out;
}

}  // namespace bridgeimport_fuzz

#endif  // BRIDGEIMPORT_FUZZ_FUZZ_UTIL_H_
