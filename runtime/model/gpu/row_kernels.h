// The DiT's row kernels (kernels_src/cuda/dit_kernels.cuh: dit_add_ln, dit_quant_rows, dit_rms_rope): their
// launch geometry and launchers, for runtime/model/gpu/dit.cpp and the GPU tests. A row is handled by a team
// of 32 W threads (W warps, a power of two) that holds it in registers, at most a kernel's number of float4 groups a thread (12; dit_add_ln's f32 rows 6), so the
// smallest team that fits the row is taken: for wan-1.3b's d = 1,536 one warp (shuffles only, no barrier)
// or two (dit_add_ln), for wan-14b's 5,120 4 or 8 warps, 8 for the FFN hidden of 8,960 (16 for wan-14b's
// 13,824). A block of at least 256 threads runs block / T teams; the grid is persistent (resident_blocks).
#pragma once

#include <algorithm>
#include <map>
#include <mutex>
#include <stdexcept>
#include <tuple>

#include <fmt/format.h>

#include "runtime/jit/check.h"
#include "runtime/jit/driver.h"
#include "runtime/jit/module.h"

namespace moga::model::gpu {

constexpr int kTeamGroups = 12;  // DIT_TEAM_K: dit_rms_rope, dit_quant_rows
constexpr int kLnGroups = 6;     // DIT_LN_K: dit_add_ln
constexpr int kMaxTeams = 8;     // DIT_MAX_TEAMS

struct RowTeams {
  unsigned grid = 0, block = 0;
  int team_threads = 0;
};

// Blocks of f (block threads, smem dynamic bytes) resident on the whole device at once (occupancy x SMs),
// cached per (function, block, smem).
inline unsigned resident_blocks(CUfunction f, int block, size_t smem) {
  static std::mutex mu;
  static std::map<std::tuple<CUfunction, int, size_t>, unsigned> cache;
  std::lock_guard<std::mutex> lock(mu);
  const auto key = std::make_tuple(f, block, smem);
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  int per_sm = 0;
  CU_CHECK(jit::driver().cuOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, f, block, smem));
  if (per_sm < 1)
    throw std::runtime_error(fmt::format("row kernel: a block of {} threads with {} bytes of shared memory does not fit on an SM",
                                         block, smem));
  const unsigned n = (unsigned)per_sm * (unsigned)jit::Device::get().attribute(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
  cache.emplace(key, n);
  return n;
}

// rows rows of cols columns (cols % 4 == 0) for kernel f holding at most groups_per_thread float4 groups in
// blocks of at most max_block threads (its __launch_bounds__), smem dynamic bytes a block: the smallest team
// that holds the row, and a persistent grid (no more blocks than stay resident, none without a row).
inline RowTeams row_teams(CUfunction f, const char* kernel, int cols, long long rows, int groups_per_thread, int max_block,
                          size_t smem = 0) {
  if (cols <= 0 || cols % 4 != 0)
    throw std::invalid_argument(fmt::format("{}: {} columns (must be a positive multiple of 4)", kernel, cols));
  const int groups = cols / 4;
  int warps = 1;
  while (warps * 32 * groups_per_thread < groups && warps * 32 < max_block) warps *= 2;
  if (warps * 32 * groups_per_thread < groups)
    throw std::invalid_argument(fmt::format("{}: a row of {} columns is wider than the {} a {}-thread team holds", kernel,
                                            cols, 4 * groups_per_thread * max_block, max_block));
  RowTeams r;
  r.team_threads = 32 * warps;
  r.block = (unsigned)std::max(256, r.team_threads);
  const long long teams = r.block / r.team_threads;  // <= kMaxTeams
  const long long team_rows = (std::max(rows, 1LL) + teams - 1) / teams;
  r.grid = (unsigned)std::min<long long>(team_rows, resident_blocks(f, (int)r.block, smem));
  return r;
}

// dit_quant_rows f on rows x bf16 [rows][ld]: q e4m3 [rows][cols], sc f32 [rows] (GELU(tanh) first when gelu).
inline void launch_quant_rows(CUfunction f, CUdeviceptr x, long long ld, long long rows, int cols, int gelu, CUdeviceptr q,
                              CUdeviceptr sc, CUstream s) {
  const RowTeams g = row_teams(f, "dit_quant_rows", cols, rows, kTeamGroups, 512);
  int team = g.team_threads;
  void* args[] = {&x, &ld, &cols, &gelu, &q, &sc, &rows, &team};
  jit::launch(f, {g.grid, 1, 1}, {g.block, 1, 1}, 0, s, args);
}

// dit_add_ln's arguments (its comment in dit_kernels.cuh says what each does); null tables read 0.
struct AddLn {
  CUdeviceptr x = 0, y = 0, ga = 0, gb = 0;
  int assign = 0;
  CUdeviceptr h = 0;
  int d = 0;
  float eps = 0, one = 0;
  CUdeviceptr sa = 0, sb = 0, ta = 0, tb = 0, h8 = 0, h8s = 0;
};
// dit_add_ln's dynamic shared memory: the gate, scale and shift tables, f32 [d] each. Above 48 KB (d > 4,096)
// the function needs CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES set to it.
inline size_t add_ln_shared_bytes(int d) { return (size_t)12 * d; }
inline void launch_add_ln(CUfunction f, AddLn a, long long rows, CUstream s) {
  const RowTeams g = row_teams(f, "dit_add_ln", a.d, rows, kLnGroups, 256, add_ln_shared_bytes(a.d));
  int team = g.team_threads;
  void* args[] = {&a.x,  &a.y,  &a.ga, &a.gb, &a.assign, &a.h,   &a.d,   &a.eps, &a.one,
                  &a.sa, &a.sb, &a.ta, &a.tb, &a.h8,     &a.h8s, &rows, &team};
  jit::launch(f, {g.grid, 1, 1}, {g.block, 1, 1}, add_ln_shared_bytes(a.d), s, args);
}

// dit_rms_rope on rows of p bf16 [rows][ld] (d columns, weight w, RoPE from rope_cs [rows][D/2][2] unless 0);
// with w2, also on the rows of p + p2 elements with weight w2, in the same launch.
inline void launch_rms_rope(CUfunction f, CUdeviceptr p, long long ld, int d, float eps, CUdeviceptr w, CUdeviceptr rope_cs,
                            int D, long long rows, CUstream s, long long p2 = 0, CUdeviceptr w2 = 0) {
  const RowTeams g = row_teams(f, "dit_rms_rope", d, rows, kTeamGroups, 256);
  int team = g.team_threads;
  void* args[] = {&p, &ld, &d, &eps, &w, &rope_cs, &D, &rows, &team, &p2, &w2};
  jit::launch(f, {g.grid, w2 ? 2u : 1u, 1}, {g.block, 1, 1}, 0, s, args);
}

}  // namespace moga::model::gpu
