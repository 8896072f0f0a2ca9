// The device side of sequence parallelism on ONE GPU (skips loudly without a device; the 2-GPU run is
// runtime/parallel/sp_check.sh, docs/distributed.md):
//   * cuMemcpy3DAsync executes the exchange plans' copies exactly as the CPU emulation does;
//   * PatternAttention::route() on two token shards gives the router's gid/prob of a full run, bit for
//     bit, and run() with that routing given (RouterInputs::routing) gives the same output bit for bit;
//   * NCCL loads, a 1-rank communicator initialises, and a 1-rank exchange is the identity;
//   * ring attention's step math: `full` over three key blocks, each writing its log-sum-exp, folded by
//     lse_merge_bf16, equals `full` over all keys (rel L2 <= 1e-2, bf16);
//   * ring steps of masked patterns (causal; radial, video, staged key columns): query slices x key blocks run with their
//     token offsets (RunOptions::q_offset / kv_offset / seq_tokens), merged by their log-sum-exp, equal the
//     float64 reference of the whole sequence and the one-call result (rel L2 <= 1e-2);
//   * the gather's query ranges (RunOptions::query_begin / query_end): the range's rows equal the whole call's
//     bit for bit and the float64 reference (moga with a given routing, stga, causal).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "runtime/attention/attention.h"
#include "runtime/jit/check.h"
#include "runtime/jit/driver.h"
#include "runtime/jit/module.h"
#include "runtime/parallel/nccl_comm.h"
#include "runtime/parallel/ring_gpu.h"
#include "runtime/parallel/sharding.h"
#include "runtime/parallel/ulysses_gpu.h"
#include "runtime/reference/attention.h"
#include "kernels_src/cuda/lse_merge.cuh"

namespace moga::parallel {
namespace {

class ParallelGpu : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!jit::device_available(&why)) GTEST_SKIP() << "no CUDA device: " << why;
    jit::Device::get().make_current();
  }
};

std::vector<unsigned char> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 g(seed);
  std::vector<unsigned char> v(n);
  for (auto& b : v) b = (unsigned char)(g() & 0xff);
  return v;
}

std::vector<unsigned short> random_bf16(size_t n, uint32_t seed, float scale = 1.f) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> d(-scale, scale);
  std::vector<unsigned short> v(n);
  for (auto& h : v) {
    const float f = d(g);
    unsigned u;
    std::memcpy(&u, &f, 4);
    u += 0x7fffu + ((u >> 16) & 1u);
    h = (unsigned short)(u >> 16);
  }
  return v;
}

TEST_F(ParallelGpu, Copy3DMatchesTheHostEmulation) {
  for (int pad : {0, 8})
    for (int P : {2, 3}) {
      const UlyssesShape s = UlyssesShape::make(37, 2 * P, 64, P);
      for (int r = 0; r < P; ++r)
        for (int dir = 0; dir < 2; ++dir) {
          const Exchange e = dir == 0 ? seq_to_heads(s, r, 3, 3LL * s.H * s.D + pad, 2)
                                      : heads_to_seq(s, r, 1, (long long)s.H * s.D + pad, 2);
          for (const auto* list : {&e.pre, &e.post})
            for (const Copy3D& c : *list) {
              auto size = [&](Buf b) {
                return b == Buf::Src ? e.src_bytes : b == Buf::Send ? e.send_buffer_bytes : b == Buf::Recv ? e.recv_buffer_bytes : e.dst_bytes;
              };
              const std::vector<unsigned char> hs = random_bytes(size(c.src), 1 + r), hd0 = random_bytes(size(c.dst), 99 + r);
              std::vector<unsigned char> want = hd0;
              copy3d_host(c, hs.data(), want.data());
              jit::DeviceBuffer ds(hs.size()), dd(hd0.size());
              ds.upload(hs.data(), hs.size());
              dd.upload(hd0.data(), hd0.size());
              copy3d_device(c, ds.ptr(), dd.ptr(), nullptr);
              CU_CHECK(jit::driver().cuCtxSynchronize());
              std::vector<unsigned char> got(hd0.size());
              dd.download(got.data(), got.size());
              ASSERT_EQ(got, want) << "P " << P << " rank " << r << (dir ? " heads->seq " : " seq->heads ") << buf_name(c.src)
                                   << "->" << buf_name(c.dst) << " pad " << pad;
            }
        }
    }
}

