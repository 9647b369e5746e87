#include "finders/pyc_header.h"

#include <vector>

#include "absl/strings/str_cat.h"

namespace bridgeimport {
namespace {

uint32_t ReadU32(absl::string_view data, size_t at) {
  return static_cast<uint32_t>(static_cast<unsigned char>(data[at])) |
         static_cast<uint32_t>(static_cast<unsigned char>(data[at + 1])) << 8 |
         static_cast<uint32_t>(static_cast<unsigned char>(data[at + 2])) << 16 |
         static_cast<uint32_t>(static_cast<unsigned char>(data[at + 3])) << 24;
}

void AppendU32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
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

absl::StatusOr<PycHeader> ParsePycHeader(absl::string_view data,
                                         absl::string_view magic) {
  if (data.size() < magic.size() || data.substr(0, magic.size()) != magic)
    return absl::InvalidArgumentError("bad magic number");
  if (data.size() < kPycHeaderSize)
    return absl::InvalidArgumentError("truncated pyc header");
  PycHeader header;
  header.flags = ReadU32(data, 4);
  if (header.flags & ~(kPycHashBased | kPycCheckSource))
    return absl::InvalidArgumentError(
        absl::StrCat("invalid pyc flags ", header.flags));
  if (header.hash_based()) {
    header.source_hash = std::string(data.substr(8, 8));
  } else {
    header.mtime = ReadU32(data, 8);
    header.source_size = ReadU32(data, 12);
  }
  return header;
}

int64_t PycMtimeSeconds(int64_t mtime_sec, int64_t mtime_nsec) {
  double st_mtime = static_cast<double>(mtime_sec) + static_cast<double>(mtime_nsec) * 1e-9;
  return static_cast<int64_t>(st_mtime);  // int() truncates toward zero
}

bool TimestampMatches(const PycHeader& header, int64_t pyc_mtime_seconds,
                      uint64_t source_size) {
  return !header.hash_based() &&
         header.mtime == static_cast<uint32_t>(pyc_mtime_seconds & 0xFFFFFFFF) &&
         header.source_size == static_cast<uint32_t>(source_size & 0xFFFFFFFF);
}

bool TimestampPycIsRacy(int64_t source_mtime_ns, int64_t written_ns) {
  constexpr int64_t kSecond = 1'000'000'000;
  int64_t second = source_mtime_ns / kSecond;
  if (source_mtime_ns < 0 && source_mtime_ns % kSecond != 0) --second;  // floor
  int64_t end_of_second = (second + 1) * kSecond;
  return written_ns < end_of_second + kPycRacyMarginNanos;
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
  absl::string_view head =
      slash == absl::string_view::npos ? absl::string_view() : source_path.substr(0, slash);
  absl::string_view tail =
      slash == absl::string_view::npos ? source_path : source_path.substr(slash + 1);
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
    std::string absolute_head =
        (!head.empty() && head[0] == '/') ? std::string(head)
                                          : PathJoin({cwd, head});
    absl::string_view rooted(absolute_head);
    while (!rooted.empty() && rooted.front() == '/') rooted.remove_prefix(1);
    return PathJoin({*pycache_prefix, rooted, filename});
  }
  return PathJoin({head, "__pycache__", filename});
}

}  // namespace bridgeimport
