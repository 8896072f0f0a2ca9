// The two evaluators of a manifest program (manifest.h: Program), over one definition of the
// semantics: every int, bool and comparison op calls the functions of kernels_src/cuda/interval.cuh
// (moga::fdiv, fmod, imin, imax, iabs, land, lor, lnot, select and the Ivl operators), which the
// generated CUDA uses too.
//
//  * element level: tokens are Coords<int>, i64 values are int (32 bits, as on the GPU), i1 bool,
//    f32 Real (double or float). Used by the brute-force attention (attention.h).
//  * tile level: tokens are Coords<Ivl> (the interval of each coordinate over a tile), i64 values
//    are Ivl, i1 values Tri (false / true / unknown). Sound: the value of any element of the tile
//    pair lies in the result. Float ops are rejected (ProgramError at construction). Used by the
//    block map (block_map.h).
//
// Op semantics (both levels): addi subi muli, floordivsi floormod (floor semantics, Python style),
// minsi maxsi absi, cmpi (eq ne slt sle sgt sge), andi ori xori on i1, select; element level only:
// addf subf mulf divf negf absf, minimumf maximumf (NaN-propagating), sitofp, cmpf (ordered
// predicates: false when an operand is NaN). An element-level integer division or modulo by zero
// throws ProgramError.
//
// Errors name the kernel, the program and the op: `kernel 'stga' mask: ops[5] 'floordivsi':
// division by zero`.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "kernels_src/cuda/coords.cuh"
#include "runtime/reference/manifest.h"

namespace moga::ref {

class ProgramError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// ---- runtime shape ----------------------------------------------------------------------------------

// A video latent grid: F frames of H x W cells, and the first frame of each shot (empty: one shot;
// otherwise strictly increasing, starting at 0, each < F).
struct VideoShape {
  int F = 1, H = 1, W = 1;
  std::vector<int> shot_starts;
};

// A MaskShape with the shot tables it points to (copies re-point to their own tables).
class Shape {
 public:
  Shape() { bind(); }
  static Shape seq(int N);                  // layout seq: F = H = 1, W = N
  static Shape video(const VideoShape& v);  // throws std::invalid_argument on a bad shape
  Shape(const Shape& o) : shot_of_frame_(o.shot_of_frame_), shot_first_(o.shot_first_), ms_(o.ms_) { bind(); }
  Shape& operator=(const Shape& o) {
    shot_of_frame_ = o.shot_of_frame_;
    shot_first_ = o.shot_first_;
    ms_ = o.ms_;
    bind();
    return *this;
  }
  const MaskShape& mask() const { return ms_; }
  int N() const { return ms_.N; }
  int num_shots() const { return shot_first_.empty() ? 1 : (int)shot_first_.size() - 1; }
  Coords<int> coords(int token) const { return coords_of(token, ms_); }

 private:
  void bind() {
    ms_.shot_of_frame = shot_of_frame_.empty() ? nullptr : shot_of_frame_.data();
    ms_.shot_first = shot_first_.empty() ? nullptr : shot_first_.data();
  }
  std::vector<int> shot_of_frame_, shot_first_;
  MaskShape ms_{0, 1, 1, 0, nullptr, nullptr};
};

template <class T>
inline T coord_get(const Coords<T>& c, CoordField f) {
  switch (f) {
    case CoordField::Pos: return c.pos;
    case CoordField::Frame: return c.frame;
    case CoordField::Row: return c.row;
    case CoordField::Col: return c.col;
    case CoordField::Shot: return c.shot;
    case CoordField::ShotStart: return c.shot_start;
    case CoordField::ShotEnd: return c.shot_end;
  }
  return c.pos;
}

// ---- element level ----------------------------------------------------------------------------------

// One evaluator per thread: it owns the scratch values (no allocation per evaluation).
template <class Real>
class ElementEvaluatorT {
 public:
  explicit ElementEvaluatorT(const Program& p);
  const Program& program() const { return *p_; }

  bool mask(const Coords<int>& q, const Coords<int>& kv, const MaskShape& s);
  int key(const Coords<int>& t, const MaskShape& s);
  Real bias(const Coords<int>& q, const Coords<int>& kv, int head, const MaskShape& s);
  Real gate(const Coords<int>& q, const MaskShape& s);

  struct Value {
    int i;
    bool b;
    Real f;
    const Coords<int>* tok;
  };

 private:
  const Value& run(const Coords<int>* const* toks, int head, const MaskShape& s);
  [[noreturn]] void error(int op, const std::string& what) const;
  const Program* p_;
  std::vector<Value> v_;
};
using ElementEvaluator = ElementEvaluatorT<double>;

// ---- tile level -------------------------------------------------------------------------------------

class TileEvaluator {
 public:
  explicit TileEvaluator(const Program& p);  // ProgramError if the program uses floats
  const Program& program() const { return *p_; }

  Tri mask(const Coords<Ivl>& q, const Coords<Ivl>& kv, const MaskShape& s);
  Ivl key(const Coords<Ivl>& t, const MaskShape& s);

  struct Value {
    Ivl i;
    Tri b;
    const Coords<Ivl>* tok;
  };

 private:
  const Value& run(const Coords<Ivl>* const* toks, const MaskShape& s);
  const Program* p_;
  std::vector<Value> v_;
};

// Convenience one-shot forms (allocate per call: tests, tools).
bool eval_mask(const Program& p, const Coords<int>& q, const Coords<int>& kv, const MaskShape& s);
int eval_key(const Program& p, const Coords<int>& t, const MaskShape& s);
double eval_bias(const Program& p, const Coords<int>& q, const Coords<int>& kv, int head, const MaskShape& s);
double eval_gate(const Program& p, const Coords<int>& q, const MaskShape& s);
Tri eval_mask_tile(const Program& p, const Coords<Ivl>& q, const Coords<Ivl>& kv, const MaskShape& s);

}  // namespace moga::ref
