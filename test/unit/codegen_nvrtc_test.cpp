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

// Every row of the kernel registry compiles for its arch, and the wgmma rows at every tile configuration
// of their space (what the tuner searches): one module each, with the row's name expression in it.
TEST_F(CodegenNvrtcSwitches, EveryRegistryRowCompilesAtEveryTileConfig) {
  for (const KernelVariant& v : kernel_registry()) {
    std::vector<TileConfig> space = v.tile_space(128);
    if (space.empty()) space.push_back(TileConfig{});  // sm80.mma: the manifest's tiles
    for (const TileConfig& t : space) {
      AttentionOptions o;
      o.arch = v.engine == Engine::Wgmma ? "sm_90" : "sm_80";
      o.variant = v.name;
      if (t.block_m) o.tiles["full"] = t;
      PatternAttention attn(load_builtin("full"), o);
      ASSERT_STREQ(attn.variant(0, 128).name, v.name);
      const ModuleInfo info = attn.compile(128);
      EXPECT_EQ(info.arch, v.engine == Engine::Wgmma ? "sm_90a" : "sm_80") << v.name;
      const std::string want = v.kernel_expr("moga_gen_full::full", 128, attn.tiles(0, 128));
      EXPECT_NE(std::find(info.kernels.begin(), info.kernels.end(), want), info.kernels.end())
          << v.name << ": no " << want;
      EXPECT_EQ(info.variants, std::vector<std::string>{v.name});
    }
  }
}

// The warp-specialized wgmma kernel compiles for every shipped pattern, at both head dims (dense kernels
// run its TMA form, attention_fwd_tma, by default).
TEST_F(CodegenNvrtcSwitches, WarpSpecializedCompilesForEveryPattern) {
  for (const std::string& name : builtin_names()) {
    AttentionOptions o;
    o.engine = Engine::Wgmma;
    o.arch = "sm_90";
    PatternAttention attn(load_builtin(name), o);
    const ModuleInfo info = attn.compile(128);
    EXPECT_EQ(info.arch, "sm_90a") << name;
    int n = 0;
    for (const auto& k : info.kernels)
      n += k.rfind("moga::attention_fwd_ws<", 0) == 0 || k.rfind("moga::attention_fwd_tma<", 0) == 0 ? 1 : 0;
    EXPECT_EQ(n, (int)attn.spec().kernels.size()) << name << ": one attention_fwd_ws<...> or _tma<...> per kernel";
  }
  // Engine::Wgmma also runs at head dim 64 (slower than mma.sync there; for checks).
  AttentionOptions o;
  o.engine = Engine::Wgmma;
  o.arch = "sm_90";
  PatternAttention attn(load_builtin("moga"), o);
  const ModuleInfo info = attn.compile(64);
  EXPECT_NE(std::find(info.kernels.begin(), info.kernels.end(), "moga::attention_fwd_ws<moga_gen_moga::stga, 64, 128, 128, 3>"),
            info.kernels.end());
}

}  // namespace
