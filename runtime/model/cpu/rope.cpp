#include "runtime/model/cpu/rope.h"

#include <cmath>
#include <stdexcept>

#include "runtime/model/cpu/parallel.h"

namespace moga::model::cpu {

RopeTable make_rope(int d, int F, int H, int W, double theta) {
  if (d % 2) throw std::invalid_argument("rope: head_dim must be even");
  RopeTable t;
  t.head_dim = d, t.F = F, t.H = H, t.W = W;
  const int c = d / 2, c1 = c / 3, c0 = c - 2 * c1;
  const int part_len[3] = {c0, c1, c1};
  const long long N = (long long)F * H * W;
  t.cos.resize(N * c);
  t.sin.resize(N * c);
  for (int f = 0; f < F; ++f)
    for (int h = 0; h < H; ++h)
      for (int w = 0; w < W; ++w) {
        const long long n = ((long long)f * H + h) * W + w;
        const int pos[3] = {f, h, w};
        int j = 0;
        for (int p = 0; p < 3; ++p)
          for (int i = 0; i < part_len[p]; ++i, ++j) {
            const double freq = 1.0 / std::pow(theta, (2.0 * i) / (2.0 * part_len[p]));
            const double a = pos[p] * freq;
            t.cos[n * c + j] = (float)std::cos(a);
            t.sin[n * c + j] = (float)std::sin(a);
          }
      }
  return t;
}

void apply_rope(const RopeTable& t, float* x, int N, int heads, int threads) {
  const int d = t.head_dim, c = d / 2;
  if ((long long)N * c != (long long)t.cos.size()) throw std::invalid_argument("rope: table is for another grid");
  parallel_ranges(N, threads, 64, [&](long long n0, long long n1) {
    for (long long n = n0; n < n1; ++n) {
      const float* cs = t.cos.data() + n * c;
      const float* sn = t.sin.data() + n * c;
      for (int h = 0; h < heads; ++h) {
        float* v = x + (n * heads + h) * d;
        for (int j = 0; j < c; ++j) {
          const float a = v[2 * j], b = v[2 * j + 1];
          v[2 * j] = a * cs[j] - b * sn[j];
          v[2 * j + 1] = a * sn[j] + b * cs[j];
        }
      }
    }
  });
}

}  // namespace moga::model::cpu
