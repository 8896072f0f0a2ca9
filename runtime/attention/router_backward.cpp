#include "runtime/attention/router_backward.h"

#include <fmt/format.h>

#include <algorithm>

#include "kernels_src/cuda/router_bwd.cuh"
#include "runtime/gemm/gemm.h"
#include "runtime/jit/check.h"
#include "runtime/jit/driver.h"
#include "runtime/jit/jit.h"
#include "runtime/jit/module.h"
#include "runtime/kernels/embedded.h"

namespace moga::rt {

namespace {
const std::string kSource = "#include \"router_bwd.cuh\"\n";
const char* kExprs[] = {"moga::router_bwd_hist_kernel", "moga::router_bwd_pack_w_kernel",
                        "moga::router_bwd_softmax_kernel", "moga::router_bwd_loss_kernel",
                        "moga::router_bwd_fold_kernel"};
enum { kHist, kPack, kSoftmax, kLoss, kFold, kExprCount };
static_assert(sizeof(kExprs) / sizeof(kExprs[0]) == kExprCount);

void launch(CUfunction f, unsigned gx, CUstream st, void** args) {
  CU_CHECK(jit::driver().cuLaunchKernel(f, gx, 1, 1, 256, 1, 1, 0, st, args, nullptr));
}
unsigned cdiv(long long a, long long b) { return (unsigned)((a + b - 1) / b); }
long long round_up(long long a, long long b) { return (a + b - 1) / b * b; }
}  // namespace

struct RouterBackward::Impl {
  jit::CompiledKernel ck;
  std::unique_ptr<jit::Module> mod;
  CUfunction f[kExprCount] = {};
  // wp: [W^T; W^T] bf16 [2M][d]; lg: the logits [T][ldl]; hl: [hi | lo] bf16 [T][ldh]; r: x^T [hi | lo] [2M][d]
  std::unique_ptr<jit::DeviceBuffer> wp, lg, hl, r, counts, psum;
  gemm::Gemm gemm;  // cuBLASLt: its handle and workspace on the first run
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
  // cuBLASLt reads x as a bf16 operand: d_model and the strides multiples of 8 elements, the pointer 16-byte
  // aligned (what the forward's router asks of x too)
  expect_router_x(x, "x", B, N);
  if (B * N > 1 && x.strides[1] < d)
    throw ArgumentError(fmt::format("x: the token stride {} is below d_model {} (rows overlap), got {}", x.strides[1],
                                    d, x.describe()));
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
  int T = (int)(a.x.shape[0] * a.x.shape[1]), d = (int)a.x.shape[2], M = M_;  // (kernel arguments: not const)
  const long long xs = a.x.strides[1];
  const bool balance = options_.balance_weight > 0;
  const jit::Driver& drv = jit::driver();
  if (T == 0) {  // no token: dW = 0 (dx and dlogits are empty), the balance loss 0
    CU_CHECK(drv.cuMemsetD32Async(a.dw, 0, (size_t)d * M, stream));
    if (a.balance_loss) CU_CHECK(drv.cuMemsetD32Async(a.balance_loss, 0, 1, stream));
    return;
  }
  // Leading dimensions padded to 16 bytes (cuBLASLt's vectorised kernels): the logits' float32 rows to 4, the
  // bf16 [hi | lo] rows to 8 elements (d is a multiple of 8: validate()).
  const int ldl = (int)round_up(M, 4), ldh = (int)round_up(2 * M, 8);

