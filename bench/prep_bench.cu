// Standalone harness for kernels_src/cuda/prep.cuh: every kernel against a CPU reference on fresh random
// inputs (seed printed; pass one as argv[1] to reproduce), block-map soundness by brute force, then
// timings of the routed pipeline (router + sort + summaries + map) against the memory floor.
// Build: nvcc -O3 -std=c++17 -arch=sm_90 -I. -Ikernels_src/cuda bench/prep_bench.cu -o build/bin/prep_bench
// Exit status: 0 when every check passed, 1 otherwise, 2 on a CUDA error. `prep_bench SEED quick` skips timing.
//
// Notes (H100 80GB HBM3, 132 SMs; d = 1536, B = 1, top-1; floor = bytes(x) / 3.0 TB/s: a coalesced read
// probe reaches 3.03 TB/s, a device copy 2.99 TB/s read + write). Router alone, us, N = 32760 / 75600:
//   v1  warp per 16 rows, 64-column steps, 1 step prefetched, 256 threads, W^T restaged per block
//       iteration (double-buffered 256-column chunks when W^T > 64 KB):
//       M=4 48.0 / 97.3   M=16 49.9 / 100.7   M=64 58.7 / 139.2
//   v2  W^T resident in shared memory (staged in pieces the first tile waits for), a ring of 3 steps in
//       flight, 512 threads: no better (M=4 ~50 / ~110). Prediction was ~36 us; missed: not a latency
//       problem. Persistent static tiles also leave a tail at 75600 (2.24 tiles per warp).
//   v3  ld.global.nc.L2::256B (an L2 miss fetches the whole 256-byte block, so the next k step of the same
//       row hits in L2): -5..-15%; 128-column steps (256 B per row per step) with 256 threads another few %.
//       Final: M=4 44.2 / 93.1 (1.32x / 1.20x floor), M=16 45.2 / 93.5, M=64 58.6 / 135.0 (1.75x): at
//       M=64 the W^T fragment reads from shared memory (4 bytes of W per byte of x) and the mma.sync issue
//       bound it; next step would be wgmma with W^T as the shared-memory B operand (read once per
//       warpgroup instead of once per warp).
//   Sort: 3 kernels (hist, single-block scan, scatter) 12-28 us -> router-fused histogram (global
//   atomics into a zeroed [G][blocks] table) + one scatter kernel that derives its own offsets from the
//   whole table: 5.6-11.4 us. Grouped block map without a mask from seg_offsets: 4.4-6.2 us (was 7-12 us
//   through summaries). In a CUDA graph the whole routed prep is router + 6..13 us.
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "kernels_src/cuda/prep.cuh"

using namespace moga;

