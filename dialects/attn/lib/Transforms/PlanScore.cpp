//===- PlanScore.cpp - where each term of a kernel's bias is evaluated ----===//
//
// The bias runs on every element of every tile, so each of its terms is placed where it costs least:
//   attn.at = "row"   no key-token operand (q, h, dims): once per query row and work item;
//   attn.at = "col"   no query-token operand (kv, h, dims): once per key column and tile, by the
//                     producer warpgroup, which stages the values the elements read in shared memory;
//   attn.at = "elem"  both: per element.
// Constants carry no placement: the codegen writes them where they are used.
// Integer element terms built only of +, -, *, abs, min, max, select and comparisons are marked
// `attn.f32`: evaluated in float32, exactly, because every value stays below 2^24 in magnitude (the
// row and column values converted at their boundary below 2^22) while the sequence length stays at or
// below the kernel's `bias_f32_max_n` (coordinates, dims and the head index are bounded by N there). Float32 arithmetic is full rate on the GPU; the integer path needs a
// conversion per element (I2F, a quarter-rate instruction) and integer temporaries that spill the
// consumer warpgroups' registers. The runtime refuses a launch above `bias_f32_max_n`.
// A sum of two to four coordinate distances |q.a - kv.b| (the video bias |dframe| + |drow| + |dcol|) is marked
// for packed bytes: its root `attn.u8 = i` (the kernel's i-th such sum), the subtractions, absolute values and
// inner sums under it `attn.u8_part`, and the kernel's `bias_u8` lists the coordinates read. While each of them
// is below 256 (the runtime checks the shape), the query's coordinates are one 32-bit word per row, the key's
// one staged word per column, and the sum is one VABSDIFF4 (four byte distances summed) per element where
// float32 takes two instructions per distance; the float form stays for the shapes that do not fit.
//===----------------------------------------------------------------------===//
#include "attn/AttnOps.h"
#include "attn/AttnPasses.h"

#include <cmath>

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNPLANSCORE
#include "attn/AttnPasses.h.inc"
}  // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

enum Dep : unsigned { kNone = 0, kQ = 1, kKV = 2 };

// Integer ops whose exact result float32 reproduces while magnitudes stay below 2^24.
bool floatExactOp(Operation* op) {
  return isa<arith::AddIOp, arith::SubIOp, arith::MulIOp, math::AbsIOp, arith::MinSIOp, arith::MaxSIOp,
             arith::CmpIOp>(op) ||
         (isa<arith::SelectOp>(op) && op->getResult(0).getType().isInteger(64));
}

bool isI64(Value v) { return v.getType().isInteger(64); }

// Largest magnitude of v when every coordinate, dim and the head index are below x.
double bound(Value v, double x, llvm::DenseMap<Value, double>& memo) {
  if (auto it = memo.find(v); it != memo.end()) return it->second;
  double b = x;  // block arguments (h), coords, dims
  if (Operation* op = v.getDefiningOp()) {
    auto arg = [&](unsigned i) { return bound(op->getOperand(i), x, memo); };
    if (auto c = dyn_cast<arith::ConstantIntOp>(op)) b = std::fabs(static_cast<double>(c.value()));
    else if (isa<arith::AddIOp, arith::SubIOp>(op)) b = arg(0) + arg(1);
    else if (isa<arith::MulIOp>(op)) b = arg(0) * arg(1);
    else if (isa<math::AbsIOp, arith::FloorDivSIOp>(op)) b = arg(0);  // |floor(a / b)| <= |a| for b != 0
    else if (isa<FloorModOp>(op)) b = arg(1);
    else if (isa<arith::MinSIOp, arith::MaxSIOp>(op)) b = std::max(arg(0), arg(1));
    else if (isa<arith::SelectOp>(op)) b = std::max(arg(1), arg(2));
  }
  memo[v] = b;
  return b;
}

// The distances of a byte-packed sum (attn.u8): the root's operands through addi to absi(subi(a, b)),
// a and b coordinates of the two tokens (one row-placed, one column-placed), every op but the root used
// once. Appends the leaves' absi ops and the tree's ops below the root; false when `op` is not such a
// tree (a leaf alone is one).
bool distanceTree(Operation* op, llvm::DenseMap<Value, unsigned>& dep, SmallVectorImpl<Operation*>& leaves,
                  SmallVectorImpl<Operation*>& parts) {
  if (auto a = dyn_cast<math::AbsIOp>(op)) {
    auto sub = a.getOperand().getDefiningOp<arith::SubIOp>();
    if (!sub || !sub->hasOneUse()) return false;
    auto l = sub.getLhs().getDefiningOp<CoordOp>(), r = sub.getRhs().getDefiningOp<CoordOp>();
    if (!l || !r) return false;
    const unsigned dl = dep.lookup(l.getResult()), dr = dep.lookup(r.getResult());
    if ((dl | dr) != (kQ | kKV) || dl == dr) return false;
    leaves.push_back(op);
    parts.push_back(sub);
    return true;
  }
  auto add = dyn_cast<arith::AddIOp>(op);
  if (!add) return false;
  for (Value o : add->getOperands()) {
    Operation* d = o.getDefiningOp();
    if (!d || !d->hasOneUse() || !distanceTree(d, dep, leaves, parts)) return false;
    parts.push_back(d);
  }
  return true;
}

