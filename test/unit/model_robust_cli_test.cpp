// Hostile command lines (issues #14 and #17): run options checked before any work, naming the flag;
// the CLI exits with one code per class of error (docs/model.md, "Exit codes"), refuses before any
// work and leaves --out untouched; a NaN checkpoint stops a run before sampling.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "runtime/model/config.h"
#include "runtime/model/run.h"
#include "runtime/model/safetensors.h"
#include "runtime/model/weights.h"
#include "test/unit/model_test_util.h"

using namespace moga::model;
using modeltest::make_safetensors;
using modeltest::read_bytes;
using modeltest::scratch_dir;
using modeltest::write_bytes;
namespace fs = std::filesystem;

#include "test/unit/model_robust_util.h"

using namespace modelrobust;  // has, open_error, write_and_open, kTwo, twelve_bytes, load_error, write_tiny, to_diffusers

TEST(ModelRobust, NonFiniteCheckpointStopsTheRunBeforeSampling) {
  const std::string dir = scratch_dir();
  RunOptions o;
  o.weights = write_tiny(dir + "/nan.safetensors", nullptr, "blocks.1.ffn.2.weight", std::numeric_limits<float>::quiet_NaN());
  o.out_dir = dir + "/out";
  o.progress = false;
  std::ostringstream out, err;
  try {
    run_dit(o, out, err);
    ADD_FAILURE() << "a NaN checkpoint ran";
  } catch (const std::exception& x) {
    EXPECT_TRUE(has(x.what(), "nan.safetensors: tensor 'blocks.1.ffn.2.weight'")) << x.what();
  }
  EXPECT_FALSE(has(out.str(), "sampler:")) << out.str();
  EXPECT_FALSE(fs::exists(dir + "/out"));
}

// ---- run options ------------------------------------------------------------------------------------

namespace {
std::string check_error(const RunOptions& o, std::string* flag = nullptr) {
  try {
    check_run_options(o);
  } catch (const OptionError& e) {
    if (flag) *flag = e.flag();
    return e.what();
  } catch (const std::exception& e) {
    if (flag) *flag = "";
    return std::string("not an OptionError: ") + e.what();
  }
  return "";
}
}  // namespace

TEST(ModelRobust, RunOptionsAreCheckedBeforeAnyWork) {
  const std::string dir = scratch_dir();
  RunOptions o;
  EXPECT_EQ(check_error(o), "");
  std::string flag;
  o.frames = 1024, o.height = 268435456, o.width = 268435456;  // overflowed to 0 tokens, then segfaulted
  std::string e = check_error(o, &flag);
  EXPECT_TRUE(has(e, "--frames 1024 --height 268435456 --width 268435456") && has(e, "tokens, more than the 16777216")) << e;
  o = RunOptions();
  o.height = 7;
  EXPECT_TRUE(has(check_error(o), "not a multiple of the patch")) << check_error(o);
  o = RunOptions();
  o.steps = -1;
  EXPECT_TRUE(has(check_error(o, &flag), "--steps -1: must be between 1 and 100000") && flag == "--steps");
  o = RunOptions();
  o.shift = std::nan("");
  EXPECT_TRUE(has(check_error(o, &flag), "--shift") && flag == "--shift");
  o = RunOptions();
  o.shots = {0, 4};  // tiny has 4 frames
  EXPECT_TRUE(has(check_error(o, &flag), "--shots: frame 4 outside [0, 4)") && flag == "--shots") << check_error(o);
  o = RunOptions();
  o.attention = "nope";
  EXPECT_TRUE(has(check_error(o, &flag), "unknown attention pattern 'nope'") && flag == "--attention");
  o = RunOptions();
  o.config = "wan-2b";
  EXPECT_EQ((check_error(o, &flag), flag), "--config");
  o = RunOptions();
  o.gpus = 0;
  EXPECT_EQ((check_error(o, &flag), flag), "--gpus");
  o = RunOptions();
  o.attention_precision = "fp16";
  EXPECT_TRUE(has(check_error(o, &flag), "--attention-precision fp16: must be bf16 or fp8 (or fp8-routed)") &&
              flag == "--attention-precision")
      << check_error(o);
  o.attention_precision = "fp8";
  o.backend = "cpu";
  EXPECT_TRUE(has(check_error(o, &flag), "--attention-precision fp8: runs on the GPU backend") &&
              flag == "--attention-precision")
      << check_error(o);
  o.attention_precision = "fp8-routed";
  EXPECT_TRUE(has(check_error(o, &flag), "--attention-precision fp8-routed: runs on the GPU backend") &&
              flag == "--attention-precision")
      << check_error(o);
  o.attention_precision = "fp8";
  o.backend = "auto";
  EXPECT_EQ(check_error(o), "");
  o = RunOptions();
  o.gemm_precision = "int8";
  EXPECT_TRUE(has(check_error(o, &flag), "--gemm-precision int8: must be bf16 or fp8") && flag == "--gemm-precision")
      << check_error(o);
  o.gemm_precision = "fp8";
  o.backend = "cpu";
  EXPECT_TRUE(has(check_error(o, &flag), "--gemm-precision fp8: runs on the GPU backend") && flag == "--gemm-precision")
      << check_error(o);
  o.backend = "auto";
  EXPECT_EQ(check_error(o), "");
  // Missing inputs name the flag and the path (a file error, not a usage error).
  o = RunOptions();
  o.weights = dir + "/none.safetensors";
  e = check_error(o);
  EXPECT_TRUE(has(e, "not an OptionError") && has(e, "--weights " + dir + "/none.safetensors: no such file")) << e;
  o = RunOptions();
  o.context = dir;
  EXPECT_TRUE(has(check_error(o), "--context " + dir + ": not a regular file")) << check_error(o);
}

