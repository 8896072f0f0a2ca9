// runtime/attention/backward.h and the forward's log-sum-exp option without a GPU: which patterns the backward
// takes (the others are NotSupportedErrors naming the feature), every argument check of validate() (fake,
// never dereferenced device pointers), and NVRTC compiles of the backward module and of a forward module with
// AttentionOptions::lse (needs NVRTC, not a device).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <random>
#include <vector>
#include <sstream>
#include <string>

#include "runtime/attention/attention.h"
#include "runtime/attention/backward.h"
#include "runtime/attention/bwd_registry.h"
#include "runtime/attention/compiled_embed.h"
#include "runtime/attention/router_backward.h"
#include "kernels_src/cuda/bwd_map.cuh"
#include "kernels_src/cuda/prep.cuh"

namespace moga::rt {
const std::vector<CompiledText>& test_patterns();
}

using namespace moga::rt;

namespace {

LoadedPattern pattern_named(const std::string& name) {
  for (const auto& e : test_patterns())
    if (name == e.label) return load_from_text(e.cuda, e.manifest, e.label);
  return load_builtin(name);
}

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

constexpr CUdeviceptr kBase = 0x10000000, kStep = 0x10000000, kLse = 0xA0000000;
TensorView t(int i, int B, int N, int H, int D) {
  return TensorView::contiguous(kBase + i * kStep, DType::BF16, {B, N, H, D});
}
struct Args {
  BackwardInputs in;
  BackwardOutputs g;
  AttentionShape s;
};
Args args(int B, int N, int H, int D) {
  Args a;
  a.s = AttentionShape::seq(B, N, H, D);
  a.in = {t(0, B, N, H, D), t(1, B, N, H, D), t(2, B, N, H, D), t(3, B, N, H, D), t(4, B, N, H, D), {kLse}};
  a.g = {t(5, B, N, H, D), t(6, B, N, H, D), t(7, B, N, H, D)};
  return a;
}

// A fresh JIT cache for the test, removed at the end.
struct TmpCache {
  char dir[32] = "/tmp/moga-bwd-jit-XXXXXX";
  TmpCache() {
    if (!mkdtemp(dir)) throw std::runtime_error("mkdtemp");
    setenv("MOGA_CACHE_DIR", dir, 1);
  }
  ~TmpCache() {
    unsetenv("MOGA_CACHE_DIR");
    // MOGA_TEST_KEEP_JIT=1: the cubins stay for cuobjdump (SASS of a kernel one is changing)
    if (const char* k = std::getenv("MOGA_TEST_KEEP_JIT"); k && std::string(k) == "1")
      std::fprintf(stderr, "JIT cache kept: %s\n", dir);
    else
      std::filesystem::remove_all(dir);
  }
};

}  // namespace

TEST(attention_backward, TakesEveryKernelKind) {
  for (const char* p : {"full", "causal", "sliding_window", "radial", "natten2d", "frame_local", "stga", "bwd_hooks",
                        "bwd_holes", "bwd_groups", "moga_dynamic", "moga", "bwd_mix", "attn_routed_mix", "attn_top2",
                        "attn_top2_mix", "attn_hooks", "attn_video_bias", "attn_small_groups", "bwd_routed_gate", "attn_softcap"})
    EXPECT_NO_THROW(AttentionBackward{pattern_named(p)}) << p;
}

