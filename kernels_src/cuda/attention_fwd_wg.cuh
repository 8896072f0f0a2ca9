// Forward attention on Hopper's warpgroup MMA (v9/v10): wgmma.mma_async (sm_90a) for both products, the
// rest as in the ping-pong kernel v8 (attention_fwd_pp.cuh): two warpgroups of 64 query rows that pass a
// turn through named barriers, K/V slots filled by cp.async (gather through perm) and signalled on
// mbarriers, persistent items, direct epilogue. v10 (docs/performance.md): the gather indices of the
// next copy are loaded at the start of a phase (OPT bit 3, default), aligned groups (p.seg_end) make a
// partial tile's visibility one compare per key, and the work items stop at the last query tile that
// holds tokens (p.seg_offsets).
//
//   template <class Variant, int D, int BM, int BN, int WARPS, int STAGES>
//   __global__ void attention_fwd_wg(moga::AttnParams p);   BM = 128, WARPS = 8 (two warpgroups),
//        grid (G, 1, 1) with any G >= 1; CTA c takes items c, c+G, ... (items = (b, h, q tile), q tiles
//        descending within a head). G = AttnFwdWGCfg<...>::num_items(N, H, B) (one item per CTA) is the
//        measured best for dense, causal, masked and long-group kernels; G = #SMs (persistent) for routed
//        kernels with short groups (the runtime's choice, AttentionOptions::wg_persistent).
//        STAGES = 3 at D = BN = 128.
//        AttnFwdWGCfg<...>::kThreads threads,
//        AttnFwdWGCfg<...>::kSmemBytes dynamic smem. Needs sm_90a (nvcc -gencode
//        arch=compute_90a,code=sm_90a; NVRTC --gpu-architecture=sm_90a); built for anything else the
//        kernel body is empty and traps.
//
// Per warpgroup g (rows 64g..64g+63 of the tile; warp w owns rows 16w..16w+15 as in attention_fwd) and
// key tile j, one phase:
//   wait K(j), V(j-1) landed; wait for the turn; issue  S = Q K(j)^T  (m64nBNk16, A = Q fragments in
//   registers, B = K tile in shared memory, K-major) and  O += P(j-1) V(j-1)  (m64nDk16, A = P in
//   registers, B = V tile, MN-major); pass the turn; wait for S; release K(j); mask, row max, exps
//   (overlapping the P.V still running); wait for O; release V(j-1); rescale O; pack P(j).
// The accumulator fragment of wgmma is, per warp, exactly the mma.sync m16n8 layout and the A fragment
// the m16n8k16 one, so masking, softmax, packing and the epilogue are those of v7/v8.
// Shared memory: K and V slots as [D/64][BN][64] bf16 with the 128-byte swizzle of the wgmma canonical
// layouts (16-byte chunk c of row r at r*128 + ((c ^ (r & 7)) << 4), 1024-byte aligned); Q as in v7.
// Slot reuse is guarded by per-slot "empty" mbarriers (one arrival per warp after its wgmma completed).
// Requirements: D in {64, 128}, BN in {64, 128}, BM = 128, WARPS = 8; those of attention_fwd otherwise.
// NVRTC-compatible: no host standard headers.
#pragma once
#include "attention_fwd_pp.cuh"
#include "wg_common.cuh"

