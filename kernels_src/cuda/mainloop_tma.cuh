// The TMA producer of the warp-specialized attention kernel (attention_fwd_tma.cuh, registry row
// sm90.tma): the copies of one work item as bulk tensor copies (tma_sm90.cuh) into the same rings and
// layouts the cp.async producer fills (mainloop_ws.cuh). The copy engine cannot gather rows: the maps
// are of tensors in the kernel's token order, the inputs themselves for kernels without a gather (p.perm
// null: dense, masked, causal, cross-attention), the sorted copies (sorted_copy.cuh, row sm90.tma.sorted)
// for gathered ones, whose staged key and bias columns still read the original token through p.perm;
// or, when every tile of the order holds consecutive tokens (TmaMaps::rows_by_perm: groups by frame or
// document), the inputs themselves, each tile's box starting at the token of its first position.
// One thread issues every copy: Q as D/64 boxes of 64 columns x
// BM rows ([D/64][BM][64], the SS wgmma's layout), K and V as D/64 boxes of 64 columns x BN rows
// ([D/64][BN][64]); the 128-byte swizzle of the maps is exactly the rings' (chunk c of row r at
// r * 128 + ((c ^ (r & 7)) << 4) from a 1024-aligned block). Rows past N (Nk) arrive as zeros.
// Barriers: q_full and full_v complete on one arrival with the box bytes; full_k on that plus one arrival
// per producer thread when the kernel stages key or bias columns (C::kStaging: all 128 threads write
// columns of the slot, after the slot's empty wait).
// NVRTC-compatible: no host standard headers.
#pragma once
#include "mainloop_ws.cuh"
#include "tma_sm90.cuh"

namespace moga {

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)

// The staged key and bias columns of ring slot `slot` (key tile at kv0), written by producer thread tid of
// 128, then its arrival on full K (the release of the stores before the consumers' wait). pm: sorted position
// -> original token (gathered kernels), or null. Shared by the TMA producers (tma_load_item, the FP8 kernel's
// fp8_load_item). kpos0: the global position of key 0 (AttnParams::kv_pos0; the LSE instantiations), else 0.
template <class Variant, class C>
__device__ __forceinline__ void tma_stage_columns(const AttnParams& p, const int* pm, const WSSmem& sm, int slot,
                                                  int kv0, int NK, int h, int tid, int kpos0 = 0) {
  if constexpr (KeyStaging<Variant>::kStage) {
    const unsigned dst = sm.keys + slot * (C::kBN * 4u);
#pragma unroll 1
    for (int r = tid; r < C::kBN; r += 128) {
      const int s = kv0 + r;
      const int t = s < NK ? (pm ? __ldg(pm + s) : s) : -1;  // -1: past NK, or padding of aligned groups
      const int v = t >= 0 ? encode_key<Variant>(t + kpos0, p) : 0;
      asm volatile("st.shared.b32 [%0], %1;\n" ::"r"(dst + 4u * r), "r"(v) : "memory");
    }
  }
  if constexpr (C::kBiasWords > 0) {
    const unsigned dst = sm.bias + slot * (C::kBN * C::kBiasWords * 4u);
#pragma unroll 1
    for (int col = tid; col < C::kBN; col += 128) {
      const int s = kv0 + col;
      const int t = s < NK ? (pm ? __ldg(pm + s) : s) : -1;
      typename Variant::BiasCol bc{};
      if (t >= 0) bc = Variant::bias_col(coords_of(t + kpos0, p.shape), h, p.shape);
      store_bias_col<Variant>(dst + col * (C::kBiasWords * 4u), bc);
    }
  }
  sm90::mbar_arrive(sm.full_k + 8 * slot);
}