#define CK(x)                                                                                        \
  do {                                                                                               \
    cudaError_t e_ = (x);                                                                            \
    if (e_ != cudaSuccess) {                                                                         \
      fprintf(stderr, "CUDA error '%s' at %s:%d: %s\n", cudaGetErrorString(e_), __FILE__, __LINE__, #x); \
      exit(2);                                                                                       \
    }                                                                                                \
  } while (0)
#define CKL() CK(cudaGetLastError())

static int g_fail = 0, g_checks = 0;
#define EXPECT(cond, ...)           \
  do {                              \
    ++g_checks;                     \
    if (!(cond)) {                  \
      ++g_fail;                     \
      printf("  FAIL: ");           \
      printf(__VA_ARGS__);          \
      printf("\n");                 \
    }                               \
  } while (0)

// ---- helpers ------------------------------------------------------------------------------------------
template <class T>
struct DBuf {
  T* p = nullptr;
  size_t n = 0;
  DBuf() = default;
  explicit DBuf(size_t n_) { alloc(n_); }
  void alloc(size_t n_) {
    release();
    n = n_;
    CK(cudaMalloc(&p, (n ? n : 1) * sizeof(T)));
  }
  void release() {
    if (p) cudaFree(p);
    p = nullptr;
    n = 0;
  }
  ~DBuf() { release(); }
  DBuf(const DBuf&) = delete;
  DBuf& operator=(const DBuf&) = delete;
  DBuf(DBuf&& o) noexcept : p(o.p), n(o.n) { o.p = nullptr; o.n = 0; }
  DBuf& operator=(DBuf&& o) noexcept {
    if (this != &o) {
      release();
      p = o.p;
      n = o.n;
      o.p = nullptr;
      o.n = 0;
    }
    return *this;
  }
  void up(const std::vector<T>& v) {
    if (v.size() != n) alloc(v.size());
    if (n) CK(cudaMemcpy(p, v.data(), n * sizeof(T), cudaMemcpyHostToDevice));
  }
  std::vector<T> down() const {
    std::vector<T> v(n);
    if (n) CK(cudaMemcpy(v.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost));
    return v;
  }
  void poison() { CK(cudaMemset(p, 0xFF, (n ? n : 1) * sizeof(T))); }
};

__host__ __device__ inline unsigned long long splitmix64(unsigned long long z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
// Deterministic bf16 value in [-1, 1) for element i: the same bits on host and device.
__host__ __device__ inline unsigned short hash_bf16(unsigned long long i, unsigned long long seed) {
  const unsigned long long h = splitmix64(i ^ (seed * 0xD1B54A32D192ED03ull));
  const float u = (float)(h >> 40) * (1.0f / 16777216.0f);
  const float f = 2.f * u - 1.f;
#ifdef __CUDA_ARCH__
  unsigned int b = __float_as_uint(f);
#else
  unsigned int b;
  memcpy(&b, &f, 4);
#endif
  b += 0x7fffu + ((b >> 16) & 1u);
  return (unsigned short)(b >> 16);
}
static float bf2f(unsigned short h) {
  const uint32_t u = (uint32_t)h << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}
static unsigned short f2bf(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (unsigned short)(u >> 16);
}

// x[b][n][col] (row stride ld, batch stride N*ld) = hash(b*N*d + n*d + col); padding columns get junk.
__global__ void fill_x_kernel(unsigned short* x, int B, int N, int d, int ld, unsigned long long seed) {
  const long long total = (long long)B * N * ld;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total; i += (long long)gridDim.x * blockDim.x) {
    const long long r = i / ld;
    const int col = (int)(i - r * ld);
    x[i] = col < d ? hash_bf16((unsigned long long)(r * d + col), seed) : (unsigned short)0x7fc0;  // NaN padding
  }
}
static unsigned short host_x(long long r, int col, int d, unsigned long long seed) {
  return hash_bf16((unsigned long long)(r * d + col), seed);
}

// ---- variants ---------------------------------------------------------------------------------------------
struct VNoMask {  // the MoGA routed branch: grouping only
  static constexpr bool kHasMask = false, kHasBias = false, kHasSoftcap = false;
  template <class T, class B>
  MOGA_HD static B mask(const Coords<T>&, const Coords<T>&, const MaskShape&) { return B(true); }
};
struct VCausal {
  static constexpr bool kHasMask = true, kHasBias = false, kHasSoftcap = false;
  template <class T, class B>
  MOGA_HD static B mask(const Coords<T>& q, const Coords<T>& kv, const MaskShape&) { return q.pos >= kv.pos; }
};
// STGA-like: 2x2 spatial windows x temporal groups of 4 frames inside a shot; K/V extended with the last 2
// frames of the previous shot and the first 2 of the next one.
struct VStga {
  static constexpr bool kHasMask = true, kHasBias = false, kHasSoftcap = false;
  template <class T, class B>
  MOGA_HD static B mask(const Coords<T>& q, const Coords<T>& kv, const MaskShape& s) {
    const T wh = T((s.H + 1) / 2), ww = T((s.W + 1) / 2), tg = T(4);
    const B same_win = moga::land(moga::fdiv(q.row, wh) == moga::fdiv(kv.row, wh),
                                  moga::fdiv(q.col, ww) == moga::fdiv(kv.col, ww));
    const B same_grp = moga::land(q.shot == kv.shot,
                                  moga::fdiv(q.frame - q.shot_start, tg) == moga::fdiv(kv.frame - kv.shot_start, tg));
    const B prev = moga::land(kv.frame >= q.shot_start - T(2), kv.frame < q.shot_start);
    const B next = moga::land(kv.frame >= q.shot_end, kv.frame < q.shot_end + T(2));
    return moga::land(same_win, moga::lor(same_grp, moga::lor(prev, next)));
  }
  // Ordering key (window inside its temporal group): G = shots * 8 * 4 for shots of <= 32 frames.
  MOGA_HD static int key(const Coords<int>& t, const MaskShape& s) {
    const int wh = (s.H + 1) / 2, ww = (s.W + 1) / 2;
    const int win = moga::fdiv(t.row, wh) * 2 + moga::fdiv(t.col, ww);
    const int grp = t.shot * 8 + moga::fdiv(t.frame - t.shot_start, 4);
    return grp * 4 + win;
  }
};
struct VFrame {  // frame-local attention as a computed grouping
  static constexpr bool kHasMask = false, kHasBias = false, kHasSoftcap = false;
  template <class T, class B>
  MOGA_HD static B mask(const Coords<T>&, const Coords<T>&, const MaskShape&) { return B(true); }
  MOGA_HD static int key(const Coords<int>& t, const MaskShape&) { return t.frame; }
};

// ---- router -------------------------------------------------------------------------------------------------
struct RouterOut {
  DBuf<int> gid;
  DBuf<float> prob;
  int N = 0, B = 0, topk = 1, M = 0;
};

struct SortOut {
  DBuf<int> perm, gid, seg, order, scratch;
  DBuf<float> gate;
  int B = 0, Ne = 0, G = 0, k = 1;
};
static void check_sort(const char* name, int B, int Ne, int k, int G, const std::vector<int>& keys,
                       const std::vector<float>* probs, SortOut& so);
// hist_readers: SortParams::hist_readers (the scatter clears the histogram after its last block read it).
static void run_sort_gpu(SortOut& so, int B, int Ne, int k, int G, const int* d_keys, const float* d_probs, bool order,
                         cudaStream_t st = 0, bool pdl = false, bool hist_done = false, int* hist_readers = nullptr);

static void test_router(const char* name, int B, int N, int d, int M, int topk, int pad, int cfg, bool linear_layout,
                        std::mt19937_64& rng, RouterOut* keep, bool ties = false, bool fused_sort = false,
                        int grid_mode = 0) {
  printf("[router] %s: B=%d N=%d d=%d M=%d topk=%d ld=%d cfg=%d W=%s%s\n", name, B, N, d, M, topk, d + pad, cfg,
         linear_layout ? "[M][d]" : "[d][M]", ties ? " (duplicate columns: exact ties)" : "");
  const int ld = d + pad;
  const unsigned long long xseed = rng();
  DBuf<unsigned short> x((size_t)B * N * ld);
  fill_x_kernel<<<1024, 256>>>(x.p, B, N, d, ld, xseed);
  CKL();
  // W_r [d][M] (logical); values ~ U(-a, a), a = 2.5/sqrt(d): logits of order 1-3.
  std::vector<float> w((size_t)d * M);
  std::uniform_real_distribution<float> U(-1.f, 1.f);
  const float a = 2.5f / std::sqrt((float)d);
  for (auto& v : w) v = bf2f(f2bf(U(rng) * a));
  if (ties && M >= 6)
    for (int k = 0; k < d; ++k) w[(size_t)k * M + 5] = w[(size_t)k * M + 2];
  std::vector<unsigned short> wb((size_t)d * M);
  long long w_sk, w_sn;
  if (linear_layout) {  // [M][d]
    for (int k = 0; k < d; ++k)
      for (int n = 0; n < M; ++n) wb[(size_t)n * d + k] = f2bf(w[(size_t)k * M + n]);
    w_sk = 1;
    w_sn = d;
  } else {
    for (size_t i = 0; i < wb.size(); ++i) wb[i] = f2bf(w[i]);
    w_sk = M;
    w_sn = 1;
  }
  DBuf<unsigned short> dw;
  dw.up(wb);
  const int d_pad = round_up(d, 128), NT = (M + 7) / 8;
  DBuf<unsigned short> wp((size_t)NT * 8 * d_pad);
  wp.poison();
  CK(launch_router_pack_weight(dw.p, w_sk, w_sn, d, M, wp.p));
  RouterOut ro;
  ro.gid.alloc((size_t)B * N * topk);
  ro.prob.alloc((size_t)B * N * topk);
  DBuf<float> lg((size_t)B * N * M);
  ro.gid.poison();
  ro.prob.poison();
  lg.poison();
  RouterParams p{};
  p.x = x.p;
  p.x_sb = (long long)N * ld;
  p.x_sn = ld;
  p.w_packed = wp.p;
  p.B = B;
  p.N = N;
  p.d = d;
  p.d_pad = d_pad;
  p.M = M;
  p.topk = topk;
  router_choose_chunks(NT, d_pad, &p.kc, &p.kst);
  p.gid = ro.gid.p;
  p.prob = ro.prob.p;
  p.logits = lg.p;
  printf("  kc=%d kst=%d (%s), smem=%zu B\n", p.kc, p.kst, p.kc >= d_pad ? "W resident" : "double-buffered chunks",
         router_smem_bytes(NT, d_pad, p.kc));
  CK(launch_router(p, cfg, 0, false, grid_mode));
  CK(cudaDeviceSynchronize());
  const auto g = ro.gid.down();
  const auto pr = ro.prob.down();
  const auto L = lg.down();
  // reference in double
  double num = 0, den = 0, maxabs = 0;
  int bad_gid = 0, bad_prob = 0, ties_seen = 0, tie_wrong = 0, nan_seen = 0;
  std::vector<double> ref(M);
  std::vector<float> xr(d);
  for (long long r = 0; r < (long long)B * N; ++r) {
    for (int k = 0; k < d; ++k) xr[k] = bf2f(host_x(r, k, d, xseed));
    for (int n = 0; n < M; ++n) {
      double s = 0;
      for (int k = 0; k < d; ++k) s += (double)xr[k] * (double)w[(size_t)k * M + n];
      ref[n] = s;
      const double gl = L[(size_t)r * M + n];
      if (std::isnan(gl)) ++nan_seen;
      num += (gl - s) * (gl - s);
      den += s * s;
      maxabs = std::max(maxabs, std::fabs(gl - s));
    }
    std::vector<int> idx(M);
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](int i, int j) { return ref[i] > ref[j]; });
    double mx = ref[idx[0]], se = 0;
    for (int n = 0; n < M; ++n) se += std::exp(ref[n] - mx);
    std::vector<char> used(M, 0);
    for (int j = 0; j < topk; ++j) {
      const int gg = g[(size_t)r * topk + j];
      const float pp = pr[(size_t)r * topk + j];
      if (gg < 0 || gg >= M || used[gg]) {
        if (bad_gid++ < 5) printf("  row %lld choice %d: gid %d invalid or repeated\n", r, j, gg);
        continue;
      }
      used[gg] = 1;
      if (gg != idx[j] && std::fabs(ref[gg] - ref[idx[j]]) > 1e-3) {
        if (bad_gid++ < 5)
          printf("  row %lld choice %d: gid %d (logit %.6f), ref %d (logit %.6f)\n", r, j, gg, ref[gg], idx[j], ref[idx[j]]);
      }
      const double pref = std::exp(ref[gg] - mx) / se;
      if (!(std::fabs(pp - pref) <= 2e-5 + 1e-4 * pref)) {
        if (bad_prob++ < 5) printf("  row %lld choice %d: prob %.7f ref %.7f\n", r, j, pp, pref);
      }
    }
    if (ties && topk == 1) {
      // columns 2 and 5 are identical: when they are the maximum the GPU must say 2
      const float g2 = L[(size_t)r * M + 2], g5 = L[(size_t)r * M + 5];
      if (g2 != g5) ++tie_wrong;  // the logits themselves must tie bit for bit
      if (idx[0] == 2 || idx[0] == 5) {
        ++ties_seen;
        if (g[(size_t)r] != 2) ++tie_wrong;
      }
    }
  }
  const double rel = std::sqrt(num / std::max(den, 1e-300));
  printf("  logits rel L2 %.2e, max abs %.2e; bad gid %d, bad prob %d", rel, maxabs, bad_gid, bad_prob);
  if (ties) printf(", tie rows %d, tie errors %d", ties_seen, tie_wrong);
  printf("\n");
  EXPECT(nan_seen == 0, "router %s: %d NaN/unwritten logits", name, nan_seen);
  EXPECT(rel < 1e-5 && maxabs < 1e-3, "router %s: logits rel %.3e max abs %.3e", name, rel, maxabs);
  EXPECT(bad_gid == 0, "router %s: %d wrong group choices", name, bad_gid);
  EXPECT(bad_prob == 0, "router %s: %d wrong probabilities", name, bad_prob);
  if (ties) EXPECT(tie_wrong == 0 && ties_seen > 0, "router %s: ties %d, wrong %d", name, ties_seen, tie_wrong);
  if (fused_sort) {
    // the router again, now also building the sort's histogram; then only the scatter pass
    const int Ne = N * topk;
    int chunk, nblk, ldh;
    sort_plan(Ne, M, &chunk, &nblk, &ldh);
    SortOut so;
    run_sort_gpu(so, B, Ne, topk, M, ro.gid.p, ro.prob.p, true);  // allocates
    CK(cudaMemset(so.scratch.p, 0, so.scratch.n * sizeof(int)));
    so.perm.poison();
    so.gid.poison();
    so.gate.poison();
    so.seg.poison();
    so.order.poison();
    p.hist = so.scratch.p;
    p.hist_chunk = chunk;
    p.hist_ld = ldh;
    CK(launch_router(p, cfg, 0, false, grid_mode));
    CK(cudaDeviceSynchronize());
    // histogram vs the gids of the first run (same inputs)
    const auto hh = so.scratch.down();
    int bad_h = 0;
    std::vector<int> ref_h((size_t)B * M * ldh, 0);
    for (int b = 0; b < B; ++b)
      for (int e = 0; e < Ne; ++e) ref_h[((size_t)b * M + g[(size_t)b * Ne + e]) * ldh + e / chunk]++;
    for (int b = 0; b < B; ++b)
      for (int gg = 0; gg < M; ++gg)
        for (int k = 0; k < nblk; ++k) bad_h += hh[((size_t)b * M + gg) * ldh + k] != ref_h[((size_t)b * M + gg) * ldh + k];
    printf("  fused histogram: chunk=%d nblk=%d, %d wrong cells\n", chunk, nblk, bad_h);
    EXPECT(bad_h == 0, "router %s: fused histogram has %d wrong cells", name, bad_h);
    run_sort_gpu(so, B, Ne, topk, M, ro.gid.p, ro.prob.p, true, 0, false, /*hist_done=*/true);
    CK(cudaDeviceSynchronize());
    char nm[256];
    snprintf(nm, sizeof nm, "%s (router histogram + scatter)", name);
    check_sort(nm, B, Ne, topk, M, g, &pr, so);
  }
  if (keep) {
    *keep = std::move(ro);
    keep->N = N;
    keep->B = B;
    keep->topk = topk;
    keep->M = M;
  }
}

