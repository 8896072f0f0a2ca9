// AttentionBackward: the gradient of a compiled pattern's attention on the GPU (issue #15), from the forward's
// inputs, its output and each kernel's log-sum-exp (PatternAttention with AttentionOptions::lse, RunOptions::lse):
//
//   rt::PatternAttention fwd(pattern, {.lse = true});
//   fwd.run(q, k, v, out, shape, nullptr, stream, {.lse = {lse_buf}});   // lse: float32 [B][H][N]
//   rt::AttentionBackward bwd(pattern);                                  // the same LoadedPattern
//   bwd.run({q, k, v, out, dout, {lse_buf}}, {dq, dk, dv}, shape, stream);
//
// Mixtures (several kernels: `output mean(a, b, c)`, weighted sums; the shipped `moga`) and top-k routing need
// each kernel's own rows, which the forward keeps on request (RunOptions::branch_out: bf16 [B, N k, H, D] per
// kernel, gate * Attn before the branch weight); pass the same buffers as BackwardInputs::branch_out:
//
//   fwd.run(q, k, v, out, shape, &router, stream, {.lse = {l0, l1, l2}, .branch_out = {b0, b1, b2}});
//   const auto r = fwd.last_routing(0);  // or route() / RouterInputs::routing: device gid, prob of the forward
//   bwd.run({q, k, v, out, dout, {l0, l1, l2}, {b0, b1, b2}, {{gid, prob}}}, {dq, dk, dv, {dgate}}, shape, stream);
//
// The backward then runs each kernel's gradient with the whole dout (out = sum of the branches) and D_i = w_b
// rowsum(dO * rows_b), and sums dq, dk, dv over the kernels in float32 (one bf16 conversion at the end). Memory
// of that choice (kept rows rather than a recomputed forward): the kept rows, sum over kernels of B N k H D bf16
// (moga: three buffers the size of out), and during run() float32 accumulators of 3 B N H D (plus 3 B N k H D for
// a top-k kernel).
//
// q, k, v, out, dout and the gradients dq, dk, dv: bf16 [B, N, H, D] (rt::TensorView, the forward's rules:
// strides multiples of 8 elements, D contiguous, 16-byte aligned; D = 64 or 128). The gradients are written,
// never accumulated, and are bf16 (summed in float32 first, kernels_src/cuda/attention_bwd.cuh).
// lse: per kernel, the forward's float32 log-sum-exp, [B][H][N k], -inf for rows that see no key.
//
// Supported: every kernel kind the forward runs on the GPU: ungrouped (dense or masked), grouped by a computed
// key (`group t.frame`, with or without a mask), routed top k (k >= 1; with `gate route.prob` the gate gradient
// is an output: per entry, d out / d p_g = weight * Attn_g . dout), any scale, softcap, bias and gate program
// (no gradient to either: they read coordinates only; the gate is evaluated on the host once per shape, per
// call for routed kernels), branch weights, and mixtures of them. Cross-attention (Nk != N) is a
// NotSupportedError in validate().
//
// Kernels, by backward row (bwd_registry.h; BackwardOptions::engine): sm80.mma (FlashAttention-2 structure on
// mma.sync, 64x64 tiles; sm_80+, Hopper included) or sm90.wg* (FlashAttention-3's on wgmma, 64x128 tiles;
// sm_90; kernels_src/cuda/attention_bwd_wg.cuh), per kernel of the pattern:
// a preprocess (D_i = rowsum(dO * O)), one CTA per key tile looping over the query tiles that see it (dK, dV in
// registers) and then either
//   deterministic = false: dQ by float32 atomics in the same kernel + a conversion to bf16, or
//   deterministic = true:  dQ by a second kernel, one CTA per query tile over its key tiles: no atomics,
//                          bit-identical results across runs (more work: S and dP are recomputed).
// Masked and keyed kernels skip empty tile pairs and evaluate the mask (and group equality) per element only on
// partial ones, with block maps of the backward's 64x64 tiles built on the host once per shape
// (ref::build_block_map, the forward's classification) and kept on the device; grouped kernels run in the
// rows' group order (ref::token_order: the forward's order without alignment padding; a top-k kernel's rows
// are its N k entries). Routed kernels sort the forward's routing on the device every call and build their
// block maps there (prep.cuh's counting sort and map kernels at the backward's tiles): run() makes no host
// copy and no synchronization once a shape's static maps exist (the first call per shape uploads them), so
// a call can be captured in a CUDA graph (gpu_backward_test: CapturesIntoAGraph).
// Threads: as PatternAttention, one object per stream; run() is not thread-safe.
#pragma once

#include <cuda.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runtime/attention/attention.h"
#include "runtime/attention/phase_timer.h"

