// Forward attention, ping-pong variant (v8), kept for reference: measured 3-5% slower than v7 on dense
// and much slower persistent on grouped/causal (docs/performance.md v8); use attention_fwd (v7) or, on
// sm_90a, attention_fwd_wg (v9, which reuses this kernel's sm90 helpers and frame).
// The same math, parameters and results as attention_fwd
// (attention_fwd.cuh), with the CTA-wide barrier per key tile replaced by FA3's ping-pong of two warp
// groups and a persistent loop over work items.
//
//   template <class Variant, int D, int BM, int BN, int WARPS, int STAGES>
//   __global__ void attention_fwd_pp(moga::AttnParams p);   grid (G, 1, 1) with any G >= 1,
//        WARPS*32 threads, AttnFwdPPCfg<...>::kSmemBytes dynamic smem (needs the opt-in attribute).
//   Work items are (batch, head, query tile) triples, AttnFwdPPCfg<...>::num_items(N, H, B) of them;
//   CTA c processes items c, c + G, c + 2G, ... (query tiles in descending order within a head, so
//   that causal maps hand out the longest items first). Recommended G = min(items, #SMs): one CTA per
//   SM (kSmemBytes > 113 KB at the recommended configurations), persistent. G = items is the plain
//   one-item-per-CTA launch.
//
// Structure (differences from attention_fwd; fragments, swizzle, gather and masking are the same):
//  * warps 0..WARPS/2-1 form group 0, the others group 1; warp w and warp w + WARPS/2 share a
//    scheduler (w % 4), one from each group. Each warp owns 16*MT query rows of the BM-row tile.
//  * a group's "MMA phase" for tile j is O += P(j-1) V(j-1) followed by S = Q K(j)^T; the softmax of
//    S(j) (mask, max, exp, rescale of O, packing of P(j)) follows outside the phase. Two named
//    barriers pass a turn: group g waits on barrier 1+g before its MMA phase and arrives on the
//    other's after it, so one group's softmax runs while the other issues its MMAs (group 0 leads).
//  * K/V tiles stream through STAGES slots each, loaded with cp.async STAGES-1 tiles ahead; group 0
//    copies the K tiles, group 1 the V tiles; completion is signalled per slot on an mbarrier
//    (cp.async.mbarrier.arrive.noinc), no CTA barrier. A slot is refilled only by the group whose
//    turn order proves that both groups are done with it: tile c+STAGES-1 goes into the slot of tile
//    c-1, issued after the issuing group's MMA phase of tile c; K(c-1) was last read in group 1's
//    previous phase (before group 0's current turn), V(c-1) in both groups' current phases (group 1
//    issues the V copies after its own).
//  * the K/V stream runs on across items (the copies of the next item's first tiles are issued
//    during the current item), each warp loads its own Q rows of the next item as soon as the Q
//    fragments of the current one have been used, and the epilogue writes bf16 pairs straight from
//    the accumulators (no staging, no barrier): consecutive items run back to back.
// Requirements: those of attention_fwd, plus MT*D <= 128 (Q fragments in registers), WARPS even.
// NVRTC-compatible: no host standard headers.
#pragma once
#include "mma_sm80.cuh"
#include "params.cuh"
#include "score_mask.cuh"
#include "wg_common.cuh"

namespace moga {
namespace sm90 {

__device__ __forceinline__ void mbar_init(unsigned addr, unsigned count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(addr), "r"(count) : "memory");
}
__device__ __forceinline__ void fence_mbar_init() {
  asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
}
// Arrive on the mbarrier once every cp.async this thread issued so far has completed (the pending
// count is not incremented: the barrier's expected count includes this arrival).
__device__ __forceinline__ void cp_async_mbar_arrive(unsigned addr) {
  asm volatile("cp.async.mbarrier.arrive.noinc.shared::cta.b64 [%0];\n" ::"r"(addr) : "memory");
}
__device__ __forceinline__ bool mbar_try_wait(unsigned addr, unsigned parity) {
  unsigned ok;
  asm volatile(
      "{\n .reg .pred p;\n mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n selp.u32 %0, 1, 0, p;\n}\n"
      : "=r"(ok)
      : "r"(addr), "r"(parity)
      : "memory");
  return ok != 0;
}
__device__ __forceinline__ void mbar_wait(unsigned addr, unsigned parity) {
  while (!mbar_try_wait(addr, parity)) {
  }
}
__device__ __forceinline__ void named_sync(int id, int count) {
  asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(count) : "memory");
}
__device__ __forceinline__ void named_arrive(int id, int count) {
  asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(count) : "memory");
}

}  // namespace sm90

