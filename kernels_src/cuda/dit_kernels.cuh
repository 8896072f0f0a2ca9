// The DiT's own kernels (runtime/model/gpu): everything of a Wan2.1 block that is not a GEMM (cuBLASLt)
// or self-attention (PatternAttention). JIT-compiled by NVRTC from this embedded header; plain
// extern "C" kernels, so no name expressions are needed. bf16 is carried as unsigned short (no
// cuda_bf16.h: NVRTC needs no include path), converted with round-to-nearest-even.
//
//   dit_fill_normal       seeded normal(mean, std) weights, bit-compatible with NormalRng::fill
//                         (splitmix64 + Box-Muller in double): `--weights random` without a host copy
//   dit_fill_const        constant fill (norm weights 1, biases 0)
//   dit_f32_to_bf16       conversion (context upload)
//   dit_patchify          latent f32 [C][F][H][W] -> patches bf16 [N][C*pt*ph*pw] (Conv3d im2col)
//   dit_unpatchify        head output bf16 [N][pt*ph*pw*C] -> f32 [C][F][H][W]
//   dit_gemv              y = act(W . act_in(x) + b), W bf16 [out][in], x, y f32 (time embedding)
//   dit_add_ln            the gated residual and the next norm in one pass over a row: x f32 += y bf16 *
//                         (ga + gb) (gate null: 1; assign: x = ...), then bf16 h = LN(x) * (one + sa + sb)
//                         + (ta + tb): adaLN modulation (one = 1, table + time embedding) or an affine LN
//                         (one = 0); y null: the norm alone
//                         With h8 given (`--gemm-precision fp8`): h also as e4m3 rows, h8s[row] = amax / 448
//   dit_quant_rows        bf16 rows -> e4m3 rows with one f32 scale per row (amax / 448), optionally GELU(tanh)
//                         first: the FP8 GEMMs' operands (weights per output channel, activations per token)
//   dit_rms_rope          in place on bf16 rows: RMSNorm over all of d (weight w), then optionally
//                         Wan's 3-D RoPE from a cos/sin table [N][D/2][2]; two row sets per launch (q and k)
//   (the three row kernels run on row teams: runtime/model/gpu/row_teams.h gives their launch geometry)
//   dit_calib_col_sums    router calibration: per row chunk, the column sums of h bf16 [N][d]
//   dit_calib_logit_moments  router calibration: per row chunk, the sum and sum of squares of each
//                         group's logits W'_m . h_t (W' f32 [M][d])
//   dit_calib_fold        router calibration: fixed runs of chunk sums added in order (double)
//   dit_calib_project     router calibration step 1 on the device: the folded sums added in order (double),
//                         W' = W - (W u) u^T from the block's original router (one block)
//   dit_calib_equalize    router calibration step 2 on the device: per-group logit spread from the
//                         moments, W'' = W' * mean(s) / s_m, rounded to bf16 into the arena (one block)
#pragma once

#define DIT_EXTERN extern "C" __global__

__device__ __forceinline__ float dit_bf2f(unsigned short h) { return __uint_as_float(((unsigned)h) << 16); }
__device__ __forceinline__ unsigned short dit_f2bf(float f) {
  unsigned u = __float_as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fc0;  // NaN stays NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return (unsigned short)(u >> 16);
}

// Four floats times s as four e4m3 bytes (round to nearest even, saturating to +-448), x0 in the lowest byte
// (cvt ... e4m3x2 puts its first operand in the upper byte). e4m3 conversion needs sm_89: the host refuses FP8
// GEMMs below it, so the fallback is never run.
__device__ __forceinline__ unsigned dit_e4m3x4(float x0, float x1, float x2, float x3) {
#if __CUDA_ARCH__ >= 890
  unsigned short lo, hi;
  asm("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %2;\n" : "=h"(lo) : "f"(x1), "f"(x0));
  asm("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %2;\n" : "=h"(hi) : "f"(x3), "f"(x2));
  return (unsigned)lo | ((unsigned)hi << 16);
#else
  __trap();
  return 0u;
#endif
}
// 448 / amax (1 for an all-zero row: its bytes are 0 whatever the scale) and the dequantization scale amax / 448.
__device__ __forceinline__ float dit_e4m3_inv_scale(float amax) { return amax > 0.f ? 448.f / amax : 1.f; }
__device__ __forceinline__ float dit_e4m3_scale(float amax) { return amax > 0.f ? amax / 448.f : 1.f; }

