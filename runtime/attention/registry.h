// The kernel registry: one row per attention kernel variant. The runtime (attention.cpp: which kernel a
// pattern kernel runs, its name expression, threads, shared memory, grid), the tuner (runtime/tune:
// the space it searches), the tests and the benchmarks all read these rows; nothing else names a kernel
// template. Adding a kernel (e.g. for Blackwell) is one row here and one header in kernels_src/cuda.
//
//   const KernelVariant& v = *find_variant("sm90.ws.persistent");
//   v.kernel_expr("moga_gen_moga::dynamic", 128, v.default_tiles)
//       -> "moga::attention_fwd_ws<moga_gen_moga::dynamic, 128, 128, 128, 3>"
//
// The rows (docs/performance.md, "Registry"):
//   sm80.mma             attention_fwd (mma.sync), any sm_80+ target; tiles BM/BN/warps/stages from the
//                        manifest or the tuner; grid (ceil(N/BM), H, B).
//   sm90.ws              attention_fwd_ws (warp-specialized wgmma: a producer warpgroup, two ping-pong
//                        consumers; 384 threads), sm_90 only; BM 128, BN 64 or 128, 2-4 stages as shared
//                        memory allows; the grid chosen by kernel: persistent with dynamic scheduling for
//                        routed kernels with short groups, for packed groups (group_layout.h) and for masked
//                        kernels of few key tiles an item (< 64 on average), one CTA per work item otherwise.
//   sm90.ws.items        the same kernel, always one CTA per work item.
//   sm90.ws.persistent   the same kernel, always persistent with dynamic scheduling (atomic counter).
//   sm90.ws.static       the same kernel, always persistent with the static round-robin.
//   sm90.ws.sq           the same kernel with S = Q K^T reading Q from shared memory (SS wgmma; 32
//                        registers per consumer thread fewer, room for score modifications), grid by kernel.
//   sm90.tma             attention_fwd_tma: the same frame and consumers (Q in shared memory) with a TMA
//                        producer (one thread issues bulk tensor copies; setmaxnreg 24 / 240), for
//                        kernels without a gather (dense, masked, causal, cross-attention); BN 64, 128
//                        or 176 (default 128/176/2); a kernel with a gather (computed or routed groups)
//                        runs its gather_row, sm90.ws.sq, instead. Grid by kernel (as sm90.ws: masked
//                        kernels of few key tiles an item persistent, dense ones one CTA per item).
//   sm90.tma.persistent  the same kernel, always persistent with dynamic scheduling (gather row
//                        sm90.ws.persistent).
//   sm90.tma.static      the same kernel, always persistent with the static round-robin (gather row
//                        sm90.ws.static).
//   sm90.tma.fp8         attention_fwd_fp8: sm90.tma's frame on e4m3 Q, K, V^T (fp8_prep.cuh quantizes
//                        per (tensor, batch, head) and transposes V first, in the kernel's sorted order
//                        for gathered kernels; out stays bf16), D = 128, BN 128 or 192 (default
//                        128/192/2). Grid by kernel (gathered kernels with short groups persistent, as sm90.ws).
//   sm90.tma.fp8.ov      the same kernel with FlashAttention-3's intra-warpgroup overlap as the SASS runs it: the
//                        softmax of tile j under P V(j-1) (the wgmma wait in a basic block below the softmax;
//                        in sm90.tma.fp8 ptxas hoists it above the exps), no proxy fence per tile (kOverlap).
//   sm90.tma.fp8.sum     sm90.tma.fp8 with the rows' sums l by the tensor cores: P V is n136 on V^T blocks with 8
//                        rows of e4m3 1.0 after their D, so O's columns D .. D + 7 are l (no FADD per score; kSum),
//                        and the conditional rescale (a row's maximum moves by more than 0.8 in log2 units only:
//                        P <= 2^8.8 < e4m3's 448, so most tiles skip O's rescale).
//                        AttentionOptions::precision = Fp8 runs it for every kernel (kFp8DefaultRow).
//   sm90.tma.sorted      the TMA kernel for gathered kernels too (no gather row): before the kernel, a
//                        pass (sorted_copy.cuh) writes q, k and v in the kernel's sorted token order (one
//                        more read and write of 3 x N H D bf16 per call), and the tensor maps are of those
//                        copies; default tiles 128/128/2 (aligned groups pad to lcm(BM, BN)); grid by kernel
//                        (persistent for routed kernels with short groups and for packed groups).
// Engine (attention.h) names the family a row belongs to: MmaSync or Wgmma.
#pragma once

#include <string>
#include <vector>

#include "runtime/attention/tile_config.h"