TEST_F(ParallelGpu, RouteOnShardsThenGivenRoutingEqualsTheRouter) {
  rt::PatternAttention full_run(rt::load_builtin("moga")), sharded(rt::load_builtin("moga"));
  ASSERT_EQ(full_run.routed_kernels().size(), 1u);
  const int ki = full_run.routed_kernels()[0];
  const int M = full_run.spec().kernels[ki].route->groups;
  const int F = 3, Hg = 6, Wd = 10, H = 2, D = 128, dm = 256;
  const long long N = (long long)F * Hg * Wd;  // 180 tokens: shards of 90 over 2 ranks, 60 over 3
  const rt::AttentionShape shape = rt::AttentionShape::make_video(1, F, Hg, Wd, H, D, {0, 2});
  const size_t nel = (size_t)N * H * D;
  jit::DeviceBuffer q(nel * 2), k(nel * 2), v(nel * 2), x((size_t)N * dm * 2), w((size_t)dm * M * 2), o1(nel * 2),
      o2(nel * 2), gid(N * 4), prob(N * 4);
  q.upload(random_bf16(nel, 1));
  k.upload(random_bf16(nel, 2));
  v.upload(random_bf16(nel, 3));
  x.upload(random_bf16((size_t)N * dm, 4));
  w.upload(random_bf16((size_t)dm * M, 5, 0.2f));
  o1.fill_bytes(0xFF);
  o2.fill_bytes(0xFF);
  auto view = [&](const jit::DeviceBuffer& b) { return rt::TensorView::contiguous(b.ptr(), rt::DType::BF16, {1, N, H, D}); };
  const rt::TensorView wv = rt::TensorView::contiguous(w.ptr(), rt::DType::BF16, {dm, M});
  rt::RouterInputs r1;
  r1.x = rt::TensorView::contiguous(x.ptr(), rt::DType::BF16, {1, N, dm});
  r1.weights = {wv};
  full_run.run(view(q), view(k), view(v), view(o1), shape, &r1, nullptr);
  const auto routing = full_run.last_routing(ki);

  for (int P : {2, 3}) {
    const SeqShards sh = SeqShards::make(N, P);
    CU_CHECK(jit::driver().cuMemsetD8Async(gid.ptr(), 0xFF, N * 4, nullptr));
    for (int r = 0; r < P; ++r) {
      const rt::TensorView xs =
          rt::TensorView::contiguous(x.ptr() + (size_t)sh.start(r) * dm * 2, rt::DType::BF16, {1, sh.count(r), dm});
      sharded.route(ki, xs, wv, gid.ptr() + sh.start(r) * 4, prob.ptr() + sh.start(r) * 4, D, nullptr);
    }
    CU_CHECK(jit::driver().cuCtxSynchronize());
    std::vector<int> g(N);
    std::vector<float> p(N);
    gid.download(g.data(), N * 4);
    prob.download(p.data(), N * 4);
    EXPECT_EQ(g, routing.gid) << "P " << P;
    EXPECT_EQ(0, std::memcmp(p.data(), routing.prob.data(), N * 4)) << "P " << P;

    rt::RouterInputs r2;
    r2.routing = {{gid.ptr(), prob.ptr()}};
    sharded.run(view(q), view(k), view(v), view(o2), shape, &r2, nullptr);
    CU_CHECK(jit::driver().cuCtxSynchronize());
    std::vector<unsigned short> a(nel), b(nel);
    o1.download(a.data(), nel * 2);
    o2.download(b.data(), nel * 2);
    EXPECT_EQ(a, b) << "P " << P << ": the attention with the given routing differs from the routed run";
    const auto back = sharded.last_routing(ki);
    EXPECT_EQ(back.gid, routing.gid);
  }
  // a given routing of the wrong count is refused before any launch
  rt::RouterInputs bad;
  bad.routing = {{gid.ptr(), prob.ptr()}, {gid.ptr(), prob.ptr()}};
  EXPECT_THROW(sharded.validate(view(q), view(k), view(v), view(o2), shape, &bad), rt::ArgumentError);
}

