// runtime/attention on a GPU: every shipped pattern (and the test patterns of test/unit/patterns/)
// run through PatternAttention and compared with the CPU reference (ref::reference_attention, in
// double), on fresh random inputs (the seed is printed; MOGA_TEST_SEED=S repeats a run).
//
// Pass criterion: relative L2 error ||out - ref|| / ||ref|| <= 1e-2 (bf16 operands, bf16 P, a bf16
// output accumulated in bf16 across branches); a reference of norm 0 (no visible key anywhere) needs
// an exact 0. The output is poisoned with 0xFFFF (a bf16 NaN) before every run, and no NaN may
// survive (every element written).
// Routed kernels: the reference is fed the GPU's own routing (gid/prob from last_routing), so ties
// cannot differ; the GPU router is checked separately against the CPU router (same group wherever
// the CPU's top-2 logit margin exceeds 1e-3, probabilities within 1e-4). Token orders are checked
// exactly against counting_sort_host, block maps against ref::build_block_maps.
// Without a device every test SKIPs loudly ("no CUDA device: <reason>").
//
// Engines: every test of the gpu_attention_pub suite runs twice, once per attention kernel
// (AttentionOptions::engine = MmaSync: attention_fwd, v7; = Wgmma: attention_fwd_wg, v9, at both head
// dims, module built for sm_90a), names ending in /mma_sync and /wgmma; the wgmma ones SKIP on a
// device that is not sm_90. Each checks that the engine it asked for is the one that ran. The
// gpu_attention suite holds the Auto checks (v9 at D = 128 on Hopper, v7 at D = 64).
// Before the first test a global environment compiles every module the tests need into the JIT
// cache on all cores (the tests would compile them one by one otherwise); a module it misses is
// simply compiled by its test.
#include <gtest/gtest.h>
#include <fmt/format.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kernels_src/cuda/fp8_prep.cuh"
#include "kernels_src/cuda/prep.cuh"
#include "runtime/attention/attention.h"
#include "runtime/attention/bf16.h"
#include "runtime/attention/compiled_embed.h"
#include "runtime/jit/driver.h"
#include "runtime/jit/check.h"
#include "runtime/jit/jit.h"
#include "runtime/jit/driver.h"
#include "runtime/jit/module.h"
#include "runtime/reference/attention.h"
#include "runtime/reference/block_map.h"
#include "test/unit/fp8_model.h"

namespace moga::rt {
const std::vector<CompiledText>& test_patterns();
}

using namespace moga;
using namespace moga::rt;

namespace {

constexpr double kTol = 1e-2;

float round_bf(float f) { return bf2f(f2bf(f)); }

uint64_t base_seed() {
  static const uint64_t s = [] {
    if (const char* e = getenv("MOGA_TEST_SEED")) return (uint64_t)strtoull(e, nullptr, 10);
    return ((uint64_t)std::random_device{}() << 32) ^ std::random_device{}();
  }();
  return s;
}

LoadedPattern test_pattern(const std::string& label) {
  for (const auto& e : test_patterns())
    if (label == e.label) return load_from_text(e.cuda, e.manifest, e.label);
  throw std::runtime_error("no test pattern " + label);
}

// A bf16 device tensor with its host copy (as floats, exactly the bf16 values).
struct DevT {
  std::unique_ptr<jit::DeviceBuffer> buf;
  std::vector<float> host;
  void upload_bf16(const std::vector<float>& v) {
    host = v;
    std::vector<unsigned short> b(v.size());
    for (size_t i = 0; i < v.size(); ++i) b[i] = f2bf(v[i]);
    buf = std::make_unique<jit::DeviceBuffer>(std::max<size_t>(16, b.size() * 2));
    buf->upload(b.data(), b.size() * 2);
  }
  std::vector<float> download_bf16(size_t n) const {
    std::vector<unsigned short> b(n);
    buf->download(b.data(), n * 2);
    std::vector<float> f(n);
    for (size_t i = 0; i < n; ++i) f[i] = bf2f(b[i]);
    return f;
  }
};

std::vector<float> random_bf(size_t n, std::mt19937_64& rng, float lo = -1.f, float hi = 1.f) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = round_bf(d(rng));
  return v;
}

struct Problem {
  AttentionShape s;
  int d_model = 64;
  uint64_t seed = 0;
  // optional: shape the routing (called with x [B][N][d] and the weights per kernel [d][M])
  std::function<void(std::vector<float>& x, std::vector<std::vector<float>>& w)> tweak_router;
  bool packed_qkv = false;  // q, k, v as views of one [B, N, 3, H, D] tensor
  // > 0: after a first uncaptured call, one call is captured into a CUDA graph on a stream of its own and the
  // graph launched this many times, the router's x rewritten in place (new values, new routing) before each
  // launch after the first; the outcome is the last launch's against the reference on the last x.
  int graph_replays = 0;
  // optional: shape the random q, k, v (which: 0, 1, 2) before they are rounded to bf16 and uploaded
  std::function<void(std::vector<float>& x, int which)> inputs;
};

struct Outcome {
  double rel = 0, ref_norm = 0;
  long long unwritten = 0;
  std::vector<float> out;
  std::vector<double> ref;
  std::vector<PatternAttention::Routing> routing;  // per kernel (empty when not routed)
  std::vector<float> q, k, v;  // the inputs (bf16 values), [B][N][H][D]
};

