// The CPU block map (block_map.h).
#include "runtime/reference/block_map.h"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <numeric>
#include <stdexcept>

#include "kernels_src/cuda/prep.cuh"  // aligned_sorted_length: the GPU layout aligned_order mirrors
#include "runtime/reference/parallel.h"

namespace moga::ref {

namespace {
constexpr int kIntMax = 2147483647;
constexpr int kIntMin = -2147483647 - 1;
[[noreturn]] void bad(const std::string& what) { throw std::invalid_argument("block map: " + what); }
}  // namespace

TokenOrder token_order(const Grouping& g, bool grouped) {
  if (g.B < 1 || g.N < 1 || g.k < 1) bad("empty grouping");
  if ((long long)g.N * g.k > kIntMax) bad("N * k does not fit in 32 bits");
  if (g.gid.size() != (size_t)g.B * g.N * g.k) bad("grouping has the wrong number of entries");
  TokenOrder o;
  o.B = g.B, o.N = g.N, o.k = g.k, o.Ne = g.N * g.k, o.grouped = grouped;
  const size_t total = (size_t)o.B * o.Ne;
  o.perm.resize(total);
  o.gid.assign(total, 0);
  if (!grouped) {
    if (g.k != 1) bad("an ungrouped order has one entry per token (k = 1)");
    for (int b = 0; b < o.B; ++b)
      for (int s = 0; s < o.Ne; ++s) o.perm[(size_t)b * o.Ne + s] = s;
    return o;
  }
  const bool gates = g.routed() && g.prob.size() == total;
  if (gates) o.gate.resize(total);
  std::vector<int> idx(o.Ne);
  for (int b = 0; b < o.B; ++b) {
    const int* key = g.gid.data() + (size_t)b * o.Ne;
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](int a, int c) { return key[a] < key[c]; });
    for (int s = 0; s < o.Ne; ++s) {
      const size_t at = (size_t)b * o.Ne + s;
      o.perm[at] = idx[s] / o.k;
      o.gid[at] = key[idx[s]];
      if (gates) o.gate[at] = g.prob[(size_t)b * o.Ne + idx[s]];
    }
  }
  return o;
}

TokenOrder aligned_order(const TokenOrder& o, int G, int align, bool by_size, bool packed) {
  if (!o.grouped) bad("aligned_order needs a grouped order");
  if (align <= 1) return o;
  TokenOrder a = o;
  a.Ne = moga::aligned_sorted_length(o.Ne, G, align);
  const size_t total = (size_t)o.B * a.Ne;
  a.perm.assign(total, -1);
  a.gid.assign(total, -1);
  if (!o.gate.empty()) a.gate.assign(total, 0.0);
  auto padded = [&](int n) { return (n + align - 1) / align * align; };
  for (int b = 0; b < o.B; ++b) {
    std::vector<int> size(G, 0), next(G, 0);
    for (int s = 0; s < o.Ne; ++s) {
      const int g = o.gid[(size_t)b * o.Ne + s];
      if (g < 0 || g >= G) bad("aligned_order: group id " + std::to_string(g) + " outside [0, " + std::to_string(G) + ")");
      ++size[g];
    }
    // span starts: by group id, or smallest first with ties to the higher id (by_size). Written out here,
    // not through prep.cuh's span_start_by_size: this layout is the oracle the GPU's is tested against.
    // packed: in id order, a group starts where the previous one ended unless it would then cross a
    // multiple of align (SortParams::packed); written out here too, for the same reason.
    for (int g = 0, cur = 0; packed && g < G; ++g) {
      const int r = cur % align;
      if (size[g] > 0 && r != 0 && r + size[g] > align) cur += align - r;
      next[g] = cur;
      cur += size[g];
    }
    for (int g = 0, run = 0; !packed && g < G; ++g) {
      if (!by_size) {
        next[g] = run;
        run += padded(size[g]);
        continue;
      }
      for (int q = 0; q < G; ++q)
        if (size[q] < size[g] || (size[q] == size[g] && q > g)) next[g] += padded(size[q]);
    }
    for (int s = 0; s < o.Ne; ++s) {
      const size_t from = (size_t)b * o.Ne + s;
      const int g = o.gid[from];
      const size_t to = (size_t)b * a.Ne + next[g]++;
      a.perm[to] = o.perm[from];
      a.gid[to] = g;
      if (!o.gate.empty()) a.gate[to] = o.gate[from];
    }
  }
  return a;
}