TEST_F(ParallelGpu, OneRankCommunicatorAndExchange) {
  std::string why;
  if (!try_nccl(&why)) GTEST_SKIP() << why << " (set MOGA_NCCL_LIBRARY; runtime/parallel/sp_check.sh finds pip's)";
  std::printf("NCCL %s\n", nccl_version().c_str());
  auto comm = std::make_shared<Communicator>(0, 1, new_unique_id());
  UlyssesGpu u(comm);
  const long long N = 50;
  const int H = 4, D = 64;
  u.prepare(UspLayout::make(N, H, D, 1), 3LL * H * D, (long long)H * D);
  const std::vector<unsigned short> src = random_bf16((size_t)N * 3 * H * D, 7);
  jit::DeviceBuffer qkv(src.size() * 2), a((size_t)N * H * D * 2);
  qkv.upload(src);
  u.qkv_to_heads(qkv.ptr(), nullptr);
  CU_CHECK(jit::driver().cuMemcpyHtoD(u.out(), src.data(), (size_t)N * H * D * 2));  // "attention output"
  u.out_to_seq(a.ptr(), nullptr);
  CU_CHECK(jit::driver().cuCtxSynchronize());
  comm->check_async();
  std::vector<unsigned short> heads((size_t)N * 3 * H * D), back((size_t)N * H * D);
  CU_CHECK(jit::driver().cuMemcpyDtoH(heads.data(), u.heads(), heads.size() * 2));
  a.download(back.data(), back.size() * 2);
  EXPECT_EQ(heads, src);  // one rank: [N][3][H][D] is the q|k|v rows
  EXPECT_TRUE(std::equal(back.begin(), back.end(), src.begin()));
}

