#include "runtime/parallel/usp_cpu.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "kernels_src/cuda/lse_merge.cuh"
#include "runtime/reference/manifest.h"

namespace moga::parallel {

namespace {

constexpr float kPoison = std::numeric_limits<float>::quiet_NaN();

// Rank r's part of the routing of routed kernel ki, all-gathered: [N] gid and prob on every rank.
ref::Grouping gathered_routing(const UspLayout& l, const UspCpuInputs& in, int ki) {
  const ref::KernelSpec& k = in.spec->kernels[ki];
  const int M = k.route->groups, N = (int)l.N;
  if (!in.x || in.d_model < 1 || ki >= (int)in.router_weight.size() || !in.router_weight[ki])
    throw ShardingError(fmt::format("usp emulation: routed kernel '{}' needs x and its router weight", k.name));
  std::vector<std::vector<int>> gid(l.P, std::vector<int>(N, -1));
  std::vector<std::vector<double>> prob(l.P, std::vector<double>(N, -1.0));
  std::vector<Gather> gi, gp;
  std::vector<void*> pg, pp;
  for (int r = 0; r < l.P; ++r) {
    const long long n = l.shards.count(r), st = l.shards.start(r);
    const ref::Grouping mine = ref::route_tokens(in.x + st * in.d_model, in.router_weight[ki], 1, (int)n, in.d_model, M, 1);
    for (long long t = 0; t < n; ++t) gid[r][st + t] = mine.gid[t], prob[r][st + t] = mine.prob[t];
    gi.push_back(all_gather_rows(l.shards, r, sizeof(int)));
    gp.push_back(all_gather_rows(l.shards, r, sizeof(double)));
    pg.push_back(gid[r].data());
    pp.push_back(prob[r].data());
  }
  emulate_all_gather(gi, pg);
  emulate_all_gather(gp, pp);
  for (int r = 1; r < l.P; ++r)
    if (gid[r] != gid[0] || prob[r] != prob[0]) throw std::logic_error("usp emulation: the gathered routings differ");
  ref::Grouping g;
  g.B = 1, g.N = N, g.k = 1, g.M = M;
  g.gid = std::move(gid[0]);
  g.prob = std::move(prob[0]);
  return g;
}

}  // namespace

UspCpuResult emulate_usp_attention(const UspLayout& l, const UspCpuInputs& in) {
  if (!in.spec || !in.q || !in.k || !in.v) throw std::invalid_argument("usp emulation: spec, q, k and v are required");
  const ref::PatternSpec& spec = *in.spec;
  const int H = in.H, D = in.D, Hl = l.Hl(), C = 3, R = l.R;
  if (H != l.H || D != l.D) throw std::invalid_argument("usp emulation: inputs and layout disagree on H or D");
  ref::RefInputs shape_in;
  shape_in.N = spec.layout == ref::Layout::Seq ? in.N : 0;
  shape_in.video = in.video;
  const ref::Shape shape = ref::make_shape(spec, shape_in);
  const long long N = shape.N();
  if (N != l.N) throw std::invalid_argument(fmt::format("usp emulation: {} tokens, the layout has {}", N, l.N));
  const size_t HD = (size_t)H * D, HlD = (size_t)Hl * D;

  UspCpuResult res;
  res.routing.resize(spec.kernels.size());
  std::vector<const ref::Grouping*> routing(spec.kernels.size(), nullptr);
  for (int ki = 0; ki < (int)spec.kernels.size(); ++ki) {
    const ref::KernelSpec& k = spec.kernels[ki];
    if (!k.route) continue;
    if (k.route->topk != 1)
      throw ShardingError(fmt::format("kernel '{}' routes top {}: ring attention merges one log-sum-exp per row and "
                                      "kernel (top 1 only)",
                                      k.name, k.route->topk));
    res.routing[ki] = gathered_routing(l, in, ki);
    routing[ki] = &res.routing[ki];
  }

  // Rank r's q|k|v rows [n_r][3][H][D] (the GPU's q|k|v GEMM output), then its group's all-to-all.
  std::vector<std::vector<float>> heads(l.P);  // [Ng][3][Hl][D]
  for (int g = 0; g < R; ++g) {
    const UlyssesShape gs = l.group_shape(g);
    std::vector<std::vector<float>> rows(l.U);
    std::vector<Exchange> plans;
    std::vector<const void*> src(l.U);
    std::vector<void*> dst(l.U);
    for (int u = 0; u < l.U; ++u) {
      const int r = l.rank_of(g, u);
      const long long n = l.shards.count(r), st = l.shards.start(r);
      rows[u].resize((size_t)n * C * HD);
      for (long long t = 0; t < n; ++t)
        for (int c = 0; c < C; ++c)
          std::memcpy(&rows[u][((size_t)t * C + c) * HD], (c == 0 ? in.q : c == 1 ? in.k : in.v) + (size_t)(st + t) * HD,
                      sizeof(float) * HD);
      plans.push_back(seq_to_heads(gs, u, C, (long long)C * HD, sizeof(float)));
      heads[r].assign(plans[u].recv_buffer_bytes / sizeof(float), kPoison);
      src[u] = rows[u].data();
      dst[u] = heads[r].data();
    }
    emulate_exchange(plans, src, dst);
  }

  // Every rank computes the same plan from the same gathered routing (the gather sends every key).
  res.mode = in.mode ? *in.mode : cross_group(spec);
  const bool gather = res.mode == CrossGroup::Gather && R > 1;
  res.needs = gather ? kv_needs_all(l) : kv_needs(l, spec, shape, routing, in.tile);

  std::vector<std::vector<double>> outl(l.P);  // [Ng][Hl][D] per rank
  const size_t NHl = (size_t)N * HlD;
  for (int r = 0; r < l.P; ++r) {
    const int g = l.group_of(r);
    const long long g0 = l.group_start(g), ng = l.group_count(g);
    const std::vector<RingStep> steps = ring_schedule(l, res.needs, r);
    // The queries: the group's rows, everything else poison.
    std::vector<float> qb(NHl, kPoison), kb(NHl), vb(NHl);
    for (long long t = 0; t < ng; ++t)
      std::memcpy(&qb[(size_t)(g0 + t) * HlD], &heads[r][((size_t)t * C + 0) * HlD], sizeof(float) * HlD);
    const size_t K = spec.kernels.size();
    // Token t's k and v, from rank sr's heads (its group starts at s0), into this rank's key buffers.
    auto deliver = [&](int sr, long long s0, long long t) {
      const float* src = &heads[sr][(size_t)(t - s0) * C * HlD];
      std::memcpy(&kb[(size_t)t * HlD], src + HlD, sizeof(float) * HlD);
      std::memcpy(&vb[(size_t)t * HlD], src + 2 * HlD, sizeof(float) * HlD);
    };
    // The reference's inputs for this rank: its group's query rows against kb / vb.
    auto rank_inputs = [&] {
      ref::RefInputs ri = shape_in;
      ri.B = 1;
      ri.heads = Hl;
      ri.head_dim = D;
      ri.q = qb.data(), ri.k = kb.data(), ri.v = vb.data();
      ri.routing = routing;
      ri.q_rows = {(int)g0, (int)(g0 + ng)};
      ri.threads = in.threads;
      return ri;
    };
    if (gather) {
      // Every group's k, v from its member with this rank's heads (the own group's from this rank), then the
      // whole pattern for the group's query rows over all N keys.
      std::fill(kb.begin(), kb.end(), kPoison);
      std::fill(vb.begin(), vb.end(), kPoison);
      for (int sg = 0; sg < R; ++sg) {
        const int sr = l.rank_of(sg, l.member_of(r));
        const long long s0 = l.group_start(sg);
        for (long long t = s0; t < s0 + l.group_count(sg); ++t) {
          if (sg != g && t == in.withhold_key) continue;
          deliver(sr, s0, t);
        }
        if (sg != g) res.keys_delivered += l.group_count(sg);
      }
      ref::RefOutput all;
      ref::reference_attention<double>(spec, rank_inputs(), all);
      outl[r].assign(all.out.begin() + (size_t)g0 * HlD, all.out.begin() + (size_t)(g0 + ng) * HlD);
      continue;
    }
    std::vector<std::vector<double>> acc(K, std::vector<double>((size_t)ng * HlD, 0.0));
    std::vector<std::vector<double>> acc_lse(K, std::vector<double>((size_t)Hl * ng, -std::numeric_limits<double>::infinity()));
    for (const RingStep& st : steps) {
      // The keys this step holds: the own group's (step 0), else what the sender's schedule sends.
      std::fill(kb.begin(), kb.end(), kPoison);
      std::fill(vb.begin(), vb.end(), kPoison);
      const int sg = st.source_group, sr = st.recv_from;
      const long long s0 = l.group_start(sg);
      TokenRuns runs;
      if (st.step == 0) {
        runs.add(g0, g0 + ng);
      } else {
        const RingStep sent = ring_schedule(l, res.needs, sr)[st.step];
        if (sent.send_to != r || sent.send.runs != st.recv.runs)
          throw std::logic_error(fmt::format("usp emulation: step {}: rank {} sends to rank {}, rank {} expects other keys",
                                             st.step, sr, sent.send_to, r));
        runs = sent.send;
        res.keys_delivered += runs.tokens();
      }
      for (const auto& [b, e] : runs.runs)
        for (long long t = b; t < e; ++t) {
          if (t == in.withhold_key && st.step > 0) continue;
          deliver(sr, s0, t);
        }
      // This step's partial attention, per kernel, with its log-sum-exp.
      ref::RefInputs ri = rank_inputs();
      ri.per_kernel = true;
      ri.lse = true;
      ri.kv_rows = {(int)s0, (int)(s0 + l.group_count(sg))};
      ref::RefOutput part;
      ref::reference_attention<double>(spec, ri, part);
      for (size_t ki = 0; ki < K; ++ki)
        for (long long t = 0; t < ng; ++t)
          for (int h = 0; h < Hl; ++h)
            lse_merge::merge_row(acc_lse[ki][(size_t)h * ng + t], &acc[ki][((size_t)t * Hl + h) * D],
                                 part.lse[ki][(size_t)h * N + g0 + t], &part.terms[ki][((size_t)(g0 + t) * Hl + h) * D], D);
    }
    // The kernels' sum, in kernel order as the reference sums them.
    outl[r].assign((size_t)ng * HlD, 0.0);
    for (size_t ki = 0; ki < K; ++ki)
      for (size_t i = 0; i < outl[r].size(); ++i) outl[r][i] += acc[ki][i];
  }

  // Back to token shards inside each group, then assembled.
  res.out.assign((size_t)N * HD, std::numeric_limits<double>::quiet_NaN());
  for (int g = 0; g < R; ++g) {
    const UlyssesShape gs = l.group_shape(g);
    std::vector<Exchange> plans;
    std::vector<std::vector<double>> back(l.U);
    std::vector<const void*> src(l.U);
    std::vector<void*> dst(l.U);
    for (int u = 0; u < l.U; ++u) {
      const int r = l.rank_of(g, u);
      plans.push_back(heads_to_seq(gs, u, 1, (long long)HD, sizeof(double)));
      back[u].assign(plans[u].dst_bytes / sizeof(double), std::numeric_limits<double>::quiet_NaN());
      src[u] = outl[r].data();
      dst[u] = back[u].data();
    }
    emulate_exchange(plans, src, dst);
    for (int u = 0; u < l.U; ++u) {
      const int r = l.rank_of(g, u);
      std::memcpy(&res.out[(size_t)l.shards.start(r) * HD], back[u].data(), sizeof(double) * back[u].size());
    }
  }
  return res;
}

}  // namespace moga::parallel
