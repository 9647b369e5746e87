// pyc_header.cc: CPython's bytecode cache format and paths, and the rules
// for trusting a pyc (see the .h).
#include "finders/pyc_header.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace bridgeimport {
namespace {

uint32_t ReadU32(absl::string_view data, size_t at) {
  return static_cast<uint32_t>(static_cast<unsigned char>(data[at])) |
         static_cast<uint32_t>(static_cast<unsigned char>(data[at + 1])) << 8 |
         static_cast<uint32_t>(static_cast<unsigned char>(data[at + 2])) << 16 |
         static_cast<uint32_t>(static_cast<unsigned char>(data[at + 3])) << 24;
}

uint32_t ReadU16(absl::string_view data, size_t at) {
  return static_cast<uint32_t>(static_cast<unsigned char>(data[at])) |
         static_cast<uint32_t>(static_cast<unsigned char>(data[at + 1])) << 8;
}

void AppendU32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

// _path_join for POSIX: parts joined by '/', each stripped of trailing '/',
// empty parts dropped.
std::string PathJoin(const std::vector<absl::string_view>& parts) {
  std::string out;
  bool first = true;
  for (absl::string_view part : parts) {
    if (part.empty()) continue;
    while (!part.empty() && part.back() == '/') part.remove_suffix(1);
    if (!first) out.push_back('/');
    out.append(part.data(), part.size());
    first = false;
  }
  return out;
}

}  // namespace

const char* PycVerdictName(PycVerdict verdict) {
  switch (verdict) {
    case PycVerdict::kOk:
      return "ok";
    case PycVerdict::kMissing:
      return "missing";
    case PycVerdict::kNoSource:
      return "no_source";
    case PycVerdict::kStale:
      return "stale";
    case PycVerdict::kCorrupt:
      return "corrupt";
    case PycVerdict::kRacy:
      return "racy";
  }
  return "?";
}

PycCheck ClassifyPyc(absl::string_view data, absl::string_view magic,
                     PycHeader* header) {
  if (data.size() < kPycHeaderSize)
    return {PycVerdict::kCorrupt,
            absl::StrCat("header truncated (", data.size(), " of ",
                         kPycHeaderSize, " bytes)")};
  if (data.substr(0, magic.size()) != magic) {
    // Every CPython magic number ends in "\r\n": a pyc of another version.
    if (magic.size() >= 4 && data.substr(2, 2) == "\r\n")
      return {PycVerdict::kStale,
              absl::StrCat("magic number ", ReadU16(data, 0),
                           " is not this interpreter's ", ReadU16(magic, 0))};
    return {PycVerdict::kCorrupt, "not a pyc file (bad magic number)"};
  }
  PycHeader parsed;
  parsed.flags = ReadU32(data, 4);
  if (parsed.flags & ~(kPycHashBased | kPycCheckSource))
    return {PycVerdict::kCorrupt,
            absl::StrCat("invalid flags 0x", absl::Hex(parsed.flags))};
  if (parsed.hash_based()) {
    parsed.source_hash = std::string(data.substr(8, 8));
  } else {
    parsed.mtime = ReadU32(data, 8);
    parsed.source_size = ReadU32(data, 12);
  }
  if (header != nullptr) *header = std::move(parsed);
  return {};
}

int64_t PycMtimeSeconds(int64_t mtime_sec, int64_t mtime_nsec) {
  double st_mtime =
      static_cast<double>(mtime_sec) + static_cast<double>(mtime_nsec) * 1e-9;
  return static_cast<int64_t>(st_mtime);  // int() truncates toward zero
}

bool TimestampMatches(const PycHeader& header, int64_t pyc_mtime_seconds,
                      uint64_t source_size) {
  return !header.hash_based() &&
         header.mtime ==
             static_cast<uint32_t>(pyc_mtime_seconds & 0xFFFFFFFF) &&
         header.source_size == static_cast<uint32_t>(source_size & 0xFFFFFFFF);
}

