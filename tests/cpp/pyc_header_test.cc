// Tests for finders/pyc_header.h: PEP 552 headers, PEP 3147 paths, and the
// never-stale rule for timestamp pycs.
#include "finders/pyc_header.h"

#include <gtest/gtest.h>

#include <string>

namespace bridgeimport {
namespace {

const std::string kMagic("\xa7\x0d\x0d\x0a", 4);  // CPython 3.11's magic

// ClassifyPyc as a StatusOr, for the tests that only need the header.
absl::StatusOr<PycHeader> ParsePycHeader(absl::string_view data,
                                         absl::string_view magic) {
  PycHeader header;
  PycCheck check = ClassifyPyc(data, magic, &header);
  if (!check.ok()) return absl::InvalidArgumentError(check.reason);
  return header;
}

std::string Bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out.push_back(static_cast<char>(v));
  return out;
}

TEST(PycHeaderTest, TimestampHeaderRoundTrips) {
  std::string header = MakeTimestampPycHeader(kMagic, 0x01020304, 0x0A0B0C0D);
  ASSERT_EQ(header.size(), kPycHeaderSize);
  EXPECT_EQ(header.substr(4),
            Bytes({0, 0, 0, 0, 4, 3, 2, 1, 0x0D, 0x0C, 0x0B, 0x0A}));
  absl::StatusOr<PycHeader> parsed = ParsePycHeader(header + "body", kMagic);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_FALSE(parsed->hash_based());
  EXPECT_TRUE(TimestampMatches(*parsed, 0x01020304, 0x0A0B0C0D));
  EXPECT_FALSE(TimestampMatches(*parsed, 0x01020305, 0x0A0B0C0D));
  EXPECT_FALSE(TimestampMatches(*parsed, 0x01020304, 0x0A0B0C0E));
}

TEST(PycHeaderTest, TimestampsAndSizesCompareModulo2To32) {
  std::string header = MakeTimestampPycHeader(kMagic, (int64_t{1} << 32) + 7,
                                              (uint64_t{1} << 32) + 9);
  absl::StatusOr<PycHeader> parsed = ParsePycHeader(header, kMagic);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->mtime, 7u);
  EXPECT_EQ(parsed->source_size, 9u);
  EXPECT_TRUE(TimestampMatches(*parsed, 7, 9));
}