// The same in double (router calibration); every thread gets the result.
__device__ __forceinline__ double dit_block_sum_d(double v, double* red) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, nw = blockDim.x >> 5;
  __syncthreads();
  if (lane == 0) red[warp] = v;
  __syncthreads();
  double s = 0.0;
  for (int i = 0; i < nw; ++i) s += red[i];
  return s;
}

// ---- weights ------------------------------------------------------------------------------------------

__device__ __forceinline__ unsigned long long dit_splitmix(unsigned long long z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// NormalRng(seed).fill(dst, n, mean, std): call c (1-based) of next_u64 is splitmix(seed + c * golden);
// pair j uses calls 2j+1 (u1) and 2j+2 (u2); element 2j = r cos(th), 2j+1 = r sin(th).
DIT_EXTERN void dit_fill_normal(void* out, long long n, unsigned long long seed, float mean, float std, int f32) {
  const unsigned long long golden = 0x9e3779b97f4a7c15ull;
  for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x; e < n; e += (long long)gridDim.x * blockDim.x) {
    const long long j = e >> 1;
    const unsigned long long z1 = dit_splitmix(seed + (unsigned long long)(2 * j + 1) * golden);
    const unsigned long long z2 = dit_splitmix(seed + (unsigned long long)(2 * j + 2) * golden);
    const double u1 = ((double)(z1 >> 11) + 0.5) * (1.0 / 9007199254740992.0);
    const double u2 = ((double)(z2 >> 11) + 0.5) * (1.0 / 9007199254740992.0);
    const double r = sqrt(-2.0 * log(u1)), th = 6.283185307179586 * u2;
    const float z = (float)((e & 1) ? r * sin(th) : r * cos(th));
    const float v = mean + std * z;
    if (f32) ((float*)out)[e] = v;
    else ((unsigned short*)out)[e] = dit_f2bf(v);
  }
}

DIT_EXTERN void dit_fill_const(void* out, long long n, float value, int f32) {
  for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x; e < n; e += (long long)gridDim.x * blockDim.x) {
    if (f32) ((float*)out)[e] = value;
    else ((unsigned short*)out)[e] = dit_f2bf(value);
  }
}

DIT_EXTERN void dit_f32_to_bf16(const float* in, unsigned short* out, long long n) {
  for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x; e < n; e += (long long)gridDim.x * blockDim.x)
    out[e] = dit_f2bf(in[e]);
}

// ---- patch embedding / unpatchify ----------------------------------------------------------------------

// cols[n][j], j = ((c * pt + it) * ph + ih) * pw + iw (Conv3d weight order), n = (f * gh + h) * gw + w.
DIT_EXTERN void dit_patchify(const float* lat, unsigned short* cols, int C, int F, int H, int W, int pt, int ph, int pw) {
  const int gf = F / pt, gh = H / ph, gw = W / pw, P = C * pt * ph * pw;
  const long long total = (long long)gf * gh * gw * P, HW = (long long)H * W, FHW = HW * F;
  for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += (long long)gridDim.x * blockDim.x) {
    const long long n = e / P;
    int j = (int)(e % P);
    const int iw = j % pw; j /= pw;
    const int ih = j % ph; j /= ph;
    const int it = j % pt;
    const int c = j / pt;
    const int w = (int)(n % gw), h = (int)((n / gw) % gh), f = (int)(n / ((long long)gw * gh));
    cols[e] = dit_f2bf(lat[c * FHW + (long long)(f * pt + it) * HW + (long long)(h * ph + ih) * W + (w * pw + iw)]);
  }
}

