// runtime/jit without a GPU: NVRTC compiles, the cache (hits, corruption, concurrency), compile
// errors, the options hash, the error macros and the no-device path. Each test gets its own
// MOGA_CACHE_DIR. Build: ninja moga_jit_tests; run: bin/moga_jit_tests or ctest -R jit.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "runtime/jit/cache.h"
#include "runtime/jit/check.h"
#include "runtime/jit/compile_all.h"
#include "runtime/jit/jit.h"
#include "runtime/jit/module.h"

namespace fs = std::filesystem;
using namespace moga::jit;

namespace {

const std::string kSaxpy = R"(
extern "C" __global__ void jit_test_saxpy(int n, float a, const float* x, float* y) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = a * x[i] + y[i];
}
)";

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

void write_all(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << data;
}

bool contains(const std::vector<char>& hay, const std::string& needle) {
  return std::search(hay.begin(), hay.end(), needle.begin(), needle.end()) != hay.end();
}

std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// A fresh cache folder per test, so tests neither see each other's entries nor the user's cache.
// The variables that choose the cache folder are restored afterwards.
class JitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* v : {"MOGA_CACHE_DIR", "XDG_CACHE_HOME", "HOME"})
      if (const char* old = std::getenv(v)) saved_.emplace_back(v, old);
    char tmpl[] = "/tmp/moga-jit-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    setenv("MOGA_CACHE_DIR", dir_.c_str(), 1);
  }
  void TearDown() override {
    for (const char* v : {"MOGA_CACHE_DIR", "XDG_CACHE_HOME", "HOME"}) unsetenv(v);
    for (const auto& [k, v] : saved_) setenv(k.c_str(), v.c_str(), 1);
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  static CompileOptions saxpy_options() {
    CompileOptions o;
    o.arch = "sm_90";
    o.name = "jit_test_saxpy";
    return o;
  }
  std::string dir_;

 private:
  std::vector<std::pair<std::string, std::string>> saved_;
};

// Suite names start with "jit" so that `ctest -R jit` picks them.
class jit_options_env : public JitTest {};
class jit_compile : public JitTest {};
class jit_cache : public JitTest {};
class jit_error : public JitTest {};

// ---------------------------------------------------------------------------------------------
// Options: the hash covers every field and nothing else changes it.

TEST(jit_options, HashIsStableAndChangesWithEveryField) {
  CompileOptions base;
  base.arch = "sm_90";
  base.name = "k";
  base.defines = {"A=1"};
  base.include_dirs = {"/inc"};
  base.headers = {{"h.cuh", "#define H 1"}};
  base.flags = {"-lineinfo"};

  const CompileOptions copy = base;
  EXPECT_EQ(base.hash(), copy.hash());
  EXPECT_EQ(base.key(), copy.key());
  EXPECT_EQ(base.hash(), base.hash());

  std::vector<CompileOptions> variants(9, base);
  variants[0].arch = "sm_90a";
  variants[1].name = "k2";
  variants[2].defines = {"A=2"};
  variants[3].include_dirs = {"/inc2"};
  variants[4].headers[0].name = "h2.cuh";
  variants[5].headers[0].contents = "#define H 2";
  variants[6].flags = {"--use_fast_math"};
  variants[7].headers.push_back({"g.cuh", ""});
  variants[8].name_expressions = {"k<1>"};
  std::set<uint64_t> hashes = {base.hash()};
  for (size_t i = 0; i < variants.size(); ++i) {
    EXPECT_NE(variants[i].hash(), base.hash()) << "field " << i << " is not hashed";
    hashes.insert(variants[i].hash());
  }
  EXPECT_EQ(hashes.size(), variants.size() + 1) << "two different variants share a hash";

  // The versions are part of the key; the source is part of the entry's hash.
  EXPECT_NE(base.key().find(MOGA_VERSION), std::string::npos);
  EXPECT_NE(base.key().find("\"nvrtc\":\"" + nvrtc_version() + "\""), std::string::npos);
  EXPECT_NE(compile_hash("a", base), compile_hash("b", base));
  EXPECT_EQ(compile_hash("a", base), compile_hash("a", copy));
}

