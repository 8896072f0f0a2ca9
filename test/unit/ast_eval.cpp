#include "test/unit/ast_eval.h"

#include <stdexcept>

#include "compiler/frontend/const_eval.h"

namespace moga::test {

using namespace moga::frontend;

namespace {

int64_t field(const Coords<int>& c, const std::string& name) {
  if (name == "pos") return c.pos;
  if (name == "frame") return c.frame;
  if (name == "row") return c.row;
  if (name == "col") return c.col;
  if (name == "shot") return c.shot;
  if (name == "shot_start") return c.shot_start;
  if (name == "shot_end") return c.shot_end;
  throw std::runtime_error("ast_eval: unknown field " + name);
}

Value check(const Folded& f) {
  if (!f.value) throw std::runtime_error("ast_eval: " + f.error);
  return *f.value;
}

}  // namespace

Value evalAst(const Expr& e, const AstEnv& env) {
  if (auto* x = e.as<IntLit>()) return Value::ofInt(x->value);
  if (auto* x = e.as<FloatLit>()) return Value::ofFloat(x->value);
  if (auto* x = e.as<BoolLit>()) return Value::ofBool(x->value);
  if (auto* x = e.as<Ident>()) {
    if (x->kind == NameKind::HeadIndex) return Value::ofInt(env.head);
    const std::map<std::string, int> dims = {{"N", env.N}, {"F", env.F}, {"H", env.H}, {"W", env.W}};
    return Value::ofInt(dims.at(x->name));
  }
  if (auto* x = e.as<Field>()) return Value::ofInt(field(*env.tokens.at(x->tok), x->name));
  if (auto* x = e.as<Call>()) {
    std::vector<Value> args;
    for (const ExprPtr& a : x->args) args.push_back(evalAst(*a, env));
    return check(foldBuiltin(x->callee, args));
  }
  if (auto* x = e.as<Unary>()) return check(foldUnary(x->op, evalAst(*x->operand, env)));
  auto* b = e.as<Binary>();
  return check(foldBinary(b->op, evalAst(*b->lhs, env), evalAst(*b->rhs, env)));
}

}  // namespace moga::test
