// Unified sequence parallelism (usp_plan.h) emulated on the CPU over P simulated ranks, in float64, with
// the data movement of the GPU path: each rank starts from its own token rows of q|k|v and of the
// router input; routes its tokens and all-gathers the routing (sharding.h's all-gather-v); runs its
// Ulysses group's all-to-all (seq_to_heads on the group's tokens); then, ring step by ring step, holds
// only the keys that step delivers (needs() of usp_plan.h; every key it was not sent is NaN, and the
// queries of other groups are NaN, so a plan that forgets a needed key, or an attention that reads a
// row it was not given, shows in the output), computes each kernel's partial attention of its queries
// over that block with its log-sum-exp (the reference's q_rows / kv_rows / lse), folds it into the
// kernel's running output with lse_merge.cuh's merge_row, sums the kernels and runs the all-to-all
// back. In gather mode (CrossGroup::Gather, as the GPU runs group keys, routers and mixtures) a rank
// instead receives the k, v of every other group from the same member of it (again NaN wherever nothing
// was sent) and computes the whole pattern for its group's query rows over all N keys (the reference's
// q_rows), with nothing to merge. The tests compare the assembled output with the single-process reference.
#pragma once

#include <optional>
#include <vector>

#include "runtime/parallel/usp_plan.h"
#include "runtime/reference/attention.h"

namespace moga::parallel {

struct UspCpuInputs {
  const ref::PatternSpec* spec = nullptr;
  int N = 0;              // layout seq: the sequence length (video: 0 or F*H*W)
  ref::VideoShape video;  // layout video: the grid and shot starts
  int H = 0, D = 0;
  const float* q = nullptr;  // [N][H][D], the whole sequence: rank r is given only its rows
  const float* k = nullptr;
  const float* v = nullptr;
  const float* x = nullptr;  // router input [N][d_model] (routed patterns), again rank r gets its rows
  int d_model = 0;
  std::vector<const float*> router_weight;  // per kernel index: [d_model][M], nullptr when not routed
  int tile = 64;                             // the mask filter's tile (usp_plan.h kv_needs)
  int threads = 2;
  long long withhold_key = -1;  // testing: this token's key is never delivered by a ring step (-1: none)
  std::optional<CrossGroup> mode;  // unset: cross_group(spec), what the GPU runs
};

struct UspCpuResult {
  std::vector<double> out;               // [N][H][D], every rank's output rows at their tokens
  std::vector<ref::Grouping> routing;    // per kernel: the gathered routing (routed kernels), else empty
  CrossGroup mode = CrossGroup::Ring;   // what ran
  KvNeeds needs;                         // the plan's keys per (destination, source) group (gather: all)
  long long keys_delivered = 0;          // keys received over the network, summed over ranks
};

// Throws ShardingError for what the plan refuses (routed top-k > 1: one log-sum-exp per row and kernel),
// std::logic_error when a sender's and a receiver's schedules disagree.
UspCpuResult emulate_usp_attention(const UspLayout& l, const UspCpuInputs& in);

}  // namespace moga::parallel
