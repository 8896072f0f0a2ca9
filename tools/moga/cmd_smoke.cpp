// `moga smoke`: JIT-compiles a saxpy for the default (or given) arch, says whether the cache hit and
// how long it took, and, when a device is present, runs it on poisoned output and checks every value.
#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <memory>
#include <random>
#include <vector>

#include "runtime/jit/jit.h"
#include "runtime/jit/module.h"
#include "runtime/model/run.h"
#include "tools/moga/commands.h"
#include "tools/moga/validate.h"

namespace moga::cli {
namespace {

constexpr const char* kSource = R"(
extern "C" __global__ void moga_smoke_saxpy(int n, float a, const float* x, const float* y, float* out) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = a * x[i] + y[i];
}
)";

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

int run_smoke(const std::string& arch, int n) {
  // A virtual or misspelt arch is a usage error, refused before the driver is touched.
  if (!arch.empty() && (arch.rfind("sm_", 0) != 0 || arch.size() < 5))
    throw model::OptionError("--arch", "expects a real GPU arch such as sm_90 or sm_90a, got '" + arch + "'");
  jit::CompileOptions opt;
  opt.name = "moga_smoke_saxpy";
  // Resolved before the clock starts: finding the device's arch initialises the driver (~0.2 s).
  opt.arch = arch.empty() ? opt.resolved_arch() : arch;
  const auto t0 = std::chrono::steady_clock::now();
  const jit::CompiledKernel k = jit::compile(kSource, opt);
  fmt::print("compile: cache {} in {:.1f} ms, {} B cubin for {}\n  {}\n", k.cache_hit ? "hit" : "miss",
             ms_since(t0), k.cubin.size(), k.arch, k.cache_path);

  std::string why;
  if (!jit::device_available(&why)) {
    fmt::print("no CUDA device: compiled only ({})\n", why);
    return 0;
  }
  jit::Device& dev = jit::Device::get();
  jit::Module mod(k, dev);
  CUfunction f = mod.function("moga_smoke_saxpy");

  std::mt19937 rng(1234);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<float> x(n), y(n);
  for (int i = 0; i < n; ++i) x[i] = dist(rng), y[i] = dist(rng);
  const float a = 1.75f;
  jit::DeviceBuffer dx(n * sizeof(float)), dy(n * sizeof(float)), dout(n * sizeof(float));
  dx.upload(x);
  dy.upload(y);
  dout.fill_bytes(0xFF);  // NaN everywhere: an element the kernel skips cannot pass the check

  CUdeviceptr px = dx.ptr(), py = dy.ptr(), pout = dout.ptr();
  void* args[] = {&n, const_cast<float*>(&a), &px, &py, &pout};
  const auto t1 = std::chrono::steady_clock::now();
  jit::launch(f, {static_cast<unsigned>((n + 255) / 256)}, {256}, 0, nullptr, args);
  dev.synchronize();
  const double run_ms = ms_since(t1);

  const std::vector<float> out = dout.download<float>();
  int bad = 0;
  double max_err = 0;
  for (int i = 0; i < n; ++i) {
    const double ref = static_cast<double>(a) * x[i] + y[i];
    const double err = std::fabs(out[i] - ref);  // NaN makes the comparison below fail
    if (!(err <= 1e-5 * (1 + std::fabs(ref)))) ++bad;
    if (err > max_err) max_err = err;
  }
  if (bad) {
    fmt::print(stderr, "run: FAILED on {} ({}): {} of {} values wrong\n", dev.name(), dev.arch(), bad, n);
    return 1;
  }
  fmt::print("run: ok on {} ({}): n={}, max abs err {:.2e}, {:.3f} ms incl. launch\n", dev.name(),
             dev.arch(), n, max_err, run_ms);
  return 0;
}

}  // namespace

Command register_smoke(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("smoke", "JIT-compile a small kernel; run and check it if a GPU is present");
  auto arch = std::make_shared<std::string>();
  auto n = std::make_shared<int>(1 << 20);
  sub->add_option("--arch", *arch, "Target arch (sm_90, sm_90a, ...); default: the device's, else sm_90");
  sub->add_option("-n", *n, "Number of elements")->check(int_range(1, 1 << 28));
  return {sub, [arch, n] { return run_smoke(*arch, *n); }};
}

}  // namespace moga::cli
