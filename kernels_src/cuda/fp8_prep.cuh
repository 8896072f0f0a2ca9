// The FP8 attention kernel's inputs (attention_fwd_fp8.cuh, registry row sm90.tma.fp8) from the bf16 q, k,
// v: two launches after a memset of the scales.
//   fp8_amax_kernel      amax[t][b H + h] = max |x| over tensor t's (batch b, head h) slice (t: 0 q, 1 k,
//                        2 v), one atomicMax per block of 64 rows (floats >= 0 order as their bits).
//   fp8_quantize_kernel  x * 448 / amax (1 when amax = 0) as e4m3 (round to nearest, saturating), in the
//                        identity order or a gathered kernel's (Fp8PrepParams::perm): q8 and
//                        k8 packed [B][rows][H][D]; v transposed into vt8 [B][H][D][ldv] (keys
//                        contiguous: FP8 wgmma reads its B operand K-major only), each key at column
//                        fp8_key_slot of its 16-key block, zeros past Nk up to ldv = Nk rounded up to 64.
// q and k are rotated first (fp8_row8: Hadamard, Q K^T unchanged).
// The scales are per (tensor, batch, head): per-tensor granularity of FlashAttention-3's descale factors,
// one finer (a head's outlier channels do not coarsen the other heads). The kernel multiplies the scores
// by amax_q amax_k / 448^2 (folded into the softmax scale) and O by amax_v / 448.
// Grid of both: (ceil(max(N, ldv) / 64), H, 3 B), 256 threads; head dim 128 (kFp8D).
// NVRTC-compatible: no host standard headers (host code includes it for Fp8PrepParams and fp8_key_slot).
#pragma once
#include "params.cuh"
#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#include "mma_sm80.cuh"
#include "wgmma_fp8.cuh"
#endif

namespace moga {

constexpr int kFp8D = 128;            // the head dim of the FP8 kernel (a row of Q or K = one 128-byte swizzle row)
constexpr float kFp8Max = 448.f;      // e4m3's largest finite value
constexpr int kFp8RowsPerBlock = 64;  // rows per block of the prep kernels; ldv is a multiple of it

// The column of V^T (within the key's aligned block of 16) that holds key r: the order in which a
// thread's f32 accumulator columns of S become the k index of its P fragment (wgmma_fp8.cuh). The thread
// with lane % 4 = t holds keys 2t, 2t + 1, 8 + 2t, 9 + 2t of a block of 16 and packs them as k = 4t .. 4t + 3:
// key 8 a + 2 t + e sits at column 4 t + 2 a + e.
MOGA_HD constexpr int fp8_key_slot(int r) { return (r & ~15) | (((r >> 1) & 3) << 2) | (((r >> 3) & 1) << 1) | (r & 1); }

// The row pitch (bytes) of V^T for Nk keys.
MOGA_HD constexpr long long fp8_vt_ld(long long nk) {
  return (nk + kFp8RowsPerBlock - 1) / kFp8RowsPerBlock * kFp8RowsPerBlock;
}

struct Fp8PrepParams {
  const void* src[3];             // bf16 q, k, v [B][rows][H][D] (strides in elements, D contiguous)
  long long sb[3], sn[3], sh[3];
  int rows[3];                    // N, Nk, Nk
  unsigned char* q8;              // [B][N][H][D]
  unsigned char* k8;              // [B][Nk][H][D]
  unsigned char* vt8;             // [B][H][D][ldv]
  long long ldv;
  int B, H;
  float* amax;                    // [3][B H], zero before fp8_amax_kernel
  // fp8_quantize_kernel only, optional: a gathered kernel's token order ([B][rows], rows = its sorted
  // length; -1: padding, written as zeros): row n of q8, k8 and key n of vt8 are token perm[b][n] (the
  // attention then runs in that order, as the bf16 kernels do through perm). nullptr: the identity.
  const int* perm;
};

// The kernel's view of the scales (third parameter of attention_fwd_fp8).
struct Fp8Scales {
  const float* amax;  // [3][B H] as above
};

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#ifndef MOGA_NO_PREP_KERNELS
// 8 bf16 at src (16-byte aligned) as floats
__device__ __forceinline__ void fp8_load8(const unsigned short* src, float (&x)[8]) {
  const uint4 v = __ldg(reinterpret_cast<const uint4*>(src));
  const unsigned w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    x[2 * i] = sm80::bf16lo_to_f32(w[i]);
    x[2 * i + 1] = sm80::bf16hi_to_f32(w[i]);
  }
}

