// runtime/attention without a GPU: pattern loading, tensor views, and every argument check of
// PatternAttention::validate() (run() calls it before any launch, so a fake device pointer is enough
// to exercise them), plus one NVRTC compile of a shipped pattern (needs NVRTC, not a device).
#include <gtest/gtest.h>
#include <fmt/format.h>
#include <stdlib.h>

#include <cstdio>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <sstream>
#include <set>
#include <string>

#include "runtime/attention/attention.h"
#include "runtime/attention/compiled_embed.h"
#include "runtime/attention/pattern.h"
#include "runtime/attention/tensor.h"
#include "runtime/attention/tma_maps.h"
#include "kernels_src/cuda/prep.cuh"  // counting_sort_host, aligned_sorted_length
#include "runtime/jit/jit.h"
#include "runtime/kernels/embedded.h"

namespace moga::rt {
const std::vector<CompiledText>& test_patterns();
}

using namespace moga::rt;

namespace {

LoadedPattern test_pattern(const std::string& label) {
  for (const auto& e : test_patterns())
    if (label == e.label) return load_from_text(e.cuda, e.manifest, e.label);
  throw std::runtime_error("no test pattern " + label);
}

// Expects `fn` to throw E with every one of `parts` in its message.
template <class E, class F>
void expect_error(F&& fn, std::initializer_list<const char*> parts) {
  try {
    fn();
    ADD_FAILURE() << "no exception; expected one containing '" << *parts.begin() << "'";
  } catch (const E& e) {
    const std::string msg = e.what();
    for (const char* p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "message: " << msg << "\nmissing: " << p;
  }
}

// Fake, aligned, disjoint device addresses: validation never dereferences them.
constexpr CUdeviceptr kQ = 0x10000000, kK = 0x20000000, kV = 0x30000000, kO = 0x40000000, kX = 0x50000000,
                      kW = 0x60000000;

struct Args {
  TensorView q, k, v, o;
  AttentionShape s;
};

Args seq_args(int B, int N, int H, int D) {
  Args a;
  a.s = AttentionShape::seq(B, N, H, D);
  a.q = TensorView::contiguous(kQ, DType::BF16, {B, N, H, D});
  a.k = TensorView::contiguous(kK, DType::BF16, {B, N, H, D});
  a.v = TensorView::contiguous(kV, DType::BF16, {B, N, H, D});
  a.o = TensorView::contiguous(kO, DType::BF16, {B, N, H, D});
  return a;
}

Args video_args(int B, int F, int Hg, int Wd, int H, int D) {
  Args a = seq_args(B, F * Hg * Wd, H, D);
  a.s = AttentionShape::make_video(B, F, Hg, Wd, H, D);
  return a;
}

}  // namespace

TEST(attention_pattern, BuiltinsAreTheShippedNine) {
  const auto names = builtin_names();
  for (const char* n : {"full", "causal", "sliding_window", "moga_dynamic", "stga", "frame_local", "moga", "radial",
                        "natten2d"})
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  const LoadedPattern p = load_builtin("moga");
  EXPECT_EQ(p.name, "moga");
  EXPECT_EQ(p.origin, "builtin:moga");
  ASSERT_EQ(p.spec.kernels.size(), 3u);
  EXPECT_TRUE(p.spec.kernels[0].route.has_value());
  EXPECT_NE(p.cuda.find("entry.cuh"), std::string::npos);
}

TEST(attention_pattern, UnknownBuiltinListsTheShippedOnes) {
  expect_error<PatternError>([] { load_builtin("nope"); }, {"no shipped pattern 'nope'", "moga_dynamic", "causal"});
}

TEST(attention_pattern, LoadCompiledFolder) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("moga-attn-test-" + std::to_string(getpid()));
  fs::create_directories(dir);
  const auto& e = test_patterns()[0];
  std::ofstream(dir / "attn_all_masked.cu") << e.cuda;
  expect_error<PatternError>([&] { load_compiled(dir.string()); }, {"holds 0 manifests"});
  std::ofstream(dir / "attn_all_masked.json") << e.manifest;
  const LoadedPattern p = load_compiled(dir.string());
  EXPECT_EQ(p.name, "attn_all_masked");
  EXPECT_EQ(load_compiled(dir.string(), "attn_all_masked").name, "attn_all_masked");
  fs::remove(dir / "attn_all_masked.cu");
  expect_error<PatternError>([&] { load_compiled(dir.string()); }, {"missing CUDA source", "attn_all_masked.cu"});
  fs::remove_all(dir);
  expect_error<PatternError>([&] { load_compiled(dir.string()); }, {"is not a folder"});
}

TEST(attention_tensor, Describe) {
  const TensorView t = TensorView::contiguous(kQ, DType::F32, {2, 100, 12});
  EXPECT_EQ(t.describe(), "f32 [2, 100, 12]");
  EXPECT_TRUE(t.is_contiguous());
  const TensorView s = TensorView::strided(kQ, DType::BF16, {2, 10, 4, 64}, {7680, 768, 64, 1});
  EXPECT_EQ(s.describe(), "bf16 [2, 10, 4, 64] strides [7680, 768, 64, 1]");
  EXPECT_EQ(s.extent_bytes(), (int64_t)((1 * 7680 + 9 * 768 + 3 * 64 + 63 + 1) * 2));
}

TEST(attention_validate, WrongDtypeAndRankNameTheArgument) {
  PatternAttention attn(load_builtin("full"));
  Args a = seq_args(2, 100, 12, 128);
  a.q = TensorView::contiguous(kQ, DType::F32, {2, 100, 12});
  expect_error<ArgumentError>([&] { attn.validate(a.q, a.k, a.v, a.o, a.s, nullptr); },
                              {"q: expected bf16 [B=2, N=100, H=12, D=128] with D contiguous, got f32 [2, 100, 12]"});
  a = seq_args(2, 100, 12, 128);
  a.v = TensorView::contiguous(kV, DType::BF16, {2, 100, 12, 64});
  expect_error<ArgumentError>([&] { attn.validate(a.q, a.k, a.v, a.o, a.s, nullptr); },
                              {"v: expected bf16", "got bf16 [2, 100, 12, 64]"});
}

TEST(attention_validate, StridesAndAlignment) {
  PatternAttention attn(load_builtin("full"));
  Args a = seq_args(1, 64, 2, 64);
  a.k = TensorView::strided(kK, DType::BF16, {1, 64, 2, 64}, {64 * 2 * 64, 2 * 64, 1, 2});  // D not contiguous
  expect_error<ArgumentError>([&] { attn.validate(a.q, a.k, a.v, a.o, a.s, nullptr); }, {"k: expected", "strides"});
  a = seq_args(1, 64, 2, 64);
  a.k = TensorView::strided(kK, DType::BF16, {1, 64, 2, 64}, {64 * 136, 136, 68, 1});  // head stride 68
  expect_error<ArgumentError>([&] { attn.validate(a.q, a.k, a.v, a.o, a.s, nullptr); },
                              {"k: head stride 68", "multiple of 8"});
  a = seq_args(1, 64, 2, 64);
  a.q.ptr += 8;  // 8-byte aligned only
  expect_error<ArgumentError>([&] { attn.validate(a.q, a.k, a.v, a.o, a.s, nullptr); }, {"q: data pointer", "16-byte"});
  // a packed qkv tensor [B, N, 3, H, D] viewed per part is fine
  a = seq_args(1, 64, 2, 64);
  const int64_t sn = 3 * 2 * 64;
  a.q = TensorView::strided(kQ, DType::BF16, {1, 64, 2, 64}, {64 * sn, sn, 64, 1});
  a.k = TensorView::strided(kQ + 2 * 2 * 64, DType::BF16, {1, 64, 2, 64}, {64 * sn, sn, 64, 1});
  a.v = TensorView::strided(kQ + 2 * 2 * 2 * 64, DType::BF16, {1, 64, 2, 64}, {64 * sn, sn, 64, 1});
  EXPECT_NO_THROW(attn.validate(a.q, a.k, a.v, a.o, a.s, nullptr));
  // ... but out may not alias them
  a.o = TensorView::strided(kQ + 64, DType::BF16, {1, 64, 2, 64}, {64 * sn, sn, 64, 1});
  expect_error<ArgumentError>([&] { attn.validate(a.q, a.k, a.v, a.o, a.s, nullptr); }, {"out: its memory overlaps"});
}

TEST(attention_validate, HeadDimAndShape) {
  PatternAttention attn(load_builtin("causal"));
  Args a = seq_args(1, 100, 2, 96);
  expect_error<ArgumentError>([&] { attn.validate(a.q, a.k, a.v, a.o, a.s, nullptr); },
                              {"head dim 96 is not supported", "64 and 128"});
  a = seq_args(1, 100, 2, 128);
  a.s.N = 0;
  expect_error<ArgumentError>([&] { attn.validate(a.q, a.k, a.v, a.o, a.s, nullptr); }, {"must be >= 1"});
  a = video_args(1, 2, 4, 4, 2, 128);
  expect_error<ArgumentError>([&] { attn.validate(a.q, a.k, a.v, a.o, a.s, nullptr); },
                              {"pattern 'causal' has layout seq"});
}

TEST(attention_validate, VideoShapeMustMatchN) {
  PatternAttention attn(load_builtin("stga"));
  Args a = video_args(1, 5, 13, 17, 2, 128);
  EXPECT_NO_THROW(attn.validate(a.q, a.k, a.v, a.o, a.s, nullptr));
  a.s.shot_starts = {0, 3};
  EXPECT_NO_THROW(attn.validate(a.q, a.k, a.v, a.o, a.s, nullptr));
  a.s.shot_starts = {1, 3};
  expect_error<ArgumentError>([&] { attn.validate(a.q, a.k, a.v, a.o, a.s, nullptr); }, {"shot starts must begin at frame 0"});
  a.s.shot_starts = {0, 7};
  expect_error<ArgumentError>([&] { attn.validate(a.q, a.k, a.v, a.o, a.s, nullptr); }, {"below F = 5"});
  a.s.shot_starts = {};
  a.s.Wid = 16;  // 5*13*16 != 1105
  expect_error<ArgumentError>([&] { attn.validate(a.q, a.k, a.v, a.o, a.s, nullptr); },
                              {"video grid 5x13x16 = 1040 tokens does not match N = 1105"});
  Args b = seq_args(1, 1105, 2, 128);
  expect_error<ArgumentError>([&] { attn.validate(b.q, b.k, b.v, b.o, b.s, nullptr); },
                              {"pattern 'stga' has layout video", "make_video"});
}

