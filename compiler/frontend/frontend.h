// The front end in one call: source text -> checked, resolved pattern.
//
//   Diagnostics diags;
//   auto pattern = moga::frontend::compileFile("kernels_src/patterns/moga.moga", {{"M", "16"}}, diags);
//   if (!pattern) { std::cerr << diags.renderAll(); return 1; }
//
// The stages, for callers that need them one by one (moga compile --dump ast):
//   parsePattern (parser.h) -> applyParamOverrides, checkPattern (sema.h) -> resolve (resolve.h)
#pragma once

#include <map>
#include <optional>
#include <string>

#include "compiler/frontend/ast.h"
#include "compiler/frontend/diagnostics.h"
#include "compiler/frontend/parser.h"
#include "compiler/frontend/resolve.h"
#include "compiler/frontend/sema.h"

namespace moga::frontend {

using ParamOverrides = std::map<std::string, std::string>;

// Parses, applies overrides, checks and resolves. Returns nullopt if any error was reported
// (warnings do not fail). If `ast` is given it receives the parsed pattern (after overrides),
// also on failure, so --dump ast works on a pattern with semantic errors.
std::optional<ResolvedPattern> compileSource(const std::string& text, const std::string& file,
                                             const ParamOverrides& overrides, Diagnostics& diags,
                                             Pattern* ast = nullptr);

// The text of the pattern file `path`, or nullopt with the error reported: not a regular file
// (a FIFO would block the read forever), unreadable, or larger than limits::kMaxSourceBytes
// (checked before reading).
std::optional<std::string> readPatternFile(const std::string& path, Diagnostics& diags);

// Same, reading `path` with readPatternFile.
std::optional<ResolvedPattern> compileFile(const std::string& path,
                                           const ParamOverrides& overrides, Diagnostics& diags,
                                           Pattern* ast = nullptr);

}  // namespace moga::frontend