// What RingGpu::attend does per step, on one GPU without NCCL: the group's queries against each key
// block (uneven sizes, not multiples of a tile) with RunOptions::lse, each folded into the running f32
// output by the merge kernel, the last fold writing bf16; outputs poisoned (NaN) first.
TEST_F(ParallelGpu, RingStepsMergedByLseEqualAllKeys) {
  const long long N = 301, Nk = 517;
  const long long cut[] = {0, 250, 389, Nk};
  const int H = 3, D = 128;
  rt::AttentionOptions o;
  o.lse = true;
  rt::PatternAttention a(rt::load_builtin("full"), o);
  const std::vector<unsigned short> hq = random_bf16((size_t)N * H * D, 5, 2.f), hk = random_bf16((size_t)Nk * H * D, 6, 2.f),
                                    hv = random_bf16((size_t)Nk * H * D, 7);
  jit::DeviceBuffer q(hq.size() * 2), k(hk.size() * 2), v(hv.size() * 2), whole(hq.size() * 2), merged(hq.size() * 2),
      part(hq.size() * 2), lse((size_t)H * N * 4), acc((size_t)N * H * D * 4), acc_lse((size_t)H * N * 4);
  q.upload(hq);
  k.upload(hk);
  v.upload(hv);
  const jit::Driver& d = jit::driver();
  CU_CHECK(d.cuMemsetD8Async(whole.ptr(), 0xff, whole.bytes(), nullptr));  // NaN
  CU_CHECK(d.cuMemsetD8Async(merged.ptr(), 0xff, merged.bytes(), nullptr));
  CU_CHECK(d.cuMemsetD32Async(acc_lse.ptr(), 0xff800000u, (size_t)H * N, nullptr));
  const rt::AttentionShape shape = rt::AttentionShape::seq(1, (int)N, H, D);
  auto rows = [&](const jit::DeviceBuffer& b, long long first, long long n) {
    return rt::TensorView::contiguous(b.ptr() + (size_t)first * H * D * 2, rt::DType::BF16, {1, n, H, D});
  };
  a.run(rows(q, 0, N), rows(k, 0, Nk), rows(v, 0, Nk), rows(whole, 0, N), shape, nullptr, nullptr);
  jit::Module mod(compile_lse_merge());
  const CUfunction merge = mod.function("lse_merge_bf16");
  for (int s = 0; s < 3; ++s) {
    CU_CHECK(d.cuMemsetD8Async(part.ptr(), 0xff, part.bytes(), nullptr));
    rt::RunOptions ro;
    ro.lse = {lse.ptr()};
    const long long nk = cut[s + 1] - cut[s];
    a.run(rows(q, 0, N), rows(k, cut[s], nk), rows(v, cut[s], nk), rows(part, 0, N), shape, nullptr, nullptr, ro);
    CUdeviceptr pa = acc.ptr(), pl = acc_lse.ptr(), pp = part.ptr(), plse = lse.ptr(), out = s == 2 ? merged.ptr() : 0;
    long long ld = (long long)H * D, old = ld;
    int n = (int)N, h = H, dd = D;
    void* args[] = {&pa, &pl, &pp, &ld, &plse, &n, &h, &dd, &out, &old};
    jit::launch(merge, {(unsigned)((N * H + 7) / 8), 1, 1}, {256, 1, 1}, 0, nullptr, args);
  }
  CU_CHECK(d.cuCtxSynchronize());
  std::vector<unsigned short> hw(hq.size()), hm(hq.size());
  CU_CHECK(d.cuMemcpyDtoH(hw.data(), whole.ptr(), hw.size() * 2));
  CU_CHECK(d.cuMemcpyDtoH(hm.data(), merged.ptr(), hm.size() * 2));
  auto f = [](unsigned short b) {
    const unsigned u = (unsigned)b << 16;
    float x;
    std::memcpy(&x, &u, 4);
    return (double)x;
  };
  double num = 0, den = 0;
  long long nan = 0;
  for (size_t i = 0; i < hw.size(); ++i) {
    nan += std::isnan(f(hm[i])) || std::isnan(f(hw[i]));
    num += (f(hm[i]) - f(hw[i])) * (f(hm[i]) - f(hw[i]));
    den += f(hw[i]) * f(hw[i]);
  }
  const double rel = std::sqrt(num / den);
  std::printf("3 key blocks merged by their log-sum-exp vs all keys: rel L2 %.2e\n", rel);
  EXPECT_EQ(nan, 0);
  EXPECT_LE(rel, 1e-2);
}


double bf16_value(unsigned short b) {
  const unsigned u = (unsigned)b << 16;
  float x;
  std::memcpy(&x, &u, 4);
  return (double)x;
}

