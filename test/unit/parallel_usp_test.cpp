// Unified sequence parallelism (Ulysses x ring) on the CPU (runtime/parallel/usp_plan.h, usp_cpu.h,
// kernels_src/cuda/lse_merge.cuh; docs/distributed.md): the size rule and the ring schedule, the LSE
// merge, the traffic model, and the equivalence that matters: the attention computed by P emulated
// ranks (routing per shard first, all-to-all inside the Ulysses groups, K/V blocks between the groups,
// partial outputs merged by their log-sum-exp) equals the single-process reference. Bounds (float64):
// R = 1 (pure Ulysses) bit-identical; R > 1 relative L2 <= 1e-12 (the merge reorders the softmax sum;
// measured figures are printed).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <cstdio>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "kernels_src/cuda/lse_merge.cuh"
#include "runtime/attention/attention.h"
#include "runtime/model/run.h"
#include "runtime/parallel/ring_gpu.h"
#include "runtime/parallel/usp_cpu.h"
#include "runtime/parallel/usp_plan.h"
#include "runtime/reference/attention.h"
#include "runtime/reference/manifest.h"

namespace moga::parallel {
namespace {

const double kInf = std::numeric_limits<double>::infinity();

std::vector<float> normal_floats(size_t n, uint32_t seed, float scale = 1.f) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0.f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

// ---- the plan ------------------------------------------------------------------------------------------

TEST(ParallelUsp, SizeRuleAndGroups) {
  struct Want {
    int H, P, U, R;
  };
  for (const Want w : {Want{12, 1, 1, 1}, {12, 2, 2, 1}, {12, 4, 4, 1}, {12, 5, 1, 5}, {12, 6, 6, 1}, {12, 7, 1, 7},
                       {12, 8, 4, 2}, {12, 9, 3, 3}, {12, 16, 4, 4}, {12, 64, 4, 16}, {40, 64, 8, 8}, {2, 3, 1, 3}}) {
    const UspLayout l = UspLayout::make(1000, w.H, 8, w.P);
    EXPECT_EQ(l.U, w.U) << w.H << " heads, " << w.P << " GPUs";
    EXPECT_EQ(l.R, w.R) << w.H << " heads, " << w.P << " GPUs";
    EXPECT_EQ(w.H % l.U, 0);
    EXPECT_EQ(l.U * l.R, w.P);
  }
  // Groups: contiguous token ranges, the global shards of their members, every token in one group.
  for (int P : {5, 7, 8, 9})
    for (long long N : {(long long)P, 61LL, 105LL}) {
      const UspLayout l = UspLayout::make(N, 12, 4, P);
      long long next = 0;
      for (int g = 0; g < l.R; ++g) {
        ASSERT_EQ(l.group_start(g), next);
        const UlyssesShape s = l.group_shape(g);
        for (int u = 0; u < l.U; ++u) {
          ASSERT_EQ(s.shards.count(u), l.shards.count(l.rank_of(g, u))) << "P " << P << " N " << N;
          ASSERT_EQ(l.group_start(g) + s.shards.start(u), l.shards.start(l.rank_of(g, u)));
        }
        next += l.group_count(g);
      }
      ASSERT_EQ(next, N);
    }
}

TEST(ParallelUsp, RingScheduleIsAPermutationPerStep) {
  for (int P : {5, 7, 8, 16}) {
    const UspLayout l = UspLayout::make(200, 12, 4, P);
    const KvNeeds all = kv_needs_all(l);
    for (int r = 0; r < P; ++r) {
      std::set<int> sources;
      const std::vector<RingStep> steps = ring_schedule(l, all, r);
      ASSERT_EQ((int)steps.size(), l.R);
      for (const RingStep& s : steps) {
        sources.insert(s.source_group);
        EXPECT_EQ(l.member_of(s.send_to), l.member_of(r));  // the ring runs between the same head slices
        EXPECT_EQ(l.recv_from(s.send_to, s.step), r);        // what I send is what my peer receives
        if (s.step == 0) {
          EXPECT_EQ(s.send_to, r);
          EXPECT_TRUE(s.send.runs.empty() && s.recv.runs.empty());
        } else {
          EXPECT_EQ(s.recv.tokens(), l.group_count(s.source_group));  // dense: the whole block
        }
      }
      EXPECT_EQ((int)sources.size(), l.R) << "rank " << r << " does not see every group once";
    }
  }
  EXPECT_THROW(ring_schedule(UspLayout::make(10, 12, 4, 8), kv_needs_all(UspLayout::make(10, 12, 4, 5)), 0),
               ShardingError);
  EXPECT_THROW(UspLayout::make(7, 12, 4, 8), ShardingError);  // 7 tokens, 8 GPUs
  TokenRuns runs;
  runs.add(3, 5);
  runs.add(5, 6);  // merged
  runs.add(9, 10);
  ASSERT_EQ(runs.runs.size(), 2u);
  EXPECT_EQ(runs.tokens(), 4);
  EXPECT_TRUE(runs.contains(3) && runs.contains(5) && runs.contains(9));
  EXPECT_FALSE(runs.contains(2) || runs.contains(6) || runs.contains(10));
}

// What `moga run --gpus P` accepts: any P for a dense or masked single kernel (ring steps) and for patterns
// whose kernels all have a block map (the gather); else a ring (H % P != 0) is refused, naming the GPU counts
// that need none.
TEST(ParallelUsp, GpuRunAcceptsWhatTheRingRuns) {
  const ref::PatternSpec full = model::embedded_pattern("full"), moga = model::embedded_pattern("moga"),
                         stga = model::embedded_pattern("stga");
  EXPECT_TRUE(ring_supported(full));
  std::string why;
  EXPECT_FALSE(ring_supported(stga, &why));
  EXPECT_NE(why.find("kernel 'stga' of pattern 'stga' has a"), std::string::npos) << why;  // the compiler made its mask a group key
  EXPECT_FALSE(ring_supported(moga, &why));
  EXPECT_NE(why.find("3 branches"), std::string::npos) << why;
  for (int P : {1, 2, 3, 5, 7, 8, 16, 64}) EXPECT_NO_THROW(check_usp(12, P, full)) << P;
  // group keys, routers and mixtures: the gather (every kernel has a block map), any GPU count
  for (int P : {1, 2, 3, 4, 5, 6, 7, 8, 12, 16}) {
    EXPECT_NO_THROW(check_usp(12, P, moga)) << P;
    EXPECT_NO_THROW(check_usp(12, P, stga)) << P;
  }
  EXPECT_EQ(cross_group(full), CrossGroup::Ring);
  EXPECT_EQ(cross_group(moga), CrossGroup::Gather);
  EXPECT_EQ(cross_group(stga), CrossGroup::Gather);
  // neither: a mixture with a dense branch (no block map to restrict, and two branches), or routed top 2
  ref::PatternSpec dense_branch = moga;
  dense_branch.kernels[1].key.reset();
  dense_branch.kernels[1].mask.reset();
  EXPECT_FALSE(gather_supported(dense_branch, &why));
  EXPECT_NE(why.find("kernel '" + dense_branch.kernels[1].name + "' of pattern 'moga' is dense"), std::string::npos) << why;
  try {
    check_usp(12, 8, dense_branch);
    FAIL() << "a mixture with a dense branch on 8 GPUs of 12 heads accepted";
  } catch (const ShardingError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("12 attention heads over 8 GPUs need Ulysses groups of 4 and a ring of 2"), std::string::npos) << m;
    EXPECT_NE(m.find("3 branches"), std::string::npos) << m;
    EXPECT_NE(m.find("is dense"), std::string::npos) << m;
    EXPECT_NE(m.find("use 1, 2, 3, 4, 6, 12 GPUs for 'moga'"), std::string::npos) << m;
  }
  EXPECT_NO_THROW(check_usp(12, 6, dense_branch));  // no ring: pure Ulysses runs it
  EXPECT_THROW(cross_group(dense_branch), ShardingError);
  ref::PatternSpec top2 = moga;
  for (auto& k : top2.kernels)
    if (k.route) k.route->topk = 2;
  EXPECT_FALSE(gather_supported(top2, &why));
  EXPECT_NE(why.find("routes top k > 1"), std::string::npos) << why;
  // masked single-kernel patterns: the steps pass their token offsets (seq and video layout)
  for (const char* name : {"causal", "sliding_window", "radial"}) {
    const ref::PatternSpec spec = model::embedded_pattern(name);
    EXPECT_TRUE(ring_supported(spec, &why)) << name << ": " << why;
    EXPECT_NO_THROW(check_usp(12, 8, spec)) << name;
  }
  EXPECT_FALSE(ring_supported(stga, &why));
  EXPECT_NE(why.find("has a group key (one token order for queries and keys"), std::string::npos) << why;
}

// ---- the merge -----------------------------------------------------------------------------------------

// One row's softmax over scores split into blocks equals the merge of the blocks' softmaxes, in any
// fold order; blocks without keys are skipped without reading their output; no keys at all: 0.
TEST(ParallelUsp, LseMergeMath) {
  const int D = 3;
  std::mt19937 gen(7);
  std::normal_distribution<double> nd(0.0, 4.0);
  for (int trial = 0; trial < 20; ++trial) {
    const int n = 13;
    std::vector<double> s(n), v(n * D);
    for (auto& x : s) x = nd(gen) + (trial % 2 ? 900.0 : 0.0);  // large scores: no overflow
    for (auto& x : v) x = nd(gen);
    auto softmax = [&](int b, int e, double* o) {  // over [b, e): returns lse
      double m = -kInf;
      for (int i = b; i < e; ++i) m = std::max(m, s[i]);
      if (b == e) return -kInf;
      double sum = 0;
      for (int d = 0; d < D; ++d) o[d] = 0;
      for (int i = b; i < e; ++i) {
        const double w = std::exp(s[i] - m);
        sum += w;
        for (int d = 0; d < D; ++d) o[d] += w * v[i * D + d];
      }
      for (int d = 0; d < D; ++d) o[d] /= sum;
      return m + std::log(sum);
    };
    double whole[D];
    const double lse_whole = softmax(0, n, whole);
    const int cuts[] = {0, 4, 4, 9, n};  // one empty block
    std::vector<std::vector<double>> o(4, std::vector<double>(D));
    std::vector<double> l(4);
    for (int b = 0; b < 4; ++b) l[b] = softmax(cuts[b], cuts[b + 1], o[b].data());
    ASSERT_EQ(l[1], -kInf);
    o[1].assign(D, std::numeric_limits<double>::quiet_NaN());  // must not be read
    for (const std::vector<int>& order : {std::vector<int>{0, 1, 2, 3}, {3, 2, 1, 0}, {1, 2, 0, 3}}) {
      double la = -kInf, oa[D] = {0, 0, 0};
      for (int b : order) lse_merge::merge_row(la, oa, l[b], o[b].data(), D);
      EXPECT_NEAR(la, lse_whole, 1e-12 * std::abs(lse_whole) + 1e-12);
      for (int d = 0; d < D; ++d) EXPECT_NEAR(oa[d], whole[d], 1e-12) << "trial " << trial;
    }
  }
  // No keys in any block: 0 and -inf, never NaN.
  double la = -kInf, oa[2] = {0, 0};
  const double nan2[2] = {std::nan(""), std::nan("")};
  lse_merge::merge_row(la, oa, -kInf, nan2, 2);
  lse_merge::merge_row(la, oa, -kInf, nan2, 2);
  EXPECT_EQ(la, -kInf);
  EXPECT_EQ(oa[0], 0.0);
  EXPECT_EQ(oa[1], 0.0);
  // The first block with keys is copied exactly (bit-identical pure Ulysses).
  const float ob[2] = {0.1f, -3.f};
  lse_merge::merge_row(la, oa, 2.5, ob, 2);
  EXPECT_EQ(la, 2.5);
  EXPECT_EQ(oa[0], (double)0.1f);
  const lse_merge::Fold<double> f = lse_merge::fold_weights(1000.0, 1000.0);
  EXPECT_DOUBLE_EQ(f.ca, 0.5);
  EXPECT_DOUBLE_EQ(f.lse, 1000.0 + std::log(2.0));
}

// The GPU's merge kernel (the same header) compiles with NVRTC for the H200 (no GPU needed).
TEST(ParallelUsp, MergeKernelCompilesWithNvrtc) {
  const jit::CompiledKernel k = compile_lse_merge("sm_90a");
  EXPECT_FALSE(k.cubin.empty());
  EXPECT_EQ(k.arch, "sm_90a");
}

// ---- traffic -------------------------------------------------------------------------------------------

// docs/distributed.md: per rank and layer, bf16, d = H D:
//   all-to-alls in a Ulysses group: 4 N d (U - 1) / (P U) elements; ring: 2 N d (R - 1) / P elements
//   (dense; fewer with needs()); routing 8 N (P - 1) / P bytes; head once 64 N (P - 1) / P elements.
TEST(ParallelUsp, TrafficFormula) {
  const long long N = 187200;
  const int H = 12, D = 128, d = H * D, layers = 30;
  for (int P : {2, 4, 5, 6, 7, 8, 16, 64}) {
    const UspLayout l = UspLayout::make(N, H, D, P);
    const Traffic t = usp_traffic_per_rank(l, 2, true, 64);
    const double U = l.U, R = l.R;
    // rank 0 of a group of the larger shards: the formula is exact when P divides N (all but 7 here)
    const double tol = N % P ? 2e-4 : 1e-12;
    EXPECT_NEAR(t.a2a_per_layer, 4.0 * N * d * (U - 1) / (P * U) * 2, tol * (t.a2a_per_layer + 1)) << "P " << P;
    EXPECT_NEAR(t.ring_per_layer, 2.0 * N * d * (R - 1) / P * 2, tol * (t.ring_per_layer + 1)) << "P " << P;
    if (l.R == 1) {  // pure Ulysses: today's model
      const Traffic u = traffic_per_rank(N, d, P, 2, true, 64);
      EXPECT_DOUBLE_EQ(t.a2a_per_layer, u.a2a_per_layer);
      EXPECT_DOUBLE_EQ(t.routing_per_layer, u.routing_per_layer);
      EXPECT_DOUBLE_EQ(t.head, u.head);
    }
    std::printf("P = %2d (U = %d x R = %2d): all-to-all %.1f MB + ring %.1f MB /layer/GPU, per forward %.3f GB/GPU\n", P,
                l.U, l.R, t.a2a_per_layer / 1e6, t.ring_per_layer / 1e6, t.per_forward(layers) / 1e9);
  }
}

// ---- the equivalence -----------------------------------------------------------------------------------

struct Case {
  std::string pattern;
  int P;
  ref::VideoShape grid;
  int H = 12;
};

struct Inputs {
  std::vector<float> q, k, v, x, w;
  int dm = 16, M = 0;
};

Inputs make_inputs(const ref::PatternSpec& spec, long long N, int H, int D, const ref::VideoShape& grid,
                   bool frame_routing) {
  Inputs in;
  for (const auto& k : spec.kernels)
    if (k.route) in.M = k.route->groups;
  in.q = normal_floats((size_t)N * H * D, 11);
  in.k = normal_floats((size_t)N * H * D, 12);
  in.v = normal_floats((size_t)N * H * D, 13);
  in.x = normal_floats((size_t)N * in.dm, 14, frame_routing ? 0.05f : 1.f);
  in.w = normal_floats((size_t)in.dm * std::max(in.M, 1), 15);
  if (frame_routing) {  // the router input follows the time: the first half of the frames routes to
    // group 0, the second half to group 1 (x has a 4 at dimension 0 or 1; W is the identity there)
    const long long per_frame = (long long)grid.H * grid.W;
    for (long long t = 0; t < N; ++t) in.x[(size_t)t * in.dm + (2 * (t / per_frame) / grid.F)] += 4.f;
    for (int d = 0; d < in.dm; ++d)
      for (int m = 0; m < in.M; ++m) in.w[(size_t)d * in.M + m] = (d == m ? 1.f : 0.f) + 0.01f * in.w[(size_t)d * in.M + m];
  }
  return in;
}

ref::RefOutput single_process(const ref::PatternSpec& spec, const Inputs& x, int H, int D, const ref::VideoShape& grid) {
  ref::RefInputs in;
  in.heads = H, in.head_dim = D;
  in.video = grid;
  in.N = spec.layout == ref::Layout::Seq ? grid.F * grid.H * grid.W : 0;
  in.q = x.q.data(), in.k = x.k.data(), in.v = x.v.data();
  in.x = x.x.data(), in.d_model = x.dm;
  in.router_weight.assign(spec.kernels.size(), nullptr);
  for (size_t i = 0; i < spec.kernels.size(); ++i)
    if (spec.kernels[i].route) in.router_weight[i] = x.w.data();
  in.threads = 2;
  ref::RefOutput out;
  ref::reference_attention<double>(spec, in, out);
  return out;
}

UspCpuResult sharded(const ref::PatternSpec& spec, const UspLayout& l, const Inputs& x, const ref::VideoShape& grid,
                     long long withhold = -1, std::optional<CrossGroup> mode = std::nullopt) {
  UspCpuInputs in;
  in.spec = &spec;
  in.video = grid;
  in.N = spec.layout == ref::Layout::Seq ? (int)l.N : 0;
  in.H = l.H, in.D = l.D;
  in.q = x.q.data(), in.k = x.k.data(), in.v = x.v.data();
  in.x = x.x.data(), in.d_model = x.dm;
  in.router_weight.assign(spec.kernels.size(), nullptr);
  for (size_t i = 0; i < spec.kernels.size(); ++i)
    if (spec.kernels[i].route) in.router_weight[i] = x.w.data();
  in.tile = 16;
  in.withhold_key = withhold;
  in.mode = mode;
  return emulate_usp_attention(l, in);
}

struct Diff {
  double rel_l2 = 0;
  long long differ = 0, nan = 0;
};
Diff compare(const std::vector<double>& a, const std::vector<double>& ref) {
  Diff d;
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (std::isnan(a[i])) ++d.nan;
    d.differ += a[i] != ref[i];
    num += (a[i] - ref[i]) * (a[i] - ref[i]);
    den += ref[i] * ref[i];
  }
  d.rel_l2 = std::sqrt(num / std::max(den, 1e-300));
  return d;
}

