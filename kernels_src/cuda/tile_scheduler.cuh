// Tile scheduler of the wgmma attention kernel (attention_fwd_ws): work items (batch, head, query tile),
// their key tiles from the block map, and the item order of a grid (one item per CTA, or a persistent
// grid: static round-robin, or dynamic claims from an atomic counter handed through a ring in shared
// memory, ItemRing).
// NVRTC-compatible: no host standard headers.
#pragma once
#include "mma_sm80.cuh"
#include "params.cuh"
#include "barrier_sm90.cuh"

namespace moga {

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
// ---- work items: (batch b, head h, query tile), query tiles descending within a head ---------------------
struct WorkItem {
  int b, h, q0, n_full, n_tot;  // key tiles: n_full full ones first, then partial ones (n_tot in all)
  const int* fidx;              // nullptr: dense, key tile j is j
  const int* pidx;
  // The key tile the item visits j-th.
  __device__ __forceinline__ int tile(int j) const {
    return j < n_full ? (fidx ? __ldg(fidx + j) : j) : __ldg(pidx + (j - n_full));
  }
};

// Item `it` of Tq query tiles of BM rows per (b, h); n_kv_dense: key tiles of a dense item.
__device__ __forceinline__ WorkItem work_item(const AttnParams& p, int it, int Tq, int BM, int n_kv_dense) {
  WorkItem r;
  const int qt = Tq - 1 - it % Tq;
  const int bh = it / Tq;
  r.h = bh % p.H;
  r.b = bh / p.H;
  r.q0 = qt * BM;
  r.fidx = nullptr;
  r.pidx = nullptr;
  if (p.map.full_cnt) {
    const long long bi = (long long)r.b * p.map.num_q_tiles + qt;
    r.n_full = __ldg(p.map.full_cnt + bi);
    r.fidx = p.map.full_idx + bi * p.map.num_kv_tiles;
    int np = 0;
    if (p.map.part_cnt) {
      np = __ldg(p.map.part_cnt + bi);
      r.pidx = p.map.part_idx + bi * p.map.num_kv_tiles;
    }
    r.n_tot = r.n_full + np;
  } else {
    r.n_full = r.n_tot = n_kv_dense;
  }
  return r;
}

// Query tiles per (b, h) that hold tokens: with aligned groups (p.seg_offsets) the tiles after the last
// group's end are padding only and are left out of the work items.
__device__ __forceinline__ int query_tiles(const AttnParams& p, int BM) {
  int used = p.N;
  if (p.seg_offsets) {
    used = 0;
    for (int b = 0; b < p.B; ++b) used = imax(used, __ldg(p.seg_offsets + (long long)b * (p.G + 1) + p.G));
  }
  return (used + BM - 1) / BM;
}


// The order in which a CTA of a grid of G takes its work items. Without a counter (p.item_counter
// null): items c, c + G, ... (one item per CTA when G = items, else the static round-robin). With one:
// dynamic scheduling over a persistent grid. CTA c starts with item c; whenever its producer starts an
// item, its thread 0 claims the next unclaimed one (G + an atomic counter: the atomic's latency hides
// behind the item's copies) and, after issuing the item's copies, publishes the claimed id in a ring of
// kRing slots in shared memory (mbarriers full[kRing], one arrival, and empty[kRing], one per consumer
// warp), from which the producer's own threads and the consumers read it. The last CTA to finish resets
// the counter, so the next launch finds it zero.
template <int kRing>
struct ItemRing {
  int* ctr;
  int G;
  unsigned ids, full, empty;  // shared memory: kRing ids, then full[kRing] and empty[kRing] mbarriers
  int count = 0;              // ids published (producer) or read (consumer) so far
  int claimed = 0;            // producer thread 0: the item claimed when the current one started

  __device__ __forceinline__ ItemRing(int* counter, unsigned smem) : ctr(counter), G(gridDim.x), ids(smem),
      full(smem + kRing * 4), empty(smem + kRing * 4 + 8 * kRing) {}
  // Thread 0 of the CTA, before the roles part (counts: see the class comment).
  __device__ __forceinline__ void init_barriers(int consumer_warps) const {
#pragma unroll 1
    for (int i = 0; i < kRing; ++i) {
      sm90::mbar_init(full + 8 * i, 1);
      sm90::mbar_init(empty + 8 * i, consumer_warps);
    }
  }
  // Producer, at the start of an item.
  __device__ __forceinline__ void claim(int tid) {
    if (ctr && tid == 0) claimed = G + atomicAdd(ctr, 1);
  }
  // Producer (all its `threads`: the warpgroup's 128, or the TMA producer's one warp), after issuing the
  // copies of item it: the next item.
  __device__ __forceinline__ int producer_next(int it, int tid, int threads = 128) {
    if (!ctr) return it + G;
    const int rs = count % kRing;
    if (tid == 0) {
      if (count >= kRing) sm90::mbar_wait(empty + 8 * rs, ((count / kRing) & 1) ^ 1);
      asm volatile("st.shared.b32 [%0], %1;\n" ::"r"(ids + 4 * rs), "r"(claimed) : "memory");
      sm90::mbar_arrive(full + 8 * rs);  // release: the consumers read the id after their wait
    }
    sm90::named_sync(3, threads);  // the producer's threads read it too (the slot is rewritten kRing ids later)
    int nx;
    asm volatile("ld.shared.b32 %0, [%1];\n" : "=r"(nx) : "r"(ids + 4 * rs) : "memory");
    ++count;
    return nx;
  }
  // Consumer warp, after item cit: the id the producer published after it.
  __device__ __forceinline__ int consumer_next(int cit, int lane) {
    if (!ctr) return cit + G;
    const int rs = count % kRing;
    sm90::mbar_wait(full + 8 * rs, (count / kRing) & 1);
    int nx;
    asm volatile("ld.shared.b32 %0, [%1];\n" : "=r"(nx) : "r"(ids + 4 * rs) : "memory");
    __syncwarp();
    if (lane == 0) sm90::mbar_arrive(empty + 8 * rs);
    ++count;
    return nx;
  }
  // Producer thread 0, after its last item: the last CTA to finish claiming resets the counter.
  __device__ __forceinline__ void finish(int tid) const {
    if (ctr && tid == 0) {
      __threadfence();
      if (atomicAdd(ctr + 1, 1) == G - 1) {
        ctr[0] = 0;
        ctr[1] = 0;
      }
    }
  }
};
#endif

}  // namespace moga
