// Tests for finders/pyc_header.h: PEP 552 headers, PEP 3147 paths, and the
// never-stale rule for timestamp pycs.
#include "finders/pyc_header.h"

#include <gtest/gtest.h>

#include <string>

namespace bridgeimport {
namespace {

const std::string kMagic("\xa7\x0d\x0d\x0a", 4);  // CPython 3.11's magic

std::string Bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out.push_back(static_cast<char>(v));
  return out;
}

TEST(PycHeaderTest, TimestampHeaderRoundTrips) {
  std::string header = MakeTimestampPycHeader(kMagic, 0x01020304, 0x0A0B0C0D);
  ASSERT_EQ(header.size(), kPycHeaderSize);
  EXPECT_EQ(header.substr(4), Bytes({0, 0, 0, 0, 4, 3, 2, 1, 0x0D, 0x0C, 0x0B, 0x0A}));
  absl::StatusOr<PycHeader> parsed = ParsePycHeader(header + "body", kMagic);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_FALSE(parsed->hash_based());
  EXPECT_TRUE(TimestampMatches(*parsed, 0x01020304, 0x0A0B0C0D));
  EXPECT_FALSE(TimestampMatches(*parsed, 0x01020305, 0x0A0B0C0D));
  EXPECT_FALSE(TimestampMatches(*parsed, 0x01020304, 0x0A0B0C0E));
}

TEST(PycHeaderTest, TimestampsAndSizesCompareModulo2To32) {
  std::string header = MakeTimestampPycHeader(kMagic, (int64_t{1} << 32) + 7, (uint64_t{1} << 32) + 9);
  absl::StatusOr<PycHeader> parsed = ParsePycHeader(header, kMagic);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->mtime, 7u);
  EXPECT_EQ(parsed->source_size, 9u);
  EXPECT_TRUE(TimestampMatches(*parsed, 7, 9));
}

TEST(PycHeaderTest, HashHeaders) {
  std::string hash("12345678", 8);
  absl::StatusOr<PycHeader> checked = ParsePycHeader(MakeHashPycHeader(kMagic, hash, true), kMagic);
  ASSERT_TRUE(checked.ok());
  EXPECT_TRUE(checked->hash_based());
  EXPECT_TRUE(checked->check_source());
  EXPECT_EQ(checked->source_hash, hash);
  EXPECT_FALSE(TimestampMatches(*checked, 0, 0));
  absl::StatusOr<PycHeader> unchecked = ParsePycHeader(MakeHashPycHeader(kMagic, hash, false), kMagic);
  ASSERT_TRUE(unchecked.ok());
  EXPECT_EQ(unchecked->flags, kPycHashBased);
  EXPECT_FALSE(unchecked->check_source());
}

TEST(PycHeaderTest, RefusesWhatCPythonRefuses) {
  std::string good = MakeTimestampPycHeader(kMagic, 1, 2);
  EXPECT_FALSE(ParsePycHeader("", kMagic).ok());
  EXPECT_FALSE(ParsePycHeader(good.substr(0, 3), kMagic).ok());
  EXPECT_FALSE(ParsePycHeader(good.substr(0, 15), kMagic).ok());  // truncated
  std::string wrong_magic = good;
  wrong_magic[0] = 'x';
  EXPECT_FALSE(ParsePycHeader(wrong_magic, kMagic).ok());
  std::string bad_flags = good;
  bad_flags[4] = 4;  // only the two low bits are defined
  absl::StatusOr<PycHeader> parsed = ParsePycHeader(bad_flags, kMagic);
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("flags"), absl::string_view::npos);
}

TEST(PycHeaderTest, MtimeSecondsMatchPythonIntOfStMtime) {
  EXPECT_EQ(PycMtimeSeconds(1700000000, 0), 1700000000);
  EXPECT_EQ(PycMtimeSeconds(1700000000, 500000000), 1700000000);
  // Python: int(1700000000 + 999999999 * 1e-9) == 1700000001 (double rounding)
  EXPECT_EQ(PycMtimeSeconds(1700000000, 999999999), 1700000001);
  EXPECT_EQ(PycMtimeSeconds(-2, 500000000), -1);  // int() truncates toward zero
}

TEST(PycHeaderTest, RacyUntilTheSourceSecondIsOverPlusMargin) {
  const int64_t s = 1'000'000'000;
  int64_t source = 100 * s + 300'000'000;  // 100.3 s
  EXPECT_TRUE(TimestampPycIsRacy(source, source));
  EXPECT_TRUE(TimestampPycIsRacy(source, 100 * s + 999'999'999));
  EXPECT_TRUE(TimestampPycIsRacy(source, 101 * s + kPycRacyMarginNanos - 1));
  EXPECT_FALSE(TimestampPycIsRacy(source, 101 * s + kPycRacyMarginNanos));
  EXPECT_FALSE(TimestampPycIsRacy(source, 500 * s));
  EXPECT_TRUE(TimestampPycIsRacy(500 * s, 100 * s));  // source in the future
  EXPECT_TRUE(TimestampPycIsRacy(-1, -1));            // floors, not truncates
  EXPECT_FALSE(TimestampPycIsRacy(-1, kPycRacyMarginNanos));
}

TEST(CacheFromSourceTest, Pep3147Paths) {
  EXPECT_EQ(CacheFromSource("/a/b/mod.py", "cpython-311", "", std::nullopt, ""),
            "/a/b/__pycache__/mod.cpython-311.pyc");
  EXPECT_EQ(CacheFromSource("/a/b/mod.py", "cpython-311", "2", std::nullopt, ""),
            "/a/b/__pycache__/mod.cpython-311.opt-2.pyc");
  EXPECT_EQ(CacheFromSource("/a/pkg/__init__.py", "cpython-311", "", std::nullopt, ""),
            "/a/pkg/__pycache__/__init__.cpython-311.pyc");
  EXPECT_EQ(CacheFromSource("/a/x.y.py", "t", "", std::nullopt, ""), "/a/__pycache__/x.y.t.pyc");
  EXPECT_EQ(CacheFromSource("/a/.py", "t", "", std::nullopt, ""), "/a/__pycache__/py.t.pyc");
  EXPECT_EQ(CacheFromSource("/a/noext", "t", "", std::nullopt, ""), "/a/__pycache__/noextt.pyc");
  EXPECT_EQ(CacheFromSource("/a/m.py", "", "", std::nullopt, ""), "");
}

TEST(CacheFromSourceTest, PycachePrefix) {
  EXPECT_EQ(CacheFromSource("/a/b/mod.py", "cpython-311", "", std::string("/cache"), "/cwd"),
            "/cache/a/b/mod.cpython-311.pyc");
  EXPECT_EQ(CacheFromSource("/a/b/mod.py", "t", "", std::string("/cache/"), ""),
            "/cache/a/b/mod.t.pyc");
  EXPECT_EQ(CacheFromSource("rel/mod.py", "t", "1", std::string("/cache"), "/home/u"),
            "/cache/home/u/rel/mod.t.opt-1.pyc");
}

}  // namespace
}  // namespace bridgeimport
