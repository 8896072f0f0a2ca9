// The process and NCCL side of sequence parallelism, on a machine without a GPU (runtime/parallel/
// nccl_comm.h, launch.h; `moga run --gpus N`): the NCCL loader's clean refusal, the unique id's text
// form, the ranks' environment (NVLink multicast off, device rotation), and every argument error of
// --gpus, through run_dit and through the CLI. The 2-GPU run itself is in docs/distributed.md ("Not
// run yet").
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/jit/module.h"
#include "runtime/model/run.h"
#include "runtime/parallel/launch.h"
#include "runtime/parallel/nccl_comm.h"
#include "runtime/parallel/sharding.h"

namespace moga::parallel {
namespace {

// The child role of the launcher tests below: Ranks::start re-runs this binary with MOGA_RANK set; with
// MOGA_SP_TEST_DIR set too, the child writes its view of the environment and leaves before GoogleTest
// starts (exit status 3 for the rank named by MOGA_SP_TEST_FAIL; MOGA_SP_TEST_SLEEP: sleeps first).
const bool kLauncherChild = [] {
  const char* dir = std::getenv("MOGA_SP_TEST_DIR");
  const char* rank = std::getenv("MOGA_RANK");
  if (!dir || !rank) return false;
  if (std::getenv("MOGA_SP_TEST_SLEEP")) ::sleep(30);
  std::ofstream f(std::string(dir) + "/rank" + rank + ".txt");
  for (const char* k : {"MOGA_RANK", "MOGA_WORLD", "MOGA_NCCL_ID", "NCCL_NVLS_ENABLE", "CUDA_VISIBLE_DEVICES"}) {
    const char* v = std::getenv(k);
    f << k << "=" << (v ? v : "<unset>") << "\n";
  }
  char c;
  f << "stdin=" << (::read(0, &c, 1) == 0 ? "empty" : "not empty") << "\n";
  f.close();
  const char* fail = std::getenv("MOGA_SP_TEST_FAIL");
  std::_Exit(fail && std::string(fail) == rank ? 3 : 0);
}();

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// ---- NCCL loader ----------------------------------------------------------------------------------------

TEST(ParallelNccl, CleanRefusalWithoutGpu) {
  if (jit::device_available()) GTEST_SKIP() << "a CUDA device is present: this test is for machines without one";
  std::string why;
  EXPECT_EQ(try_nccl(&why), nullptr);
  EXPECT_EQ(why.rfind("NCCL not available: ", 0), 0u) << why;
  try {
    (void)nccl();
    FAIL() << "nccl() did not throw";
  } catch (const NcclError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("NCCL not available: ", 0), 0u) << e.what();
  }
  // No communicator, no unique id: the same clean error, never a crash.
  EXPECT_THROW(new_unique_id(), NcclError);
  EXPECT_THROW(Communicator(0, 2, UniqueId{}), NcclError);
  // Loading NCCL turned NVLink multicast off for this process.
  ASSERT_NE(std::getenv("NCCL_NVLS_ENABLE"), nullptr);
  EXPECT_STREQ(std::getenv("NCCL_NVLS_ENABLE"), "0");
}

TEST(ParallelNccl, VersionWhenTheLibraryLoads) {
  try {
    const std::string v = nccl_version();
    EXPECT_EQ(v.rfind("2.", 0), 0u) << v;
    std::printf("NCCL library: %s\n", v.c_str());
  } catch (const NcclError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("NCCL not available: cannot load", 0), 0u) << e.what();
  }
}

TEST(ParallelNcclDeathTest, MissingLibraryNamesItAndTheOverride) {
  // A fresh process (the loader runs once per process): MOGA_NCCL_LIBRARY pointing nowhere.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        ::setenv("MOGA_NCCL_LIBRARY", "/nonexistent/libnccl.so.2", 1);
        std::string why;
        const bool ok = try_nccl(&why) != nullptr;
        std::fprintf(stderr, "%s\n", why.c_str());
        std::exit(ok ? 3 : 0);
      },
      ::testing::ExitedWithCode(0), "NCCL not available: cannot load libnccl.so.2 \\(.*nonexistent.*MOGA_NCCL_LIBRARY");
}

TEST(ParallelNccl, UniqueIdHex) {
  UniqueId id{};
  for (size_t i = 0; i < id.size(); ++i) id[i] = (unsigned char)(i * 37 + 11);
  const std::string hex = unique_id_to_hex(id);
  EXPECT_EQ(hex.size(), 256u);
  EXPECT_EQ(hex.substr(0, 4), "0b30");
  EXPECT_EQ(unique_id_from_hex(hex), id);
  std::string upper = hex;
  for (auto& c : upper) c = (char)std::toupper(c);
  EXPECT_EQ(unique_id_from_hex(upper), id);
  EXPECT_THROW(unique_id_from_hex(hex.substr(1)), std::invalid_argument);
  std::string bad = hex;
  bad[17] = 'g';
  try {
    unique_id_from_hex(bad);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_TRUE(has(e.what(), "position 17")) << e.what();
  }
}

