// RouterBackward (runtime/attention/router_backward.h: the three products on cuBLASLt, dl split into bf16 hi + lo)
// on its own, from synthetic inputs: random bf16-exact x and W, a random routing of k distinct groups per token, a
// random float32 gate gradient (or none: the balance loss alone), against the float64 reference of the router's
// gradient (ref::reference_router_backward, what the reference backward's router pass runs).
// Shapes: M = 5, 16, 64, 256; top 1, 2 and 8; token counts no multiple of 8 or 128 (odd ones included) and up to
// 4,099 (cuBLASLt's split-K over the tokens); d_model 8 .. 1536 including multiples of 8 that are no multiple of
// 64; x with padded rows; W contiguous [d][M], stored [M][d] (strides {1, d}) and with padded rows; with and
// without the balance loss; accumulate_dx on (dx preloaded with random values: what is added must be the
// reference's dx) and off; dlogits given or not.
// Pass criteria: relative L2 ||gpu - ref|| / ||ref|| <= 1e-4 for dlogits (float32 logits from exact bf16
// products, __expf), <= 1e-3 for dx and dW (bf16 hi + lo keeps dl to ~2^-17; float32 accumulation over T); the
// balance loss within 1e-4 relative; outputs poisoned with NaN bytes before every run and no NaN left; a second
// run bit-identical. Without a device every test SKIPs loudly.
#include <gtest/gtest.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "runtime/attention/router_backward.h"
#include "runtime/attention/bf16.h"
#include "runtime/jit/check.h"
#include "runtime/jit/driver.h"
#include "runtime/jit/module.h"
#include "runtime/reference/backward.h"

using namespace moga;
using namespace moga::rt;

namespace {

constexpr double kDlogitsTol = 1e-4, kProductTol = 1e-3, kLossTol = 1e-4;
constexpr double kBalanceWeight = 0.1;


double rel_l2(const std::vector<float>& got, const std::vector<double>& ref) {
  double e = 0, r = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    e += (got[i] - ref[i]) * (got[i] - ref[i]);
    r += ref[i] * ref[i];
  }
  return r > 0 ? std::sqrt(e / r) : std::sqrt(e);
}

long long nans(const std::vector<float>& v) {
  return std::count_if(v.begin(), v.end(), [](float x) { return std::isnan(x); });
}

enum class WLayout { Contiguous, Transposed, Padded };

struct Case {
  int B, N, d, M, k;
  bool balance, accumulate, dgate = true, dlogits = true;
  WLayout w = WLayout::Contiguous;
  int x_pad = 0;  // extra elements per token row of x (a multiple of 8)
  std::string describe() const {
    static const char* wl[] = {"[d][M]", "[M][d]", "[d][M+5]"};
    return fmt::format("B {} N {} (T {}) d {} M {} top {}{}{}{} W {}{}", B, N, B * N, d, M, k,
                       balance ? " balance" : "", accumulate ? " accumulate_dx" : "", dgate ? "" : " no dgate",
                       dlogits ? "" : " no dlogits", wl[(int)w], x_pad ? fmt::format(" x rows +{}", x_pad) : "");
  }
};

