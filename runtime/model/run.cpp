#include "runtime/model/run.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>
#include <numeric>
#include <ostream>
#include <stdexcept>
#include <streambuf>

#include "runtime/attention/registry.h"
#include "runtime/kernels/embedded.h"
#include "runtime/model/config.h"
#include "runtime/model/cpu/dit.h"
#include "runtime/model/cpu/parallel.h"
#include "runtime/model/gpu/dit.h"
#include "runtime/jit/module.h"
#include "runtime/model/preview.h"
#include "runtime/model/safetensors.h"
#include "runtime/model/sampler.h"
#include "runtime/model/weights.h"
#include "runtime/jit/driver.h"
#include "runtime/parallel/launch.h"
#include "runtime/parallel/nccl_comm.h"
#include "runtime/parallel/ring_gpu.h"
#include "runtime/parallel/sharding.h"

namespace moga::model {

// ---- embedded patterns ------------------------------------------------------------------------------

std::vector<std::string> embedded_pattern_names() {
  std::vector<std::string> n;
  for (const auto& p : kernels::embedded_patterns()) n.push_back(p.name);
  return n;
}

const char* embedded_pattern_dsl(const std::string& name) {
  for (const auto& p : kernels::embedded_patterns())
    if (name == p.name) return p.dsl;
  return nullptr;
}

ref::PatternSpec embedded_pattern(const std::string& name) {
  for (const auto& p : kernels::embedded_patterns())
    if (name == p.name) return ref::parse_manifest_text(p.manifest);
  std::string known;
  for (const auto& n : embedded_pattern_names()) known += (known.empty() ? "" : ", ") + n;
  throw std::invalid_argument("unknown attention pattern '" + name + "' (built in: " + known + ")");
}

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct Context {
  std::vector<std::vector<float>> cond;  // per shot (or one), [L][text_dim]
  std::vector<int> cond_len;
  std::vector<float> neg;                // [L][text_dim]
  int neg_len = 0;
  std::string source;
};

// A [L, text_dim] or [1, L, text_dim] tensor from the context file.
std::vector<float> read_context(const SafetensorsFile& f, const std::string& key, const ModelConfig& c, int* L) {
  const TensorInfo& t = f.info(key);
  std::vector<long long> s = t.shape;
  if (s.size() == 3 && s[0] == 1) s.erase(s.begin());
  if (s.size() != 2 || s[1] != c.text_dim)
    throw std::runtime_error(fmt::format("{}: tensor '{}' has shape {}, expected [L, {}] (umT5 outputs, L <= {})", f.path(), key,
                                         shape_str(t.shape), c.text_dim, c.text_len));
  if (s[0] > c.text_len || s[0] < 1)
    throw std::runtime_error(fmt::format("{}: tensor '{}' has {} tokens; config '{}' takes 1 to {} (text_len)", f.path(), key,
                                         s[0], c.name, c.text_len));
  *L = (int)s[0];
  return f.to_f32_finite(key);  // a NaN in the context is found here, naming the tensor, not after sampling
}

Context load_context(const RunOptions& o, const ModelConfig& c, int nshots) {
  Context ctx;
  if (o.context == "random") {
    NormalRng rng(hash_name("context", o.seed));
    ctx.cond.assign(1, std::vector<float>((size_t)c.text_len * c.text_dim));
    rng.fill(ctx.cond[0].data(), ctx.cond[0].size());
    ctx.cond_len = {c.text_len};
    ctx.neg.assign((size_t)c.text_len * c.text_dim, 0.f);  // the "empty" negative: zeros
    ctx.neg_len = c.text_len;
    ctx.source = fmt::format("random (seed {}), {} x {}", o.seed, c.text_len, c.text_dim);
    return ctx;
  }
  SafetensorsFile f(o.context);
  if (f.has("context")) {
    int L = 0;
    ctx.cond.push_back(read_context(f, "context", c, &L));
    ctx.cond_len.push_back(L);
  } else {
    for (int s = 0;; ++s) {
      const std::string k = "context." + std::to_string(s);
      if (!f.has(k)) break;
      int L = 0;
      ctx.cond.push_back(read_context(f, k, c, &L));
      ctx.cond_len.push_back(L);
    }
    if (ctx.cond.empty())
      throw std::runtime_error(o.context + ": no tensor 'context' (or 'context.0', 'context.1', ... one per shot)");
    if ((int)ctx.cond.size() != nshots && ctx.cond.size() != 1)
      throw std::runtime_error(fmt::format("{}: {} per-shot contexts (context.0 ...) for {} shot(s)", o.context, ctx.cond.size(), nshots));
  }
  if (f.has("negative")) {
    ctx.neg = read_context(f, "negative", c, &ctx.neg_len);
  } else {
    ctx.neg.assign((size_t)c.text_len * c.text_dim, 0.f);
    ctx.neg_len = c.text_len;
  }
  ctx.source = fmt::format("{} ({} context(s){})", o.context, ctx.cond.size(), f.has("negative") ? ", negative" : "");
  return ctx;
}

std::vector<int> normalize_shots(std::vector<int> s, int F) {
  if (s.empty()) return s;
  if (s[0] != 0) s.insert(s.begin(), 0);
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] < 0 || s[i] >= F) throw OptionError("--shots", fmt::format("frame {} outside [0, {}) (the latent's frames)", s[i], F));
    if (i && s[i] <= s[i - 1]) throw OptionError("--shots", "first frames must be strictly increasing");
  }
  if (s.size() == 1) s.clear();
  return s;
}

