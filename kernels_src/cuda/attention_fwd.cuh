// Forward attention over a (permuted) block-sparse map: the template every branch kernel instantiates.
//
//   template <class Variant, int D, int BM, int BN, int WARPS, int STAGES, bool LSE = false>
//   __global__ void attention_fwd(moga::AttnParams p);     grid (ceil(N/BM), H, B), WARPS*32 threads,
//                                                          AttnFwdCfg<...>::kSmemBytes dynamic smem.
//   LSE = true: the epilogue also writes every row's log-sum-exp to p.lse (params.cuh; the backward's input).
//
// FlashAttention-2 structure on mma.sync m16n8k16 (bf16 in, fp32 accumulate):
//  * each warp owns 16*MT query rows (MT = BM / (16*WARPS), 1 or 2); its Q fragments stay in registers
//    for the whole key loop when MT*D <= 128, otherwise (D=128 with two m-tiles per warp, FA2's layout)
//    Q stays in shared memory and is re-read per k-step;
//  * K/V tiles of BN keys stream through STAGES shared-memory slots with cp.async (tile j+STAGES-1 is
//    gathered while tile j is computed); every 16-byte chunk is fetched from the token the permutation
//    names (gather in the load: no permuted copy) and rows past N are zero-filled; gather indices are
//    read at the top of an iteration and used after Q.K^T (their latency hides behind the MMAs);
//  * shared-memory rows are D bf16 with the 16-byte chunk index XOR-swizzled by (row & 7): ldmatrix
//    (plain for K, .trans for V) and the cp.async stores are free of bank conflicts;
//  * online softmax in fp32 with base-2 exponentials (scores scaled by scale_log2 inside the FFMA);
//    P never leaves registers (the S accumulators are re-packed as the A operand of P.V);
//  * full key tiles take a path with no per-element work at all; partial tiles (and the last tile of
//    a sequence whose length is no multiple of BN) evaluate, per element, kv < N, gid equality and
//    Variant::mask on the coordinates of the original tokens;
//  * epilogue: o / l (0 for a row that saw no key), times weight and gate, staged through shared memory
//    in fp32 and written (or accumulated) with 16-byte stores to the token's original position.
// History, measurements and the variants that lost: docs/performance.md.
//
// Score definition: s = (q.k) * scale; if kHasSoftcap: s = c * tanh(s / c); if kHasBias: s += bias.
// Requirements: D in {64, 128} (any multiple of 64 works), every tensor's row start 16-byte aligned
// (token/head/batch strides multiples of 8 elements), token strides below 2^31 elements,
// BN % 16 == 0, BM % (16*WARPS) == 0.
// NVRTC-compatible: no host standard headers.
#pragma once
#include "mma_sm80.cuh"
#include "params.cuh"
#include "score_pass.cuh"

namespace moga {

template <int D, int BM, int BN, int WARPS, int STAGES>
struct AttnFwdCfg {
  static constexpr int kThreads = WARPS * 32;
  static constexpr int kMT = BM / (16 * WARPS);  // 16-row m-tiles per warp
  static constexpr int kNT = BN / 8;             // n-tiles of S
  static constexpr int kKD = D / 16;             // k-steps of Q.K^T
  static constexpr int kDT = D / 8;              // n-tiles of O
  static constexpr int kKB = BN / 16;            // k-steps of P.V
  static constexpr int kCH = D / 8;              // 16-byte chunks per row
  static constexpr int kRowBytes = D * 2;
  static constexpr int kQBytes = BM * kRowBytes;
  static constexpr int kTileBytes = BN * kRowBytes;
  static constexpr int kStageBytes = 2 * kTileBytes;  // K then V
  static constexpr int kMainBytes = kQBytes + STAGES * kStageBytes;
  static constexpr bool kQInRegs = kMT * D <= 128;  // else Q is re-read from shared memory per k-step
  static constexpr int kOPitch = D + 8;  // floats per row of the fp32 output staging (conflict-free)
  static constexpr int kEpiBytes = BM * kOPitch * 4;
  static constexpr int kSmemBytes = kMainBytes > kEpiBytes ? kMainBytes : kEpiBytes;
  static constexpr int kRowStep = kThreads / kCH;  // rows between one thread's successive loads
  static constexpr int kQRows = (BM + kRowStep - 1) / kRowStep;   // rows each thread loads per Q tile
  static constexpr int kKVRows = (BN + kRowStep - 1) / kRowStep;  // ... per K (and V) tile (last: guarded)

