// runtime/reference: the brute-force attention against hand-computed values and against an
// independent brute force written directly in this file.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "runtime/reference/attention.h"
#include "runtime/reference/backward.h"
#include "test/unit/reference_fixtures.h"


namespace {

using namespace moga::ref;
using nlohmann::json;

json kernel(const char* name, double weight, const char* structure) {
  return {{"name", name}, {"weight", weight}, {"accumulate", false}, {"route", nullptr}, {"route_gate", false},
          {"scale", nullptr}, {"softcap", nullptr}, {"structure", structure}, {"uses", json::array()},
          {"tiles", {{"block_m", 64}, {"block_n", 64}, {"warps", 4}, {"stages", 2}, {"head_dim", 64}}},
          {"mask", nullptr}, {"key", nullptr}, {"bias", nullptr}, {"gate", nullptr}};
}
PatternSpec pattern(const char* layout, std::vector<json> kernels) {
  for (size_t i = 1; i < kernels.size(); ++i) kernels[i]["accumulate"] = true;
  return parse_manifest(json{{"pattern", "test"}, {"layout", layout}, {"params", json::object()}, {"kernels", kernels}});
}

std::vector<float> randn(size_t n, std::mt19937_64& rng, double sd = 1.0) {
  std::normal_distribution<float> d(0.f, (float)sd);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// ---- the independent brute force --------------------------------------------------------------------

struct BK {
  double weight = 1.0;
  int k = 1;                                           // groups per token
  std::function<int(int b, int t, int j)> group;       // nullptr: one group
  std::function<double(int b, int t, int j)> gate;     // nullptr: 1
  std::function<bool(int q, int kv)> mask;             // nullptr: every key
  std::function<double(int q, int kv, int h)> bias;    // nullptr: none
  double scale = 0;                                    // 0: 1/sqrt(D)
  double softcap = 0;                                  // 0: none
};

std::vector<double> brute(const std::vector<BK>& ks, int B, int N, int H, int D, const std::vector<float>& q,
                          const std::vector<float>& k, const std::vector<float>& v) {
  std::vector<double> out((size_t)B * N * H * D, 0.0);
  auto at = [&](int b, int t, int h) { return (((size_t)b * N + t) * H + h) * D; };
  for (const BK& kn : ks) {
    const double scale = kn.scale > 0 ? kn.scale : 1.0 / std::sqrt((double)D);
    for (int b = 0; b < B; ++b)
      for (int t = 0; t < N; ++t)
        for (int j = 0; j < kn.k; ++j) {
          const int g = kn.group ? kn.group(b, t, j) : 0;
          std::vector<int> keys;
          for (int kv = 0; kv < N; ++kv) {
            bool member = !kn.group;
            for (int jj = 0; jj < kn.k && !member; ++jj) member = kn.group(b, kv, jj) == g;
            if (member && (!kn.mask || kn.mask(t, kv))) keys.push_back(kv);
          }
          if (keys.empty()) continue;
          const double gate = kn.gate ? kn.gate(b, t, j) : 1.0;
          for (int h = 0; h < H; ++h) {
            std::vector<double> s;
            for (int kv : keys) {
              double d = 0;
              for (int x = 0; x < D; ++x) d += (double)q[at(b, t, h) + x] * k[at(b, kv, h) + x];
              d *= scale;
              if (kn.softcap > 0) d = kn.softcap * std::tanh(d / kn.softcap);
              if (kn.bias) d += kn.bias(t, kv, h);
              s.push_back(d);
            }
            double mx = -INFINITY;
            for (double x : s) mx = std::max(mx, x);
            if (mx == -INFINITY) continue;
            double sum = 0;
            for (double& x : s) sum += (x = std::exp(x - mx));
            for (size_t i = 0; i < keys.size(); ++i)
              for (int x = 0; x < D; ++x) out[at(b, t, h) + x] += kn.weight * gate * s[i] / sum * v[at(b, keys[i], h) + x];
          }
        }
  }
  return out;
}

template <class A, class Bv>
double max_abs_diff(const A& a, const Bv& b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) m = std::max(m, std::fabs((double)a[i] - (double)b[i]));
  return m;
}

// ---- hand-computed cases ----------------------------------------------------------------------------

TEST(ReferenceAttention, HandComputedCausalFourTokens) {
  // D = 1, scale 1: score(t, kv) = k[kv]. Causal: token t sees 0..t with weights e^k.
  // k = (0, ln 2, ln 3, 0) -> weights (1, 2, 3, 1); v = (1, 10, 100, 1000):
  //   out = 1, (1 + 20)/3 = 7, (1 + 20 + 300)/6 = 53.5, (1 + 20 + 300 + 1000)/7 = 188.714285...
  json kn = kernel("causal", 1.0, "masked");
  kn["mask"] = json::parse(reftest::kCausalMask);
  kn["scale"] = 1.0;
  const PatternSpec p = pattern("seq", {kn});
  const std::vector<float> q = {1, 1, 1, 1}, k = {0.f, std::log(2.f), std::log(3.f), 0.f}, v = {1, 10, 100, 1000};
  RefInputs in;
  in.N = 4, in.heads = 1, in.head_dim = 1;
  in.q = q.data(), in.k = k.data(), in.v = v.data();
  RefOutput out;
  reference_attention(p, in, out);
  const double want[4] = {1.0, 7.0, 53.5, 1321.0 / 7.0};
  for (int t = 0; t < 4; ++t) EXPECT_NEAR(out.out[t], want[t], 1e-5 * want[t]) << "token " << t;
  RefOutputF32 o32;
  reference_attention(p, in, o32);
  for (int t = 0; t < 4; ++t) EXPECT_NEAR(o32.out[t], want[t], 1e-5 * want[t]) << "token " << t;
}

TEST(ReferenceAttention, EmptyRowsGiveZeroNotNaN) {
  // mask kv.pos > q.pos: the last token sees nothing. A bias of -inf everywhere empties every row.
  json kn = kernel("future", 1.0, "masked");
  kn["mask"] = json::parse(R"({"args": ["q", "kv"], "ops": [
      {"op": "arg", "index": 0}, {"op": "arg", "index": 1},
      {"op": "coord", "operands": [0], "coord": "pos"}, {"op": "coord", "operands": [1], "coord": "pos"},
      {"op": "cmpi", "pred": "sgt", "operands": [3, 2]}], "result": 4})");
  json all_inf = kernel("all_inf", 1.0, "dense");
  all_inf["bias"] = json::parse(R"({"args": ["q", "kv", "h"], "ops": [
      {"op": "const", "type": "f32", "value": "-inf"}], "result": 0})");
  const int N = 5, H = 2, D = 3;
  std::mt19937_64 rng(reftest::test_seed("ReferenceAttention.EmptyRowsGiveZeroNotNaN"));
  const auto q = randn(N * H * D, rng), k = randn(N * H * D, rng), v = randn(N * H * D, rng);
  RefInputs in;
  in.N = N, in.heads = H, in.head_dim = D;
  in.q = q.data(), in.k = k.data(), in.v = v.data();
  RefOutput out;
  reference_attention(pattern("seq", {kn}), in, out);
  for (int t = 0; t < N; ++t)
    for (int x = 0; x < H * D; ++x) {
      const double o = out.out[(size_t)t * H * D + x];
      ASSERT_FALSE(std::isnan(o));
      if (t == N - 1) EXPECT_EQ(o, 0.0);
      else EXPECT_NE(o, 0.0);
    }
  reference_attention(pattern("seq", {all_inf}), in, out);
  for (double o : out.out) ASSERT_EQ(o, 0.0);
}

