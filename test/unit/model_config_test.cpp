// Model configs (runtime/model/config.h): wan-1.3b-2l is wan-1.3b's widths with 2 blocks, the config
// of bench/dit/compare_diffusers.py's 1.3B-width comparison against diffusers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <stdexcept>

#include "runtime/model/config.h"

using namespace moga::model;

TEST(ModelConfig, Wan13B2LayersHasWan13BWidths) {
  const ModelConfig s = config_by_name("wan-1.3b"), t = config_by_name("wan-1.3b-2l");
  EXPECT_EQ(t.name, "wan-1.3b-2l");
  // The 1.3B widths, stated (not only compared with wan-1.3b).
  EXPECT_EQ(t.dim, 1536);
  EXPECT_EQ(t.ffn_dim, 8960);
  EXPECT_EQ(t.heads, 12);
  EXPECT_EQ(t.head_dim(), 128);
  EXPECT_EQ(t.text_dim, 4096);
  EXPECT_EQ(t.text_len, 512);
  EXPECT_EQ(t.freq_dim, 256);
  EXPECT_EQ(t.eps, 1e-6);
  EXPECT_EQ(t.rope_theta, 10000.0);
  EXPECT_EQ(t.in_channels, 16);
  EXPECT_EQ(t.out_channels, 16);
  EXPECT_EQ(t.patch[0], 1);
  EXPECT_EQ(t.patch[1], 2);
  EXPECT_EQ(t.patch[2], 2);
  EXPECT_EQ(t.head_out(), 64);
  int r[3];
  t.rope_split(r);
  EXPECT_EQ(r[0], 44);
  EXPECT_EQ(r[1], 42);
  EXPECT_EQ(r[2], 42);
  // Only the depth differs from wan-1.3b.
  EXPECT_EQ(t.layers, 2);
  EXPECT_EQ(s.layers, 30);
  EXPECT_EQ(t.dim, s.dim);
  EXPECT_EQ(t.ffn_dim, s.ffn_dim);
  EXPECT_EQ(t.heads, s.heads);
  EXPECT_EQ(t.text_dim, s.text_dim);
  EXPECT_EQ(t.text_len, s.text_len);
  EXPECT_EQ(t.freq_dim, s.freq_dim);
  EXPECT_EQ(t.router_groups, s.router_groups);

  // Its keys are wan-1.3b's without blocks 2..29, same shapes, same order.
  std::vector<ParamInfo> want;
  for (const auto& p : param_list(s, 5)) {
    if (p.name.rfind("blocks.", 0) == 0 && std::atoi(p.name.c_str() + 7) >= 2) continue;
    want.push_back(p);
  }
  const std::vector<ParamInfo> got = param_list(t, 5);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].name, want[i].name);
    EXPECT_EQ(got[i].shape, want[i].shape) << got[i].name;
  }
  // diffusers' WanTransformer3DModel(num_layers=2, 1.3B widths) has 118,657,088 parameters (counted
  // on torch's meta device); one 1.3B block has 46,440,704.
  EXPECT_EQ(param_count(t), 118657088LL);
  EXPECT_EQ(param_count(s) - param_count(t), 28LL * 46440704);
  EXPECT_EQ(param_count(t, 5) - param_count(t), 2LL * 5 * 1536);

  // Listed (the CLI's --config accepts config_names()).
  const auto names = config_names();
  EXPECT_NE(std::find(names.begin(), names.end(), "wan-1.3b-2l"), names.end());
  for (const auto& n : names) EXPECT_NO_THROW(config_by_name(n)) << n;
  try {
    config_by_name("wan-1.3b-3l");
    FAIL() << "no throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("wan-1.3b-2l"), std::string::npos) << e.what();
  }
}
