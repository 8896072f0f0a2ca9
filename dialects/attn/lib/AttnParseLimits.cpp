//===- AttnParseLimits.cpp - bracket depth scan before parsing ------------===//
#include "attn/AttnParseLimits.h"

#include <string>

namespace mlir::attn {

LogicalResult checkNestingDepth(llvm::SourceMgr& sourceMgr, unsigned maxDepth) {
  const llvm::MemoryBuffer* buffer = sourceMgr.getMemoryBuffer(sourceMgr.getMainFileID());
  llvm::StringRef text = buffer->getBuffer();
  unsigned depth = 0;
  bool lineStart = true;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\n') {
      lineStart = true;
      continue;
    }
    const bool atLineStart = lineStart;
    if (c != ' ' && c != '\t') lineStart = false;
    if (c == '/' && i + 1 < text.size() && text[i + 1] == '/') {
      // A comment; `// -----` alone on its line separates independent inputs.
      size_t end = text.find('\n', i);
      if (end == llvm::StringRef::npos) end = text.size();
      if (atLineStart && text.slice(i, end).rtrim() == "// -----") depth = 0;
      i = end - 1;
      continue;
    }
    if (c == '"') {  // a string: brackets inside do not nest; `\"` does not end it
      for (++i; i < text.size() && text[i] != '"' && text[i] != '\n'; ++i)
        if (text[i] == '\\') ++i;
      continue;
    }
    if (c == '(' || c == '[' || c == '{' || c == '<') {
      if (++depth > maxDepth) {
        sourceMgr.PrintMessage(llvm::SMLoc::getFromPointer(text.data() + i),
                               llvm::SourceMgr::DK_Error,
                               "nesting deeper than " + std::to_string(maxDepth) +
                                   " levels of regions, attributes or types; refused before "
                                   "parsing (the parser recurses once per level)");
        return failure();
      }
    } else if (c == ')' || c == ']' || c == '}' || (c == '>' && (i == 0 || text[i - 1] != '-'))) {
      if (depth > 0) --depth;  // unbalanced closers are the parser's to report
    }
  }
  return success();
}

}  // namespace mlir::attn
