// The backward on a GPU (runtime/attention/backward.h, router_backward.h) and the forward's log-sum-exp
// (RunOptions::lse) and kept branches (RunOptions::branch_out), for every pattern shipped (ungrouped: full,
// causal, sliding_window, radial; computed groups: frame_local, natten2d; stga; routed top 1: moga_dynamic;
// the moga mixture) and the test patterns (bwd_hooks: mask + bias + softcap + scale + weight 0.75; bwd_holes:
// every fifth row sees no key; bwd_groups: computed groups with empty ones under a mask; attn_all_masked: no row
// sees a key; bwd_mix: two masked kernels weighted 0.75 / 0.25, one with empty rows; attn_routed_mix: routed +
// masked beside a computed key with empty groups; top-2 routing: attn_top2, attn_top2_mix with a softcap beside
// a static branch, attn_video_bias; gate programs: attn_hooks, bwd_routed_gate; attn_small_groups), on fresh
// random inputs (seed printed; MOGA_TEST_SEED=S repeats it). Routed: the GPU's routing (last_routing) is given
// to the backward and to the reference; the gate gradient is checked through the router logits' gradient it
// yields (d p from dgate, then the softmax Jacobian, against the reference's dlogits, same bound), and for the
// cases marked `router` RouterBackward's dlogits, dx, dW and balance loss against the reference's backward with
// the balance loss (same bound; the loss within 1e-3 relative; two runs bit-identical).
//
// Oracle: the CPU reference in float64 (ref::reference_attention_backward for the loss <dout, out>,
// ref::reference_lse), on the same bf16-exact inputs.
// Pass criteria: lse: -inf exactly where the reference's row is empty, elsewhere |gpu - ref| <= 2e-3 (float32
// from bf16 inputs); gradients: relative L2 ||gpu - ref|| / ||ref|| <= 2e-2 each (bf16 operands, bf16 P and dS
// in the MMAs); exactly 0 where no row sees a key; L2 <= 1e-4 where the exact gradient cancels to 0 (one key
// per row: D is computed from the bf16 O). Outputs
// (out, lse, dq, dk, dv) are poisoned with NaN bytes before every run and no NaN may survive. Lengths that are
// no multiple of the 64-row tiles, D = 64 and 128, B = 2, both dQ modes, the lse of both forward engines;
// deterministic mode bit-identical across two runs. Without a device every test SKIPs loudly.
#include <gtest/gtest.h>
#include <fmt/format.h>
#include <stdlib.h>

#include <cmath>
#include <iostream>
#include <map>
#include <cstring>
#include <algorithm>
#include <atomic>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "runtime/attention/attention.h"
#include "runtime/attention/bf16.h"
#include "runtime/attention/backward.h"
#include "runtime/attention/compiled_embed.h"
#include "runtime/attention/router_backward.h"
#include "runtime/jit/check.h"
#include "runtime/jit/driver.h"
#include "runtime/jit/jit.h"
#include "runtime/jit/module.h"
#include "runtime/reference/backward.h"

namespace moga::rt {
const std::vector<CompiledText>& test_patterns();
}

using namespace moga;
using namespace moga::rt;

