// Mainloop of the FP8 attention kernel (attention_fwd_fp8.cuh, registry row sm90.tma.fp8): the frame of
// attention_fwd_tma (a TMA producer warp, two ping-pong consumer warpgroups, the same rings, barriers and
// work items: mainloop_ws.cuh WSSmem / ws_smem_layout / ws_init_barriers) on e4m3 tiles.
//   shared memory  Q [BM][128 B] and K [BN][128 B] (D = 128 e4m3 = one 128-byte swizzle row), V^T as
//                  [BN / VW][D][VW] (VW = 128 keys in the 128-byte swizzle when BN % 128 = 0, else 64 keys
//                  in the 64-byte swizzle: BN 192), all filled by one TMA box per tile (V^T: BN / VW).
//   S = Q K^T      SS wgmma m64nBNk32 e4m3, 4 k-steps at D = 128.
//   softmax        online, fp32, base 2, with the row maximum placed at 2^8: P = exp2(s sl - m sl + 8) lies
//                  in [0, 256] (e4m3 keeps 3 mantissa bits down to 2^-6, subnormals to 2^-9: the offset
//                  keeps probabilities down to 2^-17 of the row's largest; FlashAttention-3 does the same);
//                  l sums the same scaled values, so the factor cancels in O / l.
//   O += P V       RS wgmma m64n128k32 e4m3, BN / 32 k-steps; P packed from the thread's own accumulators
//                  (fp8_pack_p; V^T's keys are stored in the matching order, fp8_prep.cuh fp8_key_slot).
//                  kSum (row sm90.tma.fp8.sum, the FP8 default): m64n136k32 on V^T blocks with 8 rows of 1.0
//                  after their D rows, so O's last 8 columns are l and the softmax adds no score; and the
//                  conditional rescale (kFp8LazyLog2: a row's maximum moves only by more than 0.8 in log2 units).
//   scales         the scores carry amax_q amax_k / 448^2 (folded into ScoreScale), O amax_v / 448 (before
//                  the epilogue).
// Score modifications, masks and the epilogue are the bf16 kernel's (score_pass.cuh, epilogue.cuh).
// Gathered kernels (computed or routed groups, p.perm set): the prep wrote q8, k8 and V^T in the kernel's
// sorted order, so the copies are the same boxes; perm and gid serve the staged key and bias columns,
// the visibility of partial tiles and the epilogue's un-permute, as in attention_fwd_ws.
// NVRTC-compatible: no host standard headers.
#pragma once
#include "fp8_prep.cuh"
#include "mainloop_tma.cuh"
#include "wgmma_fp8.cuh"

