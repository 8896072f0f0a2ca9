#include "runtime/model/gpu/dit.h"

#include <dlfcn.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <thread>

#include "runtime/jit/check.h"
#include "runtime/jit/driver.h"
#include "runtime/kernels/embedded.h"
#include "runtime/model/cpu/dit.h"
#include "runtime/model/cpu/embedding.h"
#include "runtime/model/cpu/rope.h"
#include "runtime/attention/registry.h"
#include "runtime/gemm/gemm.h"
#include "runtime/model/gpu/row_kernels.h"
#include "runtime/model/router_calibration.h"
#include "runtime/parallel/nccl_comm.h"
#include "runtime/parallel/sharding.h"
#include "runtime/tune/select.h"
#include "runtime/parallel/ring_gpu.h"
#include "runtime/parallel/ulysses_gpu.h"

namespace moga::model::gpu {

using gemm::Epilogue;
using gemm::GemmArgs;
using gemm::InType;
using gemm::OutType;

namespace {

constexpr size_t kMargin = 160u << 20;       // modules, cuBLASLt's own allocations, attention workspaces

size_t align256(size_t x) { return (x + 255) & ~size_t(255); }


// Where each checkpoint tensor lives in the weight arena. Concatenated groups (q|k|v, k|v of the
// cross-attention, and their biases) are contiguous so that one GEMM reads them as one weight.
struct Slot {
  size_t offset = 0;
  long long numel = 0;
  bool f32 = false;
};
struct WeightLayout {
  size_t bytes = 0;
  std::map<std::string, Slot> slots;
  void add(const std::string& name, long long numel, bool f32 = false) {
    bytes = align256(bytes);
    slots[name] = {bytes, numel, f32};
    bytes += (size_t)numel * (f32 ? 4 : 2);
  }
  void concat(const std::vector<std::string>& names, long long numel) {
    bytes = align256(bytes);
    for (const auto& n : names) {
      slots[n] = {bytes, numel, false};
      bytes += (size_t)numel * 2;
    }
  }
};

WeightLayout make_layout(const ModelConfig& c, int M) {
  WeightLayout L;
  const long long d = c.dim, f = c.ffn_dim;
  L.add("patch_embedding.weight", d * c.in_channels * c.patch_volume());
  L.add("patch_embedding.bias", d);
  L.add("text_embedding.0.weight", d * c.text_dim);
  L.add("text_embedding.0.bias", d);
  L.add("text_embedding.2.weight", d * d);
  L.add("text_embedding.2.bias", d);
  L.add("time_embedding.0.weight", d * c.freq_dim);
  L.add("time_embedding.0.bias", d);
  L.add("time_embedding.2.weight", d * d);
  L.add("time_embedding.2.bias", d);
  L.add("time_projection.1.weight", 6 * d * d);
  L.add("time_projection.1.bias", 6 * d);
  L.add("head.head.weight", (long long)c.head_out() * d);
  L.add("head.head.bias", c.head_out());
  L.add("head.modulation", 2 * d, true);
  for (int i = 0; i < c.layers; ++i) {
    const std::string p = "blocks." + std::to_string(i) + ".";
    L.add(p + "modulation", 6 * d, true);
    L.concat({p + "self_attn.q.weight", p + "self_attn.k.weight", p + "self_attn.v.weight"}, d * d);
    L.concat({p + "self_attn.q.bias", p + "self_attn.k.bias", p + "self_attn.v.bias"}, d);
    L.add(p + "self_attn.o.weight", d * d);
    L.add(p + "self_attn.o.bias", d);
    L.add(p + "self_attn.norm_q.weight", d, true);
    L.add(p + "self_attn.norm_k.weight", d, true);
    if (M > 0) L.add(p + "self_attn.router.weight", (long long)M * d);
    L.add(p + "cross_attn.q.weight", d * d);
    L.add(p + "cross_attn.q.bias", d);
    L.concat({p + "cross_attn.k.weight", p + "cross_attn.v.weight"}, d * d);
    L.concat({p + "cross_attn.k.bias", p + "cross_attn.v.bias"}, d);
    L.add(p + "cross_attn.o.weight", d * d);
    L.add(p + "cross_attn.o.bias", d);
    L.add(p + "cross_attn.norm_q.weight", d, true);
    L.add(p + "cross_attn.norm_k.weight", d, true);
    L.add(p + "norm3.weight", d, true);
    L.add(p + "norm3.bias", d, true);
    L.add(p + "ffn.0.weight", f * d);
    L.add(p + "ffn.0.bias", f);
    L.add(p + "ffn.2.weight", d * f);
    L.add(p + "ffn.2.bias", d);
  }
  L.bytes = align256(L.bytes);
  return L;
}

size_t activation_bytes(const ModelConfig& c, long long N) {
  const long long d = c.dim, P = (long long)c.in_channels * c.patch_volume(), O = c.head_out();
  size_t b = 0;
  b += align256(N * d * 4);              // x (f32 residual stream)
  b += align256(N * d * 2) * 3;          // h, a (attention out), y (GEMM out)
  b += align256(N * 3 * d * 2);          // q|k|v
  b += align256(N * c.ffn_dim * 2);      // FFN hidden
  b += align256(N * P * 2);              // patches
  b += align256(N * O * 2);              // head output
  b += align256(N * P * 4) + align256(N * O * 4);  // latent in, velocity out (f32)
  b += align256(N * (c.head_dim() / 2) * 2 * 4);   // RoPE cos/sin
  b += align256((8 * d + c.freq_dim) * 4);        // time embedding
  return b;
}

size_t context_bytes(const ModelConfig& c) {
  const long long T = c.text_len, d = c.dim;
  // kept: every block's k|v; transient while embedding: f32 + bf16 context, two [T][d] bf16
  return align256((size_t)c.layers * T * 2 * d * 2) + align256(T * c.text_dim * 4) + align256(T * c.text_dim * 2) +
         2 * align256(T * d * 2);
}

// cuMemGetInfo is not in runtime/jit's driver table: looked up in the already loaded driver.
using MemGetInfoFn = CUresult (*)(size_t*, size_t*);
MemGetInfoFn mem_get_info() {
  static MemGetInfoFn fn = [] {
    (void)jit::driver();  // loads libcuda.so.1 or throws "no CUDA device"
    void* h = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_NOLOAD);
    if (!h) h = dlopen("libcuda.so.1", RTLD_LAZY);
    void* s = h ? dlsym(h, "cuMemGetInfo_v2") : nullptr;
    if (!s) throw std::runtime_error("no CUDA device: cuMemGetInfo_v2 not found in libcuda.so.1");
    return reinterpret_cast<MemGetInfoFn>(s);
  }();
  return fn;
}

// Per-stage GPU time from events recorded between stages (read after the forward's final sync). A mark
// gives the time since the previous mark to a stage and, optionally, to one part of it (cross-attention,
// the router, the router calibration), to a branch of the self-attention by name, or to the exchanges.
class StageEvents {
 public:
  ~StageEvents() {
    for (CUevent e : pool_) jit::driver().cuEventDestroy(e);
  }
  void begin(CUstream s) {
    used_ = 0;
    marks_.clear();
    record(s, {});
  }
  struct Mark {
    double StageTimes::*field = nullptr;
    double StageTimes::*part = nullptr;
    const std::string* branch = nullptr;  // StageTimes::branches key (outlives the forward)
    bool comm = false;
  };
  void mark(CUstream s, double StageTimes::*field, double StageTimes::*part = nullptr) { record(s, {field, part}); }
  void mark_branch(CUstream s, const std::string* branch) { record(s, {&StageTimes::attention, nullptr, branch}); }
  void mark_comm(CUstream s) { record(s, {&StageTimes::other, nullptr, nullptr, true}); }
  void collect(StageTimes* t, double* cross = nullptr, double* comm = nullptr) {
    if ((!t && !cross && !comm) || used_ < 2) return;
    CU_CHECK(jit::driver().cuEventSynchronize(pool_[used_ - 1]));
    for (size_t i = 1; i < used_; ++i) {
      float ms = 0.f;
      CU_CHECK(jit::driver().cuEventElapsedTime(&ms, pool_[i - 1], pool_[i]));
      const double sec = ms * 1e-3;
      const Mark& m = marks_[i];
      if (t) {
        t->*m.field += sec;
        if (m.part) t->*m.part += sec;
        if (m.branch) t->branches[*m.branch] += sec;
      }
      if (cross && m.part == &StageTimes::cross) *cross += sec;
      if (comm && m.comm) *comm += sec;
    }
  }

 private:
  void record(CUstream s, const Mark& m) {
    if (used_ == pool_.size()) {
      CUevent e;
      CU_CHECK(jit::driver().cuEventCreate(&e, CU_EVENT_DEFAULT));
      pool_.push_back(e);
    }
    CU_CHECK(jit::driver().cuEventRecord(pool_[used_++], s));
    marks_.push_back(m);
  }
  std::vector<CUevent> pool_;
  std::vector<Mark> marks_;
  size_t used_ = 0;
};

struct Grow {
  std::unique_ptr<jit::DeviceBuffer> b;
  CUdeviceptr ptr() const { return b ? b->ptr() : 0; }
  CUdeviceptr ensure(size_t bytes) {
    bytes = std::max<size_t>(bytes, 256);
    if (!b || b->bytes() < bytes) {
      b.reset();
      b = std::make_unique<jit::DeviceBuffer>(bytes);
    }
    return b->ptr();
  }
};

unsigned grid_for(long long n, int threads = 256) {
  return (unsigned)std::max<long long>(1, std::min<long long>((n + threads - 1) / threads, 132LL * 32));
}
unsigned round32(long long n) { return (unsigned)std::min<long long>(1024, std::max<long long>(32, (n + 31) / 32 * 32)); }

}  // namespace