  static_assert(D % 64 == 0, "D must be a multiple of 64 (swizzle spans 8 chunks)");
  static_assert(BM % (16 * WARPS) == 0 && kMT >= 1, "BM must be a multiple of 16*WARPS");
  static_assert(BN % 16 == 0, "BN must be a multiple of 16");
  static_assert(STAGES >= 2, "STAGES >= 2");
  static_assert(kThreads % kCH == 0 && kRowStep % 8 == 0, "thread/chunk mapping");
};

template <class Variant, int D, int BM, int BN, int WARPS, int STAGES, bool LSE = false>
__global__ void __launch_bounds__(WARPS * 32, 1) attention_fwd(const AttnParams p) {
  using C = AttnFwdCfg<D, BM, BN, WARPS, STAGES>;
  constexpr int MT = C::kMT, NT = C::kNT, KD = C::kKD, DT = C::kDT, KB = C::kKB, CH = C::kCH;
  constexpr int RB = C::kRowBytes;
  constexpr bool kQCoords = Variant::kHasMask || Variant::kHasBias;
  constexpr bool kTransform = Variant::kHasSoftcap || Variant::kHasBias;
  typedef unsigned short bf16_t;

  grid_dep_wait();  // launched with PDL behind the prep kernels or the previous branch (params.cuh)
  extern __shared__ __align__(128) unsigned char smem_raw[];
  const unsigned sQ = sm80::smem_u32(smem_raw);
  const unsigned sKV = sQ + C::kQBytes;

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int qt = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
  const int N = p.N, NK = p.Nk > 0 ? p.Nk : p.N;  // NK != N: dense cross-attention (AttnParams::Nk)
  const int q0 = qt * BM;
  const int* perm = p.perm ? p.perm + (long long)b * N : nullptr;
  const int* gid = p.gid ? p.gid + (long long)b * N : nullptr;
  const bf16_t* gq = static_cast<const bf16_t*>(p.q) + b * p.q_sb + h * p.q_sh;
  const bf16_t* gk = static_cast<const bf16_t*>(p.k) + b * p.k_sb + h * p.k_sh;
  const bf16_t* gv = static_cast<const bf16_t*>(p.v) + b * p.v_sb + h * p.v_sh;

  // ---- the key-tile list of this query tile: full tiles first, then partial ones ----------------------
  int n_full, n_part = 0;
  const int* full_idx = nullptr;
  const int* part_idx = nullptr;
  if (p.map.full_cnt) {
    const long long bi = (long long)b * p.map.num_q_tiles + qt;
    n_full = __ldg(p.map.full_cnt + bi);
    full_idx = p.map.full_idx + bi * p.map.num_kv_tiles;
    if (p.map.part_cnt) {
      n_part = __ldg(p.map.part_cnt + bi);
      part_idx = p.map.part_idx + bi * p.map.num_kv_tiles;
    }
  } else {
    n_full = (NK + BN - 1) / BN;
  }
  const int n_tot = n_full + n_part;
  auto tile_of = [&](int j) -> int {
    return j < n_full ? (full_idx ? __ldg(full_idx + j) : j) : __ldg(part_idx + (j - n_full));
  };

  // ---- loads: thread -> (row ld_r + i*kRowStep, chunk ld_c); the swizzled offset is loop-invariant ----
  const int ld_c = tid % CH, ld_r = tid / CH;
  const unsigned ld_soff = ld_r * RB + ((ld_c ^ (ld_r & 7)) << 4);
  auto row_tok = [&](int s) -> int { return s < N ? (perm ? __ldg(perm + s) : s) : -1; };
  auto key_tok = [&](int s) -> int { return s < NK ? (perm ? __ldg(perm + s) : s) : -1; };
  auto kv_tokens = [&](int kv0, int (&tok)[C::kKVRows]) {
#pragma unroll
    for (int i = 0; i < C::kKVRows; ++i) tok[i] = key_tok(kv0 + ld_r + i * C::kRowStep);
  };
  // byte addresses: row base + token * byte stride as one 32x32->64-bit multiply-add per copy
  const char* gk_c = reinterpret_cast<const char*>(gk + ld_c * 8);
  const char* gv_c = reinterpret_cast<const char*>(gv + ld_c * 8);
  // rows past the tile (when kRowStep does not divide BN / BM) issue nothing
  auto kv_issue = [&](unsigned slot, const int (&tok)[C::kKVRows]) {
    const unsigned k_rb = static_cast<unsigned>(p.k_sn) * 2u, v_rb = static_cast<unsigned>(p.v_sn) * 2u;
#pragma unroll
    for (int i = 0; i < C::kKVRows; ++i) {
      if (BN % C::kRowStep != 0 && ld_r + i * C::kRowStep >= BN) break;
      const bool ok = tok[i] >= 0;
      const unsigned t = ok ? static_cast<unsigned>(tok[i]) : 0u;
      const unsigned dst = slot + ld_soff + i * C::kRowStep * RB;
      sm80::cp_async16(dst, gk_c + static_cast<unsigned long long>(t) * k_rb, ok);
      sm80::cp_async16(dst + C::kTileBytes, gv_c + static_cast<unsigned long long>(t) * v_rb, ok);
    }
  };

  // Q tile (group 0)
#pragma unroll
  for (int i = 0; i < C::kQRows; ++i) {
    if (BM % C::kRowStep != 0 && ld_r + i * C::kRowStep >= BM) break;
    const int t = row_tok(q0 + ld_r + i * C::kRowStep);
    const long long tt = t >= 0 ? t : 0;
    sm80::cp_async16(sQ + ld_soff + i * C::kRowStep * RB, gq + tt * p.q_sn + ld_c * 8, t >= 0);
  }
  sm80::cp_async_commit();

  // first STAGES-1 key tiles (one group each, empty groups keep the count)
  int ring[STAGES - 1];  // tile indices of the tiles in flight, oldest first
#pragma unroll
  for (int st = 0; st < STAGES - 1; ++st) {
    ring[st] = 0;
    if (st < n_tot) {
      const int ti = tile_of(st);
      ring[st] = ti;
      int tok[C::kKVRows];
      kv_tokens(ti * BN, tok);
      kv_issue(sKV + st * C::kStageBytes, tok);
    }
    sm80::cp_async_commit();
  }
  int next_ti = (STAGES - 1 < n_tot) ? tile_of(STAGES - 1) : 0;

  // ---- per-row constants: the rows this thread holds in the accumulators ---------------------------
  // accumulator element [mt][.][2*hr + e] is row  warp*16*MT + mt*16 + lane/4 + 8*hr
  const int row_base = warp * 16 * MT + (lane >> 2);
  Coords<int> qc[MT][2];
  int qgid[MT][2];  // the row's group id; with aligned groups (p.seg_end) the end of the row's group instead
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int hr = 0; hr < 2; ++hr) {
      const int qs = q0 + row_base + mt * 16 + hr * 8;
      const bool ok = qs < N;
      qgid[mt][hr] = row_key(p, gid, b, qs, ok);
      if constexpr (kQCoords) {
        const int t = ok ? (perm ? __ldg(perm + qs) : qs) : 0;
        qc[mt][hr] = coords_of(t, p.shape);
      }
    }

