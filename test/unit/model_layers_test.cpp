// The CPU layers (runtime/model/cpu/*) against brute-force formulas written here from the papers /
// Wan2.1's code (in double, on small random inputs), and the sampler's schedule against its closed form.
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <random>

#include "runtime/model/config.h"
#include "runtime/model/cpu/activation.h"
#include "runtime/model/cpu/attention.h"
#include "runtime/model/cpu/embedding.h"
#include "runtime/model/cpu/linear.h"
#include "runtime/model/cpu/norm.h"
#include "runtime/model/cpu/rope.h"
#include "runtime/model/sampler.h"

using namespace moga::model;
using namespace moga::model::cpu;

namespace {

std::vector<float> randn(size_t n, unsigned seed, float scale = 1.f) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0.f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

void expect_close(const std::vector<float>& got, const std::vector<double>& want, double tol, const char* what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double e = std::abs(got[i] - want[i]) / (1.0 + std::abs(want[i]));
    if (e > worst) worst = e, at = i;
  }
  EXPECT_LE(worst, tol) << what << ": element " << at << " got " << got[at] << " want " << want[at];
}

}  // namespace

TEST(ModelLayers, LinearMatchesNaive) {
  for (int threads : {1, 2})
    for (auto [rows, in, out] : {std::tuple{1, 3, 5}, {7, 33, 17}, {64, 130, 300}, {9, 256, 513}}) {
      const auto W = randn((size_t)out * in, 1), b = randn(out, 2), x = randn((size_t)rows * in, 3);
      const Linear l = Linear::from_torch(W.data(), b.data(), out, in);
      std::vector<float> y((size_t)rows * out);
      linear_forward(l, x.data(), rows, y.data(), threads);
      std::vector<double> want((size_t)rows * out);
      for (int r = 0; r < rows; ++r)
        for (int o = 0; o < out; ++o) {
          double s = b[o];
          for (int i = 0; i < in; ++i) s += (double)x[(size_t)r * in + i] * W[(size_t)o * in + i];
          want[(size_t)r * out + o] = s;
        }
      expect_close(y, want, 2e-5, "linear");
    }
}

TEST(ModelLayers, Norms) {
  const int rows = 5, dim = 48;
  const auto x = randn((size_t)rows * dim, 4, 3.f), w = randn(dim, 5), b = randn(dim, 6);
  const auto shift = randn(dim, 7, 0.3f), scale = randn(dim, 8, 0.3f);
  std::vector<float> ln(x.size()), lna(x.size()), rms(x.size()), mod(x.size());
  layer_norm(x.data(), rows, dim, 1e-6f, nullptr, nullptr, ln.data(), 2);
  layer_norm(x.data(), rows, dim, 1e-6f, w.data(), b.data(), lna.data(), 2);
  rms_norm(x.data(), rows, dim, 1e-6f, w.data(), rms.data(), 2);
  layer_norm_modulate(x.data(), rows, dim, 1e-6f, shift.data(), scale.data(), mod.data(), 2);
  std::vector<double> wln(x.size()), wlna(x.size()), wrms(x.size()), wmod(x.size());
  for (int r = 0; r < rows; ++r) {
    double m = 0, v = 0, ms = 0;
    for (int i = 0; i < dim; ++i) m += x[r * dim + i];
    m /= dim;
    for (int i = 0; i < dim; ++i) v += (x[r * dim + i] - m) * (x[r * dim + i] - m), ms += (double)x[r * dim + i] * x[r * dim + i];
    v /= dim, ms /= dim;
    for (int i = 0; i < dim; ++i) {
      const double n = (x[r * dim + i] - m) / std::sqrt(v + 1e-6);
      wln[r * dim + i] = n;
      wlna[r * dim + i] = n * w[i] + b[i];
      wmod[r * dim + i] = n * (1 + scale[i]) + shift[i];
      wrms[r * dim + i] = x[r * dim + i] / std::sqrt(ms + 1e-6) * w[i];
    }
  }
  expect_close(ln, wln, 1e-5, "layer_norm");
  expect_close(lna, wlna, 1e-5, "layer_norm affine");
  expect_close(rms, wrms, 1e-5, "rms_norm");
  expect_close(mod, wmod, 1e-5, "modulation");
  // gated residual
  std::vector<float> acc = x;
  add_gated(acc.data(), mod.data(), scale.data(), rows, dim);
  std::vector<double> wacc(x.size());
  for (int r = 0; r < rows; ++r)
    for (int i = 0; i < dim; ++i) wacc[r * dim + i] = x[r * dim + i] + (double)mod[r * dim + i] * scale[i];
  expect_close(acc, wacc, 1e-6, "add_gated");
}

