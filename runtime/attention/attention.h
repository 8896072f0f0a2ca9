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
// Attention kernels: the rows of the kernel registry (registry.h), one per pattern kernel and head dim;
// variant(ki, D) says which one runs:
//   sm80.mma  attention_fwd<moga_gen_P::K, D, BM, BN, W, S> (mma.sync, any sm_80+ device); tiles: the
//             manifest's, or AttentionOptions::tiles per kernel name (what `moga tune` chooses); grid
//             (ceil(N/BM), H, B).
//   sm90.ws*  attention_fwd_ws<moga_gen_P::K, D, 128, BN, S> (wgmma + mbarriers, a producer warpgroup and
//             two consumer warpgroups, 384 threads; Hopper only: the module is compiled for sm_90a); tiles
//             128/128 with 3 stages by default, BN 64 and 2-4 stages through a tiles entry; block maps are
//             built with its BM/BN. The rows differ in the grid: sm90.ws by kernel (persistent with dynamic
//             scheduling for routed kernels with short groups, packed groups and masked kernels of fewer
//             than 64 key tiles an item, else one CTA per work item; last_grid() says which ran),
//             sm90.ws.items, sm90.ws.persistent, sm90.ws.static (docs/performance.md, "v11").
//   sm90.tma  attention_fwd_tma<moga_gen_P::K, D, 128, BN, S> (the same consumers, Q in shared memory, a TMA
//             producer; tensor maps made per call, tma_maps.h) for kernels without a gather (dense,
//             masked, cross-attention); BN 64, 128 or 176 (default 128/176/2); the engine's
//             default for kernels without a gather (dense and masked); a kernel with a gather (keyed,
//             routed) named onto it runs sm90.ws.sq (docs/performance.md, "v12"). sm90.tma.sorted runs
//             gathered kernels on it too, on sorted copies of q, k, v made per call ("v13").
// Which row: AttentionOptions::variants[kernel name], else AttentionOptions::variant, else by engine:
//   Auto     (the default) the wgmma engine where it is the faster kernel: head dim 128 on an sm_90 target,
//            for every kernel that has no AttentionOptions::tiles entry (kernels without a gather:
//            sm90.tma; gathered ones with a bias: sm90.ws.sq; the rest sm90.ws); sm80.mma otherwise (D = 64, other
//            archs, and kernels with a tile entry: a tile entry without a named variant is an mma.sync
//            configuration, e.g. a tuning database's older entries).
//   MmaSync  sm80.mma for every kernel; Wgmma those wgmma rows for every kernel at both head dims (64 and
//            128; at 64 slower than mma.sync, useful for checks); a tile entry must then be in the row's space,
//            else an ArgumentError (constructor); a target other than sm_90 is a NotSupportedError.
// A named variant of the other family than a forced engine is an ArgumentError. A module whose kernels
// mix the families is one sm_90a module.
//
// Streams and threads: a PatternAttention owns its workspaces (token orders, block maps, router
// outputs), so calls on one object must be ordered: use one object per stream (or per thread), or
// synchronize between calls on different streams. run() is not thread-safe.
// CUDA graphs: the first call for a shape or head dim uploads and compiles synchronously; capture
// warm calls only (a warm call only enqueues launches and one memset).
//
// Top-k routing (route linear(M) top k, 1 <= k <= min(M, 8)): the router keeps a token's k most
// probable groups, the sort lays out N k entries (entry e = token e / k in its (e % k)-th group), the
// attention kernel writes entry rows of a [B][N k][H][D] buffer (AttnParams::out_row; each gated by its
// group's probability), and topk_combine_kernel sums a token's k rows into out in a fixed order: the
// output is the sum over the token's groups of p_g Attn_g, deterministic (no atomics). The work grows
// with k^2 (groups k times larger), the buffer by B N k H D bf16.
#pragma once

#include <cuda.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runtime/attention/group_layout.h"
#include "runtime/attention/pattern.h"
#include "runtime/attention/registry.h"
#include "runtime/attention/shape.h"
#include "runtime/attention/tensor.h"