// ---- sort -------------------------------------------------------------------------------------------------------

static void run_sort_gpu(SortOut& so, int B, int Ne, int k, int G, const int* d_keys, const float* d_probs, bool order,
                         cudaStream_t st, bool pdl, bool hist_done, int* hist_readers) {
  so.B = B;
  so.Ne = Ne;
  so.G = G;
  so.k = k;
  if (so.perm.n != (size_t)B * Ne) {
    so.perm.alloc((size_t)B * Ne);
    so.gid.alloc((size_t)B * Ne);
    so.gate.alloc((size_t)B * Ne);
    so.seg.alloc((size_t)B * (G + 1));
    so.order.alloc((size_t)B * G);
    so.scratch.alloc((size_t)sort_scratch_ints(B, Ne, G));
  }
  SortParams p{};
  p.keys = d_keys;
  p.probs = d_probs;
  p.B = B;
  p.Ne = Ne;
  p.k = k;
  p.G = G;
  p.blk_hist = so.scratch.p;
  p.seg_offsets = so.seg.p;
  p.order = order ? so.order.p : nullptr;
  p.perm = so.perm.p;
  p.gid = so.gid.p;
  p.gate = d_probs ? so.gate.p : nullptr;
  p.err = nullptr;
  p.hist_readers = hist_readers;
  CK(launch_sort(p, st, pdl, hist_done));
}

static void test_sort(const char* name, int B, int Ne, int k, int G, const std::vector<int>& keys,
                      const std::vector<float>* probs, SortOut& so) {
  printf("[sort] %s: B=%d Ne=%d k=%d G=%d\n", name, B, Ne, k, G);
  DBuf<int> dk;
  dk.up(keys);
  DBuf<float> dp;
  if (probs) dp.up(*probs);
  so.perm.release();
  run_sort_gpu(so, B, Ne, k, G, dk.p, probs ? dp.p : nullptr, true);
  // poison outputs, then run again (the first call allocated)
  so.perm.poison();
  so.gid.poison();
  so.gate.poison();
  so.seg.poison();
  so.order.poison();
  so.scratch.poison();
  run_sort_gpu(so, B, Ne, k, G, dk.p, probs ? dp.p : nullptr, true);
  CK(cudaDeviceSynchronize());
  check_sort(name, B, Ne, k, G, keys, probs, so);
}

static void check_sort(const char* name, int B, int Ne, int k, int G, const std::vector<int>& keys,
                       const std::vector<float>* probs, SortOut& so) {
  const auto perm = so.perm.down(), gid = so.gid.down(), seg = so.seg.down(), order = so.order.down();
  const auto gate = so.gate.down();
  int bad_perm = 0, bad_seg = 0, bad_order = 0, bad_gate = 0;
  int chunk, nblk, ldh;
  sort_plan(Ne, G, &chunk, &nblk, &ldh);
  for (int b = 0; b < B; ++b) {
    std::vector<int> idx(Ne);
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](int i, int j) { return keys[(size_t)b * Ne + i] < keys[(size_t)b * Ne + j]; });
    std::vector<int> hist(G, 0);
    for (int e = 0; e < Ne; ++e) hist[keys[(size_t)b * Ne + e]]++;
    for (int s = 0; s < Ne; ++s) {
      const size_t o = (size_t)b * Ne + s;
      const int e = idx[s];
      if (perm[o] != e / k || gid[o] != keys[(size_t)b * Ne + e]) {
        if (bad_perm++ < 5) printf("  b=%d s=%d: perm %d gid %d, ref %d %d\n", b, s, perm[o], gid[o], e / k, keys[(size_t)b * Ne + e]);
      }
      if (probs && std::memcmp(&gate[o], &(*probs)[(size_t)b * Ne + e], 4) != 0) ++bad_gate;
    }
    int acc = 0;
    for (int g = 0; g <= G; ++g) {
      if (seg[(size_t)b * (G + 1) + g] != acc) ++bad_seg;
      if (g < G) acc += hist[g];
    }
    {
      std::vector<int> og(G);
      std::iota(og.begin(), og.end(), 0);
      std::stable_sort(og.begin(), og.end(), [&](int i, int j) { return hist[i] > hist[j]; });
      for (int g = 0; g < G; ++g)
        if (order[(size_t)b * G + g] != og[g]) ++bad_order;
    }
  }
  int empty = 0, single = 0;
  {
    std::vector<int> hist(G, 0);
    for (int e = 0; e < Ne; ++e) hist[keys[e]]++;
    for (int g = 0; g < G; ++g) empty += hist[g] == 0, single += hist[g] == 1;
  }
  printf("  [%s] chunk=%d nblk=%d; groups empty %d, of one entry %d; bad perm/gid %d, seg %d, order %d, gate %d\n", name, chunk, nblk,
         empty, single, bad_perm, bad_seg, bad_order, bad_gate);
  EXPECT(bad_perm == 0, "sort %s: perm/gid differ from the stable reference at %d positions", name, bad_perm);
  EXPECT(bad_seg == 0, "sort %s: %d wrong segment offsets", name, bad_seg);
  EXPECT(bad_order == 0, "sort %s: %d wrong group-order entries", name, bad_order);
  EXPECT(bad_gate == 0, "sort %s: %d wrong gates", name, bad_gate);
}

