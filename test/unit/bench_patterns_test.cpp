// The benchmark suite's patterns (bench/patterns/*.moga, run on the GPU by bench/run_pattern_suite.sh)
// on the CPU, so CI keeps them compiling and correct without a GPU:
//   * the suite has at least 12 patterns, each with a header that says where it comes from and a
//     `# suite:` line (the shapes the runner and this test use);
//   * each compiles through the whole compiler (with the `tiny_param` overrides of its suite line);
//   * the CPU reference (ref::reference_attention, float64) at the tiny shape equals a naive brute force
//     written here: a dense visibility evaluated pair by pair from the kernel's element programs
//     (ref::ElementEvaluator), an independent router, softmax per row, gates and weights;
//   * the block map (interval classification, the kernels' skip / no-mask decisions) is sound against
//     that dense visibility: no visible pair in an empty tile, no invisible pair in a full tile;
//   * the block maps at the benchmark shape build (no program error at 32k tokens);
//   * bench/peers/pattern_peer.py, which runs the same programs as FlexAttention mask_mods on the GPU,
//     counts the same visible pairs as the dense visibility here (its numpy backend; skipped when
//     python3 with numpy is missing).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <unistd.h>

#include "compiler/driver/compile_pattern.h"
#include "nlohmann/json.hpp"
#include "runtime/reference/attention.h"
#include "runtime/reference/block_map.h"
#include "runtime/reference/program.h"

namespace {

namespace fs = std::filesystem;
using namespace moga;

std::string source_dir() {
  const char* s = std::getenv("MOGA_SOURCE_DIR");
  return s ? s : MOGA_SOURCE_DIR_DEFAULT;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> suite_files() {
  std::vector<std::string> files;
  const fs::path dir = fs::path(source_dir()) / "bench" / "patterns";
  if (fs::is_directory(dir))
    for (const auto& e : fs::directory_iterator(dir))
      if (e.path().extension() == ".moga") files.push_back(e.path().stem().string());
  std::sort(files.begin(), files.end());
  return files;
}

// The `# suite: bench=S check=S tiny=S tiny_param=k=v ...` line (bench/patterns/README.md).
struct SuiteLine {
  std::map<std::string, std::string> keys;
  std::map<std::string, std::string> tiny_params;
  bool found = false;
};

SuiteLine suite_line(const std::string& text) {
  SuiteLine s;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("# suite:", 0) != 0) continue;
    s.found = true;
    std::istringstream words(line.substr(8));
    std::string w;
    while (words >> w) {
      const auto eq = w.find('=');
      if (eq == std::string::npos) continue;
      const std::string k = w.substr(0, eq), v = w.substr(eq + 1);
      if (k == "tiny_param") {
        const auto e2 = v.find('=');
        if (e2 != std::string::npos) s.tiny_params[v.substr(0, e2)] = v.substr(e2 + 1);
      } else {
        s.keys[k] = v;
      }
    }
  }
  return s;
}

ref::Shape shape_of(const std::string& text, ref::Layout layout) {
  std::vector<int> d;
  std::istringstream in(text);
  std::string part;
  while (std::getline(in, part, 'x')) d.push_back(std::stoi(part));
  if (layout == ref::Layout::Seq) {
    EXPECT_EQ(d.size(), 1u) << "a seq pattern's shape is N, got " << text;
    return ref::Shape::seq(d.at(0));
  }
  EXPECT_EQ(d.size(), 3u) << "a video pattern's shape is FxHxW, got " << text;
  ref::VideoShape v;
  v.F = d.at(0);
  v.H = d.at(1);
  v.W = d.at(2);
  return ref::Shape::video(v);
}

// ---- the naive brute force -------------------------------------------------------------------------------

// Token t's groups (one per top-k choice) for kernel k: an independent router (double logits, stable
// by decreasing probability, ties to the lower group), the key program, or one group.
struct Groups {
  std::vector<std::vector<int>> ids;       // [N][k]
  std::vector<std::vector<double>> prob;   // [N][k] (routed)
};