namespace moga::rt {

// A feature the pattern uses that the GPU path does not implement yet.
class NotSupportedError : public ArgumentError {
 public:
  using ArgumentError::ArgumentError;
};

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
  // routed kernel (manifest order): device int32 gid [B][N][k] in [0, M) and float prob [B][N][k] (k: the
  // kernel's top k; [B][N] for top 1). When set, x
  // and weights are not read and no router runs: the counting sort starts from gid (one histogram
  // launch instead of the router). The buffers must stay valid until the work on `stream` is done,
  // and until last_routing() when it is called (it downloads from them).
  struct Given {
    CUdeviceptr gid = 0, prob = 0;
  };
  std::vector<Given> routing;
};

// The precision of the attention products (AttentionOptions::precision). Fp8: every kernel runs registry
// row kFp8DefaultRow, sm90.tma.fp8.sum (scores and P V in FP8 with f32 accumulation, softmax in f32, the rows'
// sums by the P V product, out bf16) on e4m3 copies
// of q, k and V^T that a prep pass writes per call (fp8_prep.cuh: a memset and the amax pass per call,
// per (tensor, batch, head) scales; one quantization in the token order for the kernels without a gather,
// and one per gathered kernel in its sorted order after its routing; their time is part of the layer).
// Needs head dim 128 and an sm_90 target (else NotSupportedError); applies where the engine picks the row
// (a named variant wins; a kernel with a tiles entry under Engine::Auto stays on sm80.mma). Memory: N H D
// bytes per copy and tensor (three per gathered kernel, three shared). Accuracy: docs/performance.md, "FP8".
enum class Precision { Bf16, Fp8 };
const char* precision_name(Precision p);  // "bf16", "fp8"

// The MMA a routed kernel's router runs on (AttentionOptions::router_mma).
enum class RouterMma { Auto, MmaSync, Wgmma };

struct AttentionOptions {
  std::map<std::string, TileConfig> tiles;  // by kernel name; missing or 0 fields: the manifest's
                                            // (an entry keeps that kernel on MmaSync under Auto)
  Engine engine = Engine::Auto;             // which attention kernel (header comment)
  // The GPU arch the modules are compiled for and the engine is chosen for: "" = the current
  // device's (sm_90 without a device, as runtime/jit); Wgmma modules get the "a" suffix (sm_90a).
  std::string arch;
  bool pdl = true;                          // programmatic dependent launch of the prep and attention kernels
  int router_config = 1;                    // prep.cuh's router configuration (0..4)
  // The router's MMA: Wgmma = router_wg_kernel (kernels_src/cuda/router_wg.cuh, compiled for sm_90a; N = 64,
  // 128 or 256 by M; on a wgmma arch only, elsewhere MmaSync), MmaSync = prep.cuh's router_kernel. Auto: Wgmma
  // at every M since its loader lost its divisions (docs/performance.md, "The router's loader", H100: M = 256
  // 0.107 vs 0.213 ms at 32,760 tokens, M = 64 0.067 vs 0.075, M = 16 0.061 vs 0.064, M = 64 at 4,096 0.027
  // vs 0.052; before it, mma.sync won at M <= 64). Both apply one rule
  // (softmax, top-k, lowest index on ties) to logits summed in another order: near-ties (1e-3) may resolve
  // differently, as between any two GPU routers.
  RouterMma router_mma = RouterMma::Auto;
  std::vector<std::string> nvrtc_flags;     // extra NVRTC options (part of the cache key)
  // Threads compiling a module's units (ModuleInfo::units) at once; 0 = one per unit, at most the
  // hardware's. Not in the cache key: it changes when, not what, is compiled.
  unsigned compile_threads = 0;
  // Grouped kernels (routed or keyed): how the groups lie in the sorted order (group_layout.h). Auto: per
  // shape, Padded (each group at a multiple of lcm(BM, BN): no tile straddles two groups) unless Packed
  // (several small groups to a block of lcm(BM, BN), none crossing a block boundary) runs >= 20% fewer
  // tile pairs for the group sizes (keyed: the exact sizes; routed: N k / M each). Padded / Packed force
  // one (A/B benchmarks, tests).
  GroupLayout group_layout = GroupLayout::Auto;
  // Keyed kernels with a mask, Padded layout: each run of a group whose tokens all see each other through
  // the mask (group_layout.h mask_runs; stga: a temporal group inside a region) starts at a multiple of
  // lcm(BM, BN), so the mask's boundaries fall on tile edges and its partial tiles become full or empty.
  // Visibility on partial tiles is then by group id (as Packed), the block map unchanged. false: groups only.
  bool mask_runs = true;
  // The registry row (registry.h) every kernel runs, by kernel name, and for kernels without an entry;
  // "" = chosen by engine. Unknown names, or a row of the other family than a forced engine, are
  // ArgumentErrors (constructor). For A/B runs and the tuner (e.g. "sm90.ws.static").
  std::map<std::string, std::string> variants;
  std::string variant;
  // Also compile every kernel's log-sum-exp instantiation (LSE = true), so that run() can write the rows'
  // log-sum-exp (RunOptions::lse). false: the module holds exactly the kernels it held before.
  bool lse = false;
  Precision precision = Precision::Bf16;  // Fp8: see Precision
  // A bias with sums of coordinate distances (attn-plan-score's attn.u8: the video bias |dframe| + |drow| +
  // |dcol|) runs its byte-packed split on the wgmma forward kernels (moga::BiasBytes: one VABSDIFF4 a sum
  // per element) while the coordinates it packs are below 256 at the call's shape, the float split
  // otherwise (a module of its own per choice). false: always the float split (the A/B).
  bool packed_bias = true;
};

