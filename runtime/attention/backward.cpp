#include "runtime/attention/backward.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <tuple>

#include "kernels_src/cuda/bwd_params.cuh"
#include "runtime/attention/host_shape.h"
#include "runtime/jit/check.h"
#include "runtime/jit/compile_all.h"
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

// A gate program (`gate <expr over q>`: no gradient, it reads coordinates only) at the sorted positions, on the
// device: [B][Ne], batch item b from tokens[b % nb] (tokens: the token at each sorted position, [nb][Ne]).
std::unique_ptr<jit::DeviceBuffer> program_gates(const ref::KernelSpec& ks, const ref::Shape& host,
                                                 const std::vector<int>& tokens, int nb, int B) {
  ref::ElementEvaluator ev(*ks.gate);
  const size_t Ne = tokens.size() / nb;
  std::vector<float> g((size_t)B * Ne);
  for (size_t i = 0; i < g.size(); ++i)
    g[i] = (float)ev.gate(host.coords(tokens[(i / Ne) % nb * Ne + i % Ne]), host.mask());
  auto b = std::make_unique<jit::DeviceBuffer>(std::max<size_t>(16, g.size() * sizeof(float)));
  b->upload(g);
  return b;
}

}  // namespace

struct AttentionBackward::Impl {
  struct Kern {
    const ref::KernelSpec* ks = nullptr;
    std::string variant;  // moga_gen_<pattern>::<kernel>
    int routed = -1;      // index among the routed kernels (BackwardInputs::routing, BackwardOutputs::dgate)
  };
  std::vector<Kern> kerns;
  int routed_count = 0;

  // One NVRTC unit per pattern kernel (its three main kernels) and one for the shared ones, compiled in parallel.
  struct Mod {
    std::vector<jit::CompiledKernel> cks;
    std::vector<std::unique_ptr<jit::Module>> mods;
    struct K {
      CUfunction main_atomic = nullptr, main_det = nullptr, dq = nullptr;
    };
    std::vector<K> k;
    CUfunction pre = nullptr, fold = nullptr, gate = nullptr;
    int smem = 0, dq_smem = 0;
  };
  std::map<int, std::unique_ptr<Mod>> mods;

  // A row order and its block map on the device.
  struct Order {
    // masked or grouped kernels: the 64x64 block map, query-major (attention_bwd_dq) and key-major (attention_bwd)
    std::unique_ptr<jit::DeviceBuffer> fcnt, fidx, pcnt, pidx, tfcnt, tfidx, tpcnt, tpidx;
    // grouped kernels: the rows sorted by group (stable), [B][N k] each; routed + gated: gate at sorted positions
    std::unique_ptr<jit::DeviceBuffer> perm, gid, gate;
    std::unique_ptr<jit::DeviceBuffer> tok;  // top k: the token at each sorted position (perm holds entry rows)
    int tq = 0, tk = 0;
    // order: one batch item's (replicated B times) or all B; bm: one map per batch item of `order`; rows: the
    // row ids at the sorted positions ([B][N k], top-k entries) when they are not order.perm's tokens
    void upload(const ref::TokenOrder& order, const ref::BlockMap& bm, int B, const std::vector<int>* rows = nullptr);
  };
  using ShapeKey = std::tuple<int, int, bool, int, int, int, std::vector<int>>;
  struct ShapeState {
    ref::Shape host;
    std::unique_ptr<jit::DeviceBuffer> sof, sfirst;
    MaskShape ms{};
    std::vector<Order> order;  // per kernel: static kernels (ungrouped, computed key); routed: Impl::routed
  };
  std::map<ShapeKey, std::unique_ptr<ShapeState>> shapes;
  std::vector<Order> routed;  // per kernel index, routed kernels only, per call
  void route(int ki, const ref::Shape& host, const AttentionShape& s, const RouterInputs::Given& given,
             CUstream stream);
  // delta: D per row; acc: float32 dq, dk, dv [B][N][H][D] of a mixture; eacc: a top-k kernel's, by entry
  std::unique_ptr<jit::DeviceBuffer> delta, acc, eacc;

