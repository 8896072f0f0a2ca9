// `moga tune PATTERN|all [--kernel K] [--shape N|FxHxW] [--shots ...] [--batch B] [--heads H]
//                         [--head-dim D] [--param k=v]... [--configs ID,...] [--show] [--dry-run]
//                         [--retry-failed] [--force] [--jobs N] [--db DIR] [--arch sm_XX]`
// Autotunes the tile configuration of each kernel of a pattern for one shape and keeps every result
// in the tuning database (docs/autotune.md). PATTERN: a shipped pattern name, a `moga compile -o`
// output folder, or a .moga file. --dry-run lists the pruned space and what would be measured (no
// GPU needed); --show prints what the database holds and what the runtime would pick.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "compiler/driver/compile_pattern.h"
#include "runtime/jit/module.h"
#include "runtime/kernels/embedded.h"
#include "runtime/tune/select.h"
#include "runtime/tune/tuner.h"
#include "tools/moga/commands.h"
#include "tools/moga/validate.h"
#include "runtime/model/run.h"
#include "tools/moga/sparsity.h"
#include "runtime/tune/gpu_runner.h"

namespace moga::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct TuneArgs {
  std::string pattern;
  std::string kernel;
  std::string shape;
  std::vector<int> shots;
  int batch = 1, heads = 12, head_dim = 128;
  std::vector<std::string> params;
  std::vector<std::string> configs;
  bool show = false, dry_run = false, retry_failed = false, force = false;
  unsigned jobs = 0;
  std::string db_dir, arch;
  int runs = 20, warmup = 3, d_model = 1536;
};

// A compiled pattern as text: what every mode needs (the GPU runner parses it again).
struct PatternText {
  std::string name, origin, cuda;
  json manifest;
};

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw std::runtime_error(fmt::format("cannot read {}", p.string()));
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

PatternText compile_dsl(const std::string& source, const std::string& file, const TuneArgs& a) {
  PatternCompileOptions opt;
  opt.head_dim = a.head_dim;
  for (const std::string& kv : a.params) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) throw std::runtime_error(fmt::format("--param expects k=v, got '{}'", kv));
    opt.params[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  frontend::Diagnostics diags;
  auto c = compilePatternSource(source, file, opt, diags);
  std::cerr << diags.renderAll();
  if (!c) throw std::runtime_error(fmt::format("{}: the pattern did not compile", file));
  return {c->name, file, c->cuda, c->manifest};
}

std::vector<PatternText> load_patterns(const TuneArgs& a) {
  std::vector<PatternText> out;
  const auto& shipped = kernels::embedded_patterns();
  auto from_embedded = [&](const kernels::EmbeddedPattern& e) {
    if (!a.params.empty()) return compile_dsl(e.dsl, fmt::format("builtin:{}", e.name), a);
    return PatternText{e.name, fmt::format("builtin:{}", e.name), e.cuda, json::parse(e.manifest)};
  };
  if (a.pattern == "all") {
    for (const auto& e : shipped) out.push_back(from_embedded(e));
    return out;
  }
  for (const auto& e : shipped)
    if (a.pattern == e.name) return {from_embedded(e)};
  std::error_code ec;
  if (fs::is_directory(a.pattern, ec)) {
    if (!a.params.empty())
      throw std::runtime_error("--param needs a .moga source or a shipped pattern; '" + a.pattern +
                               "' is compiled already (recompile it with `moga compile --param`)");
    std::vector<fs::path> jsons;
    for (const auto& f : fs::directory_iterator(a.pattern)) {
      if (f.path().extension() != ".json") continue;
      if (fs::exists(fs::path(f.path()).replace_extension(".cu"))) jsons.push_back(f.path());
    }
    std::sort(jsons.begin(), jsons.end());
    if (jsons.empty()) throw std::runtime_error(fmt::format("'{}' holds no compiled pattern (<name>.json + <name>.cu)", a.pattern));
    for (const fs::path& j : jsons) {
      json m = json::parse(slurp(j), nullptr, false);
      if (m.is_discarded()) throw std::runtime_error(fmt::format("{}: not valid JSON", j.string()));
      out.push_back({m.value("pattern", j.stem().string()), j.string(), slurp(fs::path(j).replace_extension(".cu")), m});
    }
    return out;
  }
  if (fs::is_regular_file(a.pattern, ec) && fs::path(a.pattern).extension() == ".moga")
    return {compile_dsl(slurp(a.pattern), a.pattern, a)};
  std::string names;
  for (const auto& e : shipped) names += (names.empty() ? "" : ", ") + std::string(e.name);
  throw std::runtime_error(fmt::format("'{}' is neither a shipped pattern ({}), a compiled pattern folder nor a .moga file",
                                       a.pattern, names));
}

