#include "runtime/parallel/usp_plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <memory>
#include <numeric>
#include <unordered_set>

#include "runtime/reference/attention.h"
#include "runtime/reference/block_map.h"
#include "runtime/reference/manifest.h"

namespace moga::parallel {

int ulysses_size(int heads, int P) {
  if (heads < 1 || P < 1) throw ShardingError(fmt::format("sequence parallelism: {} heads over {} GPUs", heads, P));
  return std::gcd(heads, P);
}

bool ring_supported(const ref::PatternSpec& spec, std::string* why) {
  auto no = [&](const std::string& w) {
    if (why) *why = w;
    return false;
  };
  if (spec.kernels.size() != 1)
    return no(fmt::format("pattern '{}' has {} branches (the merge needs each branch's output apart)", spec.pattern,
                          spec.kernels.size()));
  // Masks and biases see the global positions through the token offsets (RunOptions::q_offset); a group key
  // or a router sorts queries and keys in one token order, which a step's slices do not share.
  const ref::KernelSpec& k = spec.kernels[0];
  const char* what = k.route ? "a router" : k.key ? "a group key" : k.gate ? "a gate program" : nullptr;
  if (what)
    return no(fmt::format("kernel '{}' of pattern '{}' has {} (one token order for queries and keys; the ring's "
                          "steps hold slices of the sequence)",
                          k.name, spec.pattern, what));
  return true;
}

bool gather_supported(const ref::PatternSpec& spec, std::string* why) {
  for (const ref::KernelSpec& k : spec.kernels) {
    // the query range leaves query tiles out of a kernel's block map; a dense kernel has none
    const char* what = !k.route && !k.key && !k.mask ? "is dense (no block map to restrict to the group's queries)"
                       : k.route && k.route->topk != 1 ? "routes top k > 1 (the gathered routing holds one group a token)"
                                                       : nullptr;
    if (what) {
      if (why) *why = fmt::format("kernel '{}' of pattern '{}' {}", k.name, spec.pattern, what);
      return false;
    }
  }
  return true;
}

CrossGroup cross_group(const ref::PatternSpec& spec) {
  std::string ring, gather;
  if (ring_supported(spec, &ring)) return CrossGroup::Ring;
  if (gather_supported(spec, &gather)) return CrossGroup::Gather;
  throw ShardingError(fmt::format("no attention across ring groups runs pattern '{}': not the ring steps ({}), not the "
                                  "gather ({})",
                                  spec.pattern, ring, gather));
}

const char* cross_group_name(CrossGroup c) { return c == CrossGroup::Ring ? "ring" : "gather"; }

UspLayout UspLayout::make(long long N, int H, int D, int P) {
  if (D < 1) throw ShardingError(fmt::format("head dim {} must be >= 1", D));
  UspLayout l;
  l.U = ulysses_size(H, P);
  l.shards = SeqShards::make(N, P);
  l.N = N, l.H = H, l.D = D, l.P = P, l.R = P / l.U;
  return l;
}

long long UspLayout::group_count(int g) const {
  long long n = 0;
  for (int u = 0; u < U; ++u) n += shards.count(rank_of(g, u));
  return n;
}

UlyssesShape UspLayout::group_shape(int g) const { return UlyssesShape::make(group_count(g), H, D, U); }

long long TokenRuns::tokens() const {
  long long n = 0;
  for (const auto& [b, e] : runs) n += e - b;
  return n;
}

bool TokenRuns::contains(long long t) const {
  // the last run starting at or before t
  auto it = std::upper_bound(runs.begin(), runs.end(), t, [](long long v, const auto& r) { return v < r.first; });
  return it != runs.begin() && t < std::prev(it)->second;
}

void TokenRuns::add(long long begin, long long end) {
  if (end <= begin) return;
  if (!runs.empty() && runs.back().second >= begin) runs.back().second = std::max(runs.back().second, end);
  else runs.emplace_back(begin, end);
}

long long KvNeeds::sent_tokens() const {
  long long n = 0;
  for (int d = 0; d < R; ++d)
    for (int s = 0; s < R; ++s)
      if (d != s) n += at(d, s).tokens();
  return n;
}

long long KvNeeds::all_tokens(const UspLayout& l) const {
  long long n = 0;
  for (int g = 0; g < l.R; ++g) n += l.group_count(g) * (l.R - 1);
  return n;
}

KvNeeds kv_needs_all(const UspLayout& l) {
  KvNeeds k;
  k.R = l.R;
  k.runs.resize((size_t)l.R * l.R);
  for (int d = 0; d < l.R; ++d)
    for (int s = 0; s < l.R; ++s) k.at(d, s).add(l.group_start(s), l.group_start(s) + l.group_count(s));
  return k;
}

KvNeeds kv_needs(const UspLayout& l, const ref::PatternSpec& spec, const ref::Shape& shape,
                 const std::vector<const ref::Grouping*>& groupings, int tile) {
  const int R = l.R;
  const long long N = l.N;
  if (shape.N() != N) throw ShardingError(fmt::format("kv_needs: the shape has {} tokens, the layout {}", shape.N(), N));
  if (tile < 1) throw ShardingError(fmt::format("kv_needs: tile {} must be >= 1", tile));
  const int nt = (int)((N + tile - 1) / tile);
  std::vector<char> need((size_t)R * N, 0);  // [dst][token]: some kernel may show this key to a query of dst
  for (int ki = 0; ki < (int)spec.kernels.size(); ++ki) {
    const ref::KernelSpec& k = spec.kernels[ki];
    // The group filter: the ids of each destination's queries.
    ref::Grouping computed;
    const ref::Grouping* g = nullptr;
    if (k.route) {
      g = ki < (int)groupings.size() ? groupings[ki] : nullptr;
      if (!g || g->B != 1 || g->N != N)
        throw ShardingError(fmt::format("kv_needs: routed kernel '{}' needs the gathered routing of all {} tokens", k.name, N));
    } else if (k.key) {
      computed = ref::key_groups(*k.key, shape, 1);
      g = &computed;
    }
    std::vector<std::unordered_set<int>> ids(R);
    if (g)
      for (int d = 0; d < R; ++d)
        for (long long t = l.group_start(d); t < l.group_start(d) + l.group_count(d); ++t)
          for (int j = 0; j < g->k; ++j) ids[d].insert(g->group(0, (int)t, j));
    // The mask filter, per tile of `tile` tokens in token order (the block map's interval test):
    // key tile j may be seen by dst when some query tile overlapping dst's tokens is not empty with it.
    std::vector<char> tile_ok((size_t)R * nt, 1);
    if (k.mask) {
      const ref::TokenOrder order = ref::token_order(ref::single_group(1, (int)N), false);
      const std::vector<ref::TileSummary> qs = ref::tile_summaries(order, shape, tile);
      const std::vector<ref::TileSummary> ks = ref::tile_summaries(order, shape, tile, /*key_side=*/true);
      ref::TileEvaluator tev(*k.mask);
      for (int d = 0; d < R; ++d) {
        const int q0 = (int)(l.group_start(d) / tile), q1 = (int)((l.group_start(d) + l.group_count(d) - 1) / tile);
        for (int j = 0; j < nt; ++j) {
          bool any = false;
          for (int i = q0; i <= q1 && !any; ++i)
            any = ref::classify_tile_pair(&tev, qs[i], ks[j], shape.mask(), false) != ref::TileClass::Empty;
          tile_ok[(size_t)d * nt + j] = any;
        }
      }
    }
    for (int d = 0; d < R; ++d)
      for (long long t = 0; t < N; ++t) {
        if (!tile_ok[(size_t)d * nt + t / tile]) continue;
        bool in_group = !g;
        for (int j = 0; g && j < g->k && !in_group; ++j) in_group = ids[d].count(g->group(0, (int)t, j)) > 0;
        if (in_group) need[(size_t)d * N + t] = 1;
      }
  }
  KvNeeds out;
  out.R = R;
  out.runs.resize((size_t)R * R);
  for (int d = 0; d < R; ++d)
    for (int s = 0; s < R; ++s)
      for (long long t = l.group_start(s); t < l.group_start(s) + l.group_count(s); ++t)
        if (need[(size_t)d * N + t]) out.at(d, s).add(t, t + 1);
  return out;
}

std::vector<RingStep> ring_schedule(const UspLayout& l, const KvNeeds& needs, int rank) {
  if (needs.R != l.R) throw ShardingError(fmt::format("ring_schedule: needs for {} groups, layout {}", needs.R, l.R));
  if (rank < 0 || rank >= l.P) throw ShardingError(fmt::format("ring_schedule: rank {} of {}", rank, l.P));
  const int g = l.group_of(rank);
  std::vector<RingStep> steps(l.R);
  for (int s = 0; s < l.R; ++s) {
    RingStep& st = steps[s];
    st.step = s;
    st.send_to = l.send_to(rank, s);
    st.recv_from = l.recv_from(rank, s);
    st.source_group = l.source_group(rank, s);
    if (s == 0) continue;
    st.send = needs.at(l.group_of(st.send_to), g);
    st.recv = needs.at(g, st.source_group);
  }
  return steps;
}

Traffic usp_traffic_per_rank(const UspLayout& l, size_t elem, bool routed, int out_dim, int rank, const KvNeeds* needs) {
  Traffic t;
  if (l.P <= 1) return t;
  const int g = l.group_of(rank), u = l.member_of(rank);
  if (l.U > 1) {
    const UlyssesShape s = l.group_shape(g);
    t.a2a_per_layer = (double)seq_to_heads(s, u, 3, 3LL * l.H * l.D, elem).bytes_sent() +
                      (double)heads_to_seq(s, u, 1, (long long)l.H * l.D, elem).bytes_sent();
  }
  const KvNeeds all = needs ? KvNeeds{} : kv_needs_all(l);
  long long keys = 0;
  for (const RingStep& st : ring_schedule(l, needs ? *needs : all, rank)) keys += st.send.tokens();
  t.ring_per_layer = (double)keys * 2 * l.Hl() * l.D * elem;
  if (routed) t.routing_per_layer = (double)all_gather_rows(l.shards, rank, 8).send_bytes * (l.P - 1);
  t.head = (double)all_gather_rows(l.shards, rank, (size_t)out_dim * elem).send_bytes * (l.P - 1);
  return t;
}

}  // namespace moga::parallel
