// Embeddings of the Wan2.1 DiT: the sinusoidal timestep embedding, the patch embedding (Conv3d with
// kernel = stride = patch, done as im2col + GEMM) and its inverse (unpatchify of the head output).
#pragma once

#include "runtime/model/cpu/linear.h"

namespace moga::model::cpu {

// Wan's sinusoidal_embedding_1d(dim, t): half = dim/2, f_i = 10000^(-i/half),
// out = [cos(t f_0) .. cos(t f_{half-1}), sin(t f_0) .. sin(t f_{half-1})]  (computed in double).
void sinusoidal_embedding(int dim, double t, float* out);

// The token grid of a latent [C, F, H, W] with patch (pt, ph, pw): (F/pt, H/ph, W/pw), frame-major.
struct PatchGrid {
  int C = 16, F = 1, H = 1, W = 1;  // latent
  int pt = 1, ph = 2, pw = 2;
  int gf() const { return F / pt; }
  int gh() const { return H / ph; }
  int gw() const { return W / pw; }
  int tokens() const { return gf() * gh() * gw(); }
  int patch_len() const { return C * pt * ph * pw; }
};

// cols[token][c*pt*ph*pw + (it*ph + ih)*pw + iw] = latent[c][f*pt+it][h*ph+ih][w*pw+iw]: the Conv3d
// weight [dim, C, pt, ph, pw] flattened per output channel is the matching Linear weight.
void im2col_patches(const float* latent, const PatchGrid& g, float* cols);
// x[N][dim] = Conv3d(latent) (the weight as a Linear [dim][C*pt*ph*pw]).
void patch_embed(const Linear& conv, const float* latent, const PatchGrid& g, float* x, float* scratch_cols, int threads);
// Wan's unpatchify: tokens [N][pt*ph*pw*C] (index ((it*ph + ih)*pw + iw)*C + c, channels last)
// -> latent [C][F][H][W].
void unpatchify(const float* tokens, const PatchGrid& g, int C_out, float* latent);

}  // namespace moga::model::cpu
