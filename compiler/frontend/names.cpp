#include "compiler/frontend/names.h"

#include <algorithm>

namespace moga::frontend {

const std::vector<std::string>& tokenFields(Layout layout) {
  static const std::vector<std::string> seq = {"pos"};
  static const std::vector<std::string> video = {"pos",  "frame",      "row",     "col",
                                                 "shot", "shot_start", "shot_end"};
  return layout == Layout::Seq ? seq : video;
}

const std::vector<std::string>& allTokenFields() { return tokenFields(Layout::Video); }

const std::vector<std::string>& shapeConstants(Layout layout) {
  static const std::vector<std::string> seq = {"N"};
  static const std::vector<std::string> video = {"N", "F", "H", "W"};
  return layout == Layout::Seq ? seq : video;
}

const std::vector<std::string>& allShapeConstants() { return shapeConstants(Layout::Video); }

const std::vector<Builtin>& builtins() {
  static const std::vector<Builtin> list = {
      {"abs", 1}, {"min", 2}, {"max", 2}, {"div", 2}, {"mod", 2}};
  return list;
}

const Builtin* findBuiltin(const std::string& name) {
  for (const Builtin& b : builtins())
    if (name == b.name) return &b;
  return nullptr;
}

int editDistance(const std::string& a, const std::string& b) {
  const size_t n = a.size(), m = b.size();
  std::vector<std::vector<int>> d(n + 1, std::vector<int>(m + 1));
  for (size_t i = 0; i <= n; ++i) d[i][0] = (int)i;
  for (size_t j = 0; j <= m; ++j) d[0][j] = (int)j;
  for (size_t i = 1; i <= n; ++i)
    for (size_t j = 1; j <= m; ++j) {
      int cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[n][m];
}

std::string didYouMean(const std::string& name, const std::vector<std::string>& candidates) {
  // One edit for short names, about a third of the name for longer ones: close enough to be a
  // typo, far enough not to suggest 'N' for 'M'.
  const int limit = std::max(1, (int)name.size() / 3);
  std::string best;
  int bestDistance = limit + 1;
  for (const std::string& c : candidates) {
    if (c == name || (name.size() == 1 && c.size() == 1)) continue;  // 'M' is no typo of 'N'
    int d = editDistance(name, c);
    if (d < bestDistance) {  // ties: the earlier candidate wins (callers list likely ones first)
      best = c;
      bestDistance = d;
    }
  }
  return best.empty() ? "" : "; did you mean '" + best + "'?";
}

}  // namespace moga::frontend