TEST(ModelLayers, Activations) {
  for (double x = -8; x <= 8; x += 0.0625) {
    const double want = 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
    EXPECT_NEAR(gelu_tanh((float)x), want, 1e-6 * (1 + std::abs(want))) << x;
    // and within 1e-3 of the exact erf GELU, as the approximation should be
    EXPECT_NEAR(gelu_tanh((float)x), 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))), 1e-3) << x;
    EXPECT_NEAR(silu((float)x), x / (1 + std::exp(-x)), 1e-6 * (1 + std::abs(x))) << x;
  }
}

TEST(ModelLayers, SinusoidalEmbedding) {
  // Wan: sinusoid = outer(t, 10000^(-arange(half)/half)); cat([cos, sin])
  for (double t : {0.0, 1.0, 999.0, 731.5}) {
    const int dim = 32, half = 16;
    std::vector<float> e(dim);
    sinusoidal_embedding(dim, t, e.data());
    std::vector<double> want(dim);
    for (int i = 0; i < half; ++i) {
      const double a = t * std::pow(10000.0, -(double)i / half);
      want[i] = std::cos(a), want[half + i] = std::sin(a);
    }
    expect_close(e, want, 1e-6, "sinusoidal");
  }
}

TEST(ModelLayers, RopeMatchesWanRopeApply) {
  // Wan's rope_apply, brute force with std::complex<double>: the head dim as d/2 complex numbers
  // x[2j] + i x[2j+1], split (c - 2(c/3), c/3, c/3); freqs of part p: pos_p * theta^(-2k/dim_p),
  // dim_p = 2 * len_p; x * exp(i angle).
  for (int d : {64, 128}) {
    const int F = 3, H = 2, W = 5, heads = 2, N = F * H * W, c = d / 2;
    const double theta = 10000.0;
    auto x = randn((size_t)N * heads * d, 9);
    std::vector<double> want(x.size());
    const int len[3] = {c - 2 * (c / 3), c / 3, c / 3};
    for (int f = 0; f < F; ++f)
      for (int h = 0; h < H; ++h)
        for (int w = 0; w < W; ++w) {
          const int n = (f * H + h) * W + w, pos[3] = {f, h, w};
          for (int hd = 0; hd < heads; ++hd) {
            int j = 0;
            for (int p = 0; p < 3; ++p)
              for (int k = 0; k < len[p]; ++k, ++j) {
                const size_t o = ((size_t)n * heads + hd) * d + 2 * j;
                const double ang = pos[p] * std::pow(theta, -(2.0 * k) / (2.0 * len[p]));
                const std::complex<double> z = std::complex<double>(x[o], x[o + 1]) * std::polar(1.0, ang);
                want[o] = z.real(), want[o + 1] = z.imag();
              }
          }
        }
    const RopeTable t = make_rope(d, F, H, W, theta);
    apply_rope(t, x.data(), N, heads, 2);
    expect_close(x, want, 2e-6, "rope");
  }
  // d = 128 splits 44 / 42 / 42 real dims, as the config says
  int r[3];
  config_by_name("wan-1.3b").rope_split(r);
  EXPECT_EQ(2 * (64 - 2 * (64 / 3)), r[0]);
}

TEST(ModelLayers, PatchEmbeddingIsConv3d) {
  // Conv3d(C, dim, kernel = stride = (1, 2, 2)) brute force vs im2col + GEMM; unpatchify inverts the
  // token layout of the head (channels last).
  PatchGrid g;
  g.C = 3, g.F = 2, g.H = 4, g.W = 6;
  const int dim = 5, P = g.patch_len(), N = g.tokens();
  const auto lat = randn((size_t)g.C * g.F * g.H * g.W, 10), Wc = randn((size_t)dim * P, 11), bc = randn(dim, 12);
  const Linear conv = Linear::from_torch(Wc.data(), bc.data(), dim, P);
  std::vector<float> x((size_t)N * dim), cols((size_t)N * P);
  patch_embed(conv, lat.data(), g, x.data(), cols.data(), 1);
  std::vector<double> want((size_t)N * dim);
  for (int f = 0; f < g.gf(); ++f)
    for (int h = 0; h < g.gh(); ++h)
      for (int w = 0; w < g.gw(); ++w)
        for (int o = 0; o < dim; ++o) {
          double s = bc[o];
          for (int ci = 0; ci < g.C; ++ci)
            for (int kh = 0; kh < 2; ++kh)
              for (int kw = 0; kw < 2; ++kw)
                s += (double)Wc[((size_t)o * g.C + ci) * 4 + kh * 2 + kw] *
                     lat[(((size_t)ci * g.F + f) * g.H + 2 * h + kh) * g.W + 2 * w + kw];
          want[((size_t)(f * g.gh() + h) * g.gw() + w) * dim + o] = s;
        }
  expect_close(x, want, 1e-5, "patch_embed");

  // unpatchify: token (f,h,w), element ((it*ph + ih)*pw + iw)*C + c -> latent[c][f+it][2h+ih][2w+iw]
  std::vector<float> tok((size_t)N * P), out(lat.size());
  for (size_t i = 0; i < tok.size(); ++i) tok[i] = (float)i;
  unpatchify(tok.data(), g, g.C, out.data());
  for (int c = 0; c < g.C; ++c)
    for (int f = 0; f < g.F; ++f)
      for (int y = 0; y < g.H; ++y)
        for (int x2 = 0; x2 < g.W; ++x2) {
          const int t = (f * g.gh() + y / 2) * g.gw() + x2 / 2, e = ((y % 2) * 2 + x2 % 2) * g.C + c;
          ASSERT_EQ(out[(((size_t)c * g.F + f) * g.H + y) * g.W + x2], (float)((size_t)t * P + e));
        }
}