// Which parts of run() to do. Benchmarks time the attention kernels alone with {prep=false}: the
// token order, gates and block maps of the previous call (same shape) are reused.
struct RunOptions {
  bool prep = true;
  bool attention = true;
  // Per kernel (manifest order), a device buffer of float32 [B][H][N * k] (k: the kernel's top k, 1 when not
  // routed) receiving each row's log-sum-exp: lse[(b*H + h)*N*k + t*k + j] = ln sum_kv exp(score) over the keys
  // token t sees in its j-th group (score after scale, softcap and bias: exactly the softmax normaliser),
  // -inf for a row that sees no key; the layout of ref::reference_lse. 0 entries: not written. Non-empty
  // needs AttentionOptions::lse and one entry per kernel (else ArgumentError).
  std::vector<CUdeviceptr> lse;
  // Per kernel (manifest order), a bf16 buffer, contiguous [B, N k, H, D] (k: the kernel's top k, 1 when not
  // routed), receiving the kernel's rows before its branch weight: row t k + j = gate(t, j) * Attn_j(t) (gate 1
  // for ungated kernels). What AttentionBackward needs for mixtures and top-k (BackwardInputs::branch_out: D_i =
  // rowsum(dO * O) per branch). out is then weight * (sum of the rows), summed by topk_combine_kernel from the
  // bf16 rows (one more pass over B N k H D per kernel; it may differ from the unkept out by bf16 rounding).
  // Memory: sum over kernels of B N k H D bf16 (moga: 3 buffers the size of out). Empty: not kept; else one
  // entry per kernel, and it needs AttentionOptions::lse (else ArgumentError).
  std::vector<TensorView> branch_out;
  // Ring attention (docs/distributed.md, runtime/parallel/ring_gpu.h): the call's N queries are the tokens
  // [q_offset, q_offset + N) and its Nk keys (k.shape[1]) the tokens [kv_offset, kv_offset + Nk) of a
  // sequence of seq_tokens tokens, so masks and bias programs see the coordinates of the whole sequence (the
  // shape's video grid is then that sequence's: F * Hgt * Wid = seq_tokens). seq_tokens = 0: the call is the
  // whole sequence (offsets 0). Taken by dense and masked kernels on the wgmma engine (bf16) with lse given for
  // every kernel (the log-sum-exp instantiation reads the offsets); a group key, a router, a gate program or
  // the mma.sync / FP8 kernels refuse it (one token order for queries and keys; kernels without offsets).
  // A masked kernel then visits every key tile as partial (its block map at the global positions is not
  // built yet): correct, but tiles the mask empties cost a full tile.
  long long q_offset = 0, kv_offset = 0;
  long long seq_tokens = 0;
  // The gather of Ulysses x ring (docs/distributed.md, "Gather K/V, slice the queries"): the call holds the
  // whole sequence, but only the rows of tokens [query_begin, query_end) are wanted. Each kernel's block map
  // then gives no key tiles to the query tiles that hold none of those tokens (in its sorted order: a routed or
  // keyed kernel's tiles of the range are those of every group's stretch of it), so the work is about the
  // range's share plus a partly used tile or two per group; rows outside the range are left unspecified. Every
  // kernel needs a block map (masked, keyed or routed; top 1), else ArgumentError. 0, 0: every query.
  long long query_begin = 0, query_end = 0;
  // Profiling (the DiT's per-branch table): called on the host after kernel ki's launches are queued,
  // once its per-call preparation is (routed kernels: prep = true) and once its attention is
  // (prep = false), so the caller can record an event on `stream` between branches. Unset: nothing.
  std::function<void(int ki, bool prep)> mark;
  // Profiling of the per-call work (moga bench's phase split): called on the host after each launch of
  // kernel ki is queued, with the phase it belongs to: "memset" (the router's histogram cleared), "pack"
  // (router weight), "router", "hist" (a given routing's histogram), "scatter" (segment offsets, order,
  // gates), "summary" (tile summaries of a masked kernel), "map" (block map), "gate" (gate program),
  // "attention", "combine" (top-k rows summed), "fp8 amax" (the scales' memset and pass, reported as kernel 0's)
  // and "fp8 quantize" (an e4m3 copy: kernel 0's for the token order, a gathered kernel's own). A caller recording an event on `stream` at each call gets
  // the time of every phase; an event between two launches also keeps them from overlapping through PDL.
  // Static per-shape work (the first call at a shape) is not reported. Unset: nothing.
  std::function<void(int ki, const char* phase)> phase;
};

