//===- AttnOps.cpp - attn dialect operations: builders and folders --------===//
#include "attn/AttnOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace mlir::attn;

void PatternOp::build(OpBuilder& builder, OperationState& state, StringRef name, Layout layout) {
  state.addAttribute(getSymNameAttrName(state.name), builder.getStringAttr(name));
  state.addAttribute(getLayoutAttrName(state.name), LayoutAttr::get(builder.getContext(), layout));
  Region* body = state.addRegion();
  body->push_back(new Block());
}

OpFoldResult FloorModOp::fold(FoldAdaptor adaptor) {
  auto lhs = llvm::dyn_cast_if_present<IntegerAttr>(adaptor.getLhs());
  auto rhs = llvm::dyn_cast_if_present<IntegerAttr>(adaptor.getRhs());
  if (!rhs || rhs.getInt() == 0) return {};
  if (rhs.getInt() == 1) return IntegerAttr::get(getType(), 0);
  if (!lhs) return {};
  int64_t a = lhs.getInt(), b = rhs.getInt();
  int64_t r = a % b;
  if (r != 0 && ((r < 0) != (b < 0))) r += b;  // floor semantics: the sign of the divisor
  return IntegerAttr::get(getType(), r);
}

#define GET_OP_CLASSES
#include "attn/AttnOps.cpp.inc"
