// moga._moga: the nanobind extension of the Python package (docs/python.md). It wraps only the
// MLIR-free runtime's public API: rt::LoadedPattern / rt::PatternAttention (runtime/attention), the CPU
// reference and block map (runtime/reference) and the tuner (runtime/tune). Compiling .moga sources is
// not here (it needs MLIR): python/moga/_compiler.py runs the static moga-compile binary.
//
// Tensors cross as plain views built in Python: (data_ptr, dtype, shape, strides) tuples (strides in
// elements). Every check rt::PatternAttention::validate makes runs before any launch; its
// rt::ArgumentError becomes ValueError (the message names the argument).
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/map.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/attention/attention.h"
#include "runtime/attention/backward.h"
#include "runtime/attention/pattern.h"
#include "runtime/attention/router_backward.h"
#include "runtime/jit/cache.h"
#include "runtime/jit/check.h"
#include "runtime/jit/driver.h"
#include "runtime/jit/jit.h"
#include "runtime/jit/module.h"
#include "runtime/kernels/embedded.h"
#include "runtime/reference/attention.h"
#include "runtime/reference/backward.h"
#include "runtime/reference/block_map.h"
#include "runtime/tune/gpu_runner.h"
#include "runtime/tune/select.h"
#include "runtime/tune/tuner.h"

namespace nb = nanobind;
using namespace nb::literals;
using namespace moga;

namespace {

// ---- views and shapes -------------------------------------------------------------------------------

rt::DType dtype_of(const std::string& s, const char* arg) {
  if (s == "bf16") return rt::DType::BF16;
  if (s == "f16") return rt::DType::F16;
  if (s == "f32") return rt::DType::F32;
  if (s == "i32") return rt::DType::I32;
  throw rt::ArgumentError(fmt::format("{}: unsupported dtype '{}'", arg, s));
}

// (ptr, dtype, shape, strides) -> TensorView; None -> an undefined view.
rt::TensorView view_of(nb::handle h, const char* arg) {
  rt::TensorView v;
  if (h.is_none()) return v;
  nb::tuple t = nb::cast<nb::tuple>(h);
  if (t.size() != 4) throw rt::ArgumentError(fmt::format("{}: internal: expected a 4-tuple view", arg));
  v.ptr = (CUdeviceptr)nb::cast<uint64_t>(t[0]);
  v.dtype = dtype_of(nb::cast<std::string>(t[1]), arg);
  nb::tuple shape = nb::cast<nb::tuple>(t[2]), strides = nb::cast<nb::tuple>(t[3]);
  if (shape.size() != strides.size() || shape.size() > (size_t)rt::TensorView::kMaxRank || shape.size() == 0)
    throw rt::ArgumentError(fmt::format("{}: rank {} is not supported", arg, shape.size()));
  v.rank = (int)shape.size();
  for (int i = 0; i < v.rank; ++i) {
    v.shape[i] = nb::cast<int64_t>(shape[i]);
    v.strides[i] = nb::cast<int64_t>(strides[i]);
  }
  return v;
}

// Python's shape: (video, N, F, Hgt, Wid, shots)
struct PyShape {
  bool video = false;
  int N = 0, F = 1, Hgt = 1, Wid = 1;
  std::vector<int> shots;
};

PyShape shape_of(nb::handle h) {
  nb::tuple t = nb::cast<nb::tuple>(h);
  PyShape s;
  s.video = nb::cast<bool>(t[0]);
  s.N = nb::cast<int>(t[1]);
  s.F = nb::cast<int>(t[2]);
  s.Hgt = nb::cast<int>(t[3]);
  s.Wid = nb::cast<int>(t[4]);
  s.shots = nb::cast<std::vector<int>>(t[5]);
  return s;
}

rt::AttentionShape rt_shape(const PyShape& s, int B, int H, int D) {
  return s.video ? rt::AttentionShape::make_video(B, s.F, s.Hgt, s.Wid, H, D, s.shots)
                 : rt::AttentionShape::seq(B, s.N, H, D);
}

ref::Shape ref_shape(const PyShape& s) {
  if (!s.video) return ref::Shape::seq(s.N);
  ref::VideoShape v;
  v.F = s.F;
  v.H = s.Hgt;
  v.W = s.Wid;
  v.shot_starts = s.shots;
  return ref::Shape::video(v);
}

std::string tiles_key(const rt::AttentionOptions& o) {
  std::string k = rt::precision_name(o.precision) + std::string(";");
  for (const auto& [name, t] : o.tiles) k += fmt::format("{}:{}/{}/{}/{};", name, t.block_m, t.block_n, t.warps, t.stages);
  return k;
}

// ---- the pattern ------------------------------------------------------------------------------------

// One compiled pattern and the PatternAttention objects that run it on the GPU: one per tile choice
// (the tuning database can pick other tiles per shape, as the DiT does: runtime/model/gpu/dit.cpp
// choose_tiles), created on first use. Calls on one Pattern must be ordered (one stream at a time, or
// synchronized), as for rt::PatternAttention.
class Pattern {
 public:
  explicit Pattern(rt::LoadedPattern p) : p_(std::move(p)) {
    for (size_t i = 0; i < p_.spec.kernels.size(); ++i)
      if (p_.spec.kernels[i].route) routed_.push_back((int)i);
  }

  const rt::LoadedPattern& loaded() const { return p_; }
  const std::vector<int>& routed() const { return routed_; }

  struct Slot {
    std::unique_ptr<rt::PatternAttention> attn;
    std::vector<CUdeviceptr> last_w;   // the router weights of the previous call (weights_unchanged)
    std::vector<int64_t> last_tokens;  // and their version tokens
  };

