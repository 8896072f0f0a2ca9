// runtime/tune/tuner.h without a GPU: a fake runner (configurable compile failures, trial failures,
// an abort after K trials, a fake timer) drives tune() and best_config(): skip what is known,
// per-config invalidation, version invalidation, resume after an interrupt, failed configs recorded
// and skipped, parallel compiles before any timing, two processes at once, and the progress output.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "runtime/tune/tuner.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace moga::tune;

namespace {

json manifest(const std::vector<int>& stages = {2, 3}) {
  json m = json::parse(R"({
    "pattern": "moga", "layout": "seq",
    "kernels": [
      {"name": "stga", "weight": 1.0, "accumulate": false, "route": null, "structure": "masked",
       "tiles": {"block_m": 128, "block_n": 64, "warps": 4, "stages": 2, "head_dim": 128},
       "tunable": {"block_m": [64, 128], "block_n": [32, 64, 128], "warps": [4, 8], "stages": [2, 3]},
       "mask": {"args": ["q", "kv"], "ops": [{"op": "const", "type": "i1", "value": 1}], "result": 0}}]})");
  m["kernels"][0]["tunable"]["stages"] = stages;
  return m;
}

// A deterministic "time" per config: smaller for bm128_bn128_w8_s3 (the planted best).
double fake_ms(const Config& c) {
  double ms = 1.0 + 0.001 * c.block_m + 0.002 * c.block_n + 0.01 * c.warps + 0.05 * c.stages;
  if (c == Config{128, 128, 8, 3}) ms = 0.25;
  return ms;
}

class FakeRunner : public TrialRunner {
 public:
  std::set<std::string> compile_fail, time_fail, time_fatal;
  int abort_after = -1;                // throw a plain exception on trial number abort_after (0-based)
  int regs = 128;
  std::chrono::milliseconds compile_sleep{0};

  std::atomic<int> compiles{0}, active{0}, max_active{0};
  std::vector<std::string> timed;      // in order
  bool timed_before_all_compiled = false;
  size_t expected_compiles = 0;

  CompileResult compile(const Config& c) override {
    const int now = ++active;
    int m = max_active.load();
    while (now > m && !max_active.compare_exchange_weak(m, now)) {}
    std::this_thread::sleep_for(compile_sleep);
    --active;
    ++compiles;
    if (compile_fail.count(c.id())) return {false, "NVRTC: error: too many resources requested"};
    return {true, "", regs, 0};
  }
  Timing time(const Config& c) override {
    std::lock_guard<std::mutex> g(mu_);
    if (static_cast<size_t>(compiles.load()) < expected_compiles) timed_before_all_compiled = true;
    if (abort_after >= 0 && static_cast<int>(timed.size()) == abort_after)
      throw std::runtime_error("interrupted (simulated Ctrl-C / device lost)");
    timed.push_back(c.id());
    std::this_thread::sleep_for(time_sleep);
    if (time_fail.count(c.id())) throw TrialError("launch: CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES");
    if (time_fatal.count(c.id())) throw TrialError("CUDA_ERROR_ILLEGAL_ADDRESS", /*fatal=*/true);
    Timing t;
    t.median_ms = fake_ms(c);
    t.min_ms = t.median_ms * 0.95;
    t.max_ms = t.median_ms * 1.2;
    t.runs = 10;
    t.flops = 1e12;
    return t;
  }
  std::string device() const override { return "fake GPU"; }
  std::string exclusive_resource() override { return resource; }
  std::string resource;
  std::chrono::milliseconds time_sleep{0};

 private:
  std::mutex mu_;
};

class TuneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/moga-tune-tuner-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    opt_.versions = {"0.1.0", "13.0", "13.0", "0000000000000001"};
    opt_.on_warning = [this](const std::string& w) { warnings_.push_back(w); };
    opt_.jobs = 4;
    // sm80.mma's product alone (the wgmma rows are an sm_90's; TuneSpace covers the registry's space)
    opt_.limits.arch = "sm_80";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  TuneReport run(FakeRunner& r, const json& m = manifest(), const Shape& s = Shape::seq(1, 4000, 16, 128)) {
    TuneDb db(dir_ + "/tune");
    Progress quiet(nullptr, false);
    return tune(kernel_info(m, "stga"), s, r, db, quiet, opt_);
  }
  TuneDb db() { return TuneDb(dir_ + "/tune"); }
  std::string dir_;
  TuneOptions opt_;
  std::vector<std::string> warnings_;
};

}  // namespace