template <int D, int BM, int BN, int WARPS, int STAGES>
struct AttnFwdPPCfg {
  static constexpr int kThreads = WARPS * 32;
  static constexpr int kGroupWarps = WARPS / 2;
  static constexpr int kGroupThreads = kGroupWarps * 32;
  static constexpr int kMT = BM / (16 * WARPS);  // 16-row m-tiles per warp
  static constexpr int kNT = BN / 8;
  static constexpr int kKD = D / 16;
  static constexpr int kDT = D / 8;
  static constexpr int kKB = BN / 16;
  static constexpr int kCH = D / 8;  // 16-byte chunks per row
  static constexpr int kRowBytes = D * 2;
  static constexpr int kQBytes = BM * kRowBytes;
  static constexpr int kTileBytes = BN * kRowBytes;
  static constexpr int kKOff = kQBytes;                           // K slots
  static constexpr int kVOff = kQBytes + STAGES * kTileBytes;     // V slots
  static constexpr int kBarOff = kQBytes + 2 * STAGES * kTileBytes;  // full K[S], full V[S], Q[WARPS]
  static constexpr int kSmemBytes = kBarOff + (2 * STAGES + WARPS) * 8;
  static constexpr int kLdStep = kGroupThreads / kCH;  // K/V rows between one thread's copies
  static constexpr int kKVRows = BN / kLdStep;         // copies per thread and tile
  static constexpr int kQStep = 32 / kCH;              // Q rows per warp-wide copy
  static constexpr int kQRows = 16 * kMT / kQStep;     // Q copies per thread and item

  MOGA_HD static constexpr int num_items(int N, int H, int B) { return ((N + BM - 1) / BM) * H * B; }

  static_assert(D % 64 == 0, "D must be a multiple of 64 (swizzle spans 8 chunks)");
  static_assert(WARPS % 2 == 0 && WARPS >= 2, "two warp groups");
  static_assert(BM % (16 * WARPS) == 0 && kMT >= 1, "BM must be a multiple of 16*WARPS");
  static_assert(kMT * D <= 128, "Q fragments must fit in registers (MT*D <= 128)");
  static_assert(BN % 16 == 0, "BN must be a multiple of 16");
  static_assert(STAGES >= 2, "STAGES >= 2");
  static_assert(kGroupThreads % kCH == 0 && kLdStep % 8 == 0 && BN % kLdStep == 0, "K/V copy mapping");
  static_assert(kCH <= 32 && 32 % kCH == 0 && (16 * kMT) % kQStep == 0, "Q copy mapping");
  static_assert(kSmemBytes <= 232448, "exceeds the 227 KB of shared memory a Hopper CTA can have");
};

