// The TrialRunner of the GPU (tuner.h), on top of runtime/attention's PatternAttention.
//
//   rt::LoadedPattern p = rt::load_builtin("moga");
//   GpuRunner runner(p, "stga", Shape::make_video(1, 21, 30, 52, 16, 128));
//   tune(kernel_info(json::parse(p.manifest_json), "stga"), shape, runner, db, progress, opt);
//
// How it keeps the runner contract (tuner.h):
//  * one kernel alone: the manifest is reduced to the tuned kernel (made the first, writing kernel),
//    so the time is that kernel's and no other branch's;
//  * compile(c): PatternAttention(reduced pattern, tiles {kernel: c}).compile(D): NVRTC and the disk
//    cache only (thread-safe; no device needed); an NVRTC error or a rejected tile config is
//    {ok=false, note};
//  * time(c), on the device:
//      - inspection: the compiled module is loaded and asked for the attention kernel's registers
//        (cuFuncGetAttribute NUM_REGS, LOCAL_SIZE_BYTES) and its shared memory (entry.cuh's
//        attn_fwd_smem_bytes global); resource_check() rejects it before any launch;
//      - correctness: the output is poisoned (0xFF bytes = bf16 NaN) and one call checked: no NaN
//        left and, against the output of the manifest's tiles (the reference, computed once with
//        its own poisoned buffer), max |diff| <= tol * max(1, max |ref|) (a wrong config fails
//        the trial however fast it is);
//      - timing: `warmup` calls, then `runs` (>= 10) calls each between two events, rotating over
//        `input_sets` sets of q, k, v, out (enough sets that their bytes exceed twice the L2, so no
//        call finds its inputs in cache); run() with {prep=false}: the attention kernel alone (token
//        order and block map are built by the first call for the shape and reused); the median;
//      - errors: a launch or argument error of this config is a TrialError; an error that leaves
//        the context unusable (illegal address, ...) is a fatal TrialError: recorded, then tune()
//        stops (re-run to continue with the other configs).
//  * flops: 4 * H * D * BM * BN * (full + partial tile pairs) of the reference config's block map,
//    one number for every config of the shape (so TFLOP/s ranks exactly as ms does).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/attention/attention.h"
#include "runtime/attention/pattern.h"
#include "runtime/tune/tuner.h"

namespace moga::tune {

struct GpuRunnerOptions {
  int d_model = 1536;      // router input width (routed kernels): x [B, N, d_model]
  int warmup = 3;
  int runs = 20;           // timed calls per config (at least 10 are made)
  int input_sets = 0;      // 0: enough that they exceed 2x the L2 (2..8)
  double tolerance = 2e-2; // max |out - ref| / max(1, max |ref|)
  bool check = true;       // compare against the reference config
  std::vector<std::string> nvrtc_flags;
};

// The limits of device 0 (throws "no CUDA device: ..." without one).
DeviceLimits device_limits();

// The pattern reduced to kernel `kernel` (the first, not accumulating). Throws std::invalid_argument.
rt::LoadedPattern single_kernel_pattern(const rt::LoadedPattern& p, const std::string& kernel);

class GpuRunner : public TrialRunner {
 public:
  // No device work. Throws rt::NotSupportedError for a kernel the GPU path cannot run.
  GpuRunner(const rt::LoadedPattern& pattern, const std::string& kernel, const Shape& shape,
            GpuRunnerOptions options = {});
  ~GpuRunner() override;

  CompileResult compile(const Config& c) override;
  Timing time(const Config& c) override;
  std::string device() const override;
  // "gpu-<domain>-<bus>-<device>" (PCI), the same name in every process whatever
  // CUDA_VISIBLE_DEVICES says.
  std::string exclusive_resource() override;

 private:
  struct State;
  rt::AttentionOptions options_for(const Config& c) const;
  void ensure_state();
  rt::AttentionShape rt_shape() const;

  rt::LoadedPattern single_;
  std::string kernel_;
  Shape shape_;
  GpuRunnerOptions opt_;
  std::mutex mu_;
  std::map<std::string, rt::ModuleInfo> modules_;  // by config id (compile())
  std::unique_ptr<State> st_;
};

}  // namespace moga::tune
