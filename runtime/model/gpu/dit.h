// The Wan2.1 DiT on the GPU in bf16 (docs/model.md, "GPU backend"): the same forward as
// runtime/model/cpu/dit.h, with
//   * weights uploaded once as bf16 (norm weights, modulation tables and biases of the time embedding
//     kept in f32 where they are read by our kernels), or generated on the device from the seed
//     (`--weights random`: the same numbers as NormalRng, no host copy);
//   * GEMMs through cuBLASLt (gemm.h): q/k/v in one GEMM against the concatenated weight, the context's
//     k/v likewise, bias in the epilogue, the FFN's GELU(tanh) fused as GELU_BIAS;
//   * our kernels (kernels_src/cuda/dit_kernels.cuh, NVRTC): LN + adaLN modulation, RMSNorm + 3-D RoPE
//     in place on the fused q/k/v output, gated residual (residual stream x kept in f32);
//   * self-attention through rt::PatternAttention (any compiled pattern; the router reads the
//     LN-modulated hidden state, as the CPU backend);
//   * cross-attention over the text tokens through rt::PatternAttention too: the builtin dense pattern
//     `full` with keys/values of another length (T = text_len), one run per shot (its rows of this
//     rank's shard against its context), the fused attention kernel (no score scratch). The context's
//     k/v are computed once per context (embed_context), not per step.
// One batch item per forward, one stream. Nothing here touches the device before the constructor.
#pragma once

#include <cuda.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/attention/attention.h"
#include "runtime/jit/jit.h"
#include "runtime/jit/module.h"
#include "runtime/model/config.h"
#include "runtime/model/cpu/dit.h"  // RoutingStats
#include "runtime/model/profile.h"
#include "runtime/model/router_calibration.h"
#include "runtime/model/weights.h"

namespace moga::parallel {
class Communicator;
}

namespace moga::gemm {
class Gemm;
}

namespace moga::model::gpu {

using gemm::Gemm;

// What the GPU backend allocates for one forward at N tokens (weights + activations + scratch); the
// same arithmetic as the allocations in GpuDiT (checked by the tests against the device's usage).
struct GpuMemory {
  size_t weights = 0;      // the bf16/f32 weight arena (+ the e4m3 copies of the block linears with FP8 GEMMs)
  size_t activations = 0;  // per-forward buffers (x f32, h, qkv, attention out, y, FFN hidden, patches, latents)
  size_t contexts = 0;     // per context: text embedding + every block's k/v of the text
  size_t other = 0;        // cuBLASLt workspace, attention workspaces (FP8 attention's e4m3 copies), RoPE table,
                           // modules (margin)
  size_t total() const { return weights + activations + contexts + other; }
};
// The terms that depend on the precisions and rows: FP8 GEMMs, FP8 attention's e4m3 copies of q, k and V^T, one
// set per FP8 kernel with a gather (routed or keyed, in its sorted order) and one shared by the FP8 kernels
// without (the token order; runtime/attention/attention.h, Precision), and the bf16 q, k, v copies of a gathered
// kernel on sm90.tma.sorted (registry.h).
struct GpuMemoryOptions {
  bool gemm_fp8 = false;
  int fp8_attention_copies = 0;
  int bf16_sorted_copies = 0;  // bf16 q, k, v in a gathered kernel's sorted order (sm90.tma.sorted), per kernel
};
GpuMemory estimate_gpu_memory(const ModelConfig& c, long long tokens, int router_groups, int n_contexts,
                              const GpuMemoryOptions& o = {});
std::string format_gpu_memory(const GpuMemory& m);

// The device's free and total memory (cuMemGetInfo on the primary context). Throws without a device.
void device_memory(size_t* free_bytes, size_t* total_bytes);
// Throws std::runtime_error with the numbers when `need` exceeds the free memory.
void check_device_memory(const GpuMemory& need, const std::string& what);

// The DiT's own kernels, compiled (or found in the disk cache) by NVRTC. compile() needs no device.
jit::CompiledKernel compile_dit_kernels();

// Router calibration on the device (router_calibration.h's two steps by dit_kernels.cuh's dit_calib_*),
// queued on a stream with no host round trip; GpuDiT runs it per block, the tests against the host's.
struct DeviceCalibration {
  // Scratch for N tokens of width d and M groups (bytes, each >= 256): chunk partials, their folds,
  // the column sums (double), W' (f32).
  struct Sizes {
    size_t part, sums, hs, wp;
  };
  static Sizes sizes(long long N, int d, int M);
  struct Scratch {
    CUdeviceptr part, sums, hs, wp;
  };
  explicit DeviceCalibration(const jit::Module& dit_kernels);
  // h: bf16 [N][d] (all tokens); orig: the block's original router f32 [M][d] (16-byte aligned, M <= 64);
  // out: the calibrated router, bf16 [M][d].
  void run(CUdeviceptr h, long long N, int d, CUdeviceptr orig, int M, const Scratch& s, CUdeviceptr out,
           CUstream stream) const;

