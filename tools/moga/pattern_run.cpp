// See pattern_run.h.
#include "tools/moga/pattern_run.h"
#include "runtime/attention/bf16.h"

#include <fmt/format.h>
#include <stdio.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <random>

#include "compiler/driver/compile_pattern.h"
#include "runtime/reference/program.h"
#include "tools/moga/sparsity.h"

namespace moga::cli {

std::map<std::string, std::string> parse_param_list(const std::vector<std::string>& kv) {
  std::map<std::string, std::string> out;
  for (const std::string& s : kv) {
    const auto eq = s.find('=');
    if (eq == std::string::npos || eq == 0) throw UsageError(fmt::format("--param expects k=v, got '{}'", s));
    out[s.substr(0, eq)] = s.substr(eq + 1);
  }
  return out;
}

CompiledFile compile_file(const std::string& file, const std::vector<std::string>& params, int head_dim) {
  PatternCompileOptions opt;
  opt.head_dim = head_dim;
  opt.params = parse_param_list(params);
  frontend::Diagnostics diags;
  auto compiled = compilePatternFile(file, opt, diags);
  std::cerr << diags.renderAll();
  if (!compiled) throw UsageError(fmt::format("'{}' does not compile (errors above)", file));
  CompiledFile f;
  f.manifest = compiled->manifest;
  f.pattern = rt::load_from_text(compiled->cuda, compiled->manifest.dump(), "file:" + file);
  return f;
}

Problem make_problem(const ref::PatternSpec& spec, const std::string& shape_text, const std::vector<int>& shots,
                     int heads, int head_dim, const std::string& default_seq, const std::string& default_video) {
  const bool video = spec.layout == ref::Layout::Video;
  Problem p;
  p.text = !shape_text.empty() ? shape_text : video ? default_video : default_seq;
  std::vector<int> dims;
  try {
    dims = parse_shape_dims(p.text);
    if (video != (dims.size() == 3))
      throw std::invalid_argument(fmt::format("pattern '{}' has layout {}: --shape expects {}, got '{}'", spec.pattern,
                                              video ? "video" : "seq", video ? "FxHxW" : "N", p.text));
    p.ref = parse_shape(p.text, shots);
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  p.attn = video ? rt::AttentionShape::make_video(1, dims[0], dims[1], dims[2], heads, head_dim)
                 : rt::AttentionShape::seq(1, dims[0], heads, head_dim);
  if (video) {
    p.attn.shot_starts.push_back(0);
    p.attn.shot_starts.insert(p.attn.shot_starts.end(), shots.begin(), shots.end());
    if (p.attn.shot_starts.size() == 1) p.attn.shot_starts.clear();
  }
  return p;
}


void DeviceTensor::upload(const std::vector<float>& values) {
  host = values;
  std::vector<unsigned short> b(values.size());
  for (size_t i = 0; i < values.size(); ++i) b[i] = f2bf(values[i]);
  buf = std::make_unique<jit::DeviceBuffer>(std::max<size_t>(16, b.size() * 2));
  buf->upload(b.data(), b.size() * 2);
}

std::vector<float> DeviceTensor::download(size_t n) const {
  std::vector<unsigned short> b(n);
  buf->download(b.data(), n * 2);
  std::vector<float> f(n);
  for (size_t i = 0; i < n; ++i) f[i] = bf2f(b[i]);
  return f;
}

namespace {

// Uniform in [lo, hi], rounded to bf16 so the host copy is exactly what the device holds.
std::vector<float> random_bf16(size_t n, std::mt19937_64& rng, float lo, float hi) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = bf2f(f2bf(d(rng)));
  return v;
}

}  // namespace

Inputs make_inputs(const rt::PatternAttention& attn, const rt::AttentionShape& s, int d_model, uint64_t seed) {
  const auto& spec = attn.spec();
  std::mt19937_64 rng(seed);
  Inputs in;
  in.numel = (size_t)s.B * s.N * s.H * s.D;
  in.q.upload(random_bf16(in.numel, rng, -1.f, 1.f));
  in.k.upload(random_bf16(in.numel, rng, -1.f, 1.f));
  in.v.upload(random_bf16(in.numel, rng, -1.f, 1.f));
  in.out.buf = std::make_unique<jit::DeviceBuffer>(in.numel * 2);
  in.tq = rt::TensorView::contiguous(in.q.buf->ptr(), rt::DType::BF16, {s.B, s.N, s.H, s.D});
  in.tk = rt::TensorView::contiguous(in.k.buf->ptr(), rt::DType::BF16, {s.B, s.N, s.H, s.D});
  in.tv = rt::TensorView::contiguous(in.v.buf->ptr(), rt::DType::BF16, {s.B, s.N, s.H, s.D});
  in.tout = rt::TensorView::contiguous(in.out.buf->ptr(), rt::DType::BF16, {s.B, s.N, s.H, s.D});
  in.routed = !attn.routed_kernels().empty();
  in.w.resize(spec.kernels.size());
  if (!in.routed) return in;
  in.d_model = d_model;
  in.x.upload(random_bf16((size_t)s.B * s.N * d_model, rng, -1.f, 1.f));
  in.router.x = rt::TensorView::contiguous(in.x.buf->ptr(), rt::DType::BF16, {s.B, s.N, d_model});
  const float a = 3.f / std::sqrt((float)d_model);
  for (int ki : attn.routed_kernels()) {
    const int M = spec.kernels[ki].route->groups;
    in.w[ki].upload(random_bf16((size_t)d_model * M, rng, -a, a));
    in.router.weights.push_back(rt::TensorView::contiguous(in.w[ki].buf->ptr(), rt::DType::BF16, {d_model, M}));
  }
  return in;
}

std::vector<ref::Grouping> gpu_groupings(const rt::PatternAttention& attn, const rt::AttentionShape& s) {
  std::vector<ref::Grouping> out(attn.spec().kernels.size());
  for (int ki : attn.routed_kernels()) {
    const rt::PatternAttention::Routing r = attn.last_routing(ki);
    ref::Grouping& g = out[ki];
    g.B = s.B;
    g.N = s.N;
    g.k = r.topk;  // gid / prob [B][N][k]
    g.M = r.M;
    g.gid = r.gid;
    g.prob.assign(r.prob.begin(), r.prob.end());
  }
  return out;
}

ref::Grouping static_grouping(const ref::PatternSpec& spec, int ki, const ref::Shape& shape) {
  const ref::KernelSpec& k = spec.kernels[ki];
  if (k.route) return ref::balanced_grouping(1, shape.N(), k.route->groups, k.route->topk);
  if (k.key) return ref::key_groups(*k.key, shape, 1);
  return ref::single_group(1, shape.N());
}

namespace {

// Sum over groups of (entries in the group)^2: the visible pairs of a grouped kernel without a mask.
double group_square_sum(const ref::Grouping& g) {
  std::map<int, double> count;
  for (int id : g.gid) count[id] += 1;
  double s = 0;
  for (const auto& [id, n] : count) s += n * n;
  return s;
}

// Monte Carlo over token pairs: the mean number of visible entry pairs per token pair, times N^2.
VisiblePairs sample_visible(const ref::KernelSpec& k, const ref::Shape& shape, const ref::Grouping& g,
                            uint64_t seed) {
  constexpr int kSamples = 1 << 22;
  ref::ElementEvaluator mask(*k.mask);
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> tok(0, shape.N() - 1);
  const bool grouped = k.grouped();
  double sum = 0, sum2 = 0;
  for (int i = 0; i < kSamples; ++i) {
    const int t = tok(rng), u = tok(rng);
    int hits = 0;
    for (int j = 0; j < g.k; ++j)
      for (int jj = 0; jj < g.k; ++jj)
        if (!grouped || g.group(0, t, j) == g.group(0, u, jj)) hits += 1;
    if (hits && !mask.mask(shape.coords(t), shape.coords(u), shape.mask())) hits = 0;
    sum += hits;
    sum2 += (double)hits * hits;
  }
  const double mean = sum / kSamples, var = std::max(0.0, sum2 / kSamples - mean * mean);
  VisiblePairs v;
  v.exact = false;
  v.pairs = mean * (double)shape.N() * shape.N();
  v.sampled_rel_err = mean > 0 ? std::sqrt(var / kSamples) / mean : 1.0;
  return v;
}

}  // namespace

VisiblePairs count_visible(const ref::KernelSpec& k, const ref::Shape& shape, const ref::Grouping& g,
                           long long exact_budget, uint64_t seed) {
  VisiblePairs v;
  const double entries = (double)shape.N() * g.k;
  if (!k.mask) {
    v.pairs = k.grouped() ? group_square_sum(g) : entries * entries;
  } else {
    ref::BlockMapOptions opt;
    opt.density_budget = exact_budget;
    const ref::BlockMap m = ref::build_block_map(k, shape, ref::token_order(g, k.grouped()), opt);
    if (m.density >= 0) {
      v.pairs = m.density * (double)m.B * m.Ne * m.Ne;
    } else {
      v = sample_visible(k, shape, g, seed);
    }
  }
  v.density = entries > 0 ? v.pairs / (entries * entries) : 0;
  return v;
}

Compare compare(const std::vector<float>& got, const std::vector<double>& want) {
  Compare c;
  double num = 0, den = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(got[i])) ++c.nan;
    else if (std::isinf(got[i])) ++c.inf;
    const double d = (double)got[i] - want[i];
    num += d * d;
    den += want[i] * want[i];
  }
  c.ref_norm = std::sqrt(den);
  c.rel_l2 = den > 0 ? std::sqrt(num / den) : std::sqrt(num);
  return c;
}

