// The reference backward on the shipped patterns (kernels_src/patterns) and the test patterns with
// every score hook (test/unit/patterns), compiled by moga-compile at build time with parameters that
// fit tiny shapes (reference.cmake): dq, dk, dv, and dx, dW for the routed ones (with the balance
// loss), against finite differences (reference_backward_fd.h).
#include <gtest/gtest.h>

#include <ostream>
#include <string>

#include "runtime/reference/backward.h"
#include "test/unit/reference_backward_fd.h"

namespace reftest {
uint64_t test_seed(const char* test);
}

namespace {

using namespace moga::ref;
using namespace bwdtest;

PatternSpec compiled(const std::string& label) {
  const std::string stem = label.substr(0, label.find('.'));
  return load_manifest(std::string(MOGA_BWD_PATTERN_DIR) + "/" + label + "/" + stem + ".json");
}

struct Row {
  const char* label;  // directory under MOGA_BWD_PATTERN_DIR (the pattern's name)
  bool video;
};
void PrintTo(const Row& r, std::ostream* os) { *os << r.label; }

class ReferenceBackwardPatterns : public ::testing::TestWithParam<Row> {};

TEST_P(ReferenceBackwardPatterns, GradientsMatchFiniteDifferences) {
  const Row& r = GetParam();
  std::mt19937_64 rng(reftest::test_seed(r.label));
  const PatternSpec spec = compiled(r.label);
  bool routed = false;
  for (const auto& k : spec.kernels) routed = routed || k.route.has_value();
  // seq: N = 11 (odd); video: 3 frames of 4 x 4 (N = 48, no tile multiple), shots at frames 0 and 2.
  Case c = r.video ? Case(spec, 1, VideoShape{3, 4, 4, {0, 2}}, rng, routed ? 3 : 0)
                   : Case(spec, 2, 11, rng, routed ? 3 : 0);
  const RefGrads g = backward(c, /*balance=*/routed);
  check_all_finite(g);
  check_qkv(c, g);
  for (size_t ki = 0; ki < spec.kernels.size(); ++ki) {
    if (!spec.kernels[ki].route) continue;
    check_fd(c, c.w[ki], g.drouter_w[ki], "dW " + spec.kernels[ki].name, true);
  }
  if (routed) check_fd(c, c.x, g.dx, "dx", true);
}

INSTANTIATE_TEST_SUITE_P(Shipped, ReferenceBackwardPatterns,
                         ::testing::Values(Row{"full", false}, Row{"causal", false}, Row{"sliding_window", false},
                                           Row{"moga", true}, Row{"moga_dynamic", true}, Row{"stga", true},
                                           Row{"natten2d", true}, Row{"radial", true}, Row{"frame_local", true},
                                           Row{"attn_hooks", false}, Row{"attn_top2_mix", true}),
                         [](const ::testing::TestParamInfo<Row>& i) { return std::string(i.param.label); });

}  // namespace
