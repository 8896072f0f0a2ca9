// moga_bench_compile: the JIT's cold and warm cost per shipped pattern (issue #12, item 8: cold <= 2 s
// per kernel module, warm first call <= 10 ms).
//
//   moga_bench_compile [--patterns a,b,...] [--head-dim 128] [--arch sm_90] [--threads N]
//                      [--flags "--opt ..."] [--json FILE]
//
// Cold: each pattern into its own empty cache folder (nothing shared, not even the prep unit), the
// module set compiled as the runtime compiles it (PatternAttention::compile: its units in parallel,
// --threads at once; 0 = the hardware's). Per unit: wall ms and NVRTC's own phase times (its
// --time CSV: C++ front end, NVVM optimizer, PTX -> SASS; wall, so on a busy machine CPU ms is the
// figure to compare), so the split says where time goes.
// Warm, in the same folder: a new PatternAttention's compile() (every unit a cache hit: read and
// verify), then with a GPU its first run() on a small shape, synchronized (cache read,
// cuModuleLoadData, the static maps, the launches) and its second run() for comparison. Without a GPU
// the first-call rows are skipped, loudly. Prints a table; --json writes the rows.
#include <fmt/format.h>
#include <stdlib.h>
#include <time.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "runtime/attention/attention.h"
#include "runtime/attention/pattern.h"
#include "runtime/jit/cache.h"
#include "runtime/jit/check.h"
#include "runtime/jit/driver.h"
#include "runtime/jit/jit.h"
#include "runtime/jit/module.h"

using namespace moga;
using namespace moga::rt;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

double cpu_ms() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string x; std::getline(ss, x, sep);)
    if (!x.empty()) out.push_back(x);
  return out;
}

// NVRTC's --time CSV ("File name, phase name, metric, unit"): program name -> phase -> ms.
std::map<std::string, std::map<std::string, double>> read_phases(const std::string& path) {
  std::map<std::string, std::map<std::string, double>> out;
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);  // header
  while (std::getline(f, line)) {
    const auto cells = split(line, ',');
    if (cells.size() < 3) continue;
    auto trim = [](std::string x) {
      x.erase(0, x.find_first_not_of(' '));
      return x;
    };
    out[trim(cells[0])][trim(cells[1])] += std::atof(cells[2].c_str());
  }
  return out;
}

// The file name NVRTC's CSV gives a unit (the jit names the program cache::sanitize(name) + ".cu").
std::string program_name(const std::string& unit) { return jit::cache::sanitize(unit) + ".cu"; }

struct Args {
  std::vector<std::string> patterns;
  int D = 128;
  std::string arch, json_path;
  std::vector<std::string> flags;
  unsigned threads = 0;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(fmt::format("{} needs a value", k));
      return argv[++i];
    };
    if (k == "--patterns") a.patterns = split(val(), ',');
    else if (k == "--head-dim") a.D = std::atoi(val().c_str());
    else if (k == "--arch") a.arch = val();
    else if (k == "--flags") a.flags = split(val(), ' ');
    else if (k == "--threads") a.threads = (unsigned)std::atoi(val().c_str());
    else if (k == "--json") a.json_path = val();
    else throw std::invalid_argument(fmt::format("unknown argument '{}' (see the header of bench/bench_compile.cpp)", k));
  }
  if (a.patterns.empty()) a.patterns = builtin_names();
  if (a.D != 64 && a.D != 128) throw std::invalid_argument(fmt::format("--head-dim {}: 64 or 128", a.D));
  return a;
}

// First and second run() of a fresh object on a small shape (zeros: timing only), synchronized.
std::pair<double, double> first_calls(const LoadedPattern& lp, const AttentionOptions& o, int D) {
  PatternAttention attn(lp, o);
  const bool video = lp.spec.layout == ref::Layout::Video;
  const AttentionShape s = video ? AttentionShape::make_video(1, 5, 16, 16, 4, D) : AttentionShape::seq(1, 1280, 4, D);
  const size_t nel = (size_t)s.N * s.H * s.D;
  jit::DeviceBuffer q(nel * 2), k(nel * 2), v(nel * 2), out(nel * 2);
  for (jit::DeviceBuffer* b : {&q, &k, &v}) b->fill_bytes(0);
  auto view = [&](const jit::DeviceBuffer& b) { return TensorView::contiguous(b.ptr(), DType::BF16, {1, s.N, s.H, s.D}); };
  const int d_model = 64;
  jit::DeviceBuffer x((size_t)s.N * d_model * 2);
  x.fill_bytes(0);
  RouterInputs router;
  std::vector<std::unique_ptr<jit::DeviceBuffer>> ws;
  for (int ki : attn.routed_kernels()) {
    const int M = attn.spec().kernels[ki].route->groups;
    ws.push_back(std::make_unique<jit::DeviceBuffer>((size_t)d_model * M * 2));
    ws.back()->fill_bytes(0);
    router.weights.push_back(TensorView::contiguous(ws.back()->ptr(), DType::BF16, {d_model, M}));
  }
  router.x = TensorView::contiguous(x.ptr(), DType::BF16, {1, s.N, d_model});
  const RouterInputs* r = attn.routed_kernels().empty() ? nullptr : &router;
  double t[2];
  for (double& ti : t) {
    const auto t0 = std::chrono::steady_clock::now();
    attn.run(view(q), view(k), view(v), view(out), s, r, nullptr);
    CU_CHECK(jit::driver().cuCtxSynchronize());
    ti = ms_since(t0);
  }
  return {t[0], t[1]};
}

}  // namespace