  // ---- Q: fragments into registers, or left in shared memory -------------------------------------
  sm80::cp_async_wait<STAGES - 1>();
  __syncthreads();
  const int xq = (lane >> 4) ^ (lane & 7);
  const unsigned q_lane = sQ + (warp * 16 * MT + (lane & 7) + ((lane >> 3) & 1) * 8) * RB;
  unsigned qf[C::kQInRegs ? MT : 1][C::kQInRegs ? KD : 1][4];
  if constexpr (C::kQInRegs) {
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
      for (int ks = 0; ks < KD; ++ks) sm80::ldsm_x4(q_lane + mt * 16 * RB + (((2 * ks) ^ xq) << 4), qf[mt][ks]);
  }

  float o[MT][DT][4];
  float mrow[MT][2], lrow[MT][2];
#pragma unroll
  for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
    for (int dt = 0; dt < DT; ++dt)
#pragma unroll
      for (int e = 0; e < 4; ++e) o[mt][dt][e] = 0.f;
#pragma unroll
    for (int hr = 0; hr < 2; ++hr) {
      mrow[mt][hr] = sm80::neg_inf();
      lrow[mt][hr] = 0.f;
    }
  }
  // plain path: S holds raw q.k and the scale rides in the exponent's FFMA; transform path: S is turned
  // into base-2 logits first.
  const float sl = kTransform ? 1.f : p.scale_log2;

  // ldmatrix lane constants (row & 7 == lane & 7 for every tile row a lane addresses)
  const unsigned k_lane = ((lane >> 4) * 8 + (lane & 7)) * RB;
  const int xk = ((lane >> 3) & 1) ^ (lane & 7);
  const unsigned v_lane = (((lane >> 3) & 1) * 8 + (lane & 7)) * RB;
  const int xv = (lane >> 4) ^ (lane & 7);

  int rd = 0, wr = STAGES - 1;
  for (int j = 0; j < n_tot; ++j) {
    sm80::cp_async_wait<STAGES - 2>();
    __syncthreads();  // tile j landed for all threads; slot wr (tile j-1) is free

    const int ti = ring[0];
#pragma unroll
    for (int st = 0; st + 1 < STAGES - 1; ++st) ring[st] = ring[st + 1];
    const bool have = j + STAGES - 1 < n_tot;
    int tok[C::kKVRows];
    if (have) {
      ring[STAGES - 2] = next_ti;
      kv_tokens(next_ti * BN, tok);  // gather indices now, the copies after Q.K^T (latency hidden)
    }
    if (j + STAGES < n_tot) next_ti = tile_of(j + STAGES);

    const unsigned sK = sKV + rd * C::kStageBytes;
    const unsigned sV = sK + C::kTileBytes;

    // ---- S = Q K^T ----
    float s[MT][NT][4];
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
      for (int nt = 0; nt < NT; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e) s[mt][nt][e] = 0.f;
#pragma unroll
    for (int ks = 0; ks < KD; ++ks) {
      unsigned qa[MT][4];
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
        if constexpr (C::kQInRegs) {
#pragma unroll
          for (int e = 0; e < 4; ++e) qa[mt][e] = qf[mt][ks][e];
        } else {
          sm80::ldsm_x4(q_lane + mt * 16 * RB + (((2 * ks) ^ xq) << 4), qa[mt]);
        }
      }
#pragma unroll
      for (int np = 0; np < NT / 2; ++np) {
        unsigned kb[4];
        sm80::ldsm_x4(sK + np * 16 * RB + k_lane + (((2 * ks) ^ xk) << 4), kb);
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) {
          sm80::mma_bf16_16816(s[mt][2 * np], qa[mt], kb[0], kb[1]);
          sm80::mma_bf16_16816(s[mt][2 * np + 1], qa[mt], kb[2], kb[3]);
        }
      }
    }

    if (have) kv_issue(sKV + wr * C::kStageBytes, tok);
    sm80::cp_async_commit();
    rd = rd + 1 == STAGES ? 0 : rd + 1;
    wr = wr + 1 == STAGES ? 0 : wr + 1;

    // ---- per-element work: partial tiles, the ragged last tile, softcap / bias ----
    const int kv0 = ti * BN;
    const bool partial = j >= n_full;
    if (kTransform || partial || kv0 + BN > NK) {
      const float scale = p.scale_log2 * 0.6931471805599453f;
#pragma unroll
      for (int nt = 0; nt < NT; ++nt)
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          const int ks_ = kv0 + nt * 8 + 2 * (lane & 3) + e;
          const bool cv = ks_ < NK;
          int kg = 0;
          Coords<int> kc;
          key_column<Variant>(p, perm, gid, ks_, cv, partial, kg, kc);
#pragma unroll
          for (int mt = 0; mt < MT; ++mt)
#pragma unroll
            for (int hr = 0; hr < 2; ++hr)
              score_element<Variant>(s[mt][nt][2 * hr + e], p, gid != nullptr, cv, partial, ks_, qgid[mt][hr], kg,
                                     qc[mt][hr], kc, h, scale);
        }
    }

    // ---- online softmax (fp32, base 2) ----
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
      for (int hr = 0; hr < 2; ++hr) {
        float mx = mrow[mt][hr];
#pragma unroll
        for (int nt = 0; nt < NT; ++nt) mx = fmaxf(mx, fmaxf(s[mt][nt][2 * hr], s[mt][nt][2 * hr + 1]));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        const float m_use = mx == sm80::neg_inf() ? 0.f : mx;  // no key seen yet: exps give 0, not NaN
        const float ms = m_use * sl;
        const float alpha = sm80::ex2(mrow[mt][hr] * sl - ms);
        mrow[mt][hr] = mx;
        float sum = 0.f;
#pragma unroll
        for (int nt = 0; nt < NT; ++nt)
#pragma unroll
          for (int e = 0; e < 2; ++e) {
            const float pe = sm80::ex2(fmaf(s[mt][nt][2 * hr + e], sl, -ms));
            s[mt][nt][2 * hr + e] = pe;
            sum += pe;
          }
        lrow[mt][hr] = lrow[mt][hr] * alpha + sum;
#pragma unroll
        for (int dt = 0; dt < DT; ++dt) {
          o[mt][dt][2 * hr] *= alpha;
          o[mt][dt][2 * hr + 1] *= alpha;
        }
      }

    // ---- O += P V (P re-packed from the S accumulators as A fragments) ----