TEST(ReferenceAttention, Top1RoutingWithKnownWeights) {
  // d_model 2, M 3, W = [[2, 0, 0], [0, 1, 0]]:
  //   x = (1, 0): logits (2, 0, 0) -> group 0, p = e^2 / (e^2 + 2)
  //   x = (0, 1): logits (0, 1, 0) -> group 1, p = e / (e + 2)
  //   x = (0, 0): logits (0, 0, 0) -> tie: group 0, p = 1/3
  //   x = (-1, 0): logits (-2, 0, 0) -> tie between 1 and 2: group 1, p = 1 / (2 + e^-2)
  // q = k = 0: uniform attention over the group: v = 1..6, group 0 = {0, 2, 4} (mean 3),
  // group 1 = {1, 3, 5} (mean 4). out[t] = p_t * mean of its group.
  json kn = kernel("dynamic", 1.0, "grouped");
  kn["route"] = {{"groups", 3}, {"topk", 1}};
  kn["route_gate"] = true;
  const PatternSpec p = pattern("seq", {kn});
  const std::vector<float> x = {1, 0, 0, 1, 0, 0, -1, 0, 1, 0, 0, 1};
  const std::vector<float> w = {2, 0, 0, 0, 1, 0};
  const std::vector<float> zeros(6, 0.f), v = {1, 2, 3, 4, 5, 6};
  RefInputs in;
  in.N = 6, in.heads = 1, in.head_dim = 1;
  in.q = zeros.data(), in.k = zeros.data(), in.v = v.data();
  in.x = x.data(), in.d_model = 2, in.router_weight = {w.data()};
  RefOutput out;
  reference_attention(p, in, out);
  const double e = std::exp(1.0), e2 = std::exp(2.0);
  const int gid[6] = {0, 1, 0, 1, 0, 1};
  const double prob[6] = {e2 / (e2 + 2), e / (e + 2), 1.0 / 3, 1.0 / (2 + 1 / e2), e2 / (e2 + 2), e / (e + 2)};
  ASSERT_EQ(out.groups.size(), 1u);
  const Grouping& g = out.groups[0];
  ASSERT_TRUE(g.routed());
  EXPECT_EQ(g.k, 1);
  EXPECT_EQ(g.M, 3);
  for (int t = 0; t < 6; ++t) {
    EXPECT_EQ(g.group(0, t), gid[t]) << t;
    EXPECT_NEAR(g.probability(0, t), prob[t], 1e-12) << t;
    EXPECT_NEAR(out.out[t], prob[t] * (gid[t] == 0 ? 3.0 : 4.0), 1e-12) << t;
  }
  EXPECT_NEAR(g.logits[3 * 3 + 0], -2.0, 1e-12);
  // route_tokens directly: top-3 orders every group by probability, ties by index.
  const Grouping g3 = route_tokens(x.data(), w.data(), 1, 6, 2, 3, 3);
  EXPECT_EQ(std::vector<int>(g3.gid.begin() + 9, g3.gid.begin() + 12), (std::vector<int>{1, 2, 0}));  // x = (-1, 0)
  EXPECT_EQ(std::vector<int>(g3.gid.begin() + 6, g3.gid.begin() + 9), (std::vector<int>{0, 1, 2}));   // x = (0, 0)
}

