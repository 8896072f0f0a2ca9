// moga_bench_attention: the runtime layer (runtime/attention) on the GPU, against PyTorch peers.
//
//   moga_bench_attention [--json FILE] [--peers bench/peers/attention_peers.py | --no-peers | --peers-from FILE]
//                        [--quick] [--iters N] [--precompile] [--engines mma,wgmma,mixed,wg-ua,wg-pad,wg-fb,wg-rN,<registry row>]
//                        [--cases default|scoremod|smallgroups|dense|fp8]
//
// Cases (bf16, B = 1, H = 12, D = 128; video grids 21x30x52 = 32,760 and 21x45x80 = 75,600 tokens):
//   full            dense attention: ms and TFLOP/s = 4 N^2 H D / t, vs SDPA's flash and cuDNN backends;
//   moga_dynamic M  (M = 4, 5, 16, 64; router d_model 1536): the whole layer (weight pack, router +
//                   fused histogram, scatter, block map, attention) and the attention kernel alone
//                   (RunOptions{prep = false}); useful FLOPs 4 D H sum_g n_g^2 from the actual groups;
//                   vs "MoGA the PyTorch way" (router matmul + softmax + argmax, torch.argsort, gather,
//                   FlexAttention with a document mask over the sorted groups, gate, scatter);
//   moga            the full layer (router branch + STGA + frame-local, mean), one shot;
//   stga, frame_local  the moga layer's static branches alone (kernel time only).
// --cases scoremod instead: routed6 (route linear(6) top 1, gated; bench/scoremod/) alone, with a softcap,
//   with a bias over video coordinates and the head, with both; full alone, with a softcap, with ALiBi:
//   the cost of each score modification in one run (issue #12, item 3).
// --cases dense instead: full, full with a softcap, full with ALiBi, causal (kernels without a gather: what
//   the TMA row sm90.tma runs itself), at both grids; the peers then run their dense cases only (issue #16).
// --cases fp8 instead: full alone at 32,760 and 187,200 tokens (30x60x104, the paper's longest video): the
//   FP8 rows' A/B beside sm90.tma and the dense peers (SDPA flash, cuDNN) of the same run (issue #16).
// --cases smallgroups instead: groups much smaller than a tile (issue #12, item 4): svg_temporal (1,560
//   groups of 21 tokens at 21x30x52), frame_local at 520x7x9 (frames of 63 tokens), moga_dynamic M = 64
//   and 256 at 8x16x32 (4,096 tokens); engines wgmma (the layout Auto picks), wg-pad, wg-ua, mma by
//   default; ms against the memory floor measured in the same run (run_smallgroups).
// Engines (AttentionOptions::engine; the "engine" column): every case runs with
//   mma      sm80.mma (attention_fwd, mma.sync) with the harness's best tiles (docs/performance.md, "State
//            after v7"): dense 128/128/8/2, grouped and masked 64/64/4/2 ("tuned": true in the JSON);
//   wgmma    Engine::Wgmma, what Engine::Auto picks at D = 128 on an H100/H200: sm90.ws (attention_fwd_ws,
//            sm_90a) 128/128/8/3, dense kernels sm90.tma 128/176/8/2 ("kernel_variants" in the JSON);
//            skipped with a note on other devices;
//   mixed    (the moga case only) Engine::Auto with one tile entry, stga = 64/64/4/2: STGA on sm80.mma,
//            the routed and frame-local branches on sm90.ws, in one sm_90a module.
//   wg-ua    (A/B, routed cases only) wgmma with packed groups (AttentionOptions::group_layout = Packed)
//   wg-pad   (A/B, routed cases only) wgmma with padded groups (group_layout = Padded)
//   wg-fb    (A/B) wgmma with the bias's float split only (AttentionOptions::packed_bias = false: no byte-packed
//            distance sums)
//   wg-rN    (A/B, routed cases only) wgmma with router configuration N (AttentionOptions::router_config)
//   fp8      AttentionOptions::precision = Fp8 with the engine's choice (sm90.tma.fp8 for the kernels without
//            a gather, bf16 rows for the others); layer = quantization + attention, kernel = attention alone
//            (the e4m3 copies of the previous call; RunOptions{prep = false});
//   <row>    (A/B, every case) a wgmma row of the kernel registry by name (runtime/attention/registry.h):
//            sm90.ws.items, sm90.ws.persistent, sm90.ws.static, sm90.tma*; "<row>:BNxS" with other tiles
//            (e.g. sm90.ws:64x4 = BN 64, 4 stages)
// Every engine but wg-ua and wg-pad runs with group_layout Auto (the default: padded for these cases
// group sizes, packed where groups are much smaller than a tile).
// Before the first case every module the run needs is compiled into the JIT cache on all cores.
// Timing: CUDA events around each call, 3 warm-up calls (JIT, static maps), median of >= 10 timed
// calls, two input sets used in turn. The peer script runs afterwards in its own process (our
// buffers freed first) and prints its own JSON; this program merges both, prints the table last and
// writes --json (device name and date included).
// --peers-from FILE (or MOGA_BENCH_PEERS_FROM=FILE in the environment, which wins over --peers: for
// runners with a fixed command line such as tools/gpu-check): take the peer rows from an earlier
// result JSON (written by this program with its peers) instead of running the script; the JSON's
// "peer_source" and the table's last line say which file, date and device they come from. The peers
// do not depend on this repository's code, so a stored run on the same kind of device is a fair
// comparison when device time is short; rerun them when the PyTorch version or the device changes.
// --precompile: compile every module the benchmark needs into the JIT cache (NVRTC only, no GPU;
// without a device the target is sm_90, so the wgmma modules are built for sm_90a).
#include <fmt/format.h>
#include <stdio.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "runtime/attention/attention.h"
#include "runtime/attention/bf16.h"
#include "runtime/attention/compiled_embed.h"
#include "runtime/jit/check.h"
#include "runtime/jit/driver.h"
#include "runtime/jit/jit.h"
#include "runtime/jit/module.h"

