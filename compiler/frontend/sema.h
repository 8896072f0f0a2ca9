// Semantic checks of a parsed pattern, and --param overrides.
//
// The rules (each reported with its location; all of them are listed in docs/dsl.md "Checks"):
//  * names: unknown identifier / field / function / branch (with "did you mean"), a field that
//    the layout lacks, a shape constant the layout lacks, q/kv/t/h outside the statements that
//    bind them, duplicate or reserved names;
//  * types: int, float, bool, token; int promotes to float; everything else is an error;
//  * arity of defs and builtins; no recursion among defs; a def does not return a token;
//  * route/group/gate: `group route` and `gate route.prob` need a `route`, a routed branch groups
//    by route, 1 <= top k <= groups; compile-time values are compile-time (no N, no tokens);
//    scale and softcap > 0;
//  * output: required with several branches, each branch at most once, weights > 0; a branch
//    missing from the output is a warning (resolve() drops it).
#pragma once

#include <map>
#include <string>

#include "compiler/frontend/ast.h"
#include "compiler/frontend/diagnostics.h"

namespace moga::frontend {

// Replaces param values by `overrides` (name -> text, as given to `--param NAME=VALUE`). An int
// param takes an int ("16"); a float param takes any number ("0.5", "2"). Unknown names and bad
// values are errors located at the command line. Returns false if any override was rejected
// (the others are still applied).
bool applyParamOverrides(Pattern& p, const std::map<std::string, std::string>& overrides,
                         Diagnostics& diags);

// Checks `p` (after applyParamOverrides, so `top k <= M` sees the final M). Returns true when no
// error was found. Never modifies the pattern; types live in the ResolvedPattern (resolve.h).
bool checkPattern(const Pattern& p, Diagnostics& diags);

}  // namespace moga::frontend