TEST(attention_backward, ValidateNamesTheArgument) {
  AttentionBackward b(pattern_named("causal"));
  Args a = args(2, 100, 3, 128);
  EXPECT_NO_THROW(b.validate(a.in, a.g, a.s));
  {
    Args x = a;
    x.in.lse = {0};
    expect_error<ArgumentError>([&] { b.validate(x.in, x.g, x.s); },
                                {"lse[0] (kernel 'causal'): missing", "AttentionOptions::lse"});
    x.in.lse = {kLse + 2};
    expect_error<ArgumentError>([&] { b.validate(x.in, x.g, x.s); }, {"lse[0]", "4-byte aligned"});
    x.in.lse = {};
    expect_error<ArgumentError>([&] { b.validate(x.in, x.g, x.s); }, {"lse: 0 buffers given", "has 1 kernels"});
  }
  {
    Args x = a;
    x.in.dout = t(4, 2, 99, 3, 128);
    expect_error<ArgumentError>([&] { b.validate(x.in, x.g, x.s); }, {"dout"});
    x = a;
    x.g.dk = TensorView::contiguous(kBase + 6 * kStep, DType::F32, {2, 100, 3, 128});
    expect_error<ArgumentError>([&] { b.validate(x.in, x.g, x.s); }, {"dk"});
    x = a;
    x.in.q = t(0, 2, 100, 3, 64);
    expect_error<ArgumentError>([&] { b.validate(x.in, x.g, x.s); }, {"q"});
  }
  {
    Args x = a;
    x.g.dq = x.in.dout;
    expect_error<ArgumentError>([&] { b.validate(x.in, x.g, x.s); }, {"dq overlaps the input dout"});
    x = a;
    x.g.dv = x.g.dk;
    expect_error<ArgumentError>([&] { b.validate(x.in, x.g, x.s); }, {"overlap"});
  }
  {
    AttentionBackward full(pattern_named("full"));
    Args x = a;
    x.in.k = t(1, 2, 50, 3, 128);
    x.in.v = t(2, 2, 50, 3, 128);
    expect_error<NotSupportedError>([&] { full.validate(x.in, x.g, x.s); }, {"cross-attention", "k has 50 tokens"});
  }
  {  // 2^24 tokens x 8 heads x 16 chunks of a row: 2^31, past the row kernels' 32-bit index
    auto big = [](int N) {  // 32 GiB tensors, 64 GiB apart
      auto v = [&](int i) { return TensorView::contiguous(CUdeviceptr(i) << 36, DType::BF16, {1, N, 8, 128}); };
      Args a;
      a.s = AttentionShape::seq(1, N, 8, 128);
      a.in = {v(1), v(2), v(3), v(4), v(5), {kLse}};
      a.g = {v(6), v(7), v(8)};
      return a;
    };
    Args x = big(1 << 24);
    expect_error<NotSupportedError>([&] { b.validate(x.in, x.g, x.s); }, {"N 16777216", "2147483648 chunks", "32 bits"});
    Args y = big((1 << 24) - 1);  // one token fewer fits
    EXPECT_NO_THROW(b.validate(y.in, y.g, y.s));
  }
}

TEST(attention_backward, RoutedNeedsTheForwardsRoutingAndDgate) {
  AttentionBackward b(pattern_named("moga_dynamic"));
  Args a = args(1, 60, 2, 128);
  a.s = AttentionShape::make_video(1, 3, 4, 5, 2, 128);
  expect_error<ArgumentError>([&] { b.validate(a.in, a.g, a.s); }, {"routing: 0 entries given", "1 routed kernels"});
  a.in.routing = {{0xB0000000, 0}};
  expect_error<ArgumentError>([&] { b.validate(a.in, a.g, a.s); }, {"routing[0]: gid / prob missing"});
  a.in.routing = {{0xB0000000, 0xC0000000}};
  expect_error<ArgumentError>([&] { b.validate(a.in, a.g, a.s); }, {"dgate[0]: missing", "router probability"});
  a.g.dgate = {0xD0000000, 0xD0000000};
  expect_error<ArgumentError>([&] { b.validate(a.in, a.g, a.s); }, {"dgate: 2 entries given"});
  a.g.dgate = {0xD0000000};
  EXPECT_NO_THROW(b.validate(a.in, a.g, a.s));
  AttentionBackward c(pattern_named("causal"));
  Args u = args(1, 60, 2, 128);
  u.in.routing = {{0xB0000000, 0xC0000000}};
  expect_error<ArgumentError>([&] { c.validate(u.in, u.g, u.s); }, {"routing: 1 entries given", "0 routed kernels"});
}

