// Regions of arith/math/attn ops -> C++ expressions and serialized programs.
#include <functional>
#include <map>

#include "compiler/codegen/codegen.h"
#include "fmt/format.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/MathExtras.h"

namespace moga::codegen {

using namespace mlir;

std::string floatLiteral(double v) {
  std::string s = fmt::format("{:.9g}", v);
  if (s.find_first_of(".en") == std::string::npos) s += ".0";  // "0f" is not a C++ literal
  return s + "f";
}

[[noreturn]] void unsupported(Operation* op) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << "moga codegen: unsupported operation in an expression region: " << op->getName() << " at "
     << op->getLoc();
  throw std::runtime_error(s);
}

namespace {

const char* cmpiSpelling(arith::CmpIPredicate p) {
  switch (p) {
    case arith::CmpIPredicate::eq: return "==";
    case arith::CmpIPredicate::ne: return "!=";
    case arith::CmpIPredicate::slt: return "<";
    case arith::CmpIPredicate::sle: return "<=";
    case arith::CmpIPredicate::sgt: return ">";
    case arith::CmpIPredicate::sge: return ">=";
    default: return nullptr;  // unsigned predicates never come from the DSL
  }
}

const char* cmpfSpelling(arith::CmpFPredicate p) {
  switch (p) {
    case arith::CmpFPredicate::OEQ: return "==";
    case arith::CmpFPredicate::ONE: return "!=";
    case arith::CmpFPredicate::OLT: return "<";
    case arith::CmpFPredicate::OLE: return "<=";
    case arith::CmpFPredicate::OGT: return ">";
    case arith::CmpFPredicate::OGE: return ">=";
    default: return nullptr;
  }
}

bool isTrueConstant(Value v) {
  auto c = v.getDefiningOp<arith::ConstantIntOp>();
  return c && c.getType().isInteger(1) && c.value() == 1;
}

}  // namespace

// log2 of v's constant value when it is a power of two above 1, else -1.
static int powerOfTwoConstant(Value v) {
  auto c = v.getDefiningOp<arith::ConstantIntOp>();
  if (!c || c.value() < 2 || (c.value() & (c.value() - 1)) != 0) return -1;
  return llvm::Log2_64(static_cast<uint64_t>(c.value()));
}

