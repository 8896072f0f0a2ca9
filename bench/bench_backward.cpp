// moga_bench_backward: the dense attention backward (runtime/attention/backward.h, pattern `full`) against
// cuDNN's (torch SDPA, cuDNN backend: bench/peers/backward_peers.py), in one run on one device.
//
//   moga_bench_backward [--json FILE] [--n 8190,32760] [--iters N] [--peers SCRIPT | --no-peers]
//
// bf16, B = 1, H = 12, D = 128 (the peer configuration). Per N: the forward with the log-sum-exp
// (Auto engine: wgmma on Hopper) and without, the backward with atomic dQ and with the deterministic dQ pass;
// CUDA events per call, 3 warm-up calls, median of --iters. TFLOP/s: the backward at 2.5x the forward's
// 4 N^2 H D FLOPs (FlashAttention's convention, also the peer script's). The table ends with the ratio
// ours / cuDNN of the backward times (ratio < 1: ours is faster).
#include <fmt/format.h>

#include <algorithm>
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
#include "runtime/jit/check.h"
#include "runtime/jit/driver.h"
#include "runtime/jit/jit.h"
#include "runtime/jit/module.h"

using namespace moga;
using namespace moga::rt;
using json = nlohmann::json;

namespace {

constexpr int kH = 12, kD = 128;

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

void fill_random(jit::DeviceBuffer& buf, size_t n, std::mt19937_64& rng) {
  std::normal_distribution<float> g(0.f, 1.f);
  std::vector<unsigned short> h(n);
  for (auto& x : h) {
    float f = g(rng);
    unsigned u;
    std::memcpy(&u, &f, 4);
    x = (unsigned short)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
  }
  buf.upload(h.data(), n * 2);
}

std::string today() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", std::gmtime(&t));
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  std::string json_path, peers = "bench/peers/backward_peers.py", ns = "8190,32760";
  int iters = 10;
  bool no_peers = false;
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
    else {
      std::fprintf(stderr, "usage: %s [--json FILE] [--n N,N] [--iters N] [--peers SCRIPT | --no-peers]\n", argv[0]);
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
    AttentionBackward bwd_atomic(pat), bwd_det(pat, BackwardOptions{true});
    json result;
    result["device"] = dev.name();
    result["arch"] = dev.arch();
    result["date"] = today();
    result["iters"] = iters;
    result["method"] = "CUDA events per call, 3 warm-up calls, median of iters calls";
    json rows = json::array();
    for (int N : Ns) {
      const size_t n = (size_t)N * kH * kD;
      jit::DeviceBuffer q(n * 2), k(n * 2), v(n * 2), o(n * 2), dout(n * 2), dq(n * 2), dk(n * 2), dv(n * 2),
          lse((size_t)kH * N * 4);
      for (jit::DeviceBuffer* b : {&q, &k, &v, &dout}) fill_random(*b, n, rng);
      auto view = [&](const jit::DeviceBuffer& b) {
        return TensorView::contiguous(b.ptr(), DType::BF16, {1, N, kH, kD});
      };
      const AttentionShape s = AttentionShape::seq(1, N, kH, kD);
      RunOptions with_lse;
      with_lse.lse = {lse.ptr()};
      json r = {{"case", "full"}, {"N", N}, {"B", 1}, {"H", kH}, {"D", kD}, {"engine", engine_name(fwd.engine(0, kD))}};
      r["fwd_ms"] = median_ms([&] { fwd.run(view(q), view(k), view(v), view(o), s, nullptr, st); }, iters, st);
      r["fwd_lse_ms"] =
          median_ms([&] { fwd.run(view(q), view(k), view(v), view(o), s, nullptr, st, with_lse); }, iters, st);
      const BackwardInputs in{view(q), view(k), view(v), view(o), view(dout), {lse.ptr()}};
      const BackwardOutputs g{view(dq), view(dk), view(dv)};
      r["bwd_ms"] = median_ms([&] { bwd_atomic.run(in, g, s, st); }, iters, st);
      r["bwd_det_ms"] = median_ms([&] { bwd_det.run(in, g, s, st); }, iters, st);
      const double flops = 4.0 * N * (double)N * kH * kD;
      r["fwd_tflops"] = flops / r["fwd_ms"].get<double>() * 1e-9;
      r["bwd_tflops"] = 2.5 * flops / r["bwd_ms"].get<double>() * 1e-9;
      r["bwd_det_tflops"] = 2.5 * flops / r["bwd_det_ms"].get<double>() * 1e-9;
      std::fprintf(stderr, "%s\n", r.dump().c_str());
      rows.push_back(r);
    }
    result["ours"] = rows;
    json peer_rows = json::array();
    if (!no_peers) {
      const std::string tmp = fmt::format("/tmp/moga-bench-bwd-peers-{}.json", (long long)std::time(nullptr));
      const std::string cmd = fmt::format("python3 {} --json {} --n {} --iters {} 1>&2", peers, tmp, ns, iters);
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
    std::printf("%-7s %-10s %9s %9s %9s %9s %9s %9s %12s\n", "N", "engine", "fwd ms", "+lse ms", "bwd ms",
                "bwd TF/s", "det ms", "cuDNN ms", "ours/cuDNN");
    for (const json& r : rows) {
      double peer = -1;
      for (const json& p : peer_rows)
        if (p.value("peer", "") == "sdpa_cudnn" && p.value("N", 0) == r["N"].get<int>() && p.contains("bwd_ms"))
          peer = p["bwd_ms"].get<double>();
      std::printf("%-7d %-10s %9.3f %9.3f %9.3f %9.1f %9.3f %9s %12s\n", r["N"].get<int>(),
                  r["engine"].get<std::string>().c_str(), r["fwd_ms"].get<double>(), r["fwd_lse_ms"].get<double>(),
                  r["bwd_ms"].get<double>(), r["bwd_tflops"].get<double>(), r["bwd_det_ms"].get<double>(),
                  peer > 0 ? fmt::format("{:.3f}", peer).c_str() : "-",
                  peer > 0 ? fmt::format("{:.2f}x", r["bwd_ms"].get<double>() / peer).c_str() : "-");
    }
    if (!json_path.empty()) std::ofstream(json_path) << result.dump(1) << "\n";
  } catch (const std::exception& e) {
    std::fprintf(stderr, "moga_bench_backward: %s\n", e.what());
    return 1;
  }
  return 0;
}