namespace {

constexpr double kGradTol = 2e-2, kLseTol = 2e-3;
constexpr double kFwdTol = 1e-2;  // the forward's bound (gpu_attention_test): bf16 outputs, bf16 P in the MMAs
// A gradient that cancels exactly (rows with a single key: softmax over one key has none) is 0 in the
// reference but only ~1e-7 on the GPU, where D = rowsum(dO * O) reads the bf16-rounded O: its L2 must stay
// below this (the inputs are O(1)).
constexpr double kCancelTol = 1e-4;


uint64_t base_seed() {
  static const uint64_t s = [] {
    if (const char* e = getenv("MOGA_TEST_SEED")) return (uint64_t)strtoull(e, nullptr, 10);
    return ((uint64_t)std::random_device{}() << 32) ^ std::random_device{}();
  }();
  return s;
}

LoadedPattern pattern_named(const std::string& name) {
  for (const auto& e : test_patterns())
    if (name == e.label) return load_from_text(e.cuda, e.manifest, e.label);
  return load_builtin(name);
}

struct Dev {
  std::unique_ptr<jit::DeviceBuffer> b;
  explicit Dev(size_t bytes) : b(std::make_unique<jit::DeviceBuffer>(std::max<size_t>(bytes, 16))) {}
  CUdeviceptr ptr() const { return b->ptr(); }
  void poison() { b->fill_bytes(0xff); }  // bf16 and f32 NaN
  std::vector<float> bf16(size_t n) const {
    std::vector<unsigned short> h(n);
    b->download(h.data(), n * 2);
    std::vector<float> f(n);
    for (size_t i = 0; i < n; ++i) f[i] = bf2f(h[i]);
    return f;
  }
  std::vector<unsigned short> raw16(size_t n) const {
    std::vector<unsigned short> h(n);
    b->download(h.data(), n * 2);
    return h;
  }
};

Dev upload_bf16(const std::vector<float>& v) {
  Dev d(v.size() * 2);
  std::vector<unsigned short> h(v.size());
  for (size_t i = 0; i < v.size(); ++i) h[i] = f2bf(v[i]);
  d.b->upload(h.data(), h.size() * 2);
  return d;
}

// The float64 oracle: the CPU reference's backward and log-sum-exp (runtime/reference/backward.h).
struct Oracle {
  std::vector<std::vector<double>> lse;  // per kernel [B][H][N k] (-inf: empty row)
  std::vector<double> dq, dk, dv;        // [B][N][H][D]
  std::vector<double> dlogits;           // the routed kernel, gated: [B][N][M]
  std::vector<double> out;               // the forward [B][N][H][D]
  std::vector<std::vector<double>> terms;  // per kernel: weight * sum over its slots of gate * Attn
};
// The routed kernel (at most one per test pattern): the router inputs and the GPU's routing (the reference
// groups by it, as gpu_attention_test).
struct Router {
  int ki = -1, d = 64, M = 0, k = 1;
  std::vector<float> x, w;  // [B][N][d], [d][M], bf16-exact
  ref::Grouping given;
};
// The reference's inputs for these bf16-exact tensors; with the routed kernel's router inputs and the GPU's routing.
ref::RefInputs ref_inputs(const ref::PatternSpec& spec, const AttentionShape& s, const std::vector<float>& q,
                          const std::vector<float>& k, const std::vector<float>& v, const Router* r) {
  ref::RefInputs in;
  in.B = s.B, in.heads = s.H, in.head_dim = s.D, in.N = s.N;
  if (s.video) in.video = {s.F, s.Hgt, s.Wid, s.shot_starts};
  in.q = q.data(), in.k = k.data(), in.v = v.data();
  if (r) {
    in.x = r->x.data();
    in.d_model = r->d;
    in.router_weight.assign(spec.kernels.size(), nullptr);
    in.routing.assign(spec.kernels.size(), nullptr);
    in.router_weight[r->ki] = r->w.data();
    in.routing[r->ki] = &r->given;
  }
  return in;
}

Oracle oracle(const ref::PatternSpec& spec, const AttentionShape& s, const std::vector<float>& q,
              const std::vector<float>& k, const std::vector<float>& v, const std::vector<float>& dout,
              const Router* r) {
  ref::RefInputs in = ref_inputs(spec, s, q, k, v, r);
  const std::vector<double> d(dout.begin(), dout.end());
  ref::RefGrads g;
  ref::reference_attention_backward(spec, in, d.data(), ref::BackwardOptions{}, g);
  Oracle o;
  o.lse = ref::reference_lse(spec, in);
  in.per_kernel = true;
  ref::RefOutput f;
  ref::reference_attention(spec, in, f);
  o.out = std::move(f.out), o.terms = std::move(f.terms);
  o.dq = std::move(g.dq), o.dk = std::move(g.dk), o.dv = std::move(g.dv);
  if (r && !g.dlogits.empty()) o.dlogits = std::move(g.dlogits.at(r->ki));
  return o;
}

double rel_l2(const std::vector<float>& got, const std::vector<double>& ref, double* ref_norm) {
  double e = 0, r = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    e += (got[i] - ref[i]) * (got[i] - ref[i]);
    r += ref[i] * ref[i];
  }
  *ref_norm = std::sqrt(r);
  return r > 0 ? std::sqrt(e / r) : std::sqrt(e);
}

struct Case {
  std::string pattern;
  AttentionShape s;
  bool router = false;  // also the router's backward on the GPU (RouterBackward) from the dgate of the run
};

// RouterBackward with the paper's balance loss (0.1) from the GPU's dgate, against the reference's backward with
// BackwardOptions::balance_loss: dlogits, dx, dW (rel L2 <= kGradTol each), the loss value (relative 1e-3);
// outputs poisoned; a second run bit-identical.
void check_router(const ref::PatternSpec& spec, const Router& r, const Dev& dgate, const AttentionShape& s,
                  const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v,
                  const std::vector<float>& dout, const Dev& x, const Dev& w, const Dev& gid, const Dev& prob) {
  const ref::RefInputs in = ref_inputs(spec, s, q, k, v, &r);
  const std::vector<double> d(dout.begin(), dout.end());
  ref::BackwardOptions bo;
  bo.balance_loss = true;
  ref::RefGrads g;
  ref::reference_attention_backward(spec, in, d.data(), bo, g);

  const size_t toks = (size_t)s.B * s.N;
  RouterBackwardOptions ro;
  ro.balance_weight = 0.1;
  RouterBackward rb(r.M, r.k, ro);
  Dev dx(toks * r.d * 4), dw((size_t)r.d * r.M * 4), dl(toks * r.M * 4), loss(4);
  RouterBackwardArgs a;
  a.x = TensorView::contiguous(x.ptr(), DType::BF16, {s.B, s.N, r.d});
  a.w = TensorView::contiguous(w.ptr(), DType::BF16, {r.d, r.M});
  a.routing = {gid.ptr(), prob.ptr()};
  a.dgate = dgate.ptr();
  a.dx = dx.ptr(), a.dw = dw.ptr(), a.dlogits = dl.ptr(), a.balance_loss = loss.ptr();
  std::vector<float> first;
  for (int run = 0; run < 2; ++run) {
    for (Dev* b : {&dx, &dw, &dl, &loss}) b->poison();
    rb.run(a, nullptr);
    CU_CHECK(jit::driver().cuCtxSynchronize());
    std::vector<float> all;
    const std::pair<const Dev*, const std::vector<double>*> outs[] = {
        {&dl, &g.dlogits.at(r.ki)}, {&dx, &g.dx}, {&dw, &g.drouter_w.at(r.ki)}};
    const char* names[] = {"dlogits", "dx", "dW"};
    for (int i = 0; i < 3; ++i) {
      const size_t n = outs[i].second->size();
      std::vector<float> got(n);
      outs[i].first->b->download(got.data(), n * 4);
      long long nans = 0;
      for (float e : got) nans += std::isnan(e);
      EXPECT_EQ(nans, 0) << "router " << names[i] << ": NaN left (poison) or computed";
      double norm = 0;
      const double rel = rel_l2(got, *outs[i].second, &norm);
      EXPECT_LE(rel, kGradTol) << "router " << names[i] << " relative L2 vs the reference (ref norm " << norm << ")";
      if (run == 0) std::cout << fmt::format("  router {} (balance 0.1): rel L2 {:.2e}\n", names[i], rel);
      all.insert(all.end(), got.begin(), got.end());
    }
    float lv = 0;
    loss.b->download(&lv, 4);
    EXPECT_NEAR(lv, g.balance_loss, 1e-3 * std::fabs(g.balance_loss)) << "balance loss vs the reference";
    if (run == 0) std::cout << fmt::format("  balance loss {:.6f} (reference {:.6f})\n", lv, g.balance_loss);
    all.push_back(lv);
    if (run == 0) first = all;
    else EXPECT_TRUE(std::memcmp(first.data(), all.data(), all.size() * 4) == 0)
             << "two RouterBackward runs gave different bits";
  }
}

