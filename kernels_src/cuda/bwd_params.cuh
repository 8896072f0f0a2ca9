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

struct AttnBwdParams {
  AttnParams a;          // q, k, v (bf16), o unused, strides, B, N, H, scale_log2, weight, shape, map (query-major)
  const void* dout;      // bf16 [B][N][H][D]
  long long do_sb, do_sn, do_sh;
  const void* out;       // bf16 [B][N][H][D]: the forward's output of this kernel (the preprocess reads it)
  long long o_sb, o_sn, o_sh;
  const float* lse;      // [B][H][N] (AttnParams::lse layout, k = 1)
  float* dq_delta;       // [B][H][N]: D_i (preprocess writes, the others read)
  float* dq_acc;         // [B][N][H][D] float32, zeroed before attention_bwd with DQ_ATOMIC
  void* dq;              // bf16 outputs with their strides
  void* dk;
  void* dv;
  long long dq_sb, dq_sn, dq_sh, dk_sb, dk_sn, dk_sh, dv_sb, dv_sn, dv_sh;
  BlockMapT mapT;        // key-major map for attention_bwd (full_cnt nullptr: dense)
  float* dgate;          // gated kernels (a.gate set): [B][N] d L / d gate by original token
};

}  // namespace moga