TEST(ModelRobust, OutIsCheckedBeforeTheRunAndLeftUntouched) {
  const std::string dir = scratch_dir();
  RunOptions o;
  std::string flag;
  write_bytes(dir + "/file", "x");
  o.out_dir = dir + "/file";
  EXPECT_TRUE(has(check_error(o, &flag), "exists and is not a directory") && flag == "--out");
  o.out_dir = dir + "/file/sub";
  EXPECT_TRUE(has(check_error(o, &flag), "is not a directory") && flag == "--out");
  fs::create_directories(dir + "/o/latent.safetensors");
  o.out_dir = dir + "/o";
  EXPECT_TRUE(has(check_error(o), "latent.safetensors' is a directory")) << check_error(o);
  fs::create_directories(dir + "/ro");
  ::chmod((dir + "/ro").c_str(), 0500);
  o.out_dir = dir + "/ro/new";
  if (::geteuid() != 0) {  // root writes anywhere
    EXPECT_TRUE(has(check_error(o), "not writable")) << check_error(o);
  }
  ::chmod((dir + "/ro").c_str(), 0700);
  o.out_dir = dir + "/a/b/c";  // created by the run, not by the check
  EXPECT_EQ(check_error(o), "");
  EXPECT_FALSE(fs::exists(dir + "/a"));
  // A failed run: --steps -1 with a checkpoint is refused before the weights load, nothing written.
  o = RunOptions();
  o.weights = write_tiny(dir + "/w.safetensors");
  o.steps = -1;
  o.out_dir = dir + "/never";
  std::ostringstream out, err;
  EXPECT_THROW(run_dit(o, out, err), OptionError);
  EXPECT_EQ(out.str(), "");
  EXPECT_FALSE(fs::exists(dir + "/never"));
  // Output files are checked by init-weights' -o as well.
  EXPECT_THROW(check_output_file(dir, "--out"), OptionError);
  EXPECT_THROW(check_output_file("", "--out"), OptionError);
  EXPECT_NO_THROW(check_output_file(dir + "/x/y.safetensors", "--out"));
}

// ---- the CLI ----------------------------------------------------------------------------------------

namespace {

std::string moga_binary() {
  std::string moga = (fs::read_symlink("/proc/self/exe").parent_path() / "moga").string();
  if (const char* bin = std::getenv("MOGA_BINARY_DIR"); bin && !fs::exists(moga)) moga = std::string(bin) + "/bin/moga";
  return fs::exists(moga) ? moga : "";
}

struct Cli {
  int code = -1;
  std::string log;
};

Cli cli(const std::string& dir, const std::string& args) {
  const std::string moga = moga_binary();
  const std::string log = dir + "/cli.log";
  const int st = std::system((moga + " " + args + " > " + log + " 2>&1").c_str());
  Cli r;
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  r.log = read_bytes(log);
  return r;
}

}  // namespace

