// `moga run`: denoise a video latent with the MoGA DiT (Wan2.1 architecture) and write the latent and
// a preview (runtime/model/run.h does the work; docs/model.md describes the model and the options).
//
//   moga run [--config tiny|wan-1.3b|wan-14b] [--weights FILE|random] [--seed S]
//            [--attention PATTERN|FILE.moga|FILE.json] [--param k=v]... [--frames F --height H --width W]
//            [--shots 0,8,15] [--context FILE.safetensors|random] [--steps N] [--shift S] [--cfg SCALE]
//            [--backend cpu|gpu|auto] [--threads T] [--gpus N] [--calibrate-routers step|first|off]
//            [--profile-branches] [--out DIR]
//
// Defaults: --attention moga, --config wan-1.3b on a GPU and tiny on the CPU (the run prints which).
//
// --param recompiles the pattern (the compiler is linked into this binary); the model code itself
// (runtime/model) has no MLIR. Hidden debug options: --forward-latent FILE [--timestep T] runs one
// forward and writes DIR/forward.safetensors (bench/dit/compare_diffusers.py uses it).
#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <sstream>

#include "compiler/driver/compile_pattern.h"
#include "runtime/model/config.h"
#include "runtime/model/run.h"
#include "runtime/reference/manifest.h"
#include "tools/moga/commands.h"
#include "tools/moga/validate.h"