template <class Variant, int D, int BM, int BN, int WARPS, int STAGES>
__global__ void __launch_bounds__(WARPS * 32, 1) attention_fwd_pp(const AttnParams p) {
  using C = AttnFwdPPCfg<D, BM, BN, WARPS, STAGES>;
  constexpr int MT = C::kMT, NT = C::kNT, KD = C::kKD, DT = C::kDT, KB = C::kKB, CH = C::kCH;
  constexpr int RB = C::kRowBytes, GW = C::kGroupWarps, GT = C::kGroupThreads, NTH = C::kThreads;
  constexpr bool kQCoords = Variant::kHasMask || Variant::kHasBias;
  constexpr bool kTransform = Variant::kHasSoftcap || Variant::kHasBias;
  typedef unsigned short bf16_t;

  extern __shared__ __align__(128) unsigned char smem_raw[];
  const unsigned sQ = sm80::smem_u32(smem_raw);
  const unsigned sK = sQ + C::kKOff, sV = sQ + C::kVOff;
  const unsigned barK = sQ + C::kBarOff, barV = barK + 8 * STAGES, barQ = barK + 16 * STAGES;

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int grp = warp / GW;  // 0: copies K, leads the ping-pong; 1: copies V
  const int gtid = tid - grp * GT;
  const int N = p.N, H = p.H;
  const int Tq = (N + BM - 1) / BM;
  const int n_items = Tq * H * p.B;
  const int n_kv_dense = (N + BN - 1) / BN;
  const int G = gridDim.x;

  if (tid == 0) {
#pragma unroll 1
    for (int i = 0; i < 2 * STAGES; ++i) sm90::mbar_init(barK + 8 * i, GT);
#pragma unroll 1
    for (int i = 0; i < WARPS; ++i) sm90::mbar_init(barQ + 8 * i, 32);
    sm90::fence_mbar_init();
  }
  __syncthreads();

  // ---- work items -----------------------------------------------------------------------------------
  auto item_info = [&](int it) { return work_item(p, it, Tq, BM, n_kv_dense); };

  // ---- producer: this thread's share of the K (group 0) or V (group 1) tiles, STAGES-1 tiles ahead ----
  const int ld_c = gtid % CH, ld_r = gtid / CH;
  const unsigned ld_soff = ld_r * RB + ((ld_c ^ (ld_r & 7)) << 4);
  const unsigned ring = grp ? sV : sK, ringbar = grp ? barV : barK;
  const char* src_c = reinterpret_cast<const char*>(static_cast<const bf16_t*>(grp ? p.v : p.k) + ld_c * 8);
  const long long src_sb = grp ? p.v_sb : p.k_sb, src_sh = grp ? p.v_sh : p.k_sh;
  const unsigned src_rb = static_cast<unsigned>(grp ? p.v_sn : p.k_sn) * 2u;
  int pit = blockIdx.x, pj = 0, pslot = 0;
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
  auto p_issue = [&]() {
    const int kv0 = pI.tile(pj) * BN;
    const char* src = src_c + (pI.b * src_sb + pI.h * src_sh) * 2;
    const int* pm = p.perm ? p.perm + (long long)pI.b * N : nullptr;
    const unsigned dst = ring + pslot * C::kTileBytes + ld_soff;
#pragma unroll
    for (int i = 0; i < C::kKVRows; ++i) {
      const int s = kv0 + ld_r + i * C::kLdStep;
      const bool ok = s < N;
      const unsigned t = ok ? static_cast<unsigned>(pm ? __ldg(pm + s) : s) : 0u;
      sm80::cp_async16(dst + i * C::kLdStep * RB, src + static_cast<unsigned long long>(t) * src_rb, ok);
    }
    sm90::cp_async_mbar_arrive(ringbar + 8 * pslot);
    pslot = pslot + 1 == STAGES ? 0 : pslot + 1;
    ++pj;
    p_skip();
  };

  // ---- Q: each warp copies its own rows of an item --------------------------------------------------
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
      const int r = warp * 16 * MT + qc_r + i * C::kQStep;
      const int s = qt * BM + r;
      const bool ok = s < N;
      const unsigned t = ok ? static_cast<unsigned>(pm ? __ldg(pm + s) : s) : 0u;
      sm80::cp_async16(sQ + r * RB + ((qc_c ^ (r & 7)) << 4), src + static_cast<unsigned long long>(t) * rb, ok);
    }
    sm90::cp_async_mbar_arrive(barQ + 8 * warp);
  };

  // prologue: Q of the first item, the first STAGES-1 tiles of the stream, group 0 gets the first turn
  if ((int)blockIdx.x < n_items) q_issue(blockIdx.x);
#pragma unroll 1
  for (int st = 0; st < STAGES - 1; ++st)
    if (pit < n_items) p_issue();
  if (grp == 1) sm90::named_arrive(1, NTH);

  // ---- consumer constants ---------------------------------------------------------------------------
  const int xq = (lane >> 4) ^ (lane & 7);
  const unsigned q_lane = sQ + (warp * 16 * MT + (lane & 7) + ((lane >> 3) & 1) * 8) * RB;
  const unsigned k_lane = ((lane >> 4) * 8 + (lane & 7)) * RB;
  const int xk = ((lane >> 3) & 1) ^ (lane & 7);
  const unsigned v_lane = (((lane >> 3) & 1) * 8 + (lane & 7)) * RB;
  const int xv = (lane >> 4) ^ (lane & 7);
  const float sl = kTransform ? 1.f : p.scale_log2;
  const int row_base = warp * 16 * MT + (lane >> 2);  // accumulator row of [mt][.][2*hr+e]: + mt*16 + 8*hr

  int cslot = 0;  // slot of the next tile to multiply with Q (global stream position mod STAGES)
  unsigned cpar = 0, qpar = 0;