TEST(attention_validate, RouterInputs) {
  PatternAttention attn(load_builtin("moga"));
  ASSERT_EQ(attn.routed_kernels(), std::vector<int>{0});
  Args a = video_args(2, 5, 13, 17, 2, 128);
  expect_error<ArgumentError>([&] { attn.validate(a.q, a.k, a.v, a.o, a.s, nullptr); },
                              {"router: pattern 'moga' routes kernel 'dynamic'", "W_r [d_model, 5]"});
  RouterInputs r;
  r.x = TensorView::contiguous(kX, DType::BF16, {2, 1105, 64});
  expect_error<ArgumentError>([&] { attn.validate(a.q, a.k, a.v, a.o, a.s, &r); }, {"router.weights: 0 given"});
  r.weights = {TensorView::contiguous(kW, DType::BF16, {64, 4})};
  expect_error<ArgumentError>([&] { attn.validate(a.q, a.k, a.v, a.o, a.s, &r); },
                              {"router.weights (kernel 'dynamic'): expected bf16 [d_model=64, M=5], got bf16 [64, 4]"});
  r.weights = {TensorView::contiguous(kW, DType::BF16, {64, 5})};
  EXPECT_NO_THROW(attn.validate(a.q, a.k, a.v, a.o, a.s, &r));
  // one weight per kernel works too (non-routed entries ignored)
  r.weights = {TensorView::contiguous(kW, DType::BF16, {64, 5}), TensorView(), TensorView()};
  EXPECT_NO_THROW(attn.validate(a.q, a.k, a.v, a.o, a.s, &r));
  // nn.Linear's [M, d] weight, transposed view
  r.weights = {TensorView::strided(kW, DType::BF16, {64, 5}, {1, 64})};
  EXPECT_NO_THROW(attn.validate(a.q, a.k, a.v, a.o, a.s, &r));
  r.x = TensorView::contiguous(kX, DType::BF16, {2, 1105, 60});
  expect_error<ArgumentError>([&] { attn.validate(a.q, a.k, a.v, a.o, a.s, &r); },
                              {"router.x: d_model 60 must be a multiple of 8"});
  r.x = TensorView::contiguous(kX, DType::BF16, {2, 1000, 64});
  expect_error<ArgumentError>([&] { attn.validate(a.q, a.k, a.v, a.o, a.s, &r); },
                              {"router.x: expected bf16 [B=2, N=1105, d_model]", "got bf16 [2, 1000, 64]"});
}

// Top-k routing runs on the GPU for 1 <= k <= min(M, 8) (the router keeps k groups in registers).
TEST(attention_validate, TopKRoutingIsAccepted) {
  PatternAttention attn(test_pattern("attn_top2"));
  ASSERT_EQ(attn.routed_kernels().size(), 1u);
  EXPECT_EQ(attn.spec().kernels[0].route->topk, 2);
}

TEST(attention_validate, TileOverrides) {
  AttentionOptions o;
  o.tiles["nope"] = TileConfig{64, 64, 4, 2};
  expect_error<ArgumentError>([&] { PatternAttention attn(load_builtin("full"), o); }, {"no kernel 'nope'"});
  o.tiles.clear();
  o.tiles["full"] = TileConfig{100, 0, 0, 0};
  PatternAttention attn(load_builtin("full"), o);
  EXPECT_EQ(attn.engine(0), Engine::MmaSync);  // a tile entry keeps the kernel on mma.sync under Auto
  EXPECT_EQ(attn.tiles(0).block_m, 100);
  EXPECT_EQ(attn.tiles(0).block_n, 64);  // the manifest's
  Args a = seq_args(1, 100, 2, 128);
  expect_error<ArgumentError>([&] { attn.validate(a.q, a.k, a.v, a.o, a.s, nullptr); },
                              {"kernel 'full': tiles BM=100", "multiple of 16 * warps"});
  o.tiles["full"] = TileConfig{64, 64, 4, 3};
  PatternAttention ok(load_builtin("full"), o);
  EXPECT_NO_THROW(ok.validate(a.q, a.k, a.v, a.o, a.s, nullptr));
}

// Cross-attention: k/v of another length Nk than q (taken from k; v must match) for dense patterns only.
TEST(attention_validate, KeysOfAnotherLengthNeedADensePattern) {
  PatternAttention full(load_builtin("full"));
  Args a = seq_args(2, 1000, 2, 128);
  auto kv = [&](int Nk, int H = 2, int D = 128) {
    a.k = TensorView::contiguous(kK, DType::BF16, {2, Nk, H, D});
    a.v = TensorView::contiguous(kV, DType::BF16, {2, Nk, H, D});
  };
  for (int Nk : {512, 77, 1, 5000}) {
    kv(Nk);
    EXPECT_NO_THROW(full.validate(a.q, a.k, a.v, a.o, a.s, nullptr)) << "Nk = " << Nk;
  }
  // head dim 64; k|v as views of one [B][Nk][2][H][D] buffer (the DiT's context rows)
  Args b = seq_args(1, 300, 2, 64);
  const int64_t sn = 2 * 2 * 64;
  b.k = TensorView::strided(kK, DType::BF16, {1, 16, 2, 64}, {16 * sn, sn, 64, 1});
  b.v = TensorView::strided(kK + 2 * 2 * 64, DType::BF16, {1, 16, 2, 64}, {16 * sn, sn, 64, 1});
  EXPECT_NO_THROW(full.validate(b.q, b.k, b.v, b.o, b.s, nullptr));
  // v of another length than k
  kv(512);
  a.v = TensorView::contiguous(kV, DType::BF16, {2, 77, 2, 128});
  expect_error<ArgumentError>([&] { full.validate(a.q, a.k, a.v, a.o, a.s, nullptr); },
                              {"v: 77 tokens, but k has 512", "same length"});
  // a wrong k names its length Nk
  kv(512, 3);
  expect_error<ArgumentError>([&] { full.validate(a.q, a.k, a.v, a.o, a.s, nullptr); },
                              {"k: expected bf16 [B=2, Nk=512, H=2, D=128] with D contiguous, got bf16 [2, 512, 3, 128]"});
  kv(512, 2, 64);
  expect_error<ArgumentError>([&] { full.validate(a.q, a.k, a.v, a.o, a.s, nullptr); }, {"k: expected", "Nk=512"});
  kv(0);
  expect_error<ArgumentError>([&] { full.validate(a.q, a.k, a.v, a.o, a.s, nullptr); }, {"k: no keys"});
  // out keeps q's length
  kv(512);
  a.o = TensorView::contiguous(kO, DType::BF16, {2, 512, 2, 128});
  expect_error<ArgumentError>([&] { full.validate(a.q, a.k, a.v, a.o, a.s, nullptr); },
                              {"out: expected bf16 [B=2, N=1000, H=2, D=128]"});

  // masked, keyed, routed kernels: refused, naming the kernel and why
  PatternAttention causal(load_builtin("causal"));
  a = seq_args(2, 1000, 2, 128);
  EXPECT_NO_THROW(causal.validate(a.q, a.k, a.v, a.o, a.s, nullptr));  // Nk = N: as before
  kv(512);
  expect_error<ArgumentError>([&] { causal.validate(a.q, a.k, a.v, a.o, a.s, nullptr); },
                              {"k: 512 keys/values but q has N = 1000 tokens", "need a dense pattern",
                               "kernel 'causal' of pattern 'causal' has a mask"});
  Args vid = video_args(2, 5, 13, 17, 2, 128);
  vid.k = TensorView::contiguous(kK, DType::BF16, {2, 512, 2, 128});
  vid.v = TensorView::contiguous(kV, DType::BF16, {2, 512, 2, 128});
  PatternAttention dyn(load_builtin("moga_dynamic"));
  RouterInputs r;
  r.x = TensorView::contiguous(kX, DType::BF16, {2, 1105, 64});
  r.weights = {TensorView::contiguous(kW, DType::BF16, {64, 5})};
  expect_error<ArgumentError>([&] { dyn.validate(vid.q, vid.k, vid.v, vid.o, vid.s, &r); },
                              {"k: 512 keys/values but q has N = 1105", "kernel 'moga_dynamic'", "is routed"});
  PatternAttention stga(load_builtin("stga"));
  expect_error<ArgumentError>([&] { stga.validate(vid.q, vid.k, vid.v, vid.o, vid.s, nullptr); },
                              {"kernel 'stga'", "groups tokens by a key"});
  PatternAttention moga(load_builtin("moga"));
  expect_error<ArgumentError>([&] { moga.validate(vid.q, vid.k, vid.v, vid.o, vid.s, &r); },
                              {"kernel 'dynamic' of pattern 'moga' is routed"});

  // without masks: a bias program (reads key coordinates) is refused; softcap, scale, a gate program
  // (over the queries) and branch weights are fine
  LoadedPattern hooks = test_pattern("attn_hooks");
  ASSERT_EQ(hooks.spec.kernels.size(), 2u);
  for (auto& ks : hooks.spec.kernels) ks.mask.reset();
  {
    PatternAttention attn(hooks);
    expect_error<ArgumentError>([&] { attn.validate(a.q, a.k, a.v, a.o, a.s, nullptr); },
                                {"kernel 'alibi' of pattern 'attn_hooks' has a bias program"});
  }
  hooks.spec.kernels[0].bias.reset();
  ASSERT_TRUE(hooks.spec.kernels[0].softcap.has_value());
  ASSERT_TRUE(hooks.spec.kernels[1].gate.has_value());
  PatternAttention attn(hooks);
  EXPECT_NO_THROW(attn.validate(a.q, a.k, a.v, a.o, a.s, nullptr));
}