// Each (query slice, key block) of the sequence is one call with its offsets, like a ring step of a rank
// whose queries and received keys are slices of the sequence; the steps' outputs are merged per row by
// their log-sum-exp on the host (lse_merge.cuh's merge_row, double). Outputs and lse poisoned (NaN) before
// every call; slices and blocks cut inside frames and tiles (odd sizes).
TEST_F(ParallelGpu, RingStepsWithTokenOffsetsMergedByLseEqualTheWholeSequence) {
  struct Case {
    const char* pattern;
    bool video;
    int F, Hg, W;
    std::vector<int> shots;
  };
  const Case cases[] = {{"causal", false, 1, 1, 611, {}}, {"radial", true, 7, 9, 11, {0, 4}}};
  const int H = 3, D = 128;
  const jit::Driver& d = jit::driver();
  for (const Case& c : cases) {
    const long long N = (long long)c.F * c.Hg * c.W;
    const long long qcut[] = {0, 250, N}, kcut[] = {0, 137, 402, N};
    rt::AttentionOptions o;
    o.lse = true;
    rt::PatternAttention a(rt::load_builtin(c.pattern), o);
    auto shape_of = [&](long long n) {
      rt::AttentionShape s = c.video ? rt::AttentionShape::make_video(1, c.F, c.Hg, c.W, H, D, c.shots)
                                     : rt::AttentionShape::seq(1, (int)N, H, D);
      s.N = (int)n;
      return s;
    };
    const size_t el = (size_t)N * H * D;
    const std::vector<unsigned short> hq = random_bf16(el, 15, 2.f), hk = random_bf16(el, 16, 2.f), hv = random_bf16(el, 17);
    jit::DeviceBuffer q(el * 2), k(el * 2), v(el * 2), whole(el * 2), part(el * 2), lse((size_t)H * N * 4),
        wlse((size_t)H * N * 4);
    q.upload(hq);
    k.upload(hk);
    v.upload(hv);
    auto rows = [&](const jit::DeviceBuffer& b, long long first, long long n) {
      return rt::TensorView::contiguous(b.ptr() + (size_t)first * H * D * 2, rt::DType::BF16, {1, n, H, D});
    };
    CU_CHECK(d.cuMemsetD8Async(whole.ptr(), 0xff, whole.bytes(), nullptr));
    rt::RunOptions wo;
    wo.lse = {wlse.ptr()};
    a.run(rows(q, 0, N), rows(k, 0, N), rows(v, 0, N), rows(whole, 0, N), shape_of(N), nullptr, nullptr, wo);
    // the merge state per (token, head): lse and the output row
    std::vector<double> L((size_t)N * H, -std::numeric_limits<double>::infinity()), acc(el, 0.0);
    long long poisoned = 0;
    for (int qi = 0; qi < 2; ++qi)
      for (int kj = 0; kj < 3; ++kj) {
        const long long q0 = qcut[qi], nq = qcut[qi + 1] - q0, k0 = kcut[kj], nk = kcut[kj + 1] - k0;
        CU_CHECK(d.cuMemsetD8Async(part.ptr(), 0xff, part.bytes(), nullptr));
        CU_CHECK(d.cuMemsetD8Async(lse.ptr(), 0xff, lse.bytes(), nullptr));
        rt::RunOptions ro;
        ro.lse = {lse.ptr()};
        ro.q_offset = q0, ro.kv_offset = k0, ro.seq_tokens = N;
        a.run(rows(q, q0, nq), rows(k, k0, nk), rows(v, k0, nk), rows(part, 0, nq), shape_of(nq), nullptr, nullptr, ro);
        CU_CHECK(d.cuCtxSynchronize());
        std::vector<unsigned short> hp((size_t)nq * H * D);
        std::vector<float> hl((size_t)H * nq);
        CU_CHECK(d.cuMemcpyDtoH(hp.data(), part.ptr(), hp.size() * 2));
        CU_CHECK(d.cuMemcpyDtoH(hl.data(), lse.ptr(), hl.size() * 4));
        std::vector<double> ob(D);
        for (long long t = 0; t < nq; ++t)
          for (int h = 0; h < H; ++h) {
            const double lb = hl[(size_t)h * nq + t];  // lse [B][H][rows]
            for (int e = 0; e < D; ++e) ob[e] = bf16_value(hp[((size_t)t * H + h) * D + e]);
            if (std::isnan(lb)) ++poisoned;
            const size_t r = (size_t)(q0 + t) * H + h;
            lse_merge::merge_row(L[r], acc.data() + r * D, lb, ob.data(), D);
          }
      }
    // the float64 reference of the whole sequence on the same (bf16-rounded) inputs
    std::vector<float> fq(el), fk(el), fv(el);
    for (size_t i = 0; i < el; ++i) fq[i] = (float)bf16_value(hq[i]), fk[i] = (float)bf16_value(hk[i]), fv[i] = (float)bf16_value(hv[i]);
    ref::RefInputs in;
    in.B = 1, in.heads = H, in.head_dim = D, in.N = (int)N;
    if (c.video) in.video = ref::VideoShape{c.F, c.Hg, c.W, c.shots};
    in.q = fq.data(), in.k = fk.data(), in.v = fv.data();
    ref::RefOutput ro_;
    ref::reference_attention<double>(a.spec(), in, ro_);
    std::vector<unsigned short> hw(el);
    CU_CHECK(d.cuMemcpyDtoH(hw.data(), whole.ptr(), el * 2));
    double n_ref = 0, n_whole = 0, den = 0, den_w = 0;
    long long nan = 0;
    for (size_t i = 0; i < el; ++i) {
      const double m = acc[i], w = bf16_value(hw[i]), r = ro_.out[i];
      nan += std::isnan(m) || std::isnan(w);
      n_ref += (m - r) * (m - r), den += r * r;
      n_whole += (m - w) * (m - w), den_w += w * w;
    }
    const double rel_ref = std::sqrt(n_ref / den), rel_whole = std::sqrt(n_whole / den_w);
    std::printf("%s, %lld tokens, 2 query slices x 3 key blocks with offsets, merged by lse: rel L2 %.2e vs the "
                "float64 reference, %.2e vs one call\n",
                c.pattern, N, rel_ref, rel_whole);
    EXPECT_EQ(poisoned, 0) << c.pattern << ": an lse the kernel did not write";
    EXPECT_EQ(nan, 0) << c.pattern;
    EXPECT_LE(rel_ref, 1e-2) << c.pattern;
    EXPECT_LE(rel_whole, 1e-2) << c.pattern;
  }
}

