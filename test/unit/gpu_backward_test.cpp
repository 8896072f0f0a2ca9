// The backward on a GPU (runtime/attention/backward.h) and the forward's log-sum-exp (RunOptions::lse), for
// every single-kernel ungrouped pattern shipped (full, causal, sliding_window, radial) and the test
// patterns (bwd_hooks: mask + bias + softcap + scale + weight 0.75; bwd_holes: every fifth row sees no key;
// attn_all_masked: no row sees a key), on fresh random inputs (seed printed; MOGA_TEST_SEED=S repeats it).
//
// Oracle: a float64 computation in this file from the pattern's own manifest programs (ref::eval_mask,
// ref::eval_bias: the CPU reference's evaluators): scores, softmax, log-sum-exp and the exact gradients
// dQ, dK, dV of out = weight * softmax(y) V for the loss <dout, out>.
// TODO(bwd-ref): switch to ref::reference_attention_backward / ref::reference_lse once runtime/reference/
// backward.h is in main (the branch bwd-ref writes it).
// Pass criteria: lse: -inf exactly where the oracle's row is empty, elsewhere |gpu - ref| <= 2e-3 (float32 from
// bf16 inputs); gradients: relative L2 ||gpu - ref|| / ||ref|| <= 2e-2 each (bf16 operands, bf16 P and dS in the
// MMAs), and exactly 0 where the oracle's gradient is 0 everywhere (no visible key at all). Outputs (out, lse,
// dq, dk, dv) are poisoned with NaN bytes before every run and no NaN may survive. Lengths that are no
// multiple of the 64-row tiles, D = 64 and 128, B = 2, both dQ modes; deterministic mode bit-identical across
// two runs. Without a device every test SKIPs loudly.
#include <gtest/gtest.h>
#include <fmt/format.h>
#include <stdlib.h>

#include <cmath>
#include <iostream>
#include <cstring>
#include <atomic>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "runtime/attention/attention.h"
#include "runtime/attention/backward.h"
#include "runtime/attention/compiled_embed.h"
#include "runtime/jit/check.h"
#include "runtime/jit/driver.h"
#include "runtime/jit/jit.h"
#include "runtime/jit/module.h"
#include "runtime/reference/program.h"

namespace moga::rt {
const std::vector<CompiledText>& test_patterns();
}

using namespace moga;
using namespace moga::rt;

