// The backward pass of the CPU reference (backward.h). Per kernel, three passes, each race-free so that
// they run on RefInputs::threads workers without atomics:
//   1. query rows (b, t): the forward of every slot j and head h again, its log-sum-exp, Delta = dA.A,
//      dq_t, and d gate(t, j);
//   2. key tokens (b, kv): every (t, j) that sees kv, P recomputed from the stored log-sum-exp, dk_kv
//      and dv_kv (the FlashAttention-2 split, here so that each key's gradient has one writer);
//   3. routed kernels with router inputs: the router softmax Jacobian, dx, dW and the balance loss.
#include "runtime/reference/backward.h"
#include "runtime/reference/parallel.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_map>

namespace moga::ref {

namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

[[noreturn]] void bad(const std::string& what) { throw std::invalid_argument("reference backward: " + what); }

// a . b over D doubles, four partial sums (the loops are latency-bound otherwise).
inline double dot(const double* a, const double* b, int D) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int d = 0;
  for (; d + 4 <= D; d += 4) {
    s0 += a[d] * b[d];
    s1 += a[d + 1] * b[d + 1];
    s2 += a[d + 2] * b[d + 2];
    s3 += a[d + 3] * b[d + 3];
  }
  for (; d < D; ++d) s0 += a[d] * b[d];
  return (s0 + s1) + (s2 + s3);
}

// q, k, v in double, converted once for every kernel.
struct Tensors {
  std::vector<double> q, k, v;
  Tensors(const RefInputs& in, size_t n) : q(in.q, in.q + n), k(in.k, in.k + n), v(in.v, in.v + n) {}
};

bool has_router_inputs(const RefInputs& in, int ki) {
  return in.x && in.d_model >= 1 && ki < (int)in.router_weight.size() && in.router_weight[ki];
}

// One kernel's forward state shared by the passes.
struct KernelRun {
  const KernelSpec& k;
  const Grouping& g;
  const Shape& shape;
  const RefInputs& in;
  const Tensors& qkv;
  const double* dout;
  bool grads;  // false: only the log-sum-exp (reference_lse)
  int B, N, H, D, K;
  double scale, weight;
  std::vector<Coords<int>> C;
  std::vector<std::unordered_map<int, std::vector<int>>> members;  // [b][group]: tokens in token order
  std::vector<double> lse, delta;  // [((b*H + h)*N + t)*K + j]
  std::vector<double> coef;        // [(b*N + t)*K + j]: weight * gate (0 for an empty row)
  std::vector<double> dgate;       // [(b*N + t)*K + j]: d L / d gate

  KernelRun(const KernelSpec& k_, const Grouping& g_, const Shape& s, const RefInputs& in_, const Tensors& qkv_,
            const double* dout_, bool grads_)
      : k(k_), g(g_), shape(s), in(in_), qkv(qkv_), dout(dout_), grads(grads_), B(in_.B), N(s.N()), H(in_.heads),
        D(in_.head_dim), K(g_.k) {
    scale = k.scale ? *k.scale : 1.0 / std::sqrt((double)D);
    weight = k.weight;
    C.resize(N);
    for (int t = 0; t < N; ++t) C[t] = shape.coords(t);
    members.resize(B);
    for (int b = 0; b < B; ++b)
      for (int t = 0; t < N; ++t)
        for (int j = 0; j < K; ++j) {
          auto& list = members[b][g.group(b, t, j)];
          if (list.empty() || list.back() != t) list.push_back(t);  // a token joins a group once (as the forward)
        }
    lse.assign((size_t)B * H * N * K, kNegInf);
    if (grads) {
      delta.assign(lse.size(), 0.0);
      coef.assign((size_t)B * N * K, 0.0);
      dgate.assign((size_t)B * N * K, 0.0);
    }
  }
  size_t row(int b, int h, int t, int j) const { return (((size_t)b * H + h) * N + t) * K + j; }
  size_t slot(int b, int t, int j) const { return ((size_t)b * N + t) * K + j; }
  size_t idx(int b, int t, int h) const { return (((size_t)b * N + t) * H + h) * D; }

