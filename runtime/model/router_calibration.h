// Router calibration (docs/model.md, "Router calibration (random weights)"): the host-side math shared
// by the CPU and GPU backends.
//
// Why it exists: a routed block's logits are r_t = W h_t with h_t = LN(x_t)(1 + m1) + m0. With seeded
// random router weights (normal(0, 0.02)) the token-independent part of h (the modulation shift m0 and
// the tokens' shared mean direction) dominates W h_t, so nearly every token lands in one or two groups
// and the routed pattern degenerates to dense attention: benchmarks of it measure nothing. A trained
// MoGA router is balanced (the paper trains it with a balance loss). The calibration makes a random
// router behave like a balanced one while keeping it a plain bias-free linear map (no new checkpoint
// keys), from the statistics of the block's real router input (RouterCalibration below: when):
//   1. u = hbar / |hbar| (hbar: mean of h over all tokens); W' = W - (W u) u^T, so W' hbar = 0: every
//      group's mean logit is 0.
//   2. s_m = standard deviation over the tokens of W'_m h_t; W''_m = W'_m * (mean(s) / s_m): every
//      group's logits spread equally, the overall scale is kept.
// Degenerate cases skip their step: |hbar| = 0 keeps W, s_m = 0 keeps row m (mean(s) is over the
// rows with s_m > 0).
//
// A backend accumulates the token sums over fixed chunks of kCalibrationRowChunk rows (each chunk's
// sum in its own slot, the chunks added in order, in double), so the result depends neither on the
// thread count nor, on the GPU, on the number of ranks of a sequence-parallel run.
#pragma once

#include <string>
#include <vector>

namespace moga::model {

// When a backend calibrates its routers (docs/model.md, "Router calibration"). Every calibration starts
// from the block's original router weight (a host copy kept at the first one), never from an earlier
// calibrated one; blocks are calibrated in order within the forward (a block's input depends on the
// routers before it).
//   Off:   the routers are used as loaded.
//   First: once, at the first forward; every later forward keeps those routers.
//   Step:  at every forward whose timestep differs from the one the routers were last calibrated for
//          (the first forward of each sampling step; with CFG the unconditional forward of a step has
//          the conditional one's timestep and uses its routers). The modulation shift m0 of the router
//          input depends on the timestep, so routers fixed at the first step drift out of balance.
enum class RouterCalibration { Off, First, Step };

// "off" | "first" | "step" (the CLI's spelling).
const char* router_calibration_name(RouterCalibration m);
// The inverse; throws std::invalid_argument naming the three for anything else.
RouterCalibration parse_router_calibration(const std::string& s);

// Whether a forward at `timestep` calibrates, after `done` calibrating forwards, the last one at `last`
// (both backends; exact comparison: a step's forwards get the sampler's same double).
inline bool router_calibration_due(RouterCalibration m, int done, double last, double timestep) {
  if (m == RouterCalibration::Off) return false;
  if (done == 0) return true;
  return m == RouterCalibration::Step && timestep != last;
}

// Rows per partial sum (both backends; the GPU kernels in dit_kernels.cuh take it as an argument).
constexpr int kCalibrationRowChunk = 64;

// Step 1. W [M][d] row-major (the checkpoint's layout); hsum [d]: the sum of h over the tokens (only
// its direction matters). Returns W' = W - (W u) u^T, computed in double; W when |hsum| = 0.
std::vector<float> router_project_mean(const std::vector<float>& W, int M, int d, const std::vector<double>& hsum);

// Step 2. Wp = W' [M][d]; lsum[m], lsq[m]: the sum and the sum of squares over `tokens` tokens of the
// logits W'_m h_t. Returns W'' (rows with s_m = 0 unchanged; all of W' when every s_m is 0).
std::vector<float> router_equalize_spread(const std::vector<float>& Wp, int M, int d, const std::vector<double>& lsum,
                                          const std::vector<double>& lsq, long long tokens);

// The logit standard deviation of each group from the sums above (variance clamped at 0).
std::vector<double> router_logit_std(const std::vector<double>& lsum, const std::vector<double>& lsq, long long tokens);

// Host accumulation (CPU backend, tests), h [N][d] f32, chunked as above over `threads` threads.
std::vector<double> router_input_sum(const float* h, long long N, int d, int threads);  // [d]
void router_logit_sums(const std::vector<float>& W, int M, int d, const float* h, long long N, int threads,
                       std::vector<double>* lsum, std::vector<double>* lsq);             // [M] each

// Both steps on host tokens: W [M][d] -> W'' [M][d].
std::vector<float> calibrate_router(const std::vector<float>& W, int M, int d, const float* h, long long N, int threads);

}  // namespace moga::model