  std::vector<std::string> kernel_exprs(const Kern& k, int D) const {
    return {fmt::format("moga::attention_bwd<{}, {}, true>", k.variant, D),
            fmt::format("moga::attention_bwd<{}, {}, false>", k.variant, D),
            fmt::format("moga::attention_bwd_dq<{}, {}>", k.variant, D)};
  }
  std::vector<std::string> shared_exprs(int D) const {
    return {fmt::format("moga::attn_bwd_preprocess_kernel<{}>", D), fmt::format("moga::attn_bwd_fold_kernel<{}>", D),
            fmt::format("moga::attn_bwd_gate_kernel<{}>", D), fmt::format("&moga::attn_bwd_smem_bytes<{}>", D),
            fmt::format("&moga::attn_bwd_dq_smem_bytes<{}>", D)};
  }
  // The units: one per kernel, then the shared one.
  std::vector<jit::CompileJob> jobs(const LoadedPattern& pat, const BackwardOptions& o, int D) const {
    auto unit = [&](const std::string& what, std::vector<std::string> exprs) {
      jit::CompileOptions c;
      c.name = fmt::format("moga-bwd-{}-{}-d{}", pat.spec.pattern, what, D);
      c.arch = o.arch;
      c.flags = o.nvrtc_flags;
      for (const auto& h : kernels::embedded_headers()) c.headers.push_back({h.name, h.text});
      c.name_expressions = std::move(exprs);
      return jit::CompileJob{&pat.cuda, std::move(c)};
    };
    std::vector<jit::CompileJob> j;
    for (const Kern& k : kerns) j.push_back(unit(k.ks->name, kernel_exprs(k, D)));
    j.push_back(unit("shared", shared_exprs(D)));
    return j;
  }
  Mod& module(const LoadedPattern& pat, const BackwardOptions& o, int D);
  ShapeState& shape_state(const AttentionShape& s);
};

namespace {
AttentionOptions training_forward() {
  AttentionOptions o;
  o.lse = true;  // its validate_branches() accepts kept branches
  return o;
}
}  // namespace

AttentionBackward::AttentionBackward(LoadedPattern pattern, BackwardOptions options)
    : pattern_(std::move(pattern)),
      options_(std::move(options)),
      forward_(pattern_, training_forward()),
      impl_(std::make_unique<Impl>()) {
  const auto& spec = pattern_.spec;
  for (const ref::KernelSpec& k : spec.kernels) {
    Impl::Kern kn;
    kn.ks = &k;
    kn.variant = fmt::format("moga_gen_{}::{}", spec.pattern, k.name);
    if (k.route) kn.routed = impl_->routed_count++;
    impl_->kerns.push_back(std::move(kn));
  }
  if (impl_->kerns.empty()) throw ArgumentError(fmt::format("backward: pattern '{}' has no kernels", spec.pattern));
}

AttentionBackward::~AttentionBackward() = default;