  // z = softcap(q.k * scale) + bias, and d z / d (q.k * scale) in *dcap. The same operations in the
  // same order in both passes, so both see bit-identical scores.
  template <class Eval>
  double score(int b, int t, int kv, int h, Eval* bias, double* dcap) const {
    double sc = dot(qkv.q.data() + idx(b, t, h), qkv.k.data() + idx(b, kv, h), D) * scale;
    *dcap = 1.0;
    if (k.softcap) {
      const double c = *k.softcap, th = std::tanh(sc / c);
      sc = c * th;
      *dcap = 1.0 - th * th;
    }
    if (bias) sc += bias->bias(C[t], C[kv], h, shape.mask());
    return sc;
  }
};

struct Worker {
  std::unique_ptr<ElementEvaluator> mask, bias, gate;
  std::vector<int> vis;
  std::vector<double> z, dcap, p, e;  // per visible key
  explicit Worker(const KernelRun& r) {
    if (r.k.mask) mask = std::make_unique<ElementEvaluator>(*r.k.mask);
    if (r.k.bias) bias = std::make_unique<ElementEvaluator>(*r.k.bias);
    if (r.k.gate) gate = std::make_unique<ElementEvaluator>(*r.k.gate);
    z.resize(r.N);
    dcap.resize(r.N);
    p.resize(r.N);
    e.resize(r.N);
    vis.reserve(r.N);
  }
};

// Pass 1: query rows.
void query_pass(KernelRun& r, std::vector<Worker>& workers, double* dq) {
  const int N = r.N, H = r.H, D = r.D, K = r.K;
  detail::parallel_for((long long)r.B * N, (int)workers.size(), 8, [&](long long item, int wi) {
    Worker& w = workers[wi];
    const int b = (int)(item / N), t = (int)(item % N);
    for (int j = 0; j < K; ++j) {
      const std::vector<int>& mem = r.members[b].at(r.g.group(b, t, j));
      w.vis.clear();
      for (int kv : mem)
        if (!w.mask || w.mask->mask(r.C[t], r.C[kv], r.shape.mask())) w.vis.push_back(kv);
      if (w.vis.empty()) continue;  // lse stays -inf, no gradient
      double gate = 1;
      if (r.k.route_gate) gate = r.g.probability(b, t, j);
      else if (w.gate) gate = w.gate->gate(r.C[t], r.shape.mask());
      const double coef = r.weight * gate;
      if (r.grads) r.coef[r.slot(b, t, j)] = coef;
      const int nv = (int)w.vis.size();
      double dgate = 0;
      for (int h = 0; h < H; ++h) {
        double mx = kNegInf;
        for (int i = 0; i < nv; ++i) {
          w.z[i] = r.score(b, t, w.vis[i], h, w.bias.get(), &w.dcap[i]);
          if (w.z[i] > mx) mx = w.z[i];
        }
        if (mx == kNegInf) continue;  // every score -inf: as empty
        double sum = 0;
        for (int i = 0; i < nv; ++i) sum += std::exp(w.z[i] - mx);
        const double lse = mx + std::log(sum);
        r.lse[r.row(b, h, t, j)] = lse;
        if (!r.grads) continue;
        // With A = sum_i P_i v_i and e_i = dout . v_i: dout . A = sum_i P_i e_i (no D-vector A needed),
        // dA . v_i = coef * e_i, Delta = dA . A = coef * dout . A.
        const double* go = r.dout + r.idx(b, t, h);
        double dot_oa = 0;
        for (int i = 0; i < nv; ++i) {
          const double p = w.p[i] = std::exp(w.z[i] - lse);
          w.e[i] = p == 0 ? 0.0 : dot(go, r.qkv.v.data() + r.idx(b, w.vis[i], h), D);
          dot_oa += p * w.e[i];
        }
        dgate += dot_oa;
        const double delta = coef * dot_oa;
        r.delta[r.row(b, h, t, j)] = delta;
        double* dqr = dq + r.idx(b, t, h);
        for (int i = 0; i < nv; ++i) {
          const double p = w.p[i];
          if (p == 0) continue;
          const double ds = p * (coef * w.e[i] - delta) * w.dcap[i] * r.scale;
          const double* kk = r.qkv.k.data() + r.idx(b, w.vis[i], h);
          for (int d = 0; d < D; ++d) dqr[d] += ds * kk[d];
        }
      }
      if (r.grads) r.dgate[r.slot(b, t, j)] = r.weight * dgate;
    }
  });
}