namespace {

constexpr double kGradTol = 2e-2, kLseTol = 2e-3;

unsigned short f2bf(float f) {
  unsigned u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fc0;
  u += 0x7fffu + ((u >> 16) & 1u);
  return (unsigned short)(u >> 16);
}
float bf2f(unsigned short h) {
  unsigned u = (unsigned)h << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

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

// The float64 oracle for one single-kernel ungrouped pattern (header comment).
struct Oracle {
  std::vector<double> lse, dq, dk, dv;  // lse [B][H][N] (-inf: empty row); grads [B][N][H][D]
};
Oracle oracle(const ref::PatternSpec& spec, const AttentionShape& s, const std::vector<float>& q,
              const std::vector<float>& k, const std::vector<float>& v, const std::vector<float>& dout) {
  const ref::KernelSpec& ks = spec.kernels.at(0);
  ref::Shape shape;
  if (s.video) {
    ref::VideoShape vs;
    vs.F = s.F, vs.H = s.Hgt, vs.W = s.Wid, vs.shot_starts = s.shot_starts;
    shape = ref::Shape::video(vs);
  } else {
    shape = ref::Shape::seq(s.N);
  }
  const int B = s.B, N = s.N, H = s.H, D = s.D;
  const double scale = ks.scale ? *ks.scale : 1.0 / std::sqrt((double)D), w = ks.weight;
  auto at = [&](int b, int t, int h) { return (((size_t)b * N + t) * H + h) * D; };
  Oracle o;
  o.lse.assign((size_t)B * H * N, -INFINITY);
  o.dq.assign((size_t)B * N * H * D, 0.0);
  o.dk = o.dq;
  o.dv = o.dq;
  std::vector<double> y(N), sraw(N), P(N), dP(N);
  std::vector<char> vis(N);
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h)
      for (int i = 0; i < N; ++i) {
        const Coords<int> qc = shape.coords(i);
        double mx = -INFINITY;
        for (int j = 0; j < N; ++j) {
          vis[j] = !ks.mask || ref::eval_mask(*ks.mask, qc, shape.coords(j), shape.mask());
          if (!vis[j]) continue;
          double dot = 0;
          for (int d = 0; d < D; ++d) dot += (double)q[at(b, i, h) + d] * k[at(b, j, h) + d];
          sraw[j] = dot * scale;
          double yy = sraw[j];
          if (ks.softcap) yy = *ks.softcap * std::tanh(yy / *ks.softcap);
          if (ks.bias) yy += ref::eval_bias(*ks.bias, qc, shape.coords(j), h, shape.mask());
          y[j] = yy;
          mx = std::max(mx, yy);
        }
        if (mx == -INFINITY) continue;  // empty row: lse -inf, no gradient
        double sum = 0;
        for (int j = 0; j < N; ++j)
          if (vis[j]) sum += std::exp(y[j] - mx);
        const double lse = mx + std::log(sum);
        o.lse[((size_t)b * H + h) * N + i] = lse;
        double Dt = 0;
        for (int j = 0; j < N; ++j) {
          if (!vis[j]) continue;
          P[j] = std::exp(y[j] - lse);
          double g = 0;
          for (int d = 0; d < D; ++d) g += w * (double)dout[at(b, i, h) + d] * v[at(b, j, h) + d];
          dP[j] = g;
          Dt += P[j] * g;
        }
        for (int j = 0; j < N; ++j) {
          if (!vis[j]) continue;
          double dS = P[j] * (dP[j] - Dt);
          if (ks.softcap) {
            const double t = std::tanh(sraw[j] / *ks.softcap);
            dS *= 1 - t * t;
          }
          for (int d = 0; d < D; ++d) {
            o.dq[at(b, i, h) + d] += scale * dS * k[at(b, j, h) + d];
            o.dk[at(b, j, h) + d] += scale * dS * q[at(b, i, h) + d];
            o.dv[at(b, j, h) + d] += P[j] * w * dout[at(b, i, h) + d];
          }
        }
      }
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
};

class gpu_backward : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!jit::device_available(&why)) GTEST_SKIP() << "no CUDA device: " << why;
    jit::Device::get().make_current();
  }

  // Forward with lse, then the backward; checks everything the header promises. Returns the dq/dk/dv bits
  // of the last run (for the determinism test).
  std::vector<unsigned short> check(const Case& c, Engine engine, bool deterministic, int runs = 1) {
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
    SCOPED_TRACE(fmt::format("{} {} engine {} deterministic {} seed {} (MOGA_TEST_SEED={})", c.pattern, s.describe(),
                             engine_name(engine), deterministic, seed, base_seed()));
    const LoadedPattern pat = pattern_named(c.pattern);
    Dev dq_(upload_bf16(q)), dk_(upload_bf16(k)), dv_(upload_bf16(v)), ddo(upload_bf16(dout));
    Dev out(n * 2), lse(rows * 4), gq(n * 2), gk(n * 2), gv(n * 2);
    auto view = [&](const Dev& d) { return TensorView::contiguous(d.ptr(), DType::BF16, {s.B, s.N, s.H, s.D}); };

    AttentionOptions fo;
    fo.engine = engine;
    fo.lse = true;
    PatternAttention fwd(pat, fo);
    out.poison();
    lse.poison();
    RunOptions ro;
    ro.lse = {lse.ptr()};
    fwd.run(view(dq_), view(dk_), view(dv_), view(out), s, nullptr, nullptr, ro);
    CU_CHECK(jit::driver().cuCtxSynchronize());
    EXPECT_EQ(fwd.engine(0, s.D), engine);

    const Oracle o = oracle(pat.spec, s, q, k, v, dout);
    std::vector<float> l(rows);
    lse.b->download(l.data(), rows * 4);
    long long bad_inf = 0, nan = 0;
    double lse_err = 0;
    for (size_t i = 0; i < rows; ++i) {
      if (std::isnan(l[i])) ++nan;
      else if (std::isinf(o.lse[i]) || std::isinf(l[i])) bad_inf += !(std::isinf(o.lse[i]) && l[i] == -INFINITY);
      else lse_err = std::max(lse_err, std::fabs(l[i] - o.lse[i]));
    }
    EXPECT_EQ(nan, 0) << "lse rows left unwritten (NaN poison)";
    EXPECT_EQ(bad_inf, 0) << "lse rows where exactly one of GPU / oracle is -inf";
    EXPECT_LE(lse_err, kLseTol) << "max |lse - oracle|";

    BackwardOptions bo;
    bo.deterministic = deterministic;
    AttentionBackward bwd(pat, bo);
    std::vector<unsigned short> bits;
    for (int r = 0; r < runs; ++r) {
      gq.poison();
      gk.poison();
      gv.poison();
      bwd.run({view(dq_), view(dk_), view(dv_), view(out), view(ddo), lse.ptr()}, {view(gq), view(gk), view(gv)}, s,
              nullptr);
      CU_CHECK(jit::driver().cuCtxSynchronize());
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
          EXPECT_LE(rel, kGradTol) << names[g] << " relative L2 vs the float64 oracle (ref norm " << norm << ")";
        else
          EXPECT_EQ(rel, 0.0) << names[g] << ": the oracle's gradient is 0 everywhere, the GPU's is not";
        if (r == 0)
          std::cout << fmt::format("  {} {} {}{}: {} rel L2 {:.2e}\n", c.pattern, s.describe(), engine_name(engine),
                                   deterministic ? " det" : "", names[g], rel);
        const auto raw = gs[g].first->raw16(n);
        bits.insert(bits.end(), raw.begin(), raw.end());
      }
    }
    return bits;
  }
};

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
  return c;
}