std::vector<TileSummary> tile_summaries(const TokenOrder& o, const Shape& shape, int tile, bool key_side) {
  if (tile < 1) bad("tile size must be >= 1");
  if (o.N != shape.N()) bad("token order for N = " + std::to_string(o.N) + ", shape N = " + std::to_string(shape.N()));
  const int nt = (o.Ne + tile - 1) / tile;
  std::vector<TileSummary> out((size_t)o.B * nt);
  for (int b = 0; b < o.B; ++b)
    for (int i = 0; i < nt; ++i) {
      int lo[8], hi[8];
      for (int f = 0; f < 8; ++f) lo[f] = kIntMax, hi[f] = kIntMin;
      bool pad = false;
      for (int s = i * tile; s < o.Ne && s < (i + 1) * tile; ++s) {
        const size_t e = (size_t)b * o.Ne + s;
        if (o.perm[e] < 0) {  // padding (aligned_order): a key tile with padding must not be full
          pad |= key_side;
          continue;
        }
        const Coords<int> c = shape.coords(o.perm[e]);
        const int v[8] = {c.pos, c.frame, c.row, c.col, c.shot, c.shot_start, c.shot_end, 2 * o.gid[e]};
        for (int f = 0; f < 8; ++f) lo[f] = imin(lo[f], v[f]), hi[f] = imax(hi[f], v[f]);
      }
      if (pad && lo[7] <= hi[7]) hi[7] += 1;  // the doubled gid interval (block_map.h)
      TileSummary& t = out[(size_t)b * nt + i];
      Ivl* fields[8] = {&t.c.pos, &t.c.frame, &t.c.row, &t.c.col, &t.c.shot, &t.c.shot_start, &t.c.shot_end, &t.gid};
      for (int f = 0; f < 8; ++f) *fields[f] = Ivl(lo[f], hi[f]);
    }
  return out;
}

const char* tile_class_name(TileClass c) {
  switch (c) {
    case TileClass::Empty: return "empty";
    case TileClass::Full: return "full";
    case TileClass::Partial: return "partial";
  }
  return "?";
}

TileClass classify_tile_pair(TileEvaluator* mask, const TileSummary& q, const TileSummary& kv, const MaskShape& s,
                             bool grouped) {
  Tri t(true);
  if (grouped) t = (q.gid == kv.gid);  // disjoint -> false; one and the same gid -> true
  if (mask && !t.is_false()) t = land(t, mask->mask(q.c, kv.c, s));
  return t.is_false() ? TileClass::Empty : (t.is_true() ? TileClass::Full : TileClass::Partial);
}