// Returns the fraction of the dense ring's keys the plan sent.
double expect_sharded_equals_single(const Case& cs, bool frame_routing = false,
                                    std::optional<CrossGroup> mode = std::nullopt) {
  const ref::PatternSpec spec = model::embedded_pattern(cs.pattern);
  const int D = 4;
  const long long N = (long long)cs.grid.F * cs.grid.H * cs.grid.W;
  const UspLayout l = UspLayout::make(N, cs.H, D, cs.P);
  const Inputs x = make_inputs(spec, N, cs.H, D, cs.grid, frame_routing);
  const ref::RefOutput single = single_process(spec, x, cs.H, D, cs.grid);
  const UspCpuResult got = sharded(spec, l, x, cs.grid, -1, mode);
  for (size_t ki = 0; ki < spec.kernels.size(); ++ki)
    if (spec.kernels[ki].route) {
      EXPECT_EQ(got.routing[ki].gid, single.groups[ki].gid) << cs.pattern;
      EXPECT_EQ(got.routing[ki].prob, single.groups[ki].prob) << cs.pattern;
    }
  const Diff d = compare(got.out, single.out);
  const double frac = l.R == 1 ? 1.0 : (double)got.needs.sent_tokens() / got.needs.all_tokens(l);
  std::printf("%-12s P = %d (U = %d x R = %d, %s), N = %lld%s: rel L2 %.2e, %lld of %zu values differ; %s\n",
              cs.pattern.c_str(), cs.P, l.U, l.R, cross_group_name(got.mode), N,
              cs.grid.shot_starts.size() > 1 ? " (shots)" : "", d.rel_l2, d.differ,
              single.out.size(),
              l.R == 1 ? "no ring" : fmt::format("keys sent {:.1f}% of the dense ring's", 100 * frac).c_str());
  EXPECT_EQ(d.nan, 0) << cs.pattern << " P " << cs.P;
  // pure Ulysses and the gather compute every row as one process does; the ring's merge reorders the sums
  if (l.R == 1 || got.mode == CrossGroup::Gather)
    EXPECT_EQ(d.differ, 0) << cs.pattern << " P " << cs.P << ": pure Ulysses and the gather must be bit-identical";
  else EXPECT_LE(d.rel_l2, 1e-12) << cs.pattern << " P " << cs.P;
  EXPECT_EQ(got.keys_delivered, got.needs.sent_tokens() * l.U);  // every member of a group gets its block
  return frac;
}

