// The log-sum-exp merge of partial attention outputs (ring attention, docs/distributed.md): one query
// row's softmax over all its keys from partial softmaxes over disjoint key blocks i,
//
//   lse = logsumexp_i lse_i,   o = sum_i exp(lse_i - lse) o_i
//
// where o_i is the row's attention output over block i alone (normalised over that block) and lse_i
// the natural-log log-sum-exp of its scores there (-inf: the row sees no key of block i). Folded one
// block at a time (merge_row), which is the same sum: a block with lse_i = -inf is skipped without
// reading o_i, so a row that sees no key at all keeps its initial value 0 and lse -inf, never NaN.
// The same header serves the CPU emulation (runtime/parallel/usp_cpu.cpp, double) and the GPU path
// (the kernel lse_merge_bf16 below, NVRTC, float): host-and-device inline functions, no CUDA headers.
#pragma once

#if !defined(__CUDACC_RTC__)
#include <cmath>
#include <limits>
#endif

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define MOGA_LSE_HD __host__ __device__ __forceinline__
#else
#define MOGA_LSE_HD inline
#endif

namespace moga {
namespace lse_merge {

MOGA_LSE_HD float exp_of(float x) { return ::expf(x); }
MOGA_LSE_HD double exp_of(double x) { return ::exp(x); }
MOGA_LSE_HD float log_of(float x) { return ::logf(x); }
MOGA_LSE_HD double log_of(double x) { return ::log(x); }

template <class T>
MOGA_LSE_HD T neg_inf();
template <>
MOGA_LSE_HD float neg_inf<float>() {
#if defined(__CUDA_ARCH__)
  return __int_as_float(0xff800000);
#else
  return -std::numeric_limits<float>::infinity();
#endif
}
template <>
MOGA_LSE_HD double neg_inf<double>() {
#if defined(__CUDA_ARCH__)
  return __longlong_as_double(0xfff0000000000000ULL);
#else
  return -std::numeric_limits<double>::infinity();
#endif
}

// The weights of a fold: the running state (lse_a) and a block (lse_b) give the merged lse and the
// factors of the two outputs, ca = exp(lse_a - lse), cb = exp(lse_b - lse) (they sum to 1). Computed
// from the larger lse so neither exponent is positive (no overflow).
template <class T>
struct Fold {
  T lse, ca, cb;
};
template <class T>
MOGA_LSE_HD Fold<T> fold_weights(T lse_a, T lse_b) {
  const T m = lse_a > lse_b ? lse_a : lse_b;
  const T wa = exp_of(lse_a - m), wb = exp_of(lse_b - m), s = wa + wb;
  return {m + log_of(s), wa / s, wb / s};
}

// Folds block b (lse_b, o_b[0..D)) into the running row (lse_a, o_a[0..D)). The running row starts at
// lse -inf (its o is then never read, only overwritten). o_b is read only when lse_b is finite.
template <class T, class U>
MOGA_LSE_HD void merge_row(T& lse_a, T* o_a, T lse_b, const U* o_b, int D) {
  if (lse_b == neg_inf<T>()) return;  // the row sees no key of this block
  if (lse_a == neg_inf<T>()) {         // the first block with a key: copied exactly
    lse_a = lse_b;
    for (int d = 0; d < D; ++d) o_a[d] = (T)o_b[d];
    return;
  }
  const Fold<T> f = fold_weights(lse_a, lse_b);
  for (int d = 0; d < D; ++d) o_a[d] = f.ca * o_a[d] + f.cb * (T)o_b[d];
  lse_a = f.lse;
}

}  // namespace lse_merge
}  // namespace moga

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
// One ring step's partial output folded into a rank's running output (runtime/parallel/ring_gpu.cpp).
// One warp per (row, head); rows = the rank's queries, H = its heads.
//   acc      [rows][H][D] f32, the running output (initial contents irrelevant: acc_lse starts at -inf)
//   acc_lse  [H][rows] f32, the running log-sum-exp (set to -inf before the first step)
//   part     bf16 [rows][H][D] at row stride part_ld elements (the step's attention output)
//   part_lse [H][rows] f32 (RunOptions::lse's layout for B = 1, top 1)
//   out      null, or (last step) bf16 [rows][H][D] at row stride out_ld: the merged output, 0 for a
//            row that saw no key in any step
// bf16 is carried as unsigned short (no cuda_bf16.h), rounded to nearest even.
extern "C" __global__ void lse_merge_bf16(float* acc, float* acc_lse, const unsigned short* part, long long part_ld,
                                          const float* part_lse, int rows, int H, int D, unsigned short* out,
                                          long long out_ld) {
  const long long item = (long long)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
  if (item >= (long long)rows * H) return;
  const int lane = threadIdx.x % 32;
  const long long t = item / H;
  const int h = (int)(item % H);
  float* a = acc + item * D;
  const unsigned short* p = part + t * part_ld + (long long)h * D;
  float la = acc_lse[(long long)h * rows + t];
  const float lb = part_lse[(long long)h * rows + t];
  if (lb != moga::lse_merge::neg_inf<float>()) {
    const bool first = la == moga::lse_merge::neg_inf<float>();
    const moga::lse_merge::Fold<float> f =
        first ? moga::lse_merge::Fold<float>{lb, 0.f, 1.f} : moga::lse_merge::fold_weights(la, lb);
    for (int d = lane; d < D; d += 32) {
      const float ob = __uint_as_float(((unsigned)p[d]) << 16);
      a[d] = first ? ob : f.ca * a[d] + f.cb * ob;
    }
    la = f.lse;
  }
  __syncwarp();
  if (lane == 0) acc_lse[(long long)h * rows + t] = la;
  if (out) {
    unsigned short* o = out + t * out_ld + (long long)h * D;
    const bool none = la == moga::lse_merge::neg_inf<float>();
    for (int d = lane; d < D; d += 32) {
      const unsigned u = __float_as_uint(none ? 0.f : a[d]);
      o[d] = (unsigned short)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
    }
  }
}
#endif