class gpu_attention : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!jit::device_available(&why)) GTEST_SKIP() << "no CUDA device: " << why;
    jit::Device::get().make_current();
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    seed_ = base_seed() ^ std::hash<std::string>{}(info->name());
    std::cout << "seed: " << seed_ << " (MOGA_TEST_SEED=" << base_seed() << ")\n";
  }
  uint64_t seed_ = 0;

  // tol: the bound (FP8: kFp8Tol); only_d != 0: the cases at that head dim alone (FP8 runs D = 128)
  void check_cross(PatternAttention& attn, const std::string& tag, const std::function<void(int)>& expect_rows,
                   double tol = kTol, int only_d = 0);

  // Runs `attn` on random inputs and the CPU reference on the same inputs and routing.
  Outcome run(PatternAttention& attn, Problem p, RunOptions ro = {}) {
    const auto& spec = attn.spec();
    const AttentionShape& s = p.s;
    std::mt19937_64 rng(p.seed ? p.seed : seed_);
    const size_t nel = (size_t)s.B * s.N * s.H * s.D;
    DevT q, k, v, qkv, x;
    std::vector<DevT> w(spec.kernels.size());
    TensorView tq, tk, tv;
    if (p.packed_qkv) {
      // [B][N][3][H][D]
      std::vector<float> all = random_bf(nel * 3, rng);
      qkv.upload_bf16(all);
      const int64_t sn = 3LL * s.H * s.D, sb = sn * s.N;
      auto part = [&](int j, std::vector<float>& host) {
        host.resize(nel);
        for (int b = 0; b < s.B; ++b)
          for (int n = 0; n < s.N; ++n)
            for (int h = 0; h < s.H; ++h)
              for (int d = 0; d < s.D; ++d)
                host[(((size_t)b * s.N + n) * s.H + h) * s.D + d] = all[b * sb + n * sn + j * s.H * s.D + h * s.D + d];
        return TensorView::strided(qkv.buf->ptr() + 2 * j * s.H * s.D, DType::BF16, {s.B, s.N, s.H, s.D},
                                   {sb, sn, s.D, 1});
      };
      tq = part(0, q.host);
      tk = part(1, k.host);
      tv = part(2, v.host);
    } else {
      auto gen = [&](int which) {
        std::vector<float> x = random_bf(nel, rng);
        if (p.inputs) {
          p.inputs(x, which);
          for (float& f : x) f = round_bf(f);
        }
        return x;
      };
      q.upload_bf16(gen(0));
      k.upload_bf16(gen(1));
      v.upload_bf16(gen(2));
      tq = TensorView::contiguous(q.buf->ptr(), DType::BF16, {s.B, s.N, s.H, s.D});
      tk = TensorView::contiguous(k.buf->ptr(), DType::BF16, {s.B, s.N, s.H, s.D});
      tv = TensorView::contiguous(v.buf->ptr(), DType::BF16, {s.B, s.N, s.H, s.D});
    }
    DevT o;
    o.buf = std::make_unique<jit::DeviceBuffer>(nel * 2);
    o.buf->fill_bytes(0xFF);  // bf16 NaN everywhere
    const TensorView to = TensorView::contiguous(o.buf->ptr(), DType::BF16, {s.B, s.N, s.H, s.D});

    RouterInputs router;
    std::vector<std::vector<float>> wh(spec.kernels.size());
    std::vector<float> xh;
    const bool routed = !attn.routed_kernels().empty();
    if (routed) {
      xh = random_bf((size_t)s.B * s.N * p.d_model, rng);
      const float a = 3.f / std::sqrt((float)p.d_model);
      for (int ki : attn.routed_kernels())
        wh[ki] = random_bf((size_t)p.d_model * spec.kernels[ki].route->groups, rng, -a, a);
      if (p.tweak_router) {
        p.tweak_router(xh, wh);
        for (float& f : xh) f = round_bf(f);
        for (auto& ww : wh)
          for (float& f : ww) f = round_bf(f);
      }
      x.upload_bf16(xh);
      router.x = TensorView::contiguous(x.buf->ptr(), DType::BF16, {s.B, s.N, p.d_model});
      for (int ki : attn.routed_kernels()) {
        w[ki].upload_bf16(wh[ki]);
        router.weights.push_back(
            TensorView::contiguous(w[ki].buf->ptr(), DType::BF16, {p.d_model, spec.kernels[ki].route->groups}));
      }
    }
    if (p.graph_replays > 0) {
      const jit::Driver& d = jit::driver();
      CUstream cs;
      CU_CHECK(d.cuStreamCreate(&cs, CU_STREAM_NON_BLOCKING));
      attn.run(tq, tk, tv, to, s, routed ? &router : nullptr, cs, ro);  // the shape's static work, uncaptured
      CU_CHECK(d.cuStreamSynchronize(cs));
      CUgraph graph = nullptr;
      CU_CHECK(d.cuStreamBeginCapture(cs, CU_STREAM_CAPTURE_MODE_GLOBAL));
      std::string err;
      try {
        attn.run(tq, tk, tv, to, s, routed ? &router : nullptr, cs, ro);
      } catch (const std::exception& e) {
        err = e.what();
      }
      const CUresult end = d.cuStreamEndCapture(cs, &graph);
      EXPECT_EQ(err, "") << "PatternAttention::run failed while captured (a host copy or synchronization?)";
      EXPECT_EQ(end, CUDA_SUCCESS) << "stream capture of PatternAttention::run was invalidated";
      if (err.empty() && end == CUDA_SUCCESS) {
        CUgraphExec exec = nullptr;
        CU_CHECK(d.cuGraphInstantiate(&exec, graph, 0));
        for (int rep = 0; rep < p.graph_replays; ++rep) {
          if (rep > 0 && routed) {  // new router inputs in the same buffer: the graph must route them afresh
            xh = random_bf(xh.size(), rng);
            std::vector<unsigned short> b(xh.size());
            for (size_t i = 0; i < xh.size(); ++i) b[i] = f2bf(xh[i]);
            x.buf->upload(b.data(), b.size() * 2);
          }
          o.buf->fill_bytes(0xFF);
          CU_CHECK(d.cuGraphLaunch(exec, cs));
          CU_CHECK(d.cuStreamSynchronize(cs));
        }
        CU_CHECK(d.cuGraphExecDestroy(exec));
      }
      if (graph) CU_CHECK(d.cuGraphDestroy(graph));
      CU_CHECK(d.cuStreamDestroy(cs));
    } else {
      if (!ro.prep) attn.run(tq, tk, tv, to, s, routed ? &router : nullptr, nullptr);  // a full run first
      attn.run(tq, tk, tv, to, s, routed ? &router : nullptr, nullptr, ro);
    }
    CU_CHECK(jit::driver().cuCtxSynchronize());

    Outcome r;
    r.q = q.host, r.k = k.host, r.v = v.host;
    r.out = o.download_bf16(nel);
    for (float f : r.out) r.unwritten += std::isnan(f) ? 1 : 0;

    // the reference, with the GPU's routing
    ref::RefInputs in;
    in.B = s.B;
    in.heads = s.H;
    in.head_dim = s.D;
    in.N = s.N;
    if (s.video) in.video = ref::VideoShape{s.F, s.Hgt, s.Wid, s.shot_starts};
    in.q = q.host.data();
    in.k = k.host.data();
    in.v = v.host.data();
    std::vector<ref::Grouping> groupings(spec.kernels.size());
    r.routing.resize(spec.kernels.size());
    if (routed) {
      in.x = xh.data();
      in.d_model = p.d_model;
      in.router_weight.assign(spec.kernels.size(), nullptr);
      in.routing.assign(spec.kernels.size(), nullptr);
      for (int ki : attn.routed_kernels()) {
        in.router_weight[ki] = wh[ki].data();
        r.routing[ki] = attn.last_routing(ki);
        ref::Grouping& g = groupings[ki];
        g.B = s.B;
        g.N = s.N;
        g.k = r.routing[ki].topk;
        g.M = r.routing[ki].M;
        g.gid = r.routing[ki].gid;
        g.prob.assign(r.routing[ki].prob.begin(), r.routing[ki].prob.end());
        in.routing[ki] = &g;
        check_router(xh, wh[ki], s.B, s.N, p.d_model, g.M, g.k, r.routing[ki]);
        check_order(attn, ki, r.routing[ki], s);
      }
    }
    ref::RefOutput ro_;
    ref::reference_attention<double>(spec, in, ro_);
    r.ref = ro_.out;
    double num = 0, den = 0;
    for (size_t i = 0; i < nel; ++i) {
      const double d = (double)r.out[i] - r.ref[i];
      num += d * d;
      den += r.ref[i] * r.ref[i];
    }
    r.ref_norm = std::sqrt(den);
    r.rel = den > 0 ? std::sqrt(num / den) : std::sqrt(num);
    check_block_maps(attn, s, ro_);
    return r;
  }

  // GPU router vs the CPU router (double).
  // The GPU router's top-k choice (gid/prob [B][N][k], by decreasing probability) is the CPU router's
  // except at near-ties between neighbouring ranks.
  void check_router(const std::vector<float>& x, const std::vector<float>& w, int B, int N, int d, int M, int k,
                    const PatternAttention::Routing& gpu) {
    const ref::Grouping cpu = ref::route_tokens(x.data(), w.data(), B, N, d, M, k);
    ASSERT_EQ(gpu.topk, k);
    ASSERT_EQ(gpu.gid.size(), (size_t)B * N * k);
    long long mismatched = 0, close = 0;
    double max_dp = 0;
    for (long long t = 0; t < (long long)B * N; ++t) {
      std::vector<double> lg(&cpu.logits[t * M], &cpu.logits[t * M] + M);
      std::sort(lg.begin(), lg.end(), std::greater<double>());
      for (int j = 0; j < k; ++j) {
        const long long e = t * k + j;
        // rank j is ambiguous when its logit is within 1e-3 of a neighbouring rank's
        const bool near_tie = (j > 0 && lg[j - 1] - lg[j] < 1e-3) || (j + 1 < M && lg[j] - lg[j + 1] < 1e-3);
        if (gpu.gid[e] != cpu.gid[e]) {
          if (near_tie) ++close;
          else ++mismatched;
        } else {
          max_dp = std::max(max_dp, std::abs((double)gpu.prob[e] - cpu.prob[e]));
        }
      }
    }
    EXPECT_EQ(mismatched, 0) << "GPU router chose another group than the CPU router with a clear margin";
    EXPECT_LE(max_dp, 1e-4) << "router probabilities differ";
    if (close) std::cout << "router: " << close << " near-ties resolved differently (allowed)\n";
  }

  // The GPU's sorted order is exactly the stable counting sort of its router output.
  void check_order(PatternAttention& attn, int ki, const PatternAttention::Routing& r, const AttentionShape& s) {
    const auto o = attn.last_order(ki);
    const int Ne = r.N * r.topk;  // entries: a token once per chosen group
    std::vector<int> seg((size_t)r.B * (r.M + 1)), perm((size_t)r.B * Ne), gid(perm.size()), scratch(r.M);
    std::vector<float> probs(r.prob), gate(perm.size());
    counting_sort_host(r.gid.data(), probs.data(), r.B, Ne, r.topk, r.M, scratch.data(), seg.data(), perm.data(),
                       gid.data(), gate.data(), nullptr);
    EXPECT_EQ(o.seg_offsets, seg) << "segment offsets";
    EXPECT_EQ(o.perm, perm) << "perm";
    EXPECT_EQ(o.gid, gid) << "gid";
    if (!o.gate.empty() && !attn.spec().kernels[ki].gate) EXPECT_EQ(o.gate, gate) << "gate";
    // the layout the kernels read, blocks of lcm(BM, BN), padding perm = gid = -1: padded (each group at
    // a block) or packed (several to a block), as group_layout chose it for this shape
    const auto raw = attn.last_order(ki, nullptr, /*raw=*/true);
    const PatternAttention::Layout lay = attn.group_layout(ki, s);
    EXPECT_EQ(raw.align, lay.align) << "alignment";
    EXPECT_EQ(raw.packed, lay.layout == GroupLayout::Packed) << "layout";
    const int Ns = aligned_sorted_length(Ne, r.M, raw.align);
    ASSERT_EQ(raw.N, Ns);
    std::vector<int> aperm((size_t)r.B * Ns), agid(aperm.size());
    std::vector<float> agate(aperm.size());
    counting_sort_host(r.gid.data(), probs.data(), r.B, Ne, r.topk, r.M, scratch.data(), seg.data(), aperm.data(),
                       agid.data(), agate.data(), nullptr, raw.align, Ns, nullptr, /*by_size=*/!raw.packed,
                       raw.packed);
    EXPECT_EQ(raw.seg_offsets, seg) << "aligned segment offsets";
    EXPECT_EQ(raw.perm, aperm) << "aligned perm";
    EXPECT_EQ(raw.gid, agid) << "aligned gid";
  }

  // The GPU block maps classify exactly as the CPU (ref::build_block_maps with the same orders).
  void check_block_maps(PatternAttention& attn, const AttentionShape& s, const ref::RefOutput& ro) {
    const auto& spec = attn.spec();
    ref::Shape shape = s.video ? ref::Shape::video(ref::VideoShape{s.F, s.Hgt, s.Wid, s.shot_starts})
                               : ref::Shape::seq(s.N);
    for (int ki = 0; ki < (int)spec.kernels.size(); ++ki) {
      ref::BlockMapOptions bo;
      bo.block_m = attn.tiles(ki, s.D).block_m;  // the engine's tiles (wgmma: 128/128)
      bo.block_n = attn.tiles(ki, s.D).block_n;
      bo.density_budget = 0;
      const auto& ks = spec.kernels[ki];
      if (!ks.grouped() && !ks.mask) continue;  // dense: no map on the GPU (every tile full)
      ref::TokenOrder order = ref::token_order(ro.groups[ki], ks.grouped());
      if (ks.grouped()) {  // the aligned layout the GPU sorts into (G: the router's M, or the largest key + 1)
        int G = 0;
        for (int g : order.gid) G = std::max(G, g + 1);
        if (ks.route) G = ks.route->groups;
        const PatternAttention::Layout lay = attn.group_layout(ki, s);
        const bool packed = lay.layout == GroupLayout::Packed;
        order = ref::aligned_order(order, G, lay.align, /*by_size=*/ks.route.has_value() && !packed, packed);
        // mask runs (AttentionOptions::mask_runs) lay a keyed kernel with a mask out by run: the CPU then
        // classifies the GPU's own order (its runs: StgaMaskRuns and attention_group_layout.MaskRuns)
        if (!ks.route && ks.mask && attn.options().mask_runs) {
          const PatternAttention::Order raw = attn.last_order(ki, nullptr, /*raw=*/true);
          if (raw.perm != order.perm) order.Ne = raw.N, order.perm = raw.perm, order.gid = raw.gid;
        }
      }
      const ref::BlockMap cpu = ref::build_block_map(ks, shape, order, bo);
      const auto gpu = attn.last_block_map(ki);
      EXPECT_EQ(gpu.tq, cpu.tq);
      EXPECT_EQ(gpu.tk, cpu.tk);
      EXPECT_EQ(gpu.full, cpu.full) << "kernel " << ks.name << ": full tiles";
      EXPECT_EQ(gpu.partial, cpu.partial) << "kernel " << ks.name << ": partial tiles";
      EXPECT_EQ(gpu.empty, cpu.empty) << "kernel " << ks.name << ": empty tiles";
    }
  }

  void expect_close(const Outcome& r, const std::string& what) {
    EXPECT_EQ(r.unwritten, 0) << what << ": elements left unwritten (still NaN)";
    if (r.ref_norm == 0) {
      EXPECT_EQ(r.rel, 0.0) << what << ": the reference is all zeros, the output must be exactly 0";
    } else {
      EXPECT_LE(r.rel, kTol) << what << ": relative L2 error";
    }
    std::cout << what << ": rel L2 " << r.rel << " (|ref| " << r.ref_norm << ")\n";
  }
};

Problem seq_problem(int B, int N, int H, int D) {
  Problem p;
  p.s = AttentionShape::seq(B, N, H, D);
  return p;
}
Problem video_problem(int B, int F, int Hg, int Wd, int H, int D, std::vector<int> shots = {}) {
  Problem p;
  p.s = AttentionShape::make_video(B, F, Hg, Wd, H, D, std::move(shots));
  return p;
}


}  // namespace

// gtest fixtures' members are protected; a thin public face for the helpers above. Parameter: the engine.
class gpu_attention_pub : public gpu_attention, public ::testing::WithParamInterface<Engine> {
 public:
  void SetUp() override {
    gpu_attention::SetUp();
    if (IsSkipped()) return;
    if (GetParam() == Engine::Wgmma && !wgmma_arch(jit::Device::get().arch()))
      GTEST_SKIP() << "engine wgmma needs an sm_90 device, this one is " << jit::Device::get().arch();
  }
  // The options every test of this suite builds its PatternAttention with.
  AttentionOptions opts() const {
    AttentionOptions o;
    o.engine = GetParam();
    return o;
  }
  // The engine asked for is the one that runs every kernel at this head dim.
  void expect_engine(const PatternAttention& a, int D) {
    for (int ki = 0; ki < (int)a.spec().kernels.size(); ++ki)
      EXPECT_EQ(a.engine(ki, D), GetParam()) << "kernel " << a.spec().kernels[ki].name << " at D=" << D;
  }
  Outcome run_public(PatternAttention& a, const Problem& p, RunOptions ro = {}) {
    if (a.options().engine == GetParam()) expect_engine(a, p.s.D);
    return run(a, p, ro);
  }
  void expect_close_public(const Outcome& r, const std::string& w) {
    expect_close(r, w + " [" + engine_name(GetParam()) + "]");
  }
};

#define GPU_TEST(name) TEST_P(gpu_attention_pub, name)

INSTANTIATE_TEST_SUITE_P(engines, gpu_attention_pub, ::testing::Values(Engine::MmaSync, Engine::Wgmma),
                         [](const ::testing::TestParamInfo<Engine>& i) {
                           return std::string(i.param == Engine::Wgmma ? "wgmma" : "mma_sync");
                         });

namespace {
void check(gpu_attention_pub* t, const std::string& name, const Problem& p) {
  PatternAttention attn(load_builtin(name), t->opts());
  t->expect_close_public(t->run_public(attn, p), name + " " + p.s.describe());
}
}  // namespace

// ---- every shipped pattern, lengths that are no multiple of the tiles -----------------------------------

