// The sampler: rectified flow (flow matching) with Euler steps and Wan's timestep shift.
//   sigma_i = linspace(1, 0, steps + 1)[i], i < steps (Wan's get_sampling_sigmas), shifted:
//   sigma' = s sigma / (1 + (s - 1) sigma)  (s = shift: 5.0 for Wan at 480p, 3.0 at 720p...),
//   sigma'_steps = 0; the model sees t_i = 1000 sigma'_i and predicts the velocity v = noise - x0;
//   x_{i+1} = x_i + (sigma'_{i+1} - sigma'_i) v_i.
//   Classifier-free guidance (optional): v = v_uncond + g (v_cond - v_uncond).
#pragma once

#include <functional>
#include <vector>

namespace moga::model {

double shift_sigma(double sigma, double shift);
// steps + 1 values: the shifted sigmas of the steps and a final 0.
std::vector<double> flow_sigmas(int steps, double shift);
constexpr double kNumTrainTimesteps = 1000.0;

struct SamplerOptions {
  int steps = 2;
  double shift = 5.0;
  bool cfg = false;
  double guidance = 5.0;  // with cfg
};

// velocity(x, t, conditional, v): one model forward (conditional = false: the negative context).
using VelocityFn = std::function<void(const float* x, double t, bool conditional, float* v)>;
// Called after each step with (step index, steps, seconds the step took).
using StepFn = std::function<void(int, int, double)>;

// Denoises x (the initial noise) in place.
void sample_euler(std::vector<float>& x, const SamplerOptions& o, const VelocityFn& velocity, const StepFn& on_step = {});

}  // namespace moga::model
