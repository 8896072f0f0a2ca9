#include "runtime/attention/fp8.h"

#include <cstring>

#include "kernels_src/cuda/fp8_prep.cuh"
#include "runtime/jit/check.h"
#include "runtime/jit/driver.h"

namespace moga::rt {

Fp8Layout fp8_layout(int B, int H, int64_t N, int64_t Nk) {
  Fp8Layout l;
  l.B = B, l.H = H, l.N = N, l.Nk = Nk;
  l.ldv = fp8_vt_ld(Nk);
  const size_t bh = (size_t)B * H;
  l.q_bytes = bh * N * kFp8D;
  l.k_bytes = bh * Nk * kFp8D;
  l.vt_bytes = bh * kFp8D * l.ldv;
  l.amax_bytes = 3 * bh * sizeof(float);
  return l;
}

Fp8MapShapes fp8_map_shapes(const Fp8Layout& l, int block_m, int block_n) {
  Fp8MapShapes s;
  auto rows_map = [&](int64_t rows, int box_rows) {  // [B][rows][H][128] bytes
    TmaShape t{};
    t.dims[0] = kFp8D, t.dims[1] = (uint64_t)rows, t.dims[2] = (uint64_t)l.H, t.dims[3] = (uint64_t)l.B;
    t.strides[0] = (uint64_t)l.H * kFp8D, t.strides[1] = kFp8D, t.strides[2] = (uint64_t)rows * l.H * kFp8D;
    t.box[0] = kFp8D, t.box[1] = (uint32_t)box_rows, t.box[2] = t.box[3] = 1;
    return t;
  };
  s.q = rows_map(l.N, block_m);
  s.k = rows_map(l.Nk, block_n);
  s.vt_swizzle = block_n % 128 == 0 ? 128 : 64;
  TmaShape& v = s.v;  // [B][H][128][ldv] bytes
  v.dims[0] = (uint64_t)l.ldv, v.dims[1] = kFp8D, v.dims[2] = (uint64_t)l.H, v.dims[3] = (uint64_t)l.B;
  v.strides[0] = (uint64_t)l.ldv, v.strides[1] = (uint64_t)kFp8D * l.ldv, v.strides[2] = (uint64_t)l.H * kFp8D * l.ldv;
  v.box[0] = (uint32_t)s.vt_swizzle, v.box[1] = kFp8D, v.box[2] = v.box[3] = 1;
  return s;
}

namespace {
TmaMap encode(CUdeviceptr ptr, const TmaShape& s, CUtensorMapSwizzle swizzle) {
  return encode_tma_map(ptr, s, CU_TENSOR_MAP_DATA_TYPE_UINT8, swizzle);  // e4m3 bytes
}
}  // namespace

TmaMaps make_fp8_tma_maps(CUdeviceptr q8, CUdeviceptr k8, CUdeviceptr vt8, const Fp8MapShapes& s) {
  TmaMaps m;
  m.q = encode(q8, s.q, CU_TENSOR_MAP_SWIZZLE_128B);
  m.k = encode(k8, s.k, CU_TENSOR_MAP_SWIZZLE_128B);
  m.v = encode(vt8, s.v, s.vt_swizzle == 128 ? CU_TENSOR_MAP_SWIZZLE_128B : CU_TENSOR_MAP_SWIZZLE_64B);
  return m;
}

}  // namespace moga::rt