GPU_TEST(Full) { check(this, "full", seq_problem(2, 1000, 2, 128)); }
GPU_TEST(Causal) { check(this, "causal", seq_problem(2, 1000, 2, 128)); }
GPU_TEST(CausalHeadDim64) { check(this, "causal", seq_problem(2, 1000, 3, 64)); }
GPU_TEST(SlidingWindow) { check(this, "sliding_window", seq_problem(2, 1000, 2, 128)); }

// The grid rule of masked kernels (attention.cpp persistent_grid): a window of ~4 key tiles an item over more
// items than SMs runs on a persistent grid with dynamic scheduling, is still right, and reports the mean key tiles
// the rule read (ref::mean_key_tiles at the kernel's tiles); mma.sync keeps its 3-D grid.
GPU_TEST(MaskedKernelOfFewKeyTilesRunsPersistent) {
  PatternAttention attn(load_builtin("sliding_window"), opts());
  const Problem p = seq_problem(2, 5001, 4, 128);
  expect_close_public(run_public(attn, p), "sliding_window, persistent grid");
  const PatternAttention::Grid g = attn.last_grid(0);
  if (GetParam() == Engine::MmaSync) {
    EXPECT_FALSE(g.persistent);
    EXPECT_EQ(g.items, 0);
    return;
  }
  const TileConfig t = attn.tiles(0, 128);
  const double want = ref::mean_key_tiles(attn.spec().kernels[0], ref::Shape::seq(5001), t.block_m, t.block_n);
  EXPECT_DOUBLE_EQ(g.key_tiles, want);
  EXPECT_GT(want, 1.0);
  EXPECT_LT(want, 8.0);  // (2 x 256 + 128) / 176 + 1: about 4
  EXPECT_EQ(g.items, 2LL * 4 * ((5001 + t.block_m - 1) / t.block_m));
  EXPECT_TRUE(g.persistent && g.dynamic) << g.ctas << " CTAs for " << g.items << " items";
  EXPECT_LT((long long)g.ctas, g.items);
}
GPU_TEST(MogaDynamic) { check(this, "moga_dynamic", video_problem(2, 5, 13, 17, 2, 128)); }
GPU_TEST(Stga) { check(this, "stga", video_problem(2, 5, 13, 17, 2, 128, {0, 3})); }
GPU_TEST(StgaOneShot) { check(this, "stga", video_problem(1, 5, 13, 17, 2, 128)); }
GPU_TEST(FrameLocal) { check(this, "frame_local", video_problem(2, 5, 13, 17, 2, 128)); }
GPU_TEST(MogaLayer) { check(this, "moga", video_problem(2, 5, 13, 17, 2, 128, {0, 3})); }
GPU_TEST(MogaLayerHeadDim64) { check(this, "moga", video_problem(1, 5, 13, 17, 4, 64, {0, 2})); }
GPU_TEST(Radial) { check(this, "radial", video_problem(2, 5, 13, 17, 2, 128)); }
// the grouped kernels with packed groups forced (AttentionOptions::group_layout = Packed) where their
// groups are larger than a tile: tiles that hold the end of one group and the start of the next
GPU_TEST(MogaLayerUnalignedGroups) {
  AttentionOptions o = opts();
  o.group_layout = GroupLayout::Packed;
  PatternAttention attn(load_builtin("moga"), o);
  const Problem p = video_problem(2, 5, 13, 17, 2, 128, {0, 3});
  expect_close_public(run_public(attn, p), "moga packed");
  for (int ki : {0, 1, 2}) EXPECT_TRUE(attn.last_order(ki, nullptr, true).packed) << "kernel " << ki;
}
GPU_TEST(Natten2d) { check(this, "natten2d", video_problem(2, 5, 13, 17, 2, 128)); }
// Mask runs (AttentionOptions::mask_runs): stga's temporal groups inside each region start at tile edges
// (F = 9 at 15 x 30, shots {0, 5}: runs of 480 / 420 tokens and one frame of 120 / 105, padding inside a
// region's span, invisible by group id; the borrowed frames of the adjacent shot stay visible through
// the mask). On and off against the reference; on, the raw order has padding between two positions of one
// group; the moga layer (stga its kernel 1) with runs on the same shape.
GPU_TEST(StgaMaskRuns) {
  const Problem p = video_problem(2, 9, 15, 30, 2, 128, {0, 5});
  for (bool runs : {true, false}) {
    AttentionOptions o = opts();
    o.mask_runs = runs;
    PatternAttention attn(load_builtin("stga"), o);
    expect_close_public(run_public(attn, p), std::string("stga mask_runs ") + (runs ? "on " : "off ") + p.s.describe());
    const PatternAttention::Order ord = attn.last_order(0, nullptr, /*raw=*/true);
    bool inner_padding = false;
    for (int s = 1, last_g = -1, pad = 0; s < ord.N && !inner_padding; ++s) {
      const int g = ord.gid[s - 1];
      if (g >= 0) last_g = g, pad = 0;
      else ++pad;
      inner_padding = pad > 0 && ord.gid[s] >= 0 && ord.gid[s] == last_g;
    }
    EXPECT_EQ(inner_padding, runs) << "mask_runs " << runs << ": padding inside a group's span";
  }
  check(this, "moga", p);
}
// lengths that are an exact multiple of 128 (no partial last tile), and below one tile
GPU_TEST(CausalExactTileMultiple) { check(this, "causal", seq_problem(1, 1024, 2, 128)); }
GPU_TEST(TinyLengths) {
  check(this, "full", seq_problem(3, 1, 2, 128));
  check(this, "causal", seq_problem(2, 7, 2, 128));
  check(this, "causal", seq_problem(2, 7, 2, 64));
}

// ---- dense at 32,761 tokens, checked on a subset of rows against a direct double computation ---------

GPU_TEST(FullLongRowSubset) {
  const int B = 1, N = 32761, H = 2, D = 128;
  PatternAttention attn(load_builtin("full"), opts());
  expect_engine(attn, D);
  std::mt19937_64 rng(seed_);
  const size_t nel = (size_t)B * N * H * D;
  DevT q, k, v, o;
  q.upload_bf16(random_bf(nel, rng));
  k.upload_bf16(random_bf(nel, rng));
  v.upload_bf16(random_bf(nel, rng));
  o.buf = std::make_unique<jit::DeviceBuffer>(nel * 2);
  o.buf->fill_bytes(0xFF);
  const AttentionShape s = AttentionShape::seq(B, N, H, D);
  auto view = [&](DevT& t) { return TensorView::contiguous(t.buf->ptr(), DType::BF16, {B, N, H, D}); };
  attn.run(view(q), view(k), view(v), view(o), s, nullptr, nullptr);
  CU_CHECK(jit::driver().cuCtxSynchronize());
  const std::vector<float> out = o.download_bf16(nel);
  long long unwritten = 0;
  for (float f : out) unwritten += std::isnan(f);
  EXPECT_EQ(unwritten, 0);
  std::vector<int> rows = {0, 1, 127, 128, 16383, 32759, 32760};
  std::uniform_int_distribution<int> pick(0, N - 1);
  for (int i = 0; i < 57; ++i) rows.push_back(pick(rng));
  const double scale = 1.0 / std::sqrt((double)D);
  double num = 0, den = 0;
  std::vector<double> sc(N);
  for (int r : rows)
    for (int h = 0; h < H; ++h) {
      const float* qr = &q.host[((size_t)r * H + h) * D];
      double mx = -1e300;
      for (int j = 0; j < N; ++j) {
        const float* kr = &k.host[((size_t)j * H + h) * D];
        double dot = 0;
        for (int d = 0; d < D; ++d) dot += (double)qr[d] * kr[d];
        sc[j] = dot * scale;
        mx = std::max(mx, sc[j]);
      }
      double l = 0;
      std::vector<double> acc(D, 0.0);
      for (int j = 0; j < N; ++j) {
        const double p = std::exp(sc[j] - mx);
        l += p;
        const float* vr = &v.host[((size_t)j * H + h) * D];
        for (int d = 0; d < D; ++d) acc[d] += p * vr[d];
      }
      for (int d = 0; d < D; ++d) {
        const double ref = acc[d] / l, got = out[((size_t)r * H + h) * D + d];
        num += (got - ref) * (got - ref);
        den += ref * ref;
      }
    }
  const double rel = std::sqrt(num / den);
  std::cout << "full N=32761, " << rows.size() << " rows x " << H << " heads: rel L2 " << rel << "\n";
  EXPECT_LE(rel, kTol);
}

// ---- cross-attention: keys/values of another length Nk than the queries (dense patterns) ------------------

namespace {
// softmax(q k^T / sqrt(D)) v in double; q [B][N][H][D], k and v [B][Nk][H][D] (floats holding bf16 values).
std::vector<double> cross_reference(const std::vector<float>& q, const std::vector<float>& k,
                                    const std::vector<float>& v, int B, int N, int Nk, int H, int D) {
  std::vector<double> out((size_t)B * N * H * D), sc(Nk), acc(D);
  const double scale = 1.0 / std::sqrt((double)D);
  for (int b = 0; b < B; ++b)
    for (int r = 0; r < N; ++r)
      for (int h = 0; h < H; ++h) {
        const float* qr = &q[(((size_t)b * N + r) * H + h) * D];
        double mx = -1e300;
        for (int j = 0; j < Nk; ++j) {
          const float* kr = &k[(((size_t)b * Nk + j) * H + h) * D];
          double dot = 0;
          for (int d = 0; d < D; ++d) dot += (double)qr[d] * kr[d];
          sc[j] = dot * scale;
          mx = std::max(mx, sc[j]);
        }
        double l = 0;
        std::fill(acc.begin(), acc.end(), 0.0);
        for (int j = 0; j < Nk; ++j) {
          const double p = std::exp(sc[j] - mx);
          l += p;
          const float* vr = &v[(((size_t)b * Nk + j) * H + h) * D];
          for (int d = 0; d < D; ++d) acc[d] += p * vr[d];
        }
        for (int d = 0; d < D; ++d) out[(((size_t)b * N + r) * H + h) * D + d] = acc[d] / l;
      }
  return out;
}
}  // namespace