// ---- summaries + block map ----------------------------------------------------------------------------------------
template <class V>
__global__ void soundness_kernel(const int* perm, const int* gid, int Ne, int grouped, int BM, int BN, int tk,
                                 const unsigned char* cls, MaskShape s, unsigned long long* bad) {
  const int qs = blockIdx.x * blockDim.x + threadIdx.x;
  if (qs >= Ne) return;
  const Coords<int> cq = coords_of(perm ? perm[qs] : qs, s);
  const int gq = gid ? gid[qs] : 0;
  const int k0 = blockIdx.y * 256, k1 = imin(Ne, k0 + 256);
  const unsigned char* crow = cls + (long long)(qs / BM) * tk;
  unsigned long long be = 0, bf = 0, vis_n = 0;
  for (int ks = k0; ks < k1; ++ks) {
    const int c = crow[ks / BN];
    bool vis = true;
    if (grouped) vis = gq == gid[ks];
    if constexpr (V::kHasMask) vis = vis && V::template mask<int, bool>(cq, coords_of(perm ? perm[ks] : ks, s), s);
    vis_n += vis;
    if (c == 0 && vis) ++be;
    if (c == 1 && !vis) ++bf;
  }
  if (be) atomicAdd(&bad[0], be);
  if (bf) atomicAdd(&bad[1], bf);
  if (vis_n) atomicAdd(&bad[2], vis_n);
}

// The tile summaries by their definition (TileSummary, prep.cuh): every field's [min, max] over the tile's real
// entries (padding of aligned groups, perm -1, skipped; a tile of padding only is the empty [INT_MAX, INT_MIN]);
// the gid interval doubled, and on key tiles (key_side) with padding its upper end made odd.
static void ref_summaries(const std::vector<int>* perm, const std::vector<int>* gid, int B, int Ne, const MaskShape& s,
                          int T, bool key_side, std::vector<TileSummary>& out) {
  const int nt = (Ne + T - 1) / T;
  out.assign((size_t)B * nt, TileSummary{});
  for (int b = 0; b < B; ++b)
    for (int i = 0; i < nt; ++i) {
      TileSummary& o = out[(size_t)b * nt + i];
      Ivl* f[8] = {&o.c.pos, &o.c.frame, &o.c.row, &o.c.col, &o.c.shot, &o.c.shot_start, &o.c.shot_end, &o.gid};
      for (int k = 0; k < 8; ++k) *f[k] = Ivl(kIntMax, kIntMin);
      bool padded = false, any = false;
      for (int q = i * T; q < std::min(Ne, (i + 1) * T); ++q) {
        const size_t e = (size_t)b * Ne + q;
        if (perm && (*perm)[e] < 0) {
          padded = true;
          continue;
        }
        const Coords<int> c = coords_of(perm ? (*perm)[e] : q, s);
        const int v[8] = {c.pos, c.frame, c.row, c.col, c.shot, c.shot_start, c.shot_end, gid ? 2 * (*gid)[e] : 0};
        for (int k = 0; k < 8; ++k) {
          f[k]->lo = std::min(f[k]->lo, v[k]);
          f[k]->hi = std::max(f[k]->hi, v[k]);
        }
        any = true;
      }
      if (key_side && padded && any) o.gid.hi += 1;
    }
}

struct HostShape {  // a MaskShape with its shot tables on the host and on the device
  MaskShape h{}, d{};
  std::vector<int> sof, sfirst;
  DBuf<int> dsof, dsfirst;
  void seq(int N) {
    h = MaskShape{N, 1, 1, N, nullptr, nullptr};
    d = h;
  }
  void video(int F, int H, int W, const std::vector<int>& shot_starts) {
    sfirst = shot_starts;
    sfirst.push_back(F);
    sof.assign(F, 0);
    for (int f = 0; f < F; ++f)
      for (size_t s = 0; s + 1 < sfirst.size(); ++s)
        if (f >= sfirst[s] && f < sfirst[s + 1]) sof[f] = (int)s;
    dsof.up(sof);
    dsfirst.up(sfirst);
    h = MaskShape{F * H * W, F, H, W, sof.data(), sfirst.data()};
    d = MaskShape{F * H * W, F, H, W, dsof.p, dsfirst.p};
  }
};

