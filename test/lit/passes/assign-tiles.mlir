// RUN: moga-opt %s -attn-assign-tiles | FileCheck %s --check-prefix=D128
// RUN: moga-opt %s -attn-assign-tiles=head-dim=64 | FileCheck %s --check-prefix=D64
// RUN: not moga-opt %s -attn-assign-tiles=head-dim=96 2>&1 | FileCheck %s --check-prefix=BAD

// The Hopper plan (registry.h default_hopper_plan): a dense kernel runs the TMA row at its default tiles.
// D128: attn.kernel "a" {{.*}}plan = {sm_90 = {block_m = 128 : i64, block_n = 176 : i64, head_dims = [128], stages = 2 : i64, variant = "sm90.tma", warps = 8 : i64}}
// D128-SAME: tiles = {block_m = 128 : i64, block_n = 64 : i64, head_dim = 128 : i64, stages = 2 : i64, warps = 4 : i64}
// D128-SAME: tunable = {block_m = [64, 128], block_n = [32, 64, 128], stages = [2, 3], warps = [4, 8]}
// D64: attn.kernel "a" {{.*}}tiles = {block_m = 128 : i64, block_n = 128 : i64, head_dim = 64 : i64
// Tiles already chosen are kept.
// D128: attn.kernel "b" {{.*}}tiles = {block_m = 64 : i64, block_n = 32 : i64}
// BAD: head dimension 96 has no kernel (64 or 128)
attn.pattern @p layout seq {
  attn.kernel "a" weight 1.0 {accumulate = false}
  attn.kernel "b" weight 1.0 {accumulate = true, tiles = {block_m = 64 : i64, block_n = 32 : i64}}
}
