// runtime/reference/backward.h: the float64 gradient of the CPU reference against central finite
// differences of the forward (reference_attention<double>), its log-sum-exp against a direct
// computation, and the balance loss against hand-computed values.
//
// The finite-difference harness is reference_backward_fd.h.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "runtime/reference/backward.h"
#include "test/unit/reference_backward_fd.h"
#include "test/unit/reference_fixtures.h"


namespace {

using namespace moga::ref;
using nlohmann::json;

using namespace bwdtest;

// mask kv.pos > q.pos: the last token sees nothing.
const char* const kFutureMask = R"({"args": ["q", "kv"], "ops": [
  {"op": "arg", "index": 0}, {"op": "arg", "index": 1},
  {"op": "coord", "operands": [0], "coord": "pos"}, {"op": "coord", "operands": [1], "coord": "pos"},
  {"op": "cmpi", "pred": "sgt", "operands": [3, 2]}], "result": 4})";
// key(t) = 2 * (t.pos // 3): the odd group ids are empty.
const char* const kGappedKey = R"({"args": ["t"], "ops": [
  {"op": "arg", "index": 0}, {"op": "coord", "operands": [0], "coord": "pos"},
  {"op": "const", "type": "i64", "value": 3}, {"op": "floordivsi", "operands": [1, 2]},
  {"op": "const", "type": "i64", "value": 2}, {"op": "muli", "operands": [3, 4]}], "result": 5})";
// bias = -inf everywhere: every row is empty.
const char* const kMinusInfBias = R"({"args": ["q", "kv", "h"], "ops": [
  {"op": "const", "type": "f32", "value": "-inf"}], "result": 0})";

json kernel(const char* name, double weight, const char* structure) {
  return {{"name", name}, {"weight", weight}, {"accumulate", false}, {"route", nullptr}, {"route_gate", false},
          {"scale", nullptr}, {"softcap", nullptr}, {"structure", structure}, {"uses", json::array()},
          {"tiles", {{"block_m", 64}, {"block_n", 64}, {"warps", 4}, {"stages", 2}, {"head_dim", 64}}},
          {"mask", nullptr}, {"key", nullptr}, {"bias", nullptr}, {"gate", nullptr}};
}
json routed(const char* name, double weight, int M, int topk, bool gate) {
  json k = kernel(name, weight, "grouped");
  k["route"] = {{"groups", M}, {"topk", topk}};
  k["route_gate"] = gate;
  return k;
}
PatternSpec pattern(const char* layout, std::vector<json> kernels) {
  for (size_t i = 1; i < kernels.size(); ++i) kernels[i]["accumulate"] = true;
  return parse_manifest(json{{"pattern", "test"}, {"layout", layout}, {"params", json::object()}, {"kernels", kernels}});
}

// Random multiples of 2^-10, |x| < 8 (see the file comment).
// ---- q, k, v ------------------------------------------------------------------------------------------

TEST(ReferenceBackward, DenseOddLength) {
  std::mt19937_64 rng(reftest::test_seed("ReferenceBackward.DenseOddLength"));
  Case c(pattern("seq", {kernel("full", 1.0, "dense")}), 2, 7, rng);
  const RefGrads g = backward(c);
  EXPECT_TRUE(g.dx.empty());
  ASSERT_EQ(g.drouter_w.size(), 1u);
  EXPECT_TRUE(g.drouter_w[0].empty());
  check_qkv(c, g);
  // A head dim that is no multiple of 4 (the dot products' tail), 3 heads.
  Case odd(pattern("seq", {kernel("full", 1.0, "dense")}), 1, 5, rng, 0, 3, 7);
  check_qkv(odd, backward(odd));
}

TEST(ReferenceBackward, AllMaskedRowsGetExactlyZero) {
  std::mt19937_64 rng(reftest::test_seed("ReferenceBackward.AllMaskedRowsGetExactlyZero"));
  json future = kernel("future", 0.7, "masked");
  future["mask"] = json::parse(kFutureMask);
  const int B = 2, N = 9, H = 2, D = 4;
  Case c(pattern("seq", {future}), B, N, rng);
  const RefGrads g = backward(c);
  check_all_finite(g);
  // The last token's row is empty: no dq; it is no one's key but its own (masked): no dk, dv either.
  // Token 0 is a key of no row (kv.pos > q.pos never holds for kv = 0): no dk, dv.
  for (int b = 0; b < B; ++b)
    for (int x = 0; x < H * D; ++x) {
      const size_t last = ((size_t)b * N + N - 1) * H * D + x, first = (size_t)b * N * H * D + x;
      EXPECT_EQ(g.dq[last], 0.0);
      EXPECT_EQ(g.dk[first], 0.0);
      EXPECT_EQ(g.dv[first], 0.0);
    }
  check_qkv(c, g);

  // A bias of -inf everywhere empties every row: every gradient exactly 0.
  json all_inf = kernel("all_inf", 1.0, "dense");
  all_inf["bias"] = json::parse(kMinusInfBias);
  Case e(pattern("seq", {all_inf}), 1, 5, rng);
  const RefGrads z = backward(e);
  for (const auto* v : {&z.dq, &z.dk, &z.dv})
    for (double x : *v) ASSERT_EQ(x, 0.0);
}

