// The closed form of a checked pattern: what the MLIR generator, the CPU reference and the CLI
// consume.
//
// What a consumer gets, per branch, in output order:
//  * every expression is closed and typed (Expr::type is Int, Float or Bool on every node):
//    - defs are inlined (a def's body appears at each call, with its own source locations);
//    - params are replaced by literals of their final value (after --param overrides);
//    - the only names left are Ident{ShapeConst} (N F H W, runtime ints), Ident{HeadIndex} (h, in
//      bias) and the bases of Fields, which are the branch's token names: `q`/`kv` in mask and
//      bias, `q` in gate, `t` in the group key;
//    - the only Calls left are abs, min, max (int or float, one type per call); div/mod are
//      Binary Div/Mod on ints (floor semantics, see ast.h);
//    - int -> float promotions are explicit Unary ToFloat nodes; both operands of every Binary
//      have the same type, so the node's type says whether `/` floors (int) or divides (float);
//    - subtrees made of literals only are folded;
//    - gate and bias trees have type Float, masks Bool, group keys Int.
//  * compile-time statements are plain numbers: route groups / top k, scale, softcap, weight.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "compiler/frontend/ast.h"
#include "compiler/frontend/diagnostics.h"

namespace moga::frontend {

struct ResolvedRoute {
  int groups = 1;  // M: router d_model -> M logits, softmax over them
  int topK = 1;    // a token joins its k most probable groups, 1 <= k <= M
  SourceLoc loc;
};

enum class GroupKind {
  None,   // no grouping: every key is a candidate (subject to the mask)
  Route,  // group of the router's choice
  Key,    // tokens with equal groupKey(t) form a group
};

enum class GateKind {
  None,       // gate 1
  RouteProb,  // the router probability of the group (sum over the k groups for top-k)
  Expr,       // gateValue(q)
};

struct ResolvedBranch {
  std::string name;
  SourceLoc loc;
  double weight = 1.0;  // its output weight: 1 (single), 1/n (mean of n), or as written (sum)
  std::optional<ResolvedRoute> route;  // set iff group == Route
  GroupKind group = GroupKind::None;
  ExprPtr groupKey;  // GroupKind::Key: int over `t`
  ExprPtr mask;      // bool over `q`, `kv`; null: no mask (every key of the group)
  GateKind gate = GateKind::None;
  ExprPtr gateValue;  // GateKind::Expr: float over `q`
  std::optional<double> scale;    // null: 1/sqrt(head_dim)
  ExprPtr bias;                   // null: none; else float over `q`, `kv`, `h`, added to the score
  std::optional<double> softcap;  // null: none; else score = c * tanh(score / c)
};

struct ResolvedPattern {
  std::string name;
  Layout layout = Layout::Seq;
  OutputKind output = OutputKind::Single;
  std::vector<Param> params;  // final values (after overrides): for cache keys and manifests
  std::vector<ResolvedBranch> branches;  // the output's terms in order; unused branches dropped
};

// Builds the closed form of `p`, which must have passed checkPattern() (returns nullopt
// otherwise, or when folding finds a constant error such as `1 / 0`, reported to `diags`).
std::optional<ResolvedPattern> resolve(const Pattern& p, Diagnostics& diags);

// S-expression dump of the closed form, e.g. `(branch causal (weight 1) (mask (>= q.pos kv.pos)))`.
std::string dumpResolved(const ResolvedPattern& r);

}  // namespace moga::frontend