const ref::VideoShape kGrid105{3, 5, 7, {}};         // 105 tokens: 8 -> 14,13,...; 6 -> 18,18,18,17,17,17
const ref::VideoShape kGrid108{3, 4, 9, {}};         // 108 tokens: not a multiple of 5 or 7
const ref::VideoShape kShots126{6, 3, 7, {0, 4}};    // 126 tokens, 2 shots: not a multiple of 5 or 8
const ref::VideoShape kShots75{5, 3, 5, {0, 2}};     // 75 tokens, 2 shots: not a multiple of 6, 7 or 8

// Each pattern as the GPU runs it (full: ring steps; stga, moga: the gather), and stga, moga through the ring
// steps too (the plan a per-step sort would run; its key filter is what KeysTravelOnlyWhereNeeded measures).
TEST(ParallelUspEquivalence, EightRanksTwelveHeads) {  // U = 4, R = 2: the wan-1.3b case
  for (const char* p : {"full", "stga", "moga"}) {
    expect_sharded_equals_single({p, 8, kGrid105});
    expect_sharded_equals_single({p, 8, kShots126});
  }
  for (const char* p : {"stga", "moga"}) expect_sharded_equals_single({p, 8, kShots126}, false, CrossGroup::Ring);
}

TEST(ParallelUspEquivalence, FiveSixSevenRanks) {  // 1 x 5, 6 x 1, 1 x 7
  for (const char* p : {"full", "stga", "moga"}) {
    expect_sharded_equals_single({p, 5, kGrid108});
    expect_sharded_equals_single({p, 6, kShots75});
    expect_sharded_equals_single({p, 7, kShots75});
  }
  expect_sharded_equals_single({"moga", 7, kShots75}, false, CrossGroup::Ring);
}

