// Backward attention on mma.sync (sm_80+, runs on sm_90 too): FlashAttention-2's structure, instantiated per
// pattern kernel with the forward's own variant struct (mask, bias, softcap: score_pass.cuh), so the
// gradient sees exactly the scores the forward saw.
//
//   attn_bwd_preprocess_kernel      Dq[b][h][r] = o_scale * rowsum(dO * O) (float32; O = the kernel's bf16
//                                   output, or its kept branch rows times the branch weight o_scale)
//   attention_bwd<V, D, DQ_ATOMIC>  grid (ceil(N/64), H, B), 128 threads, AttnBwdCfg<D>::kSmemBytes dynamic
//                                   smem: one CTA per key tile of 64 keys, looping over the query tiles of 64
//                                   rows that see it (the key-major block map: empty tiles skipped, full tiles
//                                   without per-element mask work); dK, dV in registers (warp w owns keys
//                                   16w..16w+15), written bf16 (or added to dk_acc, dv_acc) at the end. DQ_ATOMIC: dQ += dS K for every
//                                   tile pair by float32 atomics into dq_acc (then attn_bwd_fold_kernel).
//   attention_bwd_dq<V, D, MAP_BN>  the deterministic dQ: one CTA per query tile looping over its key tiles
//                                   (the query-major map; MAP_BN 128: the map of attention_bwd_wg's tiles),
//                                   recomputing P and dS; no atomics, so every run gives the same bits
//                                   (attention_bwd or attention_bwd_wg then runs with DQ_ATOMIC false).
//   attn_bwd_fold_kernel<D>         float32 accumulators -> bf16 gradients (the caller's strides), or the k entry
//                                   rows of a top-k kernel summed per token into the accumulators of a mixture.
//   attn_bwd_gate_kernel            gated kernels: d L / d gate per row, sum_h D_i,h / gate (see below).
// Mixtures and top-k (runtime/attention/backward.cpp): dQ, dK, dV go to float32 accumulators by row (dk_acc,
// dv_acc, dq_acc), every kernel of the pattern adding its share, and are converted to bf16 once at the end.
//
// Gradient of one kernel whose output is o = weight * g_i * Attn (g_i: the row's gate, a.gate at sorted
// positions, else 1; scores s = q.k * scale, then y = c tanh(s/c) (softcap), then + bias; P = softmax(y) from
// the forward's log-sum-exp, lse), with wg_i = weight * g_i:
//   P_ij = exp(y_ij - lse_i);  dP_ij = wg_i dO_i . v_j;  D_i = rowsum(dO_i * o_i) (= sum_j P_ij dP_ij)
//   dY_ij = P_ij (dP_ij - D_i);  dS_ij = dY_ij * (1 - tanh^2(s_ij / c)) (softcap) or dY_ij;  bias: no gradient
//   dQ_i = scale * sum_j dS_ij k_j;  dK_j = scale * sum_i dS_ij q_i;  dV_j = sum_i wg_i P_ij dO_i;
//   d L / d g_i = weight * dO_i . Attn_i = D_i / g_i (summed over heads; g_i > 0: a router probability).
// A row that sees no key has lse = -inf: it is read as +inf so that P = 0 (never NaN), and so are rows past N.
// Token order: identity, or (grouped) a.perm / a.gid: the rows sorted by group, as the forward; tiles gather
// through perm, partial tiles compare group ids, gradients land at the original rows, and lse and D are indexed
// by row (bwd_params.cuh, "Rows": a row is a token, or a top-k entry).
// Requirements: D in {64, 128}, rows 16-byte aligned (strides multiples of 8 elements).
// NVRTC-compatible: no host standard headers.
#pragma once
#include "mma_sm80.cuh"
#include "bwd_map.cuh"
#include "bwd_params.cuh"
#include "score_pass.cuh"

