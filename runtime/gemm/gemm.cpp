#include "runtime/gemm/gemm.h"

#include <cublasLt.h>
#include <fmt/format.h>

#include <stdexcept>

#include "runtime/jit/module.h"

namespace moga::gemm {

namespace {

void check(cublasStatus_t s, const char* what, const GemmArgs* a = nullptr) {
  if (s == CUBLAS_STATUS_SUCCESS) return;
  std::string shape;
  if (a)
    shape = fmt::format(" (m={} n={} k={} batch={} trans {}{} lda={} ldb={} ldd={} in {} out {} epilogue {}{})", a->m,
                        a->n, a->k, a->batch, a->transa ? 'T' : 'N', a->transb ? 'T' : 'N', a->lda, a->ldb, a->ldd,
                        a->in == InType::E4M3 ? "e4m3 (row/column scales)" : "bf16",
                        a->out == OutType::BF16 ? "bf16" : "f32", (int)a->epi,
                        a->beta != 0.f ? fmt::format(" beta={}", a->beta) : std::string());
  throw std::runtime_error(fmt::format("cuBLASLt: {} failed: {}{}", what, cublasLtGetStatusString(s), shape));
}

// Largest power of two (<= 256) dividing the address.
uint32_t alignment(CUdeviceptr p) {
  uint32_t a = 256;
  while (a > 1 && (p % a)) a >>= 1;
  return a;
}

struct Plan {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t la = nullptr, lb = nullptr, ld = nullptr;
  cublasLtMatmulAlgo_t algo{};
  ~Plan() {
    if (la) cublasLtMatrixLayoutDestroy(la);
    if (lb) cublasLtMatrixLayoutDestroy(lb);
    if (ld) cublasLtMatrixLayoutDestroy(ld);
    if (desc) cublasLtMatmulDescDestroy(desc);
  }
};

}  // namespace

struct Gemm::Impl {
  cublasLtHandle_t handle = nullptr;
  std::unique_ptr<jit::DeviceBuffer> ws;
  std::map<std::string, std::unique_ptr<Plan>> plans;
  ~Impl() {
    plans.clear();
    if (handle) cublasLtDestroy(handle);
  }
  void init() {
    if (handle) return;
    jit::Device::get().make_current();  // cuBLASLt uses the current (primary) context
    check(cublasLtCreate(&handle), "cublasLtCreate");
    ws = std::make_unique<jit::DeviceBuffer>(kWorkspace);
  }
};

Gemm::Gemm() : impl_(std::make_unique<Impl>()) {}
Gemm::~Gemm() = default;

void Gemm::run(const GemmArgs& a, CUstream stream) {
  const bool fp8 = a.in == InType::E4M3;
  if (fp8 && (!a.transa || a.transb || a.batch != 1 || !a.scale_a || !a.scale_b))
    throw std::invalid_argument(fmt::format("cuBLASLt FP8 GEMM: needs transa = T, transb = N, batch 1 and both scale "
                                            "vectors (got trans {}{}, batch {})",
                                            a.transa ? 'T' : 'N', a.transb ? 'T' : 'N', a.batch));
  impl_->init();
  const uint32_t alA = alignment(a.A), alB = alignment(a.B), alD = alignment(a.D),
                 alBias = a.bias ? alignment(a.bias) : 256;
  const std::string key = fmt::format("{}{} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {}", a.transa ? 'T' : 'N',
                                      a.transb ? 'T' : 'N', a.m, a.n, a.k, a.lda, a.strideA, a.ldb, a.strideB, a.ldd,
                                      a.strideD, (int)a.out, a.batch, (int)a.epi, alA, alB, alD, alBias, a.bias ? 1 : 0) +
                          (fp8 ? " e4m3" : "");
  auto it = impl_->plans.find(key);
  if (it == impl_->plans.end()) {
    auto p = std::make_unique<Plan>();
    const cudaDataType_t dt = a.out == OutType::BF16 ? CUDA_R_16BF : CUDA_R_32F;
    check(cublasLtMatmulDescCreate(&p->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F), "cublasLtMatmulDescCreate", &a);
    const cublasOperation_t ta = a.transa ? CUBLAS_OP_T : CUBLAS_OP_N, tb = a.transb ? CUBLAS_OP_T : CUBLAS_OP_N;
    check(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)), "set TRANSA", &a);
    check(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)), "set TRANSB", &a);
    cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_DEFAULT;
    if (a.epi == Epilogue::Bias) epi = CUBLASLT_EPILOGUE_BIAS;
    if (a.epi == Epilogue::GeluBias) epi = CUBLASLT_EPILOGUE_GELU_BIAS;
    check(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof(epi)), "set EPILOGUE", &a);
    if (fp8) {
      if (a.epi == Epilogue::GeluBias) throw std::invalid_argument("cuBLASLt FP8 GEMM: GELU_BIAS is not used (bias only)");
      const cublasLtMatmulMatrixScale_t vec = CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F;
      check(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_A_SCALE_MODE, &vec, sizeof(vec)), "set A_SCALE_MODE", &a);
      check(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_B_SCALE_MODE, &vec, sizeof(vec)), "set B_SCALE_MODE", &a);
      // Fast accumulation (no periodic promotion of the tensor cores' partial sums), as Transformer Engine's
      // forward GEMMs: the e4m3 rounding of the operands dominates the error.
      const int8_t fast = 1;
      check(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_FAST_ACCUM, &fast, sizeof(fast)), "set FAST_ACCUM", &a);
      if (a.bias) {
        const cudaDataType_t bt = CUDA_R_16BF;
        check(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bt, sizeof(bt)),
              "set BIAS_DATA_TYPE", &a);
      }
    }
    if (a.epi != Epilogue::None) {
      if (!a.bias) throw std::runtime_error("cuBLASLt: a bias epilogue without a bias pointer");
      const void* bp = reinterpret_cast<const void*>(a.bias);
      check(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bp, sizeof(bp)), "set BIAS_POINTER", &a);
    }
    auto layout = [&](cublasLtMatrixLayout_t* l, cudaDataType_t t, uint64_t rows, uint64_t cols, int64_t ld, int64_t stride) {
      check(cublasLtMatrixLayoutCreate(l, t, rows, cols, ld), "cublasLtMatrixLayoutCreate", &a);
      if (a.batch > 1) {
        const int32_t bc = a.batch;
        check(cublasLtMatrixLayoutSetAttribute(*l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &bc, sizeof(bc)), "set BATCH_COUNT", &a);
        check(cublasLtMatrixLayoutSetAttribute(*l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride, sizeof(stride)),
              "set STRIDED_BATCH_OFFSET", &a);
      }
    };
    const cudaDataType_t in_t = fp8 ? CUDA_R_8F_E4M3 : CUDA_R_16BF;
    layout(&p->la, in_t, a.transa ? a.k : a.m, a.transa ? a.m : a.k, a.lda, a.strideA);
    layout(&p->lb, in_t, a.transb ? a.n : a.k, a.transb ? a.k : a.n, a.ldb, a.strideB);
    layout(&p->ld, dt, a.m, a.n, a.ldd, a.strideD);

    if (fp8) {  // the heuristic refuses a vector scale mode without its pointers (INVALID_VALUE); run() resets them
      const void* sa = reinterpret_cast<const void*>(a.scale_a);
      const void* sb = reinterpret_cast<const void*>(a.scale_b);
      check(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &sa, sizeof(sa)), "set A_SCALE_POINTER", &a);
      check(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &sb, sizeof(sb)), "set B_SCALE_POINTER", &a);
    }
    cublasLtMatmulPreference_t pref = nullptr;
    check(cublasLtMatmulPreferenceCreate(&pref), "cublasLtMatmulPreferenceCreate", &a);
    const uint64_t wsb = kWorkspace;
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &wsb, sizeof(wsb));
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &alA, sizeof(alA));
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &alB, sizeof(alB));
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &alD, sizeof(alD));
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &alD, sizeof(alD));
    cublasLtMatmulHeuristicResult_t res{};
    int found = 0;
    cublasStatus_t hs =
        cublasLtMatmulAlgoGetHeuristic(impl_->handle, p->desc, p->la, p->lb, p->ld, p->ld, pref, 1, &res, &found);
    if (fp8 && (hs != CUBLAS_STATUS_SUCCESS || found == 0)) {  // then without fast accumulation
      const int8_t precise = 0;
      check(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_FAST_ACCUM, &precise, sizeof(precise)),
            "set FAST_ACCUM", &a);
      hs = cublasLtMatmulAlgoGetHeuristic(impl_->handle, p->desc, p->la, p->lb, p->ld, p->ld, pref, 1, &res, &found);
    }
    cublasLtMatmulPreferenceDestroy(pref);
    check(hs, "cublasLtMatmulAlgoGetHeuristic", &a);
    if (found == 0) check(CUBLAS_STATUS_NOT_SUPPORTED, "cublasLtMatmulAlgoGetHeuristic (no algorithm)", &a);
    p->algo = res.algo;
    it = impl_->plans.emplace(key, std::move(p)).first;
  }
  Plan& p = *it->second;
  if (a.epi != Epilogue::None) {
    const void* bp = reinterpret_cast<const void*>(a.bias);
    check(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bp, sizeof(bp)), "set BIAS_POINTER", &a);
  }
  if (fp8) {  // the scale vectors change per call (each weight and activation has its own)
    const void* sa = reinterpret_cast<const void*>(a.scale_a);
    const void* sb = reinterpret_cast<const void*>(a.scale_b);
    check(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &sa, sizeof(sa)), "set A_SCALE_POINTER", &a);
    check(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &sb, sizeof(sb)), "set B_SCALE_POINTER", &a);
  }
  const float alpha = a.alpha, beta = a.beta;
  void* D = reinterpret_cast<void*>(a.D);
  check(cublasLtMatmul(impl_->handle, p.desc, &alpha, reinterpret_cast<const void*>(a.A), p.la,
                       reinterpret_cast<const void*>(a.B), p.lb, &beta, D, p.ld, D, p.ld, &p.algo,
                       reinterpret_cast<void*>(impl_->ws->ptr()), kWorkspace, reinterpret_cast<cudaStream_t>(stream)),
        "cublasLtMatmul", &a);
}

