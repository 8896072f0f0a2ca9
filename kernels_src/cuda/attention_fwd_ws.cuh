// Forward attention on Hopper, warp-specialized (v11): v10 (attention_fwd_wg.cuh) with the copies taken
// off the consumers. Three warpgroups: warpgroup 0 is the producer (setmaxnreg down to kProducerRegs) and
// issues every copy (Q per item, K and V per key tile, gathered through perm when the branch has one) as
// cp.async into the same smem rings, signalled on the same mbarriers; warpgroups 1 and 2 are the two
// ping-pong consumers of v10 (setmaxnreg up to kConsumerRegs), each 64 query rows, doing only waits,
// wgmma, the per-element pass, softmax and the epilogue.
//
// Why (docs/performance.md "v11"): ncu on v10 showed the tensor pipe at ~46% with the consumers' critical
// path after their QK (softmax, rescale, pack, the gather-index loads and 16 cp.async per thread and
// tile, their address arithmetic) twice as long as the other warpgroup's MMAs. FA3 takes the copies
// off that path with a producer warpgroup; Hopper's TMA cannot gather rows, so ours copies with
// cp.async, which also serves the routed kernels' permutation.
//
//   template <class Variant, int D, int BM, int BN, int STAGES, int OPT>
//   __global__ void attention_fwd_ws(moga::AttnParams p);   BM = 128, BN = 128, 384 threads,
//        grid and items as attention_fwd_wg (any G >= 1, CTA c takes items c, c+G, ...),
//        AttnFwdWSCfg<...>::kSmemBytes dynamic smem (attention_fwd_wg's + the item ring). sm_90a only.
//        p.item_counter (two ints, zero before the first launch; the kernel leaves them zero): dynamic
//        scheduling of the items over a persistent grid; nullptr: the static round-robin.
//
// Producer order per item: Q (after both consumer warpgroups read the previous item's Q: barrier QE),
// then for each key tile K and V into the next ring slot (after the consumers released the tile that
// used it STAGES tiles earlier). Items without key tiles are skipped by both sides (output 0).
// OPT (A/B switch; the runtime uses the default 0): bit 0: no ping-pong between the consumers (as
// attention_fwd_wg's bit 0). Measured and removed again (v11, within +-2.5%, docs/performance.md):
// wgmma descriptors as one base plus constants, and four-chain row max / row sum.
// NVRTC-compatible: no host standard headers.
#pragma once
#include "attention_fwd_wg.cuh"
#include "wg_common.cuh"

namespace moga {
namespace sm90 {
template <int R>
__device__ __forceinline__ void setmaxnreg_inc() {
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(R));
}
template <int R>
__device__ __forceinline__ void setmaxnreg_dec() {
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(R));
}
__device__ __forceinline__ void cp_async_wait_all() { asm volatile("cp.async.wait_all;\n" ::: "memory"); }
}  // namespace sm90

template <int D, int BM, int BN, int STAGES>
struct AttnFwdWSCfg : AttnFwdWGCfg<D, BM, BN, 8, STAGES> {  // the smem layout of attention_fwd_wg, plus:
  using Base = AttnFwdWGCfg<D, BM, BN, 8, STAGES>;
  static constexpr int kThreads = 384;                    // producer warpgroup + two consumers
  // the dynamic scheduler's ring of item ids: kRing ids, then full[kRing] and empty[kRing] mbarriers
  static constexpr int kRing = 4;
  static constexpr int kRingOff = Base::kBarOff + (4 * STAGES + 2) * 8;
  static constexpr int kSmemBytes = 1024 + kRingOff + kRing * 4 + 2 * kRing * 8;
  static_assert(kSmemBytes <= 232448, "exceeds the 227 KB of shared memory a Hopper CTA can have");
  static constexpr int kConsumerThreads = 256;
  // 56 * 128 + 224 * 256 = 64,512 of the SM's 65,536 registers (multiples of 8); the consumers' loop
  // needs 216 (v11, nvcc 13.0), the producer spills below 56
  static constexpr int kProducerRegs = 56, kConsumerRegs = 224;
};

constexpr int kAttnFwdWSDefaultOpt = 0;