Groups naive_groups(const ref::KernelSpec& k, const ref::Shape& shape, const std::vector<float>& x, int d_model,
                    const std::vector<float>& w) {
  const int N = shape.N();
  Groups g;
  g.ids.resize(N);
  g.prob.resize(N);
  for (int t = 0; t < N; ++t) {
    if (k.route) {
      const int M = k.route->groups;
      std::vector<double> logit(M, 0.0), p(M);
      for (int m = 0; m < M; ++m)
        for (int d = 0; d < d_model; ++d) logit[m] += (double)x[(size_t)t * d_model + d] * w[(size_t)d * M + m];
      const double mx = *std::max_element(logit.begin(), logit.end());
      double z = 0;
      for (int m = 0; m < M; ++m) z += p[m] = std::exp(logit[m] - mx);
      std::vector<int> order(M);
      for (int m = 0; m < M; ++m) order[m] = m, p[m] /= z;
      std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return p[a] > p[b]; });
      for (int j = 0; j < k.route->topk; ++j) g.ids[t].push_back(order[j]), g.prob[t].push_back(p[order[j]]);
    } else if (k.key) {
      g.ids[t] = {ref::eval_key(*k.key, shape.coords(t), shape.mask())};
    } else {
      g.ids[t] = {0};
    }
  }
  return g;
}

bool in_group(const Groups& g, int t, int id) {
  return std::find(g.ids[t].begin(), g.ids[t].end(), id) != g.ids[t].end();
}

struct Problem {
  int N = 0, H = 2, D = 8, d_model = 8;
  std::vector<float> q, k, v, x;
  std::vector<std::vector<float>> w;  // per kernel
};

// out[t][h][:] = sum_k w_k sum_{g in groups(t)} gate * softmax_{u in S(t,g)}(score) v_u.
std::vector<double> naive_attention(const ref::PatternSpec& spec, const ref::Shape& shape, const Problem& p) {
  const int N = p.N, H = p.H, D = p.D;
  std::vector<double> out((size_t)N * H * D, 0.0);
  for (size_t ki = 0; ki < spec.kernels.size(); ++ki) {
    const ref::KernelSpec& k = spec.kernels[ki];
    const Groups g = naive_groups(k, shape, p.x, p.d_model, p.w[ki]);
    const double scale = k.scale ? *k.scale : 1.0 / std::sqrt((double)D);
    for (int t = 0; t < N; ++t) {
      const Coords<int> ct = shape.coords(t);
      for (size_t j = 0; j < g.ids[t].size(); ++j) {
        const int id = g.ids[t][j];
        double gate = k.route_gate ? g.prob[t][j] : 1.0;
        if (k.gate) gate = ref::eval_gate(*k.gate, ct, shape.mask());
        std::vector<int> keys;
        for (int u = 0; u < N; ++u)
          if ((!k.grouped() || in_group(g, u, id)) && (!k.mask || ref::eval_mask(*k.mask, ct, shape.coords(u), shape.mask())))
            keys.push_back(u);
        if (keys.empty()) continue;  // an empty row contributes 0
        for (int h = 0; h < H; ++h) {
          std::vector<double> s(keys.size());
          for (size_t i = 0; i < keys.size(); ++i) {
            double dot = 0;
            for (int d = 0; d < D; ++d)
              dot += (double)p.q[((size_t)t * H + h) * D + d] * p.k[((size_t)keys[i] * H + h) * D + d];
            double sc = dot * scale;
            if (k.softcap) sc = *k.softcap * std::tanh(sc / *k.softcap);
            if (k.bias) sc += ref::eval_bias(*k.bias, ct, shape.coords(keys[i]), h, shape.mask());
            s[i] = sc;
          }
          const double mx = *std::max_element(s.begin(), s.end());
          double z = 0;
          for (double& e : s) z += e = std::exp(e - mx);
          for (int d = 0; d < D; ++d) {
            double acc = 0;
            for (size_t i = 0; i < keys.size(); ++i) acc += s[i] * p.v[((size_t)keys[i] * H + h) * D + d];
            out[((size_t)t * H + h) * D + d] += k.weight * gate * acc / z;
          }
        }
      }
    }
  }
  return out;
}

std::vector<float> random_vec(size_t n, std::mt19937_64& rng, float a) {
  std::uniform_real_distribution<float> d(-a, a);
  std::vector<float> v(n);
  for (float& f : v) f = d(rng);
  return v;
}

