// `moga bench PATTERN.moga [--shape N|FxHxW] [--shots ...] [--param k=v]... [--heads 12] [--head-dim 128]
//                          [--iters 20] [--d-model 1536] [--json OUT] [--peer SCRIPT | --no-peers]
//                          [--peer-timeout-s 300] [--fp8]`
//
// How fast is this pattern, and how does the same mask run in PyTorch? On the GPU, bf16, B = 1, fresh
// random inputs (router inputs too):
//   layer   rt::PatternAttention::run with RunOptions{} (prep + attention: routing, sort, block maps
//           of routed kernels; static maps are built by the warm-up calls and cached, as in a model; the
//           router weights are packed by the first call and then vouched for, weights_unchanged, as the
//           Python layer does for a weight it has seen: a layer at inference);
//   kernel  RunOptions{prep = false}: the attention kernels alone on the last order and block maps;
//   useful TFLOP/s = 4 D H (visible pairs) / time, the visible pairs counted on the CPU from the
//           kernels' programs and the GPU's routing (exact where cheap, else sampled; the JSON says).
//   phases  the layer's launches one by one (RunOptions::phase: an event after each launch; events between
//           launches stop PDL overlapping them, so their sum, `phases_total_ms`, may exceed the layer's
//           time): memset, pack, router, scatter, summary, map, gate, attention, combine, per kernel;
//   host    the median host time of one layer call's enqueue (no synchronisation): a layer time close to
//           it means the GPU waits for the host (launch-bound).
// Timing: CUDA events around each call, 3 warm-up calls, median of --iters calls.
// Peers (bench/peers/pattern_peer.py, when python3 with torch is present; run in its own process after
// our buffers are freed): the same pattern through FlexAttention (the peer interprets the manifest's
// mask / bias programs as mask_mod / score_mod, so it is the same expression at any length; block
// masks built outside the kernel timing; routed branches route, sort, document-mask, gate and
// scatter as "MoGA the PyTorch way" in attention_peers.py) and dense SDPA on cuDNN at the same shape.
// Ratios: ours layer / flex kernel (target <= 0.8, issue #12) and ours layer / cuDNN dense (<= 1.0).
// --fp8: ours in FP8 (AttentionOptions::precision = Fp8: every kernel on sm90.tma.fp8; the layer includes the
// per-call quantization of q, k, v, the kernel time reuses the last call's e4m3 copies); the peers stay bf16.
// Exit codes: as `moga check` (pattern_run.h): 0 ran (targets are reported, not enforced), 1 a run
// failed, 2 bad pattern or argument, 3 no CUDA device, 4 refused by the GPU runtime.
#include <fmt/format.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>

#include "runtime/jit/check.h"
#include "runtime/jit/driver.h"
#include "runtime/jit/jit.h"
#include "tools/moga/commands.h"
#include "tools/moga/pattern_run.h"