// tok[n][((it * ph + ih) * pw + iw) * C + c] -> lat[c][f*pt+it][h*ph+ih][w*pw+iw] (Wan's unpatchify).
DIT_EXTERN void dit_unpatchify(const unsigned short* tok, float* lat, int C, int F, int H, int W, int pt, int ph, int pw) {
  const int gh = H / ph, gw = W / pw;
  const long long total = (long long)C * F * H * W, HW = (long long)H * W;
  for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += (long long)gridDim.x * blockDim.x) {
    const int c = (int)(e / (HW * F));
    const long long r = e % (HW * F);
    const int fi = (int)(r / HW), hi = (int)((r % HW) / W), wi = (int)(r % W);
    const int f = fi / pt, it = fi % pt, h = hi / ph, ih = hi % ph, w = wi / pw, iw = wi % pw;
    const long long n = ((long long)f * gh + h) * gw + w;
    lat[e] = dit_bf2f(tok[n * (C * pt * ph * pw) + ((it * ph + ih) * pw + iw) * C + c]);
  }
}

// ---- time embedding ------------------------------------------------------------------------------------

__device__ __forceinline__ float dit_silu(float v) { return v / (1.f + expf(-v)); }

// One warp per output: y[o] = act_out(sum_i W[o][i] * act_in(x[i]) + b[o]); act: 1 = SiLU.
DIT_EXTERN void dit_gemv(const unsigned short* W, const unsigned short* b, const float* x, float* y, int in, int out,
                         int silu_in, int silu_out) {
  const int o = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5), lane = threadIdx.x & 31;
  if (o >= out) return;
  const unsigned short* w = W + (long long)o * in;
  float s = 0.f;
  for (int i = lane; i < in; i += 32) {
    const float xv = silu_in ? dit_silu(x[i]) : x[i];
    s += dit_bf2f(w[i]) * xv;
  }
  for (int k = 16; k > 0; k >>= 1) s += __shfl_xor_sync(0xffffffffu, s, k);
  if (lane == 0) {
    s += b ? dit_bf2f(b[o]) : 0.f;
    y[o] = silu_out ? dit_silu(s) : s;
  }
}

// ---- residual + norms ----------------------------------------------------------------------------------
//
// Row kernels run on *row teams*: T = 32 W threads (W warps, a power of two, chosen on the host by
// runtime/model/gpu/row_teams.h from the row's width) share one row, thread t holding the row's float4
// groups t, t + T, ... (at most DIT_TEAM_K) in registers, so a row is read from memory once and written
// once. A block runs blockDim.x / T teams; the grid is what stays resident (persistent), each team taking
// rows grid-stride, so that every block ends within a row of the others (a grid of whole waves per row
// count left a 1.3-wave tail: session 8's first H200 run). One warp per
// row reduces with shuffles only, larger teams with one named barrier per team: no block-wide barrier per
// row, which is what held the one-block-per-row kernels at about half the copy rate (session 7's `full`
// step: 33 ms of norms). The group counts keep each kernel at <= 128 registers (two 256-thread blocks an SM).

#define DIT_TEAM_K 12   // float4 groups per thread (dit_rms_rope, dit_quant_rows): a row of at most 48 T columns
#define DIT_LN_K 6      // dit_add_ln's, whose f32 rows take twice the registers: 1,536 columns on 2-warp teams
#define DIT_MAX_TEAMS 8  // teams per block (named barriers 1..8; 0 is __syncthreads)

__device__ __forceinline__ float4 dit_bf4(uint2 u) {  // 4 bf16 in two words, the first in the low half
  return make_float4(__uint_as_float(u.x << 16), __uint_as_float(u.x & 0xffff0000u), __uint_as_float(u.y << 16),
                     __uint_as_float(u.y & 0xffff0000u));
}
__device__ __forceinline__ float4 dit_ld_bf4(const unsigned short* p) { return dit_bf4(*(const uint2*)p); }  // 8-byte aligned
__device__ __forceinline__ void dit_st_bf4(unsigned short* p, float a, float b, float c, float e) {
  uint2 u;
  u.x = (unsigned)dit_f2bf(a) | ((unsigned)dit_f2bf(b) << 16);
  u.y = (unsigned)dit_f2bf(c) | ((unsigned)dit_f2bf(e) << 16);
  *(uint2*)p = u;
}
__device__ __forceinline__ float dit_opt(const float* p, int i) { return p ? p[i] : 0.f; }
__device__ __forceinline__ float dit_sum4(float4 v) { return (v.x + v.y) + (v.z + v.w); }
__device__ __forceinline__ float dit_amax4(float4 v) {
  return fmaxf(fmaxf(fabsf(v.x), fabsf(v.y)), fmaxf(fabsf(v.z), fabsf(v.w)));
}

