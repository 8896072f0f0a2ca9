#include "runtime/attention/attention.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <numeric>
#include <cmath>
#include <set>
#include <tuple>

#include "kernels_src/cuda/prep.cuh"  // parameter structs, sort_plan, counting_sort_host, router planning
#include "kernels_src/cuda/router_wg.cuh"  // router_wg_smem_bytes, router_wg_n (host constants)
#include "kernels_src/cuda/sorted_copy.cuh"  // SortedCopyParams
#include "runtime/attention/host_shape.h"
#include "runtime/attention/fp8.h"
#include "runtime/attention/tma_maps.h"
#include "runtime/jit/check.h"
#include "runtime/jit/compile_all.h"
#include "runtime/jit/driver.h"
#include "runtime/jit/jit.h"
#include "runtime/jit/module.h"
#include "runtime/kernels/embedded.h"
#include "runtime/reference/block_map.h"  // mean_key_tiles: the grid rule of masked kernels
#include "runtime/reference/program.h"

namespace moga::rt {

namespace {

constexpr double kLog2e = 1.4426950408889634;

enum class Kind { Dense, Masked, Keyed, Routed };

struct RouterCfg {
  int MT, S, THREADS, NH;
  bool L2;
};
// The router's largest M: its weight, 8 ceil(M/8) rows of 128-column chunks double-buffered, must fit
// in shared memory (router_choose_chunks), and 4 ceil(M/8) accumulators per thread in registers.
constexpr int kMaxRouterGroups = 256;
constexpr RouterCfg kRouterCfgs[] = {
    {1, 3, 512, 2, false}, {1, 3, 512, 2, true}, {1, 2, 512, 4, true}, {2, 2, 256, 2, true}, {1, 2, 256, 4, true}};

// Device buffer that grows on demand.
struct DBuf {
  std::unique_ptr<jit::DeviceBuffer> b;
  CUdeviceptr ptr() const { return b ? b->ptr() : 0; }
  void ensure(size_t bytes) {
    if (bytes == 0) bytes = 16;
    if (!b || b->bytes() < bytes) {
      b.reset();
      b = std::make_unique<jit::DeviceBuffer>(bytes);
    }
  }
};

template <class T>
T* dp(const DBuf& b) {
  return reinterpret_cast<T*>(b.ptr());
}

template <class T>
std::vector<T> download(const DBuf& b, size_t n) {
  std::vector<T> v(n);
  if (n) CU_CHECK(jit::driver().cuMemcpyDtoH(v.data(), b.ptr(), n * sizeof(T)));
  return v;
}

void launch_ex(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned threads, unsigned smem, CUstream st,
               bool pdl, void** args) {
  CUlaunchConfig cfg{};
  cfg.gridDimX = gx;
  cfg.gridDimY = gy;
  cfg.gridDimZ = gz;
  cfg.blockDimX = threads;
  cfg.blockDimY = 1;
  cfg.blockDimZ = 1;
  cfg.sharedMemBytes = smem;
  cfg.hStream = st;
  CUlaunchAttribute attr[1];
  attr[0].id = CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION;
  attr[0].value.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = pdl ? attr : nullptr;
  cfg.numAttrs = pdl ? 1 : 0;
  CU_CHECK(jit::driver().cuLaunchKernelEx(&cfg, f, args, nullptr));
}

// The kernel's Hopper plan: the manifest's (attn-assign-tiles wrote it), checked against the registry, or the
// registry's rule for a manifest without one (hand-written).
HopperPlan hopper_plan(const ref::KernelSpec& ks) {
  if (!ks.plan_sm90) {
    KernelTraits t;
    t.gathers = ks.grouped();
    t.masked = ks.mask.has_value();
    t.bias = ks.bias.has_value();
    if (ks.route) t.route_groups = ks.route->groups, t.route_topk = ks.route->topk;
    return default_hopper_plan(t);
  }
  const ref::HopperPlanSpec& m = *ks.plan_sm90;
  const KernelVariant* v = find_variant(m.variant);
  if (!v || v->engine != Engine::Wgmma)
    throw PatternError(fmt::format("kernel '{}': the manifest's plan names '{}', which is not a wgmma row of the "
                                   "kernel registry (rows: {})",
                                   ks.name, m.variant, variant_names()));
  return {m.variant, {m.block_m, m.block_n, m.warps, m.stages}, m.head_dims};
}

}  // namespace

// The e4m3 copies of q, k and V^T one FP8 kernel reads (fp8.h), in the identity order or a gathered
// kernel's sorted order, and the layout they were written for.
struct Fp8Copy {
  DBuf q, k, vt;
  Fp8Layout lay;
  bool done = false;
  bool holds_memory() const { return q.b || k.b || vt.b; }
};
bool same_fp8_layout(const Fp8Layout& a, const Fp8Layout& b) {
  return a.B == b.B && a.H == b.H && a.N == b.N && a.Nk == b.Nk;
}

// ---- the plan and the state ------------------------------------------------------------------------------

struct PatternAttention::Impl {
  struct KPlan {
    int index = 0;
    const ref::KernelSpec* ks = nullptr;
    TileConfig t;             // the mma.sync (v7) tiles: the manifest's with the option's entry on top
    bool tile_entry = false;  // AttentionOptions::tiles names this kernel (Auto keeps it on v7)
    HopperPlan hopper;        // the compiler's plan (manifest "plan".sm_90), or the registry's rule without one
    std::string variant;  // moga_gen_<pattern>::<kernel>
    Kind kind = Kind::Dense;
    bool mask = false, gate_prog = false, route_gate = false;
    int M = 0;     // routed
    int topk = 1;  // routed: groups per token (top-k > 1: entry rows + topk_combine_kernel)
  };
  std::vector<KPlan> plan;

  struct ModK {
    CUfunction attn = nullptr, bmap = nullptr, gate = nullptr, router = nullptr;
    CUfunction attn_lse = nullptr;  // AttentionOptions::lse: the instantiation writing the log-sum-exp
    const KernelVariant* v = nullptr;  // the registry row it runs
    TileConfig t;                      // the tiles it runs with (block maps use its BM/BN)
    int smem = 0;
    int router_threads = 0, router_mt = 1;
    bool router_wg = false;  // router_wg_kernel (AttentionOptions::router_mma), else router_kernel
    CUfunction router_small = nullptr;  // router_wg: the 64-row tile instantiation (few row tiles)
    size_t router_smem_attr = 0;  // max dynamic smem set so far
    int router_blocks_per_sm = 0;
    size_t router_occ_smem = 0;
  };
  struct Mod {
    int D = 0;
    // one loaded module per compile unit (compile_units), and where each name expression lives
    std::vector<jit::CompiledKernel> cks;
    std::vector<std::unique_ptr<jit::Module>> mods;
    std::map<std::string, std::pair<CUmodule, std::string>> symbols;  // expression -> (module, mangled)
    std::vector<ModK> k;
    CUfunction pack = nullptr, hist = nullptr, scatter = nullptr, summary = nullptr, gmap = nullptr,
               combine = nullptr, sorted_copy = nullptr, qrange = nullptr;
    CUfunction fp8_amax = nullptr, fp8_quant = nullptr;  // fp8_prep.cuh, when a kernel runs sm90.tma.fp8
    size_t scatter_smem_attr = 0;
  };
  std::map<std::pair<int, unsigned>, std::unique_ptr<Mod>> mods;  // by (D, bytes)

  struct KWs {
    DBuf perm, gid, gate, seg, segend, hist, keys, rgid, rprob, qsum, kvsum, fcnt, fidx, pcnt, pidx, wpack;
    DBuf slice_map;  // RunOptions::seq_tokens on a masked kernel: every key tile partial ([B][tq] x 2, [B][tq][tk])
    int slice_tq = 0, slice_tk = 0, slice_b = 0;
    DBuf qrange_cnt;  // RunOptions::query_begin / query_end: the map's counts, tiles outside the range 0 ([2][B][tq])
    DBuf sched;  // attention_fwd_ws's item counter (AttnParams::item_counter), persistent grids only
    DBuf entry, rows;  // top-k > 1: entry index per sorted position; the attention's output at entry rows
    Fp8Copy fp8;       // a gathered kernel on sm90.tma.fp8: q, k, V^T in e4m3 in its sorted order
    DBuf sorted;       // sm90.tma.sorted on a gathered kernel: q, k, v in the sorted order, [3][B][Ns][H][D]
    bool contiguous = false;  // computed groups whose tiles hold consecutive tokens (contiguous_tiles): no copy
    bool by_perm = false;     // the last launch loaded its tiles by perm from q, k, v (TmaMaps::rows_by_perm)
    bool holds_memory() const {  // every DBuf above
      for (const DBuf* d : {&perm, &gid, &gate, &seg, &segend, &hist, &keys, &rgid, &rprob, &qsum, &kvsum, &fcnt, &fidx,
                            &pcnt, &pidx, &wpack, &sched, &entry, &rows, &sorted, &slice_map, &qrange_cnt})
        if (d->b) return true;
      return fp8.holds_memory();
    }
    int G = 0, tq = 0, tk = 0, chunk = 0, nblk = 0, ld = 0;
    int align = 1;  // group starts at multiples of align in the sorted order (grouped kernels)
    bool packed = false;  // GroupLayout::Packed: several groups to a block of align positions
    bool runs = false;    // keyed with a mask: laid out by the mask's runs (AttentionOptions::mask_runs)
    int Ns = 0;     // length of the sorted order per batch item: N, or the padded length when align > 1
    bool static_done = false, ran = false;
    double key_tiles = -1;  // masked kernels on a ByKernel row: mean non-empty key tiles per item (static_prep)
    PatternAttention::Grid grid;  // the last attention launch's (last_grid)
    CUdeviceptr wpack_src = 0;
    int wpack_d = -1;
    long long w_sk = 0, w_sn = 0;
    CUdeviceptr given_gid = 0, given_prob = 0;  // the last run's given routing (RouterInputs::routing), or 0
    // Routed: hist holds B*G*ld histogram cells and one counter after them (SortParams::hist_readers). The
    // scatter zeroes the cells once every block has read them, so they are zero when the next call's router
    // adds to them; hist_zero says that holds on the host's side (false from a router launch until its
    // scatter is queued: a call that threw in between leaves them to a memset).
    bool hist_zero = false;
    size_t hist_cells = 0;
  };
  // (D, B, N, video, F, Hgt, Wid, shots): D because the engine, and so the tiles of the block maps,
  // depend on the head dim.
  using ShapeKey = std::tuple<int, int, int, bool, int, int, int, std::vector<int>>;
  struct ShapeState {
    ref::Shape host;
    DBuf sof, sfirst;
    MaskShape ms{};  // device pointers
    std::vector<KWs> k;
    uint64_t last_use = 0;
    int B = 0, N = 0;
  };
  std::map<ShapeKey, std::unique_ptr<ShapeState>> shapes;
  static bool holds_device_memory(const ShapeState& st) {
    if (st.sof.b || st.sfirst.b) return true;
    for (const KWs& w : st.k)
      if (w.holds_memory()) return true;
    return false;
  }
  ShapeState* last = nullptr;
  uint64_t tick = 0;
  // FP8 (sm90.tma.fp8): the amax of q, k, v per (tensor, batch, head), shared by every FP8 kernel of a call,
  // and the e4m3 copies in the identity order, shared by the FP8 kernels without a gather (gathered ones have
  // their own, KWs::fp8). RunOptions::prep = false reuses them when their layout matches the call's.
  DBuf fp8_amax_buf;
  Fp8Layout fp8_amax_lay;
  bool fp8_amax_done = false;
  Fp8Copy fp8_id;
  bool any_fp8(int D) const;
  bool grouped_kernel(int ki) const { return plan[ki].kind == Kind::Keyed || plan[ki].kind == Kind::Routed; }
  void fp8_amax(Mod& m, const TensorView& q, const TensorView& k, const TensorView& v, const AttentionShape& s,
                CUstream stream);
  // The copy in the identity order (perm null, rows N / Nk) or a gathered kernel's (perm [B][rows], rows its
  // sorted length).
  void fp8_quantize(Mod& m, const TensorView& q, const TensorView& k, const TensorView& v, const AttentionShape& s,
                    Fp8Copy& c, const int* perm, int rows, CUstream stream);
  int sms = 0, smem_optin = 0;
  // The shared memory a block may have: the device's opt-in limit once a module is loaded, else Hopper's.
  int smem_limit() const { return smem_optin > 0 ? smem_optin : 227 * 1024; }

  const LoadedPattern* pattern = nullptr;
  const AttentionOptions* options = nullptr;

  struct Choice {
    const KernelVariant* v = nullptr;
    TileConfig t;
    Engine engine() const { return v->engine; }
  };
  // The registry row and tiles of kernel ki at head dim D (header comment, "Attention kernels").
  Choice choose(int ki, int D) const;
  // AttentionOptions::arch, else the device's (sm_90 without one); cached.
  const std::string& target_arch() const;
  mutable std::string arch_cache;
  // Routed kernel p's router runs router_wg_kernel (AttentionOptions::router_mma, a wgmma arch).
  bool router_wg(const KPlan& p) const {
    if (p.kind != Kind::Routed || !wgmma_arch(target_arch())) return false;
    return options->router_mma != RouterMma::MmaSync;
  }
  // Rows of the packed router weight of kernel p: 8 ceil(M / 8) for router_kernel, the wgmma N otherwise.
  int router_mp(const KPlan& p) const { return router_wg(p) ? router_wg_n(p.M) : 8 * ((p.M + 7) / 8); }
  // The router launch of kernel p over rows = rp.B * rp.N: rp.kc / rp.kst, the function (*fn), its shared
  // memory (*smem; the functions' attribute raised to it), and its grid.
  RouterGrid router_setup(ModK& mk, const KPlan& p, RouterParams& rp, size_t* smem, CUfunction* fn);
  // Every check of the plan at head dim D: forced wgmma on a target without it, v7 tile rules.
  void check_plan(int D) const;
  // The arch the module for D is compiled for: sm_90a when a kernel runs wgmma, else the option's.
  std::string module_arch(int D) const;