// `full` with Nk != N on one object: Nk a multiple of the key tile, Nk = 77 (a ragged single tile), Nk
// below one tile (16, the tiny DiT's text length), Nk > N, head dim 64, k and v as views of one packed
// [B][Nk][2][H][D] buffer (the DiT's k|v rows), and Nk = N again (the shape state of N is shared with
// the cross runs). Bound: relative L2 <= 1e-2 against a direct double computation; the output is
// poisoned (bf16 NaN) before every run and every element must be written.
// Dense cross-attention (keys and values of another length Nk, also as views of one packed k|v tensor)
// on `attn` (pattern full) against the float64 reference; expect_rows(D) checks which kernel runs at D.
void gpu_attention::check_cross(PatternAttention& attn, const std::string& tag,
                                const std::function<void(int)>& expect_rows, double tol, int only_d) {
  struct Case {
    int B, N, Nk, H, D;
    bool packed_kv;
  };
  const Case cases[] = {{2, 1000, 512, 2, 128, false}, {2, 1000, 77, 2, 128, false}, {2, 1000, 512, 2, 64, false},
                        {2, 1000, 77, 2, 64, true},    {1, 64, 16, 2, 64, true},      {1, 100, 1000, 2, 128, false},
                        {3, 1, 16, 2, 128, true},      {2, 1000, 512, 2, 128, true},  {2, 1000, 1000, 2, 128, false}};
  int ci = 0;
  for (const Case& c : cases) {
    if (only_d && c.D != only_d) continue;
    expect_rows(c.D);
    std::mt19937_64 rng(seed_ + 7919 * ++ci);
    const size_t nq = (size_t)c.B * c.N * c.H * c.D, nk = (size_t)c.B * c.Nk * c.H * c.D;
    DevT q, k, v, kv, o;
    q.upload_bf16(random_bf(nq, rng));
    TensorView tk, tv;
    if (c.packed_kv) {  // [B][Nk][2][H][D]: k at column 0, v at column H * D of each row
      const std::vector<float> all = random_bf(2 * nk, rng);
      kv.upload_bf16(all);
      k.host.resize(nk);
      v.host.resize(nk);
      const int64_t hd = (int64_t)c.H * c.D, sn = 2 * hd, sb = sn * c.Nk;
      for (size_t row = 0; row < (size_t)c.B * c.Nk; ++row)
        for (int64_t i = 0; i < hd; ++i) {
          k.host[row * hd + i] = all[row * sn + i];
          v.host[row * hd + i] = all[row * sn + hd + i];
        }
      tk = TensorView::strided(kv.buf->ptr(), DType::BF16, {c.B, c.Nk, c.H, c.D}, {sb, sn, c.D, 1});
      tv = TensorView::strided(kv.buf->ptr() + hd * 2, DType::BF16, {c.B, c.Nk, c.H, c.D}, {sb, sn, c.D, 1});
    } else {
      k.upload_bf16(random_bf(nk, rng));
      v.upload_bf16(random_bf(nk, rng));
      tk = TensorView::contiguous(k.buf->ptr(), DType::BF16, {c.B, c.Nk, c.H, c.D});
      tv = TensorView::contiguous(v.buf->ptr(), DType::BF16, {c.B, c.Nk, c.H, c.D});
    }
    o.buf = std::make_unique<jit::DeviceBuffer>(nq * 2);
    o.buf->fill_bytes(0xFF);  // bf16 NaN everywhere
    const TensorView tq = TensorView::contiguous(q.buf->ptr(), DType::BF16, {c.B, c.N, c.H, c.D});
    const TensorView to = TensorView::contiguous(o.buf->ptr(), DType::BF16, {c.B, c.N, c.H, c.D});
    const AttentionShape s = AttentionShape::seq(c.B, c.N, c.H, c.D);
    attn.run(tq, tk, tv, to, s, nullptr, nullptr);
    CU_CHECK(jit::driver().cuCtxSynchronize());
    const std::vector<float> out = o.download_bf16(nq);
    const std::vector<double> ref = cross_reference(q.host, k.host, v.host, c.B, c.N, c.Nk, c.H, c.D);
    long long unwritten = 0;
    double num = 0, den = 0;
    for (size_t i = 0; i < nq; ++i) {
      unwritten += std::isnan(out[i]) ? 1 : 0;
      const double d = (double)out[i] - ref[i];
      num += d * d;
      den += ref[i] * ref[i];
    }
    const double rel = std::sqrt(num / den);
    const std::string what = "full B=" + std::to_string(c.B) + " N=" + std::to_string(c.N) +
                             " Nk=" + std::to_string(c.Nk) + " H=" + std::to_string(c.H) + " D=" +
                             std::to_string(c.D) + (c.packed_kv ? " packed k|v" : "") + " [" + tag + "]";
    EXPECT_EQ(unwritten, 0) << what << ": elements left unwritten (still NaN)";
    EXPECT_LE(rel, tol) << what << ": relative L2 error";
    std::cout << what << ": rel L2 " << rel << "\n";
    // dense: every (query tile, key tile) pair full, key tiles over Nk
    const TileConfig t = attn.tiles(0, c.D);
    const auto bm = attn.last_block_map(0);
    EXPECT_EQ(bm.tq, (c.N + t.block_m - 1) / t.block_m) << what;
    EXPECT_EQ(bm.tk, (c.Nk + t.block_n - 1) / t.block_n) << what;
    EXPECT_EQ(bm.full, (long long)c.B * bm.tq * bm.tk) << what;
  }
}

GPU_TEST(FullCrossAttentionKeysOfAnotherLength) {
  PatternAttention attn(load_builtin("full"), opts());
  check_cross(attn, engine_name(GetParam()), [&](int D) { expect_engine(attn, D); });
}

// ---- routing edge cases -------------------------------------------------------------------------------

// Group 3 gets no token (its logit is pushed down by 100 through a constant feature), group 4 exactly
// one token per batch item.
GPU_TEST(EmptyGroupAndSingleTokenGroup) {
  PatternAttention attn(load_builtin("moga_dynamic"), opts());
  Problem p = video_problem(2, 5, 13, 17, 2, 128);
  const int N = p.s.N, d = p.d_model, M = 5;
  const int lone[2] = {537, 12};
  p.tweak_router = [&](std::vector<float>& x, std::vector<std::vector<float>>& w) {
    for (int b = 0; b < 2; ++b)
      for (int n = 0; n < N; ++n) {
        x[((size_t)b * N + n) * d + 0] = 1.f;
        x[((size_t)b * N + n) * d + 1] = n == lone[b] ? 1.f : 0.f;
      }
    w[0][0 * M + 3] = -100.f;
    w[0][0 * M + 4] = -100.f;
    w[0][1 * M + 4] = 200.f;
  };
  const Outcome r = run_public(attn, p);
  expect_close_public(r, "moga_dynamic with an empty and a one-token group");
  const auto o = attn.last_order(0);
  for (int b = 0; b < 2; ++b) {
    const int* seg = &o.seg_offsets[(size_t)b * (M + 1)];
    EXPECT_EQ(seg[4] - seg[3], 0) << "group 3 must be empty (batch " << b << ")";
    EXPECT_EQ(seg[5] - seg[4], 1) << "group 4 must hold one token (batch " << b << ")";
    EXPECT_EQ(o.perm[(size_t)b * N + seg[4]], lone[b]);
  }
}

// The GPU router at the benchmark's size (d_model 1536) against the CPU router: M = 5 (one n-tile)
// and M = 64 (eight n-tiles, the largest).
GPU_TEST(RouterMatchesCpuAtModelSize) {
  PatternAttention attn(load_builtin("moga_dynamic"), opts());
  Problem p = video_problem(1, 4, 16, 32, 1, 128);
  p.d_model = 1536;
  expect_close_public(run_public(attn, p), "moga_dynamic d_model=1536");  // checks router, order, output
  PatternAttention a64(test_pattern("attn_route64"), opts());
  Problem q = seq_problem(2, 3000, 1, 64);
  q.d_model = 1536;
  expect_close_public(run_public(a64, q), "attn_route64 d_model=1536");
}

// ---- test patterns compiled at build time ---------------------------------------------------------------

GPU_TEST(AllMaskedRowsAreExactlyZero) {
  PatternAttention attn(test_pattern("attn_all_masked"), opts());
  const Outcome r = run_public(attn, seq_problem(2, 1000, 2, 128));
  EXPECT_EQ(r.ref_norm, 0.0);
  long long nonzero = 0;
  for (float f : r.out) nonzero += f != 0.f;
  EXPECT_EQ(nonzero, 0) << "all-masked rows must be exactly 0";
  EXPECT_EQ(attn.last_block_map(0).full + attn.last_block_map(0).partial, 0) << "every tile empty";
  expect_close_public(r, "attn_all_masked");
}

GPU_TEST(BiasSoftcapScaleGateProgramAndWeights) {
  PatternAttention attn(test_pattern("attn_hooks"), opts());
  expect_close_public(run_public(attn, seq_problem(2, 1000, 3, 128)), "attn_hooks");
}

// Softcaps without a bias run the softmax with a fixed row maximum (softmax.cuh FixedRowMax): saturated caps
// (exp(+-50) in the sums), rows that see no key (0, not NaN), odd lengths, D = 64, beside a cap above the
// bound (the max-tracking softmax).
GPU_TEST(SoftcapWithoutBiasFixedRowMax) {
  PatternAttention attn(test_pattern("attn_softcap"), opts());
  const Outcome r = run_public(attn, seq_problem(2, 1001, 3, 128));
  for (float f : r.out) ASSERT_TRUE(std::isfinite(f)) << "attn_softcap wrote a non-finite value";
  expect_close_public(r, "attn_softcap");
  expect_close_public(run_public(attn, seq_problem(1, 333, 2, 64)), "attn_softcap D=64");
}

// Top-2 routing: each token in its two most probable groups, the output the sum of p_g Attn_g over them
// (entry rows + topk_combine_kernel); deterministic: a second call gives the same bytes.
GPU_TEST(TopTwoRoutingMatchesTheReferenceAndRepeatsBitwise) {
  PatternAttention attn(test_pattern("attn_top2"), opts());
  const Problem p = seq_problem(2, 1001, 3, 128);
  const Outcome a = run_public(attn, p);
  expect_close_public(a, "attn_top2");
  const Outcome b = run_public(attn, p);
  EXPECT_EQ(a.out, b.out) << "top-2 output differs between two identical calls";
  PatternAttention mixed(test_pattern("attn_top2_mix"), opts());
  expect_close_public(run_public(mixed, video_problem(1, 5, 13, 17, 2, 128, {0, 3})), "attn_top2_mix");
}

GPU_TEST(RoutedWithMaskAndKeyWithEmptyGroups) {
  PatternAttention attn(test_pattern("attn_routed_mix"), opts());
  expect_close_public(run_public(attn, seq_problem(2, 1000, 2, 128)), "attn_routed_mix");
  const auto o = attn.last_order(1);
  int empty = 0;
  for (int g = 0; g < o.G; ++g) empty += o.seg_offsets[g + 1] == o.seg_offsets[g];
  EXPECT_GT(empty, 0) << "odd keys must leave empty groups";
}

// ---- groups much smaller than a tile: the packed layout (group_layout.h, issue #12 item 4) ------------

// Group sizes of grouped kernel ki in the last run (compact order), per batch item.
static std::vector<int> group_sizes(PatternAttention& attn, int ki, int b) {
  const auto o = attn.last_order(ki);
  std::vector<int> n(o.G);
  for (int g = 0; g < o.G; ++g)
    n[g] = o.seg_offsets[(size_t)b * (o.G + 1) + g + 1] - o.seg_offsets[(size_t)b * (o.G + 1) + g];
  return n;
}

// Computed keys: one group of 301 tokens (longer than two tiles) beside groups of 1 and 2 tokens with
// every odd id empty, and groups of 5 with a causal mask (tile summaries over the packed order). Auto
// packs both; the map of the unmasked branch has exactly the tile pairs packed_tile_pairs predicts, the
// big group's interior pairs full; forcing the padded layout gives the reference's output too, with
// more tile pairs.
GPU_TEST(SmallGroupsPackedComputedKeys) {
  const Problem p = seq_problem(2, 1001, 2, 128);
  PatternAttention attn(test_pattern("attn_small_groups"), opts());
  for (int ki = 0; ki < 2; ++ki) EXPECT_EQ(attn.group_layout(ki, p.s).layout, GroupLayout::Packed) << "kernel " << ki;
  expect_close_public(run_public(attn, p), "attn_small_groups packed");
  EXPECT_TRUE(attn.last_order(0, nullptr, /*raw=*/true).packed);
  const std::vector<int> n = group_sizes(attn, 0, 0);
  ASSERT_FALSE(n.empty());
  EXPECT_EQ(n[0], 301);
  EXPECT_GT(std::count(n.begin(), n.end(), 1), 0) << "groups of one token";
  EXPECT_GT(std::count(n.begin(), n.end(), 0), 0) << "empty groups";
  const auto packed_map = attn.last_block_map(0);
  EXPECT_EQ(packed_map.full + packed_map.partial, p.s.B * attn.group_layout(0, p.s).packed_pairs);
  EXPECT_GT(packed_map.full, 0) << "tile pairs inside the 301-token group are full";

  AttentionOptions po = opts();
  po.group_layout = GroupLayout::Padded;
  PatternAttention padded(test_pattern("attn_small_groups"), po);
  expect_close_public(run_public(padded, p), "attn_small_groups padded");
  EXPECT_FALSE(padded.last_order(0, nullptr, true).packed);
  const auto padded_map = padded.last_block_map(0);
  EXPECT_GT(padded_map.full + padded_map.partial, packed_map.full + packed_map.partial);
}