PycCheck ValidateTimestampPyc(const PycHeader& header, int64_t mtime_sec,
                              int64_t mtime_nsec, uint64_t source_size) {
  const int64_t seconds = PycMtimeSeconds(mtime_sec, mtime_nsec);
  std::vector<std::string> problems;
  if (header.mtime != static_cast<uint32_t>(seconds & 0xFFFFFFFF))
    problems.push_back(
        absl::StrCat("source mtime ", seconds, " != recorded ", header.mtime));
  if (header.source_size != static_cast<uint32_t>(source_size & 0xFFFFFFFF))
    problems.push_back(absl::StrCat("source size ", source_size,
                                    " != recorded ", header.source_size));
  if (problems.empty()) return {};
  return {PycVerdict::kStale, absl::StrJoin(problems, "; ")};
}

PycCheck ValidateHashPyc(const PycHeader& header,
                         absl::string_view source_hash) {
  if (header.source_hash == source_hash) return {};
  std::string reason = "source hash does not match the source";
  if (!header.check_source())
    reason += " and it is an unchecked hash pyc: Python runs it anyway";
  return {PycVerdict::kStale, std::move(reason)};
}

bool SettledBefore(int64_t changed_ns, int64_t when_ns) {
  constexpr int64_t kSecond = 1'000'000'000;
  int64_t second = changed_ns / kSecond;
  if (changed_ns < 0 && changed_ns % kSecond != 0) --second;  // floor
  int64_t end_of_second = (second + 1) * kSecond;
  return when_ns >= end_of_second + kPycRacyMarginNanos;
}

PycCheck ValidatePycSettled(int64_t source_mtime_ns, int64_t pyc_mtime_ns) {
  if (SettledBefore(source_mtime_ns, pyc_mtime_ns)) return {};
  return {
      PycVerdict::kRacy,
      absl::StrCat("written ", pyc_mtime_ns - source_mtime_ns,
                   " ns after the source's mtime, before that second (plus ",
                   kPycRacyMarginNanos / 1'000'000,
                   " ms) was over: a same-second rewrite could match it too")};
}

std::string MakeTimestampPycHeader(absl::string_view magic,
                                   int64_t pyc_mtime_seconds,
                                   uint64_t source_size) {
  std::string out(magic);
  AppendU32(&out, 0);
  AppendU32(&out, static_cast<uint32_t>(pyc_mtime_seconds & 0xFFFFFFFF));
  AppendU32(&out, static_cast<uint32_t>(source_size & 0xFFFFFFFF));
  return out;
}

std::string MakeHashPycHeader(absl::string_view magic,
                              absl::string_view source_hash, bool checked) {
  std::string out(magic);
  AppendU32(&out, kPycHashBased | (checked ? kPycCheckSource : 0));
  out.append(source_hash.data(), source_hash.size());
  return out;
}

std::string CacheFromSource(absl::string_view source_path,
                            absl::string_view cache_tag,
                            absl::string_view optimization,
                            const std::optional<std::string>& pycache_prefix,
                            absl::string_view cwd) {
  if (cache_tag.empty()) return std::string();
  size_t slash = source_path.rfind('/');
  absl::string_view head = slash == absl::string_view::npos
                               ? absl::string_view()
                               : source_path.substr(0, slash);
  absl::string_view tail = slash == absl::string_view::npos
                               ? source_path
                               : source_path.substr(slash + 1);
  size_t dot = tail.rfind('.');
  std::string almost;
  if (dot == absl::string_view::npos) {
    almost = absl::StrCat(tail, cache_tag);  // base '', sep '', rest = tail
  } else {
    absl::string_view base = tail.substr(0, dot);
    absl::string_view rest = tail.substr(dot + 1);
    almost = absl::StrCat(base.empty() ? rest : base, ".", cache_tag);
  }
  if (!optimization.empty()) absl::StrAppend(&almost, ".opt-", optimization);
  std::string filename = absl::StrCat(almost, ".pyc");
  if (pycache_prefix.has_value()) {
    std::string absolute_head = (!head.empty() && head[0] == '/')
                                    ? std::string(head)
                                    : PathJoin({cwd, head});
    absl::string_view rooted(absolute_head);
    while (!rooted.empty() && rooted.front() == '/') rooted.remove_prefix(1);
    return PathJoin({*pycache_prefix, rooted, filename});
  }
  return PathJoin({head, "__pycache__", filename});
}

}  // namespace bridgeimport