#pragma unroll 1
  for (int cit = blockIdx.x; cit < n_items; cit += G) {
    const WorkItem I = item_info(cit);
    const int* perm = p.perm ? p.perm + (long long)I.b * N : nullptr;
    const int* gid = p.gid ? p.gid + (long long)I.b * N : nullptr;
    const int nxt = cit + G;

    Coords<int> qc[MT][2];
    int qgid[MT][2];
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
      for (int hr = 0; hr < 2; ++hr) {
        const int qs = I.q0 + row_base + mt * 16 + hr * 8;
        const bool ok = qs < N;
        qgid[mt][hr] = row_key(p, gid, I.b, qs, ok);
        if constexpr (kQCoords) {
          const int t = ok ? (perm ? __ldg(perm + qs) : qs) : 0;
          qc[mt][hr] = coords_of(t, p.shape);
        }
      }

    sm90::mbar_wait(barQ + 8 * warp, qpar);
    qpar ^= 1u;
    unsigned qf[MT][KD][4];
    if (I.n_tot > 0) {
#pragma unroll
      for (int mt = 0; mt < MT; ++mt)
#pragma unroll
        for (int ks = 0; ks < KD; ++ks)
          sm80::ldsm_x4(q_lane + mt * 16 * RB + (((2 * ks) ^ xq) << 4), qf[mt][ks]);
    } else {
#pragma unroll
      for (int mt = 0; mt < MT; ++mt)
#pragma unroll
        for (int ks = 0; ks < KD; ++ks)
#pragma unroll
          for (int e = 0; e < 4; ++e) qf[mt][ks][e] = 0u;
      if (nxt < n_items) q_issue(nxt);
    }

    float o[MT][DT][4];
    float mrow[MT][2], lrow[MT][2];
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
      for (int dt = 0; dt < DT; ++dt)
#pragma unroll
        for (int e = 0; e < 4; ++e) o[mt][dt][e] = 0.f;
#pragma unroll
      for (int hr = 0; hr < 2; ++hr) {
        mrow[mt][hr] = sm80::neg_inf();
        lrow[mt][hr] = 0.f;
      }
    }
    unsigned pk[MT][KB][4];  // P of the previous tile, bf16 pairs (A fragments of P.V)
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
      for (int kb = 0; kb < KB; ++kb)
