// Host planning of the routed prep (kernels_src/cuda/prep.cuh, host section): the router's launch shape.
// CPU only; the kernels these plans launch are checked on the GPU (gpu_attention_test.cpp, the routed
// tests) and compiled here by NVRTC (attention_test.cpp, CompilesTheMogaLayerWithoutADevice).
#include <gtest/gtest.h>

#include <vector>

#include "kernels_src/cuda/prep.cuh"

namespace moga {
namespace {

// Every tile gets a warp or the grid is persistent at full size (its warps loop), no block above the
// instantiation's THREADS, whole warps, and never more blocks than are resident.
void expect_covers(long long rows, int MT, int max_threads, int per_sm, int sms) {
  const RouterGrid g = router_grid(rows, MT, max_threads, per_sm, sms);
  const long long tiles = (rows + 16 * MT - 1) / (16 * MT), cap = (long long)per_sm * sms;
  SCOPED_TRACE(::testing::Message() << "rows " << rows << " MT " << MT << " threads " << max_threads);
  EXPECT_GE(g.blocks, 1);
  EXPECT_LE(g.blocks, cap);
  EXPECT_GE(g.threads, 32);
  EXPECT_LE(g.threads, max_threads);
  EXPECT_EQ(g.threads % 32, 0);
  if (g.blocks * (g.threads / 32) < tiles) {  // persistent: the warps loop, so the grid must be full
    EXPECT_EQ(g.blocks, cap);
    EXPECT_EQ(g.threads, max_threads);
  }
}

TEST(prep_router_grid, SmallInputsSpreadOverEverySm) {
  // 4,096 tokens, 512-thread blocks (M <= 64): 256 tiles ran 16 blocks; now one block of 2 warps per SM
  const RouterGrid a = router_grid(4096, 1, 512, 1, 132);
  EXPECT_EQ(a.threads, 64);
  EXPECT_EQ(a.blocks, 128);
  // M = 256's 256-thread blocks: 32 blocks before, 128 now
  const RouterGrid b = router_grid(4096, 1, 256, 1, 132);
  EXPECT_EQ(b.threads, 64);
  EXPECT_EQ(b.blocks, 128);
}

TEST(prep_router_grid, LargeInputsKeepTheirGrid) {
  // 32,760 tokens at 512 threads: 2,048 tiles in 128 full blocks, as before
  const RouterGrid a = router_grid(32760, 1, 512, 1, 132);
  EXPECT_EQ(a.threads, 512);
  EXPECT_EQ(a.blocks, 128);
  // at 256 threads the tiles exceed one pass: persistent at the cap
  const RouterGrid b = router_grid(32760, 1, 256, 1, 132);
  EXPECT_EQ(b.threads, 256);
  EXPECT_EQ(b.blocks, 132);
  // grid mode 1 (one tile per warp) is unchanged
  const RouterGrid c = router_grid(32760, 1, 256, 1, 132, 1);
  EXPECT_EQ(c.threads, 256);
  EXPECT_EQ(c.blocks, 256);
}

TEST(prep_router_grid, CoversEveryTile) {
  for (long long rows : {1LL, 15LL, 16LL, 17LL, 1001LL, 4096LL, 4097LL, 20000LL, 32760LL, 75600LL, 187200LL, 2 * 75600LL})
    for (int MT : {1, 2})
      for (int threads : {256, 512})
        for (int per_sm : {1, 2})
          for (int sms : {1, 78, 132}) expect_covers(rows, MT, threads, per_sm, sms);
}

// div_u32 (router_wg_kernel's x rows) against the division: every divisor shape (1, powers of two and their
// neighbours, the sequence lengths the DiT runs, the largest int) at the numerators where a round-up multiplier
// goes wrong first (multiples of d and their neighbours, 2^32 - 1) and on random ones.
TEST(prep_div_u32, MatchesTheDivisionForEveryNumerator) {
  std::vector<unsigned> ds{1, 2, 3, 5, 7, 641, 4096, 32760, 75600, 187200, 2147483647u};
  for (int l = 1; l < 31; ++l) ds.insert(ds.end(), {(1u << l) - 1, 1u << l, (1u << l) + 1});
  unsigned long long x = 0x9e3779b97f4a7c15ull;
  for (unsigned d : ds) {
    const DivU32 f = make_div_u32(d);
    std::vector<unsigned> ns{0u, 1u, d - 1, d, d + 1, 0xffffffffu, 0xffffffffu - d, 0xffffffffu / d * d,
                             0xffffffffu / d * d - 1};
    for (int i = 0; i < 2000; ++i) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      ns.push_back((unsigned)x);
      ns.push_back((unsigned)(x >> 32) % (64u * d + 1));  // small quotients
    }
    for (unsigned n : ns) ASSERT_EQ(div_u32(n, f), n / d) << n << " / " << d;
  }
}

}  // namespace
}  // namespace moga
