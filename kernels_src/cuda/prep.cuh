// Preparation kernels every branch runs before attention: router, counting sort by group key, tile
// coordinate summaries and block-map classification (docs/architecture.md, "Execution model").
//
//   router_pack_weight_kernel      once per weight: W_r (any strides) -> bf16 [Mp][d_pad], zero-padded
//   router_kernel<NT,MT,S,THREADS,NH,L2_256>
//                                  x . W_r in fp32 on the tensor cores (mma.sync bf16, fp32 accumulate),
//                                  softmax, top-k (k = 1: argmax, lowest index on ties) -> gid, prob;
//                                  optionally the sort's histogram (fused: no separate pass over keys)
//   compute_keys_kernel<V>         computed group key: keys[b][n] = V::key(coords_of(n), shape)
//   sort_hist_kernel               stable counting sort by key, pass 1 (skipped when the router made
//                                  the histogram)
//   sort_scatter_kernel            pass 2: offsets (scan fused in) -> perm, gid, gate, seg_offsets, order;
//                                  its last block to read the histogram clears it for the next call
//   tile_summary_kernel            per BM / BN tile of the sorted order: Coords<Ivl> + gid interval
//   block_map_kernel<V>            per (query tile, key tile): empty / full / partial -> BCSR (params.cuh)
//   block_map_grouped_kernel       the same map for a grouped branch without a mask, from gid and
//                                  seg_offsets alone (no summaries)
//   query_range_map_kernel         a map's key-tile counts with the query tiles outside a token range
//                                  given none (RunOptions::query_begin / query_end)
//
// Host code (no CUDA needed): classify_tile_pair<V>, build_block_map_host<V>, tile_summaries_host,
// counting_sort_host, compute_keys_host<V>, block_map_stats: the same classification on the CPU, for
// `moga compile --shape` and for tests. Launch helpers (launch_router, launch_sort, ...) exist when the
// header is compiled by nvcc; generated NVRTC sources use the kernels and the parameter structs only.
// Every kernel starts with griddepcontrol.wait, so any of them may be launched with programmatic
// dependent launch (the helpers' `pdl` flag) behind the previous one.
//
// MOGA_NO_PREP_KERNELS leaves out the non-template kernels (pack, sort, summaries, grouped map, top-k
// combine), which NVRTC would otherwise compile into every program including this header: the runtime
// compiles them once, in its `moga-prep` unit, and defines this for its other units.
// NVRTC-compatible: no host standard headers outside the `#ifndef __CUDACC_RTC__` host section.
#pragma once
#include "params.cuh"
#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#include "mma_sm80.cuh"  // bf16 pairs (topk_combine_kernel)
#endif
#if !defined(__CUDACC_RTC__)
#include <cstddef>  // size_t in the host planning functions
#endif