// Routed: M = 64 at 1,001 tokens (~16 a group: Auto packs), the router pushed into one group of >= 300
// tokens (longer than a tile), one group of a single token and one empty group per batch item.
GPU_TEST(SmallGroupsPackedRouted) {
  PatternAttention attn(test_pattern("attn_route64"), opts());
  Problem p = seq_problem(2, 1001, 2, 128);
  EXPECT_EQ(attn.group_layout(0, p.s).layout, GroupLayout::Packed);
  const int N = p.s.N, d = p.d_model, M = 64;
  const int lone[2] = {537, 12};
  p.tweak_router = [&](std::vector<float>& x, std::vector<std::vector<float>>& w) {
    for (int b = 0; b < 2; ++b)
      for (int t = 0; t < N; ++t) {
        float* xr = &x[((size_t)b * N + t) * d];
        xr[0] = 1.f;
        xr[1] = (b == 0 ? t < 300 : t >= 700) ? 1.f : 0.f;
        xr[2] = t == lone[b] ? 1.f : 0.f;
      }
    w[0][0 * M + 3] = -100.f;  // group 3: empty
    w[0][1 * M + 7] = 200.f;   // group 7: 300+ tokens
    w[0][0 * M + 5] = -100.f;  // group 5: the lone token only
    w[0][2 * M + 5] = 400.f;
  };
  expect_close_public(run_public(attn, p), "attn_route64 packed, skewed groups");
  EXPECT_TRUE(attn.last_order(0, nullptr, true).packed);
  for (int b = 0; b < 2; ++b) {
    const std::vector<int> n = group_sizes(attn, 0, b);
    EXPECT_EQ(n[3], 0) << "batch " << b;
    EXPECT_EQ(n[5], 1) << "batch " << b;
    EXPECT_GE(n[7], 300) << "batch " << b;
  }
}

// The router at M = 256 (above the 64 it took before: the wide configuration, 128-column weight chunks at
// d_model 1536) against the CPU router, its ~8-token groups packed.
GPU_TEST(SmallGroupsRouterOf256Groups) {
  PatternAttention attn(test_pattern("attn_route256"), opts());
  Problem p = seq_problem(2, 2001, 2, 128);
  EXPECT_EQ(attn.group_layout(0, p.s).layout, GroupLayout::Packed);
  expect_close_public(run_public(attn, p), "attn_route256 d_model=64");
  EXPECT_TRUE(attn.last_order(0, nullptr, true).packed);
  p.d_model = 1536;
  expect_close_public(run_public(attn, p), "attn_route256 d_model=1536");
}

// M = 256 in the padded layout (forced: groups of ~20 tokens would be packed), odd N: the scatter's
// largest-group-first spans (SortParams::by_size) over 256 groups, seg_end, padding between spans.
GPU_TEST(RouterOf256GroupsPaddedOddLength) {
  AttentionOptions o = opts();
  o.group_layout = GroupLayout::Padded;
  PatternAttention attn(test_pattern("attn_route256"), o);
  Problem p = seq_problem(1, 5001, 2, 128);
  p.d_model = 256;
  expect_close_public(run_public(attn, p), "attn_route256 padded, N = 5001");
  EXPECT_FALSE(attn.last_order(0, nullptr, true).packed);
}

// AttentionOptions::router_mma = Wgmma: the warpgroup-MMA router (router_wg.cuh) against the CPU router (clear
// margins agree, probabilities within 1e-4) and the order and maps it leads to: two batch items, packed at
// 2,001 tokens (d_model 64: one k stage past d zero-filled; 1536), padded at an odd 5,001 with d_model 200
// (a partial last stage); N = 256 and N = 64; tiles of 64 rows (few tiles) and of 128 (B = 2 x 9,001).
GPU_TEST(RouterOnWgmmaMatchesTheCpuRouter) {
  AttentionOptions o = opts();
  o.router_mma = RouterMma::Wgmma;
  PatternAttention attn(test_pattern("attn_route256"), o);
  Problem p = seq_problem(2, 2001, 2, 128);
  p.d_model = 64;
  expect_close_public(run_public(attn, p), "attn_route256, wgmma router, d_model=64");
  p.d_model = 1536;
  expect_close_public(run_public(attn, p), "attn_route256, wgmma router, d_model=1536");
  o.group_layout = GroupLayout::Padded;
  PatternAttention padded(test_pattern("attn_route256"), o);
  Problem q = seq_problem(1, 5001, 2, 128);
  q.d_model = 200;
  expect_close_public(run_public(padded, q), "attn_route256, wgmma router, padded, N = 5001, d_model=200");
  PatternAttention m64(test_pattern("attn_route64"), o);  // N = 64: M = 64 groups
  expect_close_public(run_public(m64, q), "attn_route64, wgmma router, padded, N = 5001, d_model=200");
  // the cases above are fewer 128-row tiles than SMs (64-row CTAs); 18,002 rows fill a 132-SM GPU with
  // 128-row ones (the persistent loop, a ragged last tile)
  Problem big = seq_problem(2, 9001, 2, 128);
  big.d_model = 136;
  expect_close_public(run_public(attn, big), "attn_route256, wgmma router, 128-row tiles, B = 2, N = 9001");
}

// The routed layer is CUDA-graph capturable (no host copy, synchronisation or host decision on device data
// in a call) and a replayed graph routes new inputs correctly: three launches of one graph, the router's x
// rewritten between them (the router's histogram must be zero at each launch: the previous launch's scatter
// clears it). Packed M = 256 and padded M = 64 with the mma.sync and the wgmma routers.
GPU_TEST(RoutedLayerReplaysFromACudaGraph) {
  for (const char* pattern : {"attn_route256", "attn_route64"})
    for (bool wg : {false, true}) {
      AttentionOptions o = opts();
      o.router_mma = wg ? RouterMma::Wgmma : RouterMma::MmaSync;
      if (std::string(pattern) == "attn_route64") o.group_layout = GroupLayout::Padded;
      PatternAttention attn(test_pattern(pattern), o);
      Problem p = seq_problem(2, 3001, 2, 128);
      p.graph_replays = 3;
      expect_close_public(run_public(attn, p),
                          std::string(pattern) + (wg ? " (wgmma router)" : "") + ", 3rd launch of a CUDA graph");
    }
}

// Frame-local at low resolution: frames of 35 tokens, packed by Auto.
GPU_TEST(SmallGroupsPackedFrameLocalLowResolution) {
  PatternAttention attn(load_builtin("frame_local"), opts());
  const Problem p = video_problem(2, 9, 5, 7, 2, 128);
  EXPECT_EQ(attn.group_layout(0, p.s).layout, GroupLayout::Packed);
  expect_close_public(run_public(attn, p), "frame_local 9x5x7 packed");
  EXPECT_TRUE(attn.last_order(0, nullptr, true).packed);
}

// ---- reuse: new inputs and new routing on the same object; strided inputs; attention-only runs -------

GPU_TEST(RepeatedCallsRerouteAndReuseStaticMaps) {
  PatternAttention attn(load_builtin("moga"), opts());
  for (int rep = 0; rep < 3; ++rep) {
    Problem p = video_problem(2, 5, 13, 17, 2, 128, {0, 3});
    p.seed = seed_ + 1000 * rep;
    p.packed_qkv = rep == 1;
    expect_close_public(run_public(attn, p), "moga call " + std::to_string(rep) + (p.packed_qkv ? " (packed qkv)" : ""));
  }
  // a second shape on the same object, then the first again
  expect_close_public(run_public(attn, video_problem(1, 3, 7, 9, 2, 128)), "moga 3x7x9");
  expect_close_public(run_public(attn, video_problem(2, 5, 13, 17, 2, 128, {0, 3})), "moga back to 5x13x17");
}

GPU_TEST(AttentionOnlyRunReusesThePrep) {
  PatternAttention attn(load_builtin("moga"), opts());
  Problem p = video_problem(2, 5, 13, 17, 2, 128, {0, 3});
  RunOptions ro;
  ro.prep = false;
  expect_close_public(run_public(attn, p, ro), "moga attention-only after a full run");
}

// RunOptions::phase names every launch of a call in order (moga bench's split): a routed, gated kernel
// without a mask runs pack (a new weight view), router, scatter, map, attention, and no memset (the
// previous scatter cleared the router's histogram: the second and third calls route new inputs correctly
// only if it did); prep = false runs the attention alone.
GPU_TEST(PhasesAreReportedInLaunchOrder) {
  PatternAttention attn(test_pattern("attn_route256"), opts());
  using V = std::vector<std::string>;
  for (int call = 0; call < 3; ++call) {
    Problem p = seq_problem(1, 1001, 2, 128);
    p.seed = seed_ + 77 * call;
    V seen;
    RunOptions ro;  // run() makes a full call first when prep = false (no phases reported for it)
    ro.prep = call < 2;
    ro.phase = [&](int ki, const char* ph) { seen.push_back(std::to_string(ki) + "." + ph); };
    expect_close_public(run_public(attn, p, ro), "attn_route256 with RunOptions::phase, call " + std::to_string(call));
    const V want = ro.prep ? V{"0.pack", "0.router", "0.scatter", "0.map", "0.attention"} : V{"0.attention"};
    EXPECT_EQ(seen, want) << "call " << call;
  }
}

// mma_sync: three v7 tile overrides. wgmma: Engine::Auto with an override on stga alone, so one sm_90a
// module runs v9 (dynamic, frame_local; maps 128/128) next to v7 (stga, 64/128).
AttentionOptions tile_override_options(Engine e) {
  AttentionOptions o;
  if (e == Engine::Wgmma) {
    o.engine = Engine::Auto;
    o.tiles["stga"] = TileConfig{64, 128, 4, 2};
  } else {
    o.engine = e;
    o.tiles["dynamic"] = TileConfig{64, 64, 4, 3};
    o.tiles["stga"] = TileConfig{64, 128, 4, 2};
    o.tiles["frame_local"] = TileConfig{128, 32, 8, 2};
  }
  return o;
}

GPU_TEST(TileOverride) {
  PatternAttention attn(load_builtin("moga"), tile_override_options(GetParam()));
  if (GetParam() == Engine::Wgmma) {
    EXPECT_EQ(attn.engine(0, 128), Engine::Wgmma);
    EXPECT_EQ(attn.engine(1, 128), Engine::MmaSync);
    EXPECT_EQ(attn.engine(2, 128), Engine::Wgmma);
  }
  expect_close_public(run_public(attn, video_problem(2, 5, 13, 17, 2, 128, {0, 3})),
                      GetParam() == Engine::Wgmma ? "moga mixed: wgmma + stga on mma.sync 64/128"
                                                  : "moga with tile overrides");
  // kernel 1 (stga, keyed) sorts into aligned groups: its map covers the padded order, in tiles of BM = 64
  EXPECT_EQ(attn.last_block_map(1).tq, (attn.last_order(1, nullptr, true).N + 63) / 64);
}

GPU_TEST(NoPdl) {
  AttentionOptions o = opts();
  o.pdl = false;
  PatternAttention attn(load_builtin("moga_dynamic"), o);
  expect_close_public(run_public(attn, video_problem(2, 5, 13, 17, 2, 128)), "moga_dynamic without PDL");
}

// ---- Auto: wgmma at head dim 128 on Hopper, mma.sync at 64; one object, both head dims -----------------

