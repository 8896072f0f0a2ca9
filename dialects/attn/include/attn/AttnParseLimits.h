//===- AttnParseLimits.h - bounds checked before MLIR text is parsed ------===//
//
// MLIR's parser recurses once per nested region, attribute or type and has no depth limit of
// its own: 5,000 nested regions overflow the stack inside PatternOp::parse. Tools that parse
// untrusted text (moga-opt, tools/fuzz) scan it first with checkNestingDepth.
//
#pragma once

#include "mlir/Support/LogicalResult.h"
#include "llvm/Support/SourceMgr.h"

namespace mlir::attn {

/// Deepest bracket nesting ( `(` `[` `{` `<` ) accepted; attn IR nests about 6 deep.
constexpr unsigned kMaxParseNesting = 256;

/// Reports (through `sourceMgr`, as `file:line:col: error: ...` with the source line and a caret)
/// the first bracket that opens a level deeper than `maxDepth` in the main buffer, and fails.
/// Strings and `//` comments are skipped; `// -----` (split-input-file) starts afresh.
LogicalResult checkNestingDepth(llvm::SourceMgr& sourceMgr,
                                unsigned maxDepth = kMaxParseNesting);

/// Reports the first use of an SSA value (`%x`) before its definition in the innermost region
/// around it, and fails. Such a use is never valid in the IR moga-opt reads (attn, arith, math
/// and builtin: every region op is IsolatedFromAbove and every region one straight-line block),
/// and MLIR 19's parser, given a forward reference followed by another error in the same op,
/// destroys the defining block while the user still points at it (a use after free found by
/// tools/fuzz; test/fuzz/corpus/mlir/forward-ref-*.mlir). Strings and comments are skipped;
/// `// -----` starts afresh.
LogicalResult checkForwardReferences(llvm::SourceMgr& sourceMgr);

/// Both checks above, the nesting first.
LogicalResult checkBeforeParsing(llvm::SourceMgr& sourceMgr);

}  // namespace mlir::attn
