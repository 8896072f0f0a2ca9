// moga_bench_backward: the dense attention backward (runtime/attention/backward.h, pattern `full`) against
// cuDNN's (torch SDPA, cuDNN backend: bench/peers/backward_peers.py), in one run on one device; and the MoGA
// layer's training step (--moga: the `moga` pattern at M = 16, routed + STGA + frame-local).
//
//   moga_bench_backward [--json FILE] [--n 8190,32760] [--d 128,64] [--iters N] [--peers SCRIPT | --no-peers] [--no-moga]
//                       [--no-dense] [--no-ab] [--plan [--dense-ms MS] [--bw GBS]]
// --no-dense: no dense rows (nor the peer's), e.g. for an A/B of the moga rows alone within one device call.
// --ab rows (default on): the grouped path's cost per tile pair against dense (grouped_ab below).
//
// --moga rows (default on; video 21 x 30 x 52 = 32,760 tokens, B = 1, H = 12, D = 128, router d_model 1536):
// the forward as training runs it (log-sum-exp and kept branch rows), AttentionBackward (atomic dQ) with the
// forward's routing, RouterBackward with the balance loss (0.1), and their sum: the layer's forward + backward
// (the peer: FlexAttention the PyTorch way, 6.64 ms on an H200); and each branch's backward alone
// (moga_dynamic M=16, stga, frame_local: their sum against the mixture's is the mixture's overhead), the routed one
// also in the dense sorted order (BackwardOptions::align_groups off: JSON dynamic_bwd_unaligned_ms).
//
// bf16, B = 1, H = 12, D = 128 (the peer configuration; --d adds 64, without a peer). Per N: the forward with the log-sum-exp
// (Auto engine: wgmma on Hopper) and without, the backward with atomic dQ and with the deterministic dQ pass
// on every backward row that runs on the device (bwd_registry.h: sm80.mma, and sm90.wg on sm_90; the layer's
// backward too), and the relative L2 between the rows' gradients (same inputs: a check at full size);
// CUDA events per call, 3 warm-up calls, median of --iters. TFLOP/s: the backward at 2.5x the forward's
// 4 N^2 H D FLOPs (FlashAttention's convention, also the peer script's). The table ends with the ratio
// ours / cuDNN of the backward times (ratio < 1: ours is faster).
// Every backward is also run with BackwardOptions::time_phases and its phases printed (routing, preprocess,
// main kernel, dQ pass, folds; CUDA events, median of --iters), with the host time of one run() call: one GPU
// run splits the backward's time by kernel (JSON: bwd_phases, branch_bwd_phases).
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <cmath>
#include <cstring>
#include <memory>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "runtime/attention/attention.h"
#include "runtime/attention/backward.h"
#include "runtime/attention/bwd_registry.h"
#include "runtime/attention/compiled_embed.h"
#include "runtime/attention/host_shape.h"
#include "runtime/attention/router_backward.h"
#include "runtime/reference/block_map.h"
#include "runtime/jit/check.h"
#include "runtime/jit/driver.h"
#include "runtime/jit/jit.h"
#include "runtime/jit/module.h"

using namespace moga;
using namespace moga::rt;
using json = nlohmann::json;

namespace moga::rt {
const std::vector<CompiledText>& bench_bwd_patterns();  // moga_M16 (runtime/attention/CMakeLists.txt)
}

