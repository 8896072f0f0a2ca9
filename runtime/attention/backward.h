// AttentionBackward: the gradient of a compiled pattern's attention on the GPU (issue #15), from the forward's
// inputs, its output and log-sum-exp (PatternAttention with AttentionOptions::lse, RunOptions::lse):
//
//   rt::PatternAttention fwd(pattern, {.lse = true});
//   fwd.run(q, k, v, out, shape, nullptr, stream, {.lse = {lse_buf}});   // lse: float32 [B][H][N]
//   rt::AttentionBackward bwd(pattern);                                  // the same LoadedPattern
//   bwd.run({q, k, v, out, dout, lse_buf}, {dq, dk, dv}, shape, stream);
//
// q, k, v, out, dout and the gradients dq, dk, dv: bf16 [B, N, H, D] (rt::TensorView, the forward's rules:
// strides multiples of 8 elements, D contiguous, 16-byte aligned; D = 64 or 128). The gradients are written,
// never accumulated, and are bf16 (dQ is summed in float32 first, kernels_src/cuda/attention_bwd.cuh).
// lse: the forward's float32 log-sum-exp of this kernel, [B][H][N], -inf for rows that see no key.
//
// Supported now: patterns of ONE kernel, ungrouped (dense or masked), grouped by a computed key (`group
// t.frame`, with or without a mask) or routed top 1 (with `gate route.prob`: the gate gradient is an output),
// with any scale, softcap, bias (no gradient to the bias) and branch weight. Everything else is a
// NotSupportedError that names the feature: several kernels (mixtures), top-k routing with k > 1, gate programs
// at construction; cross-attention (Nk != N) in validate().
//
// Kernels (FlashAttention-2 structure on mma.sync, 64x64 tiles; run on sm_80+, Hopper included): a
// preprocess (D_i = rowsum(dO * O)), one CTA per key tile looping over the query tiles that see it (dK, dV
// in registers) and then either
//   deterministic = false: dQ by float32 atomics in the same kernel + a conversion to bf16, or
//   deterministic = true:  dQ by a second kernel, one CTA per query tile over its key tiles: no atomics,
//                          bit-identical results across runs (more work: S and dP are recomputed).
// Masked and keyed kernels skip empty tile pairs and evaluate the mask (and group equality) per element only on
// partial ones, with block maps of the backward's 64x64 tiles built on the host once per shape
// (ref::build_block_map, the forward's classification) and kept on the device; keyed kernels run in the
// tokens' group order (ref::token_order of the key's groups: the forward's order without alignment padding).
// Threads: as PatternAttention, one object per stream; run() is not thread-safe.
#pragma once

#include <cuda.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runtime/attention/attention.h"

namespace moga::rt {

struct BackwardOptions {
  bool deterministic = false;             // dQ without atomics (header comment)
  std::string arch;                       // "" = the device's (sm_90 without one), as AttentionOptions::arch
  std::vector<std::string> nvrtc_flags;   // extra NVRTC options
};

struct BackwardInputs {
  TensorView q, k, v;   // the forward's inputs
  TensorView out;       // the forward's output
  TensorView dout;      // dLoss/dout
  CUdeviceptr lse = 0;  // float32 [B][H][N], the forward's RunOptions::lse buffer of the kernel
  // Routed (top-1) kernels: the forward's routing, device int32 gid [B][N] in [0, M) and float32 prob [B][N]
  // (PatternAttention::last_routing's values, or RouterInputs::routing's buffers). Downloaded and sorted on the
  // host every call (a synchronization of `stream`).
  CUdeviceptr route_gid = 0, route_prob = 0;
};

struct BackwardOutputs {
  TensorView dq, dk, dv;  // bf16 [B, N, H, D], written
  // Routed kernels gated by the router probability (`gate route.prob`): float32 [B][N], d L / d gate per token
  // (= weight * sum_h dout . Attn), written. The router's own gradient follows from it on the caller's side:
  // dlogits = p * (onehot(g) - p_g) * dgate, dW = x^T dlogits, dx = dlogits W^T.
  CUdeviceptr dgate = 0;
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
  // dout, dq, dk, dv, the lse pointer; gradients that alias an input are refused.
  void validate(const BackwardInputs& in, const BackwardOutputs& grads, const AttentionShape& shape) const;

  // Validates, then launches on `stream` (asynchronous; the first call for a head dim compiles or loads the
  // module, the first for a shape builds its block maps).
  void run(const BackwardInputs& in, const BackwardOutputs& grads, const AttentionShape& shape, CUstream stream);

  // The module for head dim D (NVRTC; no device needed): its name expressions.
  std::vector<std::string> compile(int head_dim);

 private:
  struct Impl;
  LoadedPattern pattern_;
  BackwardOptions options_;
  PatternAttention forward_;  // for its validate() (shape, q, k, v, out); never runs
  std::unique_ptr<Impl> impl_;
};

}  // namespace moga::rt