TEST(ModelRobust, CliExitCodesNameTheFlag) {
  if (moga_binary().empty()) GTEST_SKIP() << "bin/moga not built";
  const std::string dir = scratch_dir();
  struct Case {
    std::string args;
    int code;
    std::string says;
  };
  const std::vector<Case> cases = {
      // usage errors: 2, naming the flag, whatever CLI11 or our checks found
      {"run --frames 1024 --height 268435456 --width 268435456 --no-progress", 2, "--frames 1024 --height 268435456"},
      {"run --steps 0", 2, "--steps"},
      {"run --steps -1", 2, "--steps"},
      {"run --seed -1", 2, "--seed"},
      {"run --threads 0", 2, "--threads"},
      {"run --shift nan", 2, "--shift"},
      {"run --config tiny --shots 0,9", 2, "--shots: frame 9 outside [0, 4)"},
      {"run --shots a,b", 2, "--shots"},
      {"run --config nope", 2, "--config"},
      {"run --attention nope", 2, "--attention"},
      {"run --no-such-flag", 2, "--no-such-flag"},
      {"run --backend tpu", 2, "--backend"},
      {"frobnicate", 2, "frobnicate"},
      {"init-weights --router-groups -1 -o " + dir + "/w.safetensors", 2, "--router-groups"},
      {"init-weights --seed -1 -o " + dir + "/w.safetensors", 2, "--seed"},
      {"init-weights --attention nope -o " + dir + "/w.safetensors", 2, "--attention"},
      {"init-weights -o " + dir, 2, "is a directory"},
      {"init-weights", 2, "--out"},
      {"tune stga --shape 21x30x52 --shots 100 --dry-run", 2, "--shots: frame 100 outside [1, 21)"},
      {"tune stga --shape 21x30x52 --shots 0 --dry-run", 2, "--shots"},
      {"tune full --shape 4294967296 --dry-run", 2, "--shape"},
      {"tune stga --shape 100000x100000x100000 --dry-run", 2, "--shape"},
      {"tune full --jobs -1 --dry-run", 2, "--jobs"},
      {"smoke -n 0", 2, "-n"},
      {"smoke --arch compute_90", 2, "--arch"},
      // input errors: 1, naming the file
      {"run --weights " + dir + "/none.safetensors", 1, "none.safetensors: no such file"},
      {"run --context " + dir + "/none.safetensors", 1, "--context"},
      // successes
      {"--help", 0, "moga"},
      {"run --help", 0, "--steps"},
  };
  for (const Case& c : cases) {
    const Cli r = cli(dir, c.args);
    EXPECT_EQ(r.code, c.code) << c.args << "\n" << r.log;
    EXPECT_TRUE(has(r.log, c.says)) << c.args << " should say '" << c.says << "':\n" << r.log;
  }
  EXPECT_FALSE(fs::exists(dir + "/w.safetensors"));
}

// `moga run` with no options runs the project's point, MoGA, on a config that fits the machine (tiny on
// the CPU, wan-1.3b on a GPU), and says so.
TEST(ModelRobust, CliDefaultsToMogaOnAConfigForTheBackend) {
  if (moga_binary().empty()) GTEST_SKIP() << "bin/moga not built";
  const std::string dir = scratch_dir();
  const Cli r = cli(dir, "run --no-progress --steps 1");
  ASSERT_EQ(r.code, 0) << r.log;
  EXPECT_TRUE(has(r.log, "attention 'moga' (router M = 5)")) << r.log;
  const bool gpu = has(r.log, "backend gpu");
  EXPECT_EQ(default_config(gpu ? "gpu" : "cpu"), gpu ? "wan-1.3b" : "tiny");
  EXPECT_TRUE(has(r.log, "note: no --config given: " + default_config(gpu ? "gpu" : "cpu"))) << r.log;
  EXPECT_TRUE(has(r.log, "moga run: config " + default_config(gpu ? "gpu" : "cpu") + " ")) << r.log;
  EXPECT_TRUE(has(r.log, "routing of the last forward")) << r.log;
  // an explicit --config and --attention are taken as given, with no note
  const Cli e = cli(dir, "run --no-progress --steps 1 --config tiny --attention full --backend cpu");
  ASSERT_EQ(e.code, 0) << e.log;
  EXPECT_TRUE(has(e.log, "moga run: config tiny ") && has(e.log, "attention 'full'")) << e.log;
  EXPECT_FALSE(has(e.log, "no --config given")) << e.log;
  EXPECT_EQ(default_config("cpu"), "tiny");
  EXPECT_EQ(default_config("gpu"), "wan-1.3b");
  // a checkpoint without routers: full, saying why; with routers: moga
  ASSERT_EQ(cli(dir, "init-weights --config tiny -o " + dir + "/plain.safetensors").code, 0);
  ASSERT_EQ(cli(dir, "init-weights --config tiny --attention moga -o " + dir + "/routed.safetensors").code, 0);
  std::string note;
  EXPECT_EQ(default_attention(dir + "/plain.safetensors", &note), "full");
  EXPECT_TRUE(has(note, "plain.safetensors has no MoGA routers")) << note;
  note.clear();
  EXPECT_EQ(default_attention(dir + "/routed.safetensors", &note), "moga");
  EXPECT_TRUE(note.empty()) << note;
  EXPECT_EQ(default_attention("random", &note), "moga");
  const Cli p = cli(dir, "run --no-progress --steps 1 --backend cpu --config tiny --weights " + dir + "/plain.safetensors");
  EXPECT_EQ(p.code, 0) << p.log;
  EXPECT_TRUE(has(p.log, "has no MoGA routers") && has(p.log, "attention 'full'")) << p.log;
  const Cli q = cli(dir, "run --no-progress --steps 1 --backend cpu --config tiny --weights " + dir + "/routed.safetensors");
  EXPECT_EQ(q.code, 0) << q.log;
  EXPECT_TRUE(has(q.log, "attention 'moga'")) << q.log;
}

