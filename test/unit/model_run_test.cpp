// `moga run` end to end through the library (runtime/model/run.h) on the tiny config: deterministic
// for a seed, finite, files written (and nothing else), a valid PNG; routed patterns, shots with
// per-shot contexts, CFG, the debug forward, and the errors. Plus the CLI's exit codes when the
// binary is built.
#include <gtest/gtest.h>

#include "runtime/jit/module.h"

#include <cmath>
#include <cstdlib>
#include <sstream>

#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#include <stb/stb_image.h>

#include "runtime/model/config.h"
#include "runtime/model/run.h"
#include "runtime/model/safetensors.h"
#include "runtime/model/weights.h"
#include "test/unit/model_test_util.h"

using namespace moga::model;
using modeltest::scratch_dir;

namespace {

RunResult run(RunOptions o, std::string* log = nullptr) {
  o.progress = false;
  o.threads = 2;
  std::ostringstream out, err;
  RunResult r = run_dit(o, out, err);
  if (log) *log = out.str();
  return r;
}

std::string run_error(const RunOptions& o) {
  try {
    run(o);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

bool has(const std::string& msg, const std::string& what) { return msg.find(what) != std::string::npos; }

}  // namespace

TEST(ModelRun, TinyEndToEnd) {
  const std::string dir = scratch_dir();
  RunOptions o;
  o.seed = 11;
  o.out_dir = dir + "/out";
  std::string log;
  const RunResult a = run(o, &log);
  EXPECT_EQ(a.C, 16);
  EXPECT_EQ(a.F, 4);
  EXPECT_EQ(a.H, 8);
  EXPECT_EQ(a.W, 8);
  ASSERT_EQ(a.latent.size(), 16u * 4 * 8 * 8);
  double rms = 0;
  for (float v : a.latent) {
    ASSERT_TRUE(std::isfinite(v));
    rms += (double)v * v;
  }
  rms = std::sqrt(rms / a.latent.size());
  EXPECT_GT(rms, 1e-3);
  EXPECT_LT(rms, 1e3);
  EXPECT_EQ(a.steps.size(), 2u);
  EXPECT_GT(a.total.gemm, 0.0);
  EXPECT_GT(a.total.attention, 0.0);
  EXPECT_TRUE(has(log, "memory estimate (cpu, float32)") && has(log, "memory estimate (gpu, bf16)")) << log;
  EXPECT_TRUE(has(log, "attention") && has(log, "gemm") && has(log, "other")) << log;

  // Files: exactly the latent and the preview.
  auto files = modeltest::list_dir(o.out_dir);
  std::sort(files.begin(), files.end());
  EXPECT_EQ(files, (std::vector<std::string>{"latent.safetensors", "preview.png"}));
  SafetensorsFile f(a.latent_path);
  EXPECT_EQ(f.info("latent").shape, (std::vector<long long>{16, 4, 8, 8}));
  EXPECT_EQ(f.to_f32("latent"), a.latent);
  EXPECT_EQ(f.metadata().at("attention"), "full");
  int w = 0, h = 0, c = 0;
  unsigned char* px = stbi_load(a.preview_path.c_str(), &w, &h, &c, 3);
  ASSERT_NE(px, nullptr) << stbi_failure_reason();
  EXPECT_EQ(c, 3);
  EXPECT_EQ(h, 64);                 // 8 latent pixels, upscaled x8
  EXPECT_EQ(w, 4 * 64 + 3 * 2);     // 4 frames side by side, 2-pixel gaps
  int lo = 255, hi = 0;
  for (int i = 0; i < w * h * 3; ++i) lo = std::min<int>(lo, px[i]), hi = std::max<int>(hi, px[i]);
  EXPECT_LT(lo, 40);  // normalised to the full range
  EXPECT_GT(hi, 215);
  stbi_image_free(px);

  // Deterministic for a seed, different for another.
  RunOptions o2 = o;
  o2.out_dir.clear();
  EXPECT_EQ(run(o2).latent, a.latent);
  o2.seed = 12;
  EXPECT_NE(run(o2).latent, a.latent);
  // Thread count does not change the result.
  RunOptions o1 = o;
  o1.out_dir.clear();
  o1.threads = 1;
  std::ostringstream s1, s2;
  o1.progress = false;
  EXPECT_EQ(run_dit(o1, s1, s2).latent, a.latent);
}

TEST(ModelRun, CheckpointFileEqualsRandomWeights) {
  const std::string dir = scratch_dir();
  write_random_checkpoint(dir + "/w.safetensors", config_by_name("tiny"), 5, 0, DType::F32);
  RunOptions o;
  o.seed = 5;
  const RunResult r = run(o);
  o.weights = dir + "/w.safetensors";
  EXPECT_EQ(run(o).latent, r.latent);
}

TEST(ModelRun, RoutedPatternShotsAndCfg) {
  const std::string dir = scratch_dir();
  // moga: routed (M = 5) + STGA + frame-local, with two shots and one context per shot.
  const ModelConfig c = config_by_name("tiny");
  std::vector<float> c0((size_t)9 * c.text_dim), c1((size_t)16 * c.text_dim), neg((size_t)4 * c.text_dim);
  NormalRng rng(3);
  rng.fill(c0.data(), c0.size());
  rng.fill(c1.data(), c1.size());
  rng.fill(neg.data(), neg.size());
  write_safetensors(dir + "/ctx.safetensors", {{"context.0", DType::F32, {9, c.text_dim}, {}, c0.data()},
                                               {"context.1", DType::BF16, {1, 16, c.text_dim}, {}, c1.data()},
                                               {"negative", DType::F16, {4, c.text_dim}, {}, neg.data()}});
  RunOptions o;
  o.attention = "moga";
  o.frames = 6;
  o.shots = {0, 3};
  o.context = dir + "/ctx.safetensors";
  std::string log;
  const RunResult a = run(o, &log);
  EXPECT_EQ(a.pattern, "moga");
  for (float v : a.latent) ASSERT_TRUE(std::isfinite(v));
  EXPECT_TRUE(has(log, "router M = 5") && has(log, "2 shots") && has(log, "routing of the last forward")) << log;
  // Per-shot contexts matter: swapping them changes the result.
  write_safetensors(dir + "/ctx2.safetensors", {{"context.0", DType::F32, {16, c.text_dim}, {}, c1.data()},
                                                {"context.1", DType::F32, {9, c.text_dim}, {}, c0.data()}});
  RunOptions o2 = o;
  o2.context = dir + "/ctx2.safetensors";
  EXPECT_NE(run(o2).latent, a.latent);
  // CFG: two forwards per step, a different result, still finite.
  RunOptions o3 = o;
  o3.cfg = 4.0;
  const RunResult g = run(o3);
  EXPECT_NE(g.latent, a.latent);
  for (float v : g.latent) ASSERT_TRUE(std::isfinite(v));
  // Three shots but two contexts: an error naming both counts.
  RunOptions o4 = o;
  o4.shots = {0, 2, 4};
  EXPECT_TRUE(has(run_error(o4), "2 per-shot contexts") && has(run_error(o4), "3 shot(s)")) << run_error(o4);
}

TEST(ModelRun, DebugForward) {
  const std::string dir = scratch_dir();
  std::vector<float> lat(16 * 2 * 4 * 6);
  NormalRng(9).fill(lat.data(), lat.size());
  write_safetensors(dir + "/lat.safetensors", {{"latent", DType::F32, {16, 2, 4, 6}, {}, lat.data()}});
  RunOptions o;
  o.forward_latent = dir + "/lat.safetensors";
  o.forward_timestep = 250;
  o.out_dir = dir + "/out";
  const RunResult r = run(o);
  EXPECT_EQ(r.F, 2);
  EXPECT_EQ(r.H, 4);
  EXPECT_EQ(r.W, 6);
  SafetensorsFile f(dir + "/out/forward.safetensors");
  EXPECT_EQ(f.info("velocity").shape, (std::vector<long long>{16, 2, 4, 6}));
  EXPECT_FALSE(std::filesystem::exists(dir + "/out/preview.png"));
  o.forward_timestep = 900;
  EXPECT_NE(run(o).latent, r.latent);
}

TEST(ModelRun, Errors) {
  const std::string dir = scratch_dir();
  RunOptions o;
  // Without a device, asking for the GPU backend is a clear error (with one, the run succeeds:
  // tools/gpu-check covers it).
  if (!moga::jit::device_available()) {
    o.backend = "gpu";
    EXPECT_TRUE(has(run_error(o), "--backend gpu: no CUDA device")) << run_error(o);
  }
  o = RunOptions();
  o.attention = "nope";
  EXPECT_TRUE(has(run_error(o), "unknown attention pattern 'nope'") && has(run_error(o), "moga")) << run_error(o);
  o = RunOptions();
  o.height = 7;
  EXPECT_TRUE(has(run_error(o), "not a multiple of the patch")) << run_error(o);
  o = RunOptions();
  o.config = "tiny-ish";
  EXPECT_TRUE(has(run_error(o), "unknown model config")) << run_error(o);
  // A truncated checkpoint: the error names the file.
  write_random_checkpoint(dir + "/w.safetensors", config_by_name("tiny"), 0, 0, DType::F32);
  std::string bytes = modeltest::read_bytes(dir + "/w.safetensors");
  modeltest::write_bytes(dir + "/cut.safetensors", bytes.substr(0, bytes.size() / 2));
  o = RunOptions();
  o.weights = dir + "/cut.safetensors";
  EXPECT_TRUE(has(run_error(o), "cut.safetensors") && has(run_error(o), "truncated")) << run_error(o);
  // A checkpoint without routers for a routed pattern.
  o = RunOptions();
  o.weights = dir + "/w.safetensors";
  o.attention = "moga";
  EXPECT_TRUE(has(run_error(o), "blocks.0.self_attn.router.weight")) << run_error(o);
  // A context of the wrong width.
  std::vector<float> bad(5 * 7);
  write_safetensors(dir + "/ctx.safetensors", {{"context", DType::F32, {5, 7}, {}, bad.data()}});
  o = RunOptions();
  o.context = dir + "/ctx.safetensors";
  EXPECT_TRUE(has(run_error(o), "'context' has shape [5, 7]") && has(run_error(o), "[L, 32]")) << run_error(o);
  // Shots outside the video.
  o = RunOptions();
  o.shots = {0, 9};
  EXPECT_TRUE(has(run_error(o), "--shots")) << run_error(o);
}

TEST(ModelRun, CliExitCodes) {
  // The CLI beside this test binary (both land in <build>/bin), or $MOGA_BINARY_DIR/bin/moga.
  std::string moga = (std::filesystem::read_symlink("/proc/self/exe").parent_path() / "moga").string();
  if (const char* bin = std::getenv("MOGA_BINARY_DIR"); bin && !std::filesystem::exists(moga))
    moga = std::string(bin) + "/bin/moga";
  if (!std::filesystem::exists(moga)) GTEST_SKIP() << moga << " not built";
  const std::string dir = scratch_dir();
  const std::string q = " > " + dir + "/log 2>&1";
  EXPECT_EQ(std::system((moga + " init-weights --config tiny --seed 2 -o " + dir + "/w.safetensors" + q).c_str()), 0);
  EXPECT_EQ(std::system((moga + " run --config tiny --weights " + dir + "/w.safetensors --seed 2 --out " + dir + "/o" + q).c_str()), 0);
  EXPECT_TRUE(std::filesystem::exists(dir + "/o/latent.safetensors") && std::filesystem::exists(dir + "/o/preview.png"));
  EXPECT_NE(std::system((moga + " run --config tiny --weights " + dir + "/nope.safetensors" + q).c_str()), 0);
  EXPECT_TRUE(has(modeltest::read_bytes(dir + "/log"), "nope.safetensors"));
  EXPECT_NE(std::system((moga + " run --config wan-1.3b --weights " + dir + "/w.safetensors" + q).c_str()), 0);
  EXPECT_TRUE(has(modeltest::read_bytes(dir + "/log"), "try --config tiny"));
  EXPECT_NE(std::system((moga + " run --backend gpu" + q).c_str()), 0);
  // --param recompiles the built-in pattern: M = 3 groups
  EXPECT_EQ(std::system((moga + " run --attention moga --param M=3 --no-progress" + q).c_str()), 0);
  EXPECT_TRUE(has(modeltest::read_bytes(dir + "/log"), "router M = 3")) << modeltest::read_bytes(dir + "/log");
  // Router calibration: mode step by default with random weights; --calibrate-routers step|first|off
  // (anything else refused), --no-calibrate-routers = off (not both); a checkpoint is off by default
  // and calibrated only when asked.
  const auto last_log = [&] { return modeltest::read_bytes(dir + "/log"); };
  EXPECT_TRUE(has(last_log(), "routers: calibrated, mode step")) << last_log();
  EXPECT_EQ(std::system((moga + " run --attention moga --no-progress --calibrate-routers first" + q).c_str()), 0);
  EXPECT_TRUE(has(last_log(), "routers: calibrated, mode first")) << last_log();
  EXPECT_EQ(std::system((moga + " run --attention moga --no-progress --calibrate-routers=step" + q).c_str()), 0);
  EXPECT_TRUE(has(last_log(), "routers: calibrated, mode step")) << last_log();
  for (const char* off : {" --calibrate-routers off", " --no-calibrate-routers"}) {
    EXPECT_EQ(std::system((moga + " run --attention moga --no-progress" + off + q).c_str()), 0) << off;
    EXPECT_FALSE(has(last_log(), "routers: calibrated")) << last_log();
    EXPECT_TRUE(has(last_log(), "routers: not calibrated")) << last_log();
  }
  EXPECT_NE(std::system((moga + " run --attention moga --no-progress --calibrate-routers always" + q).c_str()), 0);
  EXPECT_TRUE(has(last_log(), "always")) << last_log();
  EXPECT_NE(std::system((moga + " run --attention moga --no-progress --calibrate-routers step --no-calibrate-routers" + q).c_str()),
            0);
  EXPECT_NE(std::system((moga + " run --attention moga --no-progress --calibrate-routers" + q).c_str()), 0);  // a mode is needed
  EXPECT_EQ(std::system((moga + " init-weights --config tiny --attention moga -o " + dir + "/wr.safetensors" + q).c_str()), 0);
  EXPECT_EQ(std::system((moga + " run --attention moga --no-progress --weights " + dir + "/wr.safetensors" + q).c_str()), 0);
  EXPECT_FALSE(has(last_log(), "routers:")) << last_log();
  EXPECT_EQ(std::system((moga + " run --attention moga --no-progress --calibrate-routers step --weights " + dir +
                         "/wr.safetensors" + q)
                            .c_str()),
            0);
  EXPECT_TRUE(has(last_log(), "routers: calibrated, mode step")) << last_log();
}