class gpu_router_backward : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!jit::device_available(&why)) GTEST_SKIP() << "no CUDA device: " << why;
    jit::Device::get().make_current();
  }

  void check(const Case& c) {
    SCOPED_TRACE(c.describe());
    const long long T = (long long)c.B * c.N;
    const int d = c.d, M = c.M, K = c.k, xs = c.d + c.x_pad;
    std::mt19937_64 rng(0x5eed ^ std::hash<std::string>{}(c.describe()));
    std::uniform_real_distribution<float> U(-1.f, 1.f);
    // x [T][xs] (the padding holds garbage bf16, never read), W [d][M] row-major for the reference
    std::vector<float> x((size_t)T * d), w((size_t)d * M);
    std::vector<unsigned short> xh((size_t)T * xs, 0x7fc0);
    for (long long t = 0; t < T; ++t)
      for (int i = 0; i < d; ++i) {
        const unsigned short h = f2bf(U(rng));
        xh[t * xs + i] = h, x[t * d + i] = bf2f(h);
      }
    for (float& e : w) e = bf2f(f2bf(3.f / std::sqrt((float)d) * U(rng)));
    // W as stored on the device
    std::vector<unsigned short> wh;
    TensorView wv;
    std::unique_ptr<jit::DeviceBuffer> wd;
    const int wpad = M + 5;
    if (c.w == WLayout::Contiguous) {
      wh.resize((size_t)d * M);
      for (size_t e = 0; e < wh.size(); ++e) wh[e] = f2bf(w[e]);
    } else if (c.w == WLayout::Transposed) {
      wh.resize((size_t)d * M);
      for (int i = 0; i < d; ++i)
        for (int m = 0; m < M; ++m) wh[(size_t)m * d + i] = f2bf(w[(size_t)i * M + m]);
    } else {
      wh.assign((size_t)d * wpad, 0x7fc0);
      for (int i = 0; i < d; ++i)
        for (int m = 0; m < M; ++m) wh[(size_t)i * wpad + m] = f2bf(w[(size_t)i * M + m]);
    }
    wd = std::make_unique<jit::DeviceBuffer>(wh.size() * 2);
    wd->upload(wh);
    if (c.w == WLayout::Contiguous) wv = TensorView::contiguous(wd->ptr(), DType::BF16, {d, M});
    else if (c.w == WLayout::Transposed) wv = TensorView::strided(wd->ptr(), DType::BF16, {d, M}, {1, d});
    else wv = TensorView::strided(wd->ptr(), DType::BF16, {d, M}, {wpad, 1});
    // routing: k distinct groups per token; dgate per entry
    std::vector<int> gid((size_t)T * K);
    std::vector<float> dg((size_t)T * K);
    std::vector<int> perm(M);
    for (long long t = 0; t < T; ++t) {
      for (int m = 0; m < M; ++m) perm[m] = m;
      for (int j = 0; j < K; ++j) {
        std::swap(perm[j], perm[j + (int)(rng() % (unsigned)(M - j))]);
        gid[t * K + j] = perm[j];
        dg[t * K + j] = U(rng);
      }
    }
    // the float64 reference (dx: what the call adds)
    std::vector<double> rdl, rdw, rdx((size_t)T * d, 0.0), dgd(dg.begin(), dg.end());
    double rloss = 0;
    ref::reference_router_backward(x.data(), w.data(), T, d, M, K, gid.data(), c.dgate ? dgd.data() : nullptr,
                                   c.balance, kBalanceWeight, 0, rdl, rdw, rdx.data(), &rloss);
    // accumulate_dx: dx preloaded with values of the size of what is added (its float32 rounding stays ~1e-7
    // of that, whatever the gradient's scale: the balance loss alone is ~1e-6)
    std::vector<float> dx0((size_t)T * d, 0.f);
    if (c.accumulate) {
      double ss = 0;
      for (double e : rdx) ss += e * e;
      const float rms = (float)std::sqrt(ss / rdx.size());
      for (float& e : dx0) e = 2.f * rms * U(rng);
    }

    jit::DeviceBuffer xd(xh.size() * 2), gd(gid.size() * 4), prob(gid.size() * 4), dgd_dev(dg.size() * 4),
        dx((size_t)T * d * 4), dw((size_t)d * M * 4), dl((size_t)T * M * 4), loss(16);
    xd.upload(xh);
    gd.upload(gid);
    dgd_dev.upload(dg);
    prob.fill_bytes(0xff);  // not read
    RouterBackwardOptions o;
    o.balance_weight = c.balance ? kBalanceWeight : 0;
    RouterBackward rb(M, K, o);
    RouterBackwardArgs a;
    a.x = TensorView::strided(xd.ptr(), DType::BF16, {c.B, c.N, d}, {(int64_t)c.N * xs, xs, 1});
    a.w = wv;
    a.routing = {gd.ptr(), prob.ptr()};
    a.dgate = c.dgate ? dgd_dev.ptr() : 0;
    a.dx = dx.ptr(), a.dw = dw.ptr();
    a.dlogits = c.dlogits ? dl.ptr() : 0;
    a.balance_loss = c.balance ? loss.ptr() : 0;
    a.accumulate_dx = c.accumulate;

    std::vector<float> first;
    for (int run = 0; run < 2; ++run) {
      for (jit::DeviceBuffer* b : {&dw, &dl, &loss}) b->fill_bytes(0xff);
      if (c.accumulate) dx.upload(dx0);
      else dx.fill_bytes(0xff);
      rb.run(a, nullptr);
      CU_CHECK(jit::driver().cuCtxSynchronize());
      std::vector<float> gdx((size_t)T * d), gdw((size_t)d * M), gdl((size_t)T * M);
      dx.download(gdx.data(), gdx.size() * 4);
      dw.download(gdw.data(), gdw.size() * 4);
      EXPECT_EQ(nans(gdx), 0) << "dx: NaN left (poison) or computed";
      EXPECT_EQ(nans(gdw), 0) << "dW: NaN left (poison) or computed";
      std::vector<float> all = gdw;
      all.insert(all.end(), gdx.begin(), gdx.end());
      if (c.accumulate)  // what was added
        for (size_t e = 0; e < gdx.size(); ++e) gdx[e] -= dx0[e];
      const double edx = rel_l2(gdx, rdx), edw = rel_l2(gdw, rdw);
      EXPECT_LE(edx, kProductTol) << "dx relative L2 vs the float64 reference";
      EXPECT_LE(edw, kProductTol) << "dW relative L2 vs the float64 reference";
      double edl = 0;
      if (c.dlogits) {
        dl.download(gdl.data(), gdl.size() * 4);
        EXPECT_EQ(nans(gdl), 0) << "dlogits: NaN left (poison) or computed";
        edl = rel_l2(gdl, rdl);
        EXPECT_LE(edl, kDlogitsTol) << "dlogits relative L2 vs the float64 reference";
        all.insert(all.end(), gdl.begin(), gdl.end());
      }
      float lv = 0;
      if (c.balance) {
        loss.download(&lv, 4);
        EXPECT_NEAR(lv, rloss, kLossTol * std::fabs(rloss)) << "balance loss vs the reference";
        all.push_back(lv);
      }
      if (run == 0) {
        std::cout << fmt::format("  {}: rel L2 dx {:.2e} dW {:.2e}{}{}\n", c.describe(), edx, edw,
                                 c.dlogits ? fmt::format(" dlogits {:.2e}", edl) : "",
                                 c.balance ? fmt::format(", loss {:.6f} (reference {:.6f})", lv, rloss) : "");
        first = all;
      } else {
        EXPECT_TRUE(first.size() == all.size() && std::memcmp(first.data(), all.data(), all.size() * 4) == 0)
            << "two RouterBackward runs gave different bits";
      }
    }
  }
};

