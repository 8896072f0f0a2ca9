// Interval arithmetic with a tri-state boolean: the block classification of a mask expression.
//
// The codegen emits every mask once, generic over its value domain. Instantiated with `int`/`bool` it
// is the element mask; instantiated with `Ivl`/`Tri` and the coordinate intervals of a query tile and a
// key tile it answers, for the whole tile pair: always false (empty tile), always true (full tile) or
// unknown (partial tile). Every rule below is sound (the true value of any element of the tile pair lies
// in the interval); precision only decides how many tiles end up partial. Host and device share it.
// NVRTC-compatible: no host standard headers.
#pragma once

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define MOGA_HD __host__ __device__
#else
#define MOGA_HD
#endif

namespace moga {

// ---- element level: floor division and modulo (Python semantics, as the DSL defines them) --------
MOGA_HD inline int fdiv(int a, int b) {
  const int q = a / b;
  return (q * b != a && ((a < 0) != (b < 0))) ? q - 1 : q;
}
MOGA_HD inline int fmod(int a, int b) { return a - fdiv(a, b) * b; }
MOGA_HD inline int imin(int a, int b) { return a < b ? a : b; }
MOGA_HD inline int imax(int a, int b) { return a > b ? a : b; }
MOGA_HD inline int iabs(int a) { return a < 0 ? -a : a; }
MOGA_HD inline bool land(bool a, bool b) { return a && b; }
MOGA_HD inline bool lor(bool a, bool b) { return a || b; }
MOGA_HD inline bool lnot(bool a) { return !a; }
template <class T> MOGA_HD inline T select(bool c, T a, T b) { return c ? a : b; }
// v as a float, exactly, for |v| < 2^22 (attn-plan-score's bound on the bias's column values): one
// integer add and one float add (full rate) instead of I2F (a quarter-rate conversion), via the float
// 1.5 * 2^23 whose unit in the last place is 1.
MOGA_HD inline float i2f_exact(int v) {
#if defined(__CUDA_ARCH__) || defined(__CUDACC_RTC__)  // device code (nvcc's host pass has __CUDACC__ too)
  return __int_as_float(0x4B400000 + v) - 12582912.0f;
#else
  return static_cast<float>(v);
#endif
}

// ---- tile level ----------------------------------------------------------------------------------
struct Tri {  // Kleene logic: 0 false, 1 true, 2 unknown
  unsigned char v;
  MOGA_HD Tri(bool b = false) : v(b ? 1 : 0) {}
  MOGA_HD static Tri unknown() { Tri t; t.v = 2; return t; }
  MOGA_HD bool is_false() const { return v == 0; }
  MOGA_HD bool is_true() const { return v == 1; }
};
MOGA_HD inline Tri land(Tri a, Tri b) {
  if (a.is_false() || b.is_false()) return Tri(false);
  if (a.is_true() && b.is_true()) return Tri(true);
  return Tri::unknown();
}
MOGA_HD inline Tri lor(Tri a, Tri b) {
  if (a.is_true() || b.is_true()) return Tri(true);
  if (a.is_false() && b.is_false()) return Tri(false);
  return Tri::unknown();
}
MOGA_HD inline Tri lnot(Tri a) { return a.v == 2 ? a : Tri(a.v == 0); }

struct Ivl {  // closed integer interval [lo, hi]
  int lo, hi;
  MOGA_HD Ivl(int c = 0) : lo(c), hi(c) {}
  MOGA_HD Ivl(int l, int h) : lo(l), hi(h) {}
};

// Products and quotients are formed in 64 bits and clamped, so no tile bound can wrap around.
MOGA_HD inline int clamp32(long long x) {
  return x > 2147483647LL ? 2147483647 : (x < -2147483647LL ? -2147483647 : (int)x);
}
MOGA_HD inline Ivl operator+(Ivl a, Ivl b) { return Ivl(clamp32((long long)a.lo + b.lo), clamp32((long long)a.hi + b.hi)); }
MOGA_HD inline Ivl operator-(Ivl a, Ivl b) { return Ivl(clamp32((long long)a.lo - b.hi), clamp32((long long)a.hi - b.lo)); }
MOGA_HD inline Ivl operator-(Ivl a) { return Ivl(clamp32(-(long long)a.hi), clamp32(-(long long)a.lo)); }  // -INT_MIN clamps
MOGA_HD inline Ivl operator*(Ivl a, Ivl b) {
  long long p[4] = {(long long)a.lo * b.lo, (long long)a.lo * b.hi, (long long)a.hi * b.lo, (long long)a.hi * b.hi};
  long long lo = p[0], hi = p[0];
  for (int i = 1; i < 4; ++i) { lo = p[i] < lo ? p[i] : lo; hi = p[i] > hi ? p[i] : hi; }
  return Ivl(clamp32(lo), clamp32(hi));
}
MOGA_HD inline Ivl imin(Ivl a, Ivl b) { return Ivl(imin(a.lo, b.lo), imin(a.hi, b.hi)); }
MOGA_HD inline Ivl imax(Ivl a, Ivl b) { return Ivl(imax(a.lo, b.lo), imax(a.hi, b.hi)); }
MOGA_HD inline Ivl iabs(Ivl a) {
  if (a.lo >= 0) return a;
  if (a.hi <= 0) return -a;
  return Ivl(0, imax(-a.lo, a.hi));
}
// Floor division is monotone in the dividend for a positive divisor, and monotone in the divisor
// for a dividend of one sign: the extremes lie at the corners. A divisor that may be zero or negative
// gives the whole range (still sound; the DSL divides by positive sizes in practice).
MOGA_HD inline Ivl fdiv(Ivl a, Ivl b) {
  if (b.lo <= 0) return Ivl(-2147483647, 2147483647);
  int c[4] = {fdiv(a.lo, b.lo), fdiv(a.lo, b.hi), fdiv(a.hi, b.lo), fdiv(a.hi, b.hi)};
  int lo = c[0], hi = c[0];
  for (int i = 1; i < 4; ++i) { lo = imin(lo, c[i]); hi = imax(hi, c[i]); }
  return Ivl(lo, hi);
}
// Exact when the divisor is one positive value and the dividend stays within one period.
MOGA_HD inline Ivl fmod(Ivl a, Ivl b) {
  if (b.lo <= 0) return Ivl(-2147483647, 2147483647);
  if (b.lo == b.hi && fdiv(a.lo, b.lo) == fdiv(a.hi, b.lo)) return Ivl(fmod(a.lo, b.lo), fmod(a.hi, b.lo));
  return Ivl(0, b.hi - 1);
}
// Floor division and modulo by the constant 2^K (the codegen's strength reduction of a mask's `/` and `%`):
// on elements an arithmetic shift and a mask (floor semantics for either sign), on intervals the rules above.
template <int K> MOGA_HD inline int fdiv_p2(int a) { return a >> K; }
template <int K> MOGA_HD inline int fmod_p2(int a) { return a & ((1 << K) - 1); }
template <int K> MOGA_HD inline Ivl fdiv_p2(Ivl a) { return fdiv(a, Ivl(1 << K)); }
template <int K> MOGA_HD inline Ivl fmod_p2(Ivl a) { return fmod(a, Ivl(1 << K)); }
MOGA_HD inline Tri operator<(Ivl a, Ivl b) {
  if (a.hi < b.lo) return Tri(true);
  if (a.lo >= b.hi) return Tri(false);
  return Tri::unknown();
}
MOGA_HD inline Tri operator>(Ivl a, Ivl b) { return b < a; }
MOGA_HD inline Tri operator<=(Ivl a, Ivl b) { return lnot(b < a); }
MOGA_HD inline Tri operator>=(Ivl a, Ivl b) { return lnot(a < b); }
MOGA_HD inline Tri operator==(Ivl a, Ivl b) {
  if (a.hi < b.lo || b.hi < a.lo) return Tri(false);
  if (a.lo == a.hi && b.lo == b.hi) return Tri(true);
  return Tri::unknown();
}
MOGA_HD inline Tri operator!=(Ivl a, Ivl b) { return lnot(a == b); }
MOGA_HD inline Ivl select(Tri c, Ivl a, Ivl b) {
  if (c.is_true()) return a;
  if (c.is_false()) return b;
  return Ivl(imin(a.lo, b.lo), imax(a.hi, b.hi));
}
MOGA_HD inline Tri select(Tri c, Tri a, Tri b) {
  if (c.is_true()) return a;
  if (c.is_false()) return b;
  return a.v == b.v ? a : Tri::unknown();
}

}  // namespace moga