TEST(jit_options, DefaultArchIsTheDevicesOrSm90) {
  CompileOptions o;
  std::string why;
  if (device_available(&why))
    EXPECT_EQ(o.resolved_arch(), Device::get().arch());
  else
    EXPECT_EQ(o.resolved_arch(), "sm_90") << "no device (" << why << ") must mean sm_90";
}

TEST_F(jit_options_env, CacheDirFollowsTheEnvironment) {
  EXPECT_EQ(cache_root(), dir_);
  EXPECT_EQ(cache_dir("sm_90"),
            fmt::format("{}/moga-{}/nvrtc-{}/sm_90", dir_, MOGA_VERSION, nvrtc_version()));
  unsetenv("MOGA_CACHE_DIR");
  setenv("XDG_CACHE_HOME", "/xdg", 1);
  EXPECT_EQ(cache_root(), "/xdg/moga");
  setenv("XDG_CACHE_HOME", "relative", 1);  // invalid per the XDG spec: ignored
  setenv("HOME", "/home/someone", 1);
  EXPECT_EQ(cache_root(), "/home/someone/.cache/moga");
  unsetenv("XDG_CACHE_HOME");
  EXPECT_EQ(cache_root(), "/home/someone/.cache/moga");
}

// ---------------------------------------------------------------------------------------------
// Compiling.

TEST_F(jit_compile, CompilesToSm90Cubin) {
  const CompiledKernel k = compile(kSaxpy, saxpy_options());
  ASSERT_GE(k.cubin.size(), 64u);
  EXPECT_EQ(std::string(k.cubin.data(), 4), "\x7f" "ELF");
  EXPECT_EQ(k.cubin[4], 2) << "64-bit ELF";
  uint16_t machine = 0;
  std::memcpy(&machine, k.cubin.data() + 18, 2);
  EXPECT_EQ(machine, 190) << "e_machine must be EM_CUDA";
  EXPECT_TRUE(contains(k.cubin, "jit_test_saxpy")) << "kernel name not in the cubin";
  EXPECT_EQ(k.arch, "sm_90");
  EXPECT_FALSE(k.cache_hit);
  EXPECT_EQ(k.hash, compile_hash(kSaxpy, saxpy_options()));
  EXPECT_TRUE(fs::exists(k.cache_path));
}

TEST_F(jit_compile, Sm90aWithEmbeddedHeadersAndDefines) {
  const std::string src = R"(
#include "moga_test/scale.cuh"
#ifndef FACTOR
#error FACTOR must come from the defines
#endif
extern "C" __global__ void jit_test_scale(float* x) { x[threadIdx.x] = scale(x[threadIdx.x]); }
)";
  CompileOptions o;
  o.arch = "sm_90a";
  o.name = "jit_test_scale";
  o.defines = {"FACTOR=3.0f"};
  o.headers = {{"moga_test/scale.cuh", "__device__ inline float scale(float v) { return v * FACTOR; }\n"}};
  o.flags = {"--use_fast_math", "-lineinfo", "--ptxas-options=-O3"};
  const CompiledKernel k = compile(src, o);
  EXPECT_EQ(k.arch, "sm_90a");
  EXPECT_TRUE(contains(k.cubin, "jit_test_scale"));
  EXPECT_NE(k.cache_path.find("/sm_90a/jit_test_scale-"), std::string::npos) << k.cache_path;
}

// NVRTC 13 has no built-in <cuda_bf16.h>; cuda_include_dir() is how a kernel gets it.
TEST_F(jit_compile, ToolkitHeadersThroughCudaIncludeDir) {
  const std::string inc = cuda_include_dir();
  if (inc.empty()) GTEST_SKIP() << "no CUDA toolkit headers (cuda_bf16.h) found";
  CompileOptions o = saxpy_options();
  o.name = "jit_test_bf16";
  o.include_dirs = {inc};
  const CompiledKernel k = compile(R"(
#include <cuda_bf16.h>
extern "C" __global__ void jit_test_bf16(__nv_bfloat16* x) { x[threadIdx.x] = __hadd(x[threadIdx.x], x[0]); }
)", o);
  EXPECT_TRUE(contains(k.cubin, "jit_test_bf16"));
}

