// The block map of a kernel on the CPU (docs/architecture.md, "Execution model", steps 1-3), from the
// tile-level evaluator of its mask program (program.h), so the sparsity printed by
// `moga compile --shape`, the GPU tests' expectations and the GPU's own classification all follow
// interval.cuh:
//   1. token order: identity, or the entries (token t's j-th group, e = t*k + j) stably sorted by
//      group id;
//   2. per tile of BM (queries) / BN (keys) entries in that order: the interval of every coordinate
//      (Coords<Ivl>) and of the group ids;
//   3. each (query tile, key tile) pair: the gid intervals disjoint -> empty; the mask false on the
//      intervals -> empty; both tiles one and the same gid (always so when ungrouped) and the mask true
//      (or no mask) -> full; otherwise partial.
// The last tile of each side may be short (N not a multiple of the tile): it covers only real entries.
//
// The summary line reads like FlexAttention's BlockMask:
//   stga: 591x1182 tiles (BM=128, BN=64): 93.1% empty, 2.3% full, 4.6% partial; density 5.7%
// density = the fraction of (query, key) entry pairs that are visible (exact: partial tiles are
// evaluated element by element, within BlockMapOptions::density_budget), or else the upper bound the
// tiles give ("density <= 9.6% (tile bound)").
#pragma once

#include <string>
#include <vector>

#include "runtime/reference/attention.h"

namespace moga::ref {

// Same layout as prep.cuh's moga::TileSummary (8 consecutive Ivl).
struct TileSummary {
  Coords<Ivl> c;
  Ivl gid;
};

struct TokenOrder {
  int B = 0, N = 0, k = 1, Ne = 0;  // Ne = N * k entries per batch item
  bool grouped = false;
  std::vector<int> perm;     // [B][Ne] token at each sorted position
  std::vector<int> gid;      // [B][Ne] group id at each sorted position (0 when ungrouped)
  std::vector<double> gate;  // routed: [B][Ne] router probability at each sorted position; else empty
};

// grouped == false: identity (k must be 1). grouped: stable sort of the entries by group id.
TokenOrder token_order(const Grouping& g, bool grouped);

// The GPU's aligned layout of a grouped order (prep.cuh, SortParams::align): every group of ids in
// [0, G) starts at a multiple of `align`; Ne becomes aligned_sorted_length(N*k, G, align) and the
// positions in between are padding (perm = gid = -1, gate 0), which tile summaries and densities skip.
// by_size: the spans smallest first, ties to the higher id (SortParams::by_size), else by group id.
// packed: several small groups to a block of align positions (SortParams::packed; not with by_size).
TokenOrder aligned_order(const TokenOrder& o, int G, int align, bool by_size = false, bool packed = false);

// Summaries of the tiles of `tile` entries: [B][ceil(Ne / tile)]. As prep.cuh's, the gid interval is
// doubled, [2 glo, 2 ghi]; padding (aligned_order) adds nothing to a query tile (its rows are never
// written) and makes a key tile's interval [2 glo, 2 ghi + 1], so that one holding padding is never
// full (the kernels would read the padding's zero-filled keys without a per-element check) yet stays
// disjoint from the other groups.
std::vector<TileSummary> tile_summaries(const TokenOrder& order, const Shape& shape, int tile, bool key_side = false);

enum class TileClass : unsigned char { Empty = 0, Full = 1, Partial = 2 };
const char* tile_class_name(TileClass c);

// The classification rule (mask: the kernel's tile evaluator, nullptr when it has no mask).
TileClass classify_tile_pair(TileEvaluator* mask, const TileSummary& q, const TileSummary& kv, const MaskShape& s,
                             bool grouped);

struct BlockMap {
  std::string name;
  int B = 0, Ne = 0, bm = 0, bn = 0, tq = 0, tk = 0;
  bool grouped = false;
  std::vector<TileClass> cls;  // [B][tq][tk]
  long long empty = 0, full = 0, partial = 0;
  double work = 0;      // fraction of the B*Ne*Ne entry pairs inside non-empty tiles (what the kernel computes)
  double density = -1;  // fraction of visible entry pairs; -1 when not computed
  TileClass at(int b, int i, int j) const { return cls[((size_t)b * tq + i) * tk + j]; }
  long long pairs() const { return (long long)B * tq * tk; }
  std::string summary() const;
};

// BCSR form of a block map, as params.cuh's BlockMap (lists ascending).
struct BlockMapBcsr {
  std::vector<int> full_cnt, full_idx, part_cnt, part_idx;  // [B][tq], [B][tq][tk], ...
};
BlockMapBcsr to_bcsr(const BlockMap& m);

struct BlockMapOptions {
  int block_m = 0, block_n = 0;  // 0: the kernel's tiles
  // The exact density evaluates the element pairs of partial tiles, when there are at most this many
  // (2^26 take ~1 s on 2 cores); beyond it the summary gives the tile bound. 0: never, < 0: always.
  long long density_budget = 1LL << 26;
  int threads = 0;               // for the exact density; 0: hardware_concurrency
};

// One kernel's block map for a token order (from token_order(kernel_grouping(...), k.grouped())).
BlockMap build_block_map(const KernelSpec& k, const Shape& shape, const TokenOrder& order,
                         const BlockMapOptions& opt = {});

// The mean non-empty key tiles (full or partial) per query tile of an ungrouped kernel in token order at
// tiles bm x bn, over at most `sample` query tiles spread evenly over the sequence (all of them when there are
// fewer): the runtime's grid rule (attention.cpp persistent_grid: items of few key tiles take a persistent
// grid). Cost: the coordinates of every token twice (query and key tiles), then sample x ceil(N / bn) tile
// classifications: ~10 ms at 187,200 tokens.
double mean_key_tiles(const KernelSpec& k, const Shape& shape, int bm, int bn, int sample = 64);

// A stand-in routing for when no router inputs exist (`moga compile --shape`): M equal contiguous
// groups (token t, j-th choice -> (t*M/N + j) mod M), probability 1/k.
Grouping balanced_grouping(int B, int N, int M, int topk);

// Every kernel's block map. groupings: per kernel index, the grouping to use (nullptr or missing:
// computed keys are evaluated, routed kernels use balanced_grouping).
std::vector<BlockMap> build_block_maps(const PatternSpec& spec, const Shape& shape, int B = 1,
                                       const std::vector<const Grouping*>& groupings = {},
                                       const BlockMapOptions& opt = {});

}  // namespace moga::ref
