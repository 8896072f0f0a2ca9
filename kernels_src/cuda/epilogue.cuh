// Epilogue of the attention kernel's work items (attention_fwd_ws): 1/l, the gate (router probability or
// gate program, at sorted positions) and the branch weight, written at each token's original position
// (perm), accumulating into out for every branch after the first (branches run in sequence).
// NVRTC-compatible: no host standard headers.
#pragma once
#include "mma_sm80.cuh"
#include "params.cuh"
#include "tile_scheduler.cuh"

namespace moga {

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
// Epilogue of one warp's two rows (query positions q0 + row_base and + 8): out[token] = (accumulate ?
// out[token] : 0) + weight * gate * O / l, written at the token's original position (perm), bf16 pairs
// straight from the accumulators. Rows past N and padding of aligned groups (perm -1) are not written;
// a row that saw no key (l = 0) writes 0. LSE: also the row's log-sum-exp (params.cuh AttnParams::lse) from
// its max (in the units the softmax scaled by sl) and its sum. lrow: the thread's partial sums of its columns,
// added over the quad here; kWholeL: the rows' whole sums already (sm90.tma.fp8.sum's P V product).
template <int DT, bool LSE = false, bool kWholeL = false>
__device__ __forceinline__ void store_rows(const AttnParams& p, const float* o, const float (&lrow)[2],
                                           const float (&mrow)[2], float sl, const WorkItem& I, const int* perm,
                                           int row_base, int lane) {
  typedef unsigned short bf16_t;
  bf16_t* go = static_cast<bf16_t*>(p.o) + I.b * p.o_sb + I.h * p.o_sh;
#pragma unroll
  for (int hr = 0; hr < 2; ++hr) {
    float lt = lrow[hr];
    if constexpr (!kWholeL) {
      lt += __shfl_xor_sync(0xffffffffu, lt, 1);
      lt += __shfl_xor_sync(0xffffffffu, lt, 2);
    }
    const int qs = I.q0 + row_base + hr * 8;
    const long long t = qs >= p.N ? -1
                        : p.out_row ? __ldg(p.out_row + (long long)I.b * p.N + qs)
                        : perm      ? __ldg(perm + qs)
                                    : qs;
    if constexpr (LSE) {
      if (t >= 0 && (lane & 3) == 0)
        p.lse[((long long)I.b * p.H + I.h) * p.lse_rows + t] =
            lt > 0.f ? (mrow[hr] * sl + log2f(lt)) * 0.6931471805599453f : sm80::neg_inf();
    }
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
