#include "runtime/attention/registry.h"

#include <fmt/format.h>

#include <algorithm>

namespace moga::rt {

const char* engine_name(Engine e) {
  switch (e) {
    case Engine::Auto: return "auto";
    case Engine::MmaSync: return "mma.sync";
    case Engine::Wgmma: return "wgmma";
  }
  return "?";
}

bool wgmma_arch(const std::string& arch) { return arch == "sm_90" || arch == "sm_90a"; }

const char* scheduler_name(Scheduler s) {
  switch (s) {
    case Scheduler::QueryTiles: return "query tiles";
    case Scheduler::ByKernel: return "by kernel";
    case Scheduler::PerItem: return "one CTA per item";
    case Scheduler::PersistentDynamic: return "persistent, dynamic";
    case Scheduler::PersistentStatic: return "persistent, static";
  }
  return "?";
}

namespace {

// sm_XY -> XY (0 when unparsable)
int arch_number(const std::string& arch) {
  int n = 0;
  if (arch.size() < 5 || arch.compare(0, 3, "sm_") != 0) return 0;
  for (size_t i = 3; i < arch.size() && arch[i] >= '0' && arch[i] <= '9'; ++i) n = n * 10 + (arch[i] - '0');
  return n;
}

// AttnFwdCfg (kernels_src/cuda/attention_fwd.cuh): max(Q + STAGES (K + V), the fp32 epilogue staging).
int mma_smem(int D, const TileConfig& t) {
  const long long row = 2LL * D;
  const long long main_bytes = t.block_m * row + t.stages * 2LL * t.block_n * row;
  const long long epi_bytes = static_cast<long long>(t.block_m) * (D + 8) * 4;
  return static_cast<int>(std::max(main_bytes, epi_bytes));
}

// AttnFwdWSCfg (kernels_src/cuda/attention_fwd_ws.cuh): 1024 (alignment slack) + STAGES (K + V) + Q +
// the barriers (4 STAGES + 2) + the item ring (4 ids, 8 barriers) + the staged key columns (STAGES x BN)
// + the staged bias columns (STAGES x BN x words).
int ws_smem(int D, const TileConfig& t, int bias_words, int key_words) {
  const int tile = t.block_n * D * 2, q = t.block_m * D * 2;
  return 1024 + 2 * t.stages * tile + q + (4 * t.stages + 2) * 8 + 4 * 4 + 2 * 4 * 8 +
         t.stages * t.block_n * 4 * key_words + t.stages * t.block_n * bias_stage_words(bias_words) * 4;
}

// attention_fwd's static_asserts: the one statement of the mma.sync tile rules (the tuner's static_check
// calls check_tiles too). Messages carry the values, so a refused config says what to change.
std::string mma_check(const TileConfig& t, int D) {
  const int threads = t.warps * 32, ch = D / 8;
  if (D <= 0 || D % 64 != 0) return fmt::format("head dim {} is not a multiple of 64", D);
  if (t.warps < 1 || t.warps > 16) return fmt::format("warps {} outside 1..16", t.warps);
  if (t.block_m < 16 || t.block_m % (16 * t.warps) != 0)
    return fmt::format("BM {} is not a multiple of 16 * warps = {}", t.block_m, 16 * t.warps);
  if (t.block_m / (16 * t.warps) > 2)
    return fmt::format("BM {} gives {} m-tiles per warp (at most 2: BM <= 32 * warps)", t.block_m,
                       t.block_m / (16 * t.warps));
  if (t.block_n < 16 || t.block_n % 16 != 0) return fmt::format("BN {} is not a multiple of 16", t.block_n);
  if (t.stages < 2 || t.stages > 4) return fmt::format("stages {} outside 2..4", t.stages);
  if (threads % ch != 0 || (threads / ch) % 8 != 0)
    return fmt::format("{} threads over {} chunks per row: row step {} is not a multiple of 8", threads, ch,
                       threads % ch ? -1 : threads / ch);
  const int step = threads / ch;
  if (t.block_m % step != 0 || t.block_n % step != 0)
    return fmt::format("BM {} / BN {} do not split over the load row step {}", t.block_m, t.block_n, step);
  return "";
}

// AttnFwdFp8Cfg (kernels_src/cuda/mainloop_fp8.cuh): ws_smem's layout with e4m3 tiles (one byte per element).
// sum: V^T blocks of D + 8 rows (SUM), the V ring rounded up to 1024 bytes.
int fp8_smem(int D, const TileConfig& t, int bias_words, int key_words, bool sum) {
  const int tile = t.block_n * D, q = t.block_m * D, vring = (t.stages * t.block_n * (sum ? D + 8 : D) + 1023) / 1024 * 1024;
  return 1024 + t.stages * tile + vring + q + (4 * t.stages + 2) * 8 + 4 * 4 + 2 * 4 * 8 +
         t.stages * t.block_n * 4 * key_words + t.stages * t.block_n * bias_stage_words(bias_words) * 4;
}

// AttnFwdFp8Cfg's static_asserts.
std::string fp8_check(const TileConfig& t, int D) {
  if (D != 128) return fmt::format("head dim {} (the FP8 kernel has 128)", D);
  if (t.block_m != 128) return "BM must be 128 (two consumer warpgroups of 64 rows)";
  if (t.block_n != 128 && t.block_n != 192) return fmt::format("BN {}: must be 128 or 192", t.block_n);
  if (t.warps != 8) return "warps must be 8 (the two consumer warpgroups; the producer is extra)";
  if (t.stages < 2 || t.stages > 4) return "stages must be 2..4";
  return "";
}

// AttnFwdWSCfg's static_asserts (tma: attention_fwd_tma's, BN 176 too).
std::string ws_check(const TileConfig& t, int D, bool tma) {
  if (D != 64 && D != 128) return fmt::format("head dim {} (the wgmma kernel has 64 and 128)", D);
  if (t.block_m != 128) return "BM must be 128 (two consumer warpgroups of 64 rows)";
  if (tma && t.block_n != 64 && t.block_n != 128 && t.block_n != 176)
    return fmt::format("BN {}: must be 64, 128 or 176", t.block_n);
  if (!tma && t.block_n != 64 && t.block_n != 128) return fmt::format("BN {}: must be 64 or 128", t.block_n);
  if (t.warps != 8) return "warps must be 8 (the two consumer warpgroups; the producer is extra)";
  if (t.stages < 2 || t.stages > 4) return "stages must be 2..4";
  return "";
}

const char* kWsSummary = "wgmma, producer warpgroup + 2 ping-pong consumers (384 threads)";

}  // namespace

bool KernelVariant::runs_on(const std::string& arch) const {
  return engine == Engine::Wgmma ? wgmma_arch(arch) : arch_number(arch) >= 80;
}

int bias_stage_words(int col_words) { return col_words <= 2 ? col_words : (col_words + 3) / 4 * 4; }

std::string KernelVariant::check_tiles(const TileConfig& t, int D, int smem_limit, int bias_words,
                                       int key_words) const {
  std::string why = fp8 ? fp8_check(t, D) : engine == Engine::Wgmma ? ws_check(t, D, tma) : mma_check(t, D);
  if (why.empty() && smem_bytes(D, t, bias_words, key_words) > smem_limit)
    why = fmt::format("shared memory {} B > opt-in limit {} B", smem_bytes(D, t, bias_words, key_words), smem_limit);
  return why;
}

std::string KernelVariant::kernel_expr(const std::string& v, int D, const TileConfig& t, bool lse) const {
  // lse = false names the default instantiation exactly as before (the same kernel, the same cache entry)
  if (fp8) {  // the template's trailing flags LSE, kOverlap, kSum: named up to the last one set
    const bool flags[] = {lse, fp8_overlap, fp8_sum};
    int last = -1;
    for (int i = 0; i < 3; ++i)
      if (flags[i]) last = i;
    std::string tail;
    for (int i = 0; i <= last; ++i) tail += flags[i] ? ", true" : ", false";
    return fmt::format("moga::attention_fwd_fp8<{}, {}, {}, {}, {}{}>", v, D, t.block_m, t.block_n, t.stages, tail);
  }
  if (tma)
    return fmt::format("moga::attention_fwd_tma<{}, {}, {}, {}, {}{}>", v, D, t.block_m, t.block_n, t.stages,
                       lse ? ", true" : "");
  if (engine == Engine::Wgmma)
    return fmt::format("moga::attention_fwd_ws<{}, {}, {}, {}, {}{}>", v, D, t.block_m, t.block_n, t.stages,
                       lse ? (q_smem ? ", true, true" : ", false, true") : q_smem ? ", true" : "");
  return fmt::format("moga::attention_fwd<{}, {}, {}, {}, {}, {}{}>", v, D, t.block_m, t.block_n, t.warps, t.stages,
                     lse ? ", true" : "");
}

std::string KernelVariant::smem_expr(const std::string& v, int D, const TileConfig& t) const {
  if (engine == Engine::Wgmma)
    return fmt::format("&moga::attn_fwd_{}_smem_bytes<{}, {}, {}, {}, {}{}>", fp8 ? "fp8" : tma ? "tma" : "ws", v, D, t.block_m,
                       t.block_n, t.stages, fp8_sum ? ", true" : "");
  return fmt::format("&moga::attn_fwd_smem_bytes<{}, {}, {}, {}, {}>", D, t.block_m, t.block_n, t.warps, t.stages);
}

int KernelVariant::smem_bytes(int D, const TileConfig& t, int bias_words, int key_words) const {
  if (fp8) return fp8_smem(D, t, bias_words, key_words, fp8_sum);
  return engine == Engine::Wgmma ? ws_smem(D, t, bias_words, key_words) : mma_smem(D, t);
}

int KernelVariant::threads(const TileConfig& t) const { return engine == Engine::Wgmma ? 384 : t.warps * 32; }

std::vector<TileConfig> KernelVariant::tile_space(int D) const {
  std::vector<TileConfig> out;
  if (engine != Engine::Wgmma) return out;
  for (int bn : fp8 ? std::vector<int>{128, 192} : std::vector<int>{64, 128, 176})
    for (int st : {2, 3, 4}) {
      const TileConfig t{128, bn, 8, st};
      if (check_tiles(t, D).empty()) out.push_back(t);
    }
  return out;
}

const std::vector<KernelVariant>& kernel_registry() {
  static const std::vector<KernelVariant> rows = {
      {"sm80.mma", "", Engine::MmaSync, "mma.sync, cp.async pipeline (any sm_80+)", Scheduler::QueryTiles, {}},
      {"sm90.ws", "wg", Engine::Wgmma, kWsSummary, Scheduler::ByKernel, kWgmmaTiles},
      {"sm90.ws.items", "wgi", Engine::Wgmma, kWsSummary, Scheduler::PerItem, kWgmmaTiles},
      {"sm90.ws.persistent", "wgp", Engine::Wgmma, kWsSummary, Scheduler::PersistentDynamic, kWgmmaTiles},
      {"sm90.ws.static", "wgs", Engine::Wgmma, kWsSummary, Scheduler::PersistentStatic, kWgmmaTiles},
      {"sm90.ws.sq", "wgq", Engine::Wgmma, "wgmma as sm90.ws, Q from shared memory (SS)", Scheduler::ByKernel,
       kWgmmaTiles, true},
      {"sm90.tma", "wgt", Engine::Wgmma, "wgmma as sm90.ws.sq, TMA producer (no gather: others run sm90.ws.sq)",
       Scheduler::ByKernel, kTmaTiles, true, true, "sm90.ws.sq"},
      {"sm90.tma.persistent", "wgtp", Engine::Wgmma, "sm90.tma, persistent with dynamic scheduling",
       Scheduler::PersistentDynamic, kTmaTiles, true, true, "sm90.ws.persistent"},
      {"sm90.tma.static", "wgts", Engine::Wgmma, "sm90.tma, persistent with the static round-robin",
       Scheduler::PersistentStatic, kTmaTiles, true, true, "sm90.ws.static"},
      {"sm90.tma.fp8", "wgt8", Engine::Wgmma,
       "sm90.tma on e4m3 Q, K, V^T (an FP8 prep first; gathered kernels: copies in their sorted order)",
       Scheduler::ByKernel, kFp8Tiles, true, true, nullptr, true},
      {"sm90.tma.fp8.ov", "wgt8o", Engine::Wgmma,
       "sm90.tma.fp8 with the softmax under the P V before it (FlashAttention-3's intra-warpgroup overlap)",
       Scheduler::ByKernel, kFp8Tiles, true, true, nullptr, true, true},
      {"sm90.tma.fp8.sum", "wgt8s", Engine::Wgmma,
       "sm90.tma.fp8 with the rows' sums by the P V product (n136 on V^T with 8 rows of ones: no FADD per score)",
       Scheduler::ByKernel, kFp8Tiles, true, true, nullptr, true, false, true},
      {"sm90.tma.sorted", "wgtc", Engine::Wgmma,
       "sm90.tma for every kernel: gathered ones load sorted copies of q, k, v (one extra pass)", Scheduler::ByKernel,
       kTmaSortedTiles, true, true, nullptr},
  };
  return rows;
}

const KernelVariant* find_variant(const std::string& name) {
  for (const KernelVariant& v : kernel_registry())
    if (name == v.name) return &v;
  return nullptr;
}

const KernelVariant& default_variant(Engine e) {
  return *find_variant(e == Engine::Wgmma ? "sm90.ws" : "sm80.mma");
}

const KernelVariant& row_for_kernel(const KernelVariant& v, bool gathers) {
  return gathers && v.gather_row ? *find_variant(v.gather_row) : v;
}

HopperPlan default_hopper_plan(const KernelTraits& k) {
  // Kernels without a gather (dense or masked; a bias or softcap allowed) run the TMA row, measured faster on
  // the H200 (docs/performance.md, "v12": dense 10.56 vs 12.52 ms at N = 32,760, softcap and ALiBi 9-14%,
  // causal 13-18%; "v13": the suite's masked patterns). Gathered kernels: a bias's row terms and staged
  // column words need the registers Q would take, so with Q in shared memory (sm90.ws.sq) its kernel does
  // not spill; the rest sm90.ws (sm90.tma.sorted, the TMA kernel on sorted copies, is their A/B). D = 64
  // stays on sm80.mma until the wgmma rows are measured there. A computed key in token order (groups of
  // consecutive tokens) without a bias runs sm90.tma.sorted, which loads its tiles from q, k, v without a copy
  // (docs/performance.md "v13", measured: document_causal 0.747 -> 0.625 ms, dinat2d 1.155 -> 1.067). A routed
  // kernel without a mask with few groups per choice runs sm90.tma.sorted too, on copies in its sorted order
  // (docs/performance.md, "Grids and rows by measurement", layer ms, sm90.ws -> sm90.tma.sorted, 32,760 / 75,600
  // tokens: M = 4 3.556 -> 3.001 / 18.74 -> 16.37, M = 5 2.877 -> 2.508 / 14.85 -> 13.29, M = 16 1.065 -> 1.031 /
  // 4.775 -> 4.530, top2_routing (M = 8, top 2) 6.514 -> 6.188; M = 64 0.468 -> 0.593 / 1.727 -> 1.739, M = 256
  // 0.528 -> 0.736: there the copy costs more than it saves).
  // A gathered kernel with a bias that runs on sorted copies anyway (long routed groups, a key in token order)
  // takes the TMA kernel too: Q in shared memory as on sm90.ws.sq, no spill (ptxas: 168 registers, 0 B, float and
  // byte-packed splits), and measured faster (session 17, H100, routed6_bias 32,760 tokens: 2.556 vs 2.756 ms,
  // routed6_cap_bias 2.969 vs 3.346; docs/performance.md "The video bias on packed bytes").
  const bool long_groups = k.route_groups > 0 && !k.masked &&
                           k.route_groups <= kSortedMaxGroupsPerChoice * std::max(1, k.route_topk);
  const KernelVariant* v = find_variant(!k.gathers                      ? "sm90.tma"
                                        : k.key_in_order || long_groups ? "sm90.tma.sorted"
                                        : k.bias                        ? "sm90.ws.sq"
                                                                        : "sm90.ws");
  v = &row_for_kernel(*v, k.gathers);
  return {v->name, v->default_tiles, {128}};
}

std::string variant_names() {
  std::string s;
  for (const KernelVariant& v : kernel_registry()) s += (s.empty() ? "" : ", ") + std::string(v.name);
  return s;
}

}  // namespace moga::rt
