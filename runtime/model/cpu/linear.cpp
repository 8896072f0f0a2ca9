#include "runtime/model/cpu/linear.h"

#include <algorithm>
#include <cstring>

#include "runtime/model/cpu/parallel.h"

namespace moga::model::cpu {

Linear Linear::from_torch(const float* w, const float* bias, int out, int in) {
  Linear l;
  l.in = in, l.out = out;
  l.wt.resize((size_t)in * out);
  for (int o = 0; o < out; ++o)
    for (int i = 0; i < in; ++i) l.wt[(size_t)i * out + o] = w[(size_t)o * in + i];
  if (bias) l.b.assign(bias, bias + out);
  return l;
}

namespace {

// Rows [r0, r1) of y, columns in blocks of kNB that stay in L1 together with 4 rows of x.
constexpr int kRB = 4, kNB = 256, kKB = 128;

void gemm_rows(const float* x, const float* wt, const float* bias, long long r0, long long r1, int k, int n, float* y) {
  for (long long r = r0; r < r1; ++r) {
    float* yr = y + r * n;
    if (bias) std::memcpy(yr, bias, sizeof(float) * n);
    else std::fill(yr, yr + n, 0.f);
  }
  for (int n0 = 0; n0 < n; n0 += kNB) {
    const int nb = std::min(kNB, n - n0);
    for (int k0 = 0; k0 < k; k0 += kKB) {
      const int kb = std::min(kKB, k - k0);
      long long r = r0;
      for (; r + kRB <= r1; r += kRB) {
        float* y0 = y + r * n + n0;
        float* y1 = y0 + n;
        float* y2 = y1 + n;
        float* y3 = y2 + n;
        const float* x0 = x + r * k + k0;
        const float* x1 = x0 + k;
        const float* x2 = x1 + k;
        const float* x3 = x2 + k;
        for (int kk = 0; kk < kb; ++kk) {
          const float* w = wt + (size_t)(k0 + kk) * n + n0;
          const float a0 = x0[kk], a1 = x1[kk], a2 = x2[kk], a3 = x3[kk];
          for (int j = 0; j < nb; ++j) {
            const float wv = w[j];
            y0[j] += a0 * wv;
            y1[j] += a1 * wv;
            y2[j] += a2 * wv;
            y3[j] += a3 * wv;
          }
        }
      }
      for (; r < r1; ++r) {
        float* y0 = y + r * n + n0;
        const float* x0 = x + r * k + k0;
        for (int kk = 0; kk < kb; ++kk) {
          const float* w = wt + (size_t)(k0 + kk) * n + n0;
          const float a0 = x0[kk];
          for (int j = 0; j < nb; ++j) y0[j] += a0 * w[j];
        }
      }
    }
  }
}

}  // namespace

void gemm_rowmajor(const float* x, const float* wt, const float* bias, int rows, int k, int n, float* y, int threads) {
  // Rows split over threads in multiples of kRB; tiny products stay on the calling thread.
  const long long blocks = (rows + kRB - 1) / kRB;
  const bool small = (long long)rows * k * n < (1LL << 18);
  parallel_ranges(blocks, small ? 1 : threads, 1, [&](long long b0, long long b1) {
    gemm_rows(x, wt, bias, b0 * kRB, std::min<long long>(rows, b1 * kRB), k, n, y);
  });
}

void linear_forward(const Linear& l, const float* x, int rows, float* y, int threads) {
  gemm_rowmajor(x, l.wt.data(), l.b.empty() ? nullptr : l.b.data(), rows, l.in, l.out, y, threads);
}

}  // namespace moga::model::cpu
