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

}  // namespace moga::rt