int main(int argc, char** argv) try {
  const Args a = parse(argc, argv);
  std::string no_gpu;
  const bool gpu = jit::device_available(&no_gpu);
  if (gpu) jit::Device::get();  // the context exists before anything is timed
  char tmpl[] = "/tmp/moga-bench-compile-XXXXXX";
  if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  const std::string root = tmpl;
  fmt::print("moga_bench_compile: NVRTC {}, {} hardware threads, compile threads {}, D = {}, {}\n",
             jit::nvrtc_version(), std::thread::hardware_concurrency(), a.threads ? std::to_string(a.threads) : "auto",
             a.D, gpu ? "device " + jit::Device::get().name() : "no GPU (" + no_gpu + ")");
  json rows = json::array();
  for (const std::string& name : a.patterns) {
    const LoadedPattern lp = load_builtin(name);
    const std::string dir = root + "/" + name;
    setenv("MOGA_CACHE_DIR", dir.c_str(), 1);
    AttentionOptions o;
    o.arch = a.arch;
    o.compile_threads = a.threads;
    o.nvrtc_flags = a.flags;
    o.nvrtc_flags.push_back("--time=" + dir + "/nvrtc-phases.csv");  // appended to, one row per phase
    fs::create_directories(dir);
    const double c0 = cpu_ms();
    PatternAttention cold(lp, o);
    const ModuleInfo info = cold.compile(a.D);
    const double cpu = cpu_ms() - c0;
    const auto phases = read_phases(dir + "/nvrtc-phases.csv");
    json row = {{"pattern", name}, {"arch", info.arch}, {"cold_wall_ms", info.compile_ms}, {"cold_cpu_ms", cpu},
                {"units", json::array()}};
    fmt::print("\n{}: {} units, cold {:.0f} ms wall, {:.0f} ms CPU (all threads)\n", name, info.units.size(),
               info.compile_ms, cpu);
    fmt::print("  {:<34} {:>5} {:>9} {:>9} {:>9} {:>9} {:>9}  {}\n", "unit", "exprs", "wall ms", "CPU ms", "front",
               "nvvm", "ptx>sass", "arch");
    double max_unit = 0, max_cpu = 0, sum_cpu = 0;
    for (const ModuleInfo::Unit& u : info.units) {
      const auto it = phases.find(program_name(u.name));
      auto ph = [&](const char* p) {
        if (it == phases.end()) return -1.0;
        auto f = it->second.find(p);
        return f == it->second.end() ? -1.0 : f->second;
      };
      const double fe = ph("CUDA C++ Frontend"), nvvm = ph("NVVM Optimizer"), ptx = ph("PTX Translation");
      fmt::print("  {:<34} {:>5} {:>9.0f} {:>9.0f} {:>9.0f} {:>9.0f} {:>9.0f}  {}{}\n", u.name, u.expressions, u.ms,
                 u.cpu_ms, fe, nvvm, ptx, u.arch, u.cache_hit ? " (cache hit?)" : "");
      max_unit = std::max(max_unit, u.ms);
      max_cpu = std::max(max_cpu, u.cpu_ms);
      sum_cpu += u.cpu_ms;
      row["units"].push_back({{"name", u.name}, {"expressions", u.expressions}, {"ms", u.ms}, {"cpu_ms", u.cpu_ms}, {"front_ms", fe},
                              {"nvvm_ms", nvvm}, {"ptx_ms", ptx}, {"arch", u.arch}, {"cache_hit", u.cache_hit}});
    }
    row["max_unit_ms"] = max_unit;
    row["max_unit_cpu_ms"] = max_cpu;
    row["sum_unit_cpu_ms"] = sum_cpu;
    fmt::print("  largest unit {:.0f} ms wall, {:.0f} ms CPU; all units {:.0f} ms CPU (one program before the split)\n",
               max_unit, max_cpu, sum_cpu);
    PatternAttention warm(lp, o);
    const ModuleInfo hit = warm.compile(a.D);
    row["warm_compile_ms"] = hit.compile_ms;
    row["warm_all_hits"] = hit.cache_hit;
    fmt::print("  warm: compile() {:.1f} ms ({})\n", hit.compile_ms, hit.cache_hit ? "all units cache hits" : "NOT all hits");
    if (gpu) {
      const auto [first, second] = first_calls(lp, o, a.D);
      row["warm_first_call_ms"] = first;
      row["second_call_ms"] = second;
      fmt::print("  warm first call {:.2f} ms (cache read + cuModuleLoadData + maps + launch), second call {:.2f} ms\n",
                 first, second);
    } else {
      fmt::print("  warm first call: SKIPPED (no CUDA device: {})\n", no_gpu);
    }
    rows.push_back(row);
  }
  fs::remove_all(root);
  unsetenv("MOGA_CACHE_DIR");
  if (!a.json_path.empty()) {
    json doc = {{"nvrtc", jit::nvrtc_version()}, {"hardware_threads", std::thread::hardware_concurrency()},
                {"compile_threads", a.threads}, {"head_dim", a.D}, {"device", gpu ? jit::Device::get().name() : ""},
                {"rows", rows}};
    std::ofstream(a.json_path) << doc.dump(1) << "\n";
  }
  return 0;
} catch (const std::exception& e) {
  fmt::print(stderr, "moga_bench_compile: {}\n", e.what());
  return 1;
}
