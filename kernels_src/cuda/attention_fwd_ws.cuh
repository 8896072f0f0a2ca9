// Forward attention on Hopper, warp-specialized (registry row "sm90.ws", runtime/attention/registry.h):
// FlashAttention-3's structure on our frame. Three warpgroups: warpgroup 0 is the producer (setmaxnreg
// down to kProducerRegs) and issues every copy (Q per item, K and V per key tile, gathered through perm
// when the branch has one) as cp.async into shared-memory rings signalled on mbarriers; warpgroups 1
// and 2 are two ping-pong consumers (setmaxnreg up to kConsumerRegs), each 64 query rows, doing only
// waits, wgmma, the score pass, softmax and the epilogue.
//
//   template <class Variant, int D, int BM, int BN, int STAGES, bool kQSmem = false, bool LSE = false>
//   __global__ void attention_fwd_ws(moga::AttnParams p);   BM = 128, BN in {64, 128}, 384 threads,
//        grid (G, 1, 1) with any G >= 1: one work item (b, h, query tile) per CTA, or persistent
//        (tile_scheduler.cuh: static round-robin, or dynamic with p.item_counter: two ints, zero
//        before the first launch, left zero by the kernel); AttnFwdWSCfg<...>::kSmemBytes dynamic
//        shared memory. sm_90a only (built for anything else the body traps). kQSmem: S = Q K^T reads
//        Q from shared memory (SS wgmma, registry row sm90.ws.sq) instead of registers (RS). LSE: the
//        epilogue also writes every row's log-sum-exp to p.lse (params.cuh; the backward's input).
//
// The parts, one header each (docs/performance.md, "v11" and "Registry"):
//   tile_scheduler.cuh  work items, their key tiles, the item order (ItemRing)
//   mainloop_ws.cuh     the producer's copies and the consumers' per-tile phases
//   wgmma_sm90.cuh      the two products; barrier_sm90.cuh the mbarriers and named barriers
//   score_pass.cuh      softcap / bias (every tile: row terms per item, column terms staged by the
//                       producer, element terms per element) and visibility (partial and ragged tiles)
//   softmax.cuh         online softmax, rescale, pack; epilogue.cuh 1/l, gate, weight, un-permute
// NVRTC-compatible: no host standard headers.
#pragma once
#include "mainloop_ws.cuh"

namespace moga {

// TMA: the layout of attention_fwd_tma (attention_fwd_tma.cuh), the same rings filled by the copy engine:
// BN 176 allowed, and the register split of a producer that only issues copies.
template <int D, int BM, int BN, int STAGES, int BIAS_WORDS = 0, int KEY_WORDS = 1, bool TMA = false>
struct AttnFwdWSCfg {
  static constexpr int kD = D, kBM = BM, kBN = BN;
  static constexpr int kThreads = 384;                 // producer warpgroup + two consumers
  static constexpr int kConsumerThreads = 256;
  static constexpr int kNT = BN / 8, kKD = D / 16, kDT = D / 8, kKB = BN / 16, kCH = D / 8;
  static constexpr int kRowBytes = D * 2;              // Q rows (ldmatrix layout)
  static constexpr int kQBytes = BM * kRowBytes;
  static constexpr int kTileBytes = BN * D * 2;        // [D/64][BN][64]
  static constexpr int kHalfBytes = BN * 128;          // one 64-column block of a K/V tile
  static constexpr int kKOff = 0;                      // from the 1024-aligned base
  static constexpr int kVOff = STAGES * kTileBytes;
  static constexpr int kQOff = 2 * STAGES * kTileBytes;
  static constexpr int kBarOff = kQOff + kQBytes;      // fullK[S] fullV[S] emptyK[S] emptyV[S] Q[2]
  static constexpr int kRing = 4;                      // ItemRing: kRing ids, full[kRing], empty[kRing]
  static constexpr int kRingOff = kBarOff + (4 * STAGES + 2) * 8;
  static constexpr int kKeysOff = kRingOff + kRing * 4 + 2 * kRing * 8;  // staged key columns [STAGES][BN] if KEY_WORDS
  static constexpr int kBiasWords = BIAS_WORDS;        // staged bias columns [STAGES][BN][BIAS_WORDS]
  static constexpr int kBiasOff = kKeysOff + STAGES * BN * 4 * KEY_WORDS;
  static constexpr int kSmemBytes = 1024 + kBiasOff + STAGES * BN * BIAS_WORDS * 4;
  static constexpr int kLdStep = 128 / kCH;            // rows between one producer thread's copies
  static constexpr int kKVRows = BN / kLdStep;         // copies per producer thread and tile
  // Producer threads that write staged key or bias columns (all 128 of the producer warpgroup); without
  // staging the TMA producer is one warp (one thread issues, the others leave).
  static constexpr bool kStaging = BIAS_WORDS > 0 || KEY_WORDS > 0;
  // The CTA holds 168 * 384 = 64,512 registers (__launch_bounds__(384, 1)), split by setmaxnreg
  // (multiples of 8): cp.async 56 * 128 + 224 * 256 (the consumers' loop needs 216, nvcc 13.0; the
  // producer spills below 56); TMA 24 * 128 + 240 * 256 (FlashAttention-3's split: the producer only
  // issues copies; ptxas spills one word around its copies there, none in the consumers at BN 176, where
  // 232 would spill 44 B), or 40 + 232 when its threads also stage key or bias columns (no spill).
  static constexpr int kProducerRegs = TMA ? (kStaging ? 40 : 24) : 56;
  static constexpr int kConsumerRegs = TMA ? (kStaging ? 232 : 240) : 224;
  static_assert(kProducerRegs * 128 + kConsumerRegs * 256 <= 64512, "register split exceeds 168 x 384");

