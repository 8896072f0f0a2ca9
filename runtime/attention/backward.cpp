#include "runtime/attention/backward.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <tuple>

#include "kernels_src/cuda/bwd_params.cuh"
#include "runtime/attention/host_shape.h"
#include "runtime/jit/check.h"
#include "runtime/jit/driver.h"
#include "runtime/jit/jit.h"
#include "runtime/jit/module.h"
#include "runtime/kernels/embedded.h"
#include "runtime/reference/block_map.h"

namespace moga::rt {

namespace {

constexpr int kTile = 64;  // AttnBwdCfg's BM = BN

ref::BlockMapOptions map_options() {
  ref::BlockMapOptions bo;
  bo.block_m = kTile;
  bo.block_n = kTile;
  bo.density_budget = 0;
  return bo;
}
constexpr double kLog2e = 1.4426950408889634;

void launch(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned threads, unsigned smem, CUstream st,
            void** args) {
  CU_CHECK(jit::driver().cuLaunchKernel(f, gx, gy, gz, threads, 1, 1, smem, st, args, nullptr));
}

std::unique_ptr<jit::DeviceBuffer> upload_ints(const std::vector<int>& v) {
  auto b = std::make_unique<jit::DeviceBuffer>(std::max<size_t>(16, v.size() * sizeof(int)));
  if (!v.empty()) b->upload(v);
  return b;
}

}  // namespace

struct AttentionBackward::Impl {
  std::string variant;  // moga_gen_<pattern>::<kernel>
  const ref::KernelSpec* ks = nullptr;

  struct Mod {
    jit::CompiledKernel ck;
    std::unique_ptr<jit::Module> mod;
    CUfunction pre = nullptr, main_atomic = nullptr, main_det = nullptr, dq = nullptr, convert = nullptr,
               gate = nullptr;
    int smem = 0, dq_smem = 0;
  };
  std::map<int, std::unique_ptr<Mod>> mods;

  // A token order and its block map on the device.
  struct Order {
    // masked or grouped kernels: the 64x64 block map, query-major (attention_bwd_dq) and key-major (attention_bwd)
    std::unique_ptr<jit::DeviceBuffer> fcnt, fidx, pcnt, pidx, tfcnt, tfidx, tpcnt, tpidx;
    // grouped kernels: the tokens sorted by group (stable), [B][N] each; routed + gated: gate at sorted positions
    std::unique_ptr<jit::DeviceBuffer> perm, gid, gate;
    int tq = 0, tk = 0;
    // order: one batch item's (replicated B times) or all B; bm: one map per batch item of `order`
    void upload(const ref::TokenOrder& order, const ref::BlockMap& bm, int B);
  };
  using ShapeKey = std::tuple<int, int, bool, int, int, int, std::vector<int>>;
  struct ShapeState {
    ref::Shape host;
    std::unique_ptr<jit::DeviceBuffer> sof, sfirst;
    MaskShape ms{};
    Order order;  // static kernels (masked, computed key); routed kernels: Impl::routed, per call
  };
  std::map<ShapeKey, std::unique_ptr<ShapeState>> shapes;
  Order routed;
  void route(const ref::Shape& host, const AttentionShape& s, const BackwardInputs& in, CUstream stream);
  std::unique_ptr<jit::DeviceBuffer> delta, dq_acc;

