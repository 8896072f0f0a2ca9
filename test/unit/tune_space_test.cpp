// runtime/tune/space.h without a GPU: config ids, the manifest reader, the pattern hash, the
// shared-memory formula (pinned to hand-worked values AND to the real header through NVRTC), the
// pruning rules and the heuristic default. Build: ninja moga_tune_tests; run: ctest -R tune.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "runtime/jit/jit.h"
#include "runtime/attention/registry.h"
#include "runtime/tune/space.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace moga::tune;
namespace rt = moga::rt;

namespace {

// A manifest shaped like the codegen's (moga.json's stga kernel, programs trimmed).
json sample_manifest() {
  return json::parse(R"({
    "pattern": "moga", "layout": "video", "params": {"M": 5},
    "kernels": [
      {"name": "stga", "weight": 0.5, "accumulate": false, "route": null, "route_gate": false,
       "scale": null, "softcap": null, "structure": "grouped_masked", "uses": ["frame"],
       "entries": {"attention": "moga_moga_stga_attn"},
       "tiles": {"block_m": 128, "block_n": 64, "warps": 4, "stages": 2, "head_dim": 128},
       "tunable": {"block_m": [64, 128], "block_n": [32, 64, 128], "warps": [4, 8], "stages": [2, 3]},
       "mask": {"args": ["q", "kv"], "ops": [{"op": "const", "type": "i1", "value": 1}], "result": 0},
       "key": null, "bias": null, "gate": null},
      {"name": "local", "weight": 0.5, "accumulate": true, "route": null, "route_gate": false,
       "scale": null, "softcap": null, "structure": "masked", "uses": [],
       "tiles": {"block_m": 64, "block_n": 64, "warps": 4, "stages": 3, "head_dim": 128},
       "mask": null, "key": null, "bias": null, "gate": null}
    ]})");
}

std::string read_all(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

}  // namespace

TEST(TuneConfig, IdRoundTripsAndRejectsJunk) {
  const Config c{128, 64, 4, 2};
  EXPECT_EQ(c.id(), "bm128_bn64_w4_s2");
  ASSERT_TRUE(Config::parse("bm128_bn64_w4_s2"));
  EXPECT_EQ(*Config::parse("bm128_bn64_w4_s2"), c);
  for (const char* bad : {"", "bm128_bn64_w4", "bm128_bn64_w4_s2x", " bm128_bn64_w4_s2", "bm0_bn64_w4_s2",
                          "bm-128_bn64_w4_s2", "bm+128_bn64_w4_s2", "128x64x4x2"})
    EXPECT_FALSE(Config::parse(bad)) << bad;
}

TEST(TuneSpace, ReadsTilesAndTunableLists) {
  const KernelInfo k = kernel_info(sample_manifest(), "stga");
  EXPECT_EQ(k.pattern, "moga");
  EXPECT_EQ(k.tiles, (Config{128, 64, 4, 2}));
  EXPECT_EQ(k.block_m, (std::vector<int>{64, 128}));
  EXPECT_EQ(k.block_n, (std::vector<int>{32, 64, 128}));
  EXPECT_EQ(k.warps, (std::vector<int>{4, 8}));
  EXPECT_EQ(k.stages, (std::vector<int>{2, 3}));
  // No "tunable": the space is the manifest's tiles alone.
  const KernelInfo l = kernel_info(sample_manifest(), "local");
  EXPECT_EQ(l.block_m, (std::vector<int>{64}));
  EXPECT_EQ(l.stages, (std::vector<int>{3}));
  try {
    kernel_info(sample_manifest(), "nope");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("kernels: stga, local"), std::string::npos) << e.what();
  }
}