namespace moga {

template <int D>
struct AttnBwdCfg {
  static constexpr int kBM = 64, kBN = 64, kWarps = 4, kThreads = 128;
  static constexpr int kRowBytes = D * 2;
  static constexpr int kTileBytes = 64 * kRowBytes;  // one 64-row bf16 tile (K, V, Q or dO)
  static constexpr int kDSPitch = kBN + 8;           // bf16 per row of the dS staging: ldmatrix conflict-free
  // attention_bwd: K, V, then 2 stages of (Q, dO, and per query row: lse, D, row id, group id, weight*gate,
  // token), then dS
  static constexpr int kStageBytes = 2 * kTileBytes + 6 * kBM * 4;
  static constexpr int kSmemBytes = 2 * kTileBytes + 2 * kStageBytes + kBM * kDSPitch * 2;
  // attention_bwd_dq: Q, dO, then 2 stages of (K, V)
  static constexpr int kDqSmemBytes = 2 * kTileBytes + 2 * 2 * kTileBytes;
  static constexpr int kCH = D / 8;
  static constexpr int kRowStep = kThreads / kCH;
  static constexpr int kRows = 64 / kRowStep;
  static_assert(D % 64 == 0, "D must be a multiple of 64");
};

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
namespace bwd_detail {
typedef unsigned short bf16_t;

__device__ __forceinline__ int token_at(const int* perm, int s) { return perm ? __ldg(perm + s) : s; }

// 64 rows of a [..][token][..][D] bf16 tensor starting at sorted position r0 into a swizzled tile
// (attention_fwd's layout: 16-byte chunk c of row r at chunk c ^ (r & 7)), gathered through perm at token
// (tok: the token at each sorted position, bwd_params.cuh "Rows"); rows past N (the sorted positions) and
// padding (tok -1, aligned groups) are zero-filled.
template <int D>
__device__ __forceinline__ void load_tile(unsigned dst, const bf16_t* g, long long sn, const int* tok, int r0, int N,
                                          int tid) {
  using C = AttnBwdCfg<D>;
  const int c = tid % C::kCH, r = tid / C::kCH;
#pragma unroll
  for (int i = 0; i < C::kRows; ++i) {
    const int row = r + i * C::kRowStep, s = r0 + row;
    const int t0 = s < N ? token_at(tok, s) : -1;
    const bool ok = t0 >= 0;
    const long long t = ok ? t0 : 0;
    sm80::cp_async16(dst + row * C::kRowBytes + ((c ^ (row & 7)) << 4), g + t * sn + c * 8, ok);
  }
}

// dst[0] += x, dst[1] += y in global memory, no return value; dst 8-byte aligned. sm_90 has a vector
// reduction (one instruction, one L2 request for the pair), earlier archs two scalar ones.
__device__ __forceinline__ void red_add2(float* dst, float x, float y) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("red.global.add.v2.f32 [%0], {%1, %2};\n" ::"l"(dst), "f"(x), "f"(y) : "memory");
#else
  atomicAdd(dst, x);
  atomicAdd(dst + 1, y);
#endif
}

// dst[0] += x, dst[1] += y: a float32 accumulator row this thread alone updates in this launch (the kernels of a
// mixture add in launch order, so the sums stay deterministic). A reduction, not a load and a store: the compiler
// cannot hoist the next row's load above a store that may alias it, so a thread's 64 read-modify-writes of dK and
// dV were 64 memory latencies in a row (25% of the stall samples of the moga mixture's routed kernel on the H200,
// session 11; docs/performance.md "The accumulators' epilogue").
__device__ __forceinline__ void add2(float* dst, float x, float y) { red_add2(dst, x, y); }

// base-2 log-sum-exp of a row (token t) for P = exp2(y2 - lse2): +inf for rows past N (ok false) and rows that
// saw no key, so that P = 0
__device__ __forceinline__ float lse2_of(const float* lse, int t, bool ok) {
  if (!ok) return __int_as_float(0x7f800000);
  const float l = __ldg(lse + t);
  return l == sm80::neg_inf() ? __int_as_float(0x7f800000) : l * 1.4426950408889634f;
}

// The score pass of one 16x64 block of S (or S^T) in registers: raw q.k in, the base-2 logit y2 out (-inf where
// not visible), and for softcap the chain factor 1 - tanh^2. Element (row, col) = (qs_of(..), ks_of(..)) by
// the caller's orientation through score_element (score_pass.cuh), the forward's own function.
template <class Variant>
__device__ __forceinline__ float logit2(float x, const AttnParams& p, bool grouped, bool cv, bool partial, int ks,
                                        int qkey, int kg, const Coords<int>& qc, const Coords<int>& kc, int h,
                                        float& cap_d) {
  const float scale = p.scale_log2 * 0.6931471805599453f;
  if constexpr (Variant::kHasSoftcap) {
    const float t = sm80::tanh_approx(x * scale * (1.f / Variant::kSoftcap));
    cap_d = 1.f - t * t;
  }
  constexpr bool kTransform = Variant::kHasSoftcap || Variant::kHasBias;
  score_element<Variant>(x, p, grouped, cv, partial, ks, qkey, kg, qc, kc, h, scale);
  return kTransform ? x : x * p.scale_log2;  // -inf stays -inf
}

// One element of a tile pair in either orientation: from the raw q.k (x) and dP = dO . v (dp), P = exp2(y2 -
// lse2) (the per-element pass only where `elem`: partial or ragged tiles, softcap, bias) and dS = P (dP wg - D)
// (1 - tanh^2) (bwd_params.cuh's formula). Returns {P, dS}.
template <class Variant>
__device__ __forceinline__ float2 p_and_ds(float x, float dp, bool elem, const AttnParams& a, bool grouped, bool cv,
                                           bool partial, int ks, int qg, int kg, const Coords<int>& qc,
                                           const Coords<int>& kc, int h, float l2, float wg, float dd) {
  float cap = 1.f;
  const float y2 = elem ? logit2<Variant>(x, a, grouped, cv, partial, ks, qg, kg, qc, kc, h, cap) : x * a.scale_log2;
  const float pe = sm80::ex2(y2 - l2);
  return make_float2(pe, pe * (dp * wg - dd) * cap);
}

// The two score-side products of a tile pair, 16 rows x 64 columns per warp, zeroed first: s = A1 B1^T and
// dp = A2 B2^T over the head dim, A* the warp's rows of swizzled tiles (a_lane, xa), B* 64-row tiles (b_lane,
// xb). attention_bwd: S^T = K Q^T, dP^T = V dO^T; attention_bwd_dq: S = Q K^T, dP = dO V^T.
template <int D, int NT>
__device__ __forceinline__ void mma_two_abt(float (&s)[NT][4], float (&dp)[NT][4], unsigned a1, unsigned a2,
                                            unsigned b1, unsigned b2, unsigned a_lane, int xa, unsigned b_lane, int xb) {
  constexpr int RB = D * 2;
#pragma unroll
  for (int nt = 0; nt < NT; ++nt)
#pragma unroll
    for (int e = 0; e < 4; ++e) s[nt][e] = dp[nt][e] = 0.f;
#pragma unroll
  for (int ks = 0; ks < D / 16; ++ks) {
    unsigned x1[4], x2[4];
    sm80::ldsm_x4(a1 + a_lane + (((2 * ks) ^ xa) << 4), x1);
    sm80::ldsm_x4(a2 + a_lane + (((2 * ks) ^ xa) << 4), x2);
#pragma unroll
    for (int np = 0; np < NT / 2; ++np) {
      unsigned y1[4], y2[4];
      sm80::ldsm_x4(b1 + np * 16 * RB + b_lane + (((2 * ks) ^ xb) << 4), y1);
      sm80::ldsm_x4(b2 + np * 16 * RB + b_lane + (((2 * ks) ^ xb) << 4), y2);
      sm80::mma_bf16_16816(s[2 * np], x1, y1[0], y1[1]);
      sm80::mma_bf16_16816(s[2 * np + 1], x1, y1[2], y1[3]);
      sm80::mma_bf16_16816(dp[2 * np], x2, y2[0], y2[1]);
      sm80::mma_bf16_16816(dp[2 * np + 1], x2, y2[2], y2[3]);
    }
  }
}

// The bf16 A fragment (16 rows x 16 k) of columns 16 kb .. 16 kb + 15 of a warp's 16-row float accumulator x.
template <int NT>
__device__ __forceinline__ void pack_a(const float (&x)[NT][4], int kb, unsigned a[4]) {
  a[0] = sm80::pack_bf16x2(x[2 * kb][0], x[2 * kb][1]);
  a[1] = sm80::pack_bf16x2(x[2 * kb][2], x[2 * kb][3]);
  a[2] = sm80::pack_bf16x2(x[2 * kb + 1][0], x[2 * kb + 1][1]);
  a[3] = sm80::pack_bf16x2(x[2 * kb + 1][2], x[2 * kb + 1][3]);
}

// acc[2 q], acc[2 q + 1] (q < NP) += A . T[16 kb .. 16 kb + 15][16 (d0 + q) .. 16 (d0 + q) + 15], T the swizzled
// bf16 tile at `tile` read as the row-major B operand (ldmatrix.trans): dV += P^T dO, dK += dS^T Q, dQ += dS K.
template <int D, int NP>
__device__ __forceinline__ void mma_a_tile(float (*acc)[4], const unsigned (&a)[4], unsigned tile, int kb, int d0,
                                           unsigned t_lane, int xt) {
#pragma unroll
  for (int q = 0; q < NP; ++q) {
    unsigned b4[4];
    sm80::ldsm_x4_trans(tile + kb * 16 * (D * 2) + t_lane + (((2 * (d0 + q)) ^ xt) << 4), b4);
    sm80::mma_bf16_16816(acc[2 * q], a, b4[0], b4[1]);
    sm80::mma_bf16_16816(acc[2 * q + 1], a, b4[2], b4[3]);
  }
}
}  // namespace bwd_detail