TEST(ReferenceAttention, HandComputedSoftcapAndBias) {
  // Two tokens, D = 1, scale 1, softcap 1, causal, bias -0.25 |q.pos - kv.pos| + 0.5 h, one head:
  //   token 0 sees kv 0: out = v0
  //   token 1 sees kv 0 (score tanh(q1 k0) - 0.25) and kv 1 (score tanh(q1 k1))
  json kn = kernel("capped", 1.0, "masked");
  kn["mask"] = json::parse(reftest::kCausalMask);
  kn["bias"] = json::parse(reftest::kDistanceBias);
  kn["scale"] = 1.0;
  kn["softcap"] = 1.0;
  const std::vector<float> q = {0.5f, 2.0f}, k = {0.25f, 1.5f}, v = {3.0f, -1.0f};
  RefInputs in;
  in.N = 2, in.heads = 1, in.head_dim = 1;
  in.q = q.data(), in.k = k.data(), in.v = v.data();
  RefOutput out;
  reference_attention(pattern("seq", {kn}), in, out);
  const double s0 = std::tanh(2.0 * 0.25) - 0.25, s1 = std::tanh(2.0 * 1.5);
  const double want1 = (std::exp(s0) * 3.0 + std::exp(s1) * -1.0) / (std::exp(s0) + std::exp(s1));
  EXPECT_NEAR(out.out[0], 3.0, 1e-12);
  EXPECT_NEAR(out.out[1], want1, 1e-12);
}

// ---- against the independent brute force -------------------------------------------------------------