  // The PatternAttention for this shape (the tuned tiles when the database has some for it).
  // lse: the training forward's objects (AttentionOptions::lse: the module also has the kernels that write
  // the log-sum-exp the backward reads), kept apart from the inference ones.
  Slot& slot_for(const rt::AttentionShape& s, bool lse = false) {
    const std::string key = s.describe() + (lse ? "+lse" : "");
    auto it = by_shape_.find(key);
    if (it != by_shape_.end()) return *it->second;
    rt::AttentionOptions o = base_;
    // the tuning database holds bf16 rows only: FP8 runs the runtime's own choice (rt::kFp8DefaultRow)
    if (use_tuned_ && base_.precision == rt::Precision::Bf16) {
      try {
        std::vector<std::string> notes;
        rt::AttentionOptions t = tune::tuned_attention_options(p_, s, base_, &notes);
        bool tuned = false;
        for (const auto& n : notes) tuned |= n.find("(tuned") != std::string::npos;
        if (tuned) o = t;  // as the DiT: only when the database has a result (else the runtime's default)
      } catch (const std::exception&) {
        // no usable tuning data for this shape (e.g. a space empty at this head dim): the default
      }
    }
    o.lse = lse;  // after the tuned options (made from base_) replace o
    const std::string tk = tiles_key(o) + (lse ? "+lse" : "");
    auto& slot = by_tiles_[tk];
    if (!slot) {
      slot = std::make_shared<Slot>();
      slot->attn = std::make_unique<rt::PatternAttention>(p_, o);
    }
    by_shape_[key] = slot;
    return *slot;
  }

  // The default PatternAttention (no device work): validation, inspection.
  rt::PatternAttention& default_attn() {
    auto& slot = by_tiles_[tiles_key(base_)];
    if (!slot) {
      slot = std::make_shared<Slot>();
      slot->attn = std::make_unique<rt::PatternAttention>(p_, base_);
    }
    return *slot->attn;
  }

  // The backward (one per dQ mode), made on first use; its constructor names what it does not support.
  rt::AttentionBackward& backward(bool deterministic) {
    auto& b = backward_[deterministic ? 1 : 0];
    if (!b) {
      rt::BackwardOptions o;
      o.deterministic = deterministic;
      b = std::make_unique<rt::AttentionBackward>(p_, o);
    }
    return *b;
  }

  // The router's backward of routed kernel ki (its M and top k), made on first use.
  rt::RouterBackward& router_backward(int ki) {
    auto& r = router_bwd_[ki];
    if (!r) {
      const auto& route = *p_.spec.kernels[ki].route;
      r = std::make_unique<rt::RouterBackward>(route.groups, route.topk);
    }
    return *r;
  }

  void forget_shapes() { by_shape_.clear(); }
  // A call on slot `s`: the other slots' "previous call" is no longer the pattern's previous call, so
  // their packed router weights must not be trusted (python/moga/_torch_ops.py: the version tokens
  // say "the same live tensors as the pattern's previous call").
  void forget_weights_except(const Slot* s) {
    for (auto& [k, slot] : by_tiles_)
      if (slot.get() != s) {
        slot->last_w.clear();
        slot->last_tokens.clear();
      }
  }
  void set_use_tuned(bool v) {
    use_tuned_ = v;
    forget_shapes();
  }
  bool use_tuned() const { return use_tuned_; }
  // AttentionOptions::precision for every later call: "bf16" (default) or "fp8" (rt::Precision::Fp8).
  void set_precision(const std::string& v) {
    if (v != "bf16" && v != "fp8")
      throw std::invalid_argument("precision: \"bf16\" or \"fp8\", got \"" + v + "\"");
    base_.precision = v == "fp8" ? rt::Precision::Fp8 : rt::Precision::Bf16;
    forget_shapes();
  }
  std::string precision() const { return rt::precision_name(base_.precision); }
  rt::PatternAttention* last() const { return last_; }
  void set_last(rt::PatternAttention* a) { last_ = a; }