TEST(ReferenceBackward, ComputedGroupsWithEmptyGroupsAndMask) {
  std::mt19937_64 rng(reftest::test_seed("ReferenceBackward.ComputedGroupsWithEmptyGroupsAndMask"));
  json grouped = kernel("gapped", 1.0, "grouped_masked");
  grouped["key"] = json::parse(kGappedKey);
  grouped["mask"] = json::parse(reftest::kCausalMask);
  Case c(pattern("seq", {grouped}), 2, 11, rng);  // groups 0, 2, 4, 6 (the last of 2 tokens); 1, 3, 5 empty
  const RefGrads g = backward(c);
  check_all_finite(g);
  check_qkv(c, g);
}

TEST(ReferenceBackward, SoftcapScaleBiasAndGatePrograms) {
  std::mt19937_64 rng(reftest::test_seed("ReferenceBackward.SoftcapScaleBiasAndGatePrograms"));
  json causal = kernel("causal", 0.25, "masked");
  causal["mask"] = json::parse(reftest::kCausalMask);
  causal["gate"] = json::parse(reftest::kPosGate);
  json sliding = kernel("sliding", 0.75, "masked");
  sliding["mask"] = json::parse(reftest::kSlidingMask);
  sliding["bias"] = json::parse(reftest::kDistanceBias);
  sliding["softcap"] = 1.5;  // |q.k * scale| reaches several c: the tanh saturates for some pairs
  sliding["scale"] = 0.7;
  Case c(pattern("seq", {causal, sliding}), 1, 13, rng);
  const RefGrads g = backward(c);
  check_qkv(c, g);
}

// Routed kernels: q, k, v, and the router through the gate p_g.
void check_routed(int topk, bool gate, const char* test) {
  std::mt19937_64 rng(reftest::test_seed(test));
  const int M = 4, dm = 3;
  json r = routed("dyn", 0.8, M, topk, gate);
  if (!gate) r["gate"] = json::parse(reftest::kPosGate);
  Case c(pattern("seq", {r}), 2, 9, rng, dm);
  const RefGrads g = backward(c);
  check_all_finite(g);
  ASSERT_EQ(g.dx.size(), c.x.size());
  ASSERT_EQ(g.drouter_w.size(), 1u);
  ASSERT_EQ(g.drouter_w[0].size(), c.w[0].size());
  check_qkv(c, g);
  // dx = dlogits W^T, dW = x^T dlogits; a softmax Jacobian's output sums to 0 over the groups.
  ASSERT_EQ(g.dlogits[0].size(), (size_t)c.B * c.N * M);
  std::vector<double> dx(c.x.size(), 0.0), dW(c.w[0].size(), 0.0);
  for (int t = 0; t < c.B * c.N; ++t) {
    double sum = 0, mag = 0;
    for (int m = 0; m < M; ++m) {
      const double dl = g.dlogits[0][(size_t)t * M + m];
      sum += dl, mag += std::fabs(dl);
      for (int d = 0; d < dm; ++d) {
        dx[(size_t)t * dm + d] += dl * c.w[0][(size_t)d * M + m];
        dW[(size_t)d * M + m] += c.x[(size_t)t * dm + d] * dl;
      }
    }
    EXPECT_LE(std::fabs(sum), 1e-14 * std::max(1.0, mag));
  }
  EXPECT_LE(rel_l2(g.dx, dx), 1e-13);
  EXPECT_LE(rel_l2(g.drouter_w[0], dW), 1e-13);
  if (gate) {
    check_fd(c, c.x, g.dx, "dx");
    check_fd(c, c.w[0], g.drouter_w[0], "dW");
  } else {
    // The gate program does not depend on the router: no router gradient without the balance loss.
    for (double v : g.dx) EXPECT_EQ(v, 0.0);
    for (double v : g.drouter_w[0]) EXPECT_EQ(v, 0.0);
  }
}

