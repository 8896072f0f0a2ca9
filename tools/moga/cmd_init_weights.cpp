// `moga init-weights --config tiny|wan-1.3b|wan-14b [--seed S] [--attention PATTERN] [--dtype f32|bf16|f16]
//                    -o FILE.safetensors`
// Writes seeded synthetic weights under Wan2.1's key names (runtime/model/weights.h says which
// distribution each tensor gets), plus a router per block when the pattern is routed. Written one
// tensor at a time to a temporary file and renamed: nothing half-written is ever visible.
#include <fmt/format.h>

#include <sys/statvfs.h>

#include <chrono>
#include <filesystem>
#include <memory>

#include "runtime/model/config.h"
#include "runtime/model/cpu/dit.h"
#include "runtime/model/run.h"
#include "runtime/model/safetensors.h"
#include "runtime/model/weights.h"
#include "tools/moga/commands.h"
#include "tools/moga/validate.h"

namespace moga::cli {
namespace {

struct InitArgs {
  std::string config = "tiny";
  uint64_t seed = 0;
  std::string attention;
  int groups = 0;
  std::string dtype;
  std::string out;
};

// Free space where `file` will be written (its closest existing folder), or -1 when unknown.
long long free_bytes_for(const std::string& file) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path p = fs::absolute(fs::path(file), ec).parent_path();
  while (p.has_parent_path() && p != p.parent_path() && !fs::exists(p, ec)) p = p.parent_path();
  struct statvfs v;
  if (::statvfs(p.c_str(), &v) != 0) return -1;
  return (long long)v.f_bavail * (long long)v.f_frsize;
}

int run_init(const InitArgs& a) {
  // Everything checked before a single tensor is drawn: -o, the pattern, the disk space.
  model::check_output_file(a.out, "--out");
  const model::ModelConfig cfg = model::config_by_name(a.config);
  int M = a.groups;
  if (!a.attention.empty() && M == 0) {
    try {
      M = model::cpu::pattern_router_groups(model::embedded_pattern(a.attention));
    } catch (const std::invalid_argument& e) {
      throw model::OptionError("--attention", e.what());
    }
  }
  model::DType dt = cfg.name == "tiny" ? model::DType::F32 : model::DType::BF16;
  if (a.dtype == "f32") dt = model::DType::F32;
  else if (a.dtype == "bf16") dt = model::DType::BF16;
  else if (a.dtype == "f16") dt = model::DType::F16;
  const long long n = model::param_count(cfg, M);
  const long long bytes = n * (long long)model::dtype_size(dt);
  if (const long long avail = free_bytes_for(a.out); avail >= 0 && avail < bytes)
    throw std::runtime_error(fmt::format("--out {}: the checkpoint needs {}, but only {} are free there", a.out,
                                         model::format_bytes((size_t)bytes), model::format_bytes((size_t)avail)));
  fmt::print("init-weights: config {} ({} params{}), seed {}, {} -> {} ({})\n", cfg.name,
             n >= 1000000000 ? fmt::format("{:.3f} B", n / 1e9) : fmt::format("{:.2f} M", n / 1e6),
             M ? fmt::format(", router M = {}", M) : "", a.seed, model::dtype_name(dt), a.out,
             model::format_bytes((size_t)n * model::dtype_size(dt)));
  const auto t0 = std::chrono::steady_clock::now();
  model::write_random_checkpoint(a.out, cfg, a.seed, M, dt,
                                 {{"format", "pt"}, {"moga.config", cfg.name}, {"moga.seed", std::to_string(a.seed)},
                                  {"moga.router_groups", std::to_string(M)}});
  fmt::print("wrote {} in {:.2f} s\n", a.out,
             std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  return 0;
}

}  // namespace

Command register_init_weights(CLI::App& app) {
  auto a = std::make_shared<InitArgs>();
  CLI::App* sub = app.add_subcommand("init-weights", "Write seeded synthetic DiT weights (Wan2.1 key names) to a .safetensors");
  sub->add_option("--config", a->config, "model config")->check(CLI::IsMember(model::config_names()))->capture_default_str();
  sub->add_option("--seed", a->seed, "seed")->check(non_negative_integer())->capture_default_str();
  sub->add_option("--attention", a->attention, "a built-in pattern: routed patterns add blocks.N.self_attn.router.weight [M, dim]");
  sub->add_option("--router-groups", a->groups, "router groups M (overrides the pattern's)")->check(int_range(1, 4096));
  sub->add_option("--dtype", a->dtype, "f32, bf16 or f16 (default: f32 for tiny, bf16 otherwise)")
      ->check(CLI::IsMember({"f32", "bf16", "f16"}));
  sub->add_option("-o,--out", a->out, "the .safetensors to write")->required();
  return {sub, [a] { return run_init(*a); }};
}

}  // namespace moga::cli