namespace moga::rt {

// How a row's grid is laid out.
enum class Scheduler {
  QueryTiles,         // grid (ceil(N/BM), H, B): one CTA per query tile (sm80.mma)
  ByKernel,           // work items; persistent + dynamic for short items (routed, packed, masked), else one per item
  PerItem,            // one CTA per work item (b, h, query tile), 1-D grid
  PersistentDynamic,  // one CTA per SM, items claimed from an atomic counter (AttnParams::item_counter)
  PersistentStatic,   // one CTA per SM, CTA c takes items c, c + G, ...
};
const char* scheduler_name(Scheduler s);

struct KernelVariant {
  const char* name;      // "sm90.ws.persistent"
  const char* id_tag;    // tuner config ids: "" (sm80.mma: "bm64_bn64_w4_s2") or "wg", "wgi", ... ("wg_bm128_...")
  Engine engine;         // the family (MmaSync or Wgmma)
  const char* summary;   // one line, for `moga bench` / `--list-variants`
  Scheduler scheduler;
  TileConfig default_tiles;  // Wgmma rows: their default; MmaSync: none (the manifest's)
  bool q_smem = false;       // Wgmma rows: Q from shared memory (attention_fwd_ws's kQSmem)
  bool tma = false;          // attention_fwd_tma (TMA producer: q, k, v through tensor maps, no gather)
  // tma rows: the row a kernel with a gather (perm) runs instead; nullptr on a tma row: gathered kernels
  // run it on copies in their sorted order (sm90.tma.sorted: bf16 q, k, v; sm90.tma.fp8: its e4m3 copies)
  const char* gather_row = nullptr;
  bool fp8 = false;          // attention_fwd_fp8 (e4m3 operands from the FP8 prep; tma too)
  bool fp8_overlap = false;  // attention_fwd_fp8's kOverlap: the softmax under the P V before it (mainloop_fp8.cuh)
  bool fp8_sum = false;      // attention_fwd_fp8's kSum: the rows' sums by the P V product (mainloop_fp8.cuh)

  // Whether the row runs on the target `arch` ("sm_90", "sm_90a", "sm_80", ...).
  bool runs_on(const std::string& arch) const;
  // Why tiles `t` cannot run at head dim D (the template's static_asserts, the shared memory limit),
  // or "" when they can. bias_words: the kernel's staged bias words per key column (Wgmma rows;
  // KernelSpec::bias_col_words), which take shared memory.
  // key_words: 1 when it stages key columns for the mask (KernelSpec::stage_keys), else 0.
  std::string check_tiles(const TileConfig& t, int D, int smem_limit = 227 * 1024, int bias_words = 0,
                          int key_words = 1) const;
  // The NVRTC name expression of the kernel for variant struct `v` ("moga_gen_P::K"), and of its
  // __device__ int holding the dynamic shared memory the kernel needs (entry.cuh). lse: the
  // instantiation that also writes the rows' log-sum-exp (AttnParams::lse).
  std::string kernel_expr(const std::string& v, int D, const TileConfig& t, bool lse = false) const;
  std::string smem_expr(const std::string& v, int D, const TileConfig& t) const;
  // The dynamic shared memory in bytes (the host copy of the header's formula; the module's own
  // number, read through smem_expr, is what the launch uses).
  int smem_bytes(int D, const TileConfig& t, int bias_words = 0, int key_words = 1) const;
  int threads(const TileConfig& t) const;
  // The tile configurations the tuner searches at head dim D (MmaSync rows: the manifest's lists, so
  // empty here).
  std::vector<TileConfig> tile_space(int D) const;
  // Whether the module must be built for the "a" target (sm_90a: wgmma).
  bool needs_arch_specific() const { return engine == Engine::Wgmma; }
};

// The words per key column the wgmma kernel stages for a bias with `col_words` column terms
// (score_pass.cuh BiasStage::kWords: padded to 1, 2 or a multiple of 4).
int bias_stage_words(int col_words);

const std::vector<KernelVariant>& kernel_registry();
// nullptr when no row has that name.
const KernelVariant* find_variant(const std::string& name);
// The row an engine runs when no variant is named: MmaSync -> sm80.mma, Wgmma -> sm90.ws.
const KernelVariant& default_variant(Engine e);
// The row AttentionOptions::precision = Fp8 runs every kernel on: sm90.tma.fp8.sum (3.6% / 1.7% faster than
// sm90.tma.fp8 on dense at 32,760 / 187,200 tokens in one run, same bounds on every FP8 test; docs/performance.md).
constexpr const char* kFp8DefaultRow = "sm90.tma.fp8.sum";
// The row a kernel runs when `v` is asked for: v itself, or for a kernel with a gather (gathers: its
// tokens are sorted, perm) on a row that cannot gather (tma) the row's gather_row.
const KernelVariant& row_for_kernel(const KernelVariant& v, bool gathers);
// "sm80.mma, sm90.ws, ..." (error messages).
std::string variant_names();

// ---- The plan: the row a kernel runs on Hopper -----------------------------------------------------------
// One rule with two readers: the compiler's attn-assign-tiles writes its answer into the IR and the
// manifest ("plan"), and the runtime launches what the manifest says (attention.cpp; a hand-written
// manifest without a plan gets this rule's answer). Kernels on other targets, at head dims the plan does
// not list, or with a caller's tile entry run sm80.mma with the manifest's "tiles".
struct KernelTraits {
  bool gathers = false;  // a computed key or a router: the kernel runs in group order (perm)
  bool masked = false;   // a mask program
  bool bias = false;     // a bias program
  bool key_in_order = false;  // a computed key non-decreasing in the token index (attn KeyOrder.h): its groups
                              // are runs of consecutive tokens at every shape
  int route_groups = 0;       // a router's M (0: not routed)
  int route_topk = 1;         // and its top k
};
// Routed kernels without a mask or bias and at most this many groups per choice (M / top k) run sm90.tma.sorted:
// their groups are long (N k / M tokens), where the TMA kernel on sorted copies beats the gathering sm90.ws by
// more than the copy costs (registry.cpp default_hopper_plan).
constexpr int kSortedMaxGroupsPerChoice = 16;
struct HopperPlan {
  std::string variant;         // a registry row (Engine::Wgmma)
  TileConfig tiles;            // its tiles (before the runtime drops stages that the device cannot hold)
  std::vector<int> head_dims;  // the head dims it runs at
};
HopperPlan default_hopper_plan(const KernelTraits& k);

}  // namespace moga::rt
