// The FP8 path without a device: the host model's error against float64 (the prediction the GPU tests
// check), the registry row and AttentionOptions::precision, the order of V^T's keys against the packing of
// P, the prep's layout and tensor-map shapes, and the NVRTC compile of the row with ptxas's register and
// spill report.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <iostream>
#include <random>
#include <regex>
#include <set>

#include "kernels_src/cuda/fp8_prep.cuh"
#include "runtime/attention/attention.h"
#include "runtime/attention/compiled_embed.h"
#include "runtime/attention/fp8.h"
#include "runtime/jit/jit.h"
#include "runtime/kernels/embedded.h"
#include "test/unit/fp8_model.h"

namespace moga::rt {
const std::vector<CompiledText>& test_patterns();
}

using namespace moga::rt;
using moga::test::add_outlier_channels;
using moga::test::dense_attention_f64;
using moga::test::fp8_attention_model;
using moga::test::rel_l2;
using moga::test::round_e4m3;

namespace {

// The FP8 bound the GPU tests use (rel L2 against float64): the model gives 0.039 (uniform) and 0.047
// (outlier channels, rotated) at N = 700; the margin covers the GPU's float32 and exp2 differences.
constexpr double kFp8Bound = 6e-2;

LoadedPattern test_pattern(const std::string& label) {
  for (const auto& e : test_patterns())
    if (label == e.label) return load_from_text(e.cuda, e.manifest, e.label);
  throw std::runtime_error("no test pattern " + label);
}

float round_bf(float f) {  // to bf16, nearest even (the inputs the GPU sees)
  uint32_t u;
  std::memcpy(&u, &f, 4);
  u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
  std::memcpy(&f, &u, 4);
  return f;
}

AttentionOptions fp8_options(const std::string& arch = "sm_90") {
  AttentionOptions o;
  o.arch = arch;
  o.precision = Precision::Fp8;
  return o;
}

}  // namespace

// e4m3: 3 mantissa bits, normals from 2^-6, subnormals in steps of 2^-9, saturating at 448, ties to even.
TEST(fp8_model, RoundsToE4m3) {
  EXPECT_EQ(round_e4m3(1.0), 1.0);
  EXPECT_EQ(round_e4m3(1.0625), 1.0);    // halfway between 1 and 1.125: to even
  EXPECT_EQ(round_e4m3(1.1875), 1.25);   // halfway between 1.125 and 1.25: to even
  EXPECT_EQ(round_e4m3(448.0), 448.0);
  EXPECT_EQ(round_e4m3(1e6), 448.0);
  EXPECT_EQ(round_e4m3(-500.0), -448.0);
  EXPECT_EQ(round_e4m3(std::ldexp(1.0, -9)), std::ldexp(1.0, -9));
  EXPECT_EQ(round_e4m3(std::ldexp(1.0, -11)), 0.0);
  EXPECT_EQ(round_e4m3(3.0 * std::ldexp(1.0, -10)), std::ldexp(2.0, -9));  // 1.5 steps: to even (2)
}

// The model of the FP8 algorithm against float64 dense attention on bf16 inputs: uniform(-1, 1), and the
// same with outlier channels (q, k x8, v x4 on 4 of 128 channels). Prints the figures with and without
// the Hadamard rotation of q and k (why the prep rotates: 0.135 without it with outliers); the kernel's
// path within the bound the GPU tests use. A length that is no multiple of the key tile.
TEST(fp8_model, ErrorAgainstFloat64) {
  const int B = 1, N = 700, H = 2, D = 128;
  const size_t n = (size_t)B * N * H * D;
  for (bool outliers : {false, true}) {
    std::mt19937_64 rng(outliers ? 17 : 11);
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    std::vector<float> t[3];
    for (int w = 0; w < 3; ++w) {
      t[w].resize(n);
      for (float& x : t[w]) x = u(rng);
      if (outliers) add_outlier_channels(t[w], D, w);
      for (float& x : t[w]) x = round_bf(x);
    }
    const std::vector<double> ref = dense_attention_f64(t[0], t[1], t[2], B, N, N, H, D);
    for (int bn : {128, 192})
      for (bool rot : {false, true}) {
        const double rel = rel_l2(fp8_attention_model(t[0], t[1], t[2], B, N, N, H, D, bn, rot), ref);
        std::cout << (outliers ? "outlier channels" : "uniform(-1, 1)") << ", BN " << bn
                  << (rot ? ", q and k rotated (the kernel's path)" : ", without the rotation")
                  << ": FP8 model rel L2 " << rel << " (bound " << kFp8Bound << ")\n";
        if (rot) EXPECT_LE(rel, kFp8Bound);
        EXPECT_GT(rel, 1e-3) << "the model must carry FP8 rounding";
        if (!rot) continue;
        // the default row's algorithm (l from the e4m3 P, the conditional rescale): the same bound
        const double rel_sum = rel_l2(
            fp8_attention_model(t[0], t[1], t[2], B, N, N, H, D, bn, rot, moga::test::fp8_algo_of_row("sm90.tma.fp8.sum")),
            ref);
        std::cout << "  sm90.tma.fp8.sum's algorithm: FP8 model rel L2 " << rel_sum << "\n";
        EXPECT_LE(rel_sum, kFp8Bound);
        EXPECT_NE(rel_sum, rel) << "the row's algorithm must change the rounding";
      }
  }
}