struct AttnPlanScore : mlir::attn::impl::AttnPlanScoreBase<AttnPlanScore> {
  void runOnOperation() override {
    getOperation().walk([&](KernelOp k) { plan(k); });
  }

  static void plan(KernelOp k) {
    Region& r = k.getBias();
    k.removeBiasF32MaxNAttr();
    k.removeBiasU8Attr();
    if (r.empty()) return;
    Block& body = r.front();
    MLIRContext* ctx = k.getContext();
    llvm::DenseMap<Value, unsigned> dep;
    dep[body.getArgument(0)] = kQ;
    dep[body.getArgument(1)] = kKV;
    auto at = [&](Operation* op) {
      unsigned d = kNone;
      for (Value o : op->getOperands()) d |= dep.lookup(o);
      return d;
    };
    SmallVector<Operation*> elem;
    for (Operation& op : body.without_terminator()) {
      op.removeAttr("attn.at");
      op.removeAttr("attn.f32");
      op.removeAttr("attn.u8");
      op.removeAttr("attn.u8_part");
      if (isa<arith::ConstantOp>(op)) continue;
      const unsigned d = at(&op);
      dep[op.getResult(0)] = d;
      const char* where = d == (kQ | kKV) ? "elem" : (d & kKV) ? "col" : "row";
      op.setAttr("attn.at", StringAttr::get(ctx, where));
      if (d == (kQ | kKV)) elem.push_back(&op);
    }

    // The float32 set: the greatest set of exact-able integer element ops whose integer element operands
    // are in it and whose integer results feed only ops that take a float (sitofp, or ops of the set).
    llvm::DenseSet<Operation*> f32;
    for (Operation* op : elem)
      if (floatExactOp(op)) f32.insert(op);
    auto isElemInt = [&](Value v) {
      Operation* d = v.getDefiningOp();
      return d && isI64(v) && dep.lookup(v) == (kQ | kKV);
    };
    for (bool changed = true; changed;) {
      changed = false;
      for (Operation* op : elem) {
        if (!f32.contains(op)) continue;
        bool ok = true;
        for (Value o : op->getOperands())
          if (isElemInt(o) && !f32.contains(o.getDefiningOp())) ok = false;
        if (isI64(op->getResult(0)))
          for (Operation* u : op->getResult(0).getUsers())
            if (!isa<arith::SIToFPOp>(u) && !f32.contains(u)) ok = false;
        if (!ok) {
          f32.erase(op);
          changed = true;
        }
      }
    }
    planBytes(k, elem, dep);
    if (f32.empty()) return;

    // Exactness, for coordinates, dims and h below N: the integer values the float32 ops make or read
    // from other element ops below 2^24 (float32's exact integers), the row / column values converted
    // at their boundary below 2^22 (the column conversion's range: interval.cuh i2f_exact).
    SmallVector<Value> elemValues, boundary;
    for (Operation* op : f32) {
      for (Value o : op->getOperands())
        if (isI64(o)) (isElemInt(o) ? elemValues : boundary).push_back(o);
      if (isI64(op->getResult(0))) elemValues.push_back(op->getResult(0));
    }
    int64_t maxN = 0;
    for (int e = 31; e >= 1 && maxN == 0; --e) {
      llvm::DenseMap<Value, double> memo;
      const double x = std::ldexp(1.0, e);
      bool exact = true;
      for (Value v : elemValues) exact = exact && bound(v, x, memo) < 16777216.0;
      for (Value v : boundary) exact = exact && bound(v, x, memo) < 4194304.0;
      if (exact) maxN = int64_t{1} << e;
    }
    // Below 65,536 tokens the plan would refuse ordinary lengths: keep the integer path then.
    if (maxN < 65536) return;
    for (Operation* op : f32) op->setAttr("attn.f32", UnitAttr::get(ctx));
    k.setBiasF32MaxNAttr(IntegerAttr::get(IntegerType::get(ctx, 64), maxN));
  }

  // The byte-packed sums (the header comment): the largest distance trees of 2-4 leaves, outermost first.
  static void planBytes(KernelOp k, ArrayRef<Operation*> elem, llvm::DenseMap<Value, unsigned>& dep) {
    MLIRContext* ctx = k.getContext();
    llvm::DenseSet<Operation*> taken;
    SmallVector<StringRef> coords;
    int64_t n = 0;
    for (Operation* op : llvm::reverse(elem)) {  // users before their operands: the outermost sum first
      if (taken.contains(op) || !isa<arith::AddIOp>(op)) continue;
      SmallVector<Operation*> leaves, parts;
      if (!distanceTree(op, dep, leaves, parts) || leaves.size() > 4) continue;
      op->setAttr("attn.u8", IntegerAttr::get(IntegerType::get(ctx, 64), n++));
      for (Operation* p : parts) {
        p->setAttr("attn.u8_part", UnitAttr::get(ctx));
        taken.insert(p);
      }
      for (Operation* leaf : leaves)
        for (Value c : leaf->getOperand(0).getDefiningOp()->getOperands()) {
          StringRef name = stringifyCoord(c.getDefiningOp<CoordOp>().getCoord());
          if (!llvm::is_contained(coords, name)) coords.push_back(name);
        }
    }
    if (n > 0) k.setBiasU8Attr(ArrayAttr::get(ctx, llvm::to_vector(llvm::map_range(coords, [&](StringRef c) -> Attribute {
                                 return StringAttr::get(ctx, c);
                               }))));
  }
};

}  // namespace