// --shape parsed, and its token count checked before it is multiplied in int anywhere (the
// attention shape's N = F * H * W): at most model::kMaxTokens, and batch x tokens likewise.
std::vector<int> checked_shape_dims(const std::string& text) {
  std::vector<int> dims;
  try {
    dims = parse_shape_dims(text);
  } catch (const std::invalid_argument& e) {
    throw model::OptionError("--shape", e.what());
  }
  unsigned __int128 n = 1;
  for (int d : dims) n *= (unsigned __int128)d;
  if (n > (unsigned __int128)model::kMaxTokens)
    throw model::OptionError("--shape", fmt::format("{} is {:.4g} tokens, more than the {} supported", text, (double)n,
                                                    model::kMaxTokens));
  return dims;
}

// Each shot's first frame inside the video and after the previous one (frame 0 is implied).
void check_shots(const std::vector<int>& shots, int frames, const std::string& shape) {
  int prev = 0;
  for (int s : shots) {
    if (s <= 0 || s >= frames)
      throw model::OptionError("--shots", fmt::format("frame {} outside [1, {}) (the frames of --shape {})", s, frames, shape));
    if (s <= prev) throw model::OptionError("--shots", "first frames must be strictly increasing");
    prev = s;
  }
}

// --shape for one pattern: seq N or video FxHxW; defaults 32768 (seq) and 21x30x52 (video).
std::optional<tune::Shape> shape_for(const PatternText& p, const TuneArgs& a) {
  const bool video = p.manifest.value("layout", "seq") == "video";
  const std::string text = a.shape.empty() ? (video ? "21x30x52" : "32768") : a.shape;
  const std::vector<int> dims = checked_shape_dims(text);
  if ((dims.size() == 3) != video) return std::nullopt;  // this pattern has the other layout
  if (!video) {
    // A seq pattern has no shots; only an explicit sequence --shape with --shots is a contradiction.
    if (!a.shots.empty() && !a.shape.empty())
      throw model::OptionError("--shots", "needs a video shape FxHxW (--shape " + text + " is a sequence)");
    return tune::Shape::seq(a.batch, dims[0], a.heads, a.head_dim);
  }
  std::vector<int> shots;
  if (!a.shots.empty()) {
    shots.push_back(0);
    shots.insert(shots.end(), a.shots.begin(), a.shots.end());
  }
  check_shots(a.shots, dims[0], text);
  return tune::Shape::make_video(a.batch, dims[0], dims[1], dims[2], a.heads, a.head_dim, shots);
}

std::string templates_hash() { return tune::embedded_templates_hash(); }

std::string fmt_ms(const tune::Result& r) { return r.ok() ? fmt::format("{:.4f}", r.ms) : "-"; }
std::string fmt_tflops(const tune::Result& r) { return r.tflops() > 0 ? fmt::format("{:.1f}", r.tflops()) : "-"; }

void print_versions(const tune::Versions& v) {
  fmt::print("  versions: moga {}, nvrtc {}, driver {}, templates {}\n", v.moga, v.nvrtc, v.driver, v.templates);
}

// The table of one database file: config, ms, TFLOP/s, status; the best marked with '*'.
void print_table(const tune::Results& results, const tune::Space& space, const std::string& best_id) {
  fmt::print("    {:1} {:<20} {:>10} {:>9}  {}\n", "", "config", "ms", "TFLOP/s", "status");
  std::vector<std::pair<std::string, const tune::Result*>> rows;
  for (const auto& [id, r] : results) rows.emplace_back(id, &r);
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
    if (a.second->ok() != b.second->ok()) return a.second->ok();
    if (a.second->ok() && a.second->ms != b.second->ms) return a.second->ms < b.second->ms;
    return a.first < b.first;
  });
  for (const auto& [id, r] : rows) {
    const auto c = tune::Config::parse(id);
    const bool in_space = c && std::find(space.kept.begin(), space.kept.end(), *c) != space.kept.end();
    std::string status = r->ok() ? "ok" : "failed: " + r->note;
    if (!in_space) status += " (not in the current space)";
    fmt::print("    {:1} {:<20} {:>10} {:>9}  {}\n", id == best_id ? "*" : "", id, fmt_ms(*r), fmt_tflops(*r),
               status);
  }
}

