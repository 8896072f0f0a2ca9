// The runtime's side of tuning (runtime/tune/select.h), without a GPU: a pattern's kernels get the
// heuristic default until `tune` has measured them, then the measured best, with no flag.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "runtime/attention/pattern.h"
#include "runtime/tune/select.h"
#include "runtime/tune/space.h"
#include "runtime/tune/tuner.h"

namespace fs = std::filesystem;
using namespace moga;

namespace {

// Times every config at 1 ms but one, planted as the fastest.
struct PlantedRunner : tune::TrialRunner {
  tune::Config best;
  tune::CompileResult compile(const tune::Config&) override { return {true, "", 128, 0}; }
  tune::Timing time(const tune::Config& c) override {
    tune::Timing t;
    t.median_ms = t.min_ms = t.max_ms = c == best ? 0.25 : 1.0;
    t.runs = 10;
    return t;
  }
};

TEST(TuneSelect, RuntimeUsesTheTunedBestElseTheDefault) {
  const fs::path dir = fs::temp_directory_path() / ("moga-tune-select-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  ::setenv("MOGA_CACHE_DIR", dir.c_str(), 1);

  const rt::LoadedPattern causal = rt::load_builtin("causal");
  const tune::Shape shape = tune::Shape::seq(1, 4096, 12, 128);

  std::vector<std::string> notes;
  rt::AttentionOptions before = tune::tuned_attention_options(causal, shape, {}, &notes);
  const auto manifest = nlohmann::json::parse(causal.manifest_json);
  const tune::KernelInfo k = tune::kernel_info(manifest, "causal");
  // Without a device the target is an sm_90 (as the runtime's): the default is the runtime's own
  // choice there, sm90.tma 128/176/2 (a mask, no gather), which needs no entry (Engine::Auto runs it).
  EXPECT_EQ(before.tiles.count("causal"), 0u);
  EXPECT_EQ(before.variants.count("causal"), 0u);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("wgt_bm128_bn176_w8_s2 (default)"), std::string::npos) << notes[0];

  PlantedRunner runner;
  runner.best = tune::Config{64, 64, 4, 2};
  ASSERT_NE(runner.best, k.tiles);
  tune::TuneDb db;
  tune::Progress quiet(nullptr, false);
  tune::TuneOptions opt;
  opt.versions = tune::Versions::current(tune::embedded_templates_hash());
  tune::tune(k, shape, runner, db, quiet, opt);

  notes.clear();
  rt::AttentionOptions after = tune::tuned_attention_options(causal, shape, {}, &notes);
  EXPECT_EQ(after.tiles["causal"].block_m, 64);
  EXPECT_EQ(after.tiles["causal"].block_n, 64);
  EXPECT_EQ(after.tiles["causal"].warps, 4);
  EXPECT_EQ(after.tiles["causal"].stages, 2);
  EXPECT_NE(notes[0].find("(tuned)"), std::string::npos) << notes[0];

  // A wgmma win leaves no tiles entry, so Engine::Auto runs the wgmma kernel for that kernel.
  runner.best = tune::Config::wgmma_kernel();
  opt.force = true;
  tune::tune(k, shape, runner, db, quiet, opt);
  const tune::Choice c = tune::best_config(k, shape, db, tune::DeviceLimits::assumed_h100(), opt.versions);
  EXPECT_TRUE(c.config.wgmma()) << c.config.id();

  // A gathered kernel's untuned default is its plan (moga_dynamic: a router of 5 groups on sm90.tma.sorted): a
  // tuned sm90.ws 128/128/3 must be named (Auto would run the plan), a tuned plan needs no entry.
  {
    const rt::LoadedPattern dyn = rt::load_builtin("moga_dynamic");
    const tune::KernelInfo kd = tune::kernel_info(nlohmann::json::parse(dyn.manifest_json), "moga_dynamic");
    const tune::Shape vs = tune::Shape::make_video(1, 21, 30, 52, 12, 128);
    ASSERT_EQ(kd.plan.variant, "sm90.tma.sorted");
    runner.best = tune::Config::wgmma_kernel();
    tune::tune(kd, vs, runner, db, quiet, opt);
    rt::AttentionOptions ws = tune::tuned_attention_options(dyn, vs, {});
    EXPECT_EQ(ws.variants["moga_dynamic"], "sm90.ws");
    EXPECT_EQ(ws.tiles["moga_dynamic"].block_n, 128);
    EXPECT_EQ(ws.tiles["moga_dynamic"].stages, 3);
    runner.best = kd.plan;
    tune::tune(kd, vs, runner, db, quiet, opt);
    rt::AttentionOptions planned = tune::tuned_attention_options(dyn, vs, {});
    EXPECT_EQ(planned.variants.count("moga_dynamic"), 0u);
    EXPECT_EQ(planned.tiles.count("moga_dynamic"), 0u);
  }

  // An explicit choice of the caller wins over the database.
  rt::AttentionOptions mine;
  mine.tiles["causal"] = rt::TileConfig{128, 128, 8, 2};
  EXPECT_EQ(tune::tuned_attention_options(causal, shape, mine).tiles["causal"].block_n, 128);
  fs::remove_all(dir);
}

}  // namespace