TEST(ReferenceAttention, GatesWeightsSoftcapBiasAgainstBruteForce) {
  std::mt19937_64 rng(reftest::test_seed("ReferenceAttention.GatesWeightsSoftcapBiasAgainstBruteForce"));
  const int B = 2, N = 37, H = 3, D = 8;
  json causal = kernel("causal", 0.25, "masked");
  causal["mask"] = json::parse(reftest::kCausalMask);
  causal["gate"] = json::parse(reftest::kPosGate);
  json sliding = kernel("sliding", 0.75, "masked");
  sliding["mask"] = json::parse(reftest::kSlidingMask);
  sliding["bias"] = json::parse(reftest::kDistanceBias);
  sliding["softcap"] = 1.5;
  sliding["scale"] = 0.7;
  const PatternSpec p = pattern("seq", {causal, sliding});
  const auto q = randn((size_t)B * N * H * D, rng, 1.5), k = randn((size_t)B * N * H * D, rng, 1.5),
             v = randn((size_t)B * N * H * D, rng);
  RefInputs in;
  in.B = B, in.N = N, in.heads = H, in.head_dim = D;
  in.q = q.data(), in.k = k.data(), in.v = v.data();
  in.per_kernel = true;
  RefOutput out;
  reference_attention(p, in, out);

  auto tok = [&](int t) { return reftest::tok_of(t, 1, 1, N, {}); };
  BK bc, bs;
  bc.weight = 0.25;
  bc.mask = [&](int a, int b) { return reftest::causal_ok(tok(a), tok(b)); };
  bc.gate = [&](int, int t, int) { return reftest::pos_gate(tok(t)); };
  bs.weight = 0.75;
  bs.mask = [&](int a, int b) { return reftest::sliding_ok(tok(a), tok(b)); };
  bs.bias = [&](int a, int b, int h) { return reftest::distance_bias(tok(a), tok(b), h); };
  bs.softcap = 1.5;
  bs.scale = 0.7;
  EXPECT_LT(max_abs_diff(out.out, brute({bc, bs}, B, N, H, D, q, k, v)), 1e-12);
  ASSERT_EQ(out.terms.size(), 2u);
  EXPECT_LT(max_abs_diff(out.terms[0], brute({bc}, B, N, H, D, q, k, v)), 1e-12);
  EXPECT_LT(max_abs_diff(out.terms[1], brute({bs}, B, N, H, D, q, k, v)), 1e-12);

  // The float32 variant follows within float accuracy.
  RefOutputF32 o32;
  reference_attention(p, in, o32);
  EXPECT_LT(max_abs_diff(o32.out, out.out), 2e-5);
}

