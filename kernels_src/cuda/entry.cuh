// The header every generated pattern source includes first (`#include "entry.cuh"`): it brings in the
// kernel templates (the rows of the kernel registry, runtime/attention/registry.h: attention_fwd.cuh =
// mma.sync, attention_fwd_ws.cuh = warp-specialized wgmma, attention_fwd_tma.cuh = the same with a TMA
// producer, both sm_90a only; prep.cuh) the variant structs are
// plugged into, a few small
// helpers the runtime (runtime/attention) needs beside them, and the MOGA_*_ENTRY macros the codegen
// writes after the variant structs.
//
// Entry macros. The runtime names every instantiation it needs through NVRTC name expressions
// (jit::CompileOptions::name_expressions), e.g.
//     moga::attention_fwd<moga_gen_moga::stga, 128, 128, 64, 4, 2>
//     moga::attention_fwd_ws<moga_gen_moga::stga, 128, 128, 128, 3>        (module built for sm_90a)
//     moga::block_map_kernel<moga_gen_moga::stga>
//     moga::router_kernel<1, 1, 3, 512, 2, true>
// so one generated source serves every head dim and tile configuration without recompiling the
// pattern, and no extern "C" wrapper is needed. The macros therefore expand to nothing by default;
// they remain as a record of the kernels the codegen had in mind (head dim 128, manifest tiles).
// For cuobjdump or a hand-written nvcc harness, instantiate the templates explicitly after the
// generated source, e.g.
//     template __global__ void moga::attention_fwd_ws<moga_gen_p::k, 128, 128, 128, 2, false>(const moga::AttnParams);
//
// Helpers (all templates: instantiated only when a name expression asks for them):
//   attn_fwd_smem_bytes<D, BM, BN, WARPS, STAGES>   __device__ int: the attention kernel's dynamic
//                                                   shared memory, read by the runtime with
//                                                   cuModuleGetGlobal (one definition: AttnFwdCfg)
//   attn_fwd_ws_smem_bytes<V, D, BM, BN, STAGES>    the same for attention_fwd_ws (AttnFwdWSCfg with
//                                                   V's staged bias words; the value is right in any
//                                                   build, the kernel itself only in an sm_90a one)
//   attn_fwd_tma_smem_bytes<V, D, BM, BN, STAGES>   the same for attention_fwd_tma (BN 176 allowed)
//   attn_fwd_fp8_smem_bytes<V, D, BM, BN, STAGES>   the same for attention_fwd_fp8 (attention_fwd_fp8.cuh)
//   gate_fill_kernel<V>                             gate[b][s] (*)= V::gate(coords of perm[b][s]):
//                                                   a branch's `gate <expr>` at sorted positions
//
// NVRTC-compatible: no host standard headers.
#pragma once
#include "attention_bwd.cuh"
#include "attention_bwd_wg.cuh"
#include "attention_fwd.cuh"
#include "attention_fwd_fp8.cuh"
#include "attention_fwd_tma.cuh"
#include "attention_fwd_ws.cuh"
#include "prep.cuh"

namespace moga {

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
template <int D, int BM, int BN, int WARPS, int STAGES>
__device__ int attn_fwd_smem_bytes = AttnFwdCfg<D, BM, BN, WARPS, STAGES>::kSmemBytes;
template <class V, int D, int BM, int BN, int STAGES>
__device__ int attn_fwd_ws_smem_bytes =
    AttnFwdWSCfg<D, BM, BN, STAGES, BiasStage<V>::kWords, KeyStaging<V>::kStage ? 1 : 0>::kSmemBytes;
template <class V, int D, int BM, int BN, int STAGES>
__device__ int attn_fwd_tma_smem_bytes =
    AttnFwdWSCfg<D, BM, BN, STAGES, BiasStage<V>::kWords, KeyStaging<V>::kStage ? 1 : 0, true>::kSmemBytes;

// Gate program of a branch, at each sorted position s of batch b (perm == nullptr: identity).
// multiply != 0: gate[b][s] *= value (a routed branch whose gate also has the router probability);
// otherwise gate[b][s] = value. One thread per entry.
template <class V>
__global__ void __launch_bounds__(256) gate_fill_kernel(const int* perm, float* gate, int B, int N, MaskShape shape,
                                                        int multiply) {
  const long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  if (i >= (long long)B * N) return;
  const int s = (int)(i % N);
  const int tok = perm ? perm[i] : s;
  if (tok < 0) return;  // padding of aligned groups: never read
  const float g = V::gate(coords_of(tok, shape), shape);
  gate[i] = multiply ? gate[i] * g : g;
}
#endif

}  // namespace moga

#define MOGA_ATTENTION_ENTRY(name, V, D, BM, BN, W, S)
#define MOGA_BLOCKMAP_ENTRY(name, V, BM, BN)
#define MOGA_KEY_ENTRY(name, V)
#define MOGA_GATE_ENTRY(name, V)
