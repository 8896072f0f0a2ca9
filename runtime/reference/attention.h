// The CPU reference: executes a compiled pattern brute force from its manifest, in double (or float),
// following the semantics of docs/architecture.md ("Semantics of a pattern"):
//
//   out[t] = sum_b w_b * sum_{g in groups_b(t)} gate_b(t, g) * softmax_{kv in S_b(t, g)}(score_b) V
//   S_b(t, g) = {kv : g in groups_b(kv) and mask_b(t, kv)}
//   score_b   = q_t . k_kv * scale (default 1/sqrt(D)), then softcap c*tanh(s/c), then + bias(q, kv, h)
//   gate      = the router probability of g (route_gate), the gate program's value, or 1
//
// groups_b(t): routed kernels: the token's top-k groups of softmax(x W_r) (ties: lower group first);
// computed keys: {key(t)}; ungrouped: {0}. A row with an empty S (or every score -inf) contributes 0.
// The routing is computed in double and returned, so GPU tests can compare it separately and can
// feed the GPU's own routing back (RefInputs::routing) so that ties and near-ties agree.
#pragma once

#include <vector>

#include "runtime/reference/manifest.h"
#include "runtime/reference/program.h"

namespace moga::ref {

// Group membership of one kernel's tokens: k groups per token.
struct Grouping {
  int B = 0, N = 0, k = 1;
  int M = 0;                   // routed: number of groups (ids in [0, M)); otherwise 0
  std::vector<int> gid;        // [B][N][k]; routed: by decreasing probability (ties: lower id first)
  std::vector<double> prob;    // routed: [B][N][k] softmax probabilities of those groups (not renormalised)
  std::vector<double> logits;  // routed and computed from x: [B][N][M]; otherwise empty
  bool routed() const { return M > 0; }
  int group(int b, int t, int j = 0) const { return gid[((size_t)b * N + t) * k + j]; }
  double probability(int b, int t, int j = 0) const { return prob[((size_t)b * N + t) * k + j]; }
};

// Router: logits = x W (x: [B][N][d_model], W: [d_model][M], row-major, accumulated in double),
// p = softmax(logits), the k largest p (ties: lower index first, as the GPU router).
Grouping route_tokens(const float* x, const float* w, int B, int N, int d_model, int M, int topk);
// Computed key: gid[b][t] = key(coords of t) (the same for every batch item).
Grouping key_groups(const Program& key, const Shape& shape, int B);
// Ungrouped: one group (0) per token.
Grouping single_group(int B, int N);

struct RefInputs {
  int B = 1, heads = 1, head_dim = 0;
  int N = 0;          // layout seq: the sequence length; layout video: 0 or F*H*W (checked)
  VideoShape video;   // layout video: the latent grid and shot starts
  const float* q = nullptr;  // [B][N][heads][head_dim], token-major
  const float* k = nullptr;
  const float* v = nullptr;
  // Router inputs (routed kernels): x [B][N][d_model] and per kernel index a weight [d_model][M]
  // (nullptr for kernels that are not routed).
  const float* x = nullptr;
  int d_model = 0;
  std::vector<const float*> router_weight;
  // Optional, per kernel index: a routing to use instead of computing it (e.g. the GPU router's
  // gid/prob, so both sides group identically). nullptr: compute from x and router_weight.
  std::vector<const Grouping*> routing;
  bool per_kernel = false;  // also return each kernel's term w * gate * attn separately
  int threads = 0;          // worker threads; 0: std::thread::hardware_concurrency()
  // Partial attention (ring attention, runtime/parallel/ring_cpu.h): only the queries of q_rows are
  // computed (the other rows of out stay 0 and their q is never read) and only the keys of kv_rows are
  // visible (k, v of other tokens are never read). Token indices of the whole sequence, [begin, end);
  // end < 0: N. The coordinates, groups and masks stay those of the whole sequence.
  struct Rows {
    int begin = 0, end = -1;
  };
  Rows q_rows, kv_rows;
  bool lse = false;  // also return each kernel's log-sum-exp (RefOutputT::lse)
};

template <class Real>
struct RefOutputT {
  std::vector<Real> out;                   // [B][N][heads][head_dim]
  std::vector<Grouping> groups;            // per kernel: the grouping used (single_group if ungrouped)
  std::vector<std::vector<Real>> terms;    // per kernel (RefInputs::per_kernel): w * gate * attn
  // per kernel (RefInputs::lse), the layout of reference_lse (backward.h): [((b*heads + h)*N + t)*k + j],
  // ln sum exp(score) over the visible keys; -inf for a row not computed or seeing no key
  std::vector<std::vector<Real>> lse;
};
using RefOutput = RefOutputT<double>;
using RefOutputF32 = RefOutputT<float>;

// The runtime shape the pattern sees for these inputs (validates layout vs. N / video).
Shape make_shape(const PatternSpec& spec, const RefInputs& in);

// The reference. Real = double (the reference proper) or float (a float32 variant, same algorithm).
// Throws std::invalid_argument on inconsistent inputs, ProgramError from the programs.
template <class Real>
void reference_attention(const PatternSpec& spec, const RefInputs& in, RefOutputT<Real>& out);

extern template void reference_attention<double>(const PatternSpec&, const RefInputs&, RefOutputT<double>&);
extern template void reference_attention<float>(const PatternSpec&, const RefInputs&, RefOutputT<float>&);

// The grouping kernel `ki` uses for these inputs (routing override, router, key program, or one group).
Grouping kernel_grouping(const PatternSpec& spec, int ki, const RefInputs& in, const Shape& shape);

}  // namespace moga::ref
