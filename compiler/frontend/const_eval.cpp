#include "compiler/frontend/const_eval.h"

#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>

#include "compiler/frontend/limits.h"
#include "compiler/frontend/names.h"

namespace moga::frontend {

int64_t floorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if (a % b != 0 && ((a < 0) != (b < 0))) --q;
  return q;
}

int64_t floorMod(int64_t a, int64_t b) {
  int64_t r = a % b;
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

static Folded intResult(int64_t v) {
  if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max())
    return {std::nullopt, "integer overflow (" + std::to_string(v) + " does not fit in 32 bits)"};
  return {Value::ofInt(v), {}};
}

static bool isNumber(const Value& v) { return v.type == Type::Int || v.type == Type::Float; }

Folded foldBinary(BinaryOp op, const Value& a, const Value& b) {
  if (op == BinaryOp::And || op == BinaryOp::Or) {
    if (a.type != Type::Bool || b.type != Type::Bool) return {std::nullopt, "type mismatch"};
    return {Value::ofBool(op == BinaryOp::And ? (a.b && b.b) : (a.b || b.b)), {}};
  }
  if ((op == BinaryOp::Eq || op == BinaryOp::Ne) && a.type == Type::Bool && b.type == Type::Bool)
    return {Value::ofBool((a.b == b.b) == (op == BinaryOp::Eq)), {}};
  if (!isNumber(a) || !isNumber(b)) return {std::nullopt, "type mismatch"};
  const bool asFloat = a.type == Type::Float || b.type == Type::Float;
  if (isComparison(op)) {
    int c;
    if (asFloat) {
      double x = a.asFloat(), y = b.asFloat();
      c = x < y ? -1 : x > y ? 1 : 0;
    } else {
      c = a.i < b.i ? -1 : a.i > b.i ? 1 : 0;
    }
    bool r = false;
    switch (op) {
      case BinaryOp::Eq: r = c == 0; break;
      case BinaryOp::Ne: r = c != 0; break;
      case BinaryOp::Lt: r = c < 0; break;
      case BinaryOp::Le: r = c <= 0; break;
      case BinaryOp::Gt: r = c > 0; break;
      default: r = c >= 0; break;
    }
    return {Value::ofBool(r), {}};
  }
  if (asFloat) {
    if (op == BinaryOp::Mod) return {std::nullopt, "type mismatch"};
    double x = a.asFloat(), y = b.asFloat();
    if (op == BinaryOp::Div && y == 0.0) return {std::nullopt, "division by zero"};
    double r = op == BinaryOp::Add ? x + y : op == BinaryOp::Sub ? x - y
             : op == BinaryOp::Mul ? x * y : x / y;
    // 32-bit floats in the kernels: beyond FLT_MAX the value would be infinity there.
    if (!(std::fabs(r) <= limits::kMaxFloat))
      return {std::nullopt, "float overflow (" + Value::ofFloat(r).str() +
                                " is beyond the 32-bit float range)"};
    return {Value::ofFloat(r), {}};
  }
  int64_t x = a.i, y = b.i;
  switch (op) {
    case BinaryOp::Add: return intResult(x + y);
    case BinaryOp::Sub: return intResult(x - y);
    case BinaryOp::Mul: return intResult(x * y);  // both fit 32 bits: no 64-bit overflow
    case BinaryOp::Div:
      if (y == 0) return {std::nullopt, "division by zero"};
      return intResult(floorDiv(x, y));
    case BinaryOp::Mod:
      if (y == 0) return {std::nullopt, "modulo by zero"};
      return intResult(floorMod(x, y));
    default: return {std::nullopt, "type mismatch"};
  }
}

Folded foldUnary(UnaryOp op, const Value& v) {
  switch (op) {
    case UnaryOp::Not:
      if (v.type != Type::Bool) return {std::nullopt, "type mismatch"};
      return {Value::ofBool(!v.b), {}};
    case UnaryOp::Neg:
      if (v.type == Type::Float) return {Value::ofFloat(-v.f), {}};
      if (v.type == Type::Int) return intResult(-v.i);
      return {std::nullopt, "type mismatch"};
    case UnaryOp::ToFloat:
      if (!isNumber(v)) return {std::nullopt, "type mismatch"};
      return {Value::ofFloat(v.asFloat()), {}};
  }
  return {std::nullopt, "type mismatch"};
}

