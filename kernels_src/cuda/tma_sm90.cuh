// Hopper's bulk tensor copies (TMA, cp.async.bulk.tensor) for the attention kernel's producer
// (attention_fwd_tma.cuh): one thread issues a copy of a whole box of a tensor (the map, params.cuh
// TmaMap, says its shape, strides, box and swizzle) into shared memory; the copy engine counts the bytes
// it wrote on an mbarrier whose expected transaction count the issuing thread set before
// (mbar_arrive_expect_tx). Rows of a box outside the tensor are zero-filled and still counted.
// Addresses are shared-memory (32-bit) addresses; maps are passed by their generic address (a
// __grid_constant__ kernel parameter). NVRTC-compatible: no host standard headers.
#pragma once
#include "params.cuh"

namespace moga {
namespace sm90 {

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
// One arrival on the mbarrier, and `bytes` more transaction bytes expected before its phase completes.
__device__ __forceinline__ void mbar_arrive_expect_tx(unsigned addr, unsigned bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(addr), "r"(bytes) : "memory");
}
// The box of `map` at element coordinates (c0 innermost .. c3) into shared memory at dst (1024-byte
// aligned for the 128-byte swizzle), completing `bytes` of the transaction count of mbarrier `mbar`.
__device__ __forceinline__ void tma_load_4d(unsigned dst, const TmaMap* map, unsigned mbar, int c0, int c1, int c2,
                                            int c3) {
  asm volatile(
      "cp.async.bulk.tensor.4d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4, %5, %6}], "
      "[%2];\n" ::"r"(dst),
      "l"(reinterpret_cast<unsigned long long>(map)), "r"(mbar), "r"(c0), "r"(c1), "r"(c2), "r"(c3)
      : "memory");
}
// Bulk (non-tensor) reduction of `bytes` (a multiple of 16, both addresses 16-byte aligned) float32 values from
// shared memory into global memory, dst[i] += src[i], in this thread's current bulk group (the backward's dQ
// rows: attention_bwd_wg.cuh).
__device__ __forceinline__ void bulk_reduce_add_f32(float* dst, unsigned src, unsigned bytes) {
  asm volatile("cp.reduce.async.bulk.global.shared::cta.bulk_group.add.f32 [%0], [%1], %2;\n" ::"l"(dst), "r"(src),
               "r"(bytes)
               : "memory");
}
__device__ __forceinline__ void bulk_commit() { asm volatile("cp.async.bulk.commit_group;\n" ::: "memory"); }
// This thread's bulk groups have read their shared memory (it may be rewritten) / have completed.
__device__ __forceinline__ void bulk_wait_read_all() { asm volatile("cp.async.bulk.wait_group.read 0;\n" ::: "memory"); }
__device__ __forceinline__ void bulk_wait_all() { asm volatile("cp.async.bulk.wait_group 0;\n" ::: "memory"); }
// Bring the map into the copy engine's descriptor cache before its first use.
__device__ __forceinline__ void prefetch_tma_map(const TmaMap* map) {
  asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<unsigned long long>(map)) : "memory");
}
#endif

}  // namespace sm90
}  // namespace moga
