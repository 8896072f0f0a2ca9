// The fixed vocabulary of the language: token fields per layout, shape constants, builtins,
// and "did you mean" suggestions for near misses.
#pragma once

#include <string>
#include <vector>

#include "compiler/frontend/ast.h"

namespace moga::frontend {

// Coordinates a token has in `layout` (seq: pos; video: pos frame row col shot shot_start
// shot_end), in documentation order.
const std::vector<std::string>& tokenFields(Layout layout);
// Every field of any layout (to tell "unknown field" from "field not in this layout").
const std::vector<std::string>& allTokenFields();

// Runtime shape constants of `layout` (seq: N; video: N F H W).
const std::vector<std::string>& shapeConstants(Layout layout);
const std::vector<std::string>& allShapeConstants();

struct Builtin {
  const char* name;
  int arity;
};
// abs(x) min(a,b) max(a,b) div(a,b) mod(a,b).
const std::vector<Builtin>& builtins();
const Builtin* findBuiltin(const std::string& name);

// Edit distance with transpositions counted as one edit (optimal string alignment).
int editDistance(const std::string& a, const std::string& b);
// "; did you mean 'frame'?" for the closest candidate within a small edit distance, else "".
std::string didYouMean(const std::string& name, const std::vector<std::string>& candidates);

}  // namespace moga::frontend
