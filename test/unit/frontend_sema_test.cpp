// Semantic checks: one test per rule, each asserting the exact message, location and caret.
#include <gtest/gtest.h>

#include "compiler/frontend/frontend.h"

namespace moga::frontend {
namespace {

// Errors and notes (not warnings) of compiling `src` as t.moga, rendered.
std::string errorsOf(const std::string& src, const ParamOverrides& overrides = {}) {
  Diagnostics d;
  compileSource(src, "t.moga", overrides, d);
  std::string out;
  for (const Diagnostic& diag : d.all())
    if (diag.severity != Severity::Warning) out += d.render(diag);
  return out;
}

std::string warningsOf(const std::string& src) {
  Diagnostics d;
  compileSource(src, "t.moga", {}, d);
  std::string out;
  for (const Diagnostic& diag : d.all())
    if (diag.severity == Severity::Warning) out += d.render(diag);
  return out;
}

const std::string kVideo = "pattern p\nlayout video\n";  // user code starts on line 3
const std::string kSeq = "pattern p\nlayout seq\n";

// ---- names ----

TEST(Sema, UnknownIdentifierSuggestsParam) {
  EXPECT_EQ(errorsOf(kSeq + "param window = 8\nmask abs(q.pos - kv.pos) <= windw\n"),
            "t.moga:4:29: error: unknown identifier 'windw'; did you mean 'window'?\n"
            "mask abs(q.pos - kv.pos) <= windw\n"
            "                            ^~~~~\n");
}

TEST(Sema, UnknownIdentifierWithoutNearMiss) {
  EXPECT_EQ(errorsOf(kSeq + "mask q.pos < banana\n"),
            "t.moga:3:14: error: unknown identifier 'banana'\n"
            "mask q.pos < banana\n"
            "             ^~~~~~\n");
}

TEST(Sema, UnknownFieldSuggests) {
  EXPECT_EQ(errorsOf(kVideo + "mask q.fram == kv.frame\n"),
            "t.moga:3:8: error: unknown field 'fram'; did you mean 'frame'?\n"
            "mask q.fram == kv.frame\n"
            "       ^~~~\n");
}

TEST(Sema, UnknownFieldListsTheLayoutsFields) {
  EXPECT_EQ(errorsOf(kSeq + "mask q.height == 0\n"),
            "t.moga:3:8: error: unknown field 'height' (tokens have: pos)\n"
            "mask q.height == 0\n"
            "       ^~~~~~\n");
}

TEST(Sema, FieldNotInLayoutNamesTheLayout) {
  EXPECT_EQ(errorsOf(kSeq + "mask q.frame == kv.frame\n"),
            "t.moga:3:8: error: field 'frame' is not available in layout seq (tokens have: pos)\n"
            "mask q.frame == kv.frame\n"
            "       ^~~~~\n"
            "t.moga:3:20: error: field 'frame' is not available in layout seq (tokens have: pos)\n"
            "mask q.frame == kv.frame\n"
            "                   ^~~~~\n");
}

TEST(Sema, ShapeConstantNotInLayout) {
  EXPECT_EQ(errorsOf(kSeq + "mask q.pos < F\n"),
            "t.moga:3:14: error: shape constant 'F' is not available in layout seq (it has: N)\n"
            "mask q.pos < F\n"
            "             ^\n");
}

TEST(Sema, UnknownFunctionSuggestsDef) {
  EXPECT_EQ(errorsOf(kVideo + "def window(t) = t.row / 8\nmask windw(q) == window(kv)\n"),
            "t.moga:4:6: error: unknown function 'windw'; did you mean 'window'?\n"
            "mask windw(q) == window(kv)\n"
            "     ^~~~~~~~\n");
}

TEST(Sema, CallingSomethingThatIsNotAFunction) {
  EXPECT_EQ(errorsOf(kSeq + "param M = 3\nmask q.pos < M(2)\n"),
            "t.moga:4:14: error: 'M' is not a function\n"
            "mask q.pos < M(2)\n"
            "             ^~~~\n");
}

TEST(Sema, DefNameWithoutCall) {
  EXPECT_EQ(errorsOf(kSeq + "def f(a) = a.pos\nmask f == 1\n"),
            "t.moga:4:6: error: 'f' is a def; call it: f(...)\n"
            "mask f == 1\n"
            "     ^\n");
}

TEST(Sema, BuiltinNameWithoutCall) {
  EXPECT_EQ(errorsOf(kSeq + "mask abs < 1\n"),
            "t.moga:3:6: error: 'abs' is a builtin function; call it: abs(...)\n"
            "mask abs < 1\n"
            "     ^~~\n");
}

TEST(Sema, TokenNotBoundInThisStatement) {
  EXPECT_EQ(errorsOf(kSeq + "mask t.pos == kv.pos\n"),
            "t.moga:3:6: error: token 't' is not available in a mask (it can use: q, kv)\n"
            "mask t.pos == kv.pos\n"
            "     ^\n");
  EXPECT_EQ(errorsOf(kVideo + "group q.frame\n"),
            "t.moga:3:7: error: token 'q' is not available in a group key (it can use: t)\n"
            "group q.frame\n"
            "      ^\n");
  EXPECT_EQ(errorsOf(kSeq + "gate 1.0 / (1 + kv.pos)\n"),
            "t.moga:3:17: error: token 'kv' is not available in a gate (it can use: q)\n"
            "gate 1.0 / (1 + kv.pos)\n"
            "                ^~\n");
}

TEST(Sema, HeadIndexOnlyInBias) {
  EXPECT_EQ(errorsOf(kSeq + "mask h == 0\n"),
            "t.moga:3:6: error: the head index 'h' is only available in bias\n"
            "mask h == 0\n"
            "     ^\n");
}

TEST(Sema, DefBodyCannotSeeTokens) {
  EXPECT_EQ(errorsOf(kSeq + "def near(a) = abs(a.pos - kv.pos) < 4\nmask near(q)\n"),
            "t.moga:3:27: error: 'kv' is not visible inside def 'near': pass it as an argument\n"
            "def near(a) = abs(a.pos - kv.pos) < 4\n"
            "                          ^~\n");
}

TEST(Sema, RouteOutsideItsTwoForms) {
  EXPECT_EQ(errorsOf(kSeq + "route linear(4) top 1\ngroup route\ngate 0.5 * route.prob\n"),
            "t.moga:5:12: error: 'route.prob' can only be a whole gate statement: "
            "'gate route.prob'\n"
            "gate 0.5 * route.prob\n"
            "           ^~~~~~~~~~\n");
  EXPECT_EQ(errorsOf(kSeq + "mask route == 1\n"),
            "t.moga:3:6: error: 'route' can only be used as 'group route' or 'gate route.prob'\n"
            "mask route == 1\n"
            "     ^~~~~\n");
}

TEST(Sema, FieldOfANonToken) {
  EXPECT_EQ(errorsOf(kSeq + "param M = 3\nmask M.pos == 1\n"),
            "t.moga:4:6: error: 'M' is int, not a token; only tokens have fields\n"
            "mask M.pos == 1\n"
            "     ^\n");
}

TEST(Sema, DuplicateNames) {
  EXPECT_EQ(errorsOf(kSeq + "param M = 3\ndef M(a) = a\n"),
            "t.moga:4:5: error: 'M' is already defined\n"
            "def M(a) = a\n"
            "    ^\n"
            "t.moga:3:7: note: previous definition of 'M' is here\n"
            "param M = 3\n"
            "      ^\n");
  EXPECT_EQ(errorsOf(kSeq + "branch a {}\nbranch a {}\noutput a\n"),
            "t.moga:4:8: error: duplicate branch 'a'\n"
            "branch a {}\n"
            "       ^\n"
            "t.moga:3:8: note: previous branch 'a' is here\n"
            "branch a {}\n"
            "       ^\n");
  EXPECT_EQ(errorsOf(kSeq + "def f(a, a) = 1\nmask f(1, 2) == 1\n"),
            "t.moga:3:10: error: duplicate argument 'a' in def 'f'\n"
            "def f(a, a) = 1\n"
            "         ^\n");
}

TEST(Sema, ReservedNames) {
  EXPECT_EQ(errorsOf(kSeq + "param N = 3\n"),
            "t.moga:3:7: error: 'N' is reserved (a shape constant) and cannot name a param\n"
            "param N = 3\n"
            "      ^\n");
  EXPECT_EQ(errorsOf(kSeq + "def abs(x) = x\n"),
            "t.moga:3:5: error: 'abs' is reserved (a builtin function) and cannot name a def\n"
            "def abs(x) = x\n"
            "    ^~~\n");
  EXPECT_EQ(errorsOf(kSeq + "param kv = 1\n"),
            "t.moga:3:7: error: 'kv' is reserved (a token or head index name) and cannot name a "
            "param\n"
            "param kv = 1\n"
            "      ^~\n");
}

TEST(Sema, MissingLayout) {
  EXPECT_EQ(errorsOf("pattern p\nmask true\n"),
            "t.moga:1:9: error: pattern 'p' has no 'layout' statement (add 'layout seq' or "
            "'layout video')\n"
            "pattern p\n"
            "        ^\n");
}

// ---- types ----

TEST(Sema, MaskMustBeBool) {
  EXPECT_EQ(errorsOf(kSeq + "mask q.pos - kv.pos\n"),
            "t.moga:3:6: error: mask must be a bool expression, got int\n"
            "mask q.pos - kv.pos\n"
            "     ^~~~~~~~~~~~~~\n");
}

TEST(Sema, GroupKeyMustBeInt) {
  EXPECT_EQ(errorsOf(kVideo + "group t.frame * 0.5\n"),
            "t.moga:3:7: error: group key must be an int expression, got float\n"
            "group t.frame * 0.5\n"
            "      ^~~~~~~~~~~~~\n");
}

TEST(Sema, GateMustBeFloat) {
  EXPECT_EQ(errorsOf(kSeq + "gate q.pos > 3\n"),
            "t.moga:3:6: error: gate must be a float expression, got bool\n"
            "gate q.pos > 3\n"
            "     ^~~~~~~~~\n");
}

TEST(Sema, BiasMustBeFloat) {
  EXPECT_EQ(errorsOf(kSeq + "bias true\n"),
            "t.moga:3:6: error: bias must be a float expression, got bool\n"
            "bias true\n"
            "     ^~~~\n");
}

TEST(Sema, IntPromotesToFloat) {
  EXPECT_EQ(errorsOf(kSeq + "gate 1\nbias 0.5 * (q.pos - kv.pos) + h\nmask q.pos * 2 >= kv.pos\n"),
            "");
  // Not in a mask, though (docs/dsl.md, "Types and names"): masks are classified on integer
  // intervals, so a runtime float there is a located error.
  EXPECT_EQ(errorsOf(kSeq + "mask q.pos * 1.5 >= kv.pos\n"),
            "t.moga:3:6: error: a mask computes with ints and bools only, but this is a float; "
            "masks are classified per tile on integer intervals (scale both sides to ints, e.g. "
            "'2 * q.pos >= 2 * kv.pos + 1' for 'q.pos >= kv.pos + 0.5')\n"
            "mask q.pos * 1.5 >= kv.pos\n"
            "     ^~~~~~~~~~~\n");
}

TEST(Sema, OperatorTypeErrors) {
  EXPECT_EQ(errorsOf(kSeq + "mask 1 && true\n"),
            "t.moga:3:6: error: operator '&&' needs bool operands, got int and bool\n"
            "mask 1 && true\n"
            "     ^~~~~~~~~\n");
  EXPECT_EQ(errorsOf(kSeq + "mask q == kv\n"),
            "t.moga:3:6: error: operator '==' cannot compare tokens; compare their fields "
            "(q.pos == kv.pos)\n"
            "mask q == kv\n"
            "     ^~~~~~~\n");
  EXPECT_EQ(errorsOf(kSeq + "mask q.pos + q > 0\n"),
            "t.moga:3:6: error: operator '+' cannot take a token (got int and token); use a "
            "field such as q.pos\n"
            "mask q.pos + q > 0\n"
            "     ^~~~~~~~~\n");
  EXPECT_EQ(errorsOf(kSeq + "mask q.pos % 2.0 == 0\n"),
            "t.moga:3:6: error: operator '%' needs int operands, got int and float\n"
            "mask q.pos % 2.0 == 0\n"
            "     ^~~~~~~~~~~\n");
  EXPECT_EQ(errorsOf(kSeq + "mask !q.pos\n"),
            "t.moga:3:6: error: operator '!' needs a bool operand, got int\n"
            "mask !q.pos\n"
            "     ^~~~~~\n");
  EXPECT_EQ(errorsOf(kSeq + "mask -true\n"),
            "t.moga:3:6: error: operator '-' needs an int or float operand, got bool\n"
            "mask -true\n"
            "     ^~~~~\n");
  EXPECT_EQ(errorsOf(kSeq + "mask (q.pos > 1) == 1\n"),
            "t.moga:3:6: error: operator '==' cannot compare bool with int\n"
            "mask (q.pos > 1) == 1\n"
            "     ^~~~~~~~~~~~~~~~\n");
  EXPECT_EQ(errorsOf(kSeq + "mask true < false\n"),
            "t.moga:3:6: error: operator '<' needs int or float operands, got bool and bool\n"
            "mask true < false\n"
            "     ^~~~~~~~~~~~\n");
}

TEST(Sema, BuiltinTypeErrors) {
  EXPECT_EQ(errorsOf(kSeq + "mask div(q.pos, 2.0) == 0\n"),
            "t.moga:3:6: error: 'div' needs int arguments, got int and float (use '/' to divide "
            "floats)\n"
            "mask div(q.pos, 2.0) == 0\n"
            "     ^~~~~~~~~~~~~~~\n");
  EXPECT_EQ(errorsOf(kSeq + "mask abs(true)\n"),
            "t.moga:3:6: error: 'abs' needs an int or float argument, got bool\n"
            "mask abs(true)\n"
            "     ^~~~~~~~~\n");
  EXPECT_EQ(errorsOf(kSeq + "mask min(1, false) == 1\n"),
            "t.moga:3:6: error: 'min' needs int or float arguments, got int and bool\n"
            "mask min(1, false) == 1\n"
            "     ^~~~~~~~~~~~~\n");
}

// ---- defs ----

TEST(Sema, BuiltinArity) {
  EXPECT_EQ(errorsOf(kSeq + "mask abs(q.pos, kv.pos) < 3\n"),
            "t.moga:3:6: error: 'abs' takes 1 argument, got 2\n"
            "mask abs(q.pos, kv.pos) < 3\n"
            "     ^~~~~~~~~~~~~~~~~~\n");
}

TEST(Sema, DefArity) {
  EXPECT_EQ(errorsOf(kSeq + "def d(a, b) = a.pos - b.pos\nmask d(q) < 3\n"),
            "t.moga:4:6: error: def 'd' takes 2 arguments, got 1\n"
            "mask d(q) < 3\n"
            "     ^~~~\n"
            "t.moga:3:5: note: 'd' is defined here\n"
            "def d(a, b) = a.pos - b.pos\n"
            "    ^\n");
}

TEST(Sema, DefsAreTypedPerCall) {
  // One def used with tokens and with ints; the int use of a field is the error.
  EXPECT_EQ(errorsOf(kSeq + "def pos(a) = a.pos\nmask pos(q) >= pos(kv) && pos(3) > 0\n"),
            "t.moga:3:14: error: 'a' is int, not a token; only tokens have fields\n"
            "def pos(a) = a.pos\n"
            "             ^\n");
}

TEST(Sema, DefErrorReportedOnceForManyCalls) {
  Diagnostics d;
  compileSource(kVideo + "def w(t) = t.row / Hh\nmask w(q) == w(kv) && w(q) > 0\n", "t.moga", {}, d);
  EXPECT_EQ(d.errorMessages(),
            std::vector<std::string>{"unknown identifier 'Hh'; did you mean 'H'?"});
}

TEST(Sema, DirectRecursion) {
  EXPECT_EQ(errorsOf(kSeq + "def f(a) = f(a) + 1\nmask f(1) > 0\n"),
            "t.moga:3:5: error: def 'f' is recursive (f -> f); defs are inlined and cannot "
            "recurse\n"
            "def f(a) = f(a) + 1\n"
            "    ^\n");
}

TEST(Sema, MutualRecursion) {
  EXPECT_EQ(errorsOf(kSeq + "def f(a) = g(a)\ndef g(a) = h2(a)\ndef h2(a) = f(a)\nmask f(1) > 0\n"),
            "t.moga:3:5: error: def 'f' is recursive (f -> g -> h2 -> f); defs are inlined and "
            "cannot recurse\n"
            "def f(a) = g(a)\n"
            "    ^\n");
}

TEST(Sema, DefMustNotReturnAToken) {
  EXPECT_EQ(errorsOf(kSeq + "def same(a) = a\nmask same(q) == same(kv)\n"),
            "t.moga:4:6: error: def 'same' returns a token; a def must return int, float or bool\n"
            "mask same(q) == same(kv)\n"
            "     ^~~~~~~\n");
}

TEST(Sema, UnusedDefIsWarnedAndStillNameChecked) {
  std::string src = kSeq + "def unused(a) = a.pos + nope\nmask true\n";
  EXPECT_EQ(errorsOf(src),
            "t.moga:3:25: error: unknown identifier 'nope'\n"
            "def unused(a) = a.pos + nope\n"
            "                        ^~~~\n");
  EXPECT_EQ(warningsOf(src),
            "t.moga:3:5: warning: def 'unused' is never used\n"
            "def unused(a) = a.pos + nope\n"
            "    ^~~~~~\n");
}

// ---- routing, grouping, gating ----

TEST(Sema, GroupRouteNeedsRoute) {
  EXPECT_EQ(errorsOf(kSeq + "group route\n"),
            "t.moga:3:1: error: 'group route' needs a 'route linear(M) top K' statement in "
            "branch 'p'\n"
            "group route\n"
            "^~~~~\n");
}

TEST(Sema, RouteProbNeedsRoute) {
  EXPECT_EQ(errorsOf(kSeq + "branch b {\n  gate route.prob\n}\n"),
            "t.moga:4:3: error: 'gate route.prob' needs a 'route linear(M) top K' statement in "
            "branch 'b'\n"
            "  gate route.prob\n"
            "  ^~~~\n");
}

TEST(Sema, RouteWithoutGroupRoute) {
  EXPECT_EQ(errorsOf(kSeq + "route linear(4) top 1\n"),
            "t.moga:3:1: error: branch 'p' has a route but does not use it: add 'group route'\n"
            "route linear(4) top 1\n"
            "^~~~~~~~~~~~~~~~~~~~~\n");
}

TEST(Sema, RouteWithComputedGroup) {
  EXPECT_EQ(errorsOf(kSeq + "route linear(4) top 1\ngroup t.pos / 8\n"),
            "t.moga:4:1: error: branch 'p' has a route, so it must group by it: write 'group "
            "route'\n"
            "group t.pos / 8\n"
            "^~~~~\n");
}

TEST(Sema, TopKWithinGroups) {
  EXPECT_EQ(errorsOf(kSeq + "param M = 5\nroute linear(M) top 6\ngroup route\n"),
            "t.moga:4:21: error: top k must be between 1 and the number of groups (5), got 6\n"
            "route linear(M) top 6\n"
            "                    ^\n");
  EXPECT_EQ(errorsOf(kSeq + "route linear(4) top 0\ngroup route\n"),
            "t.moga:3:21: error: top k must be between 1 and the number of groups (4), got 0\n"
            "route linear(4) top 0\n"
            "                    ^\n");
  EXPECT_EQ(errorsOf(kSeq + "route linear(0) top 1\ngroup route\n"),
            "t.moga:3:14: error: route needs between 1 and 1024 groups, got 0\n"
            "route linear(0) top 1\n"
            "             ^\n");
}

TEST(Sema, CompileTimeValuesRejectRuntimeNames) {
  EXPECT_EQ(errorsOf(kSeq + "route linear(N / 64) top 1\ngroup route\n"),
            "t.moga:3:14: error: 'N' is a runtime shape constant; the number of route groups "
            "must be a compile-time value\n"
            "route linear(N / 64) top 1\n"
            "             ^\n");
  EXPECT_EQ(errorsOf(kSeq + "scale q.pos\n"),
            "t.moga:3:7: error: token 'q' is not available in scale: it must be a compile-time "
            "value\n"
            "scale q.pos\n"
            "      ^\n");
  EXPECT_EQ(errorsOf(kSeq + "route linear(4) top 1.5\ngroup route\n"),
            "t.moga:3:21: error: top k must be an int, got float\n"
            "route linear(4) top 1.5\n"
            "                    ^~~\n");
}

TEST(Sema, ScaleAndSoftcapPositive) {
  EXPECT_EQ(errorsOf(kSeq + "scale 0\n"),
            "t.moga:3:7: error: scale must be > 0, got 0\n"
            "scale 0\n"
            "      ^\n");
  EXPECT_EQ(errorsOf(kSeq + "param c = 20.0\nsoftcap c - 25\n"),
            "t.moga:4:9: error: softcap must be > 0, got -5.0\n"
            "softcap c - 25\n"
            "        ^~~~~~\n");
  EXPECT_EQ(errorsOf(kSeq + "scale true\n"),
            "t.moga:3:7: error: scale must be a number, got bool\n"
            "scale true\n"
            "      ^~~~\n");
}

TEST(Sema, ConstantDivisionByZero) {
  EXPECT_EQ(errorsOf(kSeq + "scale 1 / (2 - 2)\n"),
            "t.moga:3:7: error: division by zero in scale\n"
            "scale 1 / (2 - 2)\n"
            "      ^~~~~~~~~~~\n");
  EXPECT_EQ(errorsOf(kSeq + "mask q.pos < 7 % 0\n"),
            "t.moga:3:14: error: modulo by zero in a constant subexpression\n"
            "mask q.pos < 7 % 0\n"
            "             ^~~~~\n");
}

// ---- output ----

TEST(Sema, SeveralBranchesNeedAnOutput) {
  EXPECT_EQ(errorsOf(kSeq + "branch a {}\nbranch b {}\n"),
            "t.moga:1:9: error: pattern 'p' has 2 branches but no 'output' (e.g. output mean(a, "
            "b))\n"
            "pattern p\n"
            "        ^\n");
}

TEST(Sema, OutputUnknownBranch) {
  EXPECT_EQ(errorsOf(kSeq + "branch local {}\noutput locl\n"),
            "t.moga:4:8: error: unknown branch 'locl'; did you mean 'local'?\n"
            "output locl\n"
            "       ^~~~\n");
}

TEST(Sema, OutputBranchTwice) {
  EXPECT_EQ(errorsOf(kSeq + "branch a {}\nbranch b {}\noutput mean(a, b, a)\n"),
            "t.moga:5:19: error: branch 'a' appears twice in output\n"
            "output mean(a, b, a)\n"
            "                  ^\n"
            "t.moga:5:13: note: first use of 'a' is here\n"
            "output mean(a, b, a)\n"
            "            ^\n");
}

TEST(Sema, OutputWeightsPositive) {
  EXPECT_EQ(errorsOf(kSeq + "branch a {}\nbranch b {}\noutput sum(0.5 * a, 0 * b)\n"),
            "t.moga:5:21: error: output weight must be > 0, got 0\n"
            "output sum(0.5 * a, 0 * b)\n"
            "                    ^\n");
}

TEST(Sema, MeanTakesNoWeights) {
  EXPECT_EQ(errorsOf(kSeq + "branch a {}\nbranch b {}\noutput mean(2 * a, b)\n"),
            "t.moga:5:13: error: mean(...) takes branch names only; use sum(...) for weights\n"
            "output mean(2 * a, b)\n"
            "            ^~~~~\n");
}

TEST(Sema, UnusedBranchIsAWarning) {
  std::string src = kSeq + "branch a {}\nbranch b {}\noutput a\n";
  EXPECT_EQ(errorsOf(src), "");
  EXPECT_EQ(warningsOf(src),
            "t.moga:4:8: warning: branch 'b' is not used in output and is ignored\n"
            "branch b {}\n"
            "       ^\n");
}

// ---- several errors, overrides ----

TEST(Sema, SeveralErrorsInOneRun) {
  Diagnostics d;
  std::string src = kVideo +
                    "param M = 4\n"
                    "branch a {\n"
                    "  route linear(M) top 9\n"
                    "  group route\n"
                    "  mask q.fram == kv.frame\n"
                    "}\n"
                    "branch b {\n"
                    "  group t.frame * 0.5\n"
                    "}\n"
                    "output mean(a, c)\n";
  EXPECT_FALSE(compileSource(src, "t.moga", {}, d));
  EXPECT_EQ(d.errorMessages(),
            (std::vector<std::string>{
                "unknown field 'fram'; did you mean 'frame'?",
                "top k must be between 1 and the number of groups (4), got 9",
                "group key must be an int expression, got float",
                "unknown branch 'c'"}));
}

TEST(Sema, ParamOverrideUnknownName) {
  EXPECT_EQ(errorsOf(kSeq + "param window = 8\nmask q.pos - kv.pos <= window\n",
                     {{"widow", "16"}}),
            "error: --param widow=16: pattern 'p' has no param 'widow'; did you mean 'window'? "
            "(params: window)\n");
}

TEST(Sema, ParamOverrideBadValues) {
  std::string src = kSeq + "param window = 8\nparam s = 0.5\nmask q.pos - kv.pos <= window\n"
                           "scale s\n";
  EXPECT_EQ(errorsOf(src, {{"window", "1.5"}}),
            "error: --param window=1.5: param 'window' is an int; '1.5' is not a 32-bit int\n");
  EXPECT_EQ(errorsOf(src, {{"window", "99999999999"}}),
            "error: --param window=99999999999: param 'window' is an int; '99999999999' is not a "
            "32-bit int\n");
  EXPECT_EQ(errorsOf(src, {{"s", "abc"}}),
            "error: --param s=abc: param 's' is a float; 'abc' is not a number\n");
  EXPECT_EQ(errorsOf(src, {{"s", "2"}, {"window", "-3"}}), "");
}

TEST(Sema, ParamOverrideIsCheckedAgainstTheRules) {
  std::string src = kSeq + "param M = 5\nroute linear(M) top 2\ngroup route\n";
  EXPECT_EQ(errorsOf(src, {{"M", "16"}}), "");
  EXPECT_EQ(errorsOf(src, {{"M", "1"}}),
            "t.moga:4:21: error: top k must be between 1 and the number of groups (1), got 2\n"
            "route linear(M) top 2\n"
            "                    ^\n");
}

}  // namespace
}  // namespace moga::frontend
