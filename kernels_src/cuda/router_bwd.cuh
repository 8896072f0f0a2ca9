// The router's backward on the GPU (runtime/attention/router_backward.h): from the gate gradient of a routed
// kernel (attn_bwd_gate_kernel's dgate, per entry) to the router's logits, its weight and its input, and the
// MoGA balance loss with its gradient. Router: l = x W (x bf16 [T][d], T = B N tokens, W bf16 [d][M]),
// p = softmax(l) over all M groups, gate(t, j) = p_{g_j(t)}(t). The three products (l = x W, dx = dl W^T,
// dW = x^T dl) run on cuBLASLt (runtime/gemm); these are the small kernels around them:
//
//   router_bwd_hist_kernel      counts[m] = #entries routed to m (per-block shared counts, then int atomics:
//                               deterministic)
//   router_bwd_pack_w_kernel    wp = [W^T; W^T], bf16 [2M][d] (any strides of W): the GEMMs' A operand
//   router_bwd_softmax_kernel   per token (one warp): p = softmax(l); dp_m = sum of dgate over the token's
//                               entries routed to m, + balance_weight M F_m / T; dl = p (dp - sum_m p_m dp_m),
//                               written as float32 (dlogits, optional) and split into two bf16 parts
//                               [hi | lo] (hi = bf16(dl), lo = bf16(dl - hi)): the bf16 GEMMs' operand, which
//                               keeps dl to ~2^-17 relative; per-block sums of p for the loss value
//   router_bwd_loss_kernel      L_bal = balance_weight M sum_m F_m P_m, F_m = counts_m / (k T), P_m = mean p_m
//   router_bwd_fold_kernel      dW = x^T hi + x^T lo from the GEMM's [2M][d] result
// Every reduction here runs in a fixed order.
// NVRTC-compatible: no host standard headers.
#pragma once

namespace moga {

struct RouterBwdParams {
  const float* logits;   // [T][ldl]: x W (cuBLASLt, float32)
  float* dl;             // [T][M]: d L / d l (the API's dlogits) or null
  unsigned short* hl;    // [T][ldh] bf16: hi in columns 0..M-1, lo in M..2M-1
  const int* gid;        // [T][k]
  const float* dgate;    // [T][k] or null (balance loss only)
  int* counts;           // [M] (balance loss) or null
  float* psum;           // [gridDim.x][M]: per block, sum of p (balance loss) or null
  float* loss;           // [1] or null
  int T, M, k, ldl, ldh;
  float balance_weight;  // 0: no balance term
};

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
namespace router_bwd_detail {
__device__ __forceinline__ float bf2f(unsigned short h) { return __uint_as_float((unsigned)h << 16); }
// Round to nearest even; NaN stays NaN.
__device__ __forceinline__ unsigned short f2bf(float f) {
  unsigned u = __float_as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fc0;
  u += 0x7fffu + ((u >> 16) & 1u);
  return (unsigned short)(u >> 16);
}
}  // namespace router_bwd_detail

// Grid-stride over the T k entries; M <= 256. Integer counts: the same result in any order.
__global__ void __launch_bounds__(256) router_bwd_hist_kernel(const RouterBwdParams p) {
  __shared__ int c[256];
  for (int m = threadIdx.x; m < p.M; m += blockDim.x) c[m] = 0;
  __syncthreads();
  const long long n = (long long)p.T * p.k;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    const int g = p.gid[i];
    if (g >= 0 && g < p.M) atomicAdd(c + g, 1);
  }
  __syncthreads();
  for (int m = threadIdx.x; m < p.M; m += blockDim.x)
    if (c[m]) atomicAdd(p.counts + m, c[m]);
}

// wp[r][i] = W(i, r mod M) for r < 2M, i < d: W^T stacked twice, bf16 [2M][d] (column-major d x 2M, ld d).
// W(i, m) = w[i s0 + m s1].
__global__ void __launch_bounds__(256) router_bwd_pack_w_kernel(const unsigned short* __restrict__ w, long long s0,
                                                                long long s1, unsigned short* __restrict__ wp, int d,
                                                                int M) {
  const long long n = 2LL * M * d;
  for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < n; e += (long long)gridDim.x * blockDim.x) {
    const int r = (int)(e / d), i = (int)(e % d);
    wp[e] = w[i * s0 + (r % M) * s1];
  }
}