// sm90.tma.fp8.sum's conditional rescale where maxima do move: keys of growing norm (key j scaled by 1 + 6 j / N), so
// the rows' maxima climb from ~2 to ~8.5 (log2 units) over the 5-8 key tiles: a numpy replay of the rule on such
// inputs kept the maximum on 3,049 row-tiles and moved it on 3,251 at BN 128 (953 / 2,647 at 192), so both paths run. The row's algorithm is as accurate against float64 as the exact-maximum one (within 5%; both ~0.07 here:
// larger logits, larger FP8 error) and within the GPU tests' model tolerance of it (they differ only in e4m3
// roundings of P).
TEST(fp8_model, ConditionalRescaleWhereMaximaMove) {
  const int B = 1, N = 900, H = 1, D = 128;
  std::mt19937_64 rng(23);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> t[3];
  for (int w = 0; w < 3; ++w) {
    t[w].resize((size_t)N * D);
    for (float& x : t[w]) x = u(rng);
  }
  for (int j = 0; j < N; ++j)
    for (int d = 0; d < D; ++d) t[1][(size_t)j * D + d] = round_bf(t[1][(size_t)j * D + d] * (1.f + 6.f * j / N));
  for (int w : {0, 2})
    for (float& x : t[w]) x = round_bf(x);
  const std::vector<double> ref = dense_attention_f64(t[0], t[1], t[2], B, N, N, H, D);
  for (int bn : {128, 192}) {
    const std::vector<double> exact = fp8_attention_model(t[0], t[1], t[2], B, N, N, H, D, bn, true);
    const std::vector<double> lazy =
        fp8_attention_model(t[0], t[1], t[2], B, N, N, H, D, bn, true, moga::test::fp8_algo_of_row("sm90.tma.fp8.sum"));
    const double rel = rel_l2(lazy, ref), rel_exact = rel_l2(exact, ref), apart = rel_l2(lazy, exact);
    std::cout << "BN " << bn << ": keys of growing norm, the row's algorithm rel L2 " << rel << " (exact maximum "
              << rel_exact << "), the two algorithms " << apart << " apart\n";
    EXPECT_LE(rel, 1.05 * rel_exact);
    EXPECT_LE(apart, 1.5e-2);
    EXPECT_GT(apart, 0.0) << "the inputs must reach the stale-maximum path";
  }
}

// The packing of P (mainloop_fp8.cuh fp8_rescale_and_pack) and V^T's key order (fp8_key_slot) agree: the
// thread with lane % 4 = t puts accumulator s[16 kb + 8 half + 2 hr + j] (j in 0, 1, 4, 5) at k index
// 32 kb + 16 half + 4 t + i (i = 0..3); that accumulator is key 8 nt + 2 t + e with nt = 4 kb + 2 half + j / 4,
// e = j % 2 (the f32 accumulator layout). V^T must hold that key at that k index.
TEST(fp8_layout, KeySlotsMatchThePackingOfP) {
  const int js[4] = {0, 1, 4, 5};
  std::set<int> slots;
  for (int kb = 0; kb < 6; ++kb)
    for (int half = 0; half < 2; ++half)
      for (int t = 0; t < 4; ++t)
        for (int i = 0; i < 4; ++i) {
          const int j = js[i];
          const int nt = 4 * kb + 2 * half + j / 4, e = j % 2;
          const int key = 8 * nt + 2 * t + e;
          const int k_index = 32 * kb + 16 * half + 4 * t + i;
          EXPECT_EQ(moga::fp8_key_slot(key), k_index) << "key " << key;
          slots.insert(moga::fp8_key_slot(key));
        }
  EXPECT_EQ(slots.size(), 192u) << "a permutation";
  for (int r = 0; r < 64; ++r) {
    EXPECT_EQ(moga::fp8_key_slot(r) / 16, r / 16) << "stays in its block of 16";
    const int c = moga::fp8_key_slot(r);  // the inverse the GPU test reads V^T with
    EXPECT_EQ((c & ~15) | (((c >> 1) & 1) << 3) | (((c >> 2) & 3) << 1) | (c & 1), r);
  }
}

