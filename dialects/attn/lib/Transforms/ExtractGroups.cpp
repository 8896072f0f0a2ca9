//===- ExtractGroups.cpp - mask conjunct f(q) == f(kv) -> grouping key ----===//
#include "attn/AttnOps.h"
#include "attn/AttnPasses.h"

#include "mlir/IR/IRMapping.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNEXTRACTGROUPS
#include "attn/AttnPasses.h.inc"
}  // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

/// The operands of `v` joined by `arith.andi` at the top of the mask: the conjuncts, as uses (so one
/// conjunct can be replaced without touching other uses of the same value).
void collectConjuncts(OpOperand& use, SmallVectorImpl<OpOperand*>& out) {
  if (auto andOp = use.get().getDefiningOp<arith::AndIOp>(); andOp && andOp->hasOneUse()) {
    for (OpOperand& operand : andOp->getOpOperands()) collectConjuncts(operand, out);
    return;
  }
  out.push_back(&use);
}

bool dependsOn(Value v, Value t) {
  if (v == t) return true;
  Operation* op = v.getDefiningOp();
  return op && llvm::any_of(op->getOperands(), [&](Value o) { return dependsOn(o, t); });
}

/// True if `a` computes on token `ta` exactly what `b` computes on token `tb` (same ops, same
/// attributes, operands equivalent), and neither reads the other token.
bool sameFunctionOf(Value a, Value b, Value ta, Value tb) {
  if (a == ta || b == tb) return a == ta && b == tb;
  if (a == tb || b == ta) return false;
  Operation* opA = a.getDefiningOp();
  Operation* opB = b.getDefiningOp();
  if (!opA || !opB) return false;  // another block argument (e.g. a head index): not a key
  if (opA == opB) return a == b && !dependsOn(a, ta) && !dependsOn(a, tb);
  if (opA->getName() != opB->getName() || opA->getAttrDictionary() != opB->getAttrDictionary() ||
      opA->getNumOperands() != opB->getNumOperands() || opA->getNumRegions() != 0 ||
      cast<OpResult>(a).getResultNumber() != cast<OpResult>(b).getResultNumber())
    return false;
  for (auto [x, y] : llvm::zip(opA->getOperands(), opB->getOperands()))
    if (!sameFunctionOf(x, y, ta, tb)) return false;
  return true;
}

/// Clones the expression computing `v` into `builder`'s block with `from` mapped to `to`.
Value cloneExpr(Value v, IRMapping& map, OpBuilder& builder) {
  if (Value mapped = map.lookupOrNull(v)) return mapped;
  Operation* op = v.getDefiningOp();
  for (Value operand : op->getOperands()) cloneExpr(operand, map, builder);
  Operation* copy = builder.clone(*op, map);
  return copy->getResult(cast<OpResult>(v).getResultNumber());
}

struct AttnExtractGroups : mlir::attn::impl::AttnExtractGroupsBase<AttnExtractGroups> {
  void runOnOperation() override {
    getOperation().walk([](AttendOp op) {
      if (op.getRouting() || !op.getKey().empty() || op.getMask().empty()) return;
      Block& mask = op.getMask().front();
      Value q = mask.getArgument(0), kv = mask.getArgument(1);
      auto yield = cast<YieldOp>(mask.getTerminator());
      SmallVector<OpOperand*> conjuncts;
      collectConjuncts(yield->getOpOperand(0), conjuncts);
      for (OpOperand* use : conjuncts) {
        auto cmp = use->get().getDefiningOp<arith::CmpIOp>();
        if (!cmp || cmp.getPredicate() != arith::CmpIPredicate::eq) continue;
        Value lhs = cmp.getLhs(), rhs = cmp.getRhs();
        if (!sameFunctionOf(lhs, rhs, q, kv)) {
          if (!sameFunctionOf(rhs, lhs, q, kv)) continue;
          std::swap(lhs, rhs);
        }
        // A key that does not depend on the token would group everything: leave it to folding.
        if (lhs == rhs) continue;
        OpBuilder builder(op.getContext());
        Block* keyBlock = new Block();
        op.getKey().push_back(keyBlock);
        Value t = keyBlock->addArgument(TokenType::get(op.getContext()), op.getLoc());
        builder.setInsertionPointToStart(keyBlock);
        IRMapping map;
        map.map(q, t);
        Value key = cloneExpr(lhs, map, builder);
        builder.create<YieldOp>(op.getLoc(), key);
        // The conjunct is now implied by the grouping.
        builder.setInsertionPointToStart(&mask);
        use->set(builder.create<arith::ConstantIntOp>(op.getLoc(), 1, 1));
        return;
      }
    });
  }
};

}  // namespace
