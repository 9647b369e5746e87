// pyc_header.h: CPython's bytecode cache format and paths, and the rules for
// trusting a pyc, without Python.
//
// The validators mirror importlib._bootstrap_external's _classify_pyc,
// _validate_timestamp_pyc and _validate_hash_pyc, and say why a pyc is
// refused (PycCheck): the loader logs it, bridgeimport.doctor reports it.
//
// The same files and headers as CPython, so its .pyc files are reused and
// ours are valid for it:
//  * PEP 3147 paths: <dir>/__pycache__/<stem>.<cache_tag>[.opt-N].pyc, or
//    under sys.pycache_prefix
//    (importlib._bootstrap_external.cache_from_source);
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

// What a validator concluded about a pyc, and why (for the debug log and
// bridgeimport.doctor). The verdicts, in the words of _native.check_pyc:
//  * kOk: the loader would execute the pyc's code.
//  * kMissing: there is no readable pyc file.
//  * kNoSource: the source cannot be read, so nothing can be compared.
//  * kStale: a well-formed pyc of another source or interpreter (another
//    magic number, a different mtime, size or hash): ignored and rewritten.
//  * kCorrupt: not a usable pyc at all (truncated header, not a pyc's magic,
//    undefined flags, a body that does not unmarshal to code).
//  * kRacy: it matches the source, but was written before the second of the
//    source's mtime had ended (plus a margin), so a same-second rewrite
//    could match too: bridgeimport recompiles (CPython would use it).
enum class PycVerdict { kOk, kMissing, kNoSource, kStale, kCorrupt, kRacy };

struct PycCheck {
  PycVerdict verdict = PycVerdict::kOk;
  std::string reason;  // empty for kOk
  bool ok() const { return verdict == PycVerdict::kOk; }
};

// "ok", "missing", "no_source", "stale", "corrupt", "racy".
const char* PycVerdictName(PycVerdict verdict);

// As _classify_pyc: the header of `data`, or (in `check`) why it is not one
// this interpreter accepts: a header shorter than 16 bytes, a magic number
// of another CPython (stale: its bytes 2-3 are "\r\n", as every CPython
// magic's are) or of no pyc at all (corrupt), undefined flag bits.
PycCheck ClassifyPyc(absl::string_view data, absl::string_view magic,
                     PycHeader* header);

// The whole-second mtime CPython records: int(st_mtime), where st_mtime is
// the double sec + nsec * 1e-9 (computed the same way, so rounding matches).
int64_t PycMtimeSeconds(int64_t mtime_sec, int64_t mtime_nsec);

// True if a timestamp header matches a source of that mtime and size
// (both compared modulo 2**32, as _validate_timestamp_pyc).
bool TimestampMatches(const PycHeader& header, int64_t pyc_mtime_seconds,
                      uint64_t source_size);

// As _validate_timestamp_pyc: stale unless the header records the source's
// whole-second mtime (from mtime_sec and mtime_nsec) and size; the reason
// names each mismatch.
PycCheck ValidateTimestampPyc(const PycHeader& header, int64_t mtime_sec,
                              int64_t mtime_nsec, uint64_t source_size);

// As _validate_hash_pyc: stale unless the header's hash is `source_hash`
// (importlib.util.source_hash of the source's bytes, which only the
// interpreter computes).
PycCheck ValidateHashPyc(const PycHeader& header,
                         absl::string_view source_hash);

// The racy-timestamp rule: true if something whose last change was at
// `changed_ns` (a file's mtime, or max(mtime, ctime)) provably changed
// before `when_ns` by file timestamps: `when_ns` is at least the end of
// changed_ns's whole second plus kPycRacyMarginNanos. Any later change then
// has a different whole-second timestamp. Exposed as _native.settled_before.
bool SettledBefore(int64_t changed_ns, int64_t when_ns);

// True if a timestamp pyc written at `written_ns` (the pyc file's mtime, or
// the clock when writing) cannot be trusted for a source whose mtime is
// `source_mtime_ns`: !SettledBefore(source_mtime_ns, written_ns).
inline bool TimestampPycIsRacy(int64_t source_mtime_ns, int64_t written_ns) {
  return !SettledBefore(source_mtime_ns, written_ns);
}

// kRacy (with the reason) if TimestampPycIsRacy(source_mtime_ns, pyc_mtime_ns).
PycCheck ValidatePycSettled(int64_t source_mtime_ns, int64_t pyc_mtime_ns);

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
