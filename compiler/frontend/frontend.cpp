#include "compiler/frontend/frontend.h"

#include "compiler/frontend/limits.h"

#include <filesystem>
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

std::optional<std::string> readPatternFile(const std::string& path, Diagnostics& diags) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) {
    diags.error(SourceLoc{path, 0, 0, 1}, "cannot read pattern file: it does not exist");
    return std::nullopt;
  }
  if (!std::filesystem::is_regular_file(status)) {
    diags.error(SourceLoc{path, 0, 0, 1}, "cannot read pattern file: not a regular file");
    return std::nullopt;
  }
  const auto size = std::filesystem::file_size(path, ec);
  if (!ec && size > limits::kMaxSourceBytes) {
    diags.error(SourceLoc{path, 1, 1, 1},
                "pattern file is " + std::to_string(size) + " bytes; the limit is " +
                    std::to_string(limits::kMaxSourceBytes) + " bytes (docs/dsl.md, \"Limits\")");
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    diags.error(SourceLoc{path, 0, 0, 1}, "cannot read pattern file");
    return std::nullopt;
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();  // a file that grew meanwhile is caught by parsePattern's own check
}

std::optional<ResolvedPattern> compileFile(const std::string& path,
                                           const ParamOverrides& overrides, Diagnostics& diags,
                                           Pattern* ast) {
  std::optional<std::string> text = readPatternFile(path, diags);
  if (!text) return std::nullopt;
  return compileSource(*text, path, overrides, diags, ast);
}

}  // namespace moga::frontend
