// Host side of the TMA producer (kernels_src/cuda/attention_fwd_tma.cuh, registry row sm90.tma): the
// tensor maps of q, k and v that the kernel's second parameter (params.cuh TmaMaps) carries. They are
// encoded per call with the driver's cuTensorMapEncodeTiled (the tensors' pointers change between
// calls; the encoding is a host-only call of about a microsecond). The shape of a map (TmaShape) is
// computed apart from the driver call, so its rules are tested without a GPU.
//
//   TmaMaps m = make_tma_maps(q, k, v, N, Nk, 128, 176);   // boxes 64 x 128 (q), 64 x 176 (k, v)
#pragma once

#include <cuda.h>

#include <cstdint>

#include "kernels_src/cuda/params.cuh"
#include "runtime/attention/tensor.h"

namespace moga::rt {

// A bf16 view [B][rows][H][D] as a 4-D tensor map, innermost first: dims {D, rows, H, B}, the byte
// strides of rows, H and B, and a box of 64 columns x box_rows rows (the kernel's 128-byte-swizzled
// [D/64][rows][64] layout, one box per 64 columns).
struct TmaShape {
  uint64_t dims[4];
  uint64_t strides[3];
  uint32_t box[4];
};
// Throws ArgumentError naming `arg` when the view cannot be a tensor map: a stride of 0 (or one at or
// above 2^40 bytes) for a dimension longer than 1, a head dim not a multiple of 64. A dimension of
// length 1 gets the packed stride whatever the view says (the copy engine never steps along it).
TmaShape tma_shape(const TensorView& t, const char* arg, int64_t rows, int box_rows);

// The driver's map of a 4-D tensor at ptr with shape s (cuTensorMapEncodeTiled, out-of-range elements zero);
// jit::CudaError when the driver refuses it. make_tma_maps' and the FP8 row's (fp8.h) maps.
TmaMap encode_tma_map(CUdeviceptr ptr, const TmaShape& s, CUtensorMapDataType type, CUtensorMapSwizzle swizzle);
// One view's map (rows rows, boxes of 64 columns x box_rows rows); needs the driver. Throws as make_tma_maps.
TmaMap make_tma_map(const TensorView& t, const char* arg, int64_t rows, int box_rows);

// The maps of q (rows_q rows, boxes of block_m) and k, v (rows_kv rows, boxes of block_n); needs the
// driver. Throws ArgumentError as tma_shape, jit::CudaError when the driver refuses a map.
TmaMaps make_tma_maps(const TensorView& q, const TensorView& k, const TensorView& v, int64_t rows_q, int64_t rows_kv,
                      int block_m, int block_n);

}  // namespace moga::rt
