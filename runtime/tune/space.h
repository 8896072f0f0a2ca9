// The configuration space of one kernel: the manifest's "tunable" lists, their full product at the
// shape's head dim, pruned on the host BEFORE anything is compiled by the rules that can be decided
// statically (docs/autotune.md, "The space").
//
//   KernelInfo k = kernel_info(manifest, "stga");        // tiles, tunable lists, pattern hash
//   Space s = build_space(k, /*head_dim=*/128, DeviceLimits::assumed_h100());
//   for (const Config& c : s.kept) ...                  // s.pruned: each with the rule that removed it
//
// No CUDA, no MLIR: runs on the build machine (`moga tune --dry-run`) and in the CPU tests.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace moga::tune {

// One point of the space: a row of the kernel registry (runtime/attention/registry.h) and its tiles
// (D comes from the shape). sm80.mma: attention_fwd<Variant, D, BM, BN, WARPS, STAGES> with the manifest's
// tunable lists; every other row with its KernelVariant::tile_space (the wgmma rows, sm90.ws and its
// scheduler rows: attention_fwd_ws with BM 128, BN 64 or 128, 2-4 stages), where KernelVariant::runs_on
// the arch (the runtime's own default on sm_90 is sm90.ws 128/128/3, so it competes with everything
// else in the same space).
struct Config {
  int block_m = 0, block_n = 0, warps = 0, stages = 0;
  std::string variant = "sm80.mma";  // the registry row

  static Config wgmma_kernel() { return Config{128, 128, 8, 3, "sm90.ws"}; }
  // What the runtime runs for a kernel without a gather (dense or masked) on sm_90 at D = 128 (Engine::Auto).
  static Config tma_kernel() { return Config{128, 176, 8, 2, "sm90.tma"}; }
  bool wgmma() const { return variant != "sm80.mma"; }
  // "bm128_bn64_w4_s2" (sm80.mma) or the row's tag first: "wg_bm128_bn128_w8_s3" (sm90.ws; the spelling
  // older databases hold), "wgp_..." (sm90.ws.persistent), ...: the database key of the config and the
  // spelling `--configs` accepts.
  std::string id() const;
  // Inverse of id(); nullopt for anything else.
  static std::optional<Config> parse(const std::string& id);
  int threads() const;  // the registry row's (sm90.ws*: 384)
  bool operator==(const Config& o) const {
    return block_m == o.block_m && block_n == o.block_n && warps == o.warps && stages == o.stages &&
           variant == o.variant;
  }
  bool operator!=(const Config& o) const { return !(*this == o); }
  bool operator<(const Config& o) const;
};

// What the tuner needs from one kernel entry of a manifest.
struct KernelInfo {
  std::string pattern;       // manifest "pattern"
  std::string kernel;        // kernel "name"
  int index = 0;             // position in the manifest's kernel list
  Config tiles;              // the manifest's "tiles" (the compiler's default choice)
  int manifest_head_dim = 128;
  bool gathers = false;      // a "key" or "route" (sorted tokens): rows with a gather row (sm90.tma) do not tune it;
                             // without one the runtime's own choice is sm90.tma (Config::tma_kernel)
  bool dense = false;        // no mask and no gather: the runtime's own choice is sm90.tma (Config::tma_kernel)
  bool bias = false;         // a bias: the runtime's own choice is sm90.ws.sq unless dense
  // the manifest's Hopper plan ("plan".sm_90: the row and tiles the runtime launches) and its head dims; no
  // variant when the manifest has none (hand-written)
  Config plan;
  std::vector<int> plan_head_dims;
  // "tunable": parameter -> candidate values. Missing parameters (or a manifest without "tunable")
  // contribute the "tiles" value alone.
  std::vector<int> block_m, block_n, warps, stages;
  // XXH3 of the canonical JSON of {"layout": <manifest layout>, "kernel": <entry minus "tiles", "plan" and
  // "tunable">}: what the kernel computes, independent of how it is tiled. pattern_hash_hex() is the
  // 16-digit spelling used in keys and file names.
  uint64_t pattern_hash = 0;
  std::string pattern_hash_hex() const;
};

