//===- AttnParseLimits.cpp - bracket depth scan before parsing ------------===//
#include "attn/AttnParseLimits.h"

#include <cctype>
#include <string>
#include <vector>

#include "llvm/ADT/StringSet.h"

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

namespace {

bool isIdChar(char c) {
  return std::isalnum((unsigned char)c) || c == '_' || c == '$' || c == '.' || c == '-';
}

/// The SSA name starting at `text[i] == '%'` (without a `#N` or `:N` suffix) and its end.
llvm::StringRef ssaName(llvm::StringRef text, size_t i, size_t& end) {
  end = i + 1;
  while (end < text.size() && isIdChar(text[end])) ++end;
  return text.slice(i, end);
}

size_t skipSpace(llvm::StringRef text, size_t i) {
  while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) ++i;
  return i;
}

}  // namespace

LogicalResult checkForwardReferences(llvm::SourceMgr& sourceMgr) {
  const llvm::MemoryBuffer* buffer = sourceMgr.getMemoryBuffer(sourceMgr.getMainFileID());
  llvm::StringRef text = buffer->getBuffer();
  // One set of defined names per open '{' (attribute dictionaries get one too: harmless), plus
  // the top level. A use must be defined in the innermost set: every region is isolated.
  std::vector<llvm::StringSet<>> scopes(1);
  int argList = 0;  // > 0 inside `^bb(...)`: the names there are block arguments (definitions)
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
      size_t end = text.find('\n', i);
      if (end == llvm::StringRef::npos) end = text.size();
      if (atLineStart && text.slice(i, end).rtrim() == "// -----") {
        scopes.assign(1, {});
        argList = 0;
      }
      i = end - 1;
      continue;
    }
    if (c == '"') {
      for (++i; i < text.size() && text[i] != '"' && text[i] != '\n'; ++i)
        if (text[i] == '\\') ++i;
      continue;
    }
    if (c == '{') {
      scopes.emplace_back();
    } else if (c == '}') {
      if (scopes.size() > 1) scopes.pop_back();
    } else if (c == '^') {
      size_t j = i + 1;
      while (j < text.size() && isIdChar(text[j])) ++j;
      j = skipSpace(text, j);
      if (j < text.size() && text[j] == '(') {
        argList = 1;
        i = j;
      }
    } else if (argList > 0 && c == '(') {
      ++argList;
    } else if (argList > 0 && c == ')') {
      --argList;
    } else if (c == '%') {
      // A run `%a, %b:2 = ...` defines its names; any other `%a` uses one.
      std::vector<std::pair<llvm::StringRef, size_t>> run;
      size_t j = i;
      while (j < text.size() && text[j] == '%') {
        size_t end;
        run.push_back({ssaName(text, j, end), j});
        j = end;
        if (j < text.size() && (text[j] == ':' || text[j] == '#') && argList == 0) {
          size_t k = j + 1;
          while (k < text.size() && std::isdigit((unsigned char)text[k])) ++k;
          if (k > j + 1) j = k;
        }
        size_t k = skipSpace(text, j);
        if (k < text.size() && text[k] == ',') {
          size_t next = skipSpace(text, k + 1);
          if (next < text.size() && text[next] == '%') {
            j = next;
            continue;
          }
        }
        break;
      }
      size_t after = skipSpace(text, j);
      const bool defines = argList > 0 || (after < text.size() && text[after] == '=' &&
                                           (after + 1 >= text.size() || text[after + 1] != '='));
      for (auto& [name, at] : run) {
        if (defines) {
          scopes.back().insert(name);
        } else if (argList == 0 && !scopes.back().contains(name)) {
          sourceMgr.PrintMessage(llvm::SMLoc::getFromPointer(text.data() + at),
                                 llvm::SourceMgr::DK_Error,
                                 "use of value '" + name.str() +
                                     "' before its definition in this region; refused before "
                                     "parsing (attn regions are straight-line blocks, so a "
                                     "forward reference is never valid)");
          return failure();
        }
      }
      if (argList > 0) {
        i = j - 1;  // block arguments: the types after ':' are not names
        continue;
      }
      i = j - 1;
    }
  }
  return success();
}

LogicalResult checkBeforeParsing(llvm::SourceMgr& sourceMgr) {
  if (failed(checkNestingDepth(sourceMgr))) return failure();
  return checkForwardReferences(sourceMgr);
}

}  // namespace mlir::attn