namespace {
// The block linears that run in FP8 with --gemm-precision fp8: (name, out, in) per block.
std::vector<std::tuple<std::string, int, int>> fp8_linears(const ModelConfig& c) {
  std::vector<std::tuple<std::string, int, int>> v;
  for (int li = 0; li < c.layers; ++li) {
    const std::string p = "blocks." + std::to_string(li) + ".";
    v.emplace_back(p + "self_attn.q", 3 * c.dim, c.dim);  // q|k|v concatenated (make_layout)
    v.emplace_back(p + "self_attn.o", c.dim, c.dim);
    v.emplace_back(p + "cross_attn.q", c.dim, c.dim);
    v.emplace_back(p + "cross_attn.o", c.dim, c.dim);
    v.emplace_back(p + "ffn.0", c.ffn_dim, c.dim);
    v.emplace_back(p + "ffn.2", c.dim, c.ffn_dim);
  }
  return v;
}
size_t fp8_weight_bytes(const ModelConfig& c) {
  size_t b = 0;
  for (const auto& [name, out, in] : fp8_linears(c)) b += align256((size_t)out * in) + align256((size_t)out * 4);
  return b;
}
}  // namespace

// ---- memory -------------------------------------------------------------------------------------------

GpuMemory estimate_gpu_memory(const ModelConfig& c, long long N, int M, int n_contexts, const GpuMemoryOptions& o) {
  GpuMemory m;
  m.weights = make_layout(c, M).bytes;
  m.activations = activation_bytes(c, N);
  m.contexts = (size_t)std::max(1, n_contexts) * context_bytes(c);
  m.other = Gemm::kWorkspace + (size_t)N * 64 + kMargin;
  if (o.gemm_fp8) {  // the e4m3 block linears, and the inputs' copies: h, a [N][d], the FFN's [N][ffn], 3 scale rows
    m.weights += fp8_weight_bytes(c);
    m.activations += 2 * align256((size_t)N * c.dim) + align256((size_t)N * c.ffn_dim) + 3 * align256((size_t)N * 4);
  }
  // FP8 attention: e4m3 q, k and V^T of N H D bytes each per copy set (GpuMemoryOptions); without this term
  // the estimate was 19% under the measured peak at 187,200 tokens (session 5: 10.58 vs 13.12 GiB).
  m.other += (size_t)3 * o.fp8_attention_copies * align256((size_t)N * c.dim);
  // sm90.tma.sorted on a gathered kernel: bf16 q, k, v of N H D elements in its sorted order (attention.cpp
  // sorted_copies; the groups' padding adds at most M x 127 rows)
  m.other += (size_t)3 * o.bf16_sorted_copies * align256((size_t)N * c.dim * 2);
  return m;
}

std::string format_gpu_memory(const GpuMemory& m) {
  return fmt::format("weights {} + activations {} + contexts {} + workspaces/margin {} = {}",
                     format_bytes(m.weights), format_bytes(m.activations), format_bytes(m.contexts),
                     format_bytes(m.other), format_bytes(m.total()));
}

void device_memory(size_t* free_bytes, size_t* total_bytes) {
  jit::Device::get().make_current();
  CU_CHECK(mem_get_info()(free_bytes, total_bytes));
}

void check_device_memory(const GpuMemory& need, const std::string& what) {
  size_t fr = 0, tot = 0;
  device_memory(&fr, &tot);
  if (need.total() > fr)
    throw std::runtime_error(fmt::format(
        "not enough GPU memory for {}: the GPU backend needs about {} ({}), but {} has {} free of {}", what,
        format_bytes(need.total()), format_gpu_memory(need), jit::Device::get().name(), format_bytes(fr), format_bytes(tot)));
}

// ---- kernels ------------------------------------------------------------------------------------------

jit::CompiledKernel compile_dit_kernels() {
  jit::CompileOptions o;
  o.name = "dit";
  for (const auto& h : kernels::embedded_headers())
    if (std::strncmp(h.name, "dit_", 4) == 0) o.headers.push_back({h.name, h.text});
  if (o.headers.empty()) throw std::runtime_error("dit kernels: dit_kernels.cuh is not embedded in this binary");
  return jit::compile("#include \"dit_kernels.cuh\"\n", o);
}

// ---- router calibration on the device -----------------------------------------------------------------

namespace {
constexpr int kFold = 64;  // chunk partials per dit_calib_fold slot

template <class... A>
void launch_args(CUfunction f, unsigned gx, unsigned gy, unsigned block, CUstream s, A... args) {
  void* p[] = {&args...};
  jit::launch(f, {gx, gy, 1}, {block, 1, 1}, 0, s, p);
}
}  // namespace

DeviceCalibration::Sizes DeviceCalibration::sizes(long long N, int d, int M) {
  const long long chunks = (N + kCalibrationRowChunk - 1) / kCalibrationRowChunk, folds = (chunks + kFold - 1) / kFold;
  const size_t width = (size_t)std::max(d, 2 * M), at_least = 256;
  return {std::max(at_least, (size_t)chunks * width * 4), std::max(at_least, (size_t)folds * width * 8),
          std::max(at_least, (size_t)d * 8), std::max(at_least, (size_t)M * d * 4)};
}

DeviceCalibration::DeviceCalibration(const jit::Module& m)
    : sums_(m.function("dit_calib_col_sums")), fold_(m.function("dit_calib_fold")), project_(m.function("dit_calib_project")),
      moments_(m.function("dit_calib_logit_moments")), equalize_(m.function("dit_calib_equalize")) {}

// Both passes over h read it at the copy rate (a thread owns 4 columns; dit_kernels.cuh); the chunk sums
// are folded by a grid before the one-block steps, which then add at most ceil(chunks / kFold) values per
// column in order. Before, those blocks added every chunk one after another and the moments pass ran one
// warp per group over its chunk's rows: 0.88 ms per block at 32,760 tokens (26 ms of a wan-1.3b step).
void DeviceCalibration::run(CUdeviceptr h, long long N, int d, CUdeviceptr orig, int M, const Scratch& s, CUdeviceptr out,
                            CUstream st) const {
  if (M < 1 || M > 64) throw std::invalid_argument(fmt::format("router calibration: {} groups (1 to 64 supported)", M));
  const long long chunks = (N + kCalibrationRowChunk - 1) / kCalibrationRowChunk, folds = (chunks + kFold - 1) / kFold;
  if (chunks == 0) return;  // no tokens: the router stays as it is (as on the host)
  const int d2 = 2 * M, rows = kCalibrationRowChunk, fold = kFold;
  launch_args(sums_, (unsigned)chunks, 1, round32((d + 3) / 4), st, h, N, d, rows, s.part);
  launch_args(fold_, (unsigned)((d + 255) / 256), (unsigned)folds, 256, st, s.part, chunks, d, fold, s.sums);
  launch_args(project_, 1, 1, 1024, st, s.sums, folds, d, orig, M, s.hs, s.wp);
  launch_args(moments_, (unsigned)chunks, 1, 256, st, h, N, d, s.wp, M, rows, s.part);
  launch_args(fold_, (unsigned)((d2 + 255) / 256), (unsigned)folds, 256, st, s.part, chunks, d2, fold, s.sums);
  launch_args(equalize_, 1, 1, 256, st, s.sums, folds, M, N, s.wp, d, out);
}

// ---- the model ----------------------------------------------------------------------------------------

