// How a grouped kernel (routed or computed key) lays its groups out in the sorted token order, and the
// per-launch choice between the two layouts (docs/performance.md, "Small groups: the packed layout").
// Both cut the sorted order into blocks of A = lcm(BM, BN) positions (prep.cuh SortParams):
//   Padded  every group starts at a block (SortParams::align): no tile holds two groups, a group's
//           interior tile pairs are full, only its last key tile is partial, and a partial tile's
//           visibility is one compare with the group's end (seg_end). But a group of n tokens costs
//           ceil(n / BM) ceil(n / BN) tile pairs however small it is: 1,560 groups of 21 tokens run
//           1,560 pairs where 256 query tiles would hold every token.
//   Packed  groups in id order, each where the previous one ended unless it would cross a block boundary,
//           else at the next block (SortParams::packed): several small groups share a block, none
//           straddles two blocks, so a query tile's keys lie in its own block (for 21-token groups: 6 per
//           block, 260 tile pairs). Tiles hold several groups: visibility per element by group id
//           (score_pass.cuh, visible); tile pairs inside one group stay full.
// Auto picks per launch from the group sizes: Packed when it runs at least 20% fewer tile pairs than
// Padded. The margin keeps the padded path, with its cheaper partial tiles and its largest-group-first
// schedule (SortParams::by_size), where the two are close.
#pragma once
#include <vector>

namespace moga::rt {

enum class GroupLayout { Auto, Padded, Packed };
const char* group_layout_name(GroupLayout l);

// Tile pairs of a grouped kernel without a mask (a mask only removes pairs from either layout) whose
// groups hold `sizes` entries, in group order (empty groups allowed), with blocks of lcm(BM, BN). Exact:
// prep.cuh's grouped_map_row / grouped_map_class on the layout each builds.
long long padded_tile_pairs(const std::vector<int>& sizes, int BM, int BN);
long long packed_tile_pairs(const std::vector<int>& sizes, int BM, int BN);
// Routed kernels: the sizes are known only on the device, after the router; the estimates take Ne entries
// in M groups of the mean size n = Ne / M: Padded M ceil(n/BM) ceil(n/BN); Packed (n < A) one block per
// A - n/2 entries (a block wastes on average half a group), (A/BM)(A/BN) pairs each, else as Padded.
long long padded_tile_pairs_estimate(long long Ne, int M, int BM, int BN);
long long packed_tile_pairs_estimate(long long Ne, int M, int BM, int BN);

// Padded or Packed: `requested` unless it is Auto, else by the pair counts (header comment).
GroupLayout choose_group_layout(GroupLayout requested, long long padded_pairs, long long packed_pairs);

// Whether every tile of a sorted order (perm [B][Ns], -1 at padding) holds consecutive original tokens: for
// each tile of BM positions and of BN positions (starts at multiples of the tile), either every position is
// padding, or its first position is a token t0 and every token in it sits at its offset from t0
// (perm[s0 + i] = t0 + i; padding may fill the rest). Then the TMA kernel can load the tile as a box of
// rows t0 .. t0 + tile - 1 of the unsorted q, k, v (its padding rows read other tokens, which the kernel
// masks: padding is never visible, and a query row of padding is never written): computed groups of
// contiguous tokens (by frame, by document) need no sorted copy (sm90.tma.sorted, kernels_src/cuda/sorted_copy.cuh).
bool contiguous_tiles(const std::vector<int>& perm, int B, int Ns, int BM, int BN);

// Runs of a keyed kernel with a mask (AttentionOptions::mask_runs; docs/performance.md, "STGA at a quarter
// of the rate"). keys [N] (0 <= key < G); sees(q, kv): the mask between tokens q and kv. Within each group,
// in token order, a run ends before the first token that does not see the run's first token both ways.
// Laid out each at a multiple of align, the mask's boundaries inside a group fall on tile edges. Layout
// only: which pairs are visible stays the group and the mask. Empty (no runs) when they would not pay: every
// group one run, a mean run shorter than 2 align, or more than N / 8 positions of added padding.
struct MaskRuns {
  std::vector<int> run_of;        // [N] run id, ascending in (group, token)
  std::vector<int> group_of_run;  // [R]
  int runs() const { return (int)group_of_run.size(); }
};
template <class Sees>
MaskRuns mask_runs(const std::vector<int>& keys, int G, int align, Sees&& sees);
// The sorted order of counting_sort_host over run ids (seg_run [R + 1], seg_end_run [R], gid [Ns]: run ids
// or -1) turned into the groups' (one batch item): gid becomes the run's group (padding -1), seg [G + 1]
// and seg_end [G] span each group's runs (an empty group: an empty span where the next one starts).
void runs_to_groups(const MaskRuns& r, int G, int Ns, const int* seg_run, const int* seg_end_run, int* gid, int* seg,
                    int* seg_end);

template <class Sees>
MaskRuns mask_runs(const std::vector<int>& keys, int G, int align, Sees&& sees) {
  const int N = (int)keys.size();
  std::vector<std::vector<int>> members(G);
  for (int t = 0; t < N; ++t) members[keys[t]].push_back(t);
  MaskRuns r;
  r.run_of.assign(N, -1);
  long long pad_runs = 0, pad_groups = 0;
  for (int g = 0; g < G; ++g) {
    const std::vector<int>& m = members[g];
    if (m.empty()) continue;
    pad_groups += (align - (long long)m.size() % align) % align;
    int start = m[0], len = 0;
    auto close = [&] { pad_runs += (align - len % align) % align; };
    r.group_of_run.push_back(g);
    for (int t : m) {
      if (t != start && !(sees(t, start) && sees(start, t))) {
        close();
        r.group_of_run.push_back(g);
        start = t, len = 0;
      }
      r.run_of[t] = r.runs() - 1;
      ++len;
    }
    close();
  }
  int nonempty = 0;
  for (const auto& m : members) nonempty += !m.empty();
  const bool pays = r.runs() > nonempty && (long long)N >= 2LL * align * r.runs() && pad_runs - pad_groups <= N / 8;
  return pays ? r : MaskRuns{};
}

}  // namespace moga::rt