  static_assert(D == 64 || D == 128, "D in {64, 128}");
  static_assert(BN == 64 || BN == 128 || (TMA && BN == 176), "BN in {64, 128} (TMA: also 176)");
  static_assert(BM == 128, "two consumer warpgroups of 64 rows");
  static_assert(STAGES >= 2, "STAGES >= 2");
  static_assert(kLdStep % 8 == 0 && BN % kLdStep == 0, "K/V copy mapping");
  static_assert(kSmemBytes <= 232448, "exceeds the 227 KB of shared memory a Hopper CTA can have");
};

#if defined(MOGA_HAS_WGMMA)
// The shared-memory addresses of config C's rings and barriers from the 1024-aligned base.
template <class C, int STAGES>
__device__ __forceinline__ WSSmem ws_smem_layout(unsigned base) {
  WSSmem sm;
  sm.k = base + C::kKOff;
  sm.v = base + C::kVOff;
  sm.q = base + C::kQOff;
  sm.keys = base + C::kKeysOff;
  sm.bias = base + C::kBiasOff;
  sm.full_k = base + C::kBarOff;
  sm.full_v = sm.full_k + 8 * STAGES;
  sm.empty_k = sm.full_k + 16 * STAGES;
  sm.empty_v = sm.full_k + 24 * STAGES;
  sm.q_full = sm.full_k + 32 * STAGES;
  sm.q_empty = sm.q_full + 8;
  return sm;
}

// Thread 0, before the roles part: the ring barriers with the producer's arrival counts (full K, full
// V, Q full); the empty barriers take one arrival per consumer warp.
template <int STAGES, int kRing>
__device__ __forceinline__ void ws_init_barriers(const WSSmem& sm, const ItemRing<kRing>& ring, unsigned full_k,
                                                 unsigned full_v, unsigned q_full) {
#pragma unroll 1
  for (int i = 0; i < STAGES; ++i) {
    sm90::mbar_init(sm.full_k + 8 * i, full_k);
    sm90::mbar_init(sm.full_v + 8 * i, full_v);
    sm90::mbar_init(sm.empty_k + 8 * i, 8);
    sm90::mbar_init(sm.empty_v + 8 * i, 8);
  }
  sm90::mbar_init(sm.q_full, q_full);
  sm90::mbar_init(sm.q_empty, 8);
  ring.init_barriers(8);
  sm90::fence_mbar_init();
}

// Warpgroups 1 and 2 (warp 4..11): take the consumers' registers, then compute every item of the CTA
// in the ping-pong order (warpgroup 0 of the consumers leads): compute(I, consumer warp, state) per item
// (ws_consumers: ws_compute_item; the FP8 kernel: fp8_compute_item).
template <class C, int kRing, class Compute>
__device__ __forceinline__ void ws_consumer_loop(const AttnParams& p, ItemRing<kRing>& ring, int warp, int lane, int Tq,
                                                 int n_items, int n_kv_dense, Compute&& compute) {
  sm90::setmaxnreg_inc<C::kConsumerRegs>();
  const int cw = warp - 4;  // consumer warp 0..7
  const int grp = cw >> 2;  // consumer warpgroup: 0 leads the ping-pong
  if (grp == 1) sm90::named_arrive(1, C::kConsumerThreads);
  WSComputeState cs;
#pragma unroll 1
  for (int it = blockIdx.x; it < n_items; it = ring.consumer_next(it, lane))
    compute(work_item(p, it, Tq, C::kBM, n_kv_dense), cw, cs);
  if (grp == 0) sm90::named_sync(1, C::kConsumerThreads);
}
template <class Variant, class C, int STAGES, bool kQSmem, bool LSE, int kRing>
__device__ __forceinline__ void ws_consumers(const AttnParams& p, const WSSmem& sm, ItemRing<kRing>& ring, int warp,
                                             int lane, int Tq, int n_items, int n_kv_dense, int NK) {
  ws_consumer_loop<C>(p, ring, warp, lane, Tq, n_items, n_kv_dense, [&](const WorkItem& I, int cw, WSComputeState& cs) {
    ws_compute_item<Variant, C, STAGES, kQSmem, LSE>(p, I, sm, cw, lane, NK, cs);
  });
}
#endif

template <class Variant, int D, int BM, int BN, int STAGES, bool kQSmem = false, bool LSE = false>
__global__ void __launch_bounds__(384, 1) attention_fwd_ws(const AttnParams p) {
#if defined(MOGA_HAS_WGMMA)
  using C = AttnFwdWSCfg<D, BM, BN, STAGES, BiasStage<Variant>::kWords, KeyStaging<Variant>::kStage ? 1 : 0>;
  grid_dep_wait();  // launched with PDL behind the prep kernels or the previous branch (params.cuh)
  extern __shared__ __align__(128) unsigned char smem_ws_raw[];
  const unsigned base = (sm80::smem_u32(smem_ws_raw) + 1023u) & ~1023u;  // kSmemBytes has the slack
  const WSSmem sm = ws_smem_layout<C, STAGES>(base);
  ItemRing<C::kRing> ring(p.item_counter, base + C::kRingOff);

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int NK = p.Nk > 0 ? p.Nk : p.N;  // NK != N: dense cross-attention (AttnParams::Nk)
  const int Tq = query_tiles(p, BM);
  const int n_items = Tq * p.H * p.B;
  const int n_kv_dense = (NK + BN - 1) / BN;

  // full K: the producer's 128 cp.async arrivals, plus one per producer thread when it stages key columns
  // and one more when it stages bias columns; full V and Q: cp.async arrivals
  constexpr unsigned kFullK = 128 + (KeyStaging<Variant>::kStage ? 128 : 0) + (BiasStage<Variant>::kWords ? 128 : 0);
  if (tid == 0) ws_init_barriers<STAGES>(sm, ring, kFullK, 128, 128);
  __syncthreads();  // the last CTA-wide barrier: the roles part here

  if (warp < 4) {  // ---- producer ----
    sm90::setmaxnreg_dec<C::kProducerRegs>();
    WSLoadState ls;
#pragma unroll 1
    for (int it = blockIdx.x; it < n_items; it = ring.producer_next(it, tid)) {
      ring.claim(tid);
      const WorkItem I = work_item(p, it, Tq, BM, n_kv_dense);
      if (I.n_tot > 0) ws_load_item<Variant, C, STAGES, kQSmem, LSE>(p, I, sm, tid, p.N, NK, ls);
    }
    ring.finish(tid);
    sm90::cp_async_wait_all();
    return;
  }
  ws_consumers<Variant, C, STAGES, kQSmem, LSE>(p, sm, ring, warp, lane, Tq, n_items, n_kv_dense, NK);
#else
  (void)p;
  __trap();  // needs sm_90a
#endif
}

}  // namespace moga