struct GpuDiT::Impl {
  ModelConfig cfg;
  int M = 0;
  WeightLayout layout;
  std::unique_ptr<jit::DeviceBuffer> arena;
  jit::CompiledKernel ck;
  std::unique_ptr<jit::Module> mod;
  CUfunction k_fill_normal, k_fill_const, k_f2bf, k_patchify, k_unpatchify, k_gemv, k_add_ln, k_rms, k_quant;
  std::unique_ptr<DeviceCalibration> calibration;
  Gemm gemm;
  std::unique_ptr<rt::PatternAttention> attn;
  // Cross-attention: the builtin dense pattern `full` with keys/values of the text's length T (one run
  // per shot, q = the shot's rows, k/v = its context).
  std::unique_ptr<rt::PatternAttention> cross;
  rt::LoadedPattern pattern;
  std::string tiles_for;  // the shape whose tuned tiles `attn` uses (choose_tiles)
  void choose_tiles(int gf, int gh, int gw, int heads, int D, const std::vector<int>& shots);
  StageEvents ev;
  // per-forward buffers
  Grow x, h, qkv, a, y, ffh, cols, ho, lat_in, lat_out, rope, temb;
  // sequence parallelism (set_sequence_parallel): the exchanges, and the gathered routing [routed][N]
  std::unique_ptr<parallel::UlyssesGpu> sp;
  std::unique_ptr<parallel::RingGpu> ring;  // R > 1 ring groups (usp_plan.h); null for pure Ulysses
  Grow rgid, rprob;
  // The self-attention of this rank's queries: one run over all keys, or the ring's R steps (each a
  // run with Nk keys writing its log-sum-exp); q, k, v strided views of the exchange buffer.
  void self_attention(CUdeviceptr qkv_all, CUdeviceptr out, long long N, int hl, int D, const rt::AttentionShape& shape,
                      const rt::RouterInputs* router, CUstream st, const rt::RunOptions& ro);
  // router calibration (calibrating forwards only), all on the device: all N rows of h (sequence
  // parallelism), per-chunk partial sums, the sum of h (double), W' in f32, and every block's original
  // router in f32 [layer][M][d] (from the arena's bf16, kept before the first calibration overwrites it:
  // every calibration starts from them)
  Grow calib_h, calib_part, calib_fold, calib_hs, calib_w, calib_orig;
  void calibrate_router(int layer, CUdeviceptr h, long long s0, long long n, long long N, CUstream s);
  void keep_original_routers();
  long long rope_key[3] = {-1, -1, -1};
  bool profile = false;       // set_profile_branches: an event per self-attention branch and the router
  rt::Precision precision = rt::Precision::Bf16;  // set_attention_precision
  std::map<std::string, std::string> fp8_variants;   // routed_only: the FP8 row by kernel name
  std::map<std::string, std::string> user_variants;  // set_kernel_variants (--kernel-variant)
  // The self-attention's options: its precision (all kernels, or the routed ones by name), the rows a user
  // named (they win), the LSE for a ring.
  rt::AttentionOptions attention_options(bool lse) const {
    rt::AttentionOptions o;
    o.lse = lse;
    if (fp8_variants.empty()) o.precision = precision;
    else o.variants = fp8_variants;
    for (const auto& [k, row] : user_variants) o.variants[k] = row;
    return o;
  }
  // The self-attention made again after its options changed (precision, named rows); the tiles chosen
  // for a shape are chosen again.
  void remake_attention() {
    attn = std::make_unique<rt::PatternAttention>(pattern, attention_options(false));
    tiles_for.clear();
  }
  // FP8 GEMMs (set_gemm_precision): every block linear's weight as e4m3 rows with one f32 scale per output
  // channel (w8_slots: linear name -> offsets of its bytes and scales in w8), and e4m3 copies of their inputs
  // with one scale per token: h (dit_add_ln writes it beside the bf16 h), the attention outputs, the FFN's
  // GELU output (dit_quant_rows). Patch embedding, head, text embedding and the context's k/v stay bf16.
  bool gemm_fp8 = false;
  std::unique_ptr<jit::DeviceBuffer> w8;
  std::map<std::string, std::pair<size_t, size_t>> w8_slots;
  Grow h8, h8s, a8, a8s, f8, f8s;
  void quantize_weights();
  bool dit_cache_hit = true;  // the DiT kernels' module came from the disk cache (init_common)
  double dit_compile_s = 0;

  // The token layout of a forward at an F x H x W latent: the grid, the shots' token ranges, this rank's
  // shard [s0, s0 + n) and heads hl (one GPU: 0, N, heads), the self-attention's shape.
  struct Geometry {
    int gf = 0, gh = 0, gw = 0, nshots = 1, hl = 0;
    long long N = 0, s0 = 0, n = 0;
    long long nq = 0;  // the self-attention's queries: N, or the ring group's tokens (Ulysses x ring)
    std::vector<long long> shot_tok;  // [nshots + 1] first token of each shot, then N
    rt::AttentionShape shape;
  };
  Geometry geometry(int F, int H, int W, const std::vector<int>& shot_starts, size_t n_contexts);
  // Every per-forward buffer for this geometry (grown when the token count grows; kept between
  // forwards) and the RoPE table (uploaded once per grid).
  void buffers(const Geometry& g);
  // The router calibration's scratch at this geometry and the original routers' copy (calibrating runs).
  void calibration_scratch(const Geometry& g);

  CUdeviceptr w(const std::string& name) const {
    auto it = layout.slots.find(name);
    if (it == layout.slots.end()) throw std::runtime_error("gpu weights: no tensor '" + name + "'");
    return arena->ptr() + it->second.offset;
  }

  template <class... A>
  void launch(CUfunction f, unsigned grid, unsigned block, CUstream s, A... args) {
    void* p[] = {&args...};
    jit::launch(f, {grid, 1, 1}, {block, 1, 1}, 0, s, p);
  }

  // x (+)= y * (ga + gb), then h = LN(x) * (one + sa + sb) + ta + tb (dit_add_ln): the residual of one
  // sub-layer fused with the norm of the next.
  void add_ln(CUstream s, CUdeviceptr yin, CUdeviceptr ga, CUdeviceptr gb, int assign, long long rows, float one,
              CUdeviceptr sa, CUdeviceptr sb, CUdeviceptr ta, CUdeviceptr tb) {
    launch_add_ln(k_add_ln,
                  {x.ptr(), yin, ga, gb, assign, h.ptr(), cfg.dim, (float)cfg.eps, one, sa, sb, ta, tb,
                   gemm_fp8 ? h8.ptr() : CUdeviceptr(0), gemm_fp8 ? h8s.ptr() : CUdeviceptr(0)},
                  rows, s);
  }
  // e4m3 rows q [rows][cols] with scales sc [rows] of bf16 rows x [rows][cols] (GELU(tanh) first when gelu).
  // timed: an event after it (a profiled forward's `quant`, part of gemm).
  void quant_rows(CUstream s, CUdeviceptr xin, long long rows, int cols, int gelu, CUdeviceptr q, CUdeviceptr sc,
                  bool timed = false) {
    launch_quant_rows(k_quant, xin, cols, rows, cols, gelu, q, sc, s);
    if (timed) ev.mark(s, &StageTimes::gemm, &StageTimes::quant);
  }
  // Y = X W^T + b of the block linear `name` (W bf16 [out][in], X [rows][in]); with FP8 GEMMs from X's e4m3
  // copy X8 and its scales X8s, and W's.
  void linear(const std::string& name, int out, int in, CUdeviceptr X, CUdeviceptr X8, CUdeviceptr X8s, long long rows,
              CUdeviceptr Y, long long ldy, Epilogue epi, CUstream s) {
    if (!gemm_fp8) return gemm.linear(w(name + ".weight"), w(name + ".bias"), out, in, X, in, (int)rows, Y, ldy, epi, s);
    const auto it = w8_slots.find(name);
    if (it == w8_slots.end()) throw std::runtime_error("gpu weights: no e4m3 copy of '" + name + ".weight'");
    gemm.linear_fp8(w8->ptr() + it->second.first, w8->ptr() + it->second.second, w(name + ".bias"), out, in, X8, in, X8s,
                    (int)rows, Y, ldy, epi, s);
  }
  // RMSNorm (and RoPE with rope_cs) in place on rows of p [rows][ld]; with wt2, also on p + p2 (elements)
  // with weight wt2 in the same launch (q and k).
  void rms(CUstream s, CUdeviceptr p, long long ld, long long rows, CUdeviceptr wt, CUdeviceptr rope_cs,
           long long p2 = 0, CUdeviceptr wt2 = 0) {
    launch_rms_rope(k_rms, p, ld, cfg.dim, (float)cfg.eps, wt, rope_cs, cfg.head_dim(), rows, s, p2, wt2);
  }
  void gemv(CUstream s, const std::string& name, CUdeviceptr xin, CUdeviceptr yout, int in, int out, int silu_in,
            int silu_out) {
    launch(k_gemv, (unsigned)((out + 7) / 8), 256, s, w(name + ".weight"), w(name + ".bias"), xin, yout, in, out, silu_in,
           silu_out);
  }
};

void GpuDiT::init_common() {
  Impl& I = *impl_;
  jit::Device::get().make_current();
  const auto t0 = std::chrono::steady_clock::now();
  I.ck = compile_dit_kernels();
  I.dit_cache_hit = I.ck.cache_hit;
  I.dit_compile_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  I.mod = std::make_unique<jit::Module>(I.ck);
  I.k_fill_normal = I.mod->function("dit_fill_normal");
  I.k_fill_const = I.mod->function("dit_fill_const");
  I.k_f2bf = I.mod->function("dit_f32_to_bf16");
  I.k_patchify = I.mod->function("dit_patchify");
  I.k_unpatchify = I.mod->function("dit_unpatchify");
  I.k_gemv = I.mod->function("dit_gemv");
  I.k_add_ln = I.mod->function("dit_add_ln");
  I.k_rms = I.mod->function("dit_rms_rope");
  I.k_quant = I.mod->function("dit_quant_rows");
  // wan-14b's d = 5,120 needs 60 KB of dit_add_ln's tables, above the 48 KB a launch gets by default
  CU_CHECK(jit::driver().cuFuncSetAttribute(I.k_add_ln, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, (int)add_ln_shared_bytes(I.cfg.dim)));
  I.calibration = std::make_unique<DeviceCalibration>(*I.mod);
  CU_CHECK(jit::driver().cuStreamCreate(&stream_, CU_STREAM_DEFAULT));
  I.cross = make_cross_attention();
  I.layout = make_layout(cfg_, M_);
  I.arena = std::make_unique<jit::DeviceBuffer>(I.layout.bytes);
}

static void check_pattern(const ModelConfig& cfg, const rt::LoadedPattern& p, int M) {
  const int pm = cpu::pattern_router_groups(p.spec);
  if (pm != M)
    throw std::runtime_error(fmt::format("pattern '{}' routes to M = {} groups but the weights hold routers of M = {}",
                                         p.spec.pattern, pm, M));
  if (cfg.head_dim() != 64 && cfg.head_dim() != 128)
    throw std::runtime_error(fmt::format("the GPU attention kernels need head_dim 64 or 128, config '{}' has {}", cfg.name,
                                         cfg.head_dim()));
  if (cfg.dim > 24 * 1024 || cfg.dim % 8) throw std::runtime_error("gpu: dim must be a multiple of 8 and <= 24576");
}