TEST_F(TuneTest, MeasuresTheSpaceOnceThenNeverAgain) {
  FakeRunner r;
  const TuneReport rep = run(r);
  EXPECT_EQ(rep.space.kept.size(), 18u);
  EXPECT_EQ(rep.measured, 18u);
  EXPECT_EQ(r.timed.size(), 18u);
  EXPECT_EQ(rep.trials.size(), 18u);
  ASSERT_TRUE(rep.best);
  EXPECT_EQ(rep.best->config, (Config{128, 128, 8, 3}));
  EXPECT_EQ(rep.best->result.ms, 0.25);
  EXPECT_EQ(rep.best->result.device, "fake GPU");
  EXPECT_EQ(rep.best->result.regs, 128);
  const Loaded l = db().load(rep.key);
  ASSERT_EQ(l.state, Loaded::State::Valid);
  EXPECT_EQ(l.results.size(), 18u);

  FakeRunner again;
  const TuneReport rep2 = run(again);
  EXPECT_EQ(again.compiles, 0);
  EXPECT_TRUE(again.timed.empty());
  EXPECT_EQ(rep2.measured, 0u);
  EXPECT_EQ(rep2.skipped_known, 18u);
  ASSERT_TRUE(rep2.best);
  EXPECT_EQ(rep2.best->config, rep.best->config);
  EXPECT_FALSE(rep2.best->measured_now);
  // Another N in the same bucket reuses the results (lengths are runtime arguments).
  FakeRunner same_bucket;
  run(same_bucket, manifest(), Shape::seq(1, 3000, 16, 128));
  EXPECT_TRUE(same_bucket.timed.empty());
}

TEST_F(TuneTest, AddingAConfigTunesOnlyThatConfig) {
  FakeRunner r;
  run(r);
  FakeRunner r2;
  const TuneReport rep = run(r2, manifest({2, 3, 4}));  // stages 4 added to the tunable list
  // New configs: stages 4 for every kept (BM, BN, warps) that still fits in shared memory.
  std::set<std::string> expect;
  for (const Config& c : rep.space.kept)
    if (c.stages == 4) expect.insert(c.id());
  ASSERT_FALSE(expect.empty());
  EXPECT_EQ(std::set<std::string>(r2.timed.begin(), r2.timed.end()), expect);
  EXPECT_EQ(static_cast<size_t>(r2.compiles), expect.size());
  EXPECT_EQ(rep.skipped_known, 18u);
  // Asking for one config explicitly: measured only if unknown.
  FakeRunner r3;
  opt_.only = {"bm128_bn64_w4_s2"};
  run(r3, manifest({2, 3, 4}));
  EXPECT_TRUE(r3.timed.empty());
  opt_.force = true;
  run(r3, manifest({2, 3, 4}));
  EXPECT_EQ(r3.timed, std::vector<std::string>{"bm128_bn64_w4_s2"});
}

TEST_F(TuneTest, ChangingAVersionOrThePatternInvalidatesEverything) {
  FakeRunner r;
  run(r);
  opt_.versions.moga = "0.2.0";  // a new tool version
  FakeRunner r2;
  run(r2);
  EXPECT_EQ(r2.timed.size(), 18u);
  opt_.versions.moga = "0.1.0";
  opt_.versions.templates = "0000000000000002";  // an edited kernel template
  FakeRunner r3;
  run(r3);
  EXPECT_EQ(r3.timed.size(), 18u);
  opt_.versions.templates = "0000000000000001";
  json m = manifest();
  m["kernels"][0]["mask"]["ops"][0]["value"] = 0;  // the kernel computes something else
  FakeRunner r4;
  run(r4, m);
  EXPECT_EQ(r4.timed.size(), 18u);
  FakeRunner r5;  // and the first toolchain's results are still there
  run(r5);
  EXPECT_TRUE(r5.timed.empty());
}

