// The resolved AST -> attn dialect. See mlirgen.h.
#include "compiler/mlirgen/mlirgen.h"

#include <map>

#include "attn/AttnOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Verifier.h"

namespace moga {

namespace fe = moga::frontend;
namespace attn = mlir::attn;
using mlir::Value;

void loadAttnDialects(mlir::MLIRContext& ctx) {
  ctx.loadDialect<attn::AttnDialect, mlir::arith::ArithDialect, mlir::math::MathDialect>();
}

namespace {

/// Emits one expression region: the token names of the region map to its block arguments.
class ExprEmitter {
 public:
  ExprEmitter(mlir::OpBuilder& b, std::map<std::string, Value> tokens, Value head = {})
      : b_(b), tokens_(std::move(tokens)), head_(head) {}

  Value emit(const fe::Expr& e) {
    mlir::Location loc = locOf(b_.getContext(), e.loc);
    if (auto* lit = e.as<fe::IntLit>()) return b_.create<mlir::arith::ConstantIntOp>(loc, lit->value, 64);
    if (auto* lit = e.as<fe::FloatLit>())
      return b_.create<mlir::arith::ConstantFloatOp>(loc, llvm::APFloat((float)lit->value), b_.getF32Type());
    if (auto* lit = e.as<fe::BoolLit>()) return b_.create<mlir::arith::ConstantIntOp>(loc, lit->value, 1);
    if (auto* id = e.as<fe::Ident>()) return ident(*id, loc);
    if (auto* f = e.as<fe::Field>()) return field(*f, loc);
    if (auto* c = e.as<fe::Call>()) return call(*c, e.type, loc);
    if (auto* u = e.as<fe::Unary>()) return unary(*u, loc);
    return binary(*e.as<fe::Binary>(), loc);
  }

  static mlir::Location locOf(mlir::MLIRContext* ctx, const fe::SourceLoc& l) {
    if (!l.valid()) return mlir::UnknownLoc::get(ctx);
    return mlir::FileLineColLoc::get(ctx, l.file, l.line, l.col);
  }

 private:
  Value ident(const fe::Ident& id, mlir::Location loc) {
    if (id.kind == fe::NameKind::HeadIndex) return head_;
    static const std::map<std::string, attn::Dim> dims = {
        {"N", attn::Dim::N}, {"F", attn::Dim::F}, {"H", attn::Dim::H}, {"W", attn::Dim::W}};
    return b_.create<attn::DimOp>(loc, b_.getI64Type(), dims.at(id.name));
  }

  Value field(const fe::Field& f, mlir::Location loc) {
    auto coord = attn::symbolizeCoord(f.name);
    return b_.create<attn::CoordOp>(loc, b_.getI64Type(), tokens_.at(f.tok), *coord);
  }

  Value call(const fe::Call& c, fe::Type type, mlir::Location loc) {
    Value a = emit(*c.args[0]);
    bool isFloat = type == fe::Type::Float;
    if (c.callee == "abs")
      return isFloat ? Value(b_.create<mlir::math::AbsFOp>(loc, a)) : Value(b_.create<mlir::math::AbsIOp>(loc, a));
    Value x = emit(*c.args[1]);
    if (c.callee == "min")
      return isFloat ? Value(b_.create<mlir::arith::MinimumFOp>(loc, a, x)) : Value(b_.create<mlir::arith::MinSIOp>(loc, a, x));
    return isFloat ? Value(b_.create<mlir::arith::MaximumFOp>(loc, a, x)) : Value(b_.create<mlir::arith::MaxSIOp>(loc, a, x));
  }

  Value unary(const fe::Unary& u, mlir::Location loc) {
    Value x = emit(*u.operand);
    switch (u.op) {
      case fe::UnaryOp::Neg:
        if (x.getType().isF32()) return b_.create<mlir::arith::NegFOp>(loc, x);
        return b_.create<mlir::arith::SubIOp>(loc, b_.create<mlir::arith::ConstantIntOp>(loc, 0, 64), x);
      case fe::UnaryOp::Not:
        return b_.create<mlir::arith::XOrIOp>(loc, x, b_.create<mlir::arith::ConstantIntOp>(loc, 1, 1));
      case fe::UnaryOp::ToFloat:
        return b_.create<mlir::arith::SIToFPOp>(loc, b_.getF32Type(), x);
    }
    return {};
  }

