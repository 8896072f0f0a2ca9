// Pointwise activations of the Wan2.1 DiT, float32.
#pragma once

#include <cmath>

namespace moga::model::cpu {

// GELU, tanh approximation (torch approximate='tanh'): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
inline float gelu_tanh(float x) {
  const float k = 0.7978845608028654f;  // sqrt(2/pi)
  return 0.5f * x * (1.f + std::tanh(k * (x + 0.044715f * x * x * x)));
}
// SiLU: x * sigmoid(x)
inline float silu(float x) { return x / (1.f + std::exp(-x)); }

inline void gelu_tanh_inplace(float* x, long long n) {
  for (long long i = 0; i < n; ++i) x[i] = gelu_tanh(x[i]);
}
inline void silu_inplace(float* x, long long n) {
  for (long long i = 0; i < n; ++i) x[i] = silu(x[i]);
}

}  // namespace moga::model::cpu
