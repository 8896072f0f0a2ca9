#include "compiler/frontend/sema.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <limits>
#include <set>

#include "compiler/frontend/const_eval.h"
#include "compiler/frontend/limits.h"
#include "compiler/frontend/names.h"

namespace moga::frontend {
namespace {

const std::vector<std::string> kTokenNames = {"q", "kv", "t"};

bool isNumeric(Type t) { return t == Type::Int || t == Type::Float; }

std::string join(const std::vector<std::string>& items) {
  std::string s;
  for (size_t i = 0; i < items.size(); ++i) s += (i ? ", " : "") + items[i];
  return s;
}

std::string quote(const std::string& s) { return "'" + s + "'"; }

// What an expression may refer to, and what it is for (messages name `what`).
struct Scope {
  std::string what;                 // "mask", "group key", "gate", "bias", "scale", ...
  std::vector<std::string> tokens;  // token names bound here: {q, kv}, {t}, {q} or none
  bool headIndex = false;           // `h` (bias only)
  bool constant = false;            // compile-time: params and literals only
  const Def* def = nullptr;         // inside this def's body (an instantiation)
  const std::map<std::string, Type>* args = nullptr;  // the def's argument types
};

class Checker {
 public:
  Checker(const Pattern& p, Diagnostics& diags) : p_(p), d_(diags) {}

  void run() {
    checkNames();
    checkRecursion();
    for (const Branch& b : p_.branches) checkBranch(b);
    checkOutput();
    checkUnusedDefs();
  }

 private:
  // ---- expressions ----
  Type check(const Expr& e, const Scope& s) {
    // A def body is checked inside its caller's recursion: a chain of defs nests deeper than
    // any one tree. Bounded like the inliner (limits.h), reported once at the outermost level.
    if (depth_ >= limits::kMaxExprDepth) {
      if (!depthReported_)
        d_.error(e.loc, "expression too deep after inlining defs: more than " +
                            std::to_string(limits::kMaxExprDepth) +
                            " nested operations and def calls (docs/dsl.md, \"Limits\")");
      depthReported_ = true;
      return Type::Unknown;
    }
    ++depth_;
    Type t = checkNode(e, s);
    --depth_;
    return t;
  }

  Type checkNode(const Expr& e, const Scope& s) {
    if (e.is<IntLit>()) return Type::Int;
    if (e.is<FloatLit>()) return Type::Float;
    if (e.is<BoolLit>()) return Type::Bool;
    if (auto* n = e.as<Ident>()) return checkName(n->name, e.loc, s);
    if (auto* n = e.as<Field>()) return checkField(*n, e.loc, s);
    if (auto* n = e.as<Call>()) return checkCall(*n, e.loc, s);
    if (auto* n = e.as<Unary>()) return checkUnary(*n, e.loc, s);
    if (auto* n = e.as<Binary>()) return checkBinary(*n, e.loc, s);
    return Type::Unknown;
  }

  Type error(const SourceLoc& loc, const std::string& message) {
    d_.error(loc, message);
    return Type::Unknown;
  }

  std::vector<std::string> shapeNames() const {
    return p_.layout ? shapeConstants(*p_.layout) : allShapeConstants();
  }
  std::vector<std::string> fieldNames() const {
    return p_.layout ? tokenFields(*p_.layout) : allTokenFields();
  }
  bool contains(const std::vector<std::string>& v, const std::string& x) const {
    return std::find(v.begin(), v.end(), x) != v.end();
  }