void AttentionBackward::validate(const BackwardInputs& in, const BackwardOutputs& g, const AttentionShape& s) const {
  const Impl& im = *impl_;
  const size_t nk = im.kerns.size();
  const std::string& pname = pattern_.spec.pattern;
  if (in.lse.size() != nk)
    throw ArgumentError(fmt::format("lse: {} buffers given; pattern '{}' has {} kernels: pass each kernel's forward "
                                    "log-sum-exp, float32 [B][H][N k] (AttentionOptions::lse and RunOptions::lse on "
                                    "the forward)",
                                    in.lse.size(), pname, nk));
  for (size_t i = 0; i < nk; ++i) {
    if (!in.lse[i])
      throw ArgumentError(fmt::format("lse[{}] (kernel '{}'): missing (0): the backward needs the forward's "
                                      "log-sum-exp (AttentionOptions::lse and RunOptions::lse on the forward)",
                                      i, im.kerns[i].ks->name));
    if (in.lse[i] % 4) throw ArgumentError(fmt::format("lse[{}]: the buffer is not 4-byte aligned", i));
  }
  const bool need_branches =
      nk > 1 || std::any_of(im.kerns.begin(), im.kerns.end(), [](const Impl::Kern& k) { return k.ks->topk() > 1; });
  if (need_branches && in.branch_out.empty())
    throw ArgumentError(fmt::format("branch_out: missing; pattern '{}' {}: pass the forward's kept branch rows "
                                    "(RunOptions::branch_out, one bf16 [B, N k, H, D] per kernel)",
                                    pname, nk > 1 ? fmt::format("mixes {} kernels", nk) : "is routed top k > 1"));
  forward_.validate_branches(in.branch_out, in.q, in.k, in.v, in.out, s, "branch_out");
  if (in.routing.size() != (size_t)im.routed_count)
    throw ArgumentError(fmt::format("routing: {} entries given; pattern '{}' has {} routed kernels: pass the "
                                    "forward's routing of each (device int32 gid and float32 prob, [B][N][k])",
                                    in.routing.size(), pname, im.routed_count));
  for (size_t i = 0; i < in.routing.size(); ++i) {
    if (!in.routing[i].gid || !in.routing[i].prob)
      throw ArgumentError(fmt::format("routing[{}]: gid / prob missing; pass the forward's routing (device int32 gid "
                                      "and float32 prob, [B][N][k])",
                                      i));
    if (in.routing[i].gid % 4 || in.routing[i].prob % 4)
      throw ArgumentError(fmt::format("routing[{}]: gid / prob not 4-byte aligned", i));
  }
  if (!g.dgate.empty() && g.dgate.size() != (size_t)im.routed_count)
    throw ArgumentError(fmt::format("dgate: {} entries given; pattern '{}' has {} routed kernels (one each, 0 for "
                                    "kernels not gated by the router probability)",
                                    g.dgate.size(), pname, im.routed_count));
  for (const Impl::Kern& k : im.kerns) {
    if (k.routed < 0) continue;
    const CUdeviceptr d = g.dgate.empty() ? 0 : g.dgate[k.routed];
    if (k.ks->route_gate && (!d || d % 4))
      throw ArgumentError(fmt::format("dgate[{}]: missing or not 4-byte aligned; kernel '{}' is gated by the router "
                                      "probability: pass a float32 [B][N][k] buffer for d L / d gate",
                                      k.routed, k.ks->name));
    if (!k.ks->route_gate && d)
      throw ArgumentError(fmt::format("dgate[{}] given, but kernel '{}' has no `gate route.prob`: pass 0", k.routed,
                                      k.ks->name));
  }
  RouterInputs given;  // the forward's checks of a given routing (x and W_r are not needed then)
  given.routing = in.routing;
  forward_.validate(in.q, in.k, in.v, in.out, s, im.routed_count ? &given : nullptr);
  if (in.k.rank == 4 && in.k.shape[1] != s.N)
    throw NotSupportedError(fmt::format("backward: k has {} tokens and q {}: cross-attention (Nk != N) is not "
                                        "supported by the backward yet",
                                        in.k.shape[1], s.N));
  expect_bnhd(in.dout, "dout", s.B, s.N, s.H, s.D);
  expect_bnhd(g.dq, "dq", s.B, s.N, s.H, s.D);
  expect_bnhd(g.dk, "dk", s.B, s.N, s.H, s.D);
  expect_bnhd(g.dv, "dv", s.B, s.N, s.H, s.D);
  const std::pair<const TensorView*, const char*> outs[] = {{&g.dq, "dq"}, {&g.dk, "dk"}, {&g.dv, "dv"}};
  std::vector<std::pair<const TensorView*, std::string>> ins = {
      {&in.q, "q"}, {&in.k, "k"}, {&in.v, "v"}, {&in.out, "out"}, {&in.dout, "dout"}};
  for (size_t i = 0; i < in.branch_out.size(); ++i) ins.push_back({&in.branch_out[i], fmt::format("branch_out[{}]", i)});
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
  const std::vector<jit::CompileJob> jobs = impl_->jobs(pattern_, options_, D);
  jit::compile_all(jobs);
  std::vector<std::string> names;
  for (const auto& j : jobs) names.insert(names.end(), j.options.name_expressions.begin(), j.options.name_expressions.end());
  return names;
}

