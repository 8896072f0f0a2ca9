// Host tests of kernels_src/cuda/interval.cuh: every operator is checked by brute force on random small
// intervals (for all a in A, b in B, op(a, b) lies in op(A, B); a tri-state answer of true / false holds for
// every pair), the rules that are exact are checked to be exact, and fdiv/fmod follow Python's floor
// semantics for negative operands.
#include <gtest/gtest.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <functional>
#include <random>
#include <vector>

#include "kernels_src/cuda/interval.cuh"

using moga::Ivl;
using moga::Tri;

namespace {

std::mt19937& rng() {
  static std::mt19937 g(20251021);
  return g;
}
Ivl random_ivl(int lo, int hi, int maxw) {
  std::uniform_int_distribution<int> U(lo, hi), W(0, maxw);
  const int a = U(rng());
  return Ivl(a, a + W(rng()));
}
bool contains(Ivl r, long long v) { return r.lo <= v && v <= r.hi; }

// Brute force over all pairs: soundness (every result inside), and exactness when asked (the bounds are
// attained).
void check_binary(const char* name, const std::function<Ivl(Ivl, Ivl)>& ivl_op,
                  const std::function<long long(int, int)>& op, bool exact, int blo, int bhi, int trials = 3000) {
  for (int t = 0; t < trials; ++t) {
    const Ivl A = random_ivl(-40, 40, 12), B = random_ivl(blo, bhi, 6);
    const Ivl R = ivl_op(A, B);
    ASSERT_LE(R.lo, R.hi) << name;
    long long lo = LLONG_MAX, hi = LLONG_MIN;
    for (int a = A.lo; a <= A.hi; ++a)
      for (int b = B.lo; b <= B.hi; ++b) {
        const long long v = op(a, b);
        ASSERT_TRUE(contains(R, v)) << name << ": " << a << " op " << b << " = " << v << " outside [" << R.lo << ", " << R.hi
                                    << "] for A=[" << A.lo << "," << A.hi << "] B=[" << B.lo << "," << B.hi << "]";
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
    if (exact) {
      EXPECT_EQ(R.lo, lo) << name << " A=[" << A.lo << "," << A.hi << "] B=[" << B.lo << "," << B.hi << "]";
      EXPECT_EQ(R.hi, hi) << name << " A=[" << A.lo << "," << A.hi << "] B=[" << B.lo << "," << B.hi << "]";
    }
  }
}

// Tri-state comparisons: true only if every pair is true, false only if every pair is false; `exact` also
// demands that a uniform answer is reported as such (no needless unknown).
void check_compare(const char* name, const std::function<Tri(Ivl, Ivl)>& ivl_op, const std::function<bool(int, int)>& op,
                   bool exact) {
  for (int t = 0; t < 5000; ++t) {
    const Ivl A = random_ivl(-10, 10, 4), B = random_ivl(-10, 10, 4);
    const Tri r = ivl_op(A, B);
    ASSERT_LE(r.v, 2) << name;
    bool any_t = false, any_f = false;
    for (int a = A.lo; a <= A.hi; ++a)
      for (int b = B.lo; b <= B.hi; ++b) (op(a, b) ? any_t : any_f) = true;
    if (r.is_true()) {
      EXPECT_FALSE(any_f) << name;
    }
    if (r.is_false()) {
      EXPECT_FALSE(any_t) << name;
    }
    if (exact) {
      if (!any_f) {
        EXPECT_TRUE(r.is_true()) << name << " A=[" << A.lo << "," << A.hi << "] B=[" << B.lo << "," << B.hi << "]";
      }
      if (!any_t) {
        EXPECT_TRUE(r.is_false()) << name << " A=[" << A.lo << "," << A.hi << "] B=[" << B.lo << "," << B.hi << "]";
      }
    }
  }
}

// The three tri-states as sets of booleans.
std::vector<bool> members(Tri t) {
  if (t.is_true()) return {true};
  if (t.is_false()) return {false};
  return {false, true};
}
const Tri kAll[3] = {Tri(false), Tri(true), Tri::unknown()};

}  // namespace

TEST(Interval, FloorDivisionAndModuloOfIntegers) {
  // Python: -7 // 2 == -4, -7 % 2 == 1, 7 // -2 == -4, 7 % -2 == -1, -7 // -2 == 3, -7 % -2 == -1
  EXPECT_EQ(moga::fdiv(-7, 2), -4);
  EXPECT_EQ(moga::fmod(-7, 2), 1);
  EXPECT_EQ(moga::fdiv(7, -2), -4);
  EXPECT_EQ(moga::fmod(7, -2), -1);
  EXPECT_EQ(moga::fdiv(-7, -2), 3);
  EXPECT_EQ(moga::fmod(-7, -2), -1);
  EXPECT_EQ(moga::fdiv(-8, 2), -4);
  EXPECT_EQ(moga::fmod(-8, 2), 0);
  EXPECT_EQ(moga::fdiv(0, -3), 0);
  EXPECT_EQ(moga::fmod(0, -3), 0);
  for (int a = -60; a <= 60; ++a)
    for (int b = -9; b <= 9; ++b) {
      if (b == 0) continue;
      const int q = (int)std::floor((double)a / b);
      ASSERT_EQ(moga::fdiv(a, b), q) << a << " // " << b;
      const int m = moga::fmod(a, b);
      ASSERT_EQ(m, a - q * b) << a << " % " << b;
      ASSERT_TRUE(b > 0 ? (m >= 0 && m < b) : (m <= 0 && m > b)) << a << " % " << b << " has the divisor's sign";
    }
}

// The codegen's strength reduction of `/ 2^k` and `% 2^k` (fdiv_p2 / fmod_p2: a shift and a mask on
// elements) keeps floor semantics for negative operands, and on intervals stays the general rule.
template <int K>
void expect_power_of_two_forms() {
  for (int a = -300; a <= 300; ++a) {
    ASSERT_EQ(moga::fdiv_p2<K>(a), moga::fdiv(a, 1 << K)) << a << " // " << (1 << K);
    ASSERT_EQ(moga::fmod_p2<K>(a), moga::fmod(a, 1 << K)) << a << " % " << (1 << K);
  }
  for (int lo = -40; lo <= 40; lo += 7)
    for (int hi = lo; hi <= lo + 50; hi += 9) {
      const moga::Ivl a(lo, hi);
      const moga::Ivl d = moga::fdiv_p2<K>(a), m = moga::fmod_p2<K>(a);
      const moga::Ivl gd = moga::fdiv(a, moga::Ivl(1 << K)), gm = moga::fmod(a, moga::Ivl(1 << K));
      ASSERT_TRUE(d.lo == gd.lo && d.hi == gd.hi && m.lo == gm.lo && m.hi == gm.hi) << "[" << lo << ", " << hi << "]";
      for (int x = lo; x <= hi; ++x)  // sound: every element's value lies in the interval
        ASSERT_TRUE(d.lo <= moga::fdiv_p2<K>(x) && moga::fdiv_p2<K>(x) <= d.hi && m.lo <= moga::fmod_p2<K>(x) &&
                    moga::fmod_p2<K>(x) <= m.hi)
            << x << " in [" << lo << ", " << hi << "]";
    }
}

TEST(Interval, PowerOfTwoDivisionAndModulo) {
  expect_power_of_two_forms<1>();
  expect_power_of_two_forms<2>();
  expect_power_of_two_forms<5>();
}

TEST(Interval, ElementHelpers) {
  EXPECT_EQ(moga::imin(3, -2), -2);
  EXPECT_EQ(moga::imax(3, -2), 3);
  EXPECT_EQ(moga::iabs(-5), 5);
  EXPECT_TRUE(moga::land(true, true));
  EXPECT_FALSE(moga::land(true, false));
  EXPECT_TRUE(moga::lor(false, true));
  EXPECT_TRUE(moga::lnot(false));
  EXPECT_EQ(moga::select(true, 4, 7), 4);
  EXPECT_EQ(moga::select(false, 4, 7), 7);
}

TEST(Interval, Arithmetic) {
  check_binary("+", [](Ivl a, Ivl b) { return a + b; }, [](int a, int b) { return (long long)a + b; }, true, -40, 40);
  check_binary("-", [](Ivl a, Ivl b) { return a - b; }, [](int a, int b) { return (long long)a - b; }, true, -40, 40);
  check_binary("*", [](Ivl a, Ivl b) { return a * b; }, [](int a, int b) { return (long long)a * b; }, true, -40, 40);
  check_binary("imin", [](Ivl a, Ivl b) { return moga::imin(a, b); }, [](int a, int b) { return (long long)std::min(a, b); },
               true, -40, 40);
  check_binary("imax", [](Ivl a, Ivl b) { return moga::imax(a, b); }, [](int a, int b) { return (long long)std::max(a, b); },
               true, -40, 40);
  // mixed with constants (implicit Ivl(int))
  const Ivl a(3, 9);
  const Ivl r = a * 2 - 1;
  EXPECT_EQ(r.lo, 5);
  EXPECT_EQ(r.hi, 17);
}

TEST(Interval, UnaryMinusAndAbs) {
  for (int t = 0; t < 3000; ++t) {
    const Ivl A = random_ivl(-40, 40, 15);
    const Ivl n = -A, ab = moga::iabs(A);
    int nlo = INT_MAX, nhi = INT_MIN, alo = INT_MAX, ahi = INT_MIN;
    for (int a = A.lo; a <= A.hi; ++a) {
      nlo = std::min(nlo, -a), nhi = std::max(nhi, -a);
      alo = std::min(alo, std::abs(a)), ahi = std::max(ahi, std::abs(a));
    }
    ASSERT_EQ(n.lo, nlo);
    ASSERT_EQ(n.hi, nhi);
    ASSERT_EQ(ab.lo, alo);
    ASSERT_EQ(ab.hi, ahi);
  }
  // negating the most negative int must not wrap around
  const Ivl m = -Ivl(INT_MIN, INT_MIN + 5);
  EXPECT_GT(m.lo, 0);
  EXPECT_LE(m.lo, m.hi);
}

TEST(Interval, FloorDivisionOfIntervals) {
  // positive divisor: exact (monotone, extremes at the corners), dividends of both signs
  check_binary("fdiv(+)", [](Ivl a, Ivl b) { return moga::fdiv(a, b); },
               [](int a, int b) { return (long long)moga::fdiv(a, b); }, true, 1, 12);
  // divisor that may be zero or negative: still sound (whole range); zero itself is skipped
  for (int t = 0; t < 2000; ++t) {
    const Ivl A = random_ivl(-40, 40, 12), B = random_ivl(-8, 8, 6);
    const Ivl R = moga::fdiv(A, B);
    for (int a = A.lo; a <= A.hi; ++a)
      for (int b = B.lo; b <= B.hi; ++b)
        if (b != 0) {
          ASSERT_TRUE(contains(R, moga::fdiv(a, b)));
        }
  }
}

TEST(Interval, ModuloOfIntervals) {
  check_binary("fmod(+)", [](Ivl a, Ivl b) { return moga::fmod(a, b); },
               [](int a, int b) { return (long long)moga::fmod(a, b); }, false, 1, 12);
  for (int t = 0; t < 2000; ++t) {
    const Ivl A = random_ivl(-40, 40, 12), B = random_ivl(-8, 8, 6);
    const Ivl R = moga::fmod(A, B);
    for (int a = A.lo; a <= A.hi; ++a)
      for (int b = B.lo; b <= B.hi; ++b)
        if (b != 0) {
          ASSERT_TRUE(contains(R, moga::fmod(a, b)));
        }
  }
  // exact inside one period of a single positive divisor, negative dividends included
  const Ivl r1 = moga::fmod(Ivl(-7, -5), Ivl(4));  // -7 % 4 = 1, -5 % 4 = 3
  EXPECT_EQ(r1.lo, 1);
  EXPECT_EQ(r1.hi, 3);
  const Ivl r2 = moga::fmod(Ivl(-5, -3), Ivl(4));  // crosses a period: 3, 0, 1
  EXPECT_EQ(r2.lo, 0);
  EXPECT_EQ(r2.hi, 3);
}

TEST(Interval, Comparisons) {
  check_compare("<", [](Ivl a, Ivl b) { return a < b; }, [](int a, int b) { return a < b; }, true);
  check_compare(">", [](Ivl a, Ivl b) { return a > b; }, [](int a, int b) { return a > b; }, true);
  check_compare("<=", [](Ivl a, Ivl b) { return a <= b; }, [](int a, int b) { return a <= b; }, true);
  check_compare(">=", [](Ivl a, Ivl b) { return a >= b; }, [](int a, int b) { return a >= b; }, true);
  check_compare("==", [](Ivl a, Ivl b) { return a == b; }, [](int a, int b) { return a == b; }, true);
  check_compare("!=", [](Ivl a, Ivl b) { return a != b; }, [](int a, int b) { return a != b; }, true);
  // against constants
  EXPECT_TRUE((Ivl(3, 5) < 6).is_true());
  EXPECT_TRUE((Ivl(3, 5) >= 3).is_true());
  EXPECT_EQ((Ivl(3, 5) == 4).v, 2);
  EXPECT_TRUE((Ivl(4) == 4).is_true());
}

TEST(Interval, KleeneLogic) {
  for (Tri a : kAll) {
    {
      const Tri n = moga::lnot(a);
      std::vector<bool> got;
      for (bool x : members(a)) got.push_back(!x);
      const auto m = members(n);
      for (bool g : got) EXPECT_NE(std::find(m.begin(), m.end(), g), m.end());
      EXPECT_EQ(m.size(), got.size());  // exact
    }
    for (Tri b : kAll) {
      const Tri rl = moga::land(a, b), ro = moga::lor(a, b);
      bool and_t = false, and_f = false, or_t = false, or_f = false;
      for (bool x : members(a))
        for (bool y : members(b)) {
          (x && y ? and_t : and_f) = true;
          (x || y ? or_t : or_f) = true;
        }
      // sound and exact: the result is exactly the set of outcomes
      EXPECT_EQ(rl.is_true(), and_t && !and_f);
      EXPECT_EQ(rl.is_false(), and_f && !and_t);
      EXPECT_EQ(ro.is_true(), or_t && !or_f);
      EXPECT_EQ(ro.is_false(), or_f && !or_t);
    }
  }
  // mixing bool and Tri goes through Tri(bool)
  EXPECT_TRUE(moga::land(Tri(true), true).is_true());
  EXPECT_TRUE(moga::lor(Tri::unknown(), true).is_true());
  EXPECT_EQ(moga::land(Tri::unknown(), true).v, 2);
}

TEST(Interval, Select) {
  for (int t = 0; t < 2000; ++t) {
    const Ivl A = random_ivl(-20, 20, 6), B = random_ivl(-20, 20, 6);
    for (Tri c : kAll) {
      const Ivl R = moga::select(c, A, B);
      for (bool x : members(c)) {
        const Ivl src = x ? A : B;
        for (int v = src.lo; v <= src.hi; ++v) ASSERT_TRUE(contains(R, v));
      }
    }
  }
  for (Tri c : kAll)
    for (Tri a : kAll)
      for (Tri b : kAll) {
        const Tri r = moga::select(c, a, b);
        bool any_t = false, any_f = false;
        for (bool x : members(c))
          for (bool v : members(x ? a : b)) (v ? any_t : any_f) = true;
        EXPECT_EQ(r.is_true(), any_t && !any_f);
        EXPECT_EQ(r.is_false(), any_f && !any_t);
      }
}

TEST(Interval, NoWrapAround) {
  const int big = 2000000000;
  const Ivl s = Ivl(big) + Ivl(big);
  EXPECT_EQ(s.lo, 2147483647);
  const Ivl d = Ivl(-big) - Ivl(big);
  EXPECT_EQ(d.hi, -2147483647);
  const Ivl p = Ivl(-big, big) * Ivl(-big, big);
  EXPECT_EQ(p.lo, -2147483647);
  EXPECT_EQ(p.hi, 2147483647);
  const Ivl q = moga::fdiv(Ivl(-big, big), Ivl(0, 3));  // divisor may be 0: whole range
  EXPECT_LE(q.lo, -big);
  EXPECT_GE(q.hi, big);
}

// A composite, mask-shaped expression: the interval evaluation must contain every element value.
TEST(Interval, CompositeExpressionIsSound) {
  for (int t = 0; t < 400; ++t) {
    const Ivl qf = random_ivl(0, 20, 4), kf = random_ivl(0, 20, 4), qr = random_ivl(0, 29, 3), kr = random_ivl(0, 29, 3);
    auto expr = [](auto qf, auto kf, auto qr, auto kr) {
      using moga::fdiv;
      using moga::iabs;
      using moga::land;
      using moga::lor;
      return lor(land(fdiv(qf, 4) == fdiv(kf, 4), iabs(qr - kr) <= 2), kf < qf - 5);
    };
    const Tri r = expr(qf, kf, qr, kr);
    for (int a = qf.lo; a <= qf.hi; ++a)
      for (int b = kf.lo; b <= kf.hi; ++b)
        for (int c = qr.lo; c <= qr.hi; ++c)
          for (int d = kr.lo; d <= kr.hi; ++d) {
            const bool v = expr(a, b, c, d);
            if (r.is_true()) {
              ASSERT_TRUE(v);
            }
            if (r.is_false()) {
              ASSERT_FALSE(v);
            }
          }
  }
}