BlockMap build_block_map(const KernelSpec& k, const Shape& shape, const TokenOrder& order, const BlockMapOptions& opt) {
  if (order.grouped != k.grouped())
    bad("kernel '" + k.name + "' is " + (k.grouped() ? "grouped" : "not grouped") + " but the token order is " +
        (order.grouped ? "grouped" : "not"));
  BlockMap m;
  m.name = k.name;
  m.B = order.B, m.Ne = order.Ne, m.grouped = order.grouped;
  m.bm = opt.block_m > 0 ? opt.block_m : k.tiles.block_m;
  m.bn = opt.block_n > 0 ? opt.block_n : k.tiles.block_n;
  m.tq = (m.Ne + m.bm - 1) / m.bm;
  m.tk = (m.Ne + m.bn - 1) / m.bn;
  const std::vector<TileSummary> qs = tile_summaries(order, shape, m.bm);
  const std::vector<TileSummary> ks = tile_summaries(order, shape, m.bn, /*key_side=*/true);
  const MaskShape& ms = shape.mask();
  std::unique_ptr<TileEvaluator> tev;
  if (k.mask) tev = std::make_unique<TileEvaluator>(*k.mask);

  m.cls.resize((size_t)m.B * m.tq * m.tk);
  long double work = 0, partial_pairs = 0;
  auto rows = [&](int i) { return std::min(m.Ne, (i + 1) * m.bm) - i * m.bm; };
  auto cols = [&](int j) { return std::min(m.Ne, (j + 1) * m.bn) - j * m.bn; };
  for (int b = 0; b < m.B; ++b)
    for (int i = 0; i < m.tq; ++i)
      for (int j = 0; j < m.tk; ++j) {
        const TileClass c = classify_tile_pair(tev.get(), qs[(size_t)b * m.tq + i], ks[(size_t)b * m.tk + j], ms, m.grouped);
        m.cls[((size_t)b * m.tq + i) * m.tk + j] = c;
        if (c == TileClass::Empty) {
          ++m.empty;
        } else {
          (c == TileClass::Full ? m.full : m.partial)++;
          work += (long double)rows(i) * cols(j);
          if (c == TileClass::Partial) partial_pairs += (long double)rows(i) * cols(j);
        }
      }
  const long double real = (long double)order.N * order.k;  // entries without the padding of aligned orders
  const long double all = (long double)m.B * real * real;
  m.work = (double)(work / all);

  if (opt.density_budget < 0 || partial_pairs <= (long double)opt.density_budget) {
    // Full tiles count whole; partial tiles are evaluated per element (gid equal and mask).
    const int nthreads = detail::resolve_threads(opt.threads);
    std::vector<std::unique_ptr<ElementEvaluator>> evs(nthreads);
    if (k.mask)
      for (auto& e : evs) e = std::make_unique<ElementEvaluator>(*k.mask);
    std::vector<long long> visible((size_t)m.B * m.tq, 0);
    auto real = [](const int* perm, int s0, int n) {  // entries that are not padding (aligned_order)
      long long r = 0;
      for (int s = s0; s < s0 + n; ++s) r += perm[s] >= 0;
      return r;
    };
    detail::parallel_for((long long)m.B * m.tq, nthreads, 1, [&](long long bi, int w) {
      const int b = (int)(bi / m.tq), i = (int)(bi % m.tq);
      const int* perm = order.perm.data() + (size_t)b * m.Ne;
      const int* gid = order.gid.data() + (size_t)b * m.Ne;
      long long cnt = 0;
      for (int j = 0; j < m.tk; ++j) {
        const TileClass c = m.at(b, i, j);
        if (c == TileClass::Full) {
          cnt += real(perm, i * m.bm, rows(i)) * real(perm, j * m.bn, cols(j));
        } else if (c == TileClass::Partial) {
          for (int s = i * m.bm; s < i * m.bm + rows(i); ++s) {
            if (perm[s] < 0) continue;
            const Coords<int> qc = shape.coords(perm[s]);
            for (int r = j * m.bn; r < j * m.bn + cols(j); ++r)
              if (perm[r] >= 0 && gid[s] == gid[r] && (!evs[w] || evs[w]->mask(qc, shape.coords(perm[r]), ms))) ++cnt;
          }
        }
      }
      visible[bi] = cnt;
    });
    long double vis = 0;
    for (long long v : visible) vis += v;
    m.density = (double)(vis / all);
  }
  return m;
}

