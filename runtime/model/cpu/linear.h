// Linear layer (PyTorch nn.Linear semantics: y = x W^T + b, W [out, in]) on the CPU in float32.
// The weight is kept transposed, [in, out], so the inner loop is an axpy over contiguous outputs
// that the compiler vectorises without reassociating sums; rows are split over threads.
#pragma once

#include <vector>

namespace moga::model::cpu {

struct Linear {
  int in = 0, out = 0;
  std::vector<float> wt;  // [in][out]  (the checkpoint's W [out][in], transposed)
  std::vector<float> b;   // [out] (empty: no bias)
  // From a checkpoint weight [out][in] (row-major) and bias [out] (nullptr: none).
  static Linear from_torch(const float* w, const float* bias, int out, int in);
};

// y[rows][out] = x[rows][in] W^T + b. y must not alias x.
void linear_forward(const Linear& l, const float* x, int rows, float* y, int threads);
// Plain GEMM used by linear_forward: y[rows][n] = x[rows][k] * wt[k][n] (+ bias[n]).
void gemm_rowmajor(const float* x, const float* wt, const float* bias, int rows, int k, int n, float* y, int threads);

}  // namespace moga::model::cpu