GpuDiT::GpuDiT(Weights&& wts, rt::LoadedPattern pattern) : cfg_(wts.config), M_(wts.router_groups), impl_(std::make_unique<Impl>()) {
  M_ = cpu::pattern_router_groups(pattern.spec);
  if (M_ && wts.router_groups != M_)
    throw std::runtime_error(fmt::format("pattern '{}' routes to M = {} groups but the weights hold routers of M = {}",
                                         pattern.spec.pattern, M_, wts.router_groups));
  check_pattern(cfg_, pattern, M_);
  impl_->cfg = cfg_;
  impl_->M = M_;
  impl_->pattern = pattern;
  impl_->attn = std::make_unique<rt::PatternAttention>(std::move(pattern));
  init_common();
  Impl& I = *impl_;
  std::vector<uint16_t> tmp;
  for (const auto& [name, slot] : I.layout.slots) {
    auto it = wts.tensors.find(name);
    if (it == wts.tensors.end()) throw std::runtime_error("weights: no tensor '" + name + "'");
    const std::vector<float>& v = it->second;
    if ((long long)v.size() != slot.numel)
      throw std::runtime_error(fmt::format("weights: '{}' has {} values, expected {}", name, v.size(), slot.numel));
    const CUdeviceptr dst = I.arena->ptr() + slot.offset;
    if (slot.f32) {
      CU_CHECK(jit::driver().cuMemcpyHtoD(dst, v.data(), v.size() * 4));
    } else {
      tmp.resize(v.size());
      for (size_t i = 0; i < v.size(); ++i) tmp[i] = f32_to_bf16(v[i]);
      CU_CHECK(jit::driver().cuMemcpyHtoD(dst, tmp.data(), tmp.size() * 2));
    }
    wts.tensors.erase(it);
  }
  wts.tensors.clear();
}

GpuDiT::GpuDiT(const ModelConfig& cfg, uint64_t seed, int M, rt::LoadedPattern pattern)
    : cfg_(cfg), M_(M), impl_(std::make_unique<Impl>()) {
  check_pattern(cfg_, pattern, M_);
  impl_->cfg = cfg_;
  impl_->M = M_;
  impl_->pattern = pattern;
  impl_->attn = std::make_unique<rt::PatternAttention>(std::move(pattern));
  init_common();
  Impl& I = *impl_;
  // The same rule as init_param (weights.cpp), on the device.
  for (const auto& [name, slot] : I.layout.slots) {
    const CUdeviceptr dst = I.arena->ptr() + slot.offset;
    auto ends = [&](const char* s) {
      const size_t l = std::strlen(s);
      return name.size() >= l && name.compare(name.size() - l, l, s) == 0;
    };
    const int f32 = slot.f32 ? 1 : 0;
    if (ends("norm_q.weight") || ends("norm_k.weight") || ends("norm3.weight")) {
      I.launch(I.k_fill_const, grid_for(slot.numel), 256, stream_, dst, slot.numel, 1.f, f32);
    } else if (ends("norm3.bias")) {
      I.launch(I.k_fill_const, grid_for(slot.numel), 256, stream_, dst, slot.numel, 0.f, f32);
    } else {
      const unsigned long long s = hash_name(name, seed);
      I.launch(I.k_fill_normal, grid_for(slot.numel), 256, stream_, dst, slot.numel, s, 0.f, 0.02f, f32);
    }
  }
  CU_CHECK(jit::driver().cuStreamSynchronize(stream_));
}

GpuDiT::~GpuDiT() {
  if (stream_) {
    jit::driver().cuStreamSynchronize(stream_);
    impl_.reset();
    jit::driver().cuStreamDestroy(stream_);
  }
}

size_t GpuDiT::weight_bytes() const { return impl_->layout.bytes; }

void GpuDiT::set_sequence_parallel(std::shared_ptr<parallel::Communicator> comm) {
  if (!comm || comm->world() <= 1) {
    impl_->sp.reset();
    return;
  }
  parallel::check_usp(cfg_.heads, comm->world(), impl_->pattern.spec);
  impl_->ring.reset();
  if (parallel::ulysses_size(cfg_.heads, comm->world()) != comm->world()) {
    const parallel::CrossGroup mode = parallel::cross_group(impl_->pattern.spec);
    impl_->ring = std::make_unique<parallel::RingGpu>(comm->split(), mode);
    // ring steps: every step's attention writes its log-sum-exp for the merge (the gather merges nothing)
    if (mode == parallel::CrossGroup::Ring)
      impl_->attn = std::make_unique<rt::PatternAttention>(impl_->pattern, impl_->attention_options(true));  // choose_tiles keeps it
  }
  impl_->sp = std::make_unique<parallel::UlyssesGpu>(std::move(comm));
}

void GpuDiT::Impl::self_attention(CUdeviceptr qkv_all, CUdeviceptr out, long long N, int hl, int D,
                                  const rt::AttentionShape& shape, const rt::RouterInputs* router, CUstream st,
                                  const rt::RunOptions& ro) {
  auto view = [&](CUdeviceptr p, long long n, long long ld) {
    return rt::TensorView::strided(p, rt::DType::BF16, {1, n, hl, D}, {n * ld, ld, D, 1});
  };
  if (ring && ring->mode() == parallel::CrossGroup::Gather) {
    // the group's N queries as the query range of one call over the whole sequence (every group's keys)
    const parallel::UspLayout& l = ring->layout();
    const long long t0 = l.group_start(l.group_of(ring->comm().rank())), ld = (long long)hl * D;
    if (ro.attention) ring->gather(qkv_all, st);
    rt::RunOptions r = ro;
    r.query_begin = t0, r.query_end = t0 + N;
    attn->run(view(ring->q_all(), l.N, ld), view(ring->kv_all(), l.N, 2 * ld), view(ring->kv_all() + (size_t)ld * 2, l.N, 2 * ld),
              rt::TensorView::contiguous(ring->out_all(), rt::DType::BF16, {1, l.N, hl, D}), shape, router, st, r);
    if (ro.attention)
      CU_CHECK(jit::driver().cuMemcpyDtoDAsync(out, ring->out_all() + (size_t)t0 * ld * 2, (size_t)N * ld * 2, st));
    return;
  }
  if (!ring) {
    const long long ld3 = 3LL * hl * D;
    attn->run(view(qkv_all, N, ld3), view(qkv_all + (size_t)hl * D * 2, N, ld3),
              view(qkv_all + (size_t)2 * hl * D * 2, N, ld3),
              rt::TensorView::contiguous(out, rt::DType::BF16, {1, N, hl, D}), shape, router, st, ro);
    return;
  }
  const ref::KernelSpec& k0 = attn->spec().kernels[0];
  // a video shape's grid is the whole sequence's, so its steps always pass their slice (dense seq kernels need none)
  const bool coords = k0.mask.has_value() || k0.bias.has_value() || shape.video;
  const long long seq_tokens = ring->layout().N;
  ring->attend(qkv_all, out,
               [&](CUdeviceptr q, long long q_ld, CUdeviceptr k, CUdeviceptr v, long long kv_ld, long long nk,
                   long long q_pos0, long long kv_pos0, CUdeviceptr o, CUdeviceptr lse, CUstream s) {
                 rt::RunOptions r = ro;
                 r.lse = {lse};
                 if (coords) {  // a mask, a bias or a video grid: the positions of the whole sequence
                   r.q_offset = q_pos0, r.kv_offset = kv_pos0;
                   r.seq_tokens = seq_tokens;
                 }
                 attn->run(view(q, N, q_ld), view(k, nk, kv_ld), view(v, nk, kv_ld),
                           rt::TensorView::contiguous(o, rt::DType::BF16, {1, N, hl, D}), shape, nullptr, s, r);
               },
               st);
}

const rt::PatternAttention& GpuDiT::self_attention() const { return *impl_->attn; }
const rt::PatternAttention& GpuDiT::cross_attention() const { return *impl_->cross; }
void GpuDiT::set_profile_branches(bool on) { impl_->profile = on; }
void GpuDiT::set_attention_precision(rt::Precision p, bool routed_only) {
  impl_->precision = p;
  impl_->fp8_variants.clear();
  if (p == rt::Precision::Fp8 && routed_only)
    for (const auto& k : impl_->pattern.spec.kernels)
      if (k.route) impl_->fp8_variants[k.name] = rt::kFp8DefaultRow;
  impl_->remake_attention();
}
void GpuDiT::set_kernel_variants(const std::map<std::string, std::string>& by_kernel) {
  impl_->user_variants = by_kernel;
  impl_->remake_attention();
}
bool GpuDiT::profile_branches() const { return impl_->profile; }


const char* gemm_precision_name(GemmPrecision p) { return p == GemmPrecision::Fp8 ? "fp8" : "bf16"; }

void GpuDiT::Impl::quantize_weights() {
  w8_slots.clear();
  w8 = std::make_unique<jit::DeviceBuffer>(std::max<size_t>(256, fp8_weight_bytes(cfg)));
  size_t off = 0;
  for (const auto& [name, out, in] : fp8_linears(cfg)) {
    const size_t bytes = off, scales = off + align256((size_t)out * in);
    off = scales + align256((size_t)out * 4);
    const CUdeviceptr W = w(name + ".weight");
    // q|k|v: three [d][d] slots one after another (make_layout), read as one [3d][d]
    const long long parts = name.size() > 11 && name.compare(name.size() - 11, 11, "self_attn.q") == 0 ? 3 : 1;
    if (layout.slots.at(name + ".weight").numel * parts != (long long)out * in)
      throw std::runtime_error(fmt::format("gpu weights: '{}.weight' is not [{}][{}]", name, out / parts, in));
    quant_rows(nullptr, W, out, in, 0, w8->ptr() + bytes, w8->ptr() + scales);
    w8_slots[name] = {bytes, scales};
  }
  CU_CHECK(jit::driver().cuStreamSynchronize(nullptr));
}

