#include "runtime/model/config.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace moga::model {

void ModelConfig::validate() const {
  auto bad = [&](const std::string& w) { throw std::invalid_argument("config '" + name + "': " + w); };
  if (dim < 1 || ffn_dim < 1 || heads < 1 || layers < 1 || text_dim < 1 || text_len < 1 || freq_dim < 2)
    bad("every size must be positive");
  if (dim % heads) bad(fmt::format("dim {} is not a multiple of heads {}", dim, heads));
  if (head_dim() % 2) bad("head_dim must be even (RoPE pairs)");
  if (freq_dim % 2) bad("freq_dim must be even");
  for (int p : patch)
    if (p < 1) bad("patch sizes must be >= 1");
}

ModelConfig config_by_name(const std::string& name) {
  ModelConfig c;
  c.name = name;
  if (name == "tiny") {
    // Small enough for unit tests and a CPU run in well under a second; head_dim 64 so the GPU
    // kernels (head_dim 64/128) can run it too.
    c.dim = 128, c.ffn_dim = 256, c.heads = 2, c.layers = 2, c.text_dim = 32, c.text_len = 16, c.freq_dim = 32;
  } else if (name == "wan-1.3b") {
    c.dim = 1536, c.ffn_dim = 8960, c.heads = 12, c.layers = 30, c.text_dim = 4096, c.text_len = 512, c.freq_dim = 256;
  } else if (name == "wan-1.3b-2l") {
    // wan-1.3b's widths with only 2 blocks: a 1.3B-width forward that fits a CPU comparison against
    // diffusers (bench/dit/compare_diffusers.py --config wan-1.3b-2l).
    c.dim = 1536, c.ffn_dim = 8960, c.heads = 12, c.layers = 2, c.text_dim = 4096, c.text_len = 512, c.freq_dim = 256;
  } else if (name == "wan-14b") {
    c.dim = 5120, c.ffn_dim = 13824, c.heads = 40, c.layers = 40, c.text_dim = 4096, c.text_len = 512, c.freq_dim = 256;
  } else {
    std::string known;
    for (const auto& n : config_names()) known += (known.empty() ? "" : ", ") + n;
    throw std::invalid_argument("unknown model config '" + name + "' (known: " + known + ")");
  }
  c.validate();
  return c;
}

std::vector<std::string> config_names() { return {"tiny", "wan-1.3b", "wan-1.3b-2l", "wan-14b"}; }

std::vector<ParamInfo> param_list(const ModelConfig& c, int M) {
  const long long d = c.dim;
  std::vector<ParamInfo> p;
  auto lin = [&](const std::string& n, long long out, long long in) {
    p.push_back({n + ".weight", {out, in}});
    p.push_back({n + ".bias", {out}});
  };
  p.push_back({"patch_embedding.weight", {d, c.in_channels, c.patch[0], c.patch[1], c.patch[2]}});
  p.push_back({"patch_embedding.bias", {d}});
  lin("text_embedding.0", d, c.text_dim);
  lin("text_embedding.2", d, d);
  lin("time_embedding.0", d, c.freq_dim);
  lin("time_embedding.2", d, d);
  lin("time_projection.1", 6 * d, d);
  for (int b = 0; b < c.layers; ++b) {
    const std::string pre = "blocks." + std::to_string(b) + ".";
    p.push_back({pre + "modulation", {1, 6, d}});
    for (const char* a : {"self_attn", "cross_attn"}) {
      for (const char* l : {"q", "k", "v", "o"}) lin(pre + a + "." + l, d, d);
      p.push_back({pre + a + ".norm_q.weight", {d}});
      p.push_back({pre + a + ".norm_k.weight", {d}});
    }
    if (M > 0) p.push_back({pre + "self_attn.router.weight", {M, d}});
    p.push_back({pre + "norm3.weight", {d}});
    p.push_back({pre + "norm3.bias", {d}});
    lin(pre + "ffn.0", c.ffn_dim, d);
    lin(pre + "ffn.2", d, c.ffn_dim);
  }
  p.push_back({"head.modulation", {1, 2, d}});
  lin("head.head", c.head_out(), d);
  return p;
}

long long param_count(const ModelConfig& c, int M) {
  long long n = 0;
  for (const auto& p : param_list(c, M)) n += p.numel();
  return n;
}

MemoryEstimate estimate_memory(const ModelConfig& c, long long N, int L, int bpe, int M, bool cfg, int threads) {
  MemoryEstimate m;
  m.params = param_count(c, M);
  m.weight_bytes = (size_t)m.params * bpe;
  const long long d = c.dim;
  // Live in a block: x (residual), the normed/modulated input, q, k, v, attention out (5 x N x d);
  // the FFN hidden (N x ffn) replaces q/k/v; context embedding L x d plus cross k/v 2 x L x d;
  // the time embedding e0 (6 x d). Take the maximum over the block's phases.
  const long long attn_phase = 6 * N * d;
  const long long ffn_phase = 2 * N * d + N * (long long)c.ffn_dim + N * d;
  const long long ctx = (long long)L * c.text_dim + 3LL * L * d;
  m.activation_bytes = (size_t)(std::max(attn_phase, ffn_phase) + ctx + 8 * d) * bpe;
  // CPU reference attention: per worker a score row (N) and a visible-key list (N ints), as double
  // or float; the GPU kernels need no N^2 scratch (FlashAttention), only the routing and the
  // permutation (a few ints per token).
  m.attention_bytes = bpe == 4 ? (size_t)std::max(1, threads) * N * 8 + (size_t)N * (M > 0 ? M * 8 + 16 : 16)
                               : (size_t)N * 32;
  // latent, noise-free velocity, (CFG) unconditional velocity: in float32 on both backends.
  const long long lat = N * c.head_out();
  m.sampler_bytes = (size_t)lat * 4 * (cfg ? 3 : 2);
  return m;
}

std::string format_bytes(size_t b) {
  const double x = (double)b;
  if (x >= 1024.0 * 1024 * 1024) return fmt::format("{:.2f} GiB", x / (1024.0 * 1024 * 1024));
  if (x >= 1024.0 * 1024) return fmt::format("{:.1f} MiB", x / (1024.0 * 1024));
  if (x >= 1024.0) return fmt::format("{:.1f} KiB", x / 1024.0);
  return fmt::format("{} B", b);
}

std::string format_memory(const MemoryEstimate& m, const char* backend) {
  return fmt::format(
      "memory estimate ({}): weights {} ({} params) + activations {} + attention {} + sampler {} = {}\n",
      backend, format_bytes(m.weight_bytes),
      m.params >= 1000000000 ? fmt::format("{:.3f} B", m.params / 1e9) : fmt::format("{:.2f} M", m.params / 1e6),
      format_bytes(m.activation_bytes),
      format_bytes(m.attention_bytes), format_bytes(m.sampler_bytes), format_bytes(m.total()));
}

}  // namespace moga::model
