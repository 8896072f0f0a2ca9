// The backward kernel registry: one row per backward kernel variant (as registry.h is for the forward).
// backward.cpp reads the row of a pattern kernel for its name expressions, tiles (the block maps'),
// threads, shared memory and grid; the tests and bench_backward name rows to run an engine.
//
//   const BackwardVariant& v = choose_backward("sm_90", 128, "");   // sm90.wg when it is the default
//   v.main_expr("moga_gen_full::full", 128, true) -> "moga::attention_bwd_wg<moga_gen_full::full, 128, true>"
//
// The rows:
//   sm80.mma  attention_bwd (mma.sync, FlashAttention-2's structure, 64x64 tiles, 128 threads), any sm_80+
//             target and D in {64, 128}; deterministic dQ: attention_bwd_dq over 64-key tiles.
//   sm90.wg   attention_bwd_wg (wgmma, FlashAttention-3's structure: a producer warpgroup, two consumer
//             warpgroups; 64-query x 128-key tiles, 384 threads), sm_90 (built sm_90a) at D = 64 and 128, dQ added
//             by red.global.add.v2.f32; deterministic dQ: attention_bwd_dq over the same 128-key map tiles.
//   sm90.wg.bulk  the same kernel with dQ staged in shared memory and added by one bulk reduction per row
//             (cp.reduce.async.bulk, FA3's way), to measure against sm90.wg's atomics; deterministic: as sm90.wg.
//   sm90.wg.tma, sm90.wg.tma.bulk  the same two with a TMA producer (attention_bwd_wg_tma: one lane issues the
//             boxes, setmaxnreg 24 / 240) for kernels without a gather; a kernel with one (computed or routed
//             groups, top-k rows) runs the row's cp.async kernel (sm90.wg, sm90.wg.bulk).
//   sm90.wg.tma.rs  sm90.wg.tma with dK += dS^T Q from registers (FA3's RS dK; fits the TMA kernel's 240
//             registers only), to measure against it; gathering kernels: sm90.wg.
//   Retired after measuring slower on the H200 (docs/performance.md; git has them): sm90.wg.tma.m80 (FA3's 80-row
//   dense tile), .rs.dv (dV before dP^T's wait), .rs.pp (ping-pong turns), .lr (dK in flight into the next tile).
// Selection (choose_backward): a named row (BackwardOptions::engine, else the environment variable
// MOGA_BWD_ENGINE), refused with the reason when it cannot run the target or head dim; else the default:
// sm90.wg.tma on sm_90 (verified and measured on an H200), sm80.mma elsewhere.
// Header-only (small).
#pragma once

#include <fmt/format.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "runtime/attention/tensor.h"

namespace moga::rt {

struct BackwardVariant {
  const char* name;        // "sm90.wg"
  const char* summary;     // one line
  int block_m, block_n;    // query rows x keys of a tile pair (the block maps' tiles)
  int threads;             // per CTA; grid (ceil(N k / block_n), H, B)
  bool wgmma;              // built for the "a" target (sm_90a)
  bool dq_bulk = false;    // attention_bwd_wg's DQ_BULK (dQ by bulk reductions)
  bool tma = false;        // attention_bwd_wg_tma for kernels without a gather
  bool dk_rs = false;      // its DK_RS (dK from dS^T in registers; the TMA kernel only)