// This thread's team: its index in the block, its thread index t in the team, and the team's slice of the
// block's reduction scratch (one float per warp).
struct DitTeam {
  int T, id, t;
  float* red;
  __device__ DitTeam(int team_threads, float* scratch)
      : T(team_threads), id(threadIdx.x / team_threads), t(threadIdx.x % team_threads), red(scratch + id * 32) {}
  __device__ void sync() const {
    if (T > 32) asm volatile("bar.sync %0, %1;\n" ::"r"(id + 1), "r"(T) : "memory");
    else __syncwarp();
  }
  // The sum (or max) over the team; every thread of it gets the result.
  template <bool Max>
  __device__ float reduce(float v) const {
    for (int o = 16; o > 0; o >>= 1) {
      const float u = __shfl_xor_sync(0xffffffffu, v, o);
      v = Max ? fmaxf(v, u) : v + u;
    }
    if (T == 32) return v;
    sync();  // the scratch may still be read by the previous reduction
    if ((threadIdx.x & 31) == 0) red[t >> 5] = v;
    sync();
    float r = red[0];
    for (int i = 1; i < (T >> 5); ++i) r = Max ? fmaxf(r, red[i]) : r + red[i];
    return r;
  }
  __device__ float sum(float v) const { return reduce<false>(v); }
  __device__ float max(float v) const { return reduce<true>(v); }
  // The team's r-th row (grid-stride over the block's slots; a block's teams read neighbouring rows at the
  // same time).
  __device__ long long row(long long r) const {
    return ((long long)blockIdx.x + r * gridDim.x) * (blockDim.x / T) + id;
  }
};

// e4m3 bytes of v * inv at group g of a row of 4-byte groups.
__device__ __forceinline__ void dit_st_e4m3x4(unsigned char* row, int g, float4 v, float inv) {
  *(unsigned*)(row + 4 * g) = dit_e4m3x4(v.x * inv, v.y * inv, v.z * inv, v.w * inv);
}

