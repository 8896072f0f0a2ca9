// `moga run` as a library call: resolve the config, pattern, weights, context and latent shape,
// print the memory estimate, denoise with the sampler on a backend, write latent.safetensors and
// preview.png (atomically), print a per-stage and per-step timing table. The CLI (tools/moga/
// cmd_run.cpp) only parses options into RunOptions.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/model/config.h"
#include "runtime/model/profile.h"
#include "runtime/model/router_calibration.h"
#include "runtime/reference/manifest.h"

namespace moga::model {

struct RunOptions {
  std::string config = "tiny";
  std::string weights = "random";  // a checkpoint path, or "random" (seeded synthetic weights)
  uint64_t seed = 0;               // weights (random), noise, random context
  std::string attention = "full";  // an embedded pattern's name (runtime/kernels)
  std::optional<ref::PatternSpec> pattern;  // set: use this compiled pattern (e.g. with --param overrides)
  int frames = 0, height = 0, width = 0;    // latent units; 0: the config's default
  std::vector<int> shots;                   // first latent frame of each shot (0 may be omitted)
  std::string context = "random";           // FILE.safetensors (context / context.N / negative) or "random"
  int steps = 0;                            // 0: config default
  double shift = 5.0;
  std::optional<double> cfg;                // classifier-free guidance scale
  std::string backend = "auto";             // cpu | gpu | auto
  // GPUs (sequence parallelism, docs/distributed.md): N > 1 starts N - 1 more processes (ranks), one
  // GPU each, and runs the DiT Ulysses-style over NCCL; rank 0 (this process) prints and writes.
  int gpus = 1;
  std::string out_dir;                      // empty: write nothing
  int threads = 0;                          // 0: all cores ($MOGA_THREADS)
  // Router calibration of routed patterns (runtime/model/router_calibration.h): step, first or off;
  // unset: Step with random weights, Off with a checkpoint (a trained router is left alone).
  std::optional<RouterCalibration> calibrate_routers;
  bool progress = true;
  // CUDA events after the router and every self-attention branch; the table splits attention by
  // branch (GPU backend; off: one event for the whole self-attention, the default step's cost).
  bool profile_branches = false;
  // The self-attention's precision on the GPU backend: "bf16", "fp8" (rt::Precision::Fp8: every branch on
  // the FP8 row; Hopper, head dim 128) or "fp8-routed" (the routed branches only; the static ones, measured
  // faster in bf16 beside their FP8 prep, stay bf16). The cross-attention stays bf16.
  std::string attention_precision = "bf16";
  // The block linears' precision on the GPU backend: "bf16" or "fp8" (gpu::GemmPrecision::Fp8: cuBLASLt e4m3
  // GEMMs with per-channel x per-token scales; Hopper).
  std::string gemm_precision = "bf16";
  // GPU: self-attention kernels on named kernel registry rows, "KERNEL=ROW" each (--kernel-variant, e.g.
  // "stga=sm90.tma.sorted"): AttentionOptions::variants, over the precision's choice for that kernel.
  std::vector<std::string> kernel_variants;
  // Set by the CLI when --config was not given and it chose one for the backend (default_config).
  bool config_defaulted = false;
  // Debug: one forward of `forward_latent` (key `latent`, [16, F, H, W]) at `forward_timestep`,
  // written to <out_dir>/forward.safetensors (key `velocity`), no sampling.
  std::string forward_latent;
  double forward_timestep = 500.0;
};

// A value the user gave that cannot work, named by its flag ("--steps: -1 ..."). The CLI exits 2
// (a usage error) for these, 1 for every other error (docs/model.md, "Exit codes").
class OptionError : public std::invalid_argument {
 public:
  OptionError(const std::string& flag, const std::string& what) : std::invalid_argument(flag + ": " + what), flag_(flag) {}
  // "--gpus 0: must be between 1 and 1024": the flag with the value the user gave.
  OptionError(const std::string& flag, const std::string& value, const std::string& what)
      : std::invalid_argument(flag + " " + value + ": " + what), flag_(flag) {}
  const std::string& flag() const { return flag_; }