// The router's gradient from the GPU's gate gradient (per entry, [B][N][k]): d p_m = sum of dgate over the
// token's slots routed to m, dlogits = p (dp - sum_m p_m dp_m), p the full softmax of x W (double, as the
// reference), against the reference's dlogits.
void check_dlogits(const Router& r, const Dev& dgate, const std::vector<double>& ref, const AttentionShape& s) {
  const size_t toks = (size_t)s.B * s.N;
  std::vector<float> dg(toks * r.k);
  dgate.b->download(dg.data(), dg.size() * 4);
  long long nans = 0;
  std::vector<float> got(toks * r.M);
  for (size_t t = 0; t < toks; ++t) {
    std::vector<double> l(r.M), dp(r.M, 0.0);
    double mx = -INFINITY, sum = 0, pdp = 0;
    for (int m = 0; m < r.M; ++m) {
      for (int i = 0; i < r.d; ++i) l[m] += (double)r.x[t * r.d + i] * r.w[(size_t)i * r.M + m];
      mx = std::max(mx, l[m]);
    }
    for (double& e : l) sum += (e = std::exp(e - mx));
    for (int j = 0; j < r.k; ++j) {
      nans += std::isnan(dg[t * r.k + j]);
      dp[r.given.gid[t * r.k + j]] += dg[t * r.k + j];
    }
    for (int m = 0; m < r.M; ++m) pdp += l[m] / sum * dp[m];
    for (int m = 0; m < r.M; ++m) got[t * r.M + m] = (float)(l[m] / sum * (dp[m] - pdp));
  }
  EXPECT_EQ(nans, 0) << "dgate: entries left NaN (poison)";
  ASSERT_EQ(ref.size(), got.size()) << "the reference has no dlogits for this kernel";
  double norm = 0;
  const double rel = rel_l2(got, ref, &norm);
  EXPECT_LE(rel, kGradTol) << "router dlogits (from dgate) relative L2 vs the reference (ref norm " << norm << ")";
  std::cout << fmt::format("  router dlogits from dgate: rel L2 {:.2e}\n", rel);
}

class gpu_backward : public ::testing::Test {
 protected:

  void SetUp() override {
    std::string why;
    if (!jit::device_available(&why)) GTEST_SKIP() << "no CUDA device: " << why;
    jit::Device::get().make_current();
  }