TEST(attention_validate, ShapeDescribe) {
  AttentionShape s = AttentionShape::make_video(1, 5, 13, 17, 2, 128, {0, 3});
  EXPECT_EQ(s.describe(), "B=1 N=1105 (video 5x13x17, shots 0,3) H=2 D=128");
}

// ---- the engine choice (attention.h, "Attention kernels"): no device, the target arch given -----------

namespace {
AttentionOptions for_arch(const std::string& arch, Engine e = Engine::Auto) {
  AttentionOptions o;
  o.arch = arch;
  o.engine = e;
  return o;
}
}  // namespace

TEST(attention_engine, Names) {
  EXPECT_STREQ(engine_name(Engine::Auto), "auto");
  EXPECT_STREQ(engine_name(Engine::MmaSync), "mma.sync");
  EXPECT_STREQ(engine_name(Engine::Wgmma), "wgmma");
  EXPECT_TRUE(wgmma_arch("sm_90"));
  EXPECT_TRUE(wgmma_arch("sm_90a"));
  for (const char* a : {"sm_80", "sm_86", "sm_89", "sm_100", "sm_100a", "sm_120", ""}) EXPECT_FALSE(wgmma_arch(a)) << a;
}

// The kernel registry: every row is found by its name, belongs to one family, and its tile space holds
// only configurations its own check accepts (shared memory included); id tags are unique (tuner keys).
TEST(attention_registry, RowsAreConsistent) {
  std::set<std::string> names, tags;
  for (const KernelVariant& v : kernel_registry()) {
    EXPECT_EQ(find_variant(v.name), &v);
    EXPECT_TRUE(names.insert(v.name).second) << v.name;
    EXPECT_TRUE(tags.insert(v.id_tag).second) << v.id_tag;
    for (const TileConfig& t : v.tile_space(128)) {
      EXPECT_EQ(v.check_tiles(t, 128), "") << v.name;
      EXPECT_LE(v.smem_bytes(128, t), 227 * 1024) << v.name;
    }
    EXPECT_EQ(v.runs_on("sm_90"), true) << v.name;
    EXPECT_EQ(v.runs_on("sm_80"), v.engine == Engine::MmaSync) << v.name;
  }
  EXPECT_EQ(find_variant("sm90.nope"), nullptr);
  EXPECT_STREQ(default_variant(Engine::Wgmma).name, "sm90.ws");
  EXPECT_STREQ(default_variant(Engine::MmaSync).name, "sm80.mma");
  // the header's formula, 232,128 B at 128/128/3 (v11's 230,592 + 1,536 of staged key columns); 4 stages of 128 do not fit
  EXPECT_EQ(find_variant("sm90.ws")->smem_bytes(128, kWgmmaTiles), 232128);
  EXPECT_NE(find_variant("sm90.ws")->check_tiles(TileConfig{128, 128, 8, 4}, 128).find("shared memory"),
            std::string::npos);
  EXPECT_EQ(find_variant("sm90.ws")->tile_space(128).size(), 5u);  // BN 64 x 2..4 stages, BN 128 x 2..3
}

// A variant is chosen by name for every kernel or per kernel; unknown names and a row of the other family
// than a forced engine are refused in the constructor, naming what was given.
TEST(attention_registry, VariantsByName) {
  AttentionOptions o = {};
  o.arch = "sm_90";
  o.variant = "sm90.ws.static";
  o.variants["stga"] = "sm80.mma";
  PatternAttention attn(load_builtin("moga"), o);
  EXPECT_STREQ(attn.variant(0).name, "sm90.ws.static");
  EXPECT_STREQ(attn.variant(1).name, "sm80.mma");
  EXPECT_EQ(attn.engine(1), Engine::MmaSync);
  EXPECT_STREQ(attn.variant(2).name, "sm90.ws.static");
  AttentionOptions unknown;
  unknown.variant = "sm90.fast";
  expect_error<ArgumentError>([&] { PatternAttention a(load_builtin("full"), unknown); },
                              {"variant: no kernel variant 'sm90.fast'", "sm80.mma", "sm90.ws.persistent"});
  AttentionOptions wrong_kernel;
  wrong_kernel.variants["nope"] = "sm90.ws";
  expect_error<ArgumentError>([&] { PatternAttention a(load_builtin("full"), wrong_kernel); },
                              {"variants: pattern 'full' has no kernel 'nope'"});
  AttentionOptions clash;
  clash.engine = Engine::MmaSync;
  clash.variant = "sm90.ws";
  expect_error<ArgumentError>([&] { PatternAttention a(load_builtin("full"), clash); },
                              {"variant 'sm90.ws' is of the wgmma family, but engine mma.sync is forced"});
}

// The TMA row (sm90.tma, attention_fwd_tma): Q in shared memory, BN up to 176 at its default tiles, a
// gather row for kernels with a gather; the cp.async rows refuse BN 176 with the value in the message.
TEST(attention_registry, TmaRow) {
  const KernelVariant& v = *find_variant("sm90.tma");
  EXPECT_TRUE(v.tma);
  EXPECT_TRUE(v.q_smem);
  EXPECT_EQ(v.engine, Engine::Wgmma);
  EXPECT_EQ(v.default_tiles, kTmaTiles);
  EXPECT_STREQ(row_for_kernel(v, true).name, "sm90.ws.sq");
  EXPECT_EQ(&row_for_kernel(v, false), &v);
  EXPECT_EQ(&row_for_kernel(*find_variant("sm90.ws"), true), find_variant("sm90.ws"));
  // BN 64 x 2..4 stages, 128 x 2..3, 176 x 2; 1 KB slack + 2 x 2 x 45,056 (K, V) + 32,768 (Q) + barriers,
  // ring and 2 x 176 staged key words
  EXPECT_EQ(v.tile_space(128).size(), 6u);
  EXPECT_EQ(v.smem_bytes(128, kTmaTiles), 215584);
  EXPECT_EQ(v.check_tiles(kTmaTiles, 128), "");
  EXPECT_EQ(v.check_tiles(kTmaTiles, 64), "");
  EXPECT_NE(v.check_tiles(TileConfig{128, 176, 8, 3}, 128).find("shared memory"), std::string::npos);
  EXPECT_EQ(v.check_tiles(TileConfig{128, 192, 8, 2}, 128), "BN 192: must be 64, 128 or 176");
  EXPECT_EQ(find_variant("sm90.ws")->check_tiles(kTmaTiles, 128), "BN 176: must be 64 or 128");
  EXPECT_EQ(v.kernel_expr("moga_gen_full::full", 128, kTmaTiles), "moga::attention_fwd_tma<moga_gen_full::full, 128, 128, 176, 2>");
  EXPECT_EQ(v.kernel_expr("moga_gen_full::full", 128, kTmaTiles, true),
            "moga::attention_fwd_tma<moga_gen_full::full, 128, 128, 176, 2, true>");
  EXPECT_EQ(v.smem_expr("moga_gen_full::full", 128, kTmaTiles),
            "&moga::attn_fwd_tma_smem_bytes<moga_gen_full::full, 128, 128, 176, 2>");
}

// Named for a whole pattern, sm90.tma runs the kernels without a gather and sends the gathered ones
// (routed, computed groups) to sm90.ws.sq with that row's tiles.
TEST(attention_registry, TmaRowSendsGatheredKernelsToItsGatherRow) {
  AttentionOptions o = for_arch("sm_90");
  o.variant = "sm90.tma";
  PatternAttention moga(load_builtin("moga"), o);  // every kernel has a gather (natten2d too: by frame)
  for (int ki = 0; ki < 3; ++ki) {
    EXPECT_STREQ(moga.variant(ki).name, "sm90.ws.sq") << ki;
    EXPECT_EQ(moga.tiles(ki), kWgmmaTiles) << ki;
  }
  for (const char* name : {"full", "causal", "radial", "sliding_window"}) {
    PatternAttention a(load_builtin(name), o);
    EXPECT_STREQ(a.variant(0).name, "sm90.tma") << name;
    EXPECT_EQ(a.tiles(0), kTmaTiles) << name;
  }
}

// Without a named row, kernels without a gather (dense, masked, with or without bias and softcap) run sm90.tma
// on the wgmma engine (measured faster: docs/performance.md, "v12"); gathered ones keep sm90.ws (with a bias
// sm90.ws.sq); Auto with a tile entry stays sm80.mma.
TEST(attention_registry, DenseKernelsRunTheTmaRowByDefault) {
  PatternAttention full(load_builtin("full"), for_arch("sm_90"));
  EXPECT_STREQ(full.variant(0, 128).name, "sm90.tma");
  EXPECT_EQ(full.tiles(0, 128), kTmaTiles);
  EXPECT_EQ(full.engine(0, 64), Engine::MmaSync);
  PatternAttention forced(load_builtin("full"), for_arch("sm_90", Engine::Wgmma));
  EXPECT_STREQ(forced.variant(0, 64).name, "sm90.tma");
  for (const char* name : {"causal", "sliding_window", "radial"}) {
    PatternAttention a(load_builtin(name), for_arch("sm_90"));
    EXPECT_STREQ(a.variant(0, 128).name, "sm90.tma") << name;
    EXPECT_EQ(a.tiles(0, 128), kTmaTiles) << name;
  }
  PatternAttention hooks(test_pattern("attn_hooks"), for_arch("sm_90"));  // mask + bias + softcap + gate
  EXPECT_STREQ(hooks.variant(0, 128).name, "sm90.tma");
  PatternAttention moga(load_builtin("moga"), for_arch("sm_90"));  // every kernel gathered
  EXPECT_STREQ(moga.variant(0, 128).name, "sm90.tma.sorted");  // a router of 5 groups (long groups: copies)
  EXPECT_STREQ(moga.variant(1, 128).name, "sm90.ws");          // STGA's key
  EXPECT_STREQ(moga.variant(2, 128).name, "sm90.tma.sorted");  // frame_local: a key in token order (no copy)
  PatternAttention m64(test_pattern("attn_route64"), for_arch("sm_90"));  // 64 groups: short ones, no copy
  EXPECT_STREQ(m64.variant(0, 128).name, "sm90.ws");
  for (const char* name : {"frame_local", "natten2d"}) {  // groups by frame
    PatternAttention a(load_builtin(name), for_arch("sm_90"));
    EXPECT_STREQ(a.variant(0, 128).name, "sm90.tma.sorted") << name;
    EXPECT_EQ(a.tiles(0, 128), kTmaSortedTiles) << name;
  }
  PatternAttention stga(load_builtin("stga"), for_arch("sm_90"));  // a key not in token order
  EXPECT_STREQ(stga.variant(0, 128).name, "sm90.ws");
  AttentionOptions entry = for_arch("sm_90");
  entry.tiles["full"] = TileConfig{128, 128, 8, 2};
  EXPECT_STREQ(PatternAttention(load_builtin("full"), entry).variant(0, 128).name, "sm80.mma");
  entry.engine = Engine::Wgmma;  // forced: the tile entry on top of the TMA row's tiles
  PatternAttention fw(load_builtin("full"), entry);
  EXPECT_STREQ(fw.variant(0, 128).name, "sm90.tma");
  EXPECT_EQ(fw.tiles(0, 128), (TileConfig{128, 128, 8, 2}));
}