// The MoGA pattern: routed top-k with the router-probability gate + STGA + frame-local, mean of three.
void check_moga(int topk, const char* test) {
  std::mt19937_64 rng(reftest::test_seed(test));
  const int F = 5, Hg = 4, Wg = 4, B = 2, H = 2, D = 8, dm = 6, M = 4;
  const std::vector<int> shots = {0, 3};
  const int N = F * Hg * Wg;
  json dyn = kernel("dynamic", 1.0 / 3, "grouped");
  dyn["route"] = {{"groups", M}, {"topk", topk}};
  dyn["route_gate"] = true;
  json stga = kernel("stga", 1.0 / 3, "masked");
  stga["mask"] = json::parse(reftest::kStgaMask);
  json fl = kernel("frame_local", 1.0 / 3, "grouped");
  fl["key"] = json::parse(reftest::kFrameKey);
  const PatternSpec p = pattern("video", {dyn, stga, fl});

  const auto q = randn((size_t)B * N * H * D, rng), k = randn((size_t)B * N * H * D, rng),
             v = randn((size_t)B * N * H * D, rng), x = randn((size_t)B * N * dm, rng), w = randn((size_t)dm * M, rng);
  RefInputs in;
  in.B = B, in.heads = H, in.head_dim = D;
  in.video = {F, Hg, Wg, shots};
  in.q = q.data(), in.k = k.data(), in.v = v.data();
  in.x = x.data(), in.d_model = dm, in.router_weight = {w.data(), nullptr, nullptr};
  RefOutput out;
  reference_attention(p, in, out);

  // Independent routing: logits, softmax, top-k by sorting.
  std::vector<int> gid((size_t)B * N * topk);
  std::vector<double> prob((size_t)B * N * topk);
  for (int r = 0; r < B * N; ++r) {
    std::vector<std::pair<double, int>> l(M);
    double mx = -INFINITY, sum = 0;
    for (int m = 0; m < M; ++m) {
      double s = 0;
      for (int d = 0; d < dm; ++d) s += (double)x[(size_t)r * dm + d] * w[(size_t)d * M + m];
      l[m] = {s, m};
      mx = std::max(mx, s);
    }
    for (auto& e : l) sum += std::exp(e.first - mx);
    std::sort(l.begin(), l.end(), [](auto a, auto b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
    for (int j = 0; j < topk; ++j) {
      gid[(size_t)r * topk + j] = l[j].second;
      prob[(size_t)r * topk + j] = std::exp(l[j].first - mx) / sum;
    }
  }
  const Grouping& g = out.groups[0];
  ASSERT_EQ(g.gid, gid);
  for (size_t i = 0; i < prob.size(); ++i) ASSERT_NEAR(g.prob[i], prob[i], 1e-12);
  EXPECT_EQ(out.groups[2].gid[17], 17 / (Hg * Wg));  // frame-local key

  auto tok = [&](int t) { return reftest::tok_of(t, F, Hg, Wg, shots); };
  BK bd, bt, bf;
  bd.weight = bt.weight = bf.weight = 1.0 / 3;
  bd.k = topk;
  bd.group = [&](int b, int t, int j) { return gid[((size_t)b * N + t) * topk + j]; };
  bd.gate = [&](int b, int t, int j) { return prob[((size_t)b * N + t) * topk + j]; };
  bt.mask = [&](int a, int b) { return reftest::stga_ok(tok(a), tok(b), Hg, Wg); };
  bf.group = [&](int, int t, int) { return tok(t).frame; };
  const std::vector<double> want = brute({bd, bt, bf}, B, N, H, D, q, k, v);
  EXPECT_LT(max_abs_diff(out.out, want), 1e-12);

  // Threads do not change the result.
  in.threads = 1;
  RefOutput one;
  reference_attention(p, in, one);
  EXPECT_EQ(one.out, out.out);

  // A given routing is used as is (as a GPU test passes the GPU router's): shift every group id.
  Grouping forced = g;
  for (size_t i = 0; i < forced.gid.size(); ++i) forced.gid[i] = (forced.gid[i] + 1) % M;
  in.routing = {&forced, nullptr, nullptr};
  RefOutput o2;
  reference_attention(p, in, o2);
  EXPECT_EQ(o2.groups[0].gid, forced.gid);
  bd.group = [&](int b, int t, int j) { return forced.gid[((size_t)b * N + t) * topk + j]; };
  EXPECT_LT(max_abs_diff(o2.out, brute({bd, bt, bf}, B, N, H, D, q, k, v)), 1e-12);

  // The log-sum-exp (RefInputs::lse) is reference_lse's.
  in.routing.clear();
  in.lse = true;
  RefOutput withlse;
  reference_attention(p, in, withlse);
  EXPECT_EQ(withlse.out, out.out);
  const std::vector<std::vector<double>> lse = reference_lse(p, in);
  ASSERT_EQ(withlse.lse.size(), lse.size());
  for (size_t ki = 0; ki < lse.size(); ++ki) {
    ASSERT_EQ(withlse.lse[ki].size(), lse[ki].size());
    for (size_t i = 0; i < lse[ki].size(); ++i)
      if (std::isinf(lse[ki][i])) ASSERT_EQ(withlse.lse[ki][i], lse[ki][i]);
      else ASSERT_NEAR(withlse.lse[ki][i], lse[ki][i], 1e-12) << "kernel " << ki << " entry " << i;
  }
  if (topk != 1) return;
  // Partial attention (ring attention): queries [q0, q1) only, keys in two halves; q outside the rows
  // and k, v outside each half are NaN (never read). Each half's per-kernel terms merged by their
  // log-sum-exp equal the whole, and the rows outside stay 0.
  const int q0 = 17, q1 = 61, half = 37;  // not multiples of the frame
  in.per_kernel = true;
  RefOutput whole;
  reference_attention(p, in, whole);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<float> qp = q;
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < N; ++t)
      if (t < q0 || t >= q1)
        for (int e = 0; e < H * D; ++e) qp[((size_t)b * N + t) * H * D + e] = (float)nan;
  RefOutput part[2];
  for (int hf = 0; hf < 2; ++hf) {
    std::vector<float> kp = k, vp = v;
    for (int b = 0; b < B; ++b)
      for (int t = 0; t < N; ++t)
        if ((t < half) != (hf == 0))
          for (int e = 0; e < H * D; ++e) kp[((size_t)b * N + t) * H * D + e] = vp[((size_t)b * N + t) * H * D + e] = (float)nan;
    RefInputs pi = in;
    pi.q = qp.data(), pi.k = kp.data(), pi.v = vp.data();
    pi.routing = {&out.groups[0], nullptr, nullptr};  // the routing of all tokens (its x rows are not the point)
    pi.q_rows = {q0, q1};
    pi.kv_rows = hf == 0 ? RefInputs::Rows{0, half} : RefInputs::Rows{half, N};
    reference_attention(p, pi, part[hf]);
  }
  for (size_t ki = 0; ki < p.kernels.size(); ++ki)
    for (int b = 0; b < B; ++b)
      for (int t = 0; t < N; ++t)
        for (int h = 0; h < H; ++h) {
          const size_t li = ((size_t)b * H + h) * N + t, oi = (((size_t)b * N + t) * H + h) * D;
          const double la = part[0].lse[ki][li], lb = part[1].lse[ki][li];
          const double l = std::max(la, lb) + std::log(std::exp(la - std::max(la, lb)) + std::exp(lb - std::max(la, lb)));
          for (int e = 0; e < D; ++e) {
            if (t < q0 || t >= q1) {
              ASSERT_EQ(part[0].terms[ki][oi + e], 0.0);
              ASSERT_EQ(part[1].terms[ki][oi + e], 0.0);
              continue;
            }
            double o = 0;
            if (!std::isinf(la)) o += std::exp(la - l) * part[0].terms[ki][oi + e];
            if (!std::isinf(lb)) o += std::exp(lb - l) * part[1].terms[ki][oi + e];
            ASSERT_NEAR(o, whole.terms[ki][oi + e], 1e-12) << "kernel " << ki << " token " << t;
          }
        }
}

TEST(ReferenceAttention, MogaTop1AgainstBruteForce) { check_moga(1, "ReferenceAttention.MogaTop1AgainstBruteForce"); }
TEST(ReferenceAttention, MogaTop2AgainstBruteForce) { check_moga(2, "ReferenceAttention.MogaTop2AgainstBruteForce"); }

TEST(ReferenceAttention, InputErrors) {
  json dyn = kernel("dynamic", 1.0, "grouped");
  dyn["route"] = {{"groups", 3}, {"topk", 1}};
  const PatternSpec routed = pattern("seq", {dyn});
  const std::vector<float> z(64, 0.f);
  RefInputs in;
  in.N = 4, in.heads = 1, in.head_dim = 2;
  in.q = z.data(), in.k = z.data(), in.v = z.data();
  RefOutput out;
  auto msg = [&](const PatternSpec& p) -> std::string {
    try {
      reference_attention(p, in, out);
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(msg(routed).find("kernel 'dynamic': routed, but neither a routing nor router inputs"), std::string::npos) << msg(routed);
  Grouping wrong = single_group(1, 4);
  wrong.M = 3;
  wrong.gid[2] = 7;
  in.routing = {&wrong};
  EXPECT_NE(msg(routed).find("group id 7 outside [0, M)"), std::string::npos) << msg(routed);
  in.routing.clear();

  json fl = kernel("frame_local", 1.0, "grouped");
  fl["key"] = json::parse(reftest::kFrameKey);
  const PatternSpec video = pattern("video", {fl});
  in.video = {2, 1, 3, {}};
  in.N = 5;
  EXPECT_NE(msg(video).find("N = 5 but F*H*W = 6"), std::string::npos) << msg(video);
  in.N = 0;
  in.video = {2, 1, 3, {1}};
  EXPECT_NE(msg(video).find("first shot must start at frame 0"), std::string::npos) << msg(video);
  in.video = {2, 1, 2, {}};
  EXPECT_EQ(msg(video), "");
  in.kv_rows = {3, 9};
  EXPECT_NE(msg(video).find("kv_rows [3, 9) is not inside [0, 4)"), std::string::npos) << msg(video);
  in.kv_rows = {};
  in.q = nullptr;
  EXPECT_NE(msg(video).find("q, k and v must be given"), std::string::npos);
}

}  // namespace