AttentionBackward::Impl::Mod& AttentionBackward::Impl::module(const LoadedPattern& pat, const BackwardOptions& o,
                                                              int D) {
  auto it = mods.find(D);
  if (it != mods.end()) return *it->second;
  jit::Device& dev = jit::Device::get();
  auto m = std::make_unique<Mod>();
  const std::vector<jit::CompileJob> js = jobs(pat, o, D);
  m->cks = jit::compile_all(js);
  for (const auto& ck : m->cks) m->mods.push_back(std::make_unique<jit::Module>(ck, dev));
  auto fn = [&](size_t unit, const std::string& x) { return m->mods[unit]->function(m->cks[unit].symbol(x).c_str()); };
  const size_t shared = kerns.size();
  auto global_int = [&](const std::string& x) {
    CUdeviceptr g = 0;
    size_t bytes = 0;
    int v = 0;
    CU_CHECK(jit::driver().cuModuleGetGlobal(&g, &bytes, m->mods[shared]->handle(), m->cks[shared].symbol(x).c_str()));
    CU_CHECK(jit::driver().cuMemcpyDtoH(&v, g, sizeof(int)));
    return v;
  };
  const std::vector<std::string> se = shared_exprs(D);
  m->pre = fn(shared, se[0]);
  m->fold = fn(shared, se[1]);
  m->gate = fn(shared, se[2]);
  m->smem = global_int(se[3]);
  m->dq_smem = global_int(se[4]);
  const int optin = dev.attribute(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
  if (m->smem > optin || m->dq_smem > optin)
    throw NotSupportedError(fmt::format("backward at D={} needs {} bytes of shared memory; the device allows {}", D,
                                        std::max(m->smem, m->dq_smem), optin));
  for (size_t ki = 0; ki < kerns.size(); ++ki) {
    const std::vector<std::string> e = kernel_exprs(kerns[ki], D);
    Mod::K k{fn(ki, e[0]), fn(ki, e[1]), fn(ki, e[2])};
    for (CUfunction f : {k.main_atomic, k.main_det})
      CU_CHECK(jit::driver().cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, m->smem));
    CU_CHECK(jit::driver().cuFuncSetAttribute(k.dq, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, m->dq_smem));
    m->k.push_back(k);
  }
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
  st->order.resize(kerns.size());
  for (size_t ki = 0; ki < kerns.size(); ++ki) {
    const ref::KernelSpec& ks = *kerns[ki].ks;
    Order& od = st->order[ki];
    od.tq = od.tk = (s.N + kTile - 1) / kTile;
    if ((ks.mask || ks.key) && !ks.route) {
      // The forward's classification (the same tile evaluator of the mask program, the group-id intervals) at
      // the backward's tiles. Masks and computed keys are functions of the shape, so once per shape, and every
      // batch item has the same order and map. The order: identity, or the tokens stably sorted by their key
      // (the forward's order without its alignment padding; empty groups take no positions).
      const ref::TokenOrder order = ks.key ? ref::token_order(ref::key_groups(*ks.key, st->host, 1), true)
                                           : ref::token_order(ref::single_group(1, s.N), false);
      od.upload(order, ref::build_block_map(ks, st->host, order, map_options()), s.B);
      if (ks.gate) od.gate = program_gates(ks, st->host, order.perm, order.B, s.B);
    } else if (ks.gate && !ks.route) {  // dense: identity order
      std::vector<int> ident(s.N);
      std::iota(ident.begin(), ident.end(), 0);
      od.gate = program_gates(ks, st->host, ident, 1, s.B);
    }
  }
  return *shapes.emplace(std::move(key), std::move(st)).first->second;
}

