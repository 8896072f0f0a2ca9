// Backward attention on Hopper wgmma (sm_90a; backward registry row "sm90.wg", runtime/attention/
// bwd_registry.h): FlashAttention-3's backward structure (hopper/mainloop_bwd_sm90_tma_gmma_ws.hpp at
// D = 128: kBlockM 64, kBlockN 128, two MMA warpgroups, SdP_swapAB, dK / dV by RS wgmma, dQ by SS wgmma
// from a dS staged in shared memory, float32 dQ added to dq_acc) on this project's frame: the forward's
// variant struct (score_pass.cuh through attention_bwd.cuh's p_and_ds: the gradient sees exactly the
// scores the forward saw), the key-major block map, and attention_bwd's parameters and outputs
// (bwd_params.cuh), so the preprocess, fold and gate kernels and the deterministic dQ pass are shared.
//
//   template <class Variant, int D, bool DQ_ATOMIC, bool DQ_BULK = false>
//   __global__ void attention_bwd_wg(AttnBwdParams p);   D = 64 or 128, 384 threads, grid (ceil(N/128), H, B),
//        AttnBwdWgCfg<D>::kSmemBytes dynamic shared memory; block maps (p.mapT) of 64-row query tiles x
//        128-key tiles. DQ_ATOMIC: dQ += dS K for every tile pair by red.global.add.v2.f32 into p.dq_acc
//        (then attn_bwd_fold_kernel); false: no dQ (attention_bwd_dq<V, D, 128> computes it). DQ_BULK (backward
//        row sm90.wg.bulk): the same sums staged in shared memory and added by one bulk reduction per row
//        (cp.reduce.async.bulk .add.f32, 256 bytes: FA3's dQ path, there by TMA) instead of 16 red.v2 per thread.
//   template <class Variant, int D, bool DQ_ATOMIC, bool DQ_BULK = false, bool DK_RS = false>
//   __global__ void attention_bwd_wg_tma(AttnBwdParams p, BwdTmaMaps tm);   the same for kernels without a
//        gather (p.tok null; rows sm90.wg.tma*): the producer is one warp whose lane 0 issues TMA boxes
//        of q, k, v, dout (tm: bwd_params.cuh, __grid_constant__), setmaxnreg 24 / 240. DK_RS (row
//        sm90.wg.tma.rs): dK += dS^T Q from dS^T in registers (RS, FA3's Mma_dKV_is_RS), which the consumers'
//        240 registers hold without serializing the wgmmas (at 224, the cp.async kernel's, they do not); dS
//        then goes to shared memory only for dQ (not at all without DQ_ATOMIC).
//        Measured and retired (docs/performance.md; git has them): FA3's 80-row dense tile, dV issued before
//        dP^T is waited for, the consumer warpgroups' S^T / dP^T in turn, and dK left in flight into the next
//        tile; all were slower than sm90.wg.tma on the H200.
//
// One CTA per key tile of 128 keys, three warpgroups:
//   warpgroup 0, producer (setmaxnreg down to kProducerRegs): K and V of the key tile once (kv_full), then
//     per query tile that sees it (full ones first, then partial) Q, dO and the tile's per-row values
//     (base-2 lse, D, weight * gate, row id, group id, token) into stage j % 2 (q_full[s]; released by
//     the consumers on q_empty[s]). cp.async, gathered through p.tok, so every token order is served
//     (identity, computed groups, routed, top-k entry rows).
//   warpgroups 1 and 2, consumers (setmaxnreg up to kConsumerRegs), warpgroup g owning keys 64 g .. 64 g +
//     63 of the tile (dK and dV of them in registers, m64 x D each), per query tile:
//       S^T = K_g Q^T, dP^T = V_g dO^T     SS wgmma m64n64 (keys x queries; FA3's SdP_swapAB)
//       P^T, dS^T                          in registers (p_and_ds: the per-element pass where the
//                                          forward has one: partial and ragged tiles, softcap, bias)
//       dV += (wg P)^T dO, dK += dS^T Q    RS wgmma m64nD: the accumulators of P^T and dS^T are, packed
//                                          to bf16, exactly the A fragments (no shared memory)
//       dS^T -> shared memory ([128 keys][64 queries], 128-byte swizzle), named barrier 1 over both
//       consumer warpgroups, then dQ[:, 64 g .. 64 g + 63] = dS K  SS wgmma m64n64k16 x 8 with A
//       MN-major (dS^T) and B MN-major (K rows), added to dq_acc by float32 vector reductions.
//     dS is double-buffered: one barrier per tile pair keeps a buffer from being rewritten while the
//     other warpgroup's dQ still reads it (it passed this tile's barrier only after finishing the last).
// Shared memory (1024-aligned): K, V [D/64][128][64]; 2 stages of Q, dO [D/64][64][64]; 2 dS buffers;
// 2 stages of row values; the dQ staging (DQ_BULK); mbarriers. D = 128: 200 KB.
// NVRTC-compatible: no host standard headers.
#pragma once
#include "attention_bwd.cuh"
#include "barrier_sm90.cuh"
#include "tma_sm90.cuh"
#include "wgmma_sm90.cuh"