// Rows of d (d % 4 == 0, rows 16-byte aligned). The gated residual and the next norm in one pass:
//   y given:  x = (assign ? 0 : x) + y * g,  g = ga[i] + gb[i] (ga null: 1); x written back (f32)
//   then      h = (x - mean) * rstd * (one + sa[i] + sb[i]) + ta[i] + tb[i]   (bf16; null tables read 0)
// one = 1 with the adaLN tables (LN without affine, modulated), one = 0 with sa = weight, ta = bias
// (affine LN). Two-pass moments from registers, fp32. The three combined tables (gate, scale, shift) are
// built once per block in dynamic shared memory (12 d bytes).
DIT_EXTERN __launch_bounds__(256, 2) void dit_add_ln(float* x, const unsigned short* y, const float* ga, const float* gb, int assign,
                           unsigned short* h, int d, float eps, float one, const float* sa, const float* sb,
                           const float* ta, const float* tb, unsigned char* h8, float* h8s, long long rows,
                           int team_threads) {
  extern __shared__ float4 dit_tables4[];
  __shared__ float red[DIT_MAX_TEAMS * 32];
  float* gate = (float*)dit_tables4;
  float* scale = gate + d;
  float* shift = scale + d;
  for (int i = threadIdx.x; i < d; i += blockDim.x) {
    gate[i] = ga ? ga[i] + dit_opt(gb, i) : 1.f;
    scale[i] = one + dit_opt(sa, i) + dit_opt(sb, i);
    shift[i] = dit_opt(ta, i) + dit_opt(tb, i);
  }
  __syncthreads();
  const DitTeam tm(team_threads, red);
  const int G = d >> 2, T = tm.T;
  for (long long r = 0;; ++r) {
    const long long row = tm.row(r);
    if (row >= rows) return;  // the same for the whole team
    float4* xr = (float4*)(x + row * d);
    float4 v[DIT_LN_K];
    uint2 yv[DIT_LN_K];  // y's bf16 as loaded
#pragma unroll
    for (int k = 0; k < DIT_LN_K; ++k) {  // every load of the row first
      const int g = tm.t + k * T;
      v[k] = make_float4(0.f, 0.f, 0.f, 0.f);
      yv[k] = make_uint2(0u, 0u);
      if (g < G) {
        if (!(y && assign)) v[k] = xr[g];
        if (y) yv[k] = *(const uint2*)(y + row * d + 4 * g);
      }
    }
    float s = 0.f;
#pragma unroll
    for (int k = 0; k < DIT_LN_K; ++k) {
      const int g = tm.t + k * T;
      if (g < G) {
        if (y) {
          const float4 gt = ((const float4*)gate)[g];
          const float4 yf = dit_bf4(yv[k]);
          v[k].x += yf.x * gt.x, v[k].y += yf.y * gt.y, v[k].z += yf.z * gt.z, v[k].w += yf.w * gt.w;
          xr[g] = v[k];
        }
        s += dit_sum4(v[k]);
      }
    }
    const float mean = tm.sum(s) / d;
    float s2 = 0.f;
#pragma unroll
    for (int k = 0; k < DIT_LN_K; ++k)
      if (tm.t + k * T < G) {
        const float a = v[k].x - mean, b = v[k].y - mean, c = v[k].z - mean, e = v[k].w - mean;
        s2 += (a * a + b * b) + (c * c + e * e);
      }
    const float rstd = rsqrtf(tm.sum(s2) / d + eps);
    float am = 0.f;
#pragma unroll
    for (int k = 0; k < DIT_LN_K; ++k) {
      const int g = tm.t + k * T;
      if (g < G) {
        const float4 sc = ((const float4*)scale)[g], sh = ((const float4*)shift)[g];
        v[k] = make_float4((v[k].x - mean) * rstd * sc.x + sh.x, (v[k].y - mean) * rstd * sc.y + sh.y,
                           (v[k].z - mean) * rstd * sc.z + sh.z, (v[k].w - mean) * rstd * sc.w + sh.w);
        dit_st_bf4(h + row * d + 4 * g, v[k].x, v[k].y, v[k].z, v[k].w);
        am = fmaxf(am, dit_amax4(v[k]));  // kept for the e4m3 copy
      }
    }
    if (!h8) continue;
    am = tm.max(am);
    const float inv = dit_e4m3_inv_scale(am);
    if (tm.t == 0) h8s[row] = dit_e4m3_scale(am);
#pragma unroll
    for (int k = 0; k < DIT_LN_K; ++k)
      if (tm.t + k * T < G) dit_st_e4m3x4(h8 + row * d, tm.t + k * T, v[k], inv);
  }
}

// GELU(tanh) as x * sigmoid(2u), u = sqrt(2 / pi) (x + 0.044715 x^3): the same function as
// 0.5 x (1 + tanh u), with ex2.approx and a fast division (relative error ~1e-7, where tanh.approx's
// 5e-4 absolute error would be a large relative error of 1 + tanh u for negative x) at two MUFU operations
// an element: the FFN's hidden row is 8,960 wide, and libdevice's tanhf made its quantization
// compute-bound.
__device__ __forceinline__ float dit_gelu_tanh(float x) {
  const float u = 0.7978845608028654f * (x + 0.044715f * x * x * x);
  return __fdividef(x, 1.f + __expf(-2.f * u));
}
__device__ __forceinline__ float4 dit_gelu4(float4 v) {
  return make_float4(dit_gelu_tanh(v.x), dit_gelu_tanh(v.y), dit_gelu_tanh(v.z), dit_gelu_tanh(v.w));
}