// The latent shape of a sampling run: the flags, else the config's default.
struct LatentDims {
  int F = 0, H = 0, W = 0;
};
LatentDims default_dims(const RunOptions& o, const ModelConfig& cfg) {
  const bool tiny = cfg.name == "tiny";
  return {o.frames ? o.frames : (tiny ? 4 : 21), o.height ? o.height : (tiny ? 8 : 60), o.width ? o.width : (tiny ? 8 : 104)};
}

// An input file named by a flag: there and a regular file (or a directory where `dir_ok`); its
// contents are checked by its reader. Not an OptionError: the command line is fine, the file is not.
void check_input_path(const std::string& path, const std::string& flag, bool dir_ok) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (!fs::exists(st)) throw std::runtime_error(fmt::format("{} {}: no such file or directory", flag, path));
  if (fs::is_regular_file(st) || (dir_ok && fs::is_directory(st))) return;
  throw std::runtime_error(fmt::format("{} {}: not a regular file{}", flag, path, dir_ok ? " or directory" : ""));
}

bool writable_dir(const std::filesystem::path& p) { return ::access(p.c_str(), W_OK | X_OK) == 0; }

// The closest existing ancestor of a path that does not exist (where create_directories would start).
std::filesystem::path existing_ancestor(std::filesystem::path p) {
  namespace fs = std::filesystem;
  std::error_code ec;
  p = fs::absolute(p, ec);
  while (p.has_parent_path() && p != p.parent_path() && !fs::exists(fs::status(p, ec))) p = p.parent_path();
  return p;
}

std::string progress_bar(int done, int total, int width = 30) {
  const int filled = total ? done * width / total : width;
  return "[" + std::string(filled, '#') + std::string(width - filled, '.') + "]";
}

// This rank's part of a sequence-parallel run (--gpus N).
struct ParallelRun {
  int rank = 0, world = 1;
  std::shared_ptr<parallel::Communicator> comm;
};

struct NullBuf : std::streambuf {
  int overflow(int c) override { return c; }
};

RunResult run_local(const RunOptions& o, std::ostream& out, std::ostream& err, const ParallelRun* par);

// --kernel-variant KERNEL=ROW, checked against the pattern's kernels and the registry before any work.
std::map<std::string, std::string> kernel_variants(const RunOptions& o, const ref::PatternSpec& p, bool use_gpu) {
  std::map<std::string, std::string> v;
  for (const std::string& kv : o.kernel_variants) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == kv.size())
      throw OptionError("--kernel-variant", kv, "must be KERNEL=ROW (e.g. stga=sm90.tma.sorted)");
    const std::string name = kv.substr(0, eq), row = kv.substr(eq + 1);
    std::string names;
    bool found = false;
    for (const auto& k : p.kernels) {
      names += (names.empty() ? "" : ", ") + k.name;
      found |= k.name == name;
    }
    if (!found)
      throw OptionError("--kernel-variant", kv, fmt::format("pattern '{}' has no kernel '{}' (its kernels: {})", p.pattern,
                                                            name, names));
    if (!rt::find_variant(row))
      throw OptionError("--kernel-variant", kv, fmt::format("no kernel registry row '{}' (rows: {})", row, rt::variant_names()));
    if (!v.emplace(name, row).second) throw OptionError("--kernel-variant", kv, fmt::format("kernel '{}' named twice", name));
    if (!use_gpu) throw OptionError("--kernel-variant", kv, "runs on the GPU backend; this run is on the CPU");
  }
  return v;
}

// The estimate's terms that depend on the run's precisions and rows: the FP8 kernels' e4m3 copies, one set per
// gathered kernel and one shared by the others (`fp8-routed`: the routed kernels only, each with a gather); the
// bf16 copies of a gathered kernel on sm90.tma.sorted (its plan's row or --kernel-variant's), except a computed
// key in token order, whose plan names that row because it needs no copy.
gpu::GpuMemoryOptions gpu_memory_options(const RunOptions& o, const ref::PatternSpec& p,
                                         const std::map<std::string, std::string>& variants) {
  gpu::GpuMemoryOptions m;
  m.gemm_fp8 = o.gemm_precision == "fp8";
  bool shared = false;
  for (const auto& k : p.kernels) {
    const bool fp8 = o.attention_precision == "fp8" || (o.attention_precision == "fp8-routed" && k.route.has_value());
    if (!fp8) {
      const auto named = variants.find(k.name);
      const bool planned = k.plan_sm90 && k.plan_sm90->variant == "sm90.tma.sorted";
      const bool sorted = named != variants.end() ? named->second == "sm90.tma.sorted" : planned;
      if (sorted && k.grouped() && (k.route || !planned)) ++m.bf16_sorted_copies;
      continue;
    }
    if (k.grouped()) ++m.fp8_attention_copies;
    else shared = true;
  }
  m.fp8_attention_copies += shared ? 1 : 0;
  return m;
}

}  // namespace

// ---- run --------------------------------------------------------------------------------------------

std::string default_attention(const std::string& weights, std::string* note) {
  if (weights == "random") return kDefaultAttention;
  try {
    const Checkpoint ck(weights);
    if (ck.entries().count("blocks.0.self_attn.router.weight")) return kDefaultAttention;
  } catch (const std::exception&) {
    return kDefaultAttention;  // the load names what is wrong with the file
  }
  if (note)
    *note = fmt::format("note: no --attention given and {} has no MoGA routers (blocks.N.self_attn.router.weight): "
                        "running --attention full (--attention moga needs a checkpoint with routers, or --weights random)",
                        weights);
  return "full";
}

std::string default_config(const std::string& backend) {
  if (backend == "cpu") return "tiny";
  if (backend == "gpu") return "wan-1.3b";
  return jit::device_available() ? "wan-1.3b" : "tiny";
}

