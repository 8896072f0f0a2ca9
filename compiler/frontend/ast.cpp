#include "compiler/frontend/ast.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace moga::frontend {

const char* typeName(Type t) {
  switch (t) {
    case Type::Int: return "int";
    case Type::Float: return "float";
    case Type::Bool: return "bool";
    case Type::Token: return "token";
    case Type::Unknown: break;
  }
  return "unknown";
}

const char* layoutName(Layout l) { return l == Layout::Seq ? "seq" : "video"; }

const char* outputKindName(OutputKind k) {
  switch (k) {
    case OutputKind::Single: return "single";
    case OutputKind::Mean: return "mean";
    case OutputKind::Sum: return "sum";
  }
  return "single";
}

// Shortest spelling that reads back to the same double; always has a '.' or an exponent so a
// float never looks like an int.
static std::string formatFloat(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {  // 30.0, not 3e+01
    std::snprintf(buf, sizeof buf, "%.1f", v);
    return buf;
  }
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  std::string s = buf;
  if (s.find_first_of(".eE") == std::string::npos) s += ".0";
  return s;
}

std::string Value::str() const {
  switch (type) {
    case Type::Float: return formatFloat(f);
    case Type::Bool: return b ? "true" : "false";
    default: return std::to_string(i);
  }
}

// 1 + the tallest child.
static int heightOf(const Expr::Node& node) {
  int h = 0;
  if (auto* u = std::get_if<Unary>(&node)) h = u->operand ? u->operand->height : 0;
  if (auto* b = std::get_if<Binary>(&node))
    h = std::max(b->lhs ? b->lhs->height : 0, b->rhs ? b->rhs->height : 0);
  if (auto* c = std::get_if<Call>(&node))
    for (const ExprPtr& a : c->args) h = std::max(h, a ? a->height : 0);
  return h + 1;
}

ExprPtr makeExpr(Expr::Node node, SourceLoc loc, Type type) {
  auto e = std::make_unique<Expr>();
  e->height = heightOf(node);
  e->node = std::move(node);
  e->loc = std::move(loc);
  e->type = type;
  return e;
}
ExprPtr makeInt(int64_t v, SourceLoc loc) { return makeExpr(IntLit{v}, std::move(loc), Type::Int); }
ExprPtr makeFloat(double v, SourceLoc loc) {
  return makeExpr(FloatLit{v}, std::move(loc), Type::Float);
}
ExprPtr makeBool(bool v, SourceLoc loc) { return makeExpr(BoolLit{v}, std::move(loc), Type::Bool); }
ExprPtr makeUnary(UnaryOp op, ExprPtr operand, SourceLoc loc) {
  return makeExpr(Unary{op, std::move(operand)}, std::move(loc));
}
ExprPtr makeBinary(BinaryOp op, ExprPtr lhs, ExprPtr rhs, SourceLoc loc) {
  return makeExpr(Binary{op, std::move(lhs), std::move(rhs)}, std::move(loc));
}

ExprPtr clone(const Expr& e) {
  struct Cloner {
    Expr::Node operator()(const IntLit& n) { return n; }
    Expr::Node operator()(const FloatLit& n) { return n; }
    Expr::Node operator()(const BoolLit& n) { return n; }
    Expr::Node operator()(const Ident& n) { return n; }
    Expr::Node operator()(const Field& n) { return n; }
    Expr::Node operator()(const Call& n) {
      Call c{n.callee, {}};
      for (const ExprPtr& a : n.args) c.args.push_back(clone(*a));
      return c;
    }
    Expr::Node operator()(const Unary& n) { return Unary{n.op, clone(*n.operand)}; }
    Expr::Node operator()(const Binary& n) {
      return Binary{n.op, clone(*n.lhs), clone(*n.rhs)};
    }
  };
  return makeExpr(std::visit(Cloner{}, e.node), e.loc, e.type);
}

const char* opSpelling(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add: return "+";
    case BinaryOp::Sub: return "-";
    case BinaryOp::Mul: return "*";
    case BinaryOp::Div: return "/";
    case BinaryOp::Mod: return "%";
    case BinaryOp::Eq: return "==";
    case BinaryOp::Ne: return "!=";
    case BinaryOp::Lt: return "<";
    case BinaryOp::Le: return "<=";
    case BinaryOp::Gt: return ">";
    case BinaryOp::Ge: return ">=";
    case BinaryOp::And: return "&&";
    case BinaryOp::Or: return "||";
  }
  return "?";
}

