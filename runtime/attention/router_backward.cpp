#include "runtime/attention/router_backward.h"

#include <fmt/format.h>

#include <algorithm>

#include "kernels_src/cuda/router_bwd.cuh"
#include "runtime/jit/check.h"
#include "runtime/jit/driver.h"
#include "runtime/jit/jit.h"
#include "runtime/jit/module.h"
#include "runtime/kernels/embedded.h"

namespace moga::rt {

namespace {
const std::string kSource = "#include \"router_bwd.cuh\"\n";
const char* kExprs[] = {"moga::router_bwd_hist_kernel",
                        "moga::router_bwd_gemm_kernel<true, true, 64>",    // logits = x W
                        "moga::router_bwd_gemm_kernel<false, true, 64>",   // dx = dl W^T
                        "moga::router_bwd_gemm_kernel<true, false, 64>",   // dW partials = x^T dl
                        "moga::router_bwd_softmax_kernel",
                        "moga::router_bwd_loss_kernel",
                        "moga::router_bwd_reduce_kernel",
                        "moga::router_bwd_gemm_kernel<true, true, 16>",    // logits, M <= 16
                        "moga::router_bwd_gemm_kernel<true, false, 16>"};  // dW partials, M <= 16
constexpr int kExprCount = sizeof(kExprs) / sizeof(kExprs[0]);
constexpr int kSplitK = 512;  // tokens per dW partial

void launch(CUfunction f, unsigned gx, unsigned gy, unsigned gz, CUstream st, void** args) {
  CU_CHECK(jit::driver().cuLaunchKernel(f, gx, gy, gz, 256, 1, 1, 0, st, args, nullptr));
}
unsigned cdiv(long long a, long long b) { return (unsigned)((a + b - 1) / b); }
}  // namespace

struct RouterBackward::Impl {
  jit::CompiledKernel ck;
  std::unique_ptr<jit::Module> mod;
  CUfunction f[kExprCount] = {};
  std::unique_ptr<jit::DeviceBuffer> dl, counts, psum, part, lpart;
  PhaseTimer timer;
  jit::CompileOptions options(const RouterBackwardOptions& o) const {
    jit::CompileOptions c;
    c.name = "moga-router-bwd";
    c.arch = o.arch;
    for (const auto& h : kernels::embedded_headers()) c.headers.push_back({h.name, h.text});
    c.name_expressions.assign(std::begin(kExprs), std::end(kExprs));
    return c;
  }
  void load(const RouterBackwardOptions& o) {
    if (mod) return;
    ck = jit::compile(kSource, options(o));
    mod = std::make_unique<jit::Module>(ck, jit::Device::get());
    for (int i = 0; i < kExprCount; ++i) f[i] = mod->function(ck.symbol(kExprs[i]).c_str());
  }
  template <class T>
  static T* buf(std::unique_ptr<jit::DeviceBuffer>& b, size_t bytes) {
    if (!b || b->bytes() < bytes) {
      b.reset();
      b = std::make_unique<jit::DeviceBuffer>(std::max<size_t>(bytes, 16));
    }
    return reinterpret_cast<T*>(b->ptr());
  }
};

RouterBackward::RouterBackward(int M, int topk, RouterBackwardOptions options)
    : M_(M), k_(topk), options_(std::move(options)), impl_(std::make_unique<Impl>()) {
  if (M < 1 || M > 256) throw ArgumentError(fmt::format("RouterBackward: M = {}: the router has 1..256 groups", M));
  if (topk < 1 || topk > std::min(M, 8))
    throw ArgumentError(fmt::format("RouterBackward: top {} of M = {}: k must be in 1..min(M, 8)", topk, M));
  if (!(options_.balance_weight >= 0))
    throw ArgumentError(fmt::format("RouterBackward: balance_weight {} must be >= 0", options_.balance_weight));
}

RouterBackward::~RouterBackward() = default;

std::vector<TimedPhase> RouterBackward::last_phases() { return impl_->timer.phases(); }

void RouterBackward::validate(const RouterBackwardArgs& a) const {
  const TensorView& x = a.x;
  if (!x.defined() || x.dtype != DType::BF16 || x.rank != 3 || x.strides[2] != 1 || x.shape[2] < 1)
    throw ArgumentError(fmt::format("x: expected bf16 [B, N, d_model] with d_model contiguous, got {}",
                                    x.defined() ? x.describe() : "no tensor"));
  const int64_t B = x.shape[0], N = x.shape[1], d = x.shape[2];
  if (B > 1 && x.strides[0] != N * x.strides[1])
    throw ArgumentError(fmt::format("x: the batch stride {} must be N times the token stride ({} x {}): the tokens "
                                    "are read as one [B N, d_model] matrix, got {}",
                                    x.strides[0], N, x.strides[1], x.describe()));
  if (B * N >= (int64_t(1) << 31) || B * N * x.strides[1] >= (int64_t(1) << 40))
    throw ArgumentError(fmt::format("x: {} tokens is too many for one call", B * N));
  expect_router_w(a.w, "w", d, M_);
  if (!a.routing.gid || a.routing.gid % 4)
    throw ArgumentError("routing.gid: missing or not 4-byte aligned (device int32 [B][N][k], the forward's routing)");
  const std::pair<CUdeviceptr, const char*> f32[] = {{a.dgate, "dgate"}, {a.dx, "dx"}, {a.dw, "dw"},
                                                     {a.dlogits, "dlogits"}, {a.balance_loss, "balance_loss"}};
  for (const auto& [p, name] : f32)
    if (p % 4) throw ArgumentError(fmt::format("{}: not 4-byte aligned", name));
  if (!a.dx || !a.dw) throw ArgumentError("dx / dw: missing (float32 [B][N][d_model] and [d_model][M])");
  if (a.balance_loss && options_.balance_weight == 0)
    throw ArgumentError("balance_loss given, but RouterBackwardOptions::balance_weight is 0 (no balance loss)");
  if (!a.dgate && options_.balance_weight == 0)
    throw ArgumentError("dgate: missing, and no balance loss: the router has no gradient to compute");
}

std::vector<std::string> RouterBackward::compile() {
  jit::compile(kSource, impl_->options(options_));
  return {std::begin(kExprs), std::end(kExprs)};
}

void RouterBackward::run(const RouterBackwardArgs& a, CUstream stream) {
  validate(a);
  jit::Device::get().make_current();
  Impl& im = *impl_;
  im.load(options_);
  const int T = (int)(a.x.shape[0] * a.x.shape[1]), d = (int)a.x.shape[2], M = M_;
  const long long xs = a.x.strides[1];
  const bool balance = options_.balance_weight > 0;

  RouterBwdParams p{};
  p.dl = a.dlogits ? reinterpret_cast<float*>(a.dlogits) : im.buf<float>(im.dl, (size_t)T * M * 4);
  p.gid = reinterpret_cast<const int*>(a.routing.gid);
  p.dgate = reinterpret_cast<const float*>(a.dgate);
  p.T = T, p.M = M, p.k = k_;
  p.balance_weight = (float)options_.balance_weight;
  const unsigned sblocks = std::min<unsigned>(cdiv(T, 8), 1024);
  PhaseTimer& tm = im.timer;
  tm.enabled = options_.time_phases;
  tm.start();
  if (balance) {
    tm.mark("group counts", stream);
    int* counts = im.buf<int>(im.counts, (size_t)M * 4);
    CU_CHECK(jit::driver().cuMemsetD32Async((CUdeviceptr)counts, 0, M, stream));
    p.counts = counts;
    p.psum = im.buf<float>(im.psum, (size_t)sblocks * M * 4);
    p.loss = reinterpret_cast<float*>(a.balance_loss);
    void* args[] = {&p};
    launch(im.f[0], std::min<unsigned>(cdiv((long long)T * k_, 256), 4096), 1, 1, stream, args);
  }
  // fi: the 64 x 64 instantiation; fi16 (or -1): the 256 x 16 one, taken when n <= 16 (router_bwd.cuh)
  auto gemm = [&](int fi, int fi16, const void* A, long long sa0, long long sa1, const void* Bm, long long sb0,
                  long long sb1, float* C, long long ldc, int m, int n, int k, int k_split, bool acc) {
    RouterGemmParams g{A, Bm, C, sa0, sa1, sb0, sb1, ldc, (long long)m * ldc, m, n, k, k_split, acc ? 1 : 0};
    void* args[] = {&g};
    const bool skinny = fi16 >= 0 && n <= 16;
    const int tn = skinny ? 16 : 64, tmr = 4096 / tn;
    launch(im.f[skinny ? fi16 : fi], cdiv(n, tn), cdiv(m, tmr), cdiv(k, k_split), stream, args);
  };
  auto reduce = [&](const float* part, float* out, long long n, int splits) {
    void* args[] = {&part, &out, &n, &splits};
    launch(im.f[6], std::min<unsigned>(cdiv(n, 256), 4096), 1, 1, stream, args);
  };
  const void* x = reinterpret_cast<const void*>(a.x.ptr);
  const void* w = reinterpret_cast<const void*>(a.w.ptr);
  const long long w0 = a.w.strides[0], w1 = a.w.strides[1];
  tm.mark("logits = x W", stream);
  {
    // logits = x W; skinny (M <= 16): T / 256 row blocks, so the d_model sum is split (fixed-order reduce) until
    // there are ~4 blocks per SM's worth
    const long long row_blocks = cdiv(T, M <= 16 ? 256 : 64);
    const int want = (int)std::clamp<long long>(512 / std::max<long long>(row_blocks, 1), 1, 8);
    const int ks = (int)((cdiv(d, want) + 15) / 16 * 16), lsplits = (int)cdiv(d, ks);
    if (lsplits == 1) {
      gemm(1, 7, x, xs, 1, w, w0, w1, p.dl, M, T, M, d, d, false);
    } else {
      float* lp = im.buf<float>(im.lpart, (size_t)lsplits * T * M * 4);
      gemm(1, 7, x, xs, 1, w, w0, w1, lp, M, T, M, d, ks, false);
      reduce(lp, p.dl, (long long)T * M, lsplits);
    }
  }
  tm.mark("softmax Jacobian", stream);
  {
    void* args[] = {&p};
    launch(im.f[4], sblocks, 1, 1, stream, args);
  }
  if (p.loss) {
    tm.mark("balance loss", stream);
    int blocks = (int)sblocks;
    void* args[] = {&p, &blocks};
    launch(im.f[5], 1, 1, 1, stream, args);
  }
  // dx = dl W^T: B(k = m, j) = W[j][m]
  tm.mark("dx = dl W^T", stream);
  gemm(2, -1, p.dl, M, 1, w, w1, w0, reinterpret_cast<float*>(a.dx), d, T, d, M, M, a.accumulate_dx);
  // dW = x^T dl: A(i = feature, k = token) = x[token][feature], split-K partials then a fixed-order sum
  int splits = (int)cdiv(T, kSplitK);
  float* part = im.buf<float>(im.part, (size_t)splits * d * M * 4);
  tm.mark("dW partials = x^T dl", stream);
  gemm(3, 8, x, 1, xs, p.dl, M, 1, part, M, d, M, T, kSplitK, false);
  tm.mark("dW reduce", stream);
  reduce(part, reinterpret_cast<float*>(a.dw), (long long)d * M, splits);
  tm.mark("end", stream);
}

}  // namespace moga::rt
