//===- Simplify.cpp - fold expressions and trivial mixtures ---------------===//
#include "attn/AttnOps.h"
#include "attn/AttnPasses.h"

#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNSIMPLIFY
#include "attn/AttnPasses.h.inc"
}  // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

/// The value a present, single-block expression region yields.
Value yieldedValue(Region& region) {
  if (region.empty()) return {};
  return cast<YieldOp>(region.front().getTerminator()).getValue();
}

/// A mask that is always true is no mask: the kernel then skips per-element evaluation.
template <class OpT>
struct DropTrueMask : OpRewritePattern<OpT> {
  using OpRewritePattern<OpT>::OpRewritePattern;
  LogicalResult matchAndRewrite(OpT op, PatternRewriter& rewriter) const override {
    Value v = yieldedValue(op.getMask());
    if (!v || !matchPattern(v, m_One())) return failure();
    // Through the rewriter, so the driver forgets the erased ops.
    rewriter.modifyOpInPlace(op, [&] { rewriter.eraseBlock(&op.getMask().front()); });
    return success();
  }
};

/// mix(a, mix(b, c)) with weights (w, [u, v]) -> mix(a, b, c) with (w, w*u, w*v).
struct FlattenMix : OpRewritePattern<MixOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MixOp op, PatternRewriter& rewriter) const override {
    SmallVector<Value> inputs;
    SmallVector<double> weights;
    bool changed = false;
    for (auto [in, w] : llvm::zip(op.getInputs(), op.getWeights())) {
      auto inner = in.getDefiningOp<MixOp>();
      if (!inner || !inner->hasOneUse()) {
        inputs.push_back(in);
        weights.push_back(w);
        continue;
      }
      changed = true;
      for (auto [v, u] : llvm::zip(inner.getInputs(), inner.getWeights())) {
        inputs.push_back(v);
        weights.push_back(w * u);
      }
    }
    if (!changed) return failure();
    rewriter.replaceOpWithNewOp<MixOp>(op, op.getType(), inputs, weights);
    return success();
  }
};

/// mix(a) with weight 1 is a.
struct DropUnitMix : OpRewritePattern<MixOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MixOp op, PatternRewriter& rewriter) const override {
    if (op.getInputs().size() != 1 || op.getWeights()[0] != 1.0) return failure();
    rewriter.replaceOp(op, op.getInputs()[0]);
    return success();
  }
};

/// A gate expression that is constantly 1 scales nothing.
struct DropUnitGate : OpRewritePattern<GateOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(GateOp op, PatternRewriter& rewriter) const override {
    Value v = yieldedValue(op.getExpr());
    APFloat value(0.0f);
    if (!v || !matchPattern(v, m_ConstantFloat(&value)) || !value.isExactlyValue(1.0))
      return failure();
    rewriter.replaceOp(op, op.getInput());
    return success();
  }
};

struct AttnSimplify : mlir::attn::impl::AttnSimplifyBase<AttnSimplify> {
  void runOnOperation() override {
    MLIRContext* ctx = &getContext();
    RewritePatternSet patterns(ctx);
    for (RegisteredOperationName name : ctx->getRegisteredOperations())
      name.getCanonicalizationPatterns(patterns, ctx);
    patterns.add<DropTrueMask<AttendOp>, DropTrueMask<KernelOp>, FlattenMix, DropUnitMix,
                 DropUnitGate>(ctx);
    if (failed(applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

}  // namespace
