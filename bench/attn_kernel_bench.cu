// Standalone harness for kernels_src/cuda/attention_fwd.cuh: correctness against an fp64 CPU reference
// and timing on the GPU. Build (from the repo root):
//   nvcc -std=c++17 -O3 -arch=sm_90 -lineinfo -Xptxas -v -o build-kern/attn_kernel_bench bench/attn_kernel_bench.cu
// Build for sm_90a (attention_fwd_wg uses wgmma):  nvcc -std=c++17 -O3 -gencode arch=compute_90a,code=sm_90a ...
// Run: build-kern/attn_kernel_bench [--seed S] [--no-bench] [--no-check] [--no-v7-check] [--no-pp-check]
//      [--no-wg-check] [--pp-bench]
// Exit code: 0 all checks passed, 1 a correctness failure, 2 a CUDA error.
//
// NVRTC check (no GPU needed): nvcc -std=c++17 -DMOGA_NVRTC_CHECK -o build-kern/attn_nvrtc_check
//   bench/attn_kernel_bench.cu -lnvrtc ; build-kern/attn_nvrtc_check kernels_src/cuda
//
// Correctness: relative L2 error ||out - ref|| / ||ref|| over the checked rows must be <= 1e-2 (bf16
// operands, bf16 P and a bf16 output); a reference of norm 0 (no visible key anywhere) needs an exact 0.
// The output is poisoned with 0xFFFF (a bf16 NaN) before each run and every element must be written.

#ifdef MOGA_NVRTC_CHECK
#include <nvrtc.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

static std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "kernels_src/cuda";
  const char* src = R"(
#include "attention_fwd.cuh"
#include "attention_fwd_pp.cuh"
#include "attention_fwd_wg.cuh"
struct VCausalBias {
  static constexpr bool kHasMask = true, kHasBias = true, kHasSoftcap = true;
  static constexpr float kSoftcap = 30.f;
  template <class T, class B>
  __host__ __device__ static B mask(const moga::Coords<T>& q, const moga::Coords<T>& kv, const moga::MaskShape&) {
    return q.pos >= kv.pos;
  }
  __device__ static float bias(const moga::Coords<int>& q, const moga::Coords<int>& kv, int head, const moga::MaskShape&) {
    return -0.01f * (q.pos - kv.pos) * (head + 1);
  }
};
struct VDense {
  static constexpr bool kHasMask = false, kHasBias = false, kHasSoftcap = false;
  static constexpr float kSoftcap = 0.f;
  template <class T, class B>
  __host__ __device__ static B mask(const moga::Coords<T>&, const moga::Coords<T>&, const moga::MaskShape&) { return B(true); }
  __device__ static float bias(const moga::Coords<int>&, const moga::Coords<int>&, int, const moga::MaskShape&) { return 0.f; }
};
template __global__ void moga::attention_fwd<VCausalBias, 128, 128, 128, 8, 2>(moga::AttnParams);
template __global__ void moga::attention_fwd<VDense, 128, 128, 128, 8, 2>(moga::AttnParams);
template __global__ void moga::attention_fwd<VDense, 128, 192, 64, 12, 3>(moga::AttnParams);
template __global__ void moga::attention_fwd<VDense, 64, 128, 64, 4, 2>(moga::AttnParams);
template __global__ void moga::attention_fwd_pp<VCausalBias, 128, 128, 128, 8, 3>(moga::AttnParams);
template __global__ void moga::attention_fwd_pp<VDense, 128, 128, 128, 8, 3>(moga::AttnParams);
template __global__ void moga::attention_fwd_pp<VDense, 64, 256, 64, 8, 3>(moga::AttnParams);
template __global__ void moga::attention_fwd_wg<VCausalBias, 128, 128, 128, 8, 2>(moga::AttnParams);
template __global__ void moga::attention_fwd_wg<VDense, 128, 128, 128, 8, 2>(moga::AttnParams);
template __global__ void moga::attention_fwd_wg<VDense, 64, 128, 128, 8, 2>(moga::AttnParams);
)";
  const char* names[] = {"attention_fwd.cuh", "params.cuh", "coords.cuh", "interval.cuh", "mma_sm80.cuh",
                         "attention_fwd_pp.cuh", "attention_fwd_wg.cuh"};
  std::vector<std::string> bodies;
  for (const char* n : names) bodies.push_back(slurp(dir + "/" + n));
  std::vector<const char*> hdr;
  for (auto& b : bodies) hdr.push_back(b.c_str());
  int bad = 0;
  for (const char* arch : {"--gpu-architecture=sm_90", "--gpu-architecture=sm_90a"}) {  // wg: sm_90a only
    nvrtcProgram prog;
    nvrtcCreateProgram(&prog, src, "nvrtc_check.cu", 7, hdr.data(), names);
    const char* opts[] = {arch, "-std=c++17", "--ptxas-options=-v"};
    const nvrtcResult r = nvrtcCompileProgram(prog, 3, opts);
    size_t n = 0;
    nvrtcGetProgramLogSize(prog, &n);
    std::string log(n, '\0');
    nvrtcGetProgramLog(prog, log.data());
    std::printf("%s\nNVRTC (%s): %s\n", log.c_str(), arch, nvrtcGetErrorString(r));
    nvrtcDestroyProgram(&prog);
    bad += r != NVRTC_SUCCESS;
  }
  return bad ? 1 : 0;
}

#else  // ------------------------------------------------------------------------------------------------

#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../kernels_src/cuda/attention_fwd.cuh"
#include "../kernels_src/cuda/attention_fwd_pp.cuh"
#include "../kernels_src/cuda/attention_fwd_wg.cuh"

using moga::AttnParams;
using moga::Coords;
using moga::Ivl;
using moga::MaskShape;
using moga::Tri;

