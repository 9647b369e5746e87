// pyc_header.h: CPython's bytecode cache format and paths, without Python.
//
// The same files and headers as CPython, so its .pyc files are reused and
// ours are valid for it:
//  * PEP 3147 paths: <dir>/__pycache__/<stem>.<cache_tag>[.opt-N].pyc, or
//    under sys.pycache_prefix (importlib._bootstrap_external.cache_from_source);
//  * PEP 552 headers: 4 magic bytes, 4 flag bytes (bit 0 hash-based, bit 1
//    check_source), then either mtime and source size (uint32 LE each) or an
//    8-byte source hash.
//
// And one rule of bridgeimport's own ("never stale"): a timestamp pyc records
// whole seconds, so a source rewritten in the same second with the same size
// looks unchanged (cpython#75953). A timestamp pyc is trusted only if the pyc
// file itself was written after the second of the source's mtime had ended
// (plus a margin for clock steps): any later rewrite then has a different
// whole-second mtime. A pyc that would not be trusted is not written.
#ifndef BRIDGEIMPORT_FINDERS_PYC_HEADER_H_
#define BRIDGEIMPORT_FINDERS_PYC_HEADER_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace bridgeimport {

inline constexpr size_t kPycHeaderSize = 16;
inline constexpr uint32_t kPycHashBased = 0b01;
inline constexpr uint32_t kPycCheckSource = 0b10;
// Margin past the end of the source mtime's second before a pyc written then
// is trusted (absorbs coarse file system clocks and small clock steps).
inline constexpr int64_t kPycRacyMarginNanos = 100'000'000;

struct PycHeader {
  uint32_t flags = 0;
  uint32_t mtime = 0;        // timestamp pycs
  uint32_t source_size = 0;  // timestamp pycs
  std::string source_hash;   // hash-based pycs: 8 bytes
  bool hash_based() const { return flags & kPycHashBased; }
  bool check_source() const { return flags & kPycCheckSource; }
};

// Parses the first 16 bytes of `data`. InvalidArgument for a wrong magic
// number, a truncated header or undefined flag bits (as _classify_pyc).
absl::StatusOr<PycHeader> ParsePycHeader(absl::string_view data,
                                         absl::string_view magic);

// The whole-second mtime CPython records: int(st_mtime), where st_mtime is
// the double sec + nsec * 1e-9 (computed the same way, so rounding matches).
int64_t PycMtimeSeconds(int64_t mtime_sec, int64_t mtime_nsec);

// True if a timestamp header matches a source of that mtime and size
// (both compared modulo 2**32, as _validate_timestamp_pyc).
bool TimestampMatches(const PycHeader& header, int64_t pyc_mtime_seconds,
                      uint64_t source_size);

// True if a timestamp pyc written at `written_ns` (the pyc file's mtime, or
// the clock when writing) cannot be trusted for a source whose mtime is
// `source_mtime_ns`: the source's second had not ended yet.
bool TimestampPycIsRacy(int64_t source_mtime_ns, int64_t written_ns);

std::string MakeTimestampPycHeader(absl::string_view magic,
                                   int64_t pyc_mtime_seconds,
                                   uint64_t source_size);
std::string MakeHashPycHeader(absl::string_view magic,
                              absl::string_view source_hash, bool checked);

// cache_from_source() for POSIX paths. `optimization` is "" or alphanumeric
// ("1", "2"); `pycache_prefix` is sys.pycache_prefix or nullopt; `cwd` makes
// a relative source path absolute when a prefix is used. Empty result if
// `cache_tag` is empty (sys.implementation.cache_tag is None: no caching).
std::string CacheFromSource(absl::string_view source_path,
                            absl::string_view cache_tag,
                            absl::string_view optimization,
                            const std::optional<std::string>& pycache_prefix,
                            absl::string_view cwd);

}  // namespace bridgeimport

#endif  // BRIDGEIMPORT_FINDERS_PYC_HEADER_H_
