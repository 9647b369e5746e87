// Google Benchmark programs for the pure C++ core: the miss path, resolution
// with a warm directory cache, glob matching and pyc header parsing.
//
//   make bench-core    (builds build/bench with
//   -DBRIDGEIMPORT_BUILD_BENCHMARKS=ON)
#include <benchmark/benchmark.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "finders/glob_pattern.h"
#include "finders/module_name.h"
#include "finders/mount_table.h"
#include "finders/pyc_header.h"

namespace bridgeimport {
namespace {

// A mount of `count` flat modules in a temporary directory, made once.
struct Fixture {
  std::string root;
  std::unique_ptr<MountTable> table;
  explicit Fixture(int count) {
    char templ[] = "/tmp/bridgeimport_bench_XXXXXX";
    root = mkdtemp(templ);
    for (int i = 0; i < count; ++i)
      std::ofstream(root + "/m" + std::to_string(i) + ".py") << "X = 1\n";
    MountConfig config;
    config.package = "plugins";
    config.directories = {root};
    table = *MountTable::Build({config}, nullptr);
  }
  ~Fixture() { std::filesystem::remove_all(root); }
};

void BM_MissPath(benchmark::State& state) {
  Fixture f(10);
  for (auto _ : state)
    benchmark::DoNotOptimize(f.table->MayServe("json.decoder"));
}
BENCHMARK(BM_MissPath);

void BM_ResolveHit(benchmark::State& state) {
  Fixture f(static_cast<int>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(f.table->Resolve("plugins.m7"));
}
BENCHMARK(BM_ResolveHit)->Arg(100)->Arg(1000)->Arg(10000);

void BM_ValidateModuleName(benchmark::State& state) {
  for (auto _ : state)
    benchmark::DoNotOptimize(ValidateModuleName("mlpy.stdlib.datetime_bridge"));
}
BENCHMARK(BM_ValidateModuleName);

void BM_GlobMatch(benchmark::State& state) {
  GlobPattern glob = *GlobPattern::Compile("*_bridge.py");
  for (auto _ : state)
    benchmark::DoNotOptimize(glob.Matches("datetime_bridge.py"));
}
BENCHMARK(BM_GlobMatch);

void BM_ClassifyPyc(benchmark::State& state) {
  const std::string magic("\xa7\x0d\x0d\x0a", 4);
  std::string data =
      MakeTimestampPycHeader(magic, 1700000000, 1234) + std::string(1000, 'x');
  PycHeader header;
  for (auto _ : state)
    benchmark::DoNotOptimize(ClassifyPyc(data, magic, &header));
}
BENCHMARK(BM_ClassifyPyc);

void BM_CacheFromSource(benchmark::State& state) {
  for (auto _ : state)
    benchmark::DoNotOptimize(CacheFromSource(
        "/srv/app/plugins/csv_reader.py", "cpython-311", "", std::nullopt, ""));
}
BENCHMARK(BM_CacheFromSource);

}  // namespace
}  // namespace bridgeimport

BENCHMARK_MAIN();