TEST(ReferenceBackward, RoutedTop1WithRouterGate) { check_routed(1, true, "ReferenceBackward.RoutedTop1WithRouterGate"); }
TEST(ReferenceBackward, RoutedTop2WithRouterGate) { check_routed(2, true, "ReferenceBackward.RoutedTop2WithRouterGate"); }
TEST(ReferenceBackward, RoutedTop2WithGateProgram) { check_routed(2, false, "ReferenceBackward.RoutedTop2WithGateProgram"); }

// The moga pattern's shape (kernels_src/patterns/moga.moga): mean of a routed branch with the router
// gate, STGA (the fixture's mask, wr = wc = 2, tsize = 2, ext = 1), and frame-local groups; two shots.
void check_moga(int topk, const char* test) {
  std::mt19937_64 rng(reftest::test_seed(test));
  const int M = 3, dm = 4;
  json dyn = routed("dynamic", 1.0 / 3, M, topk, true);
  json stga = kernel("stga", 1.0 / 3, "masked");
  stga["mask"] = json::parse(reftest::kStgaMask);
  json fl = kernel("frame_local", 1.0 / 3, "grouped");
  fl["key"] = json::parse(reftest::kFrameKey);
  Case c(pattern("video", {dyn, stga, fl}), 1, VideoShape{5, 2, 3, {0, 3}}, rng, dm);  // N = 30
  const RefGrads g = backward(c, /*balance=*/true);
  check_all_finite(g);
  ASSERT_EQ(g.drouter_w.size(), 3u);
  EXPECT_TRUE(g.drouter_w[1].empty() && g.drouter_w[2].empty());
  check_qkv(c, g);
  check_fd(c, c.x, g.dx, "dx", true);
  check_fd(c, c.w[0], g.drouter_w[0], "dW", true);
}

TEST(ReferenceBackward, MogaMixtureTop1) { check_moga(1, "ReferenceBackward.MogaMixtureTop1"); }
TEST(ReferenceBackward, MogaMixtureTop2) { check_moga(2, "ReferenceBackward.MogaMixtureTop2"); }

// ---- balance loss -------------------------------------------------------------------------------------

TEST(ReferenceBackward, BalanceLossHandComputed) {
  std::mt19937_64 rng(reftest::test_seed("ReferenceBackward.BalanceLossHandComputed"));
  // d_model = 1, M = 2, W = [1, -1]: logits (x, -x), p_0 = sigmoid(2x). x = 0.5, 0.5, -0.25, 1 route to
  // groups 0, 0, 1, 0: F = (3/4, 1/4), P_0 = mean sigmoid(2x), P_1 = 1 - P_0.
  Case c(pattern("seq", {routed("dyn", 1.0, 2, 1, true)}), 1, 4, rng, 1);
  c.x = {0.5f, 0.5f, -0.25f, 1.0f};
  c.w[0] = {1.0f, -1.0f};
  auto sig = [](double a) { return 1.0 / (1.0 + std::exp(-a)); };
  const double P0 = (sig(1.0) + sig(1.0) + sig(-0.5) + sig(2.0)) / 4;
  const double want = 0.1 * 2 * (0.75 * P0 + 0.25 * (1 - P0));
  RefGrads g = backward(c, true);
  EXPECT_NEAR(g.balance_loss, want, 1e-15);
  // Off unless asked.
  EXPECT_EQ(backward(c, false).balance_loss, 0.0);

  // W = 0: every p = 1/2, ties go to group 0: F = (1, 0), P = (1/2, 1/2), L = 0.1 * 2 * 1/2.
  c.w[0] = {0.0f, 0.0f};
  g = backward(c, true);
  EXPECT_NEAR(g.balance_loss, 0.1, 1e-15);

  // Top-2 of M = 3 with W = 0 (over a batch of 2): ties pick groups 0 and 1 for every token,
  // F = (1/2, 1/2, 0), P = 1/3 each: L = 0.1 * 3 * (1/3) = 0.1.
  Case c3(pattern("seq", {routed("dyn", 1.0, 3, 2, true)}), 2, 3, rng, 1);
  c3.w[0] = {0.0f, 0.0f, 0.0f};
  EXPECT_NEAR(backward(c3, true).balance_loss, 0.1, 1e-15);
}

