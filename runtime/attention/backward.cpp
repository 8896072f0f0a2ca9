#include "runtime/attention/backward.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <tuple>

#include "kernels_src/cuda/bwd_map.cuh"
#include "kernels_src/cuda/bwd_params.cuh"
#include "runtime/attention/bwd_registry.h"
#include "runtime/attention/tma_maps.h"
#include "kernels_src/cuda/prep.cuh"
#include "runtime/attention/host_shape.h"
#include "runtime/attention/phase_timer.h"
#include "runtime/jit/check.h"
#include "runtime/jit/compile_all.h"
#include "runtime/jit/driver.h"
#include "runtime/jit/jit.h"
#include "runtime/jit/module.h"
#include "runtime/kernels/embedded.h"
#include "runtime/reference/block_map.h"

namespace moga::rt {

namespace {

// The block maps at a backward row's tiles (bwd_registry.h: query rows x keys).
ref::BlockMapOptions map_options(const BackwardVariant& v) {
  ref::BlockMapOptions bo;
  bo.block_m = v.block_m;
  bo.block_n = v.block_n;
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
      CUfunction bmap = nullptr, gfill = nullptr;  // routed kernels: the mask's block map, the gate program
    };
    std::vector<K> k;
    CUfunction pre = nullptr, fold = nullptr, gate = nullptr, rows = nullptr;
    // routed kernels' device prep (prep.cuh, bwd_map.cuh): counting sort, grouped map, summaries, transpose
    CUfunction hist = nullptr, scatter = nullptr, gmap = nullptr, summary = nullptr, mapt = nullptr;
    int smem = 0, dq_smem = 0;
    const BackwardVariant* v = nullptr;  // the backward row the module holds
  };
  std::map<int, std::unique_ptr<Mod>> mods;

  // A row order and its block map on the device.
  struct Order {
    // masked or grouped kernels: the block map at the row's tiles, query-major (attention_bwd_dq) and key-major
    // (the main kernel)
    std::unique_ptr<jit::DeviceBuffer> fcnt, fidx, pcnt, pidx, tfcnt, tfidx, tpcnt, tpidx;
    // grouped kernels: the rows sorted by group (stable), [B][N k] each ([B][ns] for aligned routed groups);
    // routed + gated: gate at sorted positions
    std::unique_ptr<jit::DeviceBuffer> perm, gid, gate;
    std::unique_ptr<jit::DeviceBuffer> tok;  // top k: the token at each sorted position (perm holds entry rows)
    // routed kernels (sorted on the device every call): the sort's histogram and segment offsets; under a mask,
    // the tile summaries (the key-major map is then a transpose; without a mask it is the query-major one)
    std::unique_ptr<jit::DeviceBuffer> hist, seg, qsum, kvsum;
    // routed kernels on a wgmma row: groups aligned to lcm(block_m, block_n) (prep.cuh SortParams::align, the
    // forward's layout: no tile straddles two groups), ns sorted positions a batch item (AttnBwdParams::ns) and the
    // end of each group's entries [B][G]; align 1: the dense sorted order, ns = N k
    std::unique_ptr<jit::DeviceBuffer> segend;
    int align = 1, ns = 0;
    int tq = 0, tk = 0;
    int tile_q = 64, tile_kv = 64;  // routed: the map's tiles (the row's block_m, block_n)
    // A routed kernel's key-major map is the transpose of its query-major one (attn_bwd_transpose_map_kernel)
    // under a mask or at unequal tiles; otherwise the same lists (the grouped map is symmetric: bwd_map.cuh).
    bool transposed_map(const ref::KernelSpec& ks) const { return ks.mask || tile_q != tile_kv; }
    // order: one batch item's (replicated B times) or all B; bm: one map per batch item of `order`; rows: the
    // row ids at the sorted positions ([B][N k], top-k entries) when they are not order.perm's tokens
    void upload(const ref::TokenOrder& order, const ref::BlockMap& bm, int B, const std::vector<int>* rows = nullptr);
  };
  using ShapeKey = std::tuple<int, int, bool, int, int, int, std::vector<int>, int>;  // + the row's block_n
  struct ShapeState {
    ref::Shape host;
    std::unique_ptr<jit::DeviceBuffer> sof, sfirst;
    MaskShape ms{};
    std::vector<Order> order;  // per kernel (routed: device buffers, refilled by route() every call)
  };
  std::map<ShapeKey, std::unique_ptr<ShapeState>> shapes;
  bool align_groups = true;  // BackwardOptions::align_groups (alloc_routed)
  void alloc_routed(int ki, const AttentionShape& s, ShapeState& st, const BackwardVariant& v);
  void route(int ki, const AttentionShape& s, ShapeState& st, const Mod& m, const RouterInputs::Given& given,
             CUstream stream);
  // delta: D per row; acc: float32 dq, dk, dv [B][N][H][D] of a mixture; eacc: a top-k kernel's, by entry
  std::unique_ptr<jit::DeviceBuffer> delta, acc, eacc, srows, sints;

