// A host model of the FP8 attention path (kernels_src/cuda/fp8_prep.cuh + mainloop_fp8.cuh), in double
// except where the kernel rounds to e4m3: q, k, v quantized per (batch, head) with 448 / amax, the scores
// of e4m3 products descaled, the online softmax per key tile of BN with P = e4m3(exp2((s - m) sl + 8))
// (m: the running row maximum at that tile), l over the unrounded values, O = sum P V8 dv / l (Fp8Algo: the
// default row's variant, sm90.tma.fp8.sum: l over the e4m3 P and the conditional rescale). What the
// FP8 error is for given inputs (the CPU test states it against float64 attention), and what the GPU
// kernel should reproduce up to float32 and exp2 differences (the GPU tests compare both).
// Dense attention without modifications (scale 1/sqrt(D)); layout [B][N][H][D].
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

namespace moga::test {

// x rounded to e4m3 (1 sign, 4 exponent bits of bias 7, 3 mantissa bits; normals from 2^-6, subnormals
// in steps of 2^-9; finite up to 448), to nearest even, saturating (cvt.rn.satfinite).
inline double round_e4m3(double x) {
  if (std::isnan(x)) return x;
  const double a = std::fabs(x);
  if (a >= 448.0) return std::copysign(448.0, x);
  int e = a > 0 ? (int)std::floor(std::log2(a)) : -9;
  e = std::max(e, -6);                  // subnormals share the step of 2^-6's binade
  const double step = std::ldexp(1.0, e - 3);
  const double r = std::nearbyint(a / step) * step;  // nearbyint: ties to even under the default mode
  return std::copysign(std::min(r, 448.0), x);
}

// The value of an e4m3 byte (NaN for S.1111.111).
inline double decode_e4m3(unsigned char b) {
  const int e = (b >> 3) & 15, m = b & 7;
  if (e == 15 && m == 7) return std::numeric_limits<double>::quiet_NaN();
  const double v = e == 0 ? std::ldexp((double)m, -9) : std::ldexp(1.0 + m / 8.0, e - 7);
  return (b & 0x80) ? -v : v;
}

// x (D values, D a power of two) times the orthonormal Hadamard matrix H / sqrt(D) (Sylvester order: the
// butterfly of fp8_prep.cuh's rotation).
inline void hadamard_rows(float* x, int D) {
  for (int len = 1; len < D; len <<= 1)
    for (int i = 0; i < D; i += 2 * len)
      for (int j = i; j < i + len; ++j) {
        const float a = x[j], b = x[j + len];
        x[j] = a + b;
        x[j + len] = a - b;
      }
  const float f = (float)(1.0 / std::sqrt((double)D));  // the device's constant (1 / sqrt(128) to float)
  for (int i = 0; i < D; ++i) x[i] *= f;
}

// Where the FP8 rows' softmax differs (mainloop_fp8.cuh): sm90.tma.fp8 / .ov are the defaults below;
// sm90.tma.fp8.sum sums l from the e4m3 P (the P V product with rows of ones) and keeps a row's maximum while a
// tile's exceeds it by at most lazy_log2 in log2 units (kFp8LazyLog2, the conditional rescale).
struct Fp8Algo {
  bool sum_e4m3 = false;
  double lazy_log2 = 0;
};
inline Fp8Algo fp8_algo_of_row(const char* row) {
  return std::strcmp(row, "sm90.tma.fp8.sum") == 0 ? Fp8Algo{true, 0.8} : Fp8Algo{};
}

// FP8 model of dense attention: out [B][N][H][D] from q [B][N][H][D], k, v [B][Nk][H][D]. rotate: q and k
// rotated by the Hadamard matrix before quantization (FlashAttention-3's incoherent processing: Q H (K H)^T =
// Q K^T, the outlier channels spread over all).
inline std::vector<double> fp8_attention_model(std::vector<float> q, std::vector<float> k, const std::vector<float>& v,
                                               int B, int N, int Nk, int H, int D, int BN, bool rotate = false,
                                               Fp8Algo algo = {}) {
  if (rotate) {
    for (size_t i = 0; i < q.size(); i += D) hadamard_rows(q.data() + i, D);
    for (size_t i = 0; i < k.size(); i += D) hadamard_rows(k.data() + i, D);
  }
  std::vector<double> out((size_t)B * N * H * D, 0.0);
  const double sl = 1.0 / std::sqrt((double)D) * 1.4426950408889634;
  auto at = [&](int b, int n, int h, int rows) { return (((size_t)b * rows + n) * H + h) * D; };
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h) {
      double amax[3] = {0, 0, 0};
      for (int n = 0; n < N; ++n)
        for (int d = 0; d < D; ++d) amax[0] = std::max(amax[0], (double)std::fabs(q[at(b, n, h, N) + d]));
      for (int n = 0; n < Nk; ++n)
        for (int d = 0; d < D; ++d) {
          amax[1] = std::max(amax[1], (double)std::fabs(k[at(b, n, h, Nk) + d]));
          amax[2] = std::max(amax[2], (double)std::fabs(v[at(b, n, h, Nk) + d]));
        }
      double sc[3], ds[3];
      for (int t = 0; t < 3; ++t) {
        sc[t] = amax[t] > 0 ? (double)(float)(448.0 / amax[t]) : 1.0;  // the kernel's float scale
        ds[t] = amax[t] > 0 ? amax[t] / 448.0 : 1.0;
      }
      std::vector<double> q8((size_t)N * D), k8((size_t)Nk * D), v8((size_t)Nk * D);
      for (int n = 0; n < N; ++n)
        for (int d = 0; d < D; ++d) q8[(size_t)n * D + d] = round_e4m3((double)q[at(b, n, h, N) + d] * sc[0]);
      for (int n = 0; n < Nk; ++n)
        for (int d = 0; d < D; ++d) {
          k8[(size_t)n * D + d] = round_e4m3((double)k[at(b, n, h, Nk) + d] * sc[1]);
          v8[(size_t)n * D + d] = round_e4m3((double)v[at(b, n, h, Nk) + d] * sc[2]);
        }
      const double slq = sl * ds[0] * ds[1];
      std::vector<double> s(BN), o(D);
      for (int i = 0; i < N; ++i) {
        double m = -std::numeric_limits<double>::infinity(), l = 0;
        std::fill(o.begin(), o.end(), 0.0);
        for (int j0 = 0; j0 < Nk; j0 += BN) {
          const int nj = std::min(BN, Nk - j0);
          double mt = m;
          for (int j = 0; j < nj; ++j) {
            double acc = 0;
            for (int d = 0; d < D; ++d) acc += q8[(size_t)i * D + d] * k8[(size_t)(j0 + j) * D + d];
            s[j] = acc;
            mt = std::max(mt, acc);
          }
          if (algo.lazy_log2 > 0 && m != -std::numeric_limits<double>::infinity() && (mt - m) * slq <= algo.lazy_log2)
            mt = m;
          const double alpha = std::exp2((m - mt) * slq);
          m = mt;
          l *= alpha;
          for (double& x : o) x *= alpha;
          for (int j = 0; j < nj; ++j) {
            const double p = std::exp2((s[j] - m) * slq + 8.0);
            const double p8 = round_e4m3(p);
            l += algo.sum_e4m3 ? p8 : p;
            for (int d = 0; d < D; ++d) o[d] += p8 * v8[(size_t)(j0 + j) * D + d];
          }
        }
        for (int d = 0; d < D; ++d) out[at(b, i, h, N) + d] = l > 0 ? o[d] * ds[2] / l : 0.0;
      }
    }
  return out;
}

