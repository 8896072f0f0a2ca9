// A small view of a device tensor (pointer, dtype, shape, strides in elements) and the checks the
// attention runtime applies to its arguments. No device access: every check here runs on the host
// from the view alone, so validation works (and is tested) without a GPU.
//
//   TensorView q = TensorView::contiguous(ptr, DType::BF16, {B, N, H, D});
//   expect_bhnd(q, "q", ...)   // throws ArgumentError:
//   "q: expected bf16 [B, N, H, D] with D contiguous, got f32 [2, 100, 12]"
#pragma once

#include <cuda.h>

#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>

namespace moga::rt {

enum class DType { BF16, F16, F32, I32 };
const char* dtype_name(DType t);  // "bf16", "f16", "f32", "i32"
int dtype_bytes(DType t);

// A wrong argument to the runtime (shape, dtype, strides, alignment, missing input). Raised before
// any launch; the message names the argument and says what was expected and what was given.
class ArgumentError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

struct TensorView {
  static constexpr int kMaxRank = 6;
  CUdeviceptr ptr = 0;
  DType dtype = DType::BF16;
  int rank = 0;
  int64_t shape[kMaxRank] = {};
  int64_t strides[kMaxRank] = {};  // in elements

  TensorView() = default;
  // Row-major strides.
  static TensorView contiguous(CUdeviceptr ptr, DType dtype, std::initializer_list<int64_t> shape);
  // Explicit strides (same length as shape).
  static TensorView strided(CUdeviceptr ptr, DType dtype, std::initializer_list<int64_t> shape,
                            std::initializer_list<int64_t> strides);

  bool defined() const { return rank > 0; }
  int64_t numel() const;
  // Bytes from ptr to one past the last element (0 when empty); negative strides are not allowed.
  int64_t extent_bytes() const;
  // "bf16 [2, 100, 12, 128]" and, when not contiguous, " strides [..]".
  std::string describe() const;
  bool is_contiguous() const;
};

// Checks (throw ArgumentError naming `arg`).
// q/k/v/out: bf16 [B, N, H, D] with D contiguous; batch/token/head strides multiples of 8 elements,
// ptr 16-byte aligned, token stride < 2^31 elements. n_name: how the message names the token count
// ("Nk" for keys/values of another length than the queries).
void expect_bnhd(const TensorView& t, const char* arg, int64_t B, int64_t N, int64_t H, int64_t D,
                 const char* n_name = "N");
// x: bf16 [B, N, d] with d contiguous, d, batch and token strides multiples of 8, 16-byte aligned.
void expect_router_x(const TensorView& t, const char* arg, int64_t B, int64_t N);
// W_r: bf16 [d_model, M], any non-negative strides (packed on the device).
void expect_router_w(const TensorView& t, const char* arg, int64_t d_model, int64_t M);
// Two views whose byte ranges overlap (out must not alias an input).
bool overlaps(const TensorView& a, const TensorView& b);

}  // namespace moga::rt