// Pass 2: key tokens. Visits (t, j, kv) exactly when pass 1 put kv in the visible set of (t, j):
// kv is a member of g_j(t) and the mask holds.
void key_pass(KernelRun& r, std::vector<Worker>& workers, double* dk, double* dv) {
  const int N = r.N, H = r.H, D = r.D, K = r.K;
  detail::parallel_for((long long)r.B * N, (int)workers.size(), 8, [&](long long item, int wi) {
    Worker& w = workers[wi];
    const int b = (int)(item / N), kv = (int)(item % N);
    for (int jk = 0; jk < K; ++jk) {
      const int grp = r.g.group(b, kv, jk);
      bool seen = false;  // kv's slots may repeat a group (a given routing): visit it once
      for (int e = 0; e < jk && !seen; ++e) seen = r.g.group(b, kv, e) == grp;
      if (seen) continue;
      for (int t : r.members[b].at(grp)) {
        if (w.mask && !w.mask->mask(r.C[t], r.C[kv], r.shape.mask())) continue;
        for (int j = 0; j < K; ++j) {
          if (r.g.group(b, t, j) != grp) continue;
          const double coef = r.coef[r.slot(b, t, j)];
          for (int h = 0; h < H; ++h) {
            const double lse = r.lse[r.row(b, h, t, j)];
            if (lse == kNegInf) continue;
            double dcap;
            const double z = r.score(b, t, kv, h, w.bias.get(), &dcap);
            const double p = std::exp(z - lse);
            if (p == 0) continue;
            const double* go = r.dout + r.idx(b, t, h);
            const double dp = coef * dot(go, r.qkv.v.data() + r.idx(b, kv, h), D);
            const double ds = p * (dp - r.delta[r.row(b, h, t, j)]) * dcap * r.scale;
            const double pc = p * coef;
            const double* qv = r.qkv.q.data() + r.idx(b, t, h);
            double* dkr = dk + r.idx(b, kv, h);
            double* dvr = dv + r.idx(b, kv, h);
            for (int d = 0; d < D; ++d) {
              dkr[d] += ds * qv[d];
              dvr[d] += pc * go[d];
            }
          }
        }
      }
    }
  });
}

// Pass 3: the router of routed kernel `ki` (router inputs given): dp -> dl -> dx, dW; the balance loss.
void router_pass(const KernelSpec& k, int ki, const KernelRun& r, const Grouping& g, const RefInputs& in,
                 const BackwardOptions& opt, int threads, RefGrads& grads) {
  reference_router_backward(in.x, in.router_weight[ki], (long long)in.B * g.N, in.d_model, k.route->groups, g.k,
                            g.gid.data(), k.route_gate ? r.dgate.data() : nullptr, opt.balance_loss,
                            opt.balance_weight, threads, grads.dlogits[ki], grads.drouter_w[ki], grads.dx.data(),
                            &grads.balance_loss);
}