TEST(fp8_layout, PrepLayoutAndMapShapes) {
  const Fp8Layout l = fp8_layout(2, 3, 1000, 77);
  EXPECT_EQ(l.ldv, 128);  // 77 keys rounded up to 64
  EXPECT_EQ(l.q_bytes, 2u * 3 * 1000 * 128);
  EXPECT_EQ(l.k_bytes, 2u * 3 * 77 * 128);
  EXPECT_EQ(l.vt_bytes, 2u * 3 * 128 * 128);
  EXPECT_EQ(l.amax_bytes, 3u * 2 * 3 * 4);
  const Fp8MapShapes s = fp8_map_shapes(l, 128, 192);
  EXPECT_EQ(s.q.dims[1], 1000u);
  EXPECT_EQ(s.q.strides[0], 3u * 128);         // token
  EXPECT_EQ(s.q.strides[2], 1000u * 3 * 128);  // batch
  EXPECT_EQ(s.q.box[1], 128u);
  EXPECT_EQ(s.k.dims[1], 77u);
  EXPECT_EQ(s.k.box[1], 192u);
  EXPECT_EQ(s.vt_swizzle, 64);  // 192 keys: three boxes of 64
  EXPECT_EQ(s.v.box[0], 64u);
  EXPECT_EQ(s.v.dims[0], 128u);
  EXPECT_EQ(s.v.strides[0], 128u);
  EXPECT_EQ(s.v.strides[2], 3u * 128 * 128);
  EXPECT_EQ(fp8_map_shapes(l, 128, 128).vt_swizzle, 128);
  for (const TmaShape* m : {&s.q, &s.k, &s.v})
    for (uint64_t st : m->strides) EXPECT_EQ(st % 16, 0u) << "TMA strides are multiples of 16 bytes";
}

TEST(fp8_registry, RowAndPrecisionOption) {
  const KernelVariant& v = *find_variant("sm90.tma.fp8");
  EXPECT_TRUE(v.fp8);
  EXPECT_TRUE(v.tma);
  EXPECT_EQ(v.default_tiles, kFp8Tiles);
  EXPECT_EQ(v.kernel_expr("moga_gen_full::full", 128, kFp8Tiles), "moga::attention_fwd_fp8<moga_gen_full::full, 128, 128, 192, 2>");
  EXPECT_EQ(v.smem_expr("moga_gen_full::full", 128, kFp8Tiles),
            "&moga::attn_fwd_fp8_smem_bytes<moga_gen_full::full, 128, 128, 192, 2>");
  EXPECT_NE(v.check_tiles(kFp8Tiles, 64).find("head dim 64"), std::string::npos);
  EXPECT_NE(v.check_tiles(TileConfig{128, 176, 8, 2}, 128).find("BN 176"), std::string::npos);
  // e4m3 tiles: half the bf16 row's bytes per tile (Q 16 KB, K and V^T 24 KB per stage at BN 192)
  EXPECT_EQ(v.smem_bytes(128, kFp8Tiles, 0, 0), 1024 + 2 * 2 * 192 * 128 + 128 * 128 + 10 * 8 + 16 + 64);
  EXPECT_EQ(v.tile_space(128).size(), 6u);
  // sm90.tma.fp8.sum: the kSum instantiation (LSE, kOverlap named false before it), its own shared-memory symbol,
  // V^T blocks of 136 rows (the V ring 2 x 192 x 136 = 52,224 B, already a multiple of 1,024)
  const KernelVariant& vs = *find_variant("sm90.tma.fp8.sum");
  EXPECT_EQ(vs.kernel_expr("moga_gen_full::full", 128, kFp8Tiles),
            "moga::attention_fwd_fp8<moga_gen_full::full, 128, 128, 192, 2, false, false, true>");
  EXPECT_EQ(vs.kernel_expr("moga_gen_full::full", 128, kFp8Tiles, true),
            "moga::attention_fwd_fp8<moga_gen_full::full, 128, 128, 192, 2, true, false, true>");
  EXPECT_EQ(vs.smem_expr("moga_gen_full::full", 128, kFp8Tiles),
            "&moga::attn_fwd_fp8_smem_bytes<moga_gen_full::full, 128, 128, 192, 2, true>");
  EXPECT_EQ(vs.smem_bytes(128, kFp8Tiles, 0, 0), 1024 + 2 * 192 * 128 + 2 * 192 * 136 + 128 * 128 + 10 * 8 + 16 + 64);
  // three stages at BN 192: 3 x 26,112 = 78,336 B of V^T rounded up to 78,848
  EXPECT_EQ(vs.smem_bytes(128, TileConfig{128, 192, 8, 3}, 0, 0),
            1024 + 3 * 192 * 128 + 78848 + 128 * 128 + 14 * 8 + 16 + 64);

  // precision = fp8: every kernel runs the row (gathered ones too: the prep copies in their order)
  EXPECT_EQ(v.gather_row, nullptr);
  for (const char* name : {"full", "causal", "moga", "moga_dynamic", "stga", "frame_local", "radial"}) {
    PatternAttention a(load_builtin(name), fp8_options());
    for (int ki = 0; ki < (int)a.spec().kernels.size(); ++ki) {
      EXPECT_STREQ(a.variant(ki).name, kFp8DefaultRow) << name << " " << a.spec().kernels[ki].name;
      EXPECT_EQ(a.tiles(ki).block_n % 64, 0) << name;
    }
  }
  // bf16 (the default) never runs it
  AttentionOptions bo;
  bo.arch = "sm_90";
  PatternAttention bf(load_builtin("full"), bo);
  EXPECT_STREQ(bf.variant(0).name, "sm90.tma");
  // head dim 64 or another arch: refused, naming what was asked
  try {
    PatternAttention(load_builtin("full"), fp8_options()).compile(64);
    ADD_FAILURE() << "fp8 at head dim 64 compiled";
  } catch (const NotSupportedError& e) {
    EXPECT_NE(std::string(e.what()).find("head dim 64"), std::string::npos) << e.what();
  }
  try {
    PatternAttention(load_builtin("full"), fp8_options("sm_80")).compile(128);
    ADD_FAILURE() << "fp8 on sm_80 compiled";
  } catch (const NotSupportedError& e) {
    EXPECT_NE(std::string(e.what()).find("sm_80"), std::string::npos) << e.what();
  }
  EXPECT_STREQ(precision_name(Precision::Fp8), "fp8");
}

