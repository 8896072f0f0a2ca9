// The AST of a .moga pattern, as parsed (see docs/dsl.md for the language).
//
// Two views exist:
//  * `Pattern` (this file): what the user wrote, with params, defs and branches by name. Produced
//    by parsePattern(), checked by checkPattern(), printed by dumpAST().
//  * `ResolvedPattern` (resolve.h): per branch a closed, typed expression tree (defs inlined,
//    params substituted). Code generators consume that one.
//
// Expressions are a tagged union (std::variant) of eight node kinds; no RTTI or virtual calls, so
// the header is usable from code built with -fno-rtti (the MLIR generator). Every node owns its
// children through ExprPtr and carries a SourceLoc for diagnostics.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "compiler/frontend/source_loc.h"

namespace moga::frontend {

// ---- types and values ---------------------------------------------------------------------------

// Token: a q / kv / t handle (only its fields are values). Unknown: not typed yet.
enum class Type { Unknown, Int, Float, Bool, Token };
const char* typeName(Type t);  // "int", "float", "bool", "token", "unknown"

// A compile-time value (a param's value, a folded constant).
struct Value {
  Type type = Type::Int;  // Int, Float or Bool
  int64_t i = 0;
  double f = 0.0;
  bool b = false;

  static Value ofInt(int64_t v) { return {Type::Int, v, 0.0, false}; }
  static Value ofFloat(double v) { return {Type::Float, 0, v, false}; }
  static Value ofBool(bool v) { return {Type::Bool, 0, 0.0, v}; }
  double asFloat() const { return type == Type::Float ? f : (double)i; }
  std::string str() const;  // "5", "0.5", "true"
};

enum class Layout { Seq, Video };
const char* layoutName(Layout l);  // "seq", "video"

// ---- expressions --------------------------------------------------------------------------------

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct IntLit { int64_t value = 0; };
struct FloatLit { double value = 0.0; };
struct BoolLit { bool value = false; };

// What a bare name refers to. Set by the parser to Unresolved; resolve() sets it in its output.
enum class NameKind {
  Unresolved,
  Param,       // compile-time param (never left in a ResolvedPattern: substituted by its value)
  ShapeConst,  // N, F, H, W: runtime ints (sequence length, frames, grid rows, grid cols)
  HeadIndex,   // h: the head index, only inside `bias`
  Token,       // q, kv (mask, bias), q (gate), t (group key); only as the base of a Field
  DefArg,      // a def's parameter (never left in a ResolvedPattern: inlined)
};
struct Ident {
  std::string name;
  NameKind kind = NameKind::Unresolved;
};

// `tok.name`: a coordinate of a token (`q.frame`) or, only in `gate`, `route.prob`. The base is
// always a plain name in the source grammar, so it is stored as a string.
struct Field {
  std::string tok;
  std::string name;
  SourceLoc tokLoc;
  SourceLoc nameLoc;
};

// `callee(args...)`: a def or a builtin (abs, min, max, div, mod). After resolve() only abs, min
// and max remain (div and mod become Binary Div / Mod).
struct Call {
  std::string callee;
  std::vector<ExprPtr> args;
};

enum class UnaryOp {
  Neg,      // -x            (int or float)
  Not,      // !b            (bool)
  ToFloat,  // int -> float, only inserted by resolve() where an int promotes to a float
};
struct Unary {
  UnaryOp op = UnaryOp::Neg;
  ExprPtr operand;
};

enum class BinaryOp {
  Add, Sub, Mul,
  Div,  // ints: floor division (Python's //); floats: true division
  Mod,  // ints only: floor modulo, the result has the sign of the divisor (Python's %)
  Eq, Ne, Lt, Le, Gt, Ge,
  And, Or,  // short-circuit has no observable effect: expressions are pure
};
struct Binary {
  BinaryOp op = BinaryOp::Add;
  ExprPtr lhs, rhs;
};

struct Expr {
  using Node = std::variant<IntLit, FloatLit, BoolLit, Ident, Field, Call, Unary, Binary>;

  Node node;
  SourceLoc loc;              // the span of the whole expression
  Type type = Type::Unknown;  // filled in by resolve(); Unknown in a parsed Pattern
  // Height of the tree under this node (a leaf is 1), kept by makeExpr so the parser and the
  // def inliner can bound the recursion depth of every later pass in O(1) (limits.h).
  int height = 1;