 private:
  rt::LoadedPattern p_;
  rt::AttentionOptions base_;
  std::vector<int> routed_;
  bool use_tuned_ = true;
  std::map<std::string, std::shared_ptr<Slot>> by_tiles_;
  std::map<std::string, std::shared_ptr<Slot>> by_shape_;
  rt::PatternAttention* last_ = nullptr;
  std::unique_ptr<rt::AttentionBackward> backward_[2];
  std::map<int, std::unique_ptr<rt::RouterBackward>> router_bwd_;
};

struct Call {
  rt::TensorView q, k, v, out;
  rt::AttentionShape shape;
  rt::RouterInputs router;
  bool has_router = false;
};

Call make_call(Pattern& p, nb::handle q, nb::handle k, nb::handle v, nb::handle out, nb::handle shape,
               nb::handle router_x, nb::handle router_w) {
  Call c;
  c.q = view_of(q, "q");
  c.k = view_of(k, "k");
  c.v = view_of(v, "v");
  c.out = view_of(out, "out");
  if (c.q.rank != 4)
    throw rt::ArgumentError(fmt::format("q: expected bf16 [B, N, H, D], got {}", c.q.describe()));
  c.shape = rt_shape(shape_of(shape), (int)c.q.shape[0], (int)c.q.shape[2], (int)c.q.shape[3]);
  if (!router_x.is_none()) {
    c.has_router = true;
    c.router.x = view_of(router_x, "router_x");
    nb::list ws = nb::cast<nb::list>(router_w);
    for (size_t i = 0; i < ws.size(); ++i) c.router.weights.push_back(view_of(ws[i], "router_w"));
  }
  return c;
}

void validate(Pattern& p, nb::handle q, nb::handle k, nb::handle v, nb::handle out, nb::handle shape,
              nb::handle router_x, nb::handle router_w) {
  Call c = make_call(p, q, k, v, out, shape, router_x, router_w);
  p.default_attn().validate(c.q, c.k, c.v, c.out, c.shape, c.has_router ? &c.router : nullptr);
}

// Validates and launches on `stream`. tokens: one version token per router weight (torch's `_version`),
// given only when the weights are the same live tensors as in the pattern's previous call (else empty);
// with the same pointers and tokens as the previous call of the same PatternAttention the packed
// weights are reused (RouterInputs::weights_unchanged). Never under CUDA graph capture (the caller
// passes none there): a replay must repack.
void run(Pattern& p, nb::handle q, nb::handle k, nb::handle v, nb::handle out, nb::handle shape, nb::handle router_x,
         nb::handle router_w, std::vector<int64_t> tokens, uint64_t stream) {
  Call c = make_call(p, q, k, v, out, shape, router_x, router_w);
  Pattern::Slot& s = p.slot_for(c.shape);
  p.forget_weights_except(&s);
  if (c.has_router) {
    std::vector<CUdeviceptr> ptrs;
    for (const auto& w : c.router.weights) ptrs.push_back(w.ptr);
    bool known = tokens.size() == ptrs.size();
    for (int64_t t : tokens) known &= t >= 0;
    c.router.weights_unchanged = known && ptrs == s.last_w && tokens == s.last_tokens;
    s.last_w = known ? ptrs : std::vector<CUdeviceptr>{};
    s.last_tokens = known ? tokens : std::vector<int64_t>{};
  }
  {
    nb::gil_scoped_release nogil;
    s.attn->run(c.q, c.k, c.v, c.out, c.shape, c.has_router ? &c.router : nullptr, (CUstream)stream);
  }
  p.set_last(s.attn.get());
}

using Ptrs = std::vector<uint64_t>;

// The training forward: what run() does, keeping what the backward needs. Each routed kernel j is routed first
// (PatternAttention::route into the caller's device buffers gid[j] int32 / prob[j] float32 [B][N][k]) and the
// attention then runs with that given routing, so the backward sees exactly the forward's groups; each kernel
// ki writes its rows' log-sum-exp to lse[ki] (float32 [B][H][N k], RunOptions::lse) and, for mixtures and
// top-k, its own rows to branch_out[ki] (bf16 [B, N k, H, D], RunOptions::branch_out; else empty).
void run_train(Pattern& p, nb::handle q, nb::handle k, nb::handle v, nb::handle out, nb::handle shape,
               nb::handle router_x, nb::handle router_w, Ptrs gid, Ptrs prob, Ptrs lse, nb::list branch_out,
               uint64_t stream) {
  Call c = make_call(p, q, k, v, out, shape, router_x, router_w);
  const std::vector<int>& routed = p.routed();
  const size_t nk = p.loaded().spec.kernels.size();
  if (lse.size() != nk)
    throw rt::ArgumentError(fmt::format("lse: {} buffers for {} kernels", lse.size(), nk));
  if (gid.size() != routed.size() || prob.size() != routed.size())
    throw rt::ArgumentError(fmt::format("gid / prob: {} / {} buffers for {} routed kernels", gid.size(), prob.size(),
                                        routed.size()));
  Pattern::Slot& s = p.slot_for(c.shape, true);
  p.forget_weights_except(nullptr);  // this call packs no weights (the routing is given)
  rt::PatternAttention& a = *s.attn;
  a.validate(c.q, c.k, c.v, c.out, c.shape, c.has_router ? &c.router : nullptr);
  rt::RouterInputs given;
  for (size_t j = 0; j < routed.size(); ++j) given.routing.push_back({(CUdeviceptr)gid[j], (CUdeviceptr)prob[j]});
  rt::RunOptions ro;
  for (uint64_t l : lse) ro.lse.push_back((CUdeviceptr)l);
  for (size_t i = 0; i < branch_out.size(); ++i) ro.branch_out.push_back(view_of(branch_out[i], "branch_out"));
  a.validate_branches(ro.branch_out, c.q, c.k, c.v, c.out, c.shape);
  {
    nb::gil_scoped_release nogil;
    for (size_t j = 0; j < routed.size(); ++j)
      a.route(routed[j], c.router.x, c.router.weights[j], given.routing[j].gid, given.routing[j].prob, c.shape.D,
              (CUstream)stream);
    a.run(c.q, c.k, c.v, c.out, c.shape, routed.empty() ? nullptr : &given, (CUstream)stream, ro);
  }
  p.set_last(&a);
}

// The backward of run_train: rt::AttentionBackward (dq, dk, dv written; dgate[j], float32 [B][N][k] or 0, the
// gate gradient of routed kernel j when it is gated by the router probability), then per routed kernel with a
// router input rt::RouterBackward from that gate gradient: dx (float32 [B][N][d], summed over the routed
// kernels) and dw[j] (float32 [d][M]). dx = 0 (router_x None): no router gradient.
void run_backward(Pattern& p, nb::handle q, nb::handle k, nb::handle v, nb::handle out, nb::handle dout,
                  nb::handle shape, Ptrs lse, Ptrs gid, Ptrs prob, nb::list branch_out, nb::handle dq,
                  nb::handle dk, nb::handle dv, Ptrs dgate, nb::handle router_x, nb::list router_w, uint64_t dx,
                  Ptrs dw, bool deterministic, uint64_t stream) {
  rt::AttentionBackward& b = p.backward(deterministic);
  rt::BackwardInputs in;
  in.q = view_of(q, "q");
  in.k = view_of(k, "k");
  in.v = view_of(v, "v");
  in.out = view_of(out, "out");
  in.dout = view_of(dout, "dout");
  rt::BackwardOutputs g;
  g.dq = view_of(dq, "dq");
  g.dk = view_of(dk, "dk");
  g.dv = view_of(dv, "dv");
  if (in.q.rank != 4) throw rt::ArgumentError(fmt::format("q: expected bf16 [B, N, H, D], got {}", in.q.describe()));
  const rt::AttentionShape s = rt_shape(shape_of(shape), (int)in.q.shape[0], (int)in.q.shape[2], (int)in.q.shape[3]);
  const std::vector<int>& routed = p.routed();
  if (gid.size() != routed.size() || prob.size() != routed.size() || dgate.size() != routed.size())
    throw rt::ArgumentError(fmt::format("gid / prob / dgate: {} / {} / {} buffers for {} routed kernels", gid.size(),
                                        prob.size(), dgate.size(), routed.size()));
  for (uint64_t l : lse) in.lse.push_back((CUdeviceptr)l);
  for (size_t i = 0; i < branch_out.size(); ++i) in.branch_out.push_back(view_of(branch_out[i], "branch_out"));
  for (size_t j = 0; j < routed.size(); ++j) in.routing.push_back({(CUdeviceptr)gid[j], (CUdeviceptr)prob[j]});
  bool gated = false;
  for (uint64_t d : dgate) gated |= d != 0;
  if (gated)
    for (uint64_t d : dgate) g.dgate.push_back((CUdeviceptr)d);
  // the router backward's arguments, all checked before anything is launched
  std::vector<rt::RouterBackwardArgs> rargs;
  if (dx) {
    if (dw.size() != routed.size() || router_w.size() != routed.size())
      throw rt::ArgumentError(fmt::format("router_w / dw: {} / {} for {} routed kernels", router_w.size(), dw.size(),
                                          routed.size()));
    const rt::TensorView x = view_of(router_x, "router_x");
    for (size_t j = 0; j < routed.size(); ++j) {
      rt::RouterBackwardArgs a;
      a.x = x;
      a.w = view_of(router_w[j], "router_w");
      a.routing = in.routing[j];
      a.dgate = (CUdeviceptr)dgate[j];
      a.dx = (CUdeviceptr)dx;
      a.dw = (CUdeviceptr)dw[j];
      a.accumulate_dx = j > 0;
      p.router_backward(routed[j]).validate(a);
      rargs.push_back(a);
    }
  }
  b.validate(in, g, s);
  nb::gil_scoped_release nogil;
  b.run(in, g, s, (CUstream)stream);
  for (size_t j = 0; j < rargs.size(); ++j) p.router_backward(routed[j]).run(rargs[j], (CUstream)stream);
}

// The C++ loop the Python-call overhead is measured against (python/tests/test_gpu.py): `iters` calls
// of PatternAttention::run with the same arguments back to back on `stream`, then a synchronize.
// Returns the wall-clock seconds of the whole loop (the first, warm-up call excluded).
double bench_cpp_loop(Pattern& p, nb::handle q, nb::handle k, nb::handle v, nb::handle out, nb::handle shape,
                      nb::handle router_x, nb::handle router_w, int iters, uint64_t stream, bool weights_unchanged) {
  Call c = make_call(p, q, k, v, out, shape, router_x, router_w);
  Pattern::Slot& s = p.slot_for(c.shape);
  nb::gil_scoped_release nogil;
  const CUstream st = (CUstream)stream;
  s.attn->run(c.q, c.k, c.v, c.out, c.shape, c.has_router ? &c.router : nullptr, st);
  jit::driver().cuStreamSynchronize(st);
  c.router.weights_unchanged = weights_unchanged;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < iters; ++i)
    s.attn->run(c.q, c.k, c.v, c.out, c.shape, c.has_router ? &c.router : nullptr, st);
  jit::driver().cuStreamSynchronize(st);
  s.last_w.clear();  // the next Python call repacks
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// ---- CPU reference ------------------------------------------------------------------------------------

using F32In = nb::ndarray<const float, nb::ndim<4>, nb::c_contig, nb::device::cpu>;
using F32X = nb::ndarray<const float, nb::ndim<3>, nb::c_contig, nb::device::cpu>;
using F32W = nb::ndarray<const float, nb::ndim<2>, nb::c_contig, nb::device::cpu>;
// a given routing: [B, N] (top 1) or [B, N, k]
using I32R = nb::ndarray<const int32_t, nb::c_contig, nb::device::cpu>;
using F32R = nb::ndarray<const float, nb::c_contig, nb::device::cpu>;

template <class T>
nb::ndarray<nb::numpy, T> to_numpy(std::vector<T>&& data, std::vector<size_t> shape) {
  auto* owned = new std::vector<T>(std::move(data));
  nb::capsule del(owned, [](void* p) noexcept { delete static_cast<std::vector<T>*>(p); });
  return nb::ndarray<nb::numpy, T>(owned->data(), shape.size(), shape.data(), del);
}

// The CPU reference's inputs from the Python arguments (q/k/v float32 [B, N, H, D], router x [B, N, d_model],
// W_r per kernel index, a given routing per kernel index); `given` keeps the groupings in.routing points to.
struct RefCall {
  ref::RefInputs in;
  std::vector<ref::Grouping> given;
};

void make_ref_call(const ref::PatternSpec& spec, RefCall& rc, const F32In& q, const F32In& k, const F32In& v,
                   nb::handle shape, const std::optional<F32X>& x, const std::vector<std::optional<F32W>>& weights,
                   const std::vector<std::optional<std::pair<I32R, F32R>>>& routing) {
  const PyShape ps = shape_of(shape);
  ref::RefInputs& in = rc.in;
  in.B = (int)q.shape(0);
  in.N = (int)q.shape(1);
  in.heads = (int)q.shape(2);
  in.head_dim = (int)q.shape(3);
  for (const auto* t : {&k, &v})
    for (int d = 0; d < 4; ++d)
      if (t->shape(d) != q.shape(d))
        throw rt::ArgumentError(fmt::format("{}: the CPU reference needs k and v of q's shape [B, N, H, D] = [{}, {}, {}, {}]",
                                            t == &k ? "k" : "v", q.shape(0), q.shape(1), q.shape(2), q.shape(3)));
  if (ps.video) {
    in.video.F = ps.F;
    in.video.H = ps.Hgt;
    in.video.W = ps.Wid;
    in.video.shot_starts = ps.shots;
  } else if (ps.N != in.N) {
    throw rt::ArgumentError(fmt::format("shape: seq({}) but q has N = {}", ps.N, in.N));
  }
  in.q = q.data();
  in.k = k.data();
  in.v = v.data();
  const int nk = (int)spec.kernels.size();
  in.router_weight.assign(nk, nullptr);
  rc.given.assign(nk, {});
  in.routing.assign(nk, nullptr);
  if (x) {
    in.x = x->data();
    in.d_model = (int)x->shape(2);
    if ((int)x->shape(0) != in.B || (int)x->shape(1) != in.N)
      throw rt::ArgumentError(fmt::format("router_x: expected [B, N, d_model] = [{}, {}, d], got [{}, {}, {}]", in.B,
                                          in.N, x->shape(0), x->shape(1), x->shape(2)));
  }
  for (int ki = 0; ki < nk && ki < (int)weights.size(); ++ki) {
    if (!weights[ki]) continue;
    const auto& w = *weights[ki];
    const auto& ks = spec.kernels[ki];
    if (!ks.route) continue;
    if ((int)w.shape(0) != in.d_model || (int)w.shape(1) != ks.route->groups)
      throw rt::ArgumentError(fmt::format("router_w: kernel '{}' needs W_r [d_model, M] = [{}, {}], got [{}, {}]", ks.name,
                                          in.d_model, ks.route->groups, w.shape(0), w.shape(1)));
    in.router_weight[ki] = w.data();
  }
  for (int ki = 0; ki < nk && ki < (int)routing.size(); ++ki) {
    if (!routing[ki]) continue;
    const auto& ks = spec.kernels[ki];
    if (!ks.route) continue;
    const auto& [gid, prob] = *routing[ki];
    const int topk = ks.route->topk;
    const bool shaped = (gid.ndim() == 2 && topk == 1) || (gid.ndim() == 3 && (int)gid.shape(2) == topk);
    if (!shaped || gid.ndim() != prob.ndim() || gid.size() != prob.size())
      throw rt::ArgumentError(fmt::format("routing: kernel '{}' (top {}) needs gid and prob of one shape, [B, N]{}",
                                          ks.name, topk, topk > 1 ? fmt::format(" x {} as [B, N, {}]", topk, topk) : ""));
    ref::Grouping& g = rc.given[ki];
    g.B = (int)gid.shape(0);
    g.N = (int)gid.shape(1);
    g.k = topk;
    g.M = ks.route->groups;
    g.gid.assign(gid.data(), gid.data() + gid.size());
    g.prob.assign(prob.data(), prob.data() + prob.size());
    in.routing[ki] = &g;
  }
  for (int ki = 0; ki < nk; ++ki)
    if (spec.kernels[ki].route && !in.routing[ki] && (!in.x || !in.router_weight[ki]))
      throw rt::ArgumentError(fmt::format("router_x / router_w: kernel '{}' is routed (route linear({}) top {}): give "
                                          "router_x [B, N, d_model] and its W_r [d_model, M]",
                                          spec.kernels[ki].name, spec.kernels[ki].route->groups,
                                          spec.kernels[ki].route->topk));
}

std::vector<size_t> bnhd(const ref::RefInputs& in) {
  return {(size_t)in.B, (size_t)in.N, (size_t)in.heads, (size_t)in.head_dim};
}

// out [B, N, H, D] float64 (and the per-kernel terms when per_kernel), q/k/v float32 [B, N, H, D].
nb::object reference(Pattern& p, F32In q, F32In k, F32In v, nb::handle shape, std::optional<F32X> x,
                     std::vector<std::optional<F32W>> weights, std::vector<std::optional<std::pair<I32R, F32R>>> routing,
                     bool per_kernel, int threads) {
  RefCall rc;
  make_ref_call(p.loaded().spec, rc, q, k, v, shape, x, weights, routing);
  rc.in.per_kernel = per_kernel;
  rc.in.threads = threads;
  ref::RefOutput out;
  {
    nb::gil_scoped_release nogil;
    ref::reference_attention<double>(p.loaded().spec, rc.in, out);
  }
  const std::vector<size_t> shp = bnhd(rc.in);
  nb::object result = nb::cast(to_numpy(std::move(out.out), shp));
  if (!per_kernel) return result;
  nb::list terms;
  for (auto& t : out.terms) terms.append(nb::cast(to_numpy(std::move(t), shp)));
  return nb::make_tuple(result, terms);
}

// The float64 gradient oracle (runtime/reference/backward.h) of L = sum(out * dout) [+ the balance loss]: a
// dict with dq, dk, dv [B, N, H, D], dx [B, N, d_model] (or None), drouter_w and dlogits per kernel index
// (None for kernels without a router gradient), balance_loss.
nb::dict reference_backward(Pattern& p, F32In q, F32In k, F32In v, F32In dout, nb::handle shape, std::optional<F32X> x,
                            std::vector<std::optional<F32W>> weights,
                            std::vector<std::optional<std::pair<I32R, F32R>>> routing, bool balance_loss,
                            double balance_weight, int threads) {
  const ref::PatternSpec& spec = p.loaded().spec;
  RefCall rc;
  make_ref_call(spec, rc, q, k, v, shape, x, weights, routing);
  rc.in.threads = threads;
  for (int d = 0; d < 4; ++d)
    if (dout.shape(d) != q.shape(d))
      throw rt::ArgumentError(fmt::format("dout: expected q's shape [B, N, H, D] = [{}, {}, {}, {}]", q.shape(0),
                                          q.shape(1), q.shape(2), q.shape(3)));
  std::vector<double> dd(dout.data(), dout.data() + dout.size());
  ref::BackwardOptions o;
  o.balance_loss = balance_loss;
  o.balance_weight = balance_weight;
  ref::RefGrads g;
  {
    nb::gil_scoped_release nogil;
    ref::reference_attention_backward(spec, rc.in, dd.data(), o, g);
  }
  const std::vector<size_t> shp = bnhd(rc.in);
  nb::dict r;
  r["dq"] = to_numpy(std::move(g.dq), shp);
  r["dk"] = to_numpy(std::move(g.dk), shp);
  r["dv"] = to_numpy(std::move(g.dv), shp);
  r["dx"] = g.dx.empty() ? nb::none()
                         : nb::cast(to_numpy(std::move(g.dx), {(size_t)rc.in.B, (size_t)rc.in.N, (size_t)rc.in.d_model}));
  nb::list dw, dl;
  for (size_t ki = 0; ki < spec.kernels.size(); ++ki) {
    const bool has = ki < g.drouter_w.size() && !g.drouter_w[ki].empty();
    const int M = spec.kernels[ki].route ? spec.kernels[ki].route->groups : 0;
    dw.append(has ? nb::cast(to_numpy(std::move(g.drouter_w[ki]), {(size_t)rc.in.d_model, (size_t)M})) : nb::none());
    dl.append(has && ki < g.dlogits.size()
                  ? nb::cast(to_numpy(std::move(g.dlogits[ki]), {(size_t)rc.in.B, (size_t)rc.in.N, (size_t)M}))
                  : nb::none());
  }
  r["drouter_w"] = dw;
  r["dlogits"] = dl;
  r["balance_loss"] = g.balance_loss;
  return r;
}

// ---- sparsity -----------------------------------------------------------------------------------------

nb::list sparsity(Pattern& p, nb::handle shape, int B, long long density_budget) {
  const ref::Shape s = ref_shape(shape_of(shape));
  ref::BlockMapOptions opt;
  opt.density_budget = density_budget;
  std::vector<ref::BlockMap> maps;
  {
    nb::gil_scoped_release nogil;
    maps = ref::build_block_maps(p.loaded().spec, s, B, {}, opt);
  }
  nb::list out;
  for (const auto& m : maps) {
    nb::dict d;
    d["name"] = m.name;
    d["block_m"] = m.bm;
    d["block_n"] = m.bn;
    d["tiles_q"] = m.tq;
    d["tiles_k"] = m.tk;
    d["empty"] = m.empty;
    d["full"] = m.full;
    d["partial"] = m.partial;
    d["work"] = m.work;
    d["density"] = m.density >= 0 ? nb::cast(m.density) : nb::none();
    d["summary"] = m.summary();
    out.append(d);
  }
  return out;
}

// ---- tuning -------------------------------------------------------------------------------------------

nb::dict result_dict(const tune::Result& r) {
  nb::dict d;
  d["status"] = r.ok() ? "ok" : "failed";
  d["ms"] = r.ms;
  d["runs"] = r.runs;
  d["tflops"] = r.tflops();
  d["note"] = r.note;
  d["device"] = r.device;
  return d;
}

// As `moga tune` (tools/moga/cmd_tune.cpp): the same database (tune::TuneDb, <cache>/tune or db_dir),
// the same runner. dry_run: no device needed (the space and what the database holds).
nb::list tune_pattern(Pattern& p, nb::handle shape, int B, int H, int D, std::string kernel,
                      std::vector<std::string> configs, bool dry_run, bool force, bool retry_failed, int runs,
                      int warmup, int d_model, std::string db_dir, std::string arch, bool quiet) {
  const nlohmann::json manifest = nlohmann::json::parse(p.loaded().manifest_json);
  const rt::AttentionShape s = rt_shape(shape_of(shape), B, H, D);
  std::string why;
  const bool device = jit::device_available(&why);
  if (!device && !dry_run)
    throw std::runtime_error(fmt::format("no CUDA device ({}): tuning measures on the GPU; dry_run=True lists the space",
                                         why));
  tune::DeviceLimits limits = device ? tune::device_limits() : tune::DeviceLimits::assumed_h100();
  if (!arch.empty()) limits.arch = arch;
  const tune::Versions versions = tune::Versions::current(tune::embedded_templates_hash());
  tune::TuneDb db(db_dir);
  std::vector<tune::KernelInfo> ks = tune::all_kernels(manifest);
  if (!kernel.empty()) ks = {tune::kernel_info(manifest, kernel)};
  nb::list out;
  for (const tune::KernelInfo& k : ks) {
    nb::dict d;
    d["kernel"] = k.kernel;
    const tune::DbKey key = tune::make_key(k, s, limits, versions);
    d["bucket"] = key.bucket.slug();
    d["arch"] = key.arch;
    d["db_path"] = db.path(key);
    const tune::Space space = tune::build_space(k, D, limits);
    std::vector<std::string> kept;
    for (const auto& c : space.kept) kept.push_back(c.id());
    d["space"] = kept;
    d["pruned"] = (int)space.pruned.size();
    nb::dict results;
    if (dry_run) {
      const tune::Loaded have = db.load(key);
      for (const auto& [id, r] : have.results) results[id.c_str()] = result_dict(r);
      d["measured"] = 0;
    } else {
      tune::GpuRunnerOptions ro;
      ro.runs = runs;
      ro.warmup = warmup;
      ro.d_model = d_model;
      std::unique_ptr<tune::GpuRunner> runner;
      try {
        runner = std::make_unique<tune::GpuRunner>(p.loaded(), k.kernel, s, ro);
      } catch (const rt::NotSupportedError& e) {
        d["skipped"] = std::string(e.what());
        out.append(d);
        continue;
      }
      tune::TuneOptions opt;
      opt.limits = limits;
      opt.versions = versions;
      opt.only = configs;
      opt.retry_failed = retry_failed;
      opt.force = force;
      opt.device = limits.name;
      tune::Progress progress(quiet ? nullptr : stderr, false);
      tune::TuneReport r;
      {
        nb::gil_scoped_release nogil;
        r = tune::tune(k, s, *runner, db, progress, opt);
      }
      for (const auto& t : r.trials) results[t.config.id().c_str()] = result_dict(t.result);
      d["measured"] = (int)r.measured;
      d["skipped_known"] = (int)r.skipped_known;
      d["failed_now"] = (int)r.failed_now;
      d["best"] = r.best ? nb::cast(r.best->config.id()) : nb::none();
    }
    d["results"] = results;
    const tune::Choice choice = tune::best_config(k, s, db, limits, versions);
    d["runtime_choice"] = choice.config.id();
    d["runtime_choice_source"] = std::string(tune::source_name(choice.source));
    out.append(d);
  }
  if (!dry_run) p.forget_shapes();  // the next call picks up the new results
  return out;
}

nb::dict module_info(const rt::ModuleInfo& m) {
  nb::dict d;
  d["head_dim"] = m.head_dim;
  d["arch"] = m.arch;
  std::vector<std::string> engines;
  for (auto e : m.engines) engines.push_back(rt::engine_name(e));
  d["engines"] = engines;
  d["cache_hit"] = m.cache_hit;
  d["compile_ms"] = m.compile_ms;
  d["cache_path"] = m.cache_path;
  d["kernels"] = m.kernels;
  return d;
}

nb::list kernels_of(const Pattern& p) {
  nb::list out;
  for (const auto& k : p.loaded().spec.kernels) {
    nb::dict d;
    d["name"] = k.name;
    d["weight"] = k.weight;
    d["structure"] = std::string(ref::structure_name(k.structure));
    d["routed"] = k.route.has_value();
    d["groups"] = k.route ? k.route->groups : 0;
    d["topk"] = k.topk();
    d["uses"] = k.uses;
    d["block_m"] = k.tiles.block_m;
    d["block_n"] = k.tiles.block_n;
    d["has_mask"] = k.mask.has_value();
    d["has_key"] = k.key.has_value();
    d["has_bias"] = k.bias.has_value();
    d["has_gate"] = k.gate.has_value();
    d["route_gate"] = k.route_gate;
    d["scale"] = k.scale ? nb::cast(*k.scale) : nb::none();
    d["softcap"] = k.softcap ? nb::cast(*k.softcap) : nb::none();
    out.append(d);
  }
  return out;
}

}  // namespace