struct Ctx {
  tune::DeviceLimits limits;
  tune::Versions versions;
  bool device = false;
  std::string no_device_why;
};

int show_kernel(const tune::KernelInfo& k, const tune::Shape& shape, tune::TuneDb& db, const Ctx& ctx) {
  const tune::Space space = tune::build_space(k, shape.D, ctx.limits);
  const tune::DbKey key = tune::make_key(k, shape, ctx.limits, ctx.versions);
  fmt::print("{}.{}  {} -> bucket {}, arch {}\n", k.pattern, k.kernel, shape.describe(), key.bucket.slug(), key.arch);
  const tune::Loaded exact = db.load(key);
  const tune::Choice choice = tune::best_config(k, shape, db, ctx.limits, ctx.versions);
  if (exact.state == tune::Loaded::State::Valid) {
    fmt::print("  {}\n", exact.path);
    print_table(exact.results, space, choice.source == tune::Source::Tuned ? choice.config.id() : "");
    size_t missing = 0;
    for (const auto& c : space.kept) missing += exact.results.count(c.id()) ? 0 : 1;
    if (missing) fmt::print("    ({} of the {} configs of the space not measured yet)\n", missing, space.kept.size());
  } else {
    fmt::print("  nothing tuned for this key{}\n",
               exact.state == tune::Loaded::State::Corrupt ? fmt::format(" ({} is corrupt: {})", exact.path, exact.why)
                                                            : "");
  }
  // Other files of the kernel: other buckets, other toolchains (not used by this toolchain).
  for (const tune::Loaded& o : db.list_kernel(key)) {
    if (o.key.same_identity(key)) continue;
    size_t ok = 0;
    for (const auto& [id, r] : o.results) ok += r.ok();
    fmt::print("  also: bucket {} {}: {} results ({} ok)\n", o.key.bucket.slug(),
               o.key.versions == ctx.versions ? "(this toolchain)" : "(other toolchain: not used)", o.results.size(),
               ok);
  }
  fmt::print("  runtime choice: {} ({}: {})\n", choice.config.id(), tune::source_name(choice.source), choice.note);
  return 0;
}

int dry_run_kernel(const tune::KernelInfo& k, const tune::Shape& shape, tune::TuneDb& db, const Ctx& ctx,
                   const TuneArgs& a) {
  const tune::Space space = tune::build_space(k, shape.D, ctx.limits);
  const tune::DbKey key = tune::make_key(k, shape, ctx.limits, ctx.versions);
  const tune::Loaded have = db.load(key);
  fmt::print("{}.{}  {} -> bucket {}, arch {} ({})\n", k.pattern, k.kernel, shape.describe(), key.bucket.slug(),
             key.arch, ctx.limits.name);
  fmt::print("  database file: {}\n", db.path(key));
  size_t would = 0;
  std::vector<std::string> lines;
  for (const tune::Config& c : space.kept) {
    const bool selected = a.configs.empty() || std::find(a.configs.begin(), a.configs.end(), c.id()) != a.configs.end();
    auto it = have.results.find(c.id());
    std::string what;
    if (!selected) {
      what = "not selected (--configs)";
    } else if (it == have.results.end() || a.force || (!it->second.ok() && a.retry_failed)) {
      what = "would tune";
      ++would;
    } else {
      what = it->second.ok() ? fmt::format("in the database: {:.4f} ms", it->second.ms)
                             : "in the database: failed (" + it->second.note + ")";
    }
    lines.push_back(fmt::format("    {:<20} smem {:>6} B  {}", c.id(), tune::attn_fwd_smem_bytes(shape.D, c), what));
  }
  const size_t mma = k.block_m.size() * k.block_n.size() * k.warps.size() * k.stages.size();
  fmt::print("  space: {} configs (sm80.mma {} x {} x {} x {} at D={}, {} of the other registry rows on {}), {} pruned, "
             "{} kept, {} would be tuned\n",
             space.total(), k.block_m.size(), k.block_n.size(), k.warps.size(), k.stages.size(), shape.D,
             space.total() - std::min(mma, space.total()), ctx.limits.arch, space.pruned.size(), space.kept.size(), would);
  for (const auto& l : lines) fmt::print("{}\n", l);
  for (const tune::Pruned& p : space.pruned) fmt::print("    {:<20} pruned: {}\n", p.config.id(), p.reason);
  const tune::Choice choice = tune::best_config(k, shape, db, ctx.limits, ctx.versions);
  fmt::print("  runtime choice now: {} ({}: {})\n", choice.config.id(), tune::source_name(choice.source), choice.note);
  return 0;
}