// Mixtures and top-k kernels need each kernel's lse and kept branch rows (RunOptions::branch_out).
TEST(attention_backward, MixturesNeedEachKernelsLseAndBranch) {
  AttentionBackward b(pattern_named("moga"));
  Args a = args(1, 60, 2, 128);
  a.s = AttentionShape::make_video(1, 3, 4, 5, 2, 128);
  a.in.routing = {{0xB0000000, 0xC0000000}};
  a.g.dgate = {0xD0000000};
  expect_error<ArgumentError>([&] { b.validate(a.in, a.g, a.s); }, {"lse: 1 buffers given", "has 3 kernels"});
  a.in.lse = {kLse, kLse + 0x1000000, kLse + 0x2000000};
  expect_error<ArgumentError>([&] { b.validate(a.in, a.g, a.s); },
                              {"branch_out: missing", "mixes 3 kernels", "RunOptions::branch_out"});
  a.in.branch_out = {t(8, 1, 60, 2, 128), t(9, 1, 60, 2, 128)};
  expect_error<ArgumentError>([&] { b.validate(a.in, a.g, a.s); }, {"branch_out: 2 buffers given", "3 kernels"});
  a.in.branch_out.push_back(t(10, 1, 59, 2, 128));
  expect_error<ArgumentError>([&] { b.validate(a.in, a.g, a.s); }, {"branch_out[2] (kernel 'frame_local')", "[1, 59, 2, 128]"});
  a.in.branch_out[2] = TensorView::strided(kBase + 10 * kStep, DType::BF16, {1, 60, 2, 128}, {60 * 256, 128, 7680, 1});
  expect_error<ArgumentError>([&] { b.validate(a.in, a.g, a.s); }, {"branch_out[2]", "contiguous"});
  a.in.branch_out[2] = t(10, 1, 60, 2, 128);
  EXPECT_NO_THROW(b.validate(a.in, a.g, a.s));
  {
    Args x = a;
    x.in.branch_out[1] = x.in.branch_out[0];
    expect_error<ArgumentError>([&] { b.validate(x.in, x.g, x.s); }, {"branch_out[1]", "overlaps entry 0"});
    x = a;
    x.g.dv = x.in.branch_out[1];
    expect_error<ArgumentError>([&] { b.validate(x.in, x.g, x.s); }, {"dv overlaps the input branch_out[1]"});
  }
  // top 2: a kernel's rows are its N k entries
  AttentionBackward top2(pattern_named("attn_top2"));
  Args k2 = args(1, 60, 2, 64);
  k2.in.routing = {{0xB0000000, 0xC0000000}};
  k2.g.dgate = {0xD0000000};
  expect_error<ArgumentError>([&] { top2.validate(k2.in, k2.g, k2.s); }, {"branch_out: missing", "top k > 1"});
  k2.in.branch_out = {t(8, 1, 60, 2, 64)};
  expect_error<ArgumentError>([&] { top2.validate(k2.in, k2.g, k2.s); }, {"branch_out[0]", "N k=120"});
  k2.in.branch_out = {t(8, 1, 120, 2, 64)};
  EXPECT_NO_THROW(top2.validate(k2.in, k2.g, k2.s));
}

TEST(attention_backward, RunOptionsLseNeedsTheOption) {
  PatternAttention f(pattern_named("causal"));
  RunOptions ro;
  ro.lse = {kLse};
  const Args a = args(1, 64, 1, 128);
  expect_error<ArgumentError>([&] { f.run(a.in.q, a.in.k, a.in.v, a.in.out, a.s, nullptr, nullptr, ro); },
                              {"RunOptions::lse", "AttentionOptions::lse"});
  AttentionOptions o;
  o.lse = true;
  PatternAttention g(pattern_named("causal"), o);
  ro.lse = {kLse, kLse};
  expect_error<ArgumentError>([&] { g.run(a.in.q, a.in.k, a.in.v, a.in.out, a.s, nullptr, nullptr, ro); },
                              {"2 buffers given", "has 1 kernels"});
}

TEST(attention_backward, RunOptionsBranchOutIsChecked) {
  const Args a = args(1, 64, 1, 128);
  RunOptions ro;
  ro.branch_out = {t(8, 1, 64, 1, 128)};
  expect_error<ArgumentError>([&] { PatternAttention(pattern_named("causal")).validate_branches(ro.branch_out, a.in.q, a.in.k, a.in.v, a.in.out, a.s); },
                              {"RunOptions::branch_out given", "AttentionOptions::lse"});
  AttentionOptions o;
  o.lse = true;
  PatternAttention f(pattern_named("causal"), o);
  EXPECT_NO_THROW(f.validate_branches(ro.branch_out, a.in.q, a.in.k, a.in.v, a.in.out, a.s));
  ro.branch_out = {a.in.out};
  expect_error<ArgumentError>([&] { f.run(a.in.q, a.in.k, a.in.v, a.in.out, a.s, nullptr, nullptr, ro); },
                              {"RunOptions::branch_out[0] (kernel 'causal') overlaps out"});
  ro.branch_out = {t(8, 1, 64, 1, 128), t(9, 1, 64, 1, 128)};
  expect_error<ArgumentError>([&] { f.run(a.in.q, a.in.k, a.in.v, a.in.out, a.s, nullptr, nullptr, ro); },
                              {"RunOptions::branch_out: 2 buffers given", "has 1 kernels"});
}