Shape checked_shape(const PatternSpec& spec, const RefInputs& in) {
  if (spec.kernels.empty()) bad("the pattern has no kernels");
  const Shape shape = make_shape(spec, in);
  if (in.B < 1 || in.heads < 1 || in.head_dim < 1)
    bad("B, heads and head_dim must be >= 1 (got " + std::to_string(in.B) + ", " + std::to_string(in.heads) + ", " +
        std::to_string(in.head_dim) + ")");
  if (!in.q || !in.k || !in.v) bad("q, k and v must be given");
  return shape;
}

}  // namespace

void reference_router_backward(const float* x, const float* W, long long T, int dm, int M, int K, const int* gid,
                               const double* dgate, bool balance, double balance_weight, int threads,
                               std::vector<double>& dlog, std::vector<double>& dW, double* dx, double* balance_loss) {
  if (!x || !W || !gid || !dx || !balance_loss || T < 1 || dm < 1 || M < 1 || K < 1 || T >= (1LL << 31))
    bad("router: x, W, gid, dx and balance_loss must be given, T, d_model, M and k >= 1 (T < 2^31)");
  // p from x and W (route_tokens computes the logits; the given gid still decides the groups).
  const Grouping own = route_tokens(x, W, 1, (int)T, dm, M, std::min(K, M));
  std::vector<double> p((size_t)T * M);
  for (long long t = 0; t < T; ++t) {
    const double* l = own.logits.data() + t * M;
    double mx = l[0], sum = 0;
    for (int m = 1; m < M; ++m) mx = std::max(mx, l[m]);
    for (int m = 0; m < M; ++m) sum += (p[t * M + m] = std::exp(l[m] - mx));
    for (int m = 0; m < M; ++m) p[t * M + m] /= sum;
  }
  // Balance loss: F from the assignments used, P the mean probability.
  std::vector<double> dbal(M, 0.0);
  if (balance) {
    std::vector<double> F(M, 0.0), P(M, 0.0);
    for (long long t = 0; t < T; ++t)
      for (int j = 0; j < K; ++j) F[gid[t * K + j]] += 1.0 / ((double)K * T);
    for (long long t = 0; t < T; ++t)
      for (int m = 0; m < M; ++m) P[m] += p[t * M + m] / (double)T;
    for (int m = 0; m < M; ++m) {
      *balance_loss += balance_weight * M * F[m] * P[m];
      dbal[m] = balance_weight * M * F[m] / (double)T;
    }
  }
  dW.assign((size_t)dm * M, 0.0);
  dlog.assign((size_t)T * M, 0.0);
  const int nthreads = detail::resolve_threads(threads);
  // dl and dx per token (one writer each), then dW per row d summing the tokens in order: the same
  // bits for any thread count.
  std::vector<std::vector<double>> scratch(nthreads, std::vector<double>(M));
  detail::parallel_for(T, nthreads, 16, [&](long long t, int wi) {
    double* dp = scratch[wi].data();
    double* dl = dlog.data() + t * M;
    for (int m = 0; m < M; ++m) dp[m] = dbal[m];
    if (dgate)
      for (int j = 0; j < K; ++j) dp[gid[t * K + j]] += dgate[t * K + j];
    const double* pt = p.data() + t * M;
    double pdp = 0;
    for (int m = 0; m < M; ++m) pdp += pt[m] * dp[m];
    for (int m = 0; m < M; ++m) dl[m] = pt[m] * (dp[m] - pdp);
    double* dxt = dx + t * dm;
    for (int d = 0; d < dm; ++d) {
      const float* wr = W + (size_t)d * M;
      double s = 0;
      for (int m = 0; m < M; ++m) s += dl[m] * (double)wr[m];
      dxt[d] += s;
    }
  });
  detail::parallel_for(dm, nthreads, 1, [&](long long d, int) {
    double* dWr = dW.data() + d * M;
    for (long long t = 0; t < T; ++t) {
      const double xv = x[t * dm + d];
      const double* dl = dlog.data() + t * M;
      for (int m = 0; m < M; ++m) dWr[m] += xv * dl[m];
    }
  });
}