// Compiles every module the tests need into the JIT cache on all cores first (the tests would compile them
// one by one): the forward with lse per (pattern, D, engine) and the backward per (pattern, D).
class Precompile : public ::testing::Environment {
 public:
  void SetUp() override {
    if (!jit::device_available()) return;
    jit::Device::get().make_current();
    std::set<std::tuple<std::string, int, int>> jobs;  // engine: 0 mma.sync, 1 wgmma, 2 backward
    for (const Case& c : cases()) {
      jobs.insert({c.pattern, c.s.D, 0});
      jobs.insert({c.pattern, c.s.D, 2});
    }
    if (jit::Device::get().arch() == "sm_90")
      for (const char* p : {"causal", "bwd_hooks", "bwd_holes"}) jobs.insert({p, 128, 1});
    const std::vector<std::tuple<std::string, int, int>> list(jobs.begin(), jobs.end());
    std::atomic<size_t> next{0};
    std::vector<std::thread> pool;
    const unsigned n = std::max(1u, std::min<unsigned>(std::thread::hardware_concurrency(), list.size()));
    for (unsigned t = 0; t < n; ++t)
      pool.emplace_back([&] {
        for (size_t i; (i = next++) < list.size();) {
          const auto& [p, D, kind] = list[i];
          try {
            if (kind == 2) {
              AttentionBackward(pattern_named(p)).compile(D);
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
  for (const Case& c : cases()) check(c, Engine::MmaSync, false);
}

TEST_F(gpu_backward, EveryPatternDeterministicDq) {
  for (const Case& c : cases()) check(c, Engine::MmaSync, true);
}

TEST_F(gpu_backward, LseFromTheWgmmaForward) {
  if (jit::Device::get().arch() != "sm_90") GTEST_SKIP() << "the wgmma forward needs an sm_90 device";
  check({"causal", AttentionShape::seq(2, 257, 2, 128)}, Engine::Wgmma, false);
  check({"bwd_hooks", AttentionShape::seq(1, 300, 2, 128)}, Engine::Wgmma, false);
  check({"bwd_holes", AttentionShape::seq(1, 190, 2, 128)}, Engine::Wgmma, false);
}

TEST_F(gpu_backward, DeterministicModeIsBitIdentical) {
  const Case c{"bwd_hooks", AttentionShape::seq(2, 333, 2, 128)};
  const auto a = check(c, Engine::MmaSync, true), b = check(c, Engine::MmaSync, true);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_TRUE(a == b) << "two deterministic runs gave different gradient bits";
}

}  // namespace