// Visible pairs of an unrouted kernel, pair by pair.
long long dense_visible(const ref::KernelSpec& k, const ref::Shape& shape) {
  const Groups g = naive_groups(k, shape, {}, 0, {});
  long long n = 0;
  for (int t = 0; t < shape.N(); ++t)
    for (int u = 0; u < shape.N(); ++u)
      n += (!k.grouped() || g.ids[t][0] == g.ids[u][0]) &&
           (!k.mask || ref::eval_mask(*k.mask, shape.coords(t), shape.coords(u), shape.mask()));
  return n;
}

// ---- the tests -------------------------------------------------------------------------------------------

TEST(BenchPatterns, SuiteHasTwelvePatternsWithSourcesAndShapes) {
  const auto files = suite_files();
  EXPECT_GE(files.size(), 12u) << "bench/patterns must hold the suite (issue #12: at least 12 patterns)";
  for (const auto& name : files) {
    const std::string text = read_file(source_dir() + "/bench/patterns/" + name + ".moga");
    EXPECT_EQ(text.rfind("# ", 0), 0u) << name << ": the file must start with a header comment citing its source";
    const SuiteLine s = suite_line(text);
    EXPECT_TRUE(s.found) << name << ": no '# suite:' line";
    for (const char* key : {"bench", "check", "tiny"}) EXPECT_TRUE(s.keys.count(key)) << name << ": suite line lacks " << key;
  }
}

class BenchPattern : public ::testing::TestWithParam<std::string> {};

TEST_P(BenchPattern, CompilesAndReferenceMatchesBruteForce) {
  const std::string file = source_dir() + "/bench/patterns/" + GetParam() + ".moga";
  const SuiteLine suite = suite_line(read_file(file));
  ASSERT_TRUE(suite.found && suite.keys.count("tiny") && suite.keys.count("bench")) << file;

  // The benchmark's own params: compiles, and its block maps build at the benchmark shape.
  {
    frontend::Diagnostics diags;
    auto full = compilePatternFile(file, {}, diags);
    ASSERT_TRUE(full) << diags.renderAll();
    const ref::PatternSpec spec = ref::parse_manifest(full->manifest);
    ref::BlockMapOptions opt;
    opt.density_budget = 0;
    const auto maps = ref::build_block_maps(spec, shape_of(suite.keys.at("bench"), spec.layout), 1, {}, opt);
    ASSERT_EQ(maps.size(), spec.kernels.size());
    for (const auto& m : maps) EXPECT_GT(m.full + m.partial, 0) << m.summary() << ": nothing visible at the bench shape";
  }

  // The tiny shape with the tiny params (windows smaller than the tiny sequence, so masks cut).
  PatternCompileOptions opt;
  for (const auto& [k, v] : suite.tiny_params) opt.params[k] = v;
  frontend::Diagnostics diags;
  auto compiled = compilePatternFile(file, opt, diags);
  ASSERT_TRUE(compiled) << diags.renderAll();
  const ref::PatternSpec spec = ref::parse_manifest(compiled->manifest);
  const ref::Shape shape = shape_of(suite.keys.at("tiny"), spec.layout);

  Problem p;
  p.N = shape.N();
  std::mt19937_64 rng(std::hash<std::string>{}(GetParam()));
  const size_t nel = (size_t)p.N * p.H * p.D;
  p.q = random_vec(nel, rng, 1.f);
  p.k = random_vec(nel, rng, 1.f);
  p.v = random_vec(nel, rng, 1.f);
  p.x = random_vec((size_t)p.N * p.d_model, rng, 1.f);
  p.w.resize(spec.kernels.size());
  ref::RefInputs in;
  in.heads = p.H;
  in.head_dim = p.D;
  in.N = p.N;
  if (spec.layout == ref::Layout::Video) {
    in.video.F = shape.mask().F;
    in.video.H = shape.mask().H;
    in.video.W = shape.mask().W;
  }
  in.q = p.q.data();
  in.k = p.k.data();
  in.v = p.v.data();
  in.x = p.x.data();
  in.d_model = p.d_model;
  in.router_weight.assign(spec.kernels.size(), nullptr);
  in.threads = 1;
  for (size_t ki = 0; ki < spec.kernels.size(); ++ki)
    if (spec.kernels[ki].route) {
      p.w[ki] = random_vec((size_t)p.d_model * spec.kernels[ki].route->groups, rng, 1.f);
      in.router_weight[ki] = p.w[ki].data();
    }
  ref::RefOutput ro;
  ref::reference_attention<double>(spec, in, ro);
  const std::vector<double> want = naive_attention(spec, shape, p);
  ASSERT_EQ(ro.out.size(), want.size());
  double num = 0, den = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    num += (ro.out[i] - want[i]) * (ro.out[i] - want[i]);
    den += want[i] * want[i];
  }
  EXPECT_GT(den, 0) << "the brute force sees nothing at the tiny shape: the test would prove nothing";
  EXPECT_LE(std::sqrt(num / std::max(den, 1e-300)), 1e-10) << GetParam() << ": reference vs brute force";

  // Block maps (small tiles, so a tiny shape has many) are sound against the dense visibility.
  ref::BlockMapOptions bo;
  bo.block_m = 16;
  bo.block_n = 8;
  bo.density_budget = -1;
  for (size_t ki = 0; ki < spec.kernels.size(); ++ki) {
    const ref::KernelSpec& k = spec.kernels[ki];
    const ref::TokenOrder order = ref::token_order(ro.groups[ki], k.grouped());
    const ref::BlockMap m = ref::build_block_map(k, shape, order, bo);
    long long wrong = 0;
    for (int i = 0; i < order.Ne; ++i)
      for (int j = 0; j < order.Ne; ++j) {
        const int t = order.perm[i], u = order.perm[j];
        const bool vis = (!k.grouped() || order.gid[i] == order.gid[j]) &&
                         (!k.mask || ref::eval_mask(*k.mask, shape.coords(t), shape.coords(u), shape.mask()));
        const ref::TileClass c = m.at(0, i / bo.block_m, j / bo.block_n);
        wrong += (c == ref::TileClass::Empty && vis) || (c == ref::TileClass::Full && !vis);
      }
    EXPECT_EQ(wrong, 0) << k.name << ": pairs the block map classifies wrongly (" << m.summary() << ")";
  }
}

