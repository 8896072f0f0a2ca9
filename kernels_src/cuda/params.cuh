// Kernel parameters shared by the prep kernels (router, sort, block map) and the attention kernel.
// NVRTC-compatible: no host standard headers. Included by generated sources and by host code
// (the runtime fills these structs), so everything here is plain data.
#pragma once
#include "coords.cuh"

namespace moga {

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
// Programmatic dependent launch: wait until the previous grid in the stream has completed and its
// memory is visible (a no-op when the kernel was launched without PDL, or before sm_90). Every prep
// and attention kernel calls it before its first global read, so any of them may be launched with PDL.
__device__ __forceinline__ void grid_dep_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}
#endif

// Block map of one branch in BCSR form (FlexAttention's layout): for batch b and query tile i (tiles
// of BM tokens in the branch's token order), the key tiles (of BN tokens) that are full (mask true
// everywhere, no per-element evaluation) and partial (evaluate per element). Empty tiles are absent.
struct BlockMap {
  const int* full_cnt;   // [B][Tq]
  const int* full_idx;   // [B][Tq][Tk]
  const int* part_cnt;   // [B][Tq]
  const int* part_idx;   // [B][Tq][Tk]
  int num_q_tiles;       // Tq = ceil(N / BM)
  int num_kv_tiles;      // Tk = ceil(N / BN): row stride of *_idx
};

struct AttnParams {
  // bf16 tensors [B][N][H][D] with arbitrary batch/token/head strides (in elements); D contiguous.
  const void* q; const void* k; const void* v; void* o;
  long long q_sb, q_sn, q_sh;
  long long k_sb, k_sn, k_sh;
  long long v_sb, v_sn, v_sh;
  long long o_sb, o_sn, o_sh;
  int B, N, H;
  // Keys/values per batch item when they differ from the queries' N (cross-attention: dense kernels
  // only, perm and map null); 0: N.
  int Nk;
  float scale_log2;      // softmax scale * log2(e): scores are computed in base 2

  // Token order of the branch. perm == nullptr: identity. Otherwise perm[b*N + s] is the original
  // token at sorted position s (queries and keys use the same order).
  const int* perm;
  // Group id at each sorted position (nullptr: ungrouped). On partial tiles a query sees a key only
  // if their group ids are equal.
  const int* gid;
  // Aligned groups (prep.cuh, SortParams::align), else nullptr: seg_end[b * G + g] = the sorted position
  // after group g's last entry. Every tile pair of the map then holds one group's queries and keys, so a
  // partial tile's key is visible to a query row iff it lies before the end of the row's group (padding
  // follows it): one load per row and item instead of a group-id load per key element.
  const int* seg_end;
  int G;
  // Aligned groups, optional: the sort's seg_offsets [B][G+1]. seg_offsets[b][G] is the sorted length
  // the groups actually use; the query tiles past max_b of it are padding only, so the wgmma kernel
  // leaves them out of its work items (a persistent grid then splits only real items evenly).
  const int* seg_offsets;
  // attention_fwd_ws only, optional: two ints, zero before the first launch (the kernel resets them at
  // its end), for dynamic scheduling of the work items over a persistent grid (each CTA claims the next
  // item when it is free); nullptr: CTA c takes items c, c + G, ...
  int* item_counter;
  // Optional [B][N]: the row of o (within batch item b) each sorted position writes, -1: none; nullptr:
  // the token perm names. Top-k > 1 routing points it at the sort's entry indices (SortParams::entry) and
  // o at a [B][N*k][H][D] buffer, so the k entries of a token never write one row (topk_combine_kernel).
  const int* out_row;
  // attention_fwd_ws, video layout: the bit widths of the column and row fields of a staged key column
  // (score_pass.cuh encode_key: frame << (row_bits + col_bits) | row << col_bits | col).
  int key_col_bits, key_row_bits;

  BlockMap map;          // map.full_cnt == nullptr: dense, every tile full

  // Epilogue: out[token] = (accumulate ? out[token] : 0) + weight * gate * o.
  const float* gate;     // [B][N] at sorted positions, or nullptr (gate 1)
  float weight;
  int accumulate;

  MaskShape shape;       // runtime shape for the branch's mask and bias

  // Log-sum-exp output (kernels instantiated with LSE = true only; the default instantiation never reads
  // these, so it compiles to the kernel it was before): lse[(b * H + h) * lse_rows + r], float32, the natural
  // log of the row's softmax normaliser sum_kv exp(score) over the visible keys (score after scale, softcap
  // and bias), -inf for a row that sees no key. r: the row's output row (out_row: the entry index t*k + j
  // of top-k routing) or its original token; lse_rows: N (N*k with out_row).
  float* lse;
  long long lse_rows;

  // Token offsets (ring attention, docs/distributed.md): the global position of the call's first query
  // row and first key row, so a mask or bias sees the coordinates coords_of(pos0 + local token) of the
  // whole sequence (shape) while q holds a slice of it and k / v a block of Nk keys. Read by the LSE
  // instantiations of attention_fwd_ws / attention_fwd_tma only (the ring runs those); the default
  // ones never read them and compile to the kernels they were. 0, 0: the call's tokens are the sequence.
  int q_pos0, kv_pos0;
};

// A TMA tensor map (the driver's CUtensorMap: 128 opaque bytes, 128-byte aligned as cuda.h declares it;
// the copy engine needs 64), made on the host with cuTensorMapEncodeTiled (runtime/attention/tma_maps.h);
// a plain type here, so NVRTC needs no cuda.h.
struct alignas(128) TmaMap {
  unsigned long long opaque[16];
};
// The second parameter of attention_fwd_tma (registry row sm90.tma), passed __grid_constant__: the maps of
// q, k and v as 4-D tensors (D, rows, H, B) with AttnParams' strides, boxes of 64 columns x BM (q) or BN
// (k, v) rows, 128-byte swizzle. Beside AttnParams rather than in it: every other kernel keeps its
// parameter block, and a map must sit in parameter, constant or global memory for the copy engine.
struct TmaMaps {
  TmaMap q, k, v;
  // Gathered kernels whose tiles hold consecutive tokens (runtime/attention/group_layout.h contiguous_tiles):
  // 1 = the maps are of the unsorted q, k, v and the box of the tile at sorted position s0 starts at row
  // perm[s0] (mainloop_tma.cuh); 0 = the maps are in the kernel's token order (rows s0 ...).
  int rows_by_perm = 0;
};

}  // namespace moga
