// Pieces shared by the kernels that run work items with two ping-pong warpgroups: v8 attention_fwd_pp
// (work items only), v10 attention_fwd_wg and v11 attention_fwd_ws (all of it). One definition each,
// inlined into every kernel's loop; the per-thread layouts are those of the wgmma m64nN accumulator
// (per warp: the mma.sync m16n8 layout, rows lane/4 and lane/4 + 8, columns 2 (lane % 4) + e).
// NVRTC-compatible: no host standard headers.
#pragma once
#include "mma_sm80.cuh"
#include "params.cuh"
#include "score_mask.cuh"

namespace moga {

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
// ---- work items: (batch b, head h, query tile), query tiles descending within a head ---------------------
struct WorkItem {
  int b, h, q0, n_full, n_tot;  // key tiles: n_full full ones first, then partial ones (n_tot in all)
  const int* fidx;              // nullptr: dense, key tile j is j
  const int* pidx;
  // The key tile the item visits j-th.
  __device__ __forceinline__ int tile(int j) const {
    return j < n_full ? (fidx ? __ldg(fidx + j) : j) : __ldg(pidx + (j - n_full));
  }
};

// Item `it` of Tq query tiles of BM rows per (b, h); n_kv_dense: key tiles of a dense item.
__device__ __forceinline__ WorkItem work_item(const AttnParams& p, int it, int Tq, int BM, int n_kv_dense) {
  WorkItem r;
  const int qt = Tq - 1 - it % Tq;
  const int bh = it / Tq;
  r.h = bh % p.H;
  r.b = bh / p.H;
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
}

// Query tiles per (b, h) that hold tokens: with aligned groups (p.seg_offsets) the tiles after the last
// group's end are padding only and are left out of the work items.
__device__ __forceinline__ int query_tiles(const AttnParams& p, int BM) {
  int used = p.N;
  if (p.seg_offsets) {
    used = 0;
    for (int b = 0; b < p.B; ++b) used = imax(used, __ldg(p.seg_offsets + (long long)b * (p.G + 1) + p.G));
  }
  return (used + BM - 1) / BM;
}

// An item's accumulators and row statistics before its first tile.
template <int D, int BN>
__device__ __forceinline__ void init_tile_state(float (&o)[D / 2], float (&s)[BN / 2], float (&mrow)[2],
                                                float (&lrow)[2], float (&alpha)[2], unsigned (&pk)[BN / 16][4]) {
#pragma unroll
  for (int i = 0; i < D / 2; ++i) o[i] = 0.f;
#pragma unroll
  for (int i = 0; i < BN / 2; ++i) s[i] = 0.f;
#pragma unroll
  for (int hr = 0; hr < 2; ++hr) {
    mrow[hr] = sm80::neg_inf();
    lrow[hr] = 0.f;
    alpha[hr] = 1.f;
  }
#pragma unroll
  for (int kb = 0; kb < BN / 16; ++kb)
#pragma unroll
    for (int e = 0; e < 4; ++e) pk[kb][e] = 0u;
}

// The keys score_tile compares a warp's two rows (query positions q0 + row_base and + 8) with, and their
// coordinates when the variant's mask or bias needs them.
template <bool kQCoords>
__device__ __forceinline__ void row_keys(const AttnParams& p, const int* perm, const int* gid, const WorkItem& I,
                                         int row_base, int (&qkey)[2], Coords<int> (&qc)[2]) {
#pragma unroll
  for (int hr = 0; hr < 2; ++hr) {
    const int qs = I.q0 + row_base + hr * 8;
    const bool ok = qs < p.N;
    qkey[hr] = row_key(p, gid, I.b, qs, ok);
    if constexpr (kQCoords) {
      const int t = ok ? (perm ? __ldg(perm + qs) : qs) : 0;
      qc[hr] = coords_of(t, p.shape);
    }
  }
}

// ---- one warp's 16 rows of a BN-column score tile (s[4 nt + 2 hr + e]) -----------------------------------
// The per-element pass (partial tiles, the ragged last tile, softcap / bias): score_mask.cuh on every
// element. kv0: the tile's first key; qkey / qc: the two rows' keys and coordinates (row_key, coords_of).
template <class Variant, int NT>
__device__ __forceinline__ void score_tile(float* s, const AttnParams& p, const int* perm, const int* gid, int kv0,
                                           int NK, bool partial, const int (&qkey)[2], const Coords<int> (&qc)[2],
                                           int h, int lane) {
  const float scale = p.scale_log2 * 0.6931471805599453f;
#pragma unroll
  for (int nt = 0; nt < NT; ++nt)
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      const int ks = kv0 + nt * 8 + 2 * (lane & 3) + e;
      const bool cv = ks < NK;
      int kg = 0;
      Coords<int> kc;
      key_column<Variant>(p, perm, gid, ks, cv, partial, kg, kc);
#pragma unroll
      for (int hr = 0; hr < 2; ++hr)
        score_element<Variant>(s[4 * nt + 2 * hr + e], p, gid != nullptr, cv, partial, ks, qkey[hr], kg, qc[hr], kc, h,
                               scale);
    }
}

