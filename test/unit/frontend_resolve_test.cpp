// resolve(): def inlining, param substitution, overrides, explicit promotions, folding, weights.
#include <gtest/gtest.h>

#include <functional>

#include "compiler/frontend/const_eval.h"
#include "compiler/frontend/frontend.h"

namespace moga::frontend {
namespace {

ResolvedPattern resolved(const std::string& src, const ParamOverrides& overrides = {}) {
  Diagnostics d;
  auto r = compileSource(src, "r.moga", overrides, d);
  EXPECT_TRUE(r) << d.renderAll();
  return r ? std::move(*r) : ResolvedPattern{};
}

std::string maskOf(const std::string& src, const ParamOverrides& overrides = {}) {
  ResolvedPattern r = resolved(src, overrides);
  if (r.branches.empty() || !r.branches[0].mask) return "<none>";
  return dumpExpr(*r.branches[0].mask);
}

// Every node of a resolved tree is typed, Binary operands agree, and no def, param or div/mod
// call is left.
void expectClosed(const Expr& e) {
  EXPECT_NE(e.type, Type::Unknown) << dumpExpr(e);
  if (auto* id = e.as<Ident>()) {
    EXPECT_TRUE(id->kind == NameKind::ShapeConst || id->kind == NameKind::HeadIndex) << id->name;
  } else if (auto* c = e.as<Call>()) {
    EXPECT_TRUE(c->callee == "abs" || c->callee == "min" || c->callee == "max") << c->callee;
    for (const ExprPtr& a : c->args) {
      EXPECT_EQ(a->type, e.type) << dumpExpr(e);
      expectClosed(*a);
    }
  } else if (auto* u = e.as<Unary>()) {
    expectClosed(*u->operand);
  } else if (auto* b = e.as<Binary>()) {
    if (b->op != BinaryOp::And && b->op != BinaryOp::Or)
      EXPECT_EQ(b->lhs->type, b->rhs->type) << dumpExpr(e);
    expectClosed(*b->lhs);
    expectClosed(*b->rhs);
  }
}

TEST(Resolve, InlinesDefsAndSubstitutesParams) {
  std::string src =
      "pattern stga\nlayout video\nparam wr = 2\nparam wc = 2\nparam tsize = 4\n"
      "def region(t) = (t.row * wr / H) * wc + t.col * wc / W\n"
      "def tgroup(t) = (t.frame - t.shot_start) / tsize\n"
      "mask region(q) == region(kv) && tgroup(q) == tgroup(kv)\n";
  EXPECT_EQ(maskOf(src),
            "(&& (== (+ (* (/ (* q.row 2) H) 2) (/ (* q.col 2) W)) "
            "(+ (* (/ (* kv.row 2) H) 2) (/ (* kv.col 2) W))) "
            "(== (/ (- q.frame q.shot_start) 4) (/ (- kv.frame kv.shot_start) 4)))");
  EXPECT_EQ(maskOf(src, {{"wr", "3"}, {"tsize", "8"}}),
            "(&& (== (+ (* (/ (* q.row 3) H) 2) (/ (* q.col 2) W)) "
            "(+ (* (/ (* kv.row 3) H) 2) (/ (* kv.col 2) W))) "
            "(== (/ (- q.frame q.shot_start) 8) (/ (- kv.frame kv.shot_start) 8)))");
  ResolvedPattern r = resolved(src);
  expectClosed(*r.branches[0].mask);
  EXPECT_EQ(r.params[2].name, "tsize");
  EXPECT_EQ(r.params[2].value.i, 4);
}

TEST(Resolve, NestedDefsAndTokenArguments) {
  std::string src =
      "pattern n\nlayout video\nparam r = 3\n"
      "def d(a, b) = abs(a - b)\n"
      "def near(x, y) = max(d(x.row, y.row), d(x.col, y.col)) <= r\n"
      "mask near(kv, q)\n";
  EXPECT_EQ(maskOf(src), "(<= (max (abs (- kv.row q.row)) (abs (- kv.col q.col))) 3)");
}

TEST(Resolve, FullDumpOfAMixture) {
  std::string src =
      "pattern mix\nlayout video\nparam M = 5\n"
      "branch dyn {\n  route linear(M) top 1\n  group route\n  gate route.prob\n}\n"
      "branch frame {\n  group t.frame\n  scale 0.5\n  softcap 20\n}\n"
      "output sum(0.75 * dyn, 0.25 * frame)\n";
  EXPECT_EQ(dumpResolved(resolved(src, {{"M", "16"}})),
            "(resolved mix\n"
            "  (layout video)\n"
            "  (output sum)\n"
            "  (param M 16)\n"
            "  (branch dyn\n"
            "    (weight 0.75)\n"
            "    (route (groups 16) (top 1))\n"
            "    (group route)\n"
            "    (gate route.prob))\n"
            "  (branch frame\n"
            "    (weight 0.25)\n"
            "    (group t.frame)\n"
            "    (scale 0.5)\n"
            "    (softcap 20.0)))\n");
}

TEST(Resolve, MeanWeightsAndUnusedBranchesDropped) {
  ResolvedPattern r = resolved(
      "pattern m\nlayout seq\nbranch a {}\nbranch b {}\nbranch c {}\nbranch x {}\n"
      "output mean(c, a, b)\n");
  ASSERT_EQ(r.branches.size(), 3u);
  EXPECT_EQ(r.output, OutputKind::Mean);
  EXPECT_EQ(r.branches[0].name, "c");  // output order
  EXPECT_EQ(r.branches[2].name, "b");
  for (const ResolvedBranch& b : r.branches) EXPECT_DOUBLE_EQ(b.weight, 1.0 / 3.0);
}

TEST(Resolve, PromotionsAreExplicit) {
  ResolvedPattern r = resolved(
      "pattern pr\nlayout seq\nparam slope = 0.25\n"
      "gate min(q.pos, 2.5)\n"
      "bias -slope * abs(q.pos - kv.pos) + h\n"
      "mask q.pos < kv.pos\n");
  const ResolvedBranch& b = r.branches[0];
  EXPECT_EQ(b.gate, GateKind::Expr);
  EXPECT_EQ(dumpExpr(*b.gateValue), "(min (float q.pos) 2.5)");
  EXPECT_EQ(b.gateValue->type, Type::Float);
  EXPECT_EQ(dumpExpr(*b.bias), "(+ (* -0.25 (float (abs (- q.pos kv.pos)))) (float h))");
  EXPECT_EQ(b.bias->type, Type::Float);
  EXPECT_EQ(dumpExpr(*b.mask), "(< q.pos kv.pos)");
  expectClosed(*b.gateValue);
  expectClosed(*b.bias);
  expectClosed(*b.mask);
  EXPECT_EQ(b.bias->as<Binary>()->rhs->as<Unary>()->operand->as<Ident>()->kind,
            NameKind::HeadIndex);
}

TEST(Resolve, DivAndModBecomeOperators) {
  EXPECT_EQ(maskOf("pattern d\nlayout seq\nmask div(q.pos, 64) == mod(kv.pos, 64)\n"),
            "(== (/ q.pos 64) (% kv.pos 64))");
}

TEST(Resolve, FoldsLiteralSubtreesWithFloorSemantics) {
  EXPECT_EQ(maskOf("pattern f\nlayout seq\nparam w = 3\nmask q.pos - kv.pos < 2 * w + 1\n"),
            "(< (- q.pos kv.pos) 7)");
  EXPECT_EQ(maskOf("pattern f\nlayout seq\nmask q.pos == -7 / 2\n"), "(== q.pos -4)");
  EXPECT_EQ(maskOf("pattern f\nlayout seq\nmask q.pos == -7 % 2 + 7 % -2 * 10\n"),
            "(== q.pos -9)");
  EXPECT_EQ(maskOf("pattern f\nlayout seq\nmask !(1 < 2) || q.pos > 0\n"), "(|| false (> q.pos 0))");
  // Int division folds before the promotion (a bias: masks take no runtime floats).
  ResolvedPattern g = resolved("pattern f\nlayout seq\nbias q.pos * 1.0 + 1 / 2\n");
  EXPECT_EQ(dumpExpr(*g.branches[0].bias), "(+ (* (float q.pos) 1.0) 0.0)");
}

TEST(Resolve, FloorDivisionHelpers) {
  EXPECT_EQ(floorDiv(-7, 2), -4);
  EXPECT_EQ(floorDiv(7, -2), -4);
  EXPECT_EQ(floorDiv(-8, 2), -4);
  EXPECT_EQ(floorDiv(7, 2), 3);
  EXPECT_EQ(floorMod(-7, 2), 1);
  EXPECT_EQ(floorMod(7, -2), -1);
  EXPECT_EQ(floorMod(-7, -2), -1);
  EXPECT_EQ(floorMod(6, 3), 0);
  EXPECT_EQ(foldBinary(BinaryOp::Mul, Value::ofInt(65536), Value::ofInt(65536)).error,
            "integer overflow (4294967296 does not fit in 32 bits)");
}

TEST(Resolve, ImplicitFullAttention) {
  ResolvedPattern r = resolved("pattern full\nlayout seq\n");
  ASSERT_EQ(r.branches.size(), 1u);
  EXPECT_EQ(r.branches[0].name, "full");
  EXPECT_FALSE(r.branches[0].mask);
  EXPECT_EQ(r.branches[0].group, GroupKind::None);
  EXPECT_EQ(r.branches[0].gate, GateKind::None);
  EXPECT_FALSE(r.branches[0].scale);
  EXPECT_DOUBLE_EQ(r.branches[0].weight, 1.0);
}

TEST(Resolve, GroupKeyAndLocationsSurviveInlining) {
  ResolvedPattern r = resolved(
      "pattern g\nlayout video\nparam tsize = 4\n"
      "def tgroup(t) = (t.frame - t.shot_start) / tsize\n"
      "group tgroup(t)\n");
  const ResolvedBranch& b = r.branches[0];
  EXPECT_EQ(b.group, GroupKind::Key);
  EXPECT_EQ(dumpExpr(*b.groupKey), "(/ (- t.frame t.shot_start) 4)");
  EXPECT_EQ(b.groupKey->type, Type::Int);
  EXPECT_EQ(b.groupKey->loc.line, 4);  // the def body's location
  const Field* f = b.groupKey->as<Binary>()->lhs->as<Binary>()->lhs->as<Field>();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->tok, "t");
  EXPECT_EQ(f->tokLoc.line, 5);  // the argument at the call site
}

TEST(Resolve, ConstantIntegerOverflowIsAnError) {
  Diagnostics d;
  EXPECT_FALSE(compileSource("pattern o\nlayout seq\nmask q.pos < 65536 * 65536\n", "o.moga", {}, d));
  EXPECT_EQ(d.errorMessages(),
            std::vector<std::string>{"integer overflow (4294967296 does not fit in 32 bits) in a "
                                     "constant subexpression"});
}

}  // namespace
}  // namespace moga::frontend