// The runtime launches the compiler's plan (manifest "plan".sm_90, attn-assign-tiles) as written: another row,
// other tiles, other head dims; a manifest without one gets the registry's rule (default_hopper_plan), and a
// plan naming a row that is not a wgmma row is refused naming it.
TEST(attention_registry, TheManifestsPlanIsWhatRuns) {
  LoadedPattern lp = load_builtin("causal");
  ASSERT_TRUE(lp.spec.kernels[0].plan_sm90.has_value()) << "moga-compile wrote no plan";
  EXPECT_EQ(lp.spec.kernels[0].plan_sm90->variant, "sm90.tma");  // a mask, no gather
  lp.spec.kernels[0].plan_sm90 = moga::ref::HopperPlanSpec{"sm90.ws.items", 128, 64, 8, 4, {64, 128}};
  PatternAttention a(lp, for_arch("sm_90"));
  EXPECT_STREQ(a.variant(0, 128).name, "sm90.ws.items");
  EXPECT_EQ(a.tiles(0, 128), (TileConfig{128, 64, 8, 4}));
  EXPECT_STREQ(a.variant(0, 64).name, "sm90.ws.items") << "the plan lists D = 64";
  EXPECT_STREQ(PatternAttention(lp, for_arch("sm_80")).variant(0, 128).name, "sm80.mma");
  lp.spec.kernels[0].plan_sm90.reset();
  EXPECT_STREQ(PatternAttention(lp, for_arch("sm_90")).variant(0, 128).name, "sm90.tma");
  lp.spec.kernels[0].plan_sm90 = moga::ref::HopperPlanSpec{"sm80.mma", 128, 64, 4, 2, {128}};
  expect_error<PatternError>([&] { PatternAttention bad(lp, for_arch("sm_90")); }, {"'sm80.mma'", "kernel 'causal'"});
}

// The sorted-copy TMA row (sm90.tma.sorted): no gather row, so gathered kernels stay on it (the runtime
// writes sorted copies of q, k, v for them), its own default tiles (BN 128: aligned groups pad to
// lcm(BM, BN)), the TMA kernel's name expression; named for the moga layer every kernel runs it.
TEST(attention_registry, SortedTmaRowKeepsGatheredKernels) {
  const KernelVariant& v = *find_variant("sm90.tma.sorted");
  EXPECT_TRUE(v.tma);
  EXPECT_TRUE(v.q_smem);
  EXPECT_EQ(v.gather_row, nullptr);
  EXPECT_EQ(v.scheduler, Scheduler::ByKernel);
  EXPECT_EQ(v.default_tiles, kTmaSortedTiles);
  EXPECT_EQ(&row_for_kernel(v, true), &v);
  EXPECT_EQ(v.check_tiles(kTmaSortedTiles, 128), "");
  EXPECT_EQ(v.kernel_expr("moga_gen_moga::stga", 128, kTmaSortedTiles),
            "moga::attention_fwd_tma<moga_gen_moga::stga, 128, 128, 128, 2>");
  AttentionOptions o = for_arch("sm_90");
  o.variant = "sm90.tma.sorted";
  PatternAttention moga(load_builtin("moga"), o);
  for (int ki = 0; ki < 3; ++ki) {
    EXPECT_STREQ(moga.variant(ki, 128).name, "sm90.tma.sorted") << ki;
    EXPECT_EQ(moga.tiles(ki, 128), kTmaSortedTiles) << ki;
    EXPECT_EQ(moga.group_layout(ki, AttentionShape::make_video(1, 21, 30, 52, 12, 128)).align, 128) << ki;
  }
}

// contiguous_tiles: every tile of BM and of BN sorted positions holds consecutive tokens from its first one
// (padding may follow them, or fill the tile); a jump inside a tile, or a token after a tile's leading
// padding, makes the order need sorted copies.
TEST(attention_layout, ContiguousTiles) {
  // groups of 5 and 3 consecutive tokens, each padded to a block of 8; tiles of 4 and 8
  const std::vector<int> padded = {0, 1, 2, 3, 4, -1, -1, -1, 5, 6, 7, -1, -1, -1, -1, -1};
  EXPECT_TRUE(contiguous_tiles(padded, 1, 16, 8, 4));
  EXPECT_TRUE(contiguous_tiles(padded, 1, 16, 4, 4));
  // two batch items: the second's tokens are its own (they restart at 0)
  std::vector<int> two = padded;
  two.insert(two.end(), padded.begin(), padded.end());
  EXPECT_TRUE(contiguous_tiles(two, 2, 16, 8, 4));
  // groups by a stride (svg_temporal's cells): 0, 2, 4 ... is not consecutive
  EXPECT_FALSE(contiguous_tiles({0, 2, 4, 6, 1, 3, 5, 7}, 1, 8, 4, 4));
  // consecutive groups packed into one tile (no padding between them) are still consecutive
  EXPECT_TRUE(contiguous_tiles({0, 1, 2, 3, 4, 5, 6, 7}, 1, 8, 8, 8));
  // a tile of 8 holding the end of one group and the start of the next after padding jumps
  EXPECT_FALSE(contiguous_tiles({0, 1, 2, -1, 3, 4, 5, 6}, 1, 8, 8, 4));
  EXPECT_TRUE(contiguous_tiles({0, 1, 2, -1, 3, 4, 5, 6}, 1, 8, 4, 4));  // at tiles of 4 each starts afresh
  // a token after leading padding: the tile's box would start at no token
  EXPECT_FALSE(contiguous_tiles({-1, 0, 1, 2}, 1, 4, 4, 4));
  EXPECT_FALSE(contiguous_tiles({0, 1}, 2, 4, 4, 4)) << "perm of another size";
}

// The tensor maps' shapes (the driver call itself needs a device): innermost first, byte strides, a box of
// 64 columns; a dimension of length 1 gets the packed stride; a zero stride along a longer one is refused.
TEST(attention_tma, MapShapes) {
  const TensorView q = TensorView::contiguous(kQ, DType::BF16, {2, 1000, 3, 128});
  const TmaShape s = tma_shape(q, "q", 1000, 128);
  EXPECT_EQ(std::vector<uint64_t>(s.dims, s.dims + 4), (std::vector<uint64_t>{128, 1000, 3, 2}));
  EXPECT_EQ(std::vector<uint64_t>(s.strides, s.strides + 3), (std::vector<uint64_t>{768, 256, 768000}));
  EXPECT_EQ(std::vector<uint32_t>(s.box, s.box + 4), (std::vector<uint32_t>{64, 128, 1, 1}));
  // k of a packed [B][Nk][2][H][D] k|v tensor, one batch item and one head whose strides say 0
  const TensorView k = TensorView::strided(kK, DType::BF16, {1, 77, 1, 64}, {0, 2 * 64, 0, 1});
  const TmaShape t = tma_shape(k, "k", 77, 176);
  EXPECT_EQ(std::vector<uint64_t>(t.strides, t.strides + 3), (std::vector<uint64_t>{256, 256 * 77, 256 * 77}));
  EXPECT_EQ(t.box[1], 176u);
  const TensorView bcast = TensorView::strided(kK, DType::BF16, {1, 77, 4, 128}, {77 * 128, 128, 0, 1});
  expect_error<ArgumentError>([&] { tma_shape(bcast, "k", 77, 128); }, {"k: head stride 0", "sm90.tma", "sm90.ws.sq"});
}

// NVRTC compiles the TMA row for sm_90a without a device (its tile space on dense kernels:
// codegen_nvrtc_test's EveryRegistryRowCompilesAtEveryTileConfig): the log-sum-exp instantiation, D = 64,
// staged key columns (radial), and mask + bias + softcap + gate (attn_hooks: staged bias columns).
TEST(attention_jit, CompilesTheTmaRowWithoutADevice) {
  char tmpl[] = "/tmp/moga-attn-tma-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  setenv("MOGA_CACHE_DIR", tmpl, 1);
  const KernelVariant& v = *find_variant("sm90.tma");
  AttentionOptions o = for_arch("sm_90");
  o.variant = "sm90.tma";
  AttentionOptions lse = o;
  lse.lse = true;
  const ModuleInfo info = PatternAttention(load_builtin("full"), lse).compile(128);
  EXPECT_EQ(info.arch, "sm_90a");
  EXPECT_EQ(info.variants, std::vector<std::string>{"sm90.tma"});
  for (bool with_lse : {false, true})
    EXPECT_NE(std::find(info.kernels.begin(), info.kernels.end(),
                        v.kernel_expr("moga_gen_full::full", 128, kTmaTiles, with_lse)),
              info.kernels.end());
  EXPECT_NO_THROW(PatternAttention(load_builtin("full"), o).compile(64));
  for (const LoadedPattern& lp : {load_builtin("radial"), test_pattern("attn_hooks")}) {
    PatternAttention a(lp, o);
    const ModuleInfo mi = a.compile(128);
    for (const std::string& row : mi.variants) EXPECT_EQ(row, "sm90.tma") << lp.name;
  }
  unsetenv("MOGA_CACHE_DIR");
  std::filesystem::remove_all(tmpl);
}