// Summaries (exact vs reference), block map (exact vs the host builder), soundness (brute force on the GPU;
// and on the CPU when cpu_brute).
template <class V>
static void test_map(const char* name, int B, int Ne, const HostShape& hs, const int* d_perm, const int* d_gid,
                     int grouped, int BM, int BN, bool cpu_brute, const int* d_seg = nullptr, int G = 0) {
  const int tq = (Ne + BM - 1) / BM, tk = (Ne + BN - 1) / BN;
  printf("[map] %s: B=%d Ne=%d BM=%d BN=%d tiles %dx%d grouped=%d mask=%d\n", name, B, Ne, BM, BN, tq, tk, grouped,
         (int)V::kHasMask);
  DBuf<TileSummary> qs((size_t)B * tq), ks((size_t)B * tk);
  qs.poison();
  ks.poison();
  SummaryParams sp{};
  sp.perm = d_perm;
  sp.gid = d_gid;
  sp.shape = hs.d;
  sp.B = B;
  sp.Ne = Ne;
  sp.tile_q = BM;
  sp.tile_kv = BN;
  sp.tq = tq;
  sp.tk = tk;
  sp.q_out = qs.p;
  sp.kv_out = ks.p;
  CK(launch_tile_summaries(sp));
  std::vector<int> perm, gid;
  if (d_perm) {
    perm.resize((size_t)B * Ne);
    CK(cudaMemcpy(perm.data(), d_perm, perm.size() * 4, cudaMemcpyDeviceToHost));
  }
  if (d_gid) {
    gid.resize((size_t)B * Ne);
    CK(cudaMemcpy(gid.data(), d_gid, gid.size() * 4, cudaMemcpyDeviceToHost));
  }
  const auto gq = qs.down(), gk = ks.down();
  std::vector<TileSummary> rq, rk;
  ref_summaries(d_perm ? &perm : nullptr, d_gid ? &gid : nullptr, B, Ne, hs.h, BM, false, rq);
  ref_summaries(d_perm ? &perm : nullptr, d_gid ? &gid : nullptr, B, Ne, hs.h, BN, true, rk);
  const int bad_sum = (int)(std::memcmp(gq.data(), rq.data(), rq.size() * sizeof(TileSummary)) != 0) +
                      (int)(std::memcmp(gk.data(), rk.data(), rk.size() * sizeof(TileSummary)) != 0);
  EXPECT(bad_sum == 0, "map %s: tile summaries differ from the reference", name);
  // also the header's host summaries must agree
  {
    std::vector<TileSummary> hq((size_t)B * tq), hk((size_t)B * tk);
    tile_summaries_host(d_perm ? perm.data() : nullptr, d_gid ? gid.data() : nullptr, B, Ne, hs.h, BM, hq.data());
    tile_summaries_host(d_perm ? perm.data() : nullptr, d_gid ? gid.data() : nullptr, B, Ne, hs.h, BN, hk.data(), true);
    EXPECT(std::memcmp(hq.data(), rq.data(), rq.size() * sizeof(TileSummary)) == 0 &&
               std::memcmp(hk.data(), rk.data(), rk.size() * sizeof(TileSummary)) == 0,
           "map %s: tile_summaries_host differs", name);
  }
  // block map
  DBuf<int> fc((size_t)B * tq), fi((size_t)B * tq * tk), pc((size_t)B * tq), pi((size_t)B * tq * tk);
  fc.poison();
  fi.poison();
  pc.poison();
  pi.poison();
  BlockMapParams mp{};
  mp.qsum = qs.p;
  mp.kvsum = ks.p;
  mp.B = B;
  mp.tq = tq;
  mp.tk = tk;
  mp.grouped = grouped;
  mp.shape = hs.d;
  mp.full_cnt = fc.p;
  mp.full_idx = fi.p;
  mp.part_cnt = pc.p;
  mp.part_idx = pi.p;
  std::vector<int> hfc((size_t)B * tq), hfi((size_t)B * tq * tk, -1), hpc((size_t)B * tq), hpi((size_t)B * tq * tk, -1);
  build_block_map_host<V>(gq.data(), tq, gk.data(), tk, B, grouped, hs.h, hfc.data(), hfi.data(), hpc.data(), hpi.data());
  auto compare = [&](const char* which) {
    const auto Fc = fc.down(), Fi = fi.down(), Pc = pc.down(), Pi = pi.down();
    int bad_map = 0;
    for (size_t r = 0; r < (size_t)B * tq; ++r) {
      bool ok = Fc[r] == hfc[r] && Pc[r] == hpc[r];
      for (int j = 0; ok && j < hfc[r]; ++j) ok = Fi[r * tk + j] == hfi[r * tk + j];
      for (int j = 0; ok && j < hpc[r]; ++j) ok = Pi[r * tk + j] == hpi[r * tk + j];
      if (!ok && bad_map++ < 3)
        printf("  %s row %zu: GPU full %d part %d, host full %d part %d\n", which, r, Fc[r], Pc[r], hfc[r], hpc[r]);
    }
    EXPECT(bad_map == 0, "map %s: %s: %d query-tile rows differ from build_block_map_host", name, which, bad_map);
  };
  CK(launch_block_map<V>(mp));
  CK(cudaDeviceSynchronize());
  compare("block_map_kernel");
  if (grouped && d_seg) {  // the same with the seg_offsets range restriction
    fc.poison();
    fi.poison();
    pc.poison();
    pi.poison();
    mp.seg_offsets = d_seg;
    mp.G = G;
    mp.tile_kv = BN;
    CK(launch_block_map<V>(mp));
    CK(cudaDeviceSynchronize());
    compare("block_map_kernel + seg_offsets");
    if (!V::kHasMask) {  // and the direct kernel
      fc.poison();
      fi.poison();
      pc.poison();
      pi.poison();
      GroupMapParams gp{d_gid, d_seg, nullptr, B, Ne, G, BM, BN, tq, tk, fc.p, fi.p, pc.p, pi.p};
      CK(launch_block_map_grouped(gp));
      CK(cudaDeviceSynchronize());
      compare("block_map_grouped_kernel");
    }
  }
  const auto Fc = fc.down(), Fi = fi.down(), Pc = pc.down(), Pi = pi.down();
  const BlockMapStats st = block_map_stats(hfc.data(), hpc.data(), B, tq, tk);
  // soundness, per batch item: dense class array from the GPU lists
  unsigned long long tot_bad[2] = {0, 0}, vis_total = 0;
  DBuf<unsigned char> dcls((size_t)tq * tk);
  DBuf<unsigned long long> dbad(3);
  unsigned long long cpu_bad[2] = {0, 0};
  for (int b = 0; b < B; ++b) {
    std::vector<unsigned char> cls((size_t)tq * tk, 0);
    for (int i = 0; i < tq; ++i) {
      const size_t r = (size_t)b * tq + i;
      for (int j = 0; j < Fc[r]; ++j) cls[(size_t)i * tk + Fi[r * tk + j]] = 1;
      for (int j = 0; j < Pc[r]; ++j) cls[(size_t)i * tk + Pi[r * tk + j]] = 2;
    }
    dcls.up(cls);
    CK(cudaMemset(dbad.p, 0, 3 * sizeof(unsigned long long)));
    const dim3 grid((Ne + 255) / 256, (Ne + 255) / 256);
    soundness_kernel<V><<<grid, 256>>>(d_perm ? d_perm + (size_t)b * Ne : nullptr, d_gid ? d_gid + (size_t)b * Ne : nullptr,
                                       Ne, grouped, BM, BN, tk, dcls.p, hs.d, dbad.p);
    CKL();
    const auto bad = dbad.down();
    tot_bad[0] += bad[0];
    tot_bad[1] += bad[1];
    vis_total += bad[2];
    if (cpu_brute) {
      for (int q = 0; q < Ne; ++q) {
        const Coords<int> cq = coords_of(d_perm ? perm[(size_t)b * Ne + q] : q, hs.h);
        for (int k = 0; k < Ne; ++k) {
          const int c = cls[(size_t)(q / BM) * tk + k / BN];
          if (c == 2) continue;
          bool vis = true;
          if (grouped) vis = gid[(size_t)b * Ne + q] == gid[(size_t)b * Ne + k];
          if (V::kHasMask) vis = vis && V::template mask<int, bool>(cq, coords_of(d_perm ? perm[(size_t)b * Ne + k] : k, hs.h), hs.h);
          if (c == 0 && vis) ++cpu_bad[0];
          if (c == 1 && !vis) ++cpu_bad[1];
        }
      }
    }
  }
  const double pairs = (double)B * tq * tk;
  printf("  tile pairs: full %.1f%%, partial %.1f%%, empty %.1f%%; visible elements %.2f%% of Ne^2\n", 100.0 * st.full / pairs,
         100.0 * st.partial / pairs, 100.0 * st.empty / pairs, 100.0 * (double)vis_total / ((double)B * Ne * Ne));
  printf("  soundness (GPU brute force): visible in empty %llu, hidden in full %llu", tot_bad[0], tot_bad[1]);
  if (cpu_brute) printf("; CPU brute force: %llu, %llu", cpu_bad[0], cpu_bad[1]);
  printf("\n");
  EXPECT(tot_bad[0] == 0 && tot_bad[1] == 0, "map %s: UNSOUND (%llu visible elements in empty tiles, %llu hidden in full)", name,
         tot_bad[0], tot_bad[1]);
  EXPECT(cpu_bad[0] == 0 && cpu_bad[1] == 0, "map %s: UNSOUND on the CPU check", name);
  EXPECT(st.full + st.partial > 0, "map %s: nothing visible", name);
}

// ---- timing -----------------------------------------------------------------------------------------------------------
static float median(std::vector<float> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.f : v[v.size() / 2];
}

struct TimingRow {
  int N, M, cfg, grid;
  float router, router_alt, sort, map, stream_total, graph, graph_pdl, summ, map_gen, floor_us, no_memset;
  float variants[kRouterConfigs][2];
};