namespace {
// Y[rows][out] = X W^T (+ b): transa = T over W [out][in], B = X, m = out, n = rows, k = in (header comment).
GemmArgs linear_args(CUdeviceptr W, CUdeviceptr bias, int out, int in, CUdeviceptr X, long long ldx, int rows, CUdeviceptr Y,
                     long long ldy, Epilogue epi) {
  GemmArgs a;
  a.transa = true, a.transb = false;
  a.m = out, a.n = rows, a.k = in;
  a.A = W, a.lda = in;
  a.B = X, a.ldb = ldx;
  a.D = Y, a.ldd = ldy;
  a.epi = epi;
  a.bias = bias;
  return a;
}
}  // namespace

void Gemm::linear(CUdeviceptr W, CUdeviceptr bias, int out, int in, CUdeviceptr X, long long ldx, int rows, CUdeviceptr Y,
                  long long ldy, Epilogue epi, CUstream stream, OutType ot) {
  GemmArgs a = linear_args(W, bias, out, in, X, ldx, rows, Y, ldy, epi);
  a.out = ot;
  run(a, stream);
}

void Gemm::linear_fp8(CUdeviceptr W8, CUdeviceptr w_scale, CUdeviceptr bias, int out, int in, CUdeviceptr X8, long long ldx,
                      CUdeviceptr x_scale, int rows, CUdeviceptr Y, long long ldy, Epilogue epi, CUstream stream) {
  GemmArgs a = linear_args(W8, bias, out, in, X8, ldx, rows, Y, ldy, epi);
  a.in = InType::E4M3;
  a.scale_a = w_scale, a.scale_b = x_scale;
  run(a, stream);
}

}  // namespace moga::gemm
