// Host side of the FP8 attention path (registry row sm90.tma.fp8; kernels_src/cuda/fp8_prep.cuh and
// attention_fwd_fp8.cuh): the sizes of the e4m3 copies of q, k and V^T the prep kernels write, and the
// tensor maps the kernel reads them through. The shapes (Fp8Layout, fp8_map_shapes) need no driver, so
// their rules are tested without a GPU.
//
//   const Fp8Layout l = fp8_layout(B, H, N, Nk);               // bytes of q8, k8, vt8, amax
//   TmaMaps m = make_fp8_tma_maps(q8, k8, vt8, fp8_map_shapes(l, 128, 192));
#pragma once

#include <cuda.h>

#include <cstddef>
#include <cstdint>

#include "kernels_src/cuda/fp8_prep.cuh"
#include "kernels_src/cuda/params.cuh"
#include "runtime/attention/tma_maps.h"

namespace moga::rt {

// q8 [B][N][H][128], k8 [B][Nk][H][128], vt8 [B][H][128][ldv] (ldv = Nk rounded up to 64), amax float [3][B H].
struct Fp8Layout {
  int B = 0, H = 0;
  int64_t N = 0, Nk = 0, ldv = 0;
  size_t q_bytes = 0, k_bytes = 0, vt_bytes = 0, amax_bytes = 0;
};
Fp8Layout fp8_layout(int B, int H, int64_t N, int64_t Nk);

// The three maps' shapes (innermost first, byte strides): q and k as {128, rows, H, B} with boxes of 128 x
// block_m / block_n rows (128-byte swizzle); V^T as {ldv, 128, H, B} with boxes of vt_box x 128 (vt_box =
// 128 keys when block_n is a multiple of 128, else 64; its swizzle in bytes, mainloop_fp8.cuh kVW).
struct Fp8MapShapes {
  TmaShape q, k, v;
  int vt_swizzle = 128;  // bytes: 128 or 64
};
Fp8MapShapes fp8_map_shapes(const Fp8Layout& l, int block_m, int block_n);

// The maps (needs the driver; jit::CudaError when it refuses one).
TmaMaps make_fp8_tma_maps(CUdeviceptr q8, CUdeviceptr k8, CUdeviceptr vt8, const Fp8MapShapes& s);

}  // namespace moga::rt