void AttentionBackward::Impl::Order::upload(const ref::TokenOrder& order, const ref::BlockMap& bm, int B,
                                            const std::vector<int>* rows) {
  const int Ne = order.Ne;
  if (order.grouped) {
    std::vector<int> pm, gd, tk;
    for (int b = 0; b < B; ++b) {
      const size_t o = (size_t)(b % order.B) * Ne;
      const std::vector<int>& src = rows ? *rows : order.perm;
      pm.insert(pm.end(), src.begin() + o, src.begin() + o + Ne);
      gd.insert(gd.end(), order.gid.begin() + o, order.gid.begin() + o + Ne);
      if (rows) tk.insert(tk.end(), order.perm.begin() + o, order.perm.begin() + o + Ne);
    }
    perm = upload_ints(pm);
    gid = upload_ints(gd);
    tok.reset();
    if (rows) tok = upload_ints(tk);
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

// Routed kernels: the forward's routing (device gid / prob, [B][N][k]) downloaded and sorted on the host every
// call, the block map classified there too (the GPU sort and map of prep.cuh are the faster path, not wired in
// yet). The sorted positions hold entry ids t k + j (ref::token_order's stable sort, whose perm keeps t only).
void AttentionBackward::Impl::route(int ki, const ref::Shape& host, const AttentionShape& s,
                                    const RouterInputs::Given& given, CUstream stream) {
  const ref::KernelSpec& ks = *kerns[ki].ks;
  const int k = ks.topk(), M = ks.route->groups, Ne = s.N * k;
  const size_t n = (size_t)s.B * Ne;
  std::vector<int> g(n);
  std::vector<float> pr(n);
  CU_CHECK(jit::driver().cuStreamSynchronize(stream));
  CU_CHECK(jit::driver().cuMemcpyDtoH(g.data(), given.gid, n * sizeof(int)));
  CU_CHECK(jit::driver().cuMemcpyDtoH(pr.data(), given.prob, n * sizeof(float)));
  for (size_t i = 0; i < n; ++i)
    if (g[i] < 0 || g[i] >= M)
      throw ArgumentError(fmt::format("routing[{}]: token {} of batch item {} (slot {}) has group {}; kernel '{}' "
                                      "routes to groups 0..{}",
                                      kerns[ki].routed, (i % Ne) / k, i / Ne, i % k, g[i], ks.name, M - 1));
  ref::Grouping gr;
  gr.B = s.B, gr.N = s.N, gr.k = k, gr.M = M;
  gr.gid = g;
  gr.prob.assign(pr.begin(), pr.end());
  const ref::TokenOrder order = ref::token_order(gr, true);
  std::vector<int> rows(n), idx(Ne);
  for (int b = 0; b < s.B; ++b) {
    const int* key = g.data() + (size_t)b * Ne;
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](int x, int y) { return key[x] < key[y]; });
    std::copy(idx.begin(), idx.end(), rows.begin() + (size_t)b * Ne);
  }
  if (routed.size() < kerns.size()) routed.resize(kerns.size());
  Order& od = routed[ki];
  od.upload(order, ref::build_block_map(ks, host, order, map_options()), s.B, k > 1 ? &rows : nullptr);
  od.gate.reset();
  if (ks.gate) {
    for (int& r : rows) r /= k;  // tokens at the sorted positions
    od.gate = program_gates(ks, host, rows, s.B, s.B);
  } else if (ks.route_gate) {
    std::vector<float> gs(n);
    for (size_t i = 0; i < n; ++i) gs[i] = pr[(i / Ne) * Ne + rows[i]];
    od.gate = std::make_unique<jit::DeviceBuffer>(std::max<size_t>(16, n * sizeof(float)));
    od.gate->upload(gs);
  }
}

namespace {
// A float32 buffer of at least `bytes`, kept between calls.
float* ensure(std::unique_ptr<jit::DeviceBuffer>& b, size_t bytes) {
  if (!b || b->bytes() < bytes) {
    b.reset();
    b = std::make_unique<jit::DeviceBuffer>(std::max<size_t>(bytes, 16));
  }
  return reinterpret_cast<float*>(b->ptr());
}
}  // namespace

