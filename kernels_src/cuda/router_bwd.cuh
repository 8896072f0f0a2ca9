// The router's backward on the GPU (runtime/attention/router_backward.h): from the gate gradient of a routed
// kernel (attn_bwd_gate_kernel's dgate, per entry) to the router's logits, its weight and its input, and the
// MoGA balance loss with its gradient. Router: l = x W (x bf16 [T][d], T = B N tokens, W bf16 [d][M]),
// p = softmax(l) over all M groups, gate(t, j) = p_{g_j(t)}(t).
//
//   router_bwd_hist_kernel      counts[m] = #entries routed to m (int atomics: deterministic)
//   router_bwd_gemm_kernel      C = A B, float32 accumulation, generic strides (SIMT, 64x64 tiles; split-K
//                               partials along blockIdx.z): the logits x W, dx = dl W^T, dW = x^T dl
//   router_bwd_softmax_kernel   per token (one warp): p = softmax(l); dp_m = sum of dgate over the token's
//                               entries routed to m, + balance_weight M F_m / T; dl = p (dp - sum_m p_m dp_m)
//                               (over the logits, in place); per-block sums of p for the loss value
//   router_bwd_loss_kernel      L_bal = balance_weight M sum_m F_m P_m, F_m = counts_m / (k T), P_m = mean p_m
//   router_bwd_reduce_kernel    dW = sum of the split-K partials, in a fixed order
// Every reduction runs in a fixed order: the results are bit-identical across runs.
// NVRTC-compatible: no host standard headers.
#pragma once

namespace moga {

// C[i][j] at C + z c_split + i ldc + j, (accumulate ? C : 0) + sum over k in split z of A(i, k) B(k, j);
// A(i, k) = A[i sa0 + k sa1], B(k, j) = B[k sb0 + j sb1] (bf16 or float32 by the kernel's template).
struct RouterGemmParams {
  const void* A;
  const void* B;
  float* C;
  long long sa0, sa1, sb0, sb1, ldc, c_split;
  int m, n, k, k_split;  // k_split: the k range of one blockIdx.z
  int accumulate;
};

struct RouterBwdParams {
  float* dl;             // [T][M]: the logits in, d L / d l out
  const int* gid;        // [T][k]
  const float* dgate;    // [T][k] or null (balance loss only)
  const int* counts;     // [M] (balance loss) or null
  float* psum;           // [gridDim.x][M]: per block, sum of p (balance loss) or null
  float* loss;           // [1] or null
  int T, M, k;
  float balance_weight;  // 0: no balance term
};

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
namespace router_bwd_detail {
template <bool BF16>
__device__ __forceinline__ float load(const void* p, long long i) {
  if constexpr (BF16) {
    return __uint_as_float((unsigned)static_cast<const unsigned short*>(p)[i] << 16);
  } else {
    return static_cast<const float*>(p)[i];
  }
}
}  // namespace router_bwd_detail

__global__ void __launch_bounds__(256) router_bwd_hist_kernel(const RouterBwdParams p) {
  const long long n = (long long)p.T * p.k;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    const int g = p.gid[i];
    if (g >= 0 && g < p.M) atomicAdd(const_cast<int*>(p.counts) + g, 1);
  }
}