namespace moga {

template <int D>
struct AttnBwdWgCfg {
  static_assert(D == 64 || D == 128, "attention_bwd_wg: D = 64 or 128");
  // D = 128: dQ's columns are split over the two consumer warpgroups (n64 each, over all 128 keys: both
  // warpgroups' dS, one barrier across them); D = 64: each warpgroup adds its own 64 keys' share of every
  // column (twice the dQ reductions of a 64-wide row, no barrier across the warpgroups)
  static constexpr bool kSplitD = D == 128;
  static constexpr int kBM = 64, kBN = 128, kThreads = 384, kConsumerThreads = 256, kStages = 2;
  // 168 * 384 = 64,512 registers (__launch_bounds__(384, 1)): the cp.async producer 56 * 128 (attention_fwd_ws's
  // figure: it spills below) + 224 * 256 for the consumers (dK, dV: 2 x 64 accumulators; S^T, dP^T: 2 x 32;
  // dQ: 32; packed P^T and dS^T: 2 x 16).
  static constexpr int kProducerRegs = 56, kConsumerRegs = 224;
  // TMA (attention_bwd_wg_tma): FA3's split, 24 * 128 + 240 * 256 (the producer only issues boxes and writes
  // the row values)
  static constexpr int kTmaProducerRegs = 24, kTmaConsumerRegs = 240;
  static constexpr int kCH = D / 8;                  // 16-byte chunks per row
  static constexpr int kLdStep = 128 / kCH;          // rows between one cp.async producer thread's copies
  static constexpr int kKVBytes = kBN * D * 2;       // [D/64][BN][64]
  static constexpr int kKVBlock = kBN * 128;         // one 64-column block of K or V
  static constexpr int kQBytes = kBM * D * 2;        // [D/64][BM][64]
  static constexpr int kQBlock = kBM * 128;
  // dS^T [BN][64]: one 128-byte row per key and 64 queries
  static constexpr int kDSBlock = kBN * 128, kDSBytes = kDSBlock;
  static constexpr int kRowWords = 6;                // lse2, D, wg (float); row id, group id, token (int)
  static constexpr int kRowBytes = kRowWords * kBM * 4;
  static constexpr int kKOff = 0, kVOff = kKVBytes;
  static constexpr int kQOff = 2 * kKVBytes;
  static constexpr int kdOOff = kQOff + kStages * kQBytes;
  static constexpr int kDSOff = kdOOff + kStages * kQBytes;
  static constexpr int kRowOff = kDSOff + 2 * kDSBytes;
  // DQ_BULK: each consumer warpgroup's 64 dQ rows of 64 floats, staged for the bulk reductions; a pitch of 288
  // bytes (not 256) keeps the accumulator's stores to two ways per bank
  static constexpr int kDQPitch = 288, kDQBytes = kBM * kDQPitch;
  static constexpr int kDQOff = kRowOff + kStages * kRowBytes;
  static constexpr int kBarOff = kDQOff + 2 * kDQBytes;  // kv_full, q_full[S], q_empty[S]
  static constexpr int kSmemBytes = 1024 + kBarOff + (1 + 2 * kStages) * 8;
};

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
namespace bwd_wg_detail {
// The element passes of a tile pair (attention_bwd_wg_body's consumers), instantiated with and without the
// per-element pass (kElem: partial or ragged tiles, softcap, bias) and chosen once per tile: a branch on the tile
// kind per element interleaves both copies' code, and the session-10 profile of the dense kernel had ~9% of its
// stall samples waiting for instruction fetch there (no_inst, branch_resolving).
struct ElemCtx {
  const AttnParams* a;
  const float* sl2;  // the stage's row values: lse2 [BM], D [BM], weight * gate [BM]
  const int* srow;   // row id [BM], group id [BM], token [BM]
  const int* kg;     // this thread's two key rows' group ids
  const Coords<int>* kc;  // and coordinates (kCoords)
  int lane, q0, kv0, krow0, N, h;  // N: the sorted positions (AttnBwdParams::ns)
  bool grouped, partial;
};
// P^T = exp2(y2 - lse2) in place of S^T (x: wgmma's m64nBM accumulator of this warpgroup's 64 keys)
template <class Variant, int BM, bool kElem, bool kCoords>
__device__ __forceinline__ void form_p(float (&s)[BM / 2], const ElemCtx& c) {
#pragma unroll
  for (int nt = 0; nt < BM / 8; ++nt)
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      const int qcol = nt * 8 + 2 * (c.lane & 3) + e, qs = c.q0 + qcol;
      const float l2 = c.sl2[qcol];
      Coords<int> qc;
      if constexpr (kCoords && kElem) qc = coords_of(c.srow[2 * BM + qcol], c.a->shape);
#pragma unroll
      for (int hr = 0; hr < 2; ++hr) {
        const int ks = c.kv0 + c.krow0 + hr * 8, i = 4 * nt + 2 * hr + e;
        float cap;
        const float y2 = kElem ? bwd_detail::logit2<Variant>(s[i], *c.a, c.grouped, ks < c.N && qs < c.N, c.partial, ks,
                                                 c.srow[BM + qcol], c.kg[hr], qc, c.kc[hr], c.h, cap)
                               : s[i] * c.a->scale_log2;
        s[i] = sm80::ex2(y2 - l2);
      }
    }
}
// P^T weighted for dV (in s) and dS^T (in dp) at once, from S^T and dP^T (a softcap's chain factor needs both)
template <class Variant, int BM, bool kElem, bool kCoords>
__device__ __forceinline__ void form_p_ds(float (&s)[BM / 2], float (&dp)[BM / 2], const ElemCtx& c) {
#pragma unroll
  for (int nt = 0; nt < BM / 8; ++nt)
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      const int qcol = nt * 8 + 2 * (c.lane & 3) + e, qs = c.q0 + qcol;
      const float l2 = c.sl2[qcol], dd = c.sl2[BM + qcol], wg = c.sl2[2 * BM + qcol];
      Coords<int> qc;
      if constexpr (kCoords && kElem) qc = coords_of(c.srow[2 * BM + qcol], c.a->shape);
#pragma unroll
      for (int hr = 0; hr < 2; ++hr) {
        const int ks = c.kv0 + c.krow0 + hr * 8, i = 4 * nt + 2 * hr + e;
        const float2 pd = bwd_detail::p_and_ds<Variant>(s[i], dp[i], kElem, *c.a, c.grouped, ks < c.N && qs < c.N, c.partial, ks,
                                            c.srow[BM + qcol], c.kg[hr], qc, c.kc[hr], c.h, l2, wg, dd);
        dp[i] = pd.y;      // dS
        s[i] = pd.x * wg;  // dV's weight of dO_i
      }
    }
}
// bf16 A fragment k-step kb (16 columns) of a warpgroup's m64nN accumulator x (wgmma's per-warp layout is
// the m16n8 one: x[4 nt + 2 hr + e]) = attention_bwd's pack_a on the flat array.
template <int R>
__device__ __forceinline__ void pack_a(const float (&x)[R], int kb, unsigned (&a)[4]) {
  a[0] = sm80::pack_bf16x2(x[8 * kb + 0], x[8 * kb + 1]);
  a[1] = sm80::pack_bf16x2(x[8 * kb + 2], x[8 * kb + 3]);
  a[2] = sm80::pack_bf16x2(x[8 * kb + 4], x[8 * kb + 5]);
  a[3] = sm80::pack_bf16x2(x[8 * kb + 6], x[8 * kb + 7]);
}
}  // namespace bwd_wg_detail