TEST(attention_backward, CompilesWithoutADevice) {
  TmpCache cache;
  BackwardOptions o;
  o.arch = "sm_90";
  AttentionBackward b(pattern_named("bwd_hooks"), o);
  // the default row on sm_90: sm90.wg.tma at both head dims (the TMA kernel without a gather)
  const auto k128 = b.compile(128), k64 = b.compile(64);
  EXPECT_NE(std::find(k128.begin(), k128.end(), "moga::attention_bwd_wg_tma<moga_gen_bwd_hooks::hooks, 128, true>"),
            k128.end());
  EXPECT_NE(std::find(k64.begin(), k64.end(), "moga::attention_bwd_wg_tma<moga_gen_bwd_hooks::hooks, 64, true>"),
            k64.end());
  EXPECT_NE(std::find(k64.begin(), k64.end(), "moga::attention_bwd_dq<moga_gen_bwd_hooks::hooks, 64, 128>"), k64.end());
  expect_error<ArgumentError>([&] { b.compile(96); }, {"head dim 96"});
  // a mixture with a top-2 kernel: one unit per kernel (in parallel) and the shared one
  AttentionBackward mix(pattern_named("attn_top2_mix"), o);
  const auto km = mix.compile(128);
  // (gathering kernels: the row's cp.async kernel; the deterministic dQ pass over 128-key map tiles)
  for (const char* k : {"moga::attention_bwd_wg<moga_gen_attn_top2_mix::routed, 128, false>",
                        "moga::attention_bwd_dq<moga_gen_attn_top2_mix::frame, 128, 128>",
                        "moga::attn_bwd_fold_kernel<128>"})
    EXPECT_NE(std::find(km.begin(), km.end(), k), km.end()) << k;
  // routed kernels sort and map on the device: the prep kernels, the masked one's block map and the transpose,
  // a gate program's fill
  const auto kr = AttentionBackward(pattern_named("attn_routed_mix"), o).compile(128);
  for (const char* k : {"moga::sort_hist_kernel", "moga::sort_scatter_kernel", "moga::block_map_grouped_kernel",
                        "moga::tile_summary_kernel", "moga::attn_bwd_transpose_map_kernel<128>",
                        "moga::block_map_kernel<moga_gen_attn_routed_mix::routed>"})
    EXPECT_NE(std::find(kr.begin(), kr.end(), k), kr.end()) << k;
  const auto kg = AttentionBackward(pattern_named("bwd_routed_gate"), o).compile(64);
  EXPECT_NE(std::find(kg.begin(), kg.end(), "moga::gate_fill_kernel<moga_gen_bwd_routed_gate::bwd_routed_gate>"),
            kg.end());
}