  std::vector<std::string> exprs(int D) const {
    return {fmt::format("moga::attn_bwd_preprocess_kernel<{}>", D),
            fmt::format("moga::attention_bwd<{}, {}, true>", variant, D),
            fmt::format("moga::attention_bwd<{}, {}, false>", variant, D),
            fmt::format("moga::attention_bwd_dq<{}, {}>", variant, D),
            fmt::format("moga::attn_bwd_convert_kernel<{}>", D),
            fmt::format("&moga::attn_bwd_smem_bytes<{}>", D),
            fmt::format("&moga::attn_bwd_dq_smem_bytes<{}>", D),
            fmt::format("moga::attn_bwd_gate_kernel<{}>", D)};
  }
  jit::CompileOptions compile_options(const LoadedPattern& pat, const BackwardOptions& o, int D) const {
    jit::CompileOptions c;
    c.name = fmt::format("moga-bwd-{}-d{}", pat.spec.pattern, D);
    c.arch = o.arch;
    c.flags = o.nvrtc_flags;
    for (const auto& h : kernels::embedded_headers()) c.headers.push_back({h.name, h.text});
    c.name_expressions = exprs(D);
    return c;
  }
  Mod& module(const LoadedPattern& pat, const BackwardOptions& o, int D);
  ShapeState& shape_state(const AttentionShape& s);
};

AttentionBackward::AttentionBackward(LoadedPattern pattern, BackwardOptions options)
    : pattern_(std::move(pattern)), options_(std::move(options)), forward_(pattern_), impl_(std::make_unique<Impl>()) {
  const auto& spec = pattern_.spec;
  if (spec.kernels.size() != 1)
    throw NotSupportedError(fmt::format("backward: pattern '{}' has {} kernels; the backward runs single-kernel "
                                        "patterns only so far (mixtures are not supported yet)",
                                        spec.pattern, spec.kernels.size()));
  const ref::KernelSpec& k = spec.kernels[0];
  if (k.route && k.route->topk != 1)
    throw NotSupportedError(fmt::format("backward: kernel '{}' is routed top {} (route linear({}) top {}): top-k "
                                        "routing with k > 1 is not supported by the backward yet (top 1 is)",
                                        k.name, k.route->topk, k.route->groups, k.route->topk));
  if (k.gate)
    throw NotSupportedError(fmt::format("backward: kernel '{}' has a gate program: gates (and the gate gradient) "
                                        "are not supported by the backward yet",
                                        k.name));
  impl_->ks = &k;
  impl_->variant = fmt::format("moga_gen_{}::{}", spec.pattern, k.name);
}

AttentionBackward::~AttentionBackward() = default;

void AttentionBackward::validate(const BackwardInputs& in, const BackwardOutputs& g, const AttentionShape& s) const {
  const ref::KernelSpec& ks = pattern_.spec.kernels[0];
  if (ks.route) {
    if (!in.route_gid || !in.route_prob)
      throw ArgumentError(fmt::format("route_gid / route_prob: missing; kernel '{}' is routed: pass the forward's "
                                      "routing (device int32 gid and float32 prob, [B][N])",
                                      ks.name));
    if (in.route_gid % 4 || in.route_prob % 4) throw ArgumentError("route_gid / route_prob: not 4-byte aligned");
    if (ks.route_gate && (!g.dgate || g.dgate % 4))
      throw ArgumentError(fmt::format("dgate: missing or not 4-byte aligned; kernel '{}' is gated by the router "
                                      "probability: pass a float32 [B][N] buffer for d L / d gate",
                                      ks.name));
  } else if (in.route_gid || in.route_prob || g.dgate) {
    throw ArgumentError(fmt::format("route_gid / route_prob / dgate given, but kernel '{}' is not routed",
                                    ks.name));
  }
  RouterInputs given;  // the forward's checks of a given routing (x and W_r are not needed then)
  if (ks.route) given.routing = {{in.route_gid, in.route_prob}};
  forward_.validate(in.q, in.k, in.v, in.out, s, ks.route ? &given : nullptr);
  if (in.k.rank == 4 && in.k.shape[1] != s.N)
    throw NotSupportedError(fmt::format("backward: k has {} tokens and q {}: cross-attention (Nk != N) is not "
                                        "supported by the backward yet",
                                        in.k.shape[1], s.N));
  expect_bnhd(in.dout, "dout", s.B, s.N, s.H, s.D);
  expect_bnhd(g.dq, "dq", s.B, s.N, s.H, s.D);
  expect_bnhd(g.dk, "dk", s.B, s.N, s.H, s.D);
  expect_bnhd(g.dv, "dv", s.B, s.N, s.H, s.D);
  if (!in.lse)
    throw ArgumentError("lse: missing (0): the backward needs the forward's log-sum-exp, float32 [B][H][N] "
                        "(AttentionOptions::lse and RunOptions::lse on the forward)");
  if (in.lse % 4) throw ArgumentError("lse: the buffer is not 4-byte aligned");
  const std::pair<const TensorView*, const char*> outs[] = {{&g.dq, "dq"}, {&g.dk, "dk"}, {&g.dv, "dv"}};
  const std::pair<const TensorView*, const char*> ins[] = {
      {&in.q, "q"}, {&in.k, "k"}, {&in.v, "v"}, {&in.out, "out"}, {&in.dout, "dout"}};
  for (const auto& [o, on] : outs) {
    for (const auto& [i, inn] : ins)
      if (overlaps(*o, *i)) throw ArgumentError(fmt::format("{} overlaps the input {}: pass separate buffers", on, inn));
    for (const auto& [o2, on2] : outs)
      if (o != o2 && overlaps(*o, *o2)) throw ArgumentError(fmt::format("{} and {} overlap: pass separate buffers", on, on2));
  }
}

std::vector<std::string> AttentionBackward::compile(int D) {
  if (D != 64 && D != 128)
    throw ArgumentError(fmt::format("head dim {} is not supported: the kernels exist for D = 64 and 128", D));
  const jit::CompileOptions o = impl_->compile_options(pattern_, options_, D);
  jit::compile(pattern_.cuda, o);
  return o.name_expressions;
}

AttentionBackward::Impl::Mod& AttentionBackward::Impl::module(const LoadedPattern& pat, const BackwardOptions& o,
                                                              int D) {
  auto it = mods.find(D);
  if (it != mods.end()) return *it->second;
  jit::Device& dev = jit::Device::get();
  auto m = std::make_unique<Mod>();
  m->ck = jit::compile(pat.cuda, compile_options(pat, o, D));
  m->mod = std::make_unique<jit::Module>(m->ck, dev);
  const std::vector<std::string> e = exprs(D);
  auto fn = [&](const std::string& x) { return m->mod->function(m->ck.symbol(x).c_str()); };
  auto global_int = [&](const std::string& x) {
    CUdeviceptr g = 0;
    size_t bytes = 0;
    int v = 0;
    CU_CHECK(jit::driver().cuModuleGetGlobal(&g, &bytes, m->mod->handle(), m->ck.symbol(x).c_str()));
    CU_CHECK(jit::driver().cuMemcpyDtoH(&v, g, sizeof(int)));
    return v;
  };
  m->pre = fn(e[0]);
  m->main_atomic = fn(e[1]);
  m->main_det = fn(e[2]);
  m->dq = fn(e[3]);
  m->convert = fn(e[4]);
  m->smem = global_int(e[5]);
  m->dq_smem = global_int(e[6]);
  m->gate = fn(e[7]);
  const int optin = dev.attribute(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
  if (m->smem > optin || m->dq_smem > optin)
    throw NotSupportedError(fmt::format("backward at D={} needs {} bytes of shared memory; the device allows {}", D,
                                        std::max(m->smem, m->dq_smem), optin));
  for (CUfunction f : {m->main_atomic, m->main_det})
    CU_CHECK(jit::driver().cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, m->smem));
  CU_CHECK(jit::driver().cuFuncSetAttribute(m->dq, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, m->dq_smem));
  return *mods.emplace(D, std::move(m)).first->second;
}

AttentionBackward::Impl::ShapeState& AttentionBackward::Impl::shape_state(const AttentionShape& s) {
  ShapeKey key{s.B, s.N, s.video, s.F, s.Hgt, s.Wid, s.shot_starts};
  auto it = shapes.find(key);
  if (it != shapes.end()) return *it->second;
  auto st = std::make_unique<ShapeState>();
  st->host = host_shape(s);
  const MaskShape& hm = st->host.mask();
  st->ms = hm;
  st->ms.shot_of_frame = nullptr;
  st->ms.shot_first = nullptr;
  if (hm.shot_of_frame && hm.shot_first) {
    const int nshots = st->host.num_shots();
    st->sof = upload_ints(std::vector<int>(hm.shot_of_frame, hm.shot_of_frame + hm.F));
    st->sfirst = upload_ints(std::vector<int>(hm.shot_first, hm.shot_first + nshots + 1));
    st->ms.shot_of_frame = reinterpret_cast<const int*>(st->sof->ptr());
    st->ms.shot_first = reinterpret_cast<const int*>(st->sfirst->ptr());
  }
  st->order.tq = st->order.tk = (s.N + kTile - 1) / kTile;
  if ((ks->mask || ks->key) && !ks->route) {
    // The forward's classification (the same tile evaluator of the mask program, the group-id intervals) at
    // the backward's tiles. Masks and computed keys are functions of the shape, so once per shape, and every
    // batch item has the same order and map. The order: identity, or the tokens stably sorted by their key
    // (the forward's order without its alignment padding; empty groups take no positions).
    const ref::TokenOrder order = ks->key ? ref::token_order(ref::key_groups(*ks->key, st->host, 1), true)
                                          : ref::token_order(ref::single_group(1, s.N), false);
    st->order.upload(order, ref::build_block_map(*ks, st->host, order, map_options()), s.B);
  }
  return *shapes.emplace(std::move(key), std::move(st)).first->second;
}

void AttentionBackward::Impl::Order::upload(const ref::TokenOrder& order, const ref::BlockMap& bm, int B) {
  const int N = order.N;
  if (order.grouped) {
    std::vector<int> pm, gd;
    for (int b = 0; b < B; ++b) {
      const size_t o = (size_t)(b % order.B) * N;
      pm.insert(pm.end(), order.perm.begin() + o, order.perm.begin() + o + N);
      gd.insert(gd.end(), order.gid.begin() + o, order.gid.begin() + o + N);
    }
    perm = upload_ints(pm);
    gid = upload_ints(gd);
  }
  tq = bm.tq, tk = bm.tk;
  std::vector<int> fc((size_t)B * tq, 0), pc((size_t)B * tq, 0), fi((size_t)B * tq * tk, 0), pi((size_t)B * tq * tk, 0);
  std::vector<int> tfc((size_t)B * tk, 0), tpc((size_t)B * tk, 0), tfi((size_t)B * tk * tq, 0), tpi((size_t)B * tk * tq, 0);
  for (int b = 0; b < B; ++b)
    for (int i = 0; i < tq; ++i)
      for (int j = 0; j < tk; ++j) {
        const ref::TileClass c = bm.at(b % bm.B, i, j);
        if (c == ref::TileClass::Empty) continue;
        const size_t qi = (size_t)b * tq + i, kj = (size_t)b * tk + j;
        if (c == ref::TileClass::Full) {
          fi[qi * tk + fc[qi]++] = j;
          tfi[kj * tq + tfc[kj]++] = i;
        } else {
          pi[qi * tk + pc[qi]++] = j;
          tpi[kj * tq + tpc[kj]++] = i;
        }
      }
  fcnt = upload_ints(fc), fidx = upload_ints(fi), pcnt = upload_ints(pc), pidx = upload_ints(pi);
  tfcnt = upload_ints(tfc), tfidx = upload_ints(tfi), tpcnt = upload_ints(tpc), tpidx = upload_ints(tpi);
}

// Routed kernels: the forward's routing (device gid / prob) downloaded and sorted on the host every call, the
// block map classified there too (the GPU sort and map of prep.cuh are the faster path, not wired in yet).
void AttentionBackward::Impl::route(const ref::Shape& host, const AttentionShape& s, const BackwardInputs& in,
                                    CUstream stream) {
  const size_t n = (size_t)s.B * s.N;
  std::vector<int> g(n);
  std::vector<float> pr(n);
  CU_CHECK(jit::driver().cuStreamSynchronize(stream));
  CU_CHECK(jit::driver().cuMemcpyDtoH(g.data(), in.route_gid, n * sizeof(int)));
  CU_CHECK(jit::driver().cuMemcpyDtoH(pr.data(), in.route_prob, n * sizeof(float)));
  const int M = ks->route->groups;
  ref::Grouping gr;
  gr.B = s.B, gr.N = s.N, gr.k = 1, gr.M = M;
  gr.gid = g;
  gr.prob.assign(pr.begin(), pr.end());
  for (size_t i = 0; i < n; ++i)
    if (g[i] < 0 || g[i] >= M)
      throw ArgumentError(fmt::format("route_gid: token {} of batch item {} has group {}; kernel '{}' routes to "
                                      "groups 0..{}",
                                      i % s.N, i / s.N, g[i], ks->name, M - 1));
  const ref::TokenOrder order = ref::token_order(gr, true);
  routed.upload(order, ref::build_block_map(*ks, host, order, map_options()), s.B);
  if (ks->route_gate) {
    std::vector<float> gs(n);
    for (size_t i = 0; i < n; ++i) gs[i] = pr[(i / s.N) * s.N + order.perm[i]];
    routed.gate = std::make_unique<jit::DeviceBuffer>(std::max<size_t>(16, n * sizeof(float)));
    routed.gate->upload(gs);
  }
}

void AttentionBackward::run(const BackwardInputs& in, const BackwardOutputs& g, const AttentionShape& s,
                            CUstream stream) {
  validate(in, g, s);
  jit::Device::get().make_current();
  Impl& im = *impl_;
  Impl::Mod& m = im.module(pattern_, options_, s.D);
  Impl::ShapeState& st = im.shape_state(s);

  AttnBwdParams p{};
  AttnParams& a = p.a;
  a.q = reinterpret_cast<const void*>(in.q.ptr);
  a.k = reinterpret_cast<const void*>(in.k.ptr);
  a.v = reinterpret_cast<const void*>(in.v.ptr);
  a.q_sb = in.q.strides[0], a.q_sn = in.q.strides[1], a.q_sh = in.q.strides[2];
  a.k_sb = in.k.strides[0], a.k_sn = in.k.strides[1], a.k_sh = in.k.strides[2];
  a.v_sb = in.v.strides[0], a.v_sn = in.v.strides[1], a.v_sh = in.v.strides[2];
  a.B = s.B, a.N = s.N, a.H = s.H;
  const double scale = im.ks->scale ? *im.ks->scale : 1.0 / std::sqrt((double)s.D);
  a.scale_log2 = (float)(scale * kLog2e);
  a.weight = (float)im.ks->weight;
  a.shape = st.ms;
  p.dout = reinterpret_cast<const void*>(in.dout.ptr);
  p.do_sb = in.dout.strides[0], p.do_sn = in.dout.strides[1], p.do_sh = in.dout.strides[2];
  p.out = reinterpret_cast<const void*>(in.out.ptr);
  p.o_sb = in.out.strides[0], p.o_sn = in.out.strides[1], p.o_sh = in.out.strides[2];
  p.lse = reinterpret_cast<const float*>(in.lse);
  p.dq = reinterpret_cast<void*>(g.dq.ptr);
  p.dk = reinterpret_cast<void*>(g.dk.ptr);
  p.dv = reinterpret_cast<void*>(g.dv.ptr);
  p.dq_sb = g.dq.strides[0], p.dq_sn = g.dq.strides[1], p.dq_sh = g.dq.strides[2];
  p.dk_sb = g.dk.strides[0], p.dk_sn = g.dk.strides[1], p.dk_sh = g.dk.strides[2];
  p.dv_sb = g.dv.strides[0], p.dv_sn = g.dv.strides[1], p.dv_sh = g.dv.strides[2];
  if (im.ks->route) im.route(st.host, s, in, stream);
  const Impl::Order& od = im.ks->route ? im.routed : st.order;
  auto ip = [](const std::unique_ptr<jit::DeviceBuffer>& b) { return reinterpret_cast<const int*>(b->ptr()); };
  if (od.perm) a.perm = ip(od.perm), a.gid = ip(od.gid);
  if (od.gate) a.gate = reinterpret_cast<const float*>(od.gate->ptr());
  if (od.fcnt) {
    a.map = {ip(od.fcnt), ip(od.fidx), ip(od.pcnt), ip(od.pidx), od.tq, od.tk};
    p.mapT = {ip(od.tfcnt), ip(od.tfidx), ip(od.tpcnt), ip(od.tpidx), od.tq, od.tk};
  }
  p.dgate = reinterpret_cast<float*>(g.dgate);
  const size_t rows = (size_t)s.B * s.H * s.N;
  if (!im.delta || im.delta->bytes() < rows * sizeof(float)) {
    im.delta.reset();
    im.delta = std::make_unique<jit::DeviceBuffer>(rows * sizeof(float));
  }
  p.dq_delta = reinterpret_cast<float*>(im.delta->ptr());
  const size_t acc_bytes = rows * s.D * sizeof(float);
  if (!options_.deterministic && (!im.dq_acc || im.dq_acc->bytes() < acc_bytes)) {
    im.dq_acc.reset();
    im.dq_acc = std::make_unique<jit::DeviceBuffer>(acc_bytes);
  }
  p.dq_acc = options_.deterministic ? nullptr : reinterpret_cast<float*>(im.dq_acc->ptr());

  void* args[] = {&p};
  const unsigned warps_blocks = (unsigned)std::min<size_t>((rows + 7) / 8, 65535u * 4);
  launch(m.pre, warps_blocks, 1, 1, 256, 0, stream, args);
  if (a.gate) {
    const size_t n = (size_t)s.B * s.N;
    launch(m.gate, (unsigned)std::min<size_t>((n + 255) / 256, 65535u * 8), 1, 1, 256, 0, stream, args);
  }
  const unsigned tiles = (unsigned)((s.N + kTile - 1) / kTile);
  if (options_.deterministic) {
    launch(m.main_det, tiles, (unsigned)s.H, (unsigned)s.B, 128, (unsigned)m.smem, stream, args);
    launch(m.dq, tiles, (unsigned)s.H, (unsigned)s.B, 128, (unsigned)m.dq_smem, stream, args);
  } else {
    CU_CHECK(jit::driver().cuMemsetD32Async(im.dq_acc->ptr(), 0, rows * s.D, stream));
    launch(m.main_atomic, tiles, (unsigned)s.H, (unsigned)s.B, 128, (unsigned)m.smem, stream, args);
    const size_t n8 = rows * (s.D / 8);
    launch(m.convert, (unsigned)std::min<size_t>((n8 + 255) / 256, 65535u * 8), 1, 1, 256, 0, stream, args);
  }
}

}  // namespace moga::rt
