// runtime/reference/backward.h: the float64 gradient of the CPU reference against central finite
// differences of the forward (reference_attention<double>), its log-sum-exp against a direct
// computation, and the balance loss against hand-computed values.
//
// Finite differences: inputs are random multiples of 2^-10 (|x| < 8), so x +- 2^-11 and x +- 2^-12 are
// exact in float and the forward sees exactly the perturbed value; Richardson's extrapolation of the
// two central differences, (4 D(h/2) - D(h)) / 3, has an O(h^4) error (~1e-13) and a rounding error of
// ~1e-12. Every gradient must match by relative L2 <= kFdTol. An element whose perturbation changes a
// top-k selection (the loss is discontinuous there) is not differentiable: it is skipped and counted,
// and at most 2% of the elements may be skipped.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "runtime/reference/backward.h"

namespace reftest {  // reference_fixtures.cpp
extern const char* const kCausalMask;
extern const char* const kSlidingMask;
extern const char* const kFrameKey;
extern const char* const kStgaMask;
extern const char* const kDistanceBias;
extern const char* const kPosGate;
struct Tok {
  int pos, frame, row, col, shot, shot_start, shot_end;
};
Tok tok_of(int t, int F, int H, int W, const std::vector<int>& shots);
bool causal_ok(const Tok& q, const Tok& kv);
bool sliding_ok(const Tok& q, const Tok& kv);
double distance_bias(const Tok& q, const Tok& kv, int h);
uint64_t test_seed(const char* test);
}  // namespace reftest

namespace {

using namespace moga::ref;
using nlohmann::json;

constexpr double kFdTol = 1e-8;

// mask kv.pos > q.pos: the last token sees nothing.
const char* const kFutureMask = R"({"args": ["q", "kv"], "ops": [
  {"op": "arg", "index": 0}, {"op": "arg", "index": 1},
  {"op": "coord", "operands": [0], "coord": "pos"}, {"op": "coord", "operands": [1], "coord": "pos"},
  {"op": "cmpi", "pred": "sgt", "operands": [3, 2]}], "result": 4})";
// key(t) = 2 * (t.pos // 3): the odd group ids are empty.
const char* const kGappedKey = R"({"args": ["t"], "ops": [
  {"op": "arg", "index": 0}, {"op": "coord", "operands": [0], "coord": "pos"},
  {"op": "const", "type": "i64", "value": 3}, {"op": "floordivsi", "operands": [1, 2]},
  {"op": "const", "type": "i64", "value": 2}, {"op": "muli", "operands": [3, 4]}], "result": 5})";
// bias = -inf everywhere: every row is empty.
const char* const kMinusInfBias = R"({"args": ["q", "kv", "h"], "ops": [
  {"op": "const", "type": "f32", "value": "-inf"}], "result": 0})";

json kernel(const char* name, double weight, const char* structure) {
  return {{"name", name}, {"weight", weight}, {"accumulate", false}, {"route", nullptr}, {"route_gate", false},
          {"scale", nullptr}, {"softcap", nullptr}, {"structure", structure}, {"uses", json::array()},
          {"tiles", {{"block_m", 64}, {"block_n", 64}, {"warps", 4}, {"stages", 2}, {"head_dim", 64}}},
          {"mask", nullptr}, {"key", nullptr}, {"bias", nullptr}, {"gate", nullptr}};
}
json routed(const char* name, double weight, int M, int topk, bool gate) {
  json k = kernel(name, weight, "grouped");
  k["route"] = {{"groups", M}, {"topk", topk}};
  k["route_gate"] = gate;
  return k;
}
PatternSpec pattern(const char* layout, std::vector<json> kernels) {
  for (size_t i = 1; i < kernels.size(); ++i) kernels[i]["accumulate"] = true;
  return parse_manifest(json{{"pattern", "test"}, {"layout", layout}, {"params", json::object()}, {"kernels", kernels}});
}