const char* opSpelling(UnaryOp op) {
  switch (op) {
    case UnaryOp::Neg: return "-";
    case UnaryOp::Not: return "!";
    case UnaryOp::ToFloat: return "float";
  }
  return "?";
}

bool isComparison(BinaryOp op) { return op >= BinaryOp::Eq && op <= BinaryOp::Ge; }
bool isArithmetic(BinaryOp op) { return op <= BinaryOp::Mod; }

const Param* Pattern::findParam(const std::string& n) const {
  for (const Param& p : params)
    if (p.name == n) return &p;
  return nullptr;
}
const Def* Pattern::findDef(const std::string& n) const {
  for (const Def& d : defs)
    if (d.name == n) return &d;
  return nullptr;
}
const Branch* Pattern::findBranch(const std::string& n) const {
  for (const Branch& b : branches)
    if (b.name == n) return &b;
  return nullptr;
}

// ---- dump ---------------------------------------------------------------------------------------

std::string dumpExpr(const Expr& e) {
  struct Dumper {
    std::string operator()(const IntLit& n) { return std::to_string(n.value); }
    std::string operator()(const FloatLit& n) { return formatFloat(n.value); }
    std::string operator()(const BoolLit& n) { return n.value ? "true" : "false"; }
    std::string operator()(const Ident& n) { return n.name; }
    std::string operator()(const Field& n) { return n.tok + "." + n.name; }
    std::string operator()(const Call& n) {
      std::string s = "(" + n.callee;
      for (const ExprPtr& a : n.args) s += " " + dumpExpr(*a);
      return s + ")";
    }
    std::string operator()(const Unary& n) {
      return std::string("(") + opSpelling(n.op) + " " + dumpExpr(*n.operand) + ")";
    }
    std::string operator()(const Binary& n) {
      return std::string("(") + opSpelling(n.op) + " " + dumpExpr(*n.lhs) + " " +
             dumpExpr(*n.rhs) + ")";
    }
  };
  return std::visit(Dumper{}, e.node);
}

static std::string dumpOpt(const ExprPtr& e) { return e ? dumpExpr(*e) : "?"; }

std::string dumpAST(const Pattern& p) {
  std::string s = "(pattern " + (p.name.empty() ? std::string("?") : p.name);
  if (p.layout) s += std::string("\n  (layout ") + layoutName(*p.layout) + ")";
  for (const Param& prm : p.params)
    s += "\n  (param " + prm.name + " " + typeName(prm.value.type) + " " + prm.value.str() + ")";
  for (const Def& d : p.defs) {
    s += "\n  (def " + d.name + " (";
    for (size_t i = 0; i < d.args.size(); ++i) s += (i ? " " : "") + d.args[i].name;
    s += ") " + dumpOpt(d.body) + ")";
  }
  for (const Branch& b : p.branches) {
    s += "\n  (branch " + b.name;
    if (b.route)
      s += "\n    (route (linear " + dumpOpt(b.route->groups) + ") (top " + dumpOpt(b.route->topK) +
           "))";
    if (b.group) s += "\n    (group " + (b.group->byRoute ? "route" : dumpOpt(b.group->key)) + ")";
    if (b.mask) s += "\n    (mask " + dumpOpt(b.mask->value) + ")";
    if (b.gate)
      s += "\n    (gate " + (b.gate->byRouteProb ? "route.prob" : dumpOpt(b.gate->value)) + ")";
    if (b.scale) s += "\n    (scale " + dumpOpt(b.scale->value) + ")";
    if (b.bias) s += "\n    (bias " + dumpOpt(b.bias->value) + ")";
    if (b.softcap) s += "\n    (softcap " + dumpOpt(b.softcap->value) + ")";
    s += ")";
  }
  if (p.output) {
    s += std::string("\n  (output ") + outputKindName(p.output->kind);
    for (const OutputTerm& t : p.output->terms)
      s += t.weight ? " (* " + dumpExpr(*t.weight) + " " + t.branch + ")" : " " + t.branch;
    s += ")";
  }
  return s + ")\n";
}

}  // namespace moga::frontend
