// The router on warpgroup MMA (sm_90a), M <= NW groups (NW = 64, 128 or 256): logits = x W_r^T
// for 128 token rows per CTA at a time, two warpgroups of 64 rows, m64nNWk16 products with both operands
// in shared memory (K-major, 128-byte swizzle, the attention kernels' layout: wgmma_sm90.cuh), the k
// dimension in stages of 64 columns (x rows and W_r rows by cp.async, STAGES in flight), persistent over
// row tiles with one continuous pipeline. The accumulator of each warp is the mma.sync m16n8 C-fragment
// layout, so the softmax / top-k / histogram epilogue is prep.cuh's router_epilogue unchanged.
//
// Why: the mma.sync router (prep.cuh, router_kernel) reads a 256-byte B fragment from shared memory per
// m16n8k16 and warp (16 FLOP/B), and above M = 64 restages W_r per block pass; x W_r at M = 256 and
// d_model 1536 is as many FLOPs as routed_m256's attention (25.8 G at 32,760 tokens). Here the B tile is
// read once per warpgroup and 64 rows (docs/performance.md, "Routed prep").
//
// RouterParams as for router_kernel except: w_packed has NW rows ([NW][d_pad], zero past M: pack with
// Mp = NW), kc / kst are not used. 256 threads, dynamic shared memory router_wg_smem_bytes(NW, STAGES),
// grid <= the resident CTAs (each loops over row tiles blockIdx.x + i gridDim.x). ROWS = 64: tiles of 64
// rows, the second warpgroup only copying (twice the CTAs where 128-row tiles leave SMs idle: 4,096 tokens
// are 32 tiles of 128). Compiled for sm_90a only
// (its own NVRTC unit: runtime/attention, AttentionOptions::router_mma). NVRTC-compatible.
#pragma once
#include "prep.cuh"
#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#include "barrier_sm90.cuh"
#include "wgmma_sm90.cuh"
#endif

namespace moga {

constexpr int kRouterWgRows = 128;  // token rows per CTA tile: two warpgroups of 64 (ROWS = 64: one)
constexpr int kRouterWgKc = 64;     // k columns per stage: one 128-byte swizzle row
constexpr int kRouterWgThreads = 256;

// Dynamic shared memory of router_wg_kernel<NW, STAGES> (the 1024 bytes: slack for the swizzle's alignment).
MOGA_HD constexpr int router_wg_smem_bytes(int NW, int stages) { return 1024 + stages * (kRouterWgRows + NW) * 128; }
// The wgmma N (rows of the packed weight) for M groups: 64, 128 or 256.
MOGA_HD constexpr int router_wg_n(int M) { return M <= 64 ? 64 : M <= 128 ? 128 : 256; }
// The stages the runtime instantiates: 193 KB of shared memory for each N (one CTA per SM).
MOGA_HD constexpr int router_wg_stages(int NW) { return NW == 256 ? 4 : NW == 128 ? 6 : 8; }

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
namespace prep_detail {
// 16 bytes global -> shared, or 16 zero bytes when !valid (src is not read then).
__device__ __forceinline__ void cp_async16_zfill(unsigned dst, const void* src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(valid ? 16 : 0)
               : "memory");
}
}  // namespace prep_detail