  Type checkName(const std::string& name, const SourceLoc& loc, const Scope& s) {
    if (s.args) {
      if (auto it = s.args->find(name); it != s.args->end()) return it->second;
    }
    if (!s.def) {
      if (contains(s.tokens, name)) return Type::Token;
      if (name == "h" && s.headIndex) return Type::Int;
    }
    if (const Param* prm = p_.findParam(name)) return prm->value.type;
    if (contains(shapeNames(), name)) {
      if (s.constant)
        return error(loc, quote(name) + " is a runtime shape constant; " + s.what +
                              " must be a compile-time value");
      return Type::Int;
    }
    // Not visible here: say why, most specific reason first.
    if (p_.findDef(name)) return error(loc, quote(name) + " is a def; call it: " + name + "(...)");
    if (findBuiltin(name))
      return error(loc, quote(name) + " is a builtin function; call it: " + name + "(...)");
    if (name == "route")
      return error(loc, "'route' can only be used as 'group route' or 'gate route.prob'");
    if (contains(allShapeConstants(), name))
      return error(loc, "shape constant " + quote(name) + " is not available in layout " +
                            layoutName(*p_.layout) + " (it has: " + join(shapeNames()) + ")");
    if (contains(kTokenNames, name) || name == "h") {
      if (s.def)
        return error(loc, quote(name) + " is not visible inside def '" + s.def->name +
                              "': pass it as an argument");
      if (name == "h") return error(loc, "the head index 'h' is only available in bias");
      if (s.tokens.empty())
        return error(loc, "token " + quote(name) + " is not available in " + s.what +
                              ": it must be a compile-time value");
      return error(loc, "token " + quote(name) + " is not available in " + s.what +
                            " (it can use: " + join(s.tokens) + ")");
    }
    std::vector<std::string> visible;
    if (s.args)
      for (auto& [arg, type] : *s.args) visible.push_back(arg);
    if (!s.def) visible.insert(visible.end(), s.tokens.begin(), s.tokens.end());
    for (const Param& prm : p_.params) visible.push_back(prm.name);
    if (!s.constant)
      for (const std::string& c : shapeNames()) visible.push_back(c);
    if (s.headIndex && !s.def) visible.push_back("h");
    return error(loc, "unknown identifier " + quote(name) + didYouMean(name, visible));
  }

  Type checkField(const Field& f, const SourceLoc& loc, const Scope& s) {
    if (f.tok == "route") {
      if (f.name == "prob")
        return error(loc, "'route.prob' can only be a whole gate statement: 'gate route.prob'");
      return error(f.nameLoc, "the router has no field " + quote(f.name) + " (it has: prob)");
    }
    Type base = checkName(f.tok, f.tokLoc, s);
    if (base == Type::Unknown) return Type::Unknown;
    if (base != Type::Token)
      return error(f.tokLoc, quote(f.tok) + " is " + typeName(base) +
                                 ", not a token; only tokens have fields");
    if (contains(fieldNames(), f.name)) return Type::Int;
    if (contains(allTokenFields(), f.name))
      return error(f.nameLoc, "field " + quote(f.name) + " is not available in layout " +
                                  layoutName(*p_.layout) + " (tokens have: " +
                                  join(fieldNames()) + ")");
    std::string hint = didYouMean(f.name, fieldNames());
    if (hint.empty()) hint = " (tokens have: " + join(fieldNames()) + ")";
    return error(f.nameLoc, "unknown field " + quote(f.name) + hint);
  }

  Type checkCall(const Call& c, const SourceLoc& loc, const Scope& s) {
    std::vector<Type> args;
    bool unknown = false;
    for (const ExprPtr& a : c.args) {
      args.push_back(check(*a, s));
      unknown |= args.back() == Type::Unknown;
    }
    auto arity = [&](const std::string& who, size_t want) {
      if (args.size() == want) return true;
      d_.error(loc, who + " takes " + std::to_string(want) +
                        (want == 1 ? " argument" : " arguments") + ", got " +
                        std::to_string(args.size()));
      return false;
    };
    if (const Builtin* b = findBuiltin(c.callee)) {
      if (!arity(quote(c.callee), (size_t)b->arity) || unknown) return Type::Unknown;
      return builtinResult(c.callee, args, loc);
    }
    if (const Def* d = p_.findDef(c.callee)) {
      if (!arity("def " + quote(d->name), d->args.size())) {
        d_.note(d->loc, quote(d->name) + " is defined here");
        return Type::Unknown;
      }
      if (unknown || recursive_.count(d->name)) return Type::Unknown;
      return instantiate(*d, args, loc, s);
    }
    if (p_.findParam(c.callee) || contains(allShapeConstants(), c.callee) ||
        contains(kTokenNames, c.callee) || c.callee == "h")
      return error(loc, quote(c.callee) + " is not a function");
    std::vector<std::string> functions;
    for (const Def& d : p_.defs) functions.push_back(d.name);
    for (const Builtin& b : builtins()) functions.push_back(b.name);
    return error(loc, "unknown function " + quote(c.callee) + didYouMean(c.callee, functions));
  }

