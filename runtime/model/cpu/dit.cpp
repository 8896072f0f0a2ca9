#include "runtime/model/cpu/dit.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "runtime/model/cpu/activation.h"
#include "runtime/model/cpu/attention.h"
#include "runtime/model/cpu/norm.h"
#include "runtime/model/cpu/parallel.h"
#include "runtime/model/cpu/rope.h"
#include "runtime/model/router_calibration.h"

namespace moga::model::cpu {

int default_threads() {
  if (const char* e = std::getenv("MOGA_THREADS")) {
    const int n = std::atoi(e);
    if (n > 0) return std::min(n, 4096);  // the --threads bound: MOGA_THREADS=100000000 would spawn 1e8 threads
  }
  return (int)std::max(1u, std::thread::hardware_concurrency());
}

int pattern_router_groups(const ref::PatternSpec& p) {
  int M = 0;
  for (const auto& k : p.kernels)
    if (k.route) {
      if (M && M != k.route->groups)
        throw std::invalid_argument(fmt::format(
            "pattern '{}': routed kernels with different group counts ({} and {}); the DiT has one router per block",
            p.pattern, M, k.route->groups));
      M = k.route->groups;
    }
  return M;
}

namespace {

std::vector<float> take(Weights& w, const std::string& name) {
  auto it = w.tensors.find(name);
  if (it == w.tensors.end()) throw std::runtime_error("weights: no tensor '" + name + "'");
  std::vector<float> v = std::move(it->second);
  w.tensors.erase(it);
  return v;
}

Linear take_linear(Weights& w, const std::string& name, int out, int in) {
  const std::vector<float> W = take(w, name + ".weight"), b = take(w, name + ".bias");
  if (W.size() != (size_t)out * in || b.size() != (size_t)out)
    throw std::runtime_error(fmt::format("weights: '{}' has {} x {} values, expected {} x {}", name, W.size(), b.size(), out, in));
  return Linear::from_torch(W.data(), b.data(), out, in);
}

}  // namespace

CpuDiT::CpuDiT(Weights&& w, const ref::PatternSpec& pattern, int threads)
    : cfg_(w.config), pattern_(pattern), threads_(threads > 0 ? threads : default_threads()) {
  M_ = pattern_router_groups(pattern);
  routed_ = M_ > 0;
  if (routed_ && w.router_groups != M_)
    throw std::runtime_error(fmt::format("pattern '{}' routes to M = {} groups but the weights hold routers of M = {}",
                                         pattern.pattern, M_, w.router_groups));
  const int d = cfg_.dim;
  patch_ = take_linear(w, "patch_embedding", d, cfg_.in_channels * cfg_.patch_volume());
  text0_ = take_linear(w, "text_embedding.0", d, cfg_.text_dim);
  text2_ = take_linear(w, "text_embedding.2", d, d);
  time0_ = take_linear(w, "time_embedding.0", d, cfg_.freq_dim);
  time2_ = take_linear(w, "time_embedding.2", d, d);
  tproj_ = take_linear(w, "time_projection.1", 6 * d, d);
  head_ = take_linear(w, "head.head", cfg_.head_out(), d);
  head_mod_ = take(w, "head.modulation");
  blocks_.resize(cfg_.layers);
  for (int i = 0; i < cfg_.layers; ++i) {
    Block& b = blocks_[i];
    const std::string p = "blocks." + std::to_string(i) + ".";
    b.modulation = take(w, p + "modulation");
    b.q = take_linear(w, p + "self_attn.q", d, d);
    b.k = take_linear(w, p + "self_attn.k", d, d);
    b.v = take_linear(w, p + "self_attn.v", d, d);
    b.o = take_linear(w, p + "self_attn.o", d, d);
    b.norm_q = take(w, p + "self_attn.norm_q.weight");
    b.norm_k = take(w, p + "self_attn.norm_k.weight");
    if (routed_) {
      const std::vector<float> r = take(w, p + "self_attn.router.weight");  // [M][d]
      b.router_wt.resize((size_t)d * M_);
      for (int m = 0; m < M_; ++m)
        for (int j = 0; j < d; ++j) b.router_wt[(size_t)j * M_ + m] = r[(size_t)m * d + j];
    }
    b.cq = take_linear(w, p + "cross_attn.q", d, d);
    b.ck = take_linear(w, p + "cross_attn.k", d, d);
    b.cv = take_linear(w, p + "cross_attn.v", d, d);
    b.co = take_linear(w, p + "cross_attn.o", d, d);
    b.cnorm_q = take(w, p + "cross_attn.norm_q.weight");
    b.cnorm_k = take(w, p + "cross_attn.norm_k.weight");
    b.norm3_w = take(w, p + "norm3.weight");
    b.norm3_b = take(w, p + "norm3.bias");
    b.ffn0 = take_linear(w, p + "ffn.0", cfg_.ffn_dim, d);
    b.ffn2 = take_linear(w, p + "ffn.2", d, cfg_.ffn_dim);
  }
  w.tensors.clear();
}

std::vector<float> CpuDiT::router_weight(int layer) const {
  if (!routed_) throw std::logic_error("router_weight: the pattern is not routed");
  const int d = cfg_.dim;
  const std::vector<float>& wt = blocks_.at(layer).router_wt;  // [d][M]
  std::vector<float> r((size_t)M_ * d);
  for (int m = 0; m < M_; ++m)
    for (int j = 0; j < d; ++j) r[(size_t)m * d + j] = wt[(size_t)j * M_ + m];
  return r;
}

// h [N][d]: the block's router input (the LN-modulated hidden state); from the block's original
// router (kept at its first calibration), written in the CPU layout [d][M].
void CpuDiT::calibrate_router(int layer, const float* h, int N) {
  const int d = cfg_.dim;
  if (router_orig_.empty()) router_orig_.resize(cfg_.layers);
  if (router_orig_[layer].empty()) router_orig_[layer] = router_weight(layer);
  const std::vector<float> w = model::calibrate_router(router_orig_[layer], M_, d, h, N, threads_);
  std::vector<float>& wt = blocks_[layer].router_wt;
  for (int m = 0; m < M_; ++m)
    for (int j = 0; j < d; ++j) wt[(size_t)j * M_ + m] = w[(size_t)m * d + j];
}

EmbeddedContext CpuDiT::embed_context(const float* ctx, int L, StageTimes* t) const {
  if (L > cfg_.text_len)
    throw std::invalid_argument(fmt::format("context has {} tokens, more than text_len = {}", L, cfg_.text_len));
  StageClock clk(t);
  const int T = cfg_.text_len, d = cfg_.dim;
  std::vector<float> padded((size_t)T * cfg_.text_dim, 0.f);
  std::copy(ctx, ctx + (size_t)L * cfg_.text_dim, padded.begin());
  std::vector<float> h((size_t)T * d);
  EmbeddedContext e;
  e.x.resize((size_t)T * d);
  clk.lap(&StageTimes::other);
  linear_forward(text0_, padded.data(), T, h.data(), threads_);
  clk.lap(&StageTimes::gemm);
  gelu_tanh_inplace(h.data(), (long long)h.size());
  clk.lap(&StageTimes::other);
  linear_forward(text2_, h.data(), T, e.x.data(), threads_);
  clk.lap(&StageTimes::gemm);
  return e;
}

void CpuDiT::time_embedding(double timestep, float* e, float* e0, StageTimes* t) const {
  StageClock clk(t);
  const int d = cfg_.dim;
  std::vector<float> sin(cfg_.freq_dim), h(d), s(d);
  sinusoidal_embedding(cfg_.freq_dim, timestep, sin.data());
  clk.lap(&StageTimes::other);
  linear_forward(time0_, sin.data(), 1, h.data(), 1);
  clk.lap(&StageTimes::gemm);
  silu_inplace(h.data(), d);
  clk.lap(&StageTimes::other);
  linear_forward(time2_, h.data(), 1, e, 1);
  clk.lap(&StageTimes::gemm);
  for (int i = 0; i < d; ++i) s[i] = silu(e[i]);
  clk.lap(&StageTimes::other);
  linear_forward(tproj_, s.data(), 1, e0, threads_);
  clk.lap(&StageTimes::gemm);
}

void CpuDiT::forward(const float* latent, int F, int H, int W, double timestep,
                     const std::vector<const EmbeddedContext*>& contexts, const std::vector<int>& shot_starts, float* out,
                     StageTimes* t, RoutingStats* routing) {
  const ModelConfig& c = cfg_;
  if (F % c.patch[0] || H % c.patch[1] || W % c.patch[2])
    throw std::invalid_argument(fmt::format("latent {}x{}x{} is not a multiple of the patch ({}, {}, {})", F, H, W,
                                            c.patch[0], c.patch[1], c.patch[2]));
  PatchGrid g;
  g.C = c.in_channels, g.F = F, g.H = H, g.W = W, g.pt = c.patch[0], g.ph = c.patch[1], g.pw = c.patch[2];
  const int N = g.tokens(), d = c.dim, heads = c.heads, D = c.head_dim(), T = c.text_len;
  const int nshots = shot_starts.empty() ? 1 : (int)shot_starts.size();
  if (contexts.empty() || ((int)contexts.size() != 1 && (int)contexts.size() != nshots))
    throw std::invalid_argument(fmt::format("{} context(s) for {} shot(s): give one, or one per shot", contexts.size(), nshots));
  // Token ranges of the shots (frame-major tokens: a shot is a contiguous range).
  const int per_frame = g.gh() * g.gw();
  std::vector<int> shot_tok(nshots + 1, 0);
  for (int s = 0; s < nshots; ++s) shot_tok[s] = (shot_starts.empty() ? 0 : shot_starts[s] / c.patch[0]) * per_frame;
  shot_tok[nshots] = N;

  StageTimes local;
  StageTimes* tt = t ? t : &local;
  std::vector<float> e(d), e0(6 * d);
  time_embedding(timestep, e.data(), e0.data(), tt);

  StageClock clk(tt);
  const size_t Nd = (size_t)N * d;
  std::vector<float> x(Nd), h(Nd), q(Nd), k(Nd), v(Nd), a(Nd), y(Nd), ffh((size_t)N * c.ffn_dim);
  std::vector<float> cols((size_t)N * g.patch_len()), kc((size_t)T * d), vc((size_t)T * d), kraw((size_t)T * d), mod(6 * d);
  ref::VideoShape grid;
  grid.F = g.gf(), grid.H = g.gh(), grid.W = g.gw();
  if (nshots > 1)
    for (int s = 0; s < nshots; ++s) grid.shot_starts.push_back(shot_starts[s] / c.patch[0]);
  const RopeTable rope = make_rope(D, g.gf(), g.gh(), g.gw(), c.rope_theta);
  clk.lap(&StageTimes::other);

  im2col_patches(latent, g, cols.data());
  clk.lap(&StageTimes::other);
  linear_forward(patch_, cols.data(), N, x.data(), threads_);
  clk.lap(&StageTimes::gemm);

  const float eps = (float)c.eps;
  if (routing) {
    routing->M = M_;
    routing->counts.assign(routed_ ? c.layers : 0, std::vector<int>(M_, 0));
  }
  // Router calibration (mode First: the first forward; Step: a new timestep): block by block (each
  // block's router input depends on the calibrated routers before it).
  const bool calibrate_this_forward = routed_ && router_calibration_due(calibration_, calibrations_, calibrated_t_, timestep);
  for (int li = 0; li < c.layers; ++li) {
    const Block& b = blocks_[li];
    for (int i = 0; i < 6 * d; ++i) mod[i] = b.modulation[i] + e0[i];
    const float *shift1 = &mod[0], *scale1 = &mod[d], *gate1 = &mod[2 * d];
    const float *shift2 = &mod[3 * d], *scale2 = &mod[4 * d], *gate2 = &mod[5 * d];

    // ---- self-attention: x += o(attn(rope(rms(q(h))), rope(rms(k(h))), v(h))) * gate1, h = LN(x)(1+scale1)+shift1
    layer_norm_modulate(x.data(), N, d, eps, shift1, scale1, h.data(), threads_);
    if (calibrate_this_forward) calibrate_router(li, h.data(), N);
    clk.lap(&StageTimes::other);
    linear_forward(b.q, h.data(), N, y.data(), threads_);
    linear_forward(b.k, h.data(), N, a.data(), threads_);
    linear_forward(b.v, h.data(), N, v.data(), threads_);
    clk.lap(&StageTimes::gemm);
    rms_norm(y.data(), N, d, eps, b.norm_q.data(), q.data(), threads_);
    rms_norm(a.data(), N, d, eps, b.norm_k.data(), k.data(), threads_);
    apply_rope(rope, q.data(), N, heads, threads_);
    apply_rope(rope, k.data(), N, heads, threads_);
    clk.lap(&StageTimes::other);
    SelfAttnInputs si;
    si.pattern = &pattern_;
    si.heads = heads, si.head_dim = D, si.grid = grid;
    si.q = q.data(), si.k = k.data(), si.v = v.data();
    si.router_x = h.data(), si.router_w = routed_ ? b.router_wt.data() : nullptr, si.d_model = d;
    si.threads = threads_;
    const std::vector<ref::Grouping> groups = self_attention(si, a.data());
    clk.lap(&StageTimes::attention);
    if (routing && routed_)
      for (const auto& gr : groups)
        if (gr.routed()) {
          for (size_t i = 0; i < gr.gid.size(); i += gr.k) ++routing->counts[li][gr.gid[i]];
          break;
        }
    linear_forward(b.o, a.data(), N, y.data(), threads_);
    clk.lap(&StageTimes::gemm);
    add_gated(x.data(), y.data(), gate1, N, d);

    // ---- cross-attention: x += o(attn(rms(q(norm3(x))), rms(k(ctx)), v(ctx)))
    layer_norm(x.data(), N, d, eps, b.norm3_w.data(), b.norm3_b.data(), h.data(), threads_);
    clk.lap(&StageTimes::other);
    linear_forward(b.cq, h.data(), N, y.data(), threads_);
    clk.lap(&StageTimes::gemm);
    rms_norm(y.data(), N, d, eps, b.cnorm_q.data(), q.data(), threads_);
    clk.lap(&StageTimes::other);
    for (int s = 0; s < nshots; ++s) {
      const int t0 = shot_tok[s], t1 = shot_tok[s + 1];
      if (t1 <= t0) continue;
      if (s == 0 || contexts.size() > 1) {  // k/v of this shot's context
        const EmbeddedContext& ctx = *contexts[contexts.size() > 1 ? s : 0];
        linear_forward(b.ck, ctx.x.data(), T, kraw.data(), threads_);
        clk.lap(&StageTimes::gemm);
        rms_norm(kraw.data(), T, d, eps, b.cnorm_k.data(), kc.data(), threads_);
        clk.lap(&StageTimes::other);
        linear_forward(b.cv, ctx.x.data(), T, vc.data(), threads_);
        clk.lap(&StageTimes::gemm);
      }
      dense_attention(q.data() + (size_t)t0 * d, kc.data(), vc.data(), t1 - t0, T, heads, D, a.data() + (size_t)t0 * d,
                      threads_);
      clk.lap(&StageTimes::attention, &StageTimes::cross);
    }
    linear_forward(b.co, a.data(), N, y.data(), threads_);
    clk.lap(&StageTimes::gemm);
    add_inplace(x.data(), y.data(), (long long)Nd);

    // ---- FFN: x += ffn2(gelu(ffn0(LN(x)(1+scale2)+shift2))) * gate2
    layer_norm_modulate(x.data(), N, d, eps, shift2, scale2, h.data(), threads_);
    clk.lap(&StageTimes::other);
    linear_forward(b.ffn0, h.data(), N, ffh.data(), threads_);
    clk.lap(&StageTimes::gemm);
    gelu_tanh_inplace(ffh.data(), (long long)ffh.size());
    clk.lap(&StageTimes::other);
    linear_forward(b.ffn2, ffh.data(), N, y.data(), threads_);
    clk.lap(&StageTimes::gemm);
    add_gated(x.data(), y.data(), gate2, N, d);
  }
  if (calibrate_this_forward) ++calibrations_, calibrated_t_ = timestep;

  // ---- head: head(LN(x)(1+m1)+m0), m = head.modulation + e
  std::vector<float> m(2 * d);
  for (int i = 0; i < 2 * d; ++i) m[i] = head_mod_[i] + e[i % d];
  layer_norm_modulate(x.data(), N, d, eps, &m[0], &m[d], h.data(), threads_);
  clk.lap(&StageTimes::other);
  std::vector<float> o((size_t)N * c.head_out());
  linear_forward(head_, h.data(), N, o.data(), threads_);
  clk.lap(&StageTimes::gemm);
  unpatchify(o.data(), g, c.out_channels, out);
  clk.lap(&StageTimes::other);
}

}  // namespace moga::model::cpu