// Throws std::invalid_argument naming the kernel when the entry is malformed; `kernel` empty or
// unknown lists the kernels in the message.
KernelInfo kernel_info(const nlohmann::json& manifest, const std::string& kernel);
std::vector<KernelInfo> all_kernels(const nlohmann::json& manifest);

// The limits the static rules check. Query them from the device when there is one (gpu_runner.h,
// device_limits()); otherwise assumed_h100().
struct DeviceLimits {
  std::string arch = "sm_90";
  std::string name = "assumed H100 (no device queried)";
  int smem_optin_bytes = 227 * 1024;    // CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN
  int regs_per_block = 64 * 1024;       // CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK
  int max_threads_per_block = 1024;
  bool queried = false;                 // true when these came from a device
  static DeviceLimits assumed_h100() { return DeviceLimits{}; }
  // Without a device (`moga tune --dry-run --arch sm_80`): the arch's published limits (sm_80: 163 KiB
  // of shared memory per block; sm_86, sm_89: 99 KiB; sm_90 and anything else: the H100's).
  static DeviceLimits assumed(const std::string& arch);
};

// attention_fwd's dynamic shared memory in bytes: AttnFwdCfg<D, BM, BN, WARPS, STAGES>::kSmemBytes
// (kernels_src/cuda/attention_fwd.cuh). The ONE host copy of that formula; test/unit/tune_space_test
// pins it to values worked out from the header. When a compiled module is at hand, its own number
// (entry.cuh's attn_fwd_smem_bytes, read with cuModuleGetGlobal) wins: CompileResult::smem_bytes.
int attn_fwd_smem_bytes(int head_dim, const Config& c);

// Why `c` cannot run at head dim `d` on `lim`, or "" when no static rule rejects it. The rules, in
// the order they are checked (the first that fails is reported):
//   the config's registry row runs on lim.arch (KernelVariant::runs_on: sm80.mma on sm_80+, the
//   sm90.ws* rows on sm_90 only); the wgmma rows are tuned at D = 128 only;
//   the row's tile rules, owned by the registry (KernelVariant::check_tiles, the runtime's own check:
//   the template's static_asserts; for sm80.mma D % 64 == 0, 1 <= warps <= 16, BM % (16 * warps) == 0,
//   at most 2 m-tiles per warp, BN % 16 == 0, 2 <= stages <= 4, the load row step threads/(D/8) a
//   multiple of 8 dividing BM and BN);
//   threads <= the device's limit;
//   shared memory (attn_fwd_smem_bytes) <= the device's opt-in limit (check_tiles again).
// Registers are known only after the compile: resource_check() below.
std::string static_check(const Config& c, int head_dim, const DeviceLimits& lim);

// The post-compile rules: registers x threads <= regs per block, the module's shared memory <= the
// opt-in limit. "" when fine. regs/smem 0 = unknown (not checked).
std::string resource_check(const Config& c, int regs_per_thread, int smem_bytes, const DeviceLimits& lim);

struct Pruned {
  Config config;
  std::string reason;
};

struct Space {
  int head_dim = 0;
  std::vector<Config> kept;     // the product minus the pruned, in a fixed order (sorted)
  std::vector<Pruned> pruned;   // with the rule that removed each
  size_t total() const { return kept.size() + pruned.size(); }
};

// The full product of the kernel's tunable lists (plus its manifest tiles), pruned by static_check.
Space build_space(const KernelInfo& k, int head_dim, const DeviceLimits& lim);

// The documented heuristic default (docs/autotune.md): the manifest's tiles when they pass
// static_check at this head dim; else the kept config closest to them (distance: the sum over BM, BN,
// warps of |log2(kept / manifest)| plus |stages difference|; ties: more shared memory (nearer the
// manifest's footprint), then the smaller id); nullopt only when the space keeps nothing.
std::optional<Config> heuristic_default(const KernelInfo& k, const Space& space, const DeviceLimits& lim);

}  // namespace moga::tune
