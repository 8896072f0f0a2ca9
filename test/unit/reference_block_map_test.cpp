// runtime/reference: the CPU block map. Exact on simple cases, sound on random shapes (no visible
// element in an empty tile pair, every element visible in a full one), including lengths that are
// not a multiple of the tile.
#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "runtime/reference/block_map.h"
#include "test/unit/reference_fixtures.h"


namespace {

using namespace moga;
using namespace moga::ref;
using nlohmann::json;

KernelSpec make_kernel(const char* name, const char* structure, const char* mask, const char* key, json route,
                       int bm = 64, int bn = 64) {
  json k = {{"name", name}, {"weight", 1.0}, {"route", route}, {"structure", structure},
            {"tiles", {{"block_m", bm}, {"block_n", bn}}}};
  if (mask) k["mask"] = json::parse(mask);
  if (key) k["key"] = json::parse(key);
  PatternSpec p = parse_manifest(json{{"pattern", "t"}, {"layout", "video"}, {"kernels", {k}}});
  return p.kernels[0];
}

TEST(ReferenceBlockMap, CausalIsExact) {
  const KernelSpec k = make_kernel("causal", "masked", reftest::kCausalMask, nullptr, nullptr);
  for (const auto& [N, bm, bn] : {std::tuple{512, 64, 64}, {500, 64, 64}, {500, 128, 64}, {77, 16, 24}}) {
    SCOPED_TRACE("N " + std::to_string(N) + " BM " + std::to_string(bm) + " BN " + std::to_string(bn));
    const Shape s = Shape::seq(N);
    BlockMapOptions opt;
    opt.block_m = bm, opt.block_n = bn;
    const BlockMap m = build_block_map(k, s, token_order(single_group(1, N), false), opt);
    ASSERT_EQ(m.tq, (N + bm - 1) / bm);
    ASSERT_EQ(m.tk, (N + bn - 1) / bn);
    for (int i = 0; i < m.tq; ++i)
      for (int j = 0; j < m.tk; ++j) {
        const int qlo = i * bm, qhi = std::min(N, (i + 1) * bm) - 1, klo = j * bn, khi = std::min(N, (j + 1) * bn) - 1;
        const TileClass want = qlo >= khi ? TileClass::Full : (qhi < klo ? TileClass::Empty : TileClass::Partial);
        ASSERT_EQ(m.at(0, i, j), want) << i << " " << j;
        if (bm == bn) {
          ASSERT_EQ(m.at(0, i, j), i > j ? TileClass::Full : (i < j ? TileClass::Empty : TileClass::Partial));
        }
      }
    EXPECT_NEAR(m.density, (double)N * (N + 1) / 2 / ((double)N * N), 1e-12);
  }
  const BlockMap m = build_block_map(k, Shape::seq(512), token_order(single_group(1, 512), false));
  EXPECT_EQ(m.summary(), "causal: 8x8 tiles (BM=64, BN=64): 43.8% empty, 43.8% full, 12.5% partial; density 50.1%");
  BlockMapOptions fast;
  fast.density_budget = 0;
  const BlockMap mf = build_block_map(k, Shape::seq(512), token_order(single_group(1, 512), false), fast);
  EXPECT_EQ(mf.summary(), "causal: 8x8 tiles (BM=64, BN=64): 43.8% empty, 43.8% full, 12.5% partial; density <= 56.2% (tile bound)");
}

// mean_key_tiles (the runtime's grid rule): over every query tile it equals the block map's mean of non-empty
// key tiles per query tile; sampled (fewer query tiles than there are) it stays within the spread of the rows;
// grouped kernels are refused by name.
TEST(ReferenceBlockMap, MeanKeyTilesMatchesTheMap) {
  const KernelSpec k = make_kernel("causal", "masked", reftest::kCausalMask, nullptr, nullptr);
  for (const auto& [N, bm, bn] : {std::tuple{5000, 128, 176}, {4097, 128, 64}, {77, 16, 24}}) {
    SCOPED_TRACE("N " + std::to_string(N) + " BM " + std::to_string(bm) + " BN " + std::to_string(bn));
    const Shape s = Shape::seq(N);
    BlockMapOptions opt;
    opt.block_m = bm, opt.block_n = bn, opt.density_budget = 0;
    const BlockMap m = build_block_map(k, s, token_order(single_group(1, N), false), opt);
    const double want = (double)(m.full + m.partial) / m.tq;
    EXPECT_DOUBLE_EQ(mean_key_tiles(k, s, bm, bn, m.tq), want);
    EXPECT_DOUBLE_EQ(mean_key_tiles(k, s, bm, bn, 1 << 20), want);
    const double sampled = mean_key_tiles(k, s, bm, bn, 8);  // causal: row i sees i * bm / bn + 1 tiles
    EXPECT_GT(sampled, 0.0);
    EXPECT_NEAR(sampled, want, 0.25 * want + 1);
  }
  const KernelSpec grouped = make_kernel("frame_local", "grouped", nullptr, reftest::kFrameKey, nullptr, 16, 8);
  try {
    mean_key_tiles(grouped, Shape::video({5, 3, 4, {}}), 16, 8);
    ADD_FAILURE() << "a grouped kernel was accepted";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("frame_local"), std::string::npos) << e.what();
  }
}