TEST(ModelRobust, CliRefusesBeforeWorkAndLeavesOutUntouched) {
  if (moga_binary().empty()) GTEST_SKIP() << "bin/moga not built";
  const std::string dir = scratch_dir();
  ASSERT_EQ(cli(dir, "init-weights --config tiny --seed 2 -o " + dir + "/w.safetensors").code, 0);
  // An existing output folder with files from an earlier run: a refused run changes nothing.
  fs::create_directories(dir + "/out");
  write_bytes(dir + "/out/latent.safetensors", "earlier");
  const auto mtime = fs::last_write_time(dir + "/out/latent.safetensors");
  for (const std::string bad : {"--steps -1", "--steps 0", "--shots 0,9", "--attention nope", "--kernel-variant stga",
                                "--kernel-variant nope=sm90.tma", "--kernel-variant stga=sm90.nope"}) {
    const Cli r = cli(dir, "run --no-progress --weights " + dir + "/w.safetensors --out " + dir + "/out " + bad);
    EXPECT_EQ(r.code, 2) << bad << "\n" << r.log;
    EXPECT_FALSE(has(r.log, "loaded")) << "weights were loaded before refusing " << bad << ":\n" << r.log;
    EXPECT_FALSE(has(r.log, "moga run: config")) << bad << ":\n" << r.log;
  }
  // --kernel-variant names what was wrong: the form, the pattern's kernels, the registry's rows
  const Cli kv = cli(dir, "run --no-progress --attention moga --kernel-variant nope=sm90.tma --out " + dir + "/out");
  EXPECT_TRUE(has(kv.log, "pattern 'moga' has no kernel 'nope'") && has(kv.log, "stga")) << kv.log;
  const Cli kr = cli(dir, "run --no-progress --attention moga --kernel-variant stga=sm90.nope --out " + dir + "/out");
  EXPECT_TRUE(has(kr.log, "no kernel registry row 'sm90.nope'") && has(kr.log, "sm90.tma.sorted")) << kr.log;
  EXPECT_EQ(read_bytes(dir + "/out/latent.safetensors"), "earlier");
  EXPECT_EQ(fs::last_write_time(dir + "/out/latent.safetensors"), mtime);
  EXPECT_EQ(modeltest::list_dir(dir + "/out").size(), 1u);
  // --out that cannot be a folder: refused up front, before the memory estimate.
  const Cli r = cli(dir, "run --no-progress --out " + dir + "/w.safetensors");
  EXPECT_EQ(r.code, 2) << r.log;
  EXPECT_TRUE(has(r.log, "--out") && has(r.log, "not a directory")) << r.log;
  EXPECT_FALSE(has(r.log, "memory")) << r.log;
  // A NaN checkpoint: exit 1 naming the tensor, nothing written to a new --out.
  write_tiny(dir + "/nan.safetensors", nullptr, "blocks.0.self_attn.q.weight", std::numeric_limits<float>::quiet_NaN());
  const Cli n = cli(dir, "run --no-progress --weights " + dir + "/nan.safetensors --out " + dir + "/new");
  EXPECT_EQ(n.code, 1) << n.log;
  EXPECT_TRUE(has(n.log, "nan.safetensors: tensor 'blocks.0.self_attn.q.weight'") && has(n.log, "NaN")) << n.log;
  EXPECT_FALSE(fs::exists(dir + "/new"));
  // A FIFO as --weights: refused at once, not a hang.
  ASSERT_EQ(::mkfifo((dir + "/fifo").c_str(), 0600), 0);
  const Cli f = cli(dir, "run --no-progress --weights " + dir + "/fifo");
  EXPECT_EQ(f.code, 1) << f.log;
  EXPECT_TRUE(has(f.log, "fifo") && has(f.log, "not a regular file")) << f.log;
}