TEST(TuneSpace, PatternHashIgnoresTilingButNotSemantics) {
  const json m = sample_manifest();
  const uint64_t h = kernel_info(m, "stga").pattern_hash;
  EXPECT_EQ(kernel_info(sample_manifest(), "stga").pattern_hash, h);  // stable
  EXPECT_NE(kernel_info(m, "local").pattern_hash, h);

  json t = m;  // tiles / tunable / other kernels / params do not change it
  t["kernels"][0]["tiles"]["block_n"] = 128;
  t["kernels"][0]["tunable"]["stages"] = {2, 3, 4};
  t["kernels"][1]["weight"] = 0.25;
  t["source_file"] = "/elsewhere/moga.moga";
  EXPECT_EQ(kernel_info(t, "stga").pattern_hash, h);

  for (auto edit : std::vector<std::function<void(json&)>>{
           [](json& j) { j["kernels"][0]["weight"] = 0.25; },
           [](json& j) { j["kernels"][0]["mask"]["ops"][0]["value"] = 0; },
           [](json& j) { j["kernels"][0]["softcap"] = 30.0; },
           [](json& j) { j["kernels"][0]["name"] = "stga2"; },
           [](json& j) { j["layout"] = "seq"; },
       }) {
    json e = m;
    edit(e);
    EXPECT_NE(all_kernels(e)[0].pattern_hash, h) << e["kernels"][0].dump();
  }
  EXPECT_EQ(kernel_info(m, "stga").pattern_hash_hex().size(), 16u);
}

// Values worked out by hand from AttnFwdCfg in kernels_src/cuda/attention_fwd.cuh:
//   main = BM*D*2 + STAGES*2*BN*D*2,  epi = BM*(D+8)*4,  smem = max(main, epi).
TEST(TuneSpace, SharedMemoryFormulaKnownValues) {
  EXPECT_EQ(attn_fwd_smem_bytes(128, {128, 64, 4, 2}), 98304);    // 32768 + 2*32768
  EXPECT_EQ(attn_fwd_smem_bytes(128, {64, 128, 4, 3}), 212992);   // 16384 + 3*65536
  EXPECT_EQ(attn_fwd_smem_bytes(128, {128, 128, 8, 3}), 229376);  // 32768 + 3*65536: fits 227 KiB
  EXPECT_EQ(attn_fwd_smem_bytes(128, {128, 128, 4, 4}), 294912);  // does not
  EXPECT_EQ(attn_fwd_smem_bytes(64, {128, 32, 4, 2}), 36864);     // the epilogue's 128*72*4 wins
  EXPECT_EQ(attn_fwd_smem_bytes(64, {64, 64, 4, 2}), 40960);      // 8192 + 2*16384
}

// The formula against the header itself: NVRTC (no GPU needed) compiles static_asserts comparing
// AttnFwdCfg<...>::kSmemBytes with attn_fwd_smem_bytes(); a drift in either breaks this test.
TEST(TuneSpace, SharedMemoryFormulaMatchesTheHeader) {
  const char* src_dir = std::getenv("MOGA_SOURCE_DIR");
  if (!src_dir) GTEST_SKIP() << "MOGA_SOURCE_DIR not set (run through ctest)";
  char tmpl[] = "/tmp/moga-tune-nvrtc-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  setenv("MOGA_CACHE_DIR", tmpl, 1);
  moga::jit::CompileOptions opt;
  opt.arch = "sm_90";
  opt.name = "tune_smem_pin";
  for (const auto& e : fs::directory_iterator(fs::path(src_dir) / "kernels_src/cuda"))
    if (e.path().extension() == ".cuh") opt.headers.push_back({e.path().filename().string(), read_all(e.path())});
  std::string src = "#include \"attention_fwd.cuh\"\n";
  int n = 0;
  for (int D : {64, 128})
    for (int bm : {64, 128})
      for (int bn : {32, 64, 128})
        for (int w : {4, 8})
          for (int s : {2, 3, 4}) {
            const Config c{bm, bn, w, s};
            if (bm % (16 * w) != 0) continue;  // the header's own static_assert would fire
            src += fmt::format("static_assert(moga::AttnFwdCfg<{}, {}, {}, {}, {}>::kSmemBytes == {}, \"{} D={}\");\n",
                               D, bm, bn, w, s, attn_fwd_smem_bytes(D, c), c.id(), D);
            ++n;
          }
  EXPECT_GT(n, 30);
  try {
    moga::jit::compile(src, opt);
  } catch (const moga::jit::CompileError& e) {
    FAIL() << "the host formula disagrees with AttnFwdCfg:\n" << e.log();
  }
  // And the check can fail: a wrong value is caught.
  try {
    moga::jit::compile("#include \"attention_fwd.cuh\"\nstatic_assert(moga::AttnFwdCfg<128, 128, 64, 4, 2>::kSmemBytes"
                       " == 98305, \"off by one\");\n",
                       opt);
    FAIL() << "a wrong value compiled";
  } catch (const moga::jit::CompileError& e) {
    EXPECT_NE(e.log().find("off by one"), std::string::npos) << e.log();
  }
  unsetenv("MOGA_CACHE_DIR");
  fs::remove_all(tmpl);
}

