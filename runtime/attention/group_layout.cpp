#include "runtime/attention/group_layout.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "kernels_src/cuda/prep.cuh"  // packed_span_starts, grouped_map_row / _class: the GPU's rules

namespace moga::rt {

namespace {
long long ceil_div(long long a, long long b) { return (a + b - 1) / b; }
}  // namespace

void runs_to_groups(const MaskRuns& r, int G, int Ns, const int* seg_run, const int* seg_end_run, int* gid, int* seg,
                    int* seg_end) {
  const int R = r.runs();
  for (int s = 0; s < Ns; ++s)
    if (gid[s] >= 0) gid[s] = r.group_of_run[gid[s]];
  std::vector<int> first(G, -1), last(G, -1);
  for (int k = 0; k < R; ++k) {
    const int g = r.group_of_run[k];
    if (first[g] < 0) first[g] = k;
    last[g] = k;
  }
  seg[G] = seg_run[R];
  for (int g = G - 1; g >= 0; --g) {
    seg[g] = first[g] >= 0 ? seg_run[first[g]] : seg[g + 1];
    seg_end[g] = first[g] >= 0 ? seg_end_run[last[g]] : seg[g];
  }
}

bool contiguous_tiles(const std::vector<int>& perm, int B, int Ns, int BM, int BN) {
  if ((long long)perm.size() != (long long)B * Ns) return false;
  for (int tile : {BM, BN})
    for (int b = 0; b < B; ++b) {
      const int* pm = perm.data() + (size_t)b * Ns;
      for (int s0 = 0; s0 < Ns; s0 += tile) {
        const int t0 = pm[s0], end = std::min(Ns, s0 + tile);
        for (int s = s0 + 1; s < end; ++s)
          if (pm[s] >= 0 && (t0 < 0 || pm[s] != t0 + (s - s0))) return false;
      }
    }
  return true;
}

const char* group_layout_name(GroupLayout l) {
  switch (l) {
    case GroupLayout::Auto: return "auto";
    case GroupLayout::Padded: return "padded";
    case GroupLayout::Packed: return "packed";
  }
  return "?";
}

long long padded_tile_pairs(const std::vector<int>& sizes, int BM, int BN) {
  long long pairs = 0;
  for (int n : sizes) pairs += ceil_div(n, BM) * ceil_div(n, BN);
  return pairs;
}

long long packed_tile_pairs(const std::vector<int>& sizes, int BM, int BN) {
  const int G = (int)sizes.size(), A = std::lcm(BM, BN);
  std::vector<int> seg(G + 1);
  seg[G] = packed_span_starts(sizes.data(), G, A, seg.data());
  const int Ns = seg[G];
  std::vector<int> gid(Ns, -1);
  for (int g = 0; g < G; ++g) std::fill(gid.begin() + seg[g], gid.begin() + seg[g] + sizes[g], g);
  long long pairs = 0;
  for (int i = 0; i * BM < Ns; ++i) {
    const GroupedRow r = grouped_map_row(gid.data(), seg.data(), Ns, BM, BN, i);
    for (int j = r.jl; j <= r.jh; ++j) pairs += grouped_map_class(gid.data(), Ns, BN, r, j) != 0;
  }
  return pairs;
}

long long padded_tile_pairs_estimate(long long Ne, int M, int BM, int BN) {
  const long long n = ceil_div(Ne, std::max(1, M));
  return (long long)M * ceil_div(n, BM) * ceil_div(n, BN);
}

long long packed_tile_pairs_estimate(long long Ne, int M, int BM, int BN) {
  const int A = std::lcm(BM, BN);
  const double n = (double)Ne / std::max(1, M);
  if (n >= A) return padded_tile_pairs_estimate(Ne, M, BM, BN);
  const long long blocks = (long long)std::ceil(Ne / (A - n / 2));
  return blocks * (A / BM) * (A / BN);
}

GroupLayout choose_group_layout(GroupLayout requested, long long padded_pairs, long long packed_pairs) {
  if (requested != GroupLayout::Auto) return requested;
  return 5 * packed_pairs < 4 * padded_pairs ? GroupLayout::Packed : GroupLayout::Padded;
}

}  // namespace moga::rt
