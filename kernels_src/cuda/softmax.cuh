// Softmax of the attention kernels' work items (attention_fwd_ws): an item's accumulator state, the
// online softmax of one key tile (fp32, base 2), and the rescale of O with the packing of P into the A
// fragments of the P.V product. Per warp the wgmma m64nN accumulator layout (the mma.sync m16n8 one):
// rows lane/4 and lane/4 + 8, columns 2 (lane % 4) + e; s[4 nt + 2 hr + e], o[4 dt + 2 hr + e].
// NVRTC-compatible: no host standard headers.
#pragma once
#include "mma_sm80.cuh"
#include "params.cuh"

namespace moga {

// Whether a kernel's softmax may run with a fixed row maximum m = 0. A softcap without a bias bounds every
// score, |y| < c, so exp(y) lies in (e^-c, e^c): with c <= 50 neither it nor a row's sum (l <= N e^50, about
// 5e27 at a million keys) nor O (l |v|) leaves float32 (min normal 1.2e-38, max 3.4e38), and P is exact to
// bf16's 8 bits at any magnitude. The online max, its two shuffles per row, alpha and the rescale of O (one
// multiply per accumulator and tile) drop out, which is what pays for the softcap's tanh (one more MUFU op
// per score): FlashAttention-3 pays ~10% for a softcap, the max-tracking kernel paid 26% (docs/performance.md).
template <class Variant>
struct FixedRowMax {
  static constexpr bool value = Variant::kHasSoftcap && !Variant::kHasBias && Variant::kSoftcap <= 50.f;
};

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
// An item's accumulators and row statistics before its first tile (kFixedMax: m = 0 from the start).
template <int D, int BN, bool kFixedMax = false>
__device__ __forceinline__ void init_tile_state(float (&o)[D / 2], float (&s)[BN / 2], float (&mrow)[2],
                                                float (&lrow)[2], float (&alpha)[2], unsigned (&pk)[BN / 16][4]) {
#pragma unroll
  for (int i = 0; i < D / 2; ++i) o[i] = 0.f;
#pragma unroll
  for (int i = 0; i < BN / 2; ++i) s[i] = 0.f;
#pragma unroll
  for (int hr = 0; hr < 2; ++hr) {
    mrow[hr] = kFixedMax ? 0.f : sm80::neg_inf();
    lrow[hr] = 0.f;
    alpha[hr] = 1.f;
  }
#pragma unroll
  for (int kb = 0; kb < BN / 16; ++kb)
#pragma unroll
    for (int e = 0; e < 4; ++e) pk[kb][e] = 0u;
}

// Online softmax (fp32, base 2) of the tile: new row max m, alpha = exp2((m_old - m) sl), s <- exp2(s sl -
// m sl), l <- l alpha + row sum. sl: the scale in base 2 (score_scale: the softmax scale, or the softcap's).
// A row that has seen only masked keys so far keeps m = -inf and l = 0 (its exps of -inf are 0).
// kFixedMax (FixedRowMax): s <- exp2(s sl), l <- l + row sum; m stays 0 and alpha 1.
// kLog2Max (not with kFixedMax): the row maximum placed at 2^kLog2Max instead of 1, s <- exp2(s sl - m sl +
// kLog2Max) (the FP8 kernel's P in [0, 256], mainloop_fp8.cuh); l sums the same values, so O / l is unchanged.
// kSum = false: l is not touched (sm90.tma.fp8.sum: the P V product sums the rows).
// lazy > 0 (FlashAttention-4's conditional rescale): a row keeps its old maximum while the tile's exceeds it by at
// most lazy / sl (P then reaches 2^(kLog2Max + lazy), which the caller's format must hold), so alpha stays exactly 1
// and the caller's vote skips O's rescale; a larger jump takes the new maximum as before.
template <int NT, bool kFixedMax = false, int kLog2Max = 0, bool kSum = true>
__device__ __forceinline__ void online_softmax(float* s, float (&mrow)[2], float (&lrow)[2], float (&alpha)[2],
                                               float sl, float lazy = 0.f) {
  if constexpr (kFixedMax) {
#pragma unroll
    for (int hr = 0; hr < 2; ++hr) {
      float sum = 0.f;
#pragma unroll
      for (int nt = 0; nt < NT; ++nt)
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          const float pe = sm80::ex2(s[4 * nt + 2 * hr + e] * sl);
          s[4 * nt + 2 * hr + e] = pe;
          sum += pe;
        }
      lrow[hr] += sum;
    }
  } else {
#pragma unroll
    for (int hr = 0; hr < 2; ++hr) {
      float mx = mrow[hr];
#pragma unroll
      for (int nt = 0; nt < NT; ++nt) mx = fmaxf(mx, fmaxf(s[4 * nt + 2 * hr], s[4 * nt + 2 * hr + 1]));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      if (lazy > 0.f && mrow[hr] != sm80::neg_inf() && (mx - mrow[hr]) * sl <= lazy) mx = mrow[hr];
      const float m_use = mx == sm80::neg_inf() ? 0.f : mx;
      const float ms = m_use * sl;
      alpha[hr] = sm80::ex2(mrow[hr] * sl - ms);
      mrow[hr] = mx;
      float mo = ms;  // the exponent's offset
      if constexpr (kLog2Max != 0) mo -= (float)kLog2Max;
      float sum = 0.f;
#pragma unroll
      for (int nt = 0; nt < NT; ++nt)
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          const float pe = sm80::ex2(fmaf(s[4 * nt + 2 * hr + e], sl, -mo));
          s[4 * nt + 2 * hr + e] = pe;
          if constexpr (kSum) sum += pe;
        }
      if constexpr (kSum) lrow[hr] = lrow[hr] * alpha[hr] + sum;
    }
  }
}

// O *= alpha per row (the accumulator layout: o[4 dt + 2 hr + e]).
template <int DT>
__device__ __forceinline__ void rescale_o(float* o, const float (&alpha)[2]) {
#pragma unroll
  for (int dt = 0; dt < DT; ++dt) {
    o[4 * dt + 0] *= alpha[0];
    o[4 * dt + 1] *= alpha[0];
    o[4 * dt + 2] *= alpha[1];
    o[4 * dt + 3] *= alpha[1];
  }
}

// O *= alpha per row (not with kFixedMax: alpha is 1); P (bf16 pairs, the A fragments of the P.V product)
// from the exponentiated scores.
template <int DT, int KB, bool kFixedMax = false>
__device__ __forceinline__ void rescale_and_pack(float* o, const float (&alpha)[2], const float* s,
                                                 unsigned (&pk)[KB][4]) {
  if constexpr (!kFixedMax) rescale_o<DT>(o, alpha);
#pragma unroll
  for (int kb = 0; kb < KB; ++kb) {
    pk[kb][0] = sm80::pack_bf16x2(s[8 * kb + 0], s[8 * kb + 1]);
    pk[kb][1] = sm80::pack_bf16x2(s[8 * kb + 2], s[8 * kb + 3]);
    pk[kb][2] = sm80::pack_bf16x2(s[8 * kb + 4], s[8 * kb + 5]);
    pk[kb][3] = sm80::pack_bf16x2(s[8 * kb + 6], s[8 * kb + 7]);
  }
}

#endif

}  // namespace moga
