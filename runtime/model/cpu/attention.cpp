#include "runtime/model/cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "runtime/model/cpu/parallel.h"

namespace moga::model::cpu {

std::vector<ref::Grouping> self_attention(const SelfAttnInputs& in, float* out) {
  const ref::PatternSpec& spec = *in.pattern;
  ref::RefInputs ri;
  ri.B = 1;
  ri.heads = in.heads;
  ri.head_dim = in.head_dim;
  const int N = in.grid.F * in.grid.H * in.grid.W;
  ri.N = N;
  ri.video = in.grid;
  ri.q = in.q, ri.k = in.k, ri.v = in.v;
  ri.threads = in.threads;
  bool routed = false;
  for (const auto& k : spec.kernels) routed |= k.route.has_value();
  if (routed) {
    if (!in.router_x || !in.router_w) throw std::invalid_argument("self-attention: routed pattern without router weights");
    ri.x = in.router_x;
    ri.d_model = in.d_model;
    ri.router_weight.assign(spec.kernels.size(), nullptr);
    for (size_t i = 0; i < spec.kernels.size(); ++i)
      if (spec.kernels[i].route) ri.router_weight[i] = in.router_w;
  }
  ref::RefOutputF32 r;
  ref::reference_attention<float>(spec, ri, r);
  std::memcpy(out, r.out.data(), sizeof(float) * r.out.size());
  return std::move(r.groups);
}

void dense_attention(const float* q, const float* k, const float* v, int Nq, int Nk, int H, int D, float* out,
                     int threads) {
  const float scale = 1.f / std::sqrt((float)D);
  const long long stride = (long long)H * D;
  parallel_ranges(Nq, threads, 8, [&](long long t0, long long t1) {
    std::vector<float> s(Nk);
    for (long long t = t0; t < t1; ++t)
      for (int h = 0; h < H; ++h) {
        const float* qv = q + t * stride + (long long)h * D;
        float mx = -INFINITY;
        for (int j = 0; j < Nk; ++j) {
          const float* kv = k + j * stride + (long long)h * D;
          float dot = 0.f;
          for (int d = 0; d < D; ++d) dot += qv[d] * kv[d];
          s[j] = dot * scale;
          mx = std::max(mx, s[j]);
        }
        float sum = 0.f;
        for (int j = 0; j < Nk; ++j) sum += (s[j] = std::exp(s[j] - mx));
        float* o = out + t * stride + (long long)h * D;
        std::fill(o, o + D, 0.f);
        for (int j = 0; j < Nk; ++j) {
          const float p = s[j] / sum;
          const float* vv = v + j * stride + (long long)h * D;
          for (int d = 0; d < D; ++d) o[d] += p * vv[d];
        }
      }
  });
}

}  // namespace moga::model::cpu