// The backward registry (bwd_registry.h): rows by name, what each can run, the forced row and the default.
TEST(attention_backward, RegistryChoosesARowByArchAndHeadDim) {
  unsetenv("MOGA_BWD_ENGINE");
  ASSERT_NE(find_backward("sm80.mma"), nullptr);
  ASSERT_NE(find_backward("sm90.wg"), nullptr);
  EXPECT_EQ(find_backward("sm90.ws"), nullptr);
  const BackwardVariant& wg = *find_backward("sm90.wg");
  EXPECT_EQ(wg.check("sm_90", 128), "");
  EXPECT_EQ(wg.check("sm_90a", 128), "");
  EXPECT_NE(wg.check("sm_80", 128).find("sm_90 only"), std::string::npos);
  EXPECT_EQ(wg.check("sm_90", 64), "");
  EXPECT_NE(wg.check("sm_90", 96).find("head dim 96"), std::string::npos);
  EXPECT_EQ(find_backward("sm80.mma")->check("sm_80", 64), "");
  EXPECT_EQ(wg.main_expr("moga_gen_full::full", 128, true), "moga::attention_bwd_wg<moga_gen_full::full, 128, true>");
  EXPECT_EQ(wg.dq_expr("moga_gen_full::full", 128), "moga::attention_bwd_dq<moga_gen_full::full, 128, 128>");
  EXPECT_EQ(find_backward("sm80.mma")->dq_expr("V", 64), "moga::attention_bwd_dq<V, 64>");
  const BackwardVariant& bulk = *find_backward("sm90.wg.bulk");
  EXPECT_EQ(bulk.main_expr("V", 128, true), "moga::attention_bwd_wg<V, 128, true, true>");
  EXPECT_EQ(bulk.main_expr("V", 128, false), "moga::attention_bwd_wg<V, 128, false>");  // no dQ: sm90.wg's
  // forced rows, by option or environment; a row that cannot run is refused with the reason
  EXPECT_STREQ(choose_backward("sm_90", 128, "sm90.wg").name, "sm90.wg");
  EXPECT_STREQ(choose_backward("sm_90", 128, "sm80.mma").name, "sm80.mma");
  EXPECT_STREQ(choose_backward("sm_80", 128, "").name, "sm80.mma");
  EXPECT_STREQ(choose_backward("sm_90", 64, "auto").name, "sm90.wg.tma");
  EXPECT_STREQ(choose_backward("sm_90", 128, "").name, "sm90.wg.tma");     // the sm_90 default at D = 128
  EXPECT_STREQ(choose_backward("sm_90a", 128, "auto").name, "sm90.wg.tma");
  EXPECT_STREQ(choose_backward("sm_90", 64, "sm90.wg").name, "sm90.wg");
  expect_error<ArgumentError>([] { choose_backward("sm_80", 128, "sm90.wg"); },
                              {"BackwardOptions::engine 'sm90.wg'", "sm_90 only", "sm_80"});
  expect_error<ArgumentError>([] { choose_backward("sm_90", 128, "fa3"); },
                              {"'fa3'", "sm80.mma, sm90.wg, sm90.wg.bulk, sm90.wg.tma, sm90.wg.tma.bulk, sm90.wg.tma.rs"});
  const BackwardVariant& rs = *find_backward("sm90.wg.tma.rs");
  EXPECT_EQ(rs.main_expr("V", 128, true), "moga::attention_bwd_wg_tma<V, 128, true, false, true>");
  EXPECT_EQ(rs.main_expr("V", 128, false), "moga::attention_bwd_wg_tma<V, 128, false, false, true>");
  EXPECT_EQ(rs.main_expr("V", 128, true, true), "moga::attention_bwd_wg<V, 128, true>");
  // the TMA rows: their TMA kernel for kernels without a gather, the cp.async one for the others
  const BackwardVariant& tma = *find_backward("sm90.wg.tma.bulk");
  EXPECT_EQ(tma.main_expr("V", 128, true), "moga::attention_bwd_wg_tma<V, 128, true, true>");
  EXPECT_EQ(tma.main_expr("V", 128, true, true), "moga::attention_bwd_wg<V, 128, true, true>");
  EXPECT_TRUE(tma.uses_tma(false));
  EXPECT_FALSE(tma.uses_tma(true));
  EXPECT_FALSE(wg.uses_tma(false));
  setenv("MOGA_BWD_ENGINE", "sm90.wg", 1);
  EXPECT_STREQ(choose_backward("sm_90", 128, "").name, "sm90.wg");
  EXPECT_STREQ(choose_backward("sm_90", 64, "").name, "sm90.wg");
  EXPECT_STREQ(choose_backward("sm_90", 128, "sm80.mma").name, "sm80.mma");  // the option wins
  expect_error<ArgumentError>([] { choose_backward("sm_80", 64, ""); }, {"MOGA_BWD_ENGINE 'sm90.wg'", "sm_90 only"});
  unsetenv("MOGA_BWD_ENGINE");
  EXPECT_STREQ(default_backward("sm_80", 128).name, "sm80.mma");
}

