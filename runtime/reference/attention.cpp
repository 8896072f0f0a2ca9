// The brute-force CPU reference of a compiled pattern (attention.h).
#include "runtime/reference/attention.h"
#include "runtime/reference/parallel.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>

namespace moga::ref {

namespace {

[[noreturn]] void bad(const std::string& what) { throw std::invalid_argument("reference: " + what); }

}  // namespace

// ---- groupings ----------------------------------------------------------------------------------------

Grouping route_tokens(const float* x, const float* w, int B, int N, int d_model, int M, int topk) {
  if (!x || !w) bad("the router needs x and W");
  if (B < 1 || N < 1 || d_model < 1) bad("router: B, N and d_model must be >= 1");
  if (M < 1 || topk < 1 || topk > M) bad("router: need 1 <= topk <= M");
  Grouping g;
  g.B = B, g.N = N, g.k = topk, g.M = M;
  g.gid.resize((size_t)B * N * topk);
  g.prob.resize((size_t)B * N * topk);
  g.logits.resize((size_t)B * N * M);
  std::vector<double> p(M);
  std::vector<char> chosen(M);
  for (long long r = 0; r < (long long)B * N; ++r) {
    const float* xr = x + r * d_model;
    double* l = g.logits.data() + r * M;
    for (int m = 0; m < M; ++m) l[m] = 0.0;
    for (int d = 0; d < d_model; ++d) {
      const double xv = xr[d];
      const float* wr = w + (size_t)d * M;
      for (int m = 0; m < M; ++m) l[m] += xv * (double)wr[m];
    }
    double mx = l[0];
    for (int m = 1; m < M; ++m) mx = std::max(mx, l[m]);
    double sum = 0.0;
    for (int m = 0; m < M; ++m) sum += (p[m] = std::exp(l[m] - mx));
    std::fill(chosen.begin(), chosen.end(), 0);
    for (int j = 0; j < topk; ++j) {
      int best = -1;
      for (int m = 0; m < M; ++m)
        if (!chosen[m] && (best < 0 || l[m] > l[best])) best = m;  // strict: lower index wins ties
      chosen[best] = 1;
      g.gid[r * topk + j] = best;
      g.prob[r * topk + j] = p[best] / sum;
    }
  }
  return g;
}

Grouping key_groups(const Program& key, const Shape& shape, int B) {
  if (B < 1) bad("B must be >= 1");
  const int N = shape.N();
  Grouping g;
  g.B = B, g.N = N, g.k = 1, g.M = 0;
  g.gid.resize((size_t)B * N);
  ElementEvaluator ev(key);
  for (int t = 0; t < N; ++t) g.gid[t] = ev.key(shape.coords(t), shape.mask());
  for (int b = 1; b < B; ++b) std::copy(g.gid.begin(), g.gid.begin() + N, g.gid.begin() + (size_t)b * N);
  return g;
}

Grouping single_group(int B, int N) {
  Grouping g;
  g.B = B, g.N = N, g.k = 1, g.M = 0;
  g.gid.assign((size_t)B * N, 0);
  return g;
}

Shape make_shape(const PatternSpec& spec, const RefInputs& in) {
  if (spec.layout == Layout::Seq) {
    if (in.N < 1) bad("layout seq needs RefInputs::N >= 1");
    return Shape::seq(in.N);
  }
  Shape s;
  try {
    s = Shape::video(in.video);
  } catch (const std::invalid_argument& e) {
    bad(std::string("layout video: ") + e.what());
  }
  if (in.N != 0 && in.N != s.N())
    bad("layout video: N = " + std::to_string(in.N) + " but F*H*W = " + std::to_string(s.N()));
  return s;
}

Grouping kernel_grouping(const PatternSpec& spec, int ki, const RefInputs& in, const Shape& shape) {
  const KernelSpec& k = spec.kernels.at(ki);
  const int N = shape.N();
  if (k.route) {
    const std::string who = "kernel '" + k.name + "': ";
    if (ki < (int)in.routing.size() && in.routing[ki]) {
      const Grouping& r = *in.routing[ki];
      if (r.B != in.B || r.N != N) bad(who + "the given routing is for B = " + std::to_string(r.B) + ", N = " + std::to_string(r.N));
      if (r.k != k.route->topk) bad(who + "the given routing has k = " + std::to_string(r.k) + ", the kernel top " + std::to_string(k.route->topk));
      if (r.M != k.route->groups) bad(who + "the given routing has M = " + std::to_string(r.M) + ", the kernel " + std::to_string(k.route->groups) + " groups");
      const size_t n = (size_t)r.B * r.N * r.k;
      if (r.gid.size() != n) bad(who + "the given routing's gid has " + std::to_string(r.gid.size()) + " entries, expected " + std::to_string(n));
      if (k.route_gate && r.prob.size() != n) bad(who + "the given routing's prob has " + std::to_string(r.prob.size()) + " entries, expected " + std::to_string(n));
      for (int x : r.gid)
        if (x < 0 || x >= r.M) bad(who + "the given routing has group id " + std::to_string(x) + " outside [0, M)");
      return r;
    }
    const float* w = ki < (int)in.router_weight.size() ? in.router_weight[ki] : nullptr;
    if (!w || !in.x || in.d_model < 1)
      bad(who + "routed, but neither a routing nor router inputs (x, d_model, router_weight[" + std::to_string(ki) + "]) are given");
    return route_tokens(in.x, w, in.B, N, in.d_model, k.route->groups, k.route->topk);
  }
  if (k.key) return key_groups(*k.key, shape, in.B);
  return single_group(in.B, N);
}

// ---- attention ----------------------------------------------------------------------------------------

namespace {

// [begin, end) of a RefInputs::Rows over N tokens.
std::pair<int, int> rows_of(const RefInputs::Rows& r, int N, const char* what) {
  const int e = r.end < 0 ? N : r.end;
  if (r.begin < 0 || r.begin > e || e > N)
    bad(std::string(what) + " [" + std::to_string(r.begin) + ", " + std::to_string(r.end) + ") is not inside [0, " +
        std::to_string(N) + ")");
  return {r.begin, e};
}

template <class Real>
void run_kernel(const KernelSpec& k, const Grouping& g, const Shape& shape, const RefInputs& in, Real* dst,
                Real* lse) {
  const int B = in.B, N = shape.N(), H = in.heads, D = in.head_dim, K = g.k;
  const auto [q0, q1] = rows_of(in.q_rows, N, "q_rows");
  const auto [k0, k1] = rows_of(in.kv_rows, N, "kv_rows");
  const int nq = q1 - q0;
  const MaskShape& ms = shape.mask();
  const Real scale = (Real)(k.scale ? *k.scale : 1.0 / std::sqrt((double)D));
  const Real weight = (Real)k.weight;

  std::vector<Coords<int>> C(N);
  for (int t = 0; t < N; ++t) C[t] = shape.coords(t);

  // Members of every group, per batch item, in token order.
  std::vector<std::unordered_map<int, std::vector<int>>> members(B);
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < N; ++t)
      for (int j = 0; j < K; ++j) {
        auto& list = members[b][g.group(b, t, j)];
        if (list.empty() || list.back() != t) list.push_back(t);  // a token joins a group once
      }