double mean_key_tiles(const KernelSpec& k, const Shape& shape, int bm, int bn, int sample) {
  if (k.grouped()) bad("mean_key_tiles: kernel '" + k.name + "' is grouped (its tiles follow its groups)");
  if (bm < 1 || bn < 1 || sample < 1) bad("mean_key_tiles: tiles and sample must be positive");
  const TokenOrder order = token_order(single_group(1, shape.N()), false);
  const std::vector<TileSummary> qs = tile_summaries(order, shape, bm);
  const std::vector<TileSummary> ks = tile_summaries(order, shape, bn, /*key_side=*/true);
  std::unique_ptr<TileEvaluator> tev;
  if (k.mask) tev = std::make_unique<TileEvaluator>(*k.mask);
  const int tq = (int)qs.size(), n = std::min(tq, sample);
  long long tiles = 0;
  for (int r = 0; r < n; ++r) {
    const TileSummary& q = qs[(size_t)((long long)r * tq / n)];  // evenly spread query tiles
    for (const TileSummary& kv : ks)
      tiles += classify_tile_pair(tev.get(), q, kv, shape.mask(), false) != TileClass::Empty;
  }
  return (double)tiles / n;
}

std::string BlockMap::summary() const {
  const double n = (double)std::max(1LL, pairs());
  char buf[512];
  std::string batch = B > 1 ? std::to_string(B) + " x " : "";
  int len = std::snprintf(buf, sizeof buf, "%s: %s%dx%d tiles (BM=%d, BN=%d): %.1f%% empty, %.1f%% full, %.1f%% partial; ",
                          name.c_str(), batch.c_str(), tq, tk, bm, bn, 100.0 * empty / n, 100.0 * full / n,
                          100.0 * partial / n);
  std::string s(buf, (size_t)std::max(0, std::min(len, (int)sizeof buf - 1)));
  if (density >= 0) std::snprintf(buf, sizeof buf, "density %.1f%%", 100.0 * density);
  else std::snprintf(buf, sizeof buf, "density <= %.1f%% (tile bound)", 100.0 * work);
  return s + buf;
}

BlockMapBcsr to_bcsr(const BlockMap& m) {
  BlockMapBcsr r;
  r.full_cnt.assign((size_t)m.B * m.tq, 0);
  r.part_cnt.assign((size_t)m.B * m.tq, 0);
  r.full_idx.assign((size_t)m.B * m.tq * m.tk, 0);
  r.part_idx.assign((size_t)m.B * m.tq * m.tk, 0);
  for (int b = 0; b < m.B; ++b)
    for (int i = 0; i < m.tq; ++i) {
      const size_t row = (size_t)b * m.tq + i;
      int nf = 0, np = 0;
      for (int j = 0; j < m.tk; ++j) {
        const TileClass c = m.at(b, i, j);
        if (c == TileClass::Full) r.full_idx[row * m.tk + nf++] = j;
        else if (c == TileClass::Partial) r.part_idx[row * m.tk + np++] = j;
      }
      r.full_cnt[row] = nf;
      r.part_cnt[row] = np;
    }
  return r;
}

Grouping balanced_grouping(int B, int N, int M, int topk) {
  if (B < 1 || N < 1 || M < 1 || topk < 1 || topk > M) bad("balanced grouping needs B, N >= 1 and 1 <= topk <= M");
  Grouping g;
  g.B = B, g.N = N, g.k = topk, g.M = M;
  g.gid.resize((size_t)B * N * topk);
  g.prob.assign((size_t)B * N * topk, 1.0 / topk);
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < N; ++t)
      for (int j = 0; j < topk; ++j)
        g.gid[((size_t)b * N + t) * topk + j] = (int)(((long long)t * M / N + j) % M);
  return g;
}

std::vector<BlockMap> build_block_maps(const PatternSpec& spec, const Shape& shape, int B,
                                       const std::vector<const Grouping*>& groupings, const BlockMapOptions& opt) {
  std::vector<BlockMap> maps;
  for (size_t ki = 0; ki < spec.kernels.size(); ++ki) {
    const KernelSpec& k = spec.kernels[ki];
    Grouping g;
    if (ki < groupings.size() && groupings[ki]) g = *groupings[ki];
    else if (k.route) g = balanced_grouping(B, shape.N(), k.route->groups, k.route->topk);
    else if (k.key) g = key_groups(*k.key, shape, B);
    else g = single_group(B, shape.N());
    maps.push_back(build_block_map(k, shape, token_order(g, k.grouped()), opt));
  }
  return maps;
}

}  // namespace moga::ref
