#include "runtime/model/sampler.h"

#include <chrono>
#include <stdexcept>

namespace moga::model {

double shift_sigma(double sigma, double s) { return s * sigma / (1.0 + (s - 1.0) * sigma); }

std::vector<double> flow_sigmas(int steps, double shift) {
  if (steps < 1) throw std::invalid_argument("sampler: steps must be >= 1");
  if (!(shift > 0)) throw std::invalid_argument("sampler: shift must be > 0");
  std::vector<double> s(steps + 1);
  for (int i = 0; i < steps; ++i) s[i] = shift_sigma(1.0 - (double)i / steps, shift);
  s[steps] = 0.0;
  return s;
}

void sample_euler(std::vector<float>& x, const SamplerOptions& o, const VelocityFn& velocity, const StepFn& on_step) {
  const std::vector<double> sig = flow_sigmas(o.steps, o.shift);
  std::vector<float> v(x.size()), vu(o.cfg ? x.size() : 0);
  for (int i = 0; i < o.steps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    const double t = sig[i] * kNumTrainTimesteps;
    velocity(x.data(), t, true, v.data());
    if (o.cfg) {
      velocity(x.data(), t, false, vu.data());
      const float g = (float)o.guidance;
      for (size_t j = 0; j < v.size(); ++j) v[j] = vu[j] + g * (v[j] - vu[j]);
    }
    const float dt = (float)(sig[i + 1] - sig[i]);
    for (size_t j = 0; j < x.size(); ++j) x[j] += dt * v[j];
    if (on_step) on_step(i, o.steps, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
}

}  // namespace moga::model