  struct Worker {
    std::unique_ptr<ElementEvaluatorT<Real>> mask, bias, gate;
    std::vector<int> vis;
    std::vector<Real> s, acc;
  };
  const int nthreads = detail::resolve_threads(in.threads);
  std::vector<Worker> workers(nthreads);
  for (auto& w : workers) {
    if (k.mask) w.mask = std::make_unique<ElementEvaluatorT<Real>>(*k.mask);
    if (k.bias) w.bias = std::make_unique<ElementEvaluatorT<Real>>(*k.bias);
    if (k.gate) w.gate = std::make_unique<ElementEvaluatorT<Real>>(*k.gate);
    w.s.resize(N);
    w.acc.resize(D);
    w.vis.reserve(N);
  }

  const float *Q = in.q, *Kt = in.k, *V = in.v;
  detail::parallel_for((long long)B * nq, nthreads, 8, [&](long long item, int wi) {
    Worker& w = workers[wi];
    const int b = (int)(item / nq), t = q0 + (int)(item % nq);
    for (int j = 0; j < K; ++j) {
      const int grp = g.group(b, t, j);
      const std::vector<int>& mem = members[b].at(grp);
      w.vis.clear();
      for (int kv : mem)
        if (kv >= k0 && kv < k1 && (!w.mask || w.mask->mask(C[t], C[kv], ms))) w.vis.push_back(kv);
      if (w.vis.empty()) continue;  // no visible key: contributes 0

      Real gate = 1;
      if (k.route_gate) gate = (Real)g.probability(b, t, j);
      else if (w.gate) gate = w.gate->gate(C[t], ms);
      const Real coef = weight * gate;

      const int nv = (int)w.vis.size();
      for (int h = 0; h < H; ++h) {
        const float* qv = Q + (((size_t)b * N + t) * H + h) * D;
        Real mx = -std::numeric_limits<Real>::infinity();
        for (int i = 0; i < nv; ++i) {
          const int kv = w.vis[i];
          const float* kk = Kt + (((size_t)b * N + kv) * H + h) * D;
          Real dot = 0;
          for (int d = 0; d < D; ++d) dot += (Real)qv[d] * (Real)kk[d];
          Real sc = dot * scale;
          if (k.softcap) {
            const Real c = (Real)*k.softcap;
            sc = c * std::tanh(sc / c);
          }
          if (w.bias) sc += w.bias->bias(C[t], C[kv], h, ms);
          w.s[i] = sc;
          if (sc > mx) mx = sc;
        }
        if (mx == -std::numeric_limits<Real>::infinity()) continue;  // every score -inf: as empty
        std::fill(w.acc.begin(), w.acc.end(), Real(0));
        Real sum = 0;
        for (int i = 0; i < nv; ++i) {
          const Real e = std::exp(w.s[i] - mx);
          sum += e;
          const float* vv = V + (((size_t)b * N + w.vis[i]) * H + h) * D;
          for (int d = 0; d < D; ++d) w.acc[d] += e * (Real)vv[d];
        }
        Real* o = dst + (((size_t)b * N + t) * H + h) * D;
        const Real f = coef / sum;
        for (int d = 0; d < D; ++d) o[d] += f * w.acc[d];
        if (lse) lse[(((size_t)b * H + h) * N + t) * K + j] = mx + std::log(sum);
      }
    }
  });
}

}  // namespace

