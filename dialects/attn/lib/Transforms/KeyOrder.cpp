//===- KeyOrder.cpp - is a computed group key non-decreasing in token order? ===//
#include "KeyOrder.h"

#include <algorithm>
#include <limits>

#include "attn/AttnOps.h"
#include "llvm/ADT/DenseMap.h"
#include "mlir/Dialect/Arith/IR/Arith.h"

using namespace mlir;
using namespace mlir::attn;

namespace {

constexpr int64_t kInf = std::numeric_limits<int64_t>::max() / 4;  // ranges stay far from overflow

// One value of the key as a function of the token index t.
struct Val {
  enum Kind { Unknown, Const, Dim, Mono, Block, Saw } kind = Unknown;
  int64_t c = 0;         // Const: the value
  int64_t m = 0;         // Block / Saw: the period (t / m, t % m of the token index itself)
  int64_t a = 0;         // Block: a * (t / m) (+ c)
  int64_t lo = 0, hi = 0;  // Saw: g(t % m) in [lo, hi], non-decreasing on [0, m)
};

Val known(Val::Kind k) { Val v; v.kind = k; return v; }
Val konst(int64_t c) { Val v; v.kind = Val::Const; v.c = c; return v; }
bool mono(const Val& v) { return v.kind == Val::Const || v.kind == Val::Mono || v.kind == Val::Block; }
bool small(int64_t x) { return x > -kInf && x < kInf; }

Val add(Val x, Val y) {
  if (x.kind == Val::Const) std::swap(x, y);
  if (y.kind == Val::Const) {  // a constant shifts any form
    if (x.kind == Val::Const) return small(x.c + y.c) ? konst(x.c + y.c) : Val{};
    if (x.kind == Val::Block) { x.c += y.c; return small(x.c) ? x : Val{}; }
    if (x.kind == Val::Saw) { x.lo += y.c; x.hi += y.c; return small(x.lo) && small(x.hi) ? x : Val{}; }
    return x.kind == Val::Mono ? x : Val{};
  }
  if (x.kind == Val::Saw) std::swap(x, y);
  if (y.kind == Val::Saw) {
    if (x.kind == Val::Saw && x.m == y.m) {
      Val s = y;
      s.lo += x.lo;
      s.hi += x.hi;
      return small(s.lo) && small(s.hi) ? s : Val{};
    }
    // a * (t / m) + g(t % m): the step at each period's end, a, covers g's fall back to its start
    if (x.kind == Val::Block && x.m == y.m && x.a >= y.hi - y.lo) return known(Val::Mono);
    return {};
  }
  if (x.kind == Val::Block && y.kind == Val::Block && x.m == y.m) {
    x.a += y.a;
    x.c += y.c;
    return small(x.a) && small(x.c) ? x : Val{};
  }
  return mono(x) && mono(y) ? known(Val::Mono) : Val{};
}

Val mul(Val x, Val y) {
  if (x.kind == Val::Const) std::swap(x, y);
  if (y.kind == Val::Const) {
    const int64_t c = y.c;
    if (x.kind == Val::Const) return small(x.c) && std::abs(x.c) < kInf / std::max<int64_t>(1, std::abs(c)) ? konst(x.c * c) : Val{};
    if (c < 0 || c >= kInf / (int64_t)1e6) return {};
    if (x.kind == Val::Block) { x.a *= c; x.c *= c; return small(x.a) && small(x.c) ? x : Val{}; }
    if (x.kind == Val::Saw) {
      if (std::abs(x.lo) >= kInf / std::max<int64_t>(1, c) || std::abs(x.hi) >= kInf / std::max<int64_t>(1, c)) return {};
      x.lo *= c;
      x.hi *= c;
      return x;
    }
    return x.kind == Val::Mono ? x : Val{};
  }
  if (x.kind == Val::Dim) std::swap(x, y);
  if (y.kind == Val::Dim && x.kind == Val::Mono) return x;  // a dim is positive: order kept
  return {};
}

int64_t floordiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

Val div(Val x, Val y, bool xIsIndex) {
  if (y.kind == Val::Dim && mono(x) && x.kind != Val::Const) return known(Val::Mono);
  if (y.kind != Val::Const || y.c <= 0) return {};
  const int64_t c = y.c;
  if (x.kind == Val::Const) return konst(floordiv(x.c, c));
  if (x.kind == Val::Saw) { x.lo = floordiv(x.lo, c); x.hi = floordiv(x.hi, c); return x; }
  if (xIsIndex) {  // t / m: a block of the index (the periodic form's step)
    Val b;
    b.kind = Val::Block;
    b.m = c;
    b.a = 1;
    return b;
  }
  return mono(x) ? known(Val::Mono) : Val{};
}

}  // namespace

bool mlir::attn::keyInTokenOrder(Region& key) {
  if (!key.hasOneBlock()) return false;
  Block& body = key.front();
  llvm::DenseMap<Value, Val> vals;
  llvm::DenseMap<Value, bool> isIndex;  // the token index itself (pos)
  auto get = [&](Value v) { auto it = vals.find(v); return it == vals.end() ? Val{} : it->second; };
  for (Operation& op : body) {
    if (auto y = dyn_cast<YieldOp>(op))
      return y->getNumOperands() == 1 && mono(get(y->getOperand(0)));
    if (op.getNumResults() != 1) return false;
    Val r;
    if (auto c = dyn_cast<arith::ConstantOp>(op)) {
      if (auto i = dyn_cast<IntegerAttr>(c.getValue())) r = konst(i.getInt());
    } else if (auto c = dyn_cast<CoordOp>(op)) {
      switch (c.getCoord()) {
        case Coord::pos:
          isIndex[op.getResult(0)] = true;
          [[fallthrough]];
        case Coord::frame:
        case Coord::shot:
        case Coord::shot_start:
        case Coord::shot_end:
          r = known(Val::Mono);
          break;
        default:
          break;  // row, col: not in order
      }
    } else if (isa<DimOp>(op)) {
      r = known(Val::Dim);
    } else if (isa<arith::AddIOp>(op)) {
      r = add(get(op.getOperand(0)), get(op.getOperand(1)));
    } else if (isa<arith::SubIOp>(op)) {  // x - c: a shift; any other difference is not in order
      const Val y = get(op.getOperand(1));
      if (y.kind == Val::Const && small(y.c)) r = add(get(op.getOperand(0)), konst(-y.c));
    } else if (isa<arith::MulIOp>(op)) {
      r = mul(get(op.getOperand(0)), get(op.getOperand(1)));
    } else if (isa<arith::FloorDivSIOp>(op)) {
      r = div(get(op.getOperand(0)), get(op.getOperand(1)), isIndex.lookup(op.getOperand(0)));
    } else if (isa<FloorModOp>(op)) {
      const Val m = get(op.getOperand(1));
      if (isIndex.lookup(op.getOperand(0)) && m.kind == Val::Const && m.c > 0) {
        r.kind = Val::Saw;  // t % m: the identity on [0, m)
        r.m = m.c;
        r.lo = 0;
        r.hi = m.c - 1;
      }
    } else if (isa<arith::MinSIOp, arith::MaxSIOp>(op)) {
      const Val x = get(op.getOperand(0)), y = get(op.getOperand(1));
      if (mono(x) && mono(y)) r = known(Val::Mono);
    }
    vals[op.getResult(0)] = r;
  }
  return false;
}