// Rows r of x bf16 [rows][ld] (cols % 4 == 0, ld % 4 == 0, 8-byte aligned): q[r * cols + i] =
// e4m3(f(x[r][i]) * 448 / amax_r), scale[r] = amax_r / 448 (1 for a zero row), amax_r = max |f(x[r][.])|,
// f = GELU(tanh) when gelu (the FFN's activation, applied here to the bias-added GEMM output: the FP8 GEMM
// runs a bias epilogue only), else the identity. One read of the row (held in registers by its team).
DIT_EXTERN __launch_bounds__(512) void dit_quant_rows(const unsigned short* x, long long ld, int cols, int gelu, unsigned char* q, float* scale,
                               long long rows, int team_threads) {
  __shared__ float red[DIT_MAX_TEAMS * 32];
  const DitTeam tm(team_threads, red);
  const int G = cols >> 2, T = tm.T;
  for (long long r = 0;; ++r) {
    const long long row = tm.row(r);
    if (row >= rows) return;
    const unsigned short* xr = x + row * ld;
    float4 v[DIT_TEAM_K];
#pragma unroll
    for (int k = 0; k < DIT_TEAM_K; ++k) {
      const int g = tm.t + k * T;
      v[k] = g < G ? dit_ld_bf4(xr + 4 * g) : make_float4(0.f, 0.f, 0.f, 0.f);
    }
    float am = 0.f;
#pragma unroll
    for (int k = 0; k < DIT_TEAM_K; ++k) {
      if (gelu) v[k] = dit_gelu4(v[k]);  // GELU(0) = 0: the groups past the row stay 0
      am = fmaxf(am, dit_amax4(v[k]));
    }
    am = tm.max(am);
    const float inv = dit_e4m3_inv_scale(am);
    if (tm.t == 0) scale[row] = dit_e4m3_scale(am);
#pragma unroll
    for (int k = 0; k < DIT_TEAM_K; ++k)
      if (tm.t + k * T < G) dit_st_e4m3x4(q + row * (long long)cols, tm.t + k * T, v[k], inv);
  }
}

// In place on rows r of p bf16 [rows][ld], r < rows, i < d (d % 4 == 0, ld % 4 == 0, p 8-byte aligned):
// RMSNorm over all d (fp32 sum of squares), times w[i]; then, with rope, each head's pairs (2j, 2j+1)
// rotate by the table's (cos, sin)[r][j] (j < D/2), as runtime/model/cpu/rope.cpp. Grid y = 2 normalizes a
// second set of rows in the same launch, p + p2 with weight w2 (q and k of the self-attention's q|k|v
// rows, one launch). A thread's group is two pairs of one head (D/2 is even).
DIT_EXTERN __launch_bounds__(256, 2) void dit_rms_rope(unsigned short* p, long long ld, int d, float eps, const float* w, const float* rope_cs,
                             int D, long long rows, int team_threads, long long p2, const float* w2) {
  __shared__ float red[DIT_MAX_TEAMS * 32];
  if (blockIdx.y == 1) p += p2, w = w2;
  const DitTeam tm(team_threads, red);
  const int G = d >> 2, T = tm.T, half = D / 2;
  for (long long r = 0;; ++r) {
    const long long row = tm.row(r);
    if (row >= rows) return;
    unsigned short* pr = p + row * ld;
    uint2 v[DIT_TEAM_K];  // the row's bf16 as loaded (half the registers of floats)
    float s2 = 0.f;
#pragma unroll
    for (int k = 0; k < DIT_TEAM_K; ++k) {
      const int g = tm.t + k * T;
      v[k] = g < G ? *(const uint2*)(pr + 4 * g) : make_uint2(0u, 0u);
      const float4 f = dit_bf4(v[k]);
      s2 += (f.x * f.x + f.y * f.y) + (f.z * f.z + f.w * f.w);
    }
    const float rs = rsqrtf(tm.sum(s2) / d + eps);
#pragma unroll
    for (int k = 0; k < DIT_TEAM_K; ++k) {
      const int g = tm.t + k * T, i = 4 * g;
      if (g >= G) continue;
      const float4 wt = *(const float4*)(w + i), f = dit_bf4(v[k]);
      float a = f.x * rs * wt.x, b = f.y * rs * wt.y, c = f.z * rs * wt.z, e = f.w * rs * wt.w;
      if (rope_cs) {
        const int j = (i >> 1) % half;  // pair index within the head (even)
        const float4 t = *(const float4*)(rope_cs + (row * half + j) * 2);  // cos j, sin j, cos j+1, sin j+1
        const float a2 = a * t.x - b * t.y, b2 = a * t.y + b * t.x;
        const float c2 = c * t.z - e * t.w, e2 = c * t.w + e * t.z;
        a = a2, b = b2, c = c2, e = e2;
      }
      dit_st_bf4(pr + i, a, b, c, e);
    }
  }
}

// ---- router calibration (runtime/model/router_calibration.h) -------------------------------------------

// Deterministic partial sums, no atomics: chunk c covers rows [c * chunk_rows, (c + 1) * chunk_rows) in
// order and writes its own slot; dit_calib_fold adds fixed runs of consecutive chunks in order (double),
// and the one-block steps add those runs in order. Every sum's order depends only on N, so every rank of
// a sequence-parallel run (which sees all N rows) computes what one GPU does. One block per chunk.

