// The element-level and tile-level evaluators of manifest programs (program.h).
#include "runtime/reference/program.h"

#include <cmath>
#include <limits>

namespace moga::ref {

// ---- Shape ------------------------------------------------------------------------------------------

Shape Shape::seq(int N) {
  if (N < 1) throw std::invalid_argument("shape: N = " + std::to_string(N) + " (must be >= 1)");
  Shape s;
  s.ms_ = MaskShape{N, 1, 1, N, nullptr, nullptr};
  s.bind();
  return s;
}

Shape Shape::video(const VideoShape& v) {
  if (v.F < 1 || v.H < 1 || v.W < 1)
    throw std::invalid_argument("shape: F x H x W = " + std::to_string(v.F) + " x " + std::to_string(v.H) + " x " +
                                std::to_string(v.W) + " (each must be >= 1)");
  const long long n = (long long)v.F * v.H * v.W;
  if (n > 2147483647LL) throw std::invalid_argument("shape: F*H*W does not fit in 32 bits");
  Shape s;
  s.ms_ = MaskShape{(int)n, v.F, v.H, v.W, nullptr, nullptr};
  if (!v.shot_starts.empty()) {
    if (v.shot_starts[0] != 0) throw std::invalid_argument("shape: the first shot must start at frame 0");
    for (size_t i = 1; i < v.shot_starts.size(); ++i)
      if (v.shot_starts[i] <= v.shot_starts[i - 1])
        throw std::invalid_argument("shape: shot starts must be strictly increasing");
    if (v.shot_starts.back() >= v.F)
      throw std::invalid_argument("shape: shot start " + std::to_string(v.shot_starts.back()) + " is not a frame (F = " +
                                  std::to_string(v.F) + ")");
    s.shot_first_ = v.shot_starts;
    s.shot_first_.push_back(v.F);
    s.shot_of_frame_.resize(v.F);
    for (int sh = 0; sh + 1 < (int)s.shot_first_.size(); ++sh)
      for (int f = s.shot_first_[sh]; f < s.shot_first_[sh + 1]; ++f) s.shot_of_frame_[f] = sh;
  }
  s.bind();
  return s;
}

namespace {

template <class T>
T dim_of(const MaskShape& s, DimName d) {
  switch (d) {
    case DimName::N: return T(s.N);
    case DimName::F: return T(s.F);
    case DimName::H: return T(s.H);
    case DimName::W: return T(s.W);
  }
  return T(0);
}

// Wrap-around int arithmetic (what the GPU's 32-bit ints do; no UB on the host).
inline int wadd(int a, int b) { return (int)((unsigned)a + (unsigned)b); }
inline int wsub(int a, int b) { return (int)((unsigned)a - (unsigned)b); }
inline int wmul(int a, int b) { return (int)((unsigned)a * (unsigned)b); }

// Exclusive or, from the Kleene connectives of interval.cuh (exact on known values, unknown otherwise).
template <class B>
inline B lxor(B a, B b) { return lor(land(a, lnot(b)), land(lnot(a), b)); }

template <class I, class B>
inline B compare(Pred p, I a, I b) {
  switch (p) {
    case Pred::EQ: return a == b;
    case Pred::NE: return a != b;
    case Pred::LT: return a < b;
    case Pred::LE: return a <= b;
    case Pred::GT: return a > b;
    case Pred::GE: return a >= b;
  }
  return B(false);
}

template <class Real>
inline Real nan_min(Real a, Real b) {
  if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<Real>::quiet_NaN();
  return a < b ? a : (b < a ? b : (std::signbit(a) ? a : b));  // minimumf: -0 < +0
}
template <class Real>
inline Real nan_max(Real a, Real b) {
  if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<Real>::quiet_NaN();
  return a > b ? a : (b > a ? b : (std::signbit(a) ? b : a));
}

}  // namespace

namespace {
void check_slot(const Program& p, Slot want) {
  if (p.slot != want)
    throw ProgramError(p.where + ": is a " + slot_name(p.slot) + " program, evaluated as a " + slot_name(want));
}
}  // namespace

// ---- element level ----------------------------------------------------------------------------------

template <class Real>
ElementEvaluatorT<Real>::ElementEvaluatorT(const Program& p) : p_(&p), v_(p.ops.size()) {}

template <class Real>
void ElementEvaluatorT<Real>::error(int op, const std::string& what) const {
  throw ProgramError(p_->where + ": ops[" + std::to_string(op) + "] '" + op_name(p_->ops[op].kind) + "': " + what);
}

template <class Real>
const typename ElementEvaluatorT<Real>::Value& ElementEvaluatorT<Real>::run(const Coords<int>* const* toks, int head,
                                                                            const MaskShape& s) {
  const std::vector<Op>& ops = p_->ops;
  Value* v = v_.data();
  const int n = (int)ops.size();
  for (int i = 0; i < n; ++i) {
    const Op& op = ops[i];
    Value& r = v[i];
    const int* o = op.operands.data();
    switch (op.kind) {
      case OpKind::Const:
        if (op.type == Type::F32) r.f = (Real)op.fvalue;
        else if (op.type == Type::I1) r.b = op.ivalue != 0;
        else r.i = (int)op.ivalue;
        break;
      case OpKind::Arg:
        if (p_->arg_types[op.index] == Type::Token) r.tok = toks[op.index];
        else r.i = head;
        break;
      case OpKind::Coord: r.i = coord_get(*v[o[0]].tok, op.coord); break;
      case OpKind::Dim: r.i = dim_of<int>(s, op.dim); break;
      case OpKind::AddI: r.i = wadd(v[o[0]].i, v[o[1]].i); break;
      case OpKind::SubI: r.i = wsub(v[o[0]].i, v[o[1]].i); break;
      case OpKind::MulI: r.i = wmul(v[o[0]].i, v[o[1]].i); break;
      case OpKind::FloorDivSI:
      case OpKind::FloorMod: {
        const int a = v[o[0]].i, b = v[o[1]].i;
        if (b == 0) error(i, "division by zero (" + std::to_string(a) + " / 0)");
        if (b == -1 && a == -2147483647 - 1) error(i, "overflow (INT_MIN / -1)");
        r.i = op.kind == OpKind::FloorDivSI ? moga::fdiv(a, b) : moga::fmod(a, b);
        break;
      }
      case OpKind::MinSI: r.i = moga::imin(v[o[0]].i, v[o[1]].i); break;
      case OpKind::MaxSI: r.i = moga::imax(v[o[0]].i, v[o[1]].i); break;
      case OpKind::AbsI: r.i = moga::iabs(v[o[0]].i); break;
      case OpKind::CmpI:
        if (ops[o[0]].type == Type::I1) {
          const bool x = lxor(v[o[0]].b, v[o[1]].b);
          r.b = op.pred == Pred::EQ ? moga::lnot(x) : x;
        } else {
          r.b = compare<int, bool>(op.pred, v[o[0]].i, v[o[1]].i);
        }
        break;
      case OpKind::AndI: r.b = moga::land(v[o[0]].b, v[o[1]].b); break;
      case OpKind::OrI: r.b = moga::lor(v[o[0]].b, v[o[1]].b); break;
      case OpKind::XOrI: r.b = lxor(v[o[0]].b, v[o[1]].b); break;
      case OpKind::Select: {
        const bool c = v[o[0]].b;
        switch (op.type) {
          case Type::I64: r.i = moga::select(c, v[o[1]].i, v[o[2]].i); break;
          case Type::I1: r.b = moga::select(c, v[o[1]].b, v[o[2]].b); break;
          case Type::F32: r.f = moga::select(c, v[o[1]].f, v[o[2]].f); break;
          case Type::Token: error(i, "select on tokens");
        }
        break;
      }
      case OpKind::AddF: r.f = v[o[0]].f + v[o[1]].f; break;
      case OpKind::SubF: r.f = v[o[0]].f - v[o[1]].f; break;
      case OpKind::MulF: r.f = v[o[0]].f * v[o[1]].f; break;
      case OpKind::DivF: r.f = v[o[0]].f / v[o[1]].f; break;
      case OpKind::NegF: r.f = -v[o[0]].f; break;
      case OpKind::AbsF: r.f = std::fabs(v[o[0]].f); break;
      case OpKind::MinimumF: r.f = nan_min(v[o[0]].f, v[o[1]].f); break;
      case OpKind::MaximumF: r.f = nan_max(v[o[0]].f, v[o[1]].f); break;
      case OpKind::SIToFP: r.f = (Real)v[o[0]].i; break;
      case OpKind::CmpF: {
        const Real a = v[o[0]].f, b = v[o[1]].f;
        r.b = !std::isnan(a) && !std::isnan(b) && compare<Real, bool>(op.pred, a, b);
        break;
      }
    }
  }
  return v[p_->result];
}

template <class Real>
bool ElementEvaluatorT<Real>::mask(const Coords<int>& q, const Coords<int>& kv, const MaskShape& s) {
  check_slot(*p_, Slot::Mask);
  const Coords<int>* t[2] = {&q, &kv};
  return run(t, 0, s).b;
}
template <class Real>
int ElementEvaluatorT<Real>::key(const Coords<int>& tk, const MaskShape& s) {
  check_slot(*p_, Slot::Key);
  const Coords<int>* t[1] = {&tk};
  return run(t, 0, s).i;
}
template <class Real>
Real ElementEvaluatorT<Real>::bias(const Coords<int>& q, const Coords<int>& kv, int head, const MaskShape& s) {
  check_slot(*p_, Slot::Bias);
  const Coords<int>* t[3] = {&q, &kv, nullptr};
  return run(t, head, s).f;
}
template <class Real>
Real ElementEvaluatorT<Real>::gate(const Coords<int>& q, const MaskShape& s) {
  check_slot(*p_, Slot::Gate);
  const Coords<int>* t[1] = {&q};
  return run(t, 0, s).f;
}

template class ElementEvaluatorT<double>;
template class ElementEvaluatorT<float>;

// ---- tile level -------------------------------------------------------------------------------------

TileEvaluator::TileEvaluator(const Program& p) : p_(&p), v_(p.ops.size()) {
  for (size_t i = 0; i < p.ops.size(); ++i) {
    const Op& op = p.ops[i];
    if (op.type == Type::F32 || op.kind == OpKind::CmpF)
      throw ProgramError(p.where + ": ops[" + std::to_string(i) + "] '" + op_name(op.kind) +
                         "': float ops are not allowed on the tile level (a mask or key must be integer / boolean)");
    if (op.kind == OpKind::Arg && p.arg_types[op.index] != Type::Token)
      throw ProgramError(p.where + ": ops[" + std::to_string(i) + "] 'arg': argument '" + p.args[op.index] +
                         "' has no tile-level value");
  }
}

const TileEvaluator::Value& TileEvaluator::run(const Coords<Ivl>* const* toks, const MaskShape& s) {
  const std::vector<Op>& ops = p_->ops;
  Value* v = v_.data();
  const int n = (int)ops.size();
  for (int i = 0; i < n; ++i) {
    const Op& op = ops[i];
    Value& r = v[i];
    const int* o = op.operands.data();
    switch (op.kind) {
      case OpKind::Const:
        if (op.type == Type::I1) r.b = Tri(op.ivalue != 0);
        else r.i = Ivl((int)op.ivalue);
        break;
      case OpKind::Arg: r.tok = toks[op.index]; break;
      case OpKind::Coord: r.i = coord_get(*v[o[0]].tok, op.coord); break;
      case OpKind::Dim: r.i = dim_of<Ivl>(s, op.dim); break;
      case OpKind::AddI: r.i = v[o[0]].i + v[o[1]].i; break;
      case OpKind::SubI: r.i = v[o[0]].i - v[o[1]].i; break;
      case OpKind::MulI: r.i = v[o[0]].i * v[o[1]].i; break;
      case OpKind::FloorDivSI: r.i = moga::fdiv(v[o[0]].i, v[o[1]].i); break;
      case OpKind::FloorMod: r.i = moga::fmod(v[o[0]].i, v[o[1]].i); break;
      case OpKind::MinSI: r.i = moga::imin(v[o[0]].i, v[o[1]].i); break;
      case OpKind::MaxSI: r.i = moga::imax(v[o[0]].i, v[o[1]].i); break;
      case OpKind::AbsI: r.i = moga::iabs(v[o[0]].i); break;
      case OpKind::CmpI:
        if (ops[o[0]].type == Type::I1) {
          const Tri x = lxor(v[o[0]].b, v[o[1]].b);
          r.b = op.pred == Pred::EQ ? moga::lnot(x) : x;
        } else {
          r.b = compare<Ivl, Tri>(op.pred, v[o[0]].i, v[o[1]].i);
        }
        break;
      case OpKind::AndI: r.b = moga::land(v[o[0]].b, v[o[1]].b); break;
      case OpKind::OrI: r.b = moga::lor(v[o[0]].b, v[o[1]].b); break;
      case OpKind::XOrI: r.b = lxor(v[o[0]].b, v[o[1]].b); break;
      case OpKind::Select:
        if (op.type == Type::I1) r.b = moga::select(v[o[0]].b, v[o[1]].b, v[o[2]].b);
        else r.i = moga::select(v[o[0]].b, v[o[1]].i, v[o[2]].i);
        break;
      default:  // float ops: rejected by the constructor
        throw ProgramError(p_->where + ": ops[" + std::to_string(i) + "] '" + op_name(op.kind) +
                           "': not evaluable on the tile level");
    }
  }
  return v[p_->result];
}

Tri TileEvaluator::mask(const Coords<Ivl>& q, const Coords<Ivl>& kv, const MaskShape& s) {
  check_slot(*p_, Slot::Mask);
  const Coords<Ivl>* t[2] = {&q, &kv};
  return run(t, s).b;
}
Ivl TileEvaluator::key(const Coords<Ivl>& tk, const MaskShape& s) {
  check_slot(*p_, Slot::Key);
  const Coords<Ivl>* t[1] = {&tk};
  return run(t, s).i;
}

// ---- one-shot forms ---------------------------------------------------------------------------------

bool eval_mask(const Program& p, const Coords<int>& q, const Coords<int>& kv, const MaskShape& s) {
  return ElementEvaluator(p).mask(q, kv, s);
}
int eval_key(const Program& p, const Coords<int>& t, const MaskShape& s) {
  return ElementEvaluator(p).key(t, s);
}
double eval_bias(const Program& p, const Coords<int>& q, const Coords<int>& kv, int head, const MaskShape& s) {
  return ElementEvaluator(p).bias(q, kv, head, s);
}
double eval_gate(const Program& p, const Coords<int>& q, const MaskShape& s) {
  return ElementEvaluator(p).gate(q, s);
}
Tri eval_mask_tile(const Program& p, const Coords<Ivl>& q, const Coords<Ivl>& kv, const MaskShape& s) {
  return TileEvaluator(p).mask(q, kv, s);
}

}  // namespace moga::ref