TEST_F(gpu_router_backward, M16) {
  check({1, 1000, 256, 16, 1, true, false});
  check({3, 111, 200, 16, 2, true, true});                                   // T = 333, d no multiple of 64
  check({1, 4099, 1536, 16, 1, true, false, true, false});                   // the bench's d_model, no dlogits
  check({2, 2050, 1536, 16, 1, false, true, true, true, WLayout::Transposed});
}

TEST_F(gpu_router_backward, M64) {
  check({1, 777, 72, 64, 2, false, true, true, true, WLayout::Transposed});
  check({2, 301, 512, 64, 1, true, false, true, true, WLayout::Padded, 8});  // x rows padded
}

TEST_F(gpu_router_backward, M256) {
  check({1, 513, 136, 256, 1, true, false, true, true, WLayout::Transposed});
  check({1, 129, 8, 256, 8, false, true});                                  // d_model 8, top 8
  check({1, 1031, 1024, 256, 2, true, true, true, true, WLayout::Padded});
}

// M = 5 (the shipped moga's router): the padded leading dimensions (logits rows of 8, [hi | lo] rows of 16).
TEST_F(gpu_router_backward, SmallM) {
  check({3, 1, 64, 5, 1, true, false});
  check({1, 1001, 328, 5, 2, true, true, true, true, WLayout::Padded, 16});
}

// dgate 0: the balance loss alone.
TEST_F(gpu_router_backward, BalanceLossAlone) {
  check({1, 301, 128, 4, 1, true, false, false});
  check({2, 257, 96, 16, 2, true, true, false, false, WLayout::Transposed});
}

}  // namespace