  // Forward with lse (on registry row `variant` when given), then the backward (on backward row `bwd_row`
  // when given: bwd_registry.h); checks everything the header promises. Returns the dq/dk/dv bits of the last
  // run (for the determinism test).
  // capture: each run after a first, uncaptured one (which builds the shape's static maps) is captured into a
  // CUDA graph on a stream of its own and the graph launched: capture fails on any host copy or
  // synchronization inside AttentionBackward::run (backward.h: none once a shape is known).
  std::vector<unsigned short> check(const Case& c, Engine engine, bool deterministic, int runs = 1,
                                    const char* variant = nullptr, bool capture = false,
                                    const char* bwd_row = nullptr) {
    const AttentionShape& s = c.s;
    const uint64_t seed = base_seed() ^ std::hash<std::string>{}(c.pattern + s.describe());
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> U(-1.f, 1.f);
    const size_t n = (size_t)s.B * s.N * s.H * s.D, rows = (size_t)s.B * s.H * s.N;
    auto rnd = [&](float amp) {
      std::vector<float> x(n);
      for (float& e : x) e = bf2f(f2bf(amp * U(rng)));
      return x;
    };
    const std::vector<float> q = rnd(2.f), k = rnd(2.f), v = rnd(1.f), dout = rnd(1.f);
    SCOPED_TRACE(fmt::format("{} {} engine {}{} backward {} deterministic {} seed {} (MOGA_TEST_SEED={})", c.pattern,
                             s.describe(), engine_name(engine), variant ? std::string(" row ") + variant : "",
                             bwd_row ? bwd_row : "default", deterministic, seed, base_seed()));
    const LoadedPattern pat = pattern_named(c.pattern);
    const size_t nk = pat.spec.kernels.size();
    bool keep = nk > 1;  // kept branch rows: mixtures and top-k
    Router rt;
    for (size_t ki = 0; ki < nk; ++ki) {
      const ref::KernelSpec& ks = pat.spec.kernels[ki];
      keep |= ks.topk() > 1;
      if (!ks.route) continue;
      if (rt.ki >= 0) {
        ADD_FAILURE() << "the test handles one routed kernel per pattern";
        return {};
      }
      rt.ki = (int)ki, rt.M = ks.route->groups, rt.k = ks.topk();
    }
    const bool routed = rt.ki >= 0, gated = routed && pat.spec.kernels[rt.ki].route_gate;
    Dev dq_(upload_bf16(q)), dk_(upload_bf16(k)), dv_(upload_bf16(v)), ddo(upload_bf16(dout));
    Dev out(n * 2), gq(n * 2), gk(n * 2), gv(n * 2);
    std::vector<Dev> lse, branch;
    for (const auto& ks : pat.spec.kernels) {
      lse.emplace_back(rows * ks.topk() * 4);
      if (keep) branch.emplace_back(n * ks.topk() * 2);
    }
    const size_t toks = (size_t)s.B * s.N;
    RouterInputs ri;
    std::unique_ptr<Dev> xd, wd, rgid, rprob, dgate;
    if (routed) {
      rt.x.resize(toks * rt.d);
      rt.w.resize((size_t)rt.d * rt.M);
      for (float& e : rt.x) e = bf2f(f2bf(U(rng)));
      for (float& e : rt.w) e = bf2f(f2bf(3.f / std::sqrt((float)rt.d) * U(rng)));
      xd = std::make_unique<Dev>(upload_bf16(rt.x));
      wd = std::make_unique<Dev>(upload_bf16(rt.w));
      ri.x = TensorView::contiguous(xd->ptr(), DType::BF16, {s.B, s.N, rt.d});
      ri.weights = {TensorView::contiguous(wd->ptr(), DType::BF16, {rt.d, rt.M})};
      rgid = std::make_unique<Dev>(toks * rt.k * 4);
      rprob = std::make_unique<Dev>(toks * rt.k * 4);
      dgate = std::make_unique<Dev>(toks * rt.k * 4);
    }
    auto view = [&](const Dev& d, int k = 1) {
      return TensorView::contiguous(d.ptr(), DType::BF16, {s.B, (int64_t)s.N * k, s.H, s.D});
    };

    AttentionOptions fo;
    fo.engine = engine;
    fo.lse = true;
    if (variant) fo.variant = variant;
    PatternAttention fwd(pat, fo);
    out.poison();
    RunOptions ro;
    for (size_t ki = 0; ki < nk; ++ki) {
      lse[ki].poison();
      ro.lse.push_back(lse[ki].ptr());
      if (keep) {
        branch[ki].poison();
        ro.branch_out.push_back(view(branch[ki], pat.spec.kernels[ki].topk()));
      }
    }
    fwd.run(view(dq_), view(dk_), view(dv_), view(out), s, routed ? &ri : nullptr, nullptr, ro);
    CU_CHECK(jit::driver().cuCtxSynchronize());
    for (size_t ki = 0; ki < nk; ++ki) EXPECT_EQ(fwd.engine((int)ki, s.D), engine);
    if (routed) {  // the GPU's routing, for the backward and for the reference
      const PatternAttention::Routing r = fwd.last_routing(rt.ki);
      rt.given.B = s.B, rt.given.N = s.N, rt.given.k = rt.k, rt.given.M = rt.M;
      rt.given.gid = r.gid;
      rt.given.prob.assign(r.prob.begin(), r.prob.end());
      rgid->b->upload(r.gid);
      rprob->b->upload(r.prob);
    }

    // The float64 reference is the costly part of a check: kept per (pattern, shape, inputs' seed, the forward's
    // routing), so the backward rows checked on the same case share it (same inputs, same routing: same oracle).
    static std::map<std::tuple<std::string, std::string, uint64_t, std::vector<int>>, Oracle> oracles;
    const auto okey = std::make_tuple(c.pattern, s.describe(), seed, routed ? rt.given.gid : std::vector<int>{});
    auto oit = oracles.find(okey);
    if (oit == oracles.end()) oit = oracles.emplace(okey, oracle(pat.spec, s, q, k, v, dout, routed ? &rt : nullptr)).first;
    const Oracle& o = oit->second;
    bool no_key_anywhere = true;
    for (size_t ki = 0; ki < nk; ++ki) {
      const size_t lrows = rows * pat.spec.kernels[ki].topk();
      std::vector<float> l(lrows);
      lse[ki].b->download(l.data(), lrows * 4);
      const std::vector<double>& ol = o.lse.at(ki);
      long long bad_inf = 0, nan = 0;
      double lse_err = 0;
      for (size_t i = 0; i < lrows; ++i) {
        if (std::isnan(l[i])) ++nan;
        else if (std::isinf(ol[i]) || std::isinf(l[i])) bad_inf += !(std::isinf(ol[i]) && l[i] == -INFINITY);
        else lse_err = std::max(lse_err, std::fabs(l[i] - ol[i]));
      }
      EXPECT_EQ(nan, 0) << "kernel " << ki << ": lse rows left unwritten (NaN poison)";
      EXPECT_EQ(bad_inf, 0) << "kernel " << ki << ": lse rows where exactly one of GPU / reference is -inf";
      EXPECT_LE(lse_err, kLseTol) << "kernel " << ki << ": max |lse - reference|";
      no_key_anywhere &= std::all_of(ol.begin(), ol.end(), [](double x) { return std::isinf(x); });
    }
    if (keep) {  // the forward with kept branches: out, and each branch's rows summed per token with its weight
      double norm = 0;
      EXPECT_LE(rel_l2(out.bf16(n), o.out, &norm), kFwdTol) << "out (with RunOptions::branch_out) vs the reference";
      for (size_t ki = 0; ki < nk; ++ki) {
        const int kk = pat.spec.kernels[ki].topk();
        const std::vector<float> rows_b = branch[ki].bf16(n * kk);
        std::vector<float> term(n, 0.f);
        for (size_t tk = 0; tk < toks; ++tk)
          for (int j = 0; j < kk; ++j)
            for (size_t e = 0; e < (size_t)s.H * s.D; ++e)
              term[tk * s.H * s.D + e] += (float)pat.spec.kernels[ki].weight * rows_b[(tk * kk + j) * s.H * s.D + e];
        const double rel = rel_l2(term, o.terms.at(ki), &norm);
        if (norm > 0) EXPECT_LE(rel, kFwdTol) << "branch_out[" << ki << "] (weight * rows) vs the reference's term";
        else EXPECT_EQ(rel, 0.0) << "branch_out[" << ki << "]: the reference's term is 0";
      }
    }

    BackwardOptions bo;
    bo.deterministic = deterministic;
    if (bwd_row) bo.engine = bwd_row;
    AttentionBackward bwd(pat, bo);
    std::vector<unsigned short> bits;
    for (int r = 0; r < runs; ++r) {
      gq.poison();
      gk.poison();
      gv.poison();
      if (dgate) dgate->poison();
      BackwardInputs bi{view(dq_), view(dk_), view(dv_), view(out), view(ddo), ro.lse, ro.branch_out};
      BackwardOutputs bg{view(gq), view(gk), view(gv)};
      if (routed) {
        bi.routing = {{rgid->ptr(), rprob->ptr()}};
        bg.dgate = {gated ? dgate->ptr() : 0};
      }
      if (capture) {
        const jit::Driver& d = jit::driver();
        CUstream cs;
        CU_CHECK(d.cuStreamCreate(&cs, CU_STREAM_NON_BLOCKING));
        bwd.run(bi, bg, s, cs);  // first call for the shape: static maps uploaded
        CU_CHECK(d.cuStreamSynchronize(cs));
        gq.poison();
        gk.poison();
        gv.poison();
        if (dgate) dgate->poison();
        CUgraph graph = nullptr;
        CU_CHECK(d.cuStreamBeginCapture(cs, CU_STREAM_CAPTURE_MODE_GLOBAL));
        std::string err;
        try {
          bwd.run(bi, bg, s, cs);
        } catch (const std::exception& e) {
          err = e.what();
        }
        const CUresult end = d.cuStreamEndCapture(cs, &graph);
        EXPECT_EQ(err, "") << "AttentionBackward::run failed while captured (a host copy or synchronization?)";
        EXPECT_EQ(end, CUDA_SUCCESS) << "stream capture of AttentionBackward::run was invalidated";
        if (err.empty() && end == CUDA_SUCCESS) {
          CUgraphExec exec = nullptr;
          CU_CHECK(d.cuGraphInstantiate(&exec, graph, 0));
          CU_CHECK(d.cuGraphLaunch(exec, cs));
          CU_CHECK(d.cuStreamSynchronize(cs));
          CU_CHECK(d.cuGraphExecDestroy(exec));
        }
        if (graph) CU_CHECK(d.cuGraphDestroy(graph));
        CU_CHECK(d.cuStreamDestroy(cs));
        if (!err.empty() || end != CUDA_SUCCESS) return {};
      } else {
        bwd.run(bi, bg, s, nullptr);
      }
      CU_CHECK(jit::driver().cuCtxSynchronize());
      if (gated && r == 0) check_dlogits(rt, *dgate, o.dlogits, s);
      if (gated && r == 0 && c.router) check_router(pat.spec, rt, *dgate, s, q, k, v, dout, *xd, *wd, *rgid, *rprob);
      const std::pair<const Dev*, const std::vector<double>*> gs[] = {{&gq, &o.dq}, {&gk, &o.dk}, {&gv, &o.dv}};
      const char* names[] = {"dq", "dk", "dv"};
      bits.clear();
      for (int g = 0; g < 3; ++g) {
        const std::vector<float> got = gs[g].first->bf16(n);
        long long nans = 0;
        for (float x : got) nans += std::isnan(x);
        EXPECT_EQ(nans, 0) << names[g] << ": elements left NaN (poison) or NaN computed";
        double norm = 0;
        const double rel = rel_l2(got, *gs[g].second, &norm);
        if (norm > 0)
          EXPECT_LE(rel, kGradTol) << names[g] << " relative L2 vs the float64 reference (ref norm " << norm << ")";
        else if (no_key_anywhere)
          EXPECT_EQ(rel, 0.0) << names[g] << ": no row sees a key, yet the GPU's gradient is not 0";
        else  // the exact gradient cancels (one key per row: dS = P (dP - D) = 0); D comes from the bf16 O
          EXPECT_LE(rel, kCancelTol) << names[g] << ": the reference gradient cancels to 0; L2 of the GPU's";
        if (r == 0)
          std::cout << fmt::format("  {} {} {}{}{}: {} rel L2 {:.2e}\n", c.pattern, s.describe(), engine_name(engine),
                                   bwd_row ? std::string(" bwd ") + bwd_row : "", deterministic ? " det" : "", names[g],
                                   rel);
        const auto raw = gs[g].first->raw16(n);
        bits.insert(bits.end(), raw.begin(), raw.end());
      }
    }
    return bits;
  }
};