TEST(TuneSpace, StaticRulesEachReject) {
  const DeviceLimits h100 = DeviceLimits::assumed_h100();
  EXPECT_EQ(h100.smem_optin_bytes, 232448);
  EXPECT_EQ(static_check({128, 64, 4, 2}, 128, h100), "");
  EXPECT_EQ(static_check({128, 128, 8, 3}, 128, h100), "");  // 229376 B: just fits
  struct Case {
    Config c;
    int D;
    const char* expect;
  };
  for (const Case& k : std::vector<Case>{
           {{64, 64, 8, 2}, 128, "BM 64 is not a multiple of 16 * warps = 128"},
           {{128, 40, 4, 2}, 128, "BN 40 is not a multiple of 16"},
           {{128, 128, 4, 4}, 128, "shared memory 294912 B > opt-in limit 232448 B"},
           {{256, 64, 4, 2}, 128, "m-tiles per warp"},
           {{128, 64, 4, 5}, 128, "stages 5 outside 2..4"},
           {{64, 64, 2, 2}, 128, "row step 4 is not"},              // 64 threads / 16 chunks = 4
           {{48, 64, 3, 2}, 128, "row step 6 is not"},
           {{128, 64, 4, 2}, 96, "head dim 96"},
           {{512, 64, 32, 2}, 128, "warps 32 outside"},
           {{128, 16, 8, 2}, 64, "load row step 32"},               // BN 16 < 256 threads / 8 chunks
       }) {
    const std::string why = static_check(k.c, k.D, h100);
    EXPECT_NE(why.find(k.expect), std::string::npos) << k.c.id() << " D=" << k.D << ": '" << why << "'";
  }
  DeviceLimits small = h100;
  small.smem_optin_bytes = 99 * 1024;  // an sm_86-sized limit
  EXPECT_NE(static_check({128, 64, 4, 3}, 128, small).find("shared memory 131072 B > opt-in limit 101376 B"),
            std::string::npos);
}

TEST(TuneSpace, RegistersAreCheckedAfterTheCompile) {
  const DeviceLimits h100 = DeviceLimits::assumed_h100();
  EXPECT_EQ(resource_check({128, 64, 4, 2}, 255, 98304, h100), "");   // 255 x 128 threads
  EXPECT_EQ(resource_check({128, 64, 8, 2}, 255, 0, h100), "");       // 65280 <= 65536
  DeviceLimits half = h100;
  half.regs_per_block = 32768;
  EXPECT_NE(resource_check({128, 64, 8, 2}, 200, 0, half).find("registers 200 x 256 threads = 51200 > 32768"),
            std::string::npos);
  EXPECT_NE(resource_check({128, 64, 4, 2}, 0, 300000, h100).find("module shared memory"), std::string::npos);
  EXPECT_EQ(resource_check({128, 64, 4, 2}, 0, 0, h100), "");  // unknown: not checked
}

// The manifest's product alone: H100 limits on an sm_80 target, where only sm80.mma runs.
DeviceLimits mma_only() {
  DeviceLimits l = DeviceLimits::assumed_h100();
  l.arch = "sm_80";
  return l;
}

