// See compile_pattern.h.
#include "compiler/driver/compile_pattern.h"

#include <cstdint>
#include <fstream>
#include <limits>
#include <sstream>

#include "attn/AttnPasses.h"
#include "compiler/codegen/codegen.h"
#include "compiler/frontend/frontend.h"
#include "compiler/mlirgen/mlirgen.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"

namespace moga {

namespace {

std::string print(mlir::Operation* op) {
  std::string s;
  llvm::raw_string_ostream os(s);
  op->print(os);
  return s;
}

nlohmann::json paramsJson(const std::vector<frontend::Param>& params) {
  nlohmann::json j = nlohmann::json::object();
  for (const frontend::Param& p : params)
    j[p.name] = p.value.type == frontend::Type::Float ? nlohmann::json(p.value.f) : nlohmann::json(p.value.i);
  return j;
}

/// The first file:line:col inside `loc`: folding fuses the locations of the ops it combines.
frontend::SourceLoc sourceLoc(mlir::Location loc) {
  frontend::SourceLoc out;
  loc->walk([&](mlir::Location inner) {
    auto flc = llvm::dyn_cast<mlir::FileLineColLoc>(inner);
    if (!flc) return mlir::WalkResult::advance();
    out.file = flc.getFilename().str();
    out.line = (int)flc.getLine();
    out.col = (int)flc.getColumn();
    return mlir::WalkResult::interrupt();
  });
  return out;
}

/// Ints are 32-bit at run time (docs/dsl.md, "Arithmetic") but the IR computes in i64, so
/// canonicalization may combine constants the user wrote apart into one that does not fit:
/// `kv.pos - 2147483647 - 1` becomes `kv.pos - 2147483648`. Reported at the source, as the
/// front end reports an overflowing constant it folds itself.
bool checkFoldedConstants(mlir::ModuleOp module, frontend::Diagnostics& diags) {
  bool ok = true;
  module->walk([&](mlir::arith::ConstantIntOp c) {
    if (!c.getType().isInteger(64)) return;
    const int64_t v = c.value();
    if (v >= std::numeric_limits<int32_t>::min() && v <= std::numeric_limits<int32_t>::max())
      return;
    // A materialized constant may carry no source location: then the op using it has one, or
    // else the kernel (the branch) that holds it.
    frontend::SourceLoc loc = sourceLoc(c.getLoc());
    for (mlir::Operation* user : c->getUsers())
      if (!loc.valid()) loc = sourceLoc(user->getLoc());
    for (mlir::Operation* op = c->getParentOp(); op && !loc.valid(); op = op->getParentOp())
      loc = sourceLoc(op->getLoc());
    diags.error(loc,
                "integer overflow: the constants of this expression combine to " +
                    std::to_string(v) + ", which does not fit in 32 bits (ints are 32-bit at "
                    "run time)");
    ok = false;
  });
  return ok;
}

/// Routes MLIR diagnostics into the front end's, with their file:line:col.
struct DiagnosticBridge {
  DiagnosticBridge(mlir::MLIRContext& ctx, frontend::Diagnostics& diags)
      : handler(&ctx, [&diags](mlir::Diagnostic& d) {
          frontend::SourceLoc loc = sourceLoc(d.getLocation());
          diags.error(loc, "internal compiler error (please report): " + d.str());
          return mlir::success();
        }) {}
  mlir::ScopedDiagnosticHandler handler;
};

}  // namespace

std::optional<CompiledPattern> compilePatternSource(const std::string& source, const std::string& file,
                                                    const PatternCompileOptions& options,
                                                    frontend::Diagnostics& diags) {
  CompiledPattern out;
  frontend::Pattern ast;
  auto resolved = frontend::compileSource(source, file, options.params, diags, &ast);
  out.ast = frontend::dumpAST(ast);
  if (!resolved) return std::nullopt;
  out.name = resolved->name;

  mlir::MLIRContext ctx;
  DiagnosticBridge bridge(ctx, diags);
  auto module = mlirGen(ctx, *resolved);
  if (failed(mlir::verify(*module))) return std::nullopt;
  out.attn = print(*module);

  mlir::PassManager pm(&ctx);
  mlir::attn::buildAttnLowerPipeline(pm, options.head_dim);
  if (failed(pm.run(*module))) return std::nullopt;
  if (!checkFoldedConstants(*module, diags)) return std::nullopt;
  out.lowered = print(*module);

  auto pattern = *module->getOps<mlir::attn::PatternOp>().begin();
  try {
    out.cuda = codegen::emitCuda(pattern);
    out.manifest = codegen::emitManifest(pattern, paramsJson(resolved->params));
  } catch (const std::exception& e) {
    // The front end rejects what the code generator cannot emit, so this is a compiler bug.
    diags.error(frontend::SourceLoc{file, 0, 0, 1},
                std::string("internal compiler error (please report): ") + e.what());
    return std::nullopt;
  }
  out.manifest["head_dim"] = options.head_dim;
  out.manifest["source_file"] = file;
  return out;
}

std::optional<CompiledPattern> compilePatternFile(const std::string& path,
                                                  const PatternCompileOptions& options,
                                                  frontend::Diagnostics& diags) {
  std::optional<std::string> text = frontend::readPatternFile(path, diags);
  if (!text) return std::nullopt;
  return compilePatternSource(*text, path, options, diags);
}

}  // namespace moga