// Random multiples of 2^-10, |x| < 8 (see the file comment).
std::vector<float> qrandn(size_t n, std::mt19937_64& rng, double sd = 1.0) {
  std::normal_distribution<double> d(0.0, sd);
  std::vector<float> v(n);
  for (auto& x : v) x = (float)(std::round(std::clamp(d(rng), -7.5, 7.5) * 1024.0) / 1024.0);
  return v;
}
std::vector<double> randn_d(size_t n, std::mt19937_64& rng) {
  std::normal_distribution<double> d(0.0, 1.0);
  std::vector<double> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// A pattern with its inputs, owned.
struct Case {
  PatternSpec spec;
  int B = 1, N = 0, H = 2, D = 4, dm = 0;
  VideoShape video;
  bool is_video = false;
  std::vector<float> q, k, v, x;
  std::vector<std::vector<float>> w;  // per kernel; empty: not routed
  std::vector<double> dout;

  Case(PatternSpec s, int B_, int N_, std::mt19937_64& rng, int dm_ = 0) : spec(std::move(s)), B(B_), N(N_), dm(dm_) {
    init(rng);
  }
  Case(PatternSpec s, int B_, VideoShape vs, std::mt19937_64& rng, int dm_ = 0)
      : spec(std::move(s)), B(B_), N(vs.F * vs.H * vs.W), dm(dm_), video(std::move(vs)), is_video(true) {
    init(rng);
  }
  void init(std::mt19937_64& rng) {
    const size_t n = (size_t)B * N * H * D;
    q = qrandn(n, rng, 1.5), k = qrandn(n, rng, 1.5), v = qrandn(n, rng);
    if (dm) x = qrandn((size_t)B * N * dm, rng);
    w.resize(spec.kernels.size());
    for (size_t i = 0; i < spec.kernels.size(); ++i)
      if (spec.kernels[i].route) w[i] = qrandn((size_t)dm * spec.kernels[i].route->groups, rng);
    dout = randn_d(n, rng);
  }
  RefInputs inputs(int threads = 1) const {
    RefInputs in;
    in.B = B, in.heads = H, in.head_dim = D;
    if (is_video) in.video = video;
    else in.N = N;
    in.q = q.data(), in.k = k.data(), in.v = v.data();
    if (dm) {
      in.x = x.data(), in.d_model = dm;
      for (const auto& wi : w) in.router_weight.push_back(wi.empty() ? nullptr : wi.data());
    }
    in.threads = threads;
    return in;
  }
};

// The balance loss written from its definition (backward.h), from the forward's groups and an
// independent router softmax.
double balance_loss(const Case& c, const RefOutput& out, double weight) {
  double L = 0;
  for (size_t ki = 0; ki < c.spec.kernels.size(); ++ki) {
    const KernelSpec& k = c.spec.kernels[ki];
    if (!k.route) continue;
    const int M = k.route->groups, K = k.route->topk, T = c.B * c.N;
    std::vector<double> F(M, 0.0), P(M, 0.0);
    for (int t = 0; t < T; ++t) {
      for (int j = 0; j < K; ++j) F[out.groups[ki].gid[(size_t)t * K + j]] += 1.0 / (K * T);
      std::vector<double> l(M, 0.0);
      for (int m = 0; m < M; ++m)
        for (int d = 0; d < c.dm; ++d) l[m] += (double)c.x[(size_t)t * c.dm + d] * c.w[ki][(size_t)d * M + m];
      double sum = 0;
      for (int m = 0; m < M; ++m) sum += std::exp(l[m]);
      for (int m = 0; m < M; ++m) P[m] += std::exp(l[m]) / sum / T;
    }
    for (int m = 0; m < M; ++m) L += weight * M * F[m] * P[m];
  }
  return L;
}

// sum(out * dout) (+ the balance loss); the groups used, to detect a changed top-k selection.
double loss(const Case& c, bool balance, std::vector<std::vector<int>>* gids) {
  RefOutput out;
  reference_attention(c.spec, c.inputs(), out);
  double L = 0;
  for (size_t i = 0; i < out.out.size(); ++i) L += out.out[i] * c.dout[i];
  if (balance) L += balance_loss(c, out, 0.1);
  gids->clear();
  for (const auto& g : out.groups) gids->push_back(g.gid);
  return L;
}

double rel_l2(const std::vector<double>& got, const std::vector<double>& want) {
  double e = 0, n = 0;
  for (size_t i = 0; i < want.size(); ++i) e += (got[i] - want[i]) * (got[i] - want[i]), n += want[i] * want[i];
  return n > 0 ? std::sqrt(e / n) : std::sqrt(e);
}

// Finite differences of the loss w.r.t. every element of `param` (a member of c) against `grad`.
void check_fd(Case& c, std::vector<float>& param, const std::vector<double>& grad, const std::string& what,
              bool balance = false) {
  SCOPED_TRACE(what);
  ASSERT_EQ(grad.size(), param.size());
  std::vector<std::vector<int>> base, g;
  loss(c, balance, &base);
  std::vector<double> fd(param.size()), kept_grad;
  std::vector<double> kept_fd;
  int skipped = 0;
  const double h = 1.0 / 2048;
  for (size_t i = 0; i < param.size(); ++i) {
    const float x0 = param[i];
    double f[4];
    const double steps[4] = {h, -h, h / 2, -h / 2};
    bool same = true;
    for (int s = 0; s < 4; ++s) {
      param[i] = (float)(x0 + steps[s]);
      f[s] = loss(c, balance, &g);
      same = same && g == base;
    }
    param[i] = x0;
    if (!same) {
      ++skipped;
      continue;
    }
    const double d1 = (f[0] - f[1]) / (2 * h), d2 = (f[2] - f[3]) / h;
    kept_fd.push_back((4 * d2 - d1) / 3);
    kept_grad.push_back(grad[i]);
  }
  EXPECT_LE(skipped, (int)param.size() / 50) << "top-k selections changed under perturbation";
  double norm = 0;
  for (double d : kept_fd) norm += d * d;
  EXPECT_GT(norm, 0.0) << "a gradient that is 0 everywhere checks nothing";
  const double err = rel_l2(kept_grad, kept_fd);
  std::printf("[    fd    ] %s: rel L2 %.2e over %zu elements (%d skipped)\n", what.c_str(), err, kept_fd.size(), skipped);
  EXPECT_LE(err, kFdTol);
}

RefGrads backward(const Case& c, bool balance = false, int threads = 1) {
  RefGrads g;
  BackwardOptions opt;
  opt.balance_loss = balance;
  reference_attention_backward(c.spec, c.inputs(threads), c.dout.data(), opt, g);
  return g;
}

void check_qkv(Case& c, const RefGrads& g) {
  check_fd(c, c.q, g.dq, "dq");
  check_fd(c, c.k, g.dk, "dk");
  check_fd(c, c.v, g.dv, "dv");
}

void check_all_finite(const RefGrads& g) {
  for (const auto* v : {&g.dq, &g.dk, &g.dv, &g.dx})
    for (double x : *v) ASSERT_TRUE(std::isfinite(x));
}

// ---- q, k, v ------------------------------------------------------------------------------------------

TEST(ReferenceBackward, DenseOddLength) {
  std::mt19937_64 rng(reftest::test_seed("ReferenceBackward.DenseOddLength"));
  Case c(pattern("seq", {kernel("full", 1.0, "dense")}), 2, 7, rng);
  const RefGrads g = backward(c);
  EXPECT_TRUE(g.dx.empty());
  ASSERT_EQ(g.drouter_w.size(), 1u);
  EXPECT_TRUE(g.drouter_w[0].empty());
  check_qkv(c, g);
}

}  // namespace