namespace moga::cli {
namespace {

using nlohmann::json;

constexpr double kTargetVsFlex = 0.8, kTargetVsCudnn = 1.0;

struct BenchArgs {
  std::string file;
  std::vector<std::string> params;
  std::string shape;
  std::vector<int> shots;
  int heads = 12;
  int head_dim = 128;
  int iters = 20;
  int d_model = 1536;
  std::string json_out;
  std::string peer;
  bool no_peers = false;
  int peer_timeout_s = 300;
  std::string router = "auto";  // --router: AttentionOptions::router_mma
  bool fp8 = false;
  std::string variant;  // --variant: every kernel on this registry row
};

// The command line back from the parsed arguments (for the JSON: what to run to repeat it).
std::string command_line(const BenchArgs& a) {
  std::string s = "moga bench " + a.file;
  if (!a.shape.empty()) s += " --shape " + a.shape;
  for (int f : a.shots) s += " --shots " + std::to_string(f);
  for (const auto& p : a.params) s += " --param " + p;
  s += fmt::format(" --heads {} --head-dim {} --iters {} --d-model {}", a.heads, a.head_dim, a.iters, a.d_model);
  if (a.no_peers) s += " --no-peers";
  if (a.router != "auto") s += " --router " + a.router;
  if (a.fp8) s += " --fp8";
  if (!a.variant.empty()) s += " --variant " + a.variant;
  return s;
}

struct Events {
  CUevent a = nullptr, b = nullptr;
  Events() {
    CU_CHECK(jit::driver().cuEventCreate(&a, CU_EVENT_DEFAULT));
    CU_CHECK(jit::driver().cuEventCreate(&b, CU_EVENT_DEFAULT));
  }
  ~Events() {
    jit::driver().cuEventDestroy(a);
    jit::driver().cuEventDestroy(b);
  }
};

// Median ms of `iters` calls of fn after `warm` calls, each call between two events on `stream`.
template <class F>
double median_ms(F&& fn, int warm, int iters, CUstream stream) {
  const jit::Driver& d = jit::driver();
  for (int i = 0; i < warm; ++i) fn();
  CU_CHECK(d.cuStreamSynchronize(stream));
  std::vector<Events> ev(iters);
  for (auto& e : ev) {
    CU_CHECK(d.cuEventRecord(e.a, stream));
    fn();
    CU_CHECK(d.cuEventRecord(e.b, stream));
  }
  CU_CHECK(d.cuStreamSynchronize(stream));
  std::vector<double> ms;
  for (auto& e : ev) {
    float x = 0;
    CU_CHECK(d.cuEventElapsedTime(&x, e.a, e.b));
    ms.push_back(x);
  }
  std::sort(ms.begin(), ms.end());
  const size_t n = ms.size();
  return n % 2 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]);
}

// The per-phase split of a layer call (RunOptions::phase): median ms of each (kernel, phase) over `iters`
// calls, in launch order, and the median of their sum.
json phase_split(rt::PatternAttention& attn, const std::function<void(const rt::RunOptions&)>& call, int iters,
                 CUstream stream) {
  const jit::Driver& d = jit::driver();
  struct Mark {
    int ki;
    const char* phase;
    CUevent ev;
  };
  std::vector<CUevent> pool;
  auto event = [&](size_t i) {
    while (pool.size() <= i) {
      CUevent e = nullptr;
      CU_CHECK(d.cuEventCreate(&e, CU_EVENT_DEFAULT));
      pool.push_back(e);
    }
    return pool[i];
  };
  std::vector<std::string> names;            // "kernel.phase" in launch order (the first call's)
  std::vector<std::vector<double>> samples;  // per name
  std::vector<double> totals;
  for (int it = 0; it < iters + 1; ++it) {  // the first call is a warm-up
    std::vector<Mark> marks;
    CUevent start = event(0);
    CU_CHECK(d.cuEventRecord(start, stream));
    rt::RunOptions ro;
    ro.phase = [&](int ki, const char* ph) {
      CUevent e = event(marks.size() + 1);
      CU_CHECK(d.cuEventRecord(e, stream));
      marks.push_back({ki, ph, e});
    };
    call(ro);
    CU_CHECK(d.cuStreamSynchronize(stream));
    if (it == 0) continue;
    CUevent prev = start;
    double total = 0;
    for (size_t i = 0; i < marks.size(); ++i) {
      float ms = 0;
      CU_CHECK(d.cuEventElapsedTime(&ms, prev, marks[i].ev));
      prev = marks[i].ev;
      total += ms;
      const std::string name = attn.spec().kernels[marks[i].ki].name + "." + marks[i].phase;
      // a phase may occur twice per kernel (none does today): the occurrences are summed
      auto at = std::find(names.begin(), names.end(), name);
      if (at == names.end()) {
        names.push_back(name);
        samples.emplace_back();
        at = names.end() - 1;
      }
      auto& v = samples[at - names.begin()];
      if ((int)v.size() < it) v.push_back(ms);
      else v.back() += ms;
    }
    totals.push_back(total);
  }
  for (CUevent e : pool) d.cuEventDestroy(e);
  auto med = [](std::vector<double> v) {
    if (v.empty()) return 0.0;
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
  };
  json list = json::array();
  for (size_t i = 0; i < names.size(); ++i) list.push_back({{"phase", names[i]}, {"ms", med(samples[i])}});
  return {{"phases", list}, {"phases_total_ms", med(totals)}};
}

