// An evaluator of the resolved AST on concrete token coordinates, written on the front end's own
// constant folder (compiler/frontend/const_eval.h). It shares no code with the compiled path
// (MLIR -> passes -> serialized program -> interval.cuh), so agreeing with it checks that path.
#pragma once

#include <map>
#include <string>

#include "compiler/frontend/resolve.h"
#include "kernels_src/cuda/coords.cuh"

namespace moga::test {

struct AstEnv {
  std::map<std::string, const Coords<int>*> tokens;  // "q", "kv", "t"
  int N = 0, F = 1, H = 1, W = 1;
  int head = 0;
};

frontend::Value evalAst(const frontend::Expr& e, const AstEnv& env);

}  // namespace moga::test
