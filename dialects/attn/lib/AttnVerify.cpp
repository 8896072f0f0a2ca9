//===- AttnVerify.cpp - the attn dialect's verifier rules -----------------===//
//
// Every rule here has a `-verify-diagnostics` test in test/lit/dialect/invalid.mlir.
//
#include "attn/AttnOps.h"

#include <cmath>

#include "llvm/ADT/SmallPtrSet.h"

using namespace mlir;
using namespace mlir::attn;

namespace {

std::string typeList(TypeRange types) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << "(";
  llvm::interleaveComma(types, os);
  os << ")";
  return s;
}

/// A region that is present must be one block with exactly `args` as arguments, ending in an
/// `attn.yield` of a `result`.
LogicalResult verifyExprRegion(Operation* op, Region& region, StringRef what, ArrayRef<Type> args,
                               Type result) {
  if (region.empty()) return success();
  if (!region.hasOneBlock()) return op->emitOpError() << "'" << what << "' region must have one block";
  Block& block = region.front();
  if (block.getArgumentTypes() != TypeRange(args))
    return op->emitOpError() << "'" << what << "' region must take " << typeList(args) << ", got "
                             << typeList(block.getArgumentTypes());
  auto yield = dyn_cast<YieldOp>(block.getTerminator());
  if (!yield) return op->emitOpError() << "'" << what << "' region must end in attn.yield";
  if (yield.getValue().getType() != result)
    return op->emitOpError() << "'" << what << "' region must yield " << result << ", got "
                             << yield.getValue().getType();
  return success();
}

// Subnormal and infinite values have no textual form that reads back to the same value through
// the attribute printers (1e-320 printed as 9.999880e-321), and the kernels flush subnormals.
constexpr const char* kNormalF32 = "finite, at least 1.17549435e-38";
constexpr const char* kNormalF64 = "finite, at least 2.2250738585072014e-308";

/// The regions shared by attn.attend and attn.kernel.
LogicalResult verifyBranchRegions(Operation* op, Value routing, Region& mask, Region& key,
                                  Region& bias, std::optional<APFloat> scale,
                                  std::optional<APFloat> softcap) {
  MLIRContext* ctx = op->getContext();
  Type tok = TokenType::get(ctx);
  Type i1 = IntegerType::get(ctx, 1), i64 = IntegerType::get(ctx, 64), f32 = Float32Type::get(ctx);
  if (routing && !key.empty())
    return op->emitOpError("cannot group by both a routing and a key");
  if (failed(verifyExprRegion(op, mask, "mask", {tok, tok}, i1)) ||
      failed(verifyExprRegion(op, key, "key", {tok}, i64)) ||
      failed(verifyExprRegion(op, bias, "bias", {tok, tok, i64}, f32)))
    return failure();
  if (scale && !(scale->convertToDouble() > 0.0) )
    return op->emitOpError("scale must be positive");
  if (softcap && !(softcap->convertToDouble() > 0.0))
    return op->emitOpError("softcap must be positive");
  if (scale && !scale->isNormal())
    return op->emitOpError() << "scale must be a normal f32 (" << kNormalF32 << "), got "
                             << scale->convertToDouble();
  if (softcap && !softcap->isNormal())
    return op->emitOpError() << "softcap must be a normal f32 (" << kNormalF32 << "), got "
                             << softcap->convertToDouble();
  return success();
}

PatternOp enclosingPattern(Operation* op) { return op->getParentOfType<PatternOp>(); }

}  // namespace

LogicalResult PatternOp::verify() {
  auto output = cast<OutputOp>(getBody().front().getTerminator());
  bool lowered = !getBody().getOps<KernelOp>().empty();
  if (lowered) {
    if (output.getResult())
      return emitOpError("a lowered pattern's attn.output takes no operand (the kernels write it)");
    if (!getBody().getOps<AttendOp>().empty())
      return emitOpError("mixes lowered attn.kernel ops with attn.attend ops");
    return success();
  }
  if (!output.getResult()) return emitOpError("must produce an output stream");
  return success();
}

LogicalResult CoordOp::verify() {
  PatternOp pattern = enclosingPattern(*this);
  if (pattern && pattern.getLayout() == Layout::seq && getCoord() != Coord::pos)
    return emitOpError() << "coordinate '" << stringifyCoord(getCoord())
                         << "' does not exist in layout 'seq' (only 'pos')";
  return success();
}

LogicalResult DimOp::verify() {
  PatternOp pattern = enclosingPattern(*this);
  if (pattern && pattern.getLayout() == Layout::seq && getDim() != Dim::N)
    return emitOpError() << "shape constant '" << stringifyDim(getDim())
                         << "' does not exist in layout 'seq' (only 'N')";
  return success();
}

LogicalResult FloorModOp::verify() {
  if (auto c = getRhs().getDefiningOp<arith::ConstantIntOp>(); c && c.value() == 0)
    return emitOpError("modulo by zero");
  return success();
}

LogicalResult RouteOp::verify() {
  if (getTopk() < 1 || getTopk() > getGroups())
    return emitOpError() << "top-k must be in [1, groups = " << getGroups() << "], got " << getTopk();
  return success();
}

LogicalResult AttendOp::verify() {
  return verifyBranchRegions(*this, getRouting(), getMask(), getKey(), getBias(), getScale(),
                             getSoftcap());
}

LogicalResult GateOp::verify() {
  bool byRoute = static_cast<bool>(getRouting()), byExpr = !getExpr().empty();
  if (byRoute == byExpr)
    return emitOpError("needs exactly one of a routing (`by %r`) or an `expr` region");
  if (byExpr)
    return verifyExprRegion(*this, getExpr(), "expr", {TokenType::get(getContext())},
                            Float32Type::get(getContext()));
  auto attend = getInput().getDefiningOp<AttendOp>();
  if (!attend || attend.getRouting() != getRouting())
    return emitOpError("gates by a routing that the gated branch is not grouped by");
  return success();
}

LogicalResult MixOp::verify() {
  ArrayRef<double> weights = getWeights();
  if (getInputs().empty()) return emitOpError("needs at least one input");
  if (weights.size() != getInputs().size())
    return emitOpError() << "has " << getInputs().size() << " inputs but " << weights.size()
                         << " weights";
  for (double w : weights) {
    if (!std::isfinite(w) || w <= 0.0) return emitOpError() << "weights must be positive, got " << w;
    if (!std::isnormal(w))
      return emitOpError() << "weights must be normal doubles (" << kNormalF64 << "), got " << w;
  }
  llvm::SmallPtrSet<void*, 8> seen;
  for (Value v : getInputs())
    if (!seen.insert(v.getAsOpaquePointer()).second)
      return emitOpError("mixes the same stream twice (add its weights instead)");
  return success();
}

LogicalResult KernelOp::verify() {
  if (failed(verifyBranchRegions(*this, getRouting(), getMask(), getKey(), getBias(), getScale(),
                                 getSoftcap())))
    return failure();
  if (failed(verifyExprRegion(*this, getGate(), "gate", {TokenType::get(getContext())},
                              Float32Type::get(getContext()))))
    return failure();
  if (getRouteGate() && !getRouting())
    return emitOpError("route_gate needs a routing");
  if (getRouteGate() && !getGate().empty())
    return emitOpError("has both a route gate and a gate region");
  double w = getWeight().convertToDouble();
  if (!std::isfinite(w) || w <= 0.0) return emitOpError() << "weight must be positive, got " << w;
  if (!std::isnormal(w))
    return emitOpError() << "weight must be a normal double (" << kNormalF64 << "), got " << w;
  return success();
}