  Type builtinResult(const std::string& name, const std::vector<Type>& a, const SourceLoc& loc) {
    if (name == "abs") {
      if (isNumeric(a[0])) return a[0];
      return error(loc, "'abs' needs an int or float argument, got " + std::string(typeName(a[0])));
    }
    if (name == "min" || name == "max") {
      if (isNumeric(a[0]) && isNumeric(a[1]))
        return a[0] == Type::Float || a[1] == Type::Float ? Type::Float : Type::Int;
      return error(loc, quote(name) + " needs int or float arguments, got " + typeName(a[0]) +
                            " and " + typeName(a[1]));
    }
    // div, mod
    if (a[0] == Type::Int && a[1] == Type::Int) return Type::Int;
    return error(loc, quote(name) + " needs int arguments, got " + typeName(a[0]) + " and " +
                          typeName(a[1]) + (name == "div" ? " (use '/' to divide floats)" : ""));
  }

  // A def is checked once per distinct list of argument types (and constant-ness) it is called
  // with; diagnostics in its body are deduplicated by Diagnostics.
  Type instantiate(const Def& d, const std::vector<Type>& argTypes, const SourceLoc& callLoc,
                   const Scope& caller) {
    used_.insert(d.name);
    std::string key = d.name + (caller.constant ? "#const(" : "(");
    for (Type t : argTypes) key += std::string(typeName(t)) + ",";
    if (auto it = memo_.find(key); it != memo_.end()) return it->second;
    if (!d.body) return Type::Unknown;
    memo_[key] = Type::Unknown;  // a cycle that slipped through reads Unknown, not a loop
    std::map<std::string, Type> args;
    for (size_t i = 0; i < d.args.size(); ++i) args[d.args[i].name] = argTypes[i];
    Scope body{caller.what, {}, false, caller.constant, &d, &args};
    Type result = check(*d.body, body);
    if (result == Type::Token) {
      d_.error(callLoc, "def " + quote(d.name) + " returns a token; a def must return int, "
                        "float or bool");
      result = Type::Unknown;
    }
    memo_[key] = result;
    return result;
  }

  Type checkUnary(const Unary& u, const SourceLoc& loc, const Scope& s) {
    Type t = check(*u.operand, s);
    if (t == Type::Unknown) return t;
    if (u.op == UnaryOp::Not) {
      if (t == Type::Bool) return t;
      return error(loc, "operator '!' needs a bool operand, got " + std::string(typeName(t)));
    }
    if (isNumeric(t)) return t;
    return error(loc, "operator '-' needs an int or float operand, got " +
                          std::string(typeName(t)));
  }

  Type checkBinary(const Binary& b, const SourceLoc& loc, const Scope& s) {
    Type l = check(*b.lhs, s), r = check(*b.rhs, s);
    if (l == Type::Unknown || r == Type::Unknown) return Type::Unknown;
    const std::string op = quote(opSpelling(b.op));
    const std::string got = std::string(typeName(l)) + " and " + typeName(r);
    if (l == Type::Token || r == Type::Token) {
      if (isComparison(b.op) && l == r)
        return error(loc, "operator " + op + " cannot compare tokens; compare their fields "
                          "(q.pos == kv.pos)");
      return error(loc, "operator " + op + " cannot take a token (got " + got +
                            "); use a field such as q.pos");
    }
    switch (b.op) {
      case BinaryOp::And:
      case BinaryOp::Or:
        if (l == Type::Bool && r == Type::Bool) return Type::Bool;
        return error(loc, "operator " + op + " needs bool operands, got " + got);
      case BinaryOp::Mod:
        if (l == Type::Int && r == Type::Int) return Type::Int;
        return error(loc, "operator '%' needs int operands, got " + got);
      case BinaryOp::Eq:
      case BinaryOp::Ne:
        if ((l == Type::Bool) == (r == Type::Bool)) return Type::Bool;
        return error(loc, "operator " + op + " cannot compare " + typeName(l) + " with " +
                              typeName(r));
      default:
        break;
    }
    if (!isNumeric(l) || !isNumeric(r))
      return error(loc, "operator " + op + " needs int or float operands, got " + got);
    if (isComparison(b.op)) return Type::Bool;
    return l == Type::Float || r == Type::Float ? Type::Float : Type::Int;
  }

