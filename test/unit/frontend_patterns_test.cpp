// Every shipped pattern in kernels_src/patterns parses, checks and resolves without a warning,
// and has the structure its comment promises.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <set>

#include "compiler/frontend/frontend.h"

namespace moga::frontend {
namespace {

std::filesystem::path patternDir() {
  const char* env = std::getenv("MOGA_SOURCE_DIR");
  return std::filesystem::path(env ? env : MOGA_SOURCE_DIR_DEFAULT) / "kernels_src" / "patterns";
}

ResolvedPattern load(const std::string& name, const ParamOverrides& overrides = {}) {
  Diagnostics d;
  auto r = compileFile((patternDir() / (name + ".moga")).string(), overrides, d);
  EXPECT_TRUE(r) << d.renderAll();
  EXPECT_TRUE(d.all().empty()) << "no warnings expected in a shipped pattern:\n" << d.renderAll();
  return r ? std::move(*r) : ResolvedPattern{};
}

const std::vector<std::string> kShipped = {"full",        "causal",   "sliding_window",
                                           "moga_dynamic", "stga",     "frame_local",
                                           "moga",        "radial",   "natten2d"};

TEST(ShippedPatterns, TheDirectoryHoldsExactlyTheListedPatterns) {
  std::set<std::string> found;
  for (const auto& entry : std::filesystem::directory_iterator(patternDir()))
    if (entry.path().extension() == ".moga") found.insert(entry.path().stem().string());
  EXPECT_EQ(found, std::set<std::string>(kShipped.begin(), kShipped.end()));
}

TEST(ShippedPatterns, EveryOneLoadsAndIsNamedAfterItsFile) {
  for (const std::string& name : kShipped) {
    SCOPED_TRACE(name);
    ResolvedPattern r = load(name);
    EXPECT_EQ(r.name, name);
    EXPECT_FALSE(r.branches.empty());
  }
}

TEST(ShippedPatterns, Full) {
  ResolvedPattern r = load("full");
  EXPECT_EQ(r.layout, Layout::Seq);
  EXPECT_EQ(dumpExpr(*r.branches.at(0).mask), "true");
}

TEST(ShippedPatterns, Causal) {
  EXPECT_EQ(dumpExpr(*load("causal").branches.at(0).mask), "(>= q.pos kv.pos)");
}

TEST(ShippedPatterns, SlidingWindow) {
  EXPECT_EQ(dumpExpr(*load("sliding_window").branches.at(0).mask),
            "(<= (abs (- q.pos kv.pos)) 256)");
  EXPECT_EQ(dumpExpr(*load("sliding_window", {{"window", "1024"}}).branches.at(0).mask),
            "(<= (abs (- q.pos kv.pos)) 1024)");
}

TEST(ShippedPatterns, MogaDynamic) {
  ResolvedPattern r = load("moga_dynamic");
  const ResolvedBranch& b = r.branches.at(0);
  ASSERT_TRUE(b.route);
  EXPECT_EQ(b.route->groups, 5);
  EXPECT_EQ(b.route->topK, 1);
  EXPECT_EQ(b.group, GroupKind::Route);
  EXPECT_EQ(b.gate, GateKind::RouteProb);
  EXPECT_FALSE(b.mask);
  EXPECT_EQ(load("moga_dynamic", {{"M", "20"}}).branches.at(0).route->groups, 20);
}

TEST(ShippedPatterns, FrameLocal) {
  ResolvedPattern r = load("frame_local");
  const ResolvedBranch& b = r.branches.at(0);
  EXPECT_EQ(b.group, GroupKind::Key);
  EXPECT_EQ(dumpExpr(*b.groupKey), "t.frame");
}

TEST(ShippedPatterns, Stga) {
  EXPECT_EQ(dumpExpr(*load("stga").branches.at(0).mask),
            "(&& (== (+ (* (/ (* q.row 2) H) 2) (/ (* q.col 2) W)) "
            "(+ (* (/ (* kv.row 2) H) 2) (/ (* kv.col 2) W))) "
            "(|| (|| (&& (== q.shot kv.shot) "
            "(== (/ (- q.frame q.shot_start) 4) (/ (- kv.frame kv.shot_start) 4))) "
            "(&& (>= kv.frame (- q.shot_start 2)) (< kv.frame q.shot_start))) "
            "(&& (>= kv.frame q.shot_end) (< kv.frame (+ q.shot_end 2)))))");
}

TEST(ShippedPatterns, MogaIsTheMeanOfItsThreeParts) {
  ResolvedPattern r = load("moga");
  EXPECT_EQ(r.output, OutputKind::Mean);
  ASSERT_EQ(r.branches.size(), 3u);
  EXPECT_EQ(r.branches[0].name, "dynamic");
  EXPECT_EQ(r.branches[1].name, "stga");
  EXPECT_EQ(r.branches[2].name, "frame_local");
  for (const ResolvedBranch& b : r.branches) EXPECT_DOUBLE_EQ(b.weight, 1.0 / 3.0);
  // Self-contained, yet the same branches as the single-branch files.
  EXPECT_EQ(dumpExpr(*r.branches[1].mask), dumpExpr(*load("stga").branches.at(0).mask));
  EXPECT_EQ(dumpExpr(*r.branches[2].groupKey),
            dumpExpr(*load("frame_local").branches.at(0).groupKey));
  EXPECT_EQ(r.branches[0].route->groups, load("moga_dynamic").branches.at(0).route->groups);
}

TEST(ShippedPatterns, Radial) {
  EXPECT_EQ(dumpExpr(*load("radial").branches.at(0).mask),
            "(|| (<= (abs (- q.frame kv.frame)) 1) "
            "(<= (* (max (abs (- q.row kv.row)) (abs (- q.col kv.col))) "
            "(abs (- q.frame kv.frame))) 32))");
}

TEST(ShippedPatterns, Natten2d) {
  EXPECT_EQ(dumpExpr(*load("natten2d").branches.at(0).mask),
            "(&& (&& (== q.frame kv.frame) "
            "(<= (abs (- kv.row (max 3 (min q.row (- (- H 1) 3))))) 3)) "
            "(<= (abs (- kv.col (max 3 (min q.col (- (- W 1) 3))))) 3))");
}

}  // namespace
}  // namespace moga::frontend