// ---- ranks ----------------------------------------------------------------------------------------------

struct EnvGuard {
  std::vector<std::pair<std::string, std::string>> saved;
  std::vector<std::string> unset;
  void set(const char* k, const char* v) {
    if (const char* o = std::getenv(k)) saved.push_back({k, o});
    else unset.push_back(k);
    if (v) ::setenv(k, v, 1);
    else ::unsetenv(k);
  }
  ~EnvGuard() {
    for (auto& [k, v] : saved) ::setenv(k.c_str(), v.c_str(), 1);
    for (auto& k : unset) ::unsetenv(k.c_str());
  }
};

TEST(ParallelLaunch, RankFromEnv) {
  {
    EnvGuard g;
    g.set("MOGA_RANK", nullptr);
    g.set("MOGA_WORLD", nullptr);
    g.set("MOGA_NCCL_ID", nullptr);
    EXPECT_FALSE(rank_from_env().present);
  }
  {
    EnvGuard g;
    g.set("MOGA_RANK", "1");
    g.set("MOGA_WORLD", "2");
    g.set("MOGA_NCCL_ID", "ab");
    const RankEnv e = rank_from_env();
    EXPECT_TRUE(e.present);
    EXPECT_EQ(e.rank, 1);
    EXPECT_EQ(e.world, 2);
    EXPECT_EQ(e.id_hex, "ab");
  }
  auto bad = [](const char* r, const char* w, const char* id, const char* part) {
    EnvGuard g;
    g.set("MOGA_RANK", r);
    g.set("MOGA_WORLD", w);
    g.set("MOGA_NCCL_ID", id);
    try {
      rank_from_env();
      ADD_FAILURE() << "accepted " << (r ? r : "-") << " " << (w ? w : "-");
    } catch (const std::invalid_argument& e) {
      EXPECT_TRUE(has(e.what(), part)) << e.what();
    }
  };
  bad("2", "2", "ab", "outside 0 .. MOGA_WORLD-1");
  bad("x", "2", "ab", "MOGA_RANK='x'");
  bad("0", nullptr, "ab", "MOGA_WORLD");
  bad("0", "2", nullptr, "MOGA_NCCL_ID is not set");
  bad(nullptr, "2", "ab", "without MOGA_RANK");
}

TEST(ParallelLaunch, DeviceRotationKeepsEveryGpuVisible) {
  EXPECT_EQ(rotated_devices("", 2, 0), "0,1");
  EXPECT_EQ(rotated_devices("", 2, 1), "1,0");
  EXPECT_EQ(rotated_devices("", 4, 3), "3,0,1,2");
  EXPECT_EQ(rotated_devices("2,3,5", 8, 1), "3,5,2");
  EXPECT_EQ(rotated_devices("GPU-aa,GPU-bb", 2, 1), "GPU-bb,GPU-aa");
  EXPECT_THROW(rotated_devices("0", 8, 1), std::invalid_argument);
  EXPECT_THROW(rotated_devices("", 0, 0), std::invalid_argument);
}

TEST(ParallelLaunch, ChildEnvironment) {
  const std::vector<std::string> parent = {"PATH=/usr/bin", "NCCL_NVLS_ENABLE=1", "CUDA_VISIBLE_DEVICES=4,5",
                                           "MOGA_RANK=7", "HOME=/root"};
  const std::vector<std::string> env = child_environment(parent, 1, 2, "00ff", 8);
  auto count = [&](const std::string& key) {
    int n = 0;
    for (const auto& kv : env) n += kv.rfind(key + "=", 0) == 0;
    return n;
  };
  auto value = [&](const std::string& key) {
    for (const auto& kv : env)
      if (kv.rfind(key + "=", 0) == 0) return kv.substr(key.size() + 1);
    return std::string("<unset>");
  };
  for (const char* k : {"MOGA_RANK", "MOGA_WORLD", "MOGA_NCCL_ID", "NCCL_NVLS_ENABLE", "CUDA_VISIBLE_DEVICES", "PATH", "HOME"})
    EXPECT_EQ(count(k), 1) << k;
  EXPECT_EQ(value("MOGA_RANK"), "1");
  EXPECT_EQ(value("MOGA_WORLD"), "2");
  EXPECT_EQ(value("MOGA_NCCL_ID"), "00ff");
  EXPECT_EQ(value("NCCL_NVLS_ENABLE"), "0");  // NVLink multicast off, whatever the parent had
  EXPECT_EQ(value("CUDA_VISIBLE_DEVICES"), "5,4");
  EXPECT_EQ(value("PATH"), "/usr/bin");
}

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

