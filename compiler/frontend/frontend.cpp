#include "compiler/frontend/frontend.h"

#include <fstream>
#include <sstream>

namespace moga::frontend {

std::optional<ResolvedPattern> compileSource(const std::string& text, const std::string& file,
                                             const ParamOverrides& overrides, Diagnostics& diags,
                                             Pattern* ast) {
  const int errorsBefore = diags.errorCount();
  Pattern p = parsePattern(text, file, diags);
  applyParamOverrides(p, overrides, diags);
  // Checked even after syntax errors: one run reports as much as it can.
  checkPattern(p, diags);
  const bool ok = diags.errorCount() == errorsBefore;
  std::optional<ResolvedPattern> out;
  if (ok) out = resolve(p, diags);
  if (ast) *ast = std::move(p);
  return out;
}

std::optional<ResolvedPattern> compileFile(const std::string& path,
                                           const ParamOverrides& overrides, Diagnostics& diags,
                                           Pattern* ast) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    diags.error(SourceLoc{path, 0, 0, 1}, "cannot read pattern file");
    return std::nullopt;
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  return compileSource(buffer.str(), path, overrides, diags, ast);
}

}  // namespace moga::frontend