  // A compile-time value of the given kind (Int, or Float meaning "any number"), or nullopt.
  std::optional<Value> constant(const Expr& e, const std::string& what, Type want) {
    Scope s{what, {}, false, true};
    Type t = check(e, s);
    if (t == Type::Unknown) return std::nullopt;
    if (want == Type::Int && t != Type::Int) {
      d_.error(e.loc, what + " must be an int, got " + typeName(t));
      return std::nullopt;
    }
    if (want == Type::Float && !isNumeric(t)) {
      d_.error(e.loc, what + " must be a number, got " + typeName(t));
      return std::nullopt;
    }
    return evaluateConstant(e, p_, what, d_);
  }

  void positive(const std::optional<ExprStmt>& stmt, const std::string& what) {
    if (!stmt || !stmt->value) return;
    if (auto v = constant(*stmt->value, what, Type::Float)) positiveFloat(*v, *stmt->value, what);
  }

  // scale, softcap and weights reach the kernels as 32-bit floats: > 0 there too, and finite.
  void positiveFloat(const Value& v, const Expr& e, const std::string& what) {
    const double x = v.asFloat();
    if (!(x > 0))
      d_.error(e.loc, what + " must be > 0, got " + v.str());
    else if (x < 1.1754943508222875e-38 || !(x <= limits::kMaxFloat))
      d_.error(e.loc, what + " " + v.str() + " is out of range for a 32-bit float (1.2e-38 to 3.4e38)");
  }

  // ---- statements ----
  void checkNames() {
    if (!p_.layout && !p_.name.empty())
      d_.error(p_.loc, "pattern " + quote(p_.name) +
                           " has no 'layout' statement (add 'layout seq' or 'layout video')");
    std::map<std::string, SourceLoc> defined;  // params and defs share one namespace
    auto define = [&](const std::string& name, const SourceLoc& loc, const char* kind) {
      std::string reserved;
      if (contains(allShapeConstants(), name)) reserved = "a shape constant";
      else if (findBuiltin(name)) reserved = "a builtin function";
      else if (contains(kTokenNames, name) || name == "h") reserved = "a token or head index name";
      if (!reserved.empty()) {
        d_.error(loc, quote(name) + " is reserved (" + reserved + ") and cannot name a " + kind);
        return;
      }
      auto [it, inserted] = defined.emplace(name, loc);
      if (!inserted) {
        d_.error(loc, quote(name) + " is already defined");
        d_.note(it->second, "previous definition of " + quote(name) + " is here");
      }
    };
    for (const Param& prm : p_.params) define(prm.name, prm.loc, "param");
    for (const Def& d : p_.defs) {
      define(d.name, d.loc, "def");
      std::set<std::string> args;
      for (const DefArg& a : d.args)
        if (!args.insert(a.name).second)
          d_.error(a.loc, "duplicate argument " + quote(a.name) + " in def " + quote(d.name));
    }
    std::map<std::string, SourceLoc> branches;
    for (const Branch& b : p_.branches) {
      auto [it, inserted] = branches.emplace(b.name, b.loc);
      if (!inserted) {
        d_.error(b.loc, "duplicate branch " + quote(b.name));
        d_.note(it->second, "previous branch " + quote(b.name) + " is here");
      }
    }
  }

  // Defs are inlined, so a cycle among them has no meaning.
  void checkRecursion() {
    std::map<std::string, std::vector<std::string>> calls;
    for (const Def& d : p_.defs) {
      if (!d.body) continue;
      std::function<void(const Expr&)> collect = [&](const Expr& e) {
        if (auto* c = e.as<Call>()) {
          if (p_.findDef(c->callee)) calls[d.name].push_back(c->callee);
          for (const ExprPtr& a : c->args) collect(*a);
        } else if (auto* u = e.as<Unary>()) {
          collect(*u->operand);
        } else if (auto* b = e.as<Binary>()) {
          collect(*b->lhs);
          collect(*b->rhs);
        }
      };
      collect(*d.body);
    }
    std::map<std::string, int> state;  // 0 unvisited, 1 on the stack, 2 done
    std::vector<std::string> stack;
    std::function<void(const std::string&)> visit = [&](const std::string& name) {
      state[name] = 1;
      stack.push_back(name);
      for (const std::string& callee : calls[name]) {
        if (state[callee] == 1) {
          auto from = std::find(stack.begin(), stack.end(), callee);
          std::string cycle;
          for (auto it = from; it != stack.end(); ++it) {
            cycle += *it + " -> ";
            recursive_.insert(*it);
          }
          cycle += callee;
          d_.error(p_.findDef(callee)->loc, "def " + quote(callee) + " is recursive (" + cycle +
                                                "); defs are inlined and cannot recurse");
        } else if (state[callee] == 0) {
          visit(callee);
        }
      }
      stack.pop_back();
      state[name] = 2;
    };
    for (const Def& d : p_.defs)
      if (state[d.name] == 0) visit(d.name);
  }

