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
//        AttnFwdWSCfg<...>::kSmemBytes dynamic smem (the same as attention_fwd_wg's). sm_90a only.
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
struct AttnFwdWSCfg : AttnFwdWGCfg<D, BM, BN, 8, STAGES> {  // the smem layout of attention_fwd_wg
  static constexpr int kThreads = 384;                    // producer warpgroup + two consumers
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

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int N = p.N, H = p.H, NK = p.Nk > 0 ? p.Nk : p.N;  // NK != N: dense cross-attention (AttnParams::Nk)
  int used = N;  // sorted positions that hold tokens: all but the padding after the last aligned group
  if (p.seg_offsets) {
    used = 0;
    for (int b = 0; b < p.B; ++b) used = imax(used, __ldg(p.seg_offsets + (long long)b * (p.G + 1) + p.G));
  }
  const int Tq = (used + BM - 1) / BM;
  const int n_items = Tq * H * p.B;
  const int n_kv_dense = (NK + BN - 1) / BN;
  const int G = gridDim.x;

  if (tid == 0) {
#pragma unroll 1
    for (int i = 0; i < 2 * STAGES; ++i) sm90::mbar_init(barFK + 8 * i, 128);   // producer cp.async arrivals
#pragma unroll 1
    for (int i = 2 * STAGES; i < 4 * STAGES; ++i) sm90::mbar_init(barFK + 8 * i, 8);  // consumer warps
    sm90::mbar_init(barQ, 128);
    sm90::mbar_init(barQE, 8);
    sm90::fence_mbar_init();
  }
  __syncthreads();  // the last CTA-wide barrier: the roles part here