// D_r = o_scale * rowsum(dO_t * O_r) (t = r / topk): D / 8 lanes per (b, r, h) row, 16 bytes of dO and of O each
// (rows are 16-byte aligned: the runtime's expect_bnhd), rows in (b, r, h) order so that consecutive lane groups
// read consecutive memory of the [B][N][H][D] layouts. The index arithmetic is 32-bit (the runtime refuses
// B N k H D / 8 >= 2^31): a 64-bit division is a ~70-instruction subroutine, and the one-warp-a-row version (three
// of them a row, 4-byte loads) took 0.102-0.103 ms for 200 MB at 32,760 x 12 x 128 on an H100; this one 0.078
// (docs/performance.md, "The backward's row kernels and the gather's tokens").
template <int D>
__global__ void __launch_bounds__(256) attn_bwd_preprocess_kernel(const AttnBwdParams p) {
  using bwd_detail::bf16_t;
  constexpr unsigned kL = D / 8;  // lanes per row: a power of two dividing 32
  grid_dep_wait();
  const unsigned H = (unsigned)p.a.H, N = (unsigned)p.a.N, topk = (unsigned)p.topk;
  const unsigned rows = (unsigned)p.a.B * N * H, c = threadIdx.x % kL;
  // the row's kL lanes (xor offsets below kL stay inside them): the last rows may leave a warp's other groups idle
  const unsigned group = ((kL == 32 ? 0u : (1u << kL)) - 1u) << ((threadIdx.x & 31) & ~(kL - 1));
  for (unsigned r = (blockIdx.x * blockDim.x + threadIdx.x) / kL; r < rows; r += gridDim.x * (blockDim.x / kL)) {
    const unsigned h = r % H, bs = r / H, s = bs % N, b = bs / N;
    const bf16_t* go = static_cast<const bf16_t*>(p.dout) + b * p.do_sb + (s / topk) * p.do_sn + h * p.do_sh;
    const bf16_t* o = static_cast<const bf16_t*>(p.out) + b * p.o_sb + s * p.o_sn + h * p.o_sh;
    const uint4 x = __ldg(reinterpret_cast<const uint4*>(go) + c), y = __ldg(reinterpret_cast<const uint4*>(o) + c);
    const unsigned xs[4] = {x.x, x.y, x.z, x.w}, ys[4] = {y.x, y.y, y.z, y.w};
    float acc = 0.f;
#pragma unroll
    for (int i = 0; i < 4; ++i)
      acc += sm80::bf16lo_to_f32(xs[i]) * sm80::bf16lo_to_f32(ys[i]) + sm80::bf16hi_to_f32(xs[i]) * sm80::bf16hi_to_f32(ys[i]);
#pragma unroll
    for (unsigned o2 = kL / 2; o2 > 0; o2 >>= 1) acc += __shfl_xor_sync(group, acc, o2);
    if (c == 0) p.dq_delta[((long long)b * H + h) * N + s] = acc * p.o_scale;
  }
}