  // The NVRTC programs of the module set for D, compiled independently and in parallel: one per
  // attention kernel (its kernel, shared memory size, block map, gate fill; the pattern's source), one
  // per router size and one for the pattern-independent prep kernels (shared by every pattern through
  // the cache). Unit 0 is kernel 0's. docs/performance.md, "Compile time".
  struct Unit {
    const std::string* source;
    jit::CompileOptions options;
  };
  std::vector<Unit> compile_units(int D, unsigned bytes) const;
  std::vector<jit::CompiledKernel> compile_now(const std::vector<Unit>& units) const;
  // The module of head dim D whose kernels in `bytes` (bit ki) run their bias's byte-packed split.
  Mod& module(int D, unsigned bytes);
  // Any module of head dim D already built (the router's kernels are the same in each), else the default one.
  Mod& any_module(int D);
  // The kernels with a byte-packed bias split (AttentionOptions::packed_bias): all of them (default_bytes, what
  // compile() builds), or those whose packed coordinates are below 256 at shape s (seq_tokens: the whole
  // sequence of a slice; bias_bytes).
  unsigned default_bytes() const;
  unsigned bias_bytes(const AttentionShape& s, long long seq_tokens) const;
  // The variant struct kernel p's attention kernel instantiates: p.variant, or moga::BiasBytes<p.variant>.
  std::string attn_variant(const KPlan& p, unsigned bytes) const {
    return bytes & bytes_bit(p.index) ? fmt::format("moga::BiasBytes<{}>", p.variant) : p.variant;
  }
  // Kernel ki's bit in those masks (none past 32 kernels: they keep the float split).
  static unsigned bytes_bit(int ki) { return ki < 32 ? 1u << ki : 0u; }
  ShapeState& shape_state(const AttentionShape& s);
  void static_prep(ShapeState& st, Mod& m, const AttentionShape& s, CUstream stream);
  // Keyed kernel p: its keys over one batch item's N tokens (the manifest's key program; the generated
  // V::key is the same program), checked >= 0.
  std::vector<int> host_keys(const KPlan& p, const ref::Shape& host, int N, const AttentionShape& s) const;
  // The layout of grouped kernel p with tiles t (group_layout.h): keyed from the sizes of its G groups
  // (keys of one batch item), routed from N k / M.
  PatternAttention::Layout layout_for(const KPlan& p, const TileConfig& t, const std::vector<int>* keys, int G,
                                      int N) const;
  void routed_prep(ShapeState& st, Mod& m, int ki, const RouterInputs& r, const TensorView& w, CUstream stream);
  void given_prep(ShapeState& st, Mod& m, int ki, const RouterInputs::Given& g, CUstream stream);
  void sort_and_map(ShapeState& st, Mod& m, int ki, const int* gid, const float* prob, bool hist_done,
                    CUstream stream);