TEST(ReferenceBlockMap, FrameGroupsWithoutMaskAreExact) {
  // Grouped by frame, no mask: a tile pair is full iff both tiles lie in one and the same frame,
  // empty iff their frame ranges are disjoint.
  const KernelSpec k = make_kernel("frame_local", "grouped", nullptr, reftest::kFrameKey, nullptr, 16, 8);
  const Shape s = Shape::video({5, 3, 4, {}});  // 12 tokens per frame: tiles straddle frames
  const TokenOrder o = token_order(key_groups(*k.key, s, 1), true);
  for (int t = 0; t < s.N(); ++t) ASSERT_EQ(o.perm[t], t);  // frame-major order is already sorted
  const BlockMap m = build_block_map(k, s, o);
  for (int i = 0; i < m.tq; ++i)
    for (int j = 0; j < m.tk; ++j) {
      const int qf0 = i * 16 / 12, qf1 = (std::min(s.N(), (i + 1) * 16) - 1) / 12;
      const int kf0 = j * 8 / 12, kf1 = (std::min(s.N(), (j + 1) * 8) - 1) / 12;
      const TileClass want = (qf1 < kf0 || kf1 < qf0) ? TileClass::Empty
                             : (qf0 == qf1 && kf0 == kf1 && qf0 == kf0) ? TileClass::Full
                                                                        : TileClass::Partial;
      ASSERT_EQ(m.at(0, i, j), want) << i << " " << j;
    }
  EXPECT_NEAR(m.density, 1.0 / 5, 1e-12);
}

TEST(ReferenceBlockMap, TokenOrderIsAStableSortOfEntries) {
  Grouping g;
  g.B = 1, g.N = 5, g.k = 2, g.M = 3;
  g.gid = {2, 0, 1, 0, 2, 1, 0, 1, 1, 2};  // token t: groups gid[2t], gid[2t+1]
  g.prob = {0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.55, 0.35, 0.8, 0.1};
  const TokenOrder o = token_order(g, true);
  EXPECT_EQ(o.Ne, 10);
  EXPECT_EQ(o.gid, (std::vector<int>{0, 0, 0, 1, 1, 1, 1, 2, 2, 2}));
  EXPECT_EQ(o.perm, (std::vector<int>{0, 1, 3, 1, 2, 3, 4, 0, 2, 4}));
  EXPECT_EQ(o.gate, (std::vector<double>{0.4, 0.3, 0.55, 0.6, 0.2, 0.35, 0.8, 0.5, 0.7, 0.1}));
  EXPECT_THROW(token_order(g, false), std::invalid_argument);  // k = 2 needs the grouped order
}