// What the module for one head dim compiled to (prepare()).
struct ModuleInfo {
  int head_dim = 0;
  std::string arch;              // compiled for ("sm_90a" when a kernel runs the wgmma engine)
  std::vector<Engine> engines;   // per kernel: MmaSync or Wgmma
  std::vector<std::string> variants;  // per kernel: the registry row
  bool cache_hit = false;
  double compile_ms = 0;          // wall time of all units (compiled in parallel)
  std::string cache_path;         // unit 0's (kernel 0's attention kernel)
  std::vector<std::string> kernels;  // the name expressions of all units
  // One NVRTC program each: per attention kernel, per router size, the prep kernels (attention.cpp,
  // compile_units; docs/performance.md, "Compile time").
  struct Unit {
    std::string name, arch, cache_path;
    bool cache_hit = false;
    double ms = 0;        // this unit's compile() (cache read, or NVRTC), wall
    double cpu_ms = 0;    // its CPU time (jit::CompiledKernel::cpu_ms)
    int expressions = 0;  // name expressions it instantiates
  };
  std::vector<Unit> units;
};

// The bit widths in which the wgmma kernel packs a key column's video coordinates (frame << (row +
// col) | row << col | col; score_pass.cuh encode_key); validate() refuses grids that need more than 31.
struct KeyFieldBits {
  int col = 0, row = 0, frame = 0;
};
KeyFieldBits key_field_bits(const AttentionShape& s);