// Every wgmma row of the kernel registry (its grid) and every tile configuration of the rows with their
// own kernel code (sm90.ws, sm90.ws.sq: Q in shared memory) against the reference: every structure of the moga layer, dense at odd lengths, a routed branch,
// causal.
TEST_F(gpu_attention, EveryWgmmaRowAndTileConfigAgrees) {
  if (!wgmma_arch(jit::Device::get().arch())) GTEST_SKIP() << "needs an sm_90 device";
  for (const KernelVariant& v : kernel_registry()) {
    if (v.engine != Engine::Wgmma || v.fp8) continue;  // FP8 has its own bound: Fp8* below
    std::vector<TileConfig> space = {v.default_tiles};
    if (v.scheduler == Scheduler::ByKernel) space = v.tile_space(128);  // the rows whose kernel code differs
    for (const TileConfig& t : space) {
      AttentionOptions o;
      o.variant = v.name;
      const std::string tag = fmt::format(" {} {}/{}/{}", v.name, t.block_m, t.block_n, t.stages);
      auto opts = [&](const LoadedPattern& lp) {  // the tiles on every kernel the row runs itself
        AttentionOptions r = o;
        for (const auto& ks : lp.spec.kernels)
          if (!v.gather_row || !ks.grouped()) r.tiles[ks.name] = t;
        return r;
      };
      // every structure at the row's default tiles; the other tile configurations (a module each) on a
      // dense odd length, a routed branch and the hooks pattern (mask, bias, softcap, gate)
      const bool all = t == v.default_tiles;
      LoadedPattern full_p = load_builtin("full"), dyn_p = load_builtin("moga_dynamic");
      PatternAttention full(full_p, opts(full_p));
      expect_close(run(full, seq_problem(1, 129, 3, 128)), "full N=129" + tag);
      PatternAttention dyn(dyn_p, opts(dyn_p));
      expect_close(run(dyn, video_problem(1, 9, 17, 23, 2, 128)), "moga_dynamic" + tag);
      LoadedPattern hooks_p = test_pattern("attn_hooks");
      PatternAttention hooks(hooks_p, opts(hooks_p));
      expect_close(run(hooks, seq_problem(2, 1000, 3, 128)), "attn_hooks" + tag);
      // staged bias columns (3 and 4 words) take shared memory: tiles that cannot hold them are refused
      LoadedPattern vb_p = test_pattern("attn_video_bias");
      const std::string vb_why = v.check_tiles(t, 128, 227 * 1024, 4);
      if (vb_why.empty()) {
        PatternAttention vb(vb_p, opts(vb_p));
        expect_close(run(vb, video_problem(1, 5, 13, 17, 2, 128, {0, 3})), "attn_video_bias" + tag);
      }
      if (!all) continue;
      expect_close(run(full, seq_problem(2, 1000, 2, 128)), "full" + tag);
      LoadedPattern moga_p = load_builtin("moga"), causal_p = load_builtin("causal"), top2_p = test_pattern("attn_top2_mix");
      PatternAttention moga(moga_p, opts(moga_p));
      expect_close(run(moga, video_problem(2, 5, 13, 17, 2, 128, {0, 3})), "moga" + tag);
      PatternAttention causal(causal_p, opts(causal_p));
      expect_close(run(causal, seq_problem(1, 777, 2, 128)), "causal" + tag);
      PatternAttention top2(top2_p, opts(top2_p));
      expect_close(run(top2, video_problem(1, 5, 13, 17, 2, 128, {0, 3})), "attn_top2_mix" + tag);
    }
  }
}

namespace {
// sm90.tma with tiles t on every kernel it runs itself (a gathered kernel runs the gather row, its tiles).
AttentionOptions tma_options(const LoadedPattern& lp, const TileConfig& t) {
  AttentionOptions o;
  o.variant = "sm90.tma";
  for (const auto& ks : lp.spec.kernels)
    if (!ks.grouped()) o.tiles[ks.name] = t;
  return o;
}
// The patterns TmaRowAgrees runs at every tile configuration (the JIT warm-up compiles them first).
const char* const kTmaBuiltins[] = {"full", "causal", "sliding_window", "radial"};
const char* const kTmaTestPatterns[] = {"attn_hooks", "attn_video_bias", "attn_softcap"};
}  // namespace

// The TMA row (sm90.tma) at every tile configuration of its space on the kernels it runs itself (no
// gather): dense at odd lengths and two batch items, causal, a sliding window, staged key columns without
// a gather (radial), mask + bias + softcap + gate (attn_hooks), the video bias with staged columns beside a
// routed branch (which runs sm90.ws.sq), D = 64, more items than SMs, and dense cross-attention (keys of
// other lengths, packed k|v views). The row's grid is one CTA per item (ByKernel: only gathered kernels
// get persistent grids, and those run the gather row).
TEST_F(gpu_attention, TmaRowAgrees) {
  if (!wgmma_arch(jit::Device::get().arch())) GTEST_SKIP() << "needs an sm_90 device";
  const KernelVariant& v = *find_variant("sm90.tma");
  for (const TileConfig& t : v.tile_space(128)) {
    const std::string tag = fmt::format(" sm90.tma {}/{}/{}", t.block_m, t.block_n, t.stages);
    auto make = [&](const LoadedPattern& lp) { return std::make_unique<PatternAttention>(lp, tma_options(lp, t)); };
    auto full = make(load_builtin("full"));
    EXPECT_STREQ(full->variant(0, 128).name, "sm90.tma");
    expect_close(run(*full, seq_problem(2, 1000, 2, 128)), "full" + tag);
    expect_close(run(*full, seq_problem(1, 177, 3, 128)), "full N=177" + tag);
    expect_close(run(*make(load_builtin("causal")), seq_problem(1, 777, 2, 128)), "causal" + tag);
    expect_close(run(*make(load_builtin("sliding_window")), seq_problem(1, 1500, 2, 128)), "sliding_window" + tag);
    expect_close(run(*make(load_builtin("radial")), video_problem(1, 5, 13, 17, 2, 128)), "radial" + tag);
    expect_close(run(*make(test_pattern("attn_hooks")), seq_problem(2, 1000, 3, 128)), "attn_hooks" + tag);
    expect_close(run(*make(test_pattern("attn_softcap")), seq_problem(1, 1001, 2, 128)), "attn_softcap" + tag);
    if (v.check_tiles(t, 128, 227 * 1024, 4).empty())
      expect_close(run(*make(test_pattern("attn_video_bias")), video_problem(1, 5, 13, 17, 2, 128, {0, 3})),
                   "attn_video_bias" + tag);
    if (t != v.default_tiles) continue;
    expect_close(run(*full, seq_problem(1, 1000, 2, 64)), "full D=64" + tag);
    expect_close(run(*full, seq_problem(1, 4100, 9, 128)), "full 33 query tiles x 9 heads" + tag);
    check_cross(*full, "sm90.tma", [&](int D) { EXPECT_STREQ(full->variant(0, D).name, "sm90.tma"); });
  }
}

namespace {
// The benchmark suite's patterns (bench/patterns, embedded as suite_<name> with parameters for small
// shapes: test/unit/attention.cmake) and the rows SuitePatternsOnTheTmaRows runs them on.
const char* const kSuitePatterns[] = {
    "suite_alibi_causal",   "suite_dinat2d",        "suite_document_causal", "suite_gemma2_local_softcap",
    "suite_longformer_dilated", "suite_natten3d",   "suite_nsa_mixture",     "suite_prefix_lm",
    "suite_routed_causal_m64", "suite_routed_m256", "suite_routed_m4",       "suite_sta3d",
    "suite_streaming_sinks", "suite_svg_mixture",   "suite_svg_spatial",     "suite_svg_temporal",
    "suite_top2_routing"};
const char* const kSuiteRows[] = {"sm90.tma", "sm90.tma.sorted"};
AttentionOptions row_options(const char* row) {
  AttentionOptions o;
  o.variant = row;
  return o;
}
}  // namespace

// Every pattern of the benchmark suite on the TMA rows against the float64 reference (outputs poisoned,
// odd lengths: N = 1999 with two batch items, video 5 x 13 x 17): sm90.tma (the default for kernels
// without a gather: masks, bias, softcap, ragged last tiles; gathered kernels run its gather row) and
// sm90.tma.sorted (every kernel on the TMA kernel, gathered ones on sorted copies of q, k, v: computed
// groups, routed top-1 and top-2, packed small groups, mixtures). Then all-masked rows on both rows: exactly 0.
TEST_F(gpu_attention, SuitePatternsOnTheTmaRows) {
  if (!wgmma_arch(jit::Device::get().arch())) GTEST_SKIP() << "needs an sm_90 device";
  for (const char* row : kSuiteRows) {
    for (const char* name : kSuitePatterns) {
      LoadedPattern lp = test_pattern(name);
      const bool video = lp.spec.layout == ref::Layout::Video;
      PatternAttention attn(std::move(lp), row_options(row));
      const Problem pr = video ? video_problem(1, 5, 13, 17, 2, 128) : seq_problem(2, 1999, 2, 128);
      for (int ki = 0; ki < (int)attn.spec().kernels.size(); ++ki) {
        const bool gathered = attn.spec().kernels[ki].grouped();
        const std::string want = std::string(row) == "sm90.tma" && gathered ? "sm90.ws.sq" : row;
        EXPECT_EQ(attn.variant(ki, 128).name, want) << name << " kernel " << ki;
      }
      expect_close(run(attn, pr), std::string(name) + " " + pr.s.describe() + " " + row);
      // computed groups of consecutive tokens load their tiles by perm from q, k, v (no sorted copy);
      // strided groups (svg_temporal) and routed ones load sorted copies
      if (std::string(row) == "sm90.tma.sorted") {
        const std::string n = name;
        const bool want_by_perm = n == "suite_dinat2d" || n == "suite_document_causal";
        if (want_by_perm || n == "suite_svg_temporal" || n == "suite_routed_m4")
          EXPECT_EQ(attn.last_tma_by_perm(0), want_by_perm) << name;
      }
    }
    PatternAttention masked(test_pattern("attn_all_masked"), row_options(row));
    const Outcome r = run(masked, seq_problem(2, 1000, 2, 128));
    long long nonzero = 0;
    for (float f : r.out) nonzero += f != 0.f;
    EXPECT_EQ(nonzero, 0) << "all-masked rows must be exactly 0 on " << row;
    expect_close(r, std::string("attn_all_masked ") + row);
  }
}