TEST_F(jit_compile, NameExpressionsInstantiateTemplatesAndSurviveTheCache) {
  const std::string src = R"(
namespace ns {
template <int N> __global__ void scale(float* x) { x[threadIdx.x] *= N; }
template <int N> __device__ const int twice = 2 * N;
}
)";
  CompileOptions o;
  o.arch = "sm_90";
  o.name = "jit_test_templates";
  o.name_expressions = {"ns::scale<3>", "ns::scale<5>", "&ns::twice<7>"};
  const CompiledKernel first = compile(src, o);
  const CompiledKernel second = compile(src, o);
  ASSERT_FALSE(first.cache_hit);
  ASSERT_TRUE(second.cache_hit);
  for (const CompiledKernel* k : {&first, &second}) {
    ASSERT_EQ(k->lowered.size(), 3u);
    // Mangled names of distinct instantiations, present in the cubin's symbol table.
    EXPECT_NE(k->symbol("ns::scale<3>"), k->symbol("ns::scale<5>"));
    for (const auto& [expr, sym] : k->lowered) {
      EXPECT_EQ(sym.rfind("_Z", 0), 0u) << expr << " -> " << sym;
      EXPECT_TRUE(contains(k->cubin, sym)) << sym;
    }
  }
  EXPECT_EQ(first.lowered, second.lowered);
  // A name that is no expression is returned as it is (extern "C" kernels).
  EXPECT_EQ(first.symbol("plain_name"), "plain_name");
}

TEST_F(jit_compile, RejectsAVirtualArch) {
  CompileOptions o = saxpy_options();
  o.arch = "compute_90";
  EXPECT_THROW(compile(kSaxpy, o), std::invalid_argument);
}

// ---------------------------------------------------------------------------------------------
// The cache.

TEST_F(jit_cache, SecondCompileIsACacheHitWithTheSameBytes) {
  const CompiledKernel first = compile(kSaxpy, saxpy_options());
  const CompiledKernel second = compile(kSaxpy, saxpy_options());
  EXPECT_FALSE(first.cache_hit);
  EXPECT_TRUE(second.cache_hit);
  EXPECT_EQ(first.cubin, second.cubin);
  EXPECT_EQ(first.cache_path, second.cache_path);

  // Readable name: <name>-<16 hex>.cubin beside its JSON record, in moga-<v>/nvrtc-<v>/<arch>/.
  const fs::path p(first.cache_path);
  EXPECT_EQ(p.parent_path().string(), cache_dir("sm_90"));
  EXPECT_EQ(p.filename().string(), fmt::format("jit_test_saxpy-{:016x}.cubin", first.hash));
  EXPECT_EQ(read_all(first.cache_path), std::string(first.cubin.begin(), first.cubin.end()));
  const auto rec = nlohmann::json::parse(read_all(p.parent_path() / p.stem().concat(".json")));
  EXPECT_EQ(rec["bytes"], first.cubin.size());
  EXPECT_EQ(rec["options"]["name"], "jit_test_saxpy");

  // A different source is a different entry.
  const CompiledKernel other = compile(kSaxpy + "\n// changed\n", saxpy_options());
  EXPECT_FALSE(other.cache_hit);
  EXPECT_NE(other.cache_path, first.cache_path);
}