// NVRTC compiles the sorted-copy row for sm_90a without a device on gathered kernels (routed, computed
// groups, staged keys through perm, top-2 entry rows), and the prep unit holds sorted_copy_kernel.
TEST(attention_jit, CompilesTheSortedTmaRowWithoutADevice) {
  char tmpl[] = "/tmp/moga-attn-tma-sorted-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  setenv("MOGA_CACHE_DIR", tmpl, 1);
  AttentionOptions o = for_arch("sm_90");
  o.variant = "sm90.tma.sorted";
  for (const LoadedPattern& lp : {load_builtin("moga"), test_pattern("attn_top2_mix")}) {
    PatternAttention a(lp, o);
    const ModuleInfo mi = a.compile(128);
    EXPECT_EQ(mi.arch, "sm_90a");
    for (const std::string& row : mi.variants) EXPECT_EQ(row, "sm90.tma.sorted") << lp.name;
    int tma = 0;
    for (const std::string& k : mi.kernels) tma += k.rfind("moga::attention_fwd_tma<", 0) == 0 ? 1 : 0;
    EXPECT_EQ(tma, (int)a.spec().kernels.size()) << lp.name << ": one attention_fwd_tma per kernel";
    EXPECT_NE(std::find(mi.kernels.begin(), mi.kernels.end(), "moga::sorted_copy_kernel"), mi.kernels.end());
  }
  unsetenv("MOGA_CACHE_DIR");
  std::filesystem::remove_all(tmpl);
}

namespace {
// ptxas's report (NVRTC --ptxas-options=-v) of one kernel: registers per thread and spill bytes.
struct PtxasUse {
  int regs = -1, spill_stores = -1, spill_loads = -1;
};
// The entries of an NVRTC log by mangled name ("Compiling entry function '...'" opens an entry; its
// "N bytes spill stores, M bytes spill loads" and "Used R registers" lines follow).
std::map<std::string, PtxasUse> parse_ptxas_log(const std::string& log) {
  std::map<std::string, PtxasUse> out;
  std::istringstream in(log);
  std::string line, cur;
  while (std::getline(in, line)) {
    const size_t e = line.find("entry function '");
    if (e != std::string::npos) {
      const size_t b = e + 16, q = line.find('\'', b);
      cur = line.substr(b, q - b);
      out[cur];
      continue;
    }
    if (cur.empty()) continue;
    int a = 0, c = 0;
    const size_t sp = line.find("bytes spill stores");
    if (sp != std::string::npos && std::sscanf(line.c_str() + line.rfind(',', sp) + 1, "%d", &a) == 1) {
      out[cur].spill_stores = a;
      if (std::sscanf(line.c_str() + sp, "bytes spill stores, %d bytes spill loads", &c) == 1) out[cur].spill_loads = c;
    }
    const size_t u = line.find("Used ");
    if (u != std::string::npos && std::sscanf(line.c_str() + u, "Used %d registers", &a) == 1) out[cur].regs = a;
  }
  return out;
}
}  // namespace

// Registers and spill of the TMA kernel where it runs now, compiled by NVRTC for sm_90a with ptxas's report:
// every kernel of every shipped pattern, of the benchmark suite (suite_*) and of the hooks / video-bias test
// patterns, on the runtime's own choice at D = 128 (sm90.tma for kernels without a gather) and, for
// gathered kernels, on sm90.tma.sorted. Printed per kernel; ptxas must report every entry, within the
// 168 registers of __launch_bounds__(384, 1), and the spill (docs/performance.md "v12": a few bytes, all
// in the producer around its copies) at most 64 bytes.
TEST(attention_jit, TmaKernelsRegistersAndSpill) {
  char tmpl[] = "/tmp/moga-attn-ptxas-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  setenv("MOGA_CACHE_DIR", tmpl, 1);  // a cache miss: ptxas runs and logs
  std::vector<LoadedPattern> pats;
  for (const std::string& n : builtin_names()) pats.push_back(load_builtin(n));
  for (const auto& e : test_patterns()) {
    const std::string label = e.label;
    if (label.rfind("suite_", 0) == 0 || label == "attn_hooks" || label == "attn_video_bias")
      pats.push_back(load_from_text(e.cuda, e.manifest, e.label));
  }
  int entries = 0;
  for (const LoadedPattern& lp : pats) {
    moga::jit::CompileOptions o;
    o.name = "ptxas-" + lp.spec.pattern;
    o.arch = "sm_90a";
    o.flags = {"--ptxas-options=-v"};
    o.defines = {"MOGA_NO_PREP_KERNELS"};
    for (const auto& h : moga::kernels::embedded_headers()) o.headers.push_back({h.name, h.text});
    std::vector<std::string> what;  // "kernel on row tiles", per name expression
    for (const char* row : {"", "sm90.tma.sorted"}) {
      AttentionOptions ao = for_arch("sm_90");
      ao.variant = row;
      PatternAttention a(lp, ao);
      for (int ki = 0; ki < (int)a.spec().kernels.size(); ++ki) {
        const KernelVariant& v = a.variant(ki, 128);
        if (!v.tma || (*row && !a.spec().kernels[ki].grouped())) continue;  // sorted: only its gathered kernels
        const TileConfig t = a.tiles(ki, 128);
        const std::string expr =
            v.kernel_expr(fmt::format("moga_gen_{}::{}", a.spec().pattern, a.spec().kernels[ki].name), 128, t);
        if (std::find(o.name_expressions.begin(), o.name_expressions.end(), expr) != o.name_expressions.end()) continue;
        o.name_expressions.push_back(expr);
        what.push_back(fmt::format("{}::{} on {} {}/{}/{}", a.spec().pattern, a.spec().kernels[ki].name, v.name,
                                   t.block_m, t.block_n, t.stages));
      }
    }
    if (o.name_expressions.empty()) continue;
    const moga::jit::CompiledKernel ck = moga::jit::compile(lp.cuda, o);
    const std::map<std::string, PtxasUse> use = parse_ptxas_log(ck.log);
    for (size_t i = 0; i < o.name_expressions.size(); ++i) {
      auto it = use.find(ck.symbol(o.name_expressions[i]));
      ASSERT_NE(it, use.end()) << what[i] << ": no ptxas report for " << o.name_expressions[i] << " in\n" << ck.log;
      const PtxasUse& u = it->second;
      std::cout << "ptxas " << what[i] << ": " << u.regs << " registers, " << u.spill_stores << " B spill stores, "
                << u.spill_loads << " B spill loads\n";
      EXPECT_GT(u.regs, 0) << what[i];
      EXPECT_LE(u.regs, 168) << what[i];
      EXPECT_GE(u.spill_stores, 0) << what[i] << ": no spill line";
      EXPECT_LE(u.spill_stores, 64) << what[i];
      ++entries;
    }
  }
  EXPECT_GE(entries, 20);
  unsetenv("MOGA_CACHE_DIR");
  std::filesystem::remove_all(tmpl);
}

TEST(attention_engine, AutoPicksWgmmaAtHeadDim128OnSm90) {
  PatternAttention attn(load_builtin("moga"), for_arch("sm_90"));
  EXPECT_EQ(attn.arch(), "sm_90");
  for (int ki = 0; ki < 3; ++ki) {
    EXPECT_EQ(attn.engine(ki, 128), Engine::Wgmma) << ki;
    // block maps are built with 128/128; the router (ki 0: 5 groups) and frame_local (ki 2: a key in token
    // order) run sm90.tma.sorted
    EXPECT_EQ(attn.tiles(ki, 128), ki != 1 ? kTmaSortedTiles : kWgmmaTiles) << ki;
    EXPECT_EQ(attn.engine(ki, 64), Engine::MmaSync) << ki;  // D = 64: v7 is faster (docs/performance.md, v9)
    const auto& m = attn.spec().kernels[ki].tiles;
    EXPECT_EQ(attn.tiles(ki, 64), (TileConfig{m.block_m, m.block_n, m.warps, m.stages})) << ki;
  }
  EXPECT_EQ(attn.engine(0), Engine::Wgmma);  // head dim 128 by default
  Args a = video_args(2, 5, 13, 17, 2, 128);
  RouterInputs r;
  r.x = TensorView::contiguous(kX, DType::BF16, {2, 1105, 64});
  r.weights = {TensorView::contiguous(kW, DType::BF16, {64, 5})};
  EXPECT_NO_THROW(attn.validate(a.q, a.k, a.v, a.o, a.s, &r));
  Args b = video_args(2, 5, 13, 17, 2, 64);
  EXPECT_NO_THROW(attn.validate(b.q, b.k, b.v, b.o, b.s, &r));
  // sm_90a (an explicit arch-specific target) chooses the same
  PatternAttention a90a(load_builtin("full"), for_arch("sm_90a"));
  EXPECT_EQ(a90a.engine(0, 128), Engine::Wgmma);
}

TEST(attention_engine, AutoKeepsMmaSyncOnOtherArchs) {
  for (const char* arch : {"sm_80", "sm_89", "sm_100", "sm_120"}) {
    PatternAttention attn(load_builtin("causal"), for_arch(arch));
    EXPECT_EQ(attn.engine(0, 128), Engine::MmaSync) << arch;
    EXPECT_EQ(attn.tiles(0, 128).block_n, attn.spec().kernels[0].tiles.block_n) << arch;
    Args a = seq_args(1, 1000, 2, 128);
    EXPECT_NO_THROW(attn.validate(a.q, a.k, a.v, a.o, a.s, nullptr)) << arch;
  }
}

// Tile entries are mma.sync configurations (the tuner's, runtime/tune/select.h, fills one per kernel): under
// Auto such a kernel stays on v7 with exactly those tiles; the other kernels still get wgmma.
TEST(attention_engine, TileEntryKeepsThatKernelOnMmaSync) {
  AttentionOptions o = for_arch("sm_90");
  o.tiles["stga"] = TileConfig{64, 64, 4, 2};
  PatternAttention attn(load_builtin("moga"), o);
  EXPECT_EQ(attn.engine(0, 128), Engine::Wgmma);    // dynamic
  EXPECT_EQ(attn.engine(1, 128), Engine::MmaSync);  // stga
  EXPECT_EQ(attn.tiles(1, 128), (TileConfig{64, 64, 4, 2}));
  EXPECT_EQ(attn.engine(2, 128), Engine::Wgmma);    // frame_local
  // the tuned path: every kernel has an entry (even one equal to 128/128/8/3, a v7 config too) -> v7
  AttentionOptions tuned = for_arch("sm_90");
  tuned.tiles = {{"dynamic", {64, 64, 4, 2}}, {"stga", {128, 64, 4, 2}}, {"frame_local", {128, 128, 8, 3}}};
  PatternAttention t(load_builtin("moga"), tuned);
  for (int ki = 0; ki < 3; ++ki) EXPECT_EQ(t.engine(ki, 128), Engine::MmaSync) << ki;
  EXPECT_EQ(t.tiles(1, 128), (TileConfig{128, 64, 4, 2}));
}