namespace moga {

constexpr int kIntMax = 2147483647;
constexpr int kIntMin = -2147483647 - 1;

// ---- parameter structs (plain data: the runtime fills them, kernels take them by value) -------------

// Router. Token row r of batch b starts at x + b*x_sb + n*x_sn (bf16 elements); d, x_sb, x_sn multiples
// of 8 and x 16-byte aligned (16-byte loads). w_packed comes from router_pack_weight_kernel: bf16
// [Mp][d_pad], Mp = 8*NT (NT of the router_kernel instantiation), d_pad = round_up(d, 128), zero-padded.
struct RouterParams {
  const void* x;
  long long x_sb, x_sn;
  const void* w_packed;
  int B, N, d, d_pad, M, topk;  // 1 <= M <= 8*NT <= 256, 1 <= topk <= min(M, 8)
  // kc >= d_pad: W^T resident in shared memory for the block's lifetime, staged in pieces of kst columns
  // (the first row tile waits for each piece as it needs it). kc < d_pad: k-chunks of kc columns,
  // double-buffered with cp.async. Both multiples of 128.
  int kc, kst;
  int* gid;                     // [B][N][topk] chosen groups, by decreasing probability
  float* prob;                  // [B][N][topk] their softmax probabilities (not renormalised)
  float* logits;                // optional [B][N][M] fp32 logits (tests), nullptr to skip
  // Optional fused histogram for the counting sort (SortParams::blk_hist, zero before the launch: a memset,
  // or the previous call's scatter through SortParams::hist_readers):
  // entry e = n*topk + j of batch b adds 1 to hist[(b*M + g)*hist_ld + e / hist_chunk].
  int* hist;
  int hist_chunk, hist_ld;
};

struct KeyParams {
  MaskShape shape;
  int B, N;
  int* keys;  // [B][N]
};

// Stable counting sort of Ne = N*k entries per batch item by an int key in [0, G). Entry e is token e / k
// (k = 1 for top-1 routing and computed keys). Outputs at sorted position s:
//   perm[b][s] = token, gid[b][s] = key, gate[b][s] = probs[b][e] (when both probs and gate are given);
//   seg_offsets[b][g] = first sorted position of group g, seg_offsets[b][G] = Ne;
//   order[b][i] = i-th group by size, descending (ties: lower g first), or nullptr.
// Entries of one group keep their original order (stable). chunk / nblk / ld from sort_plan().
// Aligned layout (align > 1): every group starts at a multiple of `align` in the sorted space, so no
// attention tile of a multiple-of-align size straddles two groups (docs/performance.md, "aligned groups").
// Then seg_offsets[b][g] is the group's padded start, seg_offsets[b][G] the padded total, seg_end[b][g]
// (when given) the position after the group's last entry, and every other position up to out_ld is
// padding, where the scatter writes perm = gid = -1. Outputs have a row stride of out_ld per batch item
// (>= aligned_sorted_length(Ne, G, align)); with align <= 1, out_ld = Ne.
// by_size (aligned only): the groups' spans are laid out by size, smallest first (ties: higher group id
// first), instead of by group id. The attention kernels take query tiles from the end of the sorted
// order, so the longest group is scheduled first. seg_offsets[b][g] is still group g's start (no longer
// ascending in g); a group's span ends at seg_end rounded up to align.
// packed (aligned only, not with by_size): groups much smaller than a tile share it instead
// (packed_span_starts): in group id order, a group starts where the previous one ended unless it would
// then cross a multiple of align, else at the next multiple. No tile of a multiple-of-align size straddles
// the boundary between two blocks of align positions, so a query tile's keys lie in its own block(s);
// padding (perm = gid = -1) only ends a block. seg_offsets[b][g] ascends in g; seg_offsets[b][G] is the
// used length rounded up to align. A tile may hold several groups: visibility by group id.
struct SortParams {
  const int* keys;     // [B][Ne] (read by sort_hist_kernel and, for the key, by sort_scatter_kernel)
  const float* probs;  // [B][Ne] or nullptr
  int B, Ne, k, G;
  int chunk, nblk, ld; // entries per block (multiple of 256), blocks per batch item, round_up(nblk, 4)
  int* blk_hist;       // [B][G][ld]: per-(group, block) counts (cells blk >= nblk are ignored)
  int* seg_offsets;    // [B][G+1]
  int* order;          // [B][G] or nullptr
  int* perm;           // [B][Ne]
  int* gid;            // [B][Ne] or nullptr
  float* gate;         // [B][Ne] or nullptr
  int* err;            // optional: set to 1 when a key is out of range (it is clamped into [0, G))
  int align;           // <= 1: dense sorted order; > 1: groups start at multiples of align
  int out_ld;          // row stride of perm / gid / gate per batch item (0: Ne)
  int* seg_end;        // [B][G] or nullptr: the end of each group's entries (aligned groups)
  int by_size;         // aligned groups laid out smallest first (see above); needs G <= 1024
  int packed;          // aligned groups packed several to a block of align positions (see above)
  // optional [B][out_ld]: the entry e (token e / k, its j-th group e % k) at each sorted position, -1 at
  // padding. Top-k > 1 routing: the attention epilogue writes entry rows (AttnParams::out_row), so no
  // two sorted positions write the same row, and topk_combine_kernel sums a token's k rows.
  int* entry;
  // Optional: a counter (an int, 0 before the launch) through which sort_scatter_kernel's last block to
  // have read blk_hist zeroes all B*G*ld cells of it and the counter again. The histogram is then zero
  // when the next call's router adds to it (RouterParams::hist): no memset launch per call, and CUDA graph
  // replays keep the invariant. nullptr: blk_hist is left as it is.
  int* hist_readers;
};

// Top-k > 1 routing: out[b][n][h] = (accumulate ? out : 0) + weight * sum_j rows[b][n k + j][h], j = 0..k-1 in
// order (deterministic: no atomics). rows: bf16 [B][N k][H][D] contiguous, the attention kernel's output
// at entry rows (AttnParams::out_row; gate already applied); out: bf16 [B][N][H][D] with strides.
struct TopkCombineParams {
  const void* rows;
  void* out;
  long long o_sb, o_sn, o_sh;
  int B, N, H, D, k;
  float weight;
  int accumulate;
};

// Coordinate intervals of one tile's tokens (through perm) and the interval of their group ids, doubled:
// [2 glo, 2 ghi], and [2 glo, 2 ghi + 1] for a key tile that also holds padding of aligned groups. The
// odd end keeps such a tile from being full while leaving it disjoint from every other group (a plain
// -1 for padding would make [-1, g] overlap groups 0..g). Equality of doubled intervals is the
// classification's group test as before.
struct TileSummary {
  Coords<Ivl> c;
  Ivl gid;
};

// Summaries of query tiles (tile_q tokens) and, when kv_out != nullptr, key tiles (tile_kv tokens).
struct SummaryParams {
  const int* perm;  // [B][Ne] or nullptr (identity, Ne == N)
  const int* gid;   // [B][Ne] or nullptr (gid interval [0, 0])
  MaskShape shape;
  int B, Ne;
  int tile_q, tile_kv;
  int tq, tk;              // ceil(Ne / tile_q), ceil(Ne / tile_kv)
  TileSummary* q_out;      // [B][tq]
  TileSummary* kv_out;     // [B][tk] or nullptr
};

struct BlockMapParams {
  const TileSummary* qsum;   // [B][tq]
  const TileSummary* kvsum;  // [B][tk]
  int B, tq, tk;
  int grouped;               // 1: add the group-equality conjunct (gid intervals)
  // Optional, grouped only: the sort's seg_offsets [B][G+1]. Key tiles outside the positions of the
  // query tile's groups are then skipped without evaluation (they are empty). tile_kv: BN.
  const int* seg_offsets;
  const int* seg_end;        // aligned groups: [B][G] (a query tile holds one group; its keys end here)
  int G, tile_kv;
  MaskShape shape;           // device pointers for the shot tables
  int* full_cnt;             // [B][tq]
  int* full_idx;             // [B][tq][tk], ascending
  int* part_cnt;             // [B][tq]
  int* part_idx;             // [B][tq][tk], ascending
};

// Grouped branch without a mask: the map follows from the sorted group ids alone.
struct GroupMapParams {
  const int* gid;            // [B][Ne] sorted group id at each position
  const int* seg_offsets;    // [B][G+1]
  const int* seg_end;        // [B][G] (aligned groups) or nullptr
  int B, Ne, G, tile_q, tile_kv, tq, tk;
  int* full_cnt;
  int* full_idx;
  int* part_cnt;
  int* part_idx;
};

// A query range (RunOptions::query_begin / query_end: the Ulysses x ring gather of docs/distributed.md): the
// counts of a block map, copied, with every query tile that holds no token of [t0, t1) given no key tiles, so
// the attention computes only the tiles of the wanted rows (the others' rows are left unspecified). The
// tile lists are the map's own (only the counts change).
struct QueryRangeParams {
  const int* perm;       // [B][Ne] token at each sorted position (-1: padding), nullptr: the identity order
  const int* full_cnt;   // [B][tq], the map's
  const int* part_cnt;   // [B][tq], or nullptr
  int B, Ne, tq, tile_q;
  int t0, t1;            // the wanted tokens
  int* out_full;         // [B][tq]
  int* out_part;         // [B][tq] (written when part_cnt is given)
};

// ---- shared by host and device ----------------------------------------------------------------------

// Tile pair classification: false -> empty, true -> full, unknown -> partial. Grouped: the group ids
// must be equal (interval ==: disjoint -> false, both one and the same value -> true); then, when the
// variant has a mask, its interval instantiation. Sound by construction of interval.cuh.
template <class V>
MOGA_HD inline Tri classify_tile_pair(const TileSummary& q, const TileSummary& kv, const MaskShape& s, int grouped) {
  Tri t(true);
  if (grouped) t = (q.gid == kv.gid);
  if constexpr (V::kHasMask) {
    if (!t.is_false()) t = land(t, V::template mask<Ivl, Tri>(q.c, kv.c, s));
  }
  return t;
}

MOGA_HD inline int round_up(int a, int b) { return (a + b - 1) / b * b; }

// n / d for a loop-invariant d (1 <= d < 2^31) and any 32-bit n without a division: q = (n + mulhi(m, n)) >> l,
// l = ceil(log2 d), 2^32 + m = ceil(2^(32+l) / d) (Granlund-Montgomery's round-up multiplier, exact for every
// n < 2^32). For the loops whose bodies sit between a barrier and the next MMA issue, where a 64-bit
// division is a ~70-instruction subroutine (router_wg_kernel's x rows).
struct DivU32 {
  unsigned m;
  int l;
};
MOGA_HD inline DivU32 make_div_u32(unsigned d) {
  int l = 0;
  while ((1ull << l) < d) ++l;
  return {(unsigned)(((1ull << (32 + l)) + d - 1) / d - (1ull << 32)), l};
}
MOGA_HD inline unsigned div_u32(unsigned n, const DivU32& f) {
#if defined(__CUDA_ARCH__)
  const unsigned t = __umulhi(f.m, n);
#else
  const unsigned t = (unsigned)(((unsigned long long)f.m * n) >> 32);
#endif
  return (unsigned)(((unsigned long long)t + n) >> f.l);
}

// The block map of a grouped branch without a mask, from the sorted group ids and segment offsets alone
// (block_map_grouped_kernel; the host tests run the same rule). Query tile i holds groups glo..ghi
// (positions [pa, pb) = [seg[glo], seg[ghi+1])); the key tiles overlapping [pa, pb) are the non-empty
// ones, full exactly when glo == ghi and the key tile lies inside [pa, pb). Aligned groups
// (SortParams::align): padding (gid -1) only ends a group's span and tiles do not straddle spans, so a
// query tile starting with padding is empty, one ending with padding holds glo only, a key tile
// starting with padding is empty and one ending with padding is partial.
struct GroupedRow {
  int glo, pa, pb, jl, jh;  // jh < jl: no key tiles
  bool single;
};
// seg_end (aligned groups, may be laid out by size): the end of glo's entries bounds its key range.
// Without it (the dense order, or packed groups: SortParams::packed, where a tile ending in padding may
// hold several groups) the last group is the one of the tile's last entry that is not padding.
MOGA_HD inline GroupedRow grouped_map_row(const int* gid, const int* seg, int Ne, int tile_q, int tile_kv, int i,
                                          const int* seg_end = nullptr) {
  GroupedRow r;
  const int s0 = i * tile_q, s1 = (Ne < s0 + tile_q ? Ne : s0 + tile_q);
  r.glo = gid[s0];
  int last = s1 - 1;
  if (!seg_end)
    while (last > s0 && gid[last] < 0) --last;
  int ghi = gid[last];
  if (ghi < 0) ghi = r.glo;
  r.pa = r.glo < 0 ? 0 : seg[r.glo];
  r.pb = r.glo < 0 ? 0 : (seg_end ? seg_end[r.glo] : seg[ghi + 1]);
  r.single = r.glo == ghi;
  r.jl = r.pa / tile_kv;
  r.jh = r.glo < 0 ? r.jl - 1 : (r.pb - 1) / tile_kv;
  return r;
}
// 0 empty, 1 full, 2 partial, for key tile j in [r.jl, r.jh].
MOGA_HD inline int grouped_map_class(const int* gid, int Ne, int tile_kv, const GroupedRow& r, int j) {
  const int k0 = j * tile_kv, k1 = (Ne < k0 + tile_kv ? Ne : k0 + tile_kv);
  if (gid[k0] < 0) return 0;
  return (r.single && k0 >= r.pa && k1 <= r.pb && gid[k1 - 1] == r.glo) ? 1 : 2;
}

// Length of the sorted space that holds Ne entries in G groups, each starting at a multiple of align:
// an upper bound (every group may waste align - 1 positions), itself a multiple of align.
MOGA_HD inline int aligned_sorted_length(int Ne, int G, int align) {
  if (align <= 1) return Ne;
  return round_up(Ne + G * (align - 1), align);
}

// SortParams::by_size: where group g's span starts when the spans go smallest first (ties: the higher id
// first); sizes[G] are the groups' entry counts, padded(o) group o's span (its size rounded up to the
// alignment). O(G) per group (routed G <= 256): the scatter kernel passes the spans from shared memory, since a
// rounding in the loop is an integer division by a runtime align, ~20 instructions, G times per thread in
// every block (sort_scatter_kernel at M = 256 spent most of its 56-69 us there; docs/performance.md).
template <class Padded>
MOGA_HD inline int span_start_by_size(const int* sizes, int G, int g, Padded padded) {
  int start = 0;
  const int n = sizes[g];
  for (int o = 0; o < G; ++o)
    if (sizes[o] < n || (sizes[o] == n && o > g)) start += padded(o);
  return start;
}

// SortParams::packed: the start of each group (sizes[G] entries each) in id order; returns the used
// length rounded up to align. A group that would cross a multiple of align (any group longer than the
// rest of its block, so every group longer than align) starts at the next multiple instead.
MOGA_HD inline int packed_start(int cur, int n, int align) {
  const int r = cur % align;
  return (n > 0 && r != 0 && r + n > align) ? cur + align - r : cur;
}
MOGA_HD inline int packed_span_starts(const int* sizes, int G, int align, int* starts) {
  int cur = 0;
  for (int g = 0; g < G; ++g) {
    starts[g] = cur = packed_start(cur, sizes[g], align);
    cur += sizes[g];
  }
  return round_up(cur, align);
}

// Blocks per batch item for the counting sort: 256-entry blocks, grown so that the histogram
// (G * nblk cells, which every scatter block reads) stays <= 8K cells.
MOGA_HD inline void sort_plan(int Ne, int G, int* chunk, int* nblk, int* ld) {
  const long long n256 = (Ne + 255) / 256;
  long long r = (n256 * (long long)G + 8191) / 8192;
  if (r < 1) r = 1;
  *chunk = (int)(256 * r);
  *nblk = (int)((Ne + *chunk - 1) / *chunk);
  if (*nblk < 1) *nblk = 1;
  *ld = round_up(*nblk, 4);
}

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
// =====================================================================================================
// Device code
// =====================================================================================================
namespace prep_detail {

// Programmatic dependent launch: wait for the previous grid's results (a no-op without PDL). No kernel
// triggers its dependents early: an early trigger made the whole pipeline slower on the H100 (the waiting
// grids' blocks sit on the SMs); the implicit trigger at grid completion still hides the launch latency.
using moga::grid_dep_wait;  // params.cuh

template <bool L2_256>
__device__ __forceinline__ uint4 ld_stream16(const void* p) {
  uint4 r;
  if constexpr (L2_256)  // an L2 miss fetches the whole 256-byte block: the next k step hits in L2
    asm("ld.global.nc.L1::no_allocate.L2::256B.v4.u32 {%0,%1,%2,%3}, [%4];"
        : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w) : "l"(p));
  else
    asm("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];"
        : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w) : "l"(p));
  return r;
}
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem) {
  const unsigned s = (unsigned)__cvta_generic_to_shared(smem);
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(s), "l"(gmem) : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory"); }
// wait until at most n groups are pending (n clamped to 0..7)
__device__ __forceinline__ void cp_async_wait_dyn(int n) {
  switch (n) {
    case 7: cp_async_wait<7>(); break;
    case 6: cp_async_wait<6>(); break;
    case 5: cp_async_wait<5>(); break;
    case 4: cp_async_wait<4>(); break;
    case 3: cp_async_wait<3>(); break;
    case 2: cp_async_wait<2>(); break;
    case 1: cp_async_wait<1>(); break;
    default: cp_async_wait<0>(); break;
  }
}

// D += A(16x16, row) * B(16x8, col), bf16 in, fp32 accumulate.
__device__ __forceinline__ void mma16816(float* c, unsigned a0, unsigned a1, unsigned a2, unsigned a3,
                                         unsigned b0, unsigned b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

__device__ __forceinline__ unsigned lanemask_lt() {
  unsigned m;
  asm("mov.u32 %0, %%lanemask_lt;" : "=r"(m));
  return m;
}

// Block-wide exclusive scan of one int per thread (blockDim.x a multiple of 32, <= 1024).
__device__ __forceinline__ int block_exclusive_scan(int v, int* s_warp /*[32]*/, int* total) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  int x = v;
#pragma unroll
  for (int o = 1; o < 32; o <<= 1) {
    const int y = __shfl_up_sync(0xffffffffu, x, o);
    if (lane >= o) x += y;
  }
  if (lane == 31) s_warp[warp] = x;
  __syncthreads();
  if (warp == 0) {
    int w = lane < nw ? s_warp[lane] : 0;
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) {
      const int y = __shfl_up_sync(0xffffffffu, w, o);
      if (lane >= o) w += y;
    }
    s_warp[lane] = w;  // inclusive over warps
  }
  __syncthreads();
  const int before = warp > 0 ? s_warp[warp - 1] : 0;
  *total = s_warp[nw - 1];
  __syncthreads();  // s_warp may be reused by the caller's next scan
  return before + x - v;
}