// part[c][j] = sum over the chunk's rows of h[r][j], in row order. A thread owns four adjacent columns
// (one 8-byte load per row; d % 4 != 0: one column per load), the row loop unrolled so that each thread
// keeps several loads in flight: the pass reads h once at the copy rate.
DIT_EXTERN void dit_calib_col_sums(const unsigned short* h, long long N, int d, int chunk_rows, float* part) {
  const long long c = blockIdx.x, r0 = c * chunk_rows, r1 = r0 + chunk_rows < N ? r0 + chunk_rows : N;
  if ((d & 3) == 0) {
    for (int j = 4 * threadIdx.x; j < d; j += 4 * blockDim.x) {
      float a = 0.f, b = 0.f, e = 0.f, f = 0.f;
#pragma unroll 8
      for (long long r = r0; r < r1; ++r) {
        const float4 v = dit_ld_bf4(h + r * d + j);
        a += v.x, b += v.y, e += v.z, f += v.w;
      }
      float* o = part + c * d + j;
      o[0] = a, o[1] = b, o[2] = e, o[3] = f;
    }
    return;
  }
  for (int j = threadIdx.x; j < d; j += blockDim.x) {
    float s = 0.f;
    for (long long r = r0; r < r1; ++r) s += dit_bf2f(h[r * d + j]);
    part[c * d + j] = s;
  }
}

// part[c][m] = sum over the chunk's rows of l, part[c][M + m] = sum of l^2, l = sum_j W[m][j] h[r][j]
// (W f32 [M][d], 16-byte aligned rows when d % 4 == 0). Warp w takes the chunk's rows w, w + warps, ...;
// a lane holds four adjacent columns per 128 (one 8-byte load of h and one float4 of W per group), eight
// groups at a time in registers, so h is read once per eight groups, not once per group; each row's
// logits are reduced by a fixed butterfly, a warp's rows added in order, the warps in warp order.
DIT_EXTERN void dit_calib_logit_moments(const unsigned short* h, long long N, int d, const float* W, int M, int chunk_rows,
                                        float* part) {
  constexpr int G = 8;  // groups per pass over the chunk
  __shared__ float red[32][2 * G];
  const long long c = blockIdx.x, r0 = c * chunk_rows, r1 = r0 + chunk_rows < N ? r0 + chunk_rows : N;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, warps = blockDim.x >> 5;
  for (int m0 = 0; m0 < M; m0 += G) {
    const int mb = M - m0 < G ? M - m0 : G;
    float s[G], q[G];
#pragma unroll
    for (int i = 0; i < G; ++i) s[i] = q[i] = 0.f;
    for (long long r = r0 + warp; r < r1; r += warps) {
      const unsigned short* hr = h + r * d;
      float l[G];
#pragma unroll
      for (int i = 0; i < G; ++i) l[i] = 0.f;
      if ((d & 3) == 0) {
        for (int j = 4 * lane; j < d; j += 128) {
          const float4 v = dit_ld_bf4(hr + j);
#pragma unroll
          for (int i = 0; i < G; ++i)
            if (i < mb) {
              const float4 w = __ldg(reinterpret_cast<const float4*>(W + (long long)(m0 + i) * d + j));
              l[i] += w.x * v.x + w.y * v.y + w.z * v.z + w.w * v.w;
            }
        }
      } else {
        for (int j = lane; j < d; j += 32) {
          const float v = dit_bf2f(hr[j]);
#pragma unroll
          for (int i = 0; i < G; ++i)
            if (i < mb) l[i] += W[(long long)(m0 + i) * d + j] * v;
        }
      }
#pragma unroll
      for (int i = 0; i < G; ++i) {
        for (int o = 16; o > 0; o >>= 1) l[i] += __shfl_xor_sync(0xffffffffu, l[i], o);
        s[i] += l[i];
        q[i] += l[i] * l[i];
      }
    }
    __syncthreads();  // red may still be read by the previous group block
    if (lane == 0)
#pragma unroll
      for (int i = 0; i < G; ++i) red[warp][i] = s[i], red[warp][G + i] = q[i];
    __syncthreads();
    if (threadIdx.x < 2 * mb) {
      const int i = threadIdx.x % mb, sq = threadIdx.x / mb;  // sq: 0 the sum, 1 the sum of squares
      float t = 0.f;
      for (int w = 0; w < warps; ++w) t += red[w][sq * G + i];
      part[c * 2 * M + sq * M + m0 + i] = t;
    }
  }
}