// Persistent grids with more work items than SMs, so CTAs loop: the dynamic scheduler (sm90.ws.persistent:
// CTAs claim items from an atomic counter) and the static round-robin (sm90.ws.static) agree with the reference, over
// repeated calls on one object (the counter resets itself at the end of every launch); the same grids of the TMA
// rows (their producer is one warp; the routed pattern runs their gather rows, full the TMA kernel).
TEST_F(gpu_attention, PersistentSchedulersAgree) {
  if (!wgmma_arch(jit::Device::get().arch())) GTEST_SKIP() << "needs an sm_90 device";
  const int sms = jit::Device::get().attribute(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
  for (const char* row : {"sm90.ws.persistent", "sm90.ws.static", "sm90.tma.persistent", "sm90.tma.static"}) {
    AttentionOptions o;
    o.variant = row;
    const std::string tag = std::string(" ") + row;
    PatternAttention dyn(load_builtin("moga_dynamic"), o);
    for (int call = 0; call < 3; ++call) {
      Problem pr = video_problem(1, 8, 24, 24, 8, 128);  // >= 36 query tiles x 8 heads
      ASSERT_GT((pr.s.N / 128) * pr.s.H, sms) << "more items than SMs";
      pr.seed = seed_ + 101 * (call + 1);
      expect_close(run(dyn, pr), "moga_dynamic persistent" + tag + " call " + std::to_string(call));
    }
    PatternAttention full(load_builtin("full"), o);
    const Problem pf = seq_problem(1, 2100, 9, 128);  // 17 query tiles x 9 heads
    ASSERT_GT(17 * 9, sms);
    expect_close(run(full, pf), "full persistent" + tag);
    expect_close(run(full, pf), "full persistent again" + tag);
  }
}

// The bias plan (attn-plan-score): row terms per query row, column terms staged by the producer, float32
// element terms, on the default engine (wgmma on Hopper: the default tiles drop a stage to make room for the
// staged columns) and on mma.sync (the composed per-element bias), odd sizes, two batch items, shots.
TEST_F(gpu_attention, VideoBiasPlanAgrees) {
  for (Engine e : {Engine::Auto, Engine::MmaSync}) {
    AttentionOptions o;
    o.engine = e;
    PatternAttention attn(test_pattern("attn_video_bias"), o);
    const std::string tag = e == Engine::Auto ? " (auto)" : " (mma.sync)";
    expect_close(run(attn, video_problem(2, 5, 13, 17, 2, 128, {0, 3})), "attn_video_bias" + tag);
    expect_close(run(attn, video_problem(1, 3, 31, 9, 3, 128)), "attn_video_bias 3x31x9" + tag);
    expect_close(run(attn, video_problem(1, 4, 11, 13, 2, 64)), "attn_video_bias D=64" + tag);
  }
}

// The byte-packed bias (attn-plan-score attn.u8; moga::BiasBytes): the routed branch's sum of coordinate
// distances as one VABSDIFF4 where frame, row and col are below 256, the float split where one is not (a grid
// 300 columns wide, 3 x 2 x 300: col up to 299; and 1 x 2 x 256: col 255, the last that fits) and with
// AttentionOptions::packed_bias = false, against the float64 reference; the packed and the float split on the
// same inputs differ only in rounding (float32 holds these distance sums exactly either way).
TEST_F(gpu_attention, BytePackedBiasAgrees) {
  if (!wgmma_arch(jit::Device::get().arch())) GTEST_SKIP() << "needs an sm_90 device (the split runs on wgmma)";
  AttentionOptions off;
  off.packed_bias = false;
  PatternAttention packed(test_pattern("attn_video_bias")), plain(test_pattern("attn_video_bias"), off);
  const Problem small = video_problem(1, 5, 13, 17, 2, 128, {0, 3});
  ASSERT_EQ(packed.packed_bias_kernels(small.s), 1u);
  ASSERT_EQ(plain.packed_bias_kernels(small.s), 0u);
  const Outcome a = run(packed, small), b = run(plain, small);
  expect_close(a, "attn_video_bias packed");
  expect_close(b, "attn_video_bias float split");
  EXPECT_LE(std::fabs(a.rel - b.rel), 2e-3) << "the two splits compute the same bias";
  const Problem wide = video_problem(1, 3, 2, 300, 2, 128), edge = video_problem(1, 1, 2, 256, 2, 128);
  ASSERT_EQ(packed.packed_bias_kernels(wide.s), 0u);
  ASSERT_EQ(packed.packed_bias_kernels(edge.s), 1u);
  expect_close(run(packed, wide), "attn_video_bias 3x2x300 (float split by shape)");
  expect_close(run(packed, edge), "attn_video_bias 1x2x256 (packed, col 255)");
  expect_close(run(packed, small), "attn_video_bias packed again (its module kept beside the float one)");
}

TEST_F(gpu_attention, AutoEngineOnThisDevice) {
  const bool hopper = wgmma_arch(jit::Device::get().arch());
  PatternAttention attn(load_builtin("moga"));
  for (int ki = 0; ki < 3; ++ki) {
    EXPECT_EQ(attn.engine(ki, 128), hopper ? Engine::Wgmma : Engine::MmaSync) << ki;
    EXPECT_EQ(attn.engine(ki, 64), Engine::MmaSync) << ki;
  }
  expect_close(run(attn, video_problem(2, 5, 13, 17, 2, 128, {0, 3})), "moga auto D=128");
  if (hopper)
    EXPECT_EQ(attn.last_block_map(1).tq, (attn.last_order(1, nullptr, true).N + 127) / 128) << "wgmma: maps with BM = 128";
  expect_close(run(attn, video_problem(2, 5, 13, 17, 4, 64, {0, 3})), "moga auto D=64 (same object, same N)");
  EXPECT_EQ(attn.last_block_map(1).tq,
            (attn.last_order(1, nullptr, true).N + attn.tiles(1, 64).block_m - 1) / attn.tiles(1, 64).block_m);
  expect_close(run(attn, video_problem(2, 5, 13, 17, 2, 128, {0, 3})), "moga auto D=128 again");
}

// ---- FP8 (AttentionOptions::precision = Fp8: registry row kFp8DefaultRow, sm90.tma.fp8.sum) ------------------

namespace {
// The FP8 bound (rel L2 against float64): the host model of the algorithm (test/unit/fp8_model.h, its CPU
// test fp8_model.ErrorAgainstFloat64) gives 0.039 on uniform(-1, 1) inputs and 0.047 with outlier channels;
// the margin covers float32 and exp2 differences. The GPU must also reproduce the model itself closely
// (kFp8ModelTol: what the model and the kernel share, e4m3 operands and P, is the error; what differs is
// float32 accumulation order, ex2.approx and the bf16 output).
constexpr double kFp8Tol = 6e-2;
constexpr double kFp8ModelTol = 1.5e-2;
// Patterns whose softmax scale is far above 1/sqrt(D) (attn_softcap: 4 and 2): logits of tens, where e4m3's
// relative error of q and k becomes whole units of logit; the bound for them.
constexpr double kFp8LargeLogitsTol = 0.15;
// The FP8 rows: the default of precision = Fp8 and its A/B rows (the softmax under the P V before it; the rows'
// sums by the P V product).
const char* const kFp8Rows[] = {"sm90.tma.fp8", "sm90.tma.fp8.ov", "sm90.tma.fp8.sum"};
// The precision option, with tiles t on every kernel the row runs itself (block_m 0: the row's default);
// row: a registry row other than the precision's default (kFp8Rows).
AttentionOptions fp8_options(const LoadedPattern& lp, const TileConfig& t = {}, const char* row = nullptr) {
  AttentionOptions o;
  o.precision = Precision::Fp8;
  if (row) o.variant = row;
  if (t.block_m)
    for (const auto& ks : lp.spec.kernels)
      if (!ks.grouped()) o.tiles[ks.name] = t;
  o.engine = Engine::Wgmma;  // a tiles entry keeps Auto on sm80.mma
  return o;
}
const char* const kFp8Builtins[] = {"full", "causal", "sliding_window", "radial", "moga", "moga_dynamic", "stga",
                                    "frame_local"};
const char* const kFp8TestPatterns[] = {"attn_hooks", "attn_softcap", "attn_all_masked", "attn_routed_mix",
                                        "attn_top2", "attn_small_groups"};
void outlier_inputs(std::vector<float>& x, int which) { moga::test::add_outlier_channels(x, 128, which); }
}  // namespace

// Dense FP8 at every tile configuration of the row, odd lengths, two batch items, on uniform(-1, 1) inputs
// and on inputs with outlier channels: within kFp8Tol of float64 and within kFp8ModelTol of the host model of
// the FP8 algorithm; the bf16 path (sm90.tma) on the same inputs printed beside; every element written.
// Then more items than SMs, and dense cross-attention (check_cross at D = 128, FP8's bound).
TEST_F(gpu_attention, Fp8DenseAgrees) {
  if (!wgmma_arch(jit::Device::get().arch())) GTEST_SKIP() << "needs an sm_90 device";
  const LoadedPattern full = load_builtin("full");
  PatternAttention bf16(full);
  for (const char* row : kFp8Rows) {
    const KernelVariant& v = *find_variant(row);
    for (const TileConfig& t : v.tile_space(128)) {
      const std::string tag = fmt::format(" {} {}/{}/{}", row, t.block_m, t.block_n, t.stages);
      PatternAttention attn(full, fp8_options(full, t, row));
      ASSERT_STREQ(attn.variant(0, 128).name, row);
      for (bool outliers : {false, true}) {
        if (outliers && t != v.default_tiles && t.block_n != 128) continue;  // outliers: BN 192 and 128 once each
        Problem pr = seq_problem(2, 1000, 2, 128);
        if (outliers) pr.inputs = outlier_inputs;
        const std::string what = std::string(outliers ? "full, outlier channels" : "full, uniform") + tag;
        const Outcome r = run(attn, pr);
        EXPECT_EQ(r.unwritten, 0) << what;
        EXPECT_LE(r.rel, kFp8Tol) << what;
        const std::vector<double> model =
            moga::test::fp8_attention_model(r.q, r.k, r.v, 2, 1000, 1000, 2, 128, t.block_n, /*rotate=*/true,
                                            moga::test::fp8_algo_of_row(row));
        std::vector<double> got(r.out.begin(), r.out.end());
        const double vs_model = moga::test::rel_l2(got, model);
        EXPECT_LE(vs_model, kFp8ModelTol) << what << ": the kernel is not the FP8 algorithm";
        const Outcome b = run(bf16, pr);
        std::cout << what << ": FP8 rel L2 " << r.rel << " (bound " << kFp8Tol << "; vs the host FP8 model " << vs_model
                  << ", bound " << kFp8ModelTol << "); bf16 sm90.tma " << b.rel << "\n";
      }
    }
    // more work items than SMs, a ragged length, three heads
    PatternAttention attn(full, fp8_options(full, {}, row));
    // dense cross-attention (keys of other lengths, packed k|v views, a single query) at D = 128
    check_cross(attn, row, [&](int D) { EXPECT_STREQ(attn.variant(0, D).name, row); }, kFp8Tol, 128);
    const Outcome r = run(attn, seq_problem(1, 2100, 9, 128));  // 17 query tiles x 9 heads
    EXPECT_EQ(r.unwritten, 0);
    EXPECT_LE(r.rel, kFp8Tol);
    std::cout << "full N=2100 H=9 " << row << " default: FP8 rel L2 " << r.rel << "\n";
  }
}

// The prep's e4m3 inputs (PatternAttention::last_fp8_inputs) against the host's quantization of the same bf16
// tensors (fp8_prep.cuh): the amax per (tensor, batch, head), q8 and k8 (Hadamard-rotated rows) and V^T
// (transposed, key n at column fp8_key_slot(n), zeros past the keys) element by element; equal but for float
// rounding ties (then one e4m3 step apart). Dense (the token order) and a routed kernel (its sorted order,
// padding rows zero). Localizes an FP8 failure to the prep or the kernel.
TEST_F(gpu_attention, Fp8PrepMatchesTheHostQuantization) {
  if (!wgmma_arch(jit::Device::get().arch())) GTEST_SKIP() << "needs an sm_90 device";
  auto check = [&](PatternAttention& attn, const Problem& pr, int ki, const std::string& what) {
    const Outcome r = run(attn, pr);
    const PatternAttention::Fp8Inputs in = attn.last_fp8_inputs(ki);
    const int B = pr.s.B, N = pr.s.N, H = pr.s.H, D = 128;
    std::vector<int> perm;  // the kernel's order: [B][rows] tokens, -1 padding
    if (attn.spec().kernels[ki].grouped()) perm = attn.last_order(ki, nullptr, /*raw=*/true).perm;
    ASSERT_EQ(in.B, B);
    const long long rows = in.rows;
    ASSERT_EQ(perm.empty() ? (long long)N : (long long)perm.size() / B, rows) << what;
    const std::vector<float>* src[3] = {&r.q, &r.k, &r.v};
    long long mismatched = 0, far = 0, total = 0, amax_off = 0;
    for (int t = 0; t < 3; ++t)
      for (int b = 0; b < B; ++b)
        for (int h = 0; h < H; ++h) {
          // rows of this (b, h) in the kernel's order, rotated for q and k
          std::vector<float> x((size_t)rows * D, 0.f);
          for (long long n = 0; n < rows; ++n) {
            const int tok = perm.empty() ? (int)n : perm[(size_t)b * rows + n];
            if (tok < 0) continue;
            for (int d = 0; d < D; ++d) x[n * D + d] = (*src[t])[(((size_t)b * N + tok) * H + h) * D + d];
            if (t < 2) moga::test::hadamard_rows(x.data() + n * D, D);
          }
          float amax = 0.f;
          for (float f : x) amax = std::max(amax, std::fabs(f));
          const float dev_amax = in.amax[(size_t)t * B * H + b * H + h];
          amax_off += std::fabs(dev_amax - amax) > 1e-6f * amax;
          const float sc = dev_amax > 0.f ? 448.f / dev_amax : 1.f;
          for (long long n = 0; n < rows; ++n)
            for (int d = 0; d < D; ++d) {
              const double want = moga::test::round_e4m3((double)(x[n * D + d] * sc));
              const size_t at = t == 0   ? ((size_t)(b * rows + n) * H + h) * D + d
                                : t == 1 ? ((size_t)(b * in.rows_kv + n) * H + h) * D + d
                                         : ((size_t)(b * H + h) * D + d) * in.ldv + moga::fp8_key_slot((int)n);
              const double got = moga::test::decode_e4m3((t == 0 ? in.q : t == 1 ? in.k : in.vt)[at]);
              ++total;
              if (got != want) {
                ++mismatched;
                far += std::fabs(got - want) > std::fabs(want) * 0.126 + std::ldexp(1.0, -9);
              }
            }
          if (t == 2)  // V^T columns whose key is past the keys: zeros (column c holds key key_of(c))
            for (int d = 0; d < D; ++d)
              for (long long c = 0; c < in.ldv; ++c) {
                const long long key = (c & ~15LL) | (((c >> 1) & 1) << 3) | (((c >> 2) & 3) << 1) | (c & 1);
                if (key >= rows) far += in.vt[((size_t)(b * H + h) * D + d) * in.ldv + c] != 0;
              }
        }
    std::cout << what << ": " << total << " e4m3 values, " << mismatched << " one step off the host's (ties), " << far
              << " further; amax off " << amax_off << "\n";
    EXPECT_EQ(amax_off, 0) << what;
    EXPECT_EQ(far, 0) << what;
    EXPECT_LE(mismatched, total / 1000) << what;
  };
  const LoadedPattern full = load_builtin("full"), dyn = load_builtin("moga_dynamic");
  PatternAttention a(full, fp8_options(full));
  Problem pr = seq_problem(2, 1000, 2, 128);
  pr.inputs = outlier_inputs;
  check(a, pr, 0, "prep, full (token order)");
  PatternAttention d(dyn, fp8_options(dyn));
  check(d, video_problem(2, 5, 13, 17, 2, 128), 0, "prep, moga_dynamic (sorted order)");
}

// Every structure in FP8 at the row's default tiles: causal, sliding window, staged key columns (radial),
// the moga layer and its branches alone (routed, computed keys with shots: gathered kernels reading copies
// in their sorted order), mask + bias + softcap + gate (attn_hooks), saturated softcaps and rows without
// keys (attn_softcap), all-masked rows (exactly 0), a routed mixture, top-2 routing, small packed groups.
// The routed kernels are fed the GPU's routing (the reference's), so FP8 error is all that differs.
TEST_F(gpu_attention, Fp8PatternsAgree) {
  if (!wgmma_arch(jit::Device::get().arch())) GTEST_SKIP() << "needs an sm_90 device";
  for (const char* row : kFp8Rows) {
  auto one = [&](const LoadedPattern& lp, const Problem& pr, double tol = kFp8Tol) {
    PatternAttention attn(lp, fp8_options(lp, {}, row));
    int fp8 = 0;
    for (int ki = 0; ki < (int)lp.spec.kernels.size(); ++ki)
      fp8 += std::string(attn.variant(ki, 128).name) == row;
    EXPECT_GT(fp8, 0) << lp.name << ": no kernel runs FP8";
    const Outcome r = run(attn, pr);
    EXPECT_EQ(r.unwritten, 0) << lp.name;
    for (float f : r.out) ASSERT_TRUE(std::isfinite(f)) << lp.name << " wrote a non-finite value";
    // rows the reference leaves at 0 (no visible key) are exactly 0
    long long zero_rows_wrong = 0;
    const size_t D = pr.s.D;
    for (size_t row = 0; row * D < r.ref.size(); ++row) {
      bool ref_zero = true, out_zero = true;
      for (size_t d = 0; d < D; ++d) {
        ref_zero &= r.ref[row * D + d] == 0.0;
        out_zero &= r.out[row * D + d] == 0.f;
      }
      zero_rows_wrong += ref_zero && !out_zero;
    }
    EXPECT_EQ(zero_rows_wrong, 0) << lp.name << ": rows without keys must be exactly 0";
    if (r.ref_norm == 0) EXPECT_EQ(r.rel, 0.0) << lp.name;
    else EXPECT_LE(r.rel, tol) << lp.name;
    PatternAttention bf16(lp);
    std::cout << lp.name << " " << pr.s.describe() << " (" << fp8 << " of " << lp.spec.kernels.size()
              << " kernels on " << row << "): rel L2 " << r.rel << " (bound " << tol << "); bf16 " << run(bf16, pr).rel << "\n";
  };
  one(load_builtin("causal"), seq_problem(2, 1000, 2, 128));
  one(load_builtin("sliding_window"), seq_problem(1, 1500, 2, 128));
  one(load_builtin("radial"), video_problem(1, 5, 13, 17, 2, 128));
  one(load_builtin("moga"), video_problem(2, 5, 13, 17, 2, 128, {0, 3}));
  one(load_builtin("moga_dynamic"), video_problem(2, 5, 13, 17, 2, 128));
  one(load_builtin("stga"), video_problem(2, 5, 13, 17, 2, 128, {0, 3}));
  one(load_builtin("frame_local"), video_problem(2, 5, 13, 17, 2, 128));
  one(test_pattern("attn_hooks"), seq_problem(2, 1000, 3, 128));
  // the video bias's byte-packed split (moga::BiasBytes) on the FP8 kernel, its float split at a grid 300 wide
  one(test_pattern("attn_video_bias"), video_problem(1, 5, 13, 17, 2, 128, {0, 3}));
  one(test_pattern("attn_video_bias"), video_problem(1, 3, 2, 300, 2, 128));
  // softmax scales 4 and 2 (45x and 23x 1/sqrt(128)): logits in +-50, and FP8's score error grows with the
  // logits (e4m3's relative rounding of q and k): 0.105 on the H200 (2026-12-02) against ~0.04 at the usual
  // scale; checked against kFp8LargeLogitsTol (docs/performance.md, "FP8": FP8 is for ordinary scales)
  one(test_pattern("attn_softcap"), seq_problem(1, 1001, 2, 128), kFp8LargeLogitsTol);
  one(test_pattern("attn_all_masked"), seq_problem(2, 1000, 2, 128));
  one(test_pattern("attn_routed_mix"), seq_problem(2, 1000, 2, 128));
  one(test_pattern("attn_top2"), seq_problem(2, 1001, 3, 128));
  one(test_pattern("attn_small_groups"), seq_problem(2, 1001, 2, 128));
  }
}

// ---- the JIT cache, filled on every core before the first test -------------------------------------------

namespace {
class WarmJitCache : public ::testing::Environment {
 public:
  void SetUp() override {
    if (!jit::device_available()) return;
    const std::string arch = jit::CompileOptions{}.resolved_arch();  // once, on this thread
    struct Item {
      std::function<LoadedPattern()> load;
      AttentionOptions o;
      int D;
      TileConfig tma{};  // block_m != 0: o = tma_options(pattern, tma), or with row_all:
      const char* row_all = nullptr;  // o.variant = row_all with tiles tma on every kernel (EveryWgmmaRow...)
    };
    std::vector<Item> items;
    auto builtin = [](const char* n) { return [n] { return load_builtin(n); }; };
    auto testp = [](const char* n) { return [n] { return test_pattern(n); }; };
    // --gtest_filter on the FP8 tests alone (gpu-check row gpu_fp8): their modules only
    const std::string filter = ::testing::GTEST_FLAG(filter);
    const bool fp8_only = filter.find("Fp8") != std::string::npos && filter.find(':') == std::string::npos;
    for (Engine e : {Engine::MmaSync, Engine::Wgmma}) {
      if (fp8_only) break;
      if (e == Engine::Wgmma && !wgmma_arch(arch)) continue;
      AttentionOptions o;
      o.engine = e;
      for (const char* n : {"full", "causal", "sliding_window", "moga_dynamic", "stga", "frame_local", "moga", "radial",
                            "natten2d"})
        items.push_back({builtin(n), o, 128});
      for (const char* n : {"full", "causal", "moga"}) items.push_back({builtin(n), o, 64});
      for (const char* n : {"attn_all_masked", "attn_hooks", "attn_routed_mix", "attn_small_groups", "attn_route64",
                            "attn_route256"})
        items.push_back({testp(n), o, 128});
      items.push_back({testp("attn_route64"), o, 64});
      items.push_back({builtin("moga"), tile_override_options(e), 128});
      // (Auto modules are these: the same instantiations and arch, so the same cache entries.)
    }
    if (wgmma_arch(arch)) {  // the FP8 tests: every tile of each FP8 row on full, the default on the others
      for (const char* row : kFp8Rows) {
        for (const TileConfig& t : find_variant(row)->tile_space(128))
          items.push_back({builtin("full"), fp8_options(load_builtin("full"), t, row), 128});
        for (const char* n : kFp8Builtins) items.push_back({builtin(n), fp8_options(load_builtin(n), {}, row), 128});
        for (const char* n : kFp8TestPatterns) items.push_back({testp(n), fp8_options(test_pattern(n), {}, row), 128});
      }
      if (fp8_only) {  // the bf16 runs beside them (Auto; otherwise the Wgmma items above are these modules)
        for (const char* n : kFp8Builtins) items.push_back({builtin(n), {}, 128});
        for (const char* n : kFp8TestPatterns) items.push_back({testp(n), {}, 128});
      }
    }
    if (wgmma_arch(arch) && !fp8_only)  // TmaRowAgrees: the TMA row at every tile configuration of its space
      for (const TileConfig& t : find_variant("sm90.tma")->tile_space(128)) {
        for (const char* n : kTmaBuiltins) items.push_back({builtin(n), {}, 128, t});
        for (const char* n : kTmaTestPatterns)  // the video bias's staged columns do not fit every tile
          if (std::string(n) != "attn_video_bias" || find_variant("sm90.tma")->check_tiles(t, 128, 227 * 1024, 4).empty())
            items.push_back({testp(n), {}, 128, t});
      }
    if (wgmma_arch(arch)) {  // EveryWgmmaRowAndTileConfigAgrees on sm90.tma.sorted (no gather row: every kernel)
      const KernelVariant& sv = *find_variant("sm90.tma.sorted");
      for (const TileConfig& t : sv.tile_space(128)) {
        for (const char* n : {"full", "moga_dynamic"}) items.push_back({builtin(n), {}, 128, t, sv.name});
        items.push_back({testp("attn_hooks"), {}, 128, t, sv.name});
        if (sv.check_tiles(t, 128, 227 * 1024, 4).empty()) items.push_back({testp("attn_video_bias"), {}, 128, t, sv.name});
        if (t != sv.default_tiles) continue;
        for (const char* n : {"moga", "causal"}) items.push_back({builtin(n), {}, 128, t, sv.name});
        items.push_back({testp("attn_top2_mix"), {}, 128, t, sv.name});
      }
    }
    if (wgmma_arch(arch))  // SuitePatternsOnTheTmaRows
      for (const char* row : kSuiteRows) {
        for (const char* n : kSuitePatterns) items.push_back({testp(n), row_options(row), 128});
        items.push_back({testp("attn_all_masked"), row_options(row), 128});
      }
    const unsigned threads = std::max(1u, std::min<unsigned>(std::thread::hardware_concurrency(), items.size()));
    std::atomic<size_t> next{0};
    std::atomic<int> failed{0};
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t)
      pool.emplace_back([&] {
        for (size_t i; (i = next++) < items.size();) {
          try {
            LoadedPattern lp = items[i].load();
            AttentionOptions o = items[i].tma.block_m && !items[i].row_all ? tma_options(lp, items[i].tma) : items[i].o;
            if (items[i].row_all) {
              o.variant = items[i].row_all;
              for (const auto& ks : lp.spec.kernels) o.tiles[ks.name] = items[i].tma;
            }
            PatternAttention a(std::move(lp), o);
            a.compile(items[i].D);
          } catch (const std::exception& ex) {  // the test that needs it reports it
            ++failed;
            std::cerr << "jit warm-up: " << ex.what() << "\n";
          }
        }
      });
    for (auto& t : pool) t.join();
    std::cout << "jit warm-up: " << items.size() << " modules (" << failed << " failed) on " << threads
              << " threads in " << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()
              << " s\n";
  }
};
::testing::Environment* const kWarmJitCache = ::testing::AddGlobalTestEnvironment(new WarmJitCache);
}  // namespace