  void checkBranch(const Branch& b) {
    const std::string where = " in branch " + quote(b.name);
    if (b.mask && b.mask->value) {
      Type t = check(*b.mask->value, {"a mask", {"q", "kv"}});
      if (t != Type::Unknown && t != Type::Bool)
        d_.error(b.mask->value->loc, std::string("mask must be a bool expression, got ") +
                                         typeName(t));
    }
    std::optional<Value> groups;
    if (b.route) {
      if (b.route->groups && (groups = constant(*b.route->groups, "the number of route groups",
                                                Type::Int)) &&
          (groups->i < 1 || groups->i > limits::kMaxRouteGroups)) {
        d_.error(b.route->groups->loc,
                 "route needs between 1 and " + std::to_string(limits::kMaxRouteGroups) +
                     " groups, got " + groups->str());
        groups.reset();
      }
      std::optional<Value> k;
      if (b.route->topK) k = constant(*b.route->topK, "top k", Type::Int);
      if (k && groups && (k->i < 1 || k->i > groups->i))
        d_.error(b.route->topK->loc, "top k must be between 1 and the number of groups (" +
                                         groups->str() + "), got " + k->str());
      else if (k && !groups && k->i < 1)
        d_.error(b.route->topK->loc, "top k must be at least 1, got " + k->str());
      if (!b.group)
        d_.error(b.route->loc, "branch " + quote(b.name) +
                                   " has a route but does not use it: add 'group route'");
    }
    if (b.group) {
      if (b.group->byRoute && !b.route)
        d_.error(b.group->loc, "'group route' needs a 'route linear(M) top K' statement" + where);
      if (b.group->key) {
        if (b.route)
          d_.error(b.group->loc, "branch " + quote(b.name) +
                                     " has a route, so it must group by it: write 'group route'");
        Type t = check(*b.group->key, {"a group key", {"t"}});
        if (t != Type::Unknown && t != Type::Int)
          d_.error(b.group->key->loc, std::string("group key must be an int expression, got ") +
                                          typeName(t));
      }
    }
    if (b.gate) {
      if (b.gate->byRouteProb && !b.route)
        d_.error(b.gate->loc, "'gate route.prob' needs a 'route linear(M) top K' statement" + where);
      if (b.gate->value) {
        Type t = check(*b.gate->value, {"a gate", {"q"}});
        if (t != Type::Unknown && !isNumeric(t))
          d_.error(b.gate->value->loc, std::string("gate must be a float expression, got ") +
                                           typeName(t));
      }
    }
    if (b.bias && b.bias->value) {
      Type t = check(*b.bias->value, {"a bias", {"q", "kv"}, true});
      if (t != Type::Unknown && !isNumeric(t))
        d_.error(b.bias->value->loc, std::string("bias must be a float expression, got ") +
                                         typeName(t));
    }
    positive(b.scale, "scale");
    positive(b.softcap, "softcap");
  }