namespace moga {

// log2 of FP8 P's largest value: the softmax places the row maximum at 2^8 (the header comment)
constexpr int kFp8Log2Max = 8;
// The conditional rescale's margin (online_softmax's lazy, kSum rows): a row's maximum moves only when a tile's
// exceeds it by more than 0.8 in log2 units, so P <= 2^8.8 = 445.7 stays inside e4m3's 448 (and l, summed from
// the same e4m3 P by the P V product, matches it exactly).
constexpr float kFp8LazyLog2 = 0.8f;

// The FP8 kernel's shared memory and register split (the member names of AttnFwdWSCfg, so ws_smem_layout
// and ws_init_barriers serve it).
// SUM (row sm90.tma.fp8.sum): each V^T block has 8 more rows, all e4m3 1.0, after its D (the rows' sums by P V).
template <int D, int BM, int BN, int STAGES, int BIAS_WORDS = 0, int KEY_WORDS = 1, bool SUM = false>
struct AttnFwdFp8Cfg {
  static constexpr int kD = D, kBM = BM, kBN = BN;
  static constexpr int kThreads = 384;
  static constexpr int kConsumerThreads = 256;
  static constexpr int kNT = BN / 8, kDT = D / 8;
  static constexpr int kKB = BN / 32;                  // k-steps of P V (32 keys each)
  static constexpr int kVW = BN % 128 == 0 ? 128 : 64;  // keys per V^T box row (its swizzle in bytes)
  static constexpr int kQBytes = BM * D;
  static constexpr int kTileBytes = BN * D;            // K [BN][D], e4m3
  static constexpr int kVRows = SUM ? D + 8 : D;       // V^T [BN / VW][kVRows][VW]
  static constexpr int kVTileBytes = BN * kVRows;
  static constexpr int kKOff = 0;
  static constexpr int kVOff = STAGES * kTileBytes;
  static constexpr int kQOff = kVOff + (STAGES * kVTileBytes + 1023) / 1024 * 1024;
  static constexpr int kBarOff = kQOff + kQBytes;
  static constexpr int kRing = 4;
  static constexpr int kRingOff = kBarOff + (4 * STAGES + 2) * 8;
  static constexpr int kKeysOff = kRingOff + kRing * 4 + 2 * kRing * 8;
  static constexpr int kBiasWords = BIAS_WORDS;
  static constexpr int kBiasOff = kKeysOff + STAGES * BN * 4 * KEY_WORDS;
  static constexpr int kSmemBytes = 1024 + kBiasOff + STAGES * BN * BIAS_WORDS * 4;
  static constexpr bool kStaging = BIAS_WORDS > 0 || KEY_WORDS > 0;
  // attention_fwd_tma's split: the producer only issues copies (24), or stages columns too (40)
  static constexpr int kProducerRegs = kStaging ? 40 : 24;
  static constexpr int kConsumerRegs = kStaging ? 232 : 240;
  static_assert(kProducerRegs * 128 + kConsumerRegs * 256 <= 64512, "register split exceeds 168 x 384");
  static_assert(D == kFp8D, "the FP8 kernel has head dim 128 (a row of Q or K = one 128-byte swizzle row)");
  static_assert(BN == 128 || BN == 192, "BN in {128, 192}");
  static_assert(BM == 128, "two consumer warpgroups of 64 rows");
  static_assert(STAGES >= 2, "STAGES >= 2");
  static_assert((STAGES * kTileBytes) % 1024 == 0, "rings on 1024-byte boundaries (the swizzle's period)");
  static_assert(kVTileBytes % (8 * kVW) == 0 && (kVRows * kVW) % (8 * kVW) == 0,
                "V^T blocks on their swizzle's period (8 rows)");
  static_assert(kSmemBytes <= 232448, "exceeds the 227 KB of shared memory a Hopper CTA can have");
};

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
// Producer thread tid (0 issues the copies; with C::kStaging all 128 run this) on item I: Q (one box of 128
// columns x BM rows), then per key tile K (one box of 128 x BN) with its staged columns, and V^T (BN / VW
// boxes of VW keys x D rows). Barriers as attention_fwd_tma's (mainloop_tma.cuh).
template <class Variant, class C, int STAGES>
__device__ __forceinline__ void fp8_load_item(const AttnParams& p, const TmaMaps& tm, const WorkItem& I,
                                              const WSSmem& sm, int tid, int NK, WSLoadState& ls) {
  const bool issue = tid == 0;
  const int* perm = p.perm ? p.perm + (long long)I.b * p.N : nullptr;  // staged columns of gathered kernels
  if (issue) {
    sm90::mbar_wait(sm.q_empty, ls.q_empty_parity);
    sm90::mbar_arrive_expect_tx(sm.q_full, C::kQBytes);
    sm90::tma_load_4d(sm.q, &tm.q, sm.q_full, 0, I.q0, I.h, I.b);
  }
  ls.q_empty_parity ^= 1u;
#pragma unroll 1
  for (int j = 0; j < I.n_tot; ++j) {
    const int kv0 = I.tile(j) * C::kBN;
    const unsigned par = ((ls.count / STAGES) & 1) ^ 1;
    const bool reuse = ls.count >= STAGES;
    if (issue) {
      if (reuse) sm90::mbar_wait(sm.empty_k + 8 * ls.slot, par);
      sm90::mbar_arrive_expect_tx(sm.full_k + 8 * ls.slot, C::kTileBytes);
      sm90::tma_load_4d(sm.k + ls.slot * C::kTileBytes, &tm.k, sm.full_k + 8 * ls.slot, 0, kv0, I.h, I.b);
    }
    if constexpr (C::kStaging) {  // the slot's staged columns (mainloop_tma.cuh), one arrival per thread
      if (reuse && !issue) sm90::mbar_wait(sm.empty_k + 8 * ls.slot, par);
      tma_stage_columns<Variant, C>(p, perm, sm, ls.slot, kv0, NK, I.h, tid);
    }
    if (issue) {
      if (reuse) sm90::mbar_wait(sm.empty_v + 8 * ls.slot, par);
      sm90::mbar_arrive_expect_tx(sm.full_v + 8 * ls.slot, C::kTileBytes);
      const unsigned dst = sm.v + ls.slot * C::kVTileBytes;
#pragma unroll
      for (int blk = 0; blk < C::kBN / C::kVW; ++blk)
        sm90::tma_load_4d(dst + blk * (C::kVRows * C::kVW), &tm.v, sm.full_v + 8 * ls.slot, kv0 + blk * C::kVW, 0, I.h,
                          I.b);
    }
    ls.slot = ls.slot + 1 == STAGES ? 0 : ls.slot + 1;
    ++ls.count;
  }
}

// P as e4m3 A fragments: k-step kb's register 2 half + hr holds the thread's row hr columns 32 kb + 16 half +
// {2t, 2t + 1, 8 + 2t, 9 + 2t} (t = lane % 4) as its k = 4t .. 4t + 3 (wgmma_fp8.cuh), accumulators
// s[16 kb + 8 half + 2 hr + {0, 1, 4, 5}].
template <int KB>
__device__ __forceinline__ void fp8_pack_p(const float* s, unsigned (&pk)[KB][4]) {
#pragma unroll
  for (int kb = 0; kb < KB; ++kb)
#pragma unroll
    for (int half = 0; half < 2; ++half)
#pragma unroll
      for (int hr = 0; hr < 2; ++hr) {
        const float* x = s + 16 * kb + 8 * half + 2 * hr;
        pk[kb][2 * half + hr] = sm90::pack_e4m3x4(x[0], x[1], x[4], x[5]);
      }
}

// Whether O needs its rescale: no row of the warp has a new maximum when alpha = exp2(0) = 1 for all 16 rows
// (the product would be O itself; late in a long row most tiles raise no maximum, with kSum's conditional rescale
// nearly none, and with FP8's halved MMA time the softmax's 64 multiplies per tile are on the critical path).
// Warp-uniform.
__device__ __forceinline__ bool fp8_needs_rescale(const float (&alpha)[2]) {
  return __any_sync(0xffffffffu, alpha[0] != 1.f || alpha[1] != 1.f);
}

#if defined(MOGA_HAS_WGMMA)
// S = Q K^T of one warpgroup (its 64 rows of Q at sQw, K at sKs; both [rows][128 B], 128-byte swizzle):
// D / 32 k-steps of 32 bytes; one commit group.
template <int D, int BN>
__device__ __forceinline__ void fp8_issue_qk(float (&s)[BN / 2], unsigned sQw, unsigned sKs) {
#pragma unroll
  for (int ks = 0; ks < D / 32; ++ks)
    sm90::wgmma_fp8_ss<BN>(s, sm90::gmma_desc_kmajor<128>(sQw + ks * 32), sm90::gmma_desc_kmajor<128>(sKs + ks * 32),
                           ks > 0 ? 1 : 0);
  sm90::wg_commit();
}
// O += P V: BN / 32 k-steps, B = V^T at sVs ([BN / VW][VR][VW], K-major, VW-byte swizzle); one commit group.
// VR = D + 8 (SUM): the product is n136 and o[D / 2 .. D / 2 + 3] gather the rows' sums of P.
template <int D, int BN, int VW, int VR>
__device__ __forceinline__ void fp8_issue_pv(float (&o)[VR / 2], const unsigned (&pk)[BN / 32][4], unsigned sVs) {
  static_assert(D == 128 && (VR == D || VR == D + 8), "P V is m64n128k32, or m64n136k32 with the row sums");
#pragma unroll
  for (int kb = 0; kb < BN / 32; ++kb) {
    const unsigned long long b = sm90::gmma_desc_kmajor<VW>(sVs + (32 * kb / VW) * (VR * VW) + (32 * kb) % VW);
    if constexpr (VR == D) sm90::wgmma_fp8_rs_n128(o, pk[kb], b, 1);
    else sm90::wgmma_fp8_rs_n136(o, pk[kb], b, 1);
  }
  sm90::wg_commit();
}

// SUM: the 8 rows of e4m3 1.0 after each V^T block of every stage (TMA never writes them), by all threads before the
// roles part; the fence makes the generic stores visible to the wgmmas (async proxy).
template <class C, int STAGES>
__device__ __forceinline__ void fp8_fill_ones(const WSSmem& sm, int tid, int nthreads) {
  constexpr int kBlocks = STAGES * (C::kBN / C::kVW), kWords = 8 * C::kVW / 4;
  for (int i = tid; i < kBlocks * kWords; i += nthreads) {
    const int blk = i / kWords, w = i % kWords;
    const unsigned addr = sm.v + blk * (C::kVRows * C::kVW) + C::kD * C::kVW + 4 * w;
    asm volatile("st.shared.b32 [%0], %1;\n" ::"r"(addr), "r"(0x38383838u) : "memory");  // e4m3 1.0 = 0x38
  }
  sm90::fence_proxy_async();
}

// A consumer warpgroup on work item I: ws_compute_item's phases (mainloop_ws.cuh; Q from shared memory)
// with the FP8 products, softmax and packing above, and the scales.
// kOverlap (row sm90.tma.fp8.ov): the softmax of tile j really runs under P V(j-1). ptxas schedules the
// wgmma wait, an instruction without operands, to the top of its basic block: in one block with the softmax
// it sat above the exps (SASS of sm90.tma.fp8: WARPGROUP.DEPBAR.LE gsb0, 0x0 before the first FMNMX, all 96
// MUFU.EX2 after it), so each tile's softmax waited for the P V before it. Here the vote on O's rescale
// branches first and the wait opens the block of each arm, below the softmax. Also without the
// fence.proxy.async before each turn (a MEMBAR.ALL.CTA in SASS): every tile the wgmmas read came by TMA
// (async proxy) and the staged columns are read by generic loads, so no generic write needs ordering
// before an async-proxy read.
// kSum (row sm90.tma.fp8.sum, C::kVRows = D + 8): the rows' sums come from the P V product (columns D .. D + 7 of
// O, by V^T's rows of ones) instead of 2 NT FADDs a row and tile (the profile's consumers issue-bound, docs/
// performance.md); they sum the e4m3 P that multiplied V, and are rescaled with O. With it the conditional rescale
// (kFp8LazyLog2): most tiles then leave every row's maximum, and the vote skips O's 68 multiplies.
template <class Variant, class C, int STAGES, bool LSE = false, bool kOverlap = false, bool kSum = false>
__device__ __forceinline__ void fp8_compute_item(const AttnParams& p, const Fp8Scales& fs, const WorkItem& I,
                                                 const WSSmem& sm, int cw, int lane, int NK, WSComputeState& cs) {
  constexpr int D = C::kD, BN = C::kBN, NT = C::kNT, DT = C::kDT, KB = C::kKB;
  constexpr int NTH = C::kConsumerThreads;
  constexpr int VR = C::kVRows, OT = VR / 8;  // O's accumulator: D / 2 values a thread, + 4 row sums with kSum
  static_assert(kSum == (VR != D), "kSum needs the configuration's rows of ones (AttnFwdFp8Cfg SUM)");
  constexpr bool kQCoords = Variant::kHasMask || Variant::kHasBias;
  constexpr bool kModify = Variant::kHasSoftcap || Variant::kHasBias;
  const int grp = cw >> 2;
  const int row_base = cw * 16 + (lane >> 2);
  const int* perm = p.perm ? p.perm + (long long)I.b * p.N : nullptr;
  const int* gid = p.gid ? p.gid + (long long)I.b * p.N : nullptr;
  // the descales: S carries amax_q amax_k / 448^2, O amax_v / 448 (fp8_prep.cuh)
  const int bh = I.b * p.H + I.h, nbh = p.B * p.H;
  auto descale = [](float a) { return a > 0.f ? a * (1.f / kFp8Max) : 1.f; };
  const float dqk = descale(__ldg(fs.amax + bh)) * descale(__ldg(fs.amax + nbh + bh));
  const float dv = descale(__ldg(fs.amax + 2 * nbh + bh));
  ScoreScale sc = score_scale<Variant>(p);
  if constexpr (Variant::kHasSoftcap) {
    sc.pre *= dqk;  // tanh(x_true pre)
  } else {
    sc.sl *= dqk;      // (x_true + bias_f bias) sl = (x + bias_f / dqk bias) sl dqk
    sc.bias_f /= dqk;
  }

  Coords<int> qc[2];
  int qkey[2];
  row_keys<kQCoords>(p, perm, gid, I.b, I.q0, row_base, qkey, qc);
  typename Variant::BiasRow br[2];
  if constexpr (Variant::kHasBias) {
    br[0] = Variant::bias_row(qc[0], I.h, p.shape);
    br[1] = Variant::bias_row(qc[1], I.h, p.shape);
  }

  const unsigned sQw = sm.q + grp * 64 * 128;  // this warpgroup's 64 rows
  if (I.n_tot > 0) {
    sm90::mbar_wait(sm.q_full, cs.q_parity);
    cs.q_parity ^= 1u;
  }

  float oacc[VR / 2];
  float sacc[BN / 2];
  float mrow[2], lrow[2], alpha[2];
  unsigned pk[KB][4];
#pragma unroll
  for (int i = 0; i < VR / 2; ++i) oacc[i] = 0.f;
#pragma unroll
  for (int i = 0; i < BN / 2; ++i) sacc[i] = 0.f;
#pragma unroll
  for (int hr = 0; hr < 2; ++hr) {
    mrow[hr] = sm80::neg_inf();
    lrow[hr] = 0.f;
    alpha[hr] = 1.f;
  }
#pragma unroll
  for (int kb = 0; kb < KB; ++kb)
#pragma unroll
    for (int e = 0; e < 4; ++e) pk[kb][e] = 0u;
  int vslot = 0;
  unsigned vpar = 0;

  // one phase per key tile, as ws_compute_item's (the comments there)
  auto phase = [&](int j, const bool kPV, const bool kQK) {
    const int ti = kQK ? I.tile(j) : 0;
    if (kQK) sm90::mbar_wait(sm.full_k + 8 * cs.slot, cs.parity);
    if (kPV) sm90::mbar_wait(sm.full_v + 8 * vslot, vpar);
    if constexpr (!kOverlap) sm90::fence_proxy_async();
    sm90::named_sync(1 + grp, NTH);
    sm90::wg_fence();
    if (kQK) fp8_issue_qk<D, BN>(sacc, sQw, sm.k + cs.slot * C::kTileBytes);
    if (kPV) fp8_issue_pv<D, BN, C::kVW, VR>(oacc, pk, sm.v + vslot * C::kVTileBytes);
    else sm90::wg_commit_empty();
    sm90::named_arrive(2 - grp, NTH);

    if (kQK) {
      sm90::wg_wait<1>();
      sm90::fence_regs(sacc);
      constexpr bool kStage = KeyStaging<Variant>::kStage || C::kBiasWords > 0;
      if (!kStage && lane == 0) sm90::mbar_arrive(sm.empty_k + 8 * cs.slot);
      if (j == I.n_tot - 1 && lane == 0) sm90::mbar_arrive(sm.q_empty);  // the item's last QK^T
      const int kv0 = ti * BN;
      const unsigned skeys = sm.keys + cs.slot * (BN * 4u);
      if constexpr (kModify)
        modify_tile<Variant, NT>(sacc, sc, br, lane, sm.bias + cs.slot * (BN * C::kBiasWords * 4u));
      const bool partial = j >= I.n_full;
      if (partial || kv0 + BN > NK)
        mask_tile<Variant, NT>(sacc, p, perm, gid, kv0, NK, partial, qkey, qc, lane, skeys);
      if (kStage) {
        __syncwarp();
        if (lane == 0) sm90::mbar_arrive(sm.empty_k + 8 * cs.slot);
      }
      // P in [0, 2^8], or [0, 2^8.8] with kSum's conditional rescale
      online_softmax<NT, false, kFp8Log2Max, !kSum>(sacc, mrow, lrow, alpha, sc.sl, kSum ? kFp8LazyLog2 : 0.f);
    }
    if constexpr (kOverlap) {
      if (kQK && fp8_needs_rescale(alpha)) {
        sm90::wg_wait<0>();
        sm90::fence_regs(oacc);
        rescale_o<OT>(oacc, alpha);
      } else {
        sm90::wg_wait<0>();
        sm90::fence_regs(oacc);
      }
    } else {
      sm90::wg_wait<0>();
      sm90::fence_regs(oacc);
    }
    if (kPV && lane == 0) sm90::mbar_arrive(sm.empty_v + 8 * vslot);
    if (kQK) {
      if (!kOverlap && fp8_needs_rescale(alpha)) rescale_o<OT>(oacc, alpha);
      fp8_pack_p<KB>(sacc, pk);
      vslot = cs.slot;
      vpar = cs.parity;
      if (++cs.slot == STAGES) {
        cs.slot = 0;
        cs.parity ^= 1u;
      }
    }
  };

  if (I.n_tot > 0) {
#pragma unroll 1
    for (int j = 0; j < I.n_tot; ++j) phase(j, sm90::opaque(j) != 0, true);
    phase(I.n_tot, true, false);
  }

#pragma unroll
  for (int i = 0; i < D / 2; ++i) oacc[i] *= dv;
  // the row maximum the log-sum-exp sees: P was exp2(s sl - m sl + 8)
  const float mlse[2] = {mrow[0] - kFp8Log2Max / sc.sl, mrow[1] - kFp8Log2Max / sc.sl};
  if constexpr (kSum) {  // every column of D .. D + 7 holds the row's sum
    lrow[0] = oacc[D / 2];
    lrow[1] = oacc[D / 2 + 2];
  }
  store_rows<DT, LSE, kSum>(p, oacc, lrow, mlse, sc.sl, I, perm, row_base, lane);
}
#endif
#endif

}  // namespace moga