#pragma unroll
    for (int kb = 0; kb < KB; ++kb) {
      unsigned pa[MT][4];
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
        pa[mt][0] = sm80::pack_bf16x2(s[mt][2 * kb][0], s[mt][2 * kb][1]);
        pa[mt][1] = sm80::pack_bf16x2(s[mt][2 * kb][2], s[mt][2 * kb][3]);
        pa[mt][2] = sm80::pack_bf16x2(s[mt][2 * kb + 1][0], s[mt][2 * kb + 1][1]);
        pa[mt][3] = sm80::pack_bf16x2(s[mt][2 * kb + 1][2], s[mt][2 * kb + 1][3]);
      }
#pragma unroll
      for (int dp = 0; dp < DT / 2; ++dp) {
        unsigned vb[4];
        sm80::ldsm_x4_trans(sV + kb * 16 * RB + v_lane + (((2 * dp) ^ xv) << 4), vb);
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) {
          sm80::mma_bf16_16816(o[mt][2 * dp], pa[mt], vb[0], vb[1]);
          sm80::mma_bf16_16816(o[mt][2 * dp + 1], pa[mt], vb[2], vb[3]);
        }
      }
    }
  }

  // ---- epilogue ------------------------------------------------------------------------------------
  sm80::cp_async_wait<0>();
  __syncthreads();  // every warp is done with the K/V slots: the fp32 staging may overwrite them
  float* so = reinterpret_cast<float*>(smem_raw);
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int hr = 0; hr < 2; ++hr) {
      float lt = lrow[mt][hr];
      lt += __shfl_xor_sync(0xffffffffu, lt, 1);
      lt += __shfl_xor_sync(0xffffffffu, lt, 2);
      const int r = row_base + mt * 16 + hr * 8;
      const int qs = q0 + r;
      float g = p.weight;
      if (p.gate && qs < N) g *= __ldg(p.gate + (long long)b * N + qs);
      const float f = lt > 0.f ? g / lt : 0.f;
      if constexpr (LSE) {
        // the max is in the units of S: raw q.k (plain path, sl = scale*log2e) or base-2 logits (sl = 1)
        if ((lane & 3) == 0 && qs < N) {
          const long long t = p.out_row ? __ldg(p.out_row + (long long)b * N + qs) : perm ? __ldg(perm + qs) : qs;
          if (t >= 0)
            p.lse[((long long)b * p.H + h) * p.lse_rows + t] =
                lt > 0.f ? (mrow[mt][hr] * sl + log2f(lt)) * 0.6931471805599453f : sm80::neg_inf();
        }
      }
#pragma unroll
      for (int dt = 0; dt < DT; ++dt)
        *reinterpret_cast<float2*>(so + r * C::kOPitch + dt * 8 + 2 * (lane & 3)) =
            make_float2(o[mt][dt][2 * hr] * f, o[mt][dt][2 * hr + 1] * f);
    }
  __syncwarp();  // each warp reads back only its own rows

  bf16_t* go = static_cast<bf16_t*>(p.o) + b * p.o_sb + h * p.o_sh;
  constexpr int kRowsPerPass = 32 / CH > 0 ? 32 / CH : 1;
  constexpr int kLanesPerRow = CH < 32 ? CH : 32;
  constexpr int kChunkPasses = CH / kLanesPerRow;