// Dense attention in double (the float64 reference of the dense pattern, for the model's own test).
inline std::vector<double> dense_attention_f64(const std::vector<float>& q, const std::vector<float>& k,
                                               const std::vector<float>& v, int B, int N, int Nk, int H, int D) {
  std::vector<double> out((size_t)B * N * H * D, 0.0), s(Nk);
  const double scale = 1.0 / std::sqrt((double)D);
  auto at = [&](int b, int n, int h, int rows) { return (((size_t)b * rows + n) * H + h) * D; };
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h)
      for (int i = 0; i < N; ++i) {
        double m = -std::numeric_limits<double>::infinity(), l = 0;
        for (int j = 0; j < Nk; ++j) {
          double acc = 0;
          for (int d = 0; d < D; ++d) acc += (double)q[at(b, i, h, N) + d] * k[at(b, j, h, Nk) + d];
          s[j] = acc * scale;
          m = std::max(m, s[j]);
        }
        for (int j = 0; j < Nk; ++j) l += (s[j] = std::exp(s[j] - m));
        for (int j = 0; j < Nk; ++j)
          for (int d = 0; d < D; ++d) out[at(b, i, h, N) + d] += s[j] / l * v[at(b, j, h, Nk) + d];
      }
  return out;
}

// "Real-looking" activations: uniform(-1, 1) with a few outlier channels per head (DiT and LLM q / k
// carry a handful of channels an order of magnitude above the rest): channels c with c % 37 == 5 scaled by
// `qk_outlier` in q and k, by `v_outlier` in v. Applied in place to a [B][N][H][D] tensor; `which`: 0 q, 1 k,
// 2 v.
inline void add_outlier_channels(std::vector<float>& x, int D, int which, float qk_outlier = 8.f,
                                 float v_outlier = 4.f) {
  const float f = which == 2 ? v_outlier : qk_outlier;
  for (size_t i = 0; i < x.size(); ++i)
    if ((i % D) % 37 == 5) x[i] *= f;
}

inline double rel_l2(const std::vector<double>& got, const std::vector<double>& ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    num += (got[i] - ref[i]) * (got[i] - ref[i]);
    den += ref[i] * ref[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

}  // namespace moga::test