// Columns [k0, k0 + kn) of the packed weight -> shared rows [MP][ldw] at column offset `dcol`
// (cp.async, one commit group).
template <int MP>
__device__ __forceinline__ void router_stage(const RouterParams& p, unsigned short* dst, int k0, int kn, int dcol,
                                             int ldw) {
  const int per_row = kn >> 3;
  const int pieces = MP * per_row;
  const unsigned short* src = static_cast<const unsigned short*>(p.w_packed);
  for (int i = threadIdx.x; i < pieces; i += blockDim.x) {
    const int n = i / per_row, q = i - n * per_row;
    cp_async16(dst + n * ldw + dcol + q * 8, src + (long long)n * p.d_pad + k0 + q * 8);
  }
  cp_async_commit();
}

// A fragments of the warp's MT m-tiles for one k step of 32*NH columns. Lane (g, t) loads 16 bytes of
// rows g and g+8 at columns k0 + 32h + 8t (h < NH). The k order inside a step is permuted (the dot
// product does not care): mma 2h+0 takes words {x, y}, mma 2h+1 words {z, w} of those loads, and the B
// fragments are read from the same columns of W^T, so A and B agree.
template <int MT, int NH, bool L2_256>
__device__ __forceinline__ void router_load(uint4 (&a)[MT][2][NH], const unsigned short* const (&rp)[MT][2],
                                            int k0, int d, int t) {
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int rr = 0; rr < 2; ++rr)
#pragma unroll
      for (int h = 0; h < NH; ++h) {
        const int col = k0 + 32 * h + 8 * t;
        if (rp[mt][rr] != nullptr && col < d)
          a[mt][rr][h] = ld_stream16<L2_256>(rp[mt][rr] + col);
        else
          a[mt][rr][h] = make_uint4(0u, 0u, 0u, 0u);
      }
}

template <int NT, int MT, int NH>
__device__ __forceinline__ void router_mma(float (&acc)[MT][NT][4], const uint4 (&a)[MT][2][NH],
                                           const unsigned short* wb, int kk, int ldw, int g, int t) {
#pragma unroll
  for (int h = 0; h < NH; ++h)
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) {
      const uint4 bq = *reinterpret_cast<const uint4*>(wb + (nt * 8 + g) * ldw + kk + 32 * h + 8 * t);
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
        mma16816(acc[mt][nt], a[mt][0][h].x, a[mt][1][h].x, a[mt][0][h].y, a[mt][1][h].y, bq.x, bq.y);
        mma16816(acc[mt][nt], a[mt][0][h].z, a[mt][1][h].z, a[mt][0][h].w, a[mt][1][h].w, bq.z, bq.w);
      }
    }
}

// Softmax + top-k of the warp's 16*MT rows. C fragment: lane (g, t) holds, for n-tile nt, columns
// nt*8 + 2t + {0,1} of rows g (acc[..][0..1]) and g + 8 (acc[..][2..3]); a row lives in 4 lanes.
// Columns at or past M (zero weight rows: logit 0) become -inf once, so the scans below need no column
// guard and ex2 gives them 0. Rank 0 scans in column order with a strict > (the lowest index of the
// maximum in the lane); rank j > 0 is the largest (value, lowest index) after rank j - 1's (pv, pi): no
// set of chosen columns to keep, so any M. The first form guarded every element by col < M and ran expf:
// ~5,000 instructions a warp per tile at M = 256, the tensor cores idle meanwhile (docs/performance.md,
// "The router's loader and epilogue, second part").
template <int NT, int MT>
__device__ __forceinline__ void router_epilogue(const RouterParams& p, const float (&acc)[MT][NT][4],
                                                long long row0, long long rows, int g, int t) {
  const float kNegInf = __int_as_float(0xff800000);
  constexpr float kLog2e = 1.4426950408889634f;
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int rr = 0; rr < 2; ++rr) {
      const long long r = row0 + mt * 16 + g + 8 * rr;
      // Columns as c = nt * 8 + e (the lane's own, compile-time) and lim = M - 2t: col = c + 2t < M is c < lim,
      // so no column index lives in a register across the k loop of the caller.
      const int lim = p.M - 2 * t;
      float v[NT][2];
#pragma unroll
      for (int nt = 0; nt < NT; ++nt)
#pragma unroll
        for (int e = 0; e < 2; ++e) v[nt][e] = nt * 8 + e < lim ? acc[mt][nt][2 * rr + e] : kNegInf;
      float bm = v[0][0];
      int bi = 0;
#pragma unroll
      for (int nt = 0; nt < NT; ++nt)
#pragma unroll
        for (int e = 0; e < 2; ++e)
          if (v[nt][e] > bm) bm = v[nt][e], bi = nt * 8 + e;
      bi += 2 * t;
#pragma unroll
      for (int o = 1; o <= 2; o <<= 1) {
        const float ov = __shfl_xor_sync(0xffffffffu, bm, o);
        const int oi = __shfl_xor_sync(0xffffffffu, bi, o);
        if (ov > bm || (ov == bm && oi < bi)) bm = ov, bi = oi;
      }
      const float gmax = bm, ms = gmax * kLog2e;
      float sum = 0.f;
#pragma unroll
      for (int nt = 0; nt < NT; ++nt)
#pragma unroll
        for (int e = 0; e < 2; ++e) sum += sm80::ex2(fmaf(v[nt][e], kLog2e, -ms));
      sum += __shfl_xor_sync(0xffffffffu, sum, 1);
      sum += __shfl_xor_sync(0xffffffffu, sum, 2);
      const float inv = 1.f / sum;
      for (int j = 0; j < p.topk; ++j) {
        if (j > 0) {
          const float pv = bm;
          const int pl = bi - 2 * t;  // rank j - 1's column in the lane's c
          int bl = kIntMax;
          bm = kNegInf;
#pragma unroll
          for (int nt = 0; nt < NT; ++nt)
#pragma unroll
            for (int e = 0; e < 2; ++e) {
              const int c = nt * 8 + e;
              const float x = v[nt][e];
              const bool after = x < pv || (x == pv && c > pl);
              if (after && (x > bm || (x == bm && c < bl))) bm = x, bl = c;
            }
          bi = bl == kIntMax ? kIntMax : bl + 2 * t;
#pragma unroll
          for (int o = 1; o <= 2; o <<= 1) {
            const float ov = __shfl_xor_sync(0xffffffffu, bm, o);
            const int oi = __shfl_xor_sync(0xffffffffu, bi, o);
            if (ov > bm || (ov == bm && oi < bi)) bm = ov, bi = oi;
          }
        }
        if (t == 0 && r < rows) {
          const int gsel = bi < p.M ? bi : 0;
          p.gid[r * p.topk + j] = gsel;
          p.prob[r * p.topk + j] = sm80::ex2(fmaf(bm, kLog2e, -ms)) * inv;
          if (p.hist != nullptr) {
            const long long b = r / p.N;
            const long long e = (r - b * p.N) * p.topk + j;
            atomicAdd(p.hist + (b * p.M + gsel) * p.hist_ld + e / p.hist_chunk, 1);
          }
        }
      }
      if (p.logits != nullptr && r < rows) {
#pragma unroll
        for (int nt = 0; nt < NT; ++nt)
#pragma unroll
          for (int e = 0; e < 2; ++e) {
            if (nt * 8 + e < lim) p.logits[r * p.M + nt * 8 + 2 * t + e] = v[nt][e];
          }
      }
    }
}

}  // namespace prep_detail