TEST_F(TuneTest, ResumesAfterAnInterrupt) {
  FakeRunner r;
  r.abort_after = 5;
  EXPECT_THROW(run(r), std::runtime_error);
  ASSERT_EQ(r.timed.size(), 5u);
  TuneDb d = db();
  const DbKey key = make_key(kernel_info(manifest(), "stga"), Shape::seq(1, 4000, 16, 128),
                             opt_.limits, opt_.versions);
  const Loaded partial = d.load(key);
  ASSERT_EQ(partial.state, Loaded::State::Valid);
  EXPECT_EQ(partial.results.size(), 5u);  // every finished trial was saved at once
  for (const std::string& id : r.timed) EXPECT_TRUE(partial.results.count(id)) << id;

  FakeRunner r2;
  const TuneReport rep = run(r2);
  EXPECT_EQ(r2.timed.size(), 13u);  // only the rest
  for (const std::string& id : r2.timed) EXPECT_FALSE(partial.results.count(id)) << id;
  EXPECT_EQ(rep.trials.size(), 18u);
  EXPECT_EQ(rep.best->config, (Config{128, 128, 8, 3}));
}

TEST_F(TuneTest, FailedConfigsAreRecordedAndSkipped) {
  FakeRunner r;
  r.compile_fail = {"bm64_bn32_w4_s2"};
  r.time_fail = {"bm128_bn128_w8_s3"};  // the planted best fails: it must not win
  const TuneReport rep = run(r);
  EXPECT_EQ(rep.failed_now, 2u);
  EXPECT_EQ(r.timed.size(), 17u);  // the compile failure is never timed
  EXPECT_EQ(std::count(r.timed.begin(), r.timed.end(), "bm64_bn32_w4_s2"), 0);
  ASSERT_TRUE(rep.best);
  EXPECT_NE(rep.best->config, (Config{128, 128, 8, 3}));
  const Loaded l = db().load(rep.key);
  EXPECT_FALSE(l.results.at("bm64_bn32_w4_s2").ok());
  EXPECT_NE(l.results.at("bm64_bn32_w4_s2").note.find("NVRTC"), std::string::npos);
  EXPECT_NE(l.results.at("bm128_bn128_w8_s3").note.find("OUT_OF_RESOURCES"), std::string::npos);

  FakeRunner r2;  // not retried by default
  run(r2);
  EXPECT_EQ(r2.compiles, 0);
  opt_.retry_failed = true;  // unless asked
  FakeRunner r3;
  const TuneReport rep3 = run(r3);
  EXPECT_EQ(r3.compiles, 2);
  EXPECT_EQ(rep3.best->config, (Config{128, 128, 8, 3}));
}

TEST_F(TuneTest, ResourceLimitsFoundByTheCompileAreRecorded) {
  opt_.limits.regs_per_block = 32768;  // 8 warps x 200 registers do not fit
  FakeRunner r;
  r.regs = 200;
  const TuneReport rep = run(r);
  for (const Trial& t : rep.trials) {
    if (t.config.warps == 8) {
      EXPECT_FALSE(t.result.ok()) << t.config.id();
      EXPECT_NE(t.result.note.find("resources: registers 200 x 256"), std::string::npos) << t.result.note;
    } else {
      EXPECT_TRUE(t.result.ok()) << t.config.id();
    }
  }
  for (const std::string& id : r.timed) EXPECT_EQ(id.find("_w8_"), std::string::npos) << id;
}

TEST_F(TuneTest, AFatalTrialIsRecordedThenStops) {
  FakeRunner r;
  r.time_fatal = {"bm128_bn32_w4_s2"};
  EXPECT_THROW(run(r), TrialError);
  FakeRunner r2;
  const TuneReport rep = run(r2);
  EXPECT_EQ(std::count(r2.timed.begin(), r2.timed.end(), "bm128_bn32_w4_s2"), 0);
  EXPECT_EQ(rep.trials.size(), 18u);
  const Loaded l = db().load(rep.key);
  EXPECT_NE(l.results.at("bm128_bn32_w4_s2").note.find("ILLEGAL_ADDRESS"), std::string::npos);
}

TEST_F(TuneTest, CompilesInParallelBeforeAnyTiming) {
  FakeRunner r;
  r.compile_sleep = std::chrono::milliseconds(30);
  r.expected_compiles = 18;
  opt_.jobs = 6;
  run(r);
  EXPECT_EQ(r.compiles, 18);
  EXPECT_GT(r.max_active.load(), 1);
  EXPECT_LE(r.max_active.load(), 6);
  EXPECT_FALSE(r.timed_before_all_compiled);
}

TEST_F(TuneTest, OnlyRejectsPrunedAndUnknownConfigs) {
  FakeRunner r;
  opt_.only = {"bm64_bn64_w8_s2"};
  try {
    run(r);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("16 * warps"), std::string::npos) << e.what();
  }
  opt_.only = {"bm256_bn64_w16_s2"};
  EXPECT_THROW(run(r), std::invalid_argument);
  opt_.only = {"junk"};
  EXPECT_THROW(run(r), std::invalid_argument);
}

