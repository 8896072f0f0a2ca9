// Attention of the CPU backend.
//  * self-attention: any compiled pattern, executed by the CPU reference (runtime/reference) in
//    float32 from its manifest; routed kernels get the router input and weight of the block.
//  * cross-attention: dense softmax attention of the video tokens over the text tokens (no mask,
//    no RoPE), scale 1/sqrt(head_dim).
#pragma once

#include <vector>

#include "runtime/reference/attention.h"
#include "runtime/reference/manifest.h"

namespace moga::model::cpu {

struct SelfAttnInputs {
  const ref::PatternSpec* pattern = nullptr;
  int heads = 0, head_dim = 0;
  ref::VideoShape grid;      // the token grid (F x rows x cols) and shot starts
  const float* q = nullptr;  // [N][heads][head_dim]
  const float* k = nullptr;
  const float* v = nullptr;
  const float* router_x = nullptr;  // [N][d_model] (routed patterns)
  const float* router_w = nullptr;  // [d_model][M]  (the checkpoint's [M, d_model], transposed)
  int d_model = 0;
  int threads = 0;
};
// out [N][heads][head_dim]. Returns the groupings (per kernel) for statistics.
std::vector<ref::Grouping> self_attention(const SelfAttnInputs& in, float* out);

// out[t][h] = softmax_j(q[t][h] . k[j][h] / sqrt(D)) v[j][h], t < Nq, j < Nk.
void dense_attention(const float* q, const float* k, const float* v, int Nq, int Nk, int heads, int head_dim, float* out,
                     int threads);

}  // namespace moga::model::cpu