// Damages the entry with `damage`, then expects the next compile to notice, rebuild and repair it.
void expect_rebuilt_after(const std::string& what, const std::function<void(const cache::Entry&)>& damage,
                          const CompileOptions& o) {
  SCOPED_TRACE(what);
  const CompiledKernel good = compile(kSaxpy, o);
  const cache::Entry e = cache::entry_for(fs::path(good.cache_path).parent_path().string(), o.name, good.hash);
  damage(e);
  std::string why;
  EXPECT_FALSE(cache::load(e, &why).has_value()) << "damage not detected";
  EXPECT_NE(why, "missing");

  const CompiledKernel rebuilt = compile(kSaxpy, o);
  EXPECT_FALSE(rebuilt.cache_hit) << "a damaged entry was loaded";
  EXPECT_EQ(rebuilt.cubin, good.cubin);
  EXPECT_TRUE(cache::load(e).has_value()) << "the entry was not repaired";
  EXPECT_TRUE(compile(kSaxpy, o).cache_hit);
}

TEST_F(jit_cache, CorruptEntriesAreDetectedAndRebuilt) {
  const CompileOptions o = saxpy_options();
  expect_rebuilt_after("flipped bytes", [](const cache::Entry& e) {
    std::string b = read_all(e.cubin_path);
    for (size_t i = b.size() / 2; i < b.size() / 2 + 8; ++i) b[i] = static_cast<char>(~b[i]);
    write_all(e.cubin_path, b);
  }, o);
  expect_rebuilt_after("truncated", [](const cache::Entry& e) {
    fs::resize_file(e.cubin_path, fs::file_size(e.cubin_path) / 3);
  }, o);
  expect_rebuilt_after("empty cubin", [](const cache::Entry& e) { write_all(e.cubin_path, ""); }, o);
  expect_rebuilt_after("garbage record", [](const cache::Entry& e) { write_all(e.record_path, "{not json"); }, o);
  expect_rebuilt_after("record gone", [](const cache::Entry& e) { fs::remove(e.record_path); }, o);
  expect_rebuilt_after("cubin gone", [](const cache::Entry& e) { fs::remove(e.cubin_path); }, o);
}

TEST_F(jit_cache, ConcurrentProcessesLeaveOneValidEntry) {
  constexpr int kProcs = 4;
  const CompileOptions o = saxpy_options();
  const std::string out = dir_ + "/results";
  fs::create_directories(out);
  int go[2];
  ASSERT_EQ(pipe(go), 0);
  std::fflush(nullptr);  // nothing buffered may be written twice
  std::vector<pid_t> kids;
  for (int i = 0; i < kProcs; ++i) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(go[1]);
      char c;
      (void)!read(go[0], &c, 1);  // returns when the parent closes the pipe: all start together
      int rc = 0;
      try {
        const CompiledKernel k = compile(kSaxpy, o);
        write_all(fmt::format("{}/{}.cubin", out, i), std::string(k.cubin.begin(), k.cubin.end()));
        write_all(fmt::format("{}/{}.hit", out, i), k.cache_hit ? "1" : "0");
      } catch (...) {
        rc = 3;
      }
      _exit(rc);  // not exit(): the child must not run gtest's or anyone's atexit handlers
    }
    kids.push_back(pid);
  }
  close(go[0]);
  close(go[1]);
  for (pid_t pid : kids) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child failed, status " << status;
  }

  int misses = 0;
  const std::string cubin0 = read_all(out + "/0.cubin");
  EXPECT_GT(cubin0.size(), 0u);
  for (int i = 0; i < kProcs; ++i) {
    EXPECT_EQ(read_all(fmt::format("{}/{}.cubin", out, i)), cubin0) << "process " << i;
    misses += read_all(fmt::format("{}/{}.hit", out, i)) == "0";
  }
  EXPECT_EQ(misses, 1) << "the lock must let exactly one process build";

  const uint64_t h = compile_hash(kSaxpy, o);
  const std::string stem = fmt::format("jit_test_saxpy-{:016x}", h);
  EXPECT_EQ(files_in(cache_dir("sm_90")),
            (std::vector<std::string>{stem + ".cubin", stem + ".json", stem + ".lock"}))
      << "exactly one entry, no temp files";
  EXPECT_TRUE(cache::load(cache::entry_for(cache_dir("sm_90"), o.name, h)).has_value());
}