std::string opExpr(Operation& op, const std::function<std::string(unsigned)>& a, Domain domain) {
  const bool generic = domain == Domain::Generic;
  // Strength reduction: floor division and modulo by a power of two 2^k are an arithmetic shift and a mask,
  // the same floor semantics; in the generic mask (which also runs on intervals) through moga::fdiv_p2 /
  // fmod_p2 (interval.cuh), whose int overloads are the shift and the mask.
  if (isa<arith::FloorDivSIOp, attn::FloorModOp>(op))
    if (int k = powerOfTwoConstant(op.getOperand(1)); k > 0 && k < 31) {
      if (generic) return fmt::format("moga::{}_p2<{}>({})", isa<arith::FloorDivSIOp>(op) ? "fdiv" : "fmod", k, a(0));
      return isa<arith::FloorDivSIOp>(op) ? fmt::format("({} >> {})", a(0), k)
                                          : fmt::format("({} & {})", a(0), (int64_t{1} << k) - 1);
    }
  const std::string intT = generic ? "T" : "int", boolT = generic ? "B" : "bool";
  if (generic && isa<arith::AddFOp, arith::SubFOp, arith::MulFOp, arith::DivFOp, arith::NegFOp, math::AbsFOp,
                     arith::MinimumFOp, arith::MaximumFOp, arith::SIToFPOp, arith::CmpFOp>(op))
    unsupported(&op);  // masks are integer and boolean only (the tile level has no floats)
  return llvm::TypeSwitch<Operation*, std::string>(&op)
      .Case([&](arith::ConstantOp c) -> std::string {
        Attribute v = c.getValue();
        if (auto f = llvm::dyn_cast<FloatAttr>(v)) return floatLiteral(f.getValueAsDouble());
        auto i = llvm::cast<IntegerAttr>(v);
        if (i.getType().isInteger(1)) return fmt::format("{}({})", boolT, i.getValue().isOne() ? "true" : "false");
        return fmt::format("{}({})", intT, i.getInt());
      })
      .Case([&](attn::CoordOp c) { return fmt::format("{}.{}", a(0), attn::stringifyCoord(c.getCoord()).str()); })
      .Case([&](attn::DimOp d) { return fmt::format("{}(s.{})", intT, attn::stringifyDim(d.getDim()).str()); })
      .Case([&](arith::AddIOp) { return fmt::format("({} + {})", a(0), a(1)); })
      .Case([&](arith::SubIOp) { return fmt::format("({} - {})", a(0), a(1)); })
      .Case([&](arith::MulIOp) { return fmt::format("({} * {})", a(0), a(1)); })
      .Case([&](arith::FloorDivSIOp) { return fmt::format("moga::fdiv({}, {})", a(0), a(1)); })
      .Case([&](attn::FloorModOp) { return fmt::format("moga::fmod({}, {})", a(0), a(1)); })
      .Case([&](arith::MinSIOp) { return fmt::format("moga::imin({}, {})", a(0), a(1)); })
      .Case([&](arith::MaxSIOp) { return fmt::format("moga::imax({}, {})", a(0), a(1)); })
      .Case([&](math::AbsIOp) { return fmt::format("moga::iabs({})", a(0)); })
      .Case([&](arith::CmpIOp c) -> std::string {
        const char* s = cmpiSpelling(c.getPredicate());
        if (!s) unsupported(&op);
        return fmt::format("({} {} {})", a(0), s, a(1));
      })
      .Case([&](arith::AndIOp) { return fmt::format("moga::land({}, {})", a(0), a(1)); })
      .Case([&](arith::OrIOp) { return fmt::format("moga::lor({}, {})", a(0), a(1)); })
      .Case([&](arith::XOrIOp x) -> std::string {
        if (isTrueConstant(x.getRhs())) return fmt::format("moga::lnot({})", a(0));
        if (isTrueConstant(x.getLhs())) return fmt::format("moga::lnot({})", a(1));
        return fmt::format("moga::lor(moga::land({0}, moga::lnot({1})), moga::land(moga::lnot({0}), {1}))", a(0), a(1));
      })
      .Case([&](arith::SelectOp) { return fmt::format("moga::select({}, {}, {})", a(0), a(1), a(2)); })
      .Case([&](arith::AddFOp) { return fmt::format("({} + {})", a(0), a(1)); })
      .Case([&](arith::SubFOp) { return fmt::format("({} - {})", a(0), a(1)); })
      .Case([&](arith::MulFOp) { return fmt::format("({} * {})", a(0), a(1)); })
      .Case([&](arith::DivFOp) { return fmt::format("({} / {})", a(0), a(1)); })
      .Case([&](arith::NegFOp) { return fmt::format("(-{})", a(0)); })
      .Case([&](math::AbsFOp) { return fmt::format("fabsf({})", a(0)); })
      .Case([&](arith::MinimumFOp) { return fmt::format("fminf({}, {})", a(0), a(1)); })
      .Case([&](arith::MaximumFOp) { return fmt::format("fmaxf({}, {})", a(0), a(1)); })
      .Case([&](arith::SIToFPOp) { return fmt::format("(float)({})", a(0)); })
      .Case([&](arith::CmpFOp c) -> std::string {
        const char* s = cmpfSpelling(c.getPredicate());
        if (!s) unsupported(&op);
        return fmt::format("({} {} {})", a(0), s, a(1));
      })
      .Default([&](Operation* o) -> std::string { unsupported(o); });
}

std::string opExprF32(Operation& op, const std::function<std::string(unsigned)>& a) {
  return llvm::TypeSwitch<Operation*, std::string>(&op)
      .Case([&](arith::AddIOp) { return fmt::format("({} + {})", a(0), a(1)); })
      .Case([&](arith::SubIOp) { return fmt::format("({} - {})", a(0), a(1)); })
      .Case([&](arith::MulIOp) { return fmt::format("({} * {})", a(0), a(1)); })
      .Case([&](arith::MinSIOp) { return fmt::format("fminf({}, {})", a(0), a(1)); })
      .Case([&](arith::MaxSIOp) { return fmt::format("fmaxf({}, {})", a(0), a(1)); })
      .Case([&](math::AbsIOp) { return fmt::format("fabsf({})", a(0)); })
      .Case([&](arith::SelectOp) { return fmt::format("({} ? {} : {})", a(0), a(1), a(2)); })
      .Case([&](arith::CmpIOp c) -> std::string {
        const char* s = cmpiSpelling(c.getPredicate());
        if (!s) unsupported(&op);
        return fmt::format("({} {} {})", a(0), s, a(1));
      })
      .Default([&](Operation* o) -> std::string { unsupported(o); });
}