constexpr const char* kMmaRow = "sm80.mma";  // the mma.sync backward (the fallback: tested on every device)
constexpr const char* kWgRow = "sm90.wg";  // the wgmma backward (attention_bwd_wg.cuh)
constexpr const char* kWgBulkRow = "sm90.wg.bulk";  // the same with dQ by bulk reductions
// and with the TMA producer (kernels without a gather; the others run the rows above); .rs: dK from registers
constexpr const char* kWgTmaRows[] = {"sm90.wg.tma", "sm90.wg.tma.bulk", "sm90.wg.tma.rs"};
constexpr int kTmaKind = 100;  // Precompile's kind of kWgTmaRows[i]: kTmaKind + i

std::vector<Case> cases() {
  std::vector<Case> c;
  for (int D : {128, 64}) {
    c.push_back({"full", AttentionShape::seq(2, 200, 2, D)});
    c.push_back({"causal", AttentionShape::seq(2, 257, 2, D)});
    c.push_back({"bwd_hooks", AttentionShape::seq(2, 131, 2, D)});
  }
  c.push_back({"full", AttentionShape::seq(1, 1, 1, 128)});
  c.push_back({"full", AttentionShape::seq(1, 64, 3, 128)});
  c.push_back({"sliding_window", AttentionShape::seq(1, 700, 2, 128)});
  c.push_back({"bwd_holes", AttentionShape::seq(2, 190, 2, 128)});
  c.push_back({"attn_all_masked", AttentionShape::seq(1, 77, 2, 128)});
  c.push_back({"radial", AttentionShape::make_video(1, 4, 7, 9, 2, 128)});
  c.push_back({"frame_local", AttentionShape::make_video(2, 3, 9, 11, 2, 128)});
  c.push_back({"natten2d", AttentionShape::make_video(1, 3, 9, 13, 2, 128)});
  c.push_back({"bwd_groups", AttentionShape::seq(2, 301, 2, 128)});
  c.push_back({"bwd_groups", AttentionShape::seq(1, 150, 2, 64)});
  c.push_back({"moga_dynamic", AttentionShape::make_video(2, 3, 10, 13, 2, 128), true});
  c.push_back({"moga_dynamic", AttentionShape::make_video(1, 2, 9, 11, 2, 64)});
  c.push_back({"stga", AttentionShape::make_video(1, 5, 8, 10, 2, 128, {0, 3})});
  // mixtures (kept branch rows, float32 sums over the kernels) and top-k routing (entry rows)
  c.push_back({"moga", AttentionShape::make_video(2, 3, 10, 13, 2, 128), true});
  c.push_back({"moga", AttentionShape::make_video(1, 5, 6, 7, 2, 64, {0, 3})});
  c.push_back({"bwd_mix", AttentionShape::seq(2, 203, 2, 128)});
  c.push_back({"bwd_mix", AttentionShape::seq(1, 130, 2, 64)});
  c.push_back({"attn_routed_mix", AttentionShape::seq(1, 333, 2, 128)});
  c.push_back({"attn_top2", AttentionShape::seq(2, 150, 2, 128), true});
  c.push_back({"attn_top2", AttentionShape::seq(1, 97, 2, 64)});
  c.push_back({"attn_top2_mix", AttentionShape::make_video(1, 3, 9, 11, 2, 128)});
  // gate programs (no gradient; evaluated on the host): masked + bias + softcap beside a gated sink branch, a
  // routed top-2 kernel gated by a program; and the other multi-kernel test patterns
  c.push_back({"attn_hooks", AttentionShape::seq(2, 190, 2, 128)});
  c.push_back({"attn_hooks", AttentionShape::seq(1, 100, 2, 64)});
  c.push_back({"bwd_routed_gate", AttentionShape::seq(2, 150, 2, 128)});
  c.push_back({"attn_video_bias", AttentionShape::make_video(1, 3, 8, 9, 2, 128)});
  c.push_back({"attn_small_groups", AttentionShape::seq(1, 400, 2, 128)});
  // softcaps without a bias: the forward's fixed-row-maximum softmax writes the lse the backward reads
  c.push_back({"attn_softcap", AttentionShape::seq(1, 301, 2, 128)});
  // many tiles of both kinds, ragged at both ends (sm90.wg: 9 key tiles of 128, 18 query tiles of 64)
  c.push_back({"full", AttentionShape::seq(1, 1111, 2, 128)});
  c.push_back({"causal", AttentionShape::seq(1, 1111, 3, 128)});
  return c;
}

