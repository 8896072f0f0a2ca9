// The finite-difference harness of the reference backward tests (reference_backward_fd.h).
#include "test/unit/reference_backward_fd.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>

namespace bwdtest {

using namespace moga::ref;

std::vector<float> qrandn(size_t n, std::mt19937_64& rng, double sd) {
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

Case::Case(PatternSpec s, int B_, int N_, std::mt19937_64& rng, int dm_, int heads, int head_dim)
    : spec(std::move(s)), B(B_), N(N_), H(heads), D(head_dim), dm(dm_) {
  init(rng);
}
Case::Case(PatternSpec s, int B_, VideoShape vs, std::mt19937_64& rng, int dm_)
    : spec(std::move(s)), B(B_), N(vs.F * vs.H * vs.W), dm(dm_), video(std::move(vs)), is_video(true) {
  init(rng);
}
void Case::init(std::mt19937_64& rng) {
  const size_t n = (size_t)B * N * H * D;
  q = qrandn(n, rng, 1.5), k = qrandn(n, rng, 1.5), v = qrandn(n, rng);
  w.resize(spec.kernels.size());
  for (size_t i = 0; i < spec.kernels.size(); ++i)
    if (spec.kernels[i].route) w[i] = qrandn((size_t)dm * spec.kernels[i].route->groups, rng);
  if (dm) {
    x = qrandn((size_t)B * N * dm, rng);
    for (int t = 0; t < B * N; ++t)
      for (int tries = 0; near_tie(t) && tries < 1000; ++tries) {
        const std::vector<float> r = qrandn(dm, rng);
        std::copy(r.begin(), r.end(), x.begin() + (size_t)t * dm);
      }
  }
  dout = randn_d(n, rng);
}

// Token t's logits of some routed kernel have two of their k+1 largest closer than 0.01: a finite
// difference step (it moves a logit by < 1e-3) could change the top-k selection or its order.
bool Case::near_tie(int t) const {
  for (size_t ki = 0; ki < spec.kernels.size(); ++ki) {
    const auto& r = spec.kernels[ki].route;
    if (!r) continue;
    const int M = r->groups;
    std::vector<double> l(M, 0.0);
    for (int m = 0; m < M; ++m)
      for (int d = 0; d < dm; ++d) l[m] += (double)x[(size_t)t * dm + d] * w[ki][(size_t)d * M + m];
    std::sort(l.begin(), l.end(), std::greater<double>());
    for (int j = 0; j < std::min(r->topk, M - 1); ++j)
      if (l[j] - l[j + 1] < 0.01) return true;
  }
  return false;
}
RefInputs Case::inputs(int threads) const {
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

namespace {

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

}  // namespace

double rel_l2(const std::vector<double>& got, const std::vector<double>& want) {
  double e = 0, n = 0;
  for (size_t i = 0; i < want.size(); ++i) e += (got[i] - want[i]) * (got[i] - want[i]), n += want[i] * want[i];
  return n > 0 ? std::sqrt(e / n) : std::sqrt(e);
}

void check_fd(Case& c, std::vector<float>& param, const std::vector<double>& grad, const std::string& what,
              bool balance) {
  SCOPED_TRACE(what);
  ASSERT_EQ(grad.size(), param.size());
  std::vector<std::vector<int>> base, g;
  loss(c, balance, &base);
  std::vector<double> kept_grad, kept_fd;
  int skipped = 0;
  const double h = 1.0 / 8192;
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
  EXPECT_LE(skipped, std::max(2, (int)param.size() / 20)) << "top-k selections changed under perturbation";
  double norm = 0;
  for (double d : kept_fd) norm += d * d;
  EXPECT_GT(norm, 0.0) << "a gradient that is 0 everywhere checks nothing";
  const double err = rel_l2(kept_grad, kept_fd);
  std::printf("[    fd    ] %s: rel L2 %.2e over %zu elements (%d skipped)\n", what.c_str(), err, kept_fd.size(), skipped);
  EXPECT_LE(err, kFdTol);
}

RefGrads backward(const Case& c, bool balance, int threads) {
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

}  // namespace bwdtest