  template <class T> bool is() const { return std::holds_alternative<T>(node); }
  template <class T> const T* as() const { return std::get_if<T>(&node); }
  template <class T> T* as() { return std::get_if<T>(&node); }
};

// Node constructors (they keep call sites short).
ExprPtr makeExpr(Expr::Node node, SourceLoc loc, Type type = Type::Unknown);
ExprPtr makeInt(int64_t v, SourceLoc loc);
ExprPtr makeFloat(double v, SourceLoc loc);
ExprPtr makeBool(bool v, SourceLoc loc);
ExprPtr makeUnary(UnaryOp op, ExprPtr operand, SourceLoc loc);
ExprPtr makeBinary(BinaryOp op, ExprPtr lhs, ExprPtr rhs, SourceLoc loc);

ExprPtr clone(const Expr& e);
const char* opSpelling(BinaryOp op);  // "+", "==", "&&", ...
const char* opSpelling(UnaryOp op);   // "-", "!", "float"
bool isComparison(BinaryOp op);
bool isArithmetic(BinaryOp op);  // + - * / %

// ---- statements ---------------------------------------------------------------------------------

struct Param {
  std::string name;
  Value value;  // Int or Float; the literal's type fixes the param's type
  SourceLoc loc;       // the name
  SourceLoc valueLoc;  // the literal
};

struct DefArg {
  std::string name;
  SourceLoc loc;
};

// `def name(args) = body`: a pure function, inlined at every call; args are untyped (tokens or
// numbers) and the body is checked per distinct argument-type list it is called with.
struct Def {
  std::string name;
  std::vector<DefArg> args;
  ExprPtr body;
  SourceLoc loc;  // the name
};

// `route linear(groups) top topK`: per-layer router d_model -> groups, softmax, top-k.
struct RouteStmt {
  ExprPtr groups;  // compile-time int (a literal or params)
  ExprPtr topK;    // compile-time int, 1 <= topK <= groups
  SourceLoc loc;   // the `route` keyword ... end of statement
};

// `group route` (byRoute) or `group <int expr over t>`.
struct GroupStmt {
  bool byRoute = false;
  ExprPtr key;  // null when byRoute
  SourceLoc loc;
};

// `gate route.prob` (byRouteProb) or `gate <float expr over q>`.
struct GateStmt {
  bool byRouteProb = false;
  ExprPtr value;  // null when byRouteProb
  SourceLoc loc;
};

// mask, scale, bias, softcap: one expression each.
struct ExprStmt {
  ExprPtr value;
  SourceLoc loc;  // the keyword
};

struct Branch {
  std::string name;
  SourceLoc loc;
  // True for the single branch of a pattern written without `branch` (it takes the pattern's name).
  bool implicit = false;
  std::optional<RouteStmt> route;
  std::optional<GroupStmt> group;
  std::optional<ExprStmt> mask;     // bool over q, kv
  std::optional<GateStmt> gate;
  std::optional<ExprStmt> scale;    // compile-time float > 0; absent: 1/sqrt(head_dim)
  std::optional<ExprStmt> bias;     // float over q, kv, h, added to the score
  std::optional<ExprStmt> softcap;  // compile-time float > 0: score = c * tanh(score / c)
};

enum class OutputKind { Single, Mean, Sum };
const char* outputKindName(OutputKind k);  // "single", "mean", "sum"

struct OutputTerm {
  ExprPtr weight;  // null = 1 (always null in Single and Mean); a compile-time number in Sum
  std::string branch;
  SourceLoc loc;        // the whole term
  SourceLoc branchLoc;  // the branch name
};

struct Output {
  OutputKind kind = OutputKind::Single;
  std::vector<OutputTerm> terms;
  SourceLoc loc;
};

struct Pattern {
  std::string name;
  SourceLoc loc;  // the name after `pattern` (1:1 when it is missing)
  std::optional<Layout> layout;
  SourceLoc layoutLoc;
  std::vector<Param> params;
  std::vector<Def> defs;
  std::vector<Branch> branches;
  std::optional<Output> output;

  const Param* findParam(const std::string& n) const;
  const Def* findDef(const std::string& n) const;
  const Branch* findBranch(const std::string& n) const;
};

// A readable S-expression dump of the parsed pattern (`moga compile --dump ast`), e.g.
//   (pattern causal
//     (layout seq)
//     (branch causal
//       (mask (>= q.pos kv.pos))))
std::string dumpAST(const Pattern& p);
std::string dumpExpr(const Expr& e);

}  // namespace moga::frontend