// The kernels' body; tm: the TMA maps (TMA: attention_bwd_wg_tma), else nullptr.
template <class Variant, int D, bool DQ_ATOMIC, bool DQ_BULK, bool TMA, bool DK_RS>
__device__ __forceinline__ void attention_bwd_wg_body(const AttnBwdParams& p, const BwdTmaMaps* tm) {
  static_assert(DQ_ATOMIC || !DQ_BULK, "DQ_BULK is a way of adding dQ: it needs DQ_ATOMIC");
  static_assert(TMA || !DK_RS, "DK_RS needs the TMA kernel's 240 consumer registers");
  constexpr bool kStoreDS = DQ_ATOMIC || !DK_RS;  // dS^T in shared memory: for dQ, or for an SS dK
#if defined(MOGA_HAS_WGMMA)
  using namespace bwd_detail;
  using C = AttnBwdWgCfg<D>;
  constexpr int BM = C::kBM, BN = C::kBN, S = C::kStages;
  constexpr bool kTransform = Variant::kHasSoftcap || Variant::kHasBias;
  constexpr bool kCoords = Variant::kHasMask || Variant::kHasBias;
  grid_dep_wait();  // (PDL) the maps, lse and D come from the launches before
  extern __shared__ __align__(128) unsigned char smem_bwg_raw[];
  const unsigned raw = sm80::smem_u32(smem_bwg_raw);
  const unsigned base = (raw + 1023u) & ~1023u;  // kSmemBytes has the slack
  unsigned char* gbase = smem_bwg_raw + (base - raw);  // generic pointer of base (row values)
  const unsigned sK = base + C::kKOff, sV = base + C::kVOff;
  const unsigned bar_kv = base + C::kBarOff, bar_full = bar_kv + 8, bar_empty = bar_full + 8 * S;

  const AttnParams& a = p.a;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  // N: rows (lse, D, the accumulators' index space); Ns: sorted positions (tiles, perm, gid, tok, gate), Ns > N
  // for aligned routed groups, whose padding (perm = tok = gid = -1) is zero rows that see no key and write nothing
  const int kt = blockIdx.x, h = blockIdx.y, b = blockIdx.z, N = a.N, Ns = p.ns > 0 ? p.ns : N, kv0 = kt * BN;

  // the query tiles that see this key tile: full first, then partial (as attention_bwd)
  int n_full, n_part = 0;
  const int *full_idx = nullptr, *part_idx = nullptr;
  if (p.mapT.full_cnt) {
    const long long bi = (long long)b * p.mapT.num_kv_tiles + kt;
    n_full = __ldg(p.mapT.full_cnt + bi);
    n_part = __ldg(p.mapT.part_cnt + bi);
    full_idx = p.mapT.full_idx + bi * p.mapT.num_q_tiles;
    part_idx = p.mapT.part_idx + bi * p.mapT.num_q_tiles;
  } else {
    n_full = (Ns + BM - 1) / BM;
  }
  const int n_tot = n_full + n_part;
  auto tile_of = [&](int j) -> int {
    return j < n_full ? (full_idx ? __ldg(full_idx + j) : j) : __ldg(part_idx + (j - n_full));
  };
  const int* perm = a.perm ? a.perm + (long long)b * Ns : nullptr;
  const int* tok = p.tok ? p.tok + (long long)b * Ns : nullptr;
  const int* gid = a.gid ? a.gid + (long long)b * Ns : nullptr;

  if (tid == 0) {
    // cp.async: one arrival per producer thread for its copies, and for Q / dO one more after the row values;
    // TMA: the issuing lane's expect-tx arrival, and one per lane of warp 0 after the row values
    sm90::mbar_init(bar_kv, TMA ? 1 : 128);
#pragma unroll
    for (int s = 0; s < S; ++s) {
      sm90::mbar_init(bar_full + 8 * s, TMA ? 33 : 256);
      sm90::mbar_init(bar_empty + 8 * s, 8);   // one per consumer warp
    }
    sm90::fence_mbar_init();
  }
  __syncthreads();  // the last CTA-wide barrier: the roles part here

  if (warp < 4) {  // ---- producer ----
    sm90::setmaxnreg_dec<TMA ? C::kTmaProducerRegs : C::kProducerRegs>();
    const float* lse = p.lse + ((long long)b * a.H + h) * N;
    const float* dlt = p.dq_delta + ((long long)b * a.H + h) * N;
    // the tile's per-row values into stage st (after its release: plain stores, published by the arrival
    // that follows), rows r0, r0 + step, ...
    auto row_values = [&](int st, int q0, int r0, int step) {
      float* f = reinterpret_cast<float*>(gbase + C::kRowOff + st * C::kRowBytes);
      int* ti = reinterpret_cast<int*>(f + 3 * BM);
      for (int r = r0; r < BM; r += step) {
        const int s = q0 + r, t0 = s < Ns ? token_at(perm, s) : -1;
        const bool ok = t0 >= 0;  // past the end or padding: no keys (lse2 +inf), row id 0 (its dQ adds 0)
        const int t = ok ? t0 : 0;
        f[r] = lse2_of(lse, t, ok);
        f[BM + r] = ok ? __ldg(dlt + t) : 0.f;
        f[2 * BM + r] = ok && a.gate ? a.weight * __ldg(a.gate + (long long)b * Ns + s) : a.weight;
        ti[r] = t;
        ti[BM + r] = ok && gid ? __ldg(gid + s) : 0;
        ti[2 * BM + r] = ok ? token_at(tok, s) : 0;
      }
    };
    if constexpr (TMA) {  // kernels without a gather: warp 0, lane 0 issues the boxes; the warp writes the row values
      if (warp != 0) return;
      // no query tile sees the key tile: no copies (the CTA must not end with boxes still landing)
      if (lane == 0 && n_tot > 0) {
        sm90::mbar_arrive_expect_tx(bar_kv, 2 * C::kKVBytes);
#pragma unroll
        for (int blk = 0; blk < D / 64; ++blk) {
          sm90::tma_load_4d(sK + blk * C::kKVBlock, &tm->k, bar_kv, 64 * blk, kv0, h, b);
          sm90::tma_load_4d(sV + blk * C::kKVBlock, &tm->v, bar_kv, 64 * blk, kv0, h, b);
        }
      }
#pragma unroll 1
      for (int j = 0; j < n_tot; ++j) {
        const int st = j % S, q0 = tile_of(j) * BM;
        if (j >= S) sm90::mbar_wait(bar_empty + 8 * st, ((j / S) - 1) & 1);
        if (lane == 0) {
          const unsigned full = bar_full + 8 * st;
          sm90::mbar_arrive_expect_tx(full, 2 * C::kQBytes);
#pragma unroll
          for (int blk = 0; blk < D / 64; ++blk) {
            sm90::tma_load_4d(base + C::kQOff + st * C::kQBytes + blk * C::kQBlock, &tm->q, full, 64 * blk, q0, h, b);
            sm90::tma_load_4d(base + C::kdOOff + st * C::kQBytes + blk * C::kQBlock, &tm->dout, full, 64 * blk, q0, h,
                              b);
          }
        }
        row_values(st, q0, lane, 32);
        sm90::mbar_arrive(bar_full + 8 * st);
      }
      return;
    }
    typedef unsigned short bf16_t;
    // thread tid copies chunk c of rows r0 + kLdStep i (kLdStep 8 or 16): one swizzle phase (r & 7 = r0 & 7)
    const int c = tid % C::kCH, r0 = tid / C::kCH;
    const unsigned soff = r0 * 128 + (((c & 7) ^ (r0 & 7)) << 4);
    const unsigned kvoff = soff + (c >> 3) * C::kKVBlock, qoff = soff + (c >> 3) * C::kQBlock;
    // the same rows of two tensors (K and V, Q and dO): one token load per row for both
    auto rows = [&](unsigned dst1, const bf16_t* g1, long long sn1, unsigned dst2, const bf16_t* g2, long long sn2,
                    int s0, int nrows) {
      for (int i = 0; i < nrows; i += C::kLdStep) {
        const int s = s0 + r0 + i;
        const int t0 = s < Ns ? token_at(tok, s) : -1;
        const bool ok = t0 >= 0;  // past the end or padding: zero-filled
        const long long t = ok ? t0 : 0;
        sm80::cp_async16(dst1 + i * 128, g1 + t * sn1 + c * 8, ok);
        sm80::cp_async16(dst2 + i * 128, g2 + t * sn2 + c * 8, ok);
      }
    };
    if (n_tot == 0) return;  // no query tile sees the key tile: nothing to copy
    rows(sK + kvoff, static_cast<const bf16_t*>(a.k) + b * a.k_sb + h * a.k_sh, a.k_sn, sV + kvoff,
         static_cast<const bf16_t*>(a.v) + b * a.v_sb + h * a.v_sh, a.v_sn, kv0, BN);
    sm90::cp_async_mbar_arrive(bar_kv);
    const bf16_t* gq = static_cast<const bf16_t*>(a.q) + b * a.q_sb + h * a.q_sh;
    const bf16_t* gdo = static_cast<const bf16_t*>(p.dout) + b * p.do_sb + h * p.do_sh;
#pragma unroll 1
    for (int j = 0; j < n_tot; ++j) {
      const int st = j % S, q0 = tile_of(j) * BM;
      if (j >= S) sm90::mbar_wait(bar_empty + 8 * st, ((j / S) - 1) & 1);
      rows(base + C::kQOff + st * C::kQBytes + qoff, gq, a.q_sn, base + C::kdOOff + st * C::kQBytes + qoff, gdo,
           p.do_sn, q0, BM);
      sm90::cp_async_mbar_arrive(bar_full + 8 * st);
      row_values(st, q0, tid, 128);
      sm90::mbar_arrive(bar_full + 8 * st);
    }
    sm90::cp_async_wait_all();
    return;
  }

  // ---- consumers ----
  sm90::setmaxnreg_inc<TMA ? C::kTmaConsumerRegs : C::kConsumerRegs>();
  const int g = (warp >> 2) - 1, w = warp & 3;  // warpgroup 0 / 1 of the consumers, warp in it
  const int krow0 = g * 64 + w * 16 + (lane >> 2);  // this thread's key rows krow0, krow0 + 8 of the tile
  Coords<int> kc[2];
  int kg[2];
#pragma unroll
  for (int hr = 0; hr < 2; ++hr) {
    const int ks = kv0 + krow0 + hr * 8;
    kg[hr] = gid && ks < Ns ? __ldg(gid + ks) : 0;
    if constexpr (kCoords) kc[hr] = coords_of(ks < Ns ? max(token_at(tok, ks), 0) : 0, a.shape);
  }
  float dk[D / 2], dv[D / 2];
#pragma unroll
  for (int i = 0; i < D / 2; ++i) dk[i] = dv[i] = 0.f;
  const float scale = a.scale_log2 * 0.6931471805599453f;
  const unsigned sKg = sK + g * 64 * 128, sVg = sV + g * 64 * 128;  // this warpgroup's 64 key rows
  // this warpgroup's 64 columns of dQ rows (the atomics add this thread's columns 2 (lane & 3) + 8 nt)
  float* gdq = DQ_ATOMIC ? p.dq_acc + (long long)b * N * a.H * D + (long long)h * D + (C::kSplitD ? g * 64 : 0) : nullptr;
  const unsigned sdq = base + C::kDQOff + g * C::kDQBytes;

  // cp.async's copies are generic-proxy writes that the wgmmas (async proxy) read: a proxy fence after each wait.
  // TMA's boxes are async-proxy writes already, and the fence (MEMBAR.ALL.CTA first) would also wait for the
  // previous tile's dQ reductions: the session-10 profile had ~5% of the stall samples there.
  if (n_tot > 0) {
    sm90::mbar_wait(bar_kv, 0);
    if constexpr (!TMA) sm90::fence_proxy_async();
  }
#pragma unroll 1
  for (int j = 0; j < n_tot; ++j) {
    const int st = j % S, q0 = tile_of(j) * BM;
    const unsigned sQ = base + C::kQOff + st * C::kQBytes, sdO = base + C::kdOOff + st * C::kQBytes;
    const float* sl2 = reinterpret_cast<const float*>(gbase + C::kRowOff + st * C::kRowBytes);
    const int* srow = reinterpret_cast<const int*>(sl2 + 3 * BM);  // row id, group id, token
    sm90::mbar_wait(bar_full + 8 * st, (j / S) & 1);
    if constexpr (!TMA) sm90::fence_proxy_async();

    // S^T = K_g Q^T and dP^T = V_g dO^T (64 keys x BM queries), K-major A and B
    float s[BM / 2], dp[BM / 2];
    sm90::wg_fence();
#pragma unroll
    for (int ks = 0; ks < D / 16; ++ks) {
      const unsigned ko = (ks >> 2) * C::kKVBlock + (ks & 3) * 32, qo = (ks >> 2) * C::kQBlock + (ks & 3) * 32;
      sm90::wgmma_ss<BM>(s, sm90::gmma_desc_sw128(sKg + ko, 16, 1024), sm90::gmma_desc_sw128(sQ + qo, 16, 1024),
                         ks > 0 ? 1 : 0);
    }
    sm90::wg_commit();
#pragma unroll
    for (int ks = 0; ks < D / 16; ++ks) {
      const unsigned ko = (ks >> 2) * C::kKVBlock + (ks & 3) * 32, qo = (ks >> 2) * C::kQBlock + (ks & 3) * 32;
      sm90::wgmma_ss<BM>(dp, sm90::gmma_desc_sw128(sVg + ko, 16, 1024), sm90::gmma_desc_sw128(sdO + qo, 16, 1024),
                         ks > 0 ? 1 : 0);
    }
    sm90::wg_commit();
    // P^T and dS^T, element (key row, query column); the per-element pass only where the forward has one.
    // Without a softcap P needs S only: it is formed while dP^T's products still run (FA3's order), and dS
    // after; a softcap's chain factor 1 - tanh^2 would take 32 more registers across the wait, so it forms
    // both at once after it.
    const bool partial = j >= n_full;
    const bool elem = kTransform || partial || kv0 + BN > Ns;
    unsigned pa[BM / 16][4];  // wg P^T, packed: dV's A fragments
    // dV += (wg P)^T dO from x = wg P^T: RS, B = dO rows (MN-major: D contiguous)
    auto issue_dv = [&](const float (&x)[BM / 2]) {
#pragma unroll
      for (int kb = 0; kb < BM / 16; ++kb) bwd_wg_detail::pack_a(x, kb, pa[kb]);
      sm90::wg_fence();
#pragma unroll
      for (int kb = 0; kb < BM / 16; ++kb)
        sm90::wgmma_rs<D, 1>(dv, pa[kb], sm90::gmma_desc_sw128(sdO + kb * 2048, C::kQBlock, 1024), 1);
      sm90::wg_commit();
    };
    if constexpr (!Variant::kHasSoftcap) {
      sm90::wg_wait<1>();
      sm90::fence_regs(s);
      const bwd_wg_detail::ElemCtx ec{&a, sl2, srow, kg, kc, lane, q0, kv0, krow0, Ns, h, gid != nullptr, partial};
      if (kTransform || elem) bwd_wg_detail::form_p<Variant, BM, true, kCoords>(s, ec);
      else bwd_wg_detail::form_p<Variant, BM, false, kCoords>(s, ec);
      sm90::wg_wait<0>();
      sm90::fence_regs(dp);
#pragma unroll
      for (int nt = 0; nt < BM / 8; ++nt)
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          const int qcol = nt * 8 + 2 * (lane & 3) + e;
          const float dd = sl2[BM + qcol], wg = sl2[2 * BM + qcol];
#pragma unroll
          for (int hr = 0; hr < 2; ++hr) {
            const int i = 4 * nt + 2 * hr + e;
            dp[i] = s[i] * (dp[i] * wg - dd);  // dS (bwd_params.cuh's formula)
            s[i] *= wg;  // dV's weight of dO_i
          }
        }
    } else {
      sm90::wg_wait<0>();
      sm90::fence_regs(s);
      sm90::fence_regs(dp);
      const bwd_wg_detail::ElemCtx ec{&a, sl2, srow, kg, kc, lane, q0, kv0, krow0, Ns, h, gid != nullptr, partial};
      if (kTransform || elem) bwd_wg_detail::form_p_ds<Variant, BM, true, kCoords>(s, dp, ec);
      else bwd_wg_detail::form_p_ds<Variant, BM, false, kCoords>(s, dp, ec);
    }
    // dV, issued before the dS stores, which then overlap it
    issue_dv(s);
    // dS^T to shared memory (rows krow0, krow0 + 8; query columns 16 kb + 8 half + 2 (lane & 3): chunk
    // 2 kb + half of the 64-query blocks, swizzled), read by dK's and dQ's wgmma
    const unsigned sDS = base + C::kDSOff + (j & 1) * C::kDSBytes;
#pragma unroll
    for (int kb = 0; kb < (kStoreDS ? BM / 16 : 0); ++kb) {
      unsigned da[4];
      bwd_wg_detail::pack_a(dp, kb, da);
#pragma unroll
      for (int q = 0; q < 4; ++q) {
        const int r = krow0 + (q & 1) * 8, chunk = 2 * kb + (q >> 1), blk = chunk >> 3;
        asm volatile("st.shared.b32 [%0], %1;\n" ::"r"(sDS + blk * C::kDSBlock + r * 128 + (((chunk & 7) ^ (r & 7)) << 4) +
                                                      (lane & 3) * 4),
                     "r"(da[q])
                     : "memory");
      }
    }
    // the dS stores before the wgmma (async proxy) reads them: this warpgroup's rows (dK), or both
    // warpgroups' (dQ reads all 128 keys)
    if constexpr (kStoreDS) {
      sm90::fence_proxy_async();
      if constexpr (DQ_ATOMIC && C::kSplitD) sm90::named_sync(1, C::kConsumerThreads);
      else sm90::named_sync(2 + g, 128);
    }
    // DK_RS: dS^T's A fragments, all packed before the fence (packing between the wgmmas makes ptxas insert
    // a warpgroup arrive before each, C7519)
    unsigned da[DK_RS ? BM / 16 : 1][4];
    if constexpr (DK_RS)
#pragma unroll
      for (int kb = 0; kb < BM / 16; ++kb) bwd_wg_detail::pack_a(dp, kb, da[kb]);
    sm90::wg_fence();
    float dq[BM / 2];  // dQ[64 queries][64 columns]
    if constexpr (DQ_ATOMIC) {
#pragma unroll
      for (int ks = 0; ks < (C::kSplitD ? BN : 64) / 16; ++ks) {
        // D = 128: all keys, K's column block g; D = 64: this warpgroup's keys (dS^T and K rows 64 g ..)
        const unsigned ka = C::kSplitD ? ks * 2048 : g * 64 * 128 + ks * 2048;
        const unsigned kb = C::kSplitD ? g * C::kKVBlock + ks * 2048 : g * 64 * 128 + ks * 2048;
        sm90::wgmma_ss_n64_tt(dq, sm90::gmma_desc_sw128(sDS + ka, C::kDSBytes, 1024),
                              sm90::gmma_desc_sw128(sK + kb, C::kKVBlock, 1024), ks > 0 ? 1 : 0);
      }
      sm90::wg_commit();
    }
    // dK += dS^T Q: SS, A = this warpgroup's 64 dS^T rows (K-major: queries contiguous), B = Q rows
#pragma unroll
    for (int kb = 0; kb < BM / 16; ++kb)
      if constexpr (DK_RS) {  // A = dS^T packed from its accumulator (rows: this warpgroup's keys)
        sm90::wgmma_rs<D, 1>(dk, da[kb], sm90::gmma_desc_sw128(sQ + kb * 2048, C::kQBlock, 1024), 1);
      } else if constexpr (D == 128) {
        sm90::wgmma_ss_n128_t1(dk, sm90::gmma_desc_sw128(sDS + g * 64 * 128 + kb * 32, 16, 1024),
                               sm90::gmma_desc_sw128(sQ + kb * 2048, C::kQBlock, 1024), 1);
      } else {
        sm90::wgmma_ss_n64_t1(dk, sm90::gmma_desc_sw128(sDS + g * 64 * 128 + kb * 32, 16, 1024),
                              sm90::gmma_desc_sw128(sQ + kb * 2048, C::kQBlock, 1024), 1);
      }
    sm90::wg_commit();
    if constexpr (DQ_ATOMIC) {
      // the red.v2 rows (by register): both rows' addresses before the wait, so the shared-memory loads
      // hide under it, and both live through the interleaved reductions: no address register of one is rewritten
      // while a reduction still reads it (the session-10 profile: ~5% of the stall samples on such a rewrite).
      // Rows past N are added too, unpredicated: their dQ is exactly 0 (P = 0 there: lse2 = +inf, Q and dO zero-
      // filled), and their row id is 0, a valid row.
      float* dq_row[2];
      if constexpr (!DQ_BULK)
#pragma unroll
        for (int hr = 0; hr < 2; ++hr)
          dq_row[hr] = gdq + (size_t)(unsigned)srow[w * 16 + (lane >> 2) + hr * 8] * (unsigned)(a.H * D) + 2 * (lane & 3);
      sm90::wg_wait<1>();  // dV and dQ in (groups complete in order)
      sm90::fence_regs(dq);
      if constexpr (DQ_BULK) {
        // warp w holds rows 16 w .. 16 w + 15 whole: it stages them and its lanes 0..15 reduce one row each, so
        // only the warp synchronizes. The rows are free once this lane's reductions of the last tile read them.
        if (lane < 16) sm90::bulk_wait_read_all();
        __syncwarp();
#pragma unroll
        for (int hr = 0; hr < 2; ++hr) {
          const unsigned row = sdq + (w * 16 + (lane >> 2) + hr * 8) * C::kDQPitch + 8 * (lane & 3);
#pragma unroll
          for (int nt = 0; nt < 8; ++nt)
            asm volatile("st.shared.v2.f32 [%0], {%1, %2};\n" ::"r"(row + nt * 32), "f"(dq[4 * nt + 2 * hr] * scale),
                         "f"(dq[4 * nt + 2 * hr + 1] * scale)
                         : "memory");
        }
        sm90::fence_proxy_async();  // the stores, before the bulk copies (async proxy) read them
        __syncwarp();
        if (lane < 16) {
          const int r = w * 16 + lane;
          if (q0 + r < Ns) sm90::bulk_reduce_add_f32(gdq + (long long)srow[r] * a.H * D, sdq + r * C::kDQPitch, 256);
          sm90::bulk_commit();
        }
      } else {
        // scaled in place first: the reductions read dq's registers after they issue, and nothing writes them again
        // before the next tile's dQ product
#pragma unroll
        for (int i = 0; i < BM / 2; ++i) dq[i] *= scale;
#pragma unroll
        for (int nt = 0; nt < 8; ++nt)
#pragma unroll
          for (int hr = 0; hr < 2; ++hr)
            red_add2(dq_row[hr] + nt * 8, dq[4 * nt + 2 * hr], dq[4 * nt + 2 * hr + 1]);
      }
    }
    sm90::wg_wait<0>();
    sm90::fence_regs(dk);
    sm90::fence_regs(dv);
    __syncwarp();
    if (sm90::elect_one()) sm90::mbar_arrive(bar_empty + 8 * st);  // this warp is done with Q, dO and the row values
  }

  if constexpr (DQ_BULK)
    if (lane < 16) sm90::bulk_wait_all();  // the last rows' reductions done before the CTA ends
  // dK = scale * sum dS q, dV = sum wg P dO: added to the float32 accumulators, or bf16 at the key rows
  if (p.dk_acc) {
#pragma unroll
    for (int hr = 0; hr < 2; ++hr) {
      const int ks = kv0 + krow0 + hr * 8, t = ks < Ns ? token_at(perm, ks) : -1;
      if (t < 0) continue;  // past the end or padding
      const long long o = (((long long)b * N + t) * a.H + h) * D + 2 * (lane & 3);
#pragma unroll
      for (int dt = 0; dt < D / 8; ++dt) {
        add2(p.dk_acc + o + dt * 8, dk[4 * dt + 2 * hr] * scale, dk[4 * dt + 2 * hr + 1] * scale);
        add2(p.dv_acc + o + dt * 8, dv[4 * dt + 2 * hr], dv[4 * dt + 2 * hr + 1]);
      }
    }
    return;
  }
  bf16_t* gdk = static_cast<bf16_t*>(p.dk) + b * p.dk_sb + h * p.dk_sh;
  bf16_t* gdv = static_cast<bf16_t*>(p.dv) + b * p.dv_sb + h * p.dv_sh;