namespace moga {
namespace sm90 {

__device__ __forceinline__ void fence_proxy_async() {
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}
__device__ __forceinline__ void mbar_arrive(unsigned addr) {
  asm volatile("{\n .reg .b64 st;\n mbarrier.arrive.shared::cta.b64 st, [%0];\n}\n" ::"r"(addr) : "memory");
}

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define MOGA_HAS_WGMMA 1
__device__ __forceinline__ void wg_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wg_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void wg_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}
// D (f32, N/2 per thread) = A (bf16 fragments in registers) * B (bf16, shared memory descriptor)
// [+ D when scale_d != 0]; trans-b 0: B is K-major, 1: B is MN-major.
__device__ __forceinline__ void wgmma_rs_n64_t0(float (&d)[32], const unsigned (&a)[4], unsigned long long desc_b, int scale_d) {
  asm volatile(
      "{\n .reg .pred p;\n setp.ne.b32 p, %37, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 "
      "{"
      "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15,"
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31"
      "}, "
      "{%32, %33, %34, %35}, %36, p, 1, 1, 0;\n}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "r"(scale_d));
}
__device__ __forceinline__ void wgmma_rs_n64_t1(float (&d)[32], const unsigned (&a)[4], unsigned long long desc_b, int scale_d) {
  asm volatile(
      "{\n .reg .pred p;\n setp.ne.b32 p, %37, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 "
      "{"
      "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15,"
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31"
      "}, "
      "{%32, %33, %34, %35}, %36, p, 1, 1, 1;\n}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "r"(scale_d));
}
__device__ __forceinline__ void wgmma_rs_n128_t0(float (&d)[64], const unsigned (&a)[4], unsigned long long desc_b, int scale_d) {
  asm volatile(
      "{\n .reg .pred p;\n setp.ne.b32 p, %69, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 "
      "{"
      "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15,"
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31,"
      "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47,"
      "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"
      "}, "
      "{%64, %65, %66, %67}, %68, p, 1, 1, 0;\n}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "r"(scale_d));
}
__device__ __forceinline__ void wgmma_rs_n128_t1(float (&d)[64], const unsigned (&a)[4], unsigned long long desc_b, int scale_d) {
  asm volatile(
      "{\n .reg .pred p;\n setp.ne.b32 p, %69, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 "
      "{"
      "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15,"
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31,"
      "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47,"
      "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"
      "}, "
      "{%64, %65, %66, %67}, %68, p, 1, 1, 1;\n}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "r"(scale_d));
}

template <int N, int TB>
__device__ __forceinline__ void wgmma_rs(float (&d)[N / 2], const unsigned (&a)[4], unsigned long long desc,
                                         int scale_d) {
  if constexpr (N == 64 && TB == 0) wgmma_rs_n64_t0(d, a, desc, scale_d);
  else if constexpr (N == 64 && TB == 1) wgmma_rs_n64_t1(d, a, desc, scale_d);
  else if constexpr (N == 128 && TB == 0) wgmma_rs_n128_t0(d, a, desc, scale_d);
  else wgmma_rs_n128_t1(d, a, desc, scale_d);
}
#endif

// Shared-memory matrix descriptor, 128-byte swizzle (addresses and offsets in bytes).
__device__ __forceinline__ unsigned long long gmma_desc_sw128(unsigned addr, unsigned lbo, unsigned sbo) {
  return static_cast<unsigned long long>((addr & 0x3FFFFu) >> 4) |
         (static_cast<unsigned long long>((lbo & 0x3FFFFu) >> 4) << 16) |
         (static_cast<unsigned long long>((sbo & 0x3FFFFu) >> 4) << 32) | (1ull << 62);
}
// Keep the compiler from moving accesses of wgmma accumulators across the wait.
template <int R>
__device__ __forceinline__ void fence_regs(float (&r)[R]) {
#pragma unroll
  for (int i = 0; i < R; ++i) asm volatile("" : "+f"(r[i])::"memory");
}

#if defined(MOGA_HAS_WGMMA)
// One warpgroup's S = Q K^T of a tile: D/16 k-steps of m64nBNk16, A = its Q fragments in registers, B =
// the K tile at sKs ([D/64][BN][64], 128-byte swizzle, K-major); one commit group.
template <int D, int BN>
__device__ __forceinline__ void issue_qk(float (&s)[BN / 2], const unsigned (&qf)[D / 16][4], unsigned sKs) {
#pragma unroll
  for (int ks = 0; ks < D / 16; ++ks)
    wgmma_rs<BN, 0>(s, qf[ks], gmma_desc_sw128(sKs + (ks >> 2) * (BN * 128) + (ks & 3) * 32, 16, 1024), ks > 0 ? 1 : 0);
  wg_commit();
}
// O += P V of a tile: BN/16 k-steps of m64nDk16, A = P (bf16 pairs in registers), B = the V tile at sVs
// (MN-major); one commit group.
template <int D, int BN>
__device__ __forceinline__ void issue_pv(float (&o)[D / 2], const unsigned (&pk)[BN / 16][4], unsigned sVs) {
#pragma unroll
  for (int kb = 0; kb < BN / 16; ++kb) wgmma_rs<D, 1>(o, pk[kb], gmma_desc_sw128(sVs + kb * 2048, BN * 128, 1024), 1);
  wg_commit();
}
#endif

}  // namespace sm90

template <int D, int BM, int BN, int WARPS, int STAGES>
struct AttnFwdWGCfg {
  static constexpr int kThreads = WARPS * 32;
  static constexpr int kGroupThreads = 128;
  static constexpr int kNT = BN / 8, kKD = D / 16, kDT = D / 8, kKB = BN / 16, kCH = D / 8;
  static constexpr int kRowBytes = D * 2;              // Q rows (ldmatrix layout)
  static constexpr int kQBytes = BM * kRowBytes;
  static constexpr int kTileBytes = BN * D * 2;        // [D/64][BN][64]
  static constexpr int kHalfBytes = BN * 128;          // one 64-column block of a K/V tile
  static constexpr int kKOff = 0;                      // from the 1024-aligned base
  static constexpr int kVOff = STAGES * kTileBytes;
  static constexpr int kQOff = 2 * STAGES * kTileBytes;
  static constexpr int kBarOff = kQOff + kQBytes;      // fullK[S] fullV[S] emptyK[S] emptyV[S] Q[2]
  static constexpr int kSmemBytes = 1024 + kBarOff + (4 * STAGES + 2) * 8;
  static constexpr int kLdStep = kGroupThreads / kCH;
  static constexpr int kKVRows = BN / kLdStep;
  static constexpr int kQStep = 32 / kCH;
  static constexpr int kQRows = 16 / kQStep;

  MOGA_HD static constexpr int num_items(int N, int H, int B) { return ((N + BM - 1) / BM) * H * B; }

  static_assert(D == 64 || D == 128, "D in {64, 128}");
  static_assert(BN == 64 || BN == 128, "BN in {64, 128}");
  static_assert(BM == 128 && WARPS == 8, "two warpgroups of 64 rows");
  static_assert(STAGES >= 2, "STAGES >= 2");
  static_assert(kLdStep % 8 == 0 && BN % kLdStep == 0, "K/V copy mapping");
  static_assert(kSmemBytes <= 232448, "exceeds the 227 KB of shared memory a Hopper CTA can have");
};

// OPT (A/B switches; the runtime uses the default): bit 0: no ping-pong (the warpgroups issue their MMAs
// without passing a turn); bit 1: early copies (the copies are issued right after the MMAs, under the
// wait for them, so the gather-index loads hide behind the tensor cores; the V copier then runs one
// tile less ahead: V(c+STAGES-2) into the slot V(c-2) left in the previous phase, which keeps it from
// waiting on its own release); bit 2: row max and row sum as four independent chains each; bit 3: the
// gather indices of the next copy issue are loaded at the start of the phase, one row per lane, and
// handed to the copying threads by shuffles at the issue (the index loads' L2 latency then hides
// behind the MMAs and the softmax instead of stalling the copy issue at the end of the phase). Default:
// bit 3 (measured on the H100: grouped kernels 3-7% faster, docs/performance.md "v10").
constexpr int kAttnFwdWGDefaultOpt = 8;

template <class Variant, int D, int BM, int BN, int WARPS, int STAGES, int OPT = kAttnFwdWGDefaultOpt>
__global__ void __launch_bounds__(WARPS * 32, 1) attention_fwd_wg(const AttnParams p) {
#if defined(MOGA_HAS_WGMMA)
  using C = AttnFwdWGCfg<D, BM, BN, WARPS, STAGES>;
  constexpr int NT = C::kNT, KD = C::kKD, DT = C::kDT, KB = C::kKB, CH = C::kCH;
  constexpr int RB = C::kRowBytes, GT = C::kGroupThreads, NTH = C::kThreads;
  constexpr bool kQCoords = Variant::kHasMask || Variant::kHasBias;
  constexpr bool kTransform = Variant::kHasSoftcap || Variant::kHasBias;
  typedef unsigned short bf16_t;

  grid_dep_wait();  // launched with PDL behind the prep kernels or the previous branch (params.cuh)
  extern __shared__ __align__(128) unsigned char smem_wg_raw[];
  const unsigned sBase = (sm80::smem_u32(smem_wg_raw) + 1023u) & ~1023u;  // kSmemBytes has the slack
  const unsigned sK = sBase + C::kKOff, sV = sBase + C::kVOff, sQ = sBase + C::kQOff;
  const unsigned barFK = sBase + C::kBarOff, barFV = barFK + 8 * STAGES, barEK = barFK + 16 * STAGES,
                 barEV = barFK + 24 * STAGES, barQ = barFK + 32 * STAGES;

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int grp = warp >> 2;  // warpgroup: 0 copies K and leads, 1 copies V
  const int gtid = tid - grp * GT;
  const int N = p.N, H = p.H, NK = p.Nk > 0 ? p.Nk : p.N;  // NK != N: dense cross-attention (AttnParams::Nk)
  const int Tq = query_tiles(p, BM);
  const int n_items = Tq * H * p.B;
  const int n_kv_dense = (NK + BN - 1) / BN;
  const int G = gridDim.x;

  if (tid == 0) {
#pragma unroll 1
    for (int i = 0; i < 2 * STAGES; ++i) sm90::mbar_init(barFK + 8 * i, GT);
#pragma unroll 1
    for (int i = 2 * STAGES; i < 4 * STAGES; ++i) sm90::mbar_init(barFK + 8 * i, WARPS);
    sm90::mbar_init(barQ, GT);
    sm90::mbar_init(barQ + 8, GT);
    sm90::fence_mbar_init();
  }
  __syncthreads();

  auto item_info = [&](int it) { return work_item(p, it, Tq, BM, n_kv_dense); };

  // ---- producer: K (warpgroup 0) or V (warpgroup 1) tiles, STAGES-1 tiles ahead ------------------------
  const int ld_c = gtid % CH, ld_r = gtid / CH;
  const unsigned ld_soff = (ld_c >> 3) * C::kHalfBytes + ld_r * 128 + (((ld_c & 7) ^ (ld_r & 7)) << 4);
  const unsigned ring = grp ? sV : sK, ringfull = grp ? barFV : barFK, ringempty = grp ? barEV : barEK;
  const char* src_c = reinterpret_cast<const char*>(static_cast<const bf16_t*>(grp ? p.v : p.k) + ld_c * 8);
  const long long src_sb = grp ? p.v_sb : p.k_sb, src_sh = grp ? p.v_sh : p.k_sh;
  const unsigned src_rb = static_cast<unsigned>(grp ? p.v_sn : p.k_sn) * 2u;
  int pit = blockIdx.x, pj = 0, pslot = 0, pc = 0;
  WorkItem pI{0, 0, 0, 0, 0, nullptr, nullptr};
  if (pit < n_items) pI = item_info(pit);
  auto p_skip = [&]() {
    while (pit < n_items && pj >= pI.n_tot) {
      pit += G;
      pj = 0;
      if (pit < n_items) pI = item_info(pit);
    }
  };
  p_skip();
  // OPT bit 3: lane l of a warp holds the index of row (warp's first ld_r) + l % kRpw + (l / kRpw) * kLdStep,
  // i.e. exactly the BN/4 rows the warp copies (ld_r = (gtid / 32) * kRpw + lane / CH).
  constexpr bool kIdxEarly = (OPT & 8) != 0;
  constexpr int kRpw = 32 / CH;
  static_assert(C::kKVRows * kRpw <= 32, "one gather index per lane");
  unsigned p_idx = 0xffffffffu;
  auto p_load = [&]() {
    const int kv0 = pI.tile(pj) * BN;
    const int* pm = p.perm ? p.perm + (long long)pI.b * N : nullptr;
    const int il = lane / kRpw;
    const int s = kv0 + (gtid >> 5) * kRpw + lane % kRpw + il * C::kLdStep;
    p_idx = (il < C::kKVRows && s < NK) ? static_cast<unsigned>(pm ? __ldg(pm + s) : s) : 0xffffffffu;
  };
  auto p_issue = [&]() {
    const char* src = src_c + (pI.b * src_sb + pI.h * src_sh) * 2;
    const unsigned dst = ring + pslot * C::kTileBytes + ld_soff;
    unsigned t[C::kKVRows];
    if constexpr (kIdxEarly) {
#pragma unroll
      for (int i = 0; i < C::kKVRows; ++i) t[i] = __shfl_sync(0xffffffffu, p_idx, i * kRpw + lane / CH);
    } else {
      const int kv0 = pI.tile(pj) * BN;
      const int* pm = p.perm ? p.perm + (long long)pI.b * N : nullptr;
#pragma unroll
      for (int i = 0; i < C::kKVRows; ++i) {
        const int s = kv0 + ld_r + i * C::kLdStep;
        t[i] = s < NK ? static_cast<unsigned>(pm ? __ldg(pm + s) : s) : 0xffffffffu;
      }
    }
    if (pc >= STAGES) sm90::mbar_wait(ringempty + 8 * pslot, ((pc / STAGES) & 1) ^ 1);
#pragma unroll
    for (int i = 0; i < C::kKVRows; ++i) {
      const bool ok = t[i] != 0xffffffffu;
      sm80::cp_async16(dst + i * C::kLdStep * 128, src + static_cast<unsigned long long>(ok ? t[i] : 0u) * src_rb, ok);
    }
    sm90::cp_async_mbar_arrive(ringfull + 8 * pslot);
    pslot = pslot + 1 == STAGES ? 0 : pslot + 1;
    ++pc;
    ++pj;
    p_skip();
  };

  // ---- Q: each warp copies its own 16 rows (ldmatrix layout); one barrier per warpgroup ---------------
  const int qc_c = lane % CH, qc_r = lane / CH;
  auto q_issue = [&](int it) {
    const int qt = Tq - 1 - it % Tq;
    const int bh = it / Tq;
    const int hh = bh % H, bb = bh / H;
    const char* src =
        reinterpret_cast<const char*>(static_cast<const bf16_t*>(p.q) + bb * p.q_sb + hh * p.q_sh + qc_c * 8);
    const int* pm = p.perm ? p.perm + (long long)bb * N : nullptr;
    const unsigned rb = static_cast<unsigned>(p.q_sn) * 2u;
#pragma unroll
    for (int i = 0; i < C::kQRows; ++i) {
      const int r = warp * 16 + qc_r + i * C::kQStep;
      const int s = qt * BM + r;
      const int tok = s < N ? (pm ? __ldg(pm + s) : s) : -1;  // -1: past N, or padding of aligned groups
      const bool ok = tok >= 0;
      const unsigned t = ok ? static_cast<unsigned>(tok) : 0u;
      sm80::cp_async16(sQ + r * RB + ((qc_c ^ (r & 7)) << 4), src + static_cast<unsigned long long>(t) * rb, ok);
    }
    sm90::cp_async_mbar_arrive(barQ + 8 * grp);
  };

  if ((int)blockIdx.x < n_items) q_issue(blockIdx.x);
  constexpr bool kPingPong = !(OPT & 1), kEarly = (OPT & 2) != 0, kTree = (OPT & 4) != 0;
  // tiles ahead of the MMA stream: STAGES-1, except the V copier with early copies (STAGES-2)
  const int ahead = (kEarly && grp == 1) ? STAGES - 2 : STAGES - 1;
#pragma unroll 1
  for (int st = 0; st < ahead; ++st)
    if (pit < n_items) {
      if (kIdxEarly) p_load();
      p_issue();
    }
  if (kPingPong && grp == 1) sm90::named_arrive(1, NTH);

  const int xq = (lane >> 4) ^ (lane & 7);
  const unsigned q_lane = sQ + (warp * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * RB;
  const float sl = kTransform ? 1.f : p.scale_log2;
  const int row_base = warp * 16 + (lane >> 2);

  int cslot = 0;
  unsigned cpar = 0, qpar = 0;

#pragma unroll 1
  for (int cit = blockIdx.x; cit < n_items; cit += G) {
    const WorkItem I = item_info(cit);
    const int* perm = p.perm ? p.perm + (long long)I.b * N : nullptr;
    const int* gid = p.gid ? p.gid + (long long)I.b * N : nullptr;
    const int nxt = cit + G;

    Coords<int> qc[2];
    int qgid[2];  // the row's group id; with aligned groups (p.seg_end) the end of the row's group instead
    row_keys<kQCoords>(p, perm, gid, I, row_base, qgid, qc);

    sm90::mbar_wait(barQ + 8 * grp, qpar);
    qpar ^= 1u;
    unsigned qf[KD][4];
    if (I.n_tot > 0) {
#pragma unroll
      for (int ks = 0; ks < KD; ++ks) sm80::ldsm_x4(q_lane + (((2 * ks) ^ xq) << 4), qf[ks]);
    } else {
#pragma unroll
      for (int ks = 0; ks < KD; ++ks)
#pragma unroll
        for (int e = 0; e < 4; ++e) qf[ks][e] = 0u;
      if (nxt < n_items) q_issue(nxt);
    }

    float oacc[D / 2];  // [dt][e] at 4*dt + e
    float sacc[BN / 2];  // [nt][e] at 4*nt + e
    float mrow[2], lrow[2], alpha[2];
    unsigned pk[KB][4];
    init_tile_state<D, BN>(oacc, sacc, mrow, lrow, alpha, pk);
    int vslot = 0;
    unsigned vpar = 0;

    auto phase = [&](int j, const bool kPV, const bool kQK) {
      if (kIdxEarly && kQK && pit < n_items) p_load();  // this phase's copy issue, OPT bit 3
      const int ti = kQK ? I.tile(j) : 0;
      if (kQK) sm90::mbar_wait(barFK + 8 * cslot, cpar);
      if (kPV) sm90::mbar_wait(barFV + 8 * vslot, vpar);
      sm90::fence_proxy_async();
      if (kPingPong) sm90::named_sync(1 + grp, NTH);
      sm90::wg_fence();
      if (kQK) sm90::issue_qk<D, BN>(sacc, qf, sK + cslot * C::kTileBytes);
      if (kPV) sm90::issue_pv<D, BN>(oacc, pk, sV + vslot * C::kTileBytes);
      if (kPingPong) sm90::named_arrive(2 - grp, NTH);
      if (kEarly && kQK && pit < n_items) p_issue();

      if (kQK) {
        if (kPV) sm90::wg_wait<1>();
        else sm90::wg_wait<0>();
        sm90::fence_regs(sacc);
        if (lane == 0) sm90::mbar_arrive(barEK + 8 * cslot);
        if (j == 0 && nxt < n_items) q_issue(nxt);  // this warp's Q fragments were consumed by the wgmma

        // ---- per-element work: partial tiles, the ragged last tile, softcap / bias ----
        const int kv0 = ti * BN;
        const bool partial = j >= I.n_full;
        if (kTransform || partial || kv0 + BN > NK)
          score_tile<Variant, NT>(sacc, p, perm, gid, kv0, NK, partial, qgid, qc, I.h, lane);

        // ---- online softmax (fp32, base 2), overlapping the P.V of the previous tile ----
        online_softmax<NT, kTree>(sacc, mrow, lrow, alpha, sl);
      }
      if (kPV) {
        sm90::wg_wait<0>();
        sm90::fence_regs(oacc);
        if (lane == 0) sm90::mbar_arrive(barEV + 8 * vslot);
      }
      if (kQK) {
        // copies of tile c+STAGES-1 into the slot of tile c-1 (after this warp released V(c-1): the V
        // copier waits for all eight releases)
        if (!kEarly && pit < n_items) p_issue();
        rescale_and_pack<DT, KB>(oacc, alpha, sacc, pk);
        vslot = cslot;
        vpar = cpar;
        if (++cslot == STAGES) {
          cslot = 0;
          cpar ^= 1u;
        }
      }
    };

    if (I.n_tot > 0) {
      phase(0, false, true);
#pragma unroll 1
      for (int j = 1; j < I.n_tot; ++j) phase(j, true, true);
      phase(I.n_tot, true, false);
    }

    store_rows<DT>(p, oacc, lrow, I, perm, row_base, lane);  // rows past N and padding are not written
  }
  if (kPingPong && grp == 0) sm90::named_sync(1, NTH);
#else
  (void)p;
  __trap();  // needs sm_90a
#endif
}

}  // namespace moga
