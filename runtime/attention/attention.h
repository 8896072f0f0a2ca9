// PatternAttention: runs a compiled attention pattern on the GPU (docs/architecture.md, "Execution
// model"). The API the model code calls:
//
//   rt::PatternAttention attn(rt::load_builtin("moga"));               // no device work yet
//   rt::AttentionShape shape = rt::AttentionShape::video(B, F, Hgt, Wid, H, D, {0, 8});
//   rt::RouterInputs router{x, {w_dynamic}};                             // routed kernels only
//   attn.run(q, k, v, out, shape, &router, stream);                      // async on `stream`
//
// q, k, v, out: bf16 [B, N, H, D] (rt::TensorView; any batch/token/head strides that are multiples
// of 8 elements, D contiguous, 16-byte aligned); D is 64 or 128. Every argument is checked before
// anything is launched: validate() is that check on its own and needs no device (a wrong argument
// raises rt::ArgumentError naming it).
// Cross-attention: k and v may hold another number of tokens Nk than q and out (k, v: [B, Nk, H, D],
// Nk taken from k, v must match; the shape describes the queries) when the pattern is dense: every
// kernel without mask, group key, router or bias program (e.g. the builtin `full`; softcap, scale, a
// gate program over the queries and branch weights are fine). Key tiles = ceil(Nk / BN), keys past Nk
// masked. Any other pattern with Nk != N is an ArgumentError naming the kernel, before any launch.
//
// What a call does, per kernel (branch) of the pattern, in manifest order, all on `stream`; the first
// kernel writes out, the others accumulate into it (the epilogue's weight * gate, no extra pass):
//   dense (no group, no mask):   the attention kernel alone (no block map);
//   mask only:                   identity order + a block map that depends only on the shape: built
//                                once per (shape, tiles) and kept on the device;
//   computed key (group t.frame, STGA's region): the token order is static per shape too: keys on
//                                the host from the manifest's key program (G = max key + 1), counting
//                                sort, block map (GPU), all once per shape;
//   routed (route linear(M) top 1): every call: [memset of the histogram] + [weight pack] + router
//                                (x W_r on the tensor cores, softmax, top-1, sort histogram fused) +
//                                scatter (offsets, perm, gid, gate = router prob at sorted positions)
//                                + block map (from the segments; or tile summaries + classification
//                                when the branch also has a mask) + attention: 4 to 6 launches,
//                                chained with programmatic dependent launch.
// Workspaces are allocated per shape and reused: a warm call allocates nothing and copies nothing
// between host and device.
//
// JIT: one module per (pattern, head dim), compiled by NVRTC from the generated source, the embedded
// kernels_src/cuda headers and name expressions for exactly the instantiations needed (the attention
// kernel of each pattern kernel, the router for each M, block maps for masked kernels, ...); cached on
// disk by runtime/jit.
//
// Attention kernels (Engine, per pattern kernel and head dim; engine() says which one runs):
//   MmaSync  attention_fwd<moga_gen_P::K, D, BM, BN, W, S> (v7, mma.sync, any sm_80+ device); tiles:
//            the manifest's, or AttentionOptions::tiles per kernel name (what `moga tune` chooses);
//            grid (ceil(N/BM), H, B).
//   Wgmma    attention_fwd_ws<moga_gen_P::K, D, 128, 128, 3> (v11, wgmma + mbarriers, a producer
//            warpgroup and two consumer warpgroups, 384 threads; Hopper only: the module is compiled for
//            sm_90a), or with AttentionOptions::wg_producer = 0 attention_fwd_wg<..., D, 128, 128, 8, 3>
//            (v10, 256 threads); one tile configuration, BM = BN = 128, 3 stages (block maps are built
//            with 128/128); grid (ceil(N/128) * H * B, 1, 1) or persistent; at D = 128 230,512 B of
//            shared memory (v10), 230,592 B (v11: + its ring of item ids). docs/performance.md, "v9", "v11" and "Runtime with the wgmma kernel".
//   Auto     (the default) Wgmma where it is the faster kernel: head dim 128 on an sm_90 target, for
//            every kernel that has no AttentionOptions::tiles entry; MmaSync otherwise (D = 64, other
//            archs, and kernels with a tile entry: those entries are mma.sync configurations, e.g. the
//            tuner's, which measures v7; they keep v7).
// AttentionOptions::engine = Wgmma forces the wgmma engine for every kernel at both head dims (64 and 128; at 64
// it is slower than v7, useful for checks); a tile entry other than 128/128/8/3 is then an
// ArgumentError (constructor), a target other than sm_90 a NotSupportedError (validate/compile/run).
// A module whose kernels mix the engines (Auto with some tile entries) is one sm_90a module.
//
// Streams and threads: a PatternAttention owns its workspaces (token orders, block maps, router
// outputs), so calls on one object must be ordered: use one object per stream (or per thread), or
// synchronize between calls on different streams. run() is not thread-safe.
// CUDA graphs: the first call for a shape or head dim uploads and compiles synchronously; capture
// warm calls only (a warm call only enqueues launches and one memset).
//
// Not supported on the GPU yet (raised by the constructor, before any work): top-k > 1 routing (the
// epilogue writes each sorted entry to its token: with k > 1 a token appears k times and the
// accumulation would race; it needs fp32 atomics or a k-pass schedule).
#pragma once

