// Normalisations and the adaLN modulation of the Wan2.1 block, float32, row-wise over `dim`.
#pragma once

namespace moga::model::cpu {

// LayerNorm over dim (biased variance, eps inside the sqrt); weight/bias nullptr: no affine.
void layer_norm(const float* x, int rows, int dim, float eps, const float* weight, const float* bias, float* y,
                int threads);
// RMSNorm over dim (Wan's WanRMSNorm / torch.nn.RMSNorm): y = x * rsqrt(mean(x^2) + eps) * weight.
void rms_norm(const float* x, int rows, int dim, float eps, const float* weight, float* y, int threads);
// y = LN(x) * (1 + scale) + shift (LN without affine); scale/shift are [dim] vectors (shared by rows).
void layer_norm_modulate(const float* x, int rows, int dim, float eps, const float* shift, const float* scale, float* y,
                         int threads);
// x += y * gate (gate [dim], shared by rows)
void add_gated(float* x, const float* y, const float* gate, int rows, int dim);
// x += y
void add_inplace(float* x, const float* y, long long n);

}  // namespace moga::model::cpu