  struct Item {
    int b, h, q0, n_full, n_tot;
    const int* fidx;
    const int* pidx;
  };
  auto item_info = [&](int it) -> Item {
    Item r;
    const int qt = Tq - 1 - it % Tq;
    const int bh = it / Tq;
    r.h = bh % H;
    r.b = bh / H;
    r.q0 = qt * BM;
    r.fidx = nullptr;
    r.pidx = nullptr;
    if (p.map.full_cnt) {
      const long long bi = (long long)r.b * p.map.num_q_tiles + qt;
      r.n_full = __ldg(p.map.full_cnt + bi);
      r.fidx = p.map.full_idx + bi * p.map.num_kv_tiles;
      int np = 0;
      if (p.map.part_cnt) {
        np = __ldg(p.map.part_cnt + bi);
        r.pidx = p.map.part_idx + bi * p.map.num_kv_tiles;
      }
      r.n_tot = r.n_full + np;
    } else {
      r.n_full = r.n_tot = n_kv_dense;
    }
    return r;
  };
  auto tile_of = [&](const Item& r, int j) -> int {
    return j < r.n_full ? (r.fidx ? __ldg(r.fidx + j) : j) : __ldg(r.pidx + (j - r.n_full));
  };

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
    int slot = 0, cnt = 0;
    unsigned qe_par = 1;  // the first Q needs no release
#pragma unroll 1
    for (int it = blockIdx.x; it < n_items; it += G) {
      const Item I = item_info(it);
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
        const int kv0 = tile_of(I, j) * BN;
        int tok[kRows];
#pragma unroll
        for (int i = 0; i < kRows; ++i) {
          const int s = kv0 + r0 + i * kStep;
          tok[i] = s < NK ? (pm ? __ldg(pm + s) : s) : -1;
        }
        const unsigned par = ((cnt / STAGES) & 1) ^ 1;
        const unsigned kdst = sK + slot * C::kTileBytes + soff, vdst = sV + slot * C::kTileBytes + soff;
        if (cnt >= STAGES) sm90::mbar_wait(barEK + 8 * slot, par);
#pragma unroll
        for (int i = 0; i < kRows; ++i)
          sm80::cp_async16(kdst + i * kStep * 128, ksrc + static_cast<unsigned long long>(tok[i] >= 0 ? tok[i] : 0) * krb,
                           tok[i] >= 0);
        sm90::cp_async_mbar_arrive(barFK + 8 * slot);
        if (cnt >= STAGES) sm90::mbar_wait(barEV + 8 * slot, par);
#pragma unroll
        for (int i = 0; i < kRows; ++i)
          sm80::cp_async16(vdst + i * kStep * 128, vsrc + static_cast<unsigned long long>(tok[i] >= 0 ? tok[i] : 0) * vrb,
                           tok[i] >= 0);
        sm90::cp_async_mbar_arrive(barFV + 8 * slot);
        slot = slot + 1 == STAGES ? 0 : slot + 1;
        ++cnt;
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

  int cslot = 0;
  unsigned cpar = 0, qpar = 0;

#pragma unroll 1
  for (int cit = blockIdx.x; cit < n_items; cit += G) {
    const Item I = item_info(cit);
    const int* perm = p.perm ? p.perm + (long long)I.b * N : nullptr;
    const int* gid = p.gid ? p.gid + (long long)I.b * N : nullptr;

    Coords<int> qc[2];
    int qgid[2];  // the row's group id; with aligned groups (p.seg_end) the end of the row's group instead
#pragma unroll
    for (int hr = 0; hr < 2; ++hr) {
      const int qs = I.q0 + row_base + hr * 8;
      const bool ok = qs < N;
      qgid[hr] = row_key(p, gid, I.b, qs, ok);
      if constexpr (kQCoords) {
        const int t = ok ? (perm ? __ldg(perm + qs) : qs) : 0;
        qc[hr] = coords_of(t, p.shape);
      }
    }

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
#pragma unroll
    for (int i = 0; i < D / 2; ++i) oacc[i] = 0.f;
#pragma unroll
    for (int i = 0; i < BN / 2; ++i) sacc[i] = 0.f;
    float mrow[2], lrow[2], alpha[2];
#pragma unroll
    for (int hr = 0; hr < 2; ++hr) {
      mrow[hr] = sm80::neg_inf();
      lrow[hr] = 0.f;
      alpha[hr] = 1.f;
    }
    unsigned pk[KB][4];
#pragma unroll
    for (int kb = 0; kb < KB; ++kb)
#pragma unroll
      for (int e = 0; e < 4; ++e) pk[kb][e] = 0u;
    int vslot = 0;
    unsigned vpar = 0;

    auto phase = [&](int j, const bool kPV, const bool kQK) {
      const int ti = kQK ? tile_of(I, j) : 0;
      if (kQK) sm90::mbar_wait(barFK + 8 * cslot, cpar);
      if (kPV) sm90::mbar_wait(barFV + 8 * vslot, vpar);
      sm90::fence_proxy_async();
      if (kPingPong) sm90::named_sync(1 + grp, NTH);
      sm90::wg_fence();
      if (kQK) {
        const unsigned sKs = sK + cslot * C::kTileBytes;
#pragma unroll
        for (int ks = 0; ks < KD; ++ks)
          sm90::wgmma_rs<BN, 0>(sacc, qf[ks],
                                sm90::gmma_desc_sw128(sKs + (ks >> 2) * C::kHalfBytes + (ks & 3) * 32, 16, 1024),
                                ks > 0 ? 1 : 0);
        sm90::wg_commit();
      }
      if (kPV) {
        const unsigned sVs = sV + vslot * C::kTileBytes;
#pragma unroll
        for (int kb = 0; kb < KB; ++kb)
          sm90::wgmma_rs<D, 1>(oacc, pk[kb], sm90::gmma_desc_sw128(sVs + kb * 2048, C::kHalfBytes, 1024), 1);
        sm90::wg_commit();
      }
      if (kPingPong) sm90::named_arrive(2 - grp, NTH);

      if (kQK) {
        if (kPV) sm90::wg_wait<1>();
        else sm90::wg_wait<0>();
        sm90::fence_regs(sacc);
        if (lane == 0) sm90::mbar_arrive(barEK + 8 * cslot);

        // ---- per-element work: partial tiles, the ragged last tile, softcap / bias ----
        const int kv0 = ti * BN;
        const bool partial = j >= I.n_full;
        if (kTransform || partial || kv0 + BN > NK) {
          const float scale = p.scale_log2 * 0.6931471805599453f;
#pragma unroll
          for (int nt = 0; nt < NT; ++nt)
#pragma unroll
            for (int e = 0; e < 2; ++e) {
              const int ks_ = kv0 + nt * 8 + 2 * (lane & 3) + e;
              const bool cv = ks_ < NK;
              int kg = 0;
              Coords<int> kc;
              key_column<Variant>(p, perm, gid, ks_, cv, partial, kg, kc);
#pragma unroll
              for (int hr = 0; hr < 2; ++hr)
                score_element<Variant>(sacc[4 * nt + 2 * hr + e], p, gid != nullptr, cv, partial, ks_, qgid[hr], kg,
                                       qc[hr], kc, I.h, scale);
            }
        }

        // ---- online softmax (fp32, base 2), overlapping the P.V of the previous tile ----
#pragma unroll
        for (int hr = 0; hr < 2; ++hr) {
          float mx = mrow[hr];
#pragma unroll
          for (int nt = 0; nt < NT; ++nt) mx = fmaxf(mx, fmaxf(sacc[4 * nt + 2 * hr], sacc[4 * nt + 2 * hr + 1]));
          mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
          mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
          const float m_use = mx == sm80::neg_inf() ? 0.f : mx;
          const float ms = m_use * sl;
          alpha[hr] = sm80::ex2(mrow[hr] * sl - ms);
          mrow[hr] = mx;
          float sum = 0.f;
#pragma unroll
          for (int nt = 0; nt < NT; ++nt)
#pragma unroll
            for (int e = 0; e < 2; ++e) {
              const float pe = sm80::ex2(fmaf(sacc[4 * nt + 2 * hr + e], sl, -ms));
              sacc[4 * nt + 2 * hr + e] = pe;
              sum += pe;
            }
          lrow[hr] = lrow[hr] * alpha[hr] + sum;
        }
      }
      if (kPV) {
        sm90::wg_wait<0>();
        sm90::fence_regs(oacc);
        if (lane == 0) sm90::mbar_arrive(barEV + 8 * vslot);
      }
      if (kQK) {
#pragma unroll
        for (int dt = 0; dt < DT; ++dt) {
          oacc[4 * dt + 0] *= alpha[0];
          oacc[4 * dt + 1] *= alpha[0];
          oacc[4 * dt + 2] *= alpha[1];
          oacc[4 * dt + 3] *= alpha[1];
        }
#pragma unroll
        for (int kb = 0; kb < KB; ++kb) {
          pk[kb][0] = sm80::pack_bf16x2(sacc[8 * kb + 0], sacc[8 * kb + 1]);
          pk[kb][1] = sm80::pack_bf16x2(sacc[8 * kb + 2], sacc[8 * kb + 3]);
          pk[kb][2] = sm80::pack_bf16x2(sacc[8 * kb + 4], sacc[8 * kb + 5]);
          pk[kb][3] = sm80::pack_bf16x2(sacc[8 * kb + 6], sacc[8 * kb + 7]);
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

    bf16_t* go = static_cast<bf16_t*>(p.o) + I.b * p.o_sb + I.h * p.o_sh;
#pragma unroll
    for (int hr = 0; hr < 2; ++hr) {
      float lt = lrow[hr];
      lt += __shfl_xor_sync(0xffffffffu, lt, 1);
      lt += __shfl_xor_sync(0xffffffffu, lt, 2);
      const int qs = I.q0 + row_base + hr * 8;
      const long long t = qs < N ? (perm ? __ldg(perm + qs) : qs) : -1;
      if (t >= 0) {  // rows past N and padding of aligned groups are not written
        float g = p.weight;
        if (p.gate) g *= __ldg(p.gate + (long long)I.b * N + qs);
        const float f = lt > 0.f ? g / lt : 0.f;
        unsigned* dst = reinterpret_cast<unsigned*>(go + t * p.o_sn) + (lane & 3);
        if (p.accumulate) {
#pragma unroll
          for (int dt = 0; dt < DT; ++dt) {
            const unsigned old = dst[dt * 4];
            dst[dt * 4] = sm80::pack_bf16x2(oacc[4 * dt + 2 * hr] * f + sm80::bf16lo_to_f32(old),
                                            oacc[4 * dt + 2 * hr + 1] * f + sm80::bf16hi_to_f32(old));
          }
        } else {
#pragma unroll
          for (int dt = 0; dt < DT; ++dt)
            dst[dt * 4] = sm80::pack_bf16x2(oacc[4 * dt + 2 * hr] * f, oacc[4 * dt + 2 * hr + 1] * f);
        }
      }
    }
  }
  if (kPingPong && grp == 0) sm90::named_sync(1, NTH);
#else
  (void)p;
  __trap();  // needs sm_90a
#endif
}

}  // namespace moga