TEST(ParallelLaunch, StartsRanksWithTheirEnvironment) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("moga_ranks_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  EnvGuard g;
  g.set("MOGA_SP_TEST_DIR", dir.c_str());
  g.set("CUDA_VISIBLE_DEVICES", nullptr);
  g.set("NCCL_NVLS_ENABLE", "1");
  auto ranks = Ranks::start(3, "c0ffee", 4, "sp-test");
  ASSERT_EQ(ranks->pids().size(), 2u);
  ranks->wait();
  for (int r = 1; r < 3; ++r) {
    const std::string t = slurp((dir / ("rank" + std::to_string(r) + ".txt")).string());
    EXPECT_TRUE(has(t, "MOGA_RANK=" + std::to_string(r) + "\n")) << t;
    EXPECT_TRUE(has(t, "MOGA_WORLD=3\n")) << t;
    EXPECT_TRUE(has(t, "MOGA_NCCL_ID=c0ffee\n")) << t;
    EXPECT_TRUE(has(t, "NCCL_NVLS_ENABLE=0\n")) << t;
    EXPECT_TRUE(has(t, std::string("CUDA_VISIBLE_DEVICES=") + (r == 1 ? "1,2,3,0" : "2,3,0,1") + "\n")) << t;
    EXPECT_TRUE(has(t, "stdin=empty")) << t;
  }
  fs::remove_all(dir);
}

TEST(ParallelLaunch, KilledRanksAreReported) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("moga_ranks_k_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  EnvGuard g;
  g.set("MOGA_SP_TEST_DIR", dir.c_str());
  g.set("MOGA_SP_TEST_SLEEP", "1");
  auto ranks = Ranks::start(2, "00", 2, "sp-test");
  ranks->kill_all();  // as rank 0 does when it fails itself
  try {
    ranks->wait();
    FAIL() << "a killed rank was not reported";
  } catch (const std::runtime_error& e) {
    EXPECT_TRUE(has(e.what(), "sp-test: rank 1 (pid") && has(e.what(), "killed by signal 15")) << e.what();
  }
  fs::remove_all(dir);
}

TEST(ParallelLaunchDeathTest, WatchdogStopsEverythingWhenARankFails) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        ::setenv("MOGA_SP_TEST_DIR", "/nonexistent-moga-sp-test", 1);  // the children write nothing
        ::setenv("MOGA_SP_TEST_FAIL", "2", 1);
        auto ranks = Ranks::start(3, "00", 3, "sp-test");
        ::sleep(20);  // rank 0 "blocked in a collective": the watchdog must end the process
        std::exit(0);
      },
      ::testing::ExitedWithCode(1), "sp-test: rank 2 \\(pid [0-9]+\\) failed \\(exit status 3\\); stopping the other ranks");
}