// The gather as the GPU runs it: every other group's keys arrive (the dense ring's count), the result is the
// single process's bit for bit, and a key withheld from another group changes it (the check bites).
TEST(ParallelUspEquivalence, GatherSendsEveryKeyOnce) {
  const ref::PatternSpec spec = model::embedded_pattern("moga");
  const UspLayout l = UspLayout::make(126, 12, 4, 8);  // 4 x 2
  const Inputs x = make_inputs(spec, 126, 12, 4, kShots126, false);
  const ref::RefOutput single = single_process(spec, x, 12, 4, kShots126);
  const UspCpuResult got = sharded(spec, l, x, kShots126);
  EXPECT_EQ(got.mode, CrossGroup::Gather);
  EXPECT_EQ(got.keys_delivered, l.U * (l.R - 1) * l.N);  // each rank: the N - N_g keys of the other group
  EXPECT_EQ(compare(got.out, single.out).differ, 0);
  const long long key = l.group_start(1);  // group 1's first key, which group 0 receives
  const Diff d = compare(sharded(spec, l, x, kShots126, key).out, single.out);
  EXPECT_GT(d.differ, 0) << "withholding key " << key << " changed nothing";
}

// A group's keys travel only where queries need them: STGA's mask and a routing that follows the frames
// leave most keys at home, and the result is still the single-process one (every key not sent is NaN
// on the receiver). Withholding one key the plan sends changes the result: the check bites.
TEST(ParallelUspEquivalence, KeysTravelOnlyWhereNeeded) {
  const ref::VideoShape grid{8, 4, 4, {0, 4}};  // 128 tokens, 2 shots; 8 ranks of 12 heads -> 2 groups of a shot
  const CrossGroup ring = CrossGroup::Ring;  // the ring steps' plan (the GPU gathers these patterns' keys)
  EXPECT_LT(expect_sharded_equals_single({"stga", 8, grid}, false, ring), 0.8);
  EXPECT_LT(expect_sharded_equals_single({"moga_dynamic", 8, grid}, true, ring), 0.8);
  EXPECT_LT(expect_sharded_equals_single({"stga", 7, {7, 4, 5, {}}}, false, ring), 0.6);  // 140 tokens, 7 groups of a frame
  EXPECT_DOUBLE_EQ(expect_sharded_equals_single({"full", 8, grid}), 1.0);

  const ref::PatternSpec spec = model::embedded_pattern("stga");
  const long long N = 128;
  const UspLayout l = UspLayout::make(N, 12, 4, 8);
  const Inputs x = make_inputs(spec, N, 12, 4, grid, false);
  const ref::RefOutput single = single_process(spec, x, 12, 4, grid);
  const KvNeeds needs = sharded(spec, l, x, grid, -1, ring).needs;
  ASSERT_FALSE(needs.at(1, 0).runs.empty());
  const long long key = needs.at(1, 0).runs.back().second - 1;  // group 0's last needed key, for group 1
  const Diff d = compare(sharded(spec, l, x, grid, key, ring).out, single.out);
  EXPECT_GT(d.differ, 0) << "withholding key " << key << " changed nothing";
}

