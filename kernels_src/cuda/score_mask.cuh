// The per-element pass over a tile of scores that every attention kernel (v7 attention_fwd, v8
// attention_fwd_pp, v9/v10 attention_fwd_wg) runs on partial tiles, on the ragged last key tile and
// for softcap / bias: which key of the tile a query row sees, and the score transform. One definition,
// inlined into each kernel's loop.
// NVRTC-compatible: no host standard headers.
#pragma once
#include "mma_sm80.cuh"
#include "params.cuh"

namespace moga {

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
// The key score_element compares query row qs (of batch item b; ok: qs < N) with: its group id, or with
// aligned groups (p.seg_end) the end of its group's entries. 0 for ungrouped kernels and rows past N.
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

// Score x of query row (qkey, qc) and key column (ks, kg, kc): -inf where the key is not visible, else,
// for softcap / bias, the transformed score in base 2 (scale = softmax scale in base e). qkey is the
// row's group id, or with aligned groups (p.seg_end) the end of the row's group.
template <class Variant>
__device__ __forceinline__ void score_element(float& x, const AttnParams& p, bool grouped, bool cv, bool partial,
                                              int ks, int qkey, int kg, const Coords<int>& qc,
                                              const Coords<int>& kc, int h, float scale) {
  bool vis = cv;
  if (partial) {
    if (grouped) vis = vis && (p.seg_end ? ks < qkey : qkey == kg);
    if constexpr (Variant::kHasMask) vis = vis && Variant::template mask<int, bool>(qc, kc, p.shape);
  }
  if (!vis) {
    x = sm80::neg_inf();
  } else if constexpr (Variant::kHasSoftcap || Variant::kHasBias) {
    float y = x * scale;
    if constexpr (Variant::kHasSoftcap) y = Variant::kSoftcap * sm80::tanh_approx(y * (1.f / Variant::kSoftcap));
    if constexpr (Variant::kHasBias) y += Variant::bias(qc, kc, h, p.shape);
    x = y * 1.4426950408889634f;  // log2(e)
  }
}
#endif

}  // namespace moga
