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
//   sm90.wg.tma.m80  sm90.wg.tma.rs on FlashAttention-3's dense D = 128 tile, 80 queries x 128 keys (dQ^T = K^T dS^T),
//             for plain kernels (no block map, gather, softcap or bias: FA3 takes 64 rows under a softcap too, and
//             here its 32 registers serialize the wgmmas); the others and D = 64 run sm90.wg.tma.rs (the maps and
//             the deterministic dQ pass stay at 64-row tiles).
//   sm90.wg.tma.rs.dv  sm90.wg.tma.rs with dV issued right after P, before dP^T is waited for (DV_EARLY: dS^T is
//             formed while dV runs on the tensor cores; kernels without a softcap). At 80 rows the packed P's
//             registers serialize the wgmmas (C7512), so it keeps 64.
//   sm90.wg.tma.rs.pp  sm90.wg.tma.rs with the two consumer warpgroups issuing S^T, dP^T in turn (PINGPONG: named
//             barriers, FA3's forward order), so one forms P and dS while the other's products run; gathers: sm90.wg.
// Selection (choose_backward): a named row (BackwardOptions::engine, else the environment variable
// MOGA_BWD_ENGINE), refused with the reason when it cannot run the target or head dim; else the default:
// sm90.wg.tma.rs on sm_90 at D = 128, sm90.wg.tma at D = 64 (verified and measured on an H200), sm80.mma elsewhere.
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
  int plain_m = 64;        // the TMA kernel's query rows (TILE_M) at D = 128 for plain kernels
  bool dv_early = false;   // the TMA kernel's DV_EARLY
  bool pingpong = false;   // the TMA kernel's PINGPONG
  bool late_release = false;  // the TMA kernel's LATE_RELEASE

  // The main kernel's query rows per tile pair (the TMA boxes of q and dout): plain_m for a D = 128 plain kernel
  // (no block map, gather, softcap or bias), else block_m (the maps' tiles).
  int tile_m(int D, bool plain) const { return tma && plain && D == 128 ? plain_m : block_m; }

  // Why the row cannot run at arch / head dim D, or "" when it can.
  std::string check(const std::string& arch, int D) const;
  // NVRTC name expressions: the main kernel (dq_atomic: dQ by atomics in it; gathers: the kernel's rows are
  // gathered through perm, so a tma row runs its cp.async kernel), the deterministic dQ kernel, and the
  // __device__ int of the main kernel's dynamic shared memory.
  // plain: the kernel has no block map, gather, softcap or bias (tile_m).
  std::string main_expr(const std::string& v, int D, bool dq_atomic, bool gathers = false, bool plain = false) const;
  // Whether the main kernel of a kernel that gathers (or not) takes the TMA maps (BwdTmaMaps) as well.
  bool uses_tma(bool gathers) const { return tma && !gathers; }
  std::string dq_expr(const std::string& v, int D) const;
  std::string smem_expr(int D) const;
};

namespace bwd_registry_detail {
// The sm_90 default: sm90.wg.tma at D = 64, sm90.wg.tma.rs at D = 128 (kernels without a gather: the TMA kernel;
// the others: sm90.wg's). sm90.wg.tma was the best of session 4's rows on the H200 over dense and the moga layer
// (docs/performance.md, "Backward on wgmma":
// dense 45.0 ms at 32,760 vs 44.1 for .tma.bulk and 80.0 for sm80.mma; the layer 15.65 ms vs 15.89 and 20.6).
// D = 64 too since GPU batch 2 (gpu_backward_wg and _tma passed on the D = 64 cases, bench_backward --d 64).
// D = 128 since session 5's final batch: sm90.wg.tma.rs (dK from registers), 42.81 ms vs .tma's 44.69 at 32,760 in
// one run (.m80 47.39, .rs.dv 47.30; docs/performance.md, "Backward on FlashAttention-3's dense tile"), every case of
// gpu_backward_wg_tma passed on it; D = 64 keeps .tma (.rs there is tested, not measured).
inline constexpr bool kWgmmaDefault = true;
inline constexpr const char* kWgmmaDefaultRow = "sm90.wg.tma";
inline constexpr const char* kWgmmaDefaultRow128 = "sm90.wg.tma.rs";

inline bool sm90(const std::string& arch) { return arch == "sm_90" || arch == "sm_90a"; }
}  // namespace bwd_registry_detail