long long checked_tokens(const ModelConfig& cfg, long long F, long long H, long long W, const std::string& flags) {
  if (F < 1 || H < 1 || W < 1)
    throw OptionError(flags, fmt::format("latent {} x {} x {}: frames, height and width must be >= 1", F, H, W));
  if (F % cfg.patch[0] || H % cfg.patch[1] || W % cfg.patch[2])
    throw OptionError(flags, fmt::format("latent {}x{}x{} (frames x height x width, latent pixels) is not a multiple of the "
                                         "patch ({}, {}, {})",
                                         F, H, W, cfg.patch[0], cfg.patch[1], cfg.patch[2]));
  // In 128 bits: 1024 x 268435456 x 268435456 / 4 overflows 64 bits (it used to wrap to 0 tokens).
  const unsigned __int128 n = (unsigned __int128)(F / cfg.patch[0]) * (unsigned __int128)(H / cfg.patch[1]) *
                              (unsigned __int128)(W / cfg.patch[2]);
  if (n > (unsigned __int128)kMaxTokens)
    throw OptionError(flags, fmt::format("latent {} x {} x {} is {:.4g} tokens, more than the {} a run supports", F, H, W,
                                         (double)n, kMaxTokens));
  return (long long)n;
}

void check_output_dir(const std::string& dir, const std::string& flag, const std::vector<std::string>& files) {
  namespace fs = std::filesystem;
  if (dir.empty()) return;
  std::error_code ec;
  const fs::file_status st = fs::status(dir, ec);
  if (fs::exists(st)) {
    if (!fs::is_directory(st)) throw OptionError(flag, fmt::format("'{}' exists and is not a directory", dir));
    if (!writable_dir(dir)) throw OptionError(flag, fmt::format("directory '{}' is not writable", dir));
    for (const std::string& f : files)
      if (fs::is_directory(fs::status(fs::path(dir) / f, ec)))
        throw OptionError(flag, fmt::format("'{}' is a directory; the run writes a file there", (fs::path(dir) / f).string()));
    return;
  }
  const fs::path a = existing_ancestor(dir);
  if (!fs::is_directory(fs::status(a, ec)))
    throw OptionError(flag, fmt::format("cannot create '{}': '{}' is not a directory", dir, a.string()));
  if (!writable_dir(a)) throw OptionError(flag, fmt::format("cannot create '{}': '{}' is not writable", dir, a.string()));
}

void check_output_file(const std::string& file, const std::string& flag) {
  namespace fs = std::filesystem;
  if (file.empty()) throw OptionError(flag, "an empty file name");
  std::error_code ec;
  const fs::file_status st = fs::status(file, ec);
  if (fs::is_directory(st)) throw OptionError(flag, fmt::format("'{}' is a directory", file));
  if (fs::exists(st) && !fs::is_regular_file(st))
    throw OptionError(flag, fmt::format("'{}' exists and is not a regular file", file));
  const fs::path parent = fs::absolute(fs::path(file), ec).parent_path();
  const fs::path a = existing_ancestor(parent);
  if (!fs::is_directory(fs::status(a, ec)))
    throw OptionError(flag, fmt::format("cannot write '{}': '{}' is not a directory", file, a.string()));
  if (!writable_dir(a)) throw OptionError(flag, fmt::format("cannot write '{}': '{}' is not writable", file, a.string()));
}

void check_run_options(const RunOptions& o) {
  ModelConfig cfg;
  try {
    cfg = config_by_name(o.config);
  } catch (const std::invalid_argument& e) {
    throw OptionError("--config", e.what());
  }
  if (o.backend != "cpu" && o.backend != "gpu" && o.backend != "auto")
    throw OptionError("--backend", "must be cpu, gpu or auto, got '" + o.backend + "'");
  if (o.gpus < 1 || o.gpus > 1024) throw OptionError("--gpus", std::to_string(o.gpus), "must be between 1 and 1024");
  if (o.attention_precision != "bf16" && o.attention_precision != "fp8" && o.attention_precision != "fp8-routed")
    throw OptionError("--attention-precision", o.attention_precision, "must be bf16 or fp8 (or fp8-routed)");
  if (o.attention_precision != "bf16" && o.backend == "cpu")
    throw OptionError("--attention-precision", o.attention_precision,
                      "runs on the GPU backend (--backend gpu or auto), not --backend cpu");
  if (o.gemm_precision != "bf16" && o.gemm_precision != "fp8")
    throw OptionError("--gemm-precision", o.gemm_precision, "must be bf16 or fp8");
  if (o.gemm_precision == "fp8" && o.backend == "cpu")
    throw OptionError("--gemm-precision", "fp8", "runs on the GPU backend (--backend gpu or auto), not --backend cpu");
  if (o.threads < 0 || o.threads > 4096) throw OptionError("--threads", std::to_string(o.threads), "must be between 1 and 4096");
  if (o.steps < 0 || o.steps > 100000) throw OptionError("--steps", std::to_string(o.steps), "must be between 1 and 100000");
  if (!std::isfinite(o.shift) || o.shift <= 0) throw OptionError("--shift", fmt::format("{}", o.shift), "must be a positive number");
  if (o.cfg && !std::isfinite(*o.cfg)) throw OptionError("--cfg", fmt::format("{}", *o.cfg), "must be a finite number");
  if (!std::isfinite(o.forward_timestep)) throw OptionError("--timestep", "must be a finite number");
  for (const auto& [flag, v] : {std::pair<const char*, int>{"--frames", o.frames}, {"--height", o.height}, {"--width", o.width}})
    if (v < 0) throw OptionError(flag, std::to_string(v), "must be a positive integer");
  const bool pattern_file = o.attention.size() > 5 && (o.attention.rfind(".json") == o.attention.size() - 5 ||
                                                       o.attention.rfind(".moga") == o.attention.size() - 5);
  if (!o.pattern && !pattern_file) {
    try {
      (void)embedded_pattern(o.attention);
    } catch (const std::invalid_argument& e) {
      throw OptionError("--attention", e.what());
    }
  }
  if (o.forward_latent.empty()) {  // else the shape (and the shots) are checked against the latent file's
    const LatentDims d = default_dims(o, cfg);
    (void)checked_tokens(cfg, d.F, d.H, d.W, fmt::format("--frames {} --height {} --width {}", d.F, d.H, d.W));
    (void)normalize_shots(o.shots, d.F);
  }
  if (pattern_file && !o.pattern) check_input_path(o.attention, "--attention", false);
  if (o.weights != "random") check_input_path(o.weights, "--weights", true);
  if (o.context != "random") check_input_path(o.context, "--context", false);
  if (!o.forward_latent.empty()) check_input_path(o.forward_latent, "--forward-latent", false);
  check_output_dir(o.out_dir, "--out",
                   o.forward_latent.empty() ? std::vector<std::string>{"latent.safetensors", "preview.png"}
                                            : std::vector<std::string>{"forward.safetensors"});
}