TEST(attention_engine, ForcedWgmma) {
  PatternAttention attn(load_builtin("moga"), for_arch("sm_90", Engine::Wgmma));
  for (int ki = 0; ki < 3; ++ki)
    for (int D : {64, 128}) {
      EXPECT_EQ(attn.engine(ki, D), Engine::Wgmma) << ki << " D=" << D;
      EXPECT_EQ(attn.tiles(ki, D), ki != 1 ? kTmaSortedTiles : kWgmmaTiles) << ki;  // the router, frame_local: sm90.tma.sorted
    }
  // an entry that agrees with (or leaves to) the one wgmma configuration is fine ...
  AttentionOptions ok = for_arch("sm_90", Engine::Wgmma);
  ok.tiles["full"] = TileConfig{128, 0, 8, 0};
  PatternAttention fine(load_builtin("full"), ok);
  EXPECT_EQ(fine.engine(0), Engine::Wgmma);
  // ... as is another configuration of its space (BN 64, 2 stages) ...
  AttentionOptions bn64 = for_arch("sm_90", Engine::Wgmma);
  bn64.tiles["full"] = TileConfig{0, 64, 0, 2};
  PatternAttention narrow(load_builtin("full"), bn64);
  EXPECT_EQ(narrow.tiles(0), (TileConfig{128, 64, 8, 2}));
  // ... any other is rejected in the constructor, naming the kernel, the rule and the way out
  AttentionOptions bad = for_arch("sm_90", Engine::Wgmma);
  bad.tiles["stga"] = TileConfig{64, 64, 4, 2};
  expect_error<ArgumentError>([&] { PatternAttention a(load_builtin("moga"), bad); },
                              {"kernel 'stga' asks for BM=64 BN=64 warps=4 stages=2", "sm90.ws (wgmma)",
                               "BM must be 128", "Engine::Auto"});
  // a target without wgmma: the constructor does no device work, validate() and compile() refuse
  PatternAttention old(load_builtin("causal"), for_arch("sm_80", Engine::Wgmma));
  Args a = seq_args(1, 1000, 2, 128);
  expect_error<NotSupportedError>([&] { old.validate(a.q, a.k, a.v, a.o, a.s, nullptr); },
                                  {"kernel 'causal': variant sm90.tma (wgmma) needs an sm_90 (Hopper) target; this one is sm_80"});
  expect_error<NotSupportedError>([&] { old.compile(128); }, {"(wgmma) needs an sm_90"});
}

TEST(attention_engine, ForcedMmaSync) {
  PatternAttention attn(load_builtin("moga"), for_arch("sm_90", Engine::MmaSync));
  for (int ki = 0; ki < 3; ++ki) {
    EXPECT_EQ(attn.engine(ki, 128), Engine::MmaSync);
    EXPECT_EQ(attn.tiles(ki, 128).block_n, attn.spec().kernels[ki].tiles.block_n);
  }
}

// The bias plan (attn-plan-score) reaches the runtime: a gathered bias kernel of long routed groups (M = 4, top
// 2) runs sm90.tma.sorted (Q in shared memory leaves registers for the row terms) at 128/128/2 (3 staged
// column words, padded to 4, x 128 columns x 3 stages do not fit beside K, V and Q; at M = 17 it would run
// sm90.ws.sq: lit codegen/plan.test); one without a gather runs sm90.tma (Q in shared memory
// too) at its 128/176/2; a sequence longer than the float32 terms' exact range is refused before any launch,
// naming the bound.
TEST(attention_engine, BiasPlanOnTheWgmmaKernel) {
  PatternAttention attn(test_pattern("attn_video_bias"), for_arch("sm_90"));
  for (int ki = 0; ki < 2; ++ki) {
    EXPECT_EQ(attn.spec().kernels[ki].bias_col_words, 3);
    EXPECT_EQ(attn.spec().kernels[ki].bias_f32_max_n, 2097152);
    const bool gathered = attn.spec().kernels[ki].grouped();  // routed; local has a mask only
    EXPECT_STREQ(attn.variant(ki, 128).name, gathered ? "sm90.tma.sorted" : "sm90.tma");
    EXPECT_EQ(attn.tiles(ki, 128).block_n, gathered ? 128 : 176);
    EXPECT_EQ(attn.tiles(ki, 128).stages, 2);
    EXPECT_NE(attn.variant(ki, 128).check_tiles({128, 128, 8, 3}, 128, 227 * 1024, 3), "");
  }
  AttentionOptions o = for_arch("sm_90");
  o.variant = "sm90.ws";
  PatternAttention rs(test_pattern("attn_video_bias"), o);
  EXPECT_STREQ(rs.variant(0, 128).name, "sm90.ws") << "a named variant is kept";
  Args a;
  a.s = AttentionShape::make_video(1, 2049, 32, 32, 1, 128);  // 2,098,176 tokens > 2^21
  const int N = a.s.N;
  const CUdeviceptr far = 1ULL << 40;
  a.q = TensorView::contiguous(1 * far, DType::BF16, {1, N, 1, 128});
  a.k = TensorView::contiguous(2 * far, DType::BF16, {1, N, 1, 128});
  a.v = TensorView::contiguous(3 * far, DType::BF16, {1, N, 1, 128});
  a.o = TensorView::contiguous(4 * far, DType::BF16, {1, N, 1, 128});
  expect_error<ArgumentError>([&] { attn.validate(a.q, a.k, a.v, a.o, a.s, nullptr); },
                              {"kernel 'routed'", "exact for N <= 2097152", "N = 2098176"});
  // NVRTC compiles the split bias (row / staged column words / element) into both kernels: no device
  char tmpl[] = "/tmp/moga-attn-bias-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  setenv("MOGA_CACHE_DIR", tmpl, 1);
  const ModuleInfo info = attn.compile(128);
  EXPECT_NE(std::find(info.kernels.begin(), info.kernels.end(),
                      "moga::attention_fwd_tma<moga::BiasBytes<moga_gen_attn_video_bias::routed>, 128, 128, 128, 2>"),
            info.kernels.end());
  PatternAttention mma(test_pattern("attn_video_bias"), for_arch("sm_90", Engine::MmaSync));
  EXPECT_NO_THROW(mma.compile(128));
  unsetenv("MOGA_CACHE_DIR");
  std::filesystem::remove_all(tmpl);
}

// The byte-packed bias (attn-plan-score attn.u8): the routed branch's |dframe| + |drow| + |dcol| is one packed
// word per row and one staged column word (3 float words before); it runs while frame, row and col are below
// 256 at the call's shape, the float split otherwise or with AttentionOptions::packed_bias = false. The local
// branch (min(|dcol|, 4), a modulo) has no such sum. NVRTC compiles both forms (one module each).
TEST(attention_engine, BytePackedBiasByShape) {
  PatternAttention attn(test_pattern("attn_video_bias"), for_arch("sm_90"));
  const auto& ks = attn.spec().kernels;
  EXPECT_EQ(ks[0].bias_u8_coords, (std::vector<std::string>{"frame", "row", "col"}));
  EXPECT_EQ(ks[0].bias_u8_col_words, 1);
  EXPECT_TRUE(ks[1].bias_u8_coords.empty());
  EXPECT_EQ(attn.packed_bias_kernels(AttentionShape::make_video(1, 5, 13, 17, 2, 128)), 1u);
  EXPECT_EQ(attn.packed_bias_kernels(AttentionShape::make_video(1, 256, 2, 2, 2, 128)), 1u) << "frame 255 fits";
  EXPECT_EQ(attn.packed_bias_kernels(AttentionShape::make_video(1, 257, 2, 2, 2, 128)), 0u) << "frame 256 does not";
  EXPECT_EQ(attn.packed_bias_kernels(AttentionShape::make_video(1, 3, 3, 300, 2, 128)), 0u) << "col 299";
  EXPECT_EQ(attn.packed_bias_kernels(AttentionShape::make_video(1, 2, 300, 2, 2, 128)), 0u) << "row 299";
  // a slice of a longer sequence: the whole grid's coordinates count
  EXPECT_EQ(attn.packed_bias_kernels(AttentionShape::make_video(1, 5, 13, 17, 2, 128), 5 * 13 * 17), 1u);
  AttentionOptions off = for_arch("sm_90");
  off.packed_bias = false;
  PatternAttention plain(test_pattern("attn_video_bias"), off);
  EXPECT_EQ(plain.packed_bias_kernels(AttentionShape::make_video(1, 5, 13, 17, 2, 128)), 0u);
  char tmpl[] = "/tmp/moga-attn-bytes-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  setenv("MOGA_CACHE_DIR", tmpl, 1);
  const ModuleInfo packed = attn.compile(128), wide = plain.compile(128);
  const std::string expr = "moga::attention_fwd_tma<{}, 128, 128, 128, 2>";  // sm90.tma.sorted
  auto has = [](const ModuleInfo& m, const std::string& e) {
    return std::find(m.kernels.begin(), m.kernels.end(), e) != m.kernels.end();
  };
  EXPECT_TRUE(has(packed, fmt::format(expr, "moga::BiasBytes<moga_gen_attn_video_bias::routed>")));
  EXPECT_TRUE(has(wide, fmt::format(expr, "moga_gen_attn_video_bias::routed")));
  EXPECT_FALSE(has(packed, fmt::format(expr, "moga_gen_attn_video_bias::routed")));
  unsetenv("MOGA_CACHE_DIR");
  std::filesystem::remove_all(tmpl);
}