// ---------------------------------------------------------------------------------------------
// Errors.

// Line 4 of this source holds the planted error.
const std::string kBroken =
    "#include \"moga_test/helper.cuh\"\n"
    "extern \"C\" __global__ void jit_test_broken(float* x) {\n"
    "  float v = helper(x[0]);\n"
    "  x[0] = v + undefined_identifier_xyz;\n"
    "}\n";

CompileOptions broken_options() {
  CompileOptions o;
  o.arch = "sm_90";
  o.name = "jit_test_broken";
  o.headers = {{"moga_test/helper.cuh", "__device__ inline float helper(float v) { return v + 1; }\n"}};
  return o;
}

TEST_F(jit_error, CompileErrorReportsLineSourceAndRepro) {
  try {
    compile(kBroken, broken_options());
    FAIL() << "expected CompileError";
  } catch (const CompileError& e) {
    const std::string what = e.what();
    EXPECT_NE(e.log().find("jit_test_broken.cu(4): error"), std::string::npos) << e.log();
    EXPECT_NE(e.log().find("undefined_identifier_xyz"), std::string::npos) << e.log();
    EXPECT_NE(what.find(e.log()), std::string::npos);
    EXPECT_NE(what.find("Repro command: nvcc -cubin -arch=sm_90 -std=c++17"), std::string::npos) << what;
    EXPECT_NE(what.find(e.source_path()), std::string::npos);
    EXPECT_EQ(fs::path(e.source_path()).parent_path().string(), cache_dir("sm_90") + "/failed");
    EXPECT_EQ(read_all(e.source_path()), kBroken);
    const std::string header = fs::path(e.source_path()).replace_extension(".include").string() +
                               "/moga_test/helper.cuh";
    EXPECT_EQ(read_all(header), broken_options().headers[0].contents) << "embedded header not saved";
  }
  // Nothing was cached.
  EXPECT_TRUE(!fs::exists(cache_dir("sm_90")) ||
              files_in(cache_dir("sm_90")) ==
                  std::vector<std::string>({"failed", fmt::format("jit_test_broken-{:016x}.lock",
                                                                  compile_hash(kBroken, broken_options()))}));
}

// compile_all: independent programs on a thread pool, results in job order; every job runs even when
// one fails, and the failure is rethrown (a CompileError, with its log) after the others are cached.
TEST_F(jit_compile, CompileAllKeepsJobOrderAndRethrowsAfterTheRest) {
  std::vector<std::string> sources;
  std::vector<CompileJob> jobs;
  for (int i = 0; i < 3; ++i)
    sources.push_back(fmt::format("extern \"C\" __global__ void jit_test_all_{}(float* x) {{ x[0] = {}; }}\n", i, i));
  for (int i = 0; i < 3; ++i) {
    CompileOptions o;
    o.arch = "sm_90";
    o.name = fmt::format("jit_test_all_{}", i);
    jobs.push_back({&sources[i], o});
  }
  const std::vector<CompiledKernel> ks = compile_all(jobs, 3);
  ASSERT_EQ(ks.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(contains(ks[i].cubin, fmt::format("jit_test_all_{}", i))) << i;
    EXPECT_FALSE(contains(ks[i].cubin, fmt::format("jit_test_all_{}", (i + 1) % 3))) << i;
    EXPECT_FALSE(ks[i].cache_hit);
    EXPECT_GT(ks[i].ms, 0.0);
  }
  for (const CompiledKernel& k : compile_all(jobs)) EXPECT_TRUE(k.cache_hit);

  std::vector<CompileJob> mixed = {{&kBroken, broken_options()}, jobs[0]};
  const std::string fresh = "extern \"C\" __global__ void jit_test_all_fresh(float* x) { x[1] = 2; }\n";
  mixed.push_back({&fresh, jobs[1].options});
  try {
    compile_all(mixed, 2);
    FAIL() << "expected CompileError";
  } catch (const CompileError& e) {
    EXPECT_NE(e.log().find("undefined_identifier_xyz"), std::string::npos) << e.log();
  }
  EXPECT_TRUE(compile(fresh, jobs[1].options).cache_hit) << "the job after the failing one still ran";
}