  Value binary(const fe::Binary& e, mlir::Location loc) {
    Value l = emit(*e.lhs), r = emit(*e.rhs);
    bool isFloat = l.getType().isF32();
    using mlir::arith::CmpIPredicate;
    using mlir::arith::CmpFPredicate;
    auto cmp = [&](CmpIPredicate ip, CmpFPredicate fp) -> Value {
      if (isFloat) return b_.create<mlir::arith::CmpFOp>(loc, fp, l, r);
      return b_.create<mlir::arith::CmpIOp>(loc, ip, l, r);
    };
    switch (e.op) {
      case fe::BinaryOp::Add: return isFloat ? Value(b_.create<mlir::arith::AddFOp>(loc, l, r)) : Value(b_.create<mlir::arith::AddIOp>(loc, l, r));
      case fe::BinaryOp::Sub: return isFloat ? Value(b_.create<mlir::arith::SubFOp>(loc, l, r)) : Value(b_.create<mlir::arith::SubIOp>(loc, l, r));
      case fe::BinaryOp::Mul: return isFloat ? Value(b_.create<mlir::arith::MulFOp>(loc, l, r)) : Value(b_.create<mlir::arith::MulIOp>(loc, l, r));
      case fe::BinaryOp::Div: return isFloat ? Value(b_.create<mlir::arith::DivFOp>(loc, l, r)) : Value(b_.create<mlir::arith::FloorDivSIOp>(loc, l, r));
      case fe::BinaryOp::Mod: return b_.create<attn::FloorModOp>(loc, b_.getI64Type(), l, r);
      case fe::BinaryOp::Eq: return cmp(CmpIPredicate::eq, CmpFPredicate::OEQ);
      case fe::BinaryOp::Ne: return cmp(CmpIPredicate::ne, CmpFPredicate::ONE);
      case fe::BinaryOp::Lt: return cmp(CmpIPredicate::slt, CmpFPredicate::OLT);
      case fe::BinaryOp::Le: return cmp(CmpIPredicate::sle, CmpFPredicate::OLE);
      case fe::BinaryOp::Gt: return cmp(CmpIPredicate::sgt, CmpFPredicate::OGT);
      case fe::BinaryOp::Ge: return cmp(CmpIPredicate::sge, CmpFPredicate::OGE);
      case fe::BinaryOp::And: return b_.create<mlir::arith::AndIOp>(loc, l, r);
      case fe::BinaryOp::Or: return b_.create<mlir::arith::OrIOp>(loc, l, r);
    }
    return {};
  }

  mlir::OpBuilder& b_;
  std::map<std::string, Value> tokens_;
  Value head_;
};

/// Fills `region` with one block whose arguments are the named tokens (and the head index for a
/// bias), emitting `expr` and yielding it.
void emitRegion(mlir::OpBuilder& b, mlir::Region& region, const fe::Expr& expr,
                const std::vector<std::string>& tokens, bool withHead) {
  mlir::OpBuilder::InsertionGuard guard(b);
  mlir::Location loc = ExprEmitter::locOf(b.getContext(), expr.loc);
  mlir::Block* block = b.createBlock(&region);
  std::map<std::string, Value> args;
  for (const std::string& t : tokens) args[t] = block->addArgument(attn::TokenType::get(b.getContext()), loc);
  Value head = withHead ? block->addArgument(b.getI64Type(), loc) : Value();
  ExprEmitter emitter(b, args, head);
  Value v = emitter.emit(expr);
  b.create<attn::YieldOp>(loc, v);
}

}  // namespace

mlir::OwningOpRef<mlir::ModuleOp> mlirGen(mlir::MLIRContext& ctx, const fe::ResolvedPattern& p) {
  loadAttnDialects(ctx);
  mlir::OpBuilder b(&ctx);
  mlir::Location loc = p.branches.empty() ? b.getUnknownLoc()
                                          : ExprEmitter::locOf(&ctx, p.branches.front().loc);
  mlir::OwningOpRef<mlir::ModuleOp> module = mlir::ModuleOp::create(loc);
  b.setInsertionPointToEnd(module->getBody());
  auto pattern = b.create<attn::PatternOp>(
      loc, p.name, p.layout == fe::Layout::Video ? attn::Layout::video : attn::Layout::seq);
  b.setInsertionPointToStart(&pattern.getBody().front());

  llvm::SmallVector<Value> streams;
  llvm::SmallVector<double> weights;
  for (const fe::ResolvedBranch& br : p.branches) {
    mlir::Location bloc = ExprEmitter::locOf(&ctx, br.loc);
    Value routing;
    if (br.group == fe::GroupKind::Route)
      routing = b.create<attn::RouteOp>(bloc, attn::RoutingType::get(&ctx), br.route->groups, br.route->topK);
    auto attend = b.create<attn::AttendOp>(
        bloc, attn::StreamType::get(&ctx), routing, b.getStringAttr(br.name),
        br.scale ? b.getF32FloatAttr(*br.scale) : mlir::FloatAttr(),
        br.softcap ? b.getF32FloatAttr(*br.softcap) : mlir::FloatAttr());
    if (br.mask) emitRegion(b, attend.getMask(), *br.mask, {"q", "kv"}, false);
    if (br.group == fe::GroupKind::Key) emitRegion(b, attend.getKey(), *br.groupKey, {"t"}, false);
    if (br.bias) emitRegion(b, attend.getBias(), *br.bias, {"q", "kv"}, true);
    Value out = attend;
    if (br.gate == fe::GateKind::RouteProb) {
      out = b.create<attn::GateOp>(bloc, attn::StreamType::get(&ctx), out, routing);
    } else if (br.gate == fe::GateKind::Expr) {
      auto gate = b.create<attn::GateOp>(bloc, attn::StreamType::get(&ctx), out, Value());
      emitRegion(b, gate.getExpr(), *br.gateValue, {"q"}, false);
      out = gate;
    }
    streams.push_back(out);
    weights.push_back(br.weight);
  }
  Value result = streams.size() == 1 && weights[0] == 1.0
                     ? streams[0]
                     : Value(b.create<attn::MixOp>(loc, attn::StreamType::get(&ctx), streams, weights));
  b.create<attn::OutputOp>(loc, result);
  return module;
}

}  // namespace moga
