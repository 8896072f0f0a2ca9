// PhaseTimer: CUDA events between the phases of a sequence of launches on one stream (the backward's and the
// router backward's `time_phases` options): mark(name) before each phase, mark("end") after the last; phases()
// waits for the last event and returns each phase's GPU time. Events are created on first use and reused.
// An event record costs ~2 us of GPU time between launches: for benchmarks, off by default where it is used.
#pragma once

#include <cuda.h>

#include <string>
#include <vector>

#include "runtime/jit/check.h"
#include "runtime/jit/driver.h"

namespace moga::rt {

struct TimedPhase {
  std::string name;
  double ms = 0;
};

class PhaseTimer {
 public:
  bool enabled = false;
  PhaseTimer() = default;
  PhaseTimer(const PhaseTimer&) = delete;
  PhaseTimer& operator=(const PhaseTimer&) = delete;
  ~PhaseTimer() {
    if (const jit::Driver* d = jit::try_driver())
      for (CUevent e : events_) d->cuEventDestroy(e);
  }
  void start() { marks_ = 0; }
  void mark(std::string name, CUstream stream) {
    if (!enabled) return;
    if (marks_ == events_.size()) {
      CUevent e;
      CU_CHECK(jit::driver().cuEventCreate(&e, CU_EVENT_DEFAULT));
      events_.push_back(e);
      names_.emplace_back();
    }
    CU_CHECK(jit::driver().cuEventRecord(events_[marks_], stream));
    names_[marks_++] = std::move(name);
  }
  std::vector<TimedPhase> phases() const {
    std::vector<TimedPhase> r;
    if (marks_ < 2) return r;
    const jit::Driver& d = jit::driver();
    CU_CHECK(d.cuEventSynchronize(events_[marks_ - 1]));
    for (size_t i = 0; i + 1 < marks_; ++i) {
      float ms = 0;
      CU_CHECK(d.cuEventElapsedTime(&ms, events_[i], events_[i + 1]));
      r.push_back({names_[i], ms});
    }
    return r;
  }

 private:
  std::vector<CUevent> events_;
  std::vector<std::string> names_;
  size_t marks_ = 0;
};

}  // namespace moga::rt