void reference_attention_backward(const PatternSpec& spec, const RefInputs& in, const double* dout,
                                  const BackwardOptions& opt, RefGrads& grads) {
  const Shape shape = checked_shape(spec, in);
  if (!dout) bad("dout must be given");
  const int N = shape.N(), nk = (int)spec.kernels.size();
  bool any_router = false;
  for (int ki = 0; ki < nk; ++ki) {
    const KernelSpec& k = spec.kernels[ki];
    if (!k.route) continue;
    const bool has_w = ki < (int)in.router_weight.size() && in.router_weight[ki], has_x = in.x && in.d_model >= 1;
    if (has_w != has_x)  // half the router inputs (beside a given routing): a mistake, not "no router gradient"
      bad("kernel '" + k.name + "': router_weight[" + std::to_string(ki) + "] is " + (has_w ? "given" : "null") +
          " but x / d_model " + (has_x ? "are given" : "are not") + "; give both for the router gradient, or neither");
    if (has_router_inputs(in, ki)) any_router = true;
    else if (opt.balance_loss)
      bad("kernel '" + k.name + "': the balance loss needs router inputs (x, d_model, router_weight[" +
          std::to_string(ki) + "])");
  }
  const size_t total = (size_t)in.B * N * in.heads * in.head_dim;
  grads.dq.assign(total, 0.0);
  grads.dk.assign(total, 0.0);
  grads.dv.assign(total, 0.0);
  grads.dx.assign(any_router ? (size_t)in.B * N * in.d_model : 0, 0.0);
  grads.drouter_w.assign(nk, {});
  grads.dlogits.assign(nk, {});
  grads.balance_loss = 0;
  grads.terms.assign(opt.per_kernel ? nk : 0, {});
  const int nthreads = detail::resolve_threads(in.threads);
  const Tensors qkv(in, total);
  for (int ki = 0; ki < nk; ++ki) {
    const KernelSpec& k = spec.kernels[ki];
    const Grouping g = kernel_grouping(spec, ki, in, shape);
    KernelRun run(k, g, shape, in, qkv, dout, true);
    std::vector<Worker> workers;
    workers.reserve(nthreads);
    for (int i = 0; i < nthreads; ++i) workers.emplace_back(run);
    if (opt.per_kernel) {
      KernelGrads& t = grads.terms[ki];
      t.dq.assign(total, 0.0), t.dk.assign(total, 0.0), t.dv.assign(total, 0.0);
      query_pass(run, workers, t.dq.data());
      key_pass(run, workers, t.dk.data(), t.dv.data());
      for (size_t i = 0; i < total; ++i) grads.dq[i] += t.dq[i], grads.dk[i] += t.dk[i], grads.dv[i] += t.dv[i];
    } else {
      query_pass(run, workers, grads.dq.data());
      key_pass(run, workers, grads.dk.data(), grads.dv.data());
    }
    if (k.route && has_router_inputs(in, ki)) router_pass(k, ki, run, g, in, opt, nthreads, grads);
  }
}

std::vector<std::vector<double>> reference_lse(const PatternSpec& spec, const RefInputs& in) {
  const Shape shape = checked_shape(spec, in);
  const int nthreads = detail::resolve_threads(in.threads);
  const Tensors qkv(in, (size_t)in.B * shape.N() * in.heads * in.head_dim);
  std::vector<std::vector<double>> out;
  for (int ki = 0; ki < (int)spec.kernels.size(); ++ki) {
    const Grouping g = kernel_grouping(spec, ki, in, shape);
    KernelRun run(spec.kernels[ki], g, shape, in, qkv, nullptr, false);
    std::vector<Worker> workers;
    workers.reserve(nthreads);
    for (int i = 0; i < nthreads; ++i) workers.emplace_back(run);
    query_pass(run, workers, nullptr);
    out.push_back(std::move(run.lse));
  }
  return out;
}

}  // namespace moga::ref