TEST_F(TuneTest, ACorruptDatabaseFileIsRebuiltByTheNextTune) {
  FakeRunner r;
  const TuneReport rep = run(r);
  std::string text;
  {
    std::ifstream f(rep.db_path);
    text.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  }
  std::ofstream(rep.db_path, std::ios::trunc) << text.substr(0, text.size() / 3);  // truncated
  FakeRunner r2;
  const TuneReport rep2 = run(r2);
  EXPECT_EQ(r2.timed.size(), 18u);  // nothing of the damaged file was trusted
  EXPECT_FALSE(warnings_.empty());
  EXPECT_EQ(db().load(rep2.key).state, Loaded::State::Valid);
  EXPECT_EQ(db().load(rep2.key).results.size(), 18u);
}

// Two processes tune one kernel at once (fork). With the runner's device lock they take turns and
// split the work: every config measured exactly once. Without one they may both measure a config,
// but the database still ends valid and complete.
class TuneTwoProcesses : public TuneTest, public ::testing::WithParamInterface<bool> {};

TEST_P(TuneTwoProcesses, LeaveAValidCompleteDatabase) {
  const bool device_lock = GetParam();
  std::vector<pid_t> kids;
  for (int p = 0; p < 2; ++p) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      FakeRunner r;
      r.compile_sleep = std::chrono::milliseconds(5);
      r.time_sleep = std::chrono::milliseconds(10);
      if (device_lock) r.resource = "fake-gpu-0";
      TuneDb d(dir_ + "/tune");
      Progress quiet(nullptr, false);
      try {
        const TuneReport rep = tune(kernel_info(manifest(), "stga"), Shape::seq(1, 4000, 16, 128), r, d, quiet, opt_);
        _exit(static_cast<int>(rep.measured));
      } catch (...) {
        _exit(100);
      }
    }
    kids.push_back(pid);
  }
  int measured = 0;
  for (pid_t pid : kids) {
    int st = 0;
    waitpid(pid, &st, 0);
    ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) <= 18) << WEXITSTATUS(st);
    measured += WEXITSTATUS(st);
  }
  if (device_lock) EXPECT_EQ(measured, 18);  // no config measured twice
  EXPECT_GE(measured, 18);
  const DbKey key =
      make_key(kernel_info(manifest(), "stga"), Shape::seq(1, 4000, 16, 128), opt_.limits, opt_.versions);
  const Loaded l = db().load(key);
  ASSERT_EQ(l.state, Loaded::State::Valid) << l.why;
  EXPECT_EQ(l.results.size(), 18u);
  for (const auto& [id, res] : l.results) EXPECT_TRUE(res.ok()) << id;
  FakeRunner after;
  run(after);
  EXPECT_TRUE(after.timed.empty());
}
INSTANTIATE_TEST_SUITE_P(WithAndWithoutDeviceLock, TuneTwoProcesses, ::testing::Bool());

TEST_F(TuneTest, BestConfigTunedNearbyOrDefault) {
  const KernelInfo k = kernel_info(manifest(), "stga");
  TuneDb d = db();
  const DeviceLimits lim = opt_.limits;
  // Nothing tuned: the manifest's tiles.
  Choice c = best_config(k, Shape::seq(1, 4000, 16, 128), d, lim, opt_.versions);
  EXPECT_EQ(c.source, Source::Default);
  EXPECT_EQ(c.config, k.tiles);

  FakeRunner r;
  run(r);
  c = best_config(k, Shape::seq(1, 4000, 16, 128), d, lim, opt_.versions);
  EXPECT_EQ(c.source, Source::Tuned);
  EXPECT_EQ(c.config, (Config{128, 128, 8, 3}));
  // Another bucket of the same kernel and toolchain: the nearest tuned one.
  c = best_config(k, Shape::seq(1, 16384, 16, 128), d, lim, opt_.versions);
  EXPECT_EQ(c.source, Source::TunedNearby);
  EXPECT_EQ(c.config, (Config{128, 128, 8, 3}));
  EXPECT_NE(c.note.find("N4096-B1-H16-D128"), std::string::npos) << c.note;
  // Another head dim or toolchain: not used.
  EXPECT_EQ(best_config(k, Shape::seq(1, 4000, 16, 64), d, lim, opt_.versions).source, Source::Default);
  Versions v2 = opt_.versions;
  v2.nvrtc = "13.1";
  EXPECT_EQ(best_config(k, Shape::seq(1, 4000, 16, 128), d, lim, v2).source, Source::Default);
  // The tuned best is no longer in the space (the tunable list shrank): the best of what remains.
  json m = manifest();
  m["kernels"][0]["tunable"]["stages"] = {2};
  const Choice c2 = best_config(kernel_info(m, "stga"), Shape::seq(1, 4000, 16, 128), d, lim, opt_.versions);
  EXPECT_EQ(c2.source, Source::Tuned);
  EXPECT_EQ(c2.config.stages, 2);
  // A smaller device: the tuned best (229376 B of shared memory) is pruned, another is chosen.
  DeviceLimits small = lim;
  small.smem_optin_bytes = 99 * 1024;
  const Choice c3 = best_config(k, Shape::seq(1, 4000, 16, 128), d, small, opt_.versions);
  EXPECT_LE(attn_fwd_smem_bytes(128, c3.config), small.smem_optin_bytes);
}