 private:
  CUfunction sums_, fold_, project_, moments_, equalize_;
};

// A text context after text_embedding, with every block's cross-attention k/v ([T][2d] bf16, k
// RMS-normed): computed once, used by every step.
struct GpuContext {
  int T = 0;
  std::unique_ptr<jit::DeviceBuffer> kv;  // [layers][T][2 * dim] bf16
};

// What GpuDiT::prepare() did: the kernel modules a step runs (distinct disk-cache entries: the DiT's
// kernels, the self-attention's, the cross-attention's; a `full` run's self- and cross-attention share
// one), how many NVRTC compiled (the rest came from the cache), and the wall time.
struct PrepareReport {
  int modules = 0, compiled = 0;
  double seconds = 0;
  // "compiling 2 kernel modules (1 from cache) ... 3.1 s" or "kernels from cache (3), 0.2 s"
  std::string line() const;
};

// The cross-attention over the text: the built-in dense pattern `full` with the runtime's default options
// (engine Auto: at head dim 128 on Hopper the wgmma kernel), whatever the self-attention pattern is, so
// its module, kernel and tiles are the same in a `full` and a `moga` run (GpuModelBuild.CrossAttention*).
// `arch` "" = the device's (AttentionOptions::arch).
constexpr const char* kCrossPattern = "full";
std::unique_ptr<rt::PatternAttention> make_cross_attention(const std::string& arch = "");

// The block linears' precision (GpuDiT::set_gemm_precision; `moga run --gemm-precision`).
enum class GemmPrecision { Bf16, Fp8 };
const char* gemm_precision_name(GemmPrecision p);  // "bf16", "fp8"

class GpuDiT {
 public:
  // From host weights (consumed: each tensor is converted to bf16, uploaded and released).
  GpuDiT(Weights&& w, rt::LoadedPattern pattern);
  // Seeded synthetic weights generated on the device (= random_weights(cfg, seed, M) rounded to bf16).
  GpuDiT(const ModelConfig& cfg, uint64_t seed, int router_groups, rt::LoadedPattern pattern);
  ~GpuDiT();
  GpuDiT(const GpuDiT&) = delete;
  GpuDiT& operator=(const GpuDiT&) = delete;

  const ModelConfig& config() const { return cfg_; }
  int router_groups() const { return M_; }
  CUstream stream() const { return stream_; }
  size_t weight_bytes() const;

  // context [L][text_dim] f32, L <= text_len (zero-padded to text_len, as Wan does).
  std::shared_ptr<GpuContext> embed_context(const float* context, int L, StageTimes* t = nullptr);

  // As CpuDiT::forward: latent [16][F][H][W] f32 on the host, out [16][F][H][W] f32 on the host.
  // routing: when set, the router group sizes of every block are downloaded (synchronises per block).
  void forward(const float* latent, int F, int H, int W, double timestep,
               const std::vector<std::shared_ptr<GpuContext>>& contexts, const std::vector<int>& shot_starts, float* out,
               StageTimes* t = nullptr, cpu::RoutingStats* routing = nullptr);

  // Everything a first forward at this latent shape would do besides computing, done now, so that the
  // first sampling step runs like the others (docs/model.md, "GPU backend"): compiles or loads from
  // the disk cache every module the step runs (the self- and cross-attention modules in parallel
  // threads), loads them, allocates the per-forward buffers, uploads the RoPE table, builds the static
  // token orders and block maps (self-attention at this shape, cross-attention per shot), keeps the
  // original routers when they will be calibrated. Call after set_router_calibration /
  // set_sequence_parallel, with the contexts forward() will get. Forward() calls at another shape
  // still work (they prepare on first use, as before).
  PrepareReport prepare(int F, int H, int W, const std::vector<int>& shot_starts,
                        const std::vector<std::shared_ptr<GpuContext>>& contexts);

  // Profiling (`moga run --profile-branches`): CUDA events after the router and after every
  // self-attention branch (StageTimes::router, StageTimes::branches). Off: one event for the whole
  // self-attention, as cheap as before.
  void set_profile_branches(bool on);
  bool profile_branches() const;

  // The self-attention's precision (rt::AttentionOptions::precision; Fp8: every branch on sm90.tma.fp8, the
  // tuning database not read). routed_only: only the routed kernels run the FP8 row (AttentionOptions::variants
  // by name); the static ones, whose FP8 prep costs more than FP8 saves at 1,560-token groups (the H200,
  // docs/performance.md "FP8 on the routed branch only"), stay bf16. Set before prepare() and
  // set_sequence_parallel(); the cross-attention stays bf16.
  void set_attention_precision(rt::Precision p, bool routed_only = false);
  // Self-attention kernels on named kernel registry rows (kernel name -> row; AttentionOptions::variants, over
  // the precision's choice; the tuning database's tiles are then not applied). Throws as PatternAttention's
  // constructor does for a row that does not fit the kernel.
  void set_kernel_variants(const std::map<std::string, std::string>& by_kernel);