// Online softmax (fp32, base 2) of the tile: new row max m, alpha = exp2((m_old - m) sl), s <- exp2(s sl -
// m sl), l <- l alpha + row sum. sl: the scale in base 2 (1 when score_tile already applied it). kTree:
// four independent max and sum chains per row instead of one (an A/B switch of v10).
template <int NT, bool kTree>
__device__ __forceinline__ void online_softmax(float* s, float (&mrow)[2], float (&lrow)[2], float (&alpha)[2],
                                               float sl) {
#pragma unroll
  for (int hr = 0; hr < 2; ++hr) {
    float mx = mrow[hr];
    if constexpr (kTree) {
      float m4[4] = {mrow[hr], sm80::neg_inf(), sm80::neg_inf(), sm80::neg_inf()};
#pragma unroll
      for (int nt = 0; nt < NT; ++nt) m4[nt & 3] = fmaxf(m4[nt & 3], fmaxf(s[4 * nt + 2 * hr], s[4 * nt + 2 * hr + 1]));
      mx = fmaxf(fmaxf(m4[0], m4[1]), fmaxf(m4[2], m4[3]));
    } else {
#pragma unroll
      for (int nt = 0; nt < NT; ++nt) mx = fmaxf(mx, fmaxf(s[4 * nt + 2 * hr], s[4 * nt + 2 * hr + 1]));
    }
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
    const float m_use = mx == sm80::neg_inf() ? 0.f : mx;  // a fully masked row so far: exps of -inf are 0
    const float ms = m_use * sl;
    alpha[hr] = sm80::ex2(mrow[hr] * sl - ms);
    mrow[hr] = mx;
    float sum4[4] = {0.f, 0.f, 0.f, 0.f};  // kTree: four chains; else sum4[0] alone
#pragma unroll
    for (int nt = 0; nt < NT; ++nt)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const float pe = sm80::ex2(fmaf(s[4 * nt + 2 * hr + e], sl, -ms));
        s[4 * nt + 2 * hr + e] = pe;
        sum4[kTree ? (2 * nt + e) & 3 : 0] += pe;
      }
    const float sum = kTree ? (sum4[0] + sum4[1]) + (sum4[2] + sum4[3]) : sum4[0];
    lrow[hr] = lrow[hr] * alpha[hr] + sum;
  }
}

// O *= alpha per row; P (bf16 pairs, the A fragments of the P.V product) from the exponentiated scores.
template <int DT, int KB>
__device__ __forceinline__ void rescale_and_pack(float* o, const float (&alpha)[2], const float* s,
                                                 unsigned (&pk)[KB][4]) {
#pragma unroll
  for (int dt = 0; dt < DT; ++dt) {
    o[4 * dt + 0] *= alpha[0];
    o[4 * dt + 1] *= alpha[0];
    o[4 * dt + 2] *= alpha[1];
    o[4 * dt + 3] *= alpha[1];
  }
#pragma unroll
  for (int kb = 0; kb < KB; ++kb) {
    pk[kb][0] = sm80::pack_bf16x2(s[8 * kb + 0], s[8 * kb + 1]);
    pk[kb][1] = sm80::pack_bf16x2(s[8 * kb + 2], s[8 * kb + 3]);
    pk[kb][2] = sm80::pack_bf16x2(s[8 * kb + 4], s[8 * kb + 5]);
    pk[kb][3] = sm80::pack_bf16x2(s[8 * kb + 6], s[8 * kb + 7]);
  }
}

// Epilogue of one warp's two rows (query positions q0 + row_base and + 8): out[token] = (accumulate ?
// out[token] : 0) + weight * gate * O / l, written at the token's original position (perm), bf16 pairs
// straight from the accumulators. Rows past N and padding of aligned groups (perm -1) are not written;
// a row that saw no key (l = 0) writes 0.
template <int DT>
__device__ __forceinline__ void store_rows(const AttnParams& p, const float* o, const float (&lrow)[2],
                                           const WorkItem& I, const int* perm, int row_base, int lane) {
  typedef unsigned short bf16_t;
  bf16_t* go = static_cast<bf16_t*>(p.o) + I.b * p.o_sb + I.h * p.o_sh;
#pragma unroll
  for (int hr = 0; hr < 2; ++hr) {
    float lt = lrow[hr];
    lt += __shfl_xor_sync(0xffffffffu, lt, 1);
    lt += __shfl_xor_sync(0xffffffffu, lt, 2);
    const int qs = I.q0 + row_base + hr * 8;
    const long long t = qs < p.N ? (perm ? __ldg(perm + qs) : qs) : -1;
    if (t >= 0) {
      float g = p.weight;
      if (p.gate) g *= __ldg(p.gate + (long long)I.b * p.N + qs);
      const float f = lt > 0.f ? g / lt : 0.f;
      unsigned* dst = reinterpret_cast<unsigned*>(go + t * p.o_sn) + (lane & 3);
      if (p.accumulate) {
#pragma unroll
        for (int dt = 0; dt < DT; ++dt) {
          const unsigned old = dst[dt * 4];
          dst[dt * 4] = sm80::pack_bf16x2(o[4 * dt + 2 * hr] * f + sm80::bf16lo_to_f32(old),
                                          o[4 * dt + 2 * hr + 1] * f + sm80::bf16hi_to_f32(old));
        }
      } else {
#pragma unroll
        for (int dt = 0; dt < DT; ++dt) dst[dt * 4] = sm80::pack_bf16x2(o[4 * dt + 2 * hr] * f, o[4 * dt + 2 * hr + 1] * f);
      }
    }
  }
}
#endif

}  // namespace moga