// Compiles every module the tests need into the JIT cache on all cores first (the tests would compile them
// one by one): the forward with lse per (pattern, D, engine) and the backward per (pattern, D).
class Precompile : public ::testing::Environment {
 public:
  void SetUp() override {
    if (!jit::device_available()) return;
    jit::Device::get().make_current();
    // engine: 0 mma.sync, 1 wgmma, 2 backward on sm80.mma, 3 on sm90.wg, 4 on sm90.wg.bulk, 7 the default row,
    // kTmaKind + i the TMA row kWgTmaRows[i];
    // only what the tests selected to run need (--gtest_filter: gpu-check's rows split the suite)
    std::vector<std::string> selected;
    const ::testing::UnitTest& ut = *::testing::UnitTest::GetInstance();
    for (int i = 0; i < ut.total_test_suite_count(); ++i)
      for (int j = 0; j < ut.GetTestSuite(i)->total_test_count(); ++j)
        if (ut.GetTestSuite(i)->GetTestInfo(j)->should_run()) selected.push_back(ut.GetTestSuite(i)->GetTestInfo(j)->name());
    auto any = [&](auto pred) { return std::any_of(selected.begin(), selected.end(), pred); };
    auto starts = [](const std::string& n, const char* p) { return n.rfind(p, 0) == 0; };
    const bool need_mma_bwd = any([&](const std::string& n) { return !starts(n, "WgmmaBackward"); });
    const bool need_wg = any([&](const std::string& n) { return starts(n, "WgmmaBackward") && !starts(n, "WgmmaBackwardTma"); });
    const bool need_tma = any([&](const std::string& n) { return starts(n, "WgmmaBackwardTma"); });
    std::set<std::tuple<std::string, int, int>> jobs;
    const bool sm90 = jit::Device::get().arch() == "sm_90";
    for (const Case& c : cases()) {
      jobs.insert({c.pattern, c.s.D, 0});
      if (need_mma_bwd) jobs.insert({c.pattern, c.s.D, 2});
      if (sm90 && need_wg) jobs.insert({c.pattern, c.s.D, 3}), jobs.insert({c.pattern, c.s.D, 4});
      if (sm90 && need_tma)
        for (int i = 0; i < (int)std::size(kWgTmaRows); ++i) jobs.insert({c.pattern, c.s.D, kTmaKind + i});
    }
    if (jit::Device::get().arch() == "sm_90" && need_mma_bwd)
      for (const char* p : {"causal", "bwd_hooks", "bwd_holes", "natten2d", "moga", "attn_top2_mix"})
        jobs.insert({p, 128, 1}), jobs.insert({p, 128, 7});
    const std::vector<std::tuple<std::string, int, int>> list(jobs.begin(), jobs.end());
    std::atomic<size_t> next{0};
    std::vector<std::thread> pool;
    const unsigned n = std::max(1u, std::min<unsigned>(std::thread::hardware_concurrency(), list.size()));
    for (unsigned t = 0; t < n; ++t)
      pool.emplace_back([&] {
        for (size_t i; (i = next++) < list.size();) {
          const auto& [p, D, kind] = list[i];
          try {
            if (kind >= 2) {
              BackwardOptions bo;  // kind 7: the default row (the Lse tests)
              if (kind == 2) bo.engine = kMmaRow;
              if (kind == 3) bo.engine = kWgRow;
              if (kind == 4) bo.engine = kWgBulkRow;
              if (kind >= kTmaKind) bo.engine = kWgTmaRows[kind - kTmaKind];
              AttentionBackward(pattern_named(p), bo).compile(D);
            } else {
              AttentionOptions o;
              o.lse = true;
              o.engine = kind == 0 ? Engine::MmaSync : Engine::Wgmma;
              PatternAttention(pattern_named(p), o).compile(D);
            }
          } catch (const std::exception& e) {
            std::cerr << "precompile " << p << " D=" << D << ": " << e.what() << "\n";  // the test reports it
          }
        }
      });
    for (auto& t : pool) t.join();
  }
};
const auto* const kPrecompile = ::testing::AddGlobalTestEnvironment(new Precompile);

