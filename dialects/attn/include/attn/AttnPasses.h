//===- AttnPasses.h - attn dialect passes -------------------------*- C++ -*-===//
#pragma once

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

namespace mlir::attn {

#define GEN_PASS_DECL
#include "attn/AttnPasses.h.inc"

#define GEN_PASS_REGISTRATION
#include "attn/AttnPasses.h.inc"

/// The lowering pipeline, in order: simplify, cse, extract-groups, fuse-mixture, simplify,
/// classify-blocks, assign-tiles. `moga compile` and `moga-opt --attn-lower` run it.
void buildAttnLowerPipeline(OpPassManager& pm, int64_t headDim = 128);
void registerAttnPipelines();

}  // namespace mlir::attn