#pragma unroll
  for (int hr = 0; hr < 2; ++hr) {
    const int ks = kv0 + krow0 + hr * 8;
    const long long t = ks < Ns ? token_at(perm, ks) : -1;  // rows are tokens here (host: bf16 outputs only then)
    if (t < 0) continue;  // past the end or padding
    unsigned* rk = reinterpret_cast<unsigned*>(gdk + t * p.dk_sn) + (lane & 3);
    unsigned* rv = reinterpret_cast<unsigned*>(gdv + t * p.dv_sn) + (lane & 3);
#pragma unroll
    for (int dt = 0; dt < D / 8; ++dt) {
      rk[dt * 4] = sm80::pack_bf16x2(dk[4 * dt + 2 * hr] * scale, dk[4 * dt + 2 * hr + 1] * scale);
      rv[dt * 4] = sm80::pack_bf16x2(dv[4 * dt + 2 * hr], dv[4 * dt + 2 * hr + 1]);
    }
  }
#else
  (void)p;
  (void)tm;
  __trap();  // needs sm_90a
#endif
}

template <class Variant, int D, bool DQ_ATOMIC, bool DQ_BULK = false>
__global__ void __launch_bounds__(384, 1) attention_bwd_wg(const AttnBwdParams p) {
  attention_bwd_wg_body<Variant, D, DQ_ATOMIC, DQ_BULK, false, false>(p, nullptr);
}
template <class Variant, int D, bool DQ_ATOMIC, bool DQ_BULK = false, bool DK_RS = false>
__global__ void __launch_bounds__(384, 1)
    attention_bwd_wg_tma(const __grid_constant__ AttnBwdParams p, const __grid_constant__ BwdTmaMaps tm) {
  attention_bwd_wg_body<Variant, D, DQ_ATOMIC, DQ_BULK, true, DK_RS>(p, &tm);
}

template <int D>
__device__ int attn_bwd_wg_smem_bytes = AttnBwdWgCfg<D>::kSmemBytes;
#endif

}  // namespace moga