// sums[f][j] = sum over chunks [f * fold, (f + 1) * fold) of part[c][j], in chunk order, in double (part f32
// [chunks][width]). A grid of (width / 256, folds): the one-block steps below then add ceil(chunks / fold)
// values per column instead of all chunks one after another.
DIT_EXTERN void dit_calib_fold(const float* part, long long chunks, int width, int fold, double* sums) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= width) return;
  const long long c0 = (long long)blockIdx.y * fold, c1 = c0 + fold < chunks ? c0 + fold : chunks;
  double s = 0.0;
#pragma unroll 8
  for (long long c = c0; c < c1; ++c) s += (double)part[c * width + j];
  sums[(long long)blockIdx.y * width + j] = s;
}

// The host math of router_calibration.cpp on the device, so that a calibrating forward makes no host
// round trip (it used to download the partial sums twice per block and upload W' and W''). The sums
// are added in a fixed order in double, as on the host; the order differs from the host's (a relative
// difference of ~1e-16).

// Step 1, one block: hs[j] = sum over f of sums[f][j] (dit_calib_fold's, in order); u = hs / |hs|;
// Wp = W - (W u) u^T, W the block's original router (f32 [M][d]); |hs| = 0 (or not finite) keeps W.
DIT_EXTERN void dit_calib_project(const double* sums, long long folds, int d, const float* W, int M, double* hs, float* Wp) {
  __shared__ double red[32];
  double n2 = 0.0;
  for (int j = threadIdx.x; j < d; j += blockDim.x) {
    double s = 0.0;
    for (long long f = 0; f < folds; ++f) s += sums[f * d + j];
    hs[j] = s;  // read back below by the same thread
    n2 += s * s;
  }
  const double norm = sqrt(dit_block_sum_d(n2, red));
  const bool keep = !(norm > 0.0) || isinf(norm);
  for (int m = 0; m < M; ++m) {
    const float* w = W + (long long)m * d;
    double wu = 0.0;
    if (!keep) {
      for (int j = threadIdx.x; j < d; j += blockDim.x) wu += (double)w[j] * (hs[j] / norm);
      wu = dit_block_sum_d(wu, red);
    }
    for (int j = threadIdx.x; j < d; j += blockDim.x)
      Wp[(long long)m * d + j] = keep ? w[j] : (float)((double)w[j] - wu * (hs[j] / norm));
  }
}

// Step 2, one block (M <= 64): lsum[m], lsq[m] = the moments' sums (dit_calib_fold's over width 2M) in
// order; s_m = the logit standard deviation over N tokens; rows with s_m > 0 scaled by mean(s) / s_m (mean
// over those rows), the others kept; the result rounded to bf16 into out [M][d] (the arena's router).
DIT_EXTERN void dit_calib_equalize(const double* sums, long long folds, int M, long long N, const float* Wp, int d,
                                   unsigned short* out) {
  __shared__ double sd[64], k[64];
  if (threadIdx.x < M) {
    const int m = threadIdx.x;
    double ls = 0.0, lq = 0.0;
    for (long long f = 0; f < folds; ++f) ls += sums[f * 2 * M + m], lq += sums[f * 2 * M + M + m];
    const double mean = ls / (double)N, var = lq / (double)N - mean * mean;
    sd[m] = N > 0 && var > 0.0 ? sqrt(var) : 0.0;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    double total = 0.0;
    int live = 0;
    for (int m = 0; m < M; ++m)
      if (sd[m] > 0.0 && !isinf(sd[m])) total += sd[m], ++live;
    for (int m = 0; m < M; ++m) k[m] = live && sd[m] > 0.0 && !isinf(sd[m]) ? (total / live) / sd[m] : 1.0;
  }
  __syncthreads();
  for (long long e = threadIdx.x; e < (long long)M * d; e += blockDim.x)
    out[e] = dit_f2bf((float)((double)Wp[e] * k[e / d]));
}
