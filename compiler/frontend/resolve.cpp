#include "compiler/frontend/resolve.h"

#include <map>

#include "compiler/frontend/const_eval.h"
#include "compiler/frontend/limits.h"
#include "compiler/frontend/names.h"

namespace moga::frontend {
namespace {

std::optional<Value> literalValue(const Expr& e) {
  if (auto* n = e.as<IntLit>()) return Value::ofInt(n->value);
  if (auto* n = e.as<FloatLit>()) return Value::ofFloat(n->value);
  if (auto* n = e.as<BoolLit>()) return Value::ofBool(n->value);
  return std::nullopt;
}

ExprPtr literal(const Value& v, const SourceLoc& loc) {
  switch (v.type) {
    case Type::Float: return makeFloat(v.f, loc);
    case Type::Bool: return makeBool(v.b, loc);
    default: return makeInt(v.i, loc);
  }
}

size_t countNodes(const Expr& e) {
  size_t n = 1;
  if (auto* u = e.as<Unary>()) n += countNodes(*u->operand);
  if (auto* b = e.as<Binary>()) n += countNodes(*b->lhs) + countNodes(*b->rhs);
  if (auto* c = e.as<Call>())
    for (const ExprPtr& a : c->args) n += countNodes(*a);
  return n;
}

// The outermost subexpression of type float that is not a literal (a runtime float), or null.
const Expr* findRuntimeFloat(const Expr& e) {
  if (e.type == Type::Float && !e.is<FloatLit>()) return &e;
  if (auto* u = e.as<Unary>()) return findRuntimeFloat(*u->operand);
  if (auto* b = e.as<Binary>()) {
    if (const Expr* f = findRuntimeFloat(*b->lhs)) return f;
    return findRuntimeFloat(*b->rhs);
  }
  if (auto* c = e.as<Call>())
    for (const ExprPtr& a : c->args)
      if (const Expr* f = findRuntimeFloat(*a)) return f;
  return nullptr;
}

// Thrown when a statement's expression passes a limit (reported already); caught per statement.
struct LimitExceeded {};

// Lowers checked expressions to the closed form described in resolve.h.
class Resolver {
 public:
  Resolver(const Pattern& p, Diagnostics& d) : p_(p), d_(d) {}

  // Def arguments in scope: name -> the (already lowered) argument expression.
  using Env = std::map<std::string, const Expr*>;

  // Lowers one statement's expression under the limits of limits.h (null after an error).
  // Inlining copies a def's body at every call, so the size and height of the result are
  // bounded here, while it is built, not afterwards.
  ExprPtr lowerStatement(const Expr& e) {
    nodes_ = 0;
    depth_ = 0;
    calls_.clear();
    try {
      return lower(e, {});
    } catch (const LimitExceeded&) {
      failed_ = true;
      return nullptr;
    }
  }

  ExprPtr lower(const Expr& e, const Env& env) {
    if (++depth_ > limits::kMaxExprDepth)
      limitError(e.loc, "expression too deep after inlining defs: more than " +
                            std::to_string(limits::kMaxExprDepth) +
                            " nested operations and def calls");
    struct Leave {
      int& d;
      ~Leave() { --d; }
    } leave{depth_};
    countNode(e.loc, 1);
    if (auto v = literalValue(e)) return literal(*v, e.loc);
    if (auto* n = e.as<Ident>()) return lowerName(n->name, e.loc, env);
    if (auto* n = e.as<Field>()) {
      std::string tok = n->tok;
      SourceLoc tokLoc = n->tokLoc;
      if (auto it = env.find(tok); it != env.end()) {  // a def argument bound to q / kv / t
        const Ident* bound = it->second->as<Ident>();
        if (bound) tok = bound->name, tokLoc = it->second->loc;
      }
      return makeExpr(Field{tok, n->name, tokLoc, n->nameLoc}, e.loc, Type::Int);
    }
    if (auto* n = e.as<Unary>()) return unary(n->op, lower(*n->operand, env), e.loc);
    if (auto* n = e.as<Binary>())
      return binary(n->op, lower(*n->lhs, env), lower(*n->rhs, env), e.loc);
    if (auto* n = e.as<Call>()) {
      std::vector<ExprPtr> args;
      for (const ExprPtr& a : n->args) args.push_back(lower(*a, env));
      if (n->callee == "div") return binary(BinaryOp::Div, std::move(args[0]), std::move(args[1]), e.loc);
      if (n->callee == "mod") return binary(BinaryOp::Mod, std::move(args[0]), std::move(args[1]), e.loc);
      if (findBuiltin(n->callee)) return builtin(n->callee, std::move(args), e.loc);
      const Def* d = p_.findDef(n->callee);
      Env inner;
      for (size_t i = 0; i < d->args.size(); ++i) inner[d->args[i].name] = args[i].get();
      calls_.push_back(e.loc);
      ExprPtr body = lower(*d->body, inner);
      calls_.pop_back();
      return body;
    }
    return makeBool(false, e.loc);  // unreachable for a checked pattern
  }