NB_MODULE(_moga, m) {
  m.doc() = "moga's runtime (MLIR-free): patterns, the GPU attention, the CPU reference, the tuner";
  m.attr("version") = MOGA_VERSION;
  // moga.Pattern objects live in a registry for the whole process (the torch op refers to them by id).
  nb::set_leak_warnings(false);

  static nb::exception<rt::PatternError> pattern_error(m, "PatternError", PyExc_RuntimeError);
  static nb::exception<ref::ManifestError> manifest_error(m, "ManifestError", PyExc_RuntimeError);
  static nb::exception<jit::CompileError> jit_error(m, "JitError", PyExc_RuntimeError);
  static nb::exception<ref::ProgramError> program_error(m, "ProgramError", PyExc_RuntimeError);
  static nb::exception<jit::CudaError> cuda_error(m, "CudaError", PyExc_RuntimeError);
  // Registered last: tried first (a NotSupportedError is an ArgumentError is a std::invalid_argument).
  static nb::exception<rt::ArgumentError> argument_error(m, "ArgumentError", PyExc_ValueError);
  static nb::exception<rt::NotSupportedError> not_supported(m, "NotSupportedError", argument_error.ptr());

  m.def("builtin_names", &rt::builtin_names);
  m.def("builtin_source", [](const std::string& name) -> std::string {
    for (const auto& e : kernels::embedded_patterns())
      if (name == e.name) return e.dsl;
    rt::load_builtin(name);  // throws PatternError listing the shipped names
    return "";
  });
  m.def("device_available", []() {
    std::string why;
    const bool ok = jit::device_available(&why);
    return std::make_pair(ok, why);
  });
  m.def("cache_root", &jit::cache_root);
  m.def("tune_db_root", &tune::TuneDb::default_root);

  nb::class_<Pattern>(m, "Pattern")
      .def_static("builtin", [](const std::string& name) { return new Pattern(rt::load_builtin(name)); })
      .def_static("load_compiled", [](const std::string& dir, const std::string& name) {
        return new Pattern(rt::load_compiled(dir, name));
      }, "dir"_a, "name"_a = "")
      .def_static("from_text", [](std::string cuda, std::string manifest, std::string origin) {
        return new Pattern(rt::load_from_text(std::move(cuda), std::move(manifest), std::move(origin)));
      })
      .def_prop_ro("name", [](const Pattern& p) { return p.loaded().name; })
      .def_prop_ro("origin", [](const Pattern& p) { return p.loaded().origin; })
      .def_prop_ro("cuda", [](const Pattern& p) { return p.loaded().cuda; })
      .def_prop_ro("manifest", [](const Pattern& p) { return p.loaded().manifest_json; })
      .def_prop_ro("layout", [](const Pattern& p) {
        return std::string(p.loaded().spec.layout == ref::Layout::Video ? "video" : "seq");
      })
      .def_prop_ro("params", [](const Pattern& p) { return p.loaded().spec.params; })
      .def_prop_ro("kernels", &kernels_of)
      .def_prop_ro("routed_kernels", [](const Pattern& p) { return p.routed(); })
      .def_prop_rw("use_tuned", &Pattern::use_tuned, &Pattern::set_use_tuned)
      .def_prop_rw("precision", &Pattern::precision, &Pattern::set_precision)
      .def("validate", &validate, "q"_a, "k"_a, "v"_a, "out"_a, "shape"_a, "router_x"_a.none(), "router_w"_a)
      .def("run", &run, "q"_a, "k"_a, "v"_a, "out"_a, "shape"_a, "router_x"_a.none(), "router_w"_a, "tokens"_a, "stream"_a)
      .def("run_train", &run_train, "q"_a, "k"_a, "v"_a, "out"_a, "shape"_a, "router_x"_a.none(), "router_w"_a,
           "gid"_a, "prob"_a, "lse"_a, "branch_out"_a, "stream"_a)
      .def("run_backward", &run_backward, "q"_a, "k"_a, "v"_a, "out"_a, "dout"_a, "shape"_a, "lse"_a, "gid"_a,
           "prob"_a, "branch_out"_a, "dq"_a, "dk"_a, "dv"_a, "dgate"_a, "router_x"_a.none(), "router_w"_a, "dx"_a,
           "dw"_a, "deterministic"_a, "stream"_a)
      // Makes the backward (no device work): raises NotSupportedError naming what it does not run.
      .def("check_backward", [](Pattern& p, bool deterministic) { p.backward(deterministic); }, "deterministic"_a)
      .def("bench_cpp_loop", &bench_cpp_loop, "q"_a, "k"_a, "v"_a, "out"_a, "shape"_a, "router_x"_a.none(), "router_w"_a, "iters"_a, "stream"_a, "weights_unchanged"_a)
      // The argument conversion of run() alone (python/bench/call_overhead.py: the binding's own cost).
      .def("parse_only", [](Pattern& p, nb::handle q, nb::handle k, nb::handle v, nb::handle out, nb::handle shape,
                            nb::handle router_x, nb::handle router_w, std::vector<int64_t> tokens, uint64_t stream) {
        Call c = make_call(p, q, k, v, out, shape, router_x, router_w);
        return (int)(c.q.rank + tokens.size() + (stream & 1));
      }, "q"_a, "k"_a, "v"_a, "out"_a, "shape"_a, "router_x"_a.none(), "router_w"_a, "tokens"_a, "stream"_a)
      .def("reference", &reference, "q"_a, "k"_a, "v"_a, "shape"_a, "x"_a.none(), "weights"_a, "routing"_a,
           "per_kernel"_a = false, "threads"_a = 0)
      .def("reference_backward", &reference_backward, "q"_a, "k"_a, "v"_a, "dout"_a, "shape"_a, "x"_a.none(),
           "weights"_a, "routing"_a, "balance_loss"_a = false, "balance_weight"_a = 0.1, "threads"_a = 0)
      .def("sparsity", &sparsity, "shape"_a, "batch"_a = 1, "density_budget"_a = 1LL << 26)
      .def("tune", &tune_pattern)
      .def("compile_module", [](Pattern& p, int head_dim) {
        rt::ModuleInfo mi;
        {
          nb::gil_scoped_release nogil;
          mi = p.default_attn().compile(head_dim);
        }
        return module_info(mi);
      }, "head_dim"_a = 128)
      .def("engines", [](Pattern& p, int head_dim) {
        std::vector<std::string> out;
        rt::PatternAttention& a = p.default_attn();
        for (size_t i = 0; i < p.loaded().spec.kernels.size(); ++i) out.push_back(rt::engine_name(a.engine((int)i, head_dim)));
        return out;
      }, "head_dim"_a = 128)
      .def("last_routing", [](Pattern& p, int ki, uint64_t stream) {
        rt::PatternAttention* a = p.last();
        if (!a) throw rt::ArgumentError("last_routing: the pattern has not run on the GPU yet");
        rt::PatternAttention::Routing r = a->last_routing(ki, (CUstream)stream);
        std::vector<size_t> shp = {(size_t)r.B, (size_t)r.N};
        if (r.topk > 1) shp.push_back((size_t)r.topk);  // [B, N, k], by decreasing probability
        return std::make_pair(to_numpy(std::move(r.gid), shp), to_numpy(std::move(r.prob), shp));
      })
      .def("last_block_map", [](Pattern& p, int ki, uint64_t stream) {
        rt::PatternAttention* a = p.last();
        if (!a) throw rt::ArgumentError("last_block_map: the pattern has not run on the GPU yet");
        const auto s = a->last_block_map(ki, (CUstream)stream);
        nb::dict d;
        d["tiles_q"] = s.tq;
        d["tiles_k"] = s.tk;
        d["full"] = s.full;
        d["partial"] = s.partial;
        d["empty"] = s.empty;
        return d;
      });
}