namespace moga::rt {

struct BackwardOptions {
  bool deterministic = false;             // dQ without atomics (header comment)
  std::string arch;                       // "" = the device's (sm_90 without one), as AttentionOptions::arch
  std::vector<std::string> nvrtc_flags;   // extra NVRTC options
  // CUDA events between the phases of run() (zeroing, each kernel's routing, preprocess, gate, main kernel, dQ
  // pass, folds), read by last_phases(): for benchmarks (an event record between launches costs ~2 us).
  bool time_phases = false;
  // The backward kernel row (bwd_registry.h: "sm80.mma", "sm90.wg"); "" = the MOGA_BWD_ENGINE environment
  // variable, else the default for the target and head dim. A row that cannot run there is an ArgumentError.
  std::string engine;
  // Routed kernels on the wgmma rows: every group starts at a multiple of the tiles' lcm in the sorted order
  // (the forward's AttentionOptions::align_groups; no tile straddles two groups, padding positions are skipped);
  // false: the dense sorted order (to measure against). The mma.sync row always runs the dense order.
  bool align_groups = true;
};

// One phase of the last run() (BackwardOptions::time_phases): what it launched ("dynamic: route (sort, block
// map)", "stga: main (dK, dV, atomic dQ)", "fold to bf16", ...) and its GPU time.
using BackwardPhase = TimedPhase;

struct BackwardInputs {
  TensorView q, k, v;   // the forward's inputs
  TensorView out;       // the forward's output
  TensorView dout;      // dLoss/dout
  // Per kernel (manifest order): the forward's RunOptions::lse buffers, float32 [B][H][N k].
  std::vector<CUdeviceptr> lse;
  // Per kernel: the forward's RunOptions::branch_out buffers (bf16 [B, N k, H, D], contiguous). Needed by
  // mixtures and top-k kernels; empty for a single top-1 kernel (out is then its only branch).
  std::vector<TensorView> branch_out;
  // Per routed kernel (manifest order, as RouterInputs::routing): the forward's routing, device int32 gid and
  // float32 prob [B][N][k] (PatternAttention::last_routing's values, or RouterInputs::routing's buffers).
  std::vector<RouterInputs::Given> routing;
};

struct BackwardOutputs {
  TensorView dq, dk, dv;  // bf16 [B, N, H, D], written
  // Per routed kernel (manifest order): for kernels gated by the router probability (`gate route.prob`), a
  // float32 [B][N][k] buffer receiving d L / d gate per entry (= weight * sum_h dout . Attn_g), written; 0 for
  // the others. The router's own gradient follows from it on the caller's side: d p_g collects the entries
  // routed to g, dlogits = p * (dp - sum_m p_m dp_m), dW = x^T dlogits, dx = dlogits W^T. Empty: no routed
  // kernel is gated.
  std::vector<CUdeviceptr> dgate;
};

class AttentionBackward {
 public:
  // No device work. Throws NotSupportedError for pattern kinds the backward does not run yet (named).
  explicit AttentionBackward(LoadedPattern pattern, BackwardOptions options = {});
  ~AttentionBackward();
  AttentionBackward(const AttentionBackward&) = delete;
  AttentionBackward& operator=(const AttentionBackward&) = delete;

  const BackwardOptions& options() const { return options_; }

  // Every check run() makes, without the device: the forward's shape and tensor checks (on q, k, v, out),
  // dout, dq, dk, dv, the lse, branch_out, routing and dgate lists; gradients that alias an input are refused.
  void validate(const BackwardInputs& in, const BackwardOutputs& grads, const AttentionShape& shape) const;

  // Validates, then launches on `stream` (asynchronous; the first call for a head dim compiles or loads the
  // module, the first for a shape builds its block maps).
  void run(const BackwardInputs& in, const BackwardOutputs& grads, const AttentionShape& shape, CUstream stream);

  // The module for head dim D (NVRTC; no device needed): its name expressions.
  // logs: each unit's NVRTC log appended (empty on a cache hit; with nvrtc_flags --ptxas-options=-v it holds
  // ptxas's registers and spills).
  std::vector<std::string> compile(int head_dim, std::vector<std::string>* logs = nullptr);

  // BackwardOptions::time_phases: the last run()'s phases in launch order (waits for that run to finish);
  // empty without the option or before the first run.
  std::vector<BackwardPhase> last_phases();

 private:
  struct Impl;
  LoadedPattern pattern_;
  BackwardOptions options_;
  PatternAttention forward_;  // for its validate() (shape, q, k, v, out); never runs
  std::unique_ptr<Impl> impl_;
};

}  // namespace moga::rt
