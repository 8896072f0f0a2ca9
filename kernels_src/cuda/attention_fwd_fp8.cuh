// Forward attention on Hopper in FP8 (e4m3) (registry row "sm90.tma.fp8", runtime/attention/registry.h):
// attention_fwd_tma's frame (a TMA producer warp, two ping-pong consumer warpgroups, Q from shared
// memory) on the e4m3 copies of q, k and v^T that fp8_prep.cuh writes, with the scales it computes
// (mainloop_fp8.cuh: layouts, products, softmax, scales).
//
//   template <class Variant, int D, int BM, int BN, int STAGES, bool LSE = false, bool kOverlap = false,
//             bool kSum = false>
//   __global__ void attention_fwd_fp8(moga::AttnParams p, moga::TmaMaps tm, moga::Fp8Scales fs);
//        kOverlap: row sm90.tma.fp8.ov, the softmax under the P V before it (mainloop_fp8.cuh).
//        kSum: row sm90.tma.fp8.sum, the rows' sums by the P V product (n136 on V^T with 8 rows of ones).
//        D = 128, BM = 128, BN in {128, 192}, 384 threads, grid and scheduling as attention_fwd_ws,
//        AttnFwdFp8Cfg<...>::kSmemBytes dynamic shared memory. p as for attention_fwd_ws (p.q, p.k,
//        p.v are not read: the maps are); out stays bf16. Gathered kernels too: the maps are then of the
//        copies the prep wrote in the kernel's sorted order (p.perm, p.gid as for attention_fwd_ws).
//        tm.q, tm.k: e4m3 [B][rows][H][128], boxes 128 x BM / 128 x BN, 128-byte swizzle; tm.v: e4m3
//        V^T [B][H][128][ldv], boxes VW x 128 (mainloop_fp8.cuh). fs: the amax of q, k, v per (b, h).
// NVRTC-compatible: no host standard headers.
#pragma once
#include "attention_fwd_ws.cuh"
#include "mainloop_fp8.cuh"

namespace moga {

template <class Variant, int D, int BM, int BN, int STAGES, bool LSE = false, bool kOverlap = false, bool kSum = false>
__global__ void __launch_bounds__(384, 1)
    attention_fwd_fp8(const __grid_constant__ AttnParams p, const __grid_constant__ TmaMaps tm, const Fp8Scales fs) {
#if defined(MOGA_HAS_WGMMA)
  using C = AttnFwdFp8Cfg<D, BM, BN, STAGES, BiasStage<Variant>::kWords, KeyStaging<Variant>::kStage ? 1 : 0, kSum>;
  extern __shared__ __align__(128) unsigned char smem_fp8_raw[];
  const unsigned base = (sm80::smem_u32(smem_fp8_raw) + 1023u) & ~1023u;  // kSmemBytes has the slack
  const WSSmem sm = ws_smem_layout<C, STAGES>(base);
  ItemRing<C::kRing> ring(p.item_counter, base + C::kRingOff);

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  if (tid == 0) {
    sm90::prefetch_tma_map(&tm.q);
    sm90::prefetch_tma_map(&tm.k);
    sm90::prefetch_tma_map(&tm.v);
  }
  grid_dep_wait();  // behind the quantization (fp8_prep.cuh) with PDL
  const int NK = p.Nk > 0 ? p.Nk : p.N;
  const int Tq = query_tiles(p, BM);
  const int n_items = Tq * p.H * p.B;
  const int n_kv_dense = (NK + BN - 1) / BN;

  if (tid == 0) ws_init_barriers<STAGES>(sm, ring, 1 + (C::kStaging ? 128 : 0), 1, 1);
  if constexpr (kSum) fp8_fill_ones<C, STAGES>(sm, tid, C::kThreads);
  __syncthreads();

  if (warp < 4) {  // ---- producer ----
    tma_producer_loop<C>(p, ring, tid, Tq, n_items, n_kv_dense, [&](const WorkItem& I, WSLoadState& ls) {
      fp8_load_item<Variant, C, STAGES>(p, tm, I, sm, tid, NK, ls);
    });
    return;
  }
  ws_consumer_loop<C>(p, ring, warp, lane, Tq, n_items, n_kv_dense, [&](const WorkItem& I, int cw, WSComputeState& cs) {
    fp8_compute_item<Variant, C, STAGES, LSE, kOverlap, kSum>(p, fs, I, sm, cw, lane, NK, cs);
  });
#else
  (void)p;
  (void)tm;
  (void)fs;
  __trap();  // needs sm_90a
#endif
}

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
// attention_fwd_fp8's dynamic shared memory (entry.cuh's helpers)
template <class V, int D, int BM, int BN, int STAGES, bool SUM = false>
__device__ int attn_fwd_fp8_smem_bytes =
    AttnFwdFp8Cfg<D, BM, BN, STAGES, BiasStage<V>::kWords, KeyStaging<V>::kStage ? 1 : 0, SUM>::kSmemBytes;
#endif

}  // namespace moga
