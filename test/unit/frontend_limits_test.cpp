// The front end's limits and the value errors of issue #14: every one is a located error
// (file:line:col), reported quickly, never a crash, a silent default or a runaway.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "compiler/frontend/frontend.h"
#include "compiler/frontend/limits.h"

namespace moga::frontend {
namespace {

struct Result {
  bool ok = false;
  std::vector<Diagnostic> errors;
  std::string rendered;
  double seconds = 0;
};

Result compile(const std::string& src, const ParamOverrides& overrides = {}) {
  Diagnostics d;
  auto start = std::chrono::steady_clock::now();
  auto r = compileSource(src, "l.moga", overrides, d);
  Result out;
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  out.ok = r.has_value();
  for (const Diagnostic& x : d.all())
    if (x.severity == Severity::Error) out.errors.push_back(x);
  out.rendered = d.renderAll();
  return out;
}

// Fails unless compiling `src` gives an error containing `message` at line `line` (col > 0).
void expectLocatedError(const std::string& src, const std::string& message, int line,
                        const ParamOverrides& overrides = {}) {
  Result r = compile(src, overrides);
  EXPECT_FALSE(r.ok) << src.substr(0, 200);
  bool found = false;
  for (const Diagnostic& e : r.errors)
    if (e.message.find(message) != std::string::npos) {
      found = true;
      EXPECT_EQ(e.loc.line, line) << e.message;
      if (line > 0) EXPECT_GT(e.loc.col, 0) << e.message;  // 0: a --param, named instead
    }
  EXPECT_TRUE(found) << "no error containing '" << message << "' in:\n" << r.rendered;
  EXPECT_LT(r.seconds, 5.0);
}

const std::string kHead = "pattern p\nlayout seq\n";

std::string chain(int operators) {
  std::string s = "q.pos";
  for (int i = 0; i < operators; ++i) s += " + 1";
  return s;
}

TEST(Limits, FlatChainOfOperatorsIsBoundedNotAStackOverflow) {
  expectLocatedError(kHead + "mask " + chain(20000) + " >= kv.pos\n", "expression too deep", 3);
  EXPECT_TRUE(compile(kHead + "mask " + chain(200) + " >= kv.pos\n").ok);
}

TEST(Limits, ChainSpreadOverLinesIsBounded) {
  std::string src = kHead + "mask q.pos >= kv.pos\n";
  for (int i = 0; i < 20000; ++i) src += "  && q.pos >= kv.pos\n";
  Result r = compile(src);
  EXPECT_FALSE(r.ok);
  ASSERT_FALSE(r.errors.empty());
  EXPECT_NE(r.errors[0].message.find("expression too deep"), std::string::npos);
  EXPECT_GT(r.errors[0].loc.line, 3);
}

TEST(Limits, DefsCallingThePreviousTwiceAreCutWithALocatedError) {
  std::string src = kHead + "def f0(a) = a.pos\n";
  for (int i = 1; i <= 40; ++i)
    src += "def f" + std::to_string(i) + "(a) = f" + std::to_string(i - 1) + "(a) + f" +
           std::to_string(i - 1) + "(a)\n";
  src += "mask f40(q) >= kv.pos\n";
  expectLocatedError(src, "expression too large after inlining defs", 44);
  // Shared subexpressions that stay under the limit still compile (2^10 leaves).
  std::string small = kHead + "def f0(a) = a.pos\n";
  for (int i = 1; i <= 10; ++i)
    small += "def f" + std::to_string(i) + "(a) = f" + std::to_string(i - 1) + "(a) + f" +
             std::to_string(i - 1) + "(a)\n";
  small += "mask f10(q) >= kv.pos\n";
  EXPECT_TRUE(compile(small).ok) << compile(small).rendered;
}

TEST(Limits, ExponentialDefsInACompileTimeValueAreReportedNotDefaulted) {
  std::string src = kHead + "def f0(a) = a\n";
  for (int i = 1; i <= 40; ++i)
    src += "def f" + std::to_string(i) + "(a) = f" + std::to_string(i - 1) + "(a) + f" +
           std::to_string(i - 1) + "(a)\n";
  src += "scale f40(1.0)\n";
  Result r = compile(src);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.rendered.find("compile-time expression too"), std::string::npos) << r.rendered;
  EXPECT_LT(r.seconds, 5.0);
}

TEST(Limits, LongDefChainIsTooDeepAfterInlining) {
  std::string src = kHead + "def f0(a) = a.pos\n";
  for (int i = 1; i < limits::kMaxDefs; ++i)
    src += "def f" + std::to_string(i) + "(a) = f" + std::to_string(i - 1) + "(a) + 1\n";
  src += "mask f" + std::to_string(limits::kMaxDefs - 1) + "(q) >= kv.pos\n";
  Result r = compile(src);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.rendered.find("too deep after inlining defs"), std::string::npos) << r.rendered;
  for (const Diagnostic& e : r.errors) EXPECT_TRUE(e.loc.valid()) << e.message;
}

