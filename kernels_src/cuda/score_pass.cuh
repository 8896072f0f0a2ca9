// The per-element pass over a tile of scores: which key of the tile a query row sees (the mask, the
// group, the ragged last tile) and the score modifications (softcap, bias). One definition for both
// attention kernels, inlined into their loops.
//  * attention_fwd (mma.sync) runs score_element on partial tiles, the ragged last tile and for
//    softcap / bias: visibility and transform in one step, the softmax then without its scale.
//  * attention_fwd_ws (wgmma) splits it the way FlashAttention-3 does, by what a tile needs:
//    modify_tile on every tile when the variant has a softcap or a bias (folded into the softmax's
//    scale: ScoreScale), mask_tile only on partial tiles and the ragged last tile.
// Per-thread layout of a warp's 16 rows (the mma.sync m16n8 accumulator, also wgmma's per warp): rows
// lane/4 and lane/4 + 8, columns 8 nt + 2 (lane % 4) + e; s[4 nt + 2 hr + e].
// NVRTC-compatible: no host standard headers.
#pragma once
#include "mma_sm80.cuh"
#include "params.cuh"

namespace moga {

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
// The key a query row qs (of batch item b; ok: qs < N) is compared with: its group id, or with aligned
// groups (p.seg_end) the end of its group's entries. 0 for ungrouped kernels and rows past N.
__device__ __forceinline__ int row_key(const AttnParams& p, const int* gid, int b, int qs, bool ok) {
  if (!gid || !ok) return 0;
  const int g = __ldg(gid + qs);
  return p.seg_end ? (g >= 0 ? __ldg(p.seg_end + (long long)b * p.G + g) : 0) : g;
}

// Key column ks of the tile (cv: ks is a key, not past Nk): its group id (grouped kernels on partial
// tiles, unless aligned groups make it unnecessary: p.seg_end) and its coordinates (mask or bias).
template <class Variant>
__device__ __forceinline__ void key_column(const AttnParams& p, const int* perm, const int* gid, int ks, bool cv,
                                           bool partial, int& kg, Coords<int>& kc) {
  if (cv && (partial || Variant::kHasBias)) {
    const int kt = perm ? __ldg(perm + ks) : ks;
    if (gid && partial && !p.seg_end) kg = __ldg(gid + ks);
    if constexpr (Variant::kHasMask || Variant::kHasBias) kc = coords_of(kt, p.shape);
  }
}

// Whether query row (qkey, qc) sees key column (ks, kg, kc) of a partial tile (grouped: the same group;
// the mask). cv: the column is a key at all.
// Bitwise & on the conditions, not &&: the mask is pure arithmetic, and a short-circuit would make every
// element a branch (BSSY / BRA / BSYNC per element in the SASS).
template <class Variant>
__device__ __forceinline__ bool visible(const AttnParams& p, bool grouped, bool cv, bool partial, int ks, int qkey,
                                        int kg, const Coords<int>& qc, const Coords<int>& kc) {
  bool vis = cv;
  if (partial) {
    if (grouped) vis = vis & (p.seg_end ? ks < qkey : qkey == kg);
    if constexpr (Variant::kHasMask) vis = vis & Variant::template mask<int, bool>(qc, kc, p.shape);
  }
  return vis;
}

// attention_fwd's element: -inf where the key is not visible, else, for softcap / bias, the transformed
// score in base 2 (scale = softmax scale in base e).
template <class Variant>
__device__ __forceinline__ void score_element(float& x, const AttnParams& p, bool grouped, bool cv, bool partial,
                                              int ks, int qkey, int kg, const Coords<int>& qc,
                                              const Coords<int>& kc, int h, float scale) {
  if (!visible<Variant>(p, grouped, cv, partial, ks, qkey, kg, qc, kc)) {
    x = sm80::neg_inf();
  } else if constexpr (Variant::kHasSoftcap || Variant::kHasBias) {
    float y = x * scale;
    if constexpr (Variant::kHasSoftcap) y = Variant::kSoftcap * sm80::tanh_approx(y * (1.f / Variant::kSoftcap));
    if constexpr (Variant::kHasBias) y += Variant::bias(qc, kc, h, p.shape);
    x = y * 1.4426950408889634f;  // log2(e)
  }
}

// ---- attention_fwd_ws: the pass split by what a tile needs ------------------------------------------------
// Staged key columns. The producer writes one int per key column of each ring slot (ws_load_item) when
// the variant's mask reads key coordinates that need a gather (grouped kernels: perm) or divisions
// (video frame / row / col; the bias stages its own column terms, below); the consumers then read it from
// shared memory instead of loading perm and computing coords_of for every column of every tile. The
// value: the token when only its position is read, else frame << (rb + cb) | row << cb | col (cb, rb:
// AttnParams::key_col_bits / key_row_bits; the runtime checks that F, H, W fit 32 bits).
template <class Variant>
struct KeyStaging {
  static constexpr unsigned kUses = Variant::kKeyUses;
  static constexpr bool kPosOnly = (kUses & ~static_cast<unsigned>(kPosBit)) == 0;
  static constexpr bool kStage = Variant::kStageKeys;  // codegen stageKeys: kUses != 0 && (grouped || !kPosOnly)
};
template <class Variant>
__device__ __forceinline__ int encode_key(int tok, const AttnParams& p) {
  if constexpr (KeyStaging<Variant>::kPosOnly) {
    return tok;
  } else {
    const Coords<int> c = coords_of(tok, p.shape);
    return (c.frame << (p.key_row_bits + p.key_col_bits)) | (c.row << p.key_col_bits) | c.col;
  }
}
template <class Variant>
__device__ __forceinline__ Coords<int> decode_key(int v, const AttnParams& p) {
  Coords<int> c;
  constexpr unsigned U = KeyStaging<Variant>::kUses;
  if constexpr (KeyStaging<Variant>::kPosOnly) {
    c.pos = v;
  } else {
    c.col = v & ((1 << p.key_col_bits) - 1);
    c.row = (v >> p.key_col_bits) & ((1 << p.key_row_bits) - 1);
    c.frame = v >> (p.key_col_bits + p.key_row_bits);
    if constexpr ((U & kPosBit) != 0) c.pos = (c.frame * p.shape.H + c.row) * p.shape.W + c.col;
    if constexpr ((U & (kShotBit | kShotStartBit | kShotEndBit)) != 0) {
      const MaskShape& s = p.shape;
      c.shot = s.shot_of_frame ? __ldg(s.shot_of_frame + c.frame) : 0;
      c.shot_start = s.shot_first ? __ldg(s.shot_first + c.shot) : 0;
      c.shot_end = s.shot_first ? __ldg(s.shot_first + c.shot + 1) : s.F;
    }
  }
  return c;
}
// The coordinates of key column ks (tile column ks - kv0): staged, or from perm and coords_of. pos0: the
// global position of key 0 (AttnParams::kv_pos0; staged columns hold it already).
template <class Variant>
__device__ __forceinline__ Coords<int> key_coords(const AttnParams& p, const int* perm, int ks, int kv0, bool cv,
                                                  unsigned skeys, int pos0 = 0) {
  if constexpr (KeyStaging<Variant>::kStage) {
    int v;
    asm volatile("ld.shared.b32 %0, [%1];\n" : "=r"(v) : "r"(skeys + 4u * (ks - kv0)));
    return decode_key<Variant>(v, p);
  } else {
    return coords_of((cv ? (perm ? __ldg(perm + ks) : ks) : 0) + pos0, p.shape);
  }
}

// Staged bias columns. The bias is split by attn-plan-score (codegen: Variant::bias_row / bias_col /
// bias_elem): the producer computes bias_col once per key column and tile and writes its
// kBiasColWords 32-bit words to shared memory ([STAGES][BN][words], words padded to 1, 2 or a
// multiple of 4 so a column is one vector load); each consumer thread reads its columns' words and
// combines them with its two rows' bias_row values (once per work item) per element.
// A variant with its bias's byte-packed split (codegen: BiasRowU8 / BiasColU8 / bias_*_u8, when attn-plan-score
// found sums of coordinate distances) in place of the float one, for the kernels that read the split (the
// wgmma forward kernels); bias() (the mma.sync and backward kernels' per-element form) stays the float one.
// The runtime names it (moga::BiasBytes<moga_gen_P::K>) while the shape's packed coordinates are below 256.
template <class V>
struct BiasBytes : V {
  using BiasRow = typename V::BiasRowU8;
  using BiasCol = typename V::BiasColU8;
  static constexpr int kBiasColWords = V::kBiasColWordsU8;
  MOGA_HD static BiasRow bias_row(const Coords<int>& q, int h, const MaskShape& s) { return V::bias_row_u8(q, h, s); }
  MOGA_HD static BiasCol bias_col(const Coords<int>& kv, int h, const MaskShape& s) { return V::bias_col_u8(kv, h, s); }
  MOGA_HD static float bias_elem(const BiasRow& r, const BiasCol& c) { return V::bias_elem_u8(r, c); }
  MOGA_HD static float bias_fma(const BiasRow& r, const BiasCol& c, float f, float x) { return V::bias_fma_u8(r, c, f, x); }
};

template <class Variant>
struct BiasStage {
  static constexpr int kColWords = Variant::kHasBias ? Variant::kBiasColWords : 0;
  static constexpr int kWords = kColWords <= 2 ? kColWords : (kColWords + 3) / 4 * 4;
};
template <class Variant>
__device__ __forceinline__ void store_bias_col(unsigned dst, const typename Variant::BiasCol& c) {
#pragma unroll
  for (int i = 0; i < Variant::kBiasColWords; ++i)
    asm volatile("st.shared.b32 [%0], %1;\n" ::"r"(dst + 4u * i), "r"(c.w[i]) : "memory");
}
template <class Variant>
__device__ __forceinline__ typename Variant::BiasCol load_bias_col(unsigned src) {
  constexpr int KW = BiasStage<Variant>::kWords;
  typename Variant::BiasCol c;
  if constexpr (KW > 0) {
    unsigned w[KW];
    if constexpr (KW == 1) {
      asm volatile("ld.shared.b32 %0, [%1];\n" : "=r"(w[0]) : "r"(src));
    } else if constexpr (KW == 2) {
      asm volatile("ld.shared.v2.b32 {%0, %1}, [%2];\n" : "=r"(w[0]), "=r"(w[1]) : "r"(src));
    } else {
#pragma unroll
      for (int i = 0; i < KW; i += 4)
        asm volatile("ld.shared.v4.b32 {%0, %1, %2, %3}, [%4];\n"
                     : "=r"(w[i]), "=r"(w[i + 1]), "=r"(w[i + 2]), "=r"(w[i + 3])
                     : "r"(src + 4u * i));
    }
#pragma unroll
    for (int i = 0; i < Variant::kBiasColWords; ++i) c.w[i] = w[i];
  }
  return c;
}

// The score of a visible pair is y = c tanh(x scale / c) + bias (softcap c), or x scale + bias; the
// softmax takes it in base 2. Folding the factors into the softmax's scale sl:
//   softcap:    s = tanh(x pre) + bias_f bias,  pre = scale / c, bias_f = 1 / c,  sl = c log2(e)
//   otherwise:  s = x + bias_f bias,            bias_f = 1 / scale,               sl = scale log2(e)
// so a softcap costs one multiply and one tanh per element and the softmax's exponent stays one FMA.
struct ScoreScale {
  float sl, pre, bias_f;
};
template <class Variant>
__device__ __forceinline__ ScoreScale score_scale(const AttnParams& p) {
  const float scale = p.scale_log2 * 0.6931471805599453f;  // ln(2)
  if constexpr (Variant::kHasSoftcap)
    return {Variant::kSoftcap * 1.4426950408889634f, scale * (1.f / Variant::kSoftcap), 1.f / Variant::kSoftcap};
  else
    return {p.scale_log2, 1.f, 1.f / scale};
}

// The keys mask_tile compares a warp's two rows (query positions q0 + row_base and + 8) with, and their
// coordinates when the variant's mask or bias needs them (once per row and work item). pos0: the global
// position of query row 0 (AttnParams::q_pos0).
template <bool kQCoords>
__device__ __forceinline__ void row_keys(const AttnParams& p, const int* perm, const int* gid, int b, int q0,
                                         int row_base, int (&qkey)[2], Coords<int> (&qc)[2], int pos0 = 0) {
#pragma unroll
  for (int hr = 0; hr < 2; ++hr) {
    const int qs = q0 + row_base + hr * 8;
    const bool ok = qs < p.N;
    qkey[hr] = row_key(p, gid, b, qs, ok);
    if constexpr (kQCoords) {
      const int t = ok ? (perm ? __ldg(perm + qs) : qs) : 0;
      qc[hr] = coords_of(t + pos0, p.shape);
    }
  }
}

// Softcap and bias on every element of a warp's 16 x BN tile (before mask_tile: masked elements are
// set to -inf after it). The bias: the rows' bias_row values br (once per work item), each column's
// staged bias_col words (sbias: this ring slot's), the element part per element (bias_fma: x + bias_f bias,
// its row-uniform factors folded into bias_f by the codegen).
template <class Variant, int NT>
__device__ __forceinline__ void modify_tile(float* s, const ScoreScale& sc, const typename Variant::BiasRow (&br)[2],
                                            int lane, unsigned sbias) {
  constexpr int KW = BiasStage<Variant>::kWords;
#pragma unroll
  for (int nt = 0; nt < NT; ++nt)
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      typename Variant::BiasCol bc;
      if constexpr (Variant::kHasBias) bc = load_bias_col<Variant>(sbias + 4u * KW * (nt * 8 + 2 * (lane & 3) + e));
#pragma unroll
      for (int hr = 0; hr < 2; ++hr) {
        float& x = s[4 * nt + 2 * hr + e];
        if constexpr (Variant::kHasSoftcap) x = sm80::tanh_approx(x * sc.pre);
        if constexpr (Variant::kHasBias) x = Variant::bias_fma(br[hr], bc, sc.bias_f, x);
      }
    }
}