int tune_kernel(const PatternText& p, const tune::KernelInfo& k, const tune::Shape& shape, tune::TuneDb& db,
                const Ctx& ctx, const TuneArgs& a) {
  tune::GpuRunnerOptions ro;
  ro.runs = a.runs;
  ro.warmup = a.warmup;
  ro.d_model = a.d_model;
  std::unique_ptr<tune::GpuRunner> runner;
  try {
    runner = std::make_unique<tune::GpuRunner>(rt::load_from_text(p.cuda, p.manifest.dump(2), p.origin), k.kernel,
                                               shape, ro);
  } catch (const rt::NotSupportedError& e) {
    fmt::print("{}.{}: skipped: {}\n", k.pattern, k.kernel, e.what());
    return 0;
  }
  tune::TuneOptions opt;
  opt.limits = ctx.limits;
  opt.versions = ctx.versions;
  opt.only = a.configs;
  opt.retry_failed = a.retry_failed;
  opt.force = a.force;
  opt.jobs = a.jobs;
  opt.device = ctx.limits.name;
  tune::Progress progress(stderr);
  const tune::TuneReport r = tune::tune(k, shape, *runner, db, progress, opt);
  fmt::print("{}.{}  {} -> bucket {}: {} measured, {} already in the database, {} failed now\n", k.pattern,
             k.kernel, shape.describe(), r.key.bucket.slug(), r.measured, r.skipped_known, r.failed_now);
  tune::Results res;
  for (const auto& t : r.trials) res[t.config.id()] = t.result;
  print_table(res, r.space, r.best ? r.best->config.id() : "");
  if (r.best)
    fmt::print("  best: {} {:.4f} ms (saved in {})\n", r.best->config.id(), r.best->result.ms, r.db_path);
  else
    fmt::print("  no config ran: the runtime keeps its default\n");
  return 0;
}

