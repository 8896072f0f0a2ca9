// Parser: precedence, statement forms, line continuation and error recovery.
#include <gtest/gtest.h>

#include "compiler/frontend/parser.h"

namespace moga::frontend {
namespace {

std::string parseDump(const std::string& expr) {
  Diagnostics d;
  ExprPtr e = parseExpression(expr, "e.moga", d);
  if (!e) return "ERROR: " + d.renderAll();
  return dumpExpr(*e);
}

std::string astOf(const std::string& src, Diagnostics& d) {
  return dumpAST(parsePattern(src, "p.moga", d));
}

TEST(Parser, Precedence) {
  EXPECT_EQ(parseDump("a || b && c"), "(|| a (&& b c))");
  EXPECT_EQ(parseDump("a && b || c && d"), "(|| (&& a b) (&& c d))");
  EXPECT_EQ(parseDump("!a == b"), "(! (== a b))");
  EXPECT_EQ(parseDump("!a && b"), "(&& (! a) b)");
  EXPECT_EQ(parseDump("a < b + 1 && c"), "(&& (< a (+ b 1)) c)");
  EXPECT_EQ(parseDump("a + b * c - d"), "(- (+ a (* b c)) d)");
  EXPECT_EQ(parseDump("a / b % c * d"), "(* (% (/ a b) c) d)");
  EXPECT_EQ(parseDump("-a * b"), "(* (- a) b)");
  EXPECT_EQ(parseDump("- -a"), "(- (- a))");
  EXPECT_EQ(parseDump("!!a"), "(! (! a))");
  EXPECT_EQ(parseDump("(a + b) * c"), "(* (+ a b) c)");
  EXPECT_EQ(parseDump("a - b - c"), "(- (- a b) c)");
  EXPECT_EQ(parseDump("f(q, 2 * x).pos"), std::string("ERROR: e.moga:1:12: error: unexpected "
                                                      "'.' after an expression\n"
                                                      "f(q, 2 * x).pos\n"
                                                      "           ^\n"));
  EXPECT_EQ(parseDump("max(q.row, kv.col) + abs(-1.5)"), "(+ (max q.row kv.col) (abs (- 1.5)))");
  EXPECT_EQ(parseDump("true != false"), "(!= true false)");
}

TEST(Parser, ComparisonsDoNotChain) {
  Diagnostics d;
  EXPECT_EQ(parseExpression("0 <= q.pos < N", "e.moga", d), nullptr);
  EXPECT_EQ(d.renderAll(),
            "e.moga:1:12: error: comparisons do not chain: write 'a < b && b < c' instead of "
            "'a < b < c'\n"
            "0 <= q.pos < N\n"
            "           ^\n");
}

TEST(Parser, FieldNeedsANameOnItsLeft) {
  Diagnostics d;
  EXPECT_EQ(parseExpression("3.pos", "e.moga", d), nullptr);
  EXPECT_EQ(d.errorMessages(), std::vector<std::string>{
                                   "'.' needs a token name on its left (q.pos, kv.frame, t.row)"});
}

TEST(Parser, SpansCoverWholeExpressions) {
  Diagnostics d;
  ExprPtr e = parseExpression("  abs(q.pos - kv.pos) <= w", "e.moga", d);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->loc.col, 3);
  EXPECT_EQ(e->loc.length, 24);
  const Binary* b = e->as<Binary>();
  ASSERT_TRUE(b);
  EXPECT_EQ(b->lhs->loc.length, 19);  // abs(q.pos - kv.pos)
  EXPECT_EQ(b->rhs->loc.col, 26);
}

TEST(Parser, SingleBranchAtTopLevel) {
  Diagnostics d;
  EXPECT_EQ(astOf("pattern causal\nlayout seq\nmask q.pos >= kv.pos\n", d),
            "(pattern causal\n"
            "  (layout seq)\n"
            "  (branch causal\n"
            "    (mask (>= q.pos kv.pos))))\n");
  EXPECT_FALSE(d.hasErrors());
}

TEST(Parser, NoStatementsIsOneEmptyBranch) {
  Diagnostics d;
  Pattern p = parsePattern("pattern full\nlayout seq\n", "p.moga", d);
  ASSERT_EQ(p.branches.size(), 1u);
  EXPECT_TRUE(p.branches[0].implicit);
  EXPECT_EQ(p.branches[0].name, "full");
  EXPECT_FALSE(p.branches[0].mask);
}

TEST(Parser, EveryStatementForm) {
  Diagnostics d;
  std::string src =
      "pattern all\n"
      "layout video\n"
      "param M = 8\n"
      "param c = -30.0\n"
      "def key(a, b) = a.frame * 2 + b\n"
      "branch r {\n"
      "  route linear(M) top 2\n"
      "  group route\n"
      "  gate route.prob\n"
      "}\n"
      "branch s { group key(t, 1); mask q.row == kv.row; gate 0.5 * q.col\n"
      "  scale 0.125\n"
      "  bias h * 0.5\n"
      "  softcap 30.0 }\n"
      "output sum(0.25 * r, s)\n";
  EXPECT_EQ(astOf(src, d),
            "(pattern all\n"
            "  (layout video)\n"
            "  (param M int 8)\n"
            "  (param c float -30.0)\n"
            "  (def key (a b) (+ (* a.frame 2) b))\n"
            "  (branch r\n"
            "    (route (linear M) (top 2))\n"
            "    (group route)\n"
            "    (gate route.prob))\n"
            "  (branch s\n"
            "    (group (key t 1))\n"
            "    (mask (== q.row kv.row))\n"
            "    (gate (* 0.5 q.col))\n"
            "    (scale 0.125)\n"
            "    (bias (* h 0.5))\n"
            "    (softcap 30.0))\n"
            "  (output sum (* 0.25 r) s))\n");
  EXPECT_FALSE(d.hasErrors()) << d.renderAll();
}

TEST(Parser, OutputForms) {
  Diagnostics d;
  Pattern p = parsePattern(
      "pattern o\nlayout seq\nbranch a {}\nbranch b {}\noutput mean(a, b)\n", "p.moga", d);
  ASSERT_TRUE(p.output);
  EXPECT_EQ(p.output->kind, OutputKind::Mean);
  ASSERT_EQ(p.output->terms.size(), 2u);
  EXPECT_EQ(p.output->terms[1].branch, "b");
  EXPECT_EQ(p.output->terms[1].branchLoc.col, 16);
  Pattern single = parsePattern("pattern o\nlayout seq\nbranch a {}\noutput a\n", "p.moga", d);
  EXPECT_EQ(single.output->kind, OutputKind::Single);
  EXPECT_FALSE(d.hasErrors()) << d.renderAll();
}

TEST(Parser, ExpressionsContinueInsideParenthesesAndAroundOperators) {
  Diagnostics d;
  std::string src =
      "pattern wrap\n"
      "layout video\n"
      "mask (q.frame ==\n"
      "      kv.frame)\n"
      "  && q.row >= kv.row   # a comment between the lines\n"
      "\n"
      "  || q.col <\n"
      "     kv.col\n"
      "group t.frame\n";
  EXPECT_EQ(astOf(src, d),
            "(pattern wrap\n"
            "  (layout video)\n"
            "  (branch wrap\n"
            "    (group t.frame)\n"
            "    (mask (|| (&& (== q.frame kv.frame) (>= q.row kv.row)) (< q.col kv.col)))))\n");
  EXPECT_FALSE(d.hasErrors()) << d.renderAll();
}

TEST(Parser, RecoversAndReportsSeveralSyntaxErrors) {
  Diagnostics d;
  std::string src =
      "pattern broken\n"
      "layout video\n"
      "param M = five\n"
      "branch a {\n"
      "  mask q.pos >= (kv.pos\n"
      "  group t.frame\n"
      "  gate 0.5 +\n"
      "}\n"
      "branch b {\n"
      "  mask q.frame == kv.frame\n"
      "}\n"
      "output mean(a, b)\n";
  Pattern p = parsePattern(src, "p.moga", d);
  EXPECT_EQ(d.renderAll(),
            "p.moga:3:11: error: a param value must be an int or float literal, found 'five'\n"
            "param M = five\n"
            "          ^~~~\n"
            "p.moga:6:3: error: expected ')' to close '(', found 'group'\n"
            "  group t.frame\n"
            "  ^~~~~\n"
            "p.moga:8:1: error: expected an expression, found '}'\n"
            "}\n"
            "^\n");
  // Everything after the errors was still parsed.
  ASSERT_EQ(p.branches.size(), 2u);
  EXPECT_TRUE(p.branches[0].group);
  EXPECT_TRUE(p.branches[1].mask);
  EXPECT_TRUE(p.output);
}

TEST(Parser, DuplicateStatementInBranch) {
  Diagnostics d;
  parsePattern("pattern p\nlayout seq\nmask true\nmask false\n", "p.moga", d);
  EXPECT_EQ(d.renderAll(),
            "p.moga:4:1: error: duplicate 'mask' in branch 'p'\n"
            "mask false\n"
            "^~~~\n"
            "p.moga:3:1: note: previous 'mask' is here\n"
            "mask true\n"
            "^~~~\n");
}

TEST(Parser, DuplicateOutputAndLayout) {
  Diagnostics d;
  parsePattern("pattern p\nlayout seq\nlayout video\nbranch a {}\noutput a\noutput a\n", "p.moga",
               d);
  EXPECT_EQ(d.errorMessages(), (std::vector<std::string>{"duplicate 'layout'",
                                                         "duplicate 'output'"}));
}

TEST(Parser, MissingClosingBrace) {
  Diagnostics d;
  Pattern p = parsePattern("pattern p\nlayout seq\nbranch a {\n  mask true\nbranch b {}\n"
                           "output mean(a, b)\n",
                           "p.moga", d);
  EXPECT_EQ(d.renderAll(),
            "p.moga:5:1: error: expected '}' to close branch 'a' before 'branch'\n"
            "branch b {}\n"
            "^~~~~~\n"
            "p.moga:3:10: note: the branch is opened here\n"
            "branch a {\n"
            "         ^\n");
  EXPECT_EQ(p.branches.size(), 2u);
}

TEST(Parser, MissingPatternHeader) {
  Diagnostics d;
  Pattern p = parsePattern("layout seq\nmask true\n", "p.moga", d);
  EXPECT_EQ(d.renderAll(),
            "p.moga:1:1: error: a pattern file must start with 'pattern <name>', found 'layout'\n"
            "layout seq\n"
            "^~~~~~\n");
  EXPECT_TRUE(p.layout);  // the rest is still read
}

TEST(Parser, UnknownStatement) {
  Diagnostics d;
  parsePattern("pattern p\nlayout seq\nmsk q.pos >= kv.pos\nmask true\n", "p.moga", d);
  EXPECT_EQ(d.errorMessages(),
            std::vector<std::string>{"expected a statement (layout, param, def, branch, mask, "
                                     "group, route, gate, scale, bias, softcap or output), found "
                                     "'msk'"});
}

TEST(Parser, UnknownLayoutSuggests) {
  Diagnostics d;
  parsePattern("pattern p\nlayout vidoe\n", "p.moga", d);
  EXPECT_EQ(d.renderAll(),
            "p.moga:2:8: error: unknown layout 'vidoe'; did you mean 'video'? (layouts: seq, "
            "video)\n"
            "layout vidoe\n"
            "       ^~~~~\n");
}

TEST(Parser, RouteSyntax) {
  Diagnostics d;
  parsePattern("pattern p\nlayout seq\nroute mlp(4) top 1\nroute linear(4)\n", "p.moga", d);
  EXPECT_EQ(d.errorMessages(),
            (std::vector<std::string>{
                "unknown router 'mlp'; the only router is 'linear' (route linear(M) top K)",
                "expected 'top K' after 'route linear(M)', found end of line"}));
}

TEST(Parser, OutputSyntax) {
  Diagnostics d;
  parsePattern("pattern p\nlayout seq\nbranch a {}\noutput avg(a)\n", "p.moga", d);
  parsePattern("pattern p\nlayout seq\nbranch a {}\noutput sum(a + a)\n", "q.moga", d);
  EXPECT_EQ(d.errorMessages(),
            (std::vector<std::string>{
                "unknown output combinator 'avg' (use mean(...) or sum(...))",
                "expected a branch name or 'WEIGHT * branch' in output"}));
}

TEST(Parser, KeywordAsName) {
  Diagnostics d;
  parsePattern("pattern p\nlayout seq\nparam mask = 3\n", "p.moga", d);
  EXPECT_EQ(d.errorMessages(),
            std::vector<std::string>{"expected a param name after 'param', found keyword 'mask' "
                                     "(keywords cannot be used as names)"});
}

TEST(Parser, TopLevelStatementsBesideBranches) {
  Diagnostics d;
  Pattern p = parsePattern("pattern p\nlayout seq\nmask true\nbranch a {}\n", "p.moga", d);
  EXPECT_EQ(d.renderAll(),
            "p.moga:3:1: error: statement outside a branch: a pattern with 'branch' blocks must "
            "put every mask/group/route/gate/scale/bias/softcap inside one\n"
            "mask true\n"
            "^~~~\n");
  ASSERT_EQ(p.branches.size(), 1u);
  EXPECT_EQ(p.branches[0].name, "a");
}

TEST(Parser, UnmatchedBraceAndSecondPattern) {
  Diagnostics d;
  parsePattern("pattern p\nlayout seq\n}\npattern q\n", "p.moga", d);
  EXPECT_EQ(d.errorMessages(),
            (std::vector<std::string>{"unmatched '}'", "only one 'pattern' per file"}));
}

TEST(Parser, DeepNestingIsRefusedNotACrash) {
  Diagnostics d;
  std::string deep = "pattern p\nlayout seq\nmask " + std::string(100000, '(') + "true\n";
  parsePattern(deep, "p.moga", d);
  EXPECT_EQ(d.errorMessages().at(0), "expression nested too deeply");
  Diagnostics d2;
  parsePattern("pattern p\nlayout seq\nmask " + std::string(100000, '!') + "true\n", "p.moga", d2);
  EXPECT_EQ(d2.errorMessages().at(0), "expression nested too deeply");
}

TEST(Parser, TooManyErrorsAreCapped) {
  Diagnostics d;
  std::string src = "pattern p\nlayout seq\n";
  for (int i = 0; i < 200; ++i) src += "@\n";
  parsePattern(src, "p.moga", d);
  EXPECT_EQ(d.errorCount(), Diagnostics::kMaxErrors);
  EXPECT_NE(d.renderAll().find("error: too many errors; 150 more not shown"), std::string::npos);
}

}  // namespace
}  // namespace moga::frontend