TEST(TuneSpace, FullProductPrunedBeforeCompiling) {
  const KernelInfo k = kernel_info(sample_manifest(), "stga");
  const Space s128 = build_space(k, 128, mma_only());
  EXPECT_EQ(s128.total(), 24u);  // 2 x 3 x 2 x 2
  EXPECT_EQ(s128.kept.size(), 18u);
  ASSERT_EQ(s128.pruned.size(), 6u);  // BM 64 with 8 warps, for every BN and stages
  for (const Pruned& p : s128.pruned) {
    EXPECT_EQ(p.config.block_m, 64);
    EXPECT_EQ(p.config.warps, 8);
    EXPECT_NE(p.reason.find("16 * warps"), std::string::npos) << p.reason;
  }
  EXPECT_TRUE(std::is_sorted(s128.kept.begin(), s128.kept.end()));
  std::set<std::string> ids;
  for (const Config& c : s128.kept) ids.insert(c.id());
  EXPECT_EQ(ids.size(), s128.kept.size());

  DeviceLimits small = mma_only();
  small.smem_optin_bytes = 99 * 1024;
  const Space s_small = build_space(k, 128, small);
  EXPECT_LT(s_small.kept.size(), s128.kept.size());
  size_t smem_pruned = 0;
  for (const Pruned& p : s_small.pruned) smem_pruned += p.reason.find("shared memory") != std::string::npos;
  EXPECT_GT(smem_pruned, 0u);
  for (const Config& c : s_small.kept) EXPECT_LE(attn_fwd_smem_bytes(128, c), small.smem_optin_bytes);
}

TEST(TuneSpace, HeuristicDefaultIsTheManifestTilesWhenTheyFit) {
  const KernelInfo k = kernel_info(sample_manifest(), "stga");
  const Space s = build_space(k, 128, mma_only());
  EXPECT_EQ(*heuristic_default(k, s, mma_only()), k.tiles);

  // Manifest tiles that cannot run (too much shared memory on a small device): the closest kept one.
  KernelInfo big = k;
  big.tiles = {128, 128, 4, 3};
  DeviceLimits small = mma_only();
  small.smem_optin_bytes = 99 * 1024;
  const Space ss = build_space(big, 128, small);
  const std::optional<Config> d = heuristic_default(big, ss, small);
  ASSERT_TRUE(d);
  EXPECT_TRUE(static_check(*d, 128, small).empty());
  EXPECT_EQ(*d, (Config{128, 64, 4, 2})) << d->id();  // one halving of BN and one stage less: 98304 B

  KernelInfo none = k;
  none.block_m = {48};
  none.tiles = {48, 64, 4, 2};
  EXPECT_FALSE(heuristic_default(none, build_space(none, 128, small), small));
}

