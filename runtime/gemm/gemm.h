// cuBLASLt GEMMs of the GPU backend: bf16 operands, fp32 accumulation, bf16 (or f32) output, bias and
// GELU(tanh)+bias in the epilogue, strided batches (unused by the model since cross-attention runs in the
// fused attention kernel; kept for A/B checks). FP8 (`--gemm-precision fp8`): e4m3 operands with one f32
// scale per row of A and per column of B (cuBLASLt's outer-vector scaling, CUBLASLT_MATMUL_MATRIX_SCALE_
// OUTER_VEC_32F: Hopper only, cuBLAS >= 12.9), i.e. per output channel of the weight and per token.
//
// Column-major, as cuBLASLt: D[m x n] = alpha * op(A) op(B) (+ beta * D) (+ bias[m] broadcast over columns).
// A row-major activation X [rows][in] is the column-major in x rows matrix with ld = its row stride, and
// a torch nn.Linear weight W [out][in] is the column-major in x out matrix: Y = X W^T + b is
// gemm(transa = T, A = W, B = X) with m = out, n = rows, k = in (see Gemm::linear).
//
// The handle is created on first use (never at load or in a static initialiser), so binaries that link
// this run on machines without a GPU. One plan (descriptors + the heuristic's algorithm) is cached per
// shape/type/alignment key.
#pragma once

#include <cuda.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>

namespace moga::gemm {

enum class Epilogue { None, Bias, GeluBias };
enum class OutType { BF16, F32 };
enum class InType { BF16, E4M3 };

struct GemmArgs {
  bool transa = false, transb = false;
  int m = 0, n = 0, k = 0;
  CUdeviceptr A = 0;  // bf16, stored (transa ? k x m : m x k), column-major
  long long lda = 0, strideA = 0;
  CUdeviceptr B = 0;  // bf16, stored (transb ? n x k : k x n)
  long long ldb = 0, strideB = 0;
  CUdeviceptr D = 0;  // m x n
  long long ldd = 0, strideD = 0;
  OutType out = OutType::BF16;
  int batch = 1;
  float alpha = 1.f;
  float beta = 0.f;  // D = alpha op(A) op(B) + beta D (D read as C: the router's accumulated dx); 0: D not read
  Epilogue epi = Epilogue::None;
  CUdeviceptr bias = 0;  // [m], bf16 for a bf16 output, f32 for f32
  // E4M3: A and B are e4m3 (transa = T, transb = N: cuBLASLt's FP8 layout rule), D = (A B) * scale_a[i] *
  // scale_b[j] (+ bias); scale_a f32 [m], scale_b f32 [n]; batch 1.
  InType in = InType::BF16;
  CUdeviceptr scale_a = 0, scale_b = 0;
};

class Gemm {
 public:
  Gemm();  // no cuBLASLt call yet
  ~Gemm();
  Gemm(const Gemm&) = delete;
  Gemm& operator=(const Gemm&) = delete;

  // Throws std::runtime_error naming the shape and cuBLASLt's status on any failure (no algorithm
  // for the shape included).
  void run(const GemmArgs& a, CUstream stream);

  // Y[rows][out] (row stride ldy) = X[rows][in] (row stride ldx) . W^T + b, W bf16 [out][in] row-major.
  void linear(CUdeviceptr W, CUdeviceptr bias, int out, int in, CUdeviceptr X, long long ldx, int rows, CUdeviceptr Y,
              long long ldy, Epilogue epi, CUstream stream, OutType ot = OutType::BF16);

  // The same from e4m3 operands (InType::E4M3): W8 [out][in] with w_scale f32 [out], X8 [rows][in] (row
  // stride ldx bytes) with x_scale f32 [rows]; Y bf16. Bias or no epilogue (GELU runs in the quantization
  // of its output, dit_quant_rows).
  void linear_fp8(CUdeviceptr W8, CUdeviceptr w_scale, CUdeviceptr bias, int out, int in, CUdeviceptr X8, long long ldx,
                  CUdeviceptr x_scale, int rows, CUdeviceptr Y, long long ldy, Epilogue epi, CUstream stream);

  size_t workspace_bytes() const { return kWorkspace; }
  static constexpr size_t kWorkspace = 32u << 20;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace moga::gemm