TEST_F(gpu_backward, EveryPatternAtomicDq) {
  for (const Case& c : cases()) check(c, Engine::MmaSync, false, 1, nullptr, false, kMmaRow);
}

TEST_F(gpu_backward, EveryPatternDeterministicDq) {
  for (const Case& c : cases()) check(c, Engine::MmaSync, true, 1, nullptr, false, kMmaRow);
}

TEST_F(gpu_backward, LseFromTheWgmmaForward) {
  if (jit::Device::get().arch() != "sm_90") GTEST_SKIP() << "the wgmma forward needs an sm_90 device";
  check({"causal", AttentionShape::seq(2, 257, 2, 128)}, Engine::Wgmma, false);
  check({"bwd_hooks", AttentionShape::seq(1, 300, 2, 128)}, Engine::Wgmma, false);
  check({"bwd_holes", AttentionShape::seq(1, 190, 2, 128)}, Engine::Wgmma, false);
  check({"natten2d", AttentionShape::make_video(1, 3, 9, 13, 2, 128)}, Engine::Wgmma, false);
  check({"moga", AttentionShape::make_video(1, 3, 10, 13, 2, 128)}, Engine::Wgmma, false);
  check({"attn_top2_mix", AttentionShape::make_video(1, 3, 9, 11, 2, 128)}, Engine::Wgmma, false);
}

// The log-sum-exp of the TMA row (sm90.tma: its LSE instantiation, BN 176) on kernels without a gather.
TEST_F(gpu_backward, LseFromTheTmaForward) {
  if (jit::Device::get().arch() != "sm_90") GTEST_SKIP() << "the wgmma forward needs an sm_90 device";
  check({"causal", AttentionShape::seq(2, 257, 2, 128)}, Engine::Wgmma, false, 1, "sm90.tma");
  check({"bwd_hooks", AttentionShape::seq(1, 300, 2, 128)}, Engine::Wgmma, false, 1, "sm90.tma");
  check({"bwd_holes", AttentionShape::seq(1, 190, 2, 128)}, Engine::Wgmma, false, 1, "sm90.tma");
}

