// Forward attention on Hopper with a TMA producer (registry row "sm90.tma", runtime/attention/registry.h):
// attention_fwd_ws's frame and consumers (two ping-pong warpgroups, Q from shared memory: SS QK^T, RS
// PV), with the copies issued by one thread as bulk tensor copies (mainloop_tma.cuh) instead of 128
// threads' cp.async. That frees the producer's registers (setmaxnreg 24, or 40 when it stages key or
// bias columns) for the consumers (240 / 232), which makes FlashAttention-3's key tile of 176 at D = 128
// fit (88 score accumulators + 64 output + 44 packed P per thread).
//
//   template <class Variant, int D, int BM, int BN, int STAGES, bool LSE = false>
//   __global__ void attention_fwd_tma(moga::AttnParams p, moga::TmaMaps tm);   BM = 128, BN in
//        {64, 128, 176}, 384 threads, grid and scheduling as attention_fwd_ws, AttnFwdWSCfg<..., true>
//        ::kSmemBytes dynamic shared memory. tm: the maps of q, k, v (params.cuh TmaMaps; host side
//        runtime/attention/tma_maps.h), __grid_constant__ so the copy engine reads them in place: of
//        the inputs for kernels without a gather (p.perm null), of their sorted copies for gathered
//        ones (row sm90.tma.sorted: sorted_copy.cuh; p.perm then gives the original tokens for the
//        staged columns, the masks and the epilogue's scatter; row sm90.tma sends gathered kernels to
//        the cp.async gather row sm90.ws.sq instead).
// NVRTC-compatible: no host standard headers.
#pragma once
#include "attention_fwd_ws.cuh"
#include "mainloop_tma.cuh"

namespace moga {

template <class Variant, int D, int BM, int BN, int STAGES, bool LSE = false>
__global__ void __launch_bounds__(384, 1)
    attention_fwd_tma(const __grid_constant__ AttnParams p, const __grid_constant__ TmaMaps tm) {
#if defined(MOGA_HAS_WGMMA)
  using C = AttnFwdWSCfg<D, BM, BN, STAGES, BiasStage<Variant>::kWords, KeyStaging<Variant>::kStage ? 1 : 0, true>;
  extern __shared__ __align__(128) unsigned char smem_tma_raw[];
  const unsigned base = (sm80::smem_u32(smem_tma_raw) + 1023u) & ~1023u;  // kSmemBytes has the slack
  const WSSmem sm = ws_smem_layout<C, STAGES>(base);
  ItemRing<C::kRing> ring(p.item_counter, base + C::kRingOff);

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  if (tid == 0) {  // the maps are kernel parameters, not written by the previous grid: before the PDL wait
    sm90::prefetch_tma_map(&tm.q);
    sm90::prefetch_tma_map(&tm.k);
    sm90::prefetch_tma_map(&tm.v);
  }
  grid_dep_wait();  // launched with PDL behind the prep kernels or the previous branch (params.cuh)
  const int NK = p.Nk > 0 ? p.Nk : p.N;
  const int Tq = query_tiles(p, BM);
  const int n_items = Tq * p.H * p.B;
  const int n_kv_dense = (NK + BN - 1) / BN;

  // full K: the issuing thread's expect-tx arrival, plus one per producer thread when it stages columns
  if (tid == 0) ws_init_barriers<STAGES>(sm, ring, 1 + (C::kStaging ? 128 : 0), 1, 1);
  __syncthreads();  // the last CTA-wide barrier: the roles part here

  if (warp < 4) {  // ---- producer ----
    tma_producer_loop<C>(p, ring, tid, Tq, n_items, n_kv_dense, [&](const WorkItem& I, WSLoadState& ls) {
      tma_load_item<Variant, C, STAGES, LSE>(p, tm, I, sm, tid, NK, ls);
    });
    return;
  }
  ws_consumers<Variant, C, STAGES, true, LSE>(p, sm, ring, warp, lane, Tq, n_items, n_kv_dense, NK);
#else
  (void)p;
  (void)tm;
  __trap();  // needs sm_90a
#endif
}

}  // namespace moga
