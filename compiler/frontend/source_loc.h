// A position in a .moga source: every token, AST node and diagnostic carries one.
#pragma once

#include <string>

namespace moga::frontend {

// `line` and `col` are 1-based (col counts bytes, so a tab is one column); `length` is the width
// of the underlined span on that line (>= 1), or -1 for "up to the end of the line". A loc with line == 0 has no source text (for
// example a --param override given on the command line): it renders without a source line.
struct SourceLoc {
  std::string file;
  int line = 0;
  int col = 0;
  int length = 1;

  bool valid() const { return line > 0; }
  bool operator==(const SourceLoc& o) const {
    return file == o.file && line == o.line && col == o.col && length == o.length;
  }
};

// The span from the start of `first` to the end of `last`; if they sit on different lines the
// span stops at the end of `first`'s line (the caret line can underline one line only).
inline SourceLoc spanning(const SourceLoc& first, const SourceLoc& last) {
  SourceLoc loc = first;
  if (first.line == last.line && last.col + last.length > first.col)
    loc.length = last.col + last.length - first.col;
  else if (first.line != last.line)
    loc.length = -1;  // "to the end of the line": resolved when rendered
  return loc;
}

}  // namespace moga::frontend
