// Fuzz target: pyc headers (finders/pyc_header.h).
//
// Input: 4 bytes of magic number, then the bytes of a candidate pyc file.
// Properties:
//  * ClassifyPyc accepts exactly: the magic, at least 16 bytes, no flag
//    bits beyond hash-based and check_source (as importlib's _classify_pyc),
//    and refuses everything else as stale or corrupt, with a reason;
//  * an accepted header round-trips: MakeTimestampPycHeader or
//    MakeHashPycHeader of the parsed fields gives back the first 16 bytes,
//    and a timestamp header matches its own mtime and size;
//  * header fields taken from the input (mtime and size as 64-bit values,
//    an 8-byte hash, the checked bit) survive Make then Parse, modulo 2**32
//    as CPython stores them;
//  * TimestampPycIsRacy is monotonic: a pyc written later is never less
//    trusted, and one written a whole second plus the margin after the
//    source's second began is trusted.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "finders/pyc_header.h"
#include "fuzz/fuzz_util.h"

namespace {

using namespace bridgeimport;  // NOLINT: the whole header is under test

uint64_t U64At(absl::string_view s, size_t at) {
  uint64_t v = 0;
  for (size_t k = 0; k < 8; ++k)
    v |= static_cast<uint64_t>(
             at + k < s.size() ? static_cast<unsigned char>(s[at + k]) : 0)
         << (8 * k);
  return v;
}

uint32_t U32At(absl::string_view s, size_t at) {
  return static_cast<uint32_t>(U64At(s.substr(0, at + 4), at));
}

// The header ClassifyPyc accepts, or nullopt (having checked the refusal
// says why, as stale or corrupt).
std::optional<PycHeader> ParsePycHeader(absl::string_view data,
                                        absl::string_view magic) {
  PycHeader header;
  PycCheck check = ClassifyPyc(data, magic, &header);
  if (check.ok()) return header;
  FUZZ_CHECK(check.verdict == PycVerdict::kStale ||
             check.verdict == PycVerdict::kCorrupt);
  FUZZ_CHECK(!check.reason.empty());
  return std::nullopt;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  absl::string_view input(reinterpret_cast<const char*>(data), size);
  absl::string_view magic = input.substr(0, 4);
  absl::string_view pyc = input.substr(4);

  std::optional<PycHeader> parsed = ParsePycHeader(pyc, magic);
  bool acceptable = pyc.size() >= kPycHeaderSize && pyc.substr(0, 4) == magic &&
                    (U32At(pyc, 4) & ~(kPycHashBased | kPycCheckSource)) == 0;
  FUZZ_CHECK(parsed.has_value() == acceptable);
  if (parsed) {
    const PycHeader& h = *parsed;
    FUZZ_CHECK(h.flags == U32At(pyc, 4));
    if (h.hash_based()) {
      FUZZ_CHECK(h.source_hash.size() == 8);
      FUZZ_CHECK(MakeHashPycHeader(magic, h.source_hash, h.check_source()) ==
                 pyc.substr(0, kPycHeaderSize));
      FUZZ_CHECK(!TimestampMatches(h, h.mtime, h.source_size));
    } else if (h.flags == 0) {
      FUZZ_CHECK(MakeTimestampPycHeader(magic, h.mtime, h.source_size) ==
                 pyc.substr(0, kPycHeaderSize));
      FUZZ_CHECK(TimestampMatches(h, h.mtime, h.source_size));
      // Modulo 2**32, as _validate_timestamp_pyc compares.
      FUZZ_CHECK(TimestampMatches(h, h.mtime + (int64_t{1} << 32),
                                  h.source_size + (uint64_t{1} << 32)));
      FUZZ_CHECK(!TimestampMatches(h, h.mtime, uint64_t{h.source_size} + 1));
    }
    // (flags == kPycCheckSource alone: a timestamp pyc with a stray bit;
    // CPython accepts it and so does the parser; nothing writes it.)
  }

  // Make, then Parse, from fields drawn from the input.
  int64_t mtime = static_cast<int64_t>(U64At(pyc, 0));
  uint64_t source_size = U64At(pyc, 8);
  std::string hash(8, '\0');
  for (size_t k = 0; k < 8; ++k)
    hash[k] = static_cast<char>(U64At(pyc, 16) >> (8 * k));
  bool checked = size % 2 == 0;

  std::string ts = MakeTimestampPycHeader(magic, mtime, source_size);
  FUZZ_CHECK(ts.size() == kPycHeaderSize);
  std::optional<PycHeader> ts_parsed = ParsePycHeader(ts, magic);
  FUZZ_CHECK(ts_parsed.has_value());
  FUZZ_CHECK(ts_parsed->flags == 0 && !ts_parsed->hash_based());
  FUZZ_CHECK(ts_parsed->mtime == static_cast<uint32_t>(mtime));
  FUZZ_CHECK(ts_parsed->source_size == static_cast<uint32_t>(source_size));
  FUZZ_CHECK(TimestampMatches(*ts_parsed, mtime, source_size));

  std::string hs = MakeHashPycHeader(magic, hash, checked);
  FUZZ_CHECK(hs.size() == kPycHeaderSize);
  std::optional<PycHeader> hs_parsed = ParsePycHeader(hs, magic);
  FUZZ_CHECK(hs_parsed.has_value());
  FUZZ_CHECK(hs_parsed->hash_based() && hs_parsed->check_source() == checked);
  FUZZ_CHECK(hs_parsed->source_hash == hash);
  FUZZ_CHECK(!TimestampMatches(*hs_parsed, mtime, source_size));

  // A header cut short or with another magic is refused.
  FUZZ_CHECK(
      !ParsePycHeader(absl::string_view(ts).substr(0, size % 16), magic));
  std::string other_magic(magic);
  other_magic[size % 4] ^= 0x5A;
  FUZZ_CHECK(!ParsePycHeader(ts, other_magic));

  // Racy-ness is monotonic in the write time. Bounded so the arithmetic
  // (which adds a second and a margin) cannot overflow.
  constexpr int64_t kBound = int64_t{1} << 62;
  int64_t source_ns = static_cast<int64_t>(U64At(pyc, 24)) % kBound;
  int64_t written_ns = static_cast<int64_t>(U64At(pyc, 32)) % kBound;
  int64_t later_ns = written_ns + static_cast<int64_t>(U32At(pyc, 40));
  if (!TimestampPycIsRacy(source_ns, written_ns))
    FUZZ_CHECK(!TimestampPycIsRacy(source_ns, later_ns));
  FUZZ_CHECK(TimestampPycIsRacy(source_ns, source_ns));
  FUZZ_CHECK(!TimestampPycIsRacy(
      source_ns, source_ns + 1'000'000'000 + kPycRacyMarginNanos));
  return 0;
}
