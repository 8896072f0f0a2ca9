// RouterBackward: the gradient of a routed kernel's router on the GPU (issue #15), from the gate gradient the
// attention backward writes (AttentionBackward, BackwardOutputs::dgate), and the MoGA balance loss
// (arXiv 2510.18692, after Switch Transformer) as an optional output with its gradient:
//
//   rt::RouterBackward rb(M, k, {.balance_weight = 0.1});   // the kernel's route linear(M) top k
//   rb.run({x, w, {gid, prob}, dgate, dx, dw, /*dlogits=*/0, /*loss=*/loss_buf}, stream);
//
// Router (prep.cuh's, recomputed here in float32 from the bf16 x and W): l = x W, p = softmax(l) over all M
// groups; the gate of entry (t, j) is p_{g_j(t)}(t), NOT renormalised over the top k. Then
//   dp_m(t) = sum of dgate(t, j) over j with g_j(t) = m   [+ balance_weight M F_m / T]
//   dlogits = p (dp - sum_m p_m dp_m),   dW = x^T dlogits,   dx = dlogits W^T
// with T = B N tokens; the balance loss L_bal = balance_weight M sum_m F_m P_m over all T tokens of the call
// together (F_m = entries routed to m / (k T), no gradient; P_m = mean over tokens of p_m): the float64
// reference's definition (runtime/reference/backward.h).
//
// Arguments: x bf16 [B, N, d] with d contiguous and its batch stride N times its token stride (the tokens one
// [B N, d] matrix); d and the strides multiples of 8 elements, the pointer 16-byte aligned (cuBLASLt's bf16
// operand; the forward's router asks the same of x); W bf16 [d, M], any strides (packed per call); gid int32 and
// prob float32 [B][N][k] (the forward's routing, RouterInputs::Given; prob is not read: p is recomputed); dgate
// float32 [B][N][k] or 0 (the balance loss alone).
// Outputs, float32 and contiguous: dx [B][N][d] (written, or added to when accumulate_dx: several routed kernels
// share x), dW [d][M] (written), dlogits [B][N][M] (optional), balance_loss [1] (optional; needs
// balance_weight > 0). Group ids outside [0, M) are ignored (AttentionBackward checks them).
//
// Kernels: the three products on cuBLASLt (runtime/gemm: bf16 operands, float32 accumulation and output):
// logits = x W; dl split into two bf16 parts hi = bf16(dl), lo = bf16(dl - hi) (dl to ~2^-17 relative), then
// dx = [hi | lo] [W^T; W^T] (one GEMM of k = 2M, beta = 1 when accumulate_dx) and dW = x^T [hi | lo] (k = T,
// cuBLASLt's split-K) folded as dW = (x^T hi) + (x^T lo). The rest in kernels_src/cuda/router_bwd.cuh: the
// packing of [W^T; W^T], a warp per token for the softmax Jacobian, the counts, the loss, the fold; compiled
// once per process (NVRTC, cached on disk); no pattern code. Deterministic (fixed-order reductions; cuBLASLt
// gives the same bits for the same shape on the same GPU and library). A cuBLASLt failure throws
// std::runtime_error naming the call and its shape. Device memory: cuBLASLt's 32 MiB workspace and the
// buffers of the largest call, per object. Threads: one object per stream.
#pragma once

#include <cuda.h>

#include <memory>
#include <string>
#include <vector>

#include "runtime/attention/attention.h"
#include "runtime/attention/phase_timer.h"

namespace moga::rt {

struct RouterBackwardOptions {
  double balance_weight = 0;  // 0: no balance loss; the paper's: 0.1
  std::string arch;           // "" = the device's (sm_90 without one)
  bool time_phases = false;   // CUDA events between the launches, read by last_phases() (benchmarks)
};

struct RouterBackwardArgs {
  TensorView x;                 // bf16 [B, N, d]
  TensorView w;                 // bf16 [d, M]
  RouterInputs::Given routing;  // the forward's gid / prob, [B][N][k]
  CUdeviceptr dgate = 0;        // float32 [B][N][k]; 0: no attention term
  CUdeviceptr dx = 0;           // float32 [B][N][d]
  CUdeviceptr dw = 0;           // float32 [d][M]
  CUdeviceptr dlogits = 0;      // optional float32 [B][N][M]
  CUdeviceptr balance_loss = 0; // optional float32 [1]
  bool accumulate_dx = false;   // dx += instead of dx =
};

class RouterBackward {
 public:
  // M: groups (1..256), topk: 1..min(M, 8). No device work. ArgumentError on bad sizes or options.
  RouterBackward(int M, int topk, RouterBackwardOptions options = {});
  ~RouterBackward();
  RouterBackward(const RouterBackward&) = delete;
  RouterBackward& operator=(const RouterBackward&) = delete;

  // Every check run() makes, without the device (ArgumentError naming the argument).
  void validate(const RouterBackwardArgs& a) const;
  // Validates, then launches on `stream` (asynchronous; the first call compiles or loads the module).
  void run(const RouterBackwardArgs& a, CUstream stream);
  // The module (NVRTC; no device needed): its name expressions.
  std::vector<std::string> compile();
  // RouterBackwardOptions::time_phases: the last run()'s launches and their GPU times (waits for that run).
  std::vector<TimedPhase> last_phases();

 private:
  struct Impl;
  int M_, k_;
  RouterBackwardOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace moga::rt