// grid (ceil(n / TN), ceil(m / TM), splits), 256 threads, TM = 4096 / TN: thread (ty, tx) owns rows 4 ty..,
// columns 4 tx... TN = 64 (64 x 64 tiles), or 16 for the router's skinny products (n = M <= 16: the logits x W
// and dW = x^T dl), whose 64-wide tiles would leave 3/4 of every thread's products on zero columns.
template <bool A_BF16, bool B_BF16, int TN>
__global__ void __launch_bounds__(256, 2) router_bwd_gemm_kernel(const RouterGemmParams p) {
  using router_bwd_detail::load;
  constexpr int TM = 4096 / TN, BK = 16, TX = TN / 4;
  __shared__ float As[BK][TM + 4], Bs[BK][TN + 4];
  const int tid = threadIdx.x, tx = tid % TX, ty = tid / TX;
  const int i0 = blockIdx.y * TM, j0 = blockIdx.x * TN;
  const int kb = blockIdx.z * p.k_split, ke = min(p.k, kb + p.k_split);
  // consecutive threads along the operand's unit-stride dimension (coalesced loads; uniform per launch)
  const bool a_i_fast = p.sa0 == 1, b_k_fast = p.sb0 == 1 && p.sb1 != 1;
  float acc[4][4] = {};
  for (int k0 = kb; k0 < ke; k0 += BK) {
#pragma unroll
    for (int e = 0; e < TM * BK / 256; ++e) {  // TM x 16 of A
      const int x = tid + e * 256;
      const int ai = a_i_fast ? x % TM : x / BK, ak = a_i_fast ? x / TM : x % BK;
      const int i = i0 + ai, k = k0 + ak;
      As[ak][ai] = i < p.m && k < ke ? load<A_BF16>(p.A, i * p.sa0 + k * p.sa1) : 0.f;
    }
#pragma unroll
    for (int e = 0; e < BK * TN / 256; ++e) {  // 16 x TN of B
      const int x = tid + e * 256;
      const int bk = b_k_fast ? x % BK : x / TN, bj = b_k_fast ? x / BK : x % TN;
      const int j = j0 + bj, kk = k0 + bk;
      Bs[bk][bj] = j < p.n && kk < ke ? load<B_BF16>(p.B, kk * p.sb0 + j * p.sb1) : 0.f;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < BK; ++kk) {
      float a[4], b[4];
#pragma unroll
      for (int r = 0; r < 4; ++r) a[r] = As[kk][ty * 4 + r], b[r] = Bs[kk][tx * 4 + r];
#pragma unroll
      for (int r = 0; r < 4; ++r)
#pragma unroll
        for (int c = 0; c < 4; ++c) acc[r][c] += a[r] * b[c];
    }
    __syncthreads();
  }
  float* C = p.C + blockIdx.z * p.c_split;
#pragma unroll
  for (int r = 0; r < 4; ++r) {
    const int i = i0 + ty * 4 + r;
    if (i >= p.m) continue;
#pragma unroll
    for (int c = 0; c < 4; ++c) {
      const int j = j0 + tx * 4 + c;
      if (j >= p.n) continue;
      float* d = C + i * p.ldc + j;
      *d = p.accumulate ? *d + acc[r][c] : acc[r][c];
    }
  }
}

// One warp per token, a fixed token set per block (8 warps, token = block * 8 + warp + i * 8 gridDim): M <= 256,
// lane l holds groups l, l + 32, ...
__global__ void __launch_bounds__(256) router_bwd_softmax_kernel(const RouterBwdParams p) {
  constexpr int kMaxPerLane = 8;
  __shared__ float part[8][256];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const float bal = p.counts ? p.balance_weight * p.M / ((float)p.k * p.T) / p.T : 0.f;  // * counts_m
  float ps[kMaxPerLane] = {};
  for (int t = blockIdx.x * 8 + warp; t < p.T; t += gridDim.x * 8) {
    float* l = p.dl + (long long)t * p.M;
    float v[kMaxPerLane], mx = -3.402823466e38f;
#pragma unroll
    for (int e = 0; e < kMaxPerLane; ++e) {
      const int m = lane + 32 * e;
      v[e] = m < p.M ? l[m] : -3.402823466e38f;
      mx = fmaxf(mx, v[e]);
    }
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
    if (p.dgate)
      for (int j = 0; j < p.k; ++j) {
        const int g = p.gid[(long long)t * p.k + j];
        if (g >= 0 && g < p.M && (g & 31) == lane) dp[g >> 5] += p.dgate[(long long)t * p.k + j];
      }
#pragma unroll
    for (int e = 0; e < kMaxPerLane; ++e) pdp += v[e] * dp[e];
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) pdp += __shfl_xor_sync(0xffffffffu, pdp, o);
#pragma unroll
    for (int e = 0; e < kMaxPerLane; ++e) {
      const int m = lane + 32 * e;
      if (m < p.M) l[m] = v[e] * (dp[e] - pdp);
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

// out[i] = sum over z < splits of part[z n + i], in order.
__global__ void __launch_bounds__(256) router_bwd_reduce_kernel(const float* part, float* out, long long n, int splits) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    float s = 0.f;
    for (int z = 0; z < splits; ++z) s += part[z * n + i];
    out[i] = s;
  }
}
#endif

}  // namespace moga