// Random shapes, tiles, groupings and masks: the classification is sound, and the exact density
// equals the brute-force count.
TEST(ReferenceBlockMap, SoundOnRandomShapes) {
  std::mt19937_64 rng(reftest::test_seed("ReferenceBlockMap.SoundOnRandomShapes"));
  using MaskFn = std::function<bool(const reftest::Tok&, const reftest::Tok&, int H, int W)>;
  struct Case {
    const char* name;
    const char* structure;
    const char* mask;
    const char* key;
    int route;  // 0: not routed, else top-k
    MaskFn ok;
  };
  const std::vector<Case> cases = {
      {"dense", "dense", nullptr, nullptr, 0, nullptr},
      {"causal", "masked", reftest::kCausalMask, nullptr, 0, [](auto& a, auto& b, int, int) { return reftest::causal_ok(a, b); }},
      {"sliding", "masked", reftest::kSlidingMask, nullptr, 0, [](auto& a, auto& b, int, int) { return reftest::sliding_ok(a, b); }},
      {"mod", "masked", reftest::kModMask, nullptr, 0, [](auto& a, auto& b, int, int) { return reftest::mod_ok(a, b); }},
      {"stga", "masked", reftest::kStgaMask, nullptr, 0, reftest::stga_ok},
      {"natten", "masked", reftest::kNattenMask, nullptr, 0, reftest::natten_ok},
      {"frame", "grouped", nullptr, reftest::kFrameKey, 0, nullptr},
      {"frame_causal", "grouped_masked", reftest::kCausalMask, reftest::kFrameKey, 0,
       [](auto& a, auto& b, int, int) { return reftest::causal_ok(a, b); }},
      {"routed1", "grouped", nullptr, nullptr, 1, nullptr},
      {"routed2_stga", "grouped_masked", reftest::kStgaMask, nullptr, 2, reftest::stga_ok},
      {"routed3_causal", "grouped_masked", reftest::kCausalMask, nullptr, 3,
       [](auto& a, auto& b, int, int) { return reftest::causal_ok(a, b); }},
  };
  long long counts[3] = {0, 0, 0};
  for (int iter = 0; iter < 60; ++iter) {
    for (const Case& c : cases) {
      std::uniform_int_distribution<int> dim(1, 6);
      const int F = dim(rng), Hg = dim(rng), Wg = 1 + (int)(rng() % 9), B = 1 + (int)(rng() % 2);
      std::vector<int> shots;
      for (int f = 0; f < F; ++f)
        if (f == 0 || rng() % 3 == 0) shots.push_back(f);
      const Shape s = Shape::video({F, Hg, Wg, shots});
      const int N = s.N();
      const int bm = 1 + (int)(rng() % 24), bn = 1 + (int)(rng() % 24);
      const int M = 1 + (int)(rng() % 5);
      const int topk = std::min(c.route, M);
      json route = nullptr;
      if (c.route) route = {{"groups", M}, {"topk", topk}};
      const KernelSpec k = make_kernel(c.name, c.structure, c.mask, c.key, route, bm, bn);
      SCOPED_TRACE(std::string(c.name) + " F H W " + std::to_string(F) + " " + std::to_string(Hg) + " " +
                   std::to_string(Wg) + " BM BN " + std::to_string(bm) + " " + std::to_string(bn));
      Grouping g;
      if (c.route) {  // random routing: skewed logits so some groups are empty or tiny
        std::vector<float> x((size_t)B * N * 3), w((size_t)3 * M);
        std::normal_distribution<float> nd(0.f, 2.f);
        for (auto& e : x) e = nd(rng);
        for (auto& e : w) e = nd(rng);
        g = route_tokens(x.data(), w.data(), B, N, 3, M, topk);
      } else if (c.key) {
        g = key_groups(*k.key, s, B);
      } else {
        g = single_group(B, N);
      }
      const TokenOrder o = token_order(g, k.grouped());
      const BlockMap m = build_block_map(k, s, o);
      ASSERT_EQ(m.Ne, N * g.k);
      long long visible = 0;
      for (int b = 0; b < B; ++b) {
        const int* perm = o.perm.data() + (size_t)b * o.Ne;
        const int* gid = o.gid.data() + (size_t)b * o.Ne;
        for (int e = 1; e < o.Ne; ++e)  // sorted by gid, stable
          ASSERT_TRUE(gid[e - 1] < gid[e] || (gid[e - 1] == gid[e] && perm[e - 1] < perm[e]));
        for (int i = 0; i < m.tq; ++i)
          for (int j = 0; j < m.tk; ++j) {
            const TileClass tc = m.at(b, i, j);
            ++counts[(int)tc];
            for (int a = i * bm; a < std::min(o.Ne, (i + 1) * bm); ++a)
              for (int r = j * bn; r < std::min(o.Ne, (j + 1) * bn); ++r) {
                const reftest::Tok tq = reftest::tok_of(perm[a], F, Hg, Wg, shots);
                const reftest::Tok tk = reftest::tok_of(perm[r], F, Hg, Wg, shots);
                const bool vis = (!k.grouped() || gid[a] == gid[r]) && (!c.ok || c.ok(tq, tk, Hg, Wg));
                visible += vis;
                if (tc == TileClass::Empty) {
                  ASSERT_FALSE(vis) << "visible pair in an empty tile " << i << "," << j;
                }
                if (tc == TileClass::Full) {
                  ASSERT_TRUE(vis) << "masked pair in a full tile " << i << "," << j;
                }
              }
          }
      }
      EXPECT_NEAR(m.density, (double)visible / ((double)B * o.Ne * o.Ne), 1e-12);
      EXPECT_LE(m.density, m.work + 1e-12);
    }
  }
  // The random cases reach every class.
  EXPECT_GT(counts[0], 0);
  EXPECT_GT(counts[1], 0);
  EXPECT_GT(counts[2], 0);
}

