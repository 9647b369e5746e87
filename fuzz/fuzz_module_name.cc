// Fuzz target: module-name validation (finders/module_name.h).
//
// Input: the bytes of a candidate module name.
// Properties:
//  * ValidateModuleName agrees with an independent reference validator written
//    here from the rules (ASCII identifiers, well-formed UTF-8 per the Unicode
//    standard's table of well-formed byte sequences, at most 1024 bytes);
//  * a name that validates can never reach outside a directory: no '/', '\\',
//    NUL, and no component is "." or ".." or empty;
//  * it round-trips: split at '.' and joined again gives the name back, every
//    component validates on its own, ParentName + '.' + LastComponent == name,
//    IsWithinPackage(name, parent) holds and a longer lookalike does not lie
//    within it.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "finders/module_name.h"
#include "fuzz/fuzz_util.h"

namespace {

using bridgeimport::FirstComponent;
using bridgeimport::IsIdentifier;
using bridgeimport::IsWithinPackage;
using bridgeimport::LastComponent;
using bridgeimport::ParentName;
using bridgeimport::ValidateModuleName;
using bridgeimport_fuzz::WellFormedLength;

bool ReferenceIdentifier(absl::string_view part) {
  if (part.empty()) return false;
  for (size_t i = 0; i < part.size();) {
    char c = part[i];
    if (static_cast<unsigned char>(c) >= 0x80) {
      size_t len = WellFormedLength(part, i);
      if (len == 0) return false;
      i += len;
      continue;
    }
    bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    bool digit = c >= '0' && c <= '9';
    if (!(letter || (digit && i > 0))) return false;
    ++i;
  }
  return true;
}

bool ReferenceValid(absl::string_view name) {
  if (name.empty() || name.size() > 1024) return false;
  for (absl::string_view part : absl::StrSplit(name, '.'))
    if (!ReferenceIdentifier(part)) return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view name(reinterpret_cast<const char*>(data), size);
  bool valid = ValidateModuleName(name).ok();
  FUZZ_CHECK(valid == ReferenceValid(name));
  if (!valid) return 0;

  FUZZ_CHECK(name.find_first_of(absl::string_view("/\\\0", 3)) ==
             absl::string_view::npos);
  std::vector<absl::string_view> parts = absl::StrSplit(name, '.');
  for (absl::string_view part : parts) {
    FUZZ_CHECK(!part.empty() && part != "." && part != "..");
    FUZZ_CHECK(IsIdentifier(part));
    FUZZ_CHECK(ValidateModuleName(part).ok());
  }
  FUZZ_CHECK(absl::StrJoin(parts, ".") == name);
  FUZZ_CHECK(FirstComponent(name) == parts.front());
  FUZZ_CHECK(LastComponent(name) == parts.back());
  FUZZ_CHECK(IsWithinPackage(name, name));
  absl::string_view parent = ParentName(name);
  if (parts.size() == 1) {
    FUZZ_CHECK(parent.empty());
  } else {
    FUZZ_CHECK(std::string(parent) + "." + std::string(LastComponent(name)) ==
               name);
    FUZZ_CHECK(ValidateModuleName(parent).ok());
    FUZZ_CHECK(IsWithinPackage(name, parent));
    FUZZ_CHECK(!IsWithinPackage(parent, name));
  }
  // "appx" is not within "app"; "app.x" is.
  FUZZ_CHECK(!IsWithinPackage(std::string(name) + "x", name));
  FUZZ_CHECK(IsWithinPackage(std::string(name) + ".x", name));
  return 0;
}
