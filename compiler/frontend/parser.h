// Hand-written recursive-descent parser for .moga files.
#pragma once

#include <string>

#include "compiler/frontend/ast.h"
#include "compiler/frontend/diagnostics.h"

namespace moga::frontend {

// Parses one pattern. Always returns a Pattern (possibly partial): after a syntax error the
// parser reports it, skips to the next statement and goes on, so one run reports several errors.
// Registers `text` with `diags` under `file` so diagnostics can quote source lines.
//
// Syntax only: names, types and the rules of docs/dsl.md "Checks" are checkPattern()'s job. The
// parser does reject a statement given twice in one branch (the AST has one slot per statement)
// and statements written at top level in a pattern that also has `branch` blocks.
Pattern parsePattern(const std::string& text, const std::string& file, Diagnostics& diags);

// Parses a single expression (tests, `--param`-style tools). Returns null after an error.
ExprPtr parseExpression(const std::string& text, const std::string& file, Diagnostics& diags);

}  // namespace moga::frontend