template <class Variant, int D, int BM, int BN, int STAGES, int OPT = kAttnFwdWSDefaultOpt>
__global__ void __launch_bounds__(384, 1) attention_fwd_ws(const AttnParams p) {
#if defined(MOGA_HAS_WGMMA)
  using C = AttnFwdWSCfg<D, BM, BN, STAGES>;
  constexpr int NT = C::kNT, KD = C::kKD, DT = C::kDT, KB = C::kKB, CH = C::kCH;
  constexpr int RB = C::kRowBytes, NTH = C::kConsumerThreads;
  constexpr bool kQCoords = Variant::kHasMask || Variant::kHasBias;
  constexpr bool kTransform = Variant::kHasSoftcap || Variant::kHasBias;
  constexpr bool kPingPong = !(OPT & 1);
  typedef unsigned short bf16_t;

  grid_dep_wait();  // launched with PDL behind the prep kernels or the previous branch (params.cuh)
  extern __shared__ __align__(128) unsigned char smem_ws_raw[];
  const unsigned sBase = (sm80::smem_u32(smem_ws_raw) + 1023u) & ~1023u;  // kSmemBytes has the slack
  const unsigned sK = sBase + C::kKOff, sV = sBase + C::kVOff, sQ = sBase + C::kQOff;
  const unsigned barFK = sBase + C::kBarOff, barFV = barFK + 8 * STAGES, barEK = barFK + 16 * STAGES,
                 barEV = barFK + 24 * STAGES, barQ = barFK + 32 * STAGES, barQE = barQ + 8;
  const unsigned sRing = sBase + C::kRingOff, barRF = sRing + C::kRing * 4, barRE = barRF + 8 * C::kRing;

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int N = p.N, H = p.H, NK = p.Nk > 0 ? p.Nk : p.N;  // NK != N: dense cross-attention (AttnParams::Nk)
  const int Tq = query_tiles(p, BM);
  const int n_items = Tq * H * p.B;
  const int n_kv_dense = (NK + BN - 1) / BN;
  const int G = gridDim.x;
  // Dynamic scheduling (p.item_counter): CTA c starts with item c; whenever its producer starts an item it
  // claims the next unclaimed one (G + an atomic counter; the atomic's latency hides behind the item's
  // copies) and, after issuing the item's copies, hands the claimed id to its own threads and, through a
  // ring in shared memory, to the consumers. Otherwise items c, c + G, ...
  int* const ctr = p.item_counter;

  if (tid == 0) {
#pragma unroll 1
    for (int i = 0; i < 2 * STAGES; ++i) sm90::mbar_init(barFK + 8 * i, 128);   // producer cp.async arrivals
#pragma unroll 1
    for (int i = 2 * STAGES; i < 4 * STAGES; ++i) sm90::mbar_init(barFK + 8 * i, 8);  // consumer warps
    sm90::mbar_init(barQ, 128);
    sm90::mbar_init(barQE, 8);
#pragma unroll 1
    for (int i = 0; i < C::kRing; ++i) {
      sm90::mbar_init(barRF + 8 * i, 1);  // the producer's thread 0 publishes an item id
      sm90::mbar_init(barRE + 8 * i, 8);  // every consumer warp has read it
    }
    sm90::fence_mbar_init();
  }
  __syncthreads();  // the last CTA-wide barrier: the roles part here

  auto item_info = [&](int it) { return work_item(p, it, Tq, BM, n_kv_dense); };

  if (warp < 4) {
    // ================================ producer ================================================
    sm90::setmaxnreg_dec<C::kProducerRegs>();
    // thread t copies 16-byte chunk t % CH of rows t / CH + kStep i (i < kRows) of every Q, K and V tile
    // (kStep = 8 rows at D = 128, 16 at D = 64: a multiple of 8, so row r0's swizzle serves all of them)
    const int c = tid % CH, r0 = tid / CH;
    const unsigned soff = (c >> 3) * C::kHalfBytes + r0 * 128 + (((c & 7) ^ (r0 & 7)) << 4);  // K/V rows
    const unsigned qoff = r0 * RB + ((c ^ (r0 & 7)) << 4);                                   // Q rows
    constexpr int kRows = C::kKVRows, kStep = C::kLdStep;
    static_assert(kStep % 8 == 0 && BM / kStep == kRows, "Q and K/V tiles split alike");
    int slot = 0, cnt = 0, rcnt = 0;
    unsigned qe_par = 1;  // the first Q needs no release
    int claimed = 0;      // thread 0: the item claimed when the current one started (its latency hides)
    auto next_item = [&](int it) -> int {
      if (!ctr) return it + G;
      const int rs = rcnt % C::kRing;
      if (tid == 0) {
        if (rcnt >= C::kRing) sm90::mbar_wait(barRE + 8 * rs, ((rcnt / C::kRing) & 1) ^ 1);
        const int nx = claimed;
        asm volatile("st.shared.b32 [%0], %1;\n" ::"r"(sRing + 4 * rs), "r"(nx) : "memory");
        sm90::mbar_arrive(barRF + 8 * rs);  // release: the consumers read the id after their wait
      }
      sm90::named_sync(3, 128);  // the producer's threads read it too (the slot is rewritten kRing ids later)
      int nx;
      asm volatile("ld.shared.b32 %0, [%1];\n" : "=r"(nx) : "r"(sRing + 4 * rs) : "memory");
      ++rcnt;
      return nx;
    };
#pragma unroll 1
    for (int it = blockIdx.x; it < n_items; it = next_item(it)) {
      if (ctr && tid == 0) claimed = G + atomicAdd(ctr, 1);
      const WorkItem I = item_info(it);
      if (I.n_tot == 0) continue;
      const int* pm = p.perm ? p.perm + (long long)I.b * N : nullptr;
      {  // Q
        const char* src = reinterpret_cast<const char*>(static_cast<const bf16_t*>(p.q) + I.b * p.q_sb +
                                                        I.h * p.q_sh + c * 8);
        const unsigned rb = static_cast<unsigned>(p.q_sn) * 2u;
        int tok[kRows];
#pragma unroll
        for (int i = 0; i < kRows; ++i) {
          const int s = I.q0 + r0 + i * kStep;
          tok[i] = s < N ? (pm ? __ldg(pm + s) : s) : -1;  // -1: past N, or padding of aligned groups
        }
        sm90::mbar_wait(barQE, qe_par);
        qe_par ^= 1u;
#pragma unroll
        for (int i = 0; i < kRows; ++i)
          sm80::cp_async16(sQ + qoff + i * kStep * RB,
                           src + static_cast<unsigned long long>(tok[i] >= 0 ? tok[i] : 0) * rb, tok[i] >= 0);
        sm90::cp_async_mbar_arrive(barQ);
      }
      const long long kb_off = (I.b * p.k_sb + I.h * p.k_sh) * 2, vb_off = (I.b * p.v_sb + I.h * p.v_sh) * 2;
      const char* ksrc = reinterpret_cast<const char*>(static_cast<const bf16_t*>(p.k) + c * 8) + kb_off;
      const char* vsrc = reinterpret_cast<const char*>(static_cast<const bf16_t*>(p.v) + c * 8) + vb_off;
      const unsigned krb = static_cast<unsigned>(p.k_sn) * 2u, vrb = static_cast<unsigned>(p.v_sn) * 2u;
#pragma unroll 1
      for (int j = 0; j < I.n_tot; ++j) {
        const int kv0 = I.tile(j) * BN;
        int tok[kRows];
#pragma unroll
        for (int i = 0; i < kRows; ++i) {
          const int s = kv0 + r0 + i * kStep;
          tok[i] = s < NK ? (pm ? __ldg(pm + s) : s) : -1;
        }
        const unsigned par = ((cnt / STAGES) & 1) ^ 1;
        // into this slot of ring (K or V) once its tile of STAGES tiles ago was released (barrier empty)
        auto copy = [&](unsigned ring, unsigned full, unsigned empty, const char* src, unsigned rb) {
          if (cnt >= STAGES) sm90::mbar_wait(empty + 8 * slot, par);
          const unsigned dst = ring + slot * C::kTileBytes + soff;
#pragma unroll
          for (int i = 0; i < kRows; ++i)
            sm80::cp_async16(dst + i * kStep * 128, src + static_cast<unsigned long long>(tok[i] >= 0 ? tok[i] : 0) * rb,
                             tok[i] >= 0);
          sm90::cp_async_mbar_arrive(full + 8 * slot);
        };
        copy(sK, barFK, barEK, ksrc, krb);
        copy(sV, barFV, barEV, vsrc, vrb);
        slot = slot + 1 == STAGES ? 0 : slot + 1;
        ++cnt;
      }
    }
    if (ctr && tid == 0) {  // the last CTA to finish claiming resets the counter for the next launch
      __threadfence();
      if (atomicAdd(ctr + 1, 1) == G - 1) {
        ctr[0] = 0;
        ctr[1] = 0;
      }
    }
    sm90::cp_async_wait_all();
    return;
  }

  // ================================ consumers ===================================================
  sm90::setmaxnreg_inc<C::kConsumerRegs>();
  const int cw = warp - 4;   // consumer warp 0..7: rows 16 cw .. 16 cw + 15 of the tile
  const int grp = cw >> 2;   // consumer warpgroup: 0 leads the ping-pong
  if (kPingPong && grp == 1) sm90::named_arrive(1, NTH);

  const int xq = (lane >> 4) ^ (lane & 7);
  const unsigned q_lane = sQ + (cw * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * RB;
  const float sl = kTransform ? 1.f : p.scale_log2;
  const int row_base = cw * 16 + (lane >> 2);

  int cslot = 0, rcnt = 0;
  unsigned cpar = 0, qpar = 0;
  auto next_item = [&](int cit) -> int {  // the id the producer published after item cit
    if (!ctr) return cit + G;
    const int rs = rcnt % C::kRing;
    sm90::mbar_wait(barRF + 8 * rs, (rcnt / C::kRing) & 1);
    int nx;
    asm volatile("ld.shared.b32 %0, [%1];\n" : "=r"(nx) : "r"(sRing + 4 * rs) : "memory");
    __syncwarp();
    if (lane == 0) sm90::mbar_arrive(barRE + 8 * rs);
    ++rcnt;
    return nx;
  };

#pragma unroll 1
  for (int cit = blockIdx.x; cit < n_items; cit = next_item(cit)) {
    const WorkItem I = item_info(cit);
    const int* perm = p.perm ? p.perm + (long long)I.b * N : nullptr;
    const int* gid = p.gid ? p.gid + (long long)I.b * N : nullptr;

    Coords<int> qc[2];
    int qgid[2];  // the row's group id; with aligned groups (p.seg_end) the end of the row's group instead
    row_keys<kQCoords>(p, perm, gid, I, row_base, qgid, qc);

    unsigned qf[KD][4];
    if (I.n_tot > 0) {
      sm90::mbar_wait(barQ, qpar);
      qpar ^= 1u;
#pragma unroll
      for (int ks = 0; ks < KD; ++ks) sm80::ldsm_x4(q_lane + (((2 * ks) ^ xq) << 4), qf[ks]);
      __syncwarp();
      if (lane == 0) sm90::mbar_arrive(barQE);  // this warp's Q rows are in registers
    } else {
#pragma unroll
      for (int ks = 0; ks < KD; ++ks)
#pragma unroll
        for (int e = 0; e < 4; ++e) qf[ks][e] = 0u;
    }

    float oacc[D / 2];  // [dt][e] at 4*dt + e
    float sacc[BN / 2];  // [nt][e] at 4*nt + e
    float mrow[2], lrow[2], alpha[2];
    unsigned pk[KB][4];
    init_tile_state<D, BN>(oacc, sacc, mrow, lrow, alpha, pk);
    int vslot = 0;
    unsigned vpar = 0;

    auto phase = [&](int j, const bool kPV, const bool kQK) {
      const int ti = kQK ? I.tile(j) : 0;
      if (kQK) sm90::mbar_wait(barFK + 8 * cslot, cpar);
      if (kPV) sm90::mbar_wait(barFV + 8 * vslot, vpar);
      sm90::fence_proxy_async();
      if (kPingPong) sm90::named_sync(1 + grp, NTH);
      sm90::wg_fence();
      if (kQK) sm90::issue_qk<D, BN>(sacc, qf, sK + cslot * C::kTileBytes);
      if (kPV) sm90::issue_pv<D, BN>(oacc, pk, sV + vslot * C::kTileBytes);
      if (kPingPong) sm90::named_arrive(2 - grp, NTH);

      if (kQK) {
        if (kPV) sm90::wg_wait<1>();
        else sm90::wg_wait<0>();
        sm90::fence_regs(sacc);
        if (lane == 0) sm90::mbar_arrive(barEK + 8 * cslot);

        // ---- per-element work: partial tiles, the ragged last tile, softcap / bias ----
        const int kv0 = ti * BN;
        const bool partial = j >= I.n_full;
        if (kTransform || partial || kv0 + BN > NK)
          score_tile<Variant, NT>(sacc, p, perm, gid, kv0, NK, partial, qgid, qc, I.h, lane);

        // ---- online softmax (fp32, base 2), overlapping the P.V of the previous tile ----
        online_softmax<NT, false>(sacc, mrow, lrow, alpha, sl);
      }
      if (kPV) {
        sm90::wg_wait<0>();
        sm90::fence_regs(oacc);
        if (lane == 0) sm90::mbar_arrive(barEV + 8 * vslot);
      }
      if (kQK) {
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