TEST_F(jit_error, BadOptionIsACompileError) {
  CompileOptions o = saxpy_options();
  o.flags = {"-O3"};  // NVRTC's own option set has no -O3
  try {
    compile(kSaxpy, o);
    FAIL() << "expected CompileError";
  } catch (const CompileError& e) {
    EXPECT_NE(std::string(e.what()).find("NVRTC_ERROR_INVALID_OPTION"), std::string::npos) << e.what();
    EXPECT_NE(e.log().find("-O3"), std::string::npos) << e.log();
  }
}

// The repro command must reproduce the failure (the same error on the same line), not fail for
// another reason such as a missing embedded header.
TEST_F(jit_error, ReproCommandReproduces) {
  const std::string nvcc = "/usr/local/cuda/bin/nvcc";
  if (!fs::exists(nvcc)) GTEST_SKIP() << "no nvcc at " << nvcc << ": cannot run the repro command";
  // nvcc needs a host compiler even for -cubin: check it can build a correct file first.
  const std::string ok_cu = dir_ + "/ok.cu";
  write_all(ok_cu, kSaxpy);
  if (std::system((nvcc + " -cubin -arch=sm_90 " + ok_cu + " -o " + dir_ + "/ok.cubin >/dev/null 2>&1").c_str()) != 0)
    GTEST_SKIP() << "nvcc cannot compile a correct file here (no host compiler?)";
  std::string repro;
  try {
    compile(kBroken, broken_options());
    FAIL() << "expected CompileError";
  } catch (const CompileError& e) {
    repro = e.repro_command();
  }
  ASSERT_EQ(repro.rfind("nvcc ", 0), 0u);
  const std::string cmd = nvcc + repro.substr(4) + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string output;
  char buf[512];
  while (size_t n = fread(buf, 1, sizeof buf, p)) output.append(buf, n);
  const int status = pclose(p);
  EXPECT_NE(status, 0) << "nvcc accepted the broken source:\n" << output;
  EXPECT_NE(output.find("(4): error"), std::string::npos) << cmd << "\n" << output;
  EXPECT_NE(output.find("undefined_identifier_xyz"), std::string::npos) << output;
}

TEST(jit_check, MacrosNameTheCallFileAndError) {
  try {
    NVRTC_CHECK(nvrtcCreateProgram(nullptr, "", "x.cu", 0, nullptr, nullptr));
    FAIL() << "expected NvrtcError";
  } catch (const NvrtcError& e) {
    const std::string w = e.what();
    EXPECT_NE(w.find("nvrtcCreateProgram(nullptr"), std::string::npos) << w;
    EXPECT_NE(w.find("jit_test.cpp:"), std::string::npos) << w;
    EXPECT_NE(w.find("NVRTC_ERROR_INVALID_PROGRAM"), std::string::npos) << w;
    EXPECT_EQ(e.code(), NVRTC_ERROR_INVALID_PROGRAM);
  }
  try {
    CU_CHECK(CUDA_ERROR_INVALID_VALUE);
    FAIL() << "expected CudaError";
  } catch (const CudaError& e) {
    const std::string w = e.what();
    EXPECT_NE(w.find("CUDA_ERROR_INVALID_VALUE failed at"), std::string::npos) << w;
    EXPECT_NE(w.find("jit_test.cpp:"), std::string::npos) << w;
    EXPECT_EQ(e.code(), CUDA_ERROR_INVALID_VALUE);
  }
}

TEST(jit_driver, NoDeviceIsACleanFalseNotACrash) {
  std::string why;
  if (device_available(&why)) GTEST_SKIP() << "a device is present; the no-device path is not testable here";
  EXPECT_FALSE(why.empty());
  try {
    Device::get();
    FAIL() << "expected an exception";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("no CUDA device: ", 0), 0u) << e.what();
  }
}

}  // namespace