TEST(ParallelUspEquivalence, Refusals) {
  const ref::PatternSpec spec = model::embedded_pattern("moga");
  const UspLayout l = UspLayout::make(105, 12, 4, 8);
  const Inputs x = make_inputs(spec, 105, 12, 4, kGrid105, false);
  UspCpuInputs in;
  in.spec = &spec;
  in.video = kGrid105;
  in.H = 12, in.D = 4;
  in.q = x.q.data(), in.k = x.k.data(), in.v = x.v.data();
  try {  // routed without router inputs
    emulate_usp_attention(l, in);
    FAIL() << "no router inputs accepted";
  } catch (const ShardingError& e) {
    EXPECT_NE(std::string(e.what()).find("router weight"), std::string::npos) << e.what();
  }
  ref::PatternSpec top2 = spec;
  for (auto& k : top2.kernels)
    if (k.route) k.route->topk = 2;
  in.spec = &top2;
  try {
    emulate_usp_attention(l, in);
    FAIL() << "top 2 accepted";
  } catch (const ShardingError& e) {
    EXPECT_NE(std::string(e.what()).find("top 2"), std::string::npos) << e.what();
  }
  // kv_needs of a routed kernel without its routing
  ref::RefInputs si;
  si.video = kGrid105;
  EXPECT_THROW(kv_needs(l, spec, ref::make_shape(spec, si), {}), ShardingError);
}


