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

}  // namespace mlir::attn