  RouterBwdParams p{};
  p.logits = im.buf<float>(im.lg, (size_t)T * ldl * 4);
  p.dl = reinterpret_cast<float*>(a.dlogits);
  p.hl = im.buf<unsigned short>(im.hl, (size_t)T * ldh * 2);
  p.gid = reinterpret_cast<const int*>(a.routing.gid);
  p.dgate = reinterpret_cast<const float*>(a.dgate);
  p.T = T, p.M = M, p.k = k_, p.ldl = ldl, p.ldh = ldh;
  p.balance_weight = (float)options_.balance_weight;
  const unsigned sblocks = std::min<unsigned>(cdiv(T, 8), 1024);
  const CUdeviceptr wp = (CUdeviceptr)im.buf<unsigned short>(im.wp, (size_t)2 * M * d * 2);
  PhaseTimer& tm = im.timer;
  tm.enabled = options_.time_phases;
  tm.start();
  if (balance) {
    tm.mark("group counts", stream);
    int* counts = im.buf<int>(im.counts, (size_t)M * 4);
    CU_CHECK(drv.cuMemsetD32Async((CUdeviceptr)counts, 0, M, stream));
    p.counts = counts;
    p.psum = im.buf<float>(im.psum, (size_t)sblocks * M * 4);
    p.loss = reinterpret_cast<float*>(a.balance_loss);
    void* args[] = {&p};
    launch(im.f[kHist], std::min<unsigned>(cdiv((long long)T * k_, 256), 1024), stream, args);
  }
  tm.mark("pack [W^T; W^T] (bf16 [2M][d])", stream);
  {
    const void* w = reinterpret_cast<const void*>(a.w.ptr);
    long long s0 = a.w.strides[0], s1 = a.w.strides[1];
    void* dst = reinterpret_cast<void*>(wp);
    void* args[] = {&w, &s0, &s1, &dst, &d, &M};
    launch(im.f[kPack], std::min<unsigned>(cdiv(2LL * M * d, 256), 1024), stream, args);
  }
  // Column-major throughout (gemm.h): x [T][d] row-major is the d x T matrix with ld xs; wp [2M][d] the d x 2M
  // one with ld d (its first M columns are W); [hi | lo] [T][ldh] the ldh x T one.
  gemm::GemmArgs g;
  g.out = gemm::OutType::F32;
  tm.mark("logits = x W (cuBLASLt)", stream);
  g.transa = true, g.transb = false;  // logits^T (M x T) = W^T (M x d) . x^T (d x T)
  g.m = M, g.n = T, g.k = d;
  g.A = wp, g.lda = d;
  g.B = a.x.ptr, g.ldb = xs;
  g.D = (CUdeviceptr)p.logits, g.ldd = ldl;
  im.gemm.run(g, stream);
  tm.mark("softmax Jacobian, dl as bf16 hi + lo", stream);
  {
    void* args[] = {&p};
    launch(im.f[kSoftmax], sblocks, stream, args);
  }
  if (p.loss) {
    tm.mark("balance loss", stream);
    int blocks = (int)sblocks;
    void* args[] = {&p, &blocks};
    launch(im.f[kLoss], 1, stream, args);
  }
  tm.mark("dx = [hi | lo] [W^T; W^T] (cuBLASLt)", stream);
  g.transa = false, g.transb = false;  // dx^T (d x T) = [W | W] (d x 2M) . [hi | lo]^T (2M x T)
  g.m = d, g.n = T, g.k = 2 * M;
  g.A = wp, g.lda = d;
  g.B = (CUdeviceptr)p.hl, g.ldb = ldh;
  g.D = a.dx, g.ldd = d;
  g.beta = a.accumulate_dx ? 1.f : 0.f;
  im.gemm.run(g, stream);
  g.beta = 0.f;
  tm.mark("dW = x^T [hi | lo] (cuBLASLt)", stream);
  float* r = im.buf<float>(im.r, (size_t)2 * M * d * 4);
  g.transa = false, g.transb = true;  // R (d x 2M) = x^T (d x T) . [hi | lo] (T x 2M); cuBLASLt splits T itself
  g.m = d, g.n = 2 * M, g.k = T;
  g.A = a.x.ptr, g.lda = xs;
  g.B = (CUdeviceptr)p.hl, g.ldb = ldh;
  g.D = (CUdeviceptr)r, g.ldd = d;
  im.gemm.run(g, stream);
  tm.mark("dW fold: hi part + lo part", stream);
  {
    const float* rp = r;
    float* dw = reinterpret_cast<float*>(a.dw);
    void* args[] = {&rp, &dw, &d, &M};
    launch(im.f[kFold], std::min<unsigned>(cdiv((long long)d * M, 256), 1024), stream, args);
  }
  tm.mark("end", stream);
}

}  // namespace moga::rt