// ---- token offsets (ring steps of masked patterns on the GPU) ---------------------------------------------

// RunOptions::q_offset / kv_offset / seq_tokens: every check run() makes before the device (validate_slice,
// and validate()'s grid and key-length rules for a slice), with the messages naming what was given.
// The ArgumentError f throws (its message), or "(no error)".
std::string message(const std::function<void()>& f) {
  try {
    f();
  } catch (const rt::ArgumentError& e) {
    return std::string(e.what());
  }
  return std::string("(no error)");
}
bool contains(const std::string& m, const char* part) { return m.find(part) != std::string::npos; }

// RunOptions::query_begin / query_end (the gather's call): a non-empty range of the tokens, not beside token
// offsets, and a block map in every kernel; each refusal names what was given. No device needed.
TEST(ParallelUsp, QueryRangeValidated) {
  rt::AttentionOptions o;
  o.arch = "sm_90";
  rt::PatternAttention moga(rt::load_builtin("moga"), o), full(rt::load_builtin("full"), o),
      causal(rt::load_builtin("causal"), o);
  const rt::AttentionShape vid = rt::AttentionShape::make_video(1, 5, 6, 10, 2, 128, {0, 3});  // 300 tokens
  rt::RunOptions ro;
  ro.query_begin = 150, ro.query_end = 300;
  EXPECT_NO_THROW(moga.validate_query_range(ro, vid));
  EXPECT_NO_THROW(causal.validate_query_range(ro, rt::AttentionShape::seq(1, 300, 2, 128)));
  EXPECT_NO_THROW(full.validate_query_range(rt::RunOptions{}, vid)) << "no range: nothing to check";
  std::string m = message([&] { full.validate_query_range(ro, rt::AttentionShape::seq(1, 300, 2, 128)); });
  EXPECT_TRUE(contains(m, "kernel 'full' of pattern 'full' is dense") && contains(m, "[150, 300)")) << m;
  rt::RunOptions bad = ro;
  bad.query_end = 301;
  m = message([&] { moga.validate_query_range(bad, vid); });
  EXPECT_TRUE(contains(m, "[150, 301)") && contains(m, "300 tokens")) << m;
  bad = ro, bad.query_begin = 300;
  m = message([&] { moga.validate_query_range(bad, vid); });
  EXPECT_TRUE(contains(m, "[300, 300)")) << m;
  bad = ro, bad.seq_tokens = 600;
  m = message([&] { moga.validate_query_range(bad, vid); });
  EXPECT_TRUE(contains(m, "token offsets")) << m;
}