TEST(ReferenceBlockMap, BcsrListsMatchTheMap) {
  const KernelSpec k = make_kernel("stga", "masked", reftest::kStgaMask, nullptr, nullptr, 16, 8);
  const Shape s = Shape::video({6, 4, 4, {0, 3}});
  const BlockMap m = build_block_map(k, s, token_order(single_group(2, s.N()), false));
  const BlockMapBcsr r = to_bcsr(m);
  long long nf = 0, np = 0;
  for (int b = 0; b < m.B; ++b)
    for (int i = 0; i < m.tq; ++i) {
      const size_t row = (size_t)b * m.tq + i;
      int f = 0, p = 0;
      for (int j = 0; j < m.tk; ++j) {
        if (m.at(b, i, j) == TileClass::Full) {
          ASSERT_EQ(r.full_idx[row * m.tk + f++], j);
        }
        if (m.at(b, i, j) == TileClass::Partial) {
          ASSERT_EQ(r.part_idx[row * m.tk + p++], j);
        }
      }
      ASSERT_EQ(r.full_cnt[row], f);
      ASSERT_EQ(r.part_cnt[row], p);
      nf += f, np += p;
    }
  EXPECT_EQ(nf, m.full);
  EXPECT_EQ(np, m.partial);
  EXPECT_EQ(m.empty + m.full + m.partial, m.pairs());
  EXPECT_NE(m.summary().find("stga: 2 x 6x12 tiles (BM=16, BN=8): "), std::string::npos) << m.summary();
}

TEST(ReferenceBlockMap, WholePatternSummaries) {
  // The MoGA pattern at a small shape (what `moga compile --shape` prints): routed kernels use a
  // balanced stand-in routing when no router inputs exist.
  json dyn = {{"name", "dynamic"}, {"weight", 1.0 / 3}, {"route", {{"groups", 5}, {"topk", 1}}}, {"route_gate", true},
              {"structure", "grouped"}, {"tiles", {{"block_m", 64}, {"block_n", 32}}}};
  json stga = {{"name", "stga"}, {"weight", 1.0 / 3}, {"structure", "masked"}, {"mask", json::parse(reftest::kStgaMask)},
               {"tiles", {{"block_m", 64}, {"block_n", 32}}}};
  json fl = {{"name", "frame_local"}, {"weight", 1.0 / 3}, {"structure", "grouped"}, {"key", json::parse(reftest::kFrameKey)},
             {"tiles", {{"block_m", 64}, {"block_n", 32}}}};
  const PatternSpec p = parse_manifest(json{{"pattern", "moga"}, {"layout", "video"}, {"kernels", {dyn, stga, fl}}});
  const Shape s = Shape::video({8, 12, 16, {0, 5}});
  const std::vector<BlockMap> maps = build_block_maps(p, s);
  ASSERT_EQ(maps.size(), 3u);
  for (const BlockMap& m : maps) {
    std::printf("  %s\n", m.summary().c_str());
    EXPECT_EQ(m.tq, (s.N() + 63) / 64);
    EXPECT_EQ(m.tk, (s.N() + 31) / 32);
    EXPECT_GT(m.empty, 0);
    EXPECT_GT(m.density, 0);
  }
  std::vector<double> sizes(5, 0.0);  // 5 balanced groups of 307 or 308 tokens
  for (int t = 0; t < s.N(); ++t) sizes[t * 5 / s.N()] += 1;
  double sq = 0;
  for (double n : sizes) sq += n * n;
  EXPECT_NEAR(maps[0].density, sq / ((double)s.N() * s.N()), 1e-12);
  EXPECT_NEAR(maps[2].density, 1.0 / 8, 1e-12);
  // A float-valued mask cannot be classified.
  KernelSpec bad = make_kernel("fmask", "masked", R"({"args": ["q", "kv"], "ops": [
      {"op": "arg", "index": 0}, {"op": "coord", "operands": [0], "coord": "pos"}, {"op": "sitofp", "operands": [1]},
      {"op": "const", "type": "f32", "value": 2.5}, {"op": "cmpf", "pred": "olt", "operands": [2, 3]}], "result": 4})",
                               nullptr, nullptr);
  try {
    build_block_map(bad, s, token_order(single_group(1, s.N()), false));
    FAIL() << "no error";
  } catch (const ProgramError& e) {
    EXPECT_NE(std::string(e.what()).find("kernel 'fmask' mask: ops[2] 'sitofp': float ops are not allowed"), std::string::npos)
        << e.what();
  }
}

}  // namespace