TEST(ParallelLaunch, GpuCountMessages) {
  EXPECT_NO_THROW(check_gpu_count(2, 2));
  auto msg = [](int req, int avail, const std::string& why) {
    try {
      check_gpu_count(req, avail, why);
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("<no error>");
  };
  EXPECT_EQ(msg(2, 1, ""), "--gpus 2: only 1 CUDA device is visible");
  EXPECT_EQ(msg(4, 2, ""), "--gpus 4: only 2 CUDA devices are visible");
  EXPECT_EQ(msg(2, -1, "cannot load the CUDA driver"), "--gpus 2: no CUDA device: cannot load the CUDA driver");
  EXPECT_TRUE(has(msg(0, 2, ""), "at least 1"));
}

// ---- moga run --gpus ------------------------------------------------------------------------------------

std::string run_error(model::RunOptions o) {
  std::ostringstream out, err;
  try {
    model::run_dit(o, out, err);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "<no error>";
}

TEST(ParallelRun, ArgumentErrors) {
  model::RunOptions o;
  o.config = "tiny";  // 2 heads
  o.progress = false;
  o.gpus = 3;
  // 3 GPUs need a ring of 3 (2 heads): a mixture with a dense branch runs neither as ring steps (one kernel)
  // nor as the gather (a block map in every kernel)
  ref::PatternSpec dense_branch = model::embedded_pattern("moga");
  dense_branch.kernels[1].key.reset();
  dense_branch.kernels[1].mask.reset();
  o.pattern = dense_branch;
  std::string m = run_error(o);
  EXPECT_TRUE(has(m, "2 attention heads over 3 GPUs") && has(m, "ring of 3") && has(m, "is dense") &&
              has(m, "use 1, 2 GPUs for 'moga'"))
      << m;
  o.pattern.reset();
  if (!jit::device_available())  // `full` (ring steps) and `moga` (the gather) run on 3 GPUs: the next check is the device
    for (const char* p : {"full", "moga"}) {
      o.attention = p;
      m = run_error(o);
      EXPECT_EQ(m.rfind("--gpus 3: no CUDA device: ", 0), 0u) << p << ": " << m;
    }
  o.attention = "full";
  o.gpus = 2;
  o.backend = "cpu";
  m = run_error(o);
  EXPECT_TRUE(has(m, "--gpus 2") && has(m, "--backend cpu")) << m;
  o.backend = "auto";
  o.frames = 1, o.height = 2, o.width = 2;  // one token for two GPUs
  m = run_error(o);
  EXPECT_TRUE(has(m, "1 tokens over 2 GPUs")) << m;
  o.frames = o.height = o.width = 0;
  o.gpus = 0;
  m = run_error(o);
  EXPECT_TRUE(has(m, "--gpus 0")) << m;
  o.gpus = 2;
  if (!jit::device_available()) {
    m = run_error(o);
    EXPECT_EQ(m.rfind("--gpus 2: no CUDA device: ", 0), 0u) << m;
    o.gpus = 64;
    o.config = "wan-1.3b";  // 12 heads: the heads are checked before the devices
    o.pattern = dense_branch;
    m = run_error(o);
    EXPECT_TRUE(has(m, "12 attention heads over 64 GPUs") && has(m, "groups of 4 and a ring of 16")) << m;
    o.pattern.reset();
  }
  // A rank started with a world that does not match --gpus.
  {
    EnvGuard g;
    g.set("MOGA_RANK", "1");
    g.set("MOGA_WORLD", "4");
    g.set("MOGA_NCCL_ID", "00");
    o.config = "tiny";
    o.gpus = 2;
    m = run_error(o);
    EXPECT_TRUE(has(m, "MOGA_WORLD=4") && has(m, "--gpus 2")) << m;
  }
  // --gpus 1 is the single-GPU (or CPU) run as before.
  o.gpus = 1;
  o.backend = "cpu";
  o.steps = 1;
  EXPECT_EQ(run_error(o), "<no error>");
}

TEST(ParallelRun, CliGpusErrors) {
  namespace fs = std::filesystem;
  std::string moga = (fs::path(::testing::internal::GetArgvs()[0]).parent_path() / "moga").string();
  if (const char* bin = std::getenv("MOGA_BINARY_DIR"); bin && !fs::exists(moga)) moga = std::string(bin) + "/bin/moga";
  if (!fs::exists(moga)) GTEST_SKIP() << "no moga binary at " << moga;
  const std::string log = (fs::temp_directory_path() / ("moga_gpus_" + std::to_string(::getpid()) + ".log")).string();
  auto run = [&](const std::string& args) {
    const int rc = std::system((moga + " run --no-progress " + args + " > " + log + " 2>&1").c_str());
    std::ifstream f(log);
    std::stringstream ss;
    ss << f.rdbuf();
    return std::make_pair(rc, ss.str());
  };
  // a pattern file whose mixture has a dense branch: neither ring steps nor the gather run it on 3 GPUs of 2 heads
  const std::string dense_mix = (fs::temp_directory_path() / ("moga_dense_mix_" + std::to_string(::getpid()) + ".moga")).string();
  std::ofstream(dense_mix) << "pattern dense_mix\nlayout video\nparam M = 4\nbranch routed {\n  route linear(M) top 1\n  group route\n"
                              "  gate route.prob\n}\nbranch local {\n  mask abs(q.frame - kv.frame) <= 1\n}\n"
                              "branch everything {\n  mask true\n}\noutput mean(routed, local, everything)\n";
  auto [rc, text] = run("--config tiny --attention " + dense_mix + " --gpus 3");
  EXPECT_NE(rc, 0);
  EXPECT_TRUE(has(text, "moga: error:") && has(text, "2 attention heads over 3 GPUs")) << text;
  std::remove(dense_mix.c_str());
  std::tie(rc, text) = run("--config tiny --gpus 2 --backend cpu");
  EXPECT_NE(rc, 0);
  EXPECT_TRUE(has(text, "--backend cpu")) << text;
  if (!jit::device_available()) {
    std::tie(rc, text) = run("--config tiny --gpus 2");
    EXPECT_NE(rc, 0);
    EXPECT_TRUE(has(text, "--gpus 2: no CUDA device")) << text;
  }
  std::remove(log.c_str());
}

}  // namespace
}  // namespace moga::parallel