// One warp per token, a fixed token set per block (8 warps, token = block * 8 + warp + i * 8 gridDim): M <= 256,
// lane l holds groups l, l + 32, ...
__global__ void __launch_bounds__(256) router_bwd_softmax_kernel(const RouterBwdParams p) {
  using router_bwd_detail::bf2f;
  using router_bwd_detail::f2bf;
  constexpr int kMaxPerLane = 8, kMaxK = 8;
  __shared__ float part[8][256];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const float bal = p.counts ? p.balance_weight * p.M / ((float)p.k * p.T) / p.T : 0.f;  // * counts_m
  const float* __restrict__ logits = p.logits;
  const int* __restrict__ gid = p.gid;
  const float* __restrict__ dgate = p.dgate;
  float ps[kMaxPerLane] = {};
  for (int t = blockIdx.x * 8 + warp; t < p.T; t += gridDim.x * 8) {
    // every load of the token first (the logits, its k entries), then the arithmetic
    const float* l = logits + (long long)t * p.ldl;
    float v[kMaxPerLane], mx = -3.402823466e38f;
#pragma unroll
    for (int e = 0; e < kMaxPerLane; ++e) {
      const int m = lane + 32 * e;
      v[e] = m < p.M ? l[m] : -3.402823466e38f;
    }
    int g = -1;
    float dg = 0.f;
    if (lane < p.k) {  // k <= 8: lane j holds entry j
      g = gid[(long long)t * p.k + lane];
      if (dgate) dg = dgate[(long long)t * p.k + lane];
    }
#pragma unroll
    for (int e = 0; e < kMaxPerLane; ++e) mx = fmaxf(mx, v[e]);
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
    float sum = 0.f;
#pragma unroll
    for (int e = 0; e < kMaxPerLane; ++e) {
      v[e] = lane + 32 * e < p.M ? __expf(v[e] - mx) : 0.f;
      sum += v[e];
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
    float dp[kMaxPerLane], pdp = 0.f;
#pragma unroll
    for (int e = 0; e < kMaxPerLane; ++e) {
      const int m = lane + 32 * e;
      v[e] /= sum;
      ps[e] += v[e];
      dp[e] = m < p.M && p.counts ? bal * p.counts[m] : 0.f;
    }
    if (dgate) {
#pragma unroll
      for (int j = 0; j < kMaxK; ++j) {  // the entries in order j = 0..k-1, each added by its group's lane
        if (j >= p.k) break;
        const int gj = __shfl_sync(0xffffffffu, g, j);
        const float dj = __shfl_sync(0xffffffffu, dg, j);
        if (gj >= 0 && gj < p.M && (gj & 31) == lane) {
#pragma unroll
          for (int e = 0; e < kMaxPerLane; ++e)
            if (e == (gj >> 5)) dp[e] += dj;
        }
      }
    }
#pragma unroll
    for (int e = 0; e < kMaxPerLane; ++e) pdp += v[e] * dp[e];
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) pdp += __shfl_xor_sync(0xffffffffu, pdp, o);
    float* dl = p.dl ? p.dl + (long long)t * p.M : nullptr;
    unsigned short* hl = p.hl + (long long)t * p.ldh;
#pragma unroll
    for (int e = 0; e < kMaxPerLane; ++e) {
      const int m = lane + 32 * e;
      if (m < p.M) {
        const float r = v[e] * (dp[e] - pdp);
        const unsigned short hi = f2bf(r);
        if (dl) dl[m] = r;
        hl[m] = hi;
        hl[p.M + m] = f2bf(r - bf2f(hi));  // exact difference: hi is r rounded
      }
    }
  }
  if (!p.psum) return;
#pragma unroll
  for (int e = 0; e < kMaxPerLane; ++e)
    if (lane + 32 * e < 256) part[warp][lane + 32 * e] = ps[e];
  __syncthreads();
  for (int m = threadIdx.x; m < p.M; m += blockDim.x) {
    float s = 0.f;
    for (int w = 0; w < 8; ++w) s += part[w][m];
    p.psum[(long long)blockIdx.x * p.M + m] = s;
  }
}

// One block of 256 threads; `blocks`: the softmax kernel's grid (up to 1024). P_m = sum of the blocks' psum:
// R = 256 / M threads per group (M <= 256), thread i summing blocks b = i / M, i / M + R, ... of group i % M, then
// group m's R partial sums added in order by thread m: a fixed order (deterministic) with R loads in flight per
// group, not one thread walking all the blocks of its group alone.
__global__ void __launch_bounds__(256) router_bwd_loss_kernel(const RouterBwdParams p, int blocks) {
  __shared__ float part[256], term[256];
  const int i = threadIdx.x, R = 256 / p.M, m = i % p.M, r = i / p.M;
  float s = 0.f;
  if (r < R) {
#pragma unroll 4
    for (int b = r; b < blocks; b += R) s += p.psum[(long long)b * p.M + m];
  }
  part[i] = s;
  __syncthreads();
  float f = 0.f;
  if (i < p.M) {
    float P = 0.f;
    for (int q = 0; q < R; ++q) P += part[q * p.M + i];
    f = (float)p.counts[i] / ((float)p.k * p.T) * (P / p.T);
  }
  term[i] = f;
  __syncthreads();
  if (i == 0) {
    float t = 0.f;
    for (int x = 0; x < p.M; ++x) t += term[x];
    p.loss[0] = p.balance_weight * p.M * t;
  }
}

// dw[i][m] = R[m][i] + R[M + m][i]: R = x^T [hi | lo], float32 [2M][d] (cuBLASLt's column-major d x 2M).
__global__ void __launch_bounds__(256) router_bwd_fold_kernel(const float* __restrict__ R, float* __restrict__ dw,
                                                              int d, int M) {
  const long long n = (long long)d * M;
  for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < n; e += (long long)gridDim.x * blockDim.x) {
    const int m = (int)(e / d), i = (int)(e % d);  // i fastest: R read coalesced
    dw[(long long)i * M + m] = R[e] + R[e + (long long)M * d];
  }
}
#endif

}  // namespace moga