// Ours on the GPU: timings and the useful work. Everything device-side is freed on return.
json bench_ours(const CompiledFile& f, const Problem& p, const BenchArgs& a) {
  jit::Device& dev = jit::Device::get();
  dev.make_current();
  const rt::AttentionShape& s = p.attn;
  rt::AttentionOptions opts = variant_options(a.variant);
  opts.router_mma = a.router == "wgmma" ? rt::RouterMma::Wgmma : a.router == "mma.sync" ? rt::RouterMma::MmaSync
                                                                                       : rt::RouterMma::Auto;
  if (a.fp8) opts.precision = rt::Precision::Fp8;
  rt::PatternAttention attn(f.pattern, opts);
  Inputs in = make_inputs(attn, s, a.d_model, 1234);
  const rt::RouterInputs* router = in.routed ? &in.router : nullptr;
  CUstream stream = nullptr;

  const auto t0 = std::chrono::steady_clock::now();
  attn.run(in.tq, in.tk, in.tv, in.tout, s, router, stream);
  CU_CHECK(jit::driver().cuStreamSynchronize(stream));
  const double first_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  in.router.weights_unchanged = true;  // the same weights from here on (the header comment)

  const double layer_ms = median_ms([&] { attn.run(in.tq, in.tk, in.tv, in.tout, s, router, stream); }, 3, a.iters, stream);
  rt::RunOptions kernels_only;
  kernels_only.prep = false;
  const double kernel_ms =
      median_ms([&] { attn.run(in.tq, in.tk, in.tv, in.tout, s, router, stream, kernels_only); }, 3, a.iters, stream);
  const json split = phase_split(
      attn, [&](const rt::RunOptions& ro) { attn.run(in.tq, in.tk, in.tv, in.tout, s, router, stream, ro); }, a.iters,
      stream);
  std::vector<double> host;
  for (int i = 0; i < a.iters; ++i) {
    CU_CHECK(jit::driver().cuStreamSynchronize(stream));
    const auto h0 = std::chrono::steady_clock::now();
    attn.run(in.tq, in.tk, in.tv, in.tout, s, router, stream);
    host.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - h0).count());
  }
  CU_CHECK(jit::driver().cuStreamSynchronize(stream));
  std::sort(host.begin(), host.end());
  const double host_ms = host[host.size() / 2];

  // The output of the last call must be finite: a benchmark of a kernel that writes NaN means nothing.
  const std::vector<float> out = in.out.download(in.numel);
  long long bad = 0;
  for (float v : out) bad += std::isfinite(v) ? 0 : 1;

  const std::vector<ref::Grouping> groups = gpu_groupings(attn, s);
  json kernels = json::array();
  double pairs = 0;
  bool exact = true;
  for (int ki = 0; ki < (int)attn.spec().kernels.size(); ++ki) {
    const ref::KernelSpec& k = attn.spec().kernels[ki];
    const ref::Grouping g = k.route ? groups[ki] : static_grouping(attn.spec(), ki, p.ref);
    const VisiblePairs v = count_visible(k, p.ref, g, 1LL << 28, 99 + ki);
    const rt::PatternAttention::MapStats m = attn.last_block_map(ki, stream);
    const rt::PatternAttention::Grid grid = attn.last_grid(ki);
    const double tiles = std::max(1.0, (double)m.tq * m.tk);
    kernels.push_back({{"name", k.name}, {"structure", ref::structure_name(k.structure)},
                       {"engine", engine_note(attn, ki, s.D)}, {"visible_pairs", v.pairs},
                       {"visible_exact", v.exact}, {"visible_sampled_rel_err", v.sampled_rel_err},
                       {"density", v.density}, {"tiles_full", m.full / tiles}, {"tiles_partial", m.partial / tiles},
                       {"tiles_empty", m.empty / tiles},
                       {"grid", {{"ctas", grid.ctas}, {"items", grid.items}, {"persistent", grid.persistent},
                                 {"scheduler", grid.persistent ? (grid.dynamic ? "dynamic" : "static") : "one CTA per item"},
                                 {"mean_key_tiles", grid.key_tiles}}}});
    pairs += v.pairs;
    exact &= v.exact;
  }
  const double flops = 4.0 * s.D * s.H * pairs;
  return {{"device", dev.name()}, {"arch", dev.arch()}, {"first_call_ms", first_ms}, {"layer_ms", layer_ms},
          {"kernel_ms", kernel_ms}, {"prep_ms", layer_ms - kernel_ms}, {"phases", split["phases"]},
          {"phases_total_ms", split["phases_total_ms"]}, {"host_enqueue_ms", host_ms}, {"visible_pairs", pairs},
          {"visible_exact", exact}, {"useful_flops", flops},
          {"layer_tflops", flops / (layer_ms * 1e-3) / 1e12}, {"kernel_tflops", flops / (kernel_ms * 1e-3) / 1e12},
          {"nonfinite_outputs", bad}, {"kernels", kernels}};
}

