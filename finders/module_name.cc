// module_name.cc: validation and splitting of dotted Python module names
// (see the .h).
#include "finders/module_name.h"

#include "absl/strings/str_cat.h"

namespace bridgeimport {
namespace {

bool IsAsciiIdentStart(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

bool IsAsciiIdentContinue(unsigned char c) {
  return IsAsciiIdentStart(c) || (c >= '0' && c <= '9');
}

}  // namespace

size_t Utf8CharLength(absl::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  size_t len;
  unsigned int cp;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    unsigned char cc = byte(i + k);
    if ((cc & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3F);
  }
  if (len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return 0;
  if (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return 0;
  return len;
}

bool IsAscii(absl::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  return true;
}

bool IsIdentifier(absl::string_view part) {
  if (part.empty()) return false;
  size_t i = 0;
  bool first = true;
  while (i < part.size()) {
    unsigned char c = static_cast<unsigned char>(part[i]);
    if (c < 0x80) {
      if (first ? !IsAsciiIdentStart(c) : !IsAsciiIdentContinue(c))
        return false;
      ++i;
    } else {
      size_t len = Utf8CharLength(part, i);
      if (len == 0) return false;
      i += len;
    }
    first = false;
  }
  return true;
}

absl::Status ValidateModuleName(absl::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("module name is empty");
  if (name.size() > kMaxModuleNameLength)
    return absl::InvalidArgumentError(
        absl::StrCat("module name is ", name.size(),
                     " bytes long; the limit is ", kMaxModuleNameLength));
  size_t start = 0;
  while (true) {
    size_t dot = name.find('.', start);
    absl::string_view part = name.substr(start, dot == absl::string_view::npos
                                                    ? absl::string_view::npos
                                                    : dot - start);
    if (part.empty())
      return absl::InvalidArgumentError(
          "module name has an empty component (leading, trailing or doubled "
          "dot)");
    if (!IsIdentifier(part))
      return absl::InvalidArgumentError(absl::StrCat(
          "module name component is not an identifier: only letters, digits "
          "and '_' are allowed, not starting with a digit"));
    if (dot == absl::string_view::npos) break;
    start = dot + 1;
  }
  return absl::OkStatus();
}

}  // namespace bridgeimport
