// Aligned groups (prep.cuh, SortParams::align; docs/performance.md, "Aligned groups"): every group of
// a grouped kernel's sorted order starts at a multiple of lcm(BM, BN), the positions in between are
// padding (perm = gid = -1). Checked here on the CPU: the host counting sort the runtime uses for
// keyed kernels lays the order out exactly as ref::aligned_order (the layout the GPU tests compare the
// device's block maps against), dropping the padding gives back the dense sort, and block maps of
// aligned orders are sound, have no tile that straddles two groups, and keep the density.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "kernels_src/cuda/prep.cuh"
#include "runtime/reference/block_map.h"

namespace reftest {  // reference_fixtures.cpp
extern const char* const kCausalMask;
extern const char* const kFrameKey;
uint64_t test_seed(const char* test);
}  // namespace reftest

namespace {

using namespace moga;
using nlohmann::json;

ref::Grouping random_grouping(std::mt19937_64& rng, int B, int N, int G) {
  ref::Grouping g;
  g.B = B, g.N = N, g.k = 1, g.M = G;
  g.gid.resize((size_t)B * N);
  g.prob.resize(g.gid.size());
  // skewed: some groups empty, some of one token, one large
  std::uniform_int_distribution<int> any(0, G - 1);
  for (size_t i = 0; i < g.gid.size(); ++i) {
    g.gid[i] = rng() % 3 == 0 ? 0 : any(rng);
    g.prob[i] = (double)(rng() % 1000) / 1000.0;
  }
  return g;
}

TEST(ReferenceAlignedGroups, HostSortIsTheAlignedOrder) {
  std::mt19937_64 rng(reftest::test_seed("ReferenceAlignedGroups.HostSortIsTheAlignedOrder"));
  for (int iter = 0; iter < 200; ++iter) {
    const int B = 1 + (int)(rng() % 2), N = 1 + (int)(rng() % 700), G = 1 + (int)(rng() % 9);
    const int aligns[] = {1, 2, 16, 64, 128};
    const int align = aligns[rng() % 5];
    const bool by_size = rng() % 2;
    SCOPED_TRACE("B N G align " + std::to_string(B) + " " + std::to_string(N) + " " + std::to_string(G) + " " +
                 std::to_string(align) + (by_size ? " by size" : " by id"));
    const ref::Grouping g = random_grouping(rng, B, N, G);
    const ref::TokenOrder dense = ref::token_order(g, true);
    const ref::TokenOrder a = ref::aligned_order(dense, G, align, by_size);
    const int Ns = aligned_sorted_length(N, G, align);
    ASSERT_EQ(a.Ne, Ns);
    ASSERT_EQ(Ns % std::max(align, 1), 0);

    std::vector<float> probs(g.prob.begin(), g.prob.end()), gate((size_t)B * Ns, 0.f);
    std::vector<int> seg((size_t)B * (G + 1)), perm((size_t)B * Ns), gid(perm.size()), scratch(G), order((size_t)B * G),
        seg_end((size_t)B * G);
    counting_sort_host(g.gid.data(), probs.data(), B, N, 1, G, scratch.data(), seg.data(), perm.data(), gid.data(),
                       gate.data(), order.data(), align, 0, seg_end.data(), by_size);
    ASSERT_EQ(perm, a.perm);
    ASSERT_EQ(gid, a.gid);
    for (size_t i = 0; i < perm.size(); ++i)
      if (perm[i] >= 0) ASSERT_FLOAT_EQ(gate[i], (float)a.gate[i]);
    const int al = std::max(align, 1);
    auto size_of = [&](int b, int q) {
      return (int)std::count(g.gid.begin() + (size_t)b * N, g.gid.begin() + (size_t)(b + 1) * N, q);
    };
    for (int b = 0; b < B; ++b) {
      const int* sg = &seg[(size_t)b * (G + 1)];
      std::vector<int> owner(Ns, -1);  // which group's span covers each position
      int real = 0, used = 0;
      for (int q = 0; q < G; ++q) {
        ASSERT_EQ(sg[q] % al, 0) << "group " << q << " starts off the alignment";
        // the group's entries fill its span from the start; the rest of the span is padding
        const int cnt = size_of(b, q), span = (cnt + al - 1) / al * al;
        ASSERT_EQ(seg_end[(size_t)b * G + q], sg[q] + cnt) << "seg_end of group " << q;
        for (int s = sg[q]; s < sg[q] + span; ++s) {
          ASSERT_LT(s, Ns);
          ASSERT_EQ(owner[s], -1) << "spans of groups " << owner[s] << " and " << q << " overlap";
          owner[s] = q;
          ASSERT_EQ(gid[(size_t)b * Ns + s], s < sg[q] + cnt ? q : -1) << "position " << s << " of group " << q;
        }
        const bool sized = by_size && align > 1;  // by_size applies to aligned layouts only
        if (!sized && q > 0) ASSERT_LE(sg[q - 1], sg[q]) << "by id: spans ascend";
        if (sized)  // smallest first, ties to the higher id: every smaller group's span comes earlier
          for (int o = 0; o < G; ++o)
            if (size_of(b, o) > 0 && cnt > 0 && (size_of(b, o) < cnt || (size_of(b, o) == cnt && o > q)))
              ASSERT_LT(sg[o], sg[q]) << "by size: group " << o << " before " << q;
        real += cnt;
        used += span;
      }
      ASSERT_EQ(real, N);
      ASSERT_EQ(sg[G], used) << "seg_offsets[G]: the padded total";
      for (int s = used; s < Ns; ++s) ASSERT_EQ(owner[s], -1) << "the tail after the spans is padding";
      // order[] still ranks the groups by their real sizes
      for (int i = 1; i < G; ++i)
        ASSERT_GE(size_of(b, order[(size_t)b * G + i - 1]), size_of(b, order[(size_t)b * G + i]));
    }
    // the groups in id order, padding dropped: the dense stable sort
    std::vector<int> compact;
    for (int b = 0; b < B; ++b)
      for (int q = 0; q < G; ++q)
        for (int s = seg[(size_t)b * (G + 1) + q]; s < seg_end[(size_t)b * G + q]; ++s) compact.push_back(perm[(size_t)b * Ns + s]);
    ASSERT_EQ(compact, dense.perm);
  }
}

ref::KernelSpec grouped_kernel(const char* mask, const char* key, int M, int bm, int bn) {
  json k = {{"name", "g"}, {"weight", 1.0}, {"structure", mask ? "grouped_masked" : "grouped"},
            {"tiles", {{"block_m", bm}, {"block_n", bn}}}};
  k["route"] = key ? json(nullptr) : json{{"groups", M}, {"topk", 1}};
  if (mask) k["mask"] = json::parse(mask);
  if (key) k["key"] = json::parse(key);
  return ref::parse_manifest(json{{"pattern", "t"}, {"layout", "video"}, {"kernels", {k}}}).kernels[0];
}

TEST(ReferenceAlignedGroups, BlockMapsAreSoundAndKeepTheDensity) {
  std::mt19937_64 rng(reftest::test_seed("ReferenceAlignedGroups.BlockMapsAreSoundAndKeepTheDensity"));
  long long pairs_dense = 0, pairs_aligned = 0, straddling_dense = 0;
  for (int iter = 0; iter < 80; ++iter) {
    const int F = 1 + (int)(rng() % 6), Hg = 1 + (int)(rng() % 6), Wg = 1 + (int)(rng() % 9), B = 1 + (int)(rng() % 2);
    const ref::Shape s = ref::Shape::video({F, Hg, Wg, {0}});
    const int N = s.N(), G = 1 + (int)(rng() % 6);
    const int tiles[] = {4, 8, 16};
    const int bm = tiles[rng() % 3], bn = tiles[rng() % 3], align = std::lcm(bm, bn);
    const bool causal = rng() % 2, keyed = rng() % 3 == 0;
    SCOPED_TRACE("F H W " + std::to_string(F) + " " + std::to_string(Hg) + " " + std::to_string(Wg) + " BM BN " +
                 std::to_string(bm) + " " + std::to_string(bn) + (causal ? " causal" : "") + (keyed ? " keyed" : ""));
    const ref::KernelSpec k = grouped_kernel(causal ? reftest::kCausalMask : nullptr,
                                             keyed ? reftest::kFrameKey : nullptr, G, bm, bn);
    const ref::Grouping g = keyed ? ref::key_groups(*k.key, s, B) : random_grouping(rng, B, N, G);
    const int Gk = keyed ? F : G;
    const ref::TokenOrder dense = ref::token_order(g, true);
    const ref::TokenOrder a = ref::aligned_order(dense, Gk, align);
    ref::BlockMapOptions bo;
    bo.density_budget = -1;
    const ref::BlockMap md = ref::build_block_map(k, s, dense, bo), ma = ref::build_block_map(k, s, a, bo);
    EXPECT_NEAR(ma.density, md.density, 1e-12) << "padding changed what is visible";
    pairs_dense += md.full + md.partial;
    pairs_aligned += ma.full + ma.partial;
    for (int b = 0; b < B; ++b) {
      const int* perm = a.perm.data() + (size_t)b * a.Ne;
      const int* gid = a.gid.data() + (size_t)b * a.Ne;
      for (int i = 0; i < ma.tq; ++i) {
        int g0 = -1;  // the one group of the query tile's real entries
        for (int q = i * bm; q < std::min(a.Ne, (i + 1) * bm); ++q)
          if (gid[q] >= 0) {
            ASSERT_TRUE(g0 < 0 || gid[q] == g0) << "query tile " << i << " straddles two groups";
            g0 = gid[q];
          }
        for (int j = 0; j < ma.tk; ++j) {
          const ref::TileClass tc = ma.at(b, i, j);
          for (int q = i * bm; q < std::min(a.Ne, (i + 1) * bm); ++q)
            for (int r = j * bn; r < std::min(a.Ne, (j + 1) * bn); ++r) {
              const bool real = perm[q] >= 0 && perm[r] >= 0;
              const bool vis = real && gid[q] == gid[r] && (!causal || perm[r] <= perm[q]);
              if (tc == ref::TileClass::Empty) ASSERT_FALSE(vis) << "visible pair in an empty tile";
              if (tc == ref::TileClass::Full && perm[q] >= 0)
                ASSERT_TRUE(vis) << "full tile " << i << "," << j << " with a masked or padding key";
            }
        }
      }
      // how often the dense order has a query tile with two groups (what alignment removes)
      for (int i = 0; i < md.tq; ++i) {
        const int* dg = dense.gid.data() + (size_t)b * dense.Ne;
        const int lo = i * bm, hi = std::min(dense.Ne, (i + 1) * bm) - 1;
        straddling_dense += dg[lo] != dg[hi];
      }
    }
  }
  EXPECT_GT(straddling_dense, 0) << "the random cases never straddle: the test checks nothing new";
  std::cout << "tile pairs computed: dense order " << pairs_dense << ", aligned " << pairs_aligned << "\n";
}

// The GPU's map rule for grouped kernels without a mask (prep.cuh grouped_map_row/_class, what
// block_map_grouped_kernel runs) classifies every tile pair as the reference does, with and without
// alignment, and with packed groups (SortParams::packed: several small groups to a block, no seg_end):
// the GPU tests compare the device's counts against the reference.
TEST(ReferenceAlignedGroups, GroupedMapRuleEqualsTheReference) {
  std::mt19937_64 rng(reftest::test_seed("ReferenceAlignedGroups.GroupedMapRuleEqualsTheReference"));
  for (int iter = 0; iter < 400; ++iter) {
    // every other iteration many groups, most smaller than a tile (what the packed layout is for)
    const int B = 1 + (int)(rng() % 2), N = 1 + (int)(rng() % 900), G = 1 + (int)(rng() % (iter % 2 ? 9 : 300));
    const int tiles[] = {8, 16, 64, 128};
    const int bm = tiles[rng() % 4], bn = tiles[rng() % 4];
    const int layout = (int)(rng() % 4);  // 0 dense, 1 padded, 2 padded by size, 3 packed
    const bool aligned = layout != 0, by_size = layout == 2, packed = layout == 3;
    const int align = aligned ? std::lcm(bm, bn) : 1;
    SCOPED_TRACE("B N G BM BN align layout " + std::to_string(B) + " " + std::to_string(N) + " " + std::to_string(G) +
                 " " + std::to_string(bm) + " " + std::to_string(bn) + " " + std::to_string(align) + " " +
                 std::to_string(layout));
    const ref::Grouping g = random_grouping(rng, B, N, G);
    const ref::TokenOrder o = ref::aligned_order(ref::token_order(g, true), G, align, by_size, packed);
    const ref::Shape s = ref::Shape::seq(N);
    const ref::KernelSpec k = grouped_kernel(nullptr, nullptr, G, bm, bn);
    ref::BlockMapOptions bo;
    bo.density_budget = 0;
    const ref::BlockMap m = ref::build_block_map(k, s, o, bo);
    std::vector<int> seg((size_t)B * (G + 1)), perm((size_t)B * o.Ne), gid(perm.size()), scratch(G),
        seg_end((size_t)B * G);
    counting_sort_host(g.gid.data(), nullptr, B, N, 1, G, scratch.data(), seg.data(), perm.data(), gid.data(),
                       nullptr, nullptr, align, o.Ne, seg_end.data(), by_size, packed);
    ASSERT_EQ(gid, o.gid);
    ASSERT_EQ(perm, o.perm);
    for (int b = 0; b < B; ++b)
      for (int i = 0; i < m.tq; ++i) {
        const int* gb = gid.data() + (size_t)b * o.Ne;
        const GroupedRow r = grouped_map_row(gb, seg.data() + (size_t)b * (G + 1), o.Ne, bm, bn, i,
                                             aligned && !packed ? seg_end.data() + (size_t)b * G : nullptr);
        for (int j = 0; j < m.tk; ++j) {
          const int c = (j >= r.jl && j <= r.jh) ? grouped_map_class(gb, o.Ne, bn, r, j) : 0;
          ASSERT_EQ(c, (int)m.at(b, i, j)) << "tile " << i << "," << j << " (0 empty, 1 full, 2 partial)";
        }
      }
  }
}

}  // namespace
