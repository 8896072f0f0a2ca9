// Every shipped pattern's generated CUDA, with every instantiation the runtime names (router, sort,
// summaries, block maps, attention), compiles with NVRTC to an sm_90 cubin, at both head dims the
// kernels support. No GPU needed: CI catches codegen that does not compile.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <iostream>

#include "runtime/attention/attention.h"
#include "runtime/attention/pattern.h"

namespace {

using namespace moga::rt;

class CodegenNvrtc : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/moga-codegen-nvrtc-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    setenv("MOGA_CACHE_DIR", dir_.c_str(), 1);
  }
  void TearDown() override {
    unsetenv("MOGA_CACHE_DIR");
    std::filesystem::remove_all(dir_);
  }
  std::string dir_;
};

class CodegenNvrtcSwitches : public CodegenNvrtc {};

TEST_P(CodegenNvrtc, CompilesForSm90AtBothHeadDims) {
  PatternAttention attn(load_builtin(GetParam()));
  for (int d : {64, 128}) {
    const ModuleInfo info = attn.compile(d);
    EXPECT_FALSE(info.cache_hit) << "a private cache must start empty";
    EXPECT_GE(info.kernels.size(), attn.spec().kernels.size()) << "one attention instantiation per kernel at least";
    // The cubin landed in the sm_90 cache folder.
    EXPECT_NE(info.cache_path.find("/sm_90"), std::string::npos) << info.cache_path;
    std::cout << GetParam() << " d" << d << ": " << info.kernels.size() << " instantiations, " << info.compile_ms
              << " ms\n";
  }
}

INSTANTIATE_TEST_SUITE_P(Shipped, CodegenNvrtc, ::testing::ValuesIn(builtin_names()),
                         [](const auto& info) { return info.param; });

TEST(CodegenNvrtcList, AllNineShippedPatternsAreCovered) { EXPECT_EQ(builtin_names().size(), 9u); }

// The wgmma kernel's A/B switches (AttentionOptions::wg_opt) the benchmarks instantiate compile too.
TEST_F(CodegenNvrtcSwitches, WgmmaSwitchVariantsCompile) {
  for (int opt : {0, 9, 10, 12}) {  // the default is 8 (early gather indices); 0 is v9's copy issue
    AttentionOptions o;
    o.engine = Engine::Wgmma;
    o.arch = "sm_90";
    o.wg_opt = opt;
    PatternAttention attn(load_builtin("moga"), o);
    const ModuleInfo info = attn.compile(128);
    EXPECT_EQ(info.arch, "sm_90a");
    bool named = false;
    for (const auto& k : info.kernels) named |= k.find("attention_fwd_wg<") != std::string::npos &&
                                                k.find(", " + std::to_string(opt) + ">") != std::string::npos;
    EXPECT_TRUE(named) << "no attention_fwd_wg instantiation with OPT " << opt;
  }
}

// The warp-specialized wgmma kernel (v11, AttentionOptions::wg_producer) and v10 both compile for every
// shipped pattern, whichever is the default.
TEST_F(CodegenNvrtcSwitches, WarpSpecializedAndV10CompileForEveryPattern) {
  for (const std::string& name : builtin_names())
    for (int producer : {0, 1}) {
      AttentionOptions o;
      o.engine = Engine::Wgmma;
      o.arch = "sm_90";
      o.wg_producer = producer;
      PatternAttention attn(load_builtin(name), o);
      const ModuleInfo info = attn.compile(128);
      EXPECT_EQ(info.arch, "sm_90a") << name;
      const std::string want = producer ? "moga::attention_fwd_ws<" : "moga::attention_fwd_wg<";
      int n = 0;
      for (const auto& k : info.kernels) n += k.rfind(want, 0) == 0 ? 1 : 0;
      EXPECT_EQ(n, (int)attn.spec().kernels.size()) << name << ": one " << want << "...> per kernel";
    }
  // Engine::Wgmma also runs at head dim 64 (slower than v7 there; for checks), and v11's OPT switch
  // (bench engine ws-o1: no ping-pong) compiles.
  AttentionOptions o;
  o.engine = Engine::Wgmma;
  o.arch = "sm_90";
  PatternAttention attn(load_builtin("moga"), o);
  const ModuleInfo info = attn.compile(64);
  EXPECT_NE(std::find(info.kernels.begin(), info.kernels.end(), "moga::attention_fwd_ws<moga_gen_moga::stga, 64, 128, 128, 3>"),
            info.kernels.end());
  o.wg_producer = 1;
  o.wg_opt = 1;
  PatternAttention no_turn(load_builtin("full"), o);
  const ModuleInfo nt = no_turn.compile(128);
  EXPECT_NE(std::find(nt.kernels.begin(), nt.kernels.end(), "moga::attention_fwd_ws<moga_gen_full::full, 128, 128, 128, 3, 1>"),
            nt.kernels.end());
}

}  // namespace
