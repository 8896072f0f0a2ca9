// Compile-time arithmetic, shared by the checker (route sizes, scale, softcap, output weights)
// and by resolve() (folding literal subtrees). Ints are 32-bit like the runtime's coordinates.
#pragma once

#include <optional>
#include <string>

#include "compiler/frontend/ast.h"
#include "compiler/frontend/diagnostics.h"

namespace moga::frontend {

// Python's // and % on ints: rounds toward -inf; the remainder has the divisor's sign.
// `b` must not be 0.
int64_t floorDiv(int64_t a, int64_t b);
int64_t floorMod(int64_t a, int64_t b);

// The result of one operation, or why there is none ("division by zero", "integer overflow").
struct Folded {
  std::optional<Value> value;
  std::string error;
};

// `lhs op rhs` on two typed constants (int promotes to float as in the language).
Folded foldBinary(BinaryOp op, const Value& lhs, const Value& rhs);
Folded foldUnary(UnaryOp op, const Value& v);
// abs, min, max, div, mod.
Folded foldBuiltin(const std::string& name, const std::vector<Value>& args);

// Evaluates an expression made of literals, params, builtins and calls of defs (which must be
// closed over those). Reports errors (division by zero, overflow, a runtime name) to `diags`
// and returns nullopt. `what` names the context in messages ("scale", "route groups").
std::optional<Value> evaluateConstant(const Expr& e, const Pattern& p, const std::string& what,
                                      Diagnostics& diags);

}  // namespace moga::frontend