// The peer script next to the binary's source tree, or in the current folder's bench/peers.
std::string find_peer(const std::string& given) {
  if (!given.empty()) return given;
  for (const char* c : {"bench/peers/pattern_peer.py"}) {
    if (std::filesystem::exists(c)) return c;
  }
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec)
    for (auto d = exe.parent_path(); !d.empty() && d != d.root_path(); d = d.parent_path())
      if (std::filesystem::exists(d / "bench/peers/pattern_peer.py")) return (d / "bench/peers/pattern_peer.py").string();
  return "";
}

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Runs the peer in its own process; returns its JSON or {"error": why}.
json run_peers(const CompiledFile& f, const Problem& p, const BenchArgs& a) {
  const std::string script = find_peer(a.peer);
  if (script.empty()) return {{"error", "bench/peers/pattern_peer.py not found (give --peer)"}};
  if (std::system("python3 -c 'import torch' >/dev/null 2>&1") != 0)
    return {{"error", "skipped: python3 with torch not available"}};
  const auto dir = std::filesystem::temp_directory_path() /
                   fmt::format("moga-bench-{}-{}", f.pattern.spec.pattern, (long)getpid());
  std::filesystem::create_directories(dir);
  const std::string manifest = (dir / "manifest.json").string(), out = (dir / "peer.json").string();
  std::ofstream(manifest) << f.manifest.dump(1);
  std::string shots;
  for (int x : p.attn.shot_starts) shots += (shots.empty() ? "" : ",") + std::to_string(x);
  const std::string cmd = fmt::format(
      "timeout {} python3 {} --manifest {} --shape {} --heads {} --head-dim {} --iters {} --d-model {} --json {}{} 1>&2",
      a.peer_timeout_s, shell_quote(script), shell_quote(manifest), shell_quote(p.text), p.attn.H, p.attn.D, a.iters,
      a.d_model, shell_quote(out), shots.empty() ? "" : " --shots " + shots);
  const int rc = std::system(cmd.c_str());
  json j;
  try {
    std::ifstream in(out);
    if (in) j = json::parse(in);
  } catch (const std::exception& e) {
    j = {{"error", fmt::format("unreadable peer JSON: {}", e.what())}};
  }
  if (j.is_null()) j = {{"error", fmt::format("the peer wrote no JSON (exit {}; {})", rc, cmd)}};
  if (rc != 0 && !j.contains("error")) j["warning"] = fmt::format("peer exit status {}", rc);
  std::filesystem::remove_all(dir);
  return j;
}

std::string ms_or_dash(const json& j, const char* key) {
  return j.contains(key) && j[key].is_number() ? fmt::format("{:.3f}", j[key].get<double>()) : std::string("-");
}