namespace moga::rt {
const std::vector<CompiledText>& bench_patterns();
}

using namespace moga;
using namespace moga::rt;
using json = nlohmann::json;

namespace {

struct Grid {
  int F, Hg, Wd;
  int N() const { return F * Hg * Wd; }
};
const Grid kGrids[] = {{21, 30, 52}, {21, 45, 80}};
// --cases fp8: 32,760 and the paper's longest video, 187,200 tokens (30 x 60 x 104; one dense call is ~0.25 s
// in FP8, 2.2e14 FLOP, and q, k, v take 58 MB each)
const Grid kFp8Grids[] = {{21, 30, 52}, {30, 60, 104}};
constexpr int kH = 12, kD = 128, kDModel = 1536;

LoadedPattern pattern_for(const std::string& name, int M) {
  if (name == "moga_dynamic" && M != 5) {
    const std::string label = fmt::format("moga_dynamic_M{}", M);
    for (const auto& e : bench_patterns())
      if (label == e.label) return load_from_text(e.cuda, e.manifest, e.label);
    throw std::runtime_error("no embedded pattern " + label);
  }
  for (const auto& e : bench_patterns())  // --cases scoremod (bench/scoremod/*.moga)
    if (name == e.label) return load_from_text(e.cuda, e.manifest, e.label);
  return load_builtin(name);
}

// The routed cases whose useful FLOPs come from their groups (4 D H sum n_g^2), and the dense ones.
bool routed_case(const std::string& p) { return p == "moga_dynamic" || p.rfind("routed6", 0) == 0; }
bool dense_case(const std::string& p) { return p == "full" || p.rfind("full_", 0) == 0; }


// Random bf16 on the device (uniform [-a, a]), generated on the host once.
std::unique_ptr<jit::DeviceBuffer> random_device(size_t n, float a, std::mt19937_64& rng) {
  std::vector<unsigned short> h(n);
  std::uniform_real_distribution<float> d(-a, a);
  for (auto& x : h) x = f2bf(d(rng));
  auto b = std::make_unique<jit::DeviceBuffer>(n * 2);
  b->upload(h.data(), n * 2);
  return b;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

struct Timer {
  CUevent a, b;
  Timer() {
    CU_CHECK(jit::driver().cuEventCreate(&a, CU_EVENT_DEFAULT));
    CU_CHECK(jit::driver().cuEventCreate(&b, CU_EVENT_DEFAULT));
  }
  ~Timer() {
    jit::driver().cuEventDestroy(a);
    jit::driver().cuEventDestroy(b);
  }
};

// Times fn(i) `iters` times after `warm` calls; median ms and the spread (max/min of the middle half).
template <class F>
std::pair<double, double> time_it(F&& fn, int warm, int iters, CUstream st, std::vector<double>* all = nullptr) {
  const jit::Driver& d = jit::driver();
  for (int i = 0; i < warm; ++i) fn(i);
  CU_CHECK(d.cuStreamSynchronize(st));
  std::vector<std::unique_ptr<Timer>> t(iters);
  for (int i = 0; i < iters; ++i) {
    t[i] = std::make_unique<Timer>();
    CU_CHECK(d.cuEventRecord(t[i]->a, st));
    fn(warm + i);
    CU_CHECK(d.cuEventRecord(t[i]->b, st));
  }
  CU_CHECK(d.cuStreamSynchronize(st));
  std::vector<double> ms(iters);
  for (int i = 0; i < iters; ++i) {
    float x = 0;
    CU_CHECK(d.cuEventElapsedTime(&x, t[i]->a, t[i]->b));
    ms[i] = x;
  }
  if (all) *all = ms;
  std::vector<double> s = ms;
  std::sort(s.begin(), s.end());
  const double spread = s[s.size() * 3 / 4] / std::max(1e-9, s[s.size() / 4]);
  return {median(ms), spread};
}

// A registry row named as an engine ("sm90.ws.static", or "sm90.ws:64x4" with BN 64, 4 stages): the row,
// its tiles; nullptr for anything else.
const KernelVariant* row_engine(const std::string& e, TileConfig* tiles = nullptr) {
  const size_t colon = e.find(':');
  const KernelVariant* v = find_variant(e.substr(0, colon));
  if (!v || v->engine != Engine::Wgmma) return nullptr;
  TileConfig t = v->default_tiles;
  if (colon != std::string::npos && std::sscanf(e.c_str() + colon + 1, "%dx%d", &t.block_n, &t.stages) != 2)
    return nullptr;
  if (tiles) *tiles = t;
  return v;
}
// A wgmma A/B variant (header comment): wg-ua, wg-pad, wg-fb, wg-rN with N digits.
bool ab_engine(const std::string& e) {
  if (e == "wg-ua" || e == "wg-pad" || e == "wg-fb") return true;
  return e.size() > 4 && e.rfind("wg-r", 0) == 0 && e.find_first_not_of("0123456789", 4) == std::string::npos;
}

// The options a case runs with (header comment, "Engines").
AttentionOptions options_for(const LoadedPattern& lp, const std::string& engine, std::string* tiles_note) {
  AttentionOptions opts;
  if (engine == "mixed") {
    opts.engine = Engine::Auto;
    std::string note;
    for (const auto& ks : lp.spec.kernels) {
      if (ks.name == "stga") opts.tiles[ks.name] = TileConfig{64, 64, 4, 2};
      note += fmt::format("{}{}={}", note.empty() ? "" : ",", ks.name, ks.name == "stga" ? "64/64/4/2" : "wg");
    }
    if (tiles_note) *tiles_note = note;
    return opts;
  }
  if (engine == "fp8") {  // what a user runs with precision fp8: the engine's rows, FP8 where they can be
    opts.precision = Precision::Fp8;
    if (tiles_note) *tiles_note = "precision fp8, default rows";
    return opts;
  }
  TileConfig rt_tiles;
  if (const KernelVariant* v = row_engine(engine, &rt_tiles)) {
    opts.engine = Engine::Wgmma;
    opts.variant = v->name;
    for (const auto& ks : lp.spec.kernels)  // a gathered kernel on a row without a gather runs its gather row
      if (!v->gather_row || !ks.grouped()) opts.tiles[ks.name] = rt_tiles;
    if (tiles_note)
      *tiles_note = fmt::format("{}/{}/{}/{} {}", rt_tiles.block_m, rt_tiles.block_n, rt_tiles.warps, rt_tiles.stages,
                                scheduler_name(v->scheduler));
    return opts;
  }
  if (engine == "wgmma" || ab_engine(engine)) {
    opts.engine = Engine::Wgmma;
    if (engine == "wg-ua") opts.group_layout = GroupLayout::Packed;
    if (engine == "wg-pad") opts.group_layout = GroupLayout::Padded;
    if (engine == "wg-fb") opts.packed_bias = false;
    if (engine.rfind("wg-r", 0) == 0) opts.router_config = std::stoi(engine.substr(4));
    if (tiles_note)
      *tiles_note = std::string("default rows") + (engine == "wg-ua"    ? " packed"
                                                   : engine == "wg-pad" ? " padded"
                                                   : engine == "wg-fb"  ? " float bias"
                                                                        : "");
    return opts;
  }
  opts.engine = Engine::MmaSync;
  std::string note;
  for (const auto& ks : lp.spec.kernels) {
    const bool dense = !ks.grouped() && !ks.mask;
    opts.tiles[ks.name] = dense ? TileConfig{128, 128, 8, 2} : TileConfig{64, 64, 4, 2};
    note += fmt::format("{}{}={}", note.empty() ? "" : ",", ks.name, dense ? "128/128/8/2" : "64/64/4/2");
  }
  if (tiles_note) *tiles_note = note;
  return opts;
}

struct CaseSpec {
  std::string pname;
  int M = 0;
  bool video = false;
};
// "mixed" is a configuration of the moga layer alone.
bool runs(const CaseSpec& c, const std::string& engine) {
  if (engine == "mixed") return c.pname == "moga";
  // registry rows cover every case
  if (row_engine(engine)) return true;
  if (engine == "wg-fb") return true;  // the float bias split: every case (those without a bias as a check)
  if (ab_engine(engine)) return c.pname == "moga" || c.pname == "moga_dynamic";
  return true;
}
struct SmallCase {
  std::string label, pname;
  int M;  // routed: the router's groups (moga_dynamic_M<M>)
  Grid g;
};
const SmallCase kSmallCases[] = {
    {"svg_temporal 1560x21", "svg_temporal", 0, {21, 30, 52}},  // a group per spatial cell: 21 tokens each
    {"frame_local 520x7x9", "frame_local", 0, {520, 7, 9}},      // frames of 63 tokens (low resolution)
    {"moga_dynamic M=64", "moga_dynamic", 64, {8, 16, 32}},       // 4,096 tokens: ~64 per group
    {"moga_dynamic M=256", "moga_dynamic", 256, {8, 16, 32}},     // ~16 per group
};

bool g_scoremod = false;     // --cases scoremod
bool g_smallgroups = false;  // --cases smallgroups
bool g_dense = false;        // --cases dense
bool g_fp8 = false;          // --cases fp8
// The grids of the run: --cases fp8's, or the two video grids.
std::vector<Grid> grids() {
  if (g_fp8) return {std::begin(kFp8Grids), std::end(kFp8Grids)};
  return {std::begin(kGrids), std::end(kGrids)};
}
std::vector<CaseSpec> cases(const std::vector<int>& Ms) {
  if (g_scoremod)  // a pattern with and without its score modification, side by side
    return {{"routed6", 6, true},    {"routed6_cap", 6, true}, {"routed6_bias", 6, true}, {"routed6_cap_bias", 6, true},
            {"full", 0, false},      {"full_cap", 0, false},   {"full_alibi", 0, false}};
  if (g_dense) return {{"full", 0, false}, {"full_cap", 0, false}, {"full_alibi", 0, false}, {"causal", 0, false}};
  if (g_fp8) return {{"full", 0, false}};
  if (g_smallgroups) {
    std::vector<CaseSpec> c;
    for (const SmallCase& sc : kSmallCases) c.push_back({sc.pname, sc.M, true});
    return c;
  }
  std::vector<CaseSpec> c{{"full", 0, false}};
  for (int M : Ms) c.push_back({"moga_dynamic", M, true});
  c.push_back({"moga", 5, true});
  c.push_back({"stga", 0, true});
  c.push_back({"frame_local", 0, true});
  return c;
}

// Every module of the run (each case x engine, D = 128) into the JIT cache, on all cores: the cases then
// load them (the first call of a case would otherwise compile, one module at a time).
void precompile(const std::vector<int>& Ms, const std::vector<std::string>& engines, bool print) {
  (void)jit::CompileOptions{}.resolved_arch();  // the device query once, on this thread
  struct Item {
    CaseSpec c;
    std::string engine;
  };
  std::vector<Item> items;
  for (const CaseSpec& c : cases(Ms))
    for (const std::string& e : engines)
      if (runs(c, e)) items.push_back({c, e});
  const unsigned threads = std::max(1u, std::min<unsigned>(std::thread::hardware_concurrency(), items.size()));
  std::atomic<size_t> next{0};
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  std::vector<std::string> lines(items.size());
  for (unsigned t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      for (size_t i; (i = next++) < items.size();) {
        const Item& it = items[i];
        const std::string label = it.c.pname == "moga_dynamic" ? fmt::format("moga_dynamic M={}", it.c.M) : it.c.pname;
        try {
          LoadedPattern lp = pattern_for(it.c.pname, it.c.M);
          AttentionOptions o = options_for(lp, it.engine, nullptr);
          PatternAttention a(std::move(lp), o);
          const ModuleInfo info = a.compile(kD);
          lines[i] = fmt::format("{} [{}]: {} ({}) {:.0f} ms", label, it.engine, info.cache_hit ? "hit" : "compiled",
                                 info.arch, info.compile_ms);
        } catch (const std::exception& ex) {  // the case itself reports it
          lines[i] = fmt::format("{} [{}]: FAILED: {}", label, it.engine, ex.what());
        }
      }
    });
  for (auto& t : pool) t.join();
  for (const auto& l : lines) (print ? std::cout : std::cerr) << l << "\n";
  std::fprintf(stderr, "precompile: %zu modules on %u threads in %.1f s\n", items.size(), threads,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

struct Inputs {
  int N = 0;
  std::vector<std::unique_ptr<jit::DeviceBuffer>> q, k, v, x;  // 2 sets each
  std::unique_ptr<jit::DeviceBuffer> out;
  std::map<int, std::unique_ptr<jit::DeviceBuffer>> w;  // per M
};

json run_ours(const std::vector<int>& Ms, const std::vector<std::string>& engines, int iters, bool quick,
              std::mt19937_64& rng, CUstream st) {
  json rows = json::array();
  precompile(Ms, engines, false);
  for (const Grid& g : grids()) {
    const int N = g.N();
    const size_t nel = (size_t)N * kH * kD;
    Inputs in;
    in.N = N;
    for (int r = 0; r < 2; ++r) {
      in.q.push_back(random_device(nel, 1.f, rng));
      in.k.push_back(random_device(nel, 1.f, rng));
      in.v.push_back(random_device(nel, 1.f, rng));
      if (!g_fp8) in.x.push_back(random_device((size_t)N * kDModel, 1.f, rng));  // the routed cases' router input
    }
    in.out = std::make_unique<jit::DeviceBuffer>(nel * 2);
    auto view = [&](const jit::DeviceBuffer& b) {
      return TensorView::contiguous(b.ptr(), DType::BF16, {1, N, kH, kD});
    };
    const TensorView o = view(*in.out);
    // logits ~ N(0, 1): x uniform [-1, 1] (var 1/3), w uniform [-a, a], var(w) = a^2/3, d = 1536
    const float wa = std::sqrt(9.f / kDModel);

    // engine "mma": sm80.mma with the kernel harness's recommended tiles (docs/performance.md, "State
    // after v7": dense 128/128/8/2, grouped and masked 64/64/4/2; "tuned" in the JSON); "wgmma": sm90.ws.
    auto bench_case = [&](const std::string& pname, int M, bool video, const std::string& engine) {
      LoadedPattern lp = pattern_for(pname, M);
      std::string tiles_note;
      const AttentionOptions opts = options_for(lp, engine, &tiles_note);
      const bool tuned = engine == "mma" || engine == "mixed";  // tile entries (v7 configurations)
      PatternAttention attn(std::move(lp), opts);
      const AttentionShape s = video ? AttentionShape::make_video(1, g.F, g.Hg, g.Wd, kH, kD)
                                     : AttentionShape::seq(1, N, kH, kD);
      RouterInputs router;
      const bool routed = !attn.routed_kernels().empty();
      if (routed) {
        const int Mr = attn.spec().kernels[attn.routed_kernels()[0]].route->groups;
        if (!in.w.count(Mr)) in.w[Mr] = random_device((size_t)kDModel * Mr, wa, rng);
        router.weights = {TensorView::contiguous(in.w[Mr]->ptr(), DType::BF16, {kDModel, Mr})};
        // a layer's router weight does not change between calls: packed once (the first call), as an
        // inference engine packs weights at load time (the x input still changes every call)
        router.weights_unchanged = true;
      }
      auto call = [&](int i, const RunOptions& ro) {
        const int r = i & 1;
        if (routed) router.x = TensorView::contiguous(in.x[r]->ptr(), DType::BF16, {1, N, kDModel});
        attn.run(view(*in.q[r]), view(*in.k[r]), view(*in.v[r]), o, s, routed ? &router : nullptr, st, ro);
      };
      const auto t0 = std::chrono::steady_clock::now();
      call(0, {});  // compile / load, static maps
      CU_CHECK(jit::driver().cuStreamSynchronize(st));
      const double first_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      json row;
      row["case"] = pname == "moga_dynamic" ? fmt::format("moga_dynamic M={}", M) : pname;
      row["tiles"] = tiles_note;
      row["tuned"] = tuned;
      row["engine"] = engine;
      for (int ki = 0; ki < (int)attn.spec().kernels.size(); ++ki) {
        row["kernel_engines"][attn.spec().kernels[ki].name] = engine_name(attn.engine(ki, kD));
        const TileConfig t = attn.tiles(ki, kD);
        row["kernel_variants"][attn.spec().kernels[ki].name] =
            fmt::format("{} {}/{}/{}", attn.variant(ki, kD).name, t.block_m, t.block_n, t.stages);
      }
      row["pattern"] = pname;
      row["N"] = N;
      row["grid"] = video ? fmt::format("{}x{}x{}", g.F, g.Hg, g.Wd) : "seq";
      row["H"] = kH;
      row["D"] = kD;
      row["first_call_ms"] = first_ms;
      const int it = iters, warm = 3;
      std::vector<double> layer_all;
      auto [layer_ms, layer_spread] = time_it([&](int i) { call(i, {}); }, warm, it, st, &layer_all);
      row["layer_ms"] = layer_ms;
      row["layer_spread"] = layer_spread;
      if (routed) {  // the two input sets route differently (group sizes, so tile counts): median of each
        std::vector<double> by_set[2];
        for (int i = 0; i < (int)layer_all.size(); ++i) by_set[(warm + i) & 1].push_back(layer_all[i]);  // call(i)
        row["layer_ms_by_input_set"] = {median(by_set[0]), median(by_set[1])};
      }
      bool fp8 = false;  // FP8 rows (sm90.tma.fp8): the kernel alone reuses the last call's e4m3 copies
      for (int ki = 0; ki < (int)attn.spec().kernels.size(); ++ki) fp8 |= attn.variant(ki, kD).fp8;
      if (!dense_case(pname) || fp8) {
        RunOptions ko;
        ko.prep = false;
        // the routing of the last timed call stays in place (input set of that call)
        auto [k_ms, k_spread] = time_it([&](int i) { call(i, ko); }, 2, it, st);
        row["kernel_ms"] = k_ms;
        row["kernel_spread"] = k_spread;
      }
      if (routed) {  // the per-call preparation alone: pack, router, sort, block map (no attention)
        RunOptions po;
        po.attention = false;
        auto [p_ms, p_spread] = time_it([&](int i) { call(i, po); }, 2, it, st);
        row["prep_ms"] = p_ms;
        row["prep_spread"] = p_spread;
        call(0, {});  // leave a complete state behind for the inspection below
      }
      if (dense_case(pname)) {
        row["flops"] = 4.0 * N * (double)N * kH * kD;
      } else if (routed_case(pname)) {
        const auto ord = attn.last_order(0, st);
        double sum2 = 0;
        int mx = 0, mn = N;
        for (int gi = 0; gi < ord.G; ++gi) {
          const int n = ord.seg_offsets[gi + 1] - ord.seg_offsets[gi];
          sum2 += (double)n * n;
          mx = std::max(mx, n);
          mn = std::min(mn, n);
        }
        row["M"] = M;
        row["sum_n2"] = sum2;
        row["group_min"] = mn;
        row["group_max"] = mx;
        row["flops"] = 4.0 * kD * kH * sum2;
      }
      if (row.contains("flops")) {
        row["layer_tflops"] = row["flops"].get<double>() / (layer_ms * 1e-3) / 1e12;
        if (row.contains("kernel_ms"))
          row["kernel_tflops"] = row["flops"].get<double>() / (row["kernel_ms"].get<double>() * 1e-3) / 1e12;
      }
      for (int ki = 0; ki < (int)attn.spec().kernels.size(); ++ki) {
        const auto mst = attn.last_block_map(ki, st);
        const double pairs = (double)mst.tq * mst.tk;
        row["maps"][attn.spec().kernels[ki].name] = {{"full", mst.full / pairs}, {"partial", mst.partial / pairs}};
      }
      std::cerr << row.dump() << "\n";
      rows.push_back(row);
    };
    // each case under every engine, one after the other (the table compares them line by line); the
    // static branches of the moga layer on their own last (breakdown)
    for (const CaseSpec& c : cases(Ms))
      for (const std::string& e : engines)
        if (runs(c, e)) {
          try {
            bench_case(c.pname, c.M, c.video, e);
          } catch (const std::exception& ex) {  // e.g. tiles the kernel's staging cannot fit: the others still run
            std::fprintf(stderr, "%s [%s]: not measured: %s\n", c.pname.c_str(), e.c_str(), ex.what());
          }
        }
    if (quick) break;
  }
  return rows;
}

// ---- --cases smallgroups: groups much smaller than a tile (issue #12, item 4) -------------------------
// Each case under the wgmma kernel with the layout Auto picks (engine wgmma), forced padded (wg-pad),
// forced packed (wg-ua), and sm80.mma (its tuned 64/64 tiles, layout Auto); kernel = attention alone.
// The memory floor: the bytes of q, k, v and out at the copy bandwidth measured in the same run (a
// device-to-device copy of half those bytes reads and writes them all once: its time is the floor).
// The memory floor at N tokens (ms): median time of a D2D copy of 2 N H D bf16 elements.
double memory_floor_ms(int N, int iters, CUstream st, double* gbps) {
  const size_t bytes = (size_t)2 * N * kH * kD * 2;  // half of q, k, v, out
  jit::DeviceBuffer a(bytes), b(bytes);
  auto [ms, spread] = time_it(
      [&](int) { CU_CHECK(jit::driver().cuMemcpyDtoDAsync(b.ptr(), a.ptr(), bytes, st)); }, 3, iters, st);
  (void)spread;
  *gbps = 2.0 * bytes / (ms * 1e-3) / 1e9;
  return ms;
}

json run_smallgroups(const std::vector<std::string>& engines, int iters, std::mt19937_64& rng, CUstream st) {
  json rows = json::array();
  std::map<int, std::pair<double, double>> floors;  // N -> (ms, GB/s)
  for (const SmallCase& c : kSmallCases) {
    const int N = c.g.N();
    if (!floors.count(N)) {
      double gbps = 0;
      const double f = memory_floor_ms(N, iters, st, &gbps);
      floors[N] = {f, gbps};
    }
    const size_t nel = (size_t)N * kH * kD;
    auto q = random_device(nel, 1.f, rng), k = random_device(nel, 1.f, rng), v = random_device(nel, 1.f, rng);
    auto x = random_device((size_t)N * kDModel, 1.f, rng);
    jit::DeviceBuffer ob(nel * 2);
    auto view = [&](CUdeviceptr p) { return TensorView::contiguous(p, DType::BF16, {1, N, kH, kD}); };
    const AttentionShape s = AttentionShape::make_video(1, c.g.F, c.g.Hg, c.g.Wd, kH, kD);
    for (const std::string& engine : engines) {
      json row;
      row["case"] = c.label;
      row["engine"] = engine;
      row["N"] = N;
      row["grid"] = fmt::format("{}x{}x{}", c.g.F, c.g.Hg, c.g.Wd);
      row["floor_ms"] = floors[N].first;
      row["copy_gbps"] = floors[N].second;
      try {
        LoadedPattern lp = pattern_for(c.pname, c.M);
        std::string tiles_note;
        const AttentionOptions opts = options_for(lp, engine, &tiles_note);
        PatternAttention attn(std::move(lp), opts);
        row["tiles"] = tiles_note;
        RouterInputs router;
        std::unique_ptr<jit::DeviceBuffer> w;
        const bool routed = !attn.routed_kernels().empty();
        if (routed) {
          w = random_device((size_t)kDModel * c.M, std::sqrt(9.f / kDModel), rng);
          router.x = TensorView::contiguous(x->ptr(), DType::BF16, {1, N, kDModel});
          router.weights = {TensorView::contiguous(w->ptr(), DType::BF16, {kDModel, c.M})};
          router.weights_unchanged = true;
        }
        auto call = [&](const RunOptions& ro) {
          attn.run(view(q->ptr()), view(k->ptr()), view(v->ptr()), view(ob.ptr()), s, routed ? &router : nullptr, st,
                   ro);
        };
        const PatternAttention::Layout lay = attn.group_layout(0, s);
        row["layout"] = group_layout_name(lay.layout);
        row["pairs_padded"] = lay.padded_pairs;
        row["pairs_packed"] = lay.packed_pairs;
        row["layer_ms"] = time_it([&](int) { call({}); }, 3, iters, st).first;
        RunOptions ko;
        ko.prep = false;
        const double kms = time_it([&](int) { call(ko); }, 2, iters, st).first;
        row["kernel_ms"] = kms;
        row["kernel_over_floor"] = kms / floors[N].first;
        const auto ord = attn.last_order(0, st);
        double sum2 = 0;
        for (int gi = 0; gi < ord.G; ++gi) {
          const double n = ord.seg_offsets[gi + 1] - ord.seg_offsets[gi];
          sum2 += n * n;
        }
        row["groups"] = ord.G;
        row["kernel_tflops"] = 4.0 * kD * kH * sum2 / (kms * 1e-3) / 1e12;
        const auto mst = attn.last_block_map(0, st);
        row["tile_pairs"] = {{"full", mst.full}, {"partial", mst.partial}};
      } catch (const std::exception& e) {
        row["error"] = e.what();
      }
      std::cerr << row.dump() << "\n";
      rows.push_back(row);
    }
  }
  return rows;
}

void print_smallgroups(const json& rows) {
  std::printf("\n%-22s %6s %-7s %-7s %9s %9s %9s %7s %7s %11s\n", "case", "N", "engine", "layout", "layer ms",
              "kernel ms", "floor ms", "ratio", "TF/s", "full/part");
  std::printf("%s\n", std::string(104, '-').c_str());
  for (const auto& r : rows) {
    if (r.contains("error")) {
      std::printf("%-22s %6d %-7s refused: %s\n", r["case"].get<std::string>().c_str(), r["N"].get<int>(),
                  r["engine"].get<std::string>().c_str(), r["error"].get<std::string>().c_str());
      continue;
    }
    std::printf("%-22s %6d %-7s %-7s %9.3f %9.3f %9.3f %6.2fx %7.0f %5lld/%-5lld\n", r["case"].get<std::string>().c_str(),
                r["N"].get<int>(), r["engine"].get<std::string>().c_str(), r["layout"].get<std::string>().c_str(),
                r["layer_ms"].get<double>(), r["kernel_ms"].get<double>(), r["floor_ms"].get<double>(),
                r["kernel_over_floor"].get<double>(), r["kernel_tflops"].get<double>(),
                r["tile_pairs"]["full"].get<long long>(), r["tile_pairs"]["partial"].get<long long>());
  }
  std::printf("ratio = kernel ms / floor ms (target <= 3x); floor = q, k, v, out bytes at the copy bandwidth measured "
              "in this run (%.0f GB/s at the first N). layout: what the kernel ran (wgmma/mma: Auto's choice; "
              "wg-pad / wg-ua: forced padded / packed). TF/s: useful 4 D H sum n_g^2. FlexAttention on the same masks: "
              "`moga bench bench/patterns/svg_temporal.moga` (tools/gpu-check row pattern_suite).\n",
              rows.empty() ? 0.0 : rows[0].value("copy_gbps", 0.0));
}

std::string today() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", std::gmtime(&t));
  return buf;
}

std::string fmt_ms(const json& r, const char* k) {
  return r.contains(k) && r[k].is_number() ? fmt::format("{:.3f}", r[k].get<double>()) : "-";
}
std::string fmt_tf(const json& r, const char* k) {
  return r.contains(k) && r[k].is_number() ? fmt::format("{:.0f}", r[k].get<double>()) : "-";
}

// The table: one line per (case, ours-what, peer).
void print_table(const json& rows, const json& peers, const std::string& peer_note) {
  auto find_peer = [&](const json& r, const std::string& name) -> const json* {
    if (!peers.is_array()) return nullptr;
    for (const auto& p : peers)
      if (p.value("peer", "") == name && p.value("N", 0) == r["N"].get<int>() &&
          p.value("case", "") == r["case"].get<std::string>())
        return &p;
    return nullptr;
  };
  std::printf("\n%-20s %6s %-6s %-7s %9s %7s | %-18s %9s %7s | %7s\n", "case", "N", "engine", "part", "ours ms",
              "TF/s", "peer", "peer ms", "TF/s", "speedup");
  std::printf("%s\n", std::string(113, '-').c_str());
  for (const auto& r : rows) {
    const std::string c = r["case"];
    const int N = r["N"];
    const bool tuned = r.value("tuned", false);
    const std::string engine = r.value("engine", "");
    auto line = [&](const char* part, const char* ms_key, const char* tf_key, const std::string& peer,
                    const char* pms_key, const char* ptf_key) {
      const json* p = peer.empty() ? nullptr : find_peer(r, peer);
      std::string pms = "-", ptf = "-", ratio = "-";
      if (p && p->contains(pms_key) && (*p)[pms_key].is_number()) {
        pms = fmt::format("{:.3f}", (*p)[pms_key].get<double>());
        if (p->contains(ptf_key) && (*p)[ptf_key].is_number()) ptf = fmt::format("{:.0f}", (*p)[ptf_key].get<double>());
        if (r.contains(ms_key)) ratio = fmt::format("{:.2f}x", (*p)[pms_key].get<double>() / r[ms_key].get<double>());
      } else if (p && p->contains("error")) {
        pms = "error";
      }
      const std::string partt = std::string(part) + (tuned ? "*" : "");
      std::printf("%-20s %6d %-6s %-7s %9s %7s | %-18s %9s %7s | %7s\n", c.c_str(), N, engine.c_str(), partt.c_str(),
                  fmt_ms(r, ms_key).c_str(),
                  fmt_tf(r, tf_key).c_str(), peer.empty() ? "-" : peer.c_str(), pms.c_str(), ptf.c_str(),
                  ratio.c_str());
    };
    // FP8 rows: layer = quantization + attention, kernel = attention alone (the bf16 dense rows have no prep)
    const bool fp8 = dense_case(c) && r.contains("kernel_ms");
    if (dense_case(c) && c != "full") {
      line(fp8 ? "layer" : "kernel", "layer_ms", "layer_tflops", "", "", "");
      if (fp8) line("kernel", "kernel_ms", "kernel_tflops", "", "", "");
    } else if (c == "full") {
      line(fp8 ? "layer" : "kernel", "layer_ms", "layer_tflops", "sdpa_flash", "ms", "tflops");
      line(fp8 ? "layer" : "kernel", "layer_ms", "layer_tflops", "sdpa_cudnn", "ms", "tflops");
      if (fp8) line("kernel", "kernel_ms", "kernel_tflops", "sdpa_cudnn", "ms", "tflops");
    } else if (c == "stga" || c == "frame_local") {
      line("kernel", "kernel_ms", "kernel_tflops", "", "", "");
    } else {
      line("layer", "layer_ms", "layer_tflops", "torch_flex", "layer_ms", "layer_tflops");
      line("kernel", "kernel_ms", "kernel_tflops", "torch_flex", "kernel_ms", "kernel_tflops");
      if (r.contains("prep_ms")) line("prep", "prep_ms", "", "torch_flex", "prep_ms", "");
    }
  }
  std::printf("speedup = peer ms / ours ms (> 1: ours is faster). TF/s: dense 4*N^2*H*D, grouped useful "
              "4*D*H*sum n_g^2 (each side's own groups); moga (3 branches), stga, frame_local: time only.\n"
              "layer = everything per call (router, sort, map, attention); kernel = attention kernels only; "
              "prep = layer without attention (ours: memset, router, scatter, map; the router weight is packed once, weights_unchanged; torch: layer_ms - kernel_ms); "
              "engine mma = sm80.mma (mma.sync), * = its tuned tiles (dense 128/128/8/2, others 64/64/4/2); "
              "engine wgmma = Engine::Wgmma's default rows (sm90.ws 128/128/8/3; dense: sm90.tma 128/176/8/2); mixed (moga only) = "
              "Auto with stga on sm80.mma 64/64/4/2, the other branches on sm90.ws; other engines: registry rows.\n");
  if (!peer_note.empty()) std::printf("%s\n", peer_note.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  std::string json_path, peers = "bench/peers/attention_peers.py";
  bool quick = false, precompile_only = false, no_peers = false;
  int iters = 10, peer_budget = 330;
  std::string peers_from;
  std::vector<std::string> engines = {"mma", "wgmma", "mixed"};
  bool engines_given = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--json") json_path = next();
    else if (a == "--peers") peers = next();
    else if (a == "--no-peers") no_peers = true;
    else if (a == "--peers-from") peers_from = next();
    else if (a == "--engines") {
      engines.clear();
      engines_given = true;
      std::string v = next();
      for (size_t b = 0; b <= v.size();) {
        const size_t e = std::min(v.find(',', b), v.size());
        const std::string x = v.substr(b, e - b);
        if (x != "mma" && x != "wgmma" && x != "mixed" && x != "fp8" && !ab_engine(x) && !row_engine(x))
          throw std::runtime_error("--engines: mma, wgmma, mixed, fp8, wg-ua, wg-pad, wg-fb, wg-rN and/or a wgmma registry row (" +
                                   variant_names() + ", optionally :BNxSTAGES), got '" + x + "'");
        engines.push_back(x);
        b = e + 1;
      }
    }
    else if (a == "--cases") {
      const std::string v = next();
      if (v != "scoremod" && v != "smallgroups" && v != "dense" && v != "fp8" && v != "default")
        throw std::runtime_error("--cases: default, scoremod, smallgroups, dense or fp8, got '" + v + "'");
      g_scoremod = v == "scoremod";
      g_smallgroups = v == "smallgroups";
      g_dense = v == "dense";
      g_fp8 = v == "fp8";
    }
    else if (a == "--quick") quick = true;
    else if (a == "--iters") iters = std::max(10, std::stoi(next()));
    else if (a == "--precompile") precompile_only = true;
    else if (a == "--peer-budget") peer_budget = std::stoi(next());
    else {
      std::fprintf(stderr,
                   "usage: %s [--json FILE] [--peers SCRIPT | --no-peers | --peers-from JSON] [--quick] [--iters N] "
                   "[--peer-budget S] [--engines mma,wgmma,mixed] [--precompile]\n",
                   argv[0]);
      return 2;
    }
  }
  if (g_smallgroups && !engines_given) engines = {"wgmma", "wg-pad", "wg-ua", "mma"};
  const std::vector<int> Ms = quick ? std::vector<int>{16} : std::vector<int>{4, 5, 16, 64};
  if (const char* e = getenv("MOGA_BENCH_PEERS_FROM"); e && *e) peers_from = e;
  try {
    if (precompile_only) {
      precompile(Ms, engines, true);
      return 0;
    }
    std::string why;
    if (!jit::device_available(&why)) {
      std::fprintf(stderr, "no CUDA device: %s\n", why.c_str());
      return 1;
    }
    jit::Device& dev = jit::Device::get();
    if (!wgmma_arch(dev.arch())) {
      std::fprintf(stderr, "engines wgmma and mixed need an sm_90 device (this one is %s): mma only\n",
                   dev.arch().c_str());
      engines = {"mma"};
    }
    CUstream st;
    CU_CHECK(jit::driver().cuStreamCreate(&st, CU_STREAM_NON_BLOCKING));
    const uint64_t seed = std::random_device{}();
    std::mt19937_64 rng(seed);
    json result;
    result["device"] = dev.name();
    result["arch"] = dev.arch();
    result["date"] = today();
    result["seed"] = seed;
    result["iters"] = iters;
    result["method"] = "CUDA events per call, 3 warm-up calls, median of iters calls, 2 input sets in turn";
    result["engines"] = engines;
    if (g_smallgroups) {
      if (!wgmma_arch(dev.arch())) engines = {"mma"};
      result["engines"] = engines;
      precompile(Ms, engines, false);
      result["smallgroups"] = run_smallgroups(engines, iters, rng, st);
      if (!json_path.empty()) std::ofstream(json_path) << result.dump(1) << "\n";
      std::printf("moga_bench_attention --cases smallgroups: %s (%s), %s\n", dev.name().c_str(), dev.arch().c_str(),
                  result["date"].get<std::string>().c_str());
      print_smallgroups(result["smallgroups"]);
      return 0;
    }
    result["ours"] = run_ours(Ms, engines, iters, quick, rng, st);
    CU_CHECK(jit::driver().cuStreamSynchronize(st));
    json peer_rows = json::array();
    std::string peer_note;
    if (!peers_from.empty()) {
      std::ifstream f(peers_from);
      if (!f) throw std::runtime_error("--peers-from: cannot read " + peers_from);
      const json old = json::parse(f);
      peer_rows = old.value("peers", json::array());
      result["peer_env"] = old.value("peer_env", json());
      result["peer_source"] = {{"file", peers_from},
                               {"date", old.value("date", "")},
                               {"device", old.value("device", "")},
                               {"seed", old.value("seed", json())}};
      peer_note = fmt::format("peers: NOT re-run; {} rows from {} (measured {} on {}, same script)", peer_rows.size(),
                              peers_from, old.value("date", "?"), old.value("device", "?"));
      std::fprintf(stderr, "%s\n", peer_note.c_str());
    } else if (!no_peers) {
      const std::string tmp = fmt::format("/tmp/moga-bench-peers-{}.json", (unsigned long long)seed);
      std::string Ns;
      for (const Grid& g : grids()) {
        Ns += (Ns.empty() ? "" : ",") + fmt::format("{}x{}x{}", g.F, g.Hg, g.Wd);
        if (quick) break;
      }
      std::string ms;
      for (int M : Ms) ms += (ms.empty() ? "" : ",") + std::to_string(M);
      const std::string cmd = fmt::format("python3 {} --json {} --grids {} --m {} --iters {} --budget-s {}{} 1>&2",
                                          peers, tmp, Ns, ms, iters, peer_budget, g_dense || g_fp8 ? " --dense-only" : "");
      std::fprintf(stderr, "peers: %s\n", cmd.c_str());
      const int rc = std::system(cmd.c_str());
      std::ifstream f(tmp);
      if (rc == 0 && f) {
        json pj = json::parse(f);
        peer_rows = pj["rows"];
        result["peer_env"] = pj["env"];
      } else {
        result["peer_error"] = fmt::format("peer script exited {}", rc);
      }
    }
    result["peers"] = peer_rows;
    if (!json_path.empty()) {
      std::ofstream(json_path) << result.dump(1) << "\n";
      std::fprintf(stderr, "wrote %s\n", json_path.c_str());
    }
    std::printf("moga_bench_attention: %s (%s), %s, seed %llu\n", dev.name().c_str(), dev.arch().c_str(),
                result["date"].get<std::string>().c_str(), (unsigned long long)seed);
    print_table(result["ours"], peer_rows, peer_note);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "moga_bench_attention: %s\n", e.what());
    return 1;
  }
}
