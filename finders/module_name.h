// module_name.h: validation and splitting of dotted Python module names.
//
// Every name the finder is asked about passes through here before any file
// system work: a name that is not a dotted sequence of identifiers can never
// be mapped to a path, so "..", "/", "\\", NUL, empty parts and the like are
// refused here rather than escaped later.
//
// Identifiers follow Python's rules for ASCII exactly. Bytes >= 0x80 are
// accepted as identifier characters when they form valid UTF-8; the exact
// Unicode XID check (str.isidentifier) is the Python-facing layer's job, since
// it needs the interpreter's Unicode database. No byte of a valid name is ever
// a path separator, so the core's guarantee (no path outside a mount) holds
// either way.
#ifndef BRIDGEIMPORT_FINDERS_MODULE_NAME_H_
#define BRIDGEIMPORT_FINDERS_MODULE_NAME_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace bridgeimport {

// Longest name accepted. CPython has no limit, but file names do (255 bytes a
// component on Linux), and a bound keeps hostile input cheap to reject.
inline constexpr size_t kMaxModuleNameLength = 1024;

// True if `part` is one identifier: [A-Za-z_][A-Za-z0-9_]* plus valid UTF-8
// sequences (see the file comment).
bool IsIdentifier(absl::string_view part);

// Length of the valid UTF-8 encoding of one non-ASCII character at s[i]
// (2 to 4), or 0 if the bytes there are not one: overlong forms, surrogates
// and values above U+10FFFF are refused, as Python's decoder does.
size_t Utf8CharLength(absl::string_view s, size_t i);

// True if every byte of `s` is ASCII.
bool IsAscii(absl::string_view s);

// OK if `name` is a non-empty dotted sequence of identifiers no longer than
// kMaxModuleNameLength; InvalidArgument naming the problem otherwise.
absl::Status ValidateModuleName(absl::string_view name);

// "a" for "a.b.c"; the whole name when it has no dot. Allocation-free.
inline absl::string_view FirstComponent(absl::string_view name) {
  size_t dot = name.find('.');
  return dot == absl::string_view::npos ? name : name.substr(0, dot);
}

// "a.b" for "a.b.c"; "" for "a".
inline absl::string_view ParentName(absl::string_view name) {
  size_t dot = name.rfind('.');
  return dot == absl::string_view::npos ? absl::string_view()
                                        : name.substr(0, dot);
}

// "c" for "a.b.c"; "a" for "a".
inline absl::string_view LastComponent(absl::string_view name) {
  size_t dot = name.rfind('.');
  return dot == absl::string_view::npos ? name : name.substr(dot + 1);
}

// True if `name` is `package` or lies below it ("app" selects "app" and
// "app.x", never "apple").
inline bool IsWithinPackage(absl::string_view name, absl::string_view package) {
  if (name.size() < package.size() || name.substr(0, package.size()) != package)
    return false;
  return name.size() == package.size() || name[package.size()] == '.';
}

}  // namespace bridgeimport

#endif  // BRIDGEIMPORT_FINDERS_MODULE_NAME_H_