RouterCalibration router_calibration_for(const RunOptions& o) {
  return o.calibrate_routers.value_or(o.weights == "random" ? RouterCalibration::Step : RouterCalibration::Off);
}

RunResult run_dit(const RunOptions& o, std::ostream& out, std::ostream& err) {
  check_run_options(o);  // every bad value refused before anything is loaded, compiled or written
  const parallel::RankEnv env = parallel::rank_from_env();
  if (env.present && o.gpus != env.world)
    throw std::invalid_argument(fmt::format("MOGA_WORLD={} (set by the rank that started this one) but --gpus {}", env.world,
                                            o.gpus));
  const int world = env.present ? env.world : o.gpus;
  if (world < 1) throw std::invalid_argument(fmt::format("--gpus {}: must be at least 1", o.gpus));
  if (world == 1) return run_local(o, out, err, nullptr);

  // ---- sequence parallel: check everything that can be checked before any process starts
  const ModelConfig cfg = config_by_name(o.config);
  if (o.backend == "cpu")
    throw std::invalid_argument(fmt::format("--gpus {}: sequence parallelism runs on the GPU backend (--backend gpu or "
                                            "auto), not --backend cpu",
                                            world));
  const ref::PatternSpec pattern = o.pattern ? *o.pattern : embedded_pattern(o.attention);
  parallel::check_usp(cfg.heads, world, pattern);  // heads x ring (usp_plan.h) and what the GPU ring runs
  if (o.forward_latent.empty()) {  // every GPU must own a token (the latent file's shape is checked per rank)
    const LatentDims d = default_dims(o, cfg);
    (void)parallel::SeqShards::make(checked_tokens(cfg, d.F, d.H, d.W, "--frames/--height/--width"), world);
  }
  std::string why;
  int devices = -1;
  if (const jit::Driver* drv = jit::try_driver(&why)) {
    if (drv->cuDeviceGetCount(&devices) != CUDA_SUCCESS) devices = -1, why = "cuDeviceGetCount failed";
  }
  parallel::check_gpu_count(world, devices, why);
  (void)parallel::nccl();  // "NCCL not available: ..." before any process starts

  // ---- start the ranks (rank 0 only), then run this rank's part
  ParallelRun par;
  par.world = world;
  par.rank = env.present ? env.rank : 0;
  std::unique_ptr<parallel::Ranks> children;
  NullBuf null_buf;
  std::ostream null_out(&null_buf);
  try {
    parallel::UniqueId id;
    if (env.present) {
      id = parallel::unique_id_from_hex(env.id_hex);
    } else {
      id = parallel::new_unique_id();
      const int U = parallel::ulysses_size(cfg.heads, world);
      out << fmt::format("moga run: {} GPUs, {} over NCCL {} (rank 0 reports; ranks 1..{} are child processes)\n", world,
                         U == world ? std::string("Ulysses sequence parallelism")
                                    : fmt::format("Ulysses groups of {} x {} over {} ring groups", U,
                                                  parallel::cross_group(pattern) == parallel::CrossGroup::Ring
                                                      ? "ring attention"
                                                      : "K/V gather (query ranges)",
                                                  world / U),
                         parallel::nccl_version(), world - 1);
      out.flush();
      children = parallel::Ranks::start(world, parallel::unique_id_to_hex(id), devices, "moga run --gpus");
    }
    jit::Device::get().make_current();  // device 0 of this process is GPU `rank` (launch.h)
    par.comm = std::make_shared<parallel::Communicator>(par.rank, world, id);
    RunResult r = run_local(o, par.rank == 0 ? out : null_out, par.rank == 0 ? err : null_out, &par);
    // Every rank releases its communicator before rank 0 waits for the others: a destroy may wait
    // for the peers' destroys, and a rank blocked in wait() would never make its own.
    par.comm.reset();
    if (children) children->wait();
    return r;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "moga run (rank %d of %d): error: %s\n", par.rank, world, e.what());
    if (children) children->kill_all();
    std::fflush(nullptr);
    ::_exit(1);  // not the destructors: a communicator or stream may wait for ranks that are gone
  }
}