void GpuDiT::set_gemm_precision(GemmPrecision p) {
  Impl& I = *impl_;
  if (p == GemmPrecision::Bf16) {
    I.gemm_fp8 = false, I.w8.reset(), I.w8_slots.clear();
    return;
  }
  // cuBLASLt's outer-vector (per channel x per token) FP8 scaling exists on sm_90 only (cuBLAS 12.9+).
  const std::string arch = jit::Device::get().arch();
  if (arch != "sm_90")
    throw std::runtime_error(fmt::format("--gemm-precision fp8 needs an sm_90 GPU (cuBLASLt's per-channel FP8 scaling is "
                                         "Hopper's); {} is {}",
                                         jit::Device::get().name(), arch));
  I.quantize_weights();
  I.gemm_fp8 = true;
}
GemmPrecision GpuDiT::gemm_precision() const { return impl_->gemm_fp8 ? GemmPrecision::Fp8 : GemmPrecision::Bf16; }

int GpuDiT::world() const { return impl_->sp ? impl_->sp->world() : 1; }

std::vector<float> GpuDiT::download_weight(const std::string& name) const {
  auto it = impl_->layout.slots.find(name);
  if (it == impl_->layout.slots.end()) throw std::runtime_error("gpu weights: no tensor '" + name + "'");
  const Slot& s = it->second;
  std::vector<float> out(s.numel);
  CU_CHECK(jit::driver().cuStreamSynchronize(stream_));
  const CUdeviceptr src = impl_->arena->ptr() + s.offset;
  if (s.f32) {
    CU_CHECK(jit::driver().cuMemcpyDtoH(out.data(), src, out.size() * 4));
  } else {
    std::vector<uint16_t> t(s.numel);
    CU_CHECK(jit::driver().cuMemcpyDtoH(t.data(), src, t.size() * 2));
    for (size_t i = 0; i < t.size(); ++i) out[i] = bf16_to_f32(t[i]);
  }
  return out;
}

std::shared_ptr<GpuContext> GpuDiT::embed_context(const float* ctx, int L, StageTimes* t) {
  const ModelConfig& c = cfg_;
  if (L > c.text_len)
    throw std::invalid_argument(fmt::format("context has {} tokens, more than text_len = {}", L, c.text_len));
  Impl& I = *impl_;
  const int T = c.text_len, d = c.dim;
  std::vector<float> padded((size_t)T * c.text_dim, 0.f);
  std::copy(ctx, ctx + (size_t)L * c.text_dim, padded.begin());
  jit::DeviceBuffer f32buf(padded.size() * 4), bfbuf(padded.size() * 2), t1((size_t)T * d * 2), emb((size_t)T * d * 2);
  auto g = std::make_shared<GpuContext>();
  g->T = T;
  g->kv = std::make_unique<jit::DeviceBuffer>((size_t)c.layers * T * 2 * d * 2);
  I.ev.begin(stream_);
  f32buf.upload(padded.data(), padded.size() * 4);
  I.launch(I.k_f2bf, grid_for((long long)padded.size()), 256, stream_, f32buf.ptr(), bfbuf.ptr(), (long long)padded.size());
  I.ev.mark(stream_, &StageTimes::other);
  I.gemm.linear(I.w("text_embedding.0.weight"), I.w("text_embedding.0.bias"), d, c.text_dim, bfbuf.ptr(), c.text_dim, T,
                t1.ptr(), d, Epilogue::GeluBias, stream_);
  I.gemm.linear(I.w("text_embedding.2.weight"), I.w("text_embedding.2.bias"), d, d, t1.ptr(), d, T, emb.ptr(), d,
                Epilogue::Bias, stream_);
  for (int li = 0; li < c.layers; ++li) {
    const std::string p = "blocks." + std::to_string(li) + ".cross_attn.";
    const CUdeviceptr kv = g->kv->ptr() + (size_t)li * T * 2 * d * 2;
    I.gemm.linear(I.w(p + "k.weight"), I.w(p + "k.bias"), 2 * d, d, emb.ptr(), d, T, kv, 2 * d, Epilogue::Bias, stream_);
    I.ev.mark(stream_, &StageTimes::gemm);
    I.rms(stream_, kv, 2 * d, T, I.w(p + "norm_k.weight"), 0);
    I.ev.mark(stream_, &StageTimes::other);
  }
  CU_CHECK(jit::driver().cuStreamSynchronize(stream_));  // before the temporaries are freed
  I.ev.collect(t);
  return g;
}

void GpuDiT::time_embedding(double timestep, float* e, float* e0) {
  Impl& I = *impl_;
  const int d = cfg_.dim, r = cfg_.freq_dim;
  std::vector<float> sin(r);
  cpu::sinusoidal_embedding(r, timestep, sin.data());
  const CUdeviceptr tb = I.temb.ensure((size_t)(8 * d + r) * 4);
  const CUdeviceptr ts = tb, th = tb + (size_t)r * 4, te = th + (size_t)d * 4, te0 = te + (size_t)d * 4;
  CU_CHECK(jit::driver().cuMemcpyHtoD(ts, sin.data(), (size_t)r * 4));
  I.gemv(stream_, "time_embedding.0", ts, th, r, d, 0, 1);
  I.gemv(stream_, "time_embedding.2", th, te, d, d, 0, 0);
  I.gemv(stream_, "time_projection.1", te, te0, d, 6 * d, 1, 0);
  if (e || e0) {
    CU_CHECK(jit::driver().cuStreamSynchronize(stream_));
    if (e) CU_CHECK(jit::driver().cuMemcpyDtoH(e, te, (size_t)d * 4));
    if (e0) CU_CHECK(jit::driver().cuMemcpyDtoH(e0, te0, (size_t)6 * d * 4));
  }
}

// ---- router calibration -------------------------------------------------------------------------------

// The f32 copy of every block's original router (the arena's bf16), made once on the host, before any
// calibration overwrites the arena's copy (prepare(), or the first calibrating forward).
void GpuDiT::Impl::keep_original_routers() {
  if (calib_orig.b) return;
  CU_CHECK(jit::driver().cuCtxSynchronize());
  const size_t per = (size_t)M * cfg.dim;
  std::vector<uint16_t> wb(per);
  std::vector<float> all(per * cfg.layers);
  for (int l = 0; l < cfg.layers; ++l) {
    CU_CHECK(jit::driver().cuMemcpyDtoH(wb.data(), w(fmt::format("blocks.{}.self_attn.router.weight", l)), per * 2));
    for (size_t i = 0; i < per; ++i) all[l * per + i] = bf16_to_f32(wb[i]);
  }
  CU_CHECK(jit::driver().cuMemcpyHtoD(calib_orig.ensure(all.size() * 4), all.data(), all.size() * 4));
}

// Block `layer`'s router from its input h (this rank's rows [s0, s0 + n) of N), router_calibration.h's
// two steps by the dit_calib_* kernels, queued on `s` with no host round trip: the sums over fixed
// chunks of all N rows (with sequence parallelism the rows are all-gathered first, so every rank
// computes exactly what one GPU does), W' from the block's original router, the logit moments, W''
// rounded to bf16 over the arena's copy.
void GpuDiT::Impl::calibrate_router(int layer, CUdeviceptr h, long long s0, long long n, long long N, CUstream s) {
  const int d = cfg.dim;
  CUdeviceptr rows = h;
  if (sp) {
    rows = calib_h.ensure((size_t)N * d * 2);
    parallel::Copy3D cp;  // n rows of d bf16 to rows [s0, s0 + n)
    cp.width = (size_t)d * 2;
    cp.height = (size_t)n;
    cp.src_pitch = cp.dst_pitch = cp.width;
    cp.src_slice_rows = cp.dst_slice_rows = (size_t)std::max<long long>(1, n);  // cuMemcpy3D: >= height
    cp.dst_offset = (size_t)s0 * d * 2;
    parallel::copy3d_device(cp, h, rows, s);
    sp->all_gather({{rows, (size_t)d * 2}}, s);
  }
  keep_original_routers();  // a no-op after prepare() or the first calibration
  const DeviceCalibration::Sizes z = DeviceCalibration::sizes(N, d, M);
  const DeviceCalibration::Scratch scratch{calib_part.ensure(z.part), calib_fold.ensure(z.sums), calib_hs.ensure(z.hs),
                                           calib_w.ensure(z.wp)};
  calibration->run(rows, N, d, calib_orig.ptr() + (size_t)layer * M * d * 4, M, scratch,
                   w(fmt::format("blocks.{}.self_attn.router.weight", layer)), s);
}

// The tuning database's tiles for this attention shape (runtime/tune/select.h): results of `moga
// tune` apply with no flag; with none for any kernel the runtime's default (Engine::Auto) stays.
// Once per shape: a new PatternAttention recompiles nothing the disk cache already holds.
void GpuDiT::Impl::choose_tiles(int gf, int gh, int gw, int heads, int D, const std::vector<int>& shots) {
  Impl& I = *this;
  // the ring steps' instance writes the log-sum-exp (set_sequence_parallel); default tiles
  if (I.ring && I.ring->mode() == parallel::CrossGroup::Ring) return;
  if (I.precision != rt::Precision::Bf16) return;  // the tuning database holds bf16 rows only
  if (!I.user_variants.empty()) return;            // rows the user named are not overridden by tuned tiles
  const std::string key = fmt::format("{}x{}x{} h{} d{}", gf, gh, gw, heads, D);
  if (I.tiles_for == key) return;
  I.tiles_for = key;
  const tune::Shape s = I.pattern.spec.layout == ref::Layout::Video
                            ? tune::Shape::make_video(1, gf, gh, gw, heads, D, shots)
                            : tune::Shape::seq(1, gf * gh * gw, heads, D);
  std::vector<std::string> notes;
  const rt::AttentionOptions o = tune::tuned_attention_options(I.pattern, s, {}, &notes);
  const bool tuned = std::any_of(notes.begin(), notes.end(),
                                 [](const std::string& n) { return n.find("(tuned") != std::string::npos; });
  if (!tuned) return;
  I.attn = std::make_unique<rt::PatternAttention>(I.pattern, o);
  for (const std::string& n : notes) fmt::print(stderr, "attention tiles from the tuning database: {}\n", n);
}