namespace {

// The wgmma rows of the kernel registry (sm_90 only, D = 128) compete in the space with every tile
// configuration of their space; sm90.ws 128/128/3 is the heuristic default where it can run, as it is
// the runtime's own default (Engine::Auto). Its id is the one older databases hold.
TEST(TuneSpace, WgmmaRowsAreCandidatesOnlyWhereTheyRun) {
  const Config wg = Config::wgmma_kernel();
  EXPECT_EQ(wg.id(), "wg_bm128_bn128_w8_s3");
  ASSERT_TRUE(Config::parse(wg.id()).has_value());
  EXPECT_EQ(*Config::parse(wg.id()), wg);
  EXPECT_NE(wg, (Config{128, 128, 8, 3}));  // the mma.sync config of the same tiles is another one
  const Config pers{128, 64, 8, 4, "sm90.ws.persistent"};
  EXPECT_EQ(pers.id(), "wgp_bm128_bn64_w8_s4");
  ASSERT_TRUE(Config::parse(pers.id()).has_value());
  EXPECT_EQ(*Config::parse(pers.id()), pers);
  EXPECT_FALSE(Config::parse("wgx_bm128_bn64_w8_s4").has_value());
  EXPECT_EQ(pers.threads(), 384);
  EXPECT_EQ(attn_fwd_smem_bytes(128, wg), 232128);

  const KernelInfo k = kernel_info(sample_manifest(), "stga");
  const DeviceLimits sm90 = DeviceLimits::assumed_h100();
  const Space with = build_space(k, 128, sm90), without = build_space(k, 128, mma_only());
  size_t rows = 0, gathering_rows = 0;
  for (const rt::KernelVariant& v : rt::kernel_registry())
    if (v.engine == rt::Engine::Wgmma && !v.fp8) {
      rows += v.tile_space(128).size();
      if (!v.gather_row) gathering_rows += v.tile_space(128).size();
    }
  EXPECT_EQ(rows, 5u * 5u + 4u * 6u);  // five wgmma rows of five tile configurations each, four TMA rows of six
  EXPECT_FALSE(k.gathers);        // the sample's stga has no key
  EXPECT_EQ(with.kept.size(), without.kept.size() + rows);
  // with a key (computed groups: sorted tokens) the row without a gather (sm90.tma) is no candidate
  json keyed = sample_manifest();
  keyed["kernels"][0]["key"] = {{"args", {"t"}}, {"ops", json::array()}, {"result", 0}};
  const KernelInfo kk = kernel_info(keyed, "stga");
  EXPECT_TRUE(kk.gathers);
  EXPECT_EQ(build_space(kk, 128, sm90).kept.size(), without.kept.size() + gathering_rows);
  EXPECT_EQ(gathering_rows, 5u * 5u + 6u);  // the cp.async rows and sm90.tma.sorted (sorted copies)
  EXPECT_NE(std::find(with.kept.begin(), with.kept.end(), wg), with.kept.end());
  EXPECT_NE(std::find(with.kept.begin(), with.kept.end(), pers), with.kept.end());
  EXPECT_EQ(std::find(without.kept.begin(), without.kept.end(), wg), without.kept.end());
  const Space d64 = build_space(k, 64, sm90);
  EXPECT_EQ(std::find(d64.kept.begin(), d64.kept.end(), wg), d64.kept.end());
  EXPECT_NE(static_check(wg, 64, sm90).find("head dim 128"), std::string::npos);
  EXPECT_NE(static_check(Config{128, 128, 8, 4, "sm90.ws"}, 128, sm90).find("shared memory"), std::string::npos);

  // stga here has a mask and no gather: the runtime's own choice is the TMA row's 128/176/2, a keyed one's sm90.ws
  EXPECT_EQ(*heuristic_default(k, with, sm90), Config::tma_kernel());
  EXPECT_EQ(*heuristic_default(kk, build_space(kk, 128, sm90), sm90), wg);
  // a gathered kernel whose manifest plan names a row (attn-assign-tiles: a key in token order runs
  // sm90.tma.sorted) defaults to that row at the plan's head dims, as the runtime launches it; not at others
  json planned = keyed;
  planned["kernels"][0]["plan"] = {{"sm_90", {{"variant", "sm90.tma.sorted"}, {"block_m", 128}, {"block_n", 128},
                                              {"warps", 8}, {"stages", 2}, {"head_dims", {128}}}}};
  const KernelInfo kp = kernel_info(planned, "stga");
  EXPECT_EQ(*heuristic_default(kp, build_space(kp, 128, sm90), sm90), (Config{128, 128, 8, 2, "sm90.tma.sorted"}));
  EXPECT_EQ(*heuristic_default(kp, build_space(kp, 64, sm90), sm90), *heuristic_default(kk, build_space(kk, 64, sm90), sm90));
  EXPECT_EQ(*heuristic_default(k, without, mma_only()), k.tiles);
  EXPECT_EQ(*heuristic_default(k, d64, sm90), k.tiles);
  // a dense kernel (no mask, no gather): the same
  const KernelInfo local = kernel_info(sample_manifest(), "local");
  EXPECT_TRUE(local.dense);
  EXPECT_FALSE(k.dense);
  EXPECT_EQ(Config::tma_kernel().id(), "wgt_bm128_bn176_w8_s2");
  ASSERT_TRUE(Config::parse(Config::tma_kernel().id()).has_value());
  EXPECT_EQ(*Config::parse(Config::tma_kernel().id()), Config::tma_kernel());
  EXPECT_EQ(*heuristic_default(local, build_space(local, 128, sm90), sm90), Config::tma_kernel());
  EXPECT_EQ(*heuristic_default(local, build_space(local, 128, mma_only()), mma_only()), local.tiles);
}

// The space is the registry's on every arch: on sm_90 every row appears with its whole tile space (the
// wgmma rows kept or pruned with a reason, none silently missing); on sm_80/86/89 only the rows that
// run there (sm80.mma), none of sm_90's; on sm_75 nothing runs. Tiles a row refuses are refused by the
// tuner with the registry's own message (one rule, KernelVariant::check_tiles).
TEST(TuneSpace, SpaceIsTheRegistrysOnEveryArch) {
  const KernelInfo k = kernel_info(sample_manifest(), "stga");
  const Space sm90 = build_space(k, 128, DeviceLimits::assumed("sm_90"));
  for (const rt::KernelVariant& v : rt::kernel_registry()) {
    if (v.fp8) continue;  // not searched: the tuner keeps the precision the user chose
    size_t kept = 0;
    for (const Config& c : sm90.kept) kept += c.variant == v.name;
    EXPECT_GT(kept, 0u) << v.name << " has no config in the sm_90 space";
    if (v.engine == rt::Engine::MmaSync) continue;
    for (const rt::TileConfig& t : v.tile_space(128)) {
      const Config c{t.block_m, t.block_n, t.warps, t.stages, v.name};
      const bool in_kept = std::find(sm90.kept.begin(), sm90.kept.end(), c) != sm90.kept.end();
      const bool in_pruned = std::any_of(sm90.pruned.begin(), sm90.pruned.end(),
                                         [&](const Pruned& p) { return p.config == c; });
      EXPECT_TRUE(in_kept != in_pruned) << c.id() << " must be kept or pruned, exactly once";
    }
  }
  for (const char* arch : {"sm_80", "sm_86", "sm_89"}) {
    const Space s = build_space(k, 128, DeviceLimits::assumed(arch));
    EXPECT_FALSE(s.kept.empty()) << arch;
    for (const Config& c : s.kept) {
      EXPECT_EQ(c.variant, "sm80.mma") << arch << ": " << c.id();
      EXPECT_TRUE(rt::find_variant(c.variant)->runs_on(arch)) << arch << ": " << c.id();
    }
    for (const Pruned& p : s.pruned) EXPECT_EQ(p.config.variant, "sm80.mma") << arch << ": " << p.config.id();
    for (const Config& c : s.kept) EXPECT_LE(attn_fwd_smem_bytes(128, c), DeviceLimits::assumed(arch).smem_optin_bytes);
  }
  const DeviceLimits sm75 = DeviceLimits::assumed("sm_75");
  const Space old = build_space(k, 128, sm75);
  EXPECT_TRUE(old.kept.empty());
  ASSERT_FALSE(old.pruned.empty());
  EXPECT_NE(old.pruned[0].reason.find("sm80.mma does not run on sm_75"), std::string::npos) << old.pruned[0].reason;

  const DeviceLimits h100 = DeviceLimits::assumed_h100();
  const rt::KernelVariant& mma = *rt::find_variant("sm80.mma");
  const rt::KernelVariant& ws = *rt::find_variant("sm90.ws");
  for (const Config& bad : {Config{100, 64, 4, 2}, Config{128, 40, 4, 2}, Config{128, 64, 4, 5},
                            Config{64, 128, 8, 3, "sm90.ws"}, Config{128, 96, 8, 3, "sm90.ws"}}) {
    const rt::KernelVariant& row = bad.variant == "sm90.ws" ? ws : mma;
    const std::string why = row.check_tiles(rt::TileConfig{bad.block_m, bad.block_n, bad.warps, bad.stages}, 128);
    EXPECT_FALSE(why.empty()) << bad.id();
    EXPECT_EQ(static_check(bad, 128, h100), why) << bad.id();
  }
  EXPECT_EQ(static_check(Config{100, 64, 4, 2}, 128, h100), "BM 100 is not a multiple of 16 * warps = 64");
  EXPECT_EQ(static_check(Config{64, 128, 8, 3, "sm90.ws"}, 128, h100), "BM must be 128 (two consumer warpgroups of 64 rows)");
  EXPECT_EQ(static_check(Config{128, 128, 8, 3, "sm90.nope"}, 128, h100), "no kernel variant 'sm90.nope'");
}

}  // namespace
