#include "runtime/model/cpu/embedding.h"

#include <cmath>

namespace moga::model::cpu {

void sinusoidal_embedding(int dim, double t, float* out) {
  const int half = dim / 2;
  for (int i = 0; i < half; ++i) {
    const double f = std::pow(10000.0, -(double)i / half);
    out[i] = (float)std::cos(t * f);
    out[half + i] = (float)std::sin(t * f);
  }
}

void im2col_patches(const float* lat, const PatchGrid& g, float* cols) {
  const int gf = g.gf(), gh = g.gh(), gw = g.gw(), P = g.patch_len();
  const long long HW = (long long)g.H * g.W, FHW = HW * g.F;
  for (int f = 0; f < gf; ++f)
    for (int h = 0; h < gh; ++h)
      for (int w = 0; w < gw; ++w) {
        float* row = cols + ((long long)(f * gh + h) * gw + w) * P;
        int j = 0;
        for (int c = 0; c < g.C; ++c)
          for (int it = 0; it < g.pt; ++it)
            for (int ih = 0; ih < g.ph; ++ih)
              for (int iw = 0; iw < g.pw; ++iw)
                row[j++] = lat[c * FHW + (long long)(f * g.pt + it) * HW + (long long)(h * g.ph + ih) * g.W + (w * g.pw + iw)];
      }
}

void patch_embed(const Linear& conv, const float* latent, const PatchGrid& g, float* x, float* cols, int threads) {
  im2col_patches(latent, g, cols);
  linear_forward(conv, cols, g.tokens(), x, threads);
}

void unpatchify(const float* tok, const PatchGrid& g, int C, float* lat) {
  const int gf = g.gf(), gh = g.gh(), gw = g.gw();
  const long long HW = (long long)g.H * g.W, FHW = HW * g.F;
  const int P = C * g.pt * g.ph * g.pw;
  for (int f = 0; f < gf; ++f)
    for (int h = 0; h < gh; ++h)
      for (int w = 0; w < gw; ++w) {
        const float* row = tok + ((long long)(f * gh + h) * gw + w) * P;
        for (int it = 0; it < g.pt; ++it)
          for (int ih = 0; ih < g.ph; ++ih)
            for (int iw = 0; iw < g.pw; ++iw)
              for (int c = 0; c < C; ++c)
                lat[c * FHW + (long long)(f * g.pt + it) * HW + (long long)(h * g.ph + ih) * g.W + (w * g.pw + iw)] =
                    row[((it * g.ph + ih) * g.pw + iw) * C + c];
      }
}

}  // namespace moga::model::cpu