// Ratios and targets into result["ratios"]; prints the table.
void report(json& r) {
  const json& o = r["ours"];
  const json& peers = r["peers"];
  const json flex = peers.value("flex", json::object());
  const json cudnn = peers.value("cudnn", json::object());
  json ratios = json::object();
  auto ratio = [&](const char* name, const json& peer, const char* key, double target) {
    if (!peer.contains(key) || !peer[key].is_number() || peer[key].get<double>() <= 0) return;
    const double x = o["layer_ms"].get<double>() / peer[key].get<double>();
    ratios[name] = {{"value", x}, {"target", target}, {"pass", x <= target}};
  };
  ratio("ours_layer/flex_kernel", flex, "kernel_ms", kTargetVsFlex);
  ratio("ours_layer/cudnn_dense", cudnn, "ms", kTargetVsCudnn);
  r["ratios"] = ratios;

  fmt::print("\n{} at {} (H={} D={}) on {}: density {:.2f}%{}\n", r["pattern"].get<std::string>(),
             r["shape"].get<std::string>(), r["heads"].get<int>(), r["head_dim"].get<int>(),
             o["device"].get<std::string>(),
             100 * o["visible_pairs"].get<double>() / std::pow((double)r["N"].get<int>(), 2),
             o["visible_exact"].get<bool>() ? "" : " (sampled)");
  fmt::print("  {:<28} {:>10} {:>10} {:>9}\n", "", "layer ms", "kernel ms", "TFLOP/s");
  fmt::print("  {:<28} {:>10.3f} {:>10.3f} {:>9.1f}   (first call {:.0f} ms)\n", "moga", o["layer_ms"].get<double>(),
             o["kernel_ms"].get<double>(), o["layer_tflops"].get<double>(), o["first_call_ms"].get<double>());
  for (const auto& k : o["kernels"]) {  // what ran: the row, its tiles and its grid
    const json& g = k["grid"];
    fmt::print("  kernel {:<21} {}, {} CTAs{}{}\n", k["name"].get<std::string>(), k["engine"].get<std::string>(),
               g["ctas"].get<unsigned>(),
               g["persistent"].get<bool>() ? fmt::format(" persistent ({}) over {} items", g["scheduler"].get<std::string>(),
                                                         g["items"].get<long long>())
                                           : std::string(),
               g["mean_key_tiles"].get<double>() >= 0 ? fmt::format(", {:.1f} key tiles an item", g["mean_key_tiles"].get<double>())
                                                      : std::string());
  }
  if (o.contains("phases") && !o["phases"].empty()) {
    fmt::print("  phases (an event after each launch; sum {:.3f} ms; host enqueue {:.3f} ms):\n",
               o["phases_total_ms"].get<double>(), o["host_enqueue_ms"].get<double>());
    std::string line;
    for (const auto& ph : o["phases"]) {
      const std::string cell = fmt::format(" {} {:.3f}", ph["phase"].get<std::string>(), ph["ms"].get<double>());
      if (line.size() + cell.size() > 96) {
        fmt::print("   {}\n", line);
        line.clear();
      }
      line += cell;
    }
    if (!line.empty()) fmt::print("   {}\n", line);
  }
  if (peers.contains("error")) {
    fmt::print("  peers: {}\n", peers["error"].get<std::string>());
  } else {
    fmt::print("  {:<28} {:>10} {:>10}{}\n", "FlexAttention", ms_or_dash(flex, "layer_ms"), ms_or_dash(flex, "kernel_ms"),
               flex.contains("error") ? "   " + flex["error"].get<std::string>() : "");
    fmt::print("  {:<28} {:>10} {:>10}{}\n", "SDPA cuDNN (dense)", ms_or_dash(cudnn, "ms"), ms_or_dash(cudnn, "ms"),
               cudnn.contains("error") ? "   " + cudnn["error"].get<std::string>() : "");
  }
  for (const auto& [name, v] : ratios.items())
    fmt::print("  {:<28} {:.3f} (target <= {:.1f}) {}\n", name, v["value"].get<double>(), v["target"].get<double>(),
               v["pass"].get<bool>() ? "PASS" : "FAIL");
}