template <int NW, int STAGES, int ROWS = kRouterWgRows>
__global__ void __launch_bounds__(kRouterWgThreads, 1) router_wg_kernel(const RouterParams p) {
  static_assert(NW == 64 || NW == 128 || NW == 256, "router_wg_kernel: NW is 64, 128 or 256");
  static_assert(ROWS == 64 || ROWS == 128, "router_wg_kernel: tiles of 64 or 128 rows");
  static_assert(STAGES >= 2, "router_wg_kernel: at least two stages");
  using namespace prep_detail;
  extern __shared__ __align__(128) unsigned char router_wg_smem_raw[];
  const unsigned base = (sm80::smem_u32(router_wg_smem_raw) + 1023u) & ~1023u;  // the swizzle repeats every 1024 B
  constexpr unsigned kA = kRouterWgRows * 128, kStage = kA + NW * 128;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, wg = warp >> 2;
  const int g = lane >> 2, t = lane & 3;
  const long long rows = (long long)p.B * p.N;
  const long long ntiles = (rows + ROWS - 1) / ROWS;
  const int nk = p.d_pad / kRouterWgKc;
  grid_dep_wait();
  if ((long long)blockIdx.x >= ntiles) return;  // block-uniform
  const long long total = (ntiles - blockIdx.x + gridDim.x - 1) / gridDim.x * nk;  // (tile, k chunk) steps
  const unsigned short* xb = static_cast<const unsigned short*>(p.x);
  const unsigned short* wb = static_cast<const unsigned short*>(p.w_packed);
  // The loader runs under each step's wgmmas, between their issue and their wait, so nothing in it may
  // branch (ptxas then serializes the wgmmas, C7518) or be long: a thread's copies are pointer + k0 from
  // sources found once per tile (enter_tile, ahead of the wgmma issue) and destinations fixed per thread. The first
  // form divided in 64 bits per row and step (~1,600 instructions a thread ahead of each 4-wgmma step); the
  // second (div_u32, counted tile / chunk / stage) still spent ~330 per step, on a chain that outlasted the
  // step's wgmmas (docs/performance.md, "The router's loader").
  constexpr int kXi = ROWS * 8 / kRouterWgThreads, kWi = NW * 8 / kRouterWgThreads;  // copies per step
  const int lr = tid >> 3, lc = tid & 7;  // the thread copies rows lr + 32 i, 16-byte chunk lc of each
  const unsigned dst = lr * 128 + ((lc ^ (lr & 7)) << 4);  // + 4096 i: rows 32 apart keep the swizzle
  const unsigned short* wsrc = wb + (long long)lr * p.d_pad + 8 * lc;
  const int wstep = 32 * p.d_pad;  // elements between the thread's weight rows
  // x's row r = b N + n at b x_sb + n x_sn, b by div_u32 (rows < 2^32: the runtime checks).
  const DivU32 by_n = make_div_u32((unsigned)p.N);
  const unsigned short* xsrc[kXi];
  unsigned xok = 0;  // bit i: the thread's row i is in the loader's tile
  auto enter_tile = [&](long long tile) {
#pragma unroll
    for (int i = 0; i < kXi; ++i) {
      const long long row = tile * ROWS + lr + 32 * i;
      const unsigned b = div_u32((unsigned)row, by_n), n = (unsigned)row - b * (unsigned)p.N;
      const bool ok = row < rows;
      xsrc[i] = xb + (ok ? b * p.x_sb + n * p.x_sn + 8 * lc : 0);
      xok = ok ? xok | 1u << i : xok & ~(1u << i);
    }
  };
  // Step L (the loader's position: tile ld_tile, k chunk ld_kc, stage ld_stage, counted, not divided) into its
  // stage; one commit group per step (an empty one past the end keeps the wait counts uniform).
  long long ld_step = 0, ld_tile = blockIdx.x;
  int ld_kc = 0, ld_stage = 0;
  // A branch, so ahead of this step's wgmma issue; the previous step's wgmmas may be in flight across it (128-row
  // tiles), which ptxas allows because it touches no accumulator (no C7518 with nvcc 13.0).
  auto enter_if_new = [&]() {
    if (ld_kc == 0) enter_tile(ld_tile);
  };
  auto load_next = [&]() {  // branch-free
    const bool live = ld_step < total;  // past the end: zero-fills into the free stage
    const int k0 = ld_kc * kRouterWgKc;
    const bool col_ok = live && k0 + 8 * lc < p.d;  // d is a multiple of 8: a chunk is in or out
    const unsigned sa = base + (unsigned)ld_stage * kStage + dst, sb = sa + kA;
#pragma unroll
    for (int i = 0; i < kXi; ++i) cp_async16_zfill(sa + 4096 * i, xsrc[i] + k0, col_ok && (xok >> i & 1u));
#pragma unroll
    for (int i = 0; i < kWi; ++i) cp_async16_zfill(sb + 4096 * i, wsrc + i * wstep + k0, live);
    cp_async_commit();
    ++ld_step;
    if (++ld_kc == nk) ld_kc = 0, ld_tile += gridDim.x;
    if (++ld_stage == STAGES) ld_stage = 0;
  };
#pragma unroll
  for (int s = 0; s < STAGES - 1; ++s) enter_if_new(), load_next();
  float acc[NW / 2];
#pragma unroll
  for (int i = 0; i < NW / 2; ++i) acc[i] = 0.f;
  int stage = 0;
  // The loader under the wgmmas where every warpgroup computes; with 64-row tiles (the second warpgroup only
  // copies) ptxas would serialize the wgmmas across the divergent path (C7518): it goes ahead of them there.
  constexpr bool kLoadUnder = ROWS == 128;
  const bool computes = kLoadUnder || wg == 0;  // warpgroup-uniform
  // Tiles outside, k chunks inside, the epilogue between: with 128-row tiles a step's wgmmas stay in flight
  // into the next step, and a branch with wgmmas pending whose other path reads the accumulator (the
  // epilogue inside the step loop) makes ptxas serialize them (C7518).
  for (long long tile = blockIdx.x; tile < ntiles; tile += gridDim.x) {
    for (int kc = 0; kc < nk; ++kc) {
      cp_async_wait<STAGES - 2>();  // this step's group is complete (this thread's copies)
      sm90::fence_proxy_async();    // its generic-proxy writes before the wgmmas (async proxy) read them
      __syncthreads();              // everyone's copies are in (64-row tiles: everyone is past the last wgmmas)
      const unsigned sa = base + (unsigned)stage * kStage;
      const unsigned sx = sa + wg * 64 * 128, sw = sa + kA;  // this warpgroup's 64 rows; all NW weight rows
      enter_if_new();  // the sources of this step's load (STAGES - 1 steps ahead), before the wgmmas
      if constexpr (!kLoadUnder) load_next();  // into the previous step's stage, which every warpgroup finished
      if (computes) {
        sm90::wg_fence();
#pragma unroll
        for (int ks = 0; ks < kRouterWgKc / 16; ++ks)
          sm90::wgmma_ss<NW>(acc, sm90::gmma_desc_sw128(sx + ks * 32, 16, 1024),
                             sm90::gmma_desc_sw128(sw + ks * 32, 16, 1024), (kc > 0 || ks > 0) ? 1 : 0);
        sm90::wg_commit();
      }
      if constexpr (kLoadUnder) {
        // This step's wgmmas stay in flight across the next barrier (the tensor pipe does not drain between
        // steps): the stage reloaded here is the previous step's, free once every warpgroup's is done.
        sm90::wg_wait<1>();
        sm90::named_sync(1, kRouterWgThreads);
        load_next();
      } else if (computes) {
        sm90::wg_wait<0>();
      }
      if (++stage == STAGES) stage = 0;
    }
    if (computes) {
      sm90::wg_wait<0>();
      sm90::fence_regs(acc);
      float a3[1][NW / 8][4];  // router_epilogue's view (MT = 1): register renames, no copy
#pragma unroll
      for (int j = 0; j < NW / 8; ++j)
#pragma unroll
        for (int e = 0; e < 4; ++e) a3[0][j][e] = acc[4 * j + e];
      router_epilogue<NW / 8, 1>(p, a3, tile * ROWS + wg * 64 + (warp & 3) * 16, rows, g, t);
    }
  }
  cp_async_wait<0>();
}
#endif  // device code

}  // namespace moga