// The gather of Ulysses x ring (RingGpu::gather, docs/distributed.md): one call over the whole sequence with a
// query range (RunOptions::query_begin / query_end) gives, for the range's rows, exactly the rows of the call
// without one (bit for bit: each row's arithmetic is the same), and they match the float64 reference; the
// range's maps left query tiles out (some row outside it differs from the whole call). moga (routed with the
// given routing + STGA + frame-local), stga and causal; ranges that cut tiles and groups, outputs NaN-poisoned.
TEST_F(ParallelGpu, QueryRangeRowsEqualTheWholeCall) {
  const int F = 5, Hg = 12, Wd = 21, H = 2, D = 128, dm = 256;
  const long long N = (long long)F * Hg * Wd;  // 1,260 tokens: not a multiple of a tile
  const size_t el = (size_t)N * H * D, row = (size_t)H * D;
  const jit::Driver& d = jit::driver();
  const std::vector<unsigned short> hq = random_bf16(el, 21, 2.f), hk = random_bf16(el, 22, 2.f), hv = random_bf16(el, 23);
  jit::DeviceBuffer q(el * 2), k(el * 2), v(el * 2), x((size_t)N * dm * 2), w((size_t)dm * 64 * 2), whole(el * 2),
      part(el * 2), gid(N * 4), prob(N * 4);
  q.upload(hq);
  k.upload(hk);
  v.upload(hv);
  x.upload(random_bf16((size_t)N * dm, 24));
  w.upload(random_bf16((size_t)dm * 64, 25, 0.2f));
  std::vector<float> fq(el), fk(el), fv(el);
  for (size_t i = 0; i < el; ++i) fq[i] = (float)bf16_value(hq[i]), fk[i] = (float)bf16_value(hk[i]), fv[i] = (float)bf16_value(hv[i]);
  auto view = [&](const jit::DeviceBuffer& b) { return rt::TensorView::contiguous(b.ptr(), rt::DType::BF16, {1, N, H, D}); };
  const long long ranges[][2] = {{0, 631}, {631, N}, {400, 777}};
  for (const char* name : {"moga", "stga", "causal"}) {
    rt::PatternAttention a(rt::load_builtin(name));
    const bool video = a.spec().layout == ref::Layout::Video;
    const rt::AttentionShape shape = video ? rt::AttentionShape::make_video(1, F, Hg, Wd, H, D, {0, 3})
                                           : rt::AttentionShape::seq(1, (int)N, H, D);
    rt::RouterInputs router;  // routed kernels: the router once, then its routing given (as the ranks get it)
    ref::Grouping g;
    std::vector<const ref::Grouping*> routing(a.spec().kernels.size(), nullptr);
    if (!a.routed_kernels().empty()) {
      const int ki = a.routed_kernels()[0], M = a.spec().kernels[ki].route->groups;
      ASSERT_LE(M, 64);
      rt::RouterInputs r0;
      r0.x = rt::TensorView::contiguous(x.ptr(), rt::DType::BF16, {1, N, dm});
      r0.weights = {rt::TensorView::contiguous(w.ptr(), rt::DType::BF16, {dm, M})};
      a.run(view(q), view(k), view(v), view(whole), shape, &r0, nullptr);
      const auto r = a.last_routing(ki);
      gid.upload(r.gid.data(), N * 4);
      prob.upload(r.prob.data(), N * 4);
      router.routing = {{gid.ptr(), prob.ptr()}};
      g.B = 1, g.N = (int)N, g.M = M, g.gid = r.gid;
      g.prob.assign(r.prob.begin(), r.prob.end());
      routing[ki] = &g;
    }
    const rt::RouterInputs* rp = router.routing.empty() ? nullptr : &router;
    CU_CHECK(d.cuMemsetD8Async(whole.ptr(), 0xff, whole.bytes(), nullptr));
    a.run(view(q), view(k), view(v), view(whole), shape, rp, nullptr);
    ref::RefInputs in;
    in.B = 1, in.heads = H, in.head_dim = D, in.N = video ? 0 : (int)N;
    if (video) in.video = ref::VideoShape{F, Hg, Wd, {0, 3}};
    in.q = fq.data(), in.k = fk.data(), in.v = fv.data();
    in.routing = routing;
    in.threads = 2;
    ref::RefOutput want;
    ref::reference_attention<double>(a.spec(), in, want);
    std::vector<unsigned short> hw(el), hp(el);
    CU_CHECK(d.cuCtxSynchronize());
    whole.download(hw.data(), el * 2);
    for (const auto& [t0, t1] : ranges) {
      CU_CHECK(d.cuMemsetD8Async(part.ptr(), 0xff, part.bytes(), nullptr));
      rt::RunOptions ro;
      ro.query_begin = t0, ro.query_end = t1;
      a.run(view(q), view(k), view(v), view(part), shape, rp, nullptr, ro);
      CU_CHECK(d.cuCtxSynchronize());
      part.download(hp.data(), el * 2);
      long long differ_in = 0, differ_out = 0;
      double num = 0, den = 0;
      for (long long t = 0; t < N; ++t)
        for (size_t e = 0; e < row; ++e) {
          const size_t i = (size_t)t * row + e;
          const bool in_range = t >= t0 && t < t1;
          (in_range ? differ_in : differ_out) += hp[i] != hw[i];
          if (in_range) {
            const double got = bf16_value(hp[i]), r = want.out[i];
            num += (got - r) * (got - r), den += r * r;
          }
        }
      const double rel = std::sqrt(num / den);
      std::printf("%s, %lld tokens, query range [%lld, %lld): %lld of the range's values differ from the whole call, "
                  "rel L2 %.2e vs the float64 reference; %lld values outside differ (tiles left out)\n",
                  name, N, t0, t1, differ_in, rel, differ_out);
      EXPECT_EQ(differ_in, 0) << name << " [" << t0 << ", " << t1 << ")";
      EXPECT_LE(rel, 1e-2) << name << " [" << t0 << ", " << t1 << ")";
      EXPECT_GT(differ_out, 0) << name << " [" << t0 << ", " << t1 << "): no query tile was left out";
    }
    rt::RunOptions bad;  // refused before any launch, naming the range
    bad.query_begin = 5, bad.query_end = N + 1;
    EXPECT_THROW(a.run(view(q), view(k), view(v), view(part), shape, rp, nullptr, bad), rt::ArgumentError);
  }
}

}  // namespace
}  // namespace moga::parallel
