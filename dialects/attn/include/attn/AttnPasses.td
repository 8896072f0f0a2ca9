//===- AttnPasses.td - attn dialect passes -----------------*- tablegen -*-===//
#ifndef ATTN_PASSES
#define ATTN_PASSES

include "mlir/Pass/PassBase.td"

def AttnSimplify : Pass<"attn-simplify", "::mlir::ModuleOp"> {
  let summary = "Simplify mask, key, bias and gate expressions and trivial mixtures";
  let description = [{
    Folds constants (upstream `arith` folders and canonicalizations), removes a mask that is always
    true, flattens nested mixtures, drops a mixture of one stream with weight 1, and removes
    operations that no region uses.
  }];
}

def AttnExtractGroups : Pass<"attn-extract-groups", "::mlir::ModuleOp"> {
  let summary = "Turn a top-level `f(q) == f(kv)` conjunct of a mask into a grouping key";
  let description = [{
    A mask `f(q) == f(kv) && rest` (f the same expression of one token) is the same as grouping by
    the key `f` with mask `rest`. Grouped branches run as sorted, block-diagonal attention: the
    tokens are sorted by key on the GPU, and tiles of different groups are never visited.
  }];
}

def AttnFuseMixture : Pass<"attn-fuse-mixture", "::mlir::ModuleOp"> {
  let summary = "Fold gates and the mixture into one `attn.kernel` per branch";
  let description = [{
    Each branch that reaches the output becomes an `attn.kernel` whose epilogue applies its gate
    and mixture weight and accumulates into the output, so the mixture needs no extra pass.
  }];
}

def AttnClassifyBlocks : Pass<"attn-classify-blocks", "::mlir::ModuleOp"> {
  let summary = "Derive the block-sparsity structure of each kernel from its mask expression";
  let description = [{
    Records the coordinates each kernel's mask and key read (`uses`: the per-tile summaries the
    block classifier needs) and the structure: `dense` (no mask, no group: every tile full),
    `grouped` (key or routing, no residual mask), `grouped_masked`, or `masked`. The classifier
    itself is the mask evaluated on tile coordinate intervals (kernels_src/cuda/interval.cuh).
  }];
}

def AttnPlanScore : Pass<"attn-plan-score", "::mlir::ModuleOp"> {
  let summary = "Place each term of a kernel's bias by what it depends on, and choose its arithmetic";
  let description = [{
    Marks every operation of a kernel's bias with `attn.at`: `"row"` (no key-token operand: computed
    once per query row and work item), `"col"` (no query-token operand: once per key column and tile,
    staged by the producer warpgroup) or `"elem"` (per element). Integer element terms made only of
    +, -, *, abs, min, max, select and comparisons get `attn.f32`: float32 evaluates them exactly while
    every value stays below 2^24 (the converted row and column values below 2^22), which holds for sequences of at most `bias_f32_max_n` tokens (set on
    the kernel; the runtime refuses longer ones). The codegen reads these attributes and nothing else
    to split the bias into its row, column and element parts.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::math::MathDialect"];
}

def AttnAssignTiles : Pass<"attn-assign-tiles", "::mlir::ModuleOp"> {
  let summary = "Attach the mma.sync tiles, their tunable space and the Hopper plan (registry row) to each kernel";
  let options = [
    Option<"headDim", "head-dim", "int64_t", /*default=*/"128", "head dimension of the kernels">,
  ];
}

#endif // ATTN_PASSES