namespace moga::cli {
namespace {

struct RunArgs {
  model::RunOptions o;
  std::vector<std::string> params;
  std::string shots;
  double cfg = 0;
  bool no_progress = false;
  std::string calibrate_routers;  // step | first | off
  bool no_calibrate_routers = false;
};

bool ends_with(const std::string& s, const std::string& t) {
  return s.size() >= t.size() && s.compare(s.size() - t.size(), t.size(), t) == 0;
}

// The pattern: an embedded one by name (recompiled when --param is given), a .moga file (compiled
// here), or a manifest .json.
ref::PatternSpec resolve_pattern(const std::string& attention, const std::vector<std::string>& params, int head_dim) {
  if (ends_with(attention, ".json")) {
    if (!params.empty()) throw model::OptionError("--param", "needs a pattern source (.moga or a built-in name), not a manifest");
    return ref::load_manifest(attention);
  }
  const bool file = ends_with(attention, ".moga");
  if (!file && params.empty()) return model::embedded_pattern(attention);
  PatternCompileOptions opt;
  opt.head_dim = head_dim == 64 ? 64 : 128;
  for (const std::string& kv : params) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) throw model::OptionError("--param", fmt::format("expects k=v, got '{}'", kv));
    opt.params[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  frontend::Diagnostics diags;
  std::optional<CompiledPattern> c;
  if (file) {
    c = compilePatternFile(attention, opt, diags);
  } else {
    const char* dsl = model::embedded_pattern_dsl(attention);
    if (!dsl) (void)model::embedded_pattern(attention);  // throws listing the known names
    c = compilePatternSource(dsl, attention + ".moga", opt, diags);
  }
  std::cerr << diags.renderAll();
  if (!c) throw std::runtime_error("pattern '" + attention + "' did not compile");
  return ref::parse_manifest(c->manifest);
}

int run_run(RunArgs& a, CLI::App* sub) {
  model::RunOptions o = a.o;
  // No --config: the one that fits the backend (tiny on the CPU, wan-1.3b on a GPU); the run says so.
  if (!sub->count("--config")) {
    o.config = model::default_config(o.backend);
    o.config_defaulted = true;
  }
  if (sub->count("--cfg")) o.cfg = a.cfg;
  std::string attention_note;
  o.progress = !a.no_progress;
  // Unset: the default of the weights source (run.h); --no-calibrate-routers is --calibrate-routers off.
  if (sub->count("--calibrate-routers")) o.calibrate_routers = model::parse_router_calibration(a.calibrate_routers);
  if (a.no_calibrate_routers) o.calibrate_routers = model::RouterCalibration::Off;
  if (!a.shots.empty()) {
    std::stringstream ss(a.shots);
    std::string item;
    while (std::getline(ss, item, ',')) {
      if (item.empty()) continue;
      try {
        size_t pos = 0;
        o.shots.push_back(std::stoi(item, &pos));
        if (pos != item.size()) throw std::invalid_argument(item);
      } catch (const std::exception&) {
        throw model::OptionError("--shots", "expects comma-separated frame numbers, e.g. 0,8,15; got '" + a.shots + "'");
      }
    }
  }
  // Every value, the input files' existence and --out before any work (a --param compile, weights).
  model::check_run_options(o);
  // No --attention: moga, or full for a checkpoint without routers (run.h, default_attention).
  if (!sub->count("--attention")) o.attention = model::default_attention(o.weights, &attention_note);
  if (!attention_note.empty()) std::cout << attention_note << "\n";
  const model::ModelConfig cfg = model::config_by_name(o.config);
  o.pattern = resolve_pattern(o.attention, a.params, cfg.head_dim());
  model::run_dit(o, std::cout, std::cerr);
  return 0;
}

}  // namespace

Command register_run(CLI::App& app) {
  auto a = std::make_shared<RunArgs>();
  CLI::App* sub = app.add_subcommand("run", "Denoise a video latent with the MoGA DiT (Wan2.1 architecture)");
  model::RunOptions& o = a->o;
  o.attention = model::kDefaultAttention;  // the CLI runs MoGA unless told otherwise (run.h)
  sub->add_option("--config", o.config, "model config (default: wan-1.3b on a GPU, tiny on the CPU)")
      ->check(CLI::IsMember(model::config_names()));
  sub->add_option("--weights", o.weights, "checkpoint (.safetensors, sharded index .json, or a directory; Wan2.1 or diffusers "
                                          "key names), or 'random'")->capture_default_str();
  sub->add_option("--seed", o.seed, "seed of the random weights, the noise and the random context")
      ->check(non_negative_integer())
      ->capture_default_str();
  sub->add_option("--attention", o.attention, "self-attention pattern: a built-in name (full, moga, stga, ...), a .moga file "
                                              "or a manifest .json")->capture_default_str();
  sub->add_option("--param", a->params, "override a pattern param: --param M=8 (repeatable)");
  // Counts are refused outside their range here (0 would silently mean "the default" in RunOptions);
  // the token count of the whole latent is checked by check_run_options.
  sub->add_option("--frames", o.frames, "latent frames (default: 4 for tiny, 21 for wan-*)")->check(int_range(1, 1 << 30));
  sub->add_option("--height", o.height, "latent height in latent pixels, a multiple of 2 (default: 8 / 60)")
      ->check(int_range(1, 1 << 30));
  sub->add_option("--width", o.width, "latent width in latent pixels, a multiple of 2 (default: 8 / 104)")
      ->check(int_range(1, 1 << 30));
  sub->add_option("--shots", a->shots, "first latent frame of each shot, e.g. 0,8,15");
  sub->add_option("--context", o.context, "text context: a .safetensors with 'context' [L, text_dim] (or 'context.0', "
                                          "'context.1', ... per shot; optional 'negative'), or 'random'")->capture_default_str();
  sub->add_option("--steps", o.steps, "sampling steps (default: 2 for tiny, 50 for wan-*)")->check(int_range(1, 100000));
  sub->add_option("--shift", o.shift, "timestep shift of the flow-matching schedule")
      ->check(finite_number(true))
      ->capture_default_str();
  sub->add_option("--cfg", a->cfg, "classifier-free guidance scale (off when not given)")->check(finite_number(false));
  sub->add_option("--backend", o.backend, "cpu, gpu or auto")->check(CLI::IsMember({"cpu", "gpu", "auto"}))->capture_default_str();
  sub->add_option("--threads", o.threads, "CPU threads (default: all cores, or $MOGA_THREADS)")->check(int_range(1, 4096));
  sub->add_option("--gpus", o.gpus, "GPUs: N > 1 runs the DiT sequence-parallel over NCCL, one process per GPU: "
                                    "Ulysses in groups of gcd(heads, N), ring attention across the groups (dense "
                                    "patterns; others need N to divide the heads; docs/distributed.md)")
      ->check(int_range(1, 1024))
      ->capture_default_str();
  sub->add_option("-o,--out", o.out_dir, "write latent.safetensors and preview.png here");
  sub->add_flag("--no-progress", a->no_progress, "no progress bar");
  sub->add_option("--attention-precision", o.attention_precision,
                  "GPU: the self-attention in bf16 or fp8 (e4m3 q, k, v per head; Hopper, head dim 128; the "
                  "cross-attention stays bf16), or fp8-routed (FP8 for the routed branches only)")
      ->check(CLI::IsMember({"bf16", "fp8", "fp8-routed"}))
      ->capture_default_str();
  sub->add_option("--gemm-precision", o.gemm_precision,
                  "GPU: the block linears (q|k|v, o, cross q/o, FFN) in bf16 or fp8 (cuBLASLt e4m3 with per-channel x "
                  "per-token scales; Hopper)")
      ->check(CLI::IsMember({"bf16", "fp8"}))
      ->capture_default_str();
  sub->add_option("--kernel-variant", o.kernel_variants,
                  "GPU: run a self-attention kernel of the pattern on a kernel registry row, KERNEL=ROW (repeatable; "
                  "e.g. stga=sm90.tma.sorted; `moga compile --dump lowered` names the kernels, docs/architecture.md the registry's rows)");
  sub->add_flag("--profile-branches", o.profile_branches,
                "GPU: time the router and each self-attention branch with CUDA events (the table splits attention by "
                "branch; the default step records one event for the whole self-attention)");
  CLI::Option* cal =
      sub->add_option("--calibrate-routers", a->calibrate_routers,
                      "routed patterns: calibrate each block's router (mean logit removed, equal logit spread per group; "
                      "docs/model.md) at the first forward of each step (step), once at the first forward (first), or "
                      "not (off). Default: step with --weights random, off with a checkpoint")
          ->check(CLI::IsMember({"step", "first", "off"}));
  sub->add_flag("--no-calibrate-routers", a->no_calibrate_routers, "same as --calibrate-routers off")->excludes(cal);
  sub->add_option("--forward-latent", o.forward_latent, "debug: one forward of this latent ('latent' [16, F, H, W])")->group("");
  sub->add_option("--timestep", o.forward_timestep, "debug: the timestep of --forward-latent")
      ->check(finite_number(false))
      ->group("");
  return {sub, [a, sub] { return run_run(*a, sub); }};
}

}  // namespace moga::cli
