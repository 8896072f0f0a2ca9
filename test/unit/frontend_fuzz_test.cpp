// Garbled input never crashes the front end, and input that is broken by construction always
// gets at least one diagnostic. Run under -fsanitize=address,undefined to make "no crash" strict.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "compiler/frontend/frontend.h"

namespace moga::frontend {
namespace {

struct Source {
  std::string name, text;
};

std::vector<Source> shippedPatterns() {
  const char* env = std::getenv("MOGA_SOURCE_DIR");
  auto dir = std::filesystem::path(env ? env : MOGA_SOURCE_DIR_DEFAULT) / "kernels_src" /
             "patterns";
  std::vector<Source> out;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".moga") continue;
    std::ifstream in(entry.path());
    std::stringstream s;
    s << in.rdbuf();
    out.push_back({entry.path().filename().string(), s.str()});
  }
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.name < b.name; });
  return out;
}

struct Outcome {
  bool resolved = false;
  size_t diagnostics = 0;
};

Outcome compile(const std::string& text) {
  Diagnostics d;
  Pattern ast;
  auto r = compileSource(text, "fuzz.moga", {}, d, &ast);
  dumpAST(ast);    // the dump must cope with partial trees
  d.renderAll();   // and rendering with any location
  if (r) dumpResolved(*r);
  return {r.has_value(), d.all().size()};
}

// Offsets where an inserted character lands in code, not in a comment (the character before
// the insertion point is not part of a comment).
std::vector<size_t> codeOffsets(const std::string& text) {
  std::vector<size_t> out;
  bool comment = false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (!comment) out.push_back(i);
    if (text[i] == '#') comment = true;
    if (text[i] == '\n') comment = false;
  }
  return out;
}

TEST(Fuzz, ShippedPatternsAreFound) { EXPECT_GE(shippedPatterns().size(), 9u); }

// Every prefix: no crash; the result is either a valid pattern or diagnosed.
TEST(Fuzz, EveryTruncationIsValidOrDiagnosed) {
  for (const Source& s : shippedPatterns()) {
    size_t diagnosed = 0;
    for (size_t n = 0; n < s.text.size(); ++n) {
      Outcome o = compile(s.text.substr(0, n));
      EXPECT_TRUE(o.resolved || o.diagnostics > 0) << s.name << " cut at " << n;
      diagnosed += o.diagnostics > 0;
    }
    EXPECT_GT(diagnosed, 0u) << s.name;
  }
}

// A prefix that stops inside open parentheses or braces, or right after an operator, is broken.
TEST(Fuzz, TruncationInsideAnExpressionIsDiagnosed) {
  for (const Source& s : shippedPatterns()) {
    int parens = 0, braces = 0;
    bool comment = false;
    for (size_t n = 0; n < s.text.size(); ++n) {
      char c = s.text[n];
      if (c == '#') comment = true;
      if (c == '\n') comment = false;
      if (comment) continue;
      parens += c == '(' ? 1 : c == ')' ? -1 : 0;
      braces += c == '{' ? 1 : c == '}' ? -1 : 0;
      bool afterOperator = std::string("+-*/%<>=&|!(,.").find(c) != std::string::npos;
      if (parens > 0 || braces > 0 || afterOperator) {
        Outcome o = compile(s.text.substr(0, n + 1));
        EXPECT_GT(o.diagnostics, 0u) << s.name << " cut after offset " << n;
      }
    }
  }
}

TEST(Fuzz, GarblingIsAlwaysDiagnosed) {
  std::mt19937 rng(1234);
  for (const Source& s : shippedPatterns()) {
    std::vector<size_t> code = codeOffsets(s.text);
    for (int trial = 0; trial < 60; ++trial) {
      size_t at = code[rng() % code.size()];
      std::string g = s.text;
      switch (trial % 4) {
        case 0: g.insert(at, "("); break;   // an unbalanced '(' anywhere
        case 1: g.insert(at, "$"); break;   // a character outside the language
        case 2: g.insert(at, "\x01"); break;
        case 3: {                           // a duplicated statement line
          size_t start = s.text.rfind('\n', at);
          start = start == std::string::npos ? 0 : start + 1;
          size_t end = s.text.find('\n', at);
          std::string line = s.text.substr(start, end - start);
          size_t first = line.find_first_not_of(" \t");
          if (first == std::string::npos || line[first] == '#' || line[first] == '|' ||
              line[first] == '&' || line[first] == ')')
            continue;  // blank, comment or continuation line: duplicating may stay valid
          g.insert(start, line + "\n");
          break;
        }
      }
      Outcome o = compile(g);
      EXPECT_GT(o.diagnostics, 0u) << s.name << " trial " << trial << ":\n" << g;
    }
  }
}

TEST(Fuzz, DeletionsAndRandomBytesNeverCrash) {
  std::mt19937 rng(42);
  for (const Source& s : shippedPatterns()) {
    for (size_t i = 0; i < s.text.size(); ++i) {
      std::string g = s.text;
      g.erase(i, 1);
      Outcome o = compile(g);
      EXPECT_TRUE(o.resolved || o.diagnostics > 0);
    }
    for (int trial = 0; trial < 200; ++trial) {
      std::string g = s.text;
      for (int k = 0; k < 4; ++k) g[rng() % g.size()] = (char)(rng() % 256);
      compile(g);
    }
  }
  // Pure noise, including NUL bytes.
  for (int trial = 0; trial < 200; ++trial) {
    std::string g(rng() % 300, '\0');
    for (char& c : g) c = (char)(rng() % 256);
    compile(g);
    compile("pattern p\nlayout video\nmask " + g);
  }
}

}  // namespace
}  // namespace moga::frontend