EmittedExpr emitRegionCpp(Region& region, const std::vector<std::string>& tokenNames, Domain domain,
                          const std::string& indent) {
  Block& block = region.front();
  std::map<void*, std::string> names;
  auto name = [&](Value v) { return names.at(v.getAsOpaquePointer()); };
  for (auto [i, arg] : llvm::enumerate(block.getArguments()))
    names[arg.getAsOpaquePointer()] = i < tokenNames.size() ? tokenNames[i] : "h";
  EmittedExpr out;
  int counter = 0;
  for (Operation& op : block.without_terminator()) {
    std::string expr = opExpr(op, [&](unsigned i) { return name(op.getOperand(i)); }, domain);
    std::string v = fmt::format("v{}", counter++);
    names[op.getResult(0).getAsOpaquePointer()] = v;
    out.body += fmt::format("{}const auto {} = {};\n", indent, v, expr);
  }
  out.result = name(cast<attn::YieldOp>(block.getTerminator()).getValue());
  return out;
}

nlohmann::json serializeRegion(Region& region, const std::vector<std::string>& argNames) {
  using nlohmann::json;
  Block& block = region.front();
  json ops = json::array();
  std::map<void*, int> index;
  for (auto [i, arg] : llvm::enumerate(block.getArguments())) {
    index[arg.getAsOpaquePointer()] = (int)ops.size();
    ops.push_back({{"op", "arg"}, {"index", i}});
  }
  for (Operation& op : block.without_terminator()) {
    json j;
    json operands = json::array();
    for (Value v : op.getOperands()) operands.push_back(index.at(v.getAsOpaquePointer()));
    if (auto c = dyn_cast<arith::ConstantOp>(op)) {
      Attribute v = c.getValue();
      if (auto f = llvm::dyn_cast<FloatAttr>(v)) j = {{"op", "const"}, {"type", "f32"}, {"value", f.getValueAsDouble()}};
      else if (c.getType().isInteger(1)) j = {{"op", "const"}, {"type", "i1"}, {"value", llvm::cast<IntegerAttr>(v).getValue().isOne()}};
      else j = {{"op", "const"}, {"type", "i64"}, {"value", llvm::cast<IntegerAttr>(v).getInt()}};
    } else if (auto c = dyn_cast<attn::CoordOp>(op)) {
      j = {{"op", "coord"}, {"coord", attn::stringifyCoord(c.getCoord()).str()}};
    } else if (auto d = dyn_cast<attn::DimOp>(op)) {
      j = {{"op", "dim"}, {"dim", attn::stringifyDim(d.getDim()).str()}};
    } else if (auto c = dyn_cast<arith::CmpIOp>(op)) {
      j = {{"op", "cmpi"}, {"pred", arith::stringifyCmpIPredicate(c.getPredicate()).str()}};
    } else if (auto c = dyn_cast<arith::CmpFOp>(op)) {
      j = {{"op", "cmpf"}, {"pred", arith::stringifyCmpFPredicate(c.getPredicate()).str()}};
    } else {
      // arith.addi -> "addi", math.absi -> "absi", attn.floormod -> "floormod"
      j = {{"op", op.getName().stripDialect().str()}};
    }
    if (!operands.empty()) j["operands"] = operands;
    index[op.getResult(0).getAsOpaquePointer()] = (int)ops.size();
    ops.push_back(j);
  }
  return {{"args", argNames},
          {"ops", ops},
          {"result", index.at(cast<attn::YieldOp>(block.getTerminator()).getValue().getAsOpaquePointer())}};
}

}  // namespace moga::codegen