// ---- progress ------------------------------------------------------------------------------------------

namespace {
struct Captured {
  std::FILE* f = std::tmpfile();
  ~Captured() { std::fclose(f); }
  std::string text() {
    std::fflush(f);
    std::rewind(f);
    std::string s;
    for (int c; (c = std::fgetc(f)) != EOF;) s += static_cast<char>(c);
    return s;
  }
};
}  // namespace

TEST(TuneProgress, NotATtyPrintsAFewLinesNotOnePerItem) {
  Captured out;
  double now = 0;
  Progress p(out.f, /*tty=*/false, [&] { return now; });
  p.begin("time moga.stga", 1000);
  for (int i = 0; i < 1000; ++i) {
    now += 0.5;
    p.step(fmt::format("cfg{}", i));
  }
  p.end();
  const std::string s = out.text();
  const size_t lines = std::count(s.begin(), s.end(), '\n');
  EXPECT_LE(lines, 12u) << s;
  EXPECT_GE(lines, 3u) << s;
  EXPECT_EQ(s.find('\r'), std::string::npos);
  EXPECT_EQ(s.find("\033"), std::string::npos);
  EXPECT_NE(s.find("time moga.stga: 100/1000 (10%), 50s elapsed, ETA 7m30s"), std::string::npos) << s;
  EXPECT_NE(s.find("1000/1000 done in 8m20s"), std::string::npos) << s;
}

TEST(TuneProgress, TtyRedrawsOneLineWithBarAndEta) {
  Captured out;
  double now = 0;
  Progress p(out.f, /*tty=*/true, [&] { return now; });
  p.begin("compile moga.stga", 4);
  now = 10;
  p.step("bm128_bn64_w4_s2");
  const std::string after_one = out.text();
  EXPECT_NE(after_one.find("1/4 ETA 30s bm128_bn64_w4_s2"), std::string::npos) << after_one;
  EXPECT_NE(after_one.find('\r'), std::string::npos);
  now = 10.01;  // redraws are rate-limited: this step draws nothing
  p.step("b");
  EXPECT_EQ(out.text(), after_one);
  p.note("warning: something");  // clears the bar, prints, redraws
  now = 20;
  p.step("c");
  p.step("d");
  p.end();
  const std::string s = out.text();
  EXPECT_NE(s.find("warning: something\n"), std::string::npos);
  EXPECT_NE(s.find("4/4 took 20s"), std::string::npos) << s;
  EXPECT_EQ(s.back(), '\n');
  EXPECT_LE(std::count(s.begin(), s.end(), '\n'), 2);  // the note and the final newline
}

TEST_F(TuneTest, TuneReportsProgressPerPhase) {
  Captured out;
  double now = 0;
  Progress p(out.f, false, [&] { return now += 1; });
  FakeRunner r;
  TuneDb d = db();
  tune(kernel_info(manifest(), "stga"), Shape::seq(1, 4000, 16, 128), r, d, p, opt_);
  const std::string s = out.text();
  EXPECT_NE(s.find("compile moga.stga: 18 to do"), std::string::npos) << s;
  EXPECT_NE(s.find("time moga.stga at B=1 N=4000 H=16 D=128: 18 to do"), std::string::npos) << s;
  EXPECT_NE(s.find("18/18 done"), std::string::npos) << s;
}