class PatternAttention {
 public:
  // No device work: parses the plan (kinds of kernels, tiles). Throws NotSupportedError for features
  // the GPU path lacks, ArgumentError for bad tile overrides (unknown kernel; under Engine::Wgmma a
  // configuration outside sm90.ws's space) and unknown or mismatched variants.
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
  const KernelVariant& variant(int ki, int head_dim = 128) const;
  // The kernels (bit ki) whose wgmma forward kernel runs its bias's byte-packed split at shape s
  // (AttentionOptions::packed_bias; seq_tokens: RunOptions::seq_tokens of a slice). No device work.
  unsigned packed_bias_kernels(const AttentionShape& s, long long seq_tokens = 0) const;
  // The target arch the engine choice is made for (AttentionOptions::arch, else the device's, else sm_90).
  std::string arch() const;
  // Indices of the routed kernels, in manifest order.
  const std::vector<int>& routed_kernels() const { return routed_; }

  // Every check run() makes, without touching the device. Throws ArgumentError / NotSupportedError.
  // seq_tokens: RunOptions::seq_tokens (the call is a slice of a sequence that long; 0: it is the sequence).
  void validate(const TensorView& q, const TensorView& k, const TensorView& v, const TensorView& out,
                const AttentionShape& shape, const RouterInputs* router, long long seq_tokens = 0) const;
  // RunOptions' token offsets (q_offset, kv_offset, seq_tokens) for q [B, N, H, D] and k [B, Nk, H, D]: in
  // range, and every kernel able to take them (the header of RunOptions::q_offset). No device needed.
  void validate_slice(const RunOptions& opt, const TensorView& q, const TensorView& k, const AttentionShape& shape) const;
  // RunOptions::query_begin / query_end (validate_slice makes this check too): a range of the shape's tokens, no
  // token offsets beside it, and a block map in every kernel. No device needed.
  void validate_query_range(const RunOptions& opt, const AttentionShape& shape) const;

  // RunOptions::branch_out's checks (run() makes them, and AttentionBackward::validate): empty, or one contiguous
  // bf16 [B, N k, H, D] per kernel, 16-byte aligned, overlapping none of q, k, v, out and each other; needs
  // AttentionOptions::lse. `arg` names the list in messages.
  void validate_branches(const std::vector<TensorView>& branch_out, const TensorView& q, const TensorView& k,
                         const TensorView& v, const TensorView& out, const AttentionShape& shape,
                         const char* arg = "RunOptions::branch_out") const;

  // Validates, then launches everything on `stream` (asynchronous; the first call for a shape builds
  // and caches the static token orders and block maps, the first call for a head dim compiles or
  // loads the module). q, out: [B, N, H, D] of `shape`; k, v: [B, N, H, D], or [B, Nk, H, D] with
  // Nk != N for dense patterns (cross-attention, header comment).
  void run(const TensorView& q, const TensorView& k, const TensorView& v, const TensorView& out,
           const AttentionShape& shape, const RouterInputs* router, CUstream stream,
           const RunOptions& opt = {});

  // The router alone (sequence parallelism): routed kernel ki (one of routed_kernels()) on x [B, n,
  // d_model] (e.g. one rank's token shard) with its W_r [d_model, M]: writes gid (int32) and prob (f32)
  // [B][n][k] (k: the kernel's top k; the same values run() would compute for those tokens) to the given
  // device buffers, on
  // `stream`. head_dim picks the module (compiled or loaded on first use, as run()). Feed the gathered
  // result to run() through RouterInputs::routing.
  void route(int ki, const TensorView& x, const TensorView& w, CUdeviceptr gid, CUdeviceptr prob, int head_dim,
             CUstream stream);

  // Compiles (or finds in the disk cache) the module for head dim D; needs NVRTC, not a device
  // (build machines use it to fill the cache that travels to the GPU machine).
  ModuleInfo compile(int head_dim);

