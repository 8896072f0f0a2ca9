// See compile_pattern.h.
#include "compiler/driver/compile_pattern.h"

#include <fstream>
#include <sstream>

#include "attn/AttnPasses.h"
#include "compiler/codegen/codegen.h"
#include "compiler/frontend/frontend.h"
#include "compiler/mlirgen/mlirgen.h"
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

/// Routes MLIR diagnostics into the front end's, with their file:line:col.
struct DiagnosticBridge {
  DiagnosticBridge(mlir::MLIRContext& ctx, frontend::Diagnostics& diags)
      : handler(&ctx, [&diags](mlir::Diagnostic& d) {
          frontend::SourceLoc loc;
          if (auto flc = llvm::dyn_cast<mlir::FileLineColLoc>(d.getLocation())) {
            loc.file = flc.getFilename().str();
            loc.line = flc.getLine();
            loc.col = flc.getColumn();
          }
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
  out.lowered = print(*module);

  auto pattern = *module->getOps<mlir::attn::PatternOp>().begin();
  try {
    out.cuda = codegen::emitCuda(pattern);
    out.manifest = codegen::emitManifest(pattern, paramsJson(resolved->params));
  } catch (const std::exception& e) {
    diags.error(frontend::SourceLoc{file, 0, 0, 1}, e.what());
    return std::nullopt;
  }
  out.manifest["head_dim"] = options.head_dim;
  out.manifest["source_file"] = file;
  return out;
}

std::optional<CompiledPattern> compilePatternFile(const std::string& path,
                                                  const PatternCompileOptions& options,
                                                  frontend::Diagnostics& diags) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    diags.error(frontend::SourceLoc{path, 0, 0, 1}, "cannot read '" + path + "'");
    return std::nullopt;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return compilePatternSource(ss.str(), path, options, diags);
}

}  // namespace moga