GpuDiT::Impl::Geometry GpuDiT::Impl::geometry(int F, int H, int W, const std::vector<int>& shot_starts,
                                              size_t n_contexts) {
  const ModelConfig& c = cfg;
  if (F % c.patch[0] || H % c.patch[1] || W % c.patch[2])
    throw std::invalid_argument(fmt::format("latent {}x{}x{} is not a multiple of the patch ({}, {}, {})", F, H, W,
                                            c.patch[0], c.patch[1], c.patch[2]));
  Geometry g;
  g.gf = F / c.patch[0], g.gh = H / c.patch[1], g.gw = W / c.patch[2];
  g.N = (long long)g.gf * g.gh * g.gw;
  g.nshots = shot_starts.empty() ? 1 : (int)shot_starts.size();
  if (n_contexts == 0 || ((int)n_contexts != 1 && (int)n_contexts != g.nshots))
    throw std::invalid_argument(fmt::format("{} context(s) for {} shot(s): give one, or one per shot", n_contexts, g.nshots));
  g.shot_tok.assign(g.nshots + 1, 0);
  for (int s = 0; s < g.nshots; ++s)
    g.shot_tok[s] = (long long)(shot_starts.empty() ? 0 : shot_starts[s] / c.patch[0]) * g.gh * g.gw;
  g.shot_tok[g.nshots] = g.N;
  // Sequence parallelism: this rank runs its token shard [s0, s0 + n) through every layer; only the
  // self-attention sees all N tokens (for H/P heads).
  const int D = c.head_dim();
  g.n = g.N;
  g.hl = c.heads;
  g.nq = g.N;
  if (sp) {
    const parallel::UspLayout l = parallel::UspLayout::make(g.N, c.heads, D, sp->world());
    sp->prepare(l, 3LL * c.dim, c.dim);
    if (ring) ring->prepare(l);
    g.s0 = sp->start();
    g.n = sp->count();
    g.hl = sp->heads_local();
    g.nq = sp->group_count();
  }
  if (pattern.spec.layout == ref::Layout::Video) {
    std::vector<int> shots;
    if (g.nshots > 1)
      for (int s = 0; s < g.nshots; ++s) shots.push_back(shot_starts[s] / c.patch[0]);
    g.shape = rt::AttentionShape::make_video(1, g.gf, g.gh, g.gw, g.hl, D, shots);
  } else {
    g.shape = rt::AttentionShape::seq(1, (int)g.N, g.hl, D);
  }
  // ring steps (ring_supported): a step's queries are the group's nq tokens; a video grid stays the whole
  // sequence's (the steps pass RunOptions::seq_tokens and their offsets). The gather's call is the whole sequence.
  if (ring && ring->mode() == parallel::CrossGroup::Ring) g.shape.N = (int)g.nq;
  return g;
}

void GpuDiT::Impl::buffers(const Geometry& g) {
  const ModelConfig& c = cfg;
  const long long n = g.n, N = g.N, d = c.dim, P = (long long)c.in_channels * c.patch_volume(), O = c.head_out();
  const int D = c.head_dim();
  // Per shard: x, h, q|k|v, a, y, the FFN hidden; full: the patches, the head output (all-gathered),
  // the latents, the RoPE table; the gathered routing (sequence parallelism, routed patterns).
  x.ensure(n * d * 4), h.ensure(n * d * 2), qkv.ensure(n * 3 * d * 2), a.ensure(n * d * 2), y.ensure(n * d * 2);
  ffh.ensure(n * c.ffn_dim * 2), cols.ensure(N * P * 2), ho.ensure(N * O * 2), lat_in.ensure(N * P * 4);
  lat_out.ensure(N * O * 4), rope.ensure(N * (D / 2) * 2 * 4);
  if (gemm_fp8) {
    h8.ensure(n * d), h8s.ensure(n * 4), a8.ensure(n * d), a8s.ensure(n * 4);
    f8.ensure(n * c.ffn_dim), f8s.ensure(n * 4);
  }
  if (sp && M) {
    const size_t routed = attn->routed_kernels().size();
    rgid.ensure(routed * N * 4), rprob.ensure(routed * N * 4);
  }
  temb.ensure((size_t)(8 * d + c.freq_dim) * 4);
  if (rope_key[0] != g.gf || rope_key[1] != g.gh || rope_key[2] != g.gw) {
    const cpu::RopeTable rt = cpu::make_rope(D, g.gf, g.gh, g.gw, c.rope_theta);
    std::vector<float> cs(rt.cos.size() * 2);
    for (size_t i = 0; i < rt.cos.size(); ++i) cs[2 * i] = rt.cos[i], cs[2 * i + 1] = rt.sin[i];
    CU_CHECK(jit::driver().cuMemcpyHtoD(rope.ptr(), cs.data(), cs.size() * 4));
    rope_key[0] = g.gf, rope_key[1] = g.gh, rope_key[2] = g.gw;
  }
}

void GpuDiT::Impl::calibration_scratch(const Geometry& g) {
  const long long N = g.N, d = cfg.dim;
  const DeviceCalibration::Sizes z = DeviceCalibration::sizes(N, (int)d, M);
  calib_part.ensure(z.part), calib_fold.ensure(z.sums), calib_hs.ensure(z.hs), calib_w.ensure(z.wp);
  if (sp) calib_h.ensure((size_t)N * d * 2);
  keep_original_routers();
}

std::string PrepareReport::line() const {
  if (compiled == 0) return fmt::format("kernels from cache ({}), {:.1f} s", modules, seconds);
  return fmt::format("compiling {} kernel module{} ({} from cache) ... {:.1f} s", compiled, compiled == 1 ? "" : "s",
                     modules - compiled, seconds);
}