// NVRTC compiles the row for the dense, masked (causal), hooks (mask, bias, softcap, gate) and moga (routed
// and keyed: gathered) patterns with the prep unit beside it; ptxas's report of each FP8 attention kernel printed (registers, spills). The
// consumers of the dense kernel at BN 128 must not spill.
TEST(fp8_jit, CompilesTheRowWithPtxasReport) {
  char tmpl[] = "/tmp/moga-attn-fp8-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  setenv("MOGA_CACHE_DIR", tmpl, 1);
  for (const LoadedPattern& lp :
       {load_builtin("full"), load_builtin("causal"), test_pattern("attn_hooks"), load_builtin("moga")}) {
    PatternAttention a(lp, fp8_options());
    const ModuleInfo mi = a.compile(128);
    bool prep = false;
    for (const auto& u : mi.units) prep |= u.name == "moga-fp8-prep";
    EXPECT_TRUE(prep) << lp.name << ": no FP8 prep unit";
    for (int ki = 0; ki < (int)a.spec().kernels.size(); ++ki) EXPECT_STREQ(a.variant(ki).name, kFp8DefaultRow);
  }
  // ptxas -v on the dense kernel at both key tiles (the source the runtime compiles), of the default row and of
  // sm90.tma.fp8.sum (its n136 P V and rows of ones)
  const LoadedPattern full = load_builtin("full");
  for (const char* row : {"sm90.tma.fp8", "sm90.tma.fp8.sum"})
  for (int bn : {128, 192}) {
    const KernelVariant& v = *find_variant(row);
    moga::jit::CompileOptions o;
    o.arch = "sm_90a";
    o.name = "fp8-ptxas-report";
    o.flags = {"--ptxas-options=-v"};
    o.defines = {"MOGA_NO_PREP_KERNELS"};
    for (const auto& h : moga::kernels::embedded_headers()) o.headers.push_back({h.name, h.text});
    const TileConfig t{128, bn, 8, 2};
    o.name_expressions = {v.kernel_expr("moga_gen_full::full", 128, t)};
    const moga::jit::CompiledKernel ck = moga::jit::compile(full.cuda, o);
    std::cout << row << " 128/" << bn << "/2 ptxas:\n" << ck.log << "\n";
    std::smatch m;
    const std::regex spill("(\\d+) bytes spill stores");
    ASSERT_TRUE(std::regex_search(ck.log, m, spill)) << "no ptxas report in the log";
    if (bn == 128) EXPECT_EQ(m[1], "0") << row << ": the dense FP8 kernel at BN 128 spills";
  }
  unsetenv("MOGA_CACHE_DIR");
  std::filesystem::remove_all(tmpl);
}
