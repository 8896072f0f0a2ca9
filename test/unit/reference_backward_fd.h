// The finite-difference harness of the reference backward tests (reference_backward*_test.cpp): a
// pattern with owned random inputs, the loss sum(out * dout) [+ the balance loss, written from its
// definition], and the check of an analytic gradient against central differences.
//
// Finite differences: inputs are random multiples of 2^-10 (|x| < 8), so x +- 2^-13 and x +- 2^-14 are
// exact in float and the forward sees exactly the perturbed value; Richardson's extrapolation of the
// two central differences, (4 D(h/2) - D(h)) / 3, has an O(h^4) error (~1e-15) and a rounding error of
// ~1e-11. Every gradient must match by relative L2 <= kFdTol. An element whose perturbation changes a
// top-k selection (the loss is discontinuous there) is not differentiable: it is skipped and counted,
// and at most max(2, 5%) of the elements may be skipped (Case draws its inputs away from ties, so
// none is expected).
#pragma once

#include <random>
#include <string>
#include <vector>

#include "runtime/reference/backward.h"

namespace bwdtest {

using moga::ref::PatternSpec;
using moga::ref::RefGrads;
using moga::ref::RefInputs;
using moga::ref::RefOutput;
using moga::ref::VideoShape;

constexpr double kFdTol = 1e-8;

std::vector<float> qrandn(size_t n, std::mt19937_64& rng, double sd = 1.0);  // multiples of 2^-10
std::vector<double> randn_d(size_t n, std::mt19937_64& rng);

// A pattern with its inputs, owned: q, k, v (sd 1.5, 1.5, 1), x and each routed kernel's W when
// dm > 0 (a token's x is redrawn while two of its k+1 largest logits are within 0.01, so that no
// finite-difference step changes the routing), dout ~ N(0, 1). H = 2 heads of D = 4 unless given.
struct Case {
  PatternSpec spec;
  int B = 1, N = 0, H = 2, D = 4, dm = 0;
  VideoShape video;
  bool is_video = false;
  std::vector<float> q, k, v, x;
  std::vector<std::vector<float>> w;  // per kernel; empty: not routed
  std::vector<double> dout;

  Case(PatternSpec s, int B, int N, std::mt19937_64& rng, int dm = 0, int heads = 2, int head_dim = 4);
  Case(PatternSpec s, int B, VideoShape vs, std::mt19937_64& rng, int dm = 0);
  RefInputs inputs(int threads = 1) const;

 private:
  void init(std::mt19937_64& rng);
  bool near_tie(int t) const;
};

// The balance loss from its definition (backward.h): the forward's groups, an independent router softmax.
double balance_loss(const Case& c, const RefOutput& out, double weight);
double rel_l2(const std::vector<double>& got, const std::vector<double>& want);
RefGrads backward(const Case& c, bool balance = false, int threads = 1);

// Finite differences of the loss w.r.t. every element of `param` (a member of c) against `grad`.
void check_fd(Case& c, std::vector<float>& param, const std::vector<double>& grad, const std::string& what,
              bool balance = false);
void check_qkv(Case& c, const RefGrads& g);  // dq, dk, dv
void check_all_finite(const RefGrads& g);

}  // namespace bwdtest