TEST(PycHeaderTest, HashHeaders) {
  std::string hash("12345678", 8);
  absl::StatusOr<PycHeader> checked =
      ParsePycHeader(MakeHashPycHeader(kMagic, hash, true), kMagic);
  ASSERT_TRUE(checked.ok());
  EXPECT_TRUE(checked->hash_based());
  EXPECT_TRUE(checked->check_source());
  EXPECT_EQ(checked->source_hash, hash);
  EXPECT_FALSE(TimestampMatches(*checked, 0, 0));
  absl::StatusOr<PycHeader> unchecked =
      ParsePycHeader(MakeHashPycHeader(kMagic, hash, false), kMagic);
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

TEST(PycHeaderTest, ClassifySaysWhyAsDoctorDoes) {
  std::string good = MakeTimestampPycHeader(kMagic, 1, 2);
  PycHeader header;
  PycCheck c = ClassifyPyc(good.substr(0, 3), kMagic, &header);
  EXPECT_EQ(c.verdict, PycVerdict::kCorrupt);
  EXPECT_EQ(c.reason, "header truncated (3 of 16 bytes)");
  std::string other_version = good;
  other_version[0] = '\x6f';  // another CPython's magic number (3439)
  other_version[1] = '\x0d';
  c = ClassifyPyc(other_version, kMagic, &header);
  EXPECT_EQ(c.verdict, PycVerdict::kStale);
  EXPECT_EQ(c.reason, "magic number 3439 is not this interpreter's 3495");
  std::string not_pyc = good;
  not_pyc[3] = 'x';
  c = ClassifyPyc(not_pyc, kMagic, &header);
  EXPECT_EQ(c.verdict, PycVerdict::kCorrupt);
  EXPECT_EQ(c.reason, "not a pyc file (bad magic number)");
  std::string bad_flags = good;
  bad_flags[4] = 4;
  c = ClassifyPyc(bad_flags, kMagic, &header);
  EXPECT_EQ(c.verdict, PycVerdict::kCorrupt);
  EXPECT_EQ(c.reason, "invalid flags 0x4");
  c = ClassifyPyc(good, kMagic, &header);
  EXPECT_TRUE(c.ok());
  EXPECT_EQ(c.reason, "");
  EXPECT_STREQ(PycVerdictName(c.verdict), "ok");
  EXPECT_STREQ(PycVerdictName(PycVerdict::kNoSource), "no_source");
}

TEST(PycHeaderTest, ValidateTimestampNamesEachMismatch) {
  PycHeader header;
  ASSERT_TRUE(
      ClassifyPyc(MakeTimestampPycHeader(kMagic, 100, 7), kMagic, &header)
          .ok());
  EXPECT_TRUE(ValidateTimestampPyc(header, 100, 999, 7).ok());
  EXPECT_TRUE(ValidateTimestampPyc(header, 100 + (int64_t{1} << 32), 0, 7)
                  .ok());  // mod 2**32
  PycCheck c = ValidateTimestampPyc(header, 101, 0, 7);
  EXPECT_EQ(c.verdict, PycVerdict::kStale);
  EXPECT_EQ(c.reason, "source mtime 101 != recorded 100");
  c = ValidateTimestampPyc(header, 102, 0, 8);
  EXPECT_EQ(c.reason,
            "source mtime 102 != recorded 100; source size 8 != recorded 7");
}

TEST(PycHeaderTest, ValidateHashNotesUncheckedPycs) {
  PycHeader checked, unchecked;
  ASSERT_TRUE(
      ClassifyPyc(MakeHashPycHeader(kMagic, "12345678", true), kMagic, &checked)
          .ok());
  ASSERT_TRUE(ClassifyPyc(MakeHashPycHeader(kMagic, "12345678", false), kMagic,
                          &unchecked)
                  .ok());
  EXPECT_TRUE(ValidateHashPyc(checked, "12345678").ok());
  PycCheck c = ValidateHashPyc(checked, "87654321");
  EXPECT_EQ(c.verdict, PycVerdict::kStale);
  EXPECT_EQ(c.reason, "source hash does not match the source");
  c = ValidateHashPyc(unchecked, "87654321");
  EXPECT_EQ(
      c.reason,
      "source hash does not match the source and it is an unchecked hash pyc: "
      "Python runs it anyway");
}

TEST(PycHeaderTest, SettledBeforeIsTheRacyRuleInverted) {
  const int64_t s = 1'000'000'000;
  int64_t changed = 100 * s + 300'000'000;
  EXPECT_FALSE(SettledBefore(changed, 101 * s + kPycRacyMarginNanos - 1));
  EXPECT_TRUE(SettledBefore(changed, 101 * s + kPycRacyMarginNanos));
  EXPECT_FALSE(SettledBefore(-1, -1));
  EXPECT_TRUE(SettledBefore(-1, kPycRacyMarginNanos));
  EXPECT_EQ(ValidatePycSettled(changed, changed).verdict, PycVerdict::kRacy);
  EXPECT_NE(ValidatePycSettled(changed, changed).reason.find("same-second"),
            std::string::npos);
  EXPECT_TRUE(ValidatePycSettled(changed, 102 * s).ok());
}

TEST(CacheFromSourceTest, Pep3147Paths) {
  EXPECT_EQ(CacheFromSource("/a/b/mod.py", "cpython-311", "", std::nullopt, ""),
            "/a/b/__pycache__/mod.cpython-311.pyc");
  EXPECT_EQ(
      CacheFromSource("/a/b/mod.py", "cpython-311", "2", std::nullopt, ""),
      "/a/b/__pycache__/mod.cpython-311.opt-2.pyc");
  EXPECT_EQ(CacheFromSource("/a/pkg/__init__.py", "cpython-311", "",
                            std::nullopt, ""),
            "/a/pkg/__pycache__/__init__.cpython-311.pyc");
  EXPECT_EQ(CacheFromSource("/a/x.y.py", "t", "", std::nullopt, ""),
            "/a/__pycache__/x.y.t.pyc");
  EXPECT_EQ(CacheFromSource("/a/.py", "t", "", std::nullopt, ""),
            "/a/__pycache__/py.t.pyc");
  EXPECT_EQ(CacheFromSource("/a/noext", "t", "", std::nullopt, ""),
            "/a/__pycache__/noextt.pyc");
  EXPECT_EQ(CacheFromSource("/a/m.py", "", "", std::nullopt, ""), "");
}

TEST(CacheFromSourceTest, PycachePrefix) {
  EXPECT_EQ(CacheFromSource("/a/b/mod.py", "cpython-311", "",
                            std::string("/cache"), "/cwd"),
            "/cache/a/b/mod.cpython-311.pyc");
  EXPECT_EQ(CacheFromSource("/a/b/mod.py", "t", "", std::string("/cache/"), ""),
            "/cache/a/b/mod.t.pyc");
  EXPECT_EQ(
      CacheFromSource("rel/mod.py", "t", "1", std::string("/cache"), "/home/u"),
      "/cache/home/u/rel/mod.t.opt-1.pyc");
}

}  // namespace
}  // namespace bridgeimport