#define CK(x)                                                                                  \
  do {                                                                                         \
    cudaError_t e_ = (x);                                                                      \
    if (e_ != cudaSuccess) {                                                                   \
      std::fprintf(stderr, "CUDA error %s at %s:%d: %s\n", cudaGetErrorString(e_), __FILE__,  \
                   __LINE__, #x);                                                              \
      std::exit(2);                                                                            \
    }                                                                                          \
  } while (0)

// ---- bf16 on the host --------------------------------------------------------------------------------
static uint16_t f2bf(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fc0;
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}
static float bf2f(uint16_t h) {
  const uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// ---- hand-written variants ----------------------------------------------------------------------------
struct VDense {
  static constexpr bool kHasMask = false, kHasBias = false, kHasSoftcap = false;
  static constexpr float kSoftcap = 0.f;
  template <class T, class B>
  __host__ __device__ static B mask(const Coords<T>&, const Coords<T>&, const MaskShape&) { return B(true); }
  __host__ __device__ static float bias(const Coords<int>&, const Coords<int>&, int, const MaskShape&) { return 0.f; }
};
struct VCausal {
  static constexpr bool kHasMask = true, kHasBias = false, kHasSoftcap = false;
  static constexpr float kSoftcap = 0.f;
  template <class T, class B>
  __host__ __device__ static B mask(const Coords<T>& q, const Coords<T>& kv, const MaskShape&) { return q.pos >= kv.pos; }
  __host__ __device__ static float bias(const Coords<int>&, const Coords<int>&, int, const MaskShape&) { return 0.f; }
};
struct VNone {  // mask false everywhere: every row sees no key
  static constexpr bool kHasMask = true, kHasBias = false, kHasSoftcap = false;
  static constexpr float kSoftcap = 0.f;
  template <class T, class B>
  __host__ __device__ static B mask(const Coords<T>&, const Coords<T>&, const MaskShape&) { return B(false); }
  __host__ __device__ static float bias(const Coords<int>&, const Coords<int>&, int, const MaskShape&) { return 0.f; }
};
struct VWinBiasCap {  // sliding window |dq| <= 300, softcap 1.5, ALiBi-like bias per head
  static constexpr bool kHasMask = true, kHasBias = true, kHasSoftcap = true;
  static constexpr float kSoftcap = 1.5f;
  template <class T, class B>
  __host__ __device__ static B mask(const Coords<T>& q, const Coords<T>& kv, const MaskShape&) {
    return moga::iabs(q.pos - kv.pos) <= T(300);
  }
  __host__ __device__ static float bias(const Coords<int>& q, const Coords<int>& kv, int head, const MaskShape&) {
    return -0.004f * (float)moga::iabs(q.pos - kv.pos) * (float)(head + 1);
  }
};

// ---- host block map from the interval classification --------------------------------------------------
struct HostMap {
  int Tq = 0, Tk = 0;
  std::vector<int> full_cnt, full_idx, part_cnt, part_idx;
  long long n_full = 0, n_part = 0;
};
struct TileSum {
  Coords<Ivl> c;
  Ivl g;
  bool any = false;
};
static void widen(Ivl& a, int v, bool first) {
  if (first) a = Ivl(v, v);
  else { a.lo = std::min(a.lo, v); a.hi = std::max(a.hi, v); }
}
static std::vector<TileSum> summarize(int B, int N, int T, const std::vector<int>& perm,
                                      const std::vector<int>& gid, const MaskShape& sh) {
  const int nt = (N + T - 1) / T;
  std::vector<TileSum> out((size_t)B * nt);
  for (int b = 0; b < B; ++b)
    for (int s = 0; s < N; ++s) {
      TileSum& ts = out[(size_t)b * nt + s / T];
      const int t = perm.empty() ? s : perm[(size_t)b * N + s];
      const Coords<int> c = moga::coords_of(t, sh);
      const bool f = !ts.any;
      widen(ts.c.pos, c.pos, f); widen(ts.c.frame, c.frame, f); widen(ts.c.row, c.row, f);
      widen(ts.c.col, c.col, f); widen(ts.c.shot, c.shot, f); widen(ts.c.shot_start, c.shot_start, f);
      widen(ts.c.shot_end, c.shot_end, f);
      widen(ts.g, gid.empty() ? 0 : gid[(size_t)b * N + s], f);
      ts.any = true;
    }
  return out;
}
// force_partial: every tile pair becomes partial (exercises the per-element path everywhere).
template <class V>
static HostMap build_map(int B, int N, int BM, int BN, const std::vector<int>& perm, const std::vector<int>& gid,
                         const MaskShape& sh, bool force_partial) {
  HostMap m;
  m.Tq = (N + BM - 1) / BM;
  m.Tk = (N + BN - 1) / BN;
  const auto qs = summarize(B, N, BM, perm, gid, sh), ks = summarize(B, N, BN, perm, gid, sh);
  m.full_cnt.assign((size_t)B * m.Tq, 0);
  m.part_cnt.assign((size_t)B * m.Tq, 0);
  m.full_idx.assign((size_t)B * m.Tq * m.Tk, 0);
  m.part_idx.assign((size_t)B * m.Tq * m.Tk, 0);
  for (int b = 0; b < B; ++b)
    for (int i = 0; i < m.Tq; ++i)
      for (int j = 0; j < m.Tk; ++j) {
        const TileSum& a = qs[(size_t)b * m.Tq + i];
        const TileSum& c = ks[(size_t)b * m.Tk + j];
        Tri t = V::kHasMask ? V::template mask<Ivl, Tri>(a.c, c.c, sh) : Tri(true);
        if (!gid.empty()) t = moga::land(t, a.g == c.g);
        const size_t bi = (size_t)b * m.Tq + i;
        if (force_partial) {
          m.part_idx[bi * m.Tk + m.part_cnt[bi]++] = j;
          ++m.n_part;
        } else if (t.is_true()) {
          m.full_idx[bi * m.Tk + m.full_cnt[bi]++] = j;
          ++m.n_full;
        } else if (!t.is_false()) {
          m.part_idx[bi * m.Tk + m.part_cnt[bi]++] = j;
          ++m.n_part;
        }
      }
  return m;
}

// Fast fill with uniform values of unit variance (U(-sqrt 3, sqrt 3)) rounded to bf16; splitmix64 streams.
static void fill_random(std::vector<uint16_t>& v, uint64_t seed) {
  const size_t n = v.size();
  const unsigned nth = std::max(1u, std::min(32u, std::thread::hardware_concurrency()));
  std::vector<std::thread> th;
  for (unsigned t = 0; t < nth; ++t)
    th.emplace_back([&, t] {
      uint64_t x = seed + 0x9E3779B97F4A7C15ull * (t + 1);
      const size_t r0 = n * t / nth, r1 = n * (t + 1) / nth;
      for (size_t i = r0; i < r1; ++i) {
        uint64_t z = (x += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        const float u = (float)(z >> 40) * (1.0f / 16777216.0f);  // [0, 1)
        v[i] = f2bf((2.f * u - 1.f) * 1.7320508f);
      }
    });
  for (auto& t : th) t.join();
}

// Soundness of a classified map against the element mask (O(N^2): small N only): a full tile pair must be
// visible everywhere, an absent one nowhere. Returns the number of violating tile pairs.
template <class V>
static long long verify_map(int B, int N, int BM, int BN, const std::vector<int>& perm, const std::vector<int>& gid,
                            const MaskShape& sh, const HostMap& m) {
  long long bad = 0;
  for (int b = 0; b < B; ++b)
    for (int i = 0; i < m.Tq; ++i) {
      const size_t bi = (size_t)b * m.Tq + i;
      std::vector<int> kind(m.Tk, 0);  // 0 absent, 1 full, 2 partial
      for (int x = 0; x < m.full_cnt[bi]; ++x) kind[m.full_idx[bi * m.Tk + x]] = 1;
      for (int x = 0; x < m.part_cnt[bi]; ++x) kind[m.part_idx[bi * m.Tk + x]] = 2;
      for (int j = 0; j < m.Tk; ++j) {
        if (kind[j] == 2) continue;
        bool viol = false;
        for (int s = i * BM; s < std::min(N, i * BM + BM) && !viol; ++s)
          for (int u = j * BN; u < std::min(N, j * BN + BN) && !viol; ++u) {
            const int qt = perm.empty() ? s : perm[(size_t)b * N + s];
            const int kt = perm.empty() ? u : perm[(size_t)b * N + u];
            bool vis = gid.empty() || gid[(size_t)b * N + s] == gid[(size_t)b * N + u];
            if (vis && V::kHasMask)
              vis = V::template mask<int, bool>(moga::coords_of(qt, sh), moga::coords_of(kt, sh), sh);
            viol = (kind[j] == 1) != vis;
          }
        bad += viol;
      }
    }
  return bad;
}

// ---- problem instance ------------------------------------------------------------------------------------
struct Problem {
  int B, N, H, D;
  bool packed;                    // q, k, v interleaved in one [B][N][3][H][D] buffer (strided views)
  std::vector<uint16_t> qkv_h;    // host copy of the inputs (bf16 bits)
  long long sb, sn, sh;           // strides of q/k/v (elements)
  long long off_q, off_k, off_v;  // offsets into qkv_h
  std::vector<int> perm, gid;     // empty: identity / ungrouped
  std::vector<float> gate;        // empty: none
  float weight = 1.f;
  bool accumulate = false;
  std::vector<uint16_t> old_out;  // accumulate: the output before the call
  float scale;
  MaskShape shape;
  // device
  uint16_t* d_qkv = nullptr;
  uint16_t* d_out = nullptr;
  int *d_perm = nullptr, *d_gid = nullptr;
  float* d_gate = nullptr;
  std::vector<int*> map_bufs;
  float q(int b, int t, int h, int d) const { return bf2f(qkv_h[off_q + b * sb + t * sn + h * sh + d]); }
  float k(int b, int t, int h, int d) const { return bf2f(qkv_h[off_k + b * sb + t * sn + h * sh + d]); }
  float v(int b, int t, int h, int d) const { return bf2f(qkv_h[off_v + b * sb + t * sn + h * sh + d]); }
  size_t out_elems() const { return (size_t)B * N * H * D; }
  void free_dev() {
    cudaFree(d_qkv); cudaFree(d_out); cudaFree(d_perm); cudaFree(d_gid); cudaFree(d_gate);
    for (int* p : map_bufs) cudaFree(p);
    map_bufs.clear();
    d_qkv = d_out = nullptr; d_perm = d_gid = nullptr; d_gate = nullptr;
  }
};

struct Opts {
  int B = 1, N = 1000, H = 2, D = 128;
  bool packed = false;
  int groups = 0;           // > 0: random groups (gid) and a permutation sorting tokens by group
  bool balanced = false;    // groups of equal size (± 1)
  bool shuffle = false;     // random permutation without groups
  bool gate = false, accumulate = false;
  float weight = 1.f;
};

static Problem make_problem(const Opts& o, std::mt19937_64& rng) {
  Problem p;
  p.B = o.B; p.N = o.N; p.H = o.H; p.D = o.D; p.packed = o.packed;
  const size_t per = (size_t)o.B * o.N * o.H * o.D;
  p.qkv_h.resize(3 * per);
  fill_random(p.qkv_h, rng());
  if (o.packed) {  // [B][N][3][H][D]
    p.sb = (long long)o.N * 3 * o.H * o.D; p.sn = 3LL * o.H * o.D; p.sh = o.D;
    p.off_q = 0; p.off_k = (long long)o.H * o.D; p.off_v = 2LL * o.H * o.D;
  } else {         // three [B][N][H][D] tensors back to back
    p.sb = (long long)o.N * o.H * o.D; p.sn = (long long)o.H * o.D; p.sh = o.D;
    p.off_q = 0; p.off_k = per; p.off_v = 2 * per;
  }
  if (o.groups > 0 || o.shuffle) {
    p.perm.resize((size_t)o.B * o.N);
    if (o.groups > 0) p.gid.resize((size_t)o.B * o.N);
    for (int b = 0; b < o.B; ++b) {
      std::vector<int> tok(o.N), grp(o.N);
      std::iota(tok.begin(), tok.end(), 0);
      std::shuffle(tok.begin(), tok.end(), rng);
      if (o.groups > 0) {
        if (o.balanced) {
          for (int t = 0; t < o.N; ++t) grp[t] = (int)((long long)t * o.groups / o.N);
          std::shuffle(grp.begin(), grp.end(), rng);
        } else {
          std::uniform_int_distribution<int> gd(0, o.groups - 1);
          for (auto& g : grp) g = gd(rng);
        }
        std::stable_sort(tok.begin(), tok.end(), [&](int a, int c) { return grp[a] < grp[c]; });
      }
      for (int s = 0; s < o.N; ++s) {
        p.perm[(size_t)b * o.N + s] = tok[s];
        if (o.groups > 0) p.gid[(size_t)b * o.N + s] = grp[tok[s]];
      }
    }
  }
  if (o.gate) {
    std::uniform_real_distribution<float> ud(0.5f, 1.5f);
    p.gate.resize((size_t)o.B * o.N);
    for (auto& g : p.gate) g = ud(rng);
  }
  p.weight = o.weight;
  p.accumulate = o.accumulate;
  if (o.accumulate) {
    p.old_out.resize(per);
    fill_random(p.old_out, rng());
  }
  p.scale = 1.f / std::sqrt((float)o.D);
  p.shape = MaskShape{o.N, 1, 1, o.N, nullptr, nullptr};

  CK(cudaMalloc(&p.d_qkv, 3 * per * 2));
  CK(cudaMemcpy(p.d_qkv, p.qkv_h.data(), 3 * per * 2, cudaMemcpyHostToDevice));
  CK(cudaMalloc(&p.d_out, per * 2));
  if (!p.perm.empty()) {
    CK(cudaMalloc(&p.d_perm, p.perm.size() * 4));
    CK(cudaMemcpy(p.d_perm, p.perm.data(), p.perm.size() * 4, cudaMemcpyHostToDevice));
  }
  if (!p.gid.empty()) {
    CK(cudaMalloc(&p.d_gid, p.gid.size() * 4));
    CK(cudaMemcpy(p.d_gid, p.gid.data(), p.gid.size() * 4, cudaMemcpyHostToDevice));
  }
  if (!p.gate.empty()) {
    CK(cudaMalloc(&p.d_gate, p.gate.size() * 4));
    CK(cudaMemcpy(p.d_gate, p.gate.data(), p.gate.size() * 4, cudaMemcpyHostToDevice));
  }
  return p;
}

static int* upload(Problem& p, const std::vector<int>& v) {
  int* d = nullptr;
  CK(cudaMalloc(&d, std::max<size_t>(v.size(), 1) * 4));
  if (!v.empty()) CK(cudaMemcpy(d, v.data(), v.size() * 4, cudaMemcpyHostToDevice));
  p.map_bufs.push_back(d);
  return d;
}

// mode 0: dense (no map) unless the variant masks or the problem is grouped; 1: classified map;
// 2: classified map with every pair forced partial.
template <class V>
static AttnParams make_params(Problem& p, int BM, int BN, int mode, HostMap* stats) {
  AttnParams a{};
  const uint16_t* base = p.d_qkv;
  a.q = base + p.off_q; a.k = base + p.off_k; a.v = base + p.off_v; a.o = p.d_out;
  a.q_sb = a.k_sb = a.v_sb = p.sb; a.q_sn = a.k_sn = a.v_sn = p.sn; a.q_sh = a.k_sh = a.v_sh = p.sh;
  a.o_sb = (long long)p.N * p.H * p.D; a.o_sn = (long long)p.H * p.D; a.o_sh = p.D;
  a.B = p.B; a.N = p.N; a.H = p.H;
  a.scale_log2 = p.scale * 1.4426950408889634f;
  a.perm = p.d_perm; a.gid = p.d_gid;
  a.gate = p.d_gate; a.weight = p.weight; a.accumulate = p.accumulate ? 1 : 0;
  a.shape = p.shape;
  const bool need_map = mode != 0 || V::kHasMask || !p.gid.empty();
  if (need_map) {
    HostMap m = build_map<V>(p.B, p.N, BM, BN, p.perm, p.gid, p.shape, mode == 2);
    a.map.full_cnt = upload(p, m.full_cnt); a.map.full_idx = upload(p, m.full_idx);
    a.map.part_cnt = upload(p, m.part_cnt); a.map.part_idx = upload(p, m.part_idx);
    a.map.num_q_tiles = m.Tq; a.map.num_kv_tiles = m.Tk;
    if (stats) *stats = m;
  }
  return a;
}

// ---- fp64 CPU reference over selected rows (b, h, sorted position s) -------------------------------------
struct RowId { int b, h, s; };
template <class V>
static std::vector<double> reference(const Problem& p, const std::vector<RowId>& rows) {
  std::vector<double> out(rows.size() * p.D);
  auto work = [&](size_t r0, size_t r1) {
    std::vector<double> sc(p.N), qv(p.D), acc(p.D);
    for (size_t r = r0; r < r1; ++r) {
      const RowId id = rows[r];
      const int b = id.b, h = id.h, s = id.s;
      const int qt = p.perm.empty() ? s : p.perm[(size_t)b * p.N + s];
      const Coords<int> qc = moga::coords_of(qt, p.shape);
      for (int d = 0; d < p.D; ++d) qv[d] = p.q(b, qt, h, d);
      double mx = -INFINITY;
      for (int u = 0; u < p.N; ++u) {
        const int kt = p.perm.empty() ? u : p.perm[(size_t)b * p.N + u];
        bool vis = true;
        if (!p.gid.empty()) vis = p.gid[(size_t)b * p.N + s] == p.gid[(size_t)b * p.N + u];
        Coords<int> kc = moga::coords_of(kt, p.shape);
        if (vis && V::kHasMask) vis = V::template mask<int, bool>(qc, kc, p.shape);
        if (!vis) { sc[u] = -INFINITY; continue; }
        const uint16_t* kr = &p.qkv_h[p.off_k + b * p.sb + (long long)kt * p.sn + h * p.sh];
        double dot = 0;
        for (int d = 0; d < p.D; ++d) dot += qv[d] * (double)bf2f(kr[d]);
        double x = dot * (double)p.scale;
        if constexpr (V::kHasSoftcap) x = (double)V::kSoftcap * std::tanh(x / (double)V::kSoftcap);
        if constexpr (V::kHasBias) x += (double)V::bias(qc, kc, h, p.shape);
        sc[u] = x;
        mx = std::max(mx, x);
      }
      std::fill(acc.begin(), acc.end(), 0.0);
      double l = 0;
      if (mx > -INFINITY) {
        for (int u = 0; u < p.N; ++u) {
          if (sc[u] == -INFINITY) continue;
          const double e = std::exp(sc[u] - mx);
          l += e;
          const int kt = p.perm.empty() ? u : p.perm[(size_t)b * p.N + u];
          const uint16_t* vr = &p.qkv_h[p.off_v + b * p.sb + (long long)kt * p.sn + h * p.sh];
          for (int d = 0; d < p.D; ++d) acc[d] += e * (double)bf2f(vr[d]);
        }
      }
      const double g = (double)p.weight * (p.gate.empty() ? 1.0 : (double)p.gate[(size_t)b * p.N + s]);
      for (int d = 0; d < p.D; ++d) {
        double val = l > 0 ? g * acc[d] / l : 0.0;
        if (p.accumulate) val += bf2f(p.old_out[(((size_t)b * p.N + qt) * p.H + h) * p.D + d]);
        out[r * p.D + d] = val;
      }
    }
  };
  const unsigned nth = std::max(1u, std::min(64u, std::thread::hardware_concurrency()));
  std::vector<std::thread> th;
  const size_t chunk = (rows.size() + nth - 1) / nth;
  for (unsigned t = 0; t < nth; ++t) {
    const size_t r0 = t * chunk, r1 = std::min(rows.size(), r0 + chunk);
    if (r0 < r1) th.emplace_back(work, r0, r1);
  }
  for (auto& t : th) t.join();
  return out;
}

static std::vector<RowId> pick_rows(const Problem& p, int sample_per_head, std::mt19937_64& rng) {
  std::vector<RowId> rows;
  for (int b = 0; b < p.B; ++b)
    for (int h = 0; h < p.H; ++h) {
      if (sample_per_head <= 0 || sample_per_head >= p.N) {
        for (int s = 0; s < p.N; ++s) rows.push_back({b, h, s});
      } else {
        std::uniform_int_distribution<int> ud(0, p.N - 1);
        for (int i = 0; i < sample_per_head - 2; ++i) rows.push_back({b, h, ud(rng)});
        rows.push_back({b, h, 0});
        rows.push_back({b, h, p.N - 1});  // the ragged last tile
      }
    }
  return rows;
}

struct CheckResult {
  double rel = 0, max_abs = 0;
  long long unwritten = 0;
  bool ok = false;
};

static CheckResult compare(const Problem& p, const std::vector<uint16_t>& out, const std::vector<RowId>& rows,
                           const std::vector<double>& ref) {
  CheckResult c;
  for (uint16_t x : out) {
    const float f = bf2f(x);
    if (!std::isfinite(f)) ++c.unwritten;  // poison (NaN) left, or a NaN/inf produced
  }
  double num = 0, den = 0;
  for (size_t r = 0; r < rows.size(); ++r) {
    const int qt = p.perm.empty() ? rows[r].s : p.perm[(size_t)rows[r].b * p.N + rows[r].s];
    const size_t base = (((size_t)rows[r].b * p.N + qt) * p.H + rows[r].h) * p.D;
    for (int d = 0; d < p.D; ++d) {
      const double o = bf2f(out[base + d]), e = ref[r * p.D + d];
      num += (o - e) * (o - e);
      den += e * e;
      c.max_abs = std::max(c.max_abs, std::fabs(o - e));
    }
  }
  c.rel = den > 0 ? std::sqrt(num / den) : (num > 0 ? INFINITY : 0.0);
  c.ok = c.unwritten == 0 && std::isfinite(c.rel) && (den > 0 ? c.rel <= 1e-2 : c.max_abs == 0.0);
  return c;
}

static void prepare_output(Problem& p) {
  if (p.accumulate) {
    CK(cudaMemcpy(p.d_out, p.old_out.data(), p.out_elems() * 2, cudaMemcpyHostToDevice));
  } else {
    CK(cudaMemset(p.d_out, 0xFF, p.out_elems() * 2));  // 0xFFFF: bf16 NaN
  }
}

// Kernel under test: OPT = 0 the public moga::attention_fwd; OPT = 1 a reference kernel for A/B timing
// on one machine (machines differ by several percent), built with -DMOGA_BENCH_REF -I<dir> where
// <dir>/attention_fwd_ref.cuh holds an earlier version with its symbols renamed (attention_fwd_ref,
// AttnFwdCfgRef).
#ifdef MOGA_BENCH_REF
#include "attention_fwd_ref.cuh"
#endif

// OPT = 2: moga::attention_fwd_pp (v8 ping-pong) with one CTA per work item; OPT = 3: the same kernel
// persistent, grid = min(items, g_pp_grid) (the number of SMs when timing; small when checking, so that
// every CTA streams through several items, empty ones included).
static int g_pp_grid = 132;

static std::string opt_tag(int opt, bool lng) {
  if (opt == 0) return "";
  if (opt == 1) return " ref";
  if (opt == 2) return lng ? " pp" : " pp1";
  if (opt == 3) return lng ? " pp-persist" : " pp";
  const int k = (opt - 4) / 2;
  const bool one = (opt - 4) % 2 == 1;
  std::string t = one ? " wg1" : (lng ? " wg-persist" : " wg");
  if (k) t += "/o" + std::to_string(k);
  return t;
}

template <class V, int D, int BM, int BN, int W, int S, int OPT = 0>
static void launch(const AttnParams& a, cudaStream_t st = 0) {
  const dim3 grid((a.N + BM - 1) / BM, a.H, a.B);
  if constexpr (OPT >= 4) {
    // OPT = 4 + 2*k (+1): attention_fwd_wg with its switches k (bit 0 no ping-pong, bit 1 early
    // copies), persistent (+0) or one item per CTA (+1)
    constexpr int KOPT = (OPT - 4) / 2;
    constexpr bool kOne = (OPT - 4) % 2 == 1;
    using C = moga::AttnFwdWGCfg<D, BM, BN, W, S>;
    static bool attr = [] {
      CK(cudaFuncSetAttribute(moga::attention_fwd_wg<V, D, BM, BN, W, S, KOPT>,
                              cudaFuncAttributeMaxDynamicSharedMemorySize, C::kSmemBytes));
      return true;
    }();
    (void)attr;
    const int items = C::num_items(a.N, a.H, a.B);
    const int g = kOne ? items : std::max(1, std::min(items, g_pp_grid));
    moga::attention_fwd_wg<V, D, BM, BN, W, S, KOPT><<<g, C::kThreads, C::kSmemBytes, st>>>(a);
  } else if constexpr (OPT >= 2) {
    using C = moga::AttnFwdPPCfg<D, BM, BN, W, S>;
    static bool attr = [] {
      CK(cudaFuncSetAttribute(moga::attention_fwd_pp<V, D, BM, BN, W, S>,
                              cudaFuncAttributeMaxDynamicSharedMemorySize, C::kSmemBytes));
      return true;
    }();
    (void)attr;
    const int items = C::num_items(a.N, a.H, a.B);
    const int g = OPT == 2 ? items : std::max(1, std::min(items, g_pp_grid));
    moga::attention_fwd_pp<V, D, BM, BN, W, S><<<g, C::kThreads, C::kSmemBytes, st>>>(a);
  } else if constexpr (OPT == 0) {
    using C = moga::AttnFwdCfg<D, BM, BN, W, S>;
    static bool attr = [] {
      CK(cudaFuncSetAttribute(moga::attention_fwd<V, D, BM, BN, W, S>,
                              cudaFuncAttributeMaxDynamicSharedMemorySize, C::kSmemBytes));
      return true;
    }();
    (void)attr;
    moga::attention_fwd<V, D, BM, BN, W, S><<<grid, C::kThreads, C::kSmemBytes, st>>>(a);
  } else {
#ifdef MOGA_BENCH_REF
    using C1 = moga::AttnFwdCfgRef<D, BM, BN, W, S>;
    static bool attr = [] {
      CK(cudaFuncSetAttribute(moga::attention_fwd_ref<V, D, BM, BN, W, S>,
                              cudaFuncAttributeMaxDynamicSharedMemorySize, C1::kSmemBytes));
      return true;
    }();
    (void)attr;
    moga::attention_fwd_ref<V, D, BM, BN, W, S><<<grid, C1::kThreads, C1::kSmemBytes, st>>>(a);
#else
    std::fprintf(stderr, "reference kernel not built in (-DMOGA_BENCH_REF)\n");
    std::exit(2);
#endif
  }
  CK(cudaGetLastError());
}

static int g_fail = 0;
static std::vector<std::string> g_table;

template <class V, int D, int BM, int BN, int W, int S, int OPT = 0>
static void check_case(const char* name, Opts o, int mode, int sample, std::mt19937_64& rng) {
  o.D = D;
  Problem p = make_problem(o, rng);
  HostMap st;
  AttnParams a = make_params<V>(p, BM, BN, mode, &st);
  prepare_output(p);
  launch<V, D, BM, BN, W, S, OPT>(a);
  CK(cudaDeviceSynchronize());
  std::vector<uint16_t> out(p.out_elems());
  CK(cudaMemcpy(out.data(), p.d_out, out.size() * 2, cudaMemcpyDeviceToHost));
  const auto rows = pick_rows(p, sample, rng);
  const auto ref = reference<V>(p, rows);
  CheckResult c = compare(p, out, rows, ref);
  if (st.Tq > 0 && o.N <= 4097 && mode == 1) {
    const long long bad = verify_map<V>(p.B, p.N, BM, BN, p.perm, p.gid, p.shape, st);
    if (bad) {
      std::printf("map classification unsound: %lld tile pairs\n", bad);
      c.ok = false;
    }
  }
  if (!c.ok) ++g_fail;
  char line[320];
  std::snprintf(line, sizeof line,
                "%-4s %-26s D=%-3d N=%-6d B=%d H=%d cfg=%d/%d/%d/%d%s map(full %lld part %lld)  rel %.2e  maxabs %.2e  bad %lld",
                c.ok ? "ok" : "FAIL", name, D, o.N, o.B, o.H, BM, BN, W, S,
                opt_tag(OPT, true).c_str(), st.n_full, st.n_part, c.rel,
                c.max_abs, c.unwritten);
  std::printf("%s\n", line);
  std::fflush(stdout);
  if (!c.ok) g_table.push_back(line);
  p.free_dev();
}

template <int D, int BM, int BN, int W, int S, int OPT = 0>
static void check_suite(std::mt19937_64& rng) {
  for (int N : {1000, 4097}) {
    Opts o; o.N = N; o.B = 2; o.H = 2;
    const int smp = N <= 1000 ? 0 : 600;  // rows checked per (batch, head): all, or a random sample
    { Opts d = o; d.packed = true; d.H = 3; check_case<VDense, D, BM, BN, W, S, OPT>("dense packed-qkv", d, 0, smp, rng); }
    check_case<VCausal, D, BM, BN, W, S, OPT>("causal", o, 1, smp, rng);
    check_case<VCausal, D, BM, BN, W, S, OPT>("causal forced-partial", o, 2, smp, rng);
    { Opts g = o; g.groups = 7; check_case<VDense, D, BM, BN, W, S, OPT>("grouped perm M=7", g, 1, smp, rng); }
    { Opts g = o; g.groups = 3; check_case<VCausal, D, BM, BN, W, S, OPT>("grouped+causal perm M=3", g, 1, smp, rng); }
    { Opts g = o; g.shuffle = true; check_case<VCausal, D, BM, BN, W, S, OPT>("perm causal (no gid)", g, 1, smp, rng); }
    check_case<VNone, D, BM, BN, W, S, OPT>("all-masked (empty map)", o, 1, smp, rng);
    check_case<VNone, D, BM, BN, W, S, OPT>("all-masked (forced part)", o, 2, smp, rng);
    check_case<VWinBiasCap, D, BM, BN, W, S, OPT>("window+bias+softcap", o, 1, smp, rng);
    { Opts g = o; g.gate = true; g.accumulate = true; g.weight = 0.37f; g.groups = 5;
      check_case<VCausal, D, BM, BN, W, S, OPT>("gate+weight+accum grouped", g, 1, smp, rng); }
  }
  {
    Opts o; o.N = 32761; o.B = 1; o.H = 2;
    check_case<VDense, D, BM, BN, W, S, OPT>("dense", o, 0, 384, rng);
    Opts g = o; g.groups = 16; g.balanced = true;
    check_case<VDense, D, BM, BN, W, S, OPT>("grouped M=16 balanced", g, 1, 384, rng);
  }
}

static double median_ms(const std::function<void()>& fn, int warm, int reps);

// ---- wgmma unit test: S = Q K^T (A = Q fragments, B = K tile K-major) and O = P V (B = V tile MN-major),
// one warpgroup, the 128-byte-swizzled tile layout of attention_fwd_wg, against fp64 on the host ----------
__global__ void __launch_bounds__(128) wg_unit_kernel(const uint16_t* Q, const uint16_t* K, const uint16_t* V,
                                                      const uint16_t* P, float* S_out, float* O_out) {
#if defined(MOGA_HAS_WGMMA)
  extern __shared__ __align__(128) unsigned char smem_unit[];
  const unsigned base = (moga::sm80::smem_u32(smem_unit) + 1023u) & ~1023u;
  const unsigned sK = base, sV = base + 32768;
  const int tid = threadIdx.x, lane = tid & 31, w = tid >> 5;
  for (int idx = tid; idx < 128 * 16; idx += 128) {
    const int row = idx / 16, c = idx % 16;
    const unsigned off = (c >> 3) * 16384 + row * 128 + (((c & 7) ^ (row & 7)) << 4);
    moga::sm80::cp_async16(sK + off, K + row * 128 + c * 8, true);
    moga::sm80::cp_async16(sV + off, V + row * 128 + c * 8, true);
  }
  moga::sm80::cp_async_commit();
  moga::sm80::cp_async_wait<0>();
  __syncthreads();
  moga::sm90::fence_proxy_async();
  const int g = lane >> 2, t = lane & 3, r0 = 16 * w + g, r1 = r0 + 8;
  auto frag = [&](const uint16_t* M, int k0, unsigned (&a)[4]) {
    auto pr = [&](int r, int k) { return (unsigned)M[r * 128 + k] | ((unsigned)M[r * 128 + k + 1] << 16); };
    a[0] = pr(r0, k0 + 2 * t); a[1] = pr(r1, k0 + 2 * t); a[2] = pr(r0, k0 + 2 * t + 8); a[3] = pr(r1, k0 + 2 * t + 8);
  };
  unsigned qf[8][4], pf[8][4];
  for (int k = 0; k < 8; ++k) { frag(Q, 16 * k, qf[k]); frag(P, 16 * k, pf[k]); }
  float sacc[64], oacc[64];
  for (int i = 0; i < 64; ++i) { sacc[i] = 0.f; oacc[i] = 0.f; }
  moga::sm90::wg_fence();
#pragma unroll
  for (int ks = 0; ks < 8; ++ks)
    moga::sm90::wgmma_rs<128, 0>(sacc, qf[ks], moga::sm90::gmma_desc_sw128(sK + (ks >> 2) * 16384 + (ks & 3) * 32, 16, 1024), ks > 0);
  moga::sm90::wg_commit();
#pragma unroll
  for (int kb = 0; kb < 8; ++kb)
    moga::sm90::wgmma_rs<128, 1>(oacc, pf[kb], moga::sm90::gmma_desc_sw128(sV + kb * 2048, 16384, 1024), 1);
  moga::sm90::wg_commit();
  moga::sm90::wg_wait<0>();
  moga::sm90::fence_regs(sacc);
  moga::sm90::fence_regs(oacc);
  for (int nt = 0; nt < 16; ++nt)
    for (int e = 0; e < 2; ++e) {
      S_out[r0 * 128 + 8 * nt + 2 * t + e] = sacc[4 * nt + e];
      S_out[r1 * 128 + 8 * nt + 2 * t + e] = sacc[4 * nt + 2 + e];
      O_out[r0 * 128 + 8 * nt + 2 * t + e] = oacc[4 * nt + e];
      O_out[r1 * 128 + 8 * nt + 2 * t + e] = oacc[4 * nt + 2 + e];
    }
#endif
}
static void wg_unit(std::mt19937_64& rng) {
  std::vector<uint16_t> q(64 * 128), k(128 * 128), v(128 * 128), pm(64 * 128);
  fill_random(q, rng()); fill_random(k, rng()); fill_random(v, rng()); fill_random(pm, rng());
  uint16_t *dq, *dk, *dv, *dp; float *ds, *dout;
  CK(cudaMalloc(&dq, q.size() * 2)); CK(cudaMalloc(&dk, k.size() * 2)); CK(cudaMalloc(&dv, v.size() * 2));
  CK(cudaMalloc(&dp, pm.size() * 2)); CK(cudaMalloc(&ds, 64 * 128 * 4)); CK(cudaMalloc(&dout, 64 * 128 * 4));
  CK(cudaMemcpy(dq, q.data(), q.size() * 2, cudaMemcpyHostToDevice));
  CK(cudaMemcpy(dk, k.data(), k.size() * 2, cudaMemcpyHostToDevice));
  CK(cudaMemcpy(dv, v.data(), v.size() * 2, cudaMemcpyHostToDevice));
  CK(cudaMemcpy(dp, pm.data(), pm.size() * 2, cudaMemcpyHostToDevice));
  CK(cudaMemset(ds, 0xFF, 64 * 128 * 4)); CK(cudaMemset(dout, 0xFF, 64 * 128 * 4));
  CK(cudaFuncSetAttribute(wg_unit_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, 66 * 1024));
  wg_unit_kernel<<<1, 128, 66 * 1024>>>(dq, dk, dv, dp, ds, dout);
  CK(cudaGetLastError());
  CK(cudaDeviceSynchronize());
  std::vector<float> S(64 * 128), O(64 * 128);
  CK(cudaMemcpy(S.data(), ds, S.size() * 4, cudaMemcpyDeviceToHost));
  CK(cudaMemcpy(O.data(), dout, O.size() * 4, cudaMemcpyDeviceToHost));
  double ns = 0, ds2 = 0, no = 0, do2 = 0;
  int first_bad_s = -1, first_bad_o = -1;
  for (int r = 0; r < 64; ++r)
    for (int c = 0; c < 128; ++c) {
      double rs = 0, ro = 0;
      for (int x = 0; x < 128; ++x) {
        rs += (double)bf2f(q[r * 128 + x]) * bf2f(k[c * 128 + x]);
        ro += (double)bf2f(pm[r * 128 + x]) * bf2f(v[x * 128 + c]);
      }
      const double es = S[r * 128 + c] - rs, eo = O[r * 128 + c] - ro;
      ns += es * es; ds2 += rs * rs; no += eo * eo; do2 += ro * ro;
      if (!(std::fabs(es) <= 1e-2 * (1 + std::fabs(rs))) && first_bad_s < 0) first_bad_s = r * 128 + c;
      if (!(std::fabs(eo) <= 1e-2 * (1 + std::fabs(ro))) && first_bad_o < 0) first_bad_o = r * 128 + c;
    }
  const double rs = std::sqrt(ns / ds2), ro = std::sqrt(no / do2);
  const bool ok = rs < 1e-4 && ro < 1e-4;
  if (!ok) ++g_fail;
  char line[200];
  std::snprintf(line, sizeof line, "%-4s wgmma unit: S=QK^T rel %.2e (first bad %d), O=PV rel %.2e (first bad %d)",
                ok ? "ok" : "FAIL", rs, first_bad_s, ro, first_bad_o);
  std::printf("%s\n", line);
  g_table.push_back(line);
  cudaFree(dq); cudaFree(dk); cudaFree(dv); cudaFree(dp); cudaFree(ds); cudaFree(dout);
}

// ---- mma.sync ceiling: independent m16n8k16 chains, operands in registers ------------------------------
__global__ void __launch_bounds__(256) mma_peak_kernel(float* out, int iters) {
  unsigned a[4], b0 = threadIdx.x * 7u, b1 = threadIdx.x * 13u;
  for (int i = 0; i < 4; ++i) a[i] = threadIdx.x * (i + 3u);
  float acc[16][4] = {};
  for (int it = 0; it < iters; ++it) {
#pragma unroll
    for (int k = 0; k < 16; ++k) moga::sm80::mma_bf16_16816(acc[k], a, b0, b1);
  }
  float s = 0;
  for (int k = 0; k < 16; ++k) s += acc[k][0] + acc[k][1] + acc[k][2] + acc[k][3];
  if (s == 1234.5f) out[threadIdx.x] = s;
}
static void mma_peak(int blocks_per_sm, int threads) {
  float* d;
  CK(cudaMalloc(&d, 4096));
  cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, 0));
  const int iters = 4096, blocks = prop.multiProcessorCount * blocks_per_sm;
  const double ms = median_ms([&] { mma_peak_kernel<<<blocks, threads>>>(d, iters); }, 2, 7);
  CK(cudaGetLastError());
  const double flops = (double)blocks * (threads / 32) * iters * 16 * 4096.0;
  char line[200];
  std::snprintf(line, sizeof line, "mma.sync m16n8k16 bf16 ceiling (registers only, %d warps/SM): %.1f TFLOP/s",
                blocks_per_sm * threads / 32, flops / (ms * 1e-3) / 1e12);
  std::printf("%s\n", line);
  g_table.push_back(line);
  cudaFree(d);
}

// ---- timing -----------------------------------------------------------------------------------------------
static double median_ms(const std::function<void()>& fn, int warm, int reps) {
  for (int i = 0; i < warm; ++i) fn();
  CK(cudaDeviceSynchronize());
  std::vector<cudaEvent_t> ev(2 * reps);
  for (auto& e : ev) CK(cudaEventCreate(&e));
  for (int i = 0; i < reps; ++i) {
    CK(cudaEventRecord(ev[2 * i]));
    fn();
    CK(cudaEventRecord(ev[2 * i + 1]));
  }
  CK(cudaEventSynchronize(ev.back()));
  std::vector<float> t(reps);
  for (int i = 0; i < reps; ++i) CK(cudaEventElapsedTime(&t[i], ev[2 * i], ev[2 * i + 1]));
  for (auto& e : ev) CK(cudaEventDestroy(e));
  std::sort(t.begin(), t.end());
  return t[reps / 2];
}

struct BenchSet {  // one problem, reference rows computed once, several kernel configs timed and checked
  Problem p;
  std::vector<RowId> rows;
  std::vector<double> ref;
  double flops;
  std::string name;
};

template <class V>
static BenchSet make_bench(const char* name, Opts o, std::mt19937_64& rng) {
  BenchSet bs;
  bs.name = name;
  bs.p = make_problem(o, rng);
  bs.rows = pick_rows(bs.p, 48, rng);
  bs.ref = reference<V>(bs.p, bs.rows);
  const Problem& p = bs.p;
  if (!p.gid.empty()) {  // useful FLOPs 4 D H sum n_g^2
    double sum = 0;
    for (int b = 0; b < p.B; ++b) {
      std::vector<long long> cnt(1 << 16, 0);
      for (int s = 0; s < p.N; ++s) cnt[p.gid[(size_t)b * p.N + s]]++;
      for (long long c : cnt) sum += (double)c * c;
    }
    bs.flops = 4.0 * p.D * p.H * sum;
  } else if (V::kHasMask) {  // causal: N(N+1)/2 visible pairs
    bs.flops = 4.0 * p.D * p.H * p.B * ((double)p.N * (p.N + 1) / 2);
  } else {
    bs.flops = 4.0 * p.D * p.H * p.B * (double)p.N * p.N;
  }
  return bs;
}

template <class V, int D, int BM, int BN, int W, int S, int OPT = 0>
static void bench_cfg(BenchSet& bs) {
  Problem& p = bs.p;
  HostMap st;
  AttnParams a = make_params<V>(p, BM, BN, 1, &st);
  prepare_output(p);
  launch<V, D, BM, BN, W, S, OPT>(a);
  CK(cudaDeviceSynchronize());
  std::vector<uint16_t> out(p.out_elems());
  CK(cudaMemcpy(out.data(), p.d_out, out.size() * 2, cudaMemcpyDeviceToHost));
  const CheckResult c = compare(p, out, bs.rows, bs.ref);
  if (!c.ok) ++g_fail;
  const double ms = median_ms([&] { launch<V, D, BM, BN, W, S, OPT>(a); }, 3, 15);
  CK(cudaDeviceSynchronize());
  for (int* q : p.map_bufs) cudaFree(q);
  p.map_bufs.clear();
  char line[320];
  const std::string tags = opt_tag(OPT, false);
  const char* tag = tags.c_str();
  std::snprintf(line, sizeof line, "%-22s D=%-3d N=%-5d H=%-2d BM=%-3d BN=%-3d W=%-2d S=%d%-7s| %8.3f ms %6.1f TFLOP/s | rel %.1e %s",
                bs.name.c_str(), D, p.N, p.H, BM, BN, W, S, tag, ms, bs.flops / (ms * 1e-3) / 1e12, c.rel,
                c.ok ? "ok" : "FAIL");
  std::printf("%s\n", line);
  std::fflush(stdout);
  g_table.push_back(line);
}

int main(int argc, char** argv) {
  unsigned long long seed = (unsigned long long)std::chrono::system_clock::now().time_since_epoch().count();
  bool do_check = true, do_bench = true, do_profile = false, do_v7_check = true, do_pp_check = true,
       do_wg_check = true, do_pp_bench = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--seed") && i + 1 < argc) seed = std::strtoull(argv[++i], nullptr, 10);
    else if (!std::strcmp(argv[i], "--no-bench")) do_bench = false;
    else if (!std::strcmp(argv[i], "--no-check")) do_check = false;
    else if (!std::strcmp(argv[i], "--no-v7-check")) do_v7_check = false;
    else if (!std::strcmp(argv[i], "--no-pp-check")) do_pp_check = false;
    else if (!std::strcmp(argv[i], "--no-wg-check")) do_wg_check = false;
    else if (!std::strcmp(argv[i], "--pp-bench")) do_pp_bench = true;
    else if (!std::strcmp(argv[i], "--profile")) { do_profile = true; do_check = do_bench = false; }
  }
  cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, 0));
  std::printf("device %s, %d SMs, smem/block optin %zu KB, L2 %d MB; seed %llu\n", prop.name,
              prop.multiProcessorCount, prop.sharedMemPerBlockOptin / 1024, prop.l2CacheSize >> 20, seed);
  std::printf("pass: rel L2 ||out-ref||/||ref|| <= 1e-2 vs fp64 CPU reference (exact 0 where ref is 0), "
              "no unwritten (poisoned) or non-finite output element\n");
  std::mt19937_64 rng(seed);

  if (do_check && do_wg_check) {
    // v9 wgmma kernel: unit test of the two products first, then the suites (persistent with a small
    // grid; one item per CTA; D=64; BN=64)
    wg_unit(rng);
    g_pp_grid = 5;
    check_suite<128, 128, 128, 8, 2, 4>(rng);
    check_suite<128, 128, 128, 8, 3, 5>(rng);
    check_suite<64, 128, 128, 8, 2, 4>(rng);
    check_suite<128, 128, 128, 8, 3, 4 + 2 * 2>(rng);  // early copies
    check_suite<128, 128, 128, 8, 3, 4 + 2 * 3>(rng);  // early copies, no ping-pong
    check_suite<128, 128, 128, 8, 2, 4 + 2 * 1 + 1>(rng);  // no ping-pong, one item per CTA
    check_suite<128, 128, 128, 8, 3, 4 + 2 * 4 + 1>(rng);  // tree reductions, one item per CTA
    check_suite<64, 128, 128, 8, 3, 4 + 2 * 4 + 1>(rng);
    {
      Opts o; o.N = 4097; o.B = 2; o.H = 2;
      Opts g = o; g.groups = 3;
      check_case<VCausal, 128, 128, 64, 8, 4, 4 + 2 * 2>("grouped+causal wg/o2 BN=64 S=4", g, 1, 600, rng);
      check_case<VCausal, 64, 128, 128, 8, 3, 4 + 2 * 2 + 1>("grouped+causal wg1/o2 D=64", g, 1, 600, rng);
      check_case<VCausal, 128, 128, 64, 8, 4, 4>("grouped+causal wg BN=64 S=4", g, 1, 600, rng);
      check_case<VWinBiasCap, 128, 128, 64, 8, 3, 4>("window+bias+softcap wg BN=64", o, 1, 600, rng);
      check_case<VWinBiasCap, 64, 128, 64, 8, 3, 5>("window+bias+softcap wg D=64", o, 1, 600, rng);
      Opts a = g; a.gate = true; a.accumulate = true; a.weight = 0.61f;
      check_case<VCausal, 128, 128, 64, 8, 4, 4>("gate+weight+accum wg BN=64", a, 1, 600, rng);
      Opts gm = o; gm.N = 32761; gm.B = 1; gm.groups = 16; gm.balanced = true;
      check_case<VDense, 128, 128, 64, 8, 4, 4>("grouped M=16 wg BN=64 S=4", gm, 1, 384, rng);
    }
  }
  if (do_check && do_pp_check) {
    // v8 ping-pong kernel: persistent with a small grid (several items per CTA, empty items, the K/V
    // stream crossing items), one item per CTA, D=64 at MT=1 and MT=2, BN=64 with 4 stages
    g_pp_grid = 5;
    check_suite<128, 128, 128, 8, 3, 3>(rng);
    check_suite<128, 128, 128, 8, 2, 2>(rng);
    check_suite<64, 128, 128, 8, 3, 3>(rng);
    {
      Opts o; o.N = 4097; o.B = 2; o.H = 2;
      Opts g = o; g.groups = 3;
      check_case<VCausal, 64, 256, 64, 8, 3, 3>("grouped+causal pp MT=2", g, 1, 600, rng);
      check_case<VWinBiasCap, 64, 256, 64, 8, 3, 3>("window+bias+softcap pp MT=2", o, 1, 600, rng);
      check_case<VCausal, 128, 128, 64, 8, 4, 3>("grouped+causal pp BN=64 S=4", g, 1, 600, rng);
      Opts a = g; a.gate = true; a.accumulate = true; a.weight = 0.61f;
      check_case<VCausal, 128, 128, 64, 8, 4, 3>("gate+weight+accum pp BN=64", a, 1, 600, rng);
      Opts gm = o; gm.N = 32761; gm.B = 1; gm.groups = 16; gm.balanced = true;
      check_case<VDense, 128, 128, 64, 8, 4, 3>("grouped M=16 pp BN=64 S=4", gm, 1, 384, rng);
    }
  }
  if (do_check && do_v7_check) {
    check_suite<128, 128, 128, 8, 2>(rng);  // D=128 default: MT=1, Q in registers, BN=128
    check_suite<64, 128, 64, 4, 2>(rng);    // D=64 default: MT=2, Q in registers
    {  // other shapes through the masked and grouped paths
      Opts o; o.N = 4097; o.B = 2; o.H = 2;
      check_case<VCausal, 128, 128, 64, 4, 2>("causal MT=2 Q-in-smem", o, 1, 600, rng);
      Opts g = o; g.groups = 3;
      check_case<VCausal, 128, 128, 64, 4, 2>("grouped+causal MT=2 Q-smem", g, 1, 600, rng);
      check_case<VCausal, 128, 128, 64, 8, 2>("grouped+causal MT=1 BN=64", g, 1, 600, rng);
      check_case<VWinBiasCap, 128, 64, 64, 4, 3>("window+bias+softcap S=3", o, 1, 600, rng);
      check_case<VWinBiasCap, 64, 128, 128, 8, 2>("window+bias+softcap BN=128", o, 1, 600, rng);
      // 12 warps: 24 rows per load step, the last K/V row step of a tile is partly outside (guarded)
      check_case<VCausal, 128, 192, 64, 12, 3>("causal BM=192 W=12", o, 1, 600, rng);
      check_case<VCausal, 128, 192, 64, 12, 3>("grouped+causal BM=192 W=12", g, 1, 600, rng);
      check_case<VWinBiasCap, 64, 192, 64, 12, 2>("window+bias+softcap BM=192", o, 1, 600, rng);
      Opts d = o; d.packed = true; d.N = 1000;
      check_case<VDense, 128, 192, 64, 12, 2>("dense packed BM=192", d, 0, 0, rng);
      Opts a = g; a.gate = true; a.accumulate = true; a.weight = 0.61f;
      check_case<VCausal, 128, 192, 64, 12, 3>("gate+weight+accum BM=192", a, 1, 600, rng);
    }
  }
  if (do_profile) {  // one launch of each kernel of interest, for ncu
    Opts o; o.N = 32760; o.B = 1; o.H = 12; o.D = 128;
    Problem p = make_problem(o, rng);
    AttnParams a = make_params<VDense>(p, 128, 128, 0, nullptr);
    g_pp_grid = prop.multiProcessorCount;
    launch<VDense, 128, 128, 128, 8, 2>(a);
    launch<VDense, 128, 128, 128, 8, 3, 5>(a);
    CK(cudaDeviceSynchronize());
    p.free_dev();
    return 0;
  }
  if (do_bench) {
    // v7 = moga::attention_fwd (tag none), v8 = moga::attention_fwd_pp persistent (tag "pp", grid =
    // #SMs) or one CTA per item (tag "pp1"); same problem, same machine, interleaved.
    g_pp_grid = prop.multiProcessorCount;
    mma_peak(2, 256);  // 16 warps/SM (4 per scheduler): the ceiling quoted since v4
    mma_peak(1, 128);  // 1 warp per scheduler
    mma_peak(1, 256);  // 2 warps per scheduler
    // final table: v7 (attention_fwd) against v9 (attention_fwd_wg, default switches) one item per CTA
    // ("wg1", the recommended launch) and persistent ("wg"), v8 (attention_fwd_pp) for the record
    {
      Opts o; o.N = 32760; o.B = 1; o.H = 12; o.D = 128;
      BenchSet bs = make_bench<VDense>("dense", o, rng);
#ifdef MOGA_BENCH_REF
      bench_cfg<VDense, 128, 128, 128, 8, 2, 1>(bs);
#endif
      bench_cfg<VDense, 128, 128, 128, 8, 2>(bs);
      bench_cfg<VDense, 128, 128, 128, 8, 3, 5>(bs);
      bench_cfg<VDense, 128, 128, 128, 8, 3, 4>(bs);
      bench_cfg<VDense, 128, 128, 128, 8, 2, 5>(bs);
      bench_cfg<VDense, 128, 128, 128, 8, 2, 3>(bs);
      bench_cfg<VDense, 128, 128, 128, 8, 2>(bs);  // repeats: spread between two timings
      bench_cfg<VDense, 128, 128, 128, 8, 3, 5>(bs);
      bs.p.free_dev();
    }
    {
      Opts o; o.N = 32760; o.B = 1; o.H = 12; o.D = 128; o.groups = 16; o.balanced = true;
      BenchSet bs = make_bench<VDense>("grouped M=16 (useful)", o, rng);
      bench_cfg<VDense, 128, 64, 64, 4, 2>(bs);
      bench_cfg<VDense, 128, 128, 128, 8, 2>(bs);
      bench_cfg<VDense, 128, 128, 128, 8, 3, 5>(bs);
      bench_cfg<VDense, 128, 128, 128, 8, 2, 5>(bs);
      bench_cfg<VDense, 128, 128, 128, 8, 3, 4>(bs);
      bench_cfg<VDense, 128, 64, 64, 4, 2>(bs);
      bench_cfg<VDense, 128, 128, 128, 8, 3, 5>(bs);
      bs.p.free_dev();
    }
    {
      Opts o; o.N = 32760; o.B = 1; o.H = 12; o.D = 128;
      BenchSet bs = make_bench<VCausal>("causal (useful)", o, rng);
      bench_cfg<VCausal, 128, 128, 128, 8, 2>(bs);
      bench_cfg<VCausal, 128, 128, 128, 8, 3, 5>(bs);
      bench_cfg<VCausal, 128, 128, 128, 8, 3, 4>(bs);
      bench_cfg<VCausal, 128, 128, 128, 8, 2>(bs);
      bench_cfg<VCausal, 128, 128, 128, 8, 3, 5>(bs);
      bs.p.free_dev();
    }
    {
      Opts o; o.N = 32760; o.B = 1; o.H = 12; o.D = 64;
      BenchSet bs = make_bench<VDense>("dense", o, rng);
      bench_cfg<VDense, 64, 128, 64, 4, 2>(bs);
      bench_cfg<VDense, 64, 128, 128, 8, 3, 5>(bs);
      bench_cfg<VDense, 64, 128, 128, 8, 2, 5>(bs);
      bench_cfg<VDense, 64, 128, 64, 4, 2>(bs);
      bench_cfg<VDense, 64, 128, 128, 8, 3, 5>(bs);
      bs.p.free_dev();
    }
  }
  std::printf("\n==== summary (seed %llu): %s ====\n", seed, g_fail ? "CORRECTNESS FAILURES" : "all checks passed");
  for (const auto& l : g_table) std::printf("%s\n", l.c_str());
  return g_fail ? 1 : 0;
}

#endif
