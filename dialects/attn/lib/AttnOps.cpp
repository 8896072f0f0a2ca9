//===- AttnOps.cpp - attn dialect operations: builders and folders --------===//
#include "attn/AttnOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

#include <cstdio>
#include <cstdlib>
#include <string>

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

//===----------------------------------------------------------------------===//
// custom<Weights>: `[w0, w1, ...]` that round-trips every double
//===----------------------------------------------------------------------===//

/// The shortest `%.*g` spelling of `v` that strtod reads back to `v` (17 digits always do,
/// subnormals included), with a '.' in the mantissa: MLIR lexes `1e+308` as an integer.
static std::string roundTripSpelling(double v) {
  char buf[64];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  std::string s = buf;
  if (s.find_first_of(".n") != std::string::npos) return s;  // has a '.', or is inf / nan
  size_t e = s.find_first_of("eE");
  return e == std::string::npos ? s + ".0" : s.substr(0, e) + ".0" + s.substr(e);
}

static void printWeights(OpAsmPrinter& p, Operation*, DenseF64ArrayAttr weights) {
  p << "[";
  llvm::interleaveComma(weights.asArrayRef(), p, [&](double w) { p << roundTripSpelling(w); });
  p << "]";
}

static ParseResult parseWeights(OpAsmParser& parser, DenseF64ArrayAttr& weights) {
  llvm::SmallVector<double> values;
  if (parser.parseCommaSeparatedList(OpAsmParser::Delimiter::Square, [&]() -> ParseResult {
        double w = 0;
        if (parser.parseFloat(w)) return failure();
        values.push_back(w);
        return success();
      }))
    return failure();
  weights = DenseF64ArrayAttr::get(parser.getContext(), values);
  return success();
}

#define GET_OP_CLASSES
#include "attn/AttnOps.cpp.inc"