int run_bench(const BenchArgs& a) {
  CompiledFile f;
  Problem p;
  try {
    f = compile_file(a.file, a.params, a.head_dim);
    p = make_problem(f.pattern.spec, a.shape, a.shots, a.heads, a.head_dim, "32768", "21x30x52");
  } catch (const UsageError& e) {
    fmt::print(stderr, "moga bench: {}\n", e.what());
    return kExitBadInput;
  }
  json r = {{"date", utc_now()}, {"commit", git_commit_of(a.file)}, {"command", command_line(a)},
            {"file", a.file}, {"pattern", f.pattern.spec.pattern}, {"params", f.manifest["params"]},
            {"shape", p.text}, {"N", p.attn.N}, {"heads", p.attn.H}, {"head_dim", p.attn.D}};
  auto write = [&](int code) {
    r["exit"] = code;
    if (!a.json_out.empty()) std::ofstream(a.json_out) << r.dump(1) << "\n";
    return code;
  };
  try {
    rt::PatternAttention probe(f.pattern, variant_options(a.variant));  // refuses what the GPU path lacks
  } catch (const UsageError& e) {
    fmt::print(stderr, "moga bench: {}\n", e.what());
    r["error"] = e.what();
    return write(kExitBadInput);
  } catch (const rt::NotSupportedError& e) {
    fmt::print("refused: {}\n", e.what());
    r["refused"] = e.what();
    return write(kExitRefused);
  }
  std::string why;
  if (!jit::device_available(&why)) {
    fmt::print("no CUDA device: {}; nothing was measured (exit {})\n", why, (int)kExitNoDevice);
    r["error"] = "no CUDA device: " + why;
    return write(kExitNoDevice);
  }
  fmt::print("moga bench {}: '{}' at {} (N={}), H={} D={}\n", a.file, f.pattern.spec.pattern, p.text, p.attn.N,
             p.attn.H, p.attn.D);
  r["ours"] = bench_ours(f, p, a);
  r["device"] = r["ours"]["device"];
  r["peers"] = a.no_peers ? json{{"error", "skipped: --no-peers"}} : run_peers(f, p, a);
  report(r);
  const bool finite = r["ours"]["nonfinite_outputs"].get<long long>() == 0;
  if (!finite) fmt::print("FAIL: {} non-finite outputs\n", r["ours"]["nonfinite_outputs"].get<long long>());
  return write(finite ? kExitPass : kExitFail);
}

}  // namespace

Command register_bench(CLI::App& app) {
  auto a = std::make_shared<BenchArgs>();
  CLI::App* sub = app.add_subcommand(
      "bench", "Time a .moga pattern on the GPU (layer, kernel, useful TFLOP/s) against FlexAttention and cuDNN "
               "(exit 0 ran, 1 failed, 2 bad pattern/argument, 3 no GPU, 4 refused by the GPU runtime)");
  sub->add_option("file", a->file, "the .moga pattern")->required()->check(CLI::ExistingFile);
  sub->add_option("--shape", a->shape, "N (seq) or FxHxW (video); default 32768 / 21x30x52");
  sub->add_option("--shots", a->shots, "first frame of each shot after the first (video)");
  sub->add_option("--param", a->params, "override a param: --param M=16 (repeatable)");
  sub->add_option("--heads", a->heads, "attention heads")->check(CLI::PositiveNumber);
  sub->add_option("--head-dim", a->head_dim, "head dimension")->check(CLI::IsMember({64, 128}));
  sub->add_option("--iters", a->iters, "timed calls (median)")->check(CLI::PositiveNumber);
  sub->add_option("--d-model", a->d_model, "router input width (routed patterns)")->check(CLI::PositiveNumber);
  sub->add_option("--json", a->json_out, "write the result (date, device, commit, command, ours, peers) here");
  sub->add_option("--peer", a->peer, "the peer script (default: bench/peers/pattern_peer.py)");
  sub->add_flag("--no-peers", a->no_peers, "do not run the PyTorch peers");
  sub->add_option("--router", a->router,
                  "the router's MMA: auto (warpgroup MMA on sm_90), mma.sync or wgmma (AttentionOptions::router_mma)")
      ->check(CLI::IsMember({"auto", "mma.sync", "wgmma"}));
  sub->add_option("--peer-timeout-s", a->peer_timeout_s, "kill the peer after this many seconds");
  sub->add_flag("--fp8", a->fp8, "ours in FP8 (e4m3) attention (Hopper, head dim 128); the peers stay bf16");
  sub->add_option("--variant", a->variant,
                  "run every kernel on this kernel registry row (e.g. sm90.ws, sm90.tma, sm90.tma.sorted; "
                  "default: the runtime's choice per kernel)");
  return {sub, [a] { return run_bench(*a); }};
}

}  // namespace moga::cli