// The host form of the packed coordinates' distance sum (coords.cuh; the GPU runs VABSDIFF4): byte i of each
// word, |a_i - b_i| summed, on random bytes and the extremes.
TEST(attention_engine, PackedDistanceSum) {
  std::mt19937 rng(7);
  for (int it = 0; it < 1000; ++it) {
    int a[4], b[4], want = 0;
    for (int i = 0; i < 4; ++i) {
      a[i] = it == 0 ? 255 * (i & 1) : (int)(rng() % 256);
      b[i] = it == 0 ? 255 * !(i & 1) : (int)(rng() % 256);
      want += std::abs(a[i] - b[i]);
    }
    const unsigned pa = moga::pack_u8x4(a[0], a[1], a[2], a[3]), pb = moga::pack_u8x4(b[0], b[1], b[2], b[3]);
    ASSERT_EQ(moga::sad_u8x4(pa, pb), (unsigned)want);
    ASSERT_EQ(moga::sad_u8x4_f(pa, pb), (float)want);
  }
}

// The wgmma kernel's grid is 1-D over (q tile, head, batch) items: validate() bounds it.
TEST(attention_engine, WgmmaGridLimit) {
  PatternAttention attn(load_builtin("full"), for_arch("sm_90"));
  const int N = 1 << 30, H = 300;  // 2^23 q tiles x 300 heads > 2^31 items
  Args a;
  a.s = AttentionShape::seq(1, N, H, 128);
  const CUdeviceptr far = 1ULL << 50;  // fake, disjoint: each tensor is 2^30 * 300 * 128 * 2 bytes
  a.q = TensorView::contiguous(1 * far, DType::BF16, {1, N, H, 128});
  a.k = TensorView::contiguous(2 * far, DType::BF16, {1, N, H, 128});
  a.v = TensorView::contiguous(3 * far, DType::BF16, {1, N, H, 128});
  a.o = TensorView::contiguous(4 * far, DType::BF16, {1, N, H, 128});
  expect_error<ArgumentError>([&] { attn.validate(a.q, a.k, a.v, a.o, a.s, nullptr); },
                              {"kernel 'full' (engine wgmma)", "1-D grid"});
  PatternAttention v7(load_builtin("full"), for_arch("sm_90", Engine::MmaSync));
  EXPECT_NO_THROW(v7.validate(a.q, a.k, a.v, a.o, a.s, nullptr));  // v7's grid is (tiles, H, B)
}

