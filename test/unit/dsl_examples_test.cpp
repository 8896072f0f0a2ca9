// Every ```moga block in docs/dsl.md parses, checks and resolves without diagnostics; every
// ```moga-error block gets at least one error, and each of its `# expect: MESSAGE` lines must
// match an error message exactly; a ```resolved block equals dumpResolved() of the ```moga
// block before it. The spec cannot drift from the compiler.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "compiler/frontend/frontend.h"

namespace moga::frontend {
namespace {

enum class Kind { Good, Error, Resolved };

struct Block {
  Kind kind = Kind::Good;
  int line = 0;  // of the opening fence
  std::string text;
};

std::vector<Block> blocksOf(const std::string& markdown) {
  std::vector<Block> out;
  std::istringstream in(markdown);
  std::string line;
  Block* open = nullptr;
  bool otherFence = false;  // inside a fence of another language
  // As in CommonMark: a fence closes on a bare ``` line; an opening fence names its language.
  for (int n = 1; std::getline(in, line); ++n) {
    const bool closing = line == "```";
    if (open) {
      if (closing) {
        open = nullptr;
      } else {
        open->text += line + "\n";
      }
    } else if (otherFence) {
      otherFence = !closing;
    } else if (line.rfind("```", 0) == 0) {
      std::string lang = line.substr(3);
      if (lang == "moga" || lang == "moga-error" || lang == "resolved") {
        Kind kind = lang == "moga" ? Kind::Good : lang == "moga-error" ? Kind::Error
                                                                       : Kind::Resolved;
        out.push_back({kind, n, {}});
        open = &out.back();
      } else {
        otherFence = true;
      }
    }
  }
  return out;
}

std::string readDoc() {
  const char* env = std::getenv("MOGA_SOURCE_DIR");
  auto path = std::filesystem::path(env ? env : MOGA_SOURCE_DIR_DEFAULT) / "docs" / "dsl.md";
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(DslExamples, TheSpecHasExamplesOfBothKinds) {
  auto blocks = blocksOf(readDoc());
  int good = 0, bad = 0, resolved = 0;
  for (const Block& b : blocks) {
    good += b.kind == Kind::Good;
    bad += b.kind == Kind::Error;
    resolved += b.kind == Kind::Resolved;
  }
  EXPECT_GE(good, 4);
  EXPECT_GE(bad, 2);
  EXPECT_GE(resolved, 1);
}

TEST(DslExamples, EveryExampleBehavesAsDocumented) {
  std::string lastDump;  // dumpResolved() of the last ```moga block
  for (const Block& b : blocksOf(readDoc())) {
    SCOPED_TRACE("docs/dsl.md block at line " + std::to_string(b.line));
    if (b.kind == Kind::Resolved) {
      EXPECT_EQ(b.text, lastDump);
      continue;
    }
    Diagnostics d;
    auto r = compileSource(b.text, "dsl.md:" + std::to_string(b.line), {}, d);
    if (b.kind == Kind::Good) {
      EXPECT_TRUE(r.has_value());
      EXPECT_TRUE(d.all().empty()) << d.renderAll();
      lastDump = r ? dumpResolved(*r) : "";
      continue;
    }
    EXPECT_FALSE(r.has_value());
    EXPECT_TRUE(d.hasErrors());
    std::istringstream lines(b.text);
    std::string line;
    const std::string marker = "# expect: ";
    auto messages = d.errorMessages();
    while (std::getline(lines, line)) {
      if (line.rfind(marker, 0) != 0) continue;
      std::string want = line.substr(marker.size());
      EXPECT_NE(std::find(messages.begin(), messages.end(), want), messages.end())
          << "missing error: " << want << "\ngot:\n" << d.renderAll();
    }
  }
}

TEST(DslExamples, FenceParsing) {
  auto blocks = blocksOf("x\n```moga\npattern a\n```\n```ebnf\n```moga\n```\n```moga-error\nq\n```\n");
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_EQ(blocks[0].text, "pattern a\n");
  EXPECT_EQ(blocks[1].kind, Kind::Error);
  EXPECT_EQ(blocks[1].text, "q\n");
}

}  // namespace
}  // namespace moga::frontend