TEST(ParallelUsp, TokenOffsetsValidated) {
  rt::AttentionOptions o;
  o.arch = "sm_90";
  o.lse = true;
  const int H = 2, D = 128;
  auto view = [&](unsigned long long at, long long n) {
    return rt::TensorView::contiguous(at << 24, rt::DType::BF16, {1, n, H, D});
  };
  const rt::TensorView q = view(1, 101), k = view(2, 77), v = view(3, 77), out = view(4, 101);
  rt::PatternAttention causal(rt::load_builtin("causal"), o);
  const rt::AttentionShape seq = rt::AttentionShape::seq(1, 101, H, D);
  rt::RunOptions ro;
  ro.lse = {1 << 20};
  ro.q_offset = 150, ro.kv_offset = 3, ro.seq_tokens = 300;
  EXPECT_NO_THROW(causal.validate_slice(ro, q, k, seq));
  EXPECT_NO_THROW(causal.validate(q, k, v, out, seq, nullptr, ro.seq_tokens)) << "a masked kernel takes Nk != N in a slice";
  std::string m = message([&] { causal.validate(q, k, v, out, seq, nullptr); });
  EXPECT_TRUE(contains(m, "has a mask")) << m;  // without the slice: cross-attention rules
  rt::RunOptions bad = ro;
  bad.q_offset = 200;  // 200 + 101 > 300
  m = message([&] { causal.validate_slice(bad, q, k, seq); });
  EXPECT_TRUE(contains(m, "q_offset 200") && contains(m, "seq_tokens = 300")) << m;
  bad = ro, bad.kv_offset = -1;
  m = message([&] { causal.validate_slice(bad, q, k, seq); });
  EXPECT_TRUE(contains(m, "kv_offset -1")) << m;
  bad = ro, bad.seq_tokens = 0;
  m = message([&] { causal.validate_slice(bad, q, k, seq); });
  EXPECT_TRUE(contains(m, "without seq_tokens")) << m;
  bad = ro, bad.lse = {0};
  m = message([&] { causal.validate_slice(bad, q, k, seq); });
  EXPECT_TRUE(contains(m, "RunOptions::lse") && contains(m, "'causal'")) << m;
  // the mma.sync engine has no offsets
  rt::AttentionOptions o80 = o;
  o80.arch = "sm_80";
  rt::PatternAttention causal80(rt::load_builtin("causal"), o80);
  m = message([&] { causal80.validate_slice(ro, q, k, seq); });
  EXPECT_TRUE(contains(m, "takes no offsets")) << m;
  // video: the grid is the whole sequence's (5 x 6 x 10 = 300 tokens) while the call holds 101 queries
  rt::PatternAttention radial(rt::load_builtin("radial"), o);  // a masked video pattern (staged key columns)
  const rt::AttentionShape vid = [&] {
    rt::AttentionShape s = rt::AttentionShape::make_video(1, 5, 6, 10, H, D, {0, 3});
    s.N = 101;
    return s;
  }();
  EXPECT_NO_THROW(radial.validate(q, k, v, out, vid, nullptr, 300));
  EXPECT_NO_THROW(radial.validate_slice(ro, q, k, vid));
  m = message([&] { radial.validate(q, k, v, out, vid, nullptr, 0); });
  EXPECT_TRUE(contains(m, "does not match N = 101")) << m;
  m = message([&] { radial.validate(q, k, v, out, vid, nullptr, 299); });
  EXPECT_TRUE(contains(m, "RunOptions::seq_tokens = 299")) << m;
  // keyed kernels (stga: the compiler turns its region / temporal-group equalities into a group key) and
  // routed ones: one token order for queries and keys, refused
  rt::PatternAttention stga(rt::load_builtin("stga"), o);
  m = message([&] { stga.validate_slice(ro, q, k, vid); });
  EXPECT_TRUE(contains(m, "kernel 'stga' of pattern 'stga' groups tokens by a key")) << m;
  rt::PatternAttention moga(rt::load_builtin("moga"), o);
  rt::RunOptions r3 = ro;
  r3.lse = {1 << 20, 1 << 21, 1 << 22};
  m = message([&] { moga.validate_slice(r3, q, k, vid); });
  EXPECT_TRUE(contains(m, "is routed") || contains(m, "groups tokens by a key")) << m;
}

// The log-sum-exp instantiations (the ones that read the offsets) of masked patterns compile with NVRTC
// for the H200 on both wgmma rows (no GPU needed; their default instantiations' SASS is unchanged: the
// offsets are read only under LSE, docs/distributed.md).
TEST(ParallelUsp, OffsetKernelsCompileWithNvrtc) {
  for (const char* row : {"sm90.ws", "sm90.tma"})
    for (const char* pat : {"causal", "sliding_window", "radial"}) {
      rt::AttentionOptions o;
      o.arch = "sm_90";
      o.lse = true;
      o.variant = row;
      rt::PatternAttention a(rt::load_builtin(pat), o);
      const rt::ModuleInfo info = a.compile(128);
      EXPECT_EQ(info.arch, "sm_90a") << pat << " " << row;
      for (const std::string& v : info.variants) EXPECT_EQ(v, row) << pat;
    }
}

}  // namespace
}  // namespace moga::parallel