  void checkOutput() {
    if (!p_.output) {
      if (p_.branches.size() > 1) {
        std::vector<std::string> names;
        for (const Branch& b : p_.branches) names.push_back(b.name);
        d_.error(p_.loc, "pattern " + quote(p_.name) + " has " +
                             std::to_string(p_.branches.size()) +
                             " branches but no 'output' (e.g. output mean(" + join(names) + "))");
      }
      return;
    }
    std::vector<std::string> branchNames;
    for (const Branch& b : p_.branches) branchNames.push_back(b.name);
    std::map<std::string, SourceLoc> seen;
    for (const OutputTerm& t : p_.output->terms) {
      if (t.weight && p_.output->kind == OutputKind::Mean) {
        d_.error(t.loc, "mean(...) takes branch names only; use sum(...) for weights");
      } else if (t.weight) {
        if (auto w = constant(*t.weight, "an output weight", Type::Float))
          positiveFloat(*w, *t.weight, "output weight");
      }
      if (!p_.findBranch(t.branch)) {
        d_.error(t.branchLoc, "unknown branch " + quote(t.branch) +
                                  didYouMean(t.branch, branchNames));
        continue;
      }
      auto [it, inserted] = seen.emplace(t.branch, t.branchLoc);
      if (!inserted) {
        d_.error(t.branchLoc, "branch " + quote(t.branch) + " appears twice in output");
        d_.note(it->second, "first use of " + quote(t.branch) + " is here");
      }
    }
    for (const Branch& b : p_.branches)
      if (!seen.count(b.name))
        d_.warning(b.loc, "branch " + quote(b.name) + " is not used in output and is ignored");
  }

  // Defs nobody calls still get their names checked (argument types unknown: no type errors).
  void checkUnusedDefs() {
    for (const Def& d : p_.defs) {
      if (used_.count(d.name) || recursive_.count(d.name) || !d.body) continue;
      std::map<std::string, Type> args;
      for (const DefArg& a : d.args) args[a.name] = Type::Unknown;
      Scope body{"def " + quote(d.name), {}, false, false, &d, &args};
      check(*d.body, body);
      d_.warning(d.loc, "def " + quote(d.name) + " is never used");
    }
  }

  const Pattern& p_;
  Diagnostics& d_;
  std::set<std::string> recursive_;
  int depth_ = 0;
  bool depthReported_ = false;
  std::set<std::string> used_;
  std::map<std::string, Type> memo_;
};

bool parseIntStrict(const std::string& text, int64_t& out) {
  if (text.empty()) return false;
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || v < std::numeric_limits<int32_t>::min() ||
      v > std::numeric_limits<int32_t>::max())
    return false;
  out = v;
  return true;
}

bool parseFloatStrict(const std::string& text, double& out) {
  if (text.empty() || std::isspace((unsigned char)text[0])) return false;
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (*end != '\0' || !std::isfinite(v)) return false;
  out = v;
  return true;
}

}  // namespace

bool applyParamOverrides(Pattern& p, const std::map<std::string, std::string>& overrides,
                         Diagnostics& diags) {
  bool ok = true;
  for (const auto& [name, text] : overrides) {
    const SourceLoc where;  // command line: no file position
    const std::string prefix = "--param " + name + "=" + text + ": ";
    Param* prm = nullptr;
    for (Param& candidate : p.params)
      if (candidate.name == name) prm = &candidate;
    if (!prm) {
      std::vector<std::string> names;
      for (const Param& x : p.params) names.push_back(x.name);
      std::string known = names.empty() ? " (it has no params)" : " (params: " + join(names) + ")";
      diags.error(where, prefix + "pattern " + quote(p.name) + " has no param " + quote(name) +
                             didYouMean(name, names) + known);
      ok = false;
      continue;
    }
    if (prm->value.type == Type::Int) {
      int64_t v;
      if (!parseIntStrict(text, v)) {
        diags.error(where, prefix + "param " + quote(name) + " is an int; " + quote(text) +
                               " is not a 32-bit int");
        ok = false;
        continue;
      }
      prm->value = Value::ofInt(v);
    } else {
      double v;
      if (parseFloatStrict(text, v) && !(std::fabs(v) <= limits::kMaxFloat)) {
        // 32-bit floats in the kernels (as for literals, lexer.cpp).
        diags.error(where, prefix + "param " + quote(name) + " is a float; " + quote(text) +
                               " is out of range for a 32-bit float");
        ok = false;
        continue;
      }
      if (!parseFloatStrict(text, v)) {
        diags.error(where, prefix + "param " + quote(name) + " is a float; " + quote(text) +
                               " is not a number");
        ok = false;
        continue;
      }
      prm->value = Value::ofFloat(v);
    }
  }
  return ok;
}

bool checkPattern(const Pattern& p, Diagnostics& diags) {
  int before = diags.errorCount();
  Checker(p, diags).run();
  return diags.errorCount() == before;
}

}  // namespace moga::frontend