  // Gate and bias are floats even when written as ints.
  ExprPtr toFloat(ExprPtr e) {
    if (e->type != Type::Int) return e;
    SourceLoc loc = e->loc;
    return unary(UnaryOp::ToFloat, std::move(e), loc);
  }

  bool failed() const { return failed_; }

  // A mask is classified per tile pair on integer intervals (architecture.md, "Execution
  // model"), which have no float counterpart: a float that depends on the tokens is refused
  // here, located, rather than failing in the code generator.
  bool checkMaskIsIntegral(const Expr& mask) {
    const Expr* f = findRuntimeFloat(mask);
    if (!f) return true;
    d_.error(f->loc, "a mask computes with ints and bools only, but this is a float; masks are "
                     "classified per tile on integer intervals (scale both sides to ints, e.g. "
                     "'2 * q.pos >= 2 * kv.pos + 1' for 'q.pos >= kv.pos + 0.5')");
    failed_ = true;
    return false;
  }

 private:
  [[noreturn]] void limitError(const SourceLoc& loc, const std::string& message) {
    // The outermost def call of the statement is the place the user can change.
    d_.error(calls_.empty() ? loc : calls_.front(),
             message + " (docs/dsl.md, \"Limits\")");
    throw LimitExceeded{};
  }

  void countNode(const SourceLoc& loc, size_t n) {
    nodes_ += n;
    if (nodes_ > (size_t)limits::kMaxExprNodes)
      limitError(loc, "expression too large after inlining defs: more than " +
                          std::to_string(limits::kMaxExprNodes) +
                          " nodes (a def is copied at each of its calls)");
  }

  ExprPtr lowerName(const std::string& name, const SourceLoc& loc, const Env& env) {
    if (auto it = env.find(name); it != env.end()) {
      countNode(loc, countNodes(*it->second));
      return clone(*it->second);
    }
    if (const Param* prm = p_.findParam(name)) return literal(prm->value, loc);
    if (name == "h") return makeExpr(Ident{name, NameKind::HeadIndex}, loc, Type::Int);
    for (const std::string& c : allShapeConstants())
      if (c == name) return makeExpr(Ident{name, NameKind::ShapeConst}, loc, Type::Int);
    return makeExpr(Ident{name, NameKind::Token}, loc, Type::Token);
  }

  // Replaces `e` by its value when every operand is a literal.
  ExprPtr fold(ExprPtr e, const Folded& f) {
    if (f.value) return literal(*f.value, e->loc);
    if (f.error != "type mismatch") {
      d_.error(e->loc, f.error + " in a constant subexpression");
      failed_ = true;
    }
    return e;
  }

  ExprPtr unary(UnaryOp op, ExprPtr operand, const SourceLoc& loc) {
    Type type = op == UnaryOp::Not ? Type::Bool : op == UnaryOp::ToFloat ? Type::Float
                                                                         : operand->type;
    auto v = literalValue(*operand);
    ExprPtr e = makeExpr(Unary{op, std::move(operand)}, loc, type);
    return v ? fold(std::move(e), foldUnary(op, *v)) : std::move(e);
  }

  // Makes int/float operands agree by promoting the int side.
  void unify(ExprPtr& a, ExprPtr& b) {
    if (a->type == Type::Int && b->type == Type::Float) a = toFloat(std::move(a));
    if (a->type == Type::Float && b->type == Type::Int) b = toFloat(std::move(b));
  }

  // docs/dsl.md: a constant divisor of 0 is a compile-time error, also when the dividend is a
  // runtime value (`q.pos / 0`), which folding alone would leave to the kernel.
  void checkDivisor(BinaryOp op, const Expr& lhs, const Expr& rhs) {
    if (op != BinaryOp::Div && op != BinaryOp::Mod) return;
    if (literalValue(lhs)) return;  // both constant: fold() reports it
    auto v = literalValue(rhs);
    if (!v || v->asFloat() != 0.0) return;
    d_.error(rhs.loc, std::string(op == BinaryOp::Div ? "division" : "modulo") +
                          " by zero: the divisor is the constant " + v->str());
    failed_ = true;
  }

  ExprPtr binary(BinaryOp op, ExprPtr lhs, ExprPtr rhs, const SourceLoc& loc) {
    if (op != BinaryOp::And && op != BinaryOp::Or) unify(lhs, rhs);
    checkDivisor(op, *lhs, *rhs);
    Type type = (isComparison(op) || op == BinaryOp::And || op == BinaryOp::Or) ? Type::Bool
                                                                                : lhs->type;
    auto a = literalValue(*lhs), b = literalValue(*rhs);
    ExprPtr e = makeExpr(Binary{op, std::move(lhs), std::move(rhs)}, loc, type);
    return a && b ? fold(std::move(e), foldBinary(op, *a, *b)) : std::move(e);
  }