  // ---- inspection (tests, benchmarks): synchronize `stream` and download -------------------------
  struct Routing {
    int B = 0, N = 0, M = 0, topk = 1;
    std::vector<int> gid;     // [B][N][topk] chosen groups, by decreasing probability
    std::vector<float> prob;  // [B][N][topk] their softmax probabilities
  };
  // The router output of routed kernel ki in the last run.
  Routing last_routing(int ki, CUstream stream = nullptr) const;
  struct Order {
    int B = 0, N = 0, G = 0;
    int align = 1;                            // the group alignment the kernels saw
    bool packed = false;                      // GroupLayout::Packed (several groups to a block of align)
    std::vector<int> perm, gid, seg_offsets;  // [B][N], [B][N], [B][G+1]
    std::vector<float> gate;                  // [B][N] or empty
  };
  // Token order of grouped kernel ki in the last run: the tokens sorted by group id (padding of aligned
  // groups left out). raw: the layout the kernels read instead, N = the padded sorted length, perm and
  // gid -1 at padding, seg_offsets the padded group starts (padded routed kernels lay the spans out by
  // size, smallest first: prep.cuh SortParams::by_size; packed ones by id: SortParams::packed).
  Order last_order(int ki, CUstream stream = nullptr, bool raw = false) const;
  // The layout grouped kernel ki's sorted order has for `shape` (AttentionOptions::group_layout; Auto
  // decided from the group sizes: the keys of a computed key, N k / M for a routed kernel) and the
  // alignment of its blocks (lcm(BM, BN) of the engine's tiles: padded groups start at multiples of it,
  // packed ones never cross one). No device work; a keyed kernel evaluates its key on the host. Kernels
  // that are not grouped: {Auto, 1}.
  struct Layout {
    GroupLayout layout = GroupLayout::Auto;
    int align = 1;
    long long padded_pairs = 0, packed_pairs = 0;  // the tile pairs each layout runs (routed: estimates)
  };
  Layout group_layout(int ki, const AttentionShape& shape) const;
  // Whether the last run of kernel ki, a gathered kernel on a TMA row without a gather row
  // (sm90.tma.sorted), loaded its tiles straight from q, k, v by perm (computed groups whose tiles hold
  // consecutive tokens: group_layout.h contiguous_tiles) rather than from sorted copies.
  bool last_tma_by_perm(int ki) const;
  struct MapStats {
    int tq = 0, tk = 0;
    long long full = 0, partial = 0, empty = 0;  // tile pairs over all batch items
  };
  // Block map of kernel ki (dense kernels: every pair full) for the last run's shape.
  MapStats last_block_map(int ki, CUstream stream = nullptr) const;
  // The grid kernel ki's attention launched with in the last run: CTAs, whether they were persistent (fewer
  // than the work items, each CTA taking several) and then dynamic (an atomic counter) or static
  // (round-robin); key_tiles: the mean key tiles per item the grid rule read for a masked kernel (-1: none).
  struct Grid {
    unsigned ctas = 0;
    long long items = 0;  // work items (b, h, query tile) of the wgmma kernels; 0 for sm80.mma's 3-D grid
    bool persistent = false, dynamic = false;
    double key_tiles = -1;
  };
  Grid last_grid(int ki) const;
  // The e4m3 inputs FP8 kernel ki (an FP8 registry row, sm90.tma.fp8*) read in the last run (fp8_prep.cuh): q8 [B][rows]
  // [H][128], k8 [B][rows_kv][H][128], vt8 [B][H][128][ldv] as raw e4m3 bytes, amax [3][B H]; rows in the
  // kernel's order (a gathered kernel's sorted order). ArgumentError when kernel ki did not run FP8.
  struct Fp8Inputs {
    int B = 0, H = 0;
    long long rows = 0, rows_kv = 0, ldv = 0;
    std::vector<unsigned char> q, k, vt;
    std::vector<float> amax;
  };
  Fp8Inputs last_fp8_inputs(int ki, CUstream stream = nullptr) const;

 private:
  struct Impl;
  LoadedPattern pattern_;
  AttentionOptions options_;
  std::vector<int> routed_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace moga::rt