void AttentionBackward::run(const BackwardInputs& in, const BackwardOutputs& g, const AttentionShape& s,
                            CUstream stream) {
  validate(in, g, s);
  jit::Device::get().make_current();
  Impl& im = *impl_;
  Impl::Mod& m = im.module(pattern_, options_, s.D);
  Impl::ShapeState& st = im.shape_state(s);
  const int nk = (int)im.kerns.size();
  const bool det = options_.deterministic;
  const size_t tok_elems = (size_t)s.B * s.N * s.H * s.D;
  // Where the gradients go (bwd_params.cuh): a single top-1 kernel writes dk, dv (and dq when deterministic) in
  // bf16 directly, its atomic dq through acc; a mixture sums every kernel into acc; a top-k kernel writes its
  // entry rows to eacc, folded per token into acc (mixture) or into the bf16 gradients.
  const bool direct = nk == 1 && im.kerns[0].ks->topk() == 1;
  // Workspaces at their largest first: a buffer replaced inside the loop could still be read by queued launches.
  int kmax = 1;
  for (const Impl::Kern& kn : im.kerns) kmax = std::max(kmax, kn.ks->topk());
  float* const delta = ensure(im.delta, (size_t)s.B * s.H * s.N * kmax * sizeof(float));
  float* const eacc = kmax > 1 ? ensure(im.eacc, 3 * tok_elems * kmax * sizeof(float)) : nullptr;
  float* acc = nullptr;
  if (nk > 1 || (direct && !det)) {
    const size_t n = direct ? tok_elems : 3 * tok_elems;
    acc = ensure(im.acc, n * sizeof(float));
    CU_CHECK(jit::driver().cuMemsetD32Async((CUdeviceptr)acc, 0, n, stream));
  }
  // src: dq, dk, dv at src + i * src_stride (tensors >= n_src skipped); to: add to acc there, else bf16 out
  auto fold = [&](const float* src, size_t src_stride, int n_src, int k, float* to) {
    AttnBwdFoldParams f{};
    for (int i = 0; i < 3; ++i) {
      f.src[i] = i < n_src ? src + i * src_stride : nullptr;
      f.acc[i] = to ? to + i * tok_elems : nullptr;
    }
    const TensorView* d[] = {&g.dq, &g.dk, &g.dv};
    for (int i = 0; i < 3; ++i) {
      f.dst[i] = reinterpret_cast<void*>(d[i]->ptr);
      f.d_sb[i] = d[i]->strides[0], f.d_sn[i] = d[i]->strides[1], f.d_sh[i] = d[i]->strides[2];
    }
    f.B = s.B, f.N = s.N, f.H = s.H, f.k = k;
    return f;
  };
  auto launch_fold = [&](AttnBwdFoldParams f) {
    void* fa[] = {&f};
    const size_t n8 = tok_elems / 8;
    launch(m.fold, (unsigned)std::min<size_t>((n8 + 255) / 256, 65535u * 8), 3, 1, 256, 0, stream, fa);
  };

  for (int ki = 0; ki < nk; ++ki) {
    const Impl::Kern& kn = im.kerns[ki];
    const ref::KernelSpec& ks = *kn.ks;
    const int k = ks.topk(), Ne = s.N * k;
    AttnBwdParams p{};
    AttnParams& a = p.a;
    a.q = reinterpret_cast<const void*>(in.q.ptr);
    a.k = reinterpret_cast<const void*>(in.k.ptr);
    a.v = reinterpret_cast<const void*>(in.v.ptr);
    a.q_sb = in.q.strides[0], a.q_sn = in.q.strides[1], a.q_sh = in.q.strides[2];
    a.k_sb = in.k.strides[0], a.k_sn = in.k.strides[1], a.k_sh = in.k.strides[2];
    a.v_sb = in.v.strides[0], a.v_sn = in.v.strides[1], a.v_sh = in.v.strides[2];
    a.B = s.B, a.N = Ne, a.H = s.H;
    p.topk = k;
    const double scale = ks.scale ? *ks.scale : 1.0 / std::sqrt((double)s.D);
    a.scale_log2 = (float)(scale * kLog2e);
    a.weight = (float)ks.weight;
    a.shape = st.ms;
    p.dout = reinterpret_cast<const void*>(in.dout.ptr);
    p.do_sb = in.dout.strides[0], p.do_sn = in.dout.strides[1], p.do_sh = in.dout.strides[2];
    if (!in.branch_out.empty()) {  // the kept rows (contiguous [B, N k, H, D]), before the branch weight
      p.out = reinterpret_cast<const void*>(in.branch_out[ki].ptr);
      p.o_sh = s.D, p.o_sn = (long long)s.H * s.D, p.o_sb = (long long)Ne * s.H * s.D;
      p.o_scale = (float)ks.weight;
    } else {
      p.out = reinterpret_cast<const void*>(in.out.ptr);
      p.o_sb = in.out.strides[0], p.o_sn = in.out.strides[1], p.o_sh = in.out.strides[2];
      p.o_scale = 1.f;
    }
    p.lse = reinterpret_cast<const float*>(in.lse[ki]);
    p.dq = reinterpret_cast<void*>(g.dq.ptr);
    p.dk = reinterpret_cast<void*>(g.dk.ptr);
    p.dv = reinterpret_cast<void*>(g.dv.ptr);
    p.dq_sb = g.dq.strides[0], p.dq_sn = g.dq.strides[1], p.dq_sh = g.dq.strides[2];
    p.dk_sb = g.dk.strides[0], p.dk_sn = g.dk.strides[1], p.dk_sh = g.dk.strides[2];
    p.dv_sb = g.dv.strides[0], p.dv_sn = g.dv.strides[1], p.dv_sh = g.dv.strides[2];
    const size_t e_elems = (size_t)s.B * Ne * s.H * s.D;
    if (direct) {
      p.dq_acc = det ? nullptr : acc;
    } else if (k == 1) {
      p.dq_acc = acc, p.dk_acc = acc + tok_elems, p.dv_acc = acc + 2 * tok_elems;
    } else {
      CU_CHECK(jit::driver().cuMemsetD32Async((CUdeviceptr)eacc, 0, 3 * e_elems, stream));
      p.dq_acc = eacc, p.dk_acc = eacc + e_elems, p.dv_acc = eacc + 2 * e_elems;
    }

    if (ks.route) im.route(ki, st.host, s, in.routing[kn.routed], stream);
    const Impl::Order& od = ks.route ? im.routed[ki] : st.order[ki];
    auto ip = [](const std::unique_ptr<jit::DeviceBuffer>& b) { return reinterpret_cast<const int*>(b->ptr()); };
    if (od.perm) a.perm = ip(od.perm), a.gid = ip(od.gid), p.tok = od.tok ? ip(od.tok) : a.perm;
    if (od.gate) a.gate = reinterpret_cast<const float*>(od.gate->ptr());
    if (od.fcnt) {
      a.map = {ip(od.fcnt), ip(od.fidx), ip(od.pcnt), ip(od.pidx), od.tq, od.tk};
      p.mapT = {ip(od.tfcnt), ip(od.tfidx), ip(od.tpcnt), ip(od.tpidx), od.tq, od.tk};
    }
    if (ks.route_gate) p.dgate = reinterpret_cast<float*>(g.dgate.at(kn.routed));
    const size_t rows = (size_t)s.B * s.H * Ne;
    p.dq_delta = delta;

    void* args[] = {&p};
    const unsigned warps_blocks = (unsigned)std::min<size_t>((rows + 7) / 8, 65535u * 4);
    launch(m.pre, warps_blocks, 1, 1, 256, 0, stream, args);
    if (p.dgate) {
      const size_t n = (size_t)s.B * Ne;
      launch(m.gate, (unsigned)std::min<size_t>((n + 255) / 256, 65535u * 8), 1, 1, 256, 0, stream, args);
    }
    const unsigned tiles = (unsigned)((Ne + kTile - 1) / kTile);
    const Impl::Mod::K& mk = m.k[ki];
    if (det) {
      launch(mk.main_det, tiles, (unsigned)s.H, (unsigned)s.B, 128, (unsigned)m.smem, stream, args);
      launch(mk.dq, tiles, (unsigned)s.H, (unsigned)s.B, 128, (unsigned)m.dq_smem, stream, args);
    } else {
      launch(mk.main_atomic, tiles, (unsigned)s.H, (unsigned)s.B, 128, (unsigned)m.smem, stream, args);
    }
    if (k > 1) launch_fold(fold(p.dq_acc, e_elems, 3, k, nk > 1 ? acc : nullptr));
  }
  if (direct && !det) launch_fold(fold(acc, 0, 1, 1, nullptr));  // dq only
  if (nk > 1) launch_fold(fold(acc, tok_elems, 3, 1, nullptr));
}

}  // namespace moga::rt
