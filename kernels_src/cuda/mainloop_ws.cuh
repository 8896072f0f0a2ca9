// Mainloop of the warp-specialized wgmma attention kernel (attention_fwd_ws.cuh), FlashAttention-3's
// split: the producer warpgroup's copies of one work item (ws_load_item) and a consumer warpgroup's
// compute of it (ws_compute_item), meeting in shared-memory rings of STAGES K and V slots guarded by
// mbarriers: full[s] (the producer's cp.async arrivals, 128) and empty[s] (one arrival per consumer
// warp, 8), and the Q tile with q_full (128) / q_empty (8).
// Hopper's TMA cannot gather rows, so the producer copies with cp.async, which also serves the routed
// kernels' permutation (perm).
// NVRTC-compatible: no host standard headers.
#pragma once
#include "barrier_sm90.cuh"
#include "epilogue.cuh"
#include "mma_sm80.cuh"
#include "params.cuh"
#include "score_pass.cuh"
#include "softmax.cuh"
#include "tile_scheduler.cuh"
#include "wgmma_sm90.cuh"

namespace moga {

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
// Shared-memory addresses of the rings and barriers (mbarrier i of a kind at base + 8 i).
struct WSSmem {
  unsigned k, v, q;
  unsigned keys;  // staged key columns: STAGES x BN ints (score_pass.cuh KeyStaging)
  unsigned bias;  // staged bias columns: STAGES x BN x BiasStage::kWords (score_pass.cuh store_bias_col)
  unsigned full_k, full_v, empty_k, empty_v, q_full, q_empty;
};

// The producer's position in the K/V ring, carried across items.
struct WSLoadState {
  int slot = 0, count = 0;  // next slot; tiles copied so far
  unsigned q_empty_parity = 1;  // the first Q needs no release
};

// Producer (warpgroup 0, 128 threads): Q of item I (after both consumer warpgroups are done with the
// previous item's Q: read into registers, or with kQSmem its last QK^T issued from shared memory), then for each key tile K and V into the next ring slot (after the consumers released the
// tile that used it STAGES tiles earlier). Thread t copies 16-byte chunk t % CH of rows t / CH + kLdStep i
// (i < kKVRows) of every tile (kLdStep = 8 rows at D = 128, 16 at D = 64: a multiple of 8, so row r0's
// swizzle serves all of them). Rows past N (or Nk) and padding of aligned groups (perm -1) are zero-filled.
// kPos: the key columns' coordinates at global positions (AttnParams::kv_pos0; the LSE instantiations).
template <class Variant, class C, int STAGES, bool kQSmem, bool kPos = false>
__device__ __forceinline__ void ws_load_item(const AttnParams& p, const WorkItem& I, const WSSmem& sm, int tid,
                                             int N, int NK, WSLoadState& ls) {
  typedef unsigned short bf16_t;
  constexpr int CH = C::kCH, RB = C::kRowBytes, kRows = C::kKVRows, kStep = C::kLdStep;
  constexpr int kQRows = C::kBM / kStep;  // Q copies per thread (BM rows; kRows: BN rows of K and V)
  static_assert(kStep % 8 == 0 && C::kBM % kStep == 0, "Q rows split over the producer's threads");
  const int c = tid % CH, r0 = tid / CH;
  const unsigned soff = (c >> 3) * C::kHalfBytes + r0 * 128 + (((c & 7) ^ (r0 & 7)) << 4);  // K/V rows
  // Q rows: the ldmatrix layout (rows of RB bytes), or with kQSmem the K tiles' ([D/64][BM][64])
  const unsigned qoff = kQSmem ? (c >> 3) * (C::kBM * 128) + r0 * 128 + (((c & 7) ^ (r0 & 7)) << 4)
                               : r0 * RB + ((c ^ (r0 & 7)) << 4);
  constexpr unsigned kQRowStep = kQSmem ? 128u : (unsigned)RB;
  const int* pm = p.perm ? p.perm + (long long)I.b * N : nullptr;
  const int kpos0 = kPos ? p.kv_pos0 : 0;
  {  // Q
    const char* src =
        reinterpret_cast<const char*>(static_cast<const bf16_t*>(p.q) + I.b * p.q_sb + I.h * p.q_sh + c * 8);
    const unsigned rb = static_cast<unsigned>(p.q_sn) * 2u;
    int tok[kQRows];
#pragma unroll
    for (int i = 0; i < kQRows; ++i) {
      const int s = I.q0 + r0 + i * kStep;
      tok[i] = s < N ? (pm ? __ldg(pm + s) : s) : -1;
    }
    sm90::mbar_wait(sm.q_empty, ls.q_empty_parity);
    ls.q_empty_parity ^= 1u;
#pragma unroll
    for (int i = 0; i < kQRows; ++i)
      sm80::cp_async16(sm.q + qoff + i * kStep * kQRowStep,
                       src + static_cast<unsigned long long>(tok[i] >= 0 ? tok[i] : 0) * rb, tok[i] >= 0);
    sm90::cp_async_mbar_arrive(sm.q_full);
  }
  const long long kb_off = (I.b * p.k_sb + I.h * p.k_sh) * 2, vb_off = (I.b * p.v_sb + I.h * p.v_sh) * 2;
  const char* ksrc = reinterpret_cast<const char*>(static_cast<const bf16_t*>(p.k) + c * 8) + kb_off;
  const char* vsrc = reinterpret_cast<const char*>(static_cast<const bf16_t*>(p.v) + c * 8) + vb_off;
  const unsigned krb = static_cast<unsigned>(p.k_sn) * 2u, vrb = static_cast<unsigned>(p.v_sn) * 2u;
#pragma unroll 1
  for (int j = 0; j < I.n_tot; ++j) {
    const int kv0 = I.tile(j) * C::kBN;
    int tok[kRows];
#pragma unroll
    for (int i = 0; i < kRows; ++i) {
      const int s = kv0 + r0 + i * kStep;
      tok[i] = s < NK ? (pm ? __ldg(pm + s) : s) : -1;
    }
    const unsigned par = ((ls.count / STAGES) & 1) ^ 1;
    auto copy = [&](unsigned ring, unsigned full, unsigned empty, const char* src, unsigned rb) {
      if (ls.count >= STAGES) sm90::mbar_wait(empty + 8 * ls.slot, par);
      const unsigned dst = ring + ls.slot * C::kTileBytes + soff;
#pragma unroll
      for (int i = 0; i < kRows; ++i)
        sm80::cp_async16(dst + i * kStep * 128, src + static_cast<unsigned long long>(tok[i] >= 0 ? tok[i] : 0) * rb,
                         tok[i] >= 0);
      sm90::cp_async_mbar_arrive(full + 8 * ls.slot);
    };
    copy(sm.k, sm.full_k, sm.empty_k, ksrc, krb);
    // every producer thread writes the key column of its own tile column (one at BN <= 128): the encoding's
    // divisions (frame / row / col) in parallel over 128 lanes, not 16 rows each on the 8 threads that copy a
    // row's first chunk (2 lanes of a warp: svg_spatial's producer held its consumers back, Nsight showed
    // 21 active threads per warp and L1TEX waits on the consumers' full-K barrier)
    if constexpr (KeyStaging<Variant>::kStage) {
      const unsigned dst = sm.keys + ls.slot * (C::kBN * 4u);
#pragma unroll
      for (int col = tid; col < C::kBN; col += 128) {
        const int s = kv0 + col;
        const int t = s < NK ? (pm ? __ldg(pm + s) : s) : -1;
        const int v = t >= 0 ? encode_key<Variant>(t + kpos0, p) : 0;
        asm volatile("st.shared.b32 [%0], %1;\n" ::"r"(dst + 4u * col), "r"(v) : "memory");
      }
      sm90::mbar_arrive(sm.full_k + 8 * ls.slot);  // release: the stores before the consumers' wait
    }
    copy(sm.v, sm.full_v, sm.empty_v, vsrc, vrb);
    // every producer thread: the bias column terms of its columns (after the V copies, when the tokens of
    // the K and V rows are no longer live: the producer has 56 registers)
    if constexpr (C::kBiasWords > 0) {
      const unsigned dst = sm.bias + ls.slot * (C::kBN * C::kBiasWords * 4u);
#pragma unroll
      for (int col = tid; col < C::kBN; col += 128) {
        const int s = kv0 + col;
        const int t = s < NK ? (pm ? __ldg(pm + s) : s) : -1;
        typename Variant::BiasCol bc{};
        if (t >= 0) bc = Variant::bias_col(coords_of(t + kpos0, p.shape), I.h, p.shape);
        store_bias_col<Variant>(dst + col * (C::kBiasWords * 4u), bc);
      }
      sm90::mbar_arrive(sm.full_k + 8 * ls.slot);
    }
    ls.slot = ls.slot + 1 == STAGES ? 0 : ls.slot + 1;
    ++ls.count;
  }
}

// The consumers' position in the rings, carried across items.
struct WSComputeState {
  int slot = 0;
  unsigned parity = 0, q_parity = 0;
};

#if defined(MOGA_HAS_WGMMA)
// A consumer warpgroup (grp 0 or 1: rows 64 grp .. 64 grp + 63 of the item's query tile; consumer warp cw
// owns rows 16 cw .. 16 cw + 15) on work item I. An item without key tiles (the producer copies nothing
// for it) writes its rows as 0 (or leaves the accumulated output as it is). Per key tile j, one phase:
//   wait K(j), V(j-1) landed; wait for the turn (ping-pong of the two warpgroups through named barriers
//   1 and 2, warpgroup 0 leads); issue S = Q K(j)^T and O += P(j-1) V(j-1); pass the turn; wait for S;
//   release K(j); score modifications (every tile) and visibility (partial and ragged tiles); online
//   softmax, overlapping the P.V still running; wait for O; release V(j-1); rescale O; pack P(j).
// Then the epilogue. The accumulators live in registers for the whole item. Q: in registers for the whole
// item (ldmatrix once, RS wgmma), or with kQSmem read by the wgmma from shared memory (SS: 32 registers
// fewer per thread; the Q tile is released after the item's last QK^T).
template <class Variant, class C, int STAGES, bool kQSmem, bool LSE = false>
__device__ __forceinline__ void ws_compute_item(const AttnParams& p, const WorkItem& I, const WSSmem& sm, int cw,
                                                int lane, int NK, WSComputeState& cs) {
  constexpr int D = C::kD, BN = C::kBN, NT = C::kNT, KD = C::kKD, DT = C::kDT, KB = C::kKB;
  constexpr int RB = C::kRowBytes, NTH = C::kConsumerThreads;
  constexpr bool kQCoords = Variant::kHasMask || Variant::kHasBias;
  constexpr bool kModify = Variant::kHasSoftcap || Variant::kHasBias;
  constexpr bool kFixedMax = FixedRowMax<Variant>::value;
  const int grp = cw >> 2;
  const int N = p.N;
  const int* perm = p.perm ? p.perm + (long long)I.b * N : nullptr;
  const int* gid = p.gid ? p.gid + (long long)I.b * N : nullptr;
  const int row_base = cw * 16 + (lane >> 2);
  const ScoreScale sc = score_scale<Variant>(p);

  Coords<int> qc[2];
  int qkey[2];  // the row's group id; with aligned groups (p.seg_end) the end of the row's group instead
  // LSE: the ring's instantiation, whose calls may be slices of the sequence (AttnParams::q_pos0 / kv_pos0)
  const int qpos0 = LSE ? p.q_pos0 : 0, kpos0 = LSE ? p.kv_pos0 : 0;
  row_keys<kQCoords>(p, perm, gid, I.b, I.q0, row_base, qkey, qc, qpos0);
  typename Variant::BiasRow br[2];  // the bias's row terms (attn-plan-score), once per item
  if constexpr (Variant::kHasBias) {
    br[0] = Variant::bias_row(qc[0], I.h, p.shape);
    br[1] = Variant::bias_row(qc[1], I.h, p.shape);
  }

  unsigned qf[kQSmem ? 1 : KD][4];
  const unsigned sQw = sm.q + grp * 64 * 128;  // kQSmem: this warpgroup's 64 rows of each 64-column block
  if (kQSmem && I.n_tot > 0) {
    sm90::mbar_wait(sm.q_full, cs.q_parity);
    cs.q_parity ^= 1u;
  } else if (I.n_tot > 0) {
    const int xq = (lane >> 4) ^ (lane & 7);
    const unsigned q_lane = sm.q + (cw * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * RB;
    sm90::mbar_wait(sm.q_full, cs.q_parity);
    cs.q_parity ^= 1u;
#pragma unroll
    for (int ks = 0; ks < KD; ++ks) sm80::ldsm_x4(q_lane + (((2 * ks) ^ xq) << 4), qf[ks]);
    __syncwarp();
    if (lane == 0) sm90::mbar_arrive(sm.q_empty);  // this warp's Q rows are in registers
  }

  float oacc[D / 2];   // [dt][e] at 4*dt + e
  float sacc[BN / 2];  // [nt][e] at 4*nt + e
  float mrow[2], lrow[2], alpha[2];
  unsigned pk[KB][4];
  init_tile_state<D, BN, kFixedMax>(oacc, sacc, mrow, lrow, alpha, pk);
  int vslot = 0;
  unsigned vpar = 0;

  auto phase = [&](int j, const bool kPV, const bool kQK) {
    const int ti = kQK ? I.tile(j) : 0;
    if (kQK) sm90::mbar_wait(sm.full_k + 8 * cs.slot, cs.parity);
    if (kPV) sm90::mbar_wait(sm.full_v + 8 * vslot, vpar);
    sm90::fence_proxy_async();
    sm90::named_sync(1 + grp, NTH);
    sm90::wg_fence();
    if (kQK) {
      if constexpr (kQSmem) sm90::issue_qk_ss<D, BN, C::kBM * 128>(sacc, sQw, sm.k + cs.slot * C::kTileBytes);
      else sm90::issue_qk<D, BN>(sacc, qf, sm.k + cs.slot * C::kTileBytes);
    }
    // P V(j-1) in the second commit group; the first tile (no P V yet) commits an empty one in its own
    // branch, so every path waits the same way (wait<1>: S is in, wait<0>: O is), which keeps ptxas from
    // serializing the wgmmas (C7513) now that kPV is a run-time value for the loop's tiles. (One commit after
    // the branches would close the empty group on both paths: three groups, and wait<1> would wait for P V.)
    if (kPV) sm90::issue_pv<D, BN>(oacc, pk, sm.v + vslot * C::kTileBytes);
    else sm90::wg_commit_empty();
    sm90::named_arrive(2 - grp, NTH);

    if (kQK) {
      sm90::wg_wait<1>();
      sm90::fence_regs(sacc);
      // the K slot is free once S is in registers; with staged key or bias columns, once the score pass
      // read them
      constexpr bool kStage = KeyStaging<Variant>::kStage || C::kBiasWords > 0;
      if (!kStage && lane == 0) sm90::mbar_arrive(sm.empty_k + 8 * cs.slot);
      if (kQSmem && j == I.n_tot - 1 && lane == 0) sm90::mbar_arrive(sm.q_empty);  // the item's last QK^T
      const int kv0 = ti * BN;
      const unsigned skeys = sm.keys + cs.slot * (BN * 4u);
      if constexpr (kModify)
        modify_tile<Variant, NT>(sacc, sc, br, lane, sm.bias + cs.slot * (BN * C::kBiasWords * 4u));
      const bool partial = j >= I.n_full;
      if (partial || kv0 + BN > NK)
        mask_tile<Variant, NT>(sacc, p, perm, gid, kv0, NK, partial, qkey, qc, lane, skeys, kpos0);
      if (kStage) {
        __syncwarp();
        if (lane == 0) sm90::mbar_arrive(sm.empty_k + 8 * cs.slot);
      }
      online_softmax<NT, kFixedMax>(sacc, mrow, lrow, alpha, sc.sl);
    }
    sm90::wg_wait<0>();
    sm90::fence_regs(oacc);
    if (kPV && lane == 0) sm90::mbar_arrive(sm.empty_v + 8 * vslot);
    if (kQK) {
      rescale_and_pack<DT, KB, kFixedMax>(oacc, alpha, sacc, pk);
      vslot = cs.slot;
      vpar = cs.parity;
      if (++cs.slot == STAGES) {
        cs.slot = 0;
        cs.parity ^= 1u;
      }
    }
  };

  if (I.n_tot > 0) {
    // One copy of the score pass (softcap, bias, mask, softmax) for every key tile: the first tile, which has
    // no P V(j-1) yet, takes the same code with kPV false at run time. Written as phase(0, false, true) + a
    // loop, the compiler specialized the body twice, and ptxas's time grows with the kernel's size (the
    // masked kernels' compile time, docs/performance.md "Compile time"). `first` is opaque to the compiler
    // (an asm move), so it can neither peel the first iteration nor unswitch the loop on it.
#pragma unroll 1
    for (int j = 0; j < I.n_tot; ++j) phase(j, sm90::opaque(j) != 0, true);
    phase(I.n_tot, true, false);
  }

  store_rows<DT, LSE>(p, oacc, lrow, mrow, sc.sl, I, perm, row_base, lane);  // rows past N and padding are not written
}
#endif
#endif

}  // namespace moga
