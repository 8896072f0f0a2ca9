// Parameters of the backward kernels (attention_bwd.cuh): plain data, included by host code (the runtime,
// runtime/attention/backward.cpp, fills them) and by the generated sources.
// NVRTC-compatible: no host standard headers.
#pragma once
#include "params.cuh"

namespace moga {

// Key-major block map (the transpose of params.cuh's BlockMap): for batch b and key tile j, the query tiles
// that see it, full ones and partial ones, ascending. full_cnt == nullptr: dense, every query tile full.
struct BlockMapT {
  const int* full_cnt;  // [B][Tk]
  const int* full_idx;  // [B][Tk][Tq]
  const int* part_cnt;  // [B][Tk]
  const int* part_idx;  // [B][Tk][Tq]
  int num_q_tiles, num_kv_tiles;
};

// Rows: a kernel's sorted positions hold row ids (a.perm; identity when ungrouped). Top 1: a row is a token. Top k
// > 1: a row is an entry e = t k + j (token t in its j-th group), as the forward's out_row; q, k, v, dO are
// gathered at token e / k, and lse, D, gate and the float32 accumulators are indexed by e. a.N: the rows per batch
// item (N k).
struct AttnBwdParams {
  AttnParams a;          // q, k, v (bf16), o unused, strides, B, N (rows), H, scale_log2, weight, shape, map
  int topk;              // rows per token (1: rows are tokens)
  // Sorted positions per batch item (the stride of a.perm, a.gid, p.tok, a.gate and the tiles' space): a.N, or
  // (ns > a.N) the padded length of aligned routed groups (prep.cuh SortParams::align), whose padding positions
  // hold perm = tok = gid = -1 (the wgmma kernels skip them: zero rows, P = 0, no output); 0: a.N.
  int ns;
  const int* tok;        // [B][N]: the token at each sorted position (= a.perm when rows are tokens; top k: row / k,
                         // precomputed so that no kernel divides per row), nullptr: identity
  const void* dout;      // bf16 [B][N / topk][H][D]
  long long do_sb, do_sn, do_sh;
  const void* out;       // bf16, row r at out + b o_sb + r o_sn + h o_sh: the kernel's output (o_scale 1) or its
  long long o_sb, o_sn, o_sh;  // kept branch rows (RunOptions::branch_out, o_scale = the branch weight)
  float o_scale;         // D = o_scale * rowsum(dO * out)
  const float* lse;      // [B][H][N] (AttnParams::lse layout)
  float* dq_delta;       // [B][H][N]: D per row (preprocess writes, the others read)
  // float32 [B][N][H][D] accumulators by row. dq_acc: attention_bwd<.., DQ_ATOMIC> adds to it by atomics;
  // attention_bwd_dq adds to it (+=, one owner per row) when set, else writes bf16 dq. dk_acc, dv_acc: set:
  // attention_bwd adds to them (+=, one owner per row), else writes bf16 dk, dv. Zeroed by the host first.
  float* dq_acc;
  float* dk_acc;
  float* dv_acc;
  void* dq;              // bf16 outputs with their strides (by token; written directly only when rows are tokens)
  void* dk;
  void* dv;
  long long dq_sb, dq_sn, dq_sh, dk_sb, dk_sn, dk_sh, dv_sb, dv_sn, dv_sh;
  BlockMapT mapT;        // key-major map for attention_bwd (full_cnt nullptr: dense)
  float* dgate;          // gated kernels (a.gate set): [B][N] d L / d gate by row
  // attention_bwd's (the mma.sync key-tile kernel's; attn_bwd_rows_kernel writes them): every query row's
  // values at its sorted position, in the layout of attention_bwd's stage, so one tile's rows are six
  // contiguous 256-byte runs (cp.async, no dependent loads; measured: docs/performance.md, "The moga
  // backward's host path and phases"). srows [B][H][3][srow_ld] float: base-2 lse (+inf past N or for a row without keys), D,
  // weight * gate; sints [B][3][srow_ld] int: row id, group id, token; srow_ld = the sorted length rounded up
  // to 64 (a multiple of attention_bwd's BM).
  float* srows;
  int* sints;
  int srow_ld;
};

// The second parameter of attention_bwd_wg_tma (backward rows sm90.wg.tma*), passed __grid_constant__: the maps of
// q, k, v and dout as 4-D tensors (D, rows, H, B), boxes of 64 columns x 64 (q, dout) or 128 (k, v) rows,
// 128-byte swizzle (runtime/attention/tma_maps.h make_tma_map).
struct BwdTmaMaps {
  TmaMap q, k, v, dout;
};

// attn_bwd_fold_kernel: for tensor i = blockIdx.y (0 dq, 1 dk, 2 dv; src[i] null: skipped), token t's value =
// sum over j < k of src[i] row t k + j (float32 [B][N k][H][D], fixed order), added to acc[i] (float32 [B][N][H]
// [D]) when set, else written bf16 to dst[i] with its strides.
struct AttnBwdFoldParams {
  const float* src[3];
  float* acc[3];
  void* dst[3];
  long long d_sb[3], d_sn[3], d_sh[3];
  int B, N, H, k;
};

}  // namespace moga
