// Ulysses sequence parallelism on the CPU (runtime/parallel/sharding.h, docs/distributed.md): the shards,
// the exchange plans executed by the CPU emulation (the same plans the GPU executes with
// cuMemcpy3DAsync + NCCL), and the equivalence that matters: the attention computed in sharded form
// (routing per shard before the exchange, all-gathered; the CPU reference per head shard on P
// emulated ranks) equals the single-process attention exactly, in float64.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "runtime/model/run.h"
#include "runtime/parallel/sharding.h"
#include "runtime/reference/attention.h"
#include "runtime/reference/manifest.h"

namespace moga::parallel {
namespace {

TEST(ParallelShards, ContiguousBalancedAndOwned) {
  for (int P = 1; P <= 9; ++P)
    for (long long N = P; N <= 60; ++N) {
      const SeqShards s = SeqShards::make(N, P);
      long long next = 0, mn = N, mx = 0;
      for (int r = 0; r < P; ++r) {
        ASSERT_EQ(s.start(r), next) << "N " << N << " P " << P << " rank " << r;
        next += s.count(r);
        mn = std::min(mn, s.count(r));
        mx = std::max(mx, s.count(r));
        for (long long t = s.start(r); t < s.start(r) + s.count(r); ++t) ASSERT_EQ(s.owner(t), r);
      }
      ASSERT_EQ(next, N);
      ASSERT_LE(mx - mn, 1);
      ASSERT_GE(mn, 1);
    }
  const SeqShards s = SeqShards::make(187200, 8);  // the paper's 30 s video: 23,400 tokens a GPU
  EXPECT_EQ(s.count(0), 23400);
  EXPECT_EQ(s.start(7), 7 * 23400);
  const SeqShards u = SeqShards::make(10, 4);  // 3, 3, 2, 2
  EXPECT_EQ(u.count(0), 3);
  EXPECT_EQ(u.count(1), 3);
  EXPECT_EQ(u.count(2), 2);
  EXPECT_EQ(u.start(3), 8);
}

TEST(ParallelShards, Errors) {
  EXPECT_THROW(SeqShards::make(3, 4), ShardingError);
  EXPECT_THROW(SeqShards::make(10, 0), ShardingError);
  try {
    check_heads(12, 5);
    FAIL() << "12 heads over 5 GPUs accepted";
  } catch (const ShardingError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("12 attention heads"), std::string::npos) << m;
    EXPECT_NE(m.find("5 GPUs"), std::string::npos) << m;
    EXPECT_NE(m.find("1, 2, 3, 4, 6, 12"), std::string::npos) << m;
  }
  EXPECT_NO_THROW(check_heads(12, 4));
  EXPECT_NO_THROW(check_heads(40, 8));   // wan-14b
  EXPECT_THROW(check_heads(12, 8), ShardingError);  // wan-1.3b on 8 GPUs (docs/distributed.md)
  EXPECT_THROW(UlyssesShape::make(100, 2, 64, 4), ShardingError);
  EXPECT_THROW(seq_to_heads(UlyssesShape::make(10, 4, 8, 2), 0, 3, 3 * 4 * 8 - 1, 2), ShardingError);  // ld too small
}

// Random bytes-as-values helper: float rows.
std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

// seq -> heads puts every element where the layout says, and heads -> seq brings it back, for C = 3
// with exact rows (ld = 3 H D: the GPU's q|k|v rows, one 3-D copy per destination) and padded rows
// (ld > 3 H D: one 2-D copy per destination and component), uneven shards and P = 1..5.
TEST(ParallelExchange, LayoutAndRoundTrip) {
  for (int pad : {0, 5})
  for (int P : {1, 2, 3, 4, 5})
    for (long long N : {(long long)P, 7LL, 13LL, 31LL}) {
      if (N < P) continue;
      const int H = 2 * P, D = 3, C = 3;
      const long long ld = (long long)C * H * D + pad;  // padding columns, never read
      const UlyssesShape s = UlyssesShape::make(N, H, D, P);
      // The full sequence [N][ld]; rank r's source is its rows.
      const std::vector<float> full = random_floats((size_t)N * ld, 1000u + (uint32_t)(P * 100 + N));
      std::vector<Exchange> to_heads, to_seq;
      std::vector<std::vector<float>> heads(P), back(P);
      std::vector<const void*> src(P), src2(P);
      std::vector<void*> dst(P), dst2(P);
      for (int r = 0; r < P; ++r) {
        to_heads.push_back(seq_to_heads(s, r, C, ld, sizeof(float)));
        heads[r].assign(to_heads[r].recv_buffer_bytes / sizeof(float), -1.f);
        src[r] = full.data() + s.shards.start(r) * ld;
        dst[r] = heads[r].data();
      }
      for (int r = 0; r < P; ++r) ASSERT_EQ(to_heads[r].pre.size(), (size_t)(pad ? C * P : P));
      emulate_exchange(to_heads, src, dst);
      const int Hp = s.Hp();
      for (int r = 0; r < P; ++r)
        for (long long t = 0; t < N; ++t)
          for (int c = 0; c < C; ++c)
            for (int h = 0; h < Hp; ++h)
              for (int e = 0; e < D; ++e) {
                const float got = heads[r][(((size_t)t * C + c) * Hp + h) * D + e];
                const float want = full[(size_t)t * ld + (size_t)c * H * D + (size_t)(r * Hp + h) * D + e];
                ASSERT_EQ(got, want) << "P " << P << " N " << N << " rank " << r << " token " << t << " c " << c;
              }
      // Back, component by component (C = 1 as the attention output; here each component separately
      // from a de-interleaved copy), into rows of ld' = H*D.
      for (int c = 0; c < C; ++c) {
        std::vector<std::vector<float>> comp(P);
        for (int r = 0; r < P; ++r) {
          comp[r].resize((size_t)N * Hp * D);
          for (long long t = 0; t < N; ++t)
            std::memcpy(&comp[r][(size_t)t * Hp * D], &heads[r][((size_t)t * C + c) * Hp * D], sizeof(float) * Hp * D);
          to_seq.push_back(heads_to_seq(s, r, 1, (long long)H * D, sizeof(float)));
          back[r].assign(to_seq.back().dst_bytes / sizeof(float), -1.f);
          src2[r] = comp[r].data();
          dst2[r] = back[r].data();
        }
        emulate_exchange(to_seq, src2, dst2);
        for (int r = 0; r < P; ++r)
          for (long long i = 0; i < s.shards.count(r); ++i)
            for (int j = 0; j < H * D; ++j)
              ASSERT_EQ(back[r][(size_t)i * H * D + j], full[(size_t)(s.shards.start(r) + i) * ld + (size_t)c * H * D + j]);
        to_seq.clear();
      }
      // Bytes on the wire: everything but the own block.
      size_t sent = 0;
      for (int r = 0; r < P; ++r) sent += to_heads[r].bytes_sent();
      size_t own = 0;
      for (int r = 0; r < P; ++r) own += (size_t)s.shards.count(r) * C * Hp * D * sizeof(float);
      EXPECT_EQ(sent, (size_t)N * C * H * D * sizeof(float) - own);
    }
}

TEST(ParallelExchange, InconsistentPlansAreCaught) {
  const UlyssesShape s = UlyssesShape::make(9, 2, 4, 2);
  std::vector<Exchange> plans = {seq_to_heads(s, 0, 3, 24, 4), seq_to_heads(s, 1, 3, 24, 4)};
  plans[1].recv_bytes[0] += 4;
  std::vector<float> a(5 * 24), b(4 * 24), ra(9 * 12), rb(9 * 12);
  EXPECT_THROW(emulate_exchange(plans, {a.data(), b.data()}, {ra.data(), rb.data()}), std::logic_error);
  plans = {seq_to_heads(s, 0, 3, 24, 4), seq_to_heads(s, 1, 3, 24, 4)};
  plans[0].pre[0].depth += 1;  // reads past the source
  EXPECT_THROW(emulate_exchange(plans, {a.data(), b.data()}, {ra.data(), rb.data()}), std::logic_error);
}

TEST(ParallelExchange, AllGatherRows) {
  for (int P : {1, 2, 3, 4})
    for (long long N : {(long long)P, 11LL}) {
      const SeqShards s = SeqShards::make(N, P);
      std::vector<Gather> plans;
      std::vector<std::vector<int>> bufs(P, std::vector<int>((size_t)N * 2, -1));
      std::vector<void*> ptrs;
      for (int r = 0; r < P; ++r) {
        plans.push_back(all_gather_rows(s, r, 2 * sizeof(int)));
        for (long long t = s.start(r); t < s.start(r) + s.count(r); ++t) bufs[r][2 * t] = (int)t, bufs[r][2 * t + 1] = (int)(7 * t);
        ptrs.push_back(bufs[r].data());
      }
      emulate_all_gather(plans, ptrs);
      for (int r = 0; r < P; ++r)
        for (long long t = 0; t < N; ++t) {
          ASSERT_EQ(bufs[r][2 * t], t);
          ASSERT_EQ(bufs[r][2 * t + 1], 7 * t);
        }
    }
}

// The communication volume in docs/distributed.md: 1.3B (d = 1536, 30 layers, bf16), 187,200 tokens.
TEST(ParallelTraffic, FormulaAndDocNumbers) {
  const long long N = 187200;
  const int d = 1536, layers = 30;
  for (int P : {2, 8, 64}) {
    const Traffic t = traffic_per_rank(N, d, P, 2, true, 64);
    // per layer and GPU: (3 + 1) N d (P - 1) / P^2 elements (q, k, v in; o out), 8 (P - 1) N / P bytes of routing
    const double a2a = 4.0 * N * d * (P - 1) / ((double)P * P) * 2;
    EXPECT_DOUBLE_EQ(t.a2a_per_layer, a2a) << "P " << P;
    EXPECT_DOUBLE_EQ(t.routing_per_layer, 8.0 * (P - 1) * N / P);
    EXPECT_DOUBLE_EQ(t.head, 64.0 * 2 * (P - 1) * N / P);
    std::printf("P = %2d: all-to-all %.1f MB/layer/GPU, routing %.2f MB/layer/GPU, head %.2f MB, per forward %.3f GB/GPU, "
                "all GPUs %.2f GB\n",
                P, t.a2a_per_layer / 1e6, t.routing_per_layer / 1e6, t.head / 1e6, t.per_forward(layers) / 1e9,
                t.per_forward(layers) * P / 1e9);
  }
  // 75,600 tokens (the 2-GPU benchmark of docs/distributed.md) on 2 GPUs
  const Traffic t2 = traffic_per_rank(75600, d, 2, 2, true, 64);
  std::printf("75,600 tokens, P = 2: all-to-all %.1f MB/layer/GPU, per forward %.3f GB/GPU\n", t2.a2a_per_layer / 1e6,
              t2.per_forward(layers) / 1e9);
}

// ---- the equivalence: sharded attention == single-process attention (float64) ------------------------

struct Case {
  std::string pattern;
  int P;
  ref::VideoShape grid;
};

void sharded_equals_single(const Case& cs) {
  const ref::PatternSpec spec = model::embedded_pattern(cs.pattern);
  const int H = 4, D = 8, dm = 16, P = cs.P;
  const long long N = (long long)cs.grid.F * cs.grid.H * cs.grid.W;
  ASSERT_NE(N % P, 0) << "the case must have N not a multiple of P";
  int M = 0;
  for (const auto& k : spec.kernels)
    if (k.route) M = k.route->groups;
  const std::vector<float> q = random_floats((size_t)N * H * D, 1), k = random_floats((size_t)N * H * D, 2),
                           v = random_floats((size_t)N * H * D, 3), x = random_floats((size_t)N * dm, 4),
                           w = random_floats((size_t)dm * std::max(M, 1), 5);

  // Single process: all tokens, all heads; the router computed from x.
  ref::RefInputs in;
  in.B = 1;
  in.heads = H;
  in.head_dim = D;
  in.N = spec.layout == ref::Layout::Seq ? (int)N : 0;
  in.video = cs.grid;
  in.q = q.data(), in.k = k.data(), in.v = v.data();
  in.x = x.data();
  in.d_model = dm;
  in.router_weight.assign(spec.kernels.size(), nullptr);
  for (size_t i = 0; i < spec.kernels.size(); ++i)
    if (spec.kernels[i].route) in.router_weight[i] = w.data();
  in.threads = 2;
  ref::RefOutput single;
  ref::reference_attention<double>(spec, in, single);

  // P emulated ranks. Rank r holds rows [n_r] of q|k|v (all heads) and of the router input x.
  const UlyssesShape s = UlyssesShape::make(N, H, D, P);
  const int Hp = s.Hp(), C = 3;
  std::vector<std::vector<float>> rows(P), heads(P);
  std::vector<Exchange> to_heads;
  std::vector<const void*> src(P);
  std::vector<void*> dst(P);
  for (int r = 0; r < P; ++r) {
    const long long n = s.shards.count(r), st = s.shards.start(r);
    rows[r].resize((size_t)n * C * H * D);
    for (long long t = 0; t < n; ++t)
      for (int c = 0; c < C; ++c)
        std::memcpy(&rows[r][((size_t)t * C + c) * H * D], &(c == 0 ? q : c == 1 ? k : v)[(size_t)(st + t) * H * D],
                    sizeof(float) * H * D);
    to_heads.push_back(seq_to_heads(s, r, C, (long long)C * H * D, sizeof(float)));
    heads[r].resize(to_heads[r].recv_buffer_bytes / sizeof(float));
    src[r] = rows[r].data();
    dst[r] = heads[r].data();
  }

  // Routing before the exchange: each rank routes its own tokens with all of d_model (one routing per
  // token, shared by all heads), then gid and prob are all-gathered.
  std::vector<ref::Grouping> gathered(spec.kernels.size());
  std::vector<const ref::Grouping*> routing(spec.kernels.size(), nullptr);
  for (size_t ki = 0; ki < spec.kernels.size(); ++ki) {
    if (!spec.kernels[ki].route) continue;
    std::vector<std::vector<int>> gid(P, std::vector<int>(N, -1));
    std::vector<std::vector<double>> prob(P, std::vector<double>(N, -1.0));
    std::vector<Gather> gi, gp;
    std::vector<void*> pg, pp;
    for (int r = 0; r < P; ++r) {
      const long long n = s.shards.count(r), st = s.shards.start(r);
      const ref::Grouping mine = ref::route_tokens(x.data() + st * dm, w.data(), 1, (int)n, dm, M, 1);
      for (long long t = 0; t < n; ++t) gid[r][st + t] = mine.gid[t], prob[r][st + t] = mine.prob[t];
      gi.push_back(all_gather_rows(s.shards, r, sizeof(int)));
      gp.push_back(all_gather_rows(s.shards, r, sizeof(double)));
      pg.push_back(gid[r].data());
      pp.push_back(prob[r].data());
    }
    emulate_all_gather(gi, pg);
    emulate_all_gather(gp, pp);
    for (int r = 1; r < P; ++r) {
      ASSERT_EQ(gid[r], gid[0]);
      ASSERT_EQ(prob[r], prob[0]);
    }
    // the gathered routing is the single-process routing, exactly
    ASSERT_EQ(gid[0], single.groups[ki].gid) << cs.pattern;
    ASSERT_EQ(prob[0], single.groups[ki].prob) << cs.pattern;
    ref::Grouping& g = gathered[ki];
    g.B = 1, g.N = (int)N, g.k = 1, g.M = M;
    g.gid = gid[0];
    g.prob = prob[0];
    routing[ki] = &g;
  }

  // seq -> heads, attention per rank on all N tokens for its H/P heads, heads -> seq.
  emulate_exchange(to_heads, src, dst);
  std::vector<std::vector<double>> outs(P), back(P);
  std::vector<Exchange> to_seq;
  std::vector<const void*> osrc(P);
  std::vector<void*> odst(P);
  for (int r = 0; r < P; ++r) {
    std::vector<float> lq((size_t)N * Hp * D), lk(lq.size()), lv(lq.size());
    for (long long t = 0; t < N; ++t) {
      std::memcpy(&lq[(size_t)t * Hp * D], &heads[r][((size_t)t * C + 0) * Hp * D], sizeof(float) * Hp * D);
      std::memcpy(&lk[(size_t)t * Hp * D], &heads[r][((size_t)t * C + 1) * Hp * D], sizeof(float) * Hp * D);
      std::memcpy(&lv[(size_t)t * Hp * D], &heads[r][((size_t)t * C + 2) * Hp * D], sizeof(float) * Hp * D);
    }
    ref::RefInputs ri;
    ri.B = 1;
    ri.heads = Hp;
    ri.head_dim = D;
    ri.N = in.N;
    ri.video = cs.grid;
    ri.q = lq.data(), ri.k = lk.data(), ri.v = lv.data();
    ri.routing = routing;  // no router inputs on this side: the gathered routing only
    ri.threads = 2;
    ref::RefOutput ro;
    ref::reference_attention<double>(spec, ri, ro);
    outs[r] = std::move(ro.out);
    to_seq.push_back(heads_to_seq(s, r, 1, (long long)H * D, sizeof(double)));
    back[r].assign(to_seq[r].dst_bytes / sizeof(double), 0.0);
    osrc[r] = outs[r].data();
    odst[r] = back[r].data();
  }
  emulate_exchange(to_seq, osrc, odst);

  long long diff = 0, total = 0;
  for (int r = 0; r < P; ++r)
    for (long long t = 0; t < s.shards.count(r); ++t)
      for (int j = 0; j < H * D; ++j, ++total)
        diff += back[r][(size_t)t * H * D + j] != single.out[(size_t)(s.shards.start(r) + t) * H * D + j];
  EXPECT_EQ(diff, 0) << cs.pattern << " P " << P << " N " << N << ": " << diff << " of " << total
                     << " values differ from the single-process attention";
  EXPECT_EQ(total, N * H * D);
}

TEST(ParallelEquivalence, FullAndMogaShardedEqualsSingleExactly) {
  // N = 3 x 5 x 7 = 105 and 4 x 3 x 5 = 60 + ... : none a multiple of P.
  const ref::VideoShape g105{3, 5, 7, {}};
  ref::VideoShape shots{5, 3, 5, {0, 2}};  // 75 tokens, 2 shots (STGA's shot table)
  for (int P : {2, 4}) {
    sharded_equals_single({"full", P, g105});
    sharded_equals_single({"moga", P, g105});
    sharded_equals_single({"moga", P, shots});
  }
}

TEST(ParallelEquivalence, HeadDependentPatternRefused) {
  ref::PatternSpec spec = model::embedded_pattern("full");
  EXPECT_NO_THROW(check_pattern_head_free(spec));
  EXPECT_NO_THROW(check_pattern_head_free(model::embedded_pattern("moga")));
  ref::Program bias;
  bias.slot = ref::Slot::Bias;
  bias.args = {"q", "kv", "h"};
  bias.arg_types = {ref::Type::Token, ref::Type::Token, ref::Type::I64};
  spec.kernels[0].bias = bias;
  try {
    check_pattern_head_free(spec);
    FAIL() << "a bias of h accepted";
  } catch (const ShardingError& e) {
    EXPECT_NE(std::string(e.what()).find("bias reads the head index"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace moga::parallel