#pragma unroll
        for (int e = 0; e < 4; ++e) pk[mt][kb][e] = 0u;
    int vslot = 0;
    unsigned vpar = 0;

    // One phase: [wait for data and the turn] PV(j-1), QK(j) [pass the turn] copies, softmax(j).
    // Called with literal flags at three sites and inlined: kPV / kQK fold to constants.
    auto phase = [&](int j, const bool kPV, const bool kQK) {
      const int ti = kQK ? I.tile(j) : 0;
      if (kQK) sm90::mbar_wait(barK + 8 * cslot, cpar);
      if (kPV) sm90::mbar_wait(barV + 8 * vslot, vpar);
      sm90::named_sync(1 + grp, NTH);

      if (kPV) {
        const unsigned sVs = sV + vslot * C::kTileBytes;
#pragma unroll
        for (int kb = 0; kb < KB; ++kb) {
#pragma unroll
          for (int dp = 0; dp < DT / 2; ++dp) {
            unsigned vb[4];
            sm80::ldsm_x4_trans(sVs + kb * 16 * RB + v_lane + (((2 * dp) ^ xv) << 4), vb);
#pragma unroll
            for (int mt = 0; mt < MT; ++mt) {
              sm80::mma_bf16_16816(o[mt][2 * dp], pk[mt][kb], vb[0], vb[1]);
              sm80::mma_bf16_16816(o[mt][2 * dp + 1], pk[mt][kb], vb[2], vb[3]);
            }
          }
        }
      }

      float s[MT][NT][4];
      if (kQK) {
        const unsigned sKs = sK + cslot * C::kTileBytes;
#pragma unroll
        for (int mt = 0; mt < MT; ++mt)
#pragma unroll
          for (int nt = 0; nt < NT; ++nt)
#pragma unroll
            for (int e = 0; e < 4; ++e) s[mt][nt][e] = 0.f;
#pragma unroll
        for (int ks = 0; ks < KD; ++ks) {
#pragma unroll
          for (int np = 0; np < NT / 2; ++np) {
            unsigned kb[4];
            sm80::ldsm_x4(sKs + np * 16 * RB + k_lane + (((2 * ks) ^ xk) << 4), kb);
#pragma unroll
            for (int mt = 0; mt < MT; ++mt) {
              sm80::mma_bf16_16816(s[mt][2 * np], qf[mt][ks], kb[0], kb[1]);
              sm80::mma_bf16_16816(s[mt][2 * np + 1], qf[mt][ks], kb[2], kb[3]);
            }
          }
        }
      }
      sm90::named_arrive(2 - grp, NTH);

      if (kQK) {
        if (pit < n_items) p_issue();
        if (j == 0 && nxt < n_items) q_issue(nxt);  // this warp's Q fragments have been consumed

        // ---- per-element work: partial tiles, the ragged last tile, softcap / bias ----
        const int kv0 = ti * BN;
        const bool partial = j >= I.n_full;
        if (kTransform || partial || kv0 + BN > N) {
          const float scale = p.scale_log2 * 0.6931471805599453f;
#pragma unroll
          for (int nt = 0; nt < NT; ++nt)
#pragma unroll
            for (int e = 0; e < 2; ++e) {
              const int ks_ = kv0 + nt * 8 + 2 * (lane & 3) + e;
              const bool cv = ks_ < N;
              int kg = 0;
              Coords<int> kc;
              key_column<Variant>(p, perm, gid, ks_, cv, partial, kg, kc);
#pragma unroll
              for (int mt = 0; mt < MT; ++mt)
#pragma unroll
                for (int hr = 0; hr < 2; ++hr)
                  score_element<Variant>(s[mt][nt][2 * hr + e], p, gid != nullptr, cv, partial, ks_, qgid[mt][hr], kg,
                                         qc[mt][hr], kc, I.h, scale);
            }
        }

        // ---- online softmax (fp32, base 2); P packed to bf16 for the next phase ----
#pragma unroll
        for (int mt = 0; mt < MT; ++mt)
#pragma unroll
          for (int hr = 0; hr < 2; ++hr) {
            float mx = mrow[mt][hr];
#pragma unroll
            for (int nt = 0; nt < NT; ++nt) mx = fmaxf(mx, fmaxf(s[mt][nt][2 * hr], s[mt][nt][2 * hr + 1]));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
            const float m_use = mx == sm80::neg_inf() ? 0.f : mx;  // no key seen yet: exps give 0, not NaN
            const float ms = m_use * sl;
            const float alpha = sm80::ex2(mrow[mt][hr] * sl - ms);
            mrow[mt][hr] = mx;
            float sum = 0.f;
#pragma unroll
            for (int nt = 0; nt < NT; ++nt)
#pragma unroll
              for (int e = 0; e < 2; ++e) {
                const float pe = sm80::ex2(fmaf(s[mt][nt][2 * hr + e], sl, -ms));
                s[mt][nt][2 * hr + e] = pe;
                sum += pe;
              }
            lrow[mt][hr] = lrow[mt][hr] * alpha + sum;
#pragma unroll
            for (int dt = 0; dt < DT; ++dt) {
              o[mt][dt][2 * hr] *= alpha;
              o[mt][dt][2 * hr + 1] *= alpha;
            }
          }
#pragma unroll
        for (int mt = 0; mt < MT; ++mt)
#pragma unroll
          for (int kb = 0; kb < KB; ++kb) {
            pk[mt][kb][0] = sm80::pack_bf16x2(s[mt][2 * kb][0], s[mt][2 * kb][1]);
            pk[mt][kb][1] = sm80::pack_bf16x2(s[mt][2 * kb][2], s[mt][2 * kb][3]);
            pk[mt][kb][2] = sm80::pack_bf16x2(s[mt][2 * kb + 1][0], s[mt][2 * kb + 1][1]);
            pk[mt][kb][3] = sm80::pack_bf16x2(s[mt][2 * kb + 1][2], s[mt][2 * kb + 1][3]);
          }
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

    // ---- epilogue: o / l (0 for a row that saw no key) * weight * gate, bf16 pairs to the token ------
    bf16_t* go = static_cast<bf16_t*>(p.o) + I.b * p.o_sb + I.h * p.o_sh;
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
      for (int hr = 0; hr < 2; ++hr) {
        float lt = lrow[mt][hr];
        lt += __shfl_xor_sync(0xffffffffu, lt, 1);
        lt += __shfl_xor_sync(0xffffffffu, lt, 2);
        const int qs = I.q0 + row_base + mt * 16 + hr * 8;
        if (qs < N) {
          const long long t = perm ? __ldg(perm + qs) : qs;
          float g = p.weight;
          if (p.gate) g *= __ldg(p.gate + (long long)I.b * N + qs);
          const float f = lt > 0.f ? g / lt : 0.f;
          unsigned* dst = reinterpret_cast<unsigned*>(go + t * p.o_sn) + (lane & 3);
          if (p.accumulate) {
#pragma unroll
            for (int dt = 0; dt < DT; ++dt) {
              const unsigned old = dst[dt * 4];
              dst[dt * 4] = sm80::pack_bf16x2(o[mt][dt][2 * hr] * f + sm80::bf16lo_to_f32(old),
                                              o[mt][dt][2 * hr + 1] * f + sm80::bf16hi_to_f32(old));
            }
          } else {
#pragma unroll
            for (int dt = 0; dt < DT; ++dt)
              dst[dt * 4] = sm80::pack_bf16x2(o[mt][dt][2 * hr] * f, o[mt][dt][2 * hr + 1] * f);
          }
        }
      }
  }
  if (grp == 0) sm90::named_sync(1, NTH);  // group 1's last arrival (its first was the prologue's)
}

}  // namespace moga