TEST(ReferenceBackward, BalanceLossGradient) {
  std::mt19937_64 rng(reftest::test_seed("ReferenceBackward.BalanceLossGradient"));
  // A routed kernel without the router gate: the router's whole gradient is the balance loss's; and
  // a top-2 kernel with the gate: both terms. dout = 0 in the first leaves the balance loss alone.
  Case c(pattern("seq", {routed("dyn", 1.0, 5, 1, false)}), 2, 8, rng, 3);  // M = 5 > tokens per group: empty groups
  std::fill(c.dout.begin(), c.dout.end(), 0.0);
  RefGrads g = backward(c, true);
  check_fd(c, c.x, g.dx, "dx (balance only)", true);
  check_fd(c, c.w[0], g.drouter_w[0], "dW (balance only)", true);

  Case c2(pattern("seq", {routed("a", 0.5, 3, 2, true), routed("b", 0.5, 4, 1, true)}), 1, 7, rng, 3);
  g = backward(c2, true);
  check_fd(c2, c2.x, g.dx, "dx (two routers)", true);
  check_fd(c2, c2.w[0], g.drouter_w[0], "dW a", true);
  check_fd(c2, c2.w[1], g.drouter_w[1], "dW b", true);
}

// ---- log-sum-exp --------------------------------------------------------------------------------------

TEST(ReferenceBackward, LseAgainstDirectComputation) {
  std::mt19937_64 rng(reftest::test_seed("ReferenceBackward.LseAgainstDirectComputation"));
  const int B = 2, N = 10, H = 2, D = 4, M = 3, K = 2;
  json future = kernel("future", 1.0, "masked");
  future["mask"] = json::parse(kFutureMask);
  json dyn = routed("dyn", 1.0, M, K, true);
  dyn["bias"] = json::parse(reftest::kDistanceBias);
  dyn["softcap"] = 2.0;
  Case c(pattern("seq", {future, dyn}), B, N, rng, 3);
  const RefInputs in = c.inputs(3);
  const auto lse = reference_lse(c.spec, in);
  RefOutput out;
  reference_attention(c.spec, in, out);
  ASSERT_EQ(lse.size(), 2u);
  ASSERT_EQ(lse[0].size(), (size_t)B * H * N);
  ASSERT_EQ(lse[1].size(), (size_t)B * H * N * K);
  auto tok = [&](int t) { return reftest::tok_of(t, 1, 1, N, {}); };
  auto dot = [&](int b, int t, int kv, int h) {
    double s = 0;
    for (int d = 0; d < D; ++d)
      s += (double)c.q[(((size_t)b * N + t) * H + h) * D + d] * c.k[(((size_t)b * N + kv) * H + h) * D + d];
    return s / std::sqrt((double)D);
  };
  const std::vector<int>& gid = out.groups[1].gid;
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h)
      for (int t = 0; t < N; ++t) {
        double sum = 0;
        for (int kv = t + 1; kv < N; ++kv) sum += std::exp(dot(b, t, kv, h));
        const double got = lse[0][((size_t)b * H + h) * N + t];
        if (t == N - 1) EXPECT_EQ(got, -std::numeric_limits<double>::infinity());
        else EXPECT_NEAR(got, std::log(sum), 1e-13);
        for (int j = 0; j < K; ++j) {
          const int grp = gid[((size_t)b * N + t) * K + j];
          double s = 0;
          for (int kv = 0; kv < N; ++kv) {
            if (gid[((size_t)b * N + kv) * K] != grp && gid[((size_t)b * N + kv) * K + 1] != grp) continue;
            s += std::exp(2.0 * std::tanh(dot(b, t, kv, h) / 2.0) + reftest::distance_bias(tok(t), tok(kv), h));
          }
          EXPECT_NEAR(lse[1][(((size_t)b * H + h) * N + t) * K + j], std::log(s), 1e-13);
        }
      }
}

// ---- the rest -----------------------------------------------------------------------------------------