inline std::string BackwardVariant::check(const std::string& arch, int D) const {
  if (D != 64 && D != 128) return fmt::format("head dim {} (the kernels exist for D = 64 and 128)", D);
  if (wgmma && !bwd_registry_detail::sm90(arch))
    return fmt::format("it runs wgmma (sm_90 only) and the target is {}", arch);
  return "";
}

inline std::string BackwardVariant::main_expr(const std::string& v, int D, bool dq_atomic, bool gathers,
                                              bool plain) const {
  const bool t = uses_tma(gathers), bulk = dq_bulk && dq_atomic;
  const char* k = !wgmma ? "attention_bwd" : t ? "attention_bwd_wg_tma" : "attention_bwd_wg";
  // the template arguments after <Variant, D, DQ_ATOMIC>, up to the last one that is not its default (the TMA
  // kernel: DQ_BULK, DK_RS, TILE_M, DV_EARLY, PINGPONG, LATE_RELEASE; the cp.async kernel: DQ_BULK)
  std::vector<std::string> args = {bulk ? "true" : "false"}, defaults = {"false"};
  if (t) {
    const auto b = [](bool x) { return std::string(x ? "true" : "false"); };
    args.insert(args.end(), {b(dk_rs), std::to_string(tile_m(D, plain)), b(dv_early), b(pingpong), b(late_release)});
    defaults.insert(defaults.end(), {"false", "64", "false", "false", "false"});
  }
  size_t n = args.size();
  while (n > 0 && args[n - 1] == defaults[n - 1]) --n;
  std::string tail;
  for (size_t i = 0; i < n; ++i) tail += ", " + args[i];
  return fmt::format("moga::{}<{}, {}, {}{}>", k, v, D, dq_atomic ? "true" : "false", tail);
}
inline std::string BackwardVariant::dq_expr(const std::string& v, int D) const {
  return block_n == 64 ? fmt::format("moga::attention_bwd_dq<{}, {}>", v, D)
                       : fmt::format("moga::attention_bwd_dq<{}, {}, {}>", v, D, block_n);
}
inline std::string BackwardVariant::smem_expr(int D) const {
  // the module's kernels share one figure: the larger tile's when the row has one (it needs more)
  if (wgmma && plain_m != 64 && D == 128) return fmt::format("&moga::attn_bwd_wg_smem_bytes<{}, {}>", D, plain_m);
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
      {"sm90.wg.tma.m80", "sm90.wg.tma.rs on FA3's 80x128 tile for plain kernels (no map, gather, softcap, bias)", 64, 128,
       384, true, false, true, true, 80},
      {"sm90.wg.tma.rs.dv", "sm90.wg.tma.rs with dV issued before dP^T is waited for (DV_EARLY)", 64, 128, 384, true,
       false, true, true, 64, true},
      {"sm90.wg.tma.rs.pp", "sm90.wg.tma.rs with the consumer warpgroups issuing S^T, dP^T in turn (PINGPONG)", 64, 128,
       384, true, false, true, true, 64, false, true},
      {"sm90.wg.tma.lr", "sm90.wg.tma releasing a stage after the next tile's S^T (LATE_RELEASE: dK in flight across "
       "tiles)", 64, 128, 384, true, false, true, false, 64, false, false, true},
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
  const BackwardVariant& wg =
      *find_backward(D == 128 ? bwd_registry_detail::kWgmmaDefaultRow128 : bwd_registry_detail::kWgmmaDefaultRow);
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
