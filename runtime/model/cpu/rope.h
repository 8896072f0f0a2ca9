// Wan2.1's 3-D rotary position embedding (rope_params / rope_apply), float32 data, double angles.
// The head dim d is seen as d/2 complex pairs (x[2j], x[2j+1]); pairs [0, c0) rotate with the
// token's frame, [c0, c0+c1) with its row, [c0+c1, d/2) with its column, where c1 = c2 = (d/2)/3 and
// c0 = d/2 - 2 c1 (in real dims: d - 4(d/6), 2(d/6), 2(d/6): 44/42/42 at d = 128). Within a part of
// p pairs, pair j turns by pos * theta^(-2j / (2p)).
#pragma once

#include <vector>

namespace moga::model::cpu {

struct RopeTable {
  int head_dim = 0, F = 0, H = 0, W = 0;  // token grid
  std::vector<float> cos, sin;           // [N][head_dim/2]
};
RopeTable make_rope(int head_dim, int F, int H, int W, double theta);
// x: [N][heads][head_dim], rotated in place.
void apply_rope(const RopeTable& t, float* x, int N, int heads, int threads);

}  // namespace moga::model::cpu