namespace {

RunResult run_local(const RunOptions& o, std::ostream& out, std::ostream& err, const ParallelRun* par) {
  const auto t_start = Clock::now();
  const ModelConfig cfg = config_by_name(o.config);
  if (o.backend != "cpu" && o.backend != "gpu" && o.backend != "auto")
    throw std::invalid_argument("--backend must be cpu, gpu or auto, got '" + o.backend + "'");
  // gpu: a device is required; auto: the GPU when one is available, else the CPU (with a note).
  bool use_gpu = false;
  if (par) {
    use_gpu = true;  // run_dit checked the devices
  } else if (o.backend != "cpu") {
    std::string why;
    const bool have = jit::device_available(&why);
    if (o.backend == "gpu" && !have) throw std::runtime_error("--backend gpu: no CUDA device: " + why);
    if (!have) out << "note: --backend auto: no CUDA device (" << why << "), running on the CPU\n";
    use_gpu = have;
  }
  const bool is_tiny = cfg.name == "tiny";

  const ref::PatternSpec pattern = o.pattern ? *o.pattern : embedded_pattern(o.attention);
  const int M = cpu::pattern_router_groups(pattern);
  const std::map<std::string, std::string> variants = kernel_variants(o, pattern, use_gpu);

  // Latent shape.
  RunResult res;
  res.pattern = pattern.pattern;
  std::vector<float> forward_input;
  const LatentDims dims = default_dims(o, cfg);
  int F = dims.F, H = dims.H, W = dims.W;
  const bool forward_mode = !o.forward_latent.empty();
  long long N = 0;
  if (forward_mode) {
    SafetensorsFile lf(o.forward_latent);
    const TensorInfo& t = lf.info("latent");
    std::vector<long long> s = t.shape;
    if (s.size() == 5 && s[0] == 1) s.erase(s.begin());
    if (s.size() != 4 || s[0] != cfg.in_channels)
      throw std::runtime_error(fmt::format("{}: 'latent' has shape {}, expected [{}, F, H, W]", o.forward_latent, shape_str(t.shape),
                                           cfg.in_channels));
    // The file's dimensions pass the same checks as the flags before they are narrowed to int.
    N = checked_tokens(cfg, s[1], s[2], s[3], o.forward_latent + ": tensor 'latent'");
    F = (int)s[1], H = (int)s[2], W = (int)s[3];
    forward_input = lf.to_f32_finite("latent");
  } else {
    N = checked_tokens(cfg, F, H, W, fmt::format("--frames {} --height {} --width {}", F, H, W));
  }
  const std::vector<int> shots = normalize_shots(o.shots, F);
  const int nshots = shots.empty() ? 1 : (int)shots.size();
  if (pattern.layout == ref::Layout::Seq && nshots > 1)
    out << fmt::format("note: pattern '{}' has layout seq: shot boundaries only select the per-shot contexts\n", pattern.pattern);
  const int steps = o.steps ? o.steps : (is_tiny ? 2 : 50);
  const int threads = o.threads > 0 ? o.threads : cpu::default_threads();

  const std::string backend_desc =
      use_gpu ? fmt::format("gpu ({}, bf16{})", jit::Device::get().name(),
                            par ? fmt::format(", {} GPUs, sequence parallel; rank 0's timings", par->world) : "")
              : fmt::format("cpu ({} threads)", threads);
  out << fmt::format("moga run: config {} (dim {}, {} layers, {} heads x {}), attention '{}'{}, backend {}\n",
                     cfg.name, cfg.dim, cfg.layers, cfg.heads, cfg.head_dim(), pattern.pattern,
                     M ? fmt::format(" (router M = {})", M) : "", backend_desc);
  if (o.config_defaulted)
    out << fmt::format("note: no --config given: {} ({}; --config tiny|wan-1.3b|wan-14b picks one)\n", cfg.name,
                       use_gpu ? "the wan-1.3b shape on a GPU" : "the tiny model on the CPU");
  out << fmt::format("latent 16 x {} x {} x {} -> {} tokens ({} x {} x {} grid){}\n", F, H, W, N, F / cfg.patch[0],
                     H / cfg.patch[1], W / cfg.patch[2],
                     nshots > 1 ? fmt::format(", {} shots", nshots) : "");
  const MemoryEstimate mem_cpu = estimate_memory(cfg, N, cfg.text_len, 4, M, o.cfg.has_value(), threads);
  out << format_memory(mem_cpu, "cpu, float32");
  out << format_memory(estimate_memory(cfg, N, cfg.text_len, 2, M, o.cfg.has_value(), threads), "gpu, bf16");
  // GPU: what the backend allocates, against the device's free memory, before any allocation.
  std::unique_ptr<gpu::GpuDiT> gdit;
  rt::LoadedPattern gpu_lp;
  if (use_gpu) {
    gpu_lp = gpu::gpu_pattern(o.attention, pattern);
    const int n_ctx = nshots + (o.cfg ? 1 : 0);  // at most: one context per shot, the negative
    const gpu::GpuMemory need = gpu::estimate_gpu_memory(cfg, N, M, std::max(1, n_ctx), gpu_memory_options(o, pattern, variants));
    size_t fr = 0, tot = 0;
    gpu::device_memory(&fr, &tot);
    out << "gpu backend allocates: " << gpu::format_gpu_memory(need)
        << fmt::format("; device free {} of {}\n", format_bytes(fr), format_bytes(tot));
    gpu::check_device_memory(need, fmt::format("config '{}' at {} tokens", cfg.name, N));
  }
  // Refuse before allocating anything when the CPU backend cannot fit (weights are held once in
  // float32; a file is converted tensor by tensor).
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  if (!use_gpu && pages > 0 && page > 0 && mem_cpu.total() > (size_t)pages * (size_t)page)
    throw std::runtime_error(fmt::format("the CPU backend needs about {} for config '{}' at {} tokens, but this machine has {} of memory",
                                         format_bytes(mem_cpu.total()), cfg.name, N, format_bytes((size_t)pages * page)));

  // The device's free memory before the model allocates anything: the measured peak (printed after
  // sampling beside the estimate) is this minus the least free memory seen after any forward.
  size_t gpu_free0 = 0, gpu_free_min = SIZE_MAX, gpu_total = 0;
  auto sample_gpu_memory = [&] {
    size_t fr = 0;
    gpu::device_memory(&fr, &gpu_total);
    gpu_free_min = std::min(gpu_free_min, fr);
  };
  if (use_gpu) gpu::device_memory(&gpu_free0, &gpu_total);

  // Weights.
  std::string note;
  std::unique_ptr<cpu::CpuDiT> cdit;
  if (use_gpu && o.weights == "random") {
    gdit = std::make_unique<gpu::GpuDiT>(cfg, o.seed, M, gpu_lp);  // generated on the device, no host copy
  } else {
    Weights w = o.weights == "random" ? random_weights(cfg, o.seed, M) : load_weights(o.weights, cfg, M, &note);
    if (use_gpu) gdit = std::make_unique<gpu::GpuDiT>(std::move(w), gpu_lp);
    else cdit = std::make_unique<cpu::CpuDiT>(std::move(w), pattern, threads);
  }
  if (o.attention_precision != "bf16") {
    if (!gdit)
      throw OptionError("--attention-precision", o.attention_precision, "runs on the GPU backend; this run is on the CPU");
    // before the sequence-parallel instance is made
    gdit->set_attention_precision(rt::Precision::Fp8, /*routed_only=*/o.attention_precision == "fp8-routed");
    out << (o.attention_precision == "fp8-routed"
                ? "attention: fp8 on the routed branches (e4m3 q, k, v per head, registry row sm90.tma.fp8), the static "
                  "branches and cross-attention bf16\n"
                : "attention: fp8 (e4m3 q, k, v per head, registry row sm90.tma.fp8; cross-attention bf16)\n");
  }
  if (!variants.empty()) {
    gdit->set_kernel_variants(variants);
    for (const auto& [k, row] : variants) out << fmt::format("attention: kernel '{}' on registry row {}\n", k, row);
  }
  if (o.gemm_precision == "fp8") {
    if (!gdit) throw OptionError("--gemm-precision", "fp8", "runs on the GPU backend; this run is on the CPU");
    gdit->set_gemm_precision(gpu::GemmPrecision::Fp8);
    out << "gemm: fp8 (cuBLASLt e4m3, per-channel x per-token scales: q|k|v, o, cross q/o, FFN; patch, head and text "
           "bf16)\n";
  }
  if (par && gdit) gdit->set_sequence_parallel(par->comm);
  out << (o.weights == "random" ? fmt::format("weights: random (seed {}{})", o.seed, use_gpu ? ", generated on the GPU" : "")
                                : note)
      << "\n";
  const RouterCalibration calibration = M ? router_calibration_for(o) : RouterCalibration::Off;
  if (gdit) gdit->set_router_calibration(calibration);
  if (cdit) cdit->set_router_calibration(calibration);
  if (calibration != RouterCalibration::Off)
    out << fmt::format("routers: calibrated, mode {} ({}: each block's mean logit removed, equal logit spread per "
                       "group; docs/model.md){}\n",
                       router_calibration_name(calibration),
                       calibration == RouterCalibration::Step ? "at the first forward of each step, from the original weights"
                                                              : "once, at the first forward",
                       o.calibrate_routers ? ""
                                           : ": random routers send almost every token to one or two groups "
                                             "(--calibrate-routers off: keep them)");
  else if (M && o.calibrate_routers)
    out << "routers: not calibrated (--calibrate-routers off)\n";

  // Context.
  const Context ctx = load_context(o, cfg, nshots);
  out << "context: " << ctx.source << "\n";
  StageTimes setup_times;
  std::vector<cpu::EmbeddedContext> emb;
  std::vector<const cpu::EmbeddedContext*> cond_ptrs;
  cpu::EmbeddedContext neg_emb;
  std::vector<const cpu::EmbeddedContext*> neg_ptrs;
  std::vector<std::shared_ptr<gpu::GpuContext>> gcond, gneg;
  if (use_gpu) {
    for (size_t s = 0; s < ctx.cond.size(); ++s) gcond.push_back(gdit->embed_context(ctx.cond[s].data(), ctx.cond_len[s], &setup_times));
    if (o.cfg) gneg = {gdit->embed_context(ctx.neg.data(), ctx.neg_len, &setup_times)};
  } else {
    for (size_t s = 0; s < ctx.cond.size(); ++s) emb.push_back(cdit->embed_context(ctx.cond[s].data(), ctx.cond_len[s], &setup_times));
    for (const auto& e : emb) cond_ptrs.push_back(&e);
    if (o.cfg) {
      neg_emb = cdit->embed_context(ctx.neg.data(), ctx.neg_len, &setup_times);
      neg_ptrs = {&neg_emb};
    }
  }
  // Everything the first step would compile, allocate or build on first use, done before sampling (the
  // first step then runs like the others): the kernel modules, in parallel, from the cache when warm.
  if (gdit) {
    if (o.profile_branches) gdit->set_profile_branches(true);
    const auto t_prep = Clock::now();
    err << "kernels: compiling or loading the step's modules ...\n" << std::flush;
    const gpu::PrepareReport pr = gdit->prepare(F, H, W, shots, gcond);  // the negative context: the same shapes
    err << "kernels: " << pr.line() << "\n" << std::flush;
    out << fmt::format("prepared for {} tokens in {:.2f} s: {} (modules, buffers, block maps, routers)\n", N,
                       since(t_prep), pr.line());
    sample_gpu_memory();
  }
  res.setup_seconds = since(t_start);

  res.C = cfg.out_channels, res.F = F, res.H = H, res.W = W;
  const size_t lat_n = (size_t)cfg.out_channels * F * H * W;
  StageTimes running;
  cpu::RoutingStats routing;
  // GPU: the routing statistics need a download per block, so only the last forward collects them.
  const int total_forwards = forward_mode ? 1 : steps * (o.cfg ? 2 : 1);
  int forwards = 0;
  auto velocity = [&](const float* x, double t, bool cond, float* v) {
    const bool last = ++forwards == total_forwards;
    if (use_gpu) {
      gdit->forward(x, F, H, W, t, cond ? gcond : gneg, shots, v, &running, M && last ? &routing : nullptr);
      sample_gpu_memory();
    } else
      cdit->forward(x, F, H, W, t, cond ? cond_ptrs : neg_ptrs, shots, v, &running, M ? &routing : nullptr);
  };

  const bool tty = &err == &std::cerr && ::isatty(2);
  if (forward_mode) {
    res.latent.resize(lat_n);
    const auto t0 = Clock::now();
    velocity(forward_input.data(), o.forward_timestep, true, res.latent.data());
    res.steps.push_back({since(t0), running});
    out << fmt::format("forward at t = {}: {:.3f} s\n", o.forward_timestep, since(t0));
  } else {
    // Initial noise.
    res.latent.resize(lat_n);
    NormalRng rng(hash_name("noise", o.seed));
    rng.fill(res.latent.data(), lat_n);
    SamplerOptions so;
    so.steps = steps, so.shift = o.shift, so.cfg = o.cfg.has_value(), so.guidance = o.cfg.value_or(1.0);
    out << fmt::format("sampler: flow matching, Euler, {} steps, shift {}{}\n", steps, o.shift,
                       so.cfg ? fmt::format(", CFG {} (negative: {})", so.guidance, o.context == "random" ? "zeros" : "file or zeros") : "");
    out.flush();
    StageTimes before;
    double elapsed = 0;
    auto on_step = [&](int i, int n, double sec) {
      const StageTimes d = running - before;
      before = running;
      res.steps.push_back({sec, d});
      elapsed += sec;
      if (!o.progress) return;
      const double eta = elapsed / (i + 1) * (n - i - 1);
      const std::string line = fmt::format("{} step {}/{}  {:.2f} s/step  ETA {:.1f} s", progress_bar(i + 1, n), i + 1, n,
                                           elapsed / (i + 1), eta);
      if (tty) err << "\r" << line << (i + 1 == n ? "\n" : "") << std::flush;
      else err << line << "\n" << std::flush;
    };
    if (o.progress) {
      const std::string line = fmt::format("{} step 0/{}", progress_bar(0, steps), steps);
      if (tty) err << line << std::flush;
      else err << line << "\n" << std::flush;
    }
    sample_euler(res.latent, so, velocity, on_step);
  }
  res.total = running;
  res.total += setup_times;
  res.router_calibration = calibration;
  res.router_calibrations = gdit ? gdit->router_calibrations() : cdit->router_calibrations();
  res.routers_calibrated = res.router_calibrations > 0;

  for (float v : res.latent)
    if (!std::isfinite(v)) throw std::runtime_error("the output has non-finite values (NaN or inf): check the weights");

  // Outputs.
  if (!o.out_dir.empty() && (!par || par->rank == 0)) {
    std::filesystem::create_directories(o.out_dir);
    const std::map<std::string, std::string> meta = {
        {"config", cfg.name},       {"attention", pattern.pattern}, {"steps", std::to_string(forward_mode ? 0 : steps)},
        {"seed", std::to_string(o.seed)}, {"shift", fmt::format("{}", o.shift)}, {"weights", o.weights},
        {"cfg", o.cfg ? fmt::format("{}", *o.cfg) : "none"}, {"format", "moga latent [C, F, H, W]"}};
    TensorWrite tw;
    tw.name = forward_mode ? "velocity" : "latent";
    tw.shape = {cfg.out_channels, F, H, W};
    tw.data = res.latent.data();
    res.latent_path = (std::filesystem::path(o.out_dir) / (forward_mode ? "forward.safetensors" : "latent.safetensors")).string();
    write_safetensors(res.latent_path, {tw}, meta);
    out << "wrote " << res.latent_path << "\n";
    if (!forward_mode) {
      res.preview_path = (std::filesystem::path(o.out_dir) / "preview.png").string();
      const Image im = preview_image(res.latent.data(), cfg.out_channels, F, H, W);
      write_png_atomic(res.preview_path, im);
      out << fmt::format("wrote {} ({} x {}, {} frames, channels 0-2 as RGB)\n", res.preview_path, im.width, im.height, F);
    }
  }
  res.wall_seconds = since(t_start);

  // Timing table. Per step: the mean over steps 2..n when there are two or more (the first step is shown
  // on its own line: it used to hide JIT compiles that made cross-attention look 16x slower per step).
  const StageTimes& T = res.total;
  const double tot = std::max(1e-12, T.total());
  const size_t first_steady = res.steps.size() >= 2 ? 1 : 0;
  StageTimes steady;
  for (size_t i = first_steady; i < res.steps.size(); ++i) steady += res.steps[i].stages;
  const double n = std::max<size_t>(1, res.steps.size() - first_steady);
  out << fmt::format("\ntiming ({}; setup {:.3f} s incl. weights, context embedding and kernel preparation, wall {:.3f} s){}\n",
                     backend_desc, res.setup_seconds, res.wall_seconds,
                     use_gpu ? "\n  (gpu stages: CUDA event time per stage; step wall time includes host work and transfers)" : "");
  out << fmt::format("  {:<14} {:>10} {:>12} {:>7}\n", "stage", "total s",
                     first_steady ? "per step s*" : "per step s", "share");
  auto row = [&](const std::string& name, double total_s, double step_s, const char* what = "") {
    out << fmt::format("  {:<14} {:>10.4f} {:>12.4f} {:>6.1f}%{}\n", name, total_s, step_s / n, 100.0 * total_s / tot, what);
  };
  row("attention", T.attention, steady.attention);
  row("  cross", T.cross, steady.cross, "  (cross-attention, part of attention)");
  if (use_gpu && gdit->profile_branches()) {
    if (M) row("  router", T.router, steady.router, "  (router + sort + block map of the routed branch)");
    for (const auto& [name, sec] : T.branches) {
      auto it = steady.branches.find(name);
      row("  " + name, sec, it == steady.branches.end() ? 0.0 : it->second, "  (self-attention branch)");
    }
  }
  if (use_gpu && gdit->world() > 1)
    out << fmt::format("  {:<14} {:>10.4f} {:>12.4f}   (all-to-alls and all-gathers over NCCL, part of other)\n", "  comm",
                       gdit->comm_seconds(), gdit->comm_seconds() / std::max<size_t>(1, res.steps.size()));
  row("gemm", T.gemm, steady.gemm);
  if (use_gpu && gdit->profile_branches() && T.quant > 0)
    row("  fp8 quant", T.quant, steady.quant, "  (activations to e4m3 for the FP8 GEMMs, part of gemm)");
  row("other", T.other, steady.other);
  if (use_gpu) row("  norms", T.norms, steady.norms, "  (residual + LayerNorm, RMSNorm + RoPE; part of other)");
  if (use_gpu && M && res.routers_calibrated) row("  calibration", T.calibration, steady.calibration, "  (router calibration, part of other)");
  row("total", T.total(), steady.total());
  if (first_steady) out << "  * mean of steps 2.." << res.steps.size() << " (step 1 below)\n";
  out << fmt::format("  {:<6} {:>9} {:>11} {:>9} {:>9} {:>9}\n", "step", "wall s", "attention", "cross", "gemm", "other");
  for (size_t i = 0; i < res.steps.size(); ++i) {
    const auto& s = res.steps[i];
    out << fmt::format("  {:<6} {:>9.4f} {:>11.4f} {:>9.4f} {:>9.4f} {:>9.4f}\n", i + 1, s.seconds, s.stages.attention,
                       s.stages.cross, s.stages.gemm, s.stages.other);
  }
  if (res.steps.size() >= 2) {
    std::vector<double> rest;
    for (size_t i = 1; i < res.steps.size(); ++i) rest.push_back(res.steps[i].seconds);
    std::sort(rest.begin(), rest.end());
    const double med = rest[(rest.size() - 1) / 2];
    out << fmt::format("first step {:.4f} s, median of steps 2..{} {:.4f} s (first / median {:.2f}x)\n", res.steps[0].seconds,
                       res.steps.size(), med, res.steps[0].seconds / std::max(med, 1e-12));
  }
  if (use_gpu) {
    const gpu::GpuMemory est = gpu::estimate_gpu_memory(cfg, N, M, std::max<int>(1, (int)gcond.size() + (int)gneg.size()),
                                                        gpu_memory_options(o, pattern, variants));
    const size_t peak = gpu_free_min == SIZE_MAX || gpu_free0 < gpu_free_min ? 0 : gpu_free0 - gpu_free_min;
    const double dev = peak ? 100.0 * ((double)est.total() - (double)peak) / (double)peak : 0.0;
    out << fmt::format("gpu memory: estimated {}, measured peak {} (free before the model minus the least free after any "
                       "forward, cuMemGetInfo), estimate {:+.1f}%{}\n",
                       format_bytes(est.total()), format_bytes(peak), dev,
                       std::fabs(dev) > 10 ? " -- more than 10% off: the estimate needs updating (docs/model.md)" : "");
  }
  if (M && !routing.counts.empty()) {
    out << fmt::format("routing of the last forward (tokens per group, M = {}; min / median / max per block):\n", M);
    double worst = 0;
    int worst_block = 0;
    for (size_t l = 0; l < routing.counts.size(); ++l) {
      std::vector<int> c = routing.counts[l];
      std::sort(c.begin(), c.end());
      const double mean = std::max(1e-12, (double)std::accumulate(c.begin(), c.end(), 0LL) / c.size());
      if (c.back() / mean > worst) worst = c.back() / mean, worst_block = (int)l;
      if (l >= 4 && l + 1 < routing.counts.size()) {
        if (l == 4) out << fmt::format("  ... {} more blocks\n", routing.counts.size() - 5);
        continue;
      }
      std::string r;
      for (int v : routing.counts[l]) r += fmt::format(" {}", v);
      out << fmt::format("  block {:>2}:{}   min {} / median {} / max {}\n", l, r, c.front(), c[(c.size() - 1) / 2], c.back());
    }
    out << fmt::format("  largest group / mean over all blocks: {:.2f} (block {}; 1.00 = balanced)\n", worst, worst_block);
  }
  return res;
}

}  // namespace

}  // namespace moga::model
