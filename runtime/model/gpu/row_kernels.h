// The DiT's row kernels (kernels_src/cuda/dit_kernels.cuh: dit_add_ln, dit_quant_rows, dit_rms_rope): their
// launch geometry and launchers, for runtime/model/gpu/dit.cpp and the GPU tests. A row is handled by a team of 32 W threads (W warps, a power of two) that holds it in
// registers, at most a kernel's number of float4 groups a thread (12; dit_add_ln's f32 rows 6), so the
// smallest team that fits the row is taken: for wan-1.3b's d = 1,536 one warp (shuffles only, no barrier)
// or two (dit_add_ln), for wan-14b's 5,120 4 or 8 warps, 8 for the FFN hidden of 8,960 (16 for wan-14b's
// 13,824). A block of at least 256 threads runs block / T teams.
#pragma once

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

#include "runtime/jit/module.h"

namespace moga::model::gpu {

constexpr int kTeamGroups = 12;  // DIT_TEAM_K: dit_rms_rope, dit_quant_rows
constexpr int kLnGroups = 6;     // DIT_LN_K: dit_add_ln
constexpr int kMaxTeams = 8;     // DIT_MAX_TEAMS

struct RowTeams {
  unsigned grid = 0, block = 0;
  int team_threads = 0, rows_per_team = 0;
};

// rows rows of cols columns (cols % 4 == 0) for a kernel holding at most groups_per_thread float4 groups in
// blocks of at most max_block threads (its __launch_bounds__).
inline RowTeams row_teams(const char* kernel, int cols, long long rows, int groups_per_thread, int max_block) {
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
  // About 512 blocks (two to four an SM, as registers allow) whatever the row count, so that dit_add_ln
  // builds its per-block tables once per 64 rows at 32,760 tokens, and a block's table prologue overlaps
  // the other block's rows.
  r.rows_per_team = (int)std::clamp<long long>((team_rows + 511) / 512, 1, 64);
  r.grid = (unsigned)((team_rows + r.rows_per_team - 1) / r.rows_per_team);
  return r;
}

// dit_quant_rows f on rows x bf16 [rows][ld]: q e4m3 [rows][cols], sc f32 [rows] (GELU(tanh) first when gelu).
inline void launch_quant_rows(CUfunction f, CUdeviceptr x, long long ld, long long rows, int cols, int gelu, CUdeviceptr q,
                              CUdeviceptr sc, CUstream s) {
  const RowTeams g = row_teams("dit_quant_rows", cols, rows, kTeamGroups, 512);
  int team = g.team_threads, per = g.rows_per_team;
  void* args[] = {&x, &ld, &cols, &gelu, &q, &sc, &rows, &team, &per};
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
  const RowTeams g = row_teams("dit_add_ln", a.d, rows, kLnGroups, 256);
  int team = g.team_threads, per = g.rows_per_team;
  void* args[] = {&a.x,  &a.y,  &a.ga, &a.gb, &a.assign, &a.h,   &a.d,   &a.eps, &a.one,
                  &a.sa, &a.sb, &a.ta, &a.tb, &a.h8,     &a.h8s, &rows, &team,  &per};
  jit::launch(f, {g.grid, 1, 1}, {g.block, 1, 1}, add_ln_shared_bytes(a.d), s, args);
}

// dit_rms_rope on rows of p bf16 [rows][ld] (d columns, weight w, RoPE from rope_cs [rows][D/2][2] unless 0);
// with w2, also on the rows of p + p2 elements with weight w2, in the same launch.
inline void launch_rms_rope(CUfunction f, CUdeviceptr p, long long ld, int d, float eps, CUdeviceptr w, CUdeviceptr rope_cs,
                            int D, long long rows, CUstream s, long long p2 = 0, CUdeviceptr w2 = 0) {
  const RowTeams g = row_teams("dit_rms_rope", d, rows, kTeamGroups, 256);
  int team = g.team_threads, per = g.rows_per_team;
  void* args[] = {&p, &ld, &d, &eps, &w, &rope_cs, &D, &rows, &team, &per, &p2, &w2};
  jit::launch(f, {g.grid, w2 ? 2u : 1u, 1}, {g.block, 1, 1}, 0, s, args);
}

}  // namespace moga::model::gpu
