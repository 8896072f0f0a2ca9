// The compiler's stages, Triton-style: each is named and its output can be dumped.
//
//   ast      the parsed pattern (compiler/frontend)
//   attn     the attn dialect straight from the resolved AST (compiler/mlirgen)
//   lowered  after the attn-lower pipeline (dialects/attn/lib/Transforms)
//   cuda     the generated CUDA C++ (compiler/codegen)
// plus the manifest (JSON) the runtime and the CPU reference read.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "compiler/frontend/diagnostics.h"
#include "nlohmann/json.hpp"

namespace moga {

struct PatternCompileOptions {
  std::map<std::string, std::string> params;  // --param k=v
  int head_dim = 128;
};

struct CompiledPattern {
  std::string name;
  std::string ast;      // dumpAST
  std::string attn;     // MLIR before the pipeline
  std::string lowered;  // MLIR after it
  std::string cuda;
  nlohmann::json manifest;
};

/// Compiles `source` (the text of `file`). Returns nullopt with the errors in `diags` (file:line:col
/// and a caret line) for any user error. A failure inside MLIR (a verifier error on generated IR)
/// is a compiler bug and is reported as such in `diags` too.
std::optional<CompiledPattern> compilePatternSource(const std::string& source, const std::string& file,
                                                    const PatternCompileOptions& options,
                                                    frontend::Diagnostics& diags);
std::optional<CompiledPattern> compilePatternFile(const std::string& path,
                                                  const PatternCompileOptions& options,
                                                  frontend::Diagnostics& diags);

}  // namespace moga