// NVRTC compiles the wgmma backward (sm_90a) of every kernel kind: dense, masked, causal, computed groups,
// routed top 1 / top 2, softcap, bias, gates, mixtures; both dQ modes and the deterministic dQ pass over its
// 128-key map tiles. ptxas's registers and spills of each attention_bwd_wg are printed; wgmma serialized for
// want of registers (C7512) is a failure.
TEST(attention_backward, WgmmaEngineCompilesEveryKernelKind) {
  TmpCache cache;
  BackwardOptions o;
  o.arch = "sm_90";
  o.nvrtc_flags = {"--ptxas-options=-v"};
  const std::vector<std::pair<const char*, std::vector<const char*>>> runs = {
      {"sm90.wg",
       {"full", "causal", "bwd_hooks", "bwd_holes", "bwd_groups", "bwd_mix", "attn_hooks", "attn_all_masked",
        "moga_dynamic", "attn_top2_mix", "attn_video_bias", "bwd_routed_gate", "stga"}},
      {"sm90.wg.bulk", {"full", "bwd_hooks", "moga_dynamic", "attn_top2_mix"}},  // its dQ only differs
      // the TMA producer on kernels without a gather (dense, masked, softcap and bias, a mixture of them)
      {"sm90.wg.tma", {"full", "causal", "bwd_hooks", "bwd_mix", "attn_video_bias"}},
      {"sm90.wg.tma.bulk", {"full", "bwd_holes"}},
      {"sm90.wg.tma.rs", {"full", "causal", "bwd_hooks", "attn_video_bias", "attn_softcap"}}};
  // D = 64 (dQ per warpgroup over its own keys): a dense, a softcap + bias, a routed and a top-2 mixture kernel
  const std::vector<const char*> d64 = {"full", "bwd_hooks", "moga_dynamic", "attn_top2_mix"};
  // MOGA_BWD_COMPILE_ONLY=row:pattern compiles that one (e.g. to read its SASS with MOGA_TEST_KEEP_JIT=1)
  const char* only = std::getenv("MOGA_BWD_COMPILE_ONLY");
  for (const auto& [row, pats] : runs)
  for (const char* pat : pats)
  for (int D : {128, 64}) {
    if (only && std::string(only) != std::string(row) + ":" + pat) continue;
    // sm90.wg and sm90.wg.tma at D = 64
    const bool d64_row = std::string(row) == "sm90.wg" || std::string(row) == "sm90.wg.tma";
    if (D == 64 && (!d64_row || std::find(d64.begin(), d64.end(), std::string(pat)) == d64.end()))
      continue;
    o.engine = row;
    AttentionBackward b(pattern_named(pat), o);
    std::vector<std::string> logs;
    const auto names = b.compile(D, &logs);
    size_t n_wg = 0;
    for (const auto& n : names) n_wg += n.rfind("moga::attention_bwd_wg", 0) == 0;  // _wg< or _wg_tma<
    EXPECT_GT(n_wg, 0u) << pat;
    for (const auto& log : logs) {
      EXPECT_EQ(log.find("C7512"), std::string::npos) << pat << ": wgmma serialized\n" << log;
      // ptxas -v: "Function properties for <mangled name>", then the stack / spill line; "Used N registers" next
      std::vector<std::string> lines;
      std::istringstream in(log);
      for (std::string l; std::getline(in, l);) lines.push_back(l);
      for (size_t i = 0; i + 2 < lines.size(); ++i)
        if (lines[i].find("Function properties") != std::string::npos &&
            lines[i].find("attention_bwd_wg") != std::string::npos)
          std::printf("%-12s %-16s D=%d %s\n  %s |%s\n", row, pat, D, lines[i].substr(lines[i].find("_ZN")).c_str(),
                      lines[i + 1].c_str(), lines[i + 2].c_str());
    }
  }
}

// The forward with AttentionOptions::lse holds both instantiations, and the default one is named exactly as
// without the option (the same kernel).
TEST(attention_backward, ForwardLseModuleKeepsTheDefaultKernel) {
  TmpCache cache;
  for (Engine e : {Engine::MmaSync, Engine::Wgmma}) {
    AttentionOptions o;
    o.arch = "sm_90";
    o.engine = e;
    const ModuleInfo plain = PatternAttention(pattern_named("causal"), o).compile(128);
    o.lse = true;
    const ModuleInfo lse = PatternAttention(pattern_named("causal"), o).compile(128);
    for (const auto& k : plain.kernels)
      EXPECT_NE(std::find(lse.kernels.begin(), lse.kernels.end(), k), lse.kernels.end()) << k;
    const std::string want = e == Engine::MmaSync ? "moga::attention_fwd<moga_gen_causal::causal, 128, 128, 64, 4, 2, true>"
                                                  : "moga::attention_fwd_tma<moga_gen_causal::causal, 128, 128, 176, 2, true>";  // sm90.tma
    EXPECT_NE(std::find(lse.kernels.begin(), lse.kernels.end(), want), lse.kernels.end()) << want;
  }
}

