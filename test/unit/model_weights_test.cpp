// Checkpoints (runtime/model/weights.h): Wan2.1 key names and shapes per config, missing / unexpected /
// mis-shaped keys named in the error, the diffusers key mapping, sharded checkpoints, synthetic weights.
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "runtime/model/config.h"
#include "runtime/model/safetensors.h"
#include "runtime/model/weights.h"
#include "test/unit/model_test_util.h"

using namespace moga::model;
using modeltest::scratch_dir;

namespace {

bool has(const std::string& msg, const std::string& what) { return msg.find(what) != std::string::npos; }

// Writes the tiny config's synthetic weights with optional edits: drop a key, add one, reshape one,
// rename every key with `rename`.
std::string write_ckpt(const std::string& path, int M = 0, const std::string& drop = "", const std::string& add = "",
                       const std::string& reshape = "", std::string (*rename)(const std::string&) = nullptr) {
  const ModelConfig c = config_by_name("tiny");
  std::vector<TensorWrite> t;
  for (const auto& p : param_list(c, M)) {
    if (p.name == drop) continue;
    TensorWrite w;
    w.name = rename ? rename(p.name) : p.name;
    w.shape = p.shape;
    if (p.name == reshape) w.shape = {p.numel()};
    w.fill = [p](float* d) { init_param(p, 3, d); };
    t.push_back(w);
  }
  if (!add.empty()) {
    TensorWrite w;
    w.name = add;
    w.shape = {3};
    w.fill = [](float* d) { d[0] = d[1] = d[2] = 0; };
    t.push_back(w);
  }
  write_safetensors(path, t);
  return path;
}

std::string load_error(const std::string& path, int M = 0, const std::string& config = "tiny") {
  try {
    load_weights(path, config_by_name(config), M);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

std::string to_diffusers(const std::string& k) { return wan_to_diffusers(k).value_or("?" + k); }

}  // namespace

TEST(ModelConfig, SizesAndRopeSplit) {
  const ModelConfig t = config_by_name("tiny"), s = config_by_name("wan-1.3b"), l = config_by_name("wan-14b");
  EXPECT_EQ(t.head_dim(), 64);
  EXPECT_EQ(s.head_dim(), 128);
  EXPECT_EQ(l.head_dim(), 128);
  int r[3];
  s.rope_split(r);
  EXPECT_EQ(r[0], 44);
  EXPECT_EQ(r[1], 42);
  EXPECT_EQ(r[2], 42);
  t.rope_split(r);
  EXPECT_EQ(r[0] + r[1] + r[2], 64);
  EXPECT_EQ(r[1], 20);
  EXPECT_EQ(s.head_out(), 64);
  // Parameter counts of diffusers' WanTransformer3DModel with these configs (counted on torch's meta
  // device): 1,418,996,800 (T2V-1.3B) and 14,288,491,584 (T2V-14B).
  EXPECT_EQ(param_count(s), 1418996800LL);
  EXPECT_EQ(param_count(l), 14288491584LL);
  EXPECT_EQ(param_count(s, 5) - param_count(s), 30LL * 5 * 1536);
  EXPECT_THROW(config_by_name("wan-7b"), std::invalid_argument);
  const MemoryEstimate m = estimate_memory(s, 32760, 512, 2, 5, true, 2);
  EXPECT_EQ(m.weight_bytes, (size_t)param_count(s, 5) * 2);
  EXPECT_GT(m.activation_bytes, (size_t)32760 * 8960 * 2);
}

TEST(ModelWeights, LoadsAndChecksEveryKey) {
  const std::string dir = scratch_dir();
  const Weights w = load_weights(write_ckpt(dir + "/ok.safetensors"), config_by_name("tiny"), 0);
  const Weights r = random_weights(config_by_name("tiny"), 3, 0);
  EXPECT_EQ(w.tensors.size(), r.tensors.size());
  for (const auto& [k, v] : r.tensors) EXPECT_EQ(w.at(k), v) << k;  // f32: identical to the in-memory ones

  std::string e = load_error(write_ckpt(dir + "/miss.safetensors", 0, "blocks.1.cross_attn.norm_k.weight"));
  EXPECT_TRUE(has(e, "miss.safetensors") && has(e, "1 missing key") && has(e, "blocks.1.cross_attn.norm_k.weight")) << e;

  e = load_error(write_ckpt(dir + "/extra.safetensors", 0, "", "blocks.0.self_attn.lora_A.weight"));
  EXPECT_TRUE(has(e, "1 unexpected key") && has(e, "blocks.0.self_attn.lora_A.weight")) << e;

  e = load_error(write_ckpt(dir + "/both.safetensors", 0, "head.head.bias", "head.extra"));
  EXPECT_TRUE(has(e, "missing") && has(e, "head.head.bias") && has(e, "unexpected") && has(e, "head.extra")) << e;

  e = load_error(write_ckpt(dir + "/shape.safetensors", 0, "", "", "blocks.0.ffn.0.weight"));
  EXPECT_TRUE(has(e, "shape mismatch") && has(e, "blocks.0.ffn.0.weight") && has(e, "[32768]") && has(e, "[256, 128]")) << e;

  // The wrong config: a hint names the one that fits.
  e = load_error(dir + "/ok.safetensors", 0, "wan-1.3b");
  EXPECT_TRUE(has(e, "config 'wan-1.3b'") && has(e, "try --config tiny")) << e;
}

TEST(ModelWeights, RouterWeights) {
  const std::string dir = scratch_dir();
  // A routed pattern needs a router per block...
  std::string e = load_error(write_ckpt(dir + "/norouter.safetensors"), 5);
  EXPECT_TRUE(has(e, "M = 5") && has(e, "2 missing key") && has(e, "blocks.0.self_attn.router.weight") &&
              has(e, "blocks.1.self_attn.router.weight")) << e;
  // ... of the pattern's M.
  e = load_error(write_ckpt(dir + "/router4.safetensors", 4), 5);
  EXPECT_TRUE(has(e, "blocks.0.self_attn.router.weight") && has(e, "[4, 128]") && has(e, "[5, 128]")) << e;
  const Weights w = load_weights(write_ckpt(dir + "/router5.safetensors", 5), config_by_name("tiny"), 5);
  EXPECT_EQ(w.at("blocks.1.self_attn.router.weight").size(), 5u * 128);
  // Routers are ignored (not "unexpected") when the pattern is not routed.
  std::string note;
  const Weights d = load_weights(dir + "/router5.safetensors", config_by_name("tiny"), 0, &note);
  EXPECT_EQ(d.tensors.count("blocks.0.self_attn.router.weight"), 0u);
  EXPECT_TRUE(has(note, "2 router weight(s) ignored")) << note;
}

TEST(ModelWeights, DiffusersMappingTable) {
  // Every Wan2.1 name of every config has a diffusers name and maps back.
  for (const char* cfg : {"tiny", "wan-1.3b"}) {
    std::set<std::string> seen;
    for (const auto& p : param_list(config_by_name(cfg), 5)) {
      const auto d = wan_to_diffusers(p.name);
      ASSERT_TRUE(d.has_value()) << p.name;
      EXPECT_TRUE(seen.insert(*d).second) << "two Wan names map to " << *d;
      EXPECT_EQ(diffusers_to_wan(*d).value_or("?"), p.name);
    }
  }
  // The documented examples (docs/model.md), spelled out.
  const std::vector<std::pair<std::string, std::string>> ex = {
      {"patch_embedding.weight", "patch_embedding.weight"},
      {"text_embedding.0.weight", "condition_embedder.text_embedder.linear_1.weight"},
      {"text_embedding.2.bias", "condition_embedder.text_embedder.linear_2.bias"},
      {"time_embedding.0.weight", "condition_embedder.time_embedder.linear_1.weight"},
      {"time_embedding.2.bias", "condition_embedder.time_embedder.linear_2.bias"},
      {"time_projection.1.weight", "condition_embedder.time_proj.weight"},
      {"head.head.weight", "proj_out.weight"},
      {"head.modulation", "scale_shift_table"},
      {"blocks.7.modulation", "blocks.7.scale_shift_table"},
      {"blocks.0.self_attn.q.weight", "blocks.0.attn1.to_q.weight"},
      {"blocks.0.self_attn.o.bias", "blocks.0.attn1.to_out.0.bias"},
      {"blocks.12.self_attn.norm_k.weight", "blocks.12.attn1.norm_k.weight"},
      {"blocks.0.self_attn.router.weight", "blocks.0.attn1.router.weight"},
      {"blocks.3.cross_attn.v.weight", "blocks.3.attn2.to_v.weight"},
      {"blocks.3.cross_attn.o.weight", "blocks.3.attn2.to_out.0.weight"},
      {"blocks.3.cross_attn.norm_q.weight", "blocks.3.attn2.norm_q.weight"},
      {"blocks.29.norm3.weight", "blocks.29.norm2.weight"},
      {"blocks.29.norm3.bias", "blocks.29.norm2.bias"},
      {"blocks.1.ffn.0.weight", "blocks.1.ffn.net.0.proj.weight"},
      {"blocks.1.ffn.2.bias", "blocks.1.ffn.net.2.bias"},
  };
  for (const auto& [w, d] : ex) {
    EXPECT_EQ(wan_to_diffusers(w).value_or("?"), d) << w;
    EXPECT_EQ(diffusers_to_wan(d).value_or("?"), w) << d;
  }
  // Not names of either layout.
  for (const char* bad : {"blocks.0.attn1.to_q", "blocks.x.attn1.to_q.weight", "blocks.0.norm1.weight", "proj_out.weight.x",
                          "scale_shift_table.weight", "condition_embedder.time_proj", "blocks.0.ffn.net.1.weight"})
    EXPECT_FALSE(diffusers_to_wan(bad).has_value()) << bad;
  EXPECT_FALSE(wan_to_diffusers("blocks.0.norm2.weight").has_value());  // Wan's norm2 has no parameters
}

TEST(ModelWeights, LoadsDiffusersLayoutAndShards) {
  const std::string dir = scratch_dir();
  const ModelConfig c = config_by_name("tiny");
  const Weights ref = load_weights(write_ckpt(dir + "/wan.safetensors", 5), c, 5);
  std::string note;
  const Weights d = load_weights(write_ckpt(dir + "/diffusers.safetensors", 5, "", "", "", to_diffusers), c, 5, &note);
  EXPECT_TRUE(has(note, "diffusers layout")) << note;
  for (const auto& [k, v] : ref.tensors) EXPECT_EQ(d.at(k), v) << k;

  // A diffusers key we do not know is reported under its own name.
  std::string e = load_error(write_ckpt(dir + "/dx.safetensors", 0, "", "blocks.0.attn1.to_qkv.weight", "", to_diffusers));
  EXPECT_TRUE(has(e, "diffusers layout") && has(e, "blocks.0.attn1.to_qkv.weight")) << e;
  // A missing one is named in Wan2.1 terms.
  e = load_error(write_ckpt(dir + "/dm.safetensors", 0, "blocks.1.norm3.bias", "", "", to_diffusers));
  EXPECT_TRUE(has(e, "blocks.1.norm3.bias")) << e;

  // ComfyUI prefix.
  auto comfy = [](const std::string& k) { return "model.diffusion_model." + k; };
  const Weights cw = load_weights(write_ckpt(dir + "/comfy.safetensors", 0, "", "", "", +comfy), c, 0);
  EXPECT_EQ(cw.at("head.modulation"), ref.at("head.modulation"));

  // Sharded: two files and an index (diffusers' layout), loaded by index path and by directory.
  const std::string sd = dir + "/sharded";
  std::filesystem::create_directories(sd);
  std::vector<TensorWrite> a, b;
  nlohmann::json idx;
  int i = 0;
  for (const auto& p : param_list(c, 5)) {
    TensorWrite w;
    w.name = to_diffusers(p.name);
    w.shape = p.shape;
    w.fill = [p](float* x) { init_param(p, 3, x); };
    const bool first = (i++ % 2) == 0;
    (first ? a : b).push_back(w);
    idx["weight_map"][w.name] = first ? "m-00001-of-00002.safetensors" : "m-00002-of-00002.safetensors";
  }
  write_safetensors(sd + "/m-00001-of-00002.safetensors", a);
  write_safetensors(sd + "/m-00002-of-00002.safetensors", b);
  std::ofstream(sd + "/m.safetensors.index.json") << idx.dump();
  for (const std::string& path : {sd + "/m.safetensors.index.json", sd}) {
    const Weights s = load_weights(path, c, 5);
    for (const auto& [k, v] : ref.tensors) EXPECT_EQ(s.at(k), v) << path << " " << k;
  }
}

TEST(ModelWeights, SyntheticWeightsAreSeededAndSensible) {
  const ModelConfig c = config_by_name("tiny");
  const Weights a = random_weights(c, 1, 5), b = random_weights(c, 1, 5), d = random_weights(c, 2, 5);
  EXPECT_EQ(a.at("blocks.0.self_attn.q.weight"), b.at("blocks.0.self_attn.q.weight"));
  EXPECT_NE(a.at("blocks.0.self_attn.q.weight"), d.at("blocks.0.self_attn.q.weight"));
  EXPECT_NE(a.at("blocks.0.self_attn.q.weight"), a.at("blocks.0.self_attn.k.weight"));
  for (float v : a.at("blocks.1.self_attn.norm_q.weight")) EXPECT_EQ(v, 1.f);
  for (float v : a.at("blocks.1.norm3.bias")) EXPECT_EQ(v, 0.f);
  const auto& q = a.at("blocks.0.ffn.0.weight");
  double s = 0, s2 = 0;
  for (float v : q) s += v, s2 += (double)v * v;
  const double mean = s / q.size(), sd = std::sqrt(s2 / q.size() - mean * mean);
  EXPECT_NEAR(mean, 0.0, 0.002);
  EXPECT_NEAR(sd, 0.02, 0.001);

  // init-weights' file in bf16: the same numbers, rounded.
  const std::string dir = scratch_dir();
  write_random_checkpoint(dir + "/b.safetensors", c, 1, 5, DType::BF16);
  const Weights l = load_weights(dir + "/b.safetensors", c, 5);
  const auto& x = a.at("time_projection.1.weight");
  const auto& y = l.at("time_projection.1.weight");
  for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(y[i], bf16_to_f32(f32_to_bf16(x[i])));
}