  // BackwardOptions::time_phases: an event before each phase and one at the end
  PhaseTimer timer;
  void phase(std::string name, CUstream stream) { timer.mark(std::move(name), stream); }

  // Whether the kernel's rows are gathered (sorted by group: computed key or routing).
  static bool gathers(const Kern& k) { return k.ks->key || k.ks->route; }
  // The largest top k of the pattern's kernels (1 without routing): the rows a token holds at most.
  int max_topk() const {
    int k = 1;
    for (const Kern& kn : kerns) k = std::max(k, kn.ks->topk());
    return k;
  }
  // The backward row at head dim D (bwd_registry.h: BackwardOptions::engine, MOGA_BWD_ENGINE, the default).
  static const BackwardVariant& variant(const BackwardOptions& o, int D) {
    return choose_backward(o.arch.empty() ? jit::CompileOptions{}.resolved_arch() : o.arch, D, o.engine);
  }
  // The row's three main kernels, then for a routed kernel its mask's block map and its gate program (when it
  // has them).
  std::vector<std::string> kernel_exprs(const Kern& k, const BackwardVariant& v, int D) const {
    const bool g = gathers(k);
    std::vector<std::string> e = {v.main_expr(k.variant, D, true, g), v.main_expr(k.variant, D, false, g),
                                  v.dq_expr(k.variant, D)};
    if (k.ks->route && k.ks->mask) e.push_back(fmt::format("moga::block_map_kernel<{}>", k.variant));
    if (k.ks->route && k.ks->gate) e.push_back(fmt::format("moga::gate_fill_kernel<{}>", k.variant));
    return e;
  }
  // prep.cuh's non-template kernels are in every unit of the generated source (no MOGA_NO_PREP_KERNELS here).
  std::vector<std::string> shared_exprs(const BackwardVariant& v, int D) const {
    return {fmt::format("moga::attn_bwd_preprocess_kernel<{}>", D), fmt::format("moga::attn_bwd_fold_kernel<{}>", D),
            fmt::format("moga::attn_bwd_gate_kernel<{}>", D), v.smem_expr(D),
            fmt::format("&moga::attn_bwd_dq_smem_bytes<{}>", D), "moga::sort_hist_kernel",
            "moga::sort_scatter_kernel", "moga::block_map_grouped_kernel", "moga::tile_summary_kernel",
            fmt::format("moga::attn_bwd_transpose_map_kernel<{}>", D), fmt::format("moga::attn_bwd_rows_kernel<{}>", D)};
  }
  // The units: one per kernel (built for sm_90a when the row runs wgmma), then the shared one.
  std::vector<jit::CompileJob> jobs(const LoadedPattern& pat, const BackwardOptions& o, int D) const {
    const BackwardVariant& v = variant(o, D);
    std::string wg_arch = o.arch.empty() ? jit::CompileOptions{}.resolved_arch() : o.arch;
    if (wg_arch.back() != 'a') wg_arch += "a";
    auto unit = [&](const std::string& what, std::vector<std::string> exprs, bool wgmma) {
      jit::CompileOptions c;
      c.name = fmt::format("moga-bwd-{}-{}-d{}", pat.spec.pattern, what, D);
      c.arch = wgmma ? wg_arch : o.arch;
      c.flags = o.nvrtc_flags;
      for (const auto& h : kernels::embedded_headers()) c.headers.push_back({h.name, h.text});
      c.name_expressions = std::move(exprs);
      return jit::CompileJob{&pat.cuda, std::move(c)};
    };
    std::vector<jit::CompileJob> j;
    for (const Kern& k : kerns)
      j.push_back(unit(v.wgmma ? k.ks->name + "-" + v.name : k.ks->name, kernel_exprs(k, v, D), v.wgmma));
    j.push_back(unit("shared", shared_exprs(v, D), false));
    return j;
  }
  Mod& module(const LoadedPattern& pat, const BackwardOptions& o, int D);
  ShapeState& shape_state(const AttentionShape& s, const BackwardVariant& v);
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
  impl_->timer.enabled = options_.time_phases;
  impl_->align_groups = options_.align_groups;
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

std::vector<BackwardPhase> AttentionBackward::last_phases() { return impl_->timer.phases(); }

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
  // the preprocess and fold kernels index 16-byte chunks of every row (B N k H of them, k the largest top k) in 32 bits
  const int kmax = im.max_topk();
  const uint64_t chunks = (uint64_t)s.B * s.N * kmax * s.H * (s.D / 8);
  if (chunks >= (uint64_t(1) << 31))
    throw NotSupportedError(fmt::format("backward: B {} x N {} x top k {} x H {} x D / 8 = {} chunks of 16 bytes; the "
                                        "backward's row kernels index them in 32 bits (at most 2^31 - 1): split the batch",
                                        s.B, s.N, kmax, s.H, chunks));
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

std::vector<std::string> AttentionBackward::compile(int D, std::vector<std::string>* logs) {
  if (D != 64 && D != 128)
    throw ArgumentError(fmt::format("head dim {} is not supported: the kernels exist for D = 64 and 128", D));
  const std::vector<jit::CompileJob> jobs = impl_->jobs(pattern_, options_, D);
  const std::vector<jit::CompiledKernel> cks = jit::compile_all(jobs);
  if (logs)
    for (const auto& ck : cks) logs->push_back(ck.log);
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
  m->v = &variant(o, D);
  const std::vector<std::string> se = shared_exprs(*m->v, D);
  m->pre = fn(shared, se[0]);
  m->fold = fn(shared, se[1]);
  m->gate = fn(shared, se[2]);
  m->smem = global_int(se[3]);
  m->dq_smem = global_int(se[4]);
  m->hist = fn(shared, se[5]);
  m->scatter = fn(shared, se[6]);
  m->gmap = fn(shared, se[7]);
  m->summary = fn(shared, se[8]);
  m->mapt = fn(shared, se[9]);
  m->rows = fn(shared, se[10]);
  const int optin = dev.attribute(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
  if (m->smem > optin || m->dq_smem > optin)
    throw NotSupportedError(fmt::format("backward at D={} needs {} bytes of shared memory; the device allows {}", D,
                                        std::max(m->smem, m->dq_smem), optin));
  for (size_t ki = 0; ki < kerns.size(); ++ki) {
    const std::vector<std::string> e = kernel_exprs(kerns[ki], *m->v, D);
    Mod::K k{fn(ki, e[0]), fn(ki, e[1]), fn(ki, e[2])};
    size_t x = 3;
    if (kerns[ki].ks->route && kerns[ki].ks->mask) k.bmap = fn(ki, e[x++]);
    if (kerns[ki].ks->route && kerns[ki].ks->gate) k.gfill = fn(ki, e[x++]);
    for (CUfunction f : {k.main_atomic, k.main_det})
      CU_CHECK(jit::driver().cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, m->smem));
    CU_CHECK(jit::driver().cuFuncSetAttribute(k.dq, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, m->dq_smem));
    m->k.push_back(k);
  }
  return *mods.emplace(D, std::move(m)).first->second;
}

AttentionBackward::Impl::ShapeState& AttentionBackward::Impl::shape_state(const AttentionShape& s,
                                                                          const BackwardVariant& v) {
  ShapeKey key{s.B, s.N, s.video, s.F, s.Hgt, s.Wid, s.shot_starts, v.block_n};
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
    od.tq = (s.N + v.block_m - 1) / v.block_m;
    od.tk = (s.N + v.block_n - 1) / v.block_n;
    if (ks.route) {
      alloc_routed((int)ki, s, *st, v);
    } else if (ks.mask || ks.key) {
      // The forward's classification (the same tile evaluator of the mask program, the group-id intervals) at
      // the backward's tiles. Masks and computed keys are functions of the shape, so once per shape, and every
      // batch item has the same order and map. The order: identity, or the tokens stably sorted by their key
      // (the forward's order without its alignment padding; empty groups take no positions).
      const ref::TokenOrder order = ks.key ? ref::token_order(ref::key_groups(*ks.key, st->host, 1), true)
                                           : ref::token_order(ref::single_group(1, s.N), false);
      od.upload(order, ref::build_block_map(ks, st->host, order, map_options(v)), s.B);
      if (ks.gate) od.gate = program_gates(ks, st->host, order.perm, order.B, s.B);
    } else if (ks.gate) {  // dense: identity order
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

namespace {
std::unique_ptr<jit::DeviceBuffer> device_ints(size_t n) {
  return std::make_unique<jit::DeviceBuffer>(std::max<size_t>(16, n * sizeof(int)));
}
}  // namespace

// A routed kernel's buffers for one shape (their sizes depend on B, N and k only), allocated once; route()
// refills them every call.
void AttentionBackward::Impl::alloc_routed(int ki, const AttentionShape& s, ShapeState& st, const BackwardVariant& v) {
  const ref::KernelSpec& ks = *kerns[ki].ks;
  const int k = ks.topk(), G = ks.route->groups, Ne = s.N * k, B = s.B;
  Order& od = st.order[ki];
  od.tile_q = v.block_m, od.tile_kv = v.block_n;
  // aligned groups for the wgmma kernels (they skip padding positions); the mma.sync kernel's sorted-rows pass
  // does not know padding, so its order stays dense
  od.align = v.wgmma && align_groups ? std::lcm(v.block_m, v.block_n) : 1;
  od.ns = aligned_sorted_length(Ne, G, od.align);
  od.tq = (od.ns + od.tile_q - 1) / od.tile_q;
  od.tk = (od.ns + od.tile_kv - 1) / od.tile_kv;
  const size_t n = (size_t)B * od.ns, qtiles = (size_t)B * od.tq, ktiles = (size_t)B * od.tk, pairs = qtiles * od.tk;
  od.perm = device_ints(n);
  od.gid = device_ints(n);
  if (k > 1) od.tok = device_ints(n);
  if (ks.route_gate || ks.gate) od.gate = device_ints(n);  // float32, the same size
  od.seg = device_ints((size_t)B * (G + 1));
  if (od.align > 1) od.segend = device_ints((size_t)B * G);
  od.hist = device_ints((size_t)sort_scratch_ints(B, Ne, G));
  od.fcnt = device_ints(qtiles), od.pcnt = device_ints(qtiles), od.fidx = device_ints(pairs), od.pidx = device_ints(pairs);
  if (od.transposed_map(ks)) {  // key-major map by transpose, else it is the query-major one (bwd_map.cuh)
    od.tfcnt = device_ints(ktiles), od.tpcnt = device_ints(ktiles);
    od.tfidx = device_ints(pairs), od.tpidx = device_ints(pairs);
  }
  if (ks.mask) {
    od.qsum = std::make_unique<jit::DeviceBuffer>(qtiles * sizeof(TileSummary));
    od.kvsum = std::make_unique<jit::DeviceBuffer>(ktiles * sizeof(TileSummary));
  }
}

// Routed kernels, every call, on the device and on `stream` only (no host copy, no synchronization): the
// forward's routing (gid / prob, [B][N][k]) sorted stably by group (prep.cuh's counting sort; aligned to the
// row's tiles on the wgmma rows, Order::align), the block map from the sorted groups (and the
// mask's tile summaries), the key-major map (a transpose under a mask, else the same lists), the gate at the
// sorted positions (the router probability from the sort, a gate program on top). Top k > 1: the sorted
// positions hold entry rows e = t k + j (the sort's `entry`), their tokens in `tok`. Group ids outside [0, M)
// are clamped by the sort (the routing comes from the forward, which writes them in range).
void AttentionBackward::Impl::route(int ki, const AttentionShape& s, ShapeState& st, const Mod& m,
                                    const RouterInputs::Given& given, CUstream stream) {
  const ref::KernelSpec& ks = *kerns[ki].ks;
  const Mod::K& mk = m.k[ki];
  Order& od = st.order[ki];
  const int k = ks.topk(), G = ks.route->groups, Ne = s.N * k, B = s.B;
  auto ip = [](const std::unique_ptr<jit::DeviceBuffer>& b) { return b ? reinterpret_cast<int*>(b->ptr()) : nullptr; };
  int* tokens = k > 1 ? ip(od.tok) : ip(od.perm);
  float* gate = od.gate ? reinterpret_cast<float*>(od.gate->ptr()) : nullptr;
  SortParams sp{};
  sp.keys = reinterpret_cast<const int*>(given.gid);
  sp.probs = ks.route_gate ? reinterpret_cast<const float*>(given.prob) : nullptr;
  sp.B = B, sp.Ne = Ne, sp.k = k, sp.G = G;
  sort_plan(Ne, G, &sp.chunk, &sp.nblk, &sp.ld);
  sp.blk_hist = ip(od.hist);
  sp.seg_offsets = ip(od.seg);
  sp.perm = tokens;
  sp.gid = ip(od.gid);
  sp.gate = ks.route_gate ? gate : nullptr;
  sp.align = od.align;
  sp.out_ld = od.ns;
  sp.seg_end = ip(od.segend);
  sp.entry = k > 1 ? ip(od.perm) : nullptr;
  {
    void* a[] = {&sp};  // sort_hist_kernel writes every cell the scatter reads: no memset
    launch(m.hist, (unsigned)sp.nblk, (unsigned)B, 1, 256, (unsigned)(sizeof(int) * G), stream, a);
    launch(m.scatter, (unsigned)sp.nblk, (unsigned)B, 1, 256, (unsigned)sort_scatter_smem_bytes(G, false), stream, a);
  }
  const unsigned qblocks = (unsigned)std::clamp<long long>(((long long)B * od.tq + 7) / 8, 1, 65535);
  if (!ks.mask) {
    GroupMapParams gp{};
    gp.gid = ip(od.gid);
    gp.seg_offsets = ip(od.seg);
    gp.seg_end = ip(od.segend);
    gp.B = B, gp.Ne = od.ns, gp.G = G, gp.tile_q = od.tile_q, gp.tile_kv = od.tile_kv, gp.tq = od.tq, gp.tk = od.tk;
    gp.full_cnt = ip(od.fcnt), gp.full_idx = ip(od.fidx), gp.part_cnt = ip(od.pcnt), gp.part_idx = ip(od.pidx);
    void* a[] = {&gp};
    launch(m.gmap, qblocks, 1, 1, 256, 0, stream, a);
  } else {
    SummaryParams sm{};
    sm.perm = tokens;
    sm.gid = ip(od.gid);
    sm.shape = st.ms;
    sm.B = B, sm.Ne = od.ns, sm.tile_q = od.tile_q, sm.tile_kv = od.tile_kv, sm.tq = od.tq, sm.tk = od.tk;
    sm.q_out = reinterpret_cast<TileSummary*>(od.qsum->ptr());
    sm.kv_out = reinterpret_cast<TileSummary*>(od.kvsum->ptr());
    void* a1[] = {&sm};
    launch(m.summary, (unsigned)std::clamp<long long>(((long long)B * (od.tq + od.tk) + 7) / 8, 1, 65535), 1, 1, 256, 0,
           stream, a1);
    BlockMapParams bp{};
    bp.qsum = sm.q_out, bp.kvsum = sm.kv_out;
    bp.B = B, bp.tq = od.tq, bp.tk = od.tk, bp.grouped = 1;
    bp.seg_offsets = ip(od.seg);
    bp.seg_end = ip(od.segend);
    bp.G = G, bp.tile_kv = od.tile_kv, bp.shape = st.ms;
    bp.full_cnt = ip(od.fcnt), bp.full_idx = ip(od.fidx), bp.part_cnt = ip(od.pcnt), bp.part_idx = ip(od.pidx);
    void* a2[] = {&bp};
    launch(mk.bmap, (unsigned)((od.tq + 7) / 8), (unsigned)B, 1, 256, 0, stream, a2);
  }
  if (od.tfcnt) {
    AttnBwdMapTParams tp{};
    tp.in = {ip(od.fcnt), ip(od.fidx), ip(od.pcnt), ip(od.pidx), od.tq, od.tk};
    tp.full_cnt = ip(od.tfcnt), tp.full_idx = ip(od.tfidx), tp.part_cnt = ip(od.tpcnt), tp.part_idx = ip(od.tpidx);
    tp.B = B;
    void* a3[] = {&tp};
    launch(m.mapt, (unsigned)std::clamp<long long>(((long long)B * od.tk + 7) / 8, 1, 65535), 1, 1, 256, 0, stream, a3);
  }
  if (ks.gate) {  // gate_fill_kernel: the program's value at each sorted position (times the probability)
    const int* perm = tokens;
    int b = B, ne = od.ns, mul = ks.route_gate ? 1 : 0;
    MaskShape ms = st.ms;
    void* a[] = {&perm, &gate, &b, &ne, &ms, &mul};
    launch(mk.gfill, (unsigned)(((long long)B * od.ns + 255) / 256), 1, 1, 256, 0, stream, a);
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
  const BackwardVariant& var = *m.v;
  Impl::ShapeState& st = im.shape_state(s, var);
  const int nk = (int)im.kerns.size();
  const bool det = options_.deterministic;
  const size_t tok_elems = (size_t)s.B * s.N * s.H * s.D;
  // Where the gradients go (bwd_params.cuh): a single top-1 kernel writes dk, dv (and dq when deterministic) in
  // bf16 directly, its atomic dq through acc; a mixture sums every kernel into acc; a top-k kernel writes its
  // entry rows to eacc, folded per token into acc (mixture) or into the bf16 gradients.
  const bool direct = nk == 1 && im.kerns[0].ks->topk() == 1;
  // Workspaces at their largest first: a buffer replaced inside the loop could still be read by queued launches.
  const int kmax = im.max_topk();
  float* const delta = ensure(im.delta, (size_t)s.B * s.H * s.N * kmax * sizeof(float));
  float* const eacc = kmax > 1 ? ensure(im.eacc, 3 * tok_elems * kmax * sizeof(float)) : nullptr;
  // The query rows' values in sorted order (AttnBwdParams::srows) for the mma.sync key-tile kernel, which reads
  // them in runs of its BM = 64 rows (attention_bwd_wg's producer gathers the rows itself)
  constexpr int kRowRun = 64;
  const bool sorted_rows = !var.wgmma;
  const int srow_ld = (s.N * kmax + kRowRun - 1) / kRowRun * kRowRun;
  float* const srows = sorted_rows ? ensure(im.srows, (size_t)s.B * s.H * 3 * srow_ld * 4) : nullptr;
  int* const sints = sorted_rows ? reinterpret_cast<int*>(ensure(im.sints, (size_t)s.B * 3 * srow_ld * 4)) : nullptr;
  float* acc = nullptr;
  im.timer.start();
  im.phase("zero accumulators", stream);
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
      im.phase(ks.name + ": zero entry accumulators", stream);
      CU_CHECK(jit::driver().cuMemsetD32Async((CUdeviceptr)eacc, 0, 3 * e_elems, stream));
      p.dq_acc = eacc, p.dk_acc = eacc + e_elems, p.dv_acc = eacc + 2 * e_elems;
    }

    if (ks.route) {
      im.phase(ks.name + ": route (sort, block map)", stream);
      im.route(ki, s, st, m, in.routing[kn.routed], stream);
    }
    const Impl::Order& od = st.order[ki];
    auto ip = [](const std::unique_ptr<jit::DeviceBuffer>& b) { return reinterpret_cast<const int*>(b->ptr()); };
    if (od.perm) a.perm = ip(od.perm), a.gid = ip(od.gid), p.tok = od.tok ? ip(od.tok) : a.perm;
    const int Ns = ks.route && od.ns > 0 ? od.ns : Ne;  // sorted positions (aligned routed groups: padded)
    p.ns = Ns;
    if (od.gate) a.gate = reinterpret_cast<const float*>(od.gate->ptr());
    if (od.fcnt) {
      a.map = {ip(od.fcnt), ip(od.fidx), ip(od.pcnt), ip(od.pidx), od.tq, od.tk};
      if (od.tfcnt) p.mapT = {ip(od.tfcnt), ip(od.tfidx), ip(od.tpcnt), ip(od.tpidx), od.tq, od.tk};
      else p.mapT = {a.map.full_cnt, a.map.full_idx, a.map.part_cnt, a.map.part_idx, od.tq, od.tk};  // symmetric
    }
    if (ks.route_gate) p.dgate = reinterpret_cast<float*>(g.dgate.at(kn.routed));
    const size_t rows = (size_t)s.B * s.H * Ne;
    p.dq_delta = delta;

    // TMA rows, kernels without a gather: the maps of q, k, v, dout (encoded per call: the pointers change)
    BwdTmaMaps tm{};
    if (var.uses_tma(Impl::gathers(kn))) {
      const int qrows = var.block_m;  // the main kernel's query tile
      tm.q = make_tma_map(in.q, "q", s.N, qrows);
      tm.k = make_tma_map(in.k, "k", s.N, var.block_n);
      tm.v = make_tma_map(in.v, "v", s.N, var.block_n);
      tm.dout = make_tma_map(in.dout, "dout", s.N, qrows);
    }
    void* args[] = {&p, &tm};  // the kernels without maps read only p
    // attn_bwd_preprocess_kernel: D / 8 threads a row
    const unsigned pre_blocks = (unsigned)std::min<size_t>((rows * (s.D / 8) + 255) / 256, 65535u * 8);
    im.phase(ks.name + ": preprocess", stream);
    launch(m.pre, pre_blocks, 1, 1, 256, 0, stream, args);
    if (srows) {
      p.srows = srows, p.sints = sints, p.srow_ld = (Ne + kRowRun - 1) / kRowRun * kRowRun;
      im.phase(ks.name + ": sorted rows", stream);
      const size_t n = (size_t)s.B * s.H * p.srow_ld;
      launch(m.rows, (unsigned)std::min<size_t>((n + 255) / 256, 65535u * 8), 1, 1, 256, 0, stream, args);
    }
    if (p.dgate) {
      im.phase(ks.name + ": gate gradient", stream);
      const size_t n = (size_t)s.B * Ns;
      launch(m.gate, (unsigned)std::min<size_t>((n + 255) / 256, 65535u * 8), 1, 1, 256, 0, stream, args);
    }
    // the row's main kernel: one CTA per key tile; attention_bwd_dq: one per 64-row query tile
    const unsigned key_tiles = (unsigned)((Ns + var.block_n - 1) / var.block_n);
    const unsigned q_tiles = (unsigned)((Ns + var.block_m - 1) / var.block_m);
    const unsigned thr = (unsigned)var.threads;
    const Impl::Mod::K& mk = m.k[ki];
    im.phase(ks.name + (det ? ": main (dK, dV)" : ": main (dK, dV, atomic dQ)"), stream);
    if (det) {
      launch(mk.main_det, key_tiles, (unsigned)s.H, (unsigned)s.B, thr, (unsigned)m.smem, stream, args);
      im.phase(ks.name + ": dQ pass", stream);
      launch(mk.dq, q_tiles, (unsigned)s.H, (unsigned)s.B, 128, (unsigned)m.dq_smem, stream, args);
    } else {
      launch(mk.main_atomic, key_tiles, (unsigned)s.H, (unsigned)s.B, thr, (unsigned)m.smem, stream, args);
    }
    if (k > 1) {
      im.phase(ks.name + ": fold entries", stream);
      launch_fold(fold(p.dq_acc, e_elems, 3, k, nk > 1 ? acc : nullptr));
    }
  }
  im.phase("fold to bf16", stream);
  if (direct && !det) launch_fold(fold(acc, 0, 1, 1, nullptr));  // dq only
  if (nk > 1) launch_fold(fold(acc, tok_elems, 3, 1, nullptr));
  im.phase("end", stream);
}

}  // namespace moga::rt