 private:
  std::string flag_;
};

// The most tokens a run accepts: 2^24 = 16,777,216, 90x the paper's longest video (187,200). Far past
// what any memory holds (the memory estimate refuses long before), and small enough that every size
// computed from it (N x dim x bytes, the memory estimate) fits in 64 bits and the per-axis counts in int.
constexpr long long kMaxTokens = 1LL << 24;

// Tokens of an F x H x W latent (latent pixels) for cfg's patch: every dimension >= 1 and a multiple
// of the patch, the product computed without overflow and at most kMaxTokens. `flags` names where
// the numbers came from ("--frames 4 --height 8 --width 8", or a latent file) for the OptionError.
long long checked_tokens(const ModelConfig& cfg, long long F, long long H, long long W, const std::string& flags);

// Every check on RunOptions that needs no work (no weights, no compile, nothing written): config,
// backend, counts (steps, threads, gpus) and numbers (shift, cfg), the latent shape and its token
// count, the shots, the pattern's name, that the named input files exist and are regular files,
// and that the output folder can be written. OptionError for a bad value, std::runtime_error naming
// the flag and the path for an input file that is missing. run_dit calls it first; the CLI calls it
// before compiling a pattern.
void check_run_options(const RunOptions& o);

// An output folder (--out): empty (write nothing), an existing writable directory, or a path whose
// closest existing ancestor is a writable directory; the files a run writes there must not be
// directories. Creates nothing (a failed run leaves no folder behind). OptionError naming `flag`.
void check_output_dir(const std::string& dir, const std::string& flag, const std::vector<std::string>& files = {});
// An output file (init-weights -o): not a directory, its folder (or closest existing ancestor) writable.
void check_output_file(const std::string& file, const std::string& flag);

struct StepTiming {
  double seconds = 0;
  StageTimes stages;
};

struct RunResult {
  int C = 0, F = 0, H = 0, W = 0;
  std::vector<float> latent;  // [C][F][H][W]: the final latent (or the velocity in forward mode)
  StageTimes total;
  double setup_seconds = 0, wall_seconds = 0;
  std::vector<StepTiming> steps;
  std::string latent_path, preview_path;
  std::string pattern;
  // Router calibration: the mode applied (Off for a pattern without a router), the forwards that
  // (re)calibrated, and whether the routers were calibrated at all (router_calibrations > 0).
  RouterCalibration router_calibration = RouterCalibration::Off;
  int router_calibrations = 0;
  bool routers_calibrated = false;
};

// The router calibration mode of a run (when the pattern is routed): the option, or its default
// (Step with --weights random, Off with a checkpoint).
RouterCalibration router_calibration_for(const RunOptions& o);

// Logs (memory estimate, timing table) go to `out`, the progress bar to `err`.
// With gpus > 1 (or in a rank started by it: MOGA_RANK set) the arguments are checked first (GPU
// backend, heads divisible by the GPU count, a head-independent pattern, enough devices) and throw
// as usual; once the ranks are started, an error in any rank prints "moga run (rank r of N): error:
// ..." and ends every rank with exit status 1 (a rank left alone would wait in NCCL forever).
RunResult run_dit(const RunOptions& o, std::ostream& out, std::ostream& err);

// The config `moga run` takes when --config is not given: "wan-1.3b" when the run will be on a GPU
// (--backend gpu, or auto with a device), "tiny" on the CPU (wan-1.3b on the CPU takes minutes per
// forward at a few hundred tokens; docs/model.md).
std::string default_config(const std::string& backend);
// The pattern `moga run` takes when --attention is not given: the project's point, MoGA, unless
// `weights` is a checkpoint without MoGA routers (a plain Wan2.1 checkpoint): then "full", with *note
// saying why (a routed pattern would refuse it for the missing router keys). Opens the checkpoint's
// headers only (a bad file is reported later, by the load).
inline constexpr const char* kDefaultAttention = "moga";
std::string default_attention(const std::string& weights, std::string* note);

// The patterns shipped in the binary (runtime/kernels/embedded.h).
std::vector<std::string> embedded_pattern_names();
ref::PatternSpec embedded_pattern(const std::string& name);  // throws listing the known names
const char* embedded_pattern_dsl(const std::string& name);   // the .moga source (nullptr: unknown)

}  // namespace moga::model
