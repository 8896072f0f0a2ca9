// runtime/jit on a GPU: JIT-compiled kernels run on the device and match a CPU reference on random
// data, with outputs poisoned (NaN) first so an element a kernel skips cannot pass. Without a device
// every test SKIPs loudly ("no CUDA device: <reason>"). Build: ninja moga_gpu_tests; run on the GPU
// machine through tools/gpu-check.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "runtime/jit/check.h"
#include "runtime/jit/jit.h"
#include "runtime/jit/module.h"

using namespace moga::jit;

namespace {

std::vector<float> random_floats(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// Skips without a device; gives each test its own cache folder.
class gpu_jit : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!device_available(&why)) GTEST_SKIP() << "no CUDA device: " << why;
    char tmpl[] = "/tmp/moga-gpu-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    setenv("MOGA_CACHE_DIR", dir_.c_str(), 1);
  }
  void TearDown() override {
    if (dir_.empty()) return;
    unsetenv("MOGA_CACHE_DIR");
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string dir_;
};

TEST_F(gpu_jit, DefaultArchIsTheDevicesArch) {
  EXPECT_EQ(CompileOptions{}.resolved_arch(), Device::get().arch());
  std::cout << "device: " << Device::get().name() << " (" << Device::get().arch() << ")\n";
}

TEST_F(gpu_jit, SaxpyMatchesCpu) {
  const std::string src = R"(
extern "C" __global__ void gpu_saxpy(int n, float a, const float* x, const float* y, float* out) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = a * x[i] + y[i];
}
)";
  CompileOptions o;
  o.name = "gpu_saxpy";
  const CompiledKernel k = compile(src, o);
  Module mod(k);
  CUfunction f = mod.function("gpu_saxpy");

  int n = (1 << 20) + 37;  // not a multiple of the block: the tail must be written too
  const float a = -2.5f;
  const std::vector<float> x = random_floats(n, 1), y = random_floats(n, 2);
  DeviceBuffer dx(n * sizeof(float)), dy(n * sizeof(float)), dout(n * sizeof(float));
  dx.upload(x);
  dy.upload(y);
  dout.fill_bytes(0xFF);  // NaN
  CUdeviceptr px = dx.ptr(), py = dy.ptr(), pout = dout.ptr();
  void* args[] = {&n, const_cast<float*>(&a), &px, &py, &pout};
  launch(f, {static_cast<unsigned>((n + 255) / 256)}, {256}, 0, nullptr, args);
  Device::get().synchronize();

  const std::vector<float> out = dout.download<float>();
  int bad = 0;
  for (int i = 0; i < n; ++i) {
    const double ref = static_cast<double>(a) * x[i] + y[i];
    if (!(std::fabs(out[i] - ref) <= 1e-5 * (1 + std::fabs(ref)))) {
      if (bad++ < 5) ADD_FAILURE() << "out[" << i << "] = " << out[i] << ", expected " << ref;
    }
  }
  EXPECT_EQ(bad, 0) << "of " << n;
}

// More than 48 KiB of dynamic shared memory needs the opt-in attribute that launch() sets.
TEST_F(gpu_jit, LaunchWithLargeDynamicSharedMemory) {
  const std::string src = R"(
extern "C" __global__ void gpu_reverse_tiles(const float* in, float* out, int tile) {
  extern __shared__ float buf[];
  const float* src = in + (size_t)blockIdx.x * tile;
  for (int i = threadIdx.x; i < tile; i += blockDim.x) buf[tile - 1 - i] = src[i];
  __syncthreads();
  for (int i = threadIdx.x; i < tile; i += blockDim.x) out[(size_t)blockIdx.x * tile + i] = buf[i];
}
)";
  CompileOptions o;
  o.name = "gpu_reverse_tiles";
  Module mod(compile(src, o));
  CUfunction f = mod.function("gpu_reverse_tiles");

  int tile = 100 * 1024 / 4;  // 100 KiB of floats per block
  const int blocks = 64;
  const size_t n = size_t(tile) * blocks;
  const std::vector<float> in = random_floats(n, 3);
  DeviceBuffer din(n * 4), dout(n * 4);
  din.upload(in);
  dout.fill_bytes(0xFF);
  CUdeviceptr pin = din.ptr(), pout = dout.ptr();
  void* args[] = {&pin, &pout, &tile};
  launch(f, {blocks}, {256}, size_t(tile) * 4, nullptr, args);
  Device::get().synchronize();

  const std::vector<float> out = dout.download<float>();
  int bad = 0;
  for (int b = 0; b < blocks; ++b)
    for (int i = 0; i < tile; ++i)
      bad += out[size_t(b) * tile + i] != in[size_t(b) * tile + tile - 1 - i];
  EXPECT_EQ(bad, 0);
}

TEST_F(gpu_jit, LoaderErrorsNameWhatFailed) {
  CompileOptions o;
  o.name = "gpu_empty";
  const std::string src = "extern \"C\" __global__ void gpu_empty() {}\n";
  Module mod(compile(src, o));
  try {
    mod.function("no_such_kernel");
    FAIL() << "expected CudaError";
  } catch (const CudaError& e) {
    EXPECT_NE(std::string(e.what()).find("no_such_kernel"), std::string::npos) << e.what();
  }
  // A cubin of another major arch cannot load: the message names both archs.
  const std::string dev_arch = Device::get().arch();
  o.arch = dev_arch == "sm_75" ? "sm_80" : "sm_75";
  try {
    Module wrong(compile(src, o));
    FAIL() << "a " << o.arch << " cubin loaded on " << dev_arch;
  } catch (const CudaError& e) {
    const std::string w = e.what();
    EXPECT_NE(w.find(o.arch), std::string::npos) << w;
    EXPECT_NE(w.find(dev_arch), std::string::npos) << w;
  }
}

}  // namespace