TEST(ModelLayers, DenseAttention) {
  const int Nq = 7, Nk = 5, H = 2, D = 8;
  const auto q = randn((size_t)Nq * H * D, 13), k = randn((size_t)Nk * H * D, 14), v = randn((size_t)Nk * H * D, 15);
  std::vector<float> o(q.size());
  dense_attention(q.data(), k.data(), v.data(), Nq, Nk, H, D, o.data(), 2);
  std::vector<double> want(q.size());
  for (int t = 0; t < Nq; ++t)
    for (int h = 0; h < H; ++h) {
      std::vector<double> s(Nk);
      double mx = -1e300, sum = 0;
      for (int j = 0; j < Nk; ++j) {
        double dot = 0;
        for (int d = 0; d < D; ++d) dot += (double)q[(t * H + h) * D + d] * k[(j * H + h) * D + d];
        s[j] = dot / std::sqrt((double)D);
        mx = std::max(mx, s[j]);
      }
      for (double& e : s) sum += (e = std::exp(e - mx));
      for (int d = 0; d < D; ++d) {
        double acc = 0;
        for (int j = 0; j < Nk; ++j) acc += s[j] / sum * v[(j * H + h) * D + d];
        want[(t * H + h) * D + d] = acc;
      }
    }
  expect_close(o, want, 1e-5, "dense attention");
}

TEST(ModelSampler, ScheduleMatchesClosedForm) {
  for (double shift : {1.0, 3.0, 5.0}) {
    for (int steps : {1, 2, 10, 50}) {
      const auto s = flow_sigmas(steps, shift);
      ASSERT_EQ(s.size(), (size_t)steps + 1);
      EXPECT_EQ(s.back(), 0.0);
      EXPECT_DOUBLE_EQ(s[0], 1.0);  // shift keeps 1 at 1
      for (int i = 0; i < steps; ++i) {
        const double sig = 1.0 - (double)i / steps;  // linspace(1, 0, steps + 1)[i]
        EXPECT_NEAR(s[i], shift * sig / (1 + (shift - 1) * sig), 1e-15);
        EXPECT_GT(s[i], s[i + 1]);
      }
    }
  }
  // 4 steps at shift 5: 1, 0.9375, 0.8333.., 0.625 (closed form by hand), then 0
  const auto s = flow_sigmas(4, 5.0);
  EXPECT_NEAR(s[1], 3.75 / 4.0, 1e-15);
  EXPECT_NEAR(s[2], 2.5 / 3.0, 1e-15);
  EXPECT_NEAR(s[3], 1.25 / 2.0, 1e-15);
  EXPECT_THROW(flow_sigmas(0, 5.0), std::invalid_argument);
}

TEST(ModelSampler, EulerIntegratesTheVelocity) {
  // With the exact flow velocity of a single target x0 (v = (x - x0) / sigma: the straight path from
  // noise to x0), Euler steps land on x0 exactly; the model sees t = 1000 sigma; CFG mixes v_u + g (v_c - v_u).
  const std::vector<float> x0 = {0.5f, -1.25f, 2.0f};
  std::vector<float> x = {1.0f, 0.3f, -0.7f};
  std::vector<double> ts;
  SamplerOptions o;
  o.steps = 7, o.shift = 3.0;
  sample_euler(x, o, [&](const float* xi, double t, bool, float* v) {
    ts.push_back(t);
    const double sig = t / 1000.0;
    for (int i = 0; i < 3; ++i) v[i] = (float)((xi[i] - x0[i]) / sig);
  });
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(x[i], x0[i], 1e-5);
  const auto s = flow_sigmas(7, 3.0);
  ASSERT_EQ(ts.size(), 7u);
  for (int i = 0; i < 7; ++i) EXPECT_DOUBLE_EQ(ts[i], 1000.0 * s[i]);

  std::vector<float> y = {0.f};
  o.steps = 1, o.cfg = true, o.guidance = 4.0;
  int calls = 0;
  sample_euler(y, o, [&](const float*, double, bool cond, float* v) {
    ++calls;
    v[0] = cond ? 1.f : 0.5f;
  });
  EXPECT_EQ(calls, 2);
  EXPECT_NEAR(y[0], -(0.5 + 4.0 * 0.5), 1e-6);  // x += (0 - 1) * v
}