TEST(router_backward, ChecksSizesAndArguments) {
  expect_error<ArgumentError>([] { RouterBackward(0, 1); }, {"M = 0", "1..256"});
  expect_error<ArgumentError>([] { RouterBackward(300, 1); }, {"M = 300"});
  expect_error<ArgumentError>([] { RouterBackward(4, 5); }, {"top 5 of M = 4"});
  expect_error<ArgumentError>([] { RouterBackward(4, 2, {-1.0}); }, {"balance_weight -1"});
  RouterBackward rb(16, 2);
  RouterBackwardArgs a;
  a.x = TensorView::contiguous(kBase, DType::BF16, {2, 100, 64});
  a.w = TensorView::contiguous(kBase + kStep, DType::BF16, {64, 16});
  a.routing = {kBase + 2 * kStep, kBase + 3 * kStep};
  a.dgate = kBase + 4 * kStep;
  a.dx = kBase + 5 * kStep, a.dw = kBase + 6 * kStep;
  EXPECT_NO_THROW(rb.validate(a));
  {
    RouterBackwardArgs b = a;
    b.x = TensorView::contiguous(kBase, DType::F32, {2, 100, 64});
    expect_error<ArgumentError>([&] { rb.validate(b); }, {"x: expected bf16 [B, N, d_model]", "f32"});
    b = a;
    b.x = TensorView::strided(kBase, DType::BF16, {2, 100, 64}, {12800, 64, 1});
    expect_error<ArgumentError>([&] { rb.validate(b); }, {"x: the batch stride 12800", "N times the token stride"});
    // cuBLASLt's bf16 operand: d_model, the strides multiples of 8 elements, the pointer 16-byte aligned
    b = a;
    b.x = TensorView::contiguous(kBase, DType::BF16, {2, 100, 60});
    b.w = TensorView::contiguous(kBase + kStep, DType::BF16, {60, 16});
    expect_error<ArgumentError>([&] { rb.validate(b); }, {"x: d_model 60 must be a multiple of 8"});
    b = a;
    b.x = TensorView::strided(kBase, DType::BF16, {2, 100, 64}, {6800, 68, 1});
    expect_error<ArgumentError>([&] { rb.validate(b); }, {"x: token stride 68", "multiple of 8"});
    b = a;
    b.x = TensorView::strided(kBase, DType::BF16, {2, 100, 64}, {4800, 48, 1});
    expect_error<ArgumentError>([&] { rb.validate(b); }, {"x: the token stride 48 is below d_model 64"});
    b = a;
    b.x = TensorView::contiguous(kBase + 8, DType::BF16, {2, 100, 64});
    expect_error<ArgumentError>([&] { rb.validate(b); }, {"x: data pointer", "16-byte aligned"});
    b = a;
    b.x = TensorView::strided(kBase, DType::BF16, {2, 100, 64}, {7200, 72, 1});  // padded rows: fine
    EXPECT_NO_THROW(rb.validate(b));
    b.x = TensorView::contiguous(kBase, DType::BF16, {1, 37, 200});  // d_model no multiple of 64, odd T: fine
    b.w = TensorView::strided(kBase + kStep, DType::BF16, {200, 16}, {1, 200});  // W stored [M][d]: fine
    EXPECT_NO_THROW(rb.validate(b));
    b = a;
    b.w = TensorView::contiguous(kBase + kStep, DType::BF16, {64, 8});
    expect_error<ArgumentError>([&] { rb.validate(b); }, {"w"});
    b = a;
    b.routing.gid = 0;
    expect_error<ArgumentError>([&] { rb.validate(b); }, {"routing.gid: missing"});
    b = a;
    b.dw = 0;
    expect_error<ArgumentError>([&] { rb.validate(b); }, {"dx / dw: missing"});
    b = a;
    b.dx += 2;
    expect_error<ArgumentError>([&] { rb.validate(b); }, {"dx: not 4-byte aligned"});
    b = a;
    b.balance_loss = kBase + 7 * kStep;
    expect_error<ArgumentError>([&] { rb.validate(b); }, {"balance_loss given", "balance_weight is 0"});
    b = a;
    b.dgate = 0;
    expect_error<ArgumentError>([&] { rb.validate(b); }, {"dgate: missing, and no balance loss"});
  }
  RouterBackwardOptions o;
  o.balance_weight = 0.1;
  RouterBackward bal(16, 2, o);
  a.dgate = 0;  // the balance loss alone
  a.balance_loss = kBase + 7 * kStep;
  EXPECT_NO_THROW(bal.validate(a));
}

