//===- AttnDialect.cpp - the attn dialect ---------------------------------===//
#include "attn/AttnDialect.h"
#include "attn/AttnOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::attn;

#include "attn/AttnOpsDialect.cpp.inc"
#include "attn/AttnEnums.cpp.inc"

#define GET_TYPEDEF_CLASSES
#include "attn/AttnOpsTypes.cpp.inc"

void AttnDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "attn/AttnOps.cpp.inc"
      >();
  addTypes<
#define GET_TYPEDEF_LIST
#include "attn/AttnOpsTypes.cpp.inc"
      >();
}

/// Folded attn values (floormod) are plain integers: materialize them as arith constants.
Operation* AttnDialect::materializeConstant(OpBuilder& builder, Attribute value, Type type,
                                            Location loc) {
  if (auto typed = llvm::dyn_cast<TypedAttr>(value))
    return builder.create<arith::ConstantOp>(loc, type, typed);
  return nullptr;
}