template <class Real>
void reference_attention(const PatternSpec& spec, const RefInputs& in, RefOutputT<Real>& out) {
  if (spec.kernels.empty()) bad("the pattern has no kernels");
  const Shape shape = make_shape(spec, in);
  const int N = shape.N();
  if (in.B < 1 || in.heads < 1 || in.head_dim < 1)
    bad("B, heads and head_dim must be >= 1 (got " + std::to_string(in.B) + ", " + std::to_string(in.heads) + ", " +
        std::to_string(in.head_dim) + ")");
  if (!in.q || !in.k || !in.v) bad("q, k and v must be given");
  const size_t total = (size_t)in.B * N * in.heads * in.head_dim;
  out.out.assign(total, Real(0));
  out.groups.clear();
  out.terms.clear();
  out.lse.clear();
  for (int ki = 0; ki < (int)spec.kernels.size(); ++ki) {
    Grouping g = kernel_grouping(spec, ki, in, shape);
    Real* lse = nullptr;
    if (in.lse) {
      out.lse.emplace_back((size_t)in.B * in.heads * N * g.k, -std::numeric_limits<Real>::infinity());
      lse = out.lse.back().data();
    }
    if (in.per_kernel) {
      std::vector<Real> term(total, Real(0));
      run_kernel<Real>(spec.kernels[ki], g, shape, in, term.data(), lse);
      for (size_t i = 0; i < total; ++i) out.out[i] += term[i];
      out.terms.push_back(std::move(term));
    } else {
      run_kernel<Real>(spec.kernels[ki], g, shape, in, out.out.data(), lse);
    }
    out.groups.push_back(std::move(g));
  }
}

template void reference_attention<double>(const PatternSpec&, const RefInputs&, RefOutputT<double>&);
template void reference_attention<float>(const PatternSpec&, const RefInputs&, RefOutputT<float>&);

}  // namespace moga::ref