// Visibility on a partial tile or the ragged last tile: -inf where the key is not visible. Branch-free per
// element (kpos0: AttnParams::kv_pos0 of the LSE instantiations, else 0): a column past NK reads the tile's first column's group and coordinates (kv0 < NK: a key) and is
// then dropped by cv, so the loads need no guard, the conditions combine with &, and the store is a select.
template <class Variant, int NT>
__device__ __forceinline__ void mask_tile(float* s, const AttnParams& p, const int* perm_in, const int* gid_in,
                                          int kv0, int NK, bool partial, const int (&qkey)[2],
                                          const Coords<int> (&qc)[2], int lane, unsigned skeys, int kpos0 = 0) {
  const int* perm = Variant::kGrouped ? perm_in : nullptr;  // ungrouped kernels run in the identity order
  const int* gid = Variant::kGrouped ? gid_in : nullptr;
  if (!partial) {  // a full tile that is the ragged last one: only the columns past NK
#pragma unroll
    for (int nt = 0; nt < NT; ++nt)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const bool cv = kv0 + nt * 8 + 2 * (lane & 3) + e < NK;
#pragma unroll
        for (int hr = 0; hr < 2; ++hr) s[4 * nt + 2 * hr + e] = cv ? s[4 * nt + 2 * hr + e] : sm80::neg_inf();
      }
    return;
  }
  const bool by_gid = gid && !p.seg_end, by_seg = gid && p.seg_end;
#pragma unroll
  for (int nt = 0; nt < NT; ++nt)
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      const int ks = kv0 + nt * 8 + 2 * (lane & 3) + e;
      const bool cv = ks < NK;
      const int kl = cv ? ks : kv0;  // the column the loads read
      const int kg = by_gid ? __ldg(gid + kl) : 0;
      Coords<int> kc;
      if constexpr (Variant::kHasMask) kc = key_coords<Variant>(p, perm, kl, kv0, true, skeys, kpos0);
#pragma unroll
      for (int hr = 0; hr < 2; ++hr) {
        bool vis = cv & (by_gid ? qkey[hr] == kg : true) & (by_seg ? ks < qkey[hr] : true);
        if constexpr (Variant::kHasMask) vis = vis & Variant::template mask<int, bool>(qc[hr], kc, p.shape);
        s[4 * nt + 2 * hr + e] = vis ? s[4 * nt + 2 * hr + e] : sm80::neg_inf();
      }
    }
}
#endif

}  // namespace moga