#include <cuda.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runtime/attention/pattern.h"
#include "runtime/attention/shape.h"
#include "runtime/attention/tensor.h"

namespace moga::rt {

// A feature the pattern uses that the GPU path does not implement yet.
class NotSupportedError : public ArgumentError {
 public:
  using ArgumentError::ArgumentError;
};

// Per-kernel tile configuration (attention_fwd's BM, BN, WARPS, STAGES). 0 fields: the manifest's.
struct TileConfig {
  int block_m = 0, block_n = 0, warps = 0, stages = 0;
  bool operator==(const TileConfig& o) const {
    return block_m == o.block_m && block_n == o.block_n && warps == o.warps && stages == o.stages;
  }
  bool operator!=(const TileConfig& o) const { return !(*this == o); }
};

// The attention kernel (see the header comment, "Attention kernels").
enum class Engine { Auto, MmaSync, Wgmma };
const char* engine_name(Engine e);  // "auto", "mma.sync", "wgmma"

// The one tile configuration of the wgmma kernel (v9).
inline constexpr TileConfig kWgmmaTiles{128, 128, 8, 3};

// Whether `arch` ("sm_90", "sm_90a", "sm_80", ...) can run the wgmma kernel: sm_90 only (wgmma is an
// sm_90a feature; Blackwell has none).
bool wgmma_arch(const std::string& arch);


struct RouterInputs {
  TensorView x;                     // bf16 [B, N, d_model]
  // W_r bf16 [d_model, M] per routed kernel: either one per routed kernel (in manifest order) or one
  // per kernel (index = kernel index; entries of kernels that are not routed are ignored).
  std::vector<TensorView> weights;
  // The caller promises that the weights are the same tensors with the same contents as in the
  // previous call: the packed copy is reused (one launch fewer per routed kernel).
  bool weights_unchanged = false;
  // A routing computed elsewhere (sequence parallelism, runtime/parallel and docs/distributed.md: each
  // rank routes the tokens of its own shard with route() and the ranks all-gather gid/prob, so that the
  // attention over the full sequence for the rank's heads groups by the same routing). One entry per
  // routed kernel (manifest order): device int32 gid [B][N] in [0, M) and float prob [B][N]. When set, x
  // and weights are not read and no router runs: the counting sort starts from gid (one histogram
  // launch instead of the router). The buffers must stay valid until the work on `stream` is done,
  // and until last_routing() when it is called (it downloads from them).
  struct Given {
    CUdeviceptr gid = 0, prob = 0;
  };
  std::vector<Given> routing;
};

struct AttentionOptions {
  std::map<std::string, TileConfig> tiles;  // by kernel name; missing or 0 fields: the manifest's
                                            // (an entry keeps that kernel on MmaSync under Auto)
  Engine engine = Engine::Auto;             // which attention kernel (header comment)
  // The GPU arch the modules are compiled for and the engine is chosen for: "" = the current
  // device's (sm_90 without a device, as runtime/jit); Wgmma modules get the "a" suffix (sm_90a).
  std::string arch;
  bool pdl = true;                          // programmatic dependent launch of the prep and attention kernels
  int router_config = 1;                    // prep.cuh's router configuration (0..4)
  std::vector<std::string> nvrtc_flags;     // extra NVRTC options (part of the cache key)
  // Grouped kernels (routed or keyed): every group starts at a multiple of lcm(BM, BN) of the sorted
  // order, so no tile straddles two groups (fewer tile pairs, partial tiles only where a group's span
  // ends in padding). false: the dense sorted order (A/B benchmarks). docs/performance.md, "Aligned groups".
  bool align_groups = true;
  // attention_fwd_wg's OPT switches (kernels_src/cuda/attention_fwd_wg.cuh), -1: its default. For A/B runs;
  // >= 0 with wg_producer = -1 runs attention_fwd_wg (v10); with wg_producer = 1 they are attention_fwd_ws's
  // switches (kernels_src/cuda/attention_fwd_ws.cuh).
  int wg_opt = -1;
  // The wgmma engine's grid: 1 = persistent (one CTA per SM looping over the items), 0 = one CTA per
  // item, -1 = by kernel: persistent for routed kernels without a mask whose groups average fewer than
  // kPersistentMaxTiles key tiles (short, equal items: the persistent loop overlaps each item's start
  // with the previous one's drain), one CTA per item otherwise (long or unequal items: the hardware's
  // dispatch balances as well). docs/performance.md, "v10" and "v11".
  int wg_persistent = -1;
  // Warp specialization of the wgmma engine: 1 = attention_fwd_ws (v11: a producer warpgroup issues the
  // copies, two consumer warpgroups compute; 384 threads), 0 = attention_fwd_wg (v10: the two warpgroups
  // copy and compute), -1 = the default: v11 (v10 when wg_opt >= 0). docs/performance.md, "v11".
  int wg_producer = -1;
  // Persistent grids of attention_fwd_ws: 1 (and -1, the default) = dynamic scheduling, each CTA claims
  // the next work item from an atomic counter when it is free; 0 = the static round-robin (CTA c takes
  // items c, c + G, ...). docs/performance.md, "v11".
  int wg_dynamic = -1;
};

// Which parts of run() to do. Benchmarks time the attention kernels alone with {prep=false}: the
// token order, gates and block maps of the previous call (same shape) are reused.
struct RunOptions {
  bool prep = true;
  bool attention = true;
};

// What the module for one head dim compiled to (prepare()).
struct ModuleInfo {
  int head_dim = 0;
  std::string arch;              // compiled for ("sm_90a" when a kernel runs the wgmma engine)
  std::vector<Engine> engines;   // per kernel: MmaSync or Wgmma
  bool cache_hit = false;
  double compile_ms = 0;
  std::string cache_path;
  std::vector<std::string> kernels;  // the name expressions
};

class PatternAttention {
 public:
  // No device work: parses the plan (kinds of kernels, tiles). Throws NotSupportedError for features
  // the GPU path lacks, ArgumentError for bad tile overrides (unknown kernel; under Engine::Wgmma a
  // configuration other than 128/128/8/3).
  explicit PatternAttention(LoadedPattern pattern, AttentionOptions options = {});
  ~PatternAttention();
  PatternAttention(const PatternAttention&) = delete;
  PatternAttention& operator=(const PatternAttention&) = delete;

