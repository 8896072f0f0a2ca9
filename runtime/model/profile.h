// Per-stage time accounting of a run: attention, GEMMs, the rest; inside attention the
// cross-attention and, when a run profiles its branches (--profile-branches), the router and each
// self-attention branch by kernel name.
#pragma once

#include <chrono>
#include <map>
#include <string>

namespace moga::model {

struct StageTimes {
  double attention = 0, gemm = 0, other = 0;  // seconds; total() is their sum
  // Parts of `attention`, so that a step's table can say where its attention time went: the
  // cross-attention (always), the routed kernels' router + sort + block map ("router"), and each
  // self-attention kernel of the pattern by name (profiled runs only: an event per branch). Parts of
  // `other`: the router calibration of random routers (the forwards that calibrate) and the row norms
  // (residual + LayerNorm, RMSNorm + RoPE: dit_add_ln, dit_rms_rope). A part of `gemm`: the FP8 GEMMs'
  // activation quantization (dit_quant_rows; profiled runs only, an event between it and its GEMM).
  double cross = 0, router = 0, calibration = 0, norms = 0, quant = 0;
  std::map<std::string, double> branches;
  double total() const { return attention + gemm + other; }
  StageTimes& operator+=(const StageTimes& o) {
    attention += o.attention, gemm += o.gemm, other += o.other, cross += o.cross, router += o.router,
        calibration += o.calibration, norms += o.norms, quant += o.quant;
    for (const auto& [k, v] : o.branches) branches[k] += v;
    return *this;
  }
  // The time between two readings of a running total (one step of a run).
  StageTimes operator-(const StageTimes& o) const {
    StageTimes d = *this;
    d.attention -= o.attention, d.gemm -= o.gemm, d.other -= o.other, d.cross -= o.cross, d.router -= o.router,
    d.calibration -= o.calibration, d.norms -= o.norms, d.quant -= o.quant;
    for (const auto& [k, v] : o.branches) d.branches[k] -= v;
    return d;
  }
};

// Adds the time since construction (or the last lap) to one field.
class StageClock {
 public:
  explicit StageClock(StageTimes* t) : t_(t), t0_(std::chrono::steady_clock::now()) {}
  void lap(double StageTimes::*field, double StageTimes::*part = nullptr) {
    const auto now = std::chrono::steady_clock::now();
    const double s = std::chrono::duration<double>(now - t0_).count();
    if (t_) t_->*field += s;
    if (t_ && part) t_->*part += s;  // a part of `field` (cross of attention)
    t0_ = now;
  }

 private:
  StageTimes* t_;
  std::chrono::steady_clock::time_point t0_;
};

}  // namespace moga::model