int run_tune(const TuneArgs& a) {
  if (a.show && a.dry_run) throw model::OptionError("--show", "--show and --dry-run exclude each other");
  // An explicit --shape and its --shots, before anything is printed or compiled.
  if (!a.shape.empty()) {
    const std::vector<int> dims = checked_shape_dims(a.shape);
    if (dims.size() == 3) check_shots(a.shots, dims[0], a.shape);
    else if (!a.shots.empty())
      throw model::OptionError("--shots", "needs a video shape FxHxW (--shape " + a.shape + " is a sequence)");
  }
  for (const std::string& id : a.configs)
    if (!tune::Config::parse(id))
      throw model::OptionError("--configs", fmt::format("'{}' is not a config id (e.g. bm128_bn64_w4_s2)", id));
  Ctx ctx;
  ctx.device = jit::device_available(&ctx.no_device_why);
  if (ctx.device) {
    ctx.limits = tune::device_limits();
  }
  if (!a.arch.empty()) {
    if (ctx.device && a.arch != ctx.limits.arch && !a.show && !a.dry_run)
      throw std::runtime_error(fmt::format("--arch {}: the device is {}; tune for the device you run on", a.arch,
                                           ctx.limits.arch));
    if (ctx.device) ctx.limits.arch = a.arch;  // --show / --dry-run of another arch than the device's
    else ctx.limits = tune::DeviceLimits::assumed(a.arch);
  }
  if (!ctx.device && !a.show && !a.dry_run)
    throw std::runtime_error(fmt::format("no CUDA device ({}): `moga tune` measures on the GPU; --dry-run lists "
                                         "the space, --show prints the database",
                                         ctx.no_device_why));
  ctx.versions = tune::Versions::current(templates_hash());
  tune::TuneDb db(a.db_dir);
  db.on_warning = [](const std::string& w) { fmt::print(stderr, "moga tune: warning: {}\n", w); };
  if (a.dry_run || a.show) {
    fmt::print("device: {}{}\n", ctx.limits.name, ctx.device ? "" : fmt::format(" [{}]", ctx.no_device_why));
    print_versions(ctx.versions);
    fmt::print("  database: {}\n", db.root());
  }

  int rc = 0;
  size_t kernels_done = 0;
  for (const PatternText& p : load_patterns(a)) {
    const std::optional<tune::Shape> shape = shape_for(p, a);
    if (!shape) {
      fmt::print("{}: skipped (layout {} does not match --shape {})\n", p.name, p.manifest.value("layout", "?"),
                 a.shape);
      continue;
    }
    std::vector<tune::KernelInfo> ks = tune::all_kernels(p.manifest);
    if (!a.kernel.empty()) {
      ks = {tune::kernel_info(p.manifest, a.kernel)};
    }
    for (const tune::KernelInfo& k : ks) {
      ++kernels_done;
      if (a.show)
        rc |= show_kernel(k, *shape, db, ctx);
      else if (a.dry_run)
        rc |= dry_run_kernel(k, *shape, db, ctx, a);
      else
        rc |= tune_kernel(p, k, *shape, db, ctx, a);
    }
  }
  if (!kernels_done)
    throw std::runtime_error(fmt::format("nothing to do: no pattern has the layout of --shape {}", a.shape));
  return rc;
}

}  // namespace

Command register_tune(CLI::App& app) {
  auto a = std::make_shared<TuneArgs>();
  CLI::App* sub = app.add_subcommand("tune", "Autotune a pattern's tile configurations; results persist per config");
  sub->add_option("pattern", a->pattern, "a shipped pattern name, `all`, a `moga compile -o` folder or a .moga file")
      ->required();
  sub->add_option("--kernel", a->kernel, "only this kernel of the pattern");
  sub->add_option("--shape", a->shape, "N (seq) or FxHxW (video); default 32768 / 21x30x52");
  sub->add_option("--shots", a->shots, "video: first frame of each shot after the first");
  sub->add_option("--batch", a->batch, "batch size B")->check(int_range(1, 4096));
  sub->add_option("--heads", a->heads, "heads H")->check(int_range(1, 1024));
  sub->add_option("--head-dim", a->head_dim, "head dim D")->check(CLI::IsMember({64, 128}));
  sub->add_option("--param", a->params, "override a param (shipped pattern or .moga file): --param M=16");
  sub->add_option("--configs", a->configs, "only these configs, e.g. bm128_bn64_w4_s2,bm64_bn64_w4_s3")
      ->delimiter(',');
  sub->add_flag("--show", a->show, "print the database for the shape, and the runtime's choice");
  sub->add_flag("--dry-run", a->dry_run, "print the pruned space and what would be tuned (no GPU needed)");
  sub->add_flag("--retry-failed", a->retry_failed, "measure configs recorded as failed again");
  sub->add_flag("--force", a->force, "measure every config again (results replaced)");
  sub->add_option("--jobs", a->jobs, "compile threads (default: all cores)")->check(int_range(0, 1024));
  sub->add_option("--db", a->db_dir, "database folder (default: <cache>/tune)");
  sub->add_option("--arch", a->arch, "arch for --show/--dry-run without a device (default sm_90)");
  sub->add_option("--runs", a->runs, "timed calls per config (at least 10)")->check(CLI::Range(10, 100000));
  sub->add_option("--warmup", a->warmup, "warm-up calls per config")->check(CLI::Range(1, 1000));
  sub->add_option("--d-model", a->d_model, "router input width for routed kernels")->check(int_range(1, 1 << 20));
  return {sub, [a] { return run_tune(*a); }};
}

}  // namespace moga::cli