PrepareReport GpuDiT::prepare(int F, int H, int W, const std::vector<int>& shot_starts,
                              const std::vector<std::shared_ptr<GpuContext>>& contexts) {
  const auto t0 = std::chrono::steady_clock::now();
  const ModelConfig& c = cfg_;
  Impl& I = *impl_;
  const Impl::Geometry g = I.geometry(F, H, W, shot_starts, contexts.size());
  const int d = c.dim, D = c.head_dim(), T = c.text_len;
  for (const auto& cx : contexts)
    if (!cx || cx->T != T) throw std::invalid_argument("gpu prepare: a context was not embedded by this model");
  const CUstream st = stream_;
  I.choose_tiles(g.gf, g.gh, g.gw, g.hl, D, shot_starts);

  // 1. Compile: the self- and the cross-attention modules in parallel threads (independent NVRTC
  // programs; the disk cache locks per entry, so a `full` run's shared module compiles once).
  PrepareReport r;
  std::vector<rt::PatternAttention*> atts = {I.attn.get(), I.cross.get()};
  std::vector<rt::ModuleInfo> info(atts.size());
  std::vector<std::exception_ptr> errs(atts.size());
  {
    std::vector<std::thread> th;
    for (size_t i = 0; i < atts.size(); ++i)
      th.emplace_back([&, i] {
        try {
          info[i] = atts[i]->compile(D);
        } catch (...) {
          errs[i] = std::current_exception();
        }
      });
    for (auto& t : th) t.join();
  }
  for (auto& e : errs)
    if (e) std::rethrow_exception(e);
  // Distinct modules by cache entry; one compiled by either thread counts as compiled (the other waited
  // for its lock and then hit the cache).
  std::map<std::string, bool> compiled;
  for (size_t i = 0; i < info.size(); ++i) {
    const std::string key = info[i].cache_path.empty() ? fmt::format("(uncached {})", i) : info[i].cache_path;
    compiled[key] = compiled[key] || !info[i].cache_hit;
  }
  r.modules = 1 + (int)compiled.size(), r.compiled = I.dit_cache_hit ? 0 : 1;  // + the DiT's (the constructor's)
  for (const auto& [path, c] : compiled) r.compiled += c ? 1 : 0;

  // 2. Buffers, the RoPE table; the calibration's scratch and the original routers (every calibration
  // starts from them).
  I.buffers(g);
  if (M_ && calibration_ != RouterCalibration::Off) I.calibration_scratch(g);

  // 3. The first call of each attention at this shape: loads the modules, builds the static token
  // orders and block maps (STGA, frame-local) and the routed kernels' workspaces, runs no attention.
  // The router reads zeros here (every token in one group), so nothing depends on stale memory.
  rt::RunOptions prep_only;
  prep_only.attention = false;
  const long long n = g.n, N = g.N;
  const int hl = g.hl;
  CU_CHECK(jit::driver().cuMemsetD8Async(I.h.ptr(), 0, (size_t)n * d * 2, st));
  rt::RouterInputs router;
  if (M_) {
    router.x = rt::TensorView::contiguous(I.h.ptr(), rt::DType::BF16, {1, n, d});
    router.weights = {rt::TensorView::strided(I.w("blocks.0.self_attn.router.weight"), rt::DType::BF16, {d, M_}, {1, d})};
    if (I.sp) {
      const size_t routed = I.attn->routed_kernels().size();
      CU_CHECK(jit::driver().cuMemsetD8Async(I.rgid.ptr(), 0, routed * N * 4, st));
      CU_CHECK(jit::driver().cuMemsetD8Async(I.rprob.ptr(), 0, routed * N * 4, st));
      for (size_t j = 0; j < routed; ++j) router.routing.push_back({I.rgid.ptr() + j * N * 4, I.rprob.ptr() + j * N * 4});
    }
  }
  if (I.ring && I.ring->mode() == parallel::CrossGroup::Ring) {  // prep only: one run at the group's shape (the ring's exchanges start with a forward)
    const long long nq = g.nq, ld3 = 3LL * hl * D;
    auto view = [&](CUdeviceptr p) { return rt::TensorView::strided(p, rt::DType::BF16, {1, nq, hl, D}, {nq * ld3, ld3, D, 1}); };
    I.attn->run(view(I.sp->heads()), view(I.sp->heads() + (size_t)hl * D * 2), view(I.sp->heads() + (size_t)2 * hl * D * 2),
                rt::TensorView::contiguous(I.sp->out(), rt::DType::BF16, {1, nq, hl, D}), g.shape, nullptr, st, prep_only);
  } else {
    I.self_attention(I.sp ? I.sp->heads() : I.qkv.ptr(), I.sp ? I.sp->out() : I.a.ptr(), N, hl, D, g.shape,
                     M_ ? &router : nullptr, st, prep_only);
  }
  for (int s = 0; s < g.nshots; ++s) {  // the cross-attention's shapes (one per shot), as forward() runs them
    const long long lo = std::max(g.shot_tok[s], g.s0), hi = std::min(g.shot_tok[s + 1], g.s0 + n);
    if (lo >= hi) continue;
    const long long rows = hi - lo;
    const CUdeviceptr kvl = contexts[contexts.size() > 1 ? s : 0]->kv->ptr();
    const rt::TensorView cq = rt::TensorView::strided(I.qkv.ptr(), rt::DType::BF16, {1, rows, c.heads, D}, {rows * d, d, D, 1});
    const rt::TensorView co = rt::TensorView::strided(I.a.ptr(), rt::DType::BF16, {1, rows, c.heads, D}, {rows * d, d, D, 1});
    const rt::TensorView ck =
        rt::TensorView::strided(kvl, rt::DType::BF16, {1, T, c.heads, D}, {(long long)T * 2 * d, 2 * d, D, 1});
    const rt::TensorView cv =
        rt::TensorView::strided(kvl + (size_t)d * 2, rt::DType::BF16, {1, T, c.heads, D}, {(long long)T * 2 * d, 2 * d, D, 1});
    I.cross->run(cq, ck, cv, co, rt::AttentionShape::seq(1, (int)rows, c.heads, D), nullptr, st, prep_only);
  }
  CU_CHECK(jit::driver().cuStreamSynchronize(st));
  r.seconds = I.dit_compile_s + std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

void GpuDiT::forward(const float* latent, int F, int H, int W, double timestep,
                     const std::vector<std::shared_ptr<GpuContext>>& contexts, const std::vector<int>& shot_starts, float* out,
                     StageTimes* t, cpu::RoutingStats* routing) {
  const ModelConfig& c = cfg_;
  Impl& I = *impl_;
  const Impl::Geometry g = I.geometry(F, H, W, shot_starts, contexts.size());
  const int gf = g.gf, gh = g.gh, gw = g.gw, nshots = g.nshots, hl = g.hl;
  const long long N = g.N, s0 = g.s0, n = g.n;
  const std::vector<long long>& shot_tok = g.shot_tok;
  const int d = c.dim, heads = c.heads, D = c.head_dim(), T = c.text_len, P = c.in_channels * c.patch_volume(),
            O = c.head_out();
  for (const auto& cx : contexts)
    if (!cx || cx->T != T) throw std::invalid_argument("gpu forward: a context was not embedded by this model");
  const CUstream st = stream_;
  parallel::UlyssesGpu* sp = I.sp.get();
  I.choose_tiles(gf, gh, gw, hl, D, shot_starts);
  I.buffers(g);  // allocated (and the RoPE table uploaded) by prepare(), or now at the first forward
  const CUdeviceptr x = I.x.ptr(), h = I.h.ptr(), qkv = I.qkv.ptr(), a = I.a.ptr(), y = I.y.ptr(), ffh = I.ffh.ptr(),
                    cols = I.cols.ptr(), ho = I.ho.ptr(), lat_in = I.lat_in.ptr(), lat_out = I.lat_out.ptr(),
                    rope = I.rope.ptr();
  const CUdeviceptr rope_local = rope + (size_t)s0 * (D / 2) * 2 * 4;
  (void)x;

  I.ev.begin(st);
  // Time embedding: e [d], e0 [6d] (f32, on the device).
  time_embedding(timestep, nullptr, nullptr);
  const CUdeviceptr te = I.temb.ptr() + (size_t)(c.freq_dim + d) * 4, te0 = te + (size_t)d * 4;

  // Patch embedding -> x (f32).
  CU_CHECK(jit::driver().cuMemcpyHtoD(lat_in, latent, (size_t)N * P * 4));
  I.launch(I.k_patchify, grid_for(N * P), 256, st, lat_in, cols, c.in_channels, F, H, W, c.patch[0], c.patch[1], c.patch[2]);
  I.ev.mark(st, &StageTimes::other);
  I.gemm.linear(I.w("patch_embedding.weight"), I.w("patch_embedding.bias"), d, P, cols + (size_t)s0 * P * 2, P, (int)n, y, d,
                Epilogue::Bias, st);
  I.ev.mark(st, &StageTimes::gemm);
  auto chunk_of = [&](CUdeviceptr base, int k) { return base + (size_t)k * d * 4; };
  // x = patches; h = LN(x)(1 + m1) + m0 of block 0 (each sub-layer's residual is fused with the next norm).
  {
    const CUdeviceptr mod0 = I.w("blocks.0.modulation");
    I.add_ln(st, y, 0, 0, 1, n, 1.f, chunk_of(mod0, 1), chunk_of(te0, 1), chunk_of(mod0, 0), chunk_of(te0, 0));
  }

  const rt::AttentionShape& shape = g.shape;
  // q, k, v: strided views of the q|k|v rows (one GPU), or of the exchange's [Ng][3][Hl][D] buffer.
  const CUdeviceptr qkv_all = sp ? sp->heads() : qkv;
  // The gathered routing of each routed kernel (sequence parallelism): gid int32 / prob f32 [N] each.
  const std::vector<int>& routed = I.attn->routed_kernels();
  if (sp)
    for (int ki : routed)
      if (I.attn->spec().kernels[ki].route->topk != 1)
        throw std::runtime_error(fmt::format("sequence parallelism: kernel '{}' routes top {}; the gathered routing "
                                             "holds one group per token (top 1 only)",
                                             I.attn->spec().kernels[ki].name, I.attn->spec().kernels[ki].route->topk));
  const CUdeviceptr rgid = I.rgid.ptr(), rprob = I.rprob.ptr();
  if (routing) {
    routing->M = M_;
    routing->counts.assign(M_ ? c.layers : 0, std::vector<int>(M_, 0));
  }
  I.ev.mark(st, &StageTimes::other, &StageTimes::norms);

  // Router calibration (mode First: the first forward; Step: a new timestep): block by block (each
  // block's router input depends on the calibrated routers before it).
  const bool calibrate_this_forward = M_ && router_calibration_due(calibration_, calibrations_, calibrated_t_, timestep);
  for (int li = 0; li < c.layers; ++li) {
    const std::string p = "blocks." + std::to_string(li) + ".";
    const CUdeviceptr mod = I.w(p + "modulation");

    // ---- self-attention (h = LN(x)(1 + m1) + m0 is ready)
    if (calibrate_this_forward) {
      I.calibrate_router(li, h, s0, n, N, st);
      I.ev.mark(st, &StageTimes::other, &StageTimes::calibration);
    }
    I.linear(p + "self_attn.q", 3 * d, d, h, I.h8.ptr(), I.h8s.ptr(), n, qkv, 3 * d, Epilogue::Bias, st);
    I.ev.mark(st, &StageTimes::gemm);
    I.rms(st, qkv, 3 * d, n, I.w(p + "self_attn.norm_q.weight"), rope_local, d, I.w(p + "self_attn.norm_k.weight"));
    I.ev.mark(st, &StageTimes::other, &StageTimes::norms);
    rt::RouterInputs router;
    if (M_) {
      router.x = rt::TensorView::contiguous(h, rt::DType::BF16, {1, n, d});
      router.weights = {rt::TensorView::strided(I.w(p + "self_attn.router.weight"), rt::DType::BF16, {d, M_}, {1, d})};
    }
    if (sp && M_) {
      // Routing before the exchange: this rank routes its own tokens (all heads share the routing), then
      // every rank gets the gid/prob of all N tokens.
      std::vector<std::pair<CUdeviceptr, size_t>> gathered;
      for (size_t j = 0; j < routed.size(); ++j) {
        const CUdeviceptr g = rgid + j * N * 4, pr = rprob + j * N * 4;
        I.attn->route(routed[j], router.x, router.weights[0], g + (size_t)s0 * 4, pr + (size_t)s0 * 4, D, st);
        gathered.push_back({g, 4});
        gathered.push_back({pr, 4});
        router.routing.push_back({g, pr});
      }
      I.ev.mark(st, &StageTimes::attention, &StageTimes::router);
      sp->all_gather(gathered, st);
      I.ev.mark_comm(st);
    }
    if (sp) {
      sp->qkv_to_heads(qkv, st);
      I.ev.mark_comm(st);
    }
    // Profiled: an event after the router (+ sort, block map) and after each branch; else one for all.
    rt::RunOptions ro;
    if (I.profile)
      ro.mark = [&](int ki, bool prep) {
        if (prep) I.ev.mark(st, &StageTimes::attention, &StageTimes::router);
        else I.ev.mark_branch(st, &I.attn->spec().kernels[ki].name);
      };
    I.self_attention(qkv_all, sp ? sp->out() : a, g.nq, hl, D, shape, M_ ? &router : nullptr, st, ro);
    if (!I.profile) I.ev.mark(st, &StageTimes::attention);
    if (sp) {
      sp->out_to_seq(a, st);
      I.ev.mark_comm(st);
    }
    if (routing && M_ && !I.attn->routed_kernels().empty()) {
      const auto r = I.attn->last_routing(I.attn->routed_kernels()[0], st);
      for (int g : r.gid)
        if (g >= 0 && g < M_) ++routing->counts[li][g];
    }
    if (I.gemm_fp8) I.quant_rows(st, a, n, d, 0, I.a8.ptr(), I.a8s.ptr(), I.profile);
    I.linear(p + "self_attn.o", d, d, a, I.a8.ptr(), I.a8s.ptr(), n, y, d, Epilogue::Bias, st);
    I.ev.mark(st, &StageTimes::gemm);
    // x += y * m2; h = norm3(x) (affine LN)
    I.add_ln(st, y, chunk_of(mod, 2), chunk_of(te0, 2), 0, n, 0.f, I.w(p + "norm3.weight"), 0, I.w(p + "norm3.bias"), 0);
    I.ev.mark(st, &StageTimes::other, &StageTimes::norms);

    // ---- cross-attention: x += o(attn(rms(q(norm3(x))), k_ctx, v_ctx))
    const CUdeviceptr qc = qkv;  // [N][d] contiguous, reusing the q|k|v buffer
    I.linear(p + "cross_attn.q", d, d, h, I.h8.ptr(), I.h8s.ptr(), n, qc, d, Epilogue::Bias, st);
    I.ev.mark(st, &StageTimes::gemm);
    I.rms(st, qc, d, n, I.w(p + "cross_attn.norm_q.weight"), 0);
    I.ev.mark(st, &StageTimes::other, &StageTimes::norms);
    // one dense attention per shot over its context: q = the shot's rows of this shard [rows][d] (heads
    // at column h * D), k | v = the context's [T][2d] rows of this block (k at column 0, v at d)
    for (int s = 0; s < nshots; ++s) {
      const GpuContext& cx = *contexts[contexts.size() > 1 ? s : 0];
      const CUdeviceptr kvl = cx.kv->ptr() + (size_t)li * T * 2 * d * 2;
      // this shard's part of the shot (token r0 is local row r0 - s0)
      const long long lo = std::max(shot_tok[s], s0), hi = std::min(shot_tok[s + 1], s0 + n);
      if (lo >= hi) continue;
      const long long rows = hi - lo;
      const rt::TensorView cq = rt::TensorView::strided(qc + (size_t)(lo - s0) * d * 2, rt::DType::BF16,
                                                        {1, rows, heads, D}, {rows * d, d, D, 1});
      const rt::TensorView co = rt::TensorView::strided(a + (size_t)(lo - s0) * d * 2, rt::DType::BF16,
                                                        {1, rows, heads, D}, {rows * d, d, D, 1});
      const rt::TensorView ck =
          rt::TensorView::strided(kvl, rt::DType::BF16, {1, T, heads, D}, {(long long)T * 2 * d, 2 * d, D, 1});
      const rt::TensorView cv = rt::TensorView::strided(kvl + (size_t)d * 2, rt::DType::BF16, {1, T, heads, D},
                                                        {(long long)T * 2 * d, 2 * d, D, 1});
      I.cross->run(cq, ck, cv, co, rt::AttentionShape::seq(1, (int)rows, heads, D), nullptr, st);
    }
    I.ev.mark(st, &StageTimes::attention, &StageTimes::cross);
    if (I.gemm_fp8) I.quant_rows(st, a, n, d, 0, I.a8.ptr(), I.a8s.ptr(), I.profile);
    I.linear(p + "cross_attn.o", d, d, a, I.a8.ptr(), I.a8s.ptr(), n, y, d, Epilogue::Bias, st);
    I.ev.mark(st, &StageTimes::gemm);
    // x += y; h = LN(x)(1 + m4) + m3
    I.add_ln(st, y, 0, 0, 0, n, 1.f, chunk_of(mod, 4), chunk_of(te0, 4), chunk_of(mod, 3), chunk_of(te0, 3));
    I.ev.mark(st, &StageTimes::other, &StageTimes::norms);

    // ---- FFN: x += ffn2(gelu(ffn0(LN(x)(1+m4)+m3))) * m5
    // FP8: the bias-added output in bf16, then GELU(tanh) inside its quantization (dit_quant_rows)
    I.linear(p + "ffn.0", c.ffn_dim, d, h, I.h8.ptr(), I.h8s.ptr(), n, ffh, c.ffn_dim,
             I.gemm_fp8 ? Epilogue::Bias : Epilogue::GeluBias, st);
    if (I.gemm_fp8) {
      if (I.profile) I.ev.mark(st, &StageTimes::gemm);
      I.quant_rows(st, ffh, n, c.ffn_dim, 1, I.f8.ptr(), I.f8s.ptr(), I.profile);
    }
    I.linear(p + "ffn.2", d, c.ffn_dim, ffh, I.f8.ptr(), I.f8s.ptr(), n, y, d, Epilogue::Bias, st);
    I.ev.mark(st, &StageTimes::gemm);
    // x += y * m5; h = the next block's LN(x)(1 + m1) + m0, or the head's LN(x)(1 + n1) + n0 with
    // n = head.modulation + e
    if (li + 1 < c.layers) {
      const CUdeviceptr nm = I.w("blocks." + std::to_string(li + 1) + ".modulation");
      I.add_ln(st, y, chunk_of(mod, 5), chunk_of(te0, 5), 0, n, 1.f, chunk_of(nm, 1), chunk_of(te0, 1), chunk_of(nm, 0),
               chunk_of(te0, 0));
    } else {
      const CUdeviceptr hm = I.w("head.modulation");
      I.add_ln(st, y, chunk_of(mod, 5), chunk_of(te0, 5), 0, n, 1.f, hm + (size_t)d * 4, te, hm, te);
    }
    I.ev.mark(st, &StageTimes::other, &StageTimes::norms);
  }

  if (calibrate_this_forward) ++calibrations_, calibrated_t_ = timestep;

  // ---- head
  I.gemm.linear(I.w("head.head.weight"), I.w("head.head.bias"), O, d, h, d, (int)n, ho + (size_t)s0 * O * 2, O, Epilogue::Bias,
                st);
  I.ev.mark(st, &StageTimes::gemm);
  if (sp) {  // every rank gets the whole head output, so every rank's sampler sees the same velocity
    sp->all_gather({{ho, (size_t)O * 2}}, st);
    I.ev.mark_comm(st);
  }
  I.launch(I.k_unpatchify, grid_for(N * O), 256, st, ho, lat_out, c.out_channels, F, H, W, c.patch[0], c.patch[1], c.patch[2]);
  I.ev.mark(st, &StageTimes::other);
  CU_CHECK(jit::driver().cuStreamSynchronize(st));
  CU_CHECK(jit::driver().cuMemcpyDtoH(out, lat_out, (size_t)N * O * 4));
  I.ev.collect(t, &cross_seconds_, &comm_seconds_);
  if (sp) sp->comm().check_async();
}

// ---- patterns -----------------------------------------------------------------------------------------

std::unique_ptr<rt::PatternAttention> make_cross_attention(const std::string& arch) {
  rt::AttentionOptions o;
  o.arch = arch;
  return std::make_unique<rt::PatternAttention>(rt::load_builtin(kCrossPattern), o);
}


rt::LoadedPattern gpu_pattern(const std::string& attention, const ref::PatternSpec& spec) {
  auto ends = [&](const char* s) {
    const size_t l = std::strlen(s);
    return attention.size() >= l && attention.compare(attention.size() - l, l, s) == 0;
  };
  if (ends(".json")) {
    namespace fs = std::filesystem;
    const fs::path p(attention);
    return rt::load_compiled(p.parent_path().empty() ? "." : p.parent_path().string(), p.stem().string());
  }
  for (const auto& n : rt::builtin_names())
    if (n == attention) {
      rt::LoadedPattern lp = rt::load_builtin(attention);
      if (lp.spec.params != spec.params || lp.spec.kernels.size() != spec.kernels.size())
        throw std::runtime_error(fmt::format(
            "--backend gpu: pattern '{}' with --param overrides: moga run keeps only the manifest of a recompiled pattern, "
            "not its CUDA source. Compile it (`moga compile {}.moga --param ... -o DIR`) and pass --attention DIR/{}.json",
            attention, attention, spec.pattern));
      return lp;
    }
  throw std::runtime_error(fmt::format(
      "--backend gpu: '{}' is not a built-in pattern or a compiled manifest (.json with its .cu beside it); "
      "compile a .moga file first (`moga compile FILE.moga -o DIR`) and pass --attention DIR/NAME.json",
      attention));
}

}  // namespace moga::model::gpu
