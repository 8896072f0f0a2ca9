//===- FuseMixture.cpp - gates and mixture -> one attn.kernel per branch --===//
#include "attn/AttnOps.h"
#include "attn/AttnPasses.h"

#include "mlir/IR/IRMapping.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNFUSEMIXTURE
#include "attn/AttnPasses.h.inc"
}  // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

/// One branch's share of the output: weight * gate * attend.
struct Contribution {
  AttendOp attend;
  double weight;
  GateOp gate;  // null: no gate
};

LogicalResult collect(Value stream, double weight, GateOp gate, SmallVectorImpl<Contribution>& out) {
  Operation* def = stream.getDefiningOp();
  if (auto mix = dyn_cast<MixOp>(def)) {
    for (auto [in, w] : llvm::zip(mix.getInputs(), mix.getWeights()))
      if (failed(collect(in, weight * w, gate, out))) return failure();
    return success();
  }
  if (auto g = dyn_cast<GateOp>(def)) {
    if (gate) return g.emitOpError("nested gates are not supported; multiply the factors in one gate");
    return collect(g.getInput(), weight, g, out);
  }
  auto attend = cast<AttendOp>(def);
  for (Contribution& c : out)
    if (c.attend == attend)
      return attend.emitOpError("reaches the output twice; give it one weight");
  out.push_back({attend, weight, gate});
  return success();
}

void cloneRegion(Region& from, Region& to) {
  IRMapping map;
  from.cloneInto(&to, map);
}

struct AttnFuseMixture : mlir::attn::impl::AttnFuseMixtureBase<AttnFuseMixture> {
  void runOnOperation() override {
    getOperation().walk([&](PatternOp pattern) {
      auto output = cast<OutputOp>(pattern.getBody().front().getTerminator());
      if (!output.getResult()) return;  // already lowered
      SmallVector<Contribution> parts;
      if (failed(collect(output.getResult(), 1.0, GateOp(), parts))) return signalPassFailure();

      OpBuilder builder(output);
      for (auto [i, c] : llvm::enumerate(parts)) {
        AttendOp a = c.attend;
        StringAttr name = a.getNameAttr() ? a.getNameAttr()
                                          : builder.getStringAttr("branch" + std::to_string(i));
        bool routeGate = c.gate && c.gate.getRouting();
        auto kernel = builder.create<KernelOp>(
            a.getLoc(), a.getRouting(), name, builder.getF64FloatAttr(c.weight),
            builder.getBoolAttr(i != 0), routeGate ? builder.getUnitAttr() : UnitAttr(),
            a.getScaleAttr(), a.getSoftcapAttr(), /*uses=*/ArrayAttr(), /*key_uses=*/ArrayAttr(), /*structure=*/StringAttr(),
            /*bias_f32_max_n=*/IntegerAttr(), /*bias_u8=*/ArrayAttr(),
            /*tiles=*/DictionaryAttr(), /*tunable=*/DictionaryAttr(), /*plan=*/DictionaryAttr());
        cloneRegion(a.getMask(), kernel.getMask());
        cloneRegion(a.getKey(), kernel.getKey());
        cloneRegion(a.getBias(), kernel.getBias());
        if (c.gate && !routeGate) cloneRegion(c.gate.getExpr(), kernel.getGate());
      }
      // The kernels write the output: drop the stream and everything that computed it.
      Value result = output.getResult();
      output.getResultMutable().clear();
      SmallVector<Operation*> dead;
      for (Operation& op : pattern.getBody().front())
        if (isa<AttendOp, GateOp, MixOp>(op)) dead.push_back(&op);
      (void)result;
      for (Operation* op : llvm::reverse(dead)) {
        if (!op->use_empty()) op->dropAllUses();
        op->erase();
      }
    });
  }
};

}  // namespace