// The routed (MoGA) branch's preparation: zero the histogram, router (+ fused histogram), scatter (offsets
// fused), direct grouped block map. Summaries and the generic map are timed on the side (a branch with a
// mask needs them; a mask-free grouped branch does not).
static TimingRow time_pipeline(int N, int M, int d, std::mt19937_64& rng) {
  const int B = 1, BM = 128, BN = 64, reps = 30, warm = 3;
  TimingRow row{};
  row.N = N;
  row.M = M;
  DBuf<unsigned short> x[2];
  unsigned long long seeds[2];
  for (int i = 0; i < 2; ++i) {
    x[i].alloc((size_t)B * N * d);
    seeds[i] = rng();
    fill_x_kernel<<<2048, 256>>>(x[i].p, B, N, d, d, seeds[i]);
    CKL();
  }
  std::vector<unsigned short> wb((size_t)d * M);
  std::vector<float> w((size_t)d * M);
  std::uniform_real_distribution<float> U(-1.f, 1.f);
  const float a = 2.5f / std::sqrt((float)d);
  for (size_t i = 0; i < wb.size(); ++i) {
    wb[i] = f2bf(U(rng) * a);
    w[i] = bf2f(wb[i]);
  }
  DBuf<unsigned short> dw;
  dw.up(wb);
  const int d_pad = round_up(d, 128), NT = (M + 7) / 8;
  DBuf<unsigned short> wp((size_t)NT * 8 * d_pad);
  CK(launch_router_pack_weight(dw.p, M, 1, d, M, wp.p));
  DBuf<int> gtok((size_t)B * N);
  DBuf<float> ptok((size_t)B * N);
  SortOut so;
  run_sort_gpu(so, B, N, 1, M, gtok.p, ptok.p, true, 0, false, false);  // allocates (inputs not ready: discarded)
  CK(cudaDeviceSynchronize());
  int chunk, nblk, ldh;
  sort_plan(N, M, &chunk, &nblk, &ldh);
  RouterParams rp{};
  rp.x_sb = (long long)N * d;
  rp.x_sn = d;
  rp.w_packed = wp.p;
  rp.B = B;
  rp.N = N;
  rp.d = d;
  rp.d_pad = d_pad;
  rp.M = M;
  rp.topk = 1;
  router_choose_chunks(NT, d_pad, &rp.kc, &rp.kst);
  rp.gid = gtok.p;
  rp.prob = ptok.p;
  rp.logits = nullptr;
  rp.hist = so.scratch.p;
  rp.hist_chunk = chunk;
  rp.hist_ld = ldh;
  const int tq = (N + BM - 1) / BM, tk = (N + BN - 1) / BN;
  DBuf<TileSummary> qs((size_t)B * tq), ks((size_t)B * tk);
  DBuf<int> fc((size_t)B * tq), fi((size_t)B * tq * tk), pc((size_t)B * tq), pi((size_t)B * tq * tk);
  HostShape hs;
  hs.seq(N);
  cudaStream_t st;
  CK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
  cudaEvent_t ev[5];
  for (auto& e : ev) CK(cudaEventCreate(&e));
  auto elapsed_us = [&](int i, int j) {
    float ms;
    CK(cudaEventElapsedTime(&ms, ev[i], ev[j]));
    return ms * 1000.f;
  };

  // router alone, every configuration and grid mode (no histogram); keep the fastest
  rp.hist = nullptr;
  int cfg = 0, grid_mode = 0;
  float bestv = 1e30f;
  for (int c = 0; c < kRouterConfigs; ++c)
    for (int gm = 0; gm < 2; ++gm) {
      std::vector<float> ts;
      for (int r = 0; r < reps + warm; ++r) {
        rp.x = x[r & 1].p;
        CK(cudaEventRecord(ev[0], st));
        CK(launch_router(rp, c, st, false, gm));
        CK(cudaEventRecord(ev[1], st));
        CK(cudaEventSynchronize(ev[1]));
        if (r >= warm) ts.push_back(elapsed_us(0, 1));
      }
      row.variants[c][gm] = median(ts);
      if (row.variants[c][gm] < bestv) {
        bestv = row.variants[c][gm];
        cfg = c;
        grid_mode = gm;
      }
    }
  row.cfg = cfg;
  row.grid = grid_mode;
  row.router_alt = bestv;
  rp.hist = so.scratch.p;

  GroupMapParams gp{so.gid.p, so.seg.p, nullptr, B, N, M, BM, BN, tq, tk, fc.p, fi.p, pc.p, pi.p};
  auto stage_router = [&](int which, bool pdl) {
    rp.x = x[which].p;
    CK(cudaMemsetAsync(so.scratch.p, 0, so.scratch.n * sizeof(int), st));
    CK(launch_router(rp, cfg, st, false, grid_mode));
    (void)pdl;
  };
  auto stage_sort = [&](bool pdl) { run_sort_gpu(so, B, N, 1, M, gtok.p, ptok.p, true, st, pdl, /*hist_done=*/true); };
  auto stage_map = [&](bool pdl) { CK(launch_block_map_grouped(gp, st, pdl)); };

  std::vector<float> tr, ts, tm, tt;
  for (int r = 0; r < reps + warm; ++r) {
    CK(cudaEventRecord(ev[0], st));
    stage_router(r & 1, false);
    CK(cudaEventRecord(ev[1], st));
    stage_sort(false);
    CK(cudaEventRecord(ev[2], st));
    stage_map(false);
    CK(cudaEventRecord(ev[3], st));
    CK(cudaEventSynchronize(ev[3]));
    if (r < warm) continue;
    tr.push_back(elapsed_us(0, 1));
    ts.push_back(elapsed_us(1, 2));
    tm.push_back(elapsed_us(2, 3));
    tt.push_back(elapsed_us(0, 3));
  }
  row.router = median(tr);
  row.sort = median(ts);
  row.map = median(tm);
  row.stream_total = median(tt);

  // The runtime's flow (SortParams::hist_readers): no memset, the scatter clears the histogram after its
  // last block read it; router -> scatter -> map with PDL, one event pair around the three. The histogram
  // must be all zero after every call.
  {
    DBuf<int> readers(1);
    CK(cudaMemset(readers.p, 0, sizeof(int)));
    CK(cudaMemset(so.scratch.p, 0, so.scratch.n * sizeof(int)));
    std::vector<float> tn;
    int nonzero = 0;
    for (int r = 0; r < reps + warm; ++r) {
      rp.x = x[r & 1].p;
      CK(cudaEventRecord(ev[0], st));
      CK(launch_router(rp, cfg, st, true, grid_mode));
      run_sort_gpu(so, B, N, 1, M, gtok.p, ptok.p, true, st, true, /*hist_done=*/true, readers.p);
      CK(launch_block_map_grouped(gp, st, true));
      CK(cudaEventRecord(ev[1], st));
      CK(cudaEventSynchronize(ev[1]));
      if (r == warm) {
        const auto h = so.scratch.down();
        for (int v : h) nonzero += v != 0;
        nonzero += readers.down()[0] != 0;
      }
      if (r >= warm) tn.push_back(elapsed_us(0, 1));
    }
    row.no_memset = median(tn);
    EXPECT(nonzero == 0, "N=%d M=%d: the scatter left %d histogram cells (or its counter) non-zero", N, M, nonzero);
  }

  // graph replay of the whole pipeline, without and with programmatic dependent launch
  for (int pdl = 0; pdl < 2; ++pdl) {
    cudaGraphExec_t ge[2];
    for (int i = 0; i < 2; ++i) {
      cudaGraph_t g;
      CK(cudaStreamBeginCapture(st, cudaStreamCaptureModeRelaxed));
      stage_router(i, pdl);
      stage_sort(pdl);
      stage_map(pdl);
      CK(cudaStreamEndCapture(st, &g));
      CK(cudaGraphInstantiate(&ge[i], g, 0));
      CK(cudaGraphDestroy(g));
    }
    std::vector<float> tg;
    for (int r = 0; r < reps + warm; ++r) {
      CK(cudaEventRecord(ev[0], st));
      CK(cudaGraphLaunch(ge[r & 1], st));
      CK(cudaEventRecord(ev[1], st));
      CK(cudaEventSynchronize(ev[1]));
      if (r >= warm) tg.push_back(elapsed_us(0, 1));
    }
    (pdl ? row.graph_pdl : row.graph) = median(tg);
    // check the result of a replay on x[0]
    CK(cudaGraphLaunch(ge[0], st));
    CK(cudaStreamSynchronize(st));
    {
      const auto g = gtok.down();
      const auto perm = so.perm.down();
      const auto seg = so.seg.down();
      int bad = 0;
      const int check_rows = std::min(N, 1000);
      std::vector<double> ref(M), xr(d);
      for (int r = 0; r < check_rows; ++r) {
        const int rr = (int)((long long)r * 7919 % N);
        for (int k = 0; k < d; ++k) xr[k] = bf2f(host_x(rr, k, d, seeds[0]));
        for (int n = 0; n < M; ++n) {
          double s = 0;
          for (int k = 0; k < d; ++k) s += xr[k] * w[(size_t)k * M + n];
          ref[n] = s;
        }
        const int gg = g[rr];
        int best_n = 0;
        for (int n = 1; n < M; ++n)
          if (ref[n] > ref[best_n]) best_n = n;
        if (gg < 0 || gg >= M || (gg != best_n && std::fabs(ref[gg] - ref[best_n]) > 1e-3)) ++bad;
      }
      std::vector<int> idx(N);
      std::iota(idx.begin(), idx.end(), 0);
      std::stable_sort(idx.begin(), idx.end(), [&](int i, int j) { return g[i] < g[j]; });
      std::vector<int> hist(M + 1, 0);
      for (int i = 0; i < N; ++i) hist[g[i] + 1]++;
      for (int i = 0; i < M; ++i) hist[i + 1] += hist[i];
      const bool perm_ok = idx == perm, seg_ok = hist == seg;
      EXPECT(bad == 0 && perm_ok && seg_ok, "timed pipeline N=%d M=%d pdl=%d: %d wrong gids in %d sampled rows, perm %s, seg %s",
             N, M, pdl, bad, check_rows, perm_ok ? "ok" : "differs", seg_ok ? "ok" : "differs");
    }
    for (auto& e : ge) CK(cudaGraphExecDestroy(e));
  }

  // side timings: summaries (BM and BN tiles, one launch) and the generic map kernel on them
  {
    SummaryParams sp{};
    sp.perm = so.perm.p;
    sp.gid = so.gid.p;
    sp.shape = hs.d;
    sp.B = B;
    sp.Ne = N;
    sp.tile_q = BM;
    sp.tile_kv = BN;
    sp.tq = tq;
    sp.tk = tk;
    sp.q_out = qs.p;
    sp.kv_out = ks.p;
    BlockMapParams mp{};
    mp.qsum = qs.p;
    mp.kvsum = ks.p;
    mp.B = B;
    mp.tq = tq;
    mp.tk = tk;
    mp.grouped = 1;
    mp.seg_offsets = so.seg.p;
    mp.G = M;
    mp.tile_kv = BN;
    mp.shape = hs.d;
    mp.full_cnt = fc.p;
    mp.full_idx = fi.p;
    mp.part_cnt = pc.p;
    mp.part_idx = pi.p;
    std::vector<float> t1, t2;
    for (int r = 0; r < reps + warm; ++r) {
      CK(cudaEventRecord(ev[0], st));
      CK(launch_tile_summaries(sp, st));
      CK(cudaEventRecord(ev[1], st));
      CK(launch_block_map<VNoMask>(mp, st));
      CK(cudaEventRecord(ev[2], st));
      CK(cudaEventSynchronize(ev[2]));
      if (r < warm) continue;
      t1.push_back(elapsed_us(0, 1));
      t2.push_back(elapsed_us(1, 2));
    }
    row.summ = median(t1);
    row.map_gen = median(t2);
  }
  row.floor_us = (float)((double)B * N * d * 2 / 3.0e12 * 1e6);
  for (auto& e : ev) CK(cudaEventDestroy(e));
  CK(cudaStreamDestroy(st));
  return row;
}

