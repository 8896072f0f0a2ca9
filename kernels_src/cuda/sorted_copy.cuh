// Sorted copies of q, k and v for the TMA kernel on gathered kernels (registry row sm90.tma.sorted,
// runtime/attention/registry.h): Hopper's bulk tensor copies cannot gather rows through perm, so before
// the attention kernel one pass writes each tensor in the branch's sorted order,
//   dst[b][s][h][:] = perm[b][s] >= 0 ? src[b][perm[b][s]][h][:] : 0      (0 at padding of aligned groups)
// as contiguous bf16 [B][Ns][H][D], and the attention kernel then loads contiguous tiles of them (its
// consumers and epilogue still read perm: staged key columns, masks, the scatter to original rows).
// One extra read and write of 3 x B N H D bf16 per call (top-k: N k rows).
// The kernel is compiled in the runtime's `moga-prep` unit beside prep.cuh's; MOGA_NO_PREP_KERNELS leaves
// it out of the pattern units, as prep.cuh does its own.
// NVRTC-compatible: no host standard headers.
#pragma once
#include "params.cuh"

namespace moga {

// src[i]: bf16 [B][*][H][D] with element strides sb, sn, sh (D contiguous, rows 16-byte aligned);
// dst[i]: contiguous bf16 [B][Ns][H][D]; perm: [B][Ns] original token per sorted position, -1: padding.
// n_tensors: how many of src/dst are used (q, k, v: 3).
struct SortedCopyParams {
  const void* src[3];
  long long sb[3], sn[3], sh[3];
  void* dst[3];
  const int* perm;
  int B, Ns, H, D, n_tensors;
};

#if (defined(__CUDACC__) || defined(__CUDACC_RTC__)) && !defined(MOGA_NO_PREP_KERNELS)
// One CTA per sorted position (b, s) (grid.x = B Ns): perm read once, then every tensor's H x D/8 chunks
// of 16 bytes, one per thread at a time (consecutive threads: consecutive chunks of a row, coalesced on
// both sides). 256 threads: at H = 12, D = 128 the 3 x 192 chunks take 2.25 passes.
__global__ void __launch_bounds__(256) sorted_copy_kernel(const SortedCopyParams p) {
  grid_dep_wait();  // perm comes from the sort (launched with PDL behind it)
  const long long row = blockIdx.x;  // b * Ns + s
  const int b = (int)(row / p.Ns);
  const int tok = __ldg(p.perm + row);
  const int C = p.D >> 3;  // 16-byte chunks per head row
  const int per_tensor = p.H * C;
#pragma unroll 1
  for (int j = threadIdx.x; j < p.n_tensors * per_tensor; j += blockDim.x) {
    const int t = j / per_tensor, r = j - t * per_tensor;
    const int h = r / C, c = r - h * C;
    uint4 v = make_uint4(0u, 0u, 0u, 0u);
    if (tok >= 0) {
      const unsigned short* src = static_cast<const unsigned short*>(p.src[t]) + b * p.sb[t] + tok * p.sn[t] +
                                  h * p.sh[t] + c * 8;
      v = __ldg(reinterpret_cast<const uint4*>(src));
    }
    // row r of the destination: (b Ns + s) H D + h D + 8 c elements
    reinterpret_cast<uint4*>(p.dst[t])[row * per_tensor + r] = v;
  }
}
#endif

}  // namespace moga