namespace {

constexpr int kH = 12, kD = 128;

// The backward rows that run on the device at D = 128, sm80.mma first (the reference the others are compared
// with; the default row is named in the JSON as default_row).
std::vector<std::string> bwd_rows(const std::string& arch) {
  std::vector<std::string> r = {"sm80.mma"};
  for (const auto& v : backward_registry())
    if (v.check(arch, kD).empty() && r[0] != v.name) r.push_back(v.name);
  return r;
}
BackwardOptions bwd_options(const std::string& row, bool det = false) {
  BackwardOptions o;
  o.engine = row;
  o.deterministic = det;
  return o;
}
std::vector<unsigned short> download_bf16(const jit::DeviceBuffer& a, size_t n) {
  std::vector<unsigned short> x(n);
  a.download(x.data(), n * 2);
  return x;
}
// sqrt(sum (a - b)^2 / sum b^2) over n bf16 values (b: the reference row's)
double rel_l2_bf16(const jit::DeviceBuffer& a, const std::vector<unsigned short>& y, size_t n) {
  const std::vector<unsigned short> x = download_bf16(a, n);
  double num = 0, den = 0;
  for (size_t i = 0; i < n; ++i) {
    unsigned ux = (unsigned)x[i] << 16, uy = (unsigned)y[i] << 16;
    float fx, fy;
    std::memcpy(&fx, &ux, 4);
    std::memcpy(&fy, &uy, 4);
    num += ((double)fx - fy) * ((double)fx - fy);
    den += (double)fy * fy;
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

template <class F>
double median_ms(F&& f, int iters, CUstream st) {
  const jit::Driver& d = jit::driver();
  for (int i = 0; i < 3; ++i) f();
  std::vector<double> t;
  CUevent a, b;
  CU_CHECK(d.cuEventCreate(&a, 0));
  CU_CHECK(d.cuEventCreate(&b, 0));
  for (int i = 0; i < iters; ++i) {
    CU_CHECK(d.cuEventRecord(a, st));
    f();
    CU_CHECK(d.cuEventRecord(b, st));
    CU_CHECK(d.cuEventSynchronize(b));
    float ms = 0;
    CU_CHECK(d.cuEventElapsedTime(&ms, a, b));
    t.push_back(ms);
  }
  CU_CHECK(d.cuEventDestroy(a));
  CU_CHECK(d.cuEventDestroy(b));
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// The backward's phases (BackwardOptions::time_phases: CUDA events between its launches) over `iters` calls of
// `run` after one warm-up: the median per phase, in launch order, and the host time of one run() call (the
// enqueue alone: run() makes no host copy or synchronization once the shape is known, so this is launch cost).
json phases(AttentionBackward& b, const std::function<void()>& run, int iters) {
  run();
  std::vector<std::vector<double>> ms;
  std::vector<std::string> names;
  std::vector<double> host;
  for (int i = 0; i < iters; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    run();
    host.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    const std::vector<BackwardPhase> ph = b.last_phases();
    if (ms.empty()) {
      ms.resize(ph.size());
      for (const auto& p : ph) names.push_back(p.name);
    }
    for (size_t j = 0; j < ph.size() && j < ms.size(); ++j) ms[j].push_back(ph[j].ms);
  }
  auto med = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
  };
  json r = json::object(), list = json::array();
  double sum = 0;
  for (size_t j = 0; j < names.size(); ++j) {
    list.push_back({{"phase", names[j]}, {"ms", med(ms[j])}});
    sum += med(ms[j]);
  }
  r["phases"] = list;
  r["phases_sum_ms"] = sum;
  r["host_enqueue_ms"] = med(host);
  return r;
}

void print_phases(const char* what, const json& p) {
  std::printf("  %s: phases (CUDA events, median of the runs; sum %.3f ms; host enqueue of one run() %.3f ms)\n", what,
              p["phases_sum_ms"].get<double>(), p["host_enqueue_ms"].get<double>());
  for (const json& x : p["phases"])
    std::printf("    %-44s %9.3f ms\n", x["phase"].get<std::string>().c_str(), x["ms"].get<double>());
}

void fill_random(jit::DeviceBuffer& buf, size_t n, std::mt19937_64& rng, float sigma = 1.f) {
  std::normal_distribution<float> g(0.f, sigma);
  std::vector<unsigned short> h(n);
  for (auto& x : h) {
    float f = g(rng);
    unsigned u;
    std::memcpy(&u, &f, 4);
    x = (unsigned short)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
  }
  buf.upload(h.data(), n * 2);
}

// The MoGA layer's training step (header comment): forward with lse and kept branches, backward, router backward.
json moga_layer(int iters, CUstream st, std::mt19937_64& rng) {
  const int F = 21, Hg = 30, Wd = 52, N = F * Hg * Wd, dm = 1536;
  LoadedPattern pat;
  for (const auto& e : bench_bwd_patterns())
    if (std::string(e.label) == "moga_M16") pat = load_from_text(e.cuda, e.manifest, e.label);
  const int M = pat.spec.kernels.at(0).route->groups;
  AttentionOptions fo;
  fo.lse = true;
  PatternAttention fwd(pat, fo);
  AttentionBackward bwd(pat);
  const std::vector<std::string> rows = bwd_rows(jit::Device::get().arch());
  RouterBackwardOptions ro;
  ro.balance_weight = 0.1;
  RouterBackward rbwd(M, 1, ro);
  const size_t n = (size_t)N * kH * kD;
  jit::DeviceBuffer q(n * 2), k(n * 2), v(n * 2), o(n * 2), dout(n * 2), dq(n * 2), dk(n * 2), dv(n * 2);
  jit::DeviceBuffer x((size_t)N * dm * 2), w((size_t)dm * M * 2), gid((size_t)N * 4), prob((size_t)N * 4),
      dgate((size_t)N * 4), dx((size_t)N * dm * 4), dw((size_t)dm * M * 4), loss(16);
  for (jit::DeviceBuffer* b : {&q, &k, &v, &dout}) fill_random(*b, n, rng);
  fill_random(x, (size_t)N * dm, rng);
  fill_random(w, (size_t)dm * M, rng, 1.f / std::sqrt((float)dm));  // logits ~ N(0, 1): groups near even
  std::vector<std::unique_ptr<jit::DeviceBuffer>> lse, br;
  RunOptions run;
  for (size_t ki = 0; ki < pat.spec.kernels.size(); ++ki) {
    lse.push_back(std::make_unique<jit::DeviceBuffer>((size_t)kH * N * 4));
    br.push_back(std::make_unique<jit::DeviceBuffer>(n * 2));
    run.lse.push_back(lse.back()->ptr());
    run.branch_out.push_back(TensorView::contiguous(br.back()->ptr(), DType::BF16, {1, N, kH, kD}));
  }
  auto view = [&](const jit::DeviceBuffer& b) { return TensorView::contiguous(b.ptr(), DType::BF16, {1, N, kH, kD}); };
  const AttentionShape s = AttentionShape::make_video(1, F, Hg, Wd, kH, kD);
  RouterInputs ri{TensorView::contiguous(x.ptr(), DType::BF16, {1, N, dm}),
                  {TensorView::contiguous(w.ptr(), DType::BF16, {dm, M})}};
  json r = {{"case", "moga_M16"}, {"N", N}, {"B", 1}, {"H", kH}, {"D", kD}, {"d_model", dm}, {"M", M}};
  r["fwd_plain_ms"] = median_ms([&] { fwd.run(view(q), view(k), view(v), view(o), s, &ri, st); }, iters, st);
  r["fwd_train_ms"] = median_ms([&] { fwd.run(view(q), view(k), view(v), view(o), s, &ri, st, run); }, iters, st);
  const PatternAttention::Routing rt = fwd.last_routing(0, st);
  gid.upload(rt.gid);
  prob.upload(rt.prob);
  const BackwardInputs in{view(q), view(k), view(v), view(o), view(dout), run.lse, run.branch_out,
                          {{gid.ptr(), prob.ptr()}}};
  const BackwardOutputs g{view(dq), view(dk), view(dv), {dgate.ptr()}};
  r["bwd_ms"] = median_ms([&] { bwd.run(in, g, s, st); }, iters, st);
  BackwardOptions to;
  to.time_phases = true;
  AttentionBackward bwd_t(pat, to);
  r["bwd_phases"] = phases(bwd_t, [&] { bwd_t.run(in, g, s, st); }, iters);
  json by_row = json::object();
  for (const std::string& row : rows) {
    AttentionBackward b(pat, bwd_options(row));
    by_row[row] = median_ms([&] { b.run(in, g, s, st); }, iters, st);
  }
  r["bwd_ms_by_row"] = by_row;
  RouterBackwardArgs ra;
  ra.x = ri.x, ra.w = ri.weights[0], ra.routing = {gid.ptr(), prob.ptr()}, ra.dgate = dgate.ptr();
  ra.dx = dx.ptr(), ra.dw = dw.ptr(), ra.balance_loss = loss.ptr();
  r["router_bwd_ms"] = median_ms([&] { rbwd.run(ra, st); }, iters, st);
  {
    RouterBackwardOptions rto = ro;
    rto.time_phases = true;
    RouterBackward rb_t(M, 1, rto);
    rb_t.run(ra, st);
    json list = json::array();
    std::vector<std::vector<double>> ms;
    std::vector<std::string> names;
    for (int i = 0; i < iters; ++i) {
      rb_t.run(ra, st);
      const std::vector<TimedPhase> ph = rb_t.last_phases();
      if (ms.empty()) {
        ms.resize(ph.size());
        for (const auto& x : ph) names.push_back(x.name);
      }
      for (size_t j = 0; j < ph.size() && j < ms.size(); ++j) ms[j].push_back(ph[j].ms);
    }
    std::printf("  router backward: phases (CUDA events, median)\n");
    for (size_t j = 0; j < names.size(); ++j) {
      std::sort(ms[j].begin(), ms[j].end());
      list.push_back({{"phase", names[j]}, {"ms", ms[j][ms[j].size() / 2]}});
      std::printf("    %-44s %9.3f ms\n", names[j].c_str(), ms[j][ms[j].size() / 2]);
    }
    r["router_bwd_phases"] = list;
  }
  r["layer_fwd_bwd_ms"] = r["fwd_train_ms"].get<double>() + r["bwd_ms"].get<double>() + r["router_bwd_ms"].get<double>();
  // Each branch's backward alone (its single-kernel pattern, same inputs; D from the branch's own output, so the
  // sum against bwd_ms is the mixture's overhead: accumulators, fold), to see where the time goes.
  json branches = json::object(), branch_phases = json::object();
  for (const char* name : {"moga_dynamic_M16", "stga", "frame_local"}) {
    LoadedPattern bp = std::string(name) == "moga_dynamic_M16" ? LoadedPattern{} : load_builtin(name);
    for (const auto& e : bench_bwd_patterns())
      if (std::string(e.label) == name) bp = load_from_text(e.cuda, e.manifest, e.label);
    PatternAttention bf(bp, fo);
    AttentionBackward bb(bp);
    RunOptions one;
    one.lse = {lse[0]->ptr()};
    const bool routed = bp.spec.kernels.at(0).route.has_value();
    bf.run(view(q), view(k), view(v), view(o), s, routed ? &ri : nullptr, st, one);
    BackwardInputs bi{view(q), view(k), view(v), view(o), view(dout), one.lse};
    BackwardOutputs bg{view(dq), view(dk), view(dv)};
    if (routed) {  // the routed branch's own training forward: router + attention with its log-sum-exp
      r["dynamic_fwd_train_ms"] =
          median_ms([&] { bf.run(view(q), view(k), view(v), view(o), s, &ri, st, one); }, iters, st);
      const PatternAttention::Routing br = bf.last_routing(0, st);
      gid.upload(br.gid);
      prob.upload(br.prob);
      bi.routing = {{gid.ptr(), prob.ptr()}};
      bg.dgate = {dgate.ptr()};
    }
    branches[name] = median_ms([&] { bb.run(bi, bg, s, st); }, iters, st);
    if (routed) {  // the routed branch in the dense sorted order (BackwardOptions::align_groups off), to compare
      BackwardOptions uo;
      uo.align_groups = false;
      AttentionBackward bu(bp, uo);
      r["dynamic_bwd_unaligned_ms"] = median_ms([&] { bu.run(bi, bg, s, st); }, iters, st);
    }
    AttentionBackward bt(bp, to);
    branch_phases[name] = phases(bt, [&] { bt.run(bi, bg, s, st); }, iters);
  }
  r["branch_bwd_ms"] = branches;
  r["branch_bwd_phases"] = branch_phases;
  // the routed branch as a layer of its own (the peer is this branch alone): its training forward, its
  // backward, the router backward (the same shapes as the mixture's)
  r["dynamic_layer_fwd_bwd_ms"] = r["dynamic_fwd_train_ms"].get<double>() +
                                  branches["moga_dynamic_M16"].get<double>() + r["router_bwd_ms"].get<double>();
  r["peer_flex_pytorch_way_ms_issue"] = 6.64;  // not measured here: the figure (H200)
  std::fprintf(stderr, "%s\n", r.dump().c_str());
  std::printf("moga M=16 N=%d: forward %.3f ms (training: lse + branches %.3f), backward %.3f, router backward %.3f, "
              "layer forward + backward %.3f ms (FlexAttention the PyTorch way, the issue's figure: 6.64)\n",
              N, r["fwd_plain_ms"].get<double>(), r["fwd_train_ms"].get<double>(), r["bwd_ms"].get<double>(),
              r["router_bwd_ms"].get<double>(), r["layer_fwd_bwd_ms"].get<double>());
  std::printf("  each branch's backward alone: %s ms (the routed one in the dense sorted order: %.3f)\n",
              branches.dump().c_str(), r["dynamic_bwd_unaligned_ms"].get<double>());
  print_phases("moga backward", r["bwd_phases"]);
  for (const auto& [name, p] : branch_phases.items()) print_phases(name.c_str(), p);
  std::printf("  each branch's backward alone: %s ms; the layer's backward per backward row: %s ms\n",
              branches.dump().c_str(), by_row.dump().c_str());
  return r;
}

// --plan (no device): the expected time of each phase of the moga layer's backward at the bench's shape, from
// the work each launch does: the main kernels' tile pairs at the backward's 64x64 tiles (the CPU block map, the
// routed branch on a balanced stand-in routing), priced at the dense kernel's measured rate per tile pair
// (--dense-ms, full at N = 32,760: every pair full), and the memory phases (accumulators, folds, preprocess)
// at --bw GB/s. What the GPU run's phase lines are compared with (docs/performance.md).
int plan(double dense_ms, double bw_gbs) {
  const int F = 21, Hg = 30, Wd = 52, N = F * Hg * Wd;
  LoadedPattern pat;
  for (const auto& e : bench_bwd_patterns())
    if (std::string(e.label) == "moga_M16") pat = load_from_text(e.cuda, e.manifest, e.label);
  const AttentionShape s = AttentionShape::make_video(1, F, Hg, Wd, kH, kD);
  ref::BlockMapOptions bo;
  bo.block_m = bo.block_n = 64;
  bo.density_budget = 0;
  const std::vector<ref::BlockMap> maps = ref::build_block_maps(pat.spec, host_shape(s), 1, {}, bo);
  const double t = (N + 63) / 64, dense_pairs = t * t, per_pair = dense_ms / dense_pairs;
  const double elems = (double)N * kH * kD, f32 = elems * 4, b16 = elems * 2;
  auto mem_ms = [&](double bytes) { return bytes / (bw_gbs * 1e9) * 1e3; };
  std::printf("moga M=16 backward at N=%d, H=%d, D=%d, 64x64 tiles (%d per side); dense full at %.2f ms = %.4f us "
              "per tile pair (all heads); memory at %.0f GB/s\n",
              N, kH, kD, (int)t, dense_ms, per_pair * 1e3, bw_gbs);
  std::printf("%-40s %10s %10s %10s %9s %10s\n", "phase", "full", "partial", "of dense", "work %", "expect ms");
  double total = 0;
  auto row = [&](const std::string& what, double full, double part, double ms) {
    total += ms;
    if (full < 0) std::printf("%-40s %10s %10s %10s %9s %10.3f\n", what.c_str(), "", "", "", "", ms);
    else
      std::printf("%-40s %10.0f %10.0f %10.4f %9.1f %10.3f\n", what.c_str(), full, part, (full + part) / dense_pairs,
                  maps.empty() ? 0.0 : 100.0, ms);
  };
  row("zero accumulators (3 x f32)", -1, 0, mem_ms(3 * f32));
  for (size_t ki = 0; ki < maps.size(); ++ki) {
    const ref::BlockMap& m = maps[ki];
    const std::string name = pat.spec.kernels[ki].name;
    row(name + ": preprocess (dO, rows)", -1, 0, mem_ms(2 * b16));
    row(name + ": main (tile pairs at the dense rate)", (double)m.full, (double)m.partial,
        (m.full + m.partial) * per_pair);
    row(name + ": dK, dV accumulate (f32 r+w)", -1, 0, mem_ms(4 * f32));
    std::printf("    %s: %s\n", name.c_str(), m.summary().c_str());
  }
  row("fold to bf16 (3 f32 in, 3 bf16 out)", -1, 0, mem_ms(3 * f32 + 3 * b16));
  std::printf("%-40s %54.3f\n", "total", total);
  return 0;
}

// The A/B rows (--ab, default on with the moga rows): the same tile-pair work per pair through three paths, at
// N = 32,768 (no ragged tile), B = 1, H = 12, D = 128, atomic dQ, the default backward row:
//   full                 dense (seq): no perm, no block map, 512 query tiles per key-tile CTA
//   frame_local 1x128x256    one frame, so one computed group: the same 512 x 512 full pairs through the grouped
//                        path (perm gathers, row values by row id, the block map's index loads)
//   frame_local 16x32x64     16 frames of 2,048 tokens: 16 x 32 x 32 full pairs, key-tile CTAs of 32 query tiles
//                        (the routed branch's at M = 16) with their fixed costs (K, V load, dK, dV epilogue) 16x
//                        more often
// us per tile pair (over all heads) for each: one group / full is the grouped path's cost per pair, 16 groups /
// one group the short CTAs' (docs/performance.md, "The moga backward's host path and phases").
json grouped_ab(int iters, CUstream st, std::mt19937_64& rng) {
  const int N = 32768;
  const size_t n = (size_t)N * kH * kD;
  jit::DeviceBuffer q(n * 2), k(n * 2), v(n * 2), o(n * 2), dout(n * 2), dq(n * 2), dk(n * 2), dv(n * 2),
      lse((size_t)kH * N * 4);
  for (jit::DeviceBuffer* b : {&q, &k, &v, &dout}) fill_random(*b, n, rng);
  auto view = [&](const jit::DeviceBuffer& b) { return TensorView::contiguous(b.ptr(), DType::BF16, {1, N, kH, kD}); };
  struct Case {
    const char* name;
    const char* pattern;
    AttentionShape s;
    double pairs;
  };
  const Case cases[] = {{"full", "full", AttentionShape::seq(1, N, kH, kD), 512.0 * 512},
                        {"frame_local 1x128x256", "frame_local", AttentionShape::make_video(1, 1, 128, 256, kH, kD),
                         512.0 * 512},
                        {"frame_local 16x32x64", "frame_local", AttentionShape::make_video(1, 16, 32, 64, kH, kD),
                         16 * 32.0 * 32}};
  json rows = json::array();
  std::printf("A/B at N=%d (us per tile pair over all heads; ratio to full):\n", N);
  double full_us = 0;
  for (const Case& c : cases) {
    const LoadedPattern pat = load_builtin(c.pattern);
    AttentionOptions fo;
    fo.lse = true;
    PatternAttention fwd(pat, fo);
    RunOptions ro;
    ro.lse = {lse.ptr()};
    fwd.run(view(q), view(k), view(v), view(o), c.s, nullptr, st, ro);
    const BackwardInputs in{view(q), view(k), view(v), view(o), view(dout), {lse.ptr()}};
    const BackwardOutputs g{view(dq), view(dk), view(dv)};
    {
      BackwardOptions bo;
      AttentionBackward bwd(pat, bo);
      const double ms = median_ms([&] { bwd.run(in, g, c.s, st); }, iters, st);
      bo.time_phases = true;
      AttentionBackward bt(pat, bo);
      const json ph = phases(bt, [&] { bt.run(in, g, c.s, st); }, iters);
      double main_ms = 0;
      for (const json& x : ph["phases"])
        if (x["phase"].get<std::string>().find(": main") != std::string::npos) main_ms += x["ms"].get<double>();
      const double us = main_ms * 1e3 / c.pairs;
      if (full_us == 0) full_us = us;
      rows.push_back({{"case", c.name}, {"N", N}, {"pairs", c.pairs}, {"bwd_ms", ms},
                      {"main_ms", main_ms}, {"us_per_pair", us}, {"phases", ph}});
      std::printf("  %-22s %8.0f pairs  backward %8.3f ms  main kernel %8.3f ms  %.4f us/pair  %.2fx\n", c.name,
                  c.pairs, ms, main_ms, us, us / full_us);
    }
  }
  return rows;
}

std::string today() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", std::gmtime(&t));
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  std::string json_path, peers = "bench/peers/backward_peers.py", ns = "8190,32760", ds = "128,64";
  int iters = 10;
  bool no_peers = false, with_moga = true, plan_only = false, with_ab = true, with_dense = true;
  double dense_ms = 92.7, bw = 3300;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--json") json_path = next();
    else if (a == "--n") ns = next();
    else if (a == "--iters") iters = std::atoi(next().c_str());
    else if (a == "--peers") peers = next();
    else if (a == "--no-peers") no_peers = true;
    else if (a == "--no-moga") with_moga = false;
    else if (a == "--d") ds = next();
    else if (a == "--no-ab") with_ab = false;
    else if (a == "--no-dense") with_dense = false;
    else if (a == "--plan") plan_only = true;
    else if (a == "--dense-ms") dense_ms = std::atof(next().c_str());
    else if (a == "--bw") bw = std::atof(next().c_str());
    else {
      std::fprintf(stderr, "usage: %s [--json FILE] [--n N,N] [--d 128,64] [--iters N] [--peers SCRIPT | --no-peers] [--no-moga] [--no-dense] "
                   "[--no-ab] [--plan [--dense-ms MS] [--bw GBS]]\n",
                   argv[0]);
      return 2;
    }
  }
  if (iters < 1) {
    std::fprintf(stderr, "--iters %d: must be >= 1\n", iters);
    return 2;
  }
  std::vector<int> Ns;
  for (size_t p = 0; p < ns.size();) {
    const size_t c = ns.find(',', p);
    Ns.push_back(std::atoi(ns.substr(p, c - p).c_str()));
    if (Ns.back() < 1) {
      std::fprintf(stderr, "--n %s: every length must be >= 1\n", ns.c_str());
      return 2;
    }
    p = c == std::string::npos ? ns.size() : c + 1;
  }
  std::vector<int> Ds;  // head dims of the dense rows (the peer script and the moga rows: D = 128)
  for (size_t p = 0; p < ds.size();) {
    const size_t c = ds.find(',', p);
    Ds.push_back(std::atoi(ds.substr(p, c - p).c_str()));
    if (Ds.back() != 64 && Ds.back() != 128) {
      std::fprintf(stderr, "--d %s: head dims are 64 or 128\n", ds.c_str());
      return 2;
    }
    p = c == std::string::npos ? ds.size() : c + 1;
  }
  if (plan_only) return plan(dense_ms, bw);
  if (!with_dense) {
    Ns.clear();
    ns = "none";  // the peer script's word for no dense rows
  }
  std::string why;
  if (!jit::device_available(&why)) {
    std::fprintf(stderr, "no CUDA device: %s\n", why.c_str());
    return 1;
  }
  try {
    jit::Device& dev = jit::Device::get();
    CUstream st;
    CU_CHECK(jit::driver().cuStreamCreate(&st, CU_STREAM_NON_BLOCKING));
    std::mt19937_64 rng(12345);
    const LoadedPattern pat = load_builtin("full");
    AttentionOptions fo;
    fo.lse = true;
    PatternAttention fwd(pat, fo);
    const std::vector<std::string> brows = bwd_rows(dev.arch());
    std::vector<std::unique_ptr<AttentionBackward>> bwd_atomic, bwd_det;
    for (const std::string& row : brows) {
      bwd_atomic.push_back(std::make_unique<AttentionBackward>(pat, bwd_options(row)));
      bwd_det.push_back(std::make_unique<AttentionBackward>(pat, bwd_options(row, true)));
    }
    json result;
    result["device"] = dev.name();
    result["arch"] = dev.arch();
    result["date"] = today();
    result["iters"] = iters;
    result["method"] = "CUDA events per call, 3 warm-up calls, median of iters calls";
    json rows = json::array();
    for (int D : Ds)
    for (int N : Ns) {
      const size_t n = (size_t)N * kH * D;
      jit::DeviceBuffer q(n * 2), k(n * 2), v(n * 2), o(n * 2), dout(n * 2), dq(n * 2), dk(n * 2), dv(n * 2),
          lse((size_t)kH * N * 4);
      for (jit::DeviceBuffer* b : {&q, &k, &v, &dout}) fill_random(*b, n, rng);
      auto view = [&](const jit::DeviceBuffer& b) {
        return TensorView::contiguous(b.ptr(), DType::BF16, {1, N, kH, D});
      };
      const AttentionShape s = AttentionShape::seq(1, N, kH, D);
      RunOptions with_lse;
      with_lse.lse = {lse.ptr()};
      json r = {{"case", "full"}, {"N", N}, {"B", 1}, {"H", kH}, {"D", D}, {"engine", engine_name(fwd.engine(0, D))}};
      r["fwd_ms"] = median_ms([&] { fwd.run(view(q), view(k), view(v), view(o), s, nullptr, st); }, iters, st);
      r["fwd_lse_ms"] =
          median_ms([&] { fwd.run(view(q), view(k), view(v), view(o), s, nullptr, st, with_lse); }, iters, st);
      const BackwardInputs in{view(q), view(k), view(v), view(o), view(dout), {lse.ptr()}};
      const BackwardOutputs g{view(dq), view(dk), view(dv)};
      BackwardOptions to;
      to.time_phases = true;
      AttentionBackward bt(pat, to);
      r["bwd_phases"] = phases(bt, [&] { bt.run(in, g, s, st); }, iters);
      to.deterministic = true;
      AttentionBackward btd(pat, to);
      r["bwd_det_phases"] = phases(btd, [&] { btd.run(in, g, s, st); }, iters);
      const std::string def = default_backward(dev.arch(), D).name;
      r["default_row"] = def;
      print_phases(fmt::format("full N={} D={} atomic dQ (default row {})", N, D, def).c_str(), r["bwd_phases"]);
      print_phases(fmt::format("full N={} D={} deterministic dQ (default row {})", N, D, def).c_str(),
                   r["bwd_det_phases"]);
      const double flops = 4.0 * N * (double)N * kH * D;
      r["fwd_tflops"] = flops / r["fwd_ms"].get<double>() * 1e-9;
      // every backward row; the first (sm80.mma, the reference) also under the plain keys. The gradients of each
      // row are compared with the first's (rel L2 per tensor: the engines must agree at full size too).
      std::vector<unsigned short> rq, rk, rv;
      json by_row = json::object();
      for (size_t i = 0; i < brows.size(); ++i) {
        json e;
        e["bwd_ms"] = median_ms([&] { bwd_atomic[i]->run(in, g, s, st); }, iters, st);
        CU_CHECK(jit::driver().cuStreamSynchronize(st));
        if (i == 0) {
          rq = download_bf16(dq, n), rk = download_bf16(dk, n), rv = download_bf16(dv, n);
        } else {
          e["rel_l2_vs_" + brows[0]] = {{"dq", rel_l2_bf16(dq, rq, n)}, {"dk", rel_l2_bf16(dk, rk, n)},
                                        {"dv", rel_l2_bf16(dv, rv, n)}};
        }
        e["bwd_det_ms"] = median_ms([&] { bwd_det[i]->run(in, g, s, st); }, iters, st);
        if (i > 0) {  // sm80.mma's: bench_backward --plan and the history; the default row's are above too
          BackwardOptions tp = bwd_options(brows[i]);
          tp.time_phases = true;
          AttentionBackward bp(pat, tp);
          e["bwd_phases"] = phases(bp, [&] { bp.run(in, g, s, st); }, iters);
          print_phases(fmt::format("full N={} D={} atomic dQ, {}", N, D, brows[i]).c_str(), e["bwd_phases"]);
        }
        e["bwd_tflops"] = 2.5 * flops / e["bwd_ms"].get<double>() * 1e-9;
        e["bwd_det_tflops"] = 2.5 * flops / e["bwd_det_ms"].get<double>() * 1e-9;
        by_row[brows[i]] = e;
      }
      r["bwd_row"] = brows[0];
      for (const char* key : {"bwd_ms", "bwd_det_ms", "bwd_tflops", "bwd_det_tflops"}) r[key] = by_row[brows[0]][key];
      r["bwd_by_row"] = by_row;
      std::fprintf(stderr, "%s\n", r.dump().c_str());
      rows.push_back(r);
    }
    result["ours"] = rows;
    if (with_moga) result["moga"] = moga_layer(iters, st, rng);
    if (with_ab) result["grouped_ab"] = grouped_ab(iters, st, rng);
    json peer_rows = json::array();
    if (!no_peers) {
      const std::string tmp = fmt::format("/tmp/moga-bench-bwd-peers-{}.json", (long long)std::time(nullptr));
      const std::string cmd = fmt::format("python3 {} --json {} --n {} --iters {}{} 1>&2", peers, tmp, ns, iters,
                                          with_moga ? " --moga 21x30x52 --m 16" : "");
      std::fprintf(stderr, "peers: %s\n", cmd.c_str());
      const int rc = std::system(cmd.c_str());
      std::ifstream f(tmp);
      if (rc == 0 && f) {
        const json pj = json::parse(f);
        peer_rows = pj["rows"];
        result["peer_env"] = pj["env"];
      } else {
        result["peer_error"] = fmt::format("peer script exited {}", rc);
      }
    }
    result["peers"] = peer_rows;
    if (with_moga) {  // like with like, the peer measured in this run (bench/peers/backward_peers.py --moga)
      json& mg = result["moga"];
      const std::pair<const char*, const char*> cmp[] = {{"moga_dynamic train", "dynamic_layer_fwd_bwd_ms"},
                                                         {"moga train", "layer_fwd_bwd_ms"}};
      for (const auto& [pc, ours] : cmp) {
        double peer = -1;
        for (const json& p : peer_rows)
          if (p.value("case", "") == pc && p.contains("fwd_bwd_ms")) peer = p["fwd_bwd_ms"].get<double>();
        const double me = mg[ours].get<double>();
        mg["vs_peer"][pc] = {{"ours_ms", me}, {"peer_ms", peer}, {"speedup", peer > 0 ? peer / me : 0.0}};
        std::printf("%s forward + backward (router, attention, router backward) at N=32760, M=16: ours %.3f ms, "
                    "FlexAttention the PyTorch way %s ms (this run): %s\n",
                    std::string(pc) == "moga train" ? "moga layer (3 branches)" : "routed branch (moga_dynamic)", me,
                    peer > 0 ? fmt::format("{:.3f}", peer).c_str() : "-",
                    peer > 0 ? fmt::format("ours {:.2f}x faster", peer / me).c_str() : "no peer figure");
      }
    }
    // one line per N and backward row: ours / cuDNN (< 1: ours is faster), and the row against the first
    // (sm80.mma) in time and in its gradients (rel L2, the largest of dq, dk, dv); * marks the default row
    std::printf("%-7s %-4s %-10s %9s %9s %-17s %9s %9s %9s %9s %11s %11s %10s\n", "N", "D", "fwd", "fwd ms", "+lse ms",
                "bwd row", "bwd ms", "bwd TF/s", "det ms", "cuDNN ms", "ours/cuDNN", "vs first", "rel L2");
    for (const json& r : rows) {
      double peer = -1;
      for (const json& p : peer_rows)
        if (p.value("peer", "") == "sdpa_cudnn" && p.value("N", 0) == r["N"].get<int>() && p.contains("bwd_ms") &&
            r["D"].get<int>() == 128)  // the peer script runs D = 128
          peer = p["bwd_ms"].get<double>();
      const double first = r["bwd_ms"].get<double>();
      for (const std::string& row : brows) {
        const json& e = r["bwd_by_row"][row];
        const double ms = e["bwd_ms"].get<double>();
        double rel = 0;
        if (e.contains("rel_l2_vs_" + brows[0]))
          for (const auto& [t, x] : e["rel_l2_vs_" + brows[0]].items()) rel = std::max(rel, x.get<double>());
        std::printf("%-7d %-4d %-10s %9.3f %9.3f %-17s %9.3f %9.1f %9.3f %9s %11s %10.2fx %10s\n", r["N"].get<int>(),
                    r["D"].get<int>(), r["engine"].get<std::string>().c_str(), r["fwd_ms"].get<double>(), r["fwd_lse_ms"].get<double>(),
                    (row + (row == r.value("default_row", "") ? "*" : "")).c_str(), ms, e["bwd_tflops"].get<double>(),
                    e["bwd_det_ms"].get<double>(),
                    peer > 0 ? fmt::format("{:.3f}", peer).c_str() : "-",
                    peer > 0 ? fmt::format("{:.2f}x", ms / peer).c_str() : "-", ms / first,
                    row == brows[0] ? "-" : fmt::format("{:.2e}", rel).c_str());
      }
    }
    if (!json_path.empty()) std::ofstream(json_path) << result.dump(1) << "\n";
  } catch (const std::exception& e) {
    std::fprintf(stderr, "moga_bench_backward: %s\n", e.what());
    return 1;
  }
  return 0;
}