  // The block linears' precision. Fp8: q|k|v, o, the cross-attention's q and o and both FFN layers run cuBLASLt
  // e4m3 GEMMs with one f32 scale per output channel of the weight and per token of the input (outer-vector
  // scaling, sm_90 only: elsewhere this throws naming the device); the weights are quantized here once (an
  // e4m3 copy beside the bf16 arena), the inputs per forward (dit_add_ln writes h's copy, dit_quant_rows the
  // attention outputs' and the FFN's GELU output). Patch embedding, head and the text's k/v stay bf16.
  // Set after the weights are final (any time before a forward).
  void set_gemm_precision(GemmPrecision p);
  GemmPrecision gemm_precision() const;

  // Router calibration (runtime/model/router_calibration.h; routed patterns only, Off by default):
  // First: the first forward replaces each block's router (bf16, in the weight arena) by its
  // calibrated version, computed from that block's router input over all N tokens (with sequence
  // parallelism the shards' inputs are all-gathered first: every rank gets the same router, the same
  // as one GPU's), and every later forward uses it; Step: likewise at every forward whose timestep
  // differs from the last calibration's, each time from the original routers (an f32 device copy of the
  // bf16 weights, made by prepare() or the first calibration). All on the device (dit_calib_* kernels):
  // a calibrating forward makes no host round trip. Set before the first forward.
  void set_router_calibration(RouterCalibration mode) { calibration_ = mode; }
  RouterCalibration router_calibration() const { return calibration_; }
  bool routers_calibrated() const { return M_ > 0 && calibrations_ > 0; }
  // Forwards that (re)calibrated the routers so far.
  int router_calibrations() const { return M_ > 0 ? calibrations_ : 0; }

  // The attention objects a forward runs (tests: the cross-attention's plan is the same under every pattern).
  const rt::PatternAttention& self_attention() const;
  const rt::PatternAttention& cross_attention() const;

  // GPU time spent in cross-attention by all forwards so far (part of StageTimes::attention; per
  // forward in StageTimes::cross).
  double cross_attention_seconds() const { return cross_seconds_; }

  // Sequence parallelism (Ulysses, docs/distributed.md): with a communicator of world P > 1, forward()
  // runs this rank's contiguous token shard through every layer and exchanges q|k|v and the attention
  // output around self-attention (all-to-all seq -> heads before, heads -> seq after; the attention
  // runs over all N tokens for H/P heads). Routed patterns route the shard's tokens on this rank and
  // all-gather gid/prob before the attention; the head output is all-gathered, so `out` (and the
  // sampler state) is the same full latent on every rank. Every rank must call forward() with the same
  // arguments. Call before the first forward.
  // Heads that P does not divide: Ulysses inside groups of U = gcd(H, P) ranks, ring attention across
  // the R = P / U groups (runtime/parallel/usp_plan.h, ring_gpu.h): the self-attention of a group's
  // tokens runs R steps over the groups' K/V blocks, merged by their log-sum-exp (one dense or masked kernel:
  // parallel::ring_supported), or, for group keys, routers and mixtures, one call over every group's K/V with
  // the group's tokens as the query range (parallel::gather_supported); others throw ShardingError naming the
  // GPU counts with R = 1.
  void set_sequence_parallel(std::shared_ptr<parallel::Communicator> comm);
  int world() const;
  // GPU time spent in the exchanges by all forwards so far (part of StageTimes::other).
  double comm_seconds() const { return comm_seconds_; }

  // Time embedding e [dim] and e0 [6*dim] in f32 (tests).
  void time_embedding(double timestep, float* e, float* e0);

  // Download one weight tensor (Wan2.1 name) as f32 (tests: device RNG vs the host's).
  std::vector<float> download_weight(const std::string& name) const;

 private:
  struct Impl;
  void init_common();
  ModelConfig cfg_;
  int M_ = 0;
  CUstream stream_ = nullptr;
  double cross_seconds_ = 0, comm_seconds_ = 0;
  RouterCalibration calibration_ = RouterCalibration::Off;
  int calibrations_ = 0;
  double calibrated_t_ = 0;  // the timestep of the last calibration
  std::unique_ptr<Impl> impl_;
};

// The CUDA source of a pattern for the GPU backend: a built-in by name, or a compiled folder's
// manifest (DIR/NAME.json with DIR/NAME.cu). `spec` is what moga run resolved (with --param it is
// a recompiled pattern whose CUDA source moga run does not keep: refused with a clear message).
rt::LoadedPattern gpu_pattern(const std::string& attention, const ref::PatternSpec& spec);

}  // namespace moga::model::gpu
