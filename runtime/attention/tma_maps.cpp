#include "runtime/attention/tma_maps.h"

#include <fmt/format.h>

#include <cstring>

#include "runtime/jit/check.h"
#include "runtime/jit/driver.h"

namespace moga::rt {

static_assert(sizeof(TmaMap) == sizeof(CUtensorMap) && alignof(TmaMap) == alignof(CUtensorMap),
              "params.cuh TmaMap must be the driver's CUtensorMap");

TmaShape tma_shape(const TensorView& t, const char* arg, int64_t rows, int box_rows) {
  const int64_t D = t.shape[3];
  if (D % 64 != 0) throw ArgumentError(fmt::format("{}: head dim {} is not a multiple of 64 (TMA boxes of 64 columns)", arg, D));
  TmaShape s{};
  s.dims[0] = (uint64_t)D;
  s.dims[1] = (uint64_t)rows;
  s.dims[2] = (uint64_t)t.shape[2];
  s.dims[3] = (uint64_t)t.shape[0];
  static const char* names[] = {"token", "head", "batch"};
  const int64_t view_stride[3] = {t.strides[1], t.strides[2], t.strides[0]};
  uint64_t packed = (uint64_t)D * 2;
  for (int i = 0; i < 3; ++i) {
    const uint64_t bytes = (uint64_t)view_stride[i] * 2;
    if (s.dims[i + 1] == 1) {
      s.strides[i] = packed;
    } else if (bytes == 0 || bytes >= (uint64_t(1) << 40)) {
      throw ArgumentError(fmt::format(
          "{}: {} stride {} (elements) cannot be a TMA tensor-map stride (variant sm90.tma needs 0 < stride "
          "< 2^40 bytes along a dimension longer than 1; sm90.ws.sq copies any strides), got {}",
          arg, names[i], view_stride[i], t.describe()));
    } else {
      s.strides[i] = bytes;
    }
    packed = s.strides[i] * s.dims[i + 1];
  }
  s.box[0] = 64;
  s.box[1] = (uint32_t)box_rows;
  s.box[2] = s.box[3] = 1;
  return s;
}

TmaMap encode_tma_map(CUdeviceptr ptr, const TmaShape& s, CUtensorMapDataType type, CUtensorMapSwizzle swizzle) {
  const cuuint32_t elem[4] = {1, 1, 1, 1};
  cuuint64_t dims[4], strides[3];
  cuuint32_t box[4];
  for (int i = 0; i < 4; ++i) dims[i] = s.dims[i], box[i] = s.box[i];
  for (int i = 0; i < 3; ++i) strides[i] = s.strides[i];
  CUtensorMap m;
  // zero fill out of range (rows past N or Nk)
  CU_CHECK(jit::driver().cuTensorMapEncodeTiled(&m, type, 4, reinterpret_cast<void*>(ptr), dims, strides, box, elem,
                                                CU_TENSOR_MAP_INTERLEAVE_NONE, swizzle,
                                                CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE));
  TmaMap r;
  std::memcpy(&r, &m, sizeof r);
  return r;
}

namespace {
// bf16, 128-byte swizzle = the rings' layout
TmaMap encode(const TensorView& t, const char* arg, int64_t rows, int box_rows) {
  return encode_tma_map(t.ptr, tma_shape(t, arg, rows, box_rows), CU_TENSOR_MAP_DATA_TYPE_BFLOAT16,
                        CU_TENSOR_MAP_SWIZZLE_128B);
}
}  // namespace

TmaMap make_tma_map(const TensorView& t, const char* arg, int64_t rows, int box_rows) {
  return encode(t, arg, rows, box_rows);
}

TmaMaps make_tma_maps(const TensorView& q, const TensorView& k, const TensorView& v, int64_t rows_q, int64_t rows_kv,
                      int block_m, int block_n) {
  TmaMaps m;
  m.q = encode(q, "q", rows_q, block_m);
  m.k = encode(k, "k", rows_kv, block_n);
  m.v = encode(v, "v", rows_kv, block_n);
  return m;
}

}  // namespace moga::rt