  const LoadedPattern& pattern() const { return pattern_; }
  const AttentionOptions& options() const { return options_; }
  const ref::PatternSpec& spec() const { return pattern_.spec; }
  // The attention kernel (MmaSync or Wgmma, never Auto) and the tile configuration kernel ki runs with
  // at head dim `head_dim` (Wgmma: kWgmmaTiles; block maps are built with its BM/BN). No device work
  // beyond asking the device's arch when AttentionOptions::arch is "".
  Engine engine(int ki, int head_dim = 128) const;
  TileConfig tiles(int ki, int head_dim = 128) const;
  // The target arch the engine choice is made for (AttentionOptions::arch, else the device's, else sm_90).
  std::string arch() const;
  // Indices of the routed kernels, in manifest order.
  const std::vector<int>& routed_kernels() const { return routed_; }

  // Every check run() makes, without touching the device. Throws ArgumentError / NotSupportedError.
  void validate(const TensorView& q, const TensorView& k, const TensorView& v, const TensorView& out,
                const AttentionShape& shape, const RouterInputs* router) const;

  // Validates, then launches everything on `stream` (asynchronous; the first call for a shape builds
  // and caches the static token orders and block maps, the first call for a head dim compiles or
  // loads the module). q, out: [B, N, H, D] of `shape`; k, v: [B, N, H, D], or [B, Nk, H, D] with
  // Nk != N for dense patterns (cross-attention, header comment).
  void run(const TensorView& q, const TensorView& k, const TensorView& v, const TensorView& out,
           const AttentionShape& shape, const RouterInputs* router, CUstream stream,
           const RunOptions& opt = {});