TEST(ReferenceBackward, ThreadsAndAGivenRoutingChangeNothing) {
  std::mt19937_64 rng(reftest::test_seed("ReferenceBackward.ThreadsAndAGivenRoutingChangeNothing"));
  json stga = kernel("stga", 0.5, "masked");
  stga["mask"] = json::parse(reftest::kStgaMask);
  Case c(pattern("video", {routed("dyn", 0.5, 4, 2, true), stga}), 2, VideoShape{6, 4, 4, {0, 2}}, rng, 5);
  const RefGrads one = backward(c, true, 1), many = backward(c, true, 3);
  // Each gradient element has one writer, in a fixed order: bit-identical.
  EXPECT_EQ(one.dq, many.dq);
  EXPECT_EQ(one.dk, many.dk);
  EXPECT_EQ(one.dv, many.dv);
  EXPECT_EQ(one.dx, many.dx);
  EXPECT_EQ(one.drouter_w[0], many.drouter_w[0]);
  EXPECT_EQ(one.dlogits[0], many.dlogits[0]);
  EXPECT_EQ(one.balance_loss, many.balance_loss);

  // The forward's own routing given back (as a GPU test passes the GPU router's): the same gradients.
  RefOutput out;
  RefInputs in = c.inputs(2);
  reference_attention(c.spec, in, out);
  in.routing = {&out.groups[0], nullptr};
  RefGrads given;
  BackwardOptions opt;
  opt.balance_loss = true;
  reference_attention_backward(c.spec, in, c.dout.data(), opt, given);
  EXPECT_EQ(given.dq, one.dq);
  EXPECT_EQ(given.dk, one.dk);
  EXPECT_EQ(given.dx, one.dx);
  EXPECT_EQ(given.balance_loss, one.balance_loss);

  // Without router inputs: q, k, v still, no router gradient.
  in.x = nullptr, in.d_model = 0, in.router_weight.clear();
  opt.balance_loss = false;
  reference_attention_backward(c.spec, in, c.dout.data(), opt, given);
  EXPECT_EQ(given.dv, one.dv);
  EXPECT_TRUE(given.dx.empty());
  EXPECT_TRUE(given.drouter_w[0].empty());
}

TEST(ReferenceBackward, PerKernelTermsAreEachKernelAlone) {
  std::mt19937_64 rng(reftest::test_seed("ReferenceBackward.PerKernelTermsAreEachKernelAlone"));
  json causal = kernel("causal", 0.25, "masked");
  causal["mask"] = json::parse(reftest::kCausalMask);
  json sliding = kernel("sliding", 0.75, "masked");
  sliding["mask"] = json::parse(reftest::kSlidingMask);
  sliding["softcap"] = 1.5;
  Case c(pattern("seq", {causal, routed("dyn", 0.5, 3, 2, true), sliding}), 2, 13, rng, 3);
  BackwardOptions opt;
  opt.per_kernel = true;
  RefGrads all;
  reference_attention_backward(c.spec, c.inputs(2), c.dout.data(), opt, all);
  ASSERT_EQ(all.terms.size(), 3u);
  const RefGrads plain = backward(c);
  EXPECT_TRUE(backward(c).terms.empty());
  EXPECT_LE(rel_l2(all.dq, plain.dq), 1e-14);
  EXPECT_LE(rel_l2(all.dk, plain.dk), 1e-14);
  EXPECT_LE(rel_l2(all.dv, plain.dv), 1e-14);
  for (int ki = 0; ki < 3; ++ki) {
    // The pattern of kernel ki alone (its weight kept), with its own router weight.
    Case one = c;
    one.spec.kernels = {c.spec.kernels[ki]};
    one.w = {c.w[ki]};
    const RefGrads g = backward(one);
    EXPECT_EQ(all.terms[ki].dq, g.dq) << ki;
    EXPECT_EQ(all.terms[ki].dk, g.dk) << ki;
    EXPECT_EQ(all.terms[ki].dv, g.dv) << ki;
  }
}

TEST(ReferenceBackward, InputErrors) {
  std::mt19937_64 rng(reftest::test_seed("ReferenceBackward.InputErrors"));
  Case c(pattern("seq", {routed("dyn", 1.0, 3, 1, true)}), 1, 4, rng, 2);
  RefGrads g;
  BackwardOptions opt;
  RefInputs in = c.inputs();
  auto message = [&](const double* dout) {
    try {
      reference_attention_backward(c.spec, in, dout, opt, g);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message(nullptr), "reference backward: dout must be given");
  RefOutput out;
  reference_attention(c.spec, in, out);
  in.routing = {&out.groups[0]};
  in.x = nullptr, in.d_model = 0, in.router_weight.clear();
  opt.balance_loss = true;
  EXPECT_EQ(message(c.dout.data()),
            "reference backward: kernel 'dyn': the balance loss needs router inputs (x, d_model, router_weight[0])");
  in.router_weight = {c.w[0].data()};
  opt.balance_loss = false;
  EXPECT_EQ(message(c.dout.data()),
            "reference backward: kernel 'dyn': router_weight[0] is given but x / d_model are not; give both for the "
            "router gradient, or neither");
  in = c.inputs();
  in.head_dim = 0;
  EXPECT_NE(message(c.dout.data()).find("head_dim"), std::string::npos);
}

}  // namespace