template <class Variant, int D, bool DQ_ATOMIC>
__global__ void __launch_bounds__(128, 1) attention_bwd(const AttnBwdParams p) {
  using namespace bwd_detail;
  using C = AttnBwdCfg<D>;
  constexpr int BM = C::kBM, BN = C::kBN, RB = C::kRowBytes, NT = BM / 8, DT = D / 8;
  constexpr bool kTransform = Variant::kHasSoftcap || Variant::kHasBias;
  constexpr bool kCoords = Variant::kHasMask || Variant::kHasBias;
  grid_dep_wait();
  extern __shared__ __align__(128) unsigned char smem_raw[];
  const unsigned sK = sm80::smem_u32(smem_raw), sV = sK + C::kTileBytes, sSt = sV + C::kTileBytes;
  const unsigned sDS = sSt + 2 * C::kStageBytes;
  unsigned char* st_gen = smem_raw + 2 * C::kTileBytes;  // generic pointer of stage 0 (lse, D rows)

  const AttnParams& a = p.a;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int kt = blockIdx.x, h = blockIdx.y, b = blockIdx.z, N = a.N, kv0 = kt * BN;
  const bf16_t* gq = static_cast<const bf16_t*>(a.q) + b * a.q_sb + h * a.q_sh;
  const bf16_t* gk = static_cast<const bf16_t*>(a.k) + b * a.k_sb + h * a.k_sh;
  const bf16_t* gv = static_cast<const bf16_t*>(a.v) + b * a.v_sb + h * a.v_sh;
  const bf16_t* gdo = static_cast<const bf16_t*>(p.dout) + b * p.do_sb + h * p.do_sh;
  const int* perm = a.perm ? a.perm + (long long)b * N : nullptr;
  const int* tok = p.tok ? p.tok + (long long)b * N : nullptr;
  const int* gid = a.gid ? a.gid + (long long)b * N : nullptr;

  // the query tiles that see this key tile: full first, then partial
  int n_full, n_part = 0;
  const int *full_idx = nullptr, *part_idx = nullptr;
  if (p.mapT.full_cnt) {
    const long long bi = (long long)b * p.mapT.num_kv_tiles + kt;
    n_full = __ldg(p.mapT.full_cnt + bi);
    n_part = __ldg(p.mapT.part_cnt + bi);
    full_idx = p.mapT.full_idx + bi * p.mapT.num_q_tiles;
    part_idx = p.mapT.part_idx + bi * p.mapT.num_q_tiles;
  } else {
    n_full = (N + BM - 1) / BM;
  }
  const int n_tot = n_full + n_part;
  auto tile_of = [&](int j) -> int {
    return j < n_full ? (full_idx ? __ldg(full_idx + j) : j) : __ldg(part_idx + (j - n_full));
  };
  auto issue = [&](int stage, int qt) {
    const unsigned base = sSt + stage * C::kStageBytes;
    load_tile<D>(base, gq, a.q_sn, tok, qt * BM, N, tid);
    load_tile<D>(base + C::kTileBytes, gdo, p.do_sn, tok, qt * BM, N, tid);
    // the query rows' values at their sorted positions (attn_bwd_rows_kernel): cp.async, no dependent loads
    if (tid < 6 * 16) {  // plane tid / 16 in the stage's order: lse2, D, row id, group id, wg, token; 16 bytes each
      const int plane = tid >> 4, c = tid & 15, pi = plane < 4 ? (plane & 1) : 2;
      const long long s0 = (long long)qt * BM + c * 4;
      const void* src = plane < 2 || plane == 4
                            ? static_cast<const void*>(p.srows + (((long long)b * a.H + h) * 3 + pi) * p.srow_ld + s0)
                            : static_cast<const void*>(p.sints + ((long long)b * 3 + pi) * p.srow_ld + s0);
      sm80::cp_async16(sm80::smem_u32(st_gen + stage * C::kStageBytes + 2 * C::kTileBytes) + plane * BM * 4 + c * 16,
                       src, true);
    }
  };

  load_tile<D>(sK, gk, a.k_sn, tok, kv0, N, tid);
  load_tile<D>(sV, gv, a.v_sn, tok, kv0, N, tid);
  if (n_tot > 0) issue(0, tile_of(0));
  sm80::cp_async_commit();

  // this thread's two key rows (accumulator rows lane/4 and lane/4 + 8 of warp's 16)
  const int krow0 = warp * 16 + (lane >> 2);
  Coords<int> kc[2];
  int kg[2];
#pragma unroll
  for (int hr = 0; hr < 2; ++hr) {
    const int ks = kv0 + krow0 + hr * 8;
    kg[hr] = gid && ks < N ? __ldg(gid + ks) : 0;
    if constexpr (kCoords) kc[hr] = coords_of(ks < N ? token_at(tok, ks) : 0, a.shape);
  }

  float dk[DT][4], dv[DT][4];
#pragma unroll
  for (int dt = 0; dt < DT; ++dt)
#pragma unroll
    for (int e = 0; e < 4; ++e) dk[dt][e] = dv[dt][e] = 0.f;

  // ldmatrix lane offsets (attention_fwd's): A rows (K, V of this warp; dS rows), B non-trans (Q, dO), B trans
  const int xa = (lane >> 4) ^ (lane & 7);
  const unsigned a_lane = (warp * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * RB;
  const unsigned b_lane = ((lane >> 4) * 8 + (lane & 7)) * RB;
  const int xb = ((lane >> 3) & 1) ^ (lane & 7);
  const unsigned t_lane = (((lane >> 3) & 1) * 8 + (lane & 7)) * RB;
  const int xt = (lane >> 4) ^ (lane & 7);
  const float scale = a.scale_log2 * 0.6931471805599453f;

  for (int j = 0; j < n_tot; ++j) {
    const int qt = tile_of(j), q0 = qt * BM, stage = j & 1;
    if (j + 1 < n_tot) issue(stage ^ 1, tile_of(j + 1));
    sm80::cp_async_commit();
    sm80::cp_async_wait<1>();
    __syncthreads();
    const unsigned sQ = sSt + stage * C::kStageBytes, sdO = sQ + C::kTileBytes;
    const float* sl2 = reinterpret_cast<const float*>(st_gen + stage * C::kStageBytes + 2 * C::kTileBytes);
    // per query row: row id, group id, (wg as float), token
    const int* stok = reinterpret_cast<const int*>(sl2 + 2 * BM);

    // S^T = K Q^T and dP^T = V dO^T: 16 keys x 64 queries per warp
    float s[NT][4], dp[NT][4];
    mma_two_abt<D, NT>(s, dp, sK, sV, sQ, sdO, a_lane, xa, b_lane, xb);

    // P^T and dS^T, element (key row, query col); the per-element pass only where the forward has one
    const bool partial = j >= n_full;
    const bool elem = kTransform || partial || kv0 + BN > N;
#pragma unroll
    for (int nt = 0; nt < NT; ++nt)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int qcol = nt * 8 + 2 * (lane & 3) + e, qs = q0 + qcol;
        const float l2 = sl2[qcol], dd = sl2[BM + qcol], wg = sl2[4 * BM + qcol];
        const int qg = stok[BM + qcol];
        Coords<int> qc;
        if constexpr (kCoords)
          if (elem) qc = coords_of(stok[3 * BM + qcol], a.shape);
#pragma unroll
        for (int hr = 0; hr < 2; ++hr) {
          const int ks = kv0 + krow0 + hr * 8;
          float& x = s[nt][2 * hr + e];
          const float2 pd = p_and_ds<Variant>(x, dp[nt][2 * hr + e], elem, a, gid != nullptr, ks < N && qs < N,
                                              partial, ks, qg, kg[hr], qc, kc[hr], h, l2, wg, dd);
          dp[nt][2 * hr + e] = pd.y;  // dS
          x = pd.x * wg;              // dV's weight of dO_i
        }
      }

    // dV += P^T dO, dK += dS^T Q (k = the 64 queries)
#pragma unroll
    for (int kb = 0; kb < BM / 16; ++kb) {
      unsigned pa[4], da[4];
      pack_a(s, kb, pa);
      pack_a(dp, kb, da);
      mma_a_tile<D, DT / 2>(dv, pa, sdO, kb, 0, t_lane, xt);
      mma_a_tile<D, DT / 2>(dk, da, sQ, kb, 0, t_lane, xt);
    }

    if constexpr (DQ_ATOMIC) {
      // dS (query-major, bf16) through shared memory, then warp w: dQ rows 16w..16w+15 = dS K, atomics
      bf16_t* ds = reinterpret_cast<bf16_t*>(smem_raw + (sDS - sK));
#pragma unroll
      for (int nt = 0; nt < NT; ++nt)
#pragma unroll
        for (int e = 0; e < 2; ++e)
#pragma unroll
          for (int hr = 0; hr < 2; ++hr) {
            const unsigned u = sm80::pack_bf16x2(dp[nt][2 * hr + e], 0.f);
            ds[(nt * 8 + 2 * (lane & 3) + e) * C::kDSPitch + krow0 + hr * 8] = (bf16_t)(u & 0xffffu);
          }
      __syncthreads();
      const unsigned ds_lane = sDS + ((warp * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * C::kDSPitch + (lane >> 4) * 8) * 2;
      float* gdq = p.dq_acc + (long long)b * N * a.H * D + (long long)h * D;
#pragma unroll
      for (int half = 0; half < DT / 8; ++half) {
        float acc[8][4];
#pragma unroll
        for (int nt = 0; nt < 8; ++nt)
#pragma unroll
          for (int e = 0; e < 4; ++e) acc[nt][e] = 0.f;
#pragma unroll
        for (int kb = 0; kb < BN / 16; ++kb) {
          unsigned sa[4];
          sm80::ldsm_x4(ds_lane + kb * 32, sa);
          mma_a_tile<D, 4>(acc, sa, sK, kb, half * 4, t_lane, xt);
        }
#pragma unroll
        for (int hr = 0; hr < 2; ++hr) {
          const int r = warp * 16 + (lane >> 2) + hr * 8;
          if (q0 + r < N) {
            float* row = gdq + (long long)stok[r] * a.H * D + half * 64 + 2 * (lane & 3);
#pragma unroll
            for (int nt = 0; nt < 8; ++nt)
              bwd_detail::red_add2(row + nt * 8, acc[nt][2 * hr] * scale, acc[nt][2 * hr + 1] * scale);
          }
        }
      }
    }
    __syncthreads();  // stage and dS staging free for the next iteration's copies
  }

  // dK = scale * sum dS q, dV = sum wg P dO: added to the float32 accumulators, or bf16 at the key rows
  if (p.dk_acc) {
#pragma unroll
    for (int hr = 0; hr < 2; ++hr) {
      const int ks = kv0 + krow0 + hr * 8;
      if (ks >= N) continue;
      const long long o = (((long long)b * N + token_at(perm, ks)) * a.H + h) * D + 2 * (lane & 3);
#pragma unroll
      for (int dt = 0; dt < DT; ++dt) {
        add2(p.dk_acc + o + dt * 8, dk[dt][2 * hr] * scale, dk[dt][2 * hr + 1] * scale);
        add2(p.dv_acc + o + dt * 8, dv[dt][2 * hr], dv[dt][2 * hr + 1]);
      }
    }
    return;
  }
  bf16_t* gdk = static_cast<bf16_t*>(p.dk) + b * p.dk_sb + h * p.dk_sh;
  bf16_t* gdv = static_cast<bf16_t*>(p.dv) + b * p.dv_sb + h * p.dv_sh;
#pragma unroll
  for (int hr = 0; hr < 2; ++hr) {
    const int ks = kv0 + krow0 + hr * 8;
    if (ks >= N) continue;
    const long long t = token_at(perm, ks);  // rows are tokens here (host: bf16 outputs only then)
    unsigned* rk = reinterpret_cast<unsigned*>(gdk + t * p.dk_sn) + (lane & 3);
    unsigned* rv = reinterpret_cast<unsigned*>(gdv + t * p.dv_sn) + (lane & 3);
#pragma unroll
    for (int dt = 0; dt < DT; ++dt) {
      rk[dt * 4] = sm80::pack_bf16x2(dk[dt][2 * hr] * scale, dk[dt][2 * hr + 1] * scale);
      rv[dt * 4] = sm80::pack_bf16x2(dv[dt][2 * hr], dv[dt][2 * hr + 1]);
    }
  }
}

// Deterministic dQ: grid (ceil(N/64), H, B), 128 threads, AttnBwdCfg<D>::kDqSmemBytes. Warp w owns query rows
// 16w..16w+15 of the tile and loops over the key tiles of the query-major map (a.map; dense: all), whose key
// tiles are MAP_BN keys (64; 128: the map of attention_bwd_wg's tiles), each run as MAP_BN / 64 tiles of 64
// with the map tile's class (keys past N are zero-filled and not visible).
template <class Variant, int D, int MAP_BN = 64>
__global__ void __launch_bounds__(128, 1) attention_bwd_dq(const AttnBwdParams p) {
  using namespace bwd_detail;
  using C = AttnBwdCfg<D>;
  constexpr int BM = C::kBM, BN = C::kBN, RB = C::kRowBytes, NT = BN / 8, DT = D / 8;
  constexpr bool kTransform = Variant::kHasSoftcap || Variant::kHasBias;
  constexpr bool kCoords = Variant::kHasMask || Variant::kHasBias;
  grid_dep_wait();
  extern __shared__ __align__(128) unsigned char smem_raw[];
  const unsigned sQ = sm80::smem_u32(smem_raw), sdO = sQ + C::kTileBytes, sKV = sdO + C::kTileBytes;

  const AttnParams& a = p.a;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  // N: rows (lse, D, accumulators); Ns: sorted positions (AttnBwdParams::ns: aligned groups' padding, -1)
  const int qt = blockIdx.x, h = blockIdx.y, b = blockIdx.z, N = a.N, Ns = p.ns > 0 ? p.ns : N, q0 = qt * BM;
  const bf16_t* gq = static_cast<const bf16_t*>(a.q) + b * a.q_sb + h * a.q_sh;
  const bf16_t* gk = static_cast<const bf16_t*>(a.k) + b * a.k_sb + h * a.k_sh;
  const bf16_t* gv = static_cast<const bf16_t*>(a.v) + b * a.v_sb + h * a.v_sh;
  const bf16_t* gdo = static_cast<const bf16_t*>(p.dout) + b * p.do_sb + h * p.do_sh;
  const int* perm = a.perm ? a.perm + (long long)b * Ns : nullptr;
  const int* tok = p.tok ? p.tok + (long long)b * Ns : nullptr;
  const int* gid = a.gid ? a.gid + (long long)b * Ns : nullptr;

  int n_full, n_part = 0;
  const int *full_idx = nullptr, *part_idx = nullptr;
  if (a.map.full_cnt) {
    const long long bi = (long long)b * a.map.num_q_tiles + qt;
    n_full = __ldg(a.map.full_cnt + bi);
    n_part = __ldg(a.map.part_cnt + bi);
    full_idx = a.map.full_idx + bi * a.map.num_kv_tiles;
    part_idx = a.map.part_idx + bi * a.map.num_kv_tiles;
  } else {
    n_full = (Ns + MAP_BN - 1) / MAP_BN;
  }
  static_assert(MAP_BN % BN == 0, "map key tiles are whole 64-key tiles");
  constexpr int R = MAP_BN / BN;  // 64-key tiles per map tile
  const int n_tot = (n_full + n_part) * R;
  auto tile_of = [&](int j) -> int {
    const int m = j / R;
    return (m < n_full ? (full_idx ? __ldg(full_idx + m) : m) : __ldg(part_idx + (m - n_full))) * R + j % R;
  };
  auto issue = [&](int stage, int kt) {
    const unsigned base = sKV + stage * 2 * C::kTileBytes;
    load_tile<D>(base, gk, a.k_sn, tok, kt * BN, Ns, tid);
    load_tile<D>(base + C::kTileBytes, gv, a.v_sn, tok, kt * BN, Ns, tid);
  };
  load_tile<D>(sQ, gq, a.q_sn, tok, q0, Ns, tid);
  load_tile<D>(sdO, gdo, p.do_sn, tok, q0, Ns, tid);
  if (n_tot > 0) issue(0, tile_of(0));
  sm80::cp_async_commit();

  const int row0 = warp * 16 + (lane >> 2);
  float l2[2], dd[2], wg[2];
  int qtok[2], qg[2];
  Coords<int> qc[2];
#pragma unroll
  for (int hr = 0; hr < 2; ++hr) {
    const int qs = q0 + row0 + hr * 8, t0 = qs < Ns ? token_at(perm, qs) : -1;
    const bool ok = t0 >= 0;  // past the end or padding: no keys, no output
    qtok[hr] = ok ? t0 : -1;
    qg[hr] = ok && gid ? __ldg(gid + qs) : 0;
    l2[hr] = lse2_of(p.lse + ((long long)b * a.H + h) * N, qtok[hr], ok);
    dd[hr] = ok ? __ldg(p.dq_delta + ((long long)b * a.H + h) * N + qtok[hr]) : 0.f;
    wg[hr] = ok && a.gate ? a.weight * __ldg(a.gate + (long long)b * Ns + qs) : a.weight;
    if constexpr (kCoords) qc[hr] = coords_of(ok ? token_at(tok, qs) : 0, a.shape);
  }
  float dq[DT][4];
#pragma unroll
  for (int dt = 0; dt < DT; ++dt)
#pragma unroll
    for (int e = 0; e < 4; ++e) dq[dt][e] = 0.f;

  const int xa = (lane >> 4) ^ (lane & 7);
  const unsigned a_lane = (warp * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * RB;
  const unsigned b_lane = ((lane >> 4) * 8 + (lane & 7)) * RB;
  const int xb = ((lane >> 3) & 1) ^ (lane & 7);
  const unsigned t_lane = (((lane >> 3) & 1) * 8 + (lane & 7)) * RB;
  const int xt = (lane >> 4) ^ (lane & 7);
  const float scale = a.scale_log2 * 0.6931471805599453f;

  for (int j = 0; j < n_tot; ++j) {
    const int kt = tile_of(j), kv0 = kt * BN, stage = j & 1;
    if (j + 1 < n_tot) issue(stage ^ 1, tile_of(j + 1));
    sm80::cp_async_commit();
    sm80::cp_async_wait<1>();
    __syncthreads();
    const unsigned sK = sKV + stage * 2 * C::kTileBytes, sV = sK + C::kTileBytes;

    float s[NT][4], dp[NT][4];  // S = Q K^T, dP = dO V^T: 16 queries x 64 keys per warp
    mma_two_abt<D, NT>(s, dp, sQ, sdO, sK, sV, a_lane, xa, b_lane, xb);

    const bool partial = j / R >= n_full;
    const bool elem = kTransform || partial || kv0 + BN > Ns;
#pragma unroll
    for (int nt = 0; nt < NT; ++nt)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int ks = kv0 + nt * 8 + 2 * (lane & 3) + e;
        const bool kv_ok = ks < Ns;  // padding keys: their group id (-1) matches no query's
        const int kg = gid && partial && kv_ok ? __ldg(gid + ks) : 0;
        Coords<int> kc;
        if constexpr (kCoords)
          if (elem) kc = coords_of(kv_ok ? max(token_at(tok, ks), 0) : 0, a.shape);
#pragma unroll
        for (int hr = 0; hr < 2; ++hr) {
          const int qs = q0 + row0 + hr * 8;
          float& x = s[nt][2 * hr + e];
          x = p_and_ds<Variant>(x, dp[nt][2 * hr + e], elem, a, gid != nullptr, kv_ok && qs < Ns, partial, ks, qg[hr],
                                kg, qc[hr], kc, h, l2[hr], wg[hr], dd[hr]).y;  // dS
        }
      }

    // dQ += dS K (k = the 64 keys)
#pragma unroll
    for (int kb = 0; kb < BN / 16; ++kb) {
      unsigned da[4];
      pack_a(s, kb, da);
      mma_a_tile<D, DT / 2>(dq, da, sK, kb, 0, t_lane, xt);
    }
    __syncthreads();  // the stage is free for the copies of iteration j + 2
  }

  if (p.dq_acc) {  // rows (qtok: the row ids) of the float32 accumulator, one owner each
#pragma unroll
    for (int hr = 0; hr < 2; ++hr) {
      if (qtok[hr] < 0) continue;
      float* r = p.dq_acc + (((long long)b * N + qtok[hr]) * a.H + h) * D + 2 * (lane & 3);
#pragma unroll
      for (int dt = 0; dt < DT; ++dt) add2(r + dt * 8, dq[dt][2 * hr] * scale, dq[dt][2 * hr + 1] * scale);
    }
    return;
  }
  bf16_t* gdq = static_cast<bf16_t*>(p.dq) + b * p.dq_sb + h * p.dq_sh;
#pragma unroll
  for (int hr = 0; hr < 2; ++hr) {
    if (qtok[hr] < 0) continue;
    unsigned* r = reinterpret_cast<unsigned*>(gdq + (long long)qtok[hr] * p.dq_sn) + (lane & 3);
#pragma unroll
    for (int dt = 0; dt < DT; ++dt) r[dt * 4] = sm80::pack_bf16x2(dq[dt][2 * hr] * scale, dq[dt][2 * hr + 1] * scale);
  }
}

// AttnBwdParams::srows / sints from the rows' own values (lse, D by row id; perm, gid, tok, gate by sorted
// position): one thread per (b, h, s < srow_ld), grid-stride; h == 0 also writes the int planes. Launched after
// attn_bwd_preprocess_kernel (D).
template <int D>
__global__ void __launch_bounds__(256) attn_bwd_rows_kernel(const AttnBwdParams p) {
  grid_dep_wait();
  const AttnParams& a = p.a;
  const int N = a.N, ld = p.srow_ld;
  const long long n = (long long)a.B * a.H * ld;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    const int s = (int)(i % ld);
    const long long bh = i / ld;
    const int h = (int)(bh % a.H), b = (int)(bh / a.H);
    const bool ok = s < N;
    const long long bs = (long long)b * N + s;
    const int t = ok ? (a.perm ? __ldg(a.perm + bs) : s) : 0;
    float* f = p.srows + bh * 3 * ld + s;
    f[0] = bwd_detail::lse2_of(p.lse + bh * N, t, ok);
    f[ld] = ok ? __ldg(p.dq_delta + bh * N + t) : 0.f;
    f[2 * ld] = ok && a.gate ? a.weight * __ldg(a.gate + bs) : a.weight;
    if (h == 0) {
      int* q = p.sints + (long long)b * 3 * ld + s;
      q[0] = t;
      q[ld] = ok && a.gid ? __ldg(a.gid + bs) : 0;
      q[2 * ld] = ok ? (p.tok ? __ldg(p.tok + bs) : s) : 0;
    }
  }
}