TEST(router_backward, CompilesWithoutADevice) {
  TmpCache cache;
  RouterBackwardOptions o;
  o.arch = "sm_90";
  const auto k = RouterBackward(16, 1, o).compile();
  // the small kernels around cuBLASLt's three products (no GEMM kernel of its own)
  for (const char* want : {"moga::router_bwd_hist_kernel", "moga::router_bwd_pack_w_kernel",
                           "moga::router_bwd_softmax_kernel", "moga::router_bwd_loss_kernel",
                           "moga::router_bwd_fold_kernel"})
    EXPECT_NE(std::find(k.begin(), k.end(), want), k.end()) << want;
  EXPECT_EQ(k.size(), 5u);
}

// Routed kernels take the query-major grouped map (prep.cuh's grouped_map_row / grouped_map_class, what
// block_map_grouped_kernel writes) as their key-major one too (bwd_map.cuh): at equal 64-row tiles of one
// unpadded sorted order the classification is symmetric, and it is the backward's rule: non-empty exactly when
// the tiles share a group, full exactly when both hold that one group only. Random group sizes with empty
// groups, lengths no multiple of the tile, one group, many small ones.
TEST(attention_backward, GroupedMapIsSymmetric) {
  std::mt19937 rng(7);
  constexpr int T = 64;
  for (int trial = 0; trial < 300; ++trial) {
    const int G = 1 + (int)(rng() % 40), Ne = 1 + (int)(rng() % 2000);
    std::vector<int> gid(Ne);
    for (int& g : gid) g = (int)(rng() % G);
    if (trial % 3 == 0)
      for (int& g : gid) g = (g / 2) * 2;  // every odd group empty
    std::sort(gid.begin(), gid.end());
    std::vector<int> seg(G + 1, 0);
    for (int g : gid) ++seg[g + 1];
    for (int g = 0; g < G; ++g) seg[g + 1] += seg[g];
    const int nt = (Ne + T - 1) / T;
    auto cls = [&](int i, int j) {
      const moga::GroupedRow r = moga::grouped_map_row(gid.data(), seg.data(), Ne, T, T, i);
      return j < r.jl || j > r.jh ? 0 : moga::grouped_map_class(gid.data(), Ne, T, r, j);
    };
    for (int i = 0; i < nt; ++i)
      for (int j = 0; j < nt; ++j) {
        const int ilo = gid[i * T], ihi = gid[std::min(Ne, (i + 1) * T) - 1];
        const int jlo = gid[j * T], jhi = gid[std::min(Ne, (j + 1) * T) - 1];
        const int want = std::max(ilo, jlo) > std::min(ihi, jhi) ? 0 : (ilo == ihi && jlo == jhi ? 1 : 2);
        ASSERT_EQ(cls(i, j), want) << "G " << G << " Ne " << Ne << " tiles " << i << ", " << j;
        ASSERT_EQ(cls(i, j), cls(j, i)) << "G " << G << " Ne " << Ne << " tiles " << i << ", " << j;
      }
  }
}

// bwd_map_class, the lookup attn_bwd_transpose_map_kernel runs for each (query tile, key tile): the class in
// ascending full / partial lists, against the map it was built from (random maps, empty lists, Tk 1).
TEST(attention_backward, TransposeLookupFindsEveryListEntry) {
  std::mt19937 rng(11);
  for (int trial = 0; trial < 200; ++trial) {
    const int tk = 1 + (int)(rng() % 70);
    std::vector<int> want(tk), fi, pi;
    for (int& c : want) c = (int)(rng() % 3);
    for (int j = 0; j < tk; ++j) {
      if (want[j] == 1) fi.push_back(j);
      if (want[j] == 2) pi.push_back(j);
    }
    for (int j = -1; j <= tk; ++j)
      ASSERT_EQ(moga::bwd_map_class(fi.data(), (int)fi.size(), pi.data(), (int)pi.size(), j),
                j < 0 || j >= tk ? 0 : want[j])
          << "tile " << j << " of " << tk;
  }
}