// The FlexAttention peer's interpretation of the programs (numpy backend) counts the same visible pairs.
TEST_P(BenchPattern, PeerMaskAgreesWithBruteForce) {
  if (std::system("python3 -c 'import numpy' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "python3 with numpy not available: the peer's interpreter is not checked";
  const std::string file = source_dir() + "/bench/patterns/" + GetParam() + ".moga";
  const SuiteLine suite = suite_line(read_file(file));
  PatternCompileOptions opt;
  for (const auto& [k, v] : suite.tiny_params) opt.params[k] = v;
  frontend::Diagnostics diags;
  auto compiled = compilePatternFile(file, opt, diags);
  ASSERT_TRUE(compiled) << diags.renderAll();
  const ref::PatternSpec spec = ref::parse_manifest(compiled->manifest);
  const std::string tiny = suite.keys.at("tiny");
  const ref::Shape shape = shape_of(tiny, spec.layout);

  const fs::path dir = fs::temp_directory_path() / ("moga-peer-test-" + GetParam() + "-" + std::to_string(getpid()));
  fs::create_directories(dir);
  const std::string manifest = (dir / "m.json").string(), out = (dir / "out.json").string();
  std::ofstream(manifest) << compiled->manifest.dump();
  const std::string cmd = "python3 '" + source_dir() + "/bench/peers/pattern_peer.py' --count-only --backend numpy --manifest '" +
                          manifest + "' --shape " + tiny + " --json '" + out + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  const nlohmann::json j = nlohmann::json::parse(read_file(out));
  fs::remove_all(dir);
  ASSERT_EQ(j["kernels"].size(), spec.kernels.size());
  int compared = 0;
  for (size_t ki = 0; ki < spec.kernels.size(); ++ki) {
    if (spec.kernels[ki].route) continue;  // the peer routes its own random inputs
    EXPECT_EQ(j["kernels"][ki]["visible_pairs"].get<long long>(), dense_visible(spec.kernels[ki], shape))
        << spec.kernels[ki].name;
    ++compared;
  }
  if (!compared) GTEST_SKIP() << "every kernel is routed: no mask of its own to compare";
}

INSTANTIATE_TEST_SUITE_P(Suite, BenchPattern, ::testing::ValuesIn(suite_files()),
                         [](const ::testing::TestParamInfo<std::string>& i) { return i.param; });

}  // namespace