#pragma unroll
  for (int it = 0; it < 16 * MT / kRowsPerPass; ++it) {
    const int r = warp * 16 * MT + it * kRowsPerPass + lane / kLanesPerRow;
    const int qs = q0 + r;
    const long long t = qs >= N ? -1
                        : p.out_row ? __ldg(p.out_row + (long long)b * N + qs)
                        : perm      ? __ldg(perm + qs)
                                    : qs;
    if (t >= 0) {  // rows past N and padding of aligned groups (perm -1) are not written
#pragma unroll
      for (int cp = 0; cp < kChunkPasses; ++cp) {
        const int c = cp * kLanesPerRow + lane % kLanesPerRow;
        const float4 a0 = *reinterpret_cast<const float4*>(so + r * C::kOPitch + c * 8);
        const float4 a1 = *reinterpret_cast<const float4*>(so + r * C::kOPitch + c * 8 + 4);
        float v[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
        uint4* dst = reinterpret_cast<uint4*>(go + t * p.o_sn + c * 8);
        if (p.accumulate) {
          const uint4 old = *dst;
          const unsigned ow[4] = {old.x, old.y, old.z, old.w};
#pragma unroll
          for (int k = 0; k < 4; ++k) {
            v[2 * k] += sm80::bf16lo_to_f32(ow[k]);
            v[2 * k + 1] += sm80::bf16hi_to_f32(ow[k]);
          }
        }
        uint4 w;
        w.x = sm80::pack_bf16x2(v[0], v[1]);
        w.y = sm80::pack_bf16x2(v[2], v[3]);
        w.z = sm80::pack_bf16x2(v[4], v[5]);
        w.w = sm80::pack_bf16x2(v[6], v[7]);
        *dst = w;
      }
    }
  }
}

}  // namespace moga