// W_r [d][M] with element strides (w_sk, w_sn) ([d][M] row-major: w_sk = M, w_sn = 1; nn.Linear's
// [M][d]: w_sk = 1, w_sn = d) -> out bf16 [Mp][d_pad], zeros outside [M) x [d). Grid-stride loop.
#ifndef MOGA_NO_PREP_KERNELS  // compile units without the prep kernels (runtime/attention compile_units)
__global__ void router_pack_weight_kernel(const void* w, long long w_sk, long long w_sn, int d, int M,
                                          int d_pad, int Mp, void* out) {
  prep_detail::grid_dep_wait();
  const unsigned short* src = static_cast<const unsigned short*>(w);
  unsigned short* dst = static_cast<unsigned short*>(out);
  const long long total = (long long)Mp * d_pad;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
       i += (long long)gridDim.x * blockDim.x) {
    const int n = (int)(i / d_pad), k = (int)(i - (long long)n * d_pad);
    dst[i] = (n < M && k < d) ? src[k * w_sk + n * w_sn] : (unsigned short)0;
  }
}
#endif

// Router: one warp per 16*MT token rows (rows of all batch items flattened), grid-stride loop over row
// tiles. x is read exactly once with 16-byte streaming loads, S k-steps (KS = 32*NH columns each) in
// flight per warp (a register ring). Block: THREADS threads. Dynamic shared memory: router_smem_bytes().
template <int NT, int MT, int S, int THREADS, int NH, bool L2_256>
__global__ void __launch_bounds__(THREADS) router_kernel(const RouterParams p) {
  using namespace prep_detail;
  extern __shared__ __align__(16) unsigned char prep_smem_raw[];
  unsigned short* sw = reinterpret_cast<unsigned short*>(prep_smem_raw);
  constexpr int MP = NT * 8;
  const bool resident = p.kc >= p.d_pad;
  const int ldw = (resident ? p.d_pad : p.kc) + 32;  // +64 bytes: rows g, g+1 in different bank halves
  const int buf_elems = MP * ldw;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  const int g = lane >> 2, t = lane & 3;
  const long long rows = (long long)p.B * p.N;
  const long long ntiles = (rows + 16 * MT - 1) / (16 * MT);
  constexpr int KS = 32 * NH;
  const int nsteps = p.d_pad / KS;
  const int spc = (resident ? p.kst : p.kc) / KS;  // k steps per staged piece / chunk
  const int nchunks = (nsteps + spc - 1) / spc;
  const long long first = (long long)blockIdx.x * nwarps;
  const long long stride = (long long)gridDim.x * nwarps;
  grid_dep_wait();
  if (first >= ntiles) return;  // block-uniform
  const long long n_iters = (ntiles - first + stride - 1) / stride;
  const long long total_seq = n_iters * nchunks;

  // Resident: every piece issued now (one commit group each); the first tile waits piece by piece.
  // Chunked: chunk 0 into buffer 0.
  if (resident) {
    for (int c = 0; c < nchunks; ++c) {
      const int k0 = c * p.kst;
      router_stage<MP>(p, sw, k0, imin(p.kst, p.d_pad - k0), k0, ldw);
    }
  } else {
    router_stage<MP>(p, sw, 0, imin(p.kc, p.d_pad), 0, ldw);
  }
  const unsigned short* xb = static_cast<const unsigned short*>(p.x);
  long long seq = 0;  // chunk sequence number (chunked mode)
  for (long long it = 0; it < n_iters; ++it) {
    const long long tile = first + it * stride + warp;
    const bool active = tile < ntiles;  // warp-uniform
    const long long row0 = tile * (16 * MT);
    const unsigned short* rp[MT][2];
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
      for (int rr = 0; rr < 2; ++rr) {
        const long long r = row0 + mt * 16 + g + 8 * rr;
        if (active && r < rows) {
          const long long b = r / p.N, n = r - b * p.N;
          rp[mt][rr] = xb + b * p.x_sb + n * p.x_sn;
        } else {
          rp[mt][rr] = nullptr;
        }
      }
    float acc[MT][NT][4];
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
      for (int nt = 0; nt < NT; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e) acc[mt][nt][e] = 0.f;
    uint4 ring[S][MT][2][NH];
#pragma unroll
    for (int s = 0; s < S; ++s)
      if (s < nsteps) router_load<MT, NH, L2_256>(ring[s], rp, KS * s, p.d, t);
    const unsigned short* wb = sw;
    for (int ks = 0; ks < nsteps; ks += S) {
#pragma unroll
      for (int s = 0; s < S; ++s) {
        const int step = ks + s;
        if (step < nsteps) {  // block-uniform
          const int c = step / spc, cs = step - c * spc;
          if (cs == 0) {
            if (resident) {
              if (it == 0) {
                cp_async_wait_dyn(nchunks - 1 - c);
                __syncthreads();
              }
            } else {
              if (seq + 1 < total_seq) {
                const int cn = (int)((seq + 1) % nchunks), k0 = cn * p.kc;
                router_stage<MP>(p, sw + ((seq + 1) & 1) * buf_elems, k0, imin(p.kc, p.d_pad - k0), 0, ldw);
                cp_async_wait<1>();
              } else {
                cp_async_wait<0>();
              }
              __syncthreads();
              wb = sw + (seq & 1) * buf_elems;
            }
          }
          const int kk = resident ? KS * step : KS * cs;
          if (active) router_mma<NT, MT, NH>(acc, ring[s], wb, kk, ldw, g, t);
          if (step + S < nsteps) router_load<MT, NH, L2_256>(ring[s], rp, KS * (step + S), p.d, t);
          if (!resident && (cs == spc - 1 || step == nsteps - 1)) {
            __syncthreads();  // everyone done with this buffer before it is refilled
            ++seq;
          }
        }
      }
    }
    if (active) router_epilogue<NT, MT>(p, acc, row0, rows, g, t);
  }
}

// Computed group key of every token (identical for every batch item). One thread per token.
template <class V>
__global__ void compute_keys_kernel(const KeyParams p) {
  prep_detail::grid_dep_wait();
  const long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  if (i >= (long long)p.B * p.N) return;
  const int n = (int)(i % p.N);
  p.keys[i] = V::key(coords_of(n, p.shape), p.shape);
}

namespace prep_detail {
__device__ __forceinline__ int sort_key(const SortParams& p, int b, int e) {
  int key = p.keys[(long long)b * p.Ne + e];
  if (key < 0 || key >= p.G) {
    if (p.err) *p.err = 1;
    key = key < 0 ? 0 : p.G - 1;
  }
  return key;
}
}  // namespace prep_detail

// Pass 1: per-block histogram. Grid (nblk, B), 256 threads, dynamic smem 4*G bytes.
// blk_hist[b][g][blk] (row stride ld).
#ifndef MOGA_NO_PREP_KERNELS  // compile units without the prep kernels (runtime/attention compile_units)
__global__ void __launch_bounds__(256) sort_hist_kernel(const SortParams p) {
  using namespace prep_detail;
  extern __shared__ int prep_s_hist[];
  grid_dep_wait();
  const int blk = blockIdx.x, b = blockIdx.y, lane = threadIdx.x & 31;
  for (int gq = threadIdx.x; gq < p.G; gq += blockDim.x) prep_s_hist[gq] = 0;
  __syncthreads();
  const int e_begin = blk * p.chunk, e_end = imin(p.Ne, e_begin + p.chunk);
  for (int e0 = e_begin; e0 < e_end; e0 += blockDim.x) {
    const int e = e0 + threadIdx.x;
    const bool valid = e < e_end;
    const int key = valid ? sort_key(p, b, e) : -1;
    const unsigned m = __match_any_sync(0xffffffffu, key);
    if (valid && (__ffs(m) - 1) == lane) atomicAdd(&prep_s_hist[key], __popc(m));
  }
  __syncthreads();
  int* out = p.blk_hist + (long long)b * p.G * p.ld;
  for (int gq = threadIdx.x; gq < p.G; gq += blockDim.x) out[(long long)gq * p.ld + blk] = prep_s_hist[gq];
}
#endif