// AttnBwdFoldParams (bwd_params.cuh): one thread per 8 elements of a token row, grid-stride; blockIdx.y the tensor.
// 32-bit index arithmetic, as attn_bwd_preprocess_kernel's (the runtime refuses B N k H D / 8 >= 2^31).
template <int D>
__global__ void __launch_bounds__(256) attn_bwd_fold_kernel(const AttnBwdFoldParams p) {
  grid_dep_wait();
  const int i = blockIdx.y;
  if (!p.src[i]) return;
  constexpr unsigned kC = D / 8;
  const unsigned H = (unsigned)p.H, N = (unsigned)p.N, k = (unsigned)p.k;
  const unsigned n = (unsigned)p.B * N * H * kC;
  for (unsigned x = blockIdx.x * blockDim.x + threadIdx.x; x < n; x += gridDim.x * blockDim.x) {
    const unsigned c = x % kC, r = x / kC;  // r = (b N + t) H + h
    const unsigned h = r % H, bt = r / H;
    float v[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
    for (unsigned j = 0; j < k; ++j) {
      const float4* src = reinterpret_cast<const float4*>(p.src[i] + ((unsigned long long)(bt * k + j) * H + h) * D + c * 8);
      const float4 a = __ldg(src), b = __ldg(src + 1);
      v[0] += a.x, v[1] += a.y, v[2] += a.z, v[3] += a.w, v[4] += b.x, v[5] += b.y, v[6] += b.z, v[7] += b.w;
    }
    if (p.acc[i]) {
      float4* dst = reinterpret_cast<float4*>(p.acc[i] + (unsigned long long)r * D + c * 8);
      float4 a = dst[0], b = dst[1];
      a.x += v[0], a.y += v[1], a.z += v[2], a.w += v[3], b.x += v[4], b.y += v[5], b.z += v[6], b.w += v[7];
      dst[0] = a, dst[1] = b;
      continue;
    }
    const unsigned t = bt % N, b = bt / N;
    uint4 o;
    o.x = sm80::pack_bf16x2(v[0], v[1]);
    o.y = sm80::pack_bf16x2(v[2], v[3]);
    o.z = sm80::pack_bf16x2(v[4], v[5]);
    o.w = sm80::pack_bf16x2(v[6], v[7]);
    *reinterpret_cast<uint4*>(static_cast<bwd_detail::bf16_t*>(p.dst[i]) + b * p.d_sb[i] + t * p.d_sn[i] +
                              h * p.d_sh[i] + c * 8) = o;
  }
}

// d L / d gate of row perm[s] = sum_h D[b][h][row] / gate[b][s] (fixed order over h: deterministic); one thread
// per sorted position (AttnBwdParams::ns of them a batch item; padding skipped); p.dgate [B][N] by row (top k >
// 1: [B][N / k][k], the forward's routing layout).
template <int D>
__global__ void __launch_bounds__(256) attn_bwd_gate_kernel(const AttnBwdParams p) {
  grid_dep_wait();
  const int ns = p.ns > 0 ? p.ns : p.a.N;
  const long long n = (long long)p.a.B * ns;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    const int b = (int)(i / ns), s = (int)(i % ns);
    const int t = p.a.perm ? __ldg(p.a.perm + i) : s;
    if (t < 0) continue;  // padding of aligned groups
    float acc = 0.f;
    for (int h = 0; h < p.a.H; ++h) acc += __ldg(p.dq_delta + ((long long)b * p.a.H + h) * p.a.N + t);
    const float g = __ldg(p.a.gate + i);
    p.dgate[(long long)b * p.a.N + t] = g > 0.f ? acc / g : 0.f;
  }
}

template <int D>
__device__ int attn_bwd_smem_bytes = AttnBwdCfg<D>::kSmemBytes;
template <int D>
__device__ int attn_bwd_dq_smem_bytes = AttnBwdCfg<D>::kDqSmemBytes;
#endif

}  // namespace moga
