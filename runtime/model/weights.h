// DiT checkpoints: the Wan2.1 key names (config.h: param_list), diffusers' WanTransformer3DModel key
// layout mapped onto them, loading with every tensor's shape checked against the config, and the
// seeded synthetic weights of `moga init-weights` / `moga run --weights random`.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/model/config.h"
#include "runtime/model/safetensors.h"

namespace moga::model {

// diffusers name -> Wan2.1 name (nullopt: not a name of the diffusers layout). Includes our router:
// `blocks.N.attn1.router.weight` -> `blocks.N.self_attn.router.weight`.
std::optional<std::string> diffusers_to_wan(const std::string& key);
// Wan2.1 name -> diffusers name (nullopt: not a Wan2.1 name).
std::optional<std::string> wan_to_diffusers(const std::string& key);
// The rename rules, in order, for docs and tests: {wan fragment, diffusers fragment}.
const std::vector<std::pair<std::string, std::string>>& diffusers_rename_table();

// A checkpoint that cannot be used (its files, its index, its key names, its values); the message
// names the file and the tensor or key as the file spells it.
class CheckpointError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class KeyLayout { Wan, Diffusers };
const char* layout_name(KeyLayout l);

// One or more safetensors files seen as one set of tensors under Wan2.1 names. `path` is a
// .safetensors file, a sharded checkpoint's *.safetensors.index.json, or a directory holding either
// (diffusers' diffusion_pytorch_model*.safetensors). The key layout is detected (diffusers if any key
// uses a diffusers-only name: condition_embedder., attn1., proj_out., scale_shift_table, ...); a set
// of files mixing Wan-only and diffusers-only names is refused. An index's weight_map may only name
// files inside its folder (relative, no ".."), and must agree with the shards' contents.
class Checkpoint {
 public:
  explicit Checkpoint(const std::string& path);
  KeyLayout layout() const { return layout_; }
  const std::string& path() const { return path_; }
  struct Entry {
    size_t file = 0;
    std::string original;  // the name in the file
  };
  const std::map<std::string, Entry>& entries() const { return entries_; }  // by Wan name
  // Keys the layout does not know (reported by load_weights as unexpected, under their own names).
  const std::vector<std::string>& unmapped() const { return unmapped_; }
  const TensorInfo& info(const std::string& wan_name) const;
  // The tensor as float32; NaN / inf are refused (CheckpointError naming the file and the tensor).
  void read_f32(const std::string& wan_name, float* dst) const;
  // A Wan2.1 name as this checkpoint spells it (the diffusers name, with the ComfyUI prefix when the
  // file uses one), also for keys it lacks: missing keys are reported under the file's own names.
  std::string file_name(const std::string& wan_name) const;
  std::string where(const std::string& wan_name) const;  // "file: tensor 'x' (diffusers 'y')"

 private:
  std::string path_;
  KeyLayout layout_ = KeyLayout::Wan;
  std::string prefix_;  // "model.diffusion_model." when every key has it
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, Entry> entries_;
  std::vector<std::string> unmapped_;
};

// All parameters of one model in float32, by Wan2.1 name, shapes as in param_list().
struct Weights {
  ModelConfig config;
  int router_groups = 0;  // M of the router weights held (0: none)
  std::map<std::string, std::vector<float>> tensors;
  const std::vector<float>& at(const std::string& name) const;  // throws naming the tensor
};

// Loads and checks a checkpoint against `cfg`. router_groups > 0: the routed pattern needs
// blocks.N.self_attn.router.weight [M, dim] (missing ones are errors); 0: router weights present in
// the file are ignored. Errors (std::runtime_error) name the file and list the missing keys, the
// unexpected keys and every shape mismatch, with a hint when the checkpoint fits another config.
Weights load_weights(const std::string& path, const ModelConfig& cfg, int router_groups, std::string* note = nullptr);

// Seeded synthetic weights. Each tensor's values depend only on (seed, name), so a checkpoint written
// by init-weights (in f32) and `--weights random` with the same seed are identical.
//   Linear weights and biases, patch embedding: normal(0, 0.02); modulation tables: normal(0, 0.02);
//   RMSNorm weights and norm3.weight: 1; norm3.bias: 0; router: normal(0, 0.02).
void init_param(const ParamInfo& p, uint64_t seed, float* dst);
Weights random_weights(const ModelConfig& cfg, uint64_t seed, int router_groups);

// Writes synthetic weights as a checkpoint (Wan2.1 names), atomically, one tensor at a time.
void write_random_checkpoint(const std::string& path, const ModelConfig& cfg, uint64_t seed, int router_groups, DType dtype,
                             const std::map<std::string, std::string>& metadata = {});

// Deterministic normal(0, 1) stream (splitmix64 + Box-Muller): the same numbers on every platform.
class NormalRng {
 public:
  explicit NormalRng(uint64_t seed) : s_(seed) {}
  uint64_t next_u64();
  double uniform();  // (0, 1)
  float normal();
  void fill(float* dst, size_t n, float mean = 0.f, float std = 1.f);

 private:
  uint64_t s_;
  bool have_ = false;
  double spare_ = 0.0;
};
uint64_t hash_name(const std::string& s, uint64_t seed);

}  // namespace moga::model