// Read-bandwidth probe: every thread streams 16-byte loads, fully coalesced, grid-stride.
__global__ void read_probe_kernel(const uint4* __restrict__ x, long long n16, unsigned* out) {
  unsigned acc = 0;
  const long long stride = (long long)gridDim.x * blockDim.x;
  long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  for (; i + 3 * stride < n16; i += 4 * stride) {
    uint4 v[4];
#pragma unroll
    for (int u = 0; u < 4; ++u) v[u] = __ldcs(x + i + u * stride);
#pragma unroll
    for (int u = 0; u < 4; ++u) acc ^= v[u].x ^ v[u].y ^ v[u].z ^ v[u].w;
  }
  for (; i < n16; i += stride) {
    const uint4 v = __ldcs(x + i);
    acc ^= v.x ^ v.y ^ v.z ^ v.w;
  }
  if (acc == 0x12345678u) out[0] = acc;
}

int main(int argc, char** argv) {
  const unsigned long long seed =
      argc > 1 ? std::strtoull(argv[1], nullptr, 0)
               : (unsigned long long)std::chrono::high_resolution_clock::now().time_since_epoch().count();
  printf("prep_bench seed %llu\n", seed);
  std::mt19937_64 rng(seed);
  cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, 0));
  printf("device %s, %d SMs, L2 %d MB, smem/block opt-in %zu KB\n", prop.name, prop.multiProcessorCount, prop.l2CacheSize >> 20,
         prop.sharedMemPerBlockOptin >> 10);

  // ---------------- router (+ the fused histogram -> scatter path) ----------------
  RouterOut r1, r3, rt;
  test_router("top1 M=5 B=2 odd N", 2, 1000, 1536, 5, 1, 24, -1, false, rng, &r1, false, true);
  test_router("top1 M=64 d=5120 chunked", 1, 4097, 5120, 64, 1, 0, 0, true, rng, nullptr, false, true);
  test_router("top1 M=64 d=5120 chunked cfg1 grid1", 1, 2100, 5120, 64, 1, 0, 1, true, rng, nullptr, false, false, 1);
  test_router("top1 M=64 resident", 2, 3000, 1536, 64, 1, 8, -1, false, rng, nullptr, false, true);
  test_router("top1 M=256 wide (chunked W), odd N", 2, 2999, 1536, 256, 1, 8, -1, false, rng, nullptr, false, true);
  test_router("top1 M=256 small N (router_grid: small blocks)", 1, 1001, 256, 256, 1, 0, -1, false, rng, nullptr, false, true);
  test_router("top1 M=64 resident cfg1 grid1", 2, 3000, 1536, 64, 1, 8, 1, false, rng, nullptr, false, true, 1);
  test_router("top4 M=16 d=200", 1, 777, 200, 16, 4, 8, -1, false, rng, &r3, false, true);
  test_router("top4 M=16 d=200 cfg0", 1, 777, 200, 16, 4, 8, 0, false, rng, nullptr, false, true);
  test_router("top8 M=64", 2, 1500, 1536, 64, 8, 0, -1, false, rng, nullptr, false, true);
  test_router("top2 M=20 grid1", 1, 3001, 1536, 20, 2, 64, -1, true, rng, nullptr, false, false, 1);
  test_router("top1 M=4 d=5120", 1, 2500, 5120, 4, 1, 0, -1, false, rng, nullptr);
  test_router("top1 M=16 d=320", 1, 1900, 320, 16, 1, 0, -1, false, rng, nullptr, false, true);
  test_router("ties M=8", 1, 4000, 256, 8, 1, 0, -1, false, rng, &rt, true);
  test_router("ties M=8 cfg0", 1, 4000, 256, 8, 1, 0, 0, false, rng, nullptr, true);

  // ---------------- sort ----------------
  SortOut s1, s3, s_skew, s_big;
  {
    const auto g = r1.gid.down();
    const auto p = r1.prob.down();
    test_sort("router top1 B=2 G=5", 2, 1000, 1, 5, g, &p, s1);
  }
  {
    const auto g = r3.gid.down();
    const auto p = r3.prob.down();
    test_sort("router top4 G=16", 1, 777 * 4, 4, 16, g, &p, s3);
  }
  {
    const int Ne = 5003, G = 7;
    std::vector<int> keys(Ne);
    std::uniform_int_distribution<int> Ug(0, 99);
    for (auto& k : keys) {
      const int u = Ug(rng);
      k = u < 60 ? 0 : (u < 70 ? 1 : (u < 80 ? 2 : (u < 90 ? 4 : 5)));  // 3 empty
    }
    keys[std::uniform_int_distribution<int>(0, Ne - 1)(rng)] = 6;        // one entry in group 6
    std::vector<float> pr(Ne);
    for (auto& v : pr) v = std::uniform_real_distribution<float>(0.f, 1.f)(rng);
    test_sort("skewed, empty and single groups", 1, Ne, 1, G, keys, &pr, s_skew);
  }
  {
    const int Ne = 75600, G = 4096, B = 2;
    std::vector<int> keys((size_t)B * Ne);
    std::uniform_int_distribution<int> Ug(0, G - 1);
    for (auto& k : keys) k = Ug(rng) % (G - 100);  // the top 100 groups empty
    test_sort("G=4096 N=75600 B=2 (several rounds per block, bitonic order)", B, Ne, 1, G, keys, nullptr, s_big);
  }
  {
    const int Ne = 40000, G = 700;
    std::vector<int> keys(Ne);
    std::uniform_int_distribution<int> Ug(0, G - 1);
    for (auto& k : keys) k = Ug(rng);
    SortOut s;
    test_sort("G=700 (bitonic order, one round)", 1, Ne, 1, G, keys, nullptr, s);
  }
  {
    SortOut s;
    std::vector<int> keys(1000, 0);
    test_sort("G=1", 1, 1000, 1, 1, keys, nullptr, s);
    std::vector<int> k1(1, 2);
    SortOut s2;
    test_sort("Ne=1 G=3", 1, 1, 1, 3, k1, nullptr, s2);
  }

  // ---------------- summaries + block maps ----------------
  {
    HostShape seq1000;
    seq1000.seq(1000);
    test_map<VNoMask>("MoGA routed top1 (grouped)", 2, 1000, seq1000, s1.perm.p, s1.gid.p, 1, 64, 32, true, s1.seg.p, 5);
    test_map<VNoMask>("MoGA routed top1 (grouped), BM=BN=16", 2, 1000, seq1000, s1.perm.p, s1.gid.p, 1, 16, 16, true, s1.seg.p, 5);
    test_map<VCausal>("causal, identity order", 1, 1000, seq1000, nullptr, nullptr, 0, 64, 32, true);
    test_map<VCausal>("causal + routed grouping", 2, 1000, seq1000, s1.perm.p, s1.gid.p, 1, 64, 64, true, s1.seg.p, 5);
    HostShape seq777;
    seq777.seq(777);
    test_map<VNoMask>("MoGA routed top4 (grouped)", 1, 777 * 4, seq777, s3.perm.p, s3.gid.p, 1, 128, 64, true, s3.seg.p, 16);
    HostShape seq5003;
    seq5003.seq(5003);
    test_map<VNoMask>("skewed groups (empty, single)", 1, 5003, seq5003, s_skew.perm.p, s_skew.gid.p, 1, 64, 64, true, s_skew.seg.p, 7);
  }
  {
    HostShape vid;
    vid.video(21, 30, 52, {0, 8, 15});
    const int N = vid.h.N;
    test_map<VStga>("STGA, identity order (F=21 H=30 W=52, shots 0/8/15)", 1, N, vid, nullptr, nullptr, 0, 128, 64, false);
    // STGA in the order of its computed key
    DBuf<int> keys(N);
    KeyParams kp{vid.d, 1, N, keys.p};
    CK(launch_compute_keys<VStga>(kp));
    std::vector<int> hk(N);
    compute_keys_host<VStga>(vid.h, N, hk.data());
    EXPECT(keys.down() == hk, "compute_keys<VStga> differs from the host");
    SortOut so;
    test_sort("STGA computed key G=96", 1, N, 1, 96, hk, nullptr, so);
    test_map<VStga>("STGA, key order", 1, N, vid, so.perm.p, so.gid.p, 0, 128, 128, false);
    // frame-local computed key as a grouping
    KeyParams fk{vid.d, 1, N, keys.p};
    CK(launch_compute_keys<VFrame>(fk));
    compute_keys_host<VFrame>(vid.h, N, hk.data());
    EXPECT(keys.down() == hk, "compute_keys<VFrame> differs from the host");
    SortOut sf;
    test_sort("frame key G=21", 1, N, 1, 21, hk, nullptr, sf);
    test_map<VFrame>("frame-local (computed key, grouped)", 1, N, vid, sf.perm.p, sf.gid.p, 1, 128, 64, false, sf.seg.p, 21);
  }
  printf("correctness: %d checks, %d failed\n", g_checks, g_fail);
  if (argc > 2 && std::string(argv[2]) == "quick") return g_fail ? 1 : 0;

  // ---------------- timing ----------------
  {
    const size_t bytes = 1ull << 30;
    DBuf<char> a(bytes), b(bytes);
    CK(cudaMemset(a.p, 1, bytes));
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    std::vector<float> ts;
    for (int r = 0; r < 8; ++r) {
      CK(cudaEventRecord(e0));
      CK(cudaMemcpyAsync(b.p, a.p, bytes, cudaMemcpyDeviceToDevice));
      CK(cudaEventRecord(e1));
      CK(cudaEventSynchronize(e1));
      float ms;
      CK(cudaEventElapsedTime(&ms, e0, e1));
      if (r) ts.push_back(ms);
    }
    printf("device-to-device copy: %.2f TB/s (read + write)\n", (float)(2.0 * bytes / (median(ts) * 1e-3) / 1e12));
    DBuf<unsigned> o(1);
    for (int blocks_per_sm : {4, 8, 16}) {
      std::vector<float> tr;
      for (int r = 0; r < 10; ++r) {
        CK(cudaEventRecord(e0));
        read_probe_kernel<<<prop.multiProcessorCount * blocks_per_sm, 256>>>(reinterpret_cast<const uint4*>(a.p), bytes / 16, o.p);
        CK(cudaEventRecord(e1));
        CK(cudaEventSynchronize(e1));
        float ms;
        CK(cudaEventElapsedTime(&ms, e0, e1));
        if (r) tr.push_back(ms);
      }
      printf("read probe (%d x 256 threads per SM, 1 GiB): %.2f TB/s\n", blocks_per_sm,
             (float)(bytes / (median(tr) * 1e-3) / 1e12));
    }
  }
  std::vector<TimingRow> rows;
  // the shapes of docs/performance.md "Routed prep" (issue #12: M up to 256; 4,096 tokens)
  for (const auto& [N, M] : std::vector<std::pair<int, int>>{{32760, 16}, {32760, 64}, {32760, 256}, {4096, 64}, {4096, 256}})
    rows.push_back(time_pipeline(N, M, 1536, rng));
  printf("\nrouter alone (us), configurations x grid mode (p = persistent, w = one tile per warp):\n");
  printf("%6s %3s", "N", "M");
  for (int c = 0; c < kRouterConfigs; ++c) printf("   c%d/p   c%d/w", c, c);
  printf("\n");
  for (const auto& r : rows) {
    printf("%6d %3d", r.N, r.M);
    for (int c = 0; c < kRouterConfigs; ++c) printf(" %7.1f %7.1f", r.variants[c][0], r.variants[c][1]);
    printf("\n");
  }
  printf("\nMoGA routed prep (memset + router with fused histogram + scatter + grouped map), B=1, d=1536, top-1,\n"
         "BM=128 BN=64, median of 30, us. floor = bytes(x) / 3.0 TB/s. router: with memset + fused histogram;\n"
         "(alone) = the same configuration without them. stream: memset + router + scatter + map with an event\n"
         "between each; no-mset: the runtime's flow (no memset, the scatter clears the histogram, PDL), one pair.\n"
         "summ / map-gen: tile summaries and the generic block-map kernel (needed only by branches with a mask).\n");
  printf("%6s %3s %4s %7s %7s %6s %6s %8s %8s %8s %8s %6s %6s %6s %7s %7s\n", "N", "M", "cfg", "router", "(alone)", "sort",
         "map", "stream", "no-mset", "graph", "g+pdl", "summ", "mapgen", "floor", "alone/fl", "best/fl");
  for (const auto& r : rows) {
    const float best = std::min(r.graph, r.graph_pdl);
    printf("%6d %3d %2d/%c %7.1f %7.1f %6.1f %6.1f %8.1f %8.1f %8.1f %8.1f %6.1f %6.1f %6.1f %7.2f %7.2f\n", r.N, r.M,
           r.cfg, r.grid ? 'w' : 'p', r.router, r.router_alt, r.sort, r.map, r.stream_total, r.no_memset, r.graph,
           r.graph_pdl, r.summ, r.map_gen, r.floor_us, r.router_alt / r.floor_us, best / r.floor_us);
  }
  printf("%s: %d checks, %d failed (seed %llu)\n", g_fail ? "FAILED" : "PASSED", g_checks, g_fail, seed);
  return g_fail ? 1 : 0;
}