  // Why the row cannot run at arch / head dim D, or "" when it can.
  std::string check(const std::string& arch, int D) const;
  // NVRTC name expressions: the main kernel (dq_atomic: dQ by atomics in it; gathers: the kernel's rows are
  // gathered through perm, so a tma row runs its cp.async kernel), the deterministic dQ kernel, and the
  // __device__ int of the main kernel's dynamic shared memory.
  std::string main_expr(const std::string& v, int D, bool dq_atomic, bool gathers = false) const;
  // Whether the main kernel of a kernel that gathers (or not) takes the TMA maps (BwdTmaMaps) as well.
  bool uses_tma(bool gathers) const { return tma && !gathers; }
  std::string dq_expr(const std::string& v, int D) const;
  std::string smem_expr(int D) const;
};

namespace bwd_registry_detail {
// The sm_90 default: sm90.wg.tma at both head dims (kernels without a gather: the TMA kernel; the others:
// sm90.wg's). D = 64 since GPU batch 2 of session 4; D = 128 since session 10: after the element passes became
// straight-line copies and the TMA waits lost their proxy fence, sm90.wg.tma ran 39.25 / 39.33 / 39.39 ms at 32,760
// in two calls against .rs's 40.31 / 39.84 / 40.32 (docs/performance.md, "Backward from the profile"); .rs had been
// the D = 128 default since session 5 (42.81 vs 44.69 then). The rows that measured slower than both (80-row tile,
// early dV, ping-pong turns, late stage release) are retired; git and docs/performance.md keep them.
inline constexpr bool kWgmmaDefault = true;
inline constexpr const char* kWgmmaDefaultRow = "sm90.wg.tma";

inline bool sm90(const std::string& arch) { return arch == "sm_90" || arch == "sm_90a"; }
}  // namespace bwd_registry_detail

inline std::string BackwardVariant::check(const std::string& arch, int D) const {
  if (D != 64 && D != 128) return fmt::format("head dim {} (the kernels exist for D = 64 and 128)", D);
  if (wgmma && !bwd_registry_detail::sm90(arch))
    return fmt::format("it runs wgmma (sm_90 only) and the target is {}", arch);
  return "";
}

inline std::string BackwardVariant::main_expr(const std::string& v, int D, bool dq_atomic, bool gathers) const {
  const bool t = uses_tma(gathers), bulk = dq_bulk && dq_atomic;
  const char* k = !wgmma ? "attention_bwd" : t ? "attention_bwd_wg_tma" : "attention_bwd_wg";
  // the template arguments after <Variant, D, DQ_ATOMIC> that are not their defaults: DQ_BULK, then (the TMA
  // kernel) DK_RS
  const std::string tail = t && dk_rs ? fmt::format(", {}, true", bulk ? "true" : "false") : bulk ? ", true" : "";
  return fmt::format("moga::{}<{}, {}, {}{}>", k, v, D, dq_atomic ? "true" : "false", tail);
}
inline std::string BackwardVariant::dq_expr(const std::string& v, int D) const {
  return block_n == 64 ? fmt::format("moga::attention_bwd_dq<{}, {}>", v, D)
                       : fmt::format("moga::attention_bwd_dq<{}, {}, {}>", v, D, block_n);
}
inline std::string BackwardVariant::smem_expr(int D) const {
  return fmt::format("&moga::{}<{}>", wgmma ? "attn_bwd_wg_smem_bytes" : "attn_bwd_smem_bytes", D);
}

inline const std::vector<BackwardVariant>& backward_registry() {
  static const std::vector<BackwardVariant> rows = {
      {"sm80.mma", "attention_bwd: mma.sync, FlashAttention-2's structure, 64x64 tiles", 64, 64, 128, false},
      {"sm90.wg", "attention_bwd_wg: wgmma, FlashAttention-3's structure, 64x128 tiles, producer + 2 consumers", 64,
       128, 384, true},
      {"sm90.wg.bulk", "attention_bwd_wg with dQ by bulk reductions from shared memory (cp.reduce.async.bulk)", 64,
       128, 384, true, true},
      {"sm90.wg.tma", "attention_bwd_wg with a TMA producer (kernels without a gather; the others: sm90.wg)", 64, 128,
       384, true, false, true},
      {"sm90.wg.tma.bulk", "attention_bwd_wg, TMA producer and dQ by bulk reductions (gathers: sm90.wg.bulk)", 64, 128,
       384, true, true, true},
      {"sm90.wg.tma.rs", "sm90.wg.tma with dK from dS^T in registers (RS; gathers: sm90.wg)", 64, 128, 384, true, false,
       true, true},
  };
  return rows;
}

inline const BackwardVariant* find_backward(const std::string& name) {
  for (const auto& r : backward_registry())
    if (name == r.name) return &r;
  return nullptr;
}

inline std::string backward_names() {
  std::string s;
  for (const auto& r : backward_registry()) s += (s.empty() ? "" : ", ") + std::string(r.name);
  return s;
}

inline const BackwardVariant& default_backward(const std::string& arch, int D) {
  const BackwardVariant& wg = *find_backward(bwd_registry_detail::kWgmmaDefaultRow);
  if (bwd_registry_detail::kWgmmaDefault && wg.check(arch, D).empty()) return wg;
  return *find_backward("sm80.mma");
}

inline const BackwardVariant& choose_backward(const std::string& arch, int D, const std::string& forced) {
  std::string name = forced, from = "BackwardOptions::engine";
  if (name.empty()) {
    const char* e = std::getenv("MOGA_BWD_ENGINE");
    if (e && *e) name = e, from = "MOGA_BWD_ENGINE";
  }
  if (name.empty() || name == "auto") return default_backward(arch, D);
  const BackwardVariant* v = find_backward(name);
  if (!v) throw ArgumentError(fmt::format("{} '{}': no backward kernel of that name (rows: auto, {})", from, name,
                                          backward_names()));
  const std::string why = v->check(arch, D);
  if (!why.empty()) throw ArgumentError(fmt::format("{} '{}' cannot run here: {}", from, name, why));
  return *v;
}

}  // namespace moga::rt
