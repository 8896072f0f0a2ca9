// The Wan2.1 DiT on the CPU in float32 (docs/model.md): patch embedding, time and text embeddings,
// `layers` blocks (adaLN-modulated self-attention through any compiled pattern, cross-attention
// over the text, FFN), the modulated head, unpatchify. One batch item per forward.
#pragma once

#include <vector>

#include "runtime/model/config.h"
#include "runtime/model/cpu/embedding.h"
#include "runtime/model/cpu/linear.h"
#include "runtime/model/profile.h"
#include "runtime/model/router_calibration.h"
#include "runtime/model/weights.h"
#include "runtime/reference/attention.h"
#include "runtime/reference/manifest.h"

namespace moga::model::cpu {

struct Block {
  std::vector<float> modulation;  // [6][dim]
  Linear q, k, v, o;
  std::vector<float> norm_q, norm_k;
  std::vector<float> router_wt;   // [dim][M] (routed patterns)
  Linear cq, ck, cv, co;
  std::vector<float> cnorm_q, cnorm_k;
  std::vector<float> norm3_w, norm3_b;
  Linear ffn0, ffn2;
};

// The text context of one shot after text_embedding: [text_len][dim].
struct EmbeddedContext {
  std::vector<float> x;
};

// Router group sizes of the last forward, per block (routed patterns; empty otherwise).
struct RoutingStats {
  int M = 0;
  std::vector<std::vector<int>> counts;  // [layer][M]
};

class CpuDiT {
 public:
  // Consumes the weights (each tensor is transposed into the CPU layout and released).
  CpuDiT(Weights&& w, const ref::PatternSpec& pattern, int threads);
  const ModelConfig& config() const { return cfg_; }
  int threads() const { return threads_; }

  // context [L][text_dim], L <= text_len (zero-padded to text_len, as Wan does).
  EmbeddedContext embed_context(const float* context, int L, StageTimes* t = nullptr) const;

  // velocity = forward(latent [16][F][H][W] (latent pixels), timestep t in [0, 1000]);
  // contexts: one per shot, or one for all shots; shot_starts: first latent frame of each shot
  // (empty: one shot). out: [out_channels][F][H][W]. Not const: with router calibration on, a forward
  // may replace the routers.
  void forward(const float* latent, int F, int H, int W, double timestep, const std::vector<const EmbeddedContext*>& contexts,
               const std::vector<int>& shot_starts, float* out, StageTimes* t = nullptr, RoutingStats* routing = nullptr);

  // Router calibration (runtime/model/router_calibration.h; routed patterns only, Off by default):
  // First: the first forward replaces each block's router by its calibrated version, computed from
  // that block's router input, and every later forward uses it; Step: likewise at every forward whose
  // timestep differs from the last calibration's, each time from the original routers (a host copy
  // kept at the first calibration). Set before the first forward.
  void set_router_calibration(RouterCalibration mode) { calibration_ = mode; }
  RouterCalibration router_calibration() const { return calibration_; }
  bool routers_calibrated() const { return routed_ && calibrations_ > 0; }
  // Forwards that (re)calibrated the routers so far.
  int router_calibrations() const { return routed_ ? calibrations_ : 0; }
  // Block `layer`'s router weight in use, in the checkpoint's layout [M][dim] (tests).
  std::vector<float> router_weight(int layer) const;

  // Time embedding e [dim] and e0 [6*dim] (exposed for tests).
  void time_embedding(double timestep, float* e, float* e0, StageTimes* t = nullptr) const;

 private:
  ModelConfig cfg_;
  ref::PatternSpec pattern_;
  bool routed_ = false;
  int M_ = 0;
  int threads_ = 1;
  RouterCalibration calibration_ = RouterCalibration::Off;
  int calibrations_ = 0;
  double calibrated_t_ = 0;                    // the timestep of the last calibration
  std::vector<std::vector<float>> router_orig_;  // [layer][M * dim]: the original routers (first calibration)
  void calibrate_router(int layer, const float* h, int N);
  Linear patch_, text0_, text2_, time0_, time2_, tproj_, head_;
  std::vector<float> head_mod_;  // [2][dim]
  std::vector<Block> blocks_;
};

// The pattern's router groups (0: not routed). Throws if routed kernels disagree on M.
int pattern_router_groups(const ref::PatternSpec& p);

}  // namespace moga::model::cpu
