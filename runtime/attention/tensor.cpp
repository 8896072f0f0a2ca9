#include "runtime/attention/tensor.h"

#include <fmt/format.h>

namespace moga::rt {

const char* dtype_name(DType t) {
  switch (t) {
    case DType::BF16: return "bf16";
    case DType::F16: return "f16";
    case DType::F32: return "f32";
    case DType::I32: return "i32";
  }
  return "?";
}

int dtype_bytes(DType t) { return t == DType::BF16 || t == DType::F16 ? 2 : 4; }

static TensorView make(CUdeviceptr ptr, DType dtype, std::initializer_list<int64_t> shape) {
  if (shape.size() > (size_t)TensorView::kMaxRank)
    throw ArgumentError(fmt::format("tensor: rank {} above the supported {}", shape.size(), TensorView::kMaxRank));
  TensorView t;
  t.ptr = ptr;
  t.dtype = dtype;
  t.rank = (int)shape.size();
  int i = 0;
  for (int64_t s : shape) t.shape[i++] = s;
  return t;
}

TensorView TensorView::contiguous(CUdeviceptr ptr, DType dtype, std::initializer_list<int64_t> shape) {
  TensorView t = make(ptr, dtype, shape);
  int64_t s = 1;
  for (int i = t.rank - 1; i >= 0; --i) {
    t.strides[i] = s;
    s *= t.shape[i] > 0 ? t.shape[i] : 1;
  }
  return t;
}

TensorView TensorView::strided(CUdeviceptr ptr, DType dtype, std::initializer_list<int64_t> shape,
                               std::initializer_list<int64_t> strides) {
  if (strides.size() != shape.size())
    throw ArgumentError(fmt::format("tensor: {} strides for a shape of rank {}", strides.size(), shape.size()));
  TensorView t = make(ptr, dtype, shape);
  int i = 0;
  for (int64_t s : strides) t.strides[i++] = s;
  return t;
}

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int i = 0; i < rank; ++i) n *= shape[i];
  return rank ? n : 0;
}

int64_t TensorView::extent_bytes() const {
  if (numel() <= 0) return 0;
  int64_t last = 0;
  for (int i = 0; i < rank; ++i) last += (shape[i] - 1) * strides[i];
  return (last + 1) * dtype_bytes(dtype);
}

bool TensorView::is_contiguous() const {
  int64_t s = 1;
  for (int i = rank - 1; i >= 0; --i) {
    if (shape[i] != 1 && strides[i] != s) return false;
    s *= shape[i];
  }
  return true;
}

std::string TensorView::describe() const {
  if (rank == 0) return "no tensor";
  std::string s = fmt::format("{} [", dtype_name(dtype));
  for (int i = 0; i < rank; ++i) s += fmt::format("{}{}", i ? ", " : "", shape[i]);
  s += "]";
  if (!is_contiguous()) {
    s += " strides [";
    for (int i = 0; i < rank; ++i) s += fmt::format("{}{}", i ? ", " : "", strides[i]);
    s += "]";
  }
  return s;
}

static std::string dims(std::initializer_list<std::pair<const char*, int64_t>> d) {
  std::string s = "[";
  bool first = true;
  for (auto& [name, v] : d) {
    s += first ? "" : ", ";
    first = false;
    s += v >= 0 ? fmt::format("{}={}", name, v) : std::string(name);
  }
  return s + "]";
}

void expect_bnhd(const TensorView& t, const char* arg, int64_t B, int64_t N, int64_t H, int64_t D,
                 const char* n_name) {
  const std::string want = fmt::format("bf16 {} with D contiguous", dims({{"B", B}, {n_name, N}, {"H", H}, {"D", D}}));
  if (!t.defined()) throw ArgumentError(fmt::format("{}: expected {}, got no tensor", arg, want));
  if (t.dtype != DType::BF16 || t.rank != 4 || t.strides[3] != 1 || t.shape[0] != B || t.shape[1] != N ||
      t.shape[2] != H || t.shape[3] != D)
    throw ArgumentError(fmt::format("{}: expected {}, got {}", arg, want, t.describe()));
  for (int i = 0; i < 3; ++i) {
    static const char* names[] = {"batch", "token", "head"};
    if (t.strides[i] < 0 || t.strides[i] % 8 != 0)
      throw ArgumentError(fmt::format("{}: {} stride {} (elements) must be a non-negative multiple of 8 "
                                      "(16-byte rows), got {}",
                                      arg, names[i], t.strides[i], t.describe()));
  }
  if (t.strides[1] >= (int64_t(1) << 31))
    throw ArgumentError(fmt::format("{}: token stride {} must be below 2^31 elements", arg, t.strides[1]));
  if (t.ptr % 16 != 0)
    throw ArgumentError(fmt::format("{}: data pointer 0x{:x} must be 16-byte aligned", arg, (unsigned long long)t.ptr));
  if (t.ptr == 0 && t.numel() > 0) throw ArgumentError(fmt::format("{}: null data pointer", arg));
}

void expect_router_x(const TensorView& t, const char* arg, int64_t B, int64_t N) {
  const std::string want = fmt::format("bf16 {} with d_model contiguous", dims({{"B", B}, {"N", N}, {"d_model", -1}}));
  if (!t.defined()) throw ArgumentError(fmt::format("{}: expected {}, got no tensor", arg, want));
  if (t.dtype != DType::BF16 || t.rank != 3 || t.shape[0] != B || t.shape[1] != N || t.strides[2] != 1 ||
      t.shape[2] < 1)
    throw ArgumentError(fmt::format("{}: expected {}, got {}", arg, want, t.describe()));
  if (t.shape[2] % 8 != 0)
    throw ArgumentError(fmt::format("{}: d_model {} must be a multiple of 8 (16-byte loads)", arg, t.shape[2]));
  for (int i = 0; i < 2; ++i)
    if (t.strides[i] < 0 || t.strides[i] % 8 != 0)
      throw ArgumentError(fmt::format("{}: {} stride {} must be a non-negative multiple of 8 elements, got {}", arg,
                                      i == 0 ? "batch" : "token", t.strides[i], t.describe()));
  if (t.ptr % 16 != 0)
    throw ArgumentError(fmt::format("{}: data pointer 0x{:x} must be 16-byte aligned", arg, (unsigned long long)t.ptr));
  if (t.ptr == 0) throw ArgumentError(fmt::format("{}: null data pointer", arg));
}

void expect_router_w(const TensorView& t, const char* arg, int64_t d_model, int64_t M) {
  const std::string want = fmt::format("bf16 {}", dims({{"d_model", d_model}, {"M", M}}));
  if (!t.defined()) throw ArgumentError(fmt::format("{}: expected {}, got no tensor", arg, want));
  if (t.dtype != DType::BF16 || t.rank != 2 || t.shape[0] != d_model || t.shape[1] != M || t.strides[0] < 0 ||
      t.strides[1] < 0)
    throw ArgumentError(fmt::format("{}: expected {}, got {}", arg, want, t.describe()));
  if (t.ptr % 2 != 0 || t.ptr == 0)
    throw ArgumentError(fmt::format("{}: data pointer 0x{:x} must be non-null and 2-byte aligned", arg,
                                    (unsigned long long)t.ptr));
}

bool overlaps(const TensorView& a, const TensorView& b) {
  const int64_t ea = a.extent_bytes(), eb = b.extent_bytes();
  if (ea == 0 || eb == 0) return false;
  return a.ptr < b.ptr + (CUdeviceptr)eb && b.ptr < a.ptr + (CUdeviceptr)ea;
}

}  // namespace moga::rt
