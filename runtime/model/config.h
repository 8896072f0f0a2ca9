// The DiT configurations (Wan2.1 architecture, docs/model.md) and the memory estimate printed before
// a run. No MLIR, no CUDA.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace moga::model {

struct ModelConfig {
  std::string name;
  int dim = 0;        // hidden size
  int ffn_dim = 0;    // FFN inner size
  int heads = 0;      // attention heads (head_dim = dim / heads)
  int layers = 0;     // transformer blocks
  int text_dim = 0;   // umT5 context width
  int text_len = 0;   // context tokens (shorter contexts are zero-padded to this, as Wan does)
  int freq_dim = 0;   // sinusoidal timestep embedding width
  int in_channels = 16, out_channels = 16;
  int patch[3] = {1, 2, 2};  // (t, h, w)
  double eps = 1e-6;
  double rope_theta = 10000.0;
  int router_groups = 5;     // M: default router groups per block for routed patterns (the pattern's M wins)

  int head_dim() const { return dim / heads; }
  int patch_volume() const { return patch[0] * patch[1] * patch[2]; }
  int head_out() const { return out_channels * patch_volume(); }  // 64 for Wan
  // RoPE split of the head dim into (frame, row, col) parts, in real dims (pairs x 2):
  // (d - 4*(d/6), 2*(d/6), 2*(d/6)): 44/42/42 at d = 128, 24/20/20 at d = 64.
  void rope_split(int out[3]) const {
    const int d = head_dim();
    out[1] = out[2] = 2 * (d / 6);
    out[0] = d - out[1] - out[2];
  }
  void validate() const;  // throws std::invalid_argument
};

// "tiny", "wan-1.3b", "wan-1.3b-2l" (wan-1.3b with 2 blocks), "wan-14b"; throws std::invalid_argument naming the known ones.
ModelConfig config_by_name(const std::string& name);
std::vector<std::string> config_names();

// One checkpoint tensor: Wan2.1 name and shape.
struct ParamInfo {
  std::string name;
  std::vector<long long> shape;
  long long numel() const {
    long long n = 1;
    for (long long s : shape) n *= s;
    return n;
  }
};
// Every tensor of the config in Wan2.1 naming, in a fixed order; router_groups > 0 adds
// blocks.N.self_attn.router.weight [M, dim] per block.
std::vector<ParamInfo> param_list(const ModelConfig& c, int router_groups = 0);
long long param_count(const ModelConfig& c, int router_groups = 0);

// Memory of one forward at `tokens` video tokens with `ctx_tokens` context tokens.
struct MemoryEstimate {
  long long params = 0;
  size_t weight_bytes = 0;      // parameters at `bytes_per_elem`
  size_t activation_bytes = 0;  // peak live activations of one forward (one batch item)
  size_t attention_bytes = 0;   // attention scratch (CPU reference: per-thread score rows)
  size_t sampler_bytes = 0;     // latents, velocity, CFG copies
  size_t total() const { return weight_bytes + activation_bytes + attention_bytes + sampler_bytes; }
};
// bytes_per_elem: 4 (CPU, float32) or 2 (GPU, bf16). cfg: classifier-free guidance doubles the
// per-step outputs (two forwards in sequence, activations reused).
MemoryEstimate estimate_memory(const ModelConfig& c, long long tokens, int ctx_tokens, int bytes_per_elem,
                               int router_groups, bool cfg, int threads);
std::string format_bytes(size_t b);
std::string format_memory(const MemoryEstimate& m, const char* backend);

}  // namespace moga::model
