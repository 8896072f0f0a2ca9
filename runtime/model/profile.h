// Per-stage wall-clock accounting of a run: attention, GEMMs, the rest.
#pragma once

#include <chrono>

namespace moga::model {

struct StageTimes {
  double attention = 0, gemm = 0, other = 0;  // seconds
  double total() const { return attention + gemm + other; }
  StageTimes& operator+=(const StageTimes& o) {
    attention += o.attention, gemm += o.gemm, other += o.other;
    return *this;
  }
};

// Adds the time since construction (or the last lap) to one field.
class StageClock {
 public:
  explicit StageClock(StageTimes* t) : t_(t), t0_(std::chrono::steady_clock::now()) {}
  void lap(double StageTimes::*field) {
    const auto now = std::chrono::steady_clock::now();
    if (t_) t_->*field += std::chrono::duration<double>(now - t0_).count();
    t0_ = now;
  }

 private:
  StageTimes* t_;
  std::chrono::steady_clock::time_point t0_;
};

}  // namespace moga::model