// NVRTC compiles the generated source with every instantiation the runtime names (router, sort,
// summaries, block maps, attention): no device needed. Uses a private cache folder. Target sm_90 at
// D = 128: the wgmma engine (v11, attention_fwd_ws), so the module is built for sm_90a.
TEST(attention_jit, CompilesTheMogaLayerWithoutADevice) {
  char tmpl[] = "/tmp/moga-attn-jit-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  setenv("MOGA_CACHE_DIR", tmpl, 1);
  PatternAttention attn(load_builtin("moga"), for_arch("sm_90"));
  const ModuleInfo info = attn.compile(128);
  EXPECT_FALSE(info.cache_hit);
  EXPECT_GE(info.kernels.size(), 9u);
  EXPECT_EQ(info.arch, "sm_90a");
  EXPECT_EQ(info.engines, std::vector<Engine>(3, Engine::Wgmma));
  int wg = 0, tma = 0;
  for (const auto& k : info.kernels) wg += k.rfind("moga::attention_fwd_ws<", 0) == 0 ? 1 : 0;
  for (const auto& k : info.kernels) tma += k.rfind("moga::attention_fwd_tma<", 0) == 0 ? 1 : 0;
  EXPECT_EQ(wg, 1) << "STGA's attention_fwd_ws (v11, the gathered default)";
  EXPECT_EQ(tma, 2) << "the router of 5 groups and frame_local (groups by frame: in token order) on sm90.tma.sorted";
  EXPECT_NE(std::find(info.kernels.begin(), info.kernels.end(),
                      "moga::attention_fwd_ws<moga_gen_moga::stga, 128, 128, 128, 3>"),
            info.kernels.end());
  EXPECT_NE(std::find(info.kernels.begin(), info.kernels.end(),
                      "&moga::attn_fwd_ws_smem_bytes<moga_gen_moga::stga, 128, 128, 128, 3>"),
            info.kernels.end());
  EXPECT_NE(info.cache_path.find("sm_90a"), std::string::npos) << info.cache_path;
  auto has = [](const std::string& path, const std::string& sym) {
    std::ifstream f(path, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    return bytes.find(sym) != std::string::npos;
  };
  // One unit per attention kernel (sm_90a), one per kernel with a block map or gate fill (plain sm_90, beside
  // it: a unit's ptxas time grows with its code), one for the router (M = 5: the wgmma router, sm_90a), one for
  // the prep kernels (plain sm_90: no wgmma there), compiled in parallel.
  std::vector<std::string> units;
  for (const auto& u : info.units) {
    units.push_back(u.name);
    EXPECT_FALSE(u.cache_hit) << u.name;
    const bool wgmma_unit = (u.name.find("moga-moga-") == 0 && u.name.find("-map") == std::string::npos) ||
                            u.name.find("moga-router-wg-") == 0;
    EXPECT_EQ(u.arch, wgmma_unit ? "sm_90a" : "sm_90") << u.name;
  }
  EXPECT_EQ(units, (std::vector<std::string>{"moga-moga-dynamic-d128", "moga-moga-stga-d128", "moga-moga-stga-map",
                                             "moga-moga-frame_local-d128", "moga-router-wg-n64", "moga-prep"}));
  for (const auto& u : info.units)  // the attention kernel's unit holds no block map (its own unit does)
    if (u.name.find("-map") == std::string::npos)
      EXPECT_FALSE(has(u.cache_path, "block_map_kernel")) << u.name;
  // prep.cuh's non-template kernels are compiled once, in the prep unit (MOGA_NO_PREP_KERNELS elsewhere)
  for (const auto& u : info.units)
    EXPECT_EQ(has(u.cache_path, "sort_hist_kernel"), u.name == "moga-prep") << u.name << " " << u.cache_path;
  int exprs = 0;
  for (const auto& u : info.units) exprs += u.expressions;
  EXPECT_EQ(exprs, (int)info.kernels.size());
  const ModuleInfo again = attn.compile(128);
  EXPECT_TRUE(again.cache_hit);
  // Another routed pattern of the same router size shares the router and prep units through the cache.
  PatternAttention dyn(load_builtin("moga_dynamic"), for_arch("sm_90"));
  const ModuleInfo d = dyn.compile(128);
  ASSERT_EQ(d.units.size(), 3u);
  EXPECT_FALSE(d.units[0].cache_hit) << d.units[0].name;
  EXPECT_TRUE(d.units[1].cache_hit) << d.units[1].name;
  EXPECT_TRUE(d.units[2].cache_hit) << d.units[2].name;
  std::cout << "moga d128 (wgmma, sm_90a): " << info.kernels.size() << " kernels, compile " << info.compile_ms
            << " ms\n";
  unsetenv("MOGA_CACHE_DIR");
  std::filesystem::remove_all(tmpl);
}

// AttentionOptions::router_mma: the router compiles into its own sm_90a unit (router_wg_kernel, warpgroup
// MMA, N = 64 / 128 / 256 by M) when asked for Wgmma and under Auto; MmaSync, or a target without wgmma:
// router_kernel.
TEST(attention_jit, CompilesTheWgmmaRouterWithoutADevice) {
  char tmpl[] = "/tmp/moga-attn-jit-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  setenv("MOGA_CACHE_DIR", tmpl, 1);
  auto units_of = [](const std::string& pattern, const std::string& arch, RouterMma r) {
    AttentionOptions o = for_arch(arch);
    o.router_mma = r;
    PatternAttention attn(test_pattern(pattern), o);
    const ModuleInfo info = attn.compile(128);
    std::vector<std::string> out;
    for (const auto& u : info.units)
      if (u.name.rfind("moga-router", 0) == 0) out.push_back(u.name + "@" + u.arch);
    for (const auto& k : info.kernels)
      if (k.rfind("moga::router_kernel", 0) == 0 || k.rfind("moga::router_wg_kernel", 0) == 0) out.push_back(k);
    return out;
  };
  using V = std::vector<std::string>;
  const V wg256{"moga-router-wg-n256@sm_90a", "moga::router_wg_kernel<256, 4, 128>", "moga::router_wg_kernel<256, 4, 64>"};
  const V mma256{"moga-router-nt32-cfg1@sm_90", "moga::router_kernel<32, 1, 2, 256, 2, true>"};
  const V mma64{"moga-router-nt8-cfg1@sm_90", "moga::router_kernel<8, 1, 3, 512, 2, true>"};
  EXPECT_EQ(units_of("attn_route256", "sm_90", RouterMma::Wgmma), wg256);
  EXPECT_EQ(units_of("attn_route256", "sm_90", RouterMma::Auto), wg256);  // 256 groups
  EXPECT_EQ(units_of("attn_route256", "sm_90", RouterMma::MmaSync), mma256);
  EXPECT_EQ(units_of("attn_route64", "sm_90", RouterMma::Wgmma),
            (V{"moga-router-wg-n64@sm_90a", "moga::router_wg_kernel<64, 8, 128>", "moga::router_wg_kernel<64, 8, 64>"}));
  EXPECT_EQ(units_of("attn_route64", "sm_90", RouterMma::Auto),  // every M since the loader's fix
            (V{"moga-router-wg-n64@sm_90a", "moga::router_wg_kernel<64, 8, 128>", "moga::router_wg_kernel<64, 8, 64>"}));
  EXPECT_EQ(units_of("attn_route64", "sm_90", RouterMma::MmaSync), mma64);
  EXPECT_EQ(units_of("attn_route256", "sm_80", RouterMma::Wgmma),
            (V{"moga-router-nt32-cfg1@sm_80", "moga::router_kernel<32, 1, 2, 256, 2, true>"}));
  unsetenv("MOGA_CACHE_DIR");
  std::filesystem::remove_all(tmpl);
}

// One module mixing both kernels (Auto, one kernel with a tile entry): sm_90a, v7 and v9 side by side.
// And head dim 64 under Auto: v7 alone, the plain target.
TEST(attention_jit, CompilesMixedAndHeadDim64Modules) {
  char tmpl[] = "/tmp/moga-attn-jit-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  setenv("MOGA_CACHE_DIR", tmpl, 1);
  AttentionOptions o = for_arch("sm_90");
  o.tiles["stga"] = TileConfig{64, 64, 4, 2};
  PatternAttention attn(load_builtin("moga"), o);
  const ModuleInfo mixed = attn.compile(128);
  EXPECT_EQ(mixed.arch, "sm_90a");
  EXPECT_EQ(mixed.engines, (std::vector<Engine>{Engine::Wgmma, Engine::MmaSync, Engine::Wgmma}));
  EXPECT_NE(std::find(mixed.kernels.begin(), mixed.kernels.end(),
                      "moga::attention_fwd<moga_gen_moga::stga, 128, 64, 64, 4, 2>"),
            mixed.kernels.end());
  EXPECT_NE(std::find(mixed.kernels.begin(), mixed.kernels.end(),
                      "moga::attention_fwd_tma<moga_gen_moga::frame_local, 128, 128, 128, 2>"),
            mixed.kernels.end());
  PatternAttention causal(load_builtin("causal"), for_arch("sm_90"));
  const ModuleInfo d64 = causal.compile(64);
  EXPECT_EQ(d64.arch, "sm_90");
  EXPECT_EQ(d64.engines, std::vector<Engine>{Engine::MmaSync});
  std::cout << "moga d128 mixed: compile " << mixed.compile_ms << " ms; causal d64 (mma.sync, sm_90): "
            << d64.compile_ms << " ms\n";
  unsetenv("MOGA_CACHE_DIR");
  std::filesystem::remove_all(tmpl);
}

// ---- group layout (group_layout.h): padded or packed, chosen per shape from the group sizes -----------

// mask_runs: a run ends before the first token of its group that does not see the run's first token both
// ways; runs_to_groups gives the groups' spans over their runs. Keys: token t in group t % 2 (N = 1,200);
// the mask: same block of 300 tokens (t / 300), so each group has runs of 150 tokens (4 per group).
TEST(attention_group_layout, MaskRuns) {
  const int N = 1200, G = 3, align = 32;  // group 2 empty
  std::vector<int> keys(N);
  for (int t = 0; t < N; ++t) keys[t] = t % 2;
  auto sees = [](int q, int kv) { return q / 300 == kv / 300; };
  const MaskRuns r = mask_runs(keys, G, align, sees);
  ASSERT_EQ(r.runs(), 8);
  EXPECT_EQ(r.group_of_run, (std::vector<int>{0, 0, 0, 0, 1, 1, 1, 1}));
  EXPECT_EQ(r.run_of[0], 0);
  EXPECT_EQ(r.run_of[298], 0);
  EXPECT_EQ(r.run_of[300], 1);
  EXPECT_EQ(r.run_of[1], 4);
  EXPECT_EQ(r.run_of[1199], 7);
  // every run's tokens see each other; consecutive runs of one group do not
  for (int t = 0; t < N; ++t)
    for (int u = 0; u < N; u += 37)
      if (r.run_of[t] == r.run_of[u]) EXPECT_TRUE(sees(t, u)) << t << " " << u;
  // sorted by run, each run at a multiple of 32 (150 -> 160 positions), then the groups' spans
  const int R = r.runs(), Ns = (int)moga::aligned_sorted_length(N, R, align);
  std::vector<int> perm(Ns), gid(Ns), scratch(R), seg_run(R + 1), end_run(R), seg(G + 1), seg_end(G);
  moga::counting_sort_host(r.run_of.data(), nullptr, 1, N, 1, R, scratch.data(), seg_run.data(), perm.data(), gid.data(),
                     nullptr, nullptr, align, Ns, end_run.data());
  runs_to_groups(r, G, Ns, seg_run.data(), end_run.data(), gid.data(), seg.data(), seg_end.data());
  EXPECT_EQ(seg, (std::vector<int>{0, 4 * 160, 8 * 160, 8 * 160}));
  EXPECT_EQ(seg_end, (std::vector<int>{3 * 160 + 150, 7 * 160 + 150, 8 * 160}));
  for (int s = 0; s < seg[G]; ++s) {
    const int in_run = (s % 160) < 150;
    EXPECT_EQ(gid[s], in_run ? s / (4 * 160) : -1) << "position " << s;
    if (in_run) EXPECT_EQ(keys[perm[s]], gid[s]);
  }
  // runs that would not pay: one run per group (a mask that holds everywhere), or runs shorter than 2 align
  EXPECT_EQ(mask_runs(keys, G, align, [](int, int) { return true; }).runs(), 0);
  EXPECT_EQ(mask_runs(keys, G, align, [](int q, int kv) { return q / 100 == kv / 100; }).runs(), 0);
}

TEST(attention_group_layout, TilePairCounts) {
  // 1,560 groups of 21 tokens (svg_temporal at 21x30x52): padded, a tile pair per group; packed, 6 groups
  // to a block of 128 (126 tokens), one pair per block
  const std::vector<int> tiny(1560, 21);
  EXPECT_EQ(padded_tile_pairs(tiny, 128, 128), 1560);
  EXPECT_EQ(packed_tile_pairs(tiny, 128, 128), 260);
  EXPECT_EQ(choose_group_layout(GroupLayout::Auto, 1560, 260), GroupLayout::Packed);
  // groups of exactly one tile: the same pairs; a tie keeps the padded layout
  const std::vector<int> exact(10, 128);
  EXPECT_EQ(padded_tile_pairs(exact, 128, 128), 10);
  EXPECT_EQ(packed_tile_pairs(exact, 128, 128), 10);
  EXPECT_EQ(choose_group_layout(GroupLayout::Auto, 10, 10), GroupLayout::Padded);
  // a group longer than two tiles, empty groups, groups of 1 and 2: packed into positions [0, 304) of
  // three blocks; query tiles [0, 128), [128, 256) in group 0, [256, 384) holding groups 0, 2, 4, 5 and
  // padding: each spans key tiles 0..2 (BN 64: 0..4, the last tile of 64 being padding only)
  const std::vector<int> mixed{300, 0, 1, 0, 2, 1};
  EXPECT_EQ(padded_tile_pairs(mixed, 128, 128), 3 * 3 + 1 + 1 + 1);
  EXPECT_EQ(packed_tile_pairs(mixed, 128, 128), 9);
  EXPECT_EQ(packed_tile_pairs(mixed, 128, 64), 3 * 5);
  // the 20% margin: packed must run fewer than 0.8x the padded pairs
  EXPECT_EQ(choose_group_layout(GroupLayout::Auto, 100, 80), GroupLayout::Padded);
  EXPECT_EQ(choose_group_layout(GroupLayout::Auto, 100, 79), GroupLayout::Packed);
  EXPECT_EQ(choose_group_layout(GroupLayout::Padded, 1000, 1), GroupLayout::Padded);
  EXPECT_EQ(choose_group_layout(GroupLayout::Packed, 1, 1000), GroupLayout::Packed);
  // a group crossing a block boundary starts at the next block: 100 + 100 -> [0, 100), [128, 228)
  EXPECT_EQ(packed_tile_pairs(std::vector<int>{100, 100}, 128, 128), 2);
  EXPECT_EQ(packed_tile_pairs(std::vector<int>{60, 60, 200}, 128, 128), 1 + 2 * 2);
  // routed estimates (groups of the mean size n = Ne / M): n = 16, a block per 120 entries
  EXPECT_EQ(padded_tile_pairs_estimate(4096, 256, 128, 128), 256);
  EXPECT_EQ(packed_tile_pairs_estimate(4096, 256, 128, 128), 35);
  EXPECT_EQ(packed_tile_pairs_estimate(4096, 256, 128, 64), 70);
  EXPECT_EQ(padded_tile_pairs_estimate(32768, 16, 128, 128), 16 * 16 * 16);
}

TEST(attention_group_layout, AutoChoosesPerShape) {
  const AttentionOptions o = for_arch("sm_90");  // wgmma tiles 128/128 at D = 128
  PatternAttention fl(load_builtin("frame_local"), o);
  const auto full_res = fl.group_layout(0, AttentionShape::make_video(1, 21, 30, 52, 12, 128));
  EXPECT_EQ(full_res.layout, GroupLayout::Padded);  // frames of 1,560 tokens
  EXPECT_EQ(full_res.align, 128);
  const auto low_res = fl.group_layout(0, AttentionShape::make_video(1, 520, 7, 9, 12, 128));
  EXPECT_EQ(low_res.layout, GroupLayout::Packed);  // frames of 63 tokens
  EXPECT_EQ(low_res.align, 128);
  EXPECT_EQ(low_res.packed_pairs, 260);
  EXPECT_EQ(low_res.padded_pairs, 520);
  PatternAttention dyn(load_builtin("moga_dynamic"), o);  // M = 5: groups of thousands
  EXPECT_EQ(dyn.group_layout(0, AttentionShape::make_video(1, 21, 30, 52, 12, 128)).layout, GroupLayout::Padded);
  PatternAttention r64(test_pattern("attn_route64"), o);
  EXPECT_EQ(r64.group_layout(0, AttentionShape::seq(1, 1001, 2, 128)).layout, GroupLayout::Packed);
  EXPECT_EQ(r64.group_layout(0, AttentionShape::seq(1, 32768, 2, 128)).layout, GroupLayout::Padded);
  AttentionOptions forced = o;
  forced.group_layout = GroupLayout::Packed;
  PatternAttention fp(load_builtin("frame_local"), forced);
  EXPECT_EQ(fp.group_layout(0, AttentionShape::make_video(1, 21, 30, 52, 12, 128)).layout, GroupLayout::Packed);
  PatternAttention dense(load_builtin("causal"), o);
  EXPECT_EQ(dense.group_layout(0, AttentionShape::seq(1, 1000, 2, 128)).layout, GroupLayout::Auto);  // not grouped
  EXPECT_THROW(dense.group_layout(3, AttentionShape::seq(1, 1000, 2, 128)), ArgumentError);
}
