//===- Pipeline.cpp - the attn lowering pipeline --------------------------===//
#include "attn/AttnPasses.h"

#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

namespace mlir::attn {

void buildAttnLowerPipeline(OpPassManager& pm, int64_t headDim) {
  pm.addPass(createAttnSimplify());
  // One value per distinct subexpression: `q.frame` read twice is read once, and the grouping
  // extraction compares expressions structurally.
  pm.addPass(createCSEPass());
  pm.addPass(createAttnExtractGroups());
  pm.addPass(createAttnFuseMixture());
  pm.addPass(createAttnSimplify());
  pm.addPass(createAttnClassifyBlocks());
  pm.addPass(createAttnPlanScore());
  AttnAssignTilesOptions tiles;
  tiles.headDim = headDim;
  pm.addPass(createAttnAssignTiles(tiles));
}

void registerAttnPipelines() {
  PassPipelineRegistration<>("attn-lower", "Lower attn patterns to attn.kernel ops (the whole pipeline)",
                             [](OpPassManager& pm) { buildAttnLowerPipeline(pm); });
}

}  // namespace mlir::attn