TEST(Limits, FileSizeIsCheckedFirst) {
  std::string src = kHead + "mask q.pos >= kv.pos\n";
  src += std::string(limits::kMaxSourceBytes, '#');
  expectLocatedError(src, "the limit is 1048576 bytes", 1);
}

TEST(Limits, BranchAndStatementCounts) {
  std::string src = kHead;
  for (int i = 0; i <= limits::kMaxBranches; ++i)
    src += "branch b" + std::to_string(i) + " { mask q.pos >= kv.pos }\n";
  src += "output b0\n";
  expectLocatedError(src, "too many branches", 3 + limits::kMaxBranches);
  std::string params = kHead;
  for (int i = 0; i <= limits::kMaxParams; ++i) params += "param p" + std::to_string(i) + " = 1\n";
  expectLocatedError(params, "too many params", 3 + limits::kMaxParams);
  // Each kind within its own limit, together past the file's: 1 + 256 + 256 + 64 * 8 + 1.
  std::string stmts = kHead;
  for (int i = 0; i < limits::kMaxParams; ++i) stmts += "param p" + std::to_string(i) + " = 1\n";
  for (int i = 0; i < limits::kMaxDefs; ++i) stmts += "def d" + std::to_string(i) + "(a) = a\n";
  std::string terms;
  for (int i = 0; i < limits::kMaxBranches; ++i) {
    stmts += "branch b" + std::to_string(i) + " {\n  route linear(4) top 1\n  group route\n"
             "  gate route.prob\n  mask q.pos >= kv.pos\n  scale 0.5\n  bias 1.0\n"
             "  softcap 20.0\n}\n";
    terms += (i ? ", b" : "b") + std::to_string(i);
  }
  stmts += "output mean(" + terms + ")\n";
  // Statement number kMaxStatements + 1 (the layout is the first, params and defs one line
  // each, a branch block 9 lines holding 8 statements) sits at this line:
  const int firstOver = limits::kMaxStatements + 1;
  int line = 2 + firstOver;  // if it were among the params or defs
  const int beforeBranches = 1 + limits::kMaxParams + limits::kMaxDefs;
  if (firstOver > beforeBranches) {
    const int k = firstOver - beforeBranches - 1;  // 0-based statement index within branches
    line = 3 + limits::kMaxParams + limits::kMaxDefs + (k / 8) * 9 + k % 8;
  }
  expectLocatedError(stmts, "too many statements", line);
}

TEST(Values, ConstantDivisorZeroWithARuntimeDividend) {
  expectLocatedError(kHead + "mask q.pos / 0 >= kv.pos\n", "division by zero", 3);
  expectLocatedError(kHead + "mask q.pos % (2 - 2) >= kv.pos\n", "modulo by zero", 3);
  expectLocatedError(kHead + "mask div(q.pos, 0) >= kv.pos\n", "division by zero", 3);
  expectLocatedError(kHead + "bias q.pos / 0.0\n", "division by zero", 3);
  EXPECT_TRUE(compile(kHead + "mask q.pos / 2 >= kv.pos\n").ok);
}

TEST(Values, FloatsOutsideThe32BitRange) {
  expectLocatedError(kHead + "scale 1e400\n", "out of range for a 32-bit float", 3);
  expectLocatedError(kHead + "scale 1e39\n", "out of range for a 32-bit float", 3);
  expectLocatedError(kHead + "scale 1e-50\n", "out of range for a 32-bit float", 3);
  expectLocatedError(kHead + "scale 1e20 * 1e20\n", "float overflow", 3);
  expectLocatedError(kHead + "param s = 0.5\nscale s\n", "out of range for a 32-bit float", 0,
                     {{"s", "1e39"}});
  Result r = compile(kHead + "scale 1e400\n");
  EXPECT_EQ(r.errors.size(), 1u) << r.rendered;  // no follow-up "must be > 0"
}

TEST(Values, RouteSizes) {
  expectLocatedError(kHead + "route linear(100000) top 1\ngroup route\n", "between 1 and 1024", 3);
  expectLocatedError(kHead + "route linear(0) top 1\ngroup route\n", "between 1 and 1024", 3);
  EXPECT_TRUE(compile(kHead + "route linear(1024) top 2\ngroup route\n").ok);
}

TEST(Promotion, FloatsInAMaskAreALocatedErrorNotAnInternalOne) {
  expectLocatedError(kHead + "mask q.pos >= kv.pos + 0.5\n", "a mask computes with ints", 3);
  expectLocatedError(kHead + "param r = 2.5\nmask abs(q.pos - kv.pos) < r * 2\n",
                     "a mask computes with ints", 4);
  // Compile-time floats fold away; floats elsewhere promote as before.
  EXPECT_TRUE(compile(kHead + "mask q.pos >= kv.pos || 0.5 < 1.0\n").ok);
  EXPECT_TRUE(compile(kHead + "mask q.pos >= kv.pos\nbias 0.5 * (q.pos - kv.pos)\n").ok);
  EXPECT_TRUE(compile(kHead + "gate q.pos + 0.5\n").ok);
}

}  // namespace
}  // namespace moga::frontend
