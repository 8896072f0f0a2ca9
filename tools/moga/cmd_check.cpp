// `moga check PATTERN.moga [--shape N|FxHxW] [--shots ...] [--param k=v]... [--heads H] [--head-dim D]
//                          [--seed S] [--d-model D] [--cpu-only] [--fp8]`
//
// Is this pattern computed correctly on this GPU? Compiles the file in-process (as `moga compile`),
// runs it through rt::PatternAttention on fresh random bf16 inputs (router inputs x and W_r too when
// the pattern routes) into an output poisoned with NaN bytes, and compares with the CPU reference
// (runtime/reference, float64) by relative L2 (bound 1e-2: bf16 operands and P, a bf16 output) plus a
// NaN/Inf count (a poisoned element that survives is an element no kernel wrote). The reference gets
// the GPU's own routing, so near-ties cannot differ; the GPU router is checked against the CPU router
// separately (same group wherever the CPU's top-2 logit margin exceeds 1e-3).
// A pattern of several kernels (branches) also runs each kernel alone (the same generated source, a
// one-kernel manifest) against the reference's per-kernel term: one line each.
// Default shapes are small (the reference is brute force) and odd: 4999 tokens (seq), 7x13x19 = 1,729
// (video): neither a multiple of a tile.
//
// Exit codes (pattern_run.h): 0 PASS, 1 FAIL, 2 the pattern does not compile or a bad argument,
// 3 no CUDA device (nothing checked on the GPU), 4 the GPU runtime refuses the pattern (the message
// says why, e.g. route linear(512)). --cpu-only (for machines without a GPU): compiles, prints the block
// sparsity, asks the runtime whether it would accept the pattern, NVRTC-compiles its GPU module and
// validates the arguments; no numbers are compared (the reference against itself proves nothing).
// --fp8: the pattern in FP8 (AttentionOptions::precision = Fp8, registry row sm90.tma.fp8; Hopper, D = 128),
// checked against FP8's bound, rel L2 6e-2 (docs/performance.md, "FP8").
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <cmath>
#include <iostream>

#include "runtime/jit/check.h"
#include "runtime/jit/driver.h"
#include "tools/moga/commands.h"
#include "tools/moga/pattern_run.h"