// Row n's 8 values at columns 8 c .. 8 c + 7 (c = lane % 16: a row's 16 threads are 16 consecutive lanes),
// zeros past `rows`; q and k (t < 2) rotated by the orthonormal Hadamard matrix H / sqrt(128)
// (FlashAttention-3's incoherent processing: Q H (K H)^T = Q K^T, and a head's outlier channels spread over
// all 128, so e4m3's relative rounding no longer scales with the outliers; test/unit/fp8_model.h: rel L2
// 0.135 -> 0.047 with outlier channels). The butterfly in Sylvester order: stages of 1, 2, 4 columns inside
// the thread, 8 .. 64 across lanes (xor 1 .. 8). Every lane of the warp calls it (the shuffles).
__device__ __forceinline__ void fp8_row8(const Fp8PrepParams& p, int t, const unsigned short* base, int n, int c,
                                         float (&x)[8], const int* perm = nullptr) {
#pragma unroll
  for (int e = 0; e < 8; ++e) x[e] = 0.f;
  const int tok = n >= p.rows[t] ? -1 : perm ? __ldg(perm + n) : n;  // perm: this batch item's order
  if (tok >= 0) fp8_load8(base + tok * p.sn[t] + c * 8, x);
  if (t < 2) {
#pragma unroll
    for (int len = 1; len < 8; len <<= 1)
#pragma unroll
      for (int e = 0; e < 8; ++e)
        if ((e & len) == 0) {
          const float a = x[e], b = x[e + len];
          x[e] = a + b;
          x[e + len] = a - b;
        }
#pragma unroll
    for (int m = 1; m < 16; m <<= 1) {
      const bool upper = (c & m) != 0;  // this thread holds the pair's higher columns
#pragma unroll
      for (int e = 0; e < 8; ++e) {
        const float o = __shfl_xor_sync(0xffffffffu, x[e], m);
        x[e] = upper ? o - x[e] : x[e] + o;
      }
    }
    constexpr float kNorm = 0.08838834764831845f;  // 1 / sqrt(128)
#pragma unroll
    for (int e = 0; e < 8; ++e) x[e] *= kNorm;
  }
}

__global__ void __launch_bounds__(256) fp8_amax_kernel(const Fp8PrepParams p) {
  grid_dep_wait();
  const int t = blockIdx.z % 3, b = blockIdx.z / 3, h = blockIdx.y;
  const int n0 = blockIdx.x * kFp8RowsPerBlock, rows = p.rows[t];
  if (n0 >= rows) return;  // uniform per block
  const unsigned short* base = static_cast<const unsigned short*>(p.src[t]) + b * p.sb[t] + h * p.sh[t];
  float m = 0.f;
#pragma unroll 1
  for (int i = threadIdx.x; i < kFp8RowsPerBlock * (kFp8D / 8); i += 256) {  // the same trip count in every thread
    float x[8];
    fp8_row8(p, t, base, n0 + i / (kFp8D / 8), i % (kFp8D / 8), x);
#pragma unroll
    for (int e = 0; e < 8; ++e) m = fmaxf(m, fabsf(x[e]));
  }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
  __shared__ float wm[8];
  if ((threadIdx.x & 31) == 0) wm[threadIdx.x >> 5] = m;
  __syncthreads();
  if (threadIdx.x == 0) {
#pragma unroll
    for (int w = 1; w < 8; ++w) m = fmaxf(m, wm[w]);
    atomicMax(reinterpret_cast<int*>(p.amax) + t * p.B * p.H + b * p.H + h, __float_as_int(m));
  }
}

__global__ void __launch_bounds__(256) fp8_quantize_kernel(const Fp8PrepParams p) {
  grid_dep_wait();
  const int t = blockIdx.z % 3, b = blockIdx.z / 3, h = blockIdx.y;
  const int n0 = blockIdx.x * kFp8RowsPerBlock, rows = p.rows[t];
  if (n0 >= (t == 2 ? p.ldv : rows)) return;  // uniform per block
  const float a = p.amax[t * p.B * p.H + b * p.H + h];
  const float s = a > 0.f ? kFp8Max / a : 1.f;
  const unsigned short* base = static_cast<const unsigned short*>(p.src[t]) + b * p.sb[t] + h * p.sh[t];
  // V^T of the block: [D][64 keys], rows 80 bytes apart (16-byte aligned, fewer bank conflicts than 64)
  __shared__ __align__(16) unsigned char sv[kFp8D][kFp8RowsPerBlock + 16];
#pragma unroll 1
  for (int i = threadIdx.x; i < kFp8RowsPerBlock * (kFp8D / 8); i += 256) {
    const int r = i / (kFp8D / 8), c = i % (kFp8D / 8), n = n0 + r;
    float x[8];
    fp8_row8(p, t, base, n, c, x, p.perm ? p.perm + (long long)b * rows : nullptr);
    const unsigned lo = sm90::pack_e4m3x4(x[0] * s, x[1] * s, x[2] * s, x[3] * s);
    const unsigned hi = sm90::pack_e4m3x4(x[4] * s, x[5] * s, x[6] * s, x[7] * s);
    if (t < 2) {
      if (n < rows) {
        unsigned char* dst = (t == 0 ? p.q8 : p.k8) + (((long long)b * rows + n) * p.H + h) * kFp8D + c * 8;
        *reinterpret_cast<uint2*>(dst) = make_uint2(lo, hi);
      }
    } else {
      const int col = fp8_key_slot(r);
#pragma unroll
      for (int e = 0; e < 8; ++e) sv[c * 8 + e][col] = static_cast<unsigned char>(((e < 4 ? lo : hi) >> (8 * (e & 3))) & 0xffu);
    }
  }
  if (t == 2) {
    __syncthreads();
    unsigned char* dst = p.vt8 + ((long long)b * p.H + h) * kFp8D * p.ldv + n0;
#pragma unroll 1
    for (int i = threadIdx.x; i < kFp8D * (kFp8RowsPerBlock / 16); i += 256) {
      const int d = i / (kFp8RowsPerBlock / 16), cc = i % (kFp8RowsPerBlock / 16);
      *reinterpret_cast<uint4*>(dst + d * p.ldv + cc * 16) = *reinterpret_cast<const uint4*>(&sv[d][cc * 16]);
    }
  }
}
#endif
#endif

}  // namespace moga