// No host step in run(): every routed kind (top 1 gated, top 1 under a mask: transposed map, top 2 with a gate
// program), a mixture with static branches, both dQ modes, captured into a CUDA graph and checked as above.
TEST_F(gpu_backward, CapturesIntoAGraph) {
  for (bool det : {false, true})
    for (const Case& c : {Case{"moga", AttentionShape::make_video(2, 3, 10, 13, 2, 128)},
                          Case{"attn_routed_mix", AttentionShape::seq(1, 333, 2, 128)},
                          Case{"bwd_routed_gate", AttentionShape::seq(2, 150, 2, 128)},
                          Case{"attn_top2_mix", AttentionShape::make_video(1, 3, 9, 11, 2, 128)}})
      check(c, Engine::MmaSync, det, 1, nullptr, true, kMmaRow);
}

// The wgmma backward (backward row sm90.wg) on every case (D = 64 and 128): the same checks (float64 reference, rel L2
// <= kGradTol, poisoned outputs, odd lengths, all-masked rows 0), both dQ modes, bit-identical determinism.
TEST_F(gpu_backward, WgmmaBackwardEveryPatternAtomicDq) {
  if (jit::Device::get().arch() != "sm_90") GTEST_SKIP() << "the wgmma backward needs an sm_90 device";
  for (const Case& c : cases())
    check(c, Engine::MmaSync, false, 1, nullptr, false, kWgRow);
}

// sm90.wg.bulk: the same kernel with dQ by bulk reductions (its deterministic mode is sm90.wg's).
TEST_F(gpu_backward, WgmmaBackwardBulkDqEveryPattern) {
  if (jit::Device::get().arch() != "sm_90") GTEST_SKIP() << "the wgmma backward needs an sm_90 device";
  for (const Case& c : cases())
    check(c, Engine::MmaSync, false, 1, nullptr, false, kWgBulkRow);
}

// The TMA producer rows on every case, both dQ modes (kernels with a gather run their cp.async kernel).
TEST_F(gpu_backward, WgmmaBackwardTmaEveryPattern) {
  if (jit::Device::get().arch() != "sm_90") GTEST_SKIP() << "the wgmma backward needs an sm_90 device";
  for (const char* row : kWgTmaRows)
    for (const Case& c : cases())
      check(c, Engine::MmaSync, false, 1, nullptr, false, row);
  // deterministic dQ: every TMA row but .tma.bulk (its main kernel without dQ is .tma's)
  for (const char* row : kWgTmaRows)
    if (std::string(row) != "sm90.wg.tma.bulk")
      for (const Case& c : cases()) check(c, Engine::MmaSync, true, 1, nullptr, false, row);
}

TEST_F(gpu_backward, WgmmaBackwardEveryPatternDeterministicDq) {
  if (jit::Device::get().arch() != "sm_90") GTEST_SKIP() << "the wgmma backward needs an sm_90 device";
  for (const Case& c : cases())
    check(c, Engine::MmaSync, true, 1, nullptr, false, kWgRow);
}

TEST_F(gpu_backward, WgmmaBackwardDeterministicIsBitIdentical) {
  if (jit::Device::get().arch() != "sm_90") GTEST_SKIP() << "the wgmma backward needs an sm_90 device";
  for (const Case& c : {Case{"bwd_hooks", AttentionShape::seq(2, 333, 2, 128)},
                        Case{"moga", AttentionShape::make_video(1, 3, 10, 13, 2, 128)},
                        Case{"attn_top2_mix", AttentionShape::make_video(1, 3, 9, 11, 2, 128)}}) {
    const auto a = check(c, Engine::MmaSync, true, 1, nullptr, false, kWgRow);
    const auto b = check(c, Engine::MmaSync, true, 1, nullptr, false, kWgRow);
    ASSERT_EQ(a.size(), b.size()) << c.pattern;
    EXPECT_TRUE(a == b) << c.pattern << ": two deterministic runs gave different gradient bits";
  }
}

// The routed kinds of CapturesIntoAGraph on sm90.wg: the device sort and map at its 64x128 tiles (the
// key-major map then always a transpose), captured into a graph.
TEST_F(gpu_backward, WgmmaBackwardCapturesIntoAGraph) {
  if (jit::Device::get().arch() != "sm_90") GTEST_SKIP() << "the wgmma backward needs an sm_90 device";
  for (bool det : {false, true})
    for (const Case& c : {Case{"moga", AttentionShape::make_video(2, 3, 10, 13, 2, 128)},
                          Case{"attn_routed_mix", AttentionShape::seq(1, 333, 2, 128)},
                          Case{"bwd_routed_gate", AttentionShape::seq(2, 150, 2, 128)},
                          Case{"attn_top2_mix", AttentionShape::make_video(1, 3, 9, 11, 2, 128)}})
      check(c, Engine::MmaSync, det, 1, nullptr, true, kWgRow);
}

TEST_F(gpu_backward, DeterministicModeIsBitIdentical) {
  for (const Case& c : {Case{"bwd_hooks", AttentionShape::seq(2, 333, 2, 128)},
                        Case{"moga", AttentionShape::make_video(1, 3, 10, 13, 2, 128)},
                        Case{"attn_top2_mix", AttentionShape::make_video(1, 3, 9, 11, 2, 128)}}) {
    const auto a = check(c, Engine::MmaSync, true, 1, nullptr, false, kMmaRow);
    const auto b = check(c, Engine::MmaSync, true, 1, nullptr, false, kMmaRow);
    ASSERT_EQ(a.size(), b.size()) << c.pattern;
    EXPECT_TRUE(a == b) << c.pattern << ": two deterministic runs gave different gradient bits";
  }
}

}  // namespace