  ExprPtr builtin(const std::string& name, std::vector<ExprPtr> args, const SourceLoc& loc) {
    if (args.size() == 2) unify(args[0], args[1]);
    Type type = args[0]->type;
    std::vector<Value> values;
    for (const ExprPtr& a : args)
      if (auto v = literalValue(*a)) values.push_back(*v);
    bool allLiteral = values.size() == args.size();
    ExprPtr e = makeExpr(Call{name, std::move(args)}, loc, type);
    return allLiteral ? fold(std::move(e), foldBuiltin(name, values)) : std::move(e);
  }

  const Pattern& p_;
  Diagnostics& d_;
  bool failed_ = false;
  size_t nodes_ = 0;             // nodes built for the current statement
  int depth_ = 0;                // recursion depth of lower()
  std::vector<SourceLoc> calls_;  // the def calls being inlined, outermost first
};

}  // namespace

std::optional<ResolvedPattern> resolve(const Pattern& p, Diagnostics& diags) {
  if (diags.hasErrors() || !p.layout) return std::nullopt;
  const int errorsBefore = diags.errorCount();
  Resolver r(p, diags);
  ResolvedPattern out;
  out.name = p.name;
  out.layout = *p.layout;
  out.params = p.params;
  auto number = [&](const ExprPtr& e, const char* what) {
    auto v = evaluateConstant(*e, p, what, diags);
    return v ? *v : Value::ofInt(0);
  };

  // The output's terms, in order; a pattern without `output` has exactly one branch.
  std::vector<std::pair<const Branch*, double>> terms;
  if (p.output) {
    out.output = p.output->kind;
    const size_t n = p.output->terms.size();
    for (const OutputTerm& t : p.output->terms) {
      double w = p.output->kind == OutputKind::Mean ? 1.0 / (double)n : 1.0;
      if (t.weight) w = number(t.weight, "an output weight").asFloat();
      terms.emplace_back(p.findBranch(t.branch), w);
    }
  } else if (!p.branches.empty()) {
    terms.emplace_back(&p.branches.front(), 1.0);
  }

  for (const auto& [b, weight] : terms) {
    ResolvedBranch rb;
    rb.name = b->name;
    rb.loc = b->loc;
    rb.weight = weight;
    if (b->route) {
      rb.route = ResolvedRoute{(int)number(b->route->groups, "route groups").i,
                               (int)number(b->route->topK, "top k").i, b->route->loc};
    }
    if (b->group) {
      if (b->group->byRoute) {
        rb.group = GroupKind::Route;
      } else {
        rb.group = GroupKind::Key;
        rb.groupKey = r.lowerStatement(*b->group->key);
      }
    }
    if (b->mask) {
      rb.mask = r.lowerStatement(*b->mask->value);
      if (rb.mask) r.checkMaskIsIntegral(*rb.mask);
    }
    if (b->gate) {
      if (b->gate->byRouteProb) {
        rb.gate = GateKind::RouteProb;
      } else {
        rb.gate = GateKind::Expr;
        if (ExprPtr g = r.lowerStatement(*b->gate->value)) rb.gateValue = r.toFloat(std::move(g));
      }
    }
    if (b->scale) rb.scale = number(b->scale->value, "scale").asFloat();
    if (b->softcap) rb.softcap = number(b->softcap->value, "softcap").asFloat();
    if (b->bias)
      if (ExprPtr e = r.lowerStatement(*b->bias->value)) rb.bias = r.toFloat(std::move(e));
    out.branches.push_back(std::move(rb));
  }
  if (r.failed() || diags.errorCount() != errorsBefore) return std::nullopt;
  return out;
}

std::string dumpResolved(const ResolvedPattern& r) {
  std::string s = "(resolved " + r.name;
  s += std::string("\n  (layout ") + layoutName(r.layout) + ")";
  s += std::string("\n  (output ") + outputKindName(r.output) + ")";
  for (const Param& p : r.params) s += "\n  (param " + p.name + " " + p.value.str() + ")";
  for (const ResolvedBranch& b : r.branches) {
    s += "\n  (branch " + b.name;
    s += "\n    (weight " + Value::ofFloat(b.weight).str() + ")";
    if (b.route)
      s += "\n    (route (groups " + std::to_string(b.route->groups) + ") (top " +
           std::to_string(b.route->topK) + "))";
    if (b.group == GroupKind::Route) s += "\n    (group route)";
    if (b.group == GroupKind::Key) s += "\n    (group " + dumpExpr(*b.groupKey) + ")";
    if (b.mask) s += "\n    (mask " + dumpExpr(*b.mask) + ")";
    if (b.gate == GateKind::RouteProb) s += "\n    (gate route.prob)";
    if (b.gate == GateKind::Expr) s += "\n    (gate " + dumpExpr(*b.gateValue) + ")";
    if (b.scale) s += "\n    (scale " + Value::ofFloat(*b.scale).str() + ")";
    if (b.bias) s += "\n    (bias " + dumpExpr(*b.bias) + ")";
    if (b.softcap) s += "\n    (softcap " + Value::ofFloat(*b.softcap).str() + ")";
    s += ")";
  }
  return s + ")\n";
}

}  // namespace moga::frontend