namespace moga::cli {
namespace {

constexpr double kRelL2Bound = 1e-2;
constexpr double kFp8RelL2Bound = 6e-2;  // --fp8: the GPU tests' bound (a host model of FP8 gives ~0.04-0.05)
constexpr double kRouterTieMargin = 1e-3;

struct CheckArgs {
  std::string file;
  std::vector<std::string> params;
  std::string shape;
  std::vector<int> shots;
  int heads = 4;
  int head_dim = 128;
  uint64_t seed = 1;
  int d_model = 64;
  bool cpu_only = false;
  bool fp8 = false;
  std::string variant;  // --variant: every kernel on this registry row
};

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

const char* verdict(bool ok) { return ok ? "PASS" : "FAIL"; }

// One line per kernel: what it is, and its sparsity at this shape (the stand-in routing for routed
// kernels: M equal groups).
void print_kernels(const CompiledFile& f, const Problem& p) {
  const ref::PatternSpec& spec = f.pattern.spec;
  for (int ki = 0; ki < (int)spec.kernels.size(); ++ki) {
    const ref::KernelSpec& k = spec.kernels[ki];
    std::string what = ref::structure_name(k.structure);
    if (k.route) what += fmt::format(", route M={} top {}", k.route->groups, k.route->topk);
    if (k.softcap) what += fmt::format(", softcap {}", *k.softcap);
    if (k.bias) what += ", bias";
    if (k.gate || k.route_gate) what += ", gate";
    const ref::Grouping g = static_grouping(spec, ki, p.ref);
    const VisiblePairs v = count_visible(k, p.ref, g, 1LL << 28, 7);
    fmt::print("  kernel {:<14} weight {:.3g}  {}  visible pairs {:.0f}{} (density {:.2f}%)\n", k.name, k.weight, what,
               v.pairs, v.exact ? "" : " (sampled)", 100 * v.density);
  }
  for (const ref::BlockMap& m : ref::build_block_maps(spec, p.ref, 1, {})) fmt::print("  map {}\n", m.summary());
}

// --cpu-only: what can be checked without a device.
int cpu_only(rt::PatternAttention& attn, const Problem& p, int d_model) {
  const auto t0 = std::chrono::steady_clock::now();
  const rt::ModuleInfo info = attn.compile(p.attn.D);
  fmt::print("  nvrtc: module for {} compiled ({}) in {:.0f} ms, {} kernels\n", info.arch,
             info.cache_hit ? "cache hit" : "cache miss", ms_since(t0), info.kernels.size());
  // validate() looks only at the views: fake, aligned addresses stand in for device buffers.
  const rt::AttentionShape& s = p.attn;
  const CUdeviceptr base = 1ull << 40, step = 1ull << 36;
  auto view = [&](int i) { return rt::TensorView::contiguous(base + i * step, rt::DType::BF16, {s.B, s.N, s.H, s.D}); };
  rt::RouterInputs router;
  if (!attn.routed_kernels().empty()) {
    router.x = rt::TensorView::contiguous(base + 4 * step, rt::DType::BF16, {s.B, s.N, d_model});
    int i = 5;
    for (int ki : attn.routed_kernels())
      router.weights.push_back(rt::TensorView::contiguous(base + (i++) * step, rt::DType::BF16,
                                                          {d_model, attn.spec().kernels[ki].route->groups}));
  }
  attn.validate(view(0), view(1), view(2), view(3), s, attn.routed_kernels().empty() ? nullptr : &router);
  fmt::print("  runtime: arguments valid for {}\n", s.describe());
  fmt::print("PASS (cpu-only: compiled, sparsity and GPU module checked; no GPU run)\n");
  return kExitPass;
}

// GPU router vs the CPU router (top k: gid [B][N][k] by decreasing probability): mismatches with a clear
// margin to the neighbouring ranks are errors.
long long router_mismatches(const Inputs& in, const rt::PatternAttention& attn, int ki, const ref::Grouping& gpu) {
  const int M = attn.spec().kernels[ki].route->groups, k = gpu.k;
  const ref::Grouping cpu = ref::route_tokens(in.x.host.data(), in.w[ki].host.data(), gpu.B, gpu.N, in.d_model, M, k);
  long long bad = 0;
  for (long long t = 0; t < (long long)gpu.B * gpu.N; ++t) {
    std::vector<double> lg(&cpu.logits[t * M], &cpu.logits[t * M] + M);
    std::sort(lg.begin(), lg.end(), std::greater<double>());
    for (int j = 0; j < k; ++j) {
      if (gpu.gid[t * k + j] == cpu.gid[t * k + j]) continue;
      const bool tie = (j > 0 && lg[j - 1] - lg[j] < kRouterTieMargin) || (j + 1 < M && lg[j] - lg[j + 1] < kRouterTieMargin);
      if (!tie) ++bad;
    }
  }
  return bad;
}

// Runs `attn` on `in` into the poisoned output; returns the output as floats.
std::vector<float> run_poisoned(rt::PatternAttention& attn, Inputs& in, const rt::AttentionShape& s) {
  in.out.buf->fill_bytes(0xFF);  // bf16 NaN everywhere
  attn.run(in.tq, in.tk, in.tv, in.tout, s, in.routed ? &in.router : nullptr, nullptr);
  CU_CHECK(jit::driver().cuCtxSynchronize());
  return in.out.download(in.numel);
}

bool report(const std::string& label, const Compare& c, const std::string& extra, double bound) {
  const bool ok = c.rel_l2 <= bound && c.nan == 0 && c.inf == 0 && std::isfinite(c.rel_l2);
  fmt::print("  {:<22} rel L2 {:.2e} (bound {:.0e})  NaN {}  Inf {}  |ref| {:.3g}{}  {}\n", label, c.rel_l2,
             bound, c.nan, c.inf, c.ref_norm, extra, verdict(ok));
  return ok;
}

int gpu_check(const CompiledFile& f, rt::PatternAttention& attn, const Problem& p, const CheckArgs& a) {
  jit::Device& dev = jit::Device::get();
  dev.make_current();
  const rt::AttentionShape& s = p.attn;
  const double bound = a.fp8 ? kFp8RelL2Bound : kRelL2Bound;
  Inputs in = make_inputs(attn, s, a.d_model, a.seed);
  auto t0 = std::chrono::steady_clock::now();
  const std::vector<float> out = run_poisoned(attn, in, s);
  fmt::print("  gpu: {} ({}), first call {:.0f} ms (JIT and static maps included)\n", dev.name(), dev.arch(),
             ms_since(t0));

  // The reference on the same inputs, with the GPU's routing.
  const std::vector<ref::Grouping> groups = gpu_groupings(attn, s);
  ref::RefInputs ri;
  ri.B = s.B;
  ri.heads = s.H;
  ri.head_dim = s.D;
  ri.N = s.N;
  if (s.video) ri.video = ref::VideoShape{s.F, s.Hgt, s.Wid, s.shot_starts};
  ri.q = in.q.host.data();
  ri.k = in.k.host.data();
  ri.v = in.v.host.data();
  ri.per_kernel = attn.spec().kernels.size() > 1;
  long long router_bad = 0;
  if (in.routed) {
    ri.x = in.x.host.data();
    ri.d_model = in.d_model;
    ri.router_weight.assign(attn.spec().kernels.size(), nullptr);
    ri.routing.assign(attn.spec().kernels.size(), nullptr);
    for (int ki : attn.routed_kernels()) {
      ri.router_weight[ki] = in.w[ki].host.data();
      ri.routing[ki] = &groups[ki];
      router_bad += router_mismatches(in, attn, ki, groups[ki]);
    }
  }
  t0 = std::chrono::steady_clock::now();
  ref::RefOutput ro;
  ref::reference_attention<double>(attn.spec(), ri, ro);
  fmt::print("  reference: float64, {:.0f} ms\n", ms_since(t0));

  bool ok = true;
  const auto& kernels = attn.spec().kernels;
  if (kernels.size() > 1) {
    // Each kernel alone, so a wrong branch is named.
    for (int ki = 0; ki < (int)kernels.size(); ++ki) {
      rt::PatternAttention one(single_kernel(f, ki), attn.options());
      Inputs& same = in;  // the same tensors; a one-kernel pattern takes the one router weight of its kernel
      rt::RouterInputs saved = same.router;
      if (kernels[ki].route) same.router.weights = {rt::TensorView::contiguous(
          same.w[ki].buf->ptr(), rt::DType::BF16, {same.d_model, kernels[ki].route->groups})};
      const bool had_route = same.routed;
      same.routed = kernels[ki].route.has_value();
      const std::vector<float> got = run_poisoned(one, same, s);
      same.router = saved;
      same.routed = had_route;
      ok &= report(fmt::format("kernel {}", kernels[ki].name), compare(got, ro.terms[ki]),
                   fmt::format("  [{}]", engine_note(one, 0, s.D)), bound);
    }
  } else {
    fmt::print("  kernel {} [{}]\n", kernels[0].name, engine_note(attn, 0, s.D));
  }
  ok &= report("pattern (all kernels)", compare(out, ro.out), "", bound);
  if (in.routed) {
    fmt::print("  router: {} tokens in another group than the CPU router with a margin >= {:.0e}  {}\n", router_bad,
               kRouterTieMargin, verdict(router_bad == 0));
    ok &= router_bad == 0;
  }
  fmt::print("{}: {} at {} (H={} D={} seed {})\n", verdict(ok), f.pattern.spec.pattern, p.text, s.H, s.D, a.seed);
  return ok ? kExitPass : kExitFail;
}

int run_check(const CheckArgs& a) {
  CompiledFile f;
  Problem p;
  try {
    f = compile_file(a.file, a.params, a.head_dim);
    p = make_problem(f.pattern.spec, a.shape, a.shots, a.heads, a.head_dim, "4999", "7x13x19");
  } catch (const UsageError& e) {
    fmt::print(stderr, "moga check: {}\n", e.what());
    return kExitBadInput;
  }
  fmt::print("moga check {}: pattern '{}' ({} kernels), shape {} (N={}), H={} D={}\n", a.file, f.pattern.spec.pattern,
             f.pattern.spec.kernels.size(), p.text, p.attn.N, p.attn.H, p.attn.D);
  print_kernels(f, p);
  std::unique_ptr<rt::PatternAttention> attn;
  try {
    rt::AttentionOptions o = variant_options(a.variant);
    if (a.fp8) o.precision = rt::Precision::Fp8;
    attn = std::make_unique<rt::PatternAttention>(f.pattern, o);
  } catch (const UsageError& e) {
    fmt::print(stderr, "moga check: {}\n", e.what());
    return kExitBadInput;
  } catch (const rt::NotSupportedError& e) {
    fmt::print("refused: {}\n", e.what());
    return kExitRefused;
  }
  if (a.cpu_only) return cpu_only(*attn, p, a.d_model);
  std::string why;
  if (!jit::device_available(&why)) {
    fmt::print("no CUDA device: {}\nnothing was checked on the GPU (exit {}); --cpu-only checks compile, sparsity "
               "and the GPU module without one\n", why, (int)kExitNoDevice);
    return kExitNoDevice;
  }
  try {
    return gpu_check(f, *attn, p, a);
  } catch (const rt::NotSupportedError& e) {
    fmt::print("refused: {}\n", e.what());
    return kExitRefused;
  }
}

}  // namespace

Command register_check(CLI::App& app) {
  auto a = std::make_shared<CheckArgs>();
  CLI::App* sub = app.add_subcommand(
      "check", "Run a .moga pattern on the GPU on random inputs and compare with the CPU reference "
               "(exit 0 pass, 1 fail, 2 bad pattern/argument, 3 no GPU, 4 refused by the GPU runtime)");
  sub->add_option("file", a->file, "the .moga pattern")->required()->check(CLI::ExistingFile);
  sub->add_option("--shape", a->shape, "N (seq) or FxHxW (video); default 4999 / 7x13x19");
  sub->add_option("--shots", a->shots, "first frame of each shot after the first (video)");
  sub->add_option("--param", a->params, "override a param: --param M=16 (repeatable)");
  sub->add_option("--heads", a->heads, "attention heads")->check(CLI::PositiveNumber);
  sub->add_option("--head-dim", a->head_dim, "head dimension")->check(CLI::IsMember({64, 128}));
  sub->add_option("--seed", a->seed, "random inputs' seed");
  sub->add_option("--d-model", a->d_model, "router input width (routed patterns; a multiple of 8)")
      ->check(CLI::PositiveNumber);
  sub->add_option("--variant", a->variant,
                  "run every kernel on this kernel registry row (e.g. sm90.ws, sm90.tma, sm90.tma.sorted; "
                  "default: the runtime's choice per kernel)");
  sub->add_flag("--cpu-only", a->cpu_only, "no GPU run: compile, sparsity, runtime acceptance, NVRTC module");
  sub->add_flag("--fp8", a->fp8, "FP8 (e4m3) attention (Hopper, head dim 128), checked against rel L2 6e-2");
  return {sub, [a] { return run_check(*a); }};
}

}  // namespace moga::cli
