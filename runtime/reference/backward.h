// The backward pass of the CPU reference (attention.h), in double: the oracle every GPU gradient is
// compared with. The forward is recomputed inside, brute force, with exactly the semantics of
// attention.h; then the exact gradient of the scalar
//
//   L = sum(out * dout)  [+ balance_loss, when BackwardOptions::balance_loss]
//
// w.r.t. q, k, v, and, for routed kernels computed from router inputs, x and each W_r.
//
// Per kernel b, token t, group slot j (group g = g_j(t)), head h, with S = S_b(t, g) the visible keys:
//   s_i   = q_t . k_i * scale;  s~_i = c*tanh(s_i/c) (softcap) or s_i;  z_i = s~_i + bias(t, i, h)
//   P_i   = softmax_{i in S}(z);  A = sum_i P_i v_i;  out_t += w_b * gate(t, j) * A
//   dA    = w_b * gate * dout_t;  dv_i += P_i dA;  dz_i = P_i (dA.v_i - dA.A)
//   ds_i  = dz_i * (1 - tanh^2(s_i/c)) (softcap) or dz_i;  dq_t += scale * ds_i k_i;  dk_i += scale * ds_i q_t
//   d gate(t, j) = w_b * sum_h dout_t,h . A_h
// A row with an empty S, or whose every z is -inf, contributes nothing (gradient exactly 0); a key
// with z = -inf has P = 0 and gets no gradient from that row.
//
// Bias, gate and key programs read only token coordinates, dims, the head and constants (program.h),
// never q, k, v or x, so they carry no gradient. The mask and the top-k selection are piecewise
// constant: no gradient.
//
// Routed kernels (route_gate): gate(t, j) = p_{g_j}(t), p = softmax(l), l = x_t W_r (the router
// probability, NOT renormalised over the top-k). d p_g collects d gate of every slot routed to g
// (plus the balance loss term below); dl = p * (dp - sum_m p_m dp_m); dW_r += x_t^T dl;
// dx_t += dl W_r^T. A routed kernel without route_gate (gate 1 or a gate program) gets a router
// gradient only from the balance loss.
//
// Balance loss (MoGA, arXiv 2510.18692, after Switch Transformer), per routed kernel r with M groups
// and top-k, over ALL B*N tokens of the batch together (not per batch item):
//   F_i = #{(t, j) : g_j(t) = i} / (k * B * N)    (fraction of assignments; no gradient)
//   P_i = (1 / (B * N)) sum_t p_i(t)             (mean router probability over the full softmax)
//   L_bal = balance_weight * M * sum_i F_i P_i, summed over the routed kernels;
//   d L_bal / d p_i(t) = balance_weight * M * F_i / (B * N).
// It needs the router inputs (x, W_r) of every routed kernel.
//
// A routing given in RefInputs::routing is used for the groups and the gate values of the forward;
// the router Jacobian then uses p recomputed from x and W_r when they are given. Without router inputs
// such a kernel gets no router gradient (drouter_w[kernel] stays empty) and the balance loss is
// refused; half of them (W_r without x, or x without W_r) is an error.
//
// Layout: every gradient is in the layout of its input (dq like RefInputs::q, dx like x, dW like W_r);
// per-row values (lse, dlogits) are listed below.
#pragma once

#include <vector>

#include "runtime/reference/attention.h"

namespace moga::ref {

// One kernel's own share of dq, dk, dv (BackwardOptions::per_kernel).
struct KernelGrads {
  std::vector<double> dq, dk, dv;
};

// Gradients of the reference w.r.t. its inputs, in double.
struct RefGrads {
  std::vector<double> dq, dk, dv;              // [B][N][heads][head_dim], like RefInputs::q
  std::vector<double> dx;                      // [B][N][d_model]: summed over every routed kernel's router;
                                               // empty when no kernel has router inputs
  std::vector<std::vector<double>> drouter_w;  // per kernel index: [d_model][M]; empty for unrouted kernels
                                               // (and routed ones given a routing but no router inputs)
  std::vector<std::vector<double>> dlogits;    // per kernel index: [B][N][M], d L / d l (what dx and dW are
                                               // products of); empty where drouter_w is
  double balance_loss = 0;                     // L_bal above (0 unless BackwardOptions::balance_loss)
  std::vector<KernelGrads> terms;              // per kernel index (BackwardOptions::per_kernel); dq = sum of terms' dq
};

struct BackwardOptions {
  bool balance_loss = false;    // add L_bal to the loss: its value in RefGrads::balance_loss, its gradient in dx, dW
  double balance_weight = 0.1;  // the paper's 0.1
  bool per_kernel = false;      // also each kernel's own dq, dk, dv (RefGrads::terms), to check a GPU branch alone
};

// dout: [B][N][heads][head_dim]. Throws std::invalid_argument on inconsistent inputs (the forward's
// checks, a null dout, balance_loss without router inputs), ProgramError from the programs.
// Multithreaded over RefInputs::threads.
void reference_attention_backward(const PatternSpec& spec, const RefInputs& in, const double* dout,
                                  const BackwardOptions& opt, RefGrads& grads);

// The router's gradient alone, for one routed kernel given its gate gradient: pass 3 of
// reference_attention_backward (it calls this) and the float64 oracle of rt::RouterBackward. x [T][d_model],
// W [d_model][M] row-major; gid [T][k] the routing used (dgate's groups and the balance loss's F; ids in
// [0, M)); dgate [T][k] or null (no attention term); balance: add L_bal with balance_weight (its value ADDED to
// *balance_loss, its gradient to dp). Writes dlogits [T][M] and dw [d_model][M]; ADDS dlogits W^T to dx
// [T][d_model] (the caller's, sized). threads: 0 = every core; the same bits for any count.
void reference_router_backward(const float* x, const float* w, long long T, int d_model, int M, int k, const int* gid,
                               const double* dgate, bool balance, double balance_weight, int threads,
                               std::vector<double>& dlogits, std::vector<double>& dw, double* dx,
                               double* balance_loss);

// Per-row natural-log log-sum-exp of each kernel's softmax(es) over z (scores after scale, softcap and
// bias): what the GPU forward writes (float32 there). lse[kernel][((b*heads + h)*N + t)*k + j] for
// group slot j of token t (k = the kernel's top-k, 1 if not routed); -inf for a row with no visible key
// or whose every z is -inf.
std::vector<std::vector<double>> reference_lse(const PatternSpec& spec, const RefInputs& in);

}  // namespace moga::ref