std::string engine_note(const rt::PatternAttention& attn, int ki, int head_dim) {
  try {
    const rt::TileConfig t = attn.tiles(ki, head_dim);
    return fmt::format("{} {} {}x{}", rt::engine_name(attn.engine(ki, head_dim)), attn.variant(ki, head_dim).name,
                       t.block_m, t.block_n);
  } catch (const std::exception& e) {
    return fmt::format("engine unknown ({})", e.what());
  }
}

rt::AttentionOptions variant_options(const std::string& variant) {
  rt::AttentionOptions o;
  if (variant.empty()) return o;
  if (!rt::find_variant(variant))
    throw UsageError(fmt::format("--variant '{}': no such kernel registry row (rows: {})", variant,
                                 rt::variant_names()));
  o.variant = variant;
  return o;
}

rt::LoadedPattern single_kernel(const CompiledFile& f, int ki) {
  nlohmann::json m = f.manifest;
  nlohmann::json k = m["kernels"][ki];
  k["accumulate"] = false;  // it is the first (only) kernel: it writes out
  m["kernels"] = nlohmann::json::array({k});
  return rt::load_from_text(f.pattern.cuda, m.dump(), f.pattern.origin + "#" + k["name"].get<std::string>());
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

std::string git_commit_of(const std::string& path) {
  // A copied work tree without .git (the GPU machine) says which commit it is through the environment.
  if (const char* c = std::getenv("MOGA_COMMIT"); c && *c) return c;
  std::error_code ec;
  const auto dir = std::filesystem::absolute(path, ec).parent_path();
  // The command line is ours (a quoted folder), not the user's text: no shell injection beyond the path.
  // "-dirty": tracked files differ from the commit (the run may be of an uncommitted tree)
  std::string cmd = "git -C '" + dir.string() + "' describe --always --dirty '--exclude=*' --abbrev=7 2>/dev/null";
  if (dir.string().find('\'') != std::string::npos) return "unknown";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return "unknown";
  char buf[64] = {};
  const bool ok = fgets(buf, sizeof buf, p) != nullptr;
  pclose(p);
  std::string s = ok ? std::string(buf) : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s.empty() ? "unknown" : s;
}

}  // namespace moga::cli
