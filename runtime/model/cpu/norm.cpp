#include "runtime/model/cpu/norm.h"

#include <cmath>

#include "runtime/model/cpu/parallel.h"

namespace moga::model::cpu {

namespace {
// Mean and 1/sqrt(var + eps) of one row, accumulated in double (as PyTorch's float LN accumulates
// with more care than a plain float sum).
inline void moments(const float* r, int dim, float eps, float* mean, float* rstd) {
  double s = 0.0, s2 = 0.0;
  for (int i = 0; i < dim; ++i) s += r[i];
  const double m = s / dim;
  for (int i = 0; i < dim; ++i) {
    const double d = r[i] - m;
    s2 += d * d;
  }
  *mean = (float)m;
  *rstd = (float)(1.0 / std::sqrt(s2 / dim + (double)eps));
}
}  // namespace

void layer_norm(const float* x, int rows, int dim, float eps, const float* w, const float* b, float* y, int threads) {
  parallel_ranges(rows, threads, 64, [&](long long r0, long long r1) {
    for (long long r = r0; r < r1; ++r) {
      const float* xr = x + r * dim;
      float* yr = y + r * dim;
      float m, rs;
      moments(xr, dim, eps, &m, &rs);
      for (int i = 0; i < dim; ++i) {
        float v = (xr[i] - m) * rs;
        if (w) v *= w[i];
        if (b) v += b[i];
        yr[i] = v;
      }
    }
  });
}

void rms_norm(const float* x, int rows, int dim, float eps, const float* w, float* y, int threads) {
  parallel_ranges(rows, threads, 64, [&](long long r0, long long r1) {
    for (long long r = r0; r < r1; ++r) {
      const float* xr = x + r * dim;
      float* yr = y + r * dim;
      double s2 = 0.0;
      for (int i = 0; i < dim; ++i) s2 += (double)xr[i] * xr[i];
      const float rs = (float)(1.0 / std::sqrt(s2 / dim + (double)eps));
      for (int i = 0; i < dim; ++i) yr[i] = xr[i] * rs * (w ? w[i] : 1.f);
    }
  });
}

void layer_norm_modulate(const float* x, int rows, int dim, float eps, const float* shift, const float* scale, float* y,
                         int threads) {
  parallel_ranges(rows, threads, 64, [&](long long r0, long long r1) {
    for (long long r = r0; r < r1; ++r) {
      const float* xr = x + r * dim;
      float* yr = y + r * dim;
      float m, rs;
      moments(xr, dim, eps, &m, &rs);
      for (int i = 0; i < dim; ++i) yr[i] = (xr[i] - m) * rs * (1.f + scale[i]) + shift[i];
    }
  });
}

void add_gated(float* x, const float* y, const float* gate, int rows, int dim) {
  for (long long r = 0; r < rows; ++r)
    for (int i = 0; i < dim; ++i) x[r * dim + i] += y[r * dim + i] * gate[i];
}

void add_inplace(float* x, const float* y, long long n) {
  for (long long i = 0; i < n; ++i) x[i] += y[i];
}

}  // namespace moga::model::cpu