// The producer warpgroup of a TMA kernel (attention_fwd_tma, attention_fwd_fp8): gives registers back, keeps
// the threads that work (one warp, or all 128 when they stage columns) and walks the CTA's items,
// load(I, state) per item with key tiles.
template <class C, int kRing, class Load>
__device__ __forceinline__ void tma_producer_loop(const AttnParams& p, ItemRing<kRing>& ring, int tid, int Tq,
                                                  int n_items, int n_kv_dense, Load&& load) {
  sm90::setmaxnreg_dec<C::kProducerRegs>();
  constexpr int kThreads = C::kStaging ? 128 : 32;  // without staging one warp walks the items
  if (tid >= kThreads) return;
  WSLoadState ls;
#pragma unroll 1
  for (int it = blockIdx.x; it < n_items; it = ring.producer_next(it, tid, kThreads)) {
    ring.claim(tid);
    const WorkItem I = work_item(p, it, Tq, C::kBM, n_kv_dense);
    if (I.n_tot > 0) load(I, ls);
  }
  ring.finish(tid);
}

// Producer thread tid (0 issues the copies; with C::kStaging all 128 threads run this) on item I.
// kPos: the staged key columns at global positions (AttnParams::kv_pos0; the LSE instantiations).
template <class Variant, class C, int STAGES, bool kPos = false>
__device__ __forceinline__ void tma_load_item(const AttnParams& p, const TmaMaps& tm, const WorkItem& I,
                                              const WSSmem& sm, int tid, int NK, WSLoadState& ls) {
  constexpr int kBlocks = C::kD / 64;
  const bool issue = tid == 0;
  // gathered kernels: sorted position -> original token (ungrouped ones compile to the identity, as before)
  const int* pm = Variant::kGrouped && p.perm ? p.perm + (long long)I.b * p.N : nullptr;
  // rows_by_perm: the box of the tile at sorted position s0 starts at its first token (a tile of padding
  // only, never in the map, starts at row p.N >= the tensor's rows: zero-filled)
  const bool by_perm = Variant::kGrouped && pm && tm.rows_by_perm;
  const int kpos0 = kPos ? p.kv_pos0 : 0;
  auto row_of = [&](int s0) {
    if (!by_perm) return s0;
    const int t = __ldg(pm + s0);
    return t >= 0 ? t : p.N;
  };
  if (issue) {  // Q, once both consumer warpgroups issued the previous item's last QK^T
    const int qrow = row_of(I.q0);
    sm90::mbar_wait(sm.q_empty, ls.q_empty_parity);
    sm90::mbar_arrive_expect_tx(sm.q_full, C::kQBytes);
#pragma unroll
    for (int blk = 0; blk < kBlocks; ++blk)
      sm90::tma_load_4d(sm.q + blk * (C::kBM * 128), &tm.q, sm.q_full, 64 * blk, qrow, I.h, I.b);
  }
  ls.q_empty_parity ^= 1u;
#pragma unroll 1
  for (int j = 0; j < I.n_tot; ++j) {
    const int kv0 = I.tile(j) * C::kBN;
    const unsigned par = ((ls.count / STAGES) & 1) ^ 1;
    const bool reuse = ls.count >= STAGES;  // the slot held tile count - STAGES: wait for its release
    auto copy = [&](const TmaMap* map, unsigned ring, unsigned full, unsigned empty) {
      const int row = row_of(kv0);
      if (reuse) sm90::mbar_wait(empty + 8 * ls.slot, par);
      sm90::mbar_arrive_expect_tx(full + 8 * ls.slot, C::kTileBytes);
      const unsigned dst = ring + ls.slot * C::kTileBytes;
#pragma unroll
      for (int blk = 0; blk < kBlocks; ++blk)
        sm90::tma_load_4d(dst + blk * C::kHalfBytes, map, full + 8 * ls.slot, 64 * blk, row, I.h, I.b);
    };
    if (issue) copy(&tm.k, sm.k, sm.full_k, sm.empty_k);
    if constexpr (C::kStaging) {  // the slot's staged columns, one arrival per thread on full K
      if (reuse && !issue) sm90::mbar_wait(sm.empty_k + 8 * ls.slot, par);
      tma_stage_columns<Variant, C>(p, pm, sm, ls.slot, kv0, NK, I.h, tid, kpos0);
    }
    if (issue) copy(&tm.v, sm.v, sm.full_v, sm.empty_v);
    ls.slot = ls.slot + 1 == STAGES ? 0 : ls.slot + 1;
    ++ls.count;
  }
}
#endif

}  // namespace moga
