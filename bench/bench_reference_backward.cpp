// The CPU reference's backward (runtime/reference/backward.h) against its forward, wall time on this
// machine: how large a shape a GPU gradient test can afford to check. CPU only.
//   moga_bench_reference_backward [--N 2048] [--heads 2] [--dim 64] [--threads 0] [--case dense|causal|routed]
// routed: route linear(5) top 1 with the router gate, d_model 64. Prints one line per run.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "runtime/reference/backward.h"

namespace {

using namespace moga::ref;
using nlohmann::json;

PatternSpec make_pattern(const std::string& which) {
  json k = {{"name", which}, {"weight", 1.0}, {"accumulate", false}, {"route", nullptr}, {"route_gate", false},
            {"scale", nullptr}, {"softcap", nullptr}, {"structure", "dense"}, {"uses", json::array()},
            {"tiles", {{"block_m", 64}, {"block_n", 64}, {"warps", 4}, {"stages", 2}, {"head_dim", 64}}},
            {"mask", nullptr}, {"key", nullptr}, {"bias", nullptr}, {"gate", nullptr}};
  if (which == "causal") {
    k["structure"] = "masked";
    k["mask"] = json::parse(R"({"args": ["q", "kv"], "ops": [
      {"op": "arg", "index": 0}, {"op": "arg", "index": 1},
      {"op": "coord", "operands": [0], "coord": "pos"}, {"op": "coord", "operands": [1], "coord": "pos"},
      {"op": "cmpi", "pred": "sge", "operands": [2, 3]}], "result": 4})");
  } else if (which == "routed") {
    k["structure"] = "grouped";
    k["route"] = {{"groups", 5}, {"topk", 1}};
    k["route_gate"] = true;
  } else if (which != "dense") {
    throw std::invalid_argument("--case " + which + ": expected dense, causal or routed");
  }
  return parse_manifest(json{{"pattern", which}, {"layout", "seq"}, {"params", json::object()}, {"kernels", {k}}});
}

int int_arg(const char* flag, const char* v) {
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  if (!*v || *end || x < 0 || x > (1 << 20)) throw std::invalid_argument(std::string(flag) + " " + v + ": expected an integer in [0, 2^20]");
  return (int)x;
}

}  // namespace

int main(int argc, char** argv) try {
  int N = 2048, H = 2, D = 64, threads = 0;
  std::string which = "dense";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) throw std::invalid_argument(a + ": needs a value");
    const char* v = argv[++i];
    if (a == "--N") N = int_arg("--N", v);
    else if (a == "--heads") H = int_arg("--heads", v);
    else if (a == "--dim") D = int_arg("--dim", v);
    else if (a == "--threads") threads = int_arg("--threads", v);
    else if (a == "--case") which = v;
    else throw std::invalid_argument(a + ": unknown flag");
  }
  const PatternSpec p = make_pattern(which);
  const int dm = 64;
  std::mt19937 rng(1);
  std::normal_distribution<float> nd;
  const size_t n = (size_t)N * H * D;
  std::vector<float> q(n), k(n), v(n), x((size_t)N * dm), w((size_t)dm * 5);
  for (auto* a : {&q, &k, &v, &x, &w})
    for (auto& e : *a) e = nd(rng);
  std::vector<double> dout(n);
  for (auto& e : dout) e = nd(rng);
  RefInputs in;
  in.N = N, in.heads = H, in.head_dim = D, in.threads = threads;
  in.q = q.data(), in.k = k.data(), in.v = v.data();
  in.x = x.data(), in.d_model = dm, in.router_weight = {w.data()};
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  RefOutput out;
  reference_attention(p, in, out);
  const auto t1 = clock::now();
  RefGrads g;
  reference_attention_backward(p, in, dout.data(), BackwardOptions{}, g);
  const auto t2 = clock::now();
  const double f = std::chrono::duration<double>(t1 - t0).count(), b = std::chrono::duration<double>(t2 - t1).count();
  std::printf("case %s N %d heads %d dim %d threads %d: forward %.2f s, backward %.2f s (%.1fx)\n", which.c_str(), N, H, D,
              threads, f, b, b / f);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "moga_bench_reference_backward: %s\n", e.what());
  return 2;
}