Folded foldBuiltin(const std::string& name, const std::vector<Value>& args) {
  if (name == "abs" && args.size() == 1) {
    const Value& v = args[0];
    if (v.type == Type::Float) return {Value::ofFloat(std::fabs(v.f)), {}};
    if (v.type == Type::Int) return intResult(v.i < 0 ? -v.i : v.i);
    return {std::nullopt, "type mismatch"};
  }
  if ((name == "min" || name == "max") && args.size() == 2) {
    const Value &a = args[0], &b = args[1];
    if (!isNumber(a) || !isNumber(b)) return {std::nullopt, "type mismatch"};
    bool takeA = name == "min" ? a.asFloat() <= b.asFloat() : a.asFloat() >= b.asFloat();
    if (a.type == Type::Float || b.type == Type::Float)
      return {Value::ofFloat(takeA ? a.asFloat() : b.asFloat()), {}};
    return {takeA ? a : b, {}};
  }
  if (name == "div" && args.size() == 2) {
    if (args[0].type != Type::Int || args[1].type != Type::Int) return {std::nullopt, "type mismatch"};
    return foldBinary(BinaryOp::Div, args[0], args[1]);
  }
  if (name == "mod" && args.size() == 2) return foldBinary(BinaryOp::Mod, args[0], args[1]);
  return {std::nullopt, "unknown builtin"};
}

namespace {

// Evaluation stops at the first problem; the checker has already reported type errors, so
// what remains are value errors (division by zero, overflow) and runtime names.
struct Evaluator {
  const Pattern& p;
  const std::string& what;
  Diagnostics& diags;
  int depth = 0;
  size_t steps = 0;       // nodes evaluated: defs are re-evaluated at every call
  bool overLimit = false;  // reported once

  std::optional<Value> fail(const SourceLoc& loc, const std::string& message) {
    diags.error(loc, message);
    return std::nullopt;
  }

  std::optional<Value> report(const Folded& f, const SourceLoc& loc) {
    if (f.value) return f.value;
    if (f.error == "type mismatch") return std::nullopt;  // reported by the checker
    return fail(loc, f.error + " in " + what);
  }

  std::optional<Value> eval(const Expr& e, const std::map<std::string, Value>& env) {
    // Recursive defs were reported by the checker; a deep or exponential chain of defs is cut
    // here with a located error (limits.h), never with a silent default.
    if (overLimit) return std::nullopt;
    if (++depth > limits::kMaxExprDepth || ++steps > (size_t)limits::kMaxExprNodes) {
      overLimit = true;
      --depth;
      return fail(e.loc, what + ": compile-time expression too " +
                             (depth >= limits::kMaxExprDepth ? "deep" : "large") +
                             " after inlining defs (more than " +
                             std::to_string(depth >= limits::kMaxExprDepth
                                                ? limits::kMaxExprDepth
                                                : limits::kMaxExprNodes) +
                             (depth >= limits::kMaxExprDepth ? " levels" : " nodes") +
                             "; docs/dsl.md, \"Limits\")");
    }
    struct Guard {
      int& d;
      ~Guard() { --d; }
    } guard{depth};
    if (auto* n = e.as<IntLit>()) return Value::ofInt(n->value);
    if (auto* n = e.as<FloatLit>()) return Value::ofFloat(n->value);
    if (auto* n = e.as<BoolLit>()) return Value::ofBool(n->value);
    if (auto* n = e.as<Ident>()) {
      if (auto it = env.find(n->name); it != env.end()) return it->second;
      if (const Param* prm = p.findParam(n->name)) return prm->value;
      return std::nullopt;  // a runtime or unknown name: the checker reported it
    }
    if (auto* n = e.as<Unary>()) {
      auto v = eval(*n->operand, env);
      if (!v) return std::nullopt;
      return report(foldUnary(n->op, *v), e.loc);
    }
    if (auto* n = e.as<Binary>()) {
      auto a = eval(*n->lhs, env);
      auto b = eval(*n->rhs, env);
      if (!a || !b) return std::nullopt;
      return report(foldBinary(n->op, *a, *b), e.loc);
    }
    if (auto* n = e.as<Call>()) {
      std::vector<Value> args;
      for (const ExprPtr& a : n->args) {
        auto v = eval(*a, env);
        if (!v) return std::nullopt;
        args.push_back(*v);
      }
      if (findBuiltin(n->callee)) return report(foldBuiltin(n->callee, args), e.loc);
      const Def* d = p.findDef(n->callee);
      if (!d || !d->body || d->args.size() != args.size()) return std::nullopt;
      std::map<std::string, Value> inner;
      for (size_t i = 0; i < args.size(); ++i) inner[d->args[i].name] = args[i];
      return eval(*d->body, inner);
    }
    return std::nullopt;  // a Field: tokens are runtime values (reported by the checker)
  }
};

}  // namespace

std::optional<Value> evaluateConstant(const Expr& e, const Pattern& p, const std::string& what,
                                      Diagnostics& diags) {
  Evaluator ev{p, what, diags};
  return ev.eval(e, {});
}

}  // namespace moga::frontend