  // The router alone (sequence parallelism): routed kernel ki (one of routed_kernels()) on x [B, n,
  // d_model] (e.g. one rank's token shard) with its W_r [d_model, M]: writes gid (int32) and prob (f32)
  // [B][n] (the same values run() would compute for those tokens) to the given device buffers, on
  // `stream`. head_dim picks the module (compiled or loaded on first use, as run()). Feed the gathered
  // result to run() through RouterInputs::routing.
  void route(int ki, const TensorView& x, const TensorView& w, CUdeviceptr gid, CUdeviceptr prob, int head_dim,
             CUstream stream);

  // Compiles (or finds in the disk cache) the module for head dim D; needs NVRTC, not a device
  // (build machines use it to fill the cache that travels to the GPU machine).
  ModuleInfo compile(int head_dim);

  // ---- inspection (tests, benchmarks): synchronize `stream` and download -------------------------
  struct Routing {
    int B = 0, N = 0, M = 0;
    std::vector<int> gid;     // [B][N] chosen group
    std::vector<float> prob;  // [B][N] its softmax probability
  };
  // The router output of routed kernel ki in the last run.
  Routing last_routing(int ki, CUstream stream = nullptr) const;
  struct Order {
    int B = 0, N = 0, G = 0;
    int align = 1;                            // the group alignment the kernels saw (group_align)
    std::vector<int> perm, gid, seg_offsets;  // [B][N], [B][N], [B][G+1]
    std::vector<float> gate;                  // [B][N] or empty
  };
  // Token order of grouped kernel ki in the last run: the tokens sorted by group id (padding of aligned
  // groups left out). raw: the layout the kernels read instead, N = the padded sorted length, perm and
  // gid -1 at padding, seg_offsets the padded group starts (routed kernels lay the spans out by size,
  // smallest first: prep.cuh SortParams::by_size).
  Order last_order(int ki, CUstream stream = nullptr, bool raw = false) const;
  // The alignment of group starts in kernel ki's sorted order at head dim D: lcm(BM, BN) of its engine's
  // tiles when AttentionOptions::align_groups and the kernel is grouped, else 1.
  int group_align(int ki, int head_dim = 128) const;
  struct MapStats {
    int tq = 0, tk = 0;
    long long full = 0, partial = 0, empty = 0;  // tile pairs over all batch items
  };
  // Block map of kernel ki (dense kernels: every pair full) for the last run's shape.
  MapStats last_block_map(int ki, CUstream stream = nullptr) const;

 private:
  struct Impl;
  LoadedPattern pattern_;
  AttentionOptions options_;
  std::vector<int> routed_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace moga::rt