// Pass 2: each block reads the whole histogram of its batch item (G * ld cells, <= 8K by sort_plan) and
// derives its own start offset per group: sum of all groups before g + this group's counts in earlier
// blocks. Block 0 writes seg_offsets and the group order. Then the stable scatter: rounds of 256
// entries; inside a round the warps take their turn in order (rank inside a warp from
// __match_any_sync), so equal keys keep their original order.
// Grid (nblk, B), 256 threads, dynamic smem sort_scatter_smem_bytes(G, order != nullptr).
#ifndef MOGA_NO_PREP_KERNELS  // compile units without the prep kernels (runtime/attention compile_units)
__global__ void __launch_bounds__(256) sort_scatter_kernel(const SortParams p) {
  using namespace prep_detail;
  extern __shared__ __align__(16) int prep_s_scatter[];
  __shared__ int s_warp[32];
  __shared__ int s_used;                // the padded total (aligned groups): where the tail padding starts
  int* s_base = prep_s_scatter;         // [G]: this block's count before it, then its running offsets
  int* s_total = prep_s_scatter + p.G;  // [G]: group sizes
  int* s_span = prep_s_scatter + 2 * p.G;  // [G]: group sizes rounded up to align (by_size)
  grid_dep_wait();
  const int blk = blockIdx.x, b = blockIdx.y;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  for (int gq = threadIdx.x; gq < p.G; gq += blockDim.x) { s_base[gq] = 0; s_total[gq] = 0; }
  __syncthreads();
  {
    // each thread a contiguous run of int4 cells; partial sums flushed when the row (group) changes
    const int4* h4 = reinterpret_cast<const int4*>(p.blk_hist + (long long)b * p.G * p.ld);
    const int L4 = p.G * p.ld / 4;
    const int per = (L4 + blockDim.x - 1) / blockDim.x;
    const int i0 = threadIdx.x * per, i1 = imin(L4, i0 + per);
    int run_g = -1, acc_b = 0, acc_t = 0;
#pragma unroll 4
    for (int i = i0; i < i1; ++i) {
      const int4 v = h4[i];
      const int cell = 4 * i;
      const int gq = cell / p.ld, c0 = cell - gq * p.ld;
      if (gq != run_g) {
        if (run_g >= 0) { atomicAdd(&s_base[run_g], acc_b); atomicAdd(&s_total[run_g], acc_t); }
        run_g = gq;
        acc_b = 0;
        acc_t = 0;
      }
      const int vv[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
      for (int c = 0; c < 4; ++c) {
        const int bb = c0 + c;
        if (bb < p.nblk) acc_t += vv[c];
        if (bb < blk) acc_b += vv[c];
      }
    }
    if (run_g >= 0) { atomicAdd(&s_base[run_g], acc_b); atomicAdd(&s_total[run_g], acc_t); }
  }
  __syncthreads();
  if (p.hist_readers) {
    // this block is done reading blk_hist (its loads were consumed above); the last of all blocks zeroes
    // it for the next call (the threadFenceReduction pattern)
    __shared__ int s_last;
    if (threadIdx.x == 0) {
      __threadfence();
      s_last = atomicAdd(p.hist_readers, 1) == (int)(gridDim.x * gridDim.y) - 1;
    }
    __syncthreads();
    if (s_last) {
      int4* h4 = reinterpret_cast<int4*>(p.blk_hist);
      const long long n4 = (long long)p.B * p.G * p.ld / 4;  // ld is a multiple of 4 (sort_plan)
      for (long long i = threadIdx.x; i < n4; i += blockDim.x) h4[i] = make_int4(0, 0, 0, 0);
      if (threadIdx.x == 0) *p.hist_readers = 0;
    }
  }
  {
    // exclusive scan of the group sizes: contiguous groups per thread
    const int per = (p.G + blockDim.x - 1) / blockDim.x;
    const int g0 = threadIdx.x * per, g1 = imin(p.G, g0 + per);
    const int al = p.align > 1 ? p.align : 1;
    int local = 0;
    for (int gq = g0; gq < g1; ++gq) local += round_up(s_total[gq], al);
    int total;
    int run = block_exclusive_scan(local, s_warp, &total);
    int* seg = p.seg_offsets + (long long)b * (p.G + 1);
    const bool by_size = p.by_size && al > 1;
    if (by_size) {  // block-uniform
      for (int gq = g0; gq < g1; ++gq) s_span[gq] = round_up(s_total[gq], al);
      __syncthreads();
    }
    for (int gq = g0; gq < g1; ++gq) {
      // by_size: the longest group's span ends the order (the kernels schedule it first)
      const int start = by_size ? span_start_by_size(s_total, p.G, gq, [&](int o) { return s_span[o]; }) : run;
      if (blk == 0) seg[gq] = start;
      if (blk == 0 && p.seg_end) p.seg_end[(long long)b * p.G + gq] = start + s_total[gq];
      if (!(p.packed && al > 1)) s_base[gq] += start;  // packed: below
      run += round_up(s_total[gq], al);
    }
    if (blk == 0 && threadIdx.x == 0) seg[p.G] = total;
    if (threadIdx.x == 0) s_used = total;
  }
  __syncthreads();
  if (p.packed && p.align > 1) {
    // packed groups: the starts are a sequential rule (packed_span_starts, one step at a time to add
    // them into s_base on the way); one thread (G <= 1024 for routed kernels: microseconds).
    if (threadIdx.x == 0) {
      int* seg = p.seg_offsets + (long long)b * (p.G + 1);
      int cur = 0;
      for (int gq = 0; gq < p.G; ++gq) {
        const int n = s_total[gq];
        cur = packed_start(cur, n, p.align);
        s_base[gq] += cur;
        if (blk == 0) seg[gq] = cur;
        if (blk == 0 && p.seg_end) p.seg_end[(long long)b * p.G + gq] = cur + n;
        cur += n;
      }
      s_used = round_up(cur, p.align);
      if (blk == 0) seg[p.G] = s_used;
    }
    __syncthreads();
  }
  if (blk == 0 && p.align > 1) {
    // padding: the tail of each group's span, one warp per group (fewer than align positions each; a
    // block-wide loop per group was a serial chain of G short loops: ~5 us at G = 256), then everything
    // after the last span, block-wide. Disjoint from the positions the other blocks scatter to. s_base
    // holds block 0's starts = the padded starts. Packed groups: from a group's end to the next group's
    // start, the last one's to the used length s_used.
    const long long bo_pad = (long long)b * p.out_ld;
    auto pad = [&](int s) {
      p.perm[bo_pad + s] = -1;
      if (p.gid) p.gid[bo_pad + s] = -1;
      if (p.entry) p.entry[bo_pad + s] = -1;
    };
    for (int gq = warp; gq < p.G; gq += nwarps) {
      const int from = s_base[gq] + s_total[gq];
      const int to = p.packed ? (gq + 1 < p.G ? s_base[gq + 1] : s_used) : s_base[gq] + round_up(s_total[gq], p.align);
      for (int s = from + lane; s < to; s += 32) pad(s);
    }
    for (int s = s_used + (int)threadIdx.x; s < p.out_ld; s += blockDim.x) pad(s);
    __syncthreads();  // s_base is read above and updated by the scatter below (block-uniform branch)
  }
  if (blk == 0 && p.order != nullptr) {
    int* order = p.order + (long long)b * p.G;
    if (p.G <= 256) {
      // rank of each group by (size desc, g asc): O(G) per group
      for (int gq = threadIdx.x; gq < p.G; gq += blockDim.x) {
        const int sz = s_total[gq];
        int rank = 0;
        for (int o = 0; o < p.G; ++o) {
          const int so = s_total[o];
          rank += (so > sz) || (so == sz && o < gq);
        }
        order[rank] = gq;
      }
    } else {
      // bitonic sort of (Ne - size) << 32 | g
      long long* s_ord = reinterpret_cast<long long*>(prep_s_scatter + 3 * round_up(p.G, 2));
      int P = 1;
      while (P < p.G) P <<= 1;
      for (int i = threadIdx.x; i < P; i += blockDim.x)
        s_ord[i] = i < p.G ? (((long long)(p.Ne - s_total[i]) << 32) | (long long)i) : 0x7fffffffffffffffLL;
      __syncthreads();
      for (int k = 2; k <= P; k <<= 1)
        for (int j = k >> 1; j > 0; j >>= 1) {
          for (int i = threadIdx.x; i < P; i += blockDim.x) {
            const int ixj = i ^ j;
            if (ixj > i) {
              const long long a = s_ord[i], c = s_ord[ixj];
              const bool up = (i & k) == 0;
              if ((a > c) == up) { s_ord[i] = c; s_ord[ixj] = a; }
            }
          }
          __syncthreads();
        }
      for (int i = threadIdx.x; i < p.G; i += blockDim.x) order[i] = (int)(s_ord[i] & 0xffffffffLL);
    }
  }
  const unsigned lt = lanemask_lt();
  const long long bo = (long long)b * p.Ne, bo_out = (long long)b * (p.out_ld > 0 ? p.out_ld : p.Ne);
  const int e_begin = blk * p.chunk, e_end = imin(p.Ne, e_begin + p.chunk);
  for (int e0 = e_begin; e0 < e_end; e0 += blockDim.x) {
    const int e = e0 + threadIdx.x;
    const bool valid = e < e_end;
    const int key = valid ? sort_key(p, b, e) : -1;
    const float pr = (valid && p.gate && p.probs) ? p.probs[bo + e] : 0.f;
    const unsigned m = __match_any_sync(0xffffffffu, key);
    const int rank = __popc(m & lt);
    const bool last = (31 - __clz(m)) == lane;
    int pos = 0;
    for (int w = 0; w < nwarps; ++w) {
      if (warp == w) {
        if (valid) pos = s_base[key] + rank;
        __syncwarp();
        if (valid && last) s_base[key] = pos + 1;
      }
      __syncthreads();
    }
    if (valid) {
      p.perm[bo_out + pos] = e / p.k;
      if (p.entry) p.entry[bo_out + pos] = e;
      if (p.gid) p.gid[bo_out + pos] = key;
      if (p.gate && p.probs) p.gate[bo_out + pos] = pr;
    }
  }
}
#endif

// Tile summaries: one warp per tile; grid-stride over B * (tq + tk') warps (tk' = 0 without kv_out).
// Shot tables are copied to shared memory when F <= 1024. 256 threads.
#ifndef MOGA_NO_PREP_KERNELS  // compile units without the prep kernels (runtime/attention compile_units)
__global__ void __launch_bounds__(256) tile_summary_kernel(const SummaryParams p) {
  __shared__ int s_sof[1024];
  __shared__ int s_sfirst[1025];
  prep_detail::grid_dep_wait();
  MaskShape shape = p.shape;
  if (shape.shot_of_frame != nullptr && shape.shot_first != nullptr && shape.F <= 1024) {
    const int nshots = shape.shot_of_frame[shape.F - 1] + 1;
    for (int i = threadIdx.x; i < shape.F; i += blockDim.x) s_sof[i] = shape.shot_of_frame[i];
    for (int i = threadIdx.x; i <= nshots && i <= 1024; i += blockDim.x) s_sfirst[i] = shape.shot_first[i];
    __syncthreads();
    shape.shot_of_frame = s_sof;
    shape.shot_first = s_sfirst;
  }
  const int lane = threadIdx.x & 31;
  const int per_b = p.tq + (p.kv_out ? p.tk : 0);
  const long long nw = (long long)p.B * per_b;
  for (long long w = (blockIdx.x * (long long)blockDim.x + threadIdx.x) >> 5; w < nw;
       w += ((long long)gridDim.x * blockDim.x) >> 5) {
    const int b = (int)(w / per_b), idx = (int)(w - (long long)b * per_b);
    const bool isq = idx < p.tq;
    const int tile = isq ? idx : idx - p.tq;
    const int T = isq ? p.tile_q : p.tile_kv;
    TileSummary* out = isq ? p.q_out + (long long)b * p.tq + tile : p.kv_out + (long long)b * p.tk + tile;
    const int s0 = tile * T, s1 = imin(p.Ne, s0 + T);
    int lo[8], hi[8];
#pragma unroll
    for (int f = 0; f < 8; ++f) { lo[f] = kIntMax; hi[f] = kIntMin; }
    const long long bo = (long long)b * p.Ne;
    bool pad = false;
    for (int sb = s0; sb < s1; sb += 128) {
      int tok[4], gv[4];
#pragma unroll
      for (int u = 0; u < 4; ++u) {  // all loads first
        const int s = sb + 32 * u + lane;
        tok[u] = s < s1 ? (p.perm ? p.perm[bo + s] : s) : -1;
        gv[u] = (s < s1 && p.gid) ? p.gid[bo + s] : 0;
      }
#pragma unroll
      for (int u = 0; u < 4; ++u) {
        if (tok[u] < 0) {
          // padding of aligned groups (perm -1; past s1 tok is -1 too, with gv 0): nothing for a query
          // tile, the odd end of the doubled gid interval for a key tile (TileSummary)
          if (!isq && gv[u] < 0) pad = true;
          continue;
        }
        const Coords<int> c = coords_of(tok[u], shape);
        const int v[8] = {c.pos, c.frame, c.row, c.col, c.shot, c.shot_start, c.shot_end, 2 * gv[u]};
#pragma unroll
        for (int f = 0; f < 8; ++f) { lo[f] = imin(lo[f], v[f]); hi[f] = imax(hi[f], v[f]); }
      }
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
#pragma unroll
      for (int f = 0; f < 8; ++f) {
        lo[f] = imin(lo[f], __shfl_xor_sync(0xffffffffu, lo[f], o));
        hi[f] = imax(hi[f], __shfl_xor_sync(0xffffffffu, hi[f], o));
      }
    pad = __any_sync(0xffffffffu, pad);
    if (pad && lo[7] <= hi[7]) hi[7] += 1;
    if (lane < 8) {
      // lane f writes field f (TileSummary is 8 consecutive Ivl: the 7 coordinates, then gid)
      int lf = lo[0], hf = hi[0];
#pragma unroll
      for (int f = 1; f < 8; ++f)
        if (lane == f) { lf = lo[f]; hf = hi[f]; }
      reinterpret_cast<Ivl*>(out)[lane] = Ivl(lf, hf);
    }
  }
}
#endif

// Block map: one warp per query tile, 8 query tiles per block; key-tile summaries staged through shared
// memory 256 at a time; ballot + popc compaction keeps the lists ascending. With seg_offsets (grouped),
// each warp evaluates only the key tiles that hold positions of its query tile's groups.
// Grid (ceil(tq / 8), B), 256 threads.
template <class V>
__global__ void __launch_bounds__(256) block_map_kernel(const BlockMapParams p) {
  using namespace prep_detail;
  __shared__ int4 s_kv_raw[256 * sizeof(TileSummary) / 16];  // raw: Ivl has a constructor
  __shared__ int s_rng[16];
  const TileSummary* s_kv = reinterpret_cast<const TileSummary*>(s_kv_raw);
  grid_dep_wait();
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int b = blockIdx.y;
  const int i = blockIdx.x * 8 + warp;
  const bool active = i < p.tq;  // warp-uniform
  TileSummary q;
  int wjl = 0, wjh = p.tk - 1;  // this warp's candidate key tiles (inclusive)
  if (active) {
    q = p.qsum[(long long)b * p.tq + i];
    if (q.gid.lo > q.gid.hi) {  // a query tile of padding only (aligned groups): nothing to attend
      wjl = p.tk;
      wjh = -1;
    } else if (p.grouped && p.seg_offsets) {
      const int* seg = p.seg_offsets + (long long)b * (p.G + 1);
      const int glo = imax(q.gid.lo >> 1, 0), ghi = imin(q.gid.hi >> 1, p.G - 1);  // doubled (TileSummary)
      const int pa = seg[glo], pb = p.seg_end ? p.seg_end[(long long)b * p.G + glo] : seg[ghi + 1];
      wjl = pa / p.tile_kv;
      wjh = (pb - 1) / p.tile_kv;
    }
  } else {
    wjl = p.tk;
    wjh = -1;
  }
  if (lane == 0) { s_rng[warp] = wjl; s_rng[8 + warp] = wjh; }
  __syncthreads();
  int bjl = s_rng[0], bjh = s_rng[8];
  for (int w = 1; w < 8; ++w) { bjl = imin(bjl, s_rng[w]); bjh = imax(bjh, s_rng[8 + w]); }
  const long long row = ((long long)b * p.tq + i) * p.tk;
  const unsigned lt = lanemask_lt();
  int nf = 0, np = 0;
  for (int j0 = bjl; j0 <= bjh; j0 += 256) {
    const int nj = imin(256, bjh + 1 - j0);
    __syncthreads();
    const int4* src = reinterpret_cast<const int4*>(p.kvsum + (long long)b * p.tk + j0);
    for (int x = threadIdx.x; x < nj * 4; x += blockDim.x) s_kv_raw[x] = src[x];
    __syncthreads();
    const int ja = imax(wjl, j0), jb = imin(wjh, j0 + nj - 1);  // warp-uniform
    for (int jj = ja; jj <= jb; jj += 32) {
      const int j = jj + lane;
      Tri c(false);
      if (j <= jb) c = classify_tile_pair<V>(q, s_kv[j - j0], p.shape, p.grouped);
      const unsigned fm = __ballot_sync(0xffffffffu, c.is_true());
      const unsigned pm = __ballot_sync(0xffffffffu, c.v == 2);
      if (c.is_true()) p.full_idx[row + nf + __popc(fm & lt)] = j;
      if (c.v == 2) p.part_idx[row + np + __popc(pm & lt)] = j;
      nf += __popc(fm);
      np += __popc(pm);
    }
  }
  if (active && lane == 0) {
    p.full_cnt[(long long)b * p.tq + i] = nf;
    p.part_cnt[(long long)b * p.tq + i] = np;
  }
}

// Grouped branch without a mask: grouped_map_row / grouped_map_class per query tile (identical to
// block_map_kernel with grouped = 1 and no mask). One warp per query tile, grid-stride; 256 threads.
#ifndef MOGA_NO_PREP_KERNELS  // compile units without the prep kernels (runtime/attention compile_units)
__global__ void __launch_bounds__(256) block_map_grouped_kernel(const GroupMapParams p) {
  using namespace prep_detail;
  grid_dep_wait();
  const int lane = threadIdx.x & 31;
  const unsigned lt = lanemask_lt();
  const long long nw = (long long)p.B * p.tq;
  for (long long w = (blockIdx.x * (long long)blockDim.x + threadIdx.x) >> 5; w < nw;
       w += ((long long)gridDim.x * blockDim.x) >> 5) {
    const int b = (int)(w / p.tq), i = (int)(w - (long long)b * p.tq);
    const int* gid = p.gid + (long long)b * p.Ne;
    const int* seg = p.seg_offsets + (long long)b * (p.G + 1);
    const GroupedRow r = grouped_map_row(gid, seg, p.Ne, p.tile_q, p.tile_kv, i,
                                         p.seg_end ? p.seg_end + (long long)b * p.G : nullptr);
    const long long row = w * p.tk;
    int nf = 0, np = 0;
    for (int jj = r.jl; jj <= r.jh; jj += 32) {
      const int j = jj + lane;
      const int c = j <= r.jh ? grouped_map_class(gid, p.Ne, p.tile_kv, r, j) : 0;
      const bool in = c != 0, full = c == 1;
      const unsigned fm = __ballot_sync(0xffffffffu, full);
      const unsigned pm = __ballot_sync(0xffffffffu, in && !full);
      if (full) p.full_idx[row + nf + __popc(fm & lt)] = j;
      if (in && !full) p.part_idx[row + np + __popc(pm & lt)] = j;
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

// One warp per (b, query tile), grid-stride; 256 threads.
#ifndef MOGA_NO_PREP_KERNELS  // compile units without the prep kernels (runtime/attention compile_units)
__global__ void __launch_bounds__(256) query_range_map_kernel(const QueryRangeParams p) {
  grid_dep_wait();
  const int lane = threadIdx.x & 31;
  const long long nw = (long long)p.B * p.tq;
  for (long long w = (blockIdx.x * (long long)blockDim.x + threadIdx.x) >> 5; w < nw;
       w += ((long long)gridDim.x * blockDim.x) >> 5) {
    const int b = (int)(w / p.tq), i = (int)(w - (long long)b * p.tq);
    const int end = imin((i + 1) * p.tile_q, p.Ne);
    bool in = false;
    for (int s = i * p.tile_q + lane; s < end; s += 32) {
      const int t = p.perm ? __ldg(p.perm + (long long)b * p.Ne + s) : s;
      in |= t >= p.t0 && t < p.t1;
    }
    in = __any_sync(0xffffffffu, in);
    if (lane == 0) {
      p.out_full[w] = in ? __ldg(p.full_cnt + w) : 0;
      if (p.part_cnt) p.out_part[w] = in ? __ldg(p.part_cnt + w) : 0;
    }
  }
}
#endif

// TopkCombineParams: one thread per 8 elements (16 bytes), grid-stride.
#ifndef MOGA_NO_PREP_KERNELS  // compile units without the prep kernels (runtime/attention compile_units)
__global__ void __launch_bounds__(256) topk_combine_kernel(const TopkCombineParams p) {
  grid_dep_wait();
  typedef unsigned short bf16_t;
  const int dv = p.D / 8;
  const long long n = (long long)p.B * p.N * p.H * dv;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    const int c = (int)(i % dv);
    long long r = i / dv;
    const int h = (int)(r % p.H);
    r /= p.H;
    const int t = (int)(r % p.N);
    const int b = (int)(r / p.N);
    float acc[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
    for (int j = 0; j < p.k; ++j) {
      const long long row = ((long long)b * p.N + t) * p.k + j;
      const uint4 v = *reinterpret_cast<const uint4*>(static_cast<const bf16_t*>(p.rows) + (row * p.H + h) * p.D + c * 8);
      const unsigned w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        acc[2 * e] += sm80::bf16lo_to_f32(w[e]);
        acc[2 * e + 1] += sm80::bf16hi_to_f32(w[e]);
      }
    }
    uint4* dst = reinterpret_cast<uint4*>(static_cast<bf16_t*>(p.out) + b * p.o_sb + t * p.o_sn + h * p.o_sh + c * 8);
    unsigned w[4];
    const uint4 old = p.accumulate ? *dst : make_uint4(0u, 0u, 0u, 0u);
    const unsigned o[4] = {old.x, old.y, old.z, old.w};
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const float lo = p.weight * acc[2 * e] + (p.accumulate ? sm80::bf16lo_to_f32(o[e]) : 0.f);
      const float hi = p.weight * acc[2 * e + 1] + (p.accumulate ? sm80::bf16hi_to_f32(o[e]) : 0.f);
      w[e] = sm80::pack_bf16x2(lo, hi);
    }
    *dst = make_uint4(w[0], w[1], w[2], w[3]);
  }
}
#endif
#endif  // device code

// =====================================================================================================
// Host code
// =====================================================================================================
#if !defined(__CUDACC_RTC__)

// The CPU block map: same classification as block_map_kernel, same BCSR layout.
template <class V>
inline void build_block_map_host(const TileSummary* qsum, int tq, const TileSummary* kvsum, int tk, int B,
                                 int grouped, const MaskShape& s, int* full_cnt, int* full_idx, int* part_cnt,
                                 int* part_idx) {
  for (int b = 0; b < B; ++b)
    for (int i = 0; i < tq; ++i) {
      const long long row = ((long long)b * tq + i) * tk;
      int nf = 0, np = 0;
      for (int j = 0; j < tk; ++j) {
        const Tri c = classify_tile_pair<V>(qsum[(long long)b * tq + i], kvsum[(long long)b * tk + j], s, grouped);
        if (c.is_true()) full_idx[row + nf++] = j;
        else if (!c.is_false()) part_idx[row + np++] = j;
      }
      full_cnt[(long long)b * tq + i] = nf;
      part_cnt[(long long)b * tq + i] = np;
    }
}

// CPU tile summaries (perm / gid may be nullptr), tiles of `tile` entries.
// key_side: padding (perm -1) makes the doubled gid interval odd-ended (as tile_summary_kernel's key tiles).
inline void tile_summaries_host(const int* perm, const int* gid, int B, int Ne, const MaskShape& s, int tile,
                                TileSummary* out, bool key_side = false) {
  const int nt = (Ne + tile - 1) / tile;
  for (int b = 0; b < B; ++b)
    for (int i = 0; i < nt; ++i) {
      int lo[8], hi[8];
      for (int f = 0; f < 8; ++f) { lo[f] = kIntMax; hi[f] = kIntMin; }
      bool pad = false;
      for (int q = i * tile; q < Ne && q < (i + 1) * tile; ++q) {
        const long long e = (long long)b * Ne + q;
        if (perm && perm[e] < 0) {  // padding of aligned groups
          pad |= key_side;
          continue;
        }
        const Coords<int> c = coords_of(perm ? perm[e] : q, s);
        const int v[8] = {c.pos, c.frame, c.row, c.col, c.shot, c.shot_start, c.shot_end, gid ? 2 * gid[e] : 0};
        for (int f = 0; f < 8; ++f) { lo[f] = imin(lo[f], v[f]); hi[f] = imax(hi[f], v[f]); }
      }
      if (pad && lo[7] <= hi[7]) hi[7] += 1;  // doubled gid interval (TileSummary)
      Ivl* o = reinterpret_cast<Ivl*>(out + (long long)b * nt + i);
      for (int f = 0; f < 8; ++f) o[f] = Ivl(lo[f], hi[f]);
    }
}

// CPU stable counting sort with the GPU's outputs (keys clamped into [0, G) like the GPU does).
// scratch: G ints. order may be nullptr.
// align > 1: the aligned layout of SortParams (outputs of row stride out_ld, default
// aligned_sorted_length(Ne, G, align); padding positions get perm = gid = -1 here; seg_end [B][G]
// optional; by_size, packed: SortParams::by_size, ::packed).
inline void counting_sort_host(const int* keys, const float* probs, int B, int Ne, int k, int G, int* scratch,
                               int* seg_offsets, int* perm, int* gid, float* gate, int* order, int align = 1,
                               int out_ld = 0, int* seg_end = nullptr, bool by_size = false, bool packed = false) {
  const int al = align > 1 ? align : 1;
  const long long ld = out_ld > 0 ? out_ld : aligned_sorted_length(Ne, G, al);
  for (int b = 0; b < B; ++b) {
    const long long bo = (long long)b * Ne, bo_out = (long long)b * ld;
    int* seg = seg_offsets + (long long)b * (G + 1);
    for (int g = 0; g <= G; ++g) seg[g] = 0;
    for (int e = 0; e < Ne; ++e) {
      int key = keys[bo + e];
      key = key < 0 ? 0 : (key >= G ? G - 1 : key);
      seg[key + 1]++;
    }
    for (int g = 0; g < G; ++g) scratch[g] = seg[g + 1];  // sizes
    for (int g = 0; g < G; ++g) seg[g + 1] = seg[g] + round_up(scratch[g], al);
    if (by_size && al > 1)  // seg[G], the padded total, is unchanged
      for (int g = 0; g < G; ++g)
        seg[g] = span_start_by_size(scratch, G, g, [&](int o) { return round_up(scratch[o], al); });
    if (packed && al > 1) seg[G] = packed_span_starts(scratch, G, al, seg);
    for (long long s = 0; s < ld; ++s) {
      perm[bo_out + s] = -1;
      if (gid) gid[bo_out + s] = -1;
    }
    for (int g = 0; g < G; ++g) scratch[g] = seg[g];
    for (int e = 0; e < Ne; ++e) {
      int key = keys[bo + e];
      key = key < 0 ? 0 : (key >= G ? G - 1 : key);
      const int pos = scratch[key]++;
      perm[bo_out + pos] = e / k;
      if (gid) gid[bo_out + pos] = key;
      if (gate && probs) gate[bo_out + pos] = probs[bo + e];
    }
    if (seg_end)
      for (int g = 0; g < G; ++g) seg_end[(long long)b * G + g] = scratch[g];
    if (order) {  // insertion by (size desc, g asc): G is small where this is used
      // sizes from the fill pointers (seg holds padded starts when aligned)
      auto size_of = [&](int g) { return scratch[g] - seg[g]; };
      int* o = order + (long long)b * G;
      for (int g = 0; g < G; ++g) {
        const int sz = size_of(g);
        int x = g;
        while (x > 0) {
          const int pg = o[x - 1], psz = size_of(pg);
          if (psz > sz || (psz == sz && pg < g)) break;
          o[x] = pg;
          --x;
        }
        o[x] = g;
      }
    }
  }
}

template <class V>
inline void compute_keys_host(const MaskShape& s, int N, int* keys) {  // needs V::key __host__ __device__
  for (int n = 0; n < N; ++n) keys[n] = V::key(coords_of(n, s), s);
}

struct BlockMapStats {
  long long full = 0, partial = 0, empty = 0;  // tile pairs
};
inline BlockMapStats block_map_stats(const int* full_cnt, const int* part_cnt, int B, int tq, int tk) {
  BlockMapStats st;
  for (long long i = 0; i < (long long)B * tq; ++i) {
    st.full += full_cnt[i];
    st.partial += part_cnt[i];
  }
  st.empty = (long long)B * tq * tk - st.full - st.partial;
  return st;
}

// Pure host planning (shared by the nvcc launch helpers below and by g++ code: runtime/attention).
inline size_t router_smem_bytes(int NT, int d_pad, int kc) {
  if (kc >= d_pad) return (size_t)NT * 8 * (d_pad + 32) * 2;
  return (size_t)2 * NT * 8 * (kc + 32) * 2;
}

// kc: W^T resident when it fits in `budget` bytes (kc = d_pad; staged in up to 6 pieces), else 256-wide
// double-buffered chunks, 128-wide when 256 do not fit (M > 128 groups).
inline void router_choose_chunks(int NT, int d_pad, int* kc, int* kst, size_t budget = 200 * 1024 + 1024) {
  if (router_smem_bytes(NT, d_pad, d_pad) <= budget) {
    *kc = d_pad;
    *kst = round_up((d_pad + 5) / 6, 128);
  } else {
    *kc = d_pad < 256 ? d_pad : 256;
    if (*kc > 128 && router_smem_bytes(NT, d_pad, *kc) > budget) *kc = 128;
    *kst = *kc;
  }
}

// The router's launch: `rows` token rows in tiles of 16 MT, one warp per tile at a time, at most
// max_threads per block (the instantiation's THREADS: the kernel reads its warp count from blockDim) and
// blocks_per_sm * sms blocks. When the tiles fill every block at max_threads the grid is persistent
// (each warp loops); otherwise the blocks shrink to ceil(tiles / cap) warps so that every SM gets one
// (4,096 tokens at 512 threads ran 16 blocks on 132 SMs; each warp's work is the same either way, so the
// results are bit-identical). grid_mode 1: one tile per warp at max_threads (prep_bench's A/B).
struct RouterGrid {
  long long blocks;
  int threads;
};
inline RouterGrid router_grid(long long rows, int MT, int max_threads, int blocks_per_sm, int sms, int grid_mode = 0) {
  const long long tiles = (rows + 16 * MT - 1) / (16 * MT);
  const int warps_max = max_threads / 32;
  const long long cap = (long long)(blocks_per_sm > 0 ? blocks_per_sm : 1) * (sms > 0 ? sms : 1);
  RouterGrid g{(tiles + warps_max - 1) / warps_max, max_threads};
  if (grid_mode == 1) return g.blocks < 1 ? RouterGrid{1, max_threads} : g;
  if (g.blocks >= cap) return {cap, max_threads};
  long long warps = (tiles + cap - 1) / cap;
  if (warps < 1) warps = 1;
  if (warps > warps_max) warps = warps_max;
  return {(tiles + warps - 1) / warps, (int)warps * 32};
}

// Scratch ints for blk_hist.
inline long long sort_scratch_ints(int B, int Ne, int G) {
  int chunk, nblk, ld;
  sort_plan(Ne, G, &chunk, &nblk, &ld);
  return (long long)B * G * ld;
}

inline size_t sort_scatter_smem_bytes(int G, bool order) {
  size_t s = (size_t)3 * round_up(G, 2) * 4;
  if (order && G > 256) {
    int P = 1;
    while (P < G) P <<= 1;
    s += (size_t)P * 8;
  }
  return s;
}

#endif  // !__CUDACC_RTC__

// =====================================================================================================
// Launch helpers (nvcc host code)
// =====================================================================================================
#if defined(__CUDACC__) && !defined(__CUDACC_RTC__)

// Launch with optional programmatic dependent launch (overlaps this grid's launch with the tail of the
// previous kernel in the stream; the kernels wait for it with griddepcontrol.wait).
template <class Params>
inline cudaError_t prep_launch(void (*kernel)(Params), dim3 grid, dim3 block, size_t smem, cudaStream_t st, bool pdl,
                               const Params& prm) {
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = smem;
  cfg.stream = st;
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = pdl ? attr : nullptr;
  cfg.numAttrs = pdl ? 1 : 0;
  return cudaLaunchKernelEx(&cfg, kernel, prm);
}

// grid: 0 = router_grid (persistent at most the resident blocks, each warp looping over row tiles; smaller
//       blocks when the tiles do not fill the SMs), 1 = one row tile per warp (the hardware balances).
template <int NT, int MT, int S, int THREADS, int NH, bool L2_256>
inline cudaError_t launch_router_t(const RouterParams& p, cudaStream_t st, bool pdl, int grid_mode) {
  auto kern = router_kernel<NT, MT, S, THREADS, NH, L2_256>;
  const size_t smem = router_smem_bytes(NT, p.d_pad, p.kc);
  // occupancy cached per instantiation and shared-memory size (one device per process assumed)
  static size_t cached_smem = 0;
  static int sms = 0, per_sm = 0;
  if (cached_smem != smem) {
    cudaError_t e = cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
    if (e != cudaSuccess) return e;
    int dev = 0;
    cudaGetDevice(&dev);
    cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
    e = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kern, THREADS, smem);
    if (e != cudaSuccess) return e;
    cached_smem = smem;
  }
  if (per_sm < 1) return cudaErrorInvalidConfiguration;
  const RouterGrid g = router_grid((long long)p.B * p.N, MT, THREADS, per_sm, sms, grid_mode);
  return prep_launch(kern, dim3((unsigned)g.blocks), dim3(g.threads), smem, st, pdl, p);
}

// Router configurations (one 16-row tile per warp, all with the L2 256-byte fetch hint):
//   0: 3 k-steps of 64 columns in flight, 512 threads (best for M > 16: W^T resident, 1 block/SM)
//   1: 2 k-steps of 128 columns in flight, 256 threads (best for M <= 16)
//   -1: choose by M. Measured on the H100 (bench/prep_bench.cu): no hint was 5-15% slower; two 16-row
//   tiles per warp and 512-thread 128-column steps were never faster.
//   M = 256 (NT = 32) runs the runtime's wide configuration whatever cfg says: 256 threads, 2 k-steps of
//   64 columns (runtime/attention kWideRouterCfg); other M above 64 are the runtime's alone.
// NT = ceil(M / 8) must match the packed weight's Mp = 8*NT.
constexpr int kRouterConfigs = 2;
inline cudaError_t launch_router(const RouterParams& p, int cfg = -1, cudaStream_t st = 0, bool pdl = false,
                                 int grid_mode = 0) {
  if (cfg < 0) cfg = p.M <= 16 ? 1 : 0;
  if (p.M < 1 || (p.M > 64 && (p.M + 7) / 8 != 32) || p.topk < 1 || p.topk > 8 || p.topk > p.M || p.d % 8 || p.x_sn % 8 ||
      p.x_sb % 8 || (reinterpret_cast<size_t>(p.x) & 15) || p.kc % 128 || p.kst % 128 || p.kc < 128 ||
      p.kst < 128 || p.d_pad != round_up(p.d, 128) || cfg >= kRouterConfigs)
    return cudaErrorInvalidValue;
  if (p.B * (long long)p.N == 0) return cudaSuccess;
  const int NT = (p.M + 7) / 8;
#define MOGA_ROUTER_CASE(nt)                                                                        \
  case nt:                                                                                          \
    return cfg == 0 ? launch_router_t<nt, 1, 3, 512, 2, true>(p, st, pdl, grid_mode)               \
                    : launch_router_t<nt, 1, 2, 256, 4, true>(p, st, pdl, grid_mode);
  switch (NT) {
    MOGA_ROUTER_CASE(1)
    MOGA_ROUTER_CASE(2)
    MOGA_ROUTER_CASE(3)
    MOGA_ROUTER_CASE(4)
    MOGA_ROUTER_CASE(5)
    MOGA_ROUTER_CASE(6)
    MOGA_ROUTER_CASE(7)
    MOGA_ROUTER_CASE(8)
    case 32: return launch_router_t<32, 1, 2, 256, 2, true>(p, st, pdl, grid_mode);
    default: return cudaErrorInvalidValue;
  }
#undef MOGA_ROUTER_CASE
}

inline cudaError_t launch_router_pack_weight(const void* w, long long w_sk, long long w_sn, int d, int M,
                                             void* out /*[8*ceil(M/8)][round_up(d,128)]*/, cudaStream_t st = 0) {
  const int d_pad = round_up(d, 128), Mp = 8 * ((M + 7) / 8);
  const long long total = (long long)Mp * d_pad;
  const int blocks = (int)((total + 255) / 256 < 4096 ? (total + 255) / 256 : 4096);
  router_pack_weight_kernel<<<blocks, 256, 0, st>>>(w, w_sk, w_sn, d, M, d_pad, Mp, out);
  return cudaGetLastError();
}

template <class V>
inline cudaError_t launch_compute_keys(const KeyParams& p, cudaStream_t st = 0, bool pdl = false) {
  const long long n = (long long)p.B * p.N;
  if (n == 0) return cudaSuccess;
  return prep_launch(compute_keys_kernel<V>, dim3((unsigned)((n + 255) / 256)), dim3(256), 0, st, pdl, p);
}

// Fills p.chunk / p.nblk / p.ld. hist_done: blk_hist already holds the counts (the router made them);
// otherwise sort_hist_kernel runs first.
inline cudaError_t launch_sort(SortParams& p, cudaStream_t st = 0, bool pdl = false, bool hist_done = false) {
  if (p.G < 1 || p.k < 1 || p.Ne < 0 || p.B < 1) return cudaErrorInvalidValue;
  sort_plan(p.Ne, p.G, &p.chunk, &p.nblk, &p.ld);
  const size_t smem_h = (size_t)p.G * 4, smem_s = sort_scatter_smem_bytes(p.G, p.order != nullptr);
  if (smem_h > 48 * 1024) cudaFuncSetAttribute(sort_hist_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem_h);
  if (smem_s > 48 * 1024)
    cudaFuncSetAttribute(sort_scatter_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem_s);
  const dim3 grid(p.nblk, p.B);
  cudaError_t e = cudaSuccess;
  if (!hist_done) e = prep_launch(sort_hist_kernel, grid, dim3(256), smem_h, st, pdl, p);
  if (e != cudaSuccess) return e;
  return prep_launch(sort_scatter_kernel, grid, dim3(256), smem_s, st, pdl, p);
}

inline cudaError_t launch_tile_summaries(const SummaryParams& p, cudaStream_t st = 0, bool pdl = false) {
  const long long warps = (long long)p.B * (p.tq + (p.kv_out ? p.tk : 0));
  if (warps == 0) return cudaSuccess;
  long long blocks = (warps + 7) / 8;
  if (blocks > 65535) blocks = 65535;
  return prep_launch(tile_summary_kernel, dim3((unsigned)blocks), dim3(256), 0, st, pdl, p);
}

template <class V>
inline cudaError_t launch_block_map(const BlockMapParams& p, cudaStream_t st = 0, bool pdl = false) {
  if (p.tq == 0 || p.B == 0) return cudaSuccess;
  return prep_launch(block_map_kernel<V>, dim3((p.tq + 7) / 8, p.B), dim3(256), 0, st, pdl, p);
}

inline cudaError_t launch_block_map_grouped(const GroupMapParams& p, cudaStream_t st = 0, bool pdl = false) {
  const long long warps = (long long)p.B * p.tq;
  if (warps == 0) return cudaSuccess;
  long long blocks = (warps + 7) / 8;
  if (blocks > 65535) blocks = 65535;
  return prep_launch(block_map_grouped_kernel, dim3((unsigned)blocks), dim3(256), 0, st, pdl, p);
}

#endif  // nvcc host

}  // namespace moga
