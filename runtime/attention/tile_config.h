// The vocabulary the kernel registry (registry.h), the runtime (attention.h) and the tuner share: the
// attention kernel families and a tile configuration. No CUDA, no MLIR.
#pragma once

#include <string>

namespace moga::rt {

// Per-kernel tile configuration: BM (query rows), BN (key columns), warps, pipeline stages. 0 fields:
// the default (the manifest's for mma.sync, the registry row's for wgmma).
struct TileConfig {
  int block_m = 0, block_n = 0, warps = 0, stages = 0;
  bool operator==(const TileConfig& o) const {
    return block_m == o.block_m && block_n == o.block_n && warps == o.warps && stages == o.stages;
  }
  bool operator!=(const TileConfig& o) const { return !(*this == o); }
};

// The attention kernel families (attention.h, "Attention kernels"; the rows of registry.h).
enum class Engine { Auto, MmaSync, Wgmma };
const char* engine_name(Engine e);  // "auto", "mma.sync", "wgmma"

// The default tile configuration of the wgmma family (registry row sm90.ws): BM = BN = 128, two consumer
// warpgroups (8 warps), 3 stages.
inline constexpr TileConfig kWgmmaTiles{128, 128, 8, 3};
// The default of the TMA row (sm90.tma): FlashAttention-3's tile at D = 128, BN = 176, 2 stages.
inline constexpr TileConfig kTmaTiles{128, 176, 8, 2};
// The default of the FP8 row (sm90.tma.fp8): BN = 192 (FlashAttention-3's FP8 tile with V pre-transposed), 2
// stages.
inline constexpr TileConfig kFp8Tiles{128, 192, 8, 2};
// The default of the sorted-copy TMA row (sm90.tma.sorted), whose kernels are mostly gathered: BN = 128,
// because aligned groups are padded to lcm(BM, BN) entries (1,408 at BN 176), 2 stages (3 at BN 128 leave
// no room for staged columns).
inline constexpr TileConfig kTmaSortedTiles{128, 128, 8, 2};

// Whether `arch` ("sm_90", "sm_90a", "sm_80", ...) can run the wgmma kernel: sm_90 only (wgmma is an
// sm_90a feature; Blackwell has none).
bool wgmma_arch(const std::string& arch);

}  // namespace moga::rt
