// The backward's key-major block map (BlockMapT, bwd_params.cuh) on the device, from a query-major one
// (params.cuh's BlockMap) that prep.cuh's kernels built: routed kernels sort and classify on the device every
// call (runtime/attention/backward.cpp), with no host round trip.
//
//   attn_bwd_transpose_map_kernel   one warp per (b, key tile j): for the query tiles i = 0, 1, ... in order,
//                                   the class of (i, j) in the query-major lists (a binary search: they
//                                   ascend), compacted by ballot + popc, so the key-major lists ascend too.
//                                   Grid-stride over B * Tk warps, 256 threads.
// A grouped map without a mask needs no transpose: at equal query and key tiles over one sorted order the
// pair (i, j) is non-empty exactly when the tiles share a group and full exactly when both hold one and the
// same group only (prep.cuh's grouped_map_row / grouped_map_class), a symmetric relation, so the key-major
// lists are the query-major ones (backward_test: GroupedMapIsSymmetric).
// NVRTC-compatible: no host standard headers.
#pragma once
#include "params.cuh"

namespace moga {

struct AttnBwdMapTParams {
  BlockMap in;      // query-major, [B][Tq] counts, [B][Tq][Tk] ascending indices
  int* full_cnt;    // key-major outputs: [B][Tk]
  int* full_idx;    // [B][Tk][Tq], ascending
  int* part_cnt;    // [B][Tk]
  int* part_idx;    // [B][Tk][Tq], ascending
  int B;
};

// Class of key tile j in query tile i's lists (fi, nf: full; pi, np: partial; both ascending): 0 empty,
// 1 full, 2 partial. Host and device (the CPU test runs the same function).
MOGA_HD inline int bwd_map_class(const int* fi, int nf, const int* pi, int np, int j) {
  for (int c = 1; c <= 2; ++c) {
    const int* a = c == 1 ? fi : pi;
    int lo = 0, hi = c == 1 ? nf : np;
    while (lo < hi) {
      const int m = (lo + hi) >> 1;
      if (a[m] < j) lo = m + 1;
      else hi = m;
    }
    if (lo < (c == 1 ? nf : np) && a[lo] == j) return c;
  }
  return 0;
}

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
template <int D>  // D: only so that the runtime names it like the other backward kernels (one per module)
__global__ void __launch_bounds__(256) attn_bwd_transpose_map_kernel(const AttnBwdMapTParams p) {
  const int lane = threadIdx.x & 31;
  unsigned lt;
  asm("mov.u32 %0, %%lanemask_lt;" : "=r"(lt));
  const int tq = p.in.num_q_tiles, tk = p.in.num_kv_tiles;
  const long long nw = (long long)p.B * tk;
  for (long long w = (blockIdx.x * (long long)blockDim.x + threadIdx.x) >> 5; w < nw;
       w += ((long long)gridDim.x * blockDim.x) >> 5) {
    const int b = (int)(w / tk), j = (int)(w - (long long)b * tk);
    int nf = 0, np = 0;
    for (int i0 = 0; i0 < tq; i0 += 32) {
      const int i = i0 + lane;
      int c = 0;
      if (i < tq) {
        const long long qi = (long long)b * tq + i;
        c = bwd_map_class(p.in.full_idx + qi * tk, p.in.full_cnt[qi], p.in.part_idx + qi * tk, p.in.part_cnt[qi], j);
      }
      const unsigned fm = __ballot_sync(0xffffffffu, c == 1), pm = __ballot_sync(0xffffffffu, c == 2);
      if (c == 1) p.full_idx[w * tq + nf + __popc(fm & lt)] = i;
      if (c == 2) p.part_idx[w * tq + np + __popc(pm & lt)] = i;
      nf += __popc(fm);
      np += __popc(pm);
    }
    if (lane == 0) {
      p.full_cnt[w] = nf;
      p.part_cnt[w] = np;
    }
  }
}
#endif

}  // namespace moga