  // route(): the packed router weight per routed kernel (kept across calls, repacked when the view changes)
  struct RouteWs {
    DBuf wpack;
  };
  std::map<int, RouteWs> route_ws;
  void block_map(ShapeState& st, Mod& m, int ki, bool grouped, CUstream stream, bool pdl);
  // RunOptions::phase of the current run() for kernel phase_ki (unset during the static per-shape work).
  std::function<void(int, const char*)> phase_cb;
  int phase_ki = 0;
  // The current run()'s RunOptions token offsets (seq = 0: the call is the whole sequence).
  struct Slice {
    long long q0 = 0, kv0 = 0, seq = 0;
  } slice;
  // The current run()'s RunOptions query range (t1 = 0: every query).
  struct QueryRange {
    long long t0 = 0, t1 = 0;
  } qrange;
  void phase(const char* name) const {
    if (phase_cb) phase_cb(phase_ki, name);
  }
  void gate_fill(ShapeState& st, Mod& m, int ki, bool multiply, CUstream stream, bool pdl);
  // The wgmma kernel's grid for kernel p: persistent or one CTA per item (the row's Scheduler).
  bool persistent_grid(const KPlan& p, const KWs& w, const ModK& mk, int N) const;
  void attention(ShapeState& st, Mod& m, int ki, const TensorView& q, const TensorView& k, const TensorView& v,
                 const TensorView& out, const AttentionShape& s, CUstream stream, CUdeviceptr lse,
                 const TensorView* branch);
  TensorView sorted_copies(ShapeState& st, Mod& m, int ki, const TensorView& q, const TensorView& k,
                           const TensorView& v, const AttentionShape& s, CUstream stream);
};

static TileConfig resolve_tiles(const ref::KernelSpec& ks, const AttentionOptions& o) {
  TileConfig t{ks.tiles.block_m, ks.tiles.block_n, ks.tiles.warps, ks.tiles.stages};
  auto it = o.tiles.find(ks.name);
  if (it != o.tiles.end()) {
    if (it->second.block_m) t.block_m = it->second.block_m;
    if (it->second.block_n) t.block_n = it->second.block_n;
    if (it->second.warps) t.warps = it->second.warps;
    if (it->second.stages) t.stages = it->second.stages;
  }
  return t;
}

PatternAttention::PatternAttention(LoadedPattern pattern, AttentionOptions options)
    : pattern_(std::move(pattern)), options_(std::move(options)), impl_(std::make_unique<Impl>()) {
  impl_->pattern = &pattern_;
  impl_->options = &options_;
  const auto& spec = pattern_.spec;
  if (spec.kernels.empty()) throw ArgumentError(fmt::format("pattern '{}' has no kernels", spec.pattern));
  if (options_.router_config < 0 || options_.router_config >= (int)std::size(kRouterCfgs))
    throw ArgumentError(fmt::format("router_config {} out of range 0..{}", options_.router_config,
                                    std::size(kRouterCfgs) - 1));
  for (const auto& [name, t] : options_.tiles) {
    bool found = false;
    for (const auto& ks : spec.kernels) found |= ks.name == name;
    if (!found) throw ArgumentError(fmt::format("tiles: pattern '{}' has no kernel '{}'", spec.pattern, name));
  }
  auto check_variant = [&](const std::string& name, const std::string& where) {
    const KernelVariant* v = find_variant(name);
    if (!v)
      throw ArgumentError(fmt::format("{}: no kernel variant '{}' (the registry has: {})", where, name, variant_names()));
    if (options_.engine != Engine::Auto && v->engine != options_.engine)
      throw ArgumentError(fmt::format("{}: variant '{}' is of the {} family, but engine {} is forced", where, name,
                                      engine_name(v->engine), engine_name(options_.engine)));
  };
  if (!options_.variant.empty()) check_variant(options_.variant, "variant");
  for (const auto& [name, vn] : options_.variants) {
    bool found = false;
    for (const auto& ks : spec.kernels) found |= ks.name == name;
    if (!found) throw ArgumentError(fmt::format("variants: pattern '{}' has no kernel '{}'", spec.pattern, name));
    check_variant(vn, fmt::format("variants['{}']", name));
  }
  for (int i = 0; i < (int)spec.kernels.size(); ++i) {
    const auto& ks = spec.kernels[i];
    Impl::KPlan p;
    p.index = i;
    p.ks = &ks;
    p.t = resolve_tiles(ks, options_);
    p.tile_entry = options_.tiles.count(ks.name) > 0;
    p.hopper = hopper_plan(ks);
    p.variant = fmt::format("moga_gen_{}::{}", spec.pattern, ks.name);
    p.mask = ks.mask.has_value();
    p.gate_prog = ks.gate.has_value();
    if (ks.route) {
      if (ks.route->topk < 1 || ks.route->topk > 8 || ks.route->topk > ks.route->groups)
        throw NotSupportedError(fmt::format("kernel '{}': route linear({}) top {}: the GPU router takes 1 <= k <= "
                                            "min(M, 8)",
                                            ks.name, ks.route->groups, ks.route->topk));
      if (ks.route->groups < 1 || ks.route->groups > kMaxRouterGroups)
        throw NotSupportedError(fmt::format("kernel '{}': {} router groups; the GPU router supports 1..{}", ks.name,
                                            ks.route->groups, kMaxRouterGroups));
      p.kind = Kind::Routed;
      p.M = ks.route->groups;
      p.topk = ks.route->topk;
      p.route_gate = ks.route_gate;
      routed_.push_back(i);
    } else if (ks.key) {
      p.kind = Kind::Keyed;
    } else if (ks.mask) {
      p.kind = Kind::Masked;
    } else {
      p.kind = Kind::Dense;
    }
    if (i == 0 && ks.accumulate)
      throw ArgumentError(fmt::format("pattern '{}': the first kernel '{}' is marked accumulate", spec.pattern, ks.name));
    if (i > 0 && !ks.accumulate)
      throw ArgumentError(fmt::format("pattern '{}': kernel '{}' (not the first) must accumulate", spec.pattern, ks.name));
    impl_->plan.push_back(p);
  }
  // A tiles entry for a kernel that runs a wgmma row must be in that row's space (checked here for the
  // head dim the DiT runs, 128; validate() checks the one it is called with).
  for (const auto& p : impl_->plan) {
    if (!p.tile_entry) continue;
    const Impl::Choice c = impl_->choose(p.index, 128);
    if (c.engine() != Engine::Wgmma) continue;
    const std::string why = c.v->check_tiles(c.t, 128);
    if (!why.empty())
      throw ArgumentError(fmt::format(
          "tiles: kernel '{}' asks for BM={} BN={} warps={} stages={}, but it runs {} ({}), whose tiles are BM 128, "
          "BN 64 or 128 (sm90.tma: also 176), 8 warps, 2-4 stages: {}; drop the entry, or use Engine::Auto (a kernel with a tile entry "
          "and no named variant runs sm80.mma) or Engine::MmaSync",
          p.ks->name, c.t.block_m, c.t.block_n, c.t.warps, c.t.stages, c.v->name, engine_name(c.engine()), why));
  }
}

PatternAttention::~PatternAttention() = default;

PatternAttention::Impl::Choice PatternAttention::Impl::choose(int ki, int D) const {
  const KPlan& p = plan.at(ki);
  const KernelVariant* v = nullptr;
  auto named = options->variants.find(p.ks->name);
  if (named != options->variants.end()) v = find_variant(named->second);
  else if (!options->variant.empty()) v = find_variant(options->variant);
  const TileConfig* planned = nullptr;  // the plan's tiles when the plan's row runs
  if (!v) {
    // The compiler's plan (registry.h default_hopper_plan): its row on Hopper at the head dims it lists,
    // unless the caller forced an engine or gave mma.sync tiles; sm80.mma with the manifest's tiles otherwise.
    const auto& dims = p.hopper.head_dims;
    const bool listed = std::find(dims.begin(), dims.end(), D) != dims.end();
    const Engine e = options->engine != Engine::Auto ? options->engine
                     : listed && !p.tile_entry && wgmma_arch(target_arch()) ? Engine::Wgmma
                                                                             : Engine::MmaSync;
    v = e == Engine::Wgmma ? find_variant(p.hopper.variant) : &default_variant(e);
    if (e == Engine::Wgmma) planned = &p.hopper.tiles;
    // FP8 (AttentionOptions::precision): every kernel on the FP8 row (gathered ones read copies in their
    // sorted order), at its own tiles whatever row the plan names
    if (e == Engine::Wgmma && options->precision == Precision::Fp8) {
      v = find_variant(kFp8DefaultRow);
      planned = nullptr;
    }
  }
  // a row without a gather (sm90.tma) sends the kernels with one (sorted tokens) to its gather row
  const KernelVariant* asked = v;
  v = &row_for_kernel(*v, p.kind == Kind::Keyed || p.kind == Kind::Routed);
  if (v->engine == Engine::MmaSync) return {v, p.t};
  // a wgmma row: the plan's tiles (or the row's default), with the fields a tiles entry gives on top
  TileConfig t = planned && v == asked ? *planned : v->default_tiles;
  auto it = options->tiles.find(p.ks->name);
  const bool stages_given = it != options->tiles.end() && it->second.stages;
  if (it != options->tiles.end()) {
    if (it->second.block_m) t.block_m = it->second.block_m;
    if (it->second.block_n) t.block_n = it->second.block_n;
    if (it->second.warps) t.warps = it->second.warps;
    if (it->second.stages) t.stages = it->second.stages;
  }
  // A bias's staged column terms take shared memory: fewer stages of the default when they do not fit.
  const int limit = smem_limit();
  const int key_words = p.ks->stage_keys ? 1 : 0;
  while (!stages_given && t.stages > 2 && !v->check_tiles(t, D, limit, p.ks->bias_col_words, key_words).empty())
    --t.stages;
  return {v, t};
}

const std::string& PatternAttention::Impl::target_arch() const {
  if (arch_cache.empty()) arch_cache = options->arch.empty() ? jit::CompileOptions{}.resolved_arch() : options->arch;
  return arch_cache;
}

void PatternAttention::Impl::check_plan(int D) const {
  if (options->precision == Precision::Fp8 && (D != kFp8D || !wgmma_arch(target_arch())))
    throw NotSupportedError(fmt::format("precision fp8 runs at head dim {} on an sm_90 (Hopper) target; this is head "
                                        "dim {} on {}",
                                        kFp8D, D, target_arch()));
  for (const KPlan& p : plan) {
    const Choice c = choose(p.index, D);
    if (!c.v->runs_on(target_arch()))
      throw NotSupportedError(fmt::format("kernel '{}': variant {} ({}) needs an sm_90 (Hopper) target; this one is "
                                          "{} (use Engine::Auto or Engine::MmaSync)",
                                          p.ks->name, c.v->name, engine_name(c.engine()), target_arch()));
    const std::string why = c.v->check_tiles(c.t, D, smem_limit(), p.ks->bias_col_words,
                                              p.ks->stage_keys ? 1 : 0);
    if (!why.empty())
      throw ArgumentError(fmt::format("kernel '{}': tiles BM={} BN={} warps={} stages={} at head dim {} on variant {}: "
                                      "{}",
                                      p.ks->name, c.t.block_m, c.t.block_n, c.t.warps, c.t.stages, D, c.v->name, why));
  }
}

std::string PatternAttention::Impl::module_arch(int D) const {
  for (const KPlan& p : plan)
    if (choose(p.index, D).v->needs_arch_specific()) {
      const std::string& a = target_arch();
      return a.back() == 'a' ? a : a + "a";
    }
  return options->arch;
}

Engine PatternAttention::engine(int ki, int head_dim) const { return impl_->choose(ki, head_dim).engine(); }
const KernelVariant& PatternAttention::variant(int ki, int head_dim) const { return *impl_->choose(ki, head_dim).v; }
TileConfig PatternAttention::tiles(int ki, int head_dim) const { return impl_->choose(ki, head_dim).t; }
std::string PatternAttention::arch() const { return impl_->target_arch(); }
unsigned PatternAttention::packed_bias_kernels(const AttentionShape& s, long long seq_tokens) const {
  return impl_->bias_bytes(s, seq_tokens);
}

// ---- validation ------------------------------------------------------------------------------------------

// The bit widths of a staged key column's fields (AttnParams::key_col_bits, kernels_src/cuda/score_pass.cuh
// encode_key): col in bits(W), row in bits(H), the frame above them.
static int bits_for(int n) {
  int b = 0;
  while ((1LL << b) < n) ++b;
  return b;
}
KeyFieldBits key_field_bits(const AttentionShape& s) {
  if (!s.video) return {0, 0, 0};
  return {bits_for(s.Wid), bits_for(s.Hgt), bits_for(s.F)};
}

static const TensorView* weight_for(const RouterInputs& r, const std::vector<int>& routed, int nkernels, int ki) {
  if (r.weights.size() == routed.size()) {
    for (size_t j = 0; j < routed.size(); ++j)
      if (routed[j] == ki) return &r.weights[j];
  }
  if ((int)r.weights.size() == nkernels) return &r.weights[ki];
  return nullptr;
}

void PatternAttention::validate(const TensorView& q, const TensorView& k, const TensorView& v, const TensorView& out,
                                const AttentionShape& s, const RouterInputs* router, long long seq_tokens) const {
  const auto& spec = pattern_.spec;
  const std::string pname = spec.pattern;
  if (s.B < 1 || s.H < 1 || s.N < 1)
    throw ArgumentError(fmt::format("shape: B, N, H must be >= 1, got {}", s.describe()));
  if (s.D != 64 && s.D != 128)
    throw ArgumentError(fmt::format("shape: head dim {} is not supported: the kernels exist for D = 64 and 128", s.D));
  if (s.B > 65535 || s.H > 65535)
    throw ArgumentError(fmt::format("shape: B and H must be <= 65535 (grid limits), got {}", s.describe()));
  if ((long long)s.B * s.N >= (1LL << 31))
    throw ArgumentError(fmt::format("shape: B * N must be below 2^31, got {}", s.describe()));
  if (spec.layout == ref::Layout::Video) {
    if (!s.video)
      throw ArgumentError(fmt::format("shape: pattern '{}' has layout video: pass the latent grid "
                                      "(AttentionShape::make_video), got {}",
                                      pname, s.describe()));
  } else if (s.video) {
    throw ArgumentError(fmt::format("shape: pattern '{}' has layout seq: pass AttentionShape::seq, got {}", pname,
                                    s.describe()));
  }
  if (s.video) {
    if (s.F < 1 || s.Hgt < 1 || s.Wid < 1)
      throw ArgumentError(fmt::format("shape: video grid F x H x W must be positive, got {}", s.describe()));
    // a slice of a sequence (RunOptions::seq_tokens): the grid is the whole sequence's
    if ((long long)s.F * s.Hgt * s.Wid != (seq_tokens ? seq_tokens : s.N))
      throw ArgumentError(fmt::format("shape: video grid {}x{}x{} = {} tokens does not match {} = {}", s.F, s.Hgt,
                                      s.Wid, (long long)s.F * s.Hgt * s.Wid, seq_tokens ? "RunOptions::seq_tokens" : "N",
                                      seq_tokens ? seq_tokens : s.N));
    if (!s.shot_starts.empty()) {
      if (s.shot_starts[0] != 0)
        throw ArgumentError(fmt::format("shape: shot starts must begin at frame 0, got {}", s.describe()));
      for (size_t i = 1; i < s.shot_starts.size(); ++i)
        if (s.shot_starts[i] <= s.shot_starts[i - 1] || s.shot_starts[i] >= s.F)
          throw ArgumentError(fmt::format("shape: shot starts must increase strictly and stay below F = {}, got {}",
                                          s.F, s.describe()));
    }
  }
  if (s.video) {
    const KeyFieldBits kb = key_field_bits(s);
    if (kb.col + kb.row + kb.frame > 31)
      throw ArgumentError(fmt::format("shape: video grid {}x{}x{} needs {} + {} + {} bits for frame, row and column; "
                                      "the kernels pack a key's coordinates into 31",
                                      s.F, s.Hgt, s.Wid, kb.frame, kb.row, kb.col));
  }
  expect_bnhd(q, "q", s.B, s.N, s.H, s.D);
  // Keys/values may have another length Nk than the queries (cross-attention), taken from k; v must match.
  const int64_t Nk = k.defined() && k.rank == 4 ? k.shape[1] : s.N;
  const char* nk_name = Nk == s.N ? "N" : "Nk";
  expect_bnhd(k, "k", s.B, Nk, s.H, s.D, nk_name);
  if (v.defined() && v.rank == 4 && v.shape[1] != Nk)
    throw ArgumentError(fmt::format("v: {} tokens, but k has {}: k and v must have the same length; got k {}, v {}",
                                    v.shape[1], Nk, k.describe(), v.describe()));
  expect_bnhd(v, "v", s.B, Nk, s.H, s.D, nk_name);
  expect_bnhd(out, "out", s.B, s.N, s.H, s.D);
  if (Nk != s.N) {
    if (Nk < 1) throw ArgumentError(fmt::format("k: no keys (token count 0), got {}", k.describe()));
    if ((long long)s.B * Nk >= (1LL << 31))
      throw ArgumentError(fmt::format("k: B * Nk must be below 2^31, got {}", k.describe()));
    // Only dense kernels (no token order, no block map, nothing that reads key coordinates) can attend
    // to keys of another length: a mask, a group key, a router or a bias program relate query and key
    // positions of one sequence. A slice of one sequence (RunOptions::seq_tokens: ring attention) gives
    // masks and biases those positions (validate_slice checks the rest).
    for (const auto& p : impl_->plan) {
      const bool slice = seq_tokens > 0;
      const char* why = p.kind == Kind::Masked && !slice ? "has a mask (it relates query and key positions of one sequence)"
                        : p.kind == Kind::Keyed  ? "groups tokens by a key (one token order for queries and keys)"
                        : p.kind == Kind::Routed ? "is routed (one token order for queries and keys)"
                        : p.ks->bias && !slice   ? "has a bias program (it reads key coordinates)"
                                                 : nullptr;
      if (why)
        throw ArgumentError(fmt::format("k: {} keys/values but q has N = {} tokens: keys of another length than the "
                                        "queries (cross-attention) need a dense pattern, and kernel '{}' of pattern "
                                        "'{}' {}",
                                        Nk, s.N, p.ks->name, pname, why));
    }
  }
  if (overlaps(out, q) || overlaps(out, k) || overlaps(out, v))
    throw ArgumentError(fmt::format("out: its memory overlaps {} (the kernels read q, k, v while writing out)",
                                    overlaps(out, q) ? "q" : overlaps(out, k) ? "k" : "v"));
  impl_->check_plan(s.D);
  for (const auto& p : impl_->plan)
    if (p.ks->bias_f32_max_n > 0 && std::max<long long>(s.N, seq_tokens) > p.ks->bias_f32_max_n)
      throw ArgumentError(fmt::format("shape: kernel '{}' evaluates its bias's integer terms in float32, exact for N "
                                      "<= {} (attn-plan-score); N = {} is longer",
                                      p.ks->name, p.ks->bias_f32_max_n, std::max<long long>(s.N, seq_tokens)));
  for (const auto& p : impl_->plan)
    if (impl_->choose(p.index, s.D).engine() == Engine::Wgmma &&
        (long long)((s.N + kWgmmaTiles.block_m - 1) / kWgmmaTiles.block_m) * s.H * s.B > INT_MAX)
      throw ArgumentError(fmt::format("shape: kernel '{}' (engine wgmma) has ceil(N/128) * H * B work items, more "
                                      "than its 1-D grid takes (2^31 - 1), for {}",
                                      p.ks->name, s.describe()));
  if (!routed_.empty()) {
    const auto& first = spec.kernels[routed_[0]];
    if (!router)
      throw ArgumentError(fmt::format("router: pattern '{}' routes kernel '{}' (route linear({}) top 1): pass "
                                      "RouterInputs with x [B, N, d_model] and W_r [d_model, {}]",
                                      pname, first.name, first.route->groups, first.route->groups));
    if (!router->routing.empty()) {  // a given routing (sequence parallelism): x and weights are not read
      if (router->routing.size() != routed_.size())
        throw ArgumentError(fmt::format("router.routing: {} given; expected one (gid, prob) pair per routed kernel ({})",
                                        router->routing.size(), routed_.size()));
      for (size_t j = 0; j < routed_.size(); ++j) {
        const RouterInputs::Given& g = router->routing[j];
        if (!g.gid || !g.prob || (g.gid % 4) || (g.prob % 4))
          throw ArgumentError(fmt::format("router.routing[{}] (kernel '{}'): gid and prob must be non-null, 4-byte "
                                          "aligned device pointers to [B][N] int32 / float",
                                          j, spec.kernels[routed_[j]].name));
      }
      return;
    }
    expect_router_x(router->x, "router.x", s.B, s.N);
    const int64_t d = router->x.shape[2];
    for (int ki : routed_) {
      const TensorView* w = weight_for(*router, routed_, (int)spec.kernels.size(), ki);
      if (!w)
        throw ArgumentError(fmt::format("router.weights: {} given; expected one per routed kernel ({}) or one per "
                                        "kernel ({})",
                                        router->weights.size(), routed_.size(), spec.kernels.size()));
      expect_router_w(*w, fmt::format("router.weights (kernel '{}')", spec.kernels[ki].name).c_str(), d,
                      spec.kernels[ki].route->groups);
    }
  }
}

// ---- JIT -------------------------------------------------------------------------------------------------

// Routers of more than 64 groups (NT > 8 n-tiles: 4 NT accumulators per thread) run with 256 threads and
// two k-steps in flight, NH 2: 255 registers and no spill at NT = 32 (nvcc 13, sm_90); the 512-thread
// configurations spill kilobytes there. AttentionOptions::router_config applies to M <= 64.
constexpr RouterCfg kWideRouterCfg = {1, 2, 256, 2, true};
static const RouterCfg& router_cfg(int M, int cfg) { return (M + 7) / 8 > 8 ? kWideRouterCfg : kRouterCfgs[cfg]; }

static std::string router_expr(int M, int cfg) {
  const RouterCfg& c = router_cfg(M, cfg);
  return fmt::format("moga::router_kernel<{}, {}, {}, {}, {}, {}>", (M + 7) / 8, c.MT, c.S, c.THREADS, c.NH,
                     c.L2 ? "true" : "false");
}
// rows: the CTA's tile, 128 (two warpgroups) or 64 (one; where 128-row tiles leave SMs idle)
static std::string router_wg_expr(int M, int rows) {
  const int nw = router_wg_n(M);
  return fmt::format("moga::router_wg_kernel<{}, {}, {}>", nw, router_wg_stages(nw), rows);
}
static const char* kPrepExprs[] = {"moga::router_pack_weight_kernel", "moga::sort_hist_kernel",
                                   "moga::sort_scatter_kernel", "moga::tile_summary_kernel",
                                   "moga::block_map_grouped_kernel", "moga::topk_combine_kernel",
                                   "moga::sorted_copy_kernel", "moga::query_range_map_kernel"};


// The sources of the units that need no generated code (no variant struct): prep.cuh with sorted_copy.cuh,
// the wgmma router.
static const std::string kPrepSource = "#include \"prep.cuh\"\n#include \"sorted_copy.cuh\"\n";
static const std::string kRouterWgSource = "#include \"router_wg.cuh\"\n";
// The FP8 quantization (fp8_prep.cuh), a unit of its own where a kernel runs sm90.tma.fp8.
static const std::string kFp8PrepSource = "#include \"fp8_prep.cuh\"\n";
static const char* kFp8Exprs[] = {"moga::fp8_amax_kernel", "moga::fp8_quantize_kernel"};

bool PatternAttention::Impl::any_fp8(int D) const {
  for (const KPlan& p : plan)
    if (choose(p.index, D).v->fp8) return true;
  return false;
}

// The largest value coordinate `c` takes at shape s (seq_tokens: the whole sequence of a slice).
static long long coord_max(const std::string& c, const AttentionShape& s, long long seq_tokens) {
  const long long n = std::max<long long>(s.N, seq_tokens);
  const int shots = s.shot_starts.empty() ? 1 : (int)s.shot_starts.size();
  if (c == "pos") return n - 1;
  if (!s.video) return c == "col" ? n - 1 : c == "shot_end" ? 1 : 0;
  if (c == "frame" || c == "shot_start") return s.F - 1;
  if (c == "row") return s.Hgt - 1;
  if (c == "col") return s.Wid - 1;
  if (c == "shot") return shots - 1;
  return s.F;  // shot_end
}

unsigned PatternAttention::Impl::default_bytes() const {
  unsigned m = 0;
  for (const KPlan& p : plan)
    if (options->packed_bias && !p.ks->bias_u8_coords.empty()) m |= bytes_bit(p.index);
  return m;
}

unsigned PatternAttention::Impl::bias_bytes(const AttentionShape& s, long long seq_tokens) const {
  unsigned m = default_bytes();
  for (const KPlan& p : plan)
    for (const std::string& c : p.ks->bias_u8_coords)
      if (coord_max(c, s, seq_tokens) > 255) m &= ~bytes_bit(p.index);
  return m;
}

std::vector<PatternAttention::Impl::Unit> PatternAttention::Impl::compile_units(int D, unsigned bytes) const {
  check_plan(D);
  auto base = [&](std::string name, std::string arch) {
    jit::CompileOptions o;
    o.name = std::move(name);
    o.arch = std::move(arch);
    o.flags = options->nvrtc_flags;
    for (const auto& h : kernels::embedded_headers()) o.headers.push_back({h.name, h.text});
    o.defines = {"MOGA_NO_PREP_KERNELS"};  // prep.cuh's non-template kernels: the prep unit's alone
    return o;
  };
  std::vector<Unit> units;
  std::map<std::string, std::string> routers;  // expression -> unit name (the same for every pattern)
  std::map<std::string, std::string> wg_routers;  // unit name -> M (router_wg_kernel, sm_90a units)
  bool any_prep = false;
  for (const auto& p : plan) {
    const Choice c = choose(p.index, D);
    // sm_90a only where the kernel runs wgmma: the others' cubins stay plain target code
    std::string arch = options->arch;
    if (c.v->needs_arch_specific()) arch = target_arch().back() == 'a' ? target_arch() : target_arch() + "a";
    jit::CompileOptions o = base(fmt::format("moga-{}-{}-d{}", pattern->spec.pattern, p.ks->name, D), arch);
    const std::string av = attn_variant(p, bytes);
    o.name_expressions = {c.v->kernel_expr(av, D, c.t), c.v->smem_expr(av, D, c.t)};
    // The block map and gate fill in a unit of their own, compiled beside the attention kernel: ptxas's time
    // grows with a unit's code, and a mask's interval rules are a good part of it (docs/performance.md,
    // "Compile time"); plain target code, they run no wgmma.
    jit::CompileOptions aux = base(fmt::format("moga-{}-{}-map", pattern->spec.pattern, p.ks->name), options->arch);
    if (p.mask) aux.name_expressions.push_back(fmt::format("moga::block_map_kernel<{}>", p.variant));
    if (p.gate_prog) aux.name_expressions.push_back(fmt::format("moga::gate_fill_kernel<{}>", p.variant));
    units.push_back({&pattern->cuda, o});
    if (!aux.name_expressions.empty()) units.push_back({&pattern->cuda, std::move(aux)});
    if (options->lse) {  // the log-sum-exp instantiation (AttentionOptions::lse): a unit of its own, in parallel
      o.name = fmt::format("moga-{}-{}-lse-d{}", pattern->spec.pattern, p.ks->name, D);
      o.name_expressions = {c.v->kernel_expr(av, D, c.t, true)};
      units.push_back({&pattern->cuda, std::move(o)});
    }
    if (router_wg(p))
      wg_routers[fmt::format("moga-router-wg-n{}", router_wg_n(p.M))] = std::to_string(p.M);
    else if (p.kind == Kind::Routed)
      routers[router_expr(p.M, options->router_config)] =
          fmt::format("moga-router-nt{}-cfg{}", (p.M + 7) / 8, options->router_config);
    any_prep |= p.kind != Kind::Dense;
  }
  any_prep |= options->lse;  // topk_combine_kernel sums kept branches (RunOptions::branch_out)
  for (const auto& [expr, name] : routers) {
    jit::CompileOptions o = base(name, options->arch);
    o.name_expressions = {expr};
    units.push_back({&kPrepSource, std::move(o)});
  }
  for (const auto& [name, m] : wg_routers) {
    jit::CompileOptions o = base(name, target_arch().back() == 'a' ? target_arch() : target_arch() + "a");
    o.name_expressions = {router_wg_expr(std::stoi(m), kRouterWgRows), router_wg_expr(std::stoi(m), 64)};
    units.push_back({&kRouterWgSource, std::move(o)});
  }
  if (any_prep) {
    jit::CompileOptions o = base("moga-prep", options->arch);
    o.defines.clear();
    o.name_expressions.assign(std::begin(kPrepExprs), std::end(kPrepExprs));
    units.push_back({&kPrepSource, std::move(o)});
  }
  if (any_fp8(D)) {
    jit::CompileOptions o = base("moga-fp8-prep", options->arch);
    o.defines.clear();
    o.name_expressions.assign(std::begin(kFp8Exprs), std::end(kFp8Exprs));
    units.push_back({&kFp8PrepSource, std::move(o)});
  }
  return units;
}

std::vector<jit::CompiledKernel> PatternAttention::Impl::compile_now(const std::vector<Unit>& units) const {
  std::vector<jit::CompileJob> jobs;
  for (const auto& u : units) jobs.push_back({u.source, u.options});
  return jit::compile_all(jobs, options->compile_threads);
}

ModuleInfo PatternAttention::compile(int D) {
  if (D != 64 && D != 128)
    throw ArgumentError(fmt::format("head dim {} is not supported: the kernels exist for D = 64 and 128", D));
  const std::vector<Impl::Unit> units = impl_->compile_units(D, impl_->default_bytes());
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<jit::CompiledKernel> cks = impl_->compile_now(units);
  ModuleInfo info;
  info.head_dim = D;
  info.compile_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  info.cache_hit = true;
  info.arch = impl_->module_arch(D);
  if (info.arch.empty()) info.arch = cks[0].arch;
  for (size_t i = 0; i < units.size(); ++i) {
    const auto& o = units[i].options;
    info.cache_hit &= cks[i].cache_hit;
    info.kernels.insert(info.kernels.end(), o.name_expressions.begin(), o.name_expressions.end());
    info.units.push_back({o.name, cks[i].arch, cks[i].cache_path, cks[i].cache_hit, cks[i].ms, cks[i].cpu_ms,
                          (int)o.name_expressions.size()});
  }
  info.cache_path = cks[0].cache_path;
  for (int ki = 0; ki < (int)impl_->plan.size(); ++ki) {
    info.engines.push_back(impl_->choose(ki, D).engine());
    info.variants.push_back(impl_->choose(ki, D).v->name);
  }
  return info;
}

PatternAttention::Impl::Mod& PatternAttention::Impl::any_module(int D) {
  auto it = mods.lower_bound({D, 0u});
  return it != mods.end() && it->first.first == D ? *it->second : module(D, default_bytes());
}

PatternAttention::Impl::Mod& PatternAttention::Impl::module(int D, unsigned bytes) {
  auto it = mods.find({D, bytes});
  if (it != mods.end()) return *it->second;
  jit::Device& dev = jit::Device::get();
  if (!sms) {
    sms = dev.attribute(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
    smem_optin = dev.attribute(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
  }
  auto m = std::make_unique<Mod>();
  m->D = D;
  const std::vector<Unit> units = compile_units(D, bytes);
  m->cks = compile_now(units);
  for (size_t i = 0; i < units.size(); ++i) {
    m->mods.push_back(std::make_unique<jit::Module>(m->cks[i], dev));
    for (const std::string& e : units[i].options.name_expressions)
      m->symbols[e] = {m->mods.back()->handle(), m->cks[i].symbol(e)};
  }
  auto sym = [&](const std::string& expr) -> const std::pair<CUmodule, std::string>& {
    auto s = m->symbols.find(expr);
    if (s == m->symbols.end())
      throw std::logic_error(fmt::format("moga: '{}' is in no compile unit of pattern '{}'", expr, pattern->spec.pattern));
    return s->second;
  };
  auto fn = [&](const std::string& expr) {
    const auto& [mod, name] = sym(expr);
    CUfunction f = nullptr;
    CU_CHECK(jit::driver().cuModuleGetFunction(&f, mod, name.c_str()));
    return f;
  };
  const jit::Driver& d = jit::driver();
  bool any_prep = false;
  for (const auto& p : plan) {
    ModK k;
    const Choice c = choose(p.index, D);
    k.v = c.v;
    k.t = c.t;
    const std::string av = attn_variant(p, bytes);
    k.attn = fn(c.v->kernel_expr(av, D, c.t));
    CUdeviceptr g = 0;
    size_t gbytes = 0;
    const auto& [smod, sname] = sym(c.v->smem_expr(av, D, c.t));
    CU_CHECK(jit::driver().cuModuleGetGlobal(&g, &gbytes, smod, sname.c_str()));
    CU_CHECK(d.cuMemcpyDtoH(&k.smem, g, sizeof(int)));
    if (k.smem > smem_optin)
      throw ArgumentError(fmt::format("kernel '{}' ({}): tiles BM={} BN={} warps={} stages={} at D={} need {} bytes "
                                      "of shared memory; the device allows {}",
                                      p.ks->name, c.v->name, c.t.block_m, c.t.block_n, c.t.warps,
                                      c.t.stages, D, k.smem, smem_optin));
    CU_CHECK(d.cuFuncSetAttribute(k.attn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, k.smem));
    if (options->lse) {  // same shared memory: the log-sum-exp goes straight from registers to global memory
      k.attn_lse = fn(c.v->kernel_expr(av, D, c.t, true));
      CU_CHECK(d.cuFuncSetAttribute(k.attn_lse, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, k.smem));
    }
    if (p.mask) k.bmap = fn(fmt::format("moga::block_map_kernel<{}>", p.variant));
    if (p.gate_prog) k.gate = fn(fmt::format("moga::gate_fill_kernel<{}>", p.variant));
    if (router_wg(p)) {
      k.router = fn(router_wg_expr(p.M, kRouterWgRows));
      k.router_small = fn(router_wg_expr(p.M, 64));
      k.router_threads = kRouterWgThreads;
      k.router_wg = true;
    } else if (p.kind == Kind::Routed) {
      k.router = fn(router_expr(p.M, options->router_config));
      k.router_threads = router_cfg(p.M, options->router_config).THREADS;
      k.router_mt = router_cfg(p.M, options->router_config).MT;
    }
    any_prep |= p.kind != Kind::Dense;
    m->k.push_back(k);
  }
  any_prep |= options->lse;  // as compile_units
  if (any_prep) {
    m->pack = fn(kPrepExprs[0]);
    m->hist = fn(kPrepExprs[1]);
    m->scatter = fn(kPrepExprs[2]);
    m->summary = fn(kPrepExprs[3]);
    m->gmap = fn(kPrepExprs[4]);
    m->combine = fn(kPrepExprs[5]);
    m->sorted_copy = fn(kPrepExprs[6]);
    m->qrange = fn(kPrepExprs[7]);
  }
  if (any_fp8(D)) {
    m->fp8_amax = fn(kFp8Exprs[0]);
    m->fp8_quant = fn(kFp8Exprs[1]);
  }
  return *mods.emplace(std::make_pair(D, bytes), std::move(m)).first->second;
}

// ---- per-shape state ---------------------------------------------------------------------------------------

PatternAttention::Impl::ShapeState& PatternAttention::Impl::shape_state(const AttentionShape& s) {
  ShapeKey key{s.D, s.B, s.N, s.video, s.F, s.Hgt, s.Wid, s.shot_starts};
  ++tick;
  auto it = shapes.find(key);
  if (it != shapes.end()) {
    it->second->last_use = tick;
    return *it->second;
  }
  // Keep a few shapes (a sampler alternates between a handful); drop the least recently used.
  constexpr size_t kMaxShapes = 8;
  if (shapes.size() >= kMaxShapes) {
    auto lru = shapes.begin();
    for (auto i = shapes.begin(); i != shapes.end(); ++i)
      if (i->second->last_use < lru->second->last_use) lru = i;
    if (lru->second.get() == last) last = nullptr;
    // Its buffers may still be in use by queued work. A state without device memory (a dense pattern
    // on a sequence shape, e.g. the DiT's per-shot cross-attention) is dropped without waiting.
    if (holds_device_memory(*lru->second)) jit::driver().cuCtxSynchronize();
    shapes.erase(lru);
  }
  auto st = std::make_unique<ShapeState>();
  st->B = s.B;
  st->N = s.N;
  st->host = host_shape(s);
  const MaskShape& hm = st->host.mask();
  st->ms = hm;
  st->ms.shot_of_frame = nullptr;
  st->ms.shot_first = nullptr;
  if (hm.shot_of_frame && hm.shot_first) {
    const int nshots = st->host.num_shots();
    st->sof.ensure(sizeof(int) * hm.F);
    st->sof.b->upload(hm.shot_of_frame, sizeof(int) * hm.F);
    st->sfirst.ensure(sizeof(int) * (nshots + 1));
    st->sfirst.b->upload(hm.shot_first, sizeof(int) * (nshots + 1));
    st->ms.shot_of_frame = dp<const int>(st->sof);
    st->ms.shot_first = dp<const int>(st->sfirst);
  }
  st->k.resize(plan.size());
  st->last_use = tick;
  return *shapes.emplace(std::move(key), std::move(st)).first->second;
}

// Block map of kernel ki from its current token order (perm/gid/seg, or identity).
void PatternAttention::Impl::block_map(ShapeState& st, Mod& m, int ki, bool grouped, CUstream stream, bool pdl) {
  const KPlan& p = plan[ki];
  const TileConfig& t = m.k[ki].t;  // the tiles of the engine that runs the kernel
  KWs& w = st.k[ki];
  const int B = st.B, N = w.Ns;
  if (p.mask) {
    SummaryParams sp{};
    sp.perm = grouped ? dp<const int>(w.perm) : nullptr;
    sp.gid = grouped ? dp<const int>(w.gid) : nullptr;
    sp.shape = st.ms;
    sp.B = B;
    sp.Ne = N;
    sp.tile_q = t.block_m;
    sp.tile_kv = t.block_n;
    sp.tq = w.tq;
    sp.tk = w.tk;
    sp.q_out = dp<TileSummary>(w.qsum);
    sp.kv_out = dp<TileSummary>(w.kvsum);
    long long blocks = ((long long)B * (w.tq + w.tk) + 7) / 8;
    blocks = std::min<long long>(std::max<long long>(blocks, 1), 65535);
    void* a1[] = {&sp};
    launch_ex(m.summary, (unsigned)blocks, 1, 1, 256, 0, stream, pdl, a1);
    phase("summary");
    BlockMapParams bp{};
    bp.qsum = dp<const TileSummary>(w.qsum);
    bp.kvsum = dp<const TileSummary>(w.kvsum);
    bp.B = B;
    bp.tq = w.tq;
    bp.tk = w.tk;
    bp.grouped = grouped ? 1 : 0;
    bp.seg_offsets = grouped ? dp<const int>(w.seg) : nullptr;
    bp.seg_end = grouped && w.align > 1 && !w.packed ? dp<const int>(w.segend) : nullptr;
    bp.G = grouped ? w.G : 0;
    bp.tile_kv = t.block_n;
    bp.shape = st.ms;
    bp.full_cnt = dp<int>(w.fcnt);
    bp.full_idx = dp<int>(w.fidx);
    bp.part_cnt = dp<int>(w.pcnt);
    bp.part_idx = dp<int>(w.pidx);
    void* a2[] = {&bp};
    launch_ex(m.k[ki].bmap, (unsigned)((w.tq + 7) / 8), (unsigned)B, 1, 256, 0, stream, pdl, a2);
    phase("map");
  } else {
    GroupMapParams gp{};
    gp.gid = dp<const int>(w.gid);
    gp.seg_offsets = dp<const int>(w.seg);
    gp.seg_end = w.align > 1 && !w.packed ? dp<const int>(w.segend) : nullptr;
    gp.B = B;
    gp.Ne = N;
    gp.G = w.G;
    gp.tile_q = t.block_m;
    gp.tile_kv = t.block_n;
    gp.tq = w.tq;
    gp.tk = w.tk;
    gp.full_cnt = dp<int>(w.fcnt);
    gp.full_idx = dp<int>(w.fidx);
    gp.part_cnt = dp<int>(w.pcnt);
    gp.part_idx = dp<int>(w.pidx);
    long long blocks = ((long long)B * w.tq + 7) / 8;
    blocks = std::min<long long>(std::max<long long>(blocks, 1), 65535);
    void* a[] = {&gp};
    launch_ex(m.gmap, (unsigned)blocks, 1, 1, 256, 0, stream, pdl, a);
    phase("map");
  }
}

void PatternAttention::Impl::gate_fill(ShapeState& st, Mod& m, int ki, bool multiply, CUstream stream, bool pdl) {
  KWs& w = st.k[ki];
  const int* perm = plan[ki].kind == Kind::Keyed || plan[ki].kind == Kind::Routed ? dp<const int>(w.perm) : nullptr;
  float* gate = dp<float>(w.gate);
  int B = st.B, N = w.Ns, mul = multiply ? 1 : 0;
  MaskShape ms = st.ms;
  void* a[] = {&perm, &gate, &B, &N, &ms, &mul};
  const long long n = (long long)B * N;
  launch_ex(m.k[ki].gate, (unsigned)((n + 255) / 256), 1, 1, 256, 0, stream, pdl, a);
  phase("gate");
}

// Everything that depends only on the shape: allocations, static token orders, block maps, gates.
void PatternAttention::Impl::static_prep(ShapeState& st, Mod& m, const AttentionShape& s, CUstream stream) {
  const int B = st.B, N = st.N;
  const size_t BN_ = (size_t)B * N;
  for (size_t ki = 0; ki < plan.size(); ++ki) {
    const KPlan& p = plan[ki];
    KWs& w = st.k[ki];
    if (w.static_done) continue;
    const TileConfig& t = m.k[ki].t;
    const bool grouped = p.kind == Kind::Keyed || p.kind == Kind::Routed;
    // Keyed: the keys on the host; they give G, which the padded length needs, and the group sizes,
    // from which the layout is chosen.
    std::vector<int> keys;
    if (p.kind == Kind::Keyed) {
      keys = host_keys(p, st.host, N, s);
      w.G = keys.empty() ? 1 : *std::max_element(keys.begin(), keys.end()) + 1;
      keys.resize(BN_);
      for (int b = 1; b < B; ++b) std::copy(keys.begin(), keys.begin() + N, keys.begin() + (size_t)b * N);
    } else if (p.kind == Kind::Routed) {
      w.G = p.M;
    }
    if (grouped) {
      const PatternAttention::Layout l = layout_for(p, t, &keys, w.G, N);
      w.align = l.align;
      w.packed = l.layout == GroupLayout::Packed;
    }
    MaskRuns runs;
    if (p.kind == Kind::Keyed && p.ks->mask && w.align > 1 && !w.packed && options->mask_runs) {
      ref::ElementEvaluator ev(*p.ks->mask);
      const MaskShape& hm = st.host.mask();
      runs = mask_runs(std::vector<int>(keys.begin(), keys.begin() + N), w.G, w.align,
                       [&](int q, int kv) { return ev.mask(st.host.coords(q), st.host.coords(kv), hm); });
    }
    w.runs = runs.runs() > 0;
    // entries of the sorted order: a token once, or k times for top-k routing (entry e = token e / k)
    const int Ne = p.kind == Kind::Routed ? N * p.topk : N;
    w.Ns = grouped ? aligned_sorted_length(Ne, w.runs ? runs.runs() : w.G, w.align) : N;
    const size_t BNs = (size_t)B * w.Ns;
    w.tq = (w.Ns + t.block_m - 1) / t.block_m;
    w.tk = (w.Ns + t.block_n - 1) / t.block_n;
    const bool need_map = p.kind != Kind::Dense;
    if (need_map) {
      w.fcnt.ensure(sizeof(int) * B * w.tq);
      w.pcnt.ensure(sizeof(int) * B * w.tq);
      w.fidx.ensure(sizeof(int) * (size_t)B * w.tq * w.tk);
      w.pidx.ensure(sizeof(int) * (size_t)B * w.tq * w.tk);
      if (p.mask) {
        w.qsum.ensure(sizeof(TileSummary) * B * w.tq);
        w.kvsum.ensure(sizeof(TileSummary) * B * w.tk);
      }
    }
    if (p.gate_prog || p.route_gate) w.gate.ensure(sizeof(float) * BNs);
    switch (p.kind) {
      case Kind::Dense:
        break;
      case Kind::Masked:
        block_map(st, m, (int)ki, false, stream, false);
        // the grid rule's input (persistent_grid), from the mask on the host: the map above stays on the GPU
        if (m.k[ki].v->scheduler == Scheduler::ByKernel)
          w.key_tiles = ref::mean_key_tiles(*p.ks, st.host, t.block_m, t.block_n);
        break;
      case Kind::Keyed: {
        std::vector<int> perm(BNs), gid(BNs), seg((size_t)B * (w.G + 1)), segend((size_t)B * w.G);
        if (!w.runs) {
          std::vector<int> scratch(w.G);
          counting_sort_host(keys.data(), nullptr, B, N, 1, w.G, scratch.data(), seg.data(), perm.data(), gid.data(),
                             nullptr, nullptr, w.align, w.Ns, segend.data(), /*by_size=*/false, w.packed);
        } else {  // sorted by run, each run aligned; then gid, seg, seg_end of the groups the runs belong to
          const int R = runs.runs();
          std::vector<int> run_keys((size_t)B * N), scratch(R), seg_run((size_t)B * (R + 1)), end_run((size_t)B * R);
          for (int b = 0; b < B; ++b) std::copy(runs.run_of.begin(), runs.run_of.end(), run_keys.begin() + (size_t)b * N);
          counting_sort_host(run_keys.data(), nullptr, B, N, 1, R, scratch.data(), seg_run.data(), perm.data(),
                             gid.data(), nullptr, nullptr, w.align, w.Ns, end_run.data());
          for (int b = 0; b < B; ++b)
            runs_to_groups(runs, w.G, w.Ns, seg_run.data() + (size_t)b * (R + 1), end_run.data() + (size_t)b * R,
                           gid.data() + (size_t)b * w.Ns, seg.data() + (size_t)b * (w.G + 1),
                           segend.data() + (size_t)b * w.G);
        }
        if (w.align > 1) {
          w.segend.ensure(sizeof(int) * segend.size());
          w.segend.b->upload(segend);
        }
        w.perm.ensure(sizeof(int) * BNs);
        w.gid.ensure(sizeof(int) * BNs);
        w.seg.ensure(sizeof(int) * seg.size());
        w.perm.b->upload(perm);
        w.gid.b->upload(gid);
        w.seg.b->upload(seg);
        w.contiguous = contiguous_tiles(perm, B, w.Ns, t.block_m, t.block_n);
        block_map(st, m, (int)ki, true, stream, false);
        break;
      }
      case Kind::Routed: {
        sort_plan(Ne, w.G, &w.chunk, &w.nblk, &w.ld);
        w.rgid.ensure(sizeof(int) * B * (size_t)Ne);
        w.rprob.ensure(sizeof(float) * B * (size_t)Ne);
        if (p.topk > 1) w.entry.ensure(sizeof(int) * BNs);
        w.perm.ensure(sizeof(int) * BNs);
        w.gid.ensure(sizeof(int) * BNs);
        w.seg.ensure(sizeof(int) * (size_t)B * (w.G + 1));
        if (w.align > 1) w.segend.ensure(sizeof(int) * (size_t)B * w.G);
        w.hist_cells = (size_t)sort_scratch_ints(B, Ne, w.G);
        w.hist.ensure(sizeof(int) * (w.hist_cells + 1));
        CU_CHECK(jit::driver().cuMemsetD32Async(w.hist.ptr(), 0, w.hist_cells + 1, stream));
        w.hist_zero = true;
        break;
      }
    }
    if (p.gate_prog && p.kind != Kind::Routed) gate_fill(st, m, (int)ki, false, stream, false);
    w.static_done = true;
  }
}

std::vector<int> PatternAttention::Impl::host_keys(const KPlan& p, const ref::Shape& host, int N,
                                                   const AttentionShape& s) const {
  ref::ElementEvaluator ev(*p.ks->key);
  std::vector<int> keys(N);
  for (int tok = 0; tok < N; ++tok) {
    const int key = ev.key(host.coords(tok), host.mask());
    if (key < 0)
      throw ArgumentError(fmt::format("kernel '{}': its group key is negative ({}) at token {} for shape {}; "
                                      "keys must be >= 0",
                                      p.ks->name, key, tok, s.describe()));
    keys[tok] = key;
  }
  return keys;
}

PatternAttention::Layout PatternAttention::Impl::layout_for(const KPlan& p, const TileConfig& t,
                                                            const std::vector<int>* keys, int G, int N) const {
  PatternAttention::Layout l;
  if (p.kind == Kind::Keyed) {
    std::vector<int> sizes(G, 0);
    for (int i = 0; i < N; ++i) ++sizes[(*keys)[i]];
    l.padded_pairs = padded_tile_pairs(sizes, t.block_m, t.block_n);
    l.packed_pairs = packed_tile_pairs(sizes, t.block_m, t.block_n);
  } else {
    const long long Ne = (long long)N * p.topk;
    l.padded_pairs = padded_tile_pairs_estimate(Ne, p.M, t.block_m, t.block_n);
    l.packed_pairs = packed_tile_pairs_estimate(Ne, p.M, t.block_m, t.block_n);
  }
  l.layout = choose_group_layout(options->group_layout, l.padded_pairs, l.packed_pairs);
  l.align = std::lcm(t.block_m, t.block_n);
  return l;
}

RouterGrid PatternAttention::Impl::router_setup(ModK& mk, const KPlan& p, RouterParams& rp, size_t* smem,
                                                CUfunction* fn) {
  const int NT = (p.M + 7) / 8;
  size_t rsmem = 0;
  if (mk.router_wg) {
    rp.kc = rp.kst = rp.d_pad;  // not read by router_wg_kernel
    rsmem = (size_t)router_wg_smem_bytes(router_wg_n(p.M), router_wg_stages(router_wg_n(p.M)));
  } else {
    router_choose_chunks(NT, rp.d_pad, &rp.kc, &rp.kst);
    rsmem = router_smem_bytes(NT, rp.d_pad, rp.kc);
  }
  const jit::Driver& drv = jit::driver();
  if (rsmem > mk.router_smem_attr) {
    CU_CHECK(drv.cuFuncSetAttribute(mk.router, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, (int)rsmem));
    if (mk.router_small)
      CU_CHECK(drv.cuFuncSetAttribute(mk.router_small, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, (int)rsmem));
    mk.router_smem_attr = rsmem;
  }
  if (mk.router_occ_smem != rsmem) {
    CU_CHECK(drv.cuOccupancyMaxActiveBlocksPerMultiprocessor(&mk.router_blocks_per_sm, mk.router, mk.router_threads,
                                                             rsmem));
    mk.router_occ_smem = rsmem;
  }
  if (mk.router_blocks_per_sm < 1)
    throw ArgumentError(fmt::format("kernel '{}': the router for d_model {} does not fit on an SM", p.ks->name, rp.d));
  *smem = rsmem;
  *fn = mk.router;
  const long long rows = (long long)rp.B * rp.N;
  if (mk.router_wg) {
    if (rows > 0xffffffffLL)  // router_wg_kernel finds a row's batch item with a 32-bit div_u32
      throw NotSupportedError(fmt::format("kernel '{}': the wgmma router takes at most 2^32 - 1 token rows, got B {} x "
                                          "N {}", p.ks->name, rp.B, rp.N));
    // one CTA per 128 rows, at most the resident ones (they loop); tiles of 64 rows when the 128-row tiles
    // leave SMs idle (same smem: the second warpgroup only copies)
    const long long cap = (long long)mk.router_blocks_per_sm * std::max(sms, 1);
    long long tiles = (rows + kRouterWgRows - 1) / kRouterWgRows;
    if (tiles < cap && mk.router_small) {
      *fn = mk.router_small;
      tiles = (rows + 63) / 64;
    }
    return {std::max(1LL, std::min(tiles, cap)), kRouterWgThreads};
  }
  return router_grid(rows, mk.router_mt, mk.router_threads, mk.router_blocks_per_sm, sms);
}

// Every call of a routed kernel: router (+ fused histogram), scatter, block map, gates.
void PatternAttention::Impl::routed_prep(ShapeState& st, Mod& m, int ki, const RouterInputs& r, const TensorView& wt,
                                         CUstream stream) {
  const KPlan& p = plan[ki];
  KWs& w = st.k[ki];
  ModK& mk = m.k[ki];
  const bool pdl = options->pdl;
  const int B = st.B, N = st.N, M = p.M;
  const int d = (int)r.x.shape[2], d_pad = round_up(d, 128), Mp = router_mp(p);
  w.given_gid = w.given_prob = 0;
  // 1. the histogram the router adds to is zero (the last call's scatter cleared it), else cleared here
  const bool memset = !w.hist_zero;
  if (memset) {
    CU_CHECK(jit::driver().cuMemsetD32Async(w.hist.ptr(), 0, w.hist_cells + 1, stream));
    phase("memset");
  }
  // 2. weight pack (skipped when the caller vouches for an unchanged weight)
  const bool repack = !(r.weights_unchanged && w.wpack_src == wt.ptr && w.wpack_d == d &&
                        w.w_sk == wt.strides[0] && w.w_sn == wt.strides[1]);
  if (repack) {
    w.wpack.ensure(sizeof(unsigned short) * (size_t)Mp * d_pad);
    const void* src = reinterpret_cast<const void*>(wt.ptr);
    long long sk = wt.strides[0], sn = wt.strides[1];
    int dd = d, MM = M, dp_ = d_pad, Mpp = Mp;
    void* out = reinterpret_cast<void*>(w.wpack.ptr());
    void* a[] = {&src, &sk, &sn, &dd, &MM, &dp_, &Mpp, &out};
    const long long total = (long long)Mp * d_pad;
    const unsigned blocks = (unsigned)std::min<long long>((total + 255) / 256, 4096);
    launch_ex(m.pack, blocks, 1, 1, 256, 0, stream, false, a);
    phase("pack");
    w.wpack_src = wt.ptr;
    w.wpack_d = d;
    w.w_sk = sk;
    w.w_sn = sn;
  }
  // 3. router
  RouterParams rp{};
  rp.x = reinterpret_cast<const void*>(r.x.ptr);
  rp.x_sb = r.x.strides[0];
  rp.x_sn = r.x.strides[1];
  rp.w_packed = reinterpret_cast<const void*>(w.wpack.ptr());
  rp.B = B;
  rp.N = N;
  rp.d = d;
  rp.d_pad = d_pad;
  rp.M = M;
  rp.topk = p.topk;
  rp.gid = dp<int>(w.rgid);
  rp.prob = dp<float>(w.rprob);
  rp.logits = nullptr;
  rp.hist = dp<int>(w.hist);
  rp.hist_chunk = w.chunk;
  rp.hist_ld = w.ld;
  size_t rsmem = 0;
  CUfunction rfn = nullptr;
  const RouterGrid rg = router_setup(mk, p, rp, &rsmem, &rfn);
  {
    void* a[] = {&rp};
    // PDL behind the stream's previous kernel (the pack, or whatever ran before); behind a memset it
    // launches normally
    w.hist_zero = false;
    launch_ex(rfn, (unsigned)rg.blocks, 1, 1, (unsigned)rg.threads, (unsigned)rsmem, stream,
              pdl && (repack || !memset), a);
    phase("router");
  }
  // 4. scatter: segment offsets, perm, gid, gate; 5. block map; 6. gate program
  sort_and_map(st, m, ki, dp<const int>(w.rgid), dp<const float>(w.rprob), /*hist_done=*/true, stream);
}

// A given routing (RouterInputs::routing, sequence parallelism): the counting sort's histogram from the
// given gid (sort_hist_kernel writes every cell the scatter reads: no memset), then as routed_prep from
// the scatter on.
void PatternAttention::Impl::given_prep(ShapeState& st, Mod& m, int ki, const RouterInputs::Given& g, CUstream stream) {
  sort_and_map(st, m, ki, reinterpret_cast<const int*>(g.gid), reinterpret_cast<const float*>(g.prob),
               /*hist_done=*/false, stream);
  st.k[ki].given_gid = g.gid;
  st.k[ki].given_prob = g.prob;
}

// The tail both routings share: (the histogram, unless the router fused it) -> scatter (segment
// offsets, perm, gid, gate at sorted positions) -> block map from the segments (and the mask) ->
// the gate program.
void PatternAttention::Impl::sort_and_map(ShapeState& st, Mod& m, int ki, const int* gid, const float* prob,
                                          bool hist_done, CUstream stream) {
  const KPlan& p = plan[ki];
  KWs& w = st.k[ki];
  const bool pdl = options->pdl;
  const int B = st.B;
  SortParams sp{};
  sp.keys = gid;
  sp.probs = p.route_gate ? prob : nullptr;
  sp.B = B;
  sp.Ne = st.N * p.topk;
  sp.k = p.topk;
  sp.G = w.G;
  sp.chunk = w.chunk;
  sp.nblk = w.nblk;
  sp.ld = w.ld;
  sp.blk_hist = dp<int>(w.hist);
  sp.seg_offsets = dp<int>(w.seg);
  sp.order = nullptr;
  sp.perm = dp<int>(w.perm);
  sp.gid = dp<int>(w.gid);
  sp.gate = p.route_gate ? dp<float>(w.gate) : nullptr;
  sp.err = nullptr;
  sp.align = w.align;
  sp.out_ld = w.Ns;
  sp.seg_end = w.align > 1 ? dp<int>(w.segend) : nullptr;
  sp.by_size = w.align > 1 && !w.packed ? 1 : 0;  // padded routed groups: the longest is scheduled first
  sp.packed = w.packed ? 1 : 0;
  sp.entry = p.topk > 1 ? dp<int>(w.entry) : nullptr;
  sp.hist_readers = dp<int>(w.hist) + w.hist_cells;
  if (!hist_done) {  // sort_hist_kernel writes every cell the scatter reads: no memset
    void* a[] = {&sp};
    launch_ex(m.hist, (unsigned)w.nblk, (unsigned)B, 1, 256, (unsigned)(sizeof(int) * w.G), stream, false, a);
    phase("hist");
  }
  const size_t ssmem = sort_scatter_smem_bytes(w.G, false);
  if (ssmem > 48 * 1024 && ssmem > m.scatter_smem_attr) {
    CU_CHECK(jit::driver().cuFuncSetAttribute(m.scatter, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, (int)ssmem));
    m.scatter_smem_attr = ssmem;
  }
  {
    void* a[] = {&sp};
    launch_ex(m.scatter, (unsigned)w.nblk, (unsigned)B, 1, 256, (unsigned)ssmem, stream, pdl, a);
    w.hist_zero = true;  // the scatter clears the histogram after its last block read it
    phase("scatter");
  }
  block_map(st, m, ki, true, stream, pdl);
  if (p.gate_prog) gate_fill(st, m, ki, p.route_gate, stream, pdl);
}

// Scheduler::ByKernel. Measured on the H100 (persistent vs one CTA per item): the static round-robin,
// routed groups of ~2k tokens (16 key tiles) -4%, ~0.5k -3.6%; ~4.7k (37 tiles) +1.5%, 8-19k +1..6%;
// STGA's unequal items +27%. With the dynamic scheduler: 16 key tiles -5..-7%, 37 tiles -6%, 51 tiles -2%
// (one CTA per item varied 17% there), 64+ tiles +-3%; the moga layer's static branches (STGA,
// frame-local) +2% (docs/performance.md, "v11"). On the H200 (session 9, masked kernels on sm90.tma at
// 32,768 tokens, BN 176, layer ms): streaming_sinks (~8 key tiles an item) -5%, longformer_dilated (~13)
// -2%, gemma2_local_softcap (~23) -2%, natten3d (~17) -1%, sta3d (~57) 0%, sliding_window -22% (the tuner),
// prefix_lm and alibi_causal (~94) +10% / +2%; routed_causal_m64 (masked, groups of 512) -12%.
constexpr int kPersistentMaxTiles = 64;
bool PatternAttention::Impl::persistent_grid(const KPlan& p, const KWs& w, const ModK& mk, int N) const {
  switch (mk.v->scheduler) {
    case Scheduler::QueryTiles:
    case Scheduler::PerItem: return false;
    case Scheduler::PersistentDynamic:
    case Scheduler::PersistentStatic: return true;
    case Scheduler::ByKernel: break;
  }
  // Packed groups (group_layout.h): items of one or two key tiles, where one CTA per item runs each item's
  // copies, compute and epilogue back to back (svg_temporal, 1 tile per item: 0.465 ms on the H200, 4.7x
  // the memory floor); a persistent CTA's producer copies the next item during the current one.
  if (w.packed) return true;
  if (p.kind == Kind::Masked) return w.key_tiles >= 0 && w.key_tiles < kPersistentMaxTiles;
  if (p.kind != Kind::Routed || w.G < 1) return false;
  return (double)N / w.G / mk.t.block_n < kPersistentMaxTiles;
}

void PatternAttention::Impl::attention(ShapeState& st, Mod& m, int ki, const TensorView& q, const TensorView& k,
                                       const TensorView& v, const TensorView& out, const AttentionShape& s,
                                       CUstream stream, CUdeviceptr lse, const TensorView* branch) {
  const KPlan& p = plan[ki];
  KWs& w = st.k[ki];
  AttnParams a{};
  a.q = reinterpret_cast<const void*>(q.ptr);
  a.k = reinterpret_cast<const void*>(k.ptr);
  a.v = reinterpret_cast<const void*>(v.ptr);
  a.o = reinterpret_cast<void*>(out.ptr);
  a.q_sb = q.strides[0], a.q_sn = q.strides[1], a.q_sh = q.strides[2];
  a.k_sb = k.strides[0], a.k_sn = k.strides[1], a.k_sh = k.strides[2];
  a.v_sb = v.strides[0], a.v_sn = v.strides[1], a.v_sh = v.strides[2];
  a.o_sb = out.strides[0], a.o_sn = out.strides[1], a.o_sh = out.strides[2];
  a.B = s.B;
  a.N = w.Ns;  // the sorted order's length (padded when the groups are aligned)
  a.H = s.H;
  // keys/values of another length (cross-attention; validate() allows it for dense kernels only)
  const int Nk = (int)k.shape[1];
  a.Nk = Nk != s.N ? Nk : 0;
  if (p.kind == Kind::Dense) w.tk = (Nk + m.k[ki].t.block_n - 1) / m.k[ki].t.block_n;  // last_block_map
  const double scale = p.ks->scale ? *p.ks->scale : 1.0 / std::sqrt((double)s.D);
  a.scale_log2 = (float)(scale * kLog2e);
  const bool grouped = p.kind == Kind::Keyed || p.kind == Kind::Routed;
  a.perm = grouped ? dp<const int>(w.perm) : nullptr;
  a.gid = grouped ? dp<const int>(w.gid) : nullptr;
  // packed groups share tiles: visibility by group id (seg_end null); seg_offsets still bounds the query tiles
  // mask runs: padding inside a group's span, so visibility by group id too (the map keeps seg_end's span)
  a.seg_end = grouped && w.align > 1 && !w.packed && !w.runs ? dp<const int>(w.segend) : nullptr;
  a.seg_offsets = grouped && w.align > 1 ? dp<const int>(w.seg) : nullptr;
  a.G = w.G;
  if (p.kind != Kind::Dense) {
    a.map.full_cnt = dp<const int>(w.fcnt);
    a.map.full_idx = dp<const int>(w.fidx);
    a.map.part_cnt = dp<const int>(w.pcnt);
    a.map.part_idx = dp<const int>(w.pidx);
    a.map.num_q_tiles = w.tq;
    a.map.num_kv_tiles = w.tk;
  }
  a.gate = (p.gate_prog || p.route_gate) ? dp<const float>(w.gate) : nullptr;
  a.weight = (float)p.ks->weight;
  a.accumulate = ki > 0 ? 1 : 0;
  a.shape = st.ms;
  if (slice.seq > 0) {  // a slice of a sequence (RunOptions::q_offset): the coordinates of the whole one
    a.q_pos0 = (int)slice.q0;
    a.kv_pos0 = (int)slice.kv0;
    a.shape.N = (int)slice.seq;
    if (!s.video) a.shape.W = (int)slice.seq;  // layout seq: one row of the whole sequence
    if (p.kind == Kind::Masked) {
      // The block map (static_prep's) classifies the tiles of a whole sequence at offset 0; this call's
      // tiles are at other positions, so every key tile is visited as partial and the mask decides each
      // element (empty tiles cost a tile; classifying them at the global positions is the next step).
      const int tq = (w.Ns + m.k[ki].t.block_m - 1) / m.k[ki].t.block_m;
      const int tk = (Nk + m.k[ki].t.block_n - 1) / m.k[ki].t.block_n;
      if (w.slice_tq != tq || w.slice_tk != tk || w.slice_b != s.B) {
        std::vector<int> h((size_t)s.B * tq * (2 + tk), 0);  // [full_cnt][part_cnt][part_idx], full_idx unread
        int* pc = h.data() + (size_t)s.B * tq;
        int* pi = pc + (size_t)s.B * tq;
        for (long long r = 0; r < (long long)s.B * tq; ++r) {
          pc[r] = tk;
          for (int j = 0; j < tk; ++j) pi[r * tk + j] = j;
        }
        if (w.slice_map.b) CU_CHECK(jit::driver().cuCtxSynchronize());  // a queued launch may read the old map
        w.slice_map.ensure(sizeof(int) * h.size());
        w.slice_map.b->upload(h.data(), sizeof(int) * h.size());
        w.slice_tq = tq, w.slice_tk = tk, w.slice_b = s.B;
      }
      const int* base = dp<const int>(w.slice_map);
      a.map.full_cnt = base;
      a.map.full_idx = base + 2LL * s.B * tq;
      a.map.part_cnt = base + (long long)s.B * tq;
      a.map.part_idx = base + 2LL * s.B * tq;
      a.map.num_q_tiles = tq;
      a.map.num_kv_tiles = tk;
    }
  }
  if (qrange.t1 > 0) {  // RunOptions::query_begin / query_end (validate_slice: every kernel has a map, top 1)
    const int tq = w.tq, B = s.B;
    w.qrange_cnt.ensure(sizeof(int) * 2 * (size_t)B * tq);
    QueryRangeParams qp{};
    qp.perm = a.perm;
    qp.full_cnt = a.map.full_cnt;
    qp.part_cnt = a.map.part_cnt;
    qp.B = B, qp.Ne = w.Ns, qp.tq = tq, qp.tile_q = m.k[ki].t.block_m;
    qp.t0 = (int)qrange.t0, qp.t1 = (int)qrange.t1;
    qp.out_full = dp<int>(w.qrange_cnt);
    qp.out_part = qp.out_full + (size_t)B * tq;
    void* qa[] = {&qp};
    const long long blocks = std::min<long long>(std::max<long long>(((long long)B * tq + 7) / 8, 1), 65535);
    launch_ex(m.qrange, (unsigned)blocks, 1, 1, 256, 0, stream, options->pdl, qa);
    phase("map");
    a.map.full_cnt = qp.out_full;
    if (a.map.part_cnt) a.map.part_cnt = qp.out_part;
  }
  const KeyFieldBits kb = key_field_bits(s);
  a.key_col_bits = kb.col;
  a.key_row_bits = kb.row;
  // Top-k > 1: the k entries of a token write k rows of a [B][N k][H][D] buffer (AttnParams::out_row), which
  // topk_combine_kernel then sums into out with the branch weight, in a fixed order (deterministic).
  // A kept branch (RunOptions::branch_out) is written the same way, to the caller's rows (k = 1 too).
  const bool topk_rows = p.topk > 1 || branch;
  if (topk_rows) {
    const long long Ne = (long long)s.N * p.topk;
    if (branch) {
      a.o = reinterpret_cast<void*>(branch->ptr);
    } else {
      w.rows.ensure(sizeof(unsigned short) * (size_t)s.B * Ne * s.H * s.D);
      a.o = reinterpret_cast<void*>(w.rows.ptr());
    }
    a.o_sh = s.D;
    a.o_sn = (long long)s.H * s.D;
    a.o_sb = Ne * s.H * s.D;
    a.out_row = p.topk > 1 ? dp<const int>(w.entry) : nullptr;
    a.weight = 1.f;
    a.accumulate = 0;
  }
  a.lse = reinterpret_cast<float*>(lse);
  a.lse_rows = (long long)s.N * p.topk;
  const ModK& mk = m.k[ki];
  TmaMaps maps{};  // attention_fwd_tma's second parameter (sm90.tma rows)
  Fp8Scales fs{dp<const float>(fp8_amax_buf)};  // attention_fwd_fp8's third (sm90.tma.fp8)
  w.by_perm = !mk.v->fp8 && mk.v->tma && grouped && w.contiguous;
  if (mk.v->fp8) {
    const Fp8Copy& c = grouped ? w.fp8 : fp8_id;
    maps = make_fp8_tma_maps(c.q.ptr(), c.k.ptr(), c.vt.ptr(), fp8_map_shapes(c.lay, mk.t.block_m, mk.t.block_n));
  } else if (w.by_perm) {
    // tiles of consecutive tokens (computed groups by frame, by document): boxes of the inputs by perm
    maps = make_tma_maps(q, k, v, s.N, s.N, mk.t.block_m, mk.t.block_n);
    maps.rows_by_perm = 1;
  } else if (mk.v->tma && grouped) {
    // a bf16 TMA row without a gather row (sm90.tma.sorted): the kernel loads sorted copies of q, k, v
    const TensorView sq = sorted_copies(st, m, ki, q, k, v, s, stream);
    const size_t each = (size_t)s.B * w.Ns * s.H * s.D;
    const TensorView sk = TensorView::contiguous(sq.ptr + each * 2, DType::BF16, {s.B, w.Ns, s.H, s.D});
    const TensorView sv = TensorView::contiguous(sq.ptr + each * 4, DType::BF16, {s.B, w.Ns, s.H, s.D});
    a.q = reinterpret_cast<const void*>(sq.ptr);
    a.k = reinterpret_cast<const void*>(sk.ptr);
    a.v = reinterpret_cast<const void*>(sv.ptr);
    a.q_sb = a.k_sb = a.v_sb = (long long)w.Ns * s.H * s.D;
    a.q_sn = a.k_sn = a.v_sn = (long long)s.H * s.D;
    a.q_sh = a.k_sh = a.v_sh = s.D;
    maps = make_tma_maps(sq, sk, sv, w.Ns, w.Ns, mk.t.block_m, mk.t.block_n);
  } else if (mk.v->tma) {
    maps = make_tma_maps(q, k, v, a.N, Nk, mk.t.block_m, mk.t.block_n);
  }
  void* args[] = {&a, &maps, &fs};
  CUfunction fn = lse ? mk.attn_lse : mk.attn;
  const unsigned tq = (unsigned)((w.Ns + mk.t.block_m - 1) / mk.t.block_m);
  if (mk.v->engine == Engine::Wgmma) {  // one work item (b, h, q tile) per CTA, a 1-D grid (validate() bounds it)
    unsigned grid = tq * (unsigned)s.H * (unsigned)s.B;
    w.grid = {grid, (long long)grid, false, false, w.key_tiles};
    if (persistent_grid(p, w, mk, s.N * p.topk) && sms > 0 && (unsigned)sms < grid) {
      grid = (unsigned)sms;
      w.grid.ctas = grid;
      w.grid.persistent = true;
      w.grid.dynamic = mk.v->scheduler != Scheduler::PersistentStatic;
      if (w.grid.dynamic) {
        if (!w.sched.b) {
          w.sched.ensure(2 * sizeof(int));
          w.sched.b->upload(std::vector<int>{0, 0});  // the kernel leaves it zero after every launch
        }
        a.item_counter = dp<int>(w.sched);
      }
    }
    launch_ex(fn, grid, 1, 1, mk.v->threads(mk.t), mk.smem, stream, options->pdl, args);
  }
  else {
    w.grid = {tq * (unsigned)s.H * (unsigned)s.B, 0, false, false, w.key_tiles};
    launch_ex(fn, tq, (unsigned)s.H, (unsigned)s.B, mk.v->threads(mk.t), mk.smem, stream, options->pdl, args);
  }
  phase("attention");
  if (topk_rows) {
    TopkCombineParams c{};
    c.rows = reinterpret_cast<const void*>(branch ? branch->ptr : w.rows.ptr());
    c.out = reinterpret_cast<void*>(out.ptr);
    c.o_sb = out.strides[0], c.o_sn = out.strides[1], c.o_sh = out.strides[2];
    c.B = s.B, c.N = s.N, c.H = s.H, c.D = s.D, c.k = p.topk;
    c.weight = (float)p.ks->weight;
    c.accumulate = ki > 0 ? 1 : 0;
    void* ca[] = {&c};
    const long long n = (long long)s.B * s.N * s.H * (s.D / 8);
    const unsigned blocks = (unsigned)std::min<long long>((n + 255) / 256, (long long)std::max(sms, 1) * 8);
    launch_ex(m.combine, blocks, 1, 1, 256, 0, stream, options->pdl, ca);
    phase("combine");
  }
}

// ---- FP8 -------------------------------------------------------------------------------------------------

const char* precision_name(Precision p) { return p == Precision::Fp8 ? "fp8" : "bf16"; }

// FP8 (fp8_prep.cuh): the memset of the amax and the amax pass over q, k, v (in any order: the scales are
// per (tensor, batch, head)); then per copy the quantization (PDL behind the previous launch).
static Fp8PrepParams fp8_params(const TensorView& q, const TensorView& k, const TensorView& v, const AttentionShape& s,
                                float* amax) {
  Fp8PrepParams pp{};
  const TensorView* src[3] = {&q, &k, &v};
  for (int t = 0; t < 3; ++t) {
    pp.src[t] = reinterpret_cast<const void*>(src[t]->ptr);
    pp.sb[t] = src[t]->strides[0], pp.sn[t] = src[t]->strides[1], pp.sh[t] = src[t]->strides[2];
  }
  pp.rows[0] = s.N, pp.rows[1] = pp.rows[2] = (int)k.shape[1];
  pp.B = s.B, pp.H = s.H;
  pp.amax = amax;
  return pp;
}
static unsigned fp8_blocks(long long rows, long long ldv) {
  return (unsigned)((std::max(rows, ldv) + kFp8RowsPerBlock - 1) / kFp8RowsPerBlock);
}

void PatternAttention::Impl::fp8_amax(Mod& m, const TensorView& q, const TensorView& k, const TensorView& v,
                                      const AttentionShape& s, CUstream stream) {
  const Fp8Layout l = fp8_layout(s.B, s.H, s.N, k.shape[1]);
  fp8_amax_buf.ensure(l.amax_bytes);
  Fp8PrepParams pp = fp8_params(q, k, v, s, dp<float>(fp8_amax_buf));
  CU_CHECK(jit::driver().cuMemsetD32Async(fp8_amax_buf.ptr(), 0, 3 * (size_t)s.B * s.H, stream));
  void* a[] = {&pp};
  // behind the memset: a normal launch
  launch_ex(m.fp8_amax, fp8_blocks(std::max<long long>(l.N, l.Nk), 0), (unsigned)s.H, 3u * (unsigned)s.B, 256, 0,
            stream, false, a);
  phase("fp8 amax");
  fp8_amax_lay = l;
  fp8_amax_done = true;
}

void PatternAttention::Impl::fp8_quantize(Mod& m, const TensorView& q, const TensorView& k, const TensorView& v,
                                          const AttentionShape& s, Fp8Copy& c, const int* perm, int rows,
                                          CUstream stream) {
  const Fp8Layout l = perm ? fp8_layout(s.B, s.H, rows, rows) : fp8_layout(s.B, s.H, s.N, k.shape[1]);
  c.q.ensure(l.q_bytes);
  c.k.ensure(l.k_bytes);
  c.vt.ensure(l.vt_bytes);
  Fp8PrepParams pp = fp8_params(q, k, v, s, dp<float>(fp8_amax_buf));
  if (perm) pp.rows[0] = pp.rows[1] = pp.rows[2] = rows;
  pp.perm = perm;
  pp.q8 = reinterpret_cast<unsigned char*>(c.q.ptr());
  pp.k8 = reinterpret_cast<unsigned char*>(c.k.ptr());
  pp.vt8 = reinterpret_cast<unsigned char*>(c.vt.ptr());
  pp.ldv = l.ldv;
  void* a[] = {&pp};
  launch_ex(m.fp8_quant, fp8_blocks(l.N, l.ldv), (unsigned)s.H, 3u * (unsigned)s.B, 256, 0, stream, options->pdl, a);
  phase("fp8 quantize");
  c.lay = l;
  c.done = true;
}

// sorted_copy_kernel (sorted_copy.cuh): q, k, v of kernel ki in its sorted order (w.perm, padding zero) into
// w.sorted, [3][B][Ns][H][D]; returns the q part (k and v follow at B Ns H D elements each). Every call (the
// inputs change between calls; the order may too), after the prep that wrote perm.
TensorView PatternAttention::Impl::sorted_copies(ShapeState& st, Mod& m, int ki, const TensorView& q,
                                                 const TensorView& k, const TensorView& v, const AttentionShape& s,
                                                 CUstream stream) {
  KWs& w = st.k[ki];
  const size_t each = (size_t)s.B * w.Ns * s.H * s.D;
  w.sorted.ensure(3 * each * sizeof(unsigned short));
  SortedCopyParams c{};
  const TensorView* src[3] = {&q, &k, &v};
  for (int i = 0; i < 3; ++i) {
    c.src[i] = reinterpret_cast<const void*>(src[i]->ptr);
    c.sb[i] = src[i]->strides[0], c.sn[i] = src[i]->strides[1], c.sh[i] = src[i]->strides[2];
    c.dst[i] = reinterpret_cast<void*>(w.sorted.ptr() + i * each * sizeof(unsigned short));
  }
  c.perm = dp<const int>(w.perm);
  c.B = s.B, c.Ns = w.Ns, c.H = s.H, c.D = s.D, c.n_tensors = 3;
  void* a[] = {&c};
  launch_ex(m.sorted_copy, (unsigned)((size_t)s.B * w.Ns), 1, 1, 256, 0, stream, options->pdl, a);
  phase("sorted copy");
  return TensorView::contiguous(w.sorted.ptr(), DType::BF16, {s.B, w.Ns, s.H, s.D});
}

// ---- run -------------------------------------------------------------------------------------------------

void PatternAttention::validate_query_range(const RunOptions& opt, const AttentionShape& s) const {
  const long long t0 = opt.query_begin, t1 = opt.query_end;
  if (t0 == 0 && t1 == 0) return;
  if (t0 < 0 || t1 <= t0 || t1 > s.N)
    throw ArgumentError(fmt::format("RunOptions: the query range [{}, {}) must be a non-empty range of the {} tokens",
                                    t0, t1, s.N));
  if (opt.seq_tokens)
    throw ArgumentError("RunOptions: a query range and token offsets (seq_tokens) together (the ring's steps are "
                        "slices, the gather's call is the whole sequence)");
  for (const auto& p : impl_->plan) {
    const char* why = p.kind == Kind::Dense ? "is dense (no block map to leave the other query tiles out of)"
                      : p.topk > 1          ? "routes top k > 1 (entry rows, not token rows)"
                                            : nullptr;
    if (why)
      throw ArgumentError(fmt::format("RunOptions: a query range [{}, {}) needs a block map in every kernel, and kernel "
                                      "'{}' of pattern '{}' {}",
                                      t0, t1, p.ks->name, spec().pattern, why));
  }
}

void PatternAttention::validate_slice(const RunOptions& opt, const TensorView& q, const TensorView& k,
                                      const AttentionShape& s) const {
  validate_query_range(opt, s);
  const long long T = opt.seq_tokens;
  if (T == 0) {
    if (opt.q_offset || opt.kv_offset)
      throw ArgumentError(fmt::format("RunOptions: q_offset {} / kv_offset {} given without seq_tokens (the length of "
                                      "the sequence the call is a slice of)",
                                      opt.q_offset, opt.kv_offset));
    return;
  }
  const long long Nq = q.rank == 4 ? q.shape[1] : s.N, Nk = k.rank == 4 ? k.shape[1] : s.N;
  if (T < 0 || T >= (1LL << 31))
    throw ArgumentError(fmt::format("RunOptions::seq_tokens must be in [1, 2^31), got {}", T));
  if (opt.q_offset < 0 || opt.q_offset + Nq > T)
    throw ArgumentError(fmt::format("RunOptions::q_offset {}: the {} queries must lie in the sequence of seq_tokens = {} "
                                    "tokens",
                                    opt.q_offset, Nq, T));
  if (opt.kv_offset < 0 || opt.kv_offset + Nk > T)
    throw ArgumentError(fmt::format("RunOptions::kv_offset {}: the {} keys must lie in the sequence of seq_tokens = {} "
                                    "tokens",
                                    opt.kv_offset, Nk, T));
  const std::string pname = spec().pattern;
  for (const auto& p : impl_->plan) {
    const char* why = p.kind == Kind::Keyed    ? "groups tokens by a key (one token order for queries and keys)"
                      : p.kind == Kind::Routed ? "is routed (one token order for queries and keys)"
                      : p.gate_prog            ? "has a gate program (its gates are filled at the call's own positions)"
                                               : nullptr;
    if (why)
      throw ArgumentError(fmt::format("RunOptions: token offsets (a slice of a sequence of {} tokens) need dense or "
                                      "masked kernels, and kernel '{}' of pattern '{}' {}",
                                      T, p.ks->name, pname, why));
    const Impl::Choice c = impl_->choose(p.index, s.D);
    if (c.engine() != Engine::Wgmma || c.v->fp8)
      throw ArgumentError(fmt::format("RunOptions: token offsets need the bf16 wgmma kernels; kernel '{}' of pattern "
                                      "'{}' runs on {} ({}), which takes no offsets",
                                      p.ks->name, pname, c.v->name, engine_name(c.engine())));
    if (opt.lse.empty() || !opt.lse[p.index])
      throw ArgumentError(fmt::format("RunOptions: token offsets need RunOptions::lse for every kernel (the "
                                      "log-sum-exp instantiation reads them; ring attention merges by it), and "
                                      "kernel '{}' of pattern '{}' has none",
                                      p.ks->name, pname));
  }
}

void PatternAttention::run(const TensorView& q, const TensorView& k, const TensorView& v, const TensorView& out,
                           const AttentionShape& s, const RouterInputs* router, CUstream stream,
                           const RunOptions& opt) {
  validate(q, k, v, out, s, router, opt.seq_tokens);
  if (!opt.lse.empty()) {
    if (!options_.lse)
      throw ArgumentError("RunOptions::lse given, but the PatternAttention was built without AttentionOptions::lse");
    if (opt.lse.size() != spec().kernels.size())
      throw ArgumentError(fmt::format("RunOptions::lse: {} buffers given; the pattern '{}' has {} kernels (one each, "
                                      "0 for none)",
                                      opt.lse.size(), spec().pattern, spec().kernels.size()));
    for (CUdeviceptr p : opt.lse)
      if (p % 4) throw ArgumentError("RunOptions::lse: a buffer is not 4-byte aligned");
  }
  validate_branches(opt.branch_out, q, k, v, out, s);
  validate_slice(opt, q, k, s);
  Impl& im = *impl_;
  im.slice = {opt.q_offset, opt.kv_offset, opt.seq_tokens};
  im.qrange = {opt.query_begin, opt.query_end};
  jit::Device::get().make_current();
  Impl::Mod& m = im.module(s.D, im.bias_bytes(s, opt.seq_tokens));
  Impl::ShapeState& st = im.shape_state(s);
  const bool fresh = std::any_of(st.k.begin(), st.k.end(), [](const Impl::KWs& w) { return !w.static_done; });
  im.phase_cb = nullptr;  // the static per-shape work is not reported (a throwing run may have left it set)
  if (fresh) im.static_prep(st, m, s, stream);
  if (!opt.prep)
    for (int ki : routed_)
      if (!st.k[ki].ran)
        throw ArgumentError(fmt::format("run(prep = false): kernel '{}' has not been routed for shape {} yet; run "
                                        "once with prep first",
                                        spec().kernels[ki].name, s.describe()));
  im.phase_cb = opt.phase;
  // FP8: the amax once per call, the identity-order copy for the kernels without a gather (gathered ones
  // quantize in their order below, after their routing); prep = false reuses what matches the shape
  bool fp8_fresh = false;
  im.phase_ki = 0;
  if (opt.attention && m.fp8_quant) {
    const Fp8Layout l = fp8_layout(s.B, s.H, s.N, k.shape[1]);
    fp8_fresh = opt.prep || !im.fp8_amax_done || !same_fp8_layout(l, im.fp8_amax_lay);
    if (fp8_fresh) im.fp8_amax(m, q, k, v, s, stream);
    bool ungathered = false;
    for (size_t ki = 0; ki < im.plan.size(); ++ki) ungathered |= m.k[ki].v->fp8 && !im.grouped_kernel((int)ki);
    if (ungathered && (fp8_fresh || !im.fp8_id.done || !same_fp8_layout(l, im.fp8_id.lay)))
      im.fp8_quantize(m, q, k, v, s, im.fp8_id, nullptr, 0, stream);
  }
  for (size_t ki = 0; ki < im.plan.size(); ++ki) {
    im.phase_ki = (int)ki;
    if (opt.prep && im.plan[ki].kind == Kind::Routed) {
      if (!router->routing.empty()) {
        const size_t j = std::find(routed_.begin(), routed_.end(), (int)ki) - routed_.begin();
        im.given_prep(st, m, (int)ki, router->routing[j], stream);
      } else {
        const TensorView* w = weight_for(*router, routed_, (int)spec().kernels.size(), (int)ki);
        im.routed_prep(st, m, (int)ki, *router, *w, stream);
      }
      st.k[ki].ran = true;
      if (opt.mark) opt.mark((int)ki, true);
    }
    if (opt.attention && m.k[ki].v->fp8 && im.grouped_kernel((int)ki)) {  // its copy in its sorted order
      Impl::KWs& w = st.k[ki];
      if (fp8_fresh || !w.fp8.done || !same_fp8_layout(fp8_layout(s.B, s.H, w.Ns, w.Ns), w.fp8.lay))
        im.fp8_quantize(m, q, k, v, s, w.fp8, dp<const int>(w.perm), w.Ns, stream);
    }
    if (opt.attention)
      im.attention(st, m, (int)ki, q, k, v, out, s, stream, opt.lse.empty() ? 0 : opt.lse[ki],
                   opt.branch_out.empty() ? nullptr : &opt.branch_out[ki]);
    if (opt.attention && opt.mark) opt.mark((int)ki, false);
  }
  im.phase_cb = nullptr;
  im.last = &st;
}

void PatternAttention::validate_branches(const std::vector<TensorView>& br, const TensorView& q, const TensorView& k,
                                         const TensorView& v, const TensorView& out, const AttentionShape& s,
                                         const char* arg) const {
  if (br.empty()) return;
  if (!options_.lse)
    throw ArgumentError(fmt::format("{} given, but the PatternAttention was built without AttentionOptions::lse "
                                    "(the training module)",
                                    arg));
  const auto& ks = spec().kernels;
  if (br.size() != ks.size())
    throw ArgumentError(fmt::format("{}: {} buffers given; the pattern '{}' has {} kernels (one each)", arg,
                                    br.size(), spec().pattern, ks.size()));
  for (size_t i = 0; i < br.size(); ++i) {
    const std::string name = fmt::format("{}[{}] (kernel '{}')", arg, i, ks[i].name);
    const int topk = ks[i].topk();
    expect_bnhd(br[i], name.c_str(), s.B, (int64_t)s.N * topk, s.H, s.D, topk > 1 ? "N k" : "N");
    if (!br[i].is_contiguous())
      throw ArgumentError(fmt::format("{}: must be contiguous, got {}", name, br[i].describe()));
    const std::pair<const TensorView*, const char*> others[] = {{&q, "q"}, {&k, "k"}, {&v, "v"}, {&out, "out"}};
    for (const auto& [o, on] : others)
      if (overlaps(br[i], *o)) throw ArgumentError(fmt::format("{} overlaps {}: pass separate buffers", name, on));
    for (size_t j = 0; j < i; ++j)
      if (overlaps(br[i], br[j])) throw ArgumentError(fmt::format("{} overlaps entry {}: pass separate buffers", name, j));
  }
}

// ---- the router alone (sequence parallelism) ------------------------------------------------------------

void PatternAttention::route(int ki, const TensorView& x, const TensorView& wt, CUdeviceptr gid, CUdeviceptr prob,
                             int head_dim, CUstream stream) {
  Impl& im = *impl_;
  if (ki < 0 || ki >= (int)im.plan.size() || im.plan[ki].kind != Kind::Routed)
    throw ArgumentError(fmt::format("route: kernel {} is not routed", ki));
  if (head_dim != 64 && head_dim != 128)
    throw ArgumentError(fmt::format("route: head dim {} is not supported: the kernels exist for D = 64 and 128", head_dim));
  if (x.rank != 3) throw ArgumentError(fmt::format("route: x must be bf16 [B, n, d_model], got {}", x.describe()));
  expect_router_x(x, "route: x", x.shape[0], x.shape[1]);
  const Impl::KPlan& p = im.plan[ki];
  expect_router_w(wt, "route: w", x.shape[2], p.M);
  if (x.shape[0] < 1 || x.shape[1] < 1 || x.shape[0] * x.shape[1] >= (1LL << 31))
    throw ArgumentError(fmt::format("route: B * n must be in [1, 2^31), got {}", x.describe()));
  if (!gid || !prob || (gid % 4) || (prob % 4))
    throw ArgumentError("route: gid and prob must be non-null, 4-byte aligned device pointers");
  jit::Device::get().make_current();
  Impl::Mod& m = im.any_module(head_dim);
  Impl::ModK& mk = m.k[ki];
  const int B = (int)x.shape[0], N = (int)x.shape[1], M = p.M;
  const int d = (int)x.shape[2], d_pad = round_up(d, 128), Mp = im.router_mp(p);
  Impl::RouteWs& rw = im.route_ws[ki];
  rw.wpack.ensure(sizeof(unsigned short) * (size_t)Mp * d_pad);
  {
    const void* src = reinterpret_cast<const void*>(wt.ptr);
    long long sk = wt.strides[0], sn = wt.strides[1];
    int dd = d, MM = M, dp_ = d_pad, Mpp = Mp;
    void* out = reinterpret_cast<void*>(rw.wpack.ptr());
    void* a[] = {&src, &sk, &sn, &dd, &MM, &dp_, &Mpp, &out};
    const long long total = (long long)Mp * d_pad;
    launch_ex(m.pack, (unsigned)std::min<long long>((total + 255) / 256, 4096), 1, 1, 256, 0, stream, false, a);
  }
  RouterParams rp{};
  rp.x = reinterpret_cast<const void*>(x.ptr);
  rp.x_sb = x.strides[0];
  rp.x_sn = x.strides[1];
  rp.w_packed = reinterpret_cast<const void*>(rw.wpack.ptr());
  rp.B = B;
  rp.N = N;
  rp.d = d;
  rp.d_pad = d_pad;
  rp.M = M;
  rp.topk = p.topk;
  rp.gid = reinterpret_cast<int*>(gid);
  rp.prob = reinterpret_cast<float*>(prob);
  rp.logits = nullptr;
  rp.hist = nullptr;  // no counting sort follows here
  rp.hist_chunk = 1;
  rp.hist_ld = 1;
  size_t rsmem = 0;
  CUfunction rfn = nullptr;
  const RouterGrid rg = im.router_setup(mk, p, rp, &rsmem, &rfn);
  void* a[] = {&rp};
  launch_ex(rfn, (unsigned)rg.blocks, 1, 1, (unsigned)rg.threads, (unsigned)rsmem, stream, options_.pdl, a);
}

// ---- inspection ------------------------------------------------------------------------------------------

static void sync(CUstream stream) { CU_CHECK(jit::driver().cuStreamSynchronize(stream)); }

PatternAttention::Routing PatternAttention::last_routing(int ki, CUstream stream) const {
  const Impl& im = *impl_;
  if (ki < 0 || ki >= (int)im.plan.size() || im.plan[ki].kind != Kind::Routed)
    throw ArgumentError(fmt::format("last_routing: kernel {} is not routed", ki));
  if (!im.last || !im.last->k[ki].ran) throw ArgumentError("last_routing: no routed run yet");
  sync(stream);
  Routing r;
  r.B = im.last->B;
  r.N = im.last->N;
  r.M = im.plan[ki].M;
  r.topk = im.plan[ki].topk;
  const size_t n = (size_t)r.B * r.N * r.topk;
  const auto& w = im.last->k[ki];
  if (w.given_gid) {  // the run used a given routing (RouterInputs::routing): read it back from there
    r.gid.resize(n);
    r.prob.resize(n);
    CU_CHECK(jit::driver().cuMemcpyDtoH(r.gid.data(), w.given_gid, n * sizeof(int)));
    CU_CHECK(jit::driver().cuMemcpyDtoH(r.prob.data(), w.given_prob, n * sizeof(float)));
    return r;
  }
  r.gid = download<int>(w.rgid, n);
  r.prob = download<float>(w.rprob, n);
  return r;
}

PatternAttention::Order PatternAttention::last_order(int ki, CUstream stream, bool raw) const {
  const Impl& im = *impl_;
  if (ki < 0 || ki >= (int)im.plan.size() ||
      (im.plan[ki].kind != Kind::Routed && im.plan[ki].kind != Kind::Keyed))
    throw ArgumentError(fmt::format("last_order: kernel {} is not grouped", ki));
  if (!im.last) throw ArgumentError("last_order: no run yet");
  sync(stream);
  const auto& w = im.last->k[ki];
  const bool gates = im.plan[ki].gate_prog || im.plan[ki].route_gate;
  Order o;
  o.B = im.last->B;
  o.N = w.Ns;
  o.G = w.G;
  o.align = w.align;
  o.packed = w.packed;
  const size_t n = (size_t)o.B * o.N;
  o.perm = download<int>(w.perm, n);
  o.gid = download<int>(w.gid, n);
  o.seg_offsets = download<int>(w.seg, (size_t)o.B * (o.G + 1));
  if (gates) o.gate = download<float>(w.gate, n);
  if (raw || w.Ns == im.last->N) return o;
  // Compact: the groups in id order (the spans may be laid out by size), padding dropped.
  Order c;
  c.B = o.B, c.N = im.last->N * im.plan[ki].topk, c.G = o.G, c.align = o.align, c.packed = o.packed;
  c.seg_offsets.assign((size_t)c.B * (c.G + 1), 0);
  for (int b = 0; b < o.B; ++b) {
    int* seg = &c.seg_offsets[(size_t)b * (c.G + 1)];
    const size_t row = (size_t)b * o.N;
    for (int g = 0; g < c.G; ++g) {
      seg[g + 1] = seg[g];
      for (size_t s = row + o.seg_offsets[(size_t)b * (o.G + 1) + g]; s < row + o.N && o.gid[s] == g; ++s) {
        c.perm.push_back(o.perm[s]);
        c.gid.push_back(g);
        if (gates) c.gate.push_back(o.gate[s]);
        ++seg[g + 1];
      }
    }
  }
  return c;
}

bool PatternAttention::last_tma_by_perm(int ki) const {
  const Impl& im = *impl_;
  if (!im.last) throw ArgumentError("last_tma_by_perm: no run yet");
  if (ki < 0 || ki >= (int)im.plan.size()) throw ArgumentError(fmt::format("last_tma_by_perm: no kernel {}", ki));
  return im.last->k[ki].by_perm;
}

PatternAttention::Layout PatternAttention::group_layout(int ki, const AttentionShape& shape) const {
  const Impl& im = *impl_;
  if (ki < 0 || ki >= (int)im.plan.size()) throw ArgumentError(fmt::format("group_layout: no kernel {}", ki));
  const Impl::KPlan& p = im.plan[ki];
  if (p.kind != Kind::Routed && p.kind != Kind::Keyed) return {};
  std::vector<int> keys;
  int G = p.M;
  if (p.kind == Kind::Keyed) {
    keys = im.host_keys(p, host_shape(shape), shape.N, shape);
    G = keys.empty() ? 1 : *std::max_element(keys.begin(), keys.end()) + 1;
  }
  return im.layout_for(p, tiles(ki, shape.D), &keys, G, shape.N);
}

PatternAttention::Fp8Inputs PatternAttention::last_fp8_inputs(int ki, CUstream stream) const {
  const Impl& im = *impl_;
  if (!im.last) throw ArgumentError("last_fp8_inputs: no run yet");
  if (ki < 0 || ki >= (int)im.plan.size()) throw ArgumentError(fmt::format("last_fp8_inputs: no kernel {}", ki));
  const Fp8Copy& c = im.grouped_kernel(ki) ? im.last->k[ki].fp8 : im.fp8_id;
  if (!c.done || !im.fp8_amax_done)
    throw ArgumentError(fmt::format("last_fp8_inputs: kernel {} did not run in FP8", ki));
  sync(stream);
  Fp8Inputs r;
  r.B = c.lay.B, r.H = c.lay.H, r.rows = c.lay.N, r.rows_kv = c.lay.Nk, r.ldv = c.lay.ldv;
  r.q = download<unsigned char>(c.q, c.lay.q_bytes);
  r.k = download<unsigned char>(c.k, c.lay.k_bytes);
  r.vt = download<unsigned char>(c.vt, c.lay.vt_bytes);
  r.amax = download<float>(im.fp8_amax_buf, c.lay.amax_bytes / sizeof(float));
  return r;
}

PatternAttention::Grid PatternAttention::last_grid(int ki) const {
  const Impl& im = *impl_;
  if (!im.last) throw ArgumentError("last_grid: no run yet");
  if (ki < 0 || ki >= (int)im.plan.size()) throw ArgumentError(fmt::format("last_grid: no kernel {}", ki));
  return im.last->k[ki].grid;
}

PatternAttention::MapStats PatternAttention::last_block_map(int ki, CUstream stream) const {
  const Impl& im = *impl_;
  if (!im.last) throw ArgumentError("last_block_map: no run yet");
  if (ki < 0 || ki >= (int)im.plan.size()) throw ArgumentError(fmt::format("last_block_map: no kernel {}", ki));
  const auto& w = im.last->k[ki];
  MapStats ms;
  ms.tq = w.tq;
  ms.tk = w.tk;
  const long long pairs = (long long)im.last->B * w.tq * w.tk;
  if (im.plan[ki].kind == Kind::Dense) {
    ms.full = pairs;
    return ms;
  }
  sync(stream);
  const size_t n = (size_t)im.last->B * w.tq;
  const auto fc = download<int>(w.fcnt, n), pc = download<int>(w.pcnt, n);
  for (size_t i = 0; i < n; ++i) {
    ms.full += fc[i];
    ms.partial += pc[i];
  }
  ms.empty = pairs - ms.full - ms.partial;
  return ms;
}

}  // namespace moga::rt
