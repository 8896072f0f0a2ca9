// The manifest of a compiled pattern (the JSON file the codegen writes beside the CUDA source), parsed
// and validated into plain structs. The CPU reference (attention.h), the CPU block map (block_map.h)
// and the runtime read patterns only through these structs. No MLIR, no CUDA.
//
// Format (docs/architecture.md and the codegen are the other side of this contract):
//   {"pattern": "moga", "layout": "video" | "seq", "params": {"M": 5, ...},
//    "kernels": [{"name": "dynamic", "weight": 0.333, "accumulate": false,
//                 "route": {"groups": 5, "topk": 1} | null, "route_gate": true,
//                 "scale": null | 0.5, "softcap": null | 30.0,
//                 "structure": "dense|grouped|grouped_masked|masked", "uses": ["frame", "row"],
//                 "tiles": {"block_m": 128, "block_n": 64, "warps": 4, "stages": 2, "head_dim": 128},
//                 "mask": PROGRAM | null, "key": PROGRAM | null, "bias": PROGRAM | null,
//                 "gate": PROGRAM | null}, ...]}
// PROGRAM = {"args": [...], "ops": [OP, ...], "result": INDEX}: the lowered `attn` region in SSA order
// (program.h lists the ops and their types).
//
// Every error is a ManifestError whose message says where: the kernel (index and name), the program
// and the op index, e.g. `manifest: kernels[1] 'stga': mask: ops[4] 'addi': operand 1 refers to
// ops[7], which is not an earlier op`.
#pragma once

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace moga::ref {

class ManifestError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// ---- programs ---------------------------------------------------------------------------------------

// Value types of the program language: i1 (bool), i64 (int; evaluated in 32 bits, as on the GPU),
// f32 (float), and the token arguments (q, kv, t) whose only use is `coord`.
enum class Type { I1, I64, F32, Token };
const char* type_name(Type t);

enum class OpKind {
  Const, Arg, Coord, Dim,
  // int -> int
  AddI, SubI, MulI, FloorDivSI, FloorMod, MinSI, MaxSI, AbsI,
  CmpI,  // int x int -> i1 (also i1 x i1 for eq / ne)
  AndI, OrI, XOrI,  // i1 x i1 -> i1
  Select,           // i1 x T x T -> T
  // float
  AddF, SubF, MulF, DivF, NegF, AbsF, MinimumF, MaximumF, SIToFP, CmpF,
};
const char* op_name(OpKind k);  // the JSON spelling, e.g. "floordivsi"

enum class CoordField { Pos, Frame, Row, Col, Shot, ShotStart, ShotEnd };
const char* coord_name(CoordField c);
enum class DimName { N, F, H, W };
// cmpi: eq ne slt sle sgt sge; cmpf: oeq one olt ole ogt oge (ordered: false when a NaN is involved).
enum class Pred { EQ, NE, LT, LE, GT, GE };

struct Op {
  OpKind kind = OpKind::Const;
  Type type = Type::I64;          // result type (inferred and checked by the parser)
  std::vector<int> operands;      // indices of earlier ops
  long long ivalue = 0;           // Const i64 (fits in 32 bits) / i1 (0 or 1)
  double fvalue = 0.0;            // Const f32
  int index = 0;                  // Arg
  CoordField coord = CoordField::Pos;
  DimName dim = DimName::N;
  Pred pred = Pred::EQ;
};

// Which slot of a kernel a program fills; fixes its argument list and result type:
//   mask (q, kv) -> i1, key (t) -> i64, bias (q, kv, h) -> f32, gate (q) -> f32.
enum class Slot { Mask, Key, Bias, Gate };
const char* slot_name(Slot s);

struct Program {
  Slot slot = Slot::Mask;
  std::vector<std::string> args;   // names, e.g. {"q", "kv"}
  std::vector<Type> arg_types;     // Token for q/kv/t, I64 for h
  std::vector<Op> ops;
  int result = 0;
  bool has_float = false;          // some op works on floats (not evaluable on the tile level)
  std::string where;               // "kernel 'stga' mask": prefix of every evaluation error
};

// ---- kernels and patterns ---------------------------------------------------------------------------

enum class Layout { Seq, Video };
enum class Structure { Dense, Grouped, GroupedMasked, Masked };
const char* structure_name(Structure s);

struct RouteSpec {
  int groups = 1;  // M
  int topk = 1;    // 1 <= k <= M
};

struct TileSpec {
  int block_m = 128, block_n = 64, warps = 4, stages = 2, head_dim = 128;
};

// The compiler's plan for Hopper (manifest "plan": {"sm_90": ...}; attn-assign-tiles): the kernel registry
// row (runtime/attention/registry.h) the runtime launches there, its tiles, and the head dims it runs at.
struct HopperPlanSpec {
  std::string variant;
  int block_m = 0, block_n = 0, warps = 0, stages = 0;
  std::vector<int> head_dims;
};

struct KernelSpec {
  std::string name;
  double weight = 1.0;
  bool accumulate = false;
  std::optional<RouteSpec> route;  // routed grouping
  bool route_gate = false;         // gate = router probability of the group (routed kernels only)
  std::optional<double> scale;     // null: 1/sqrt(head_dim)
  std::optional<double> softcap;   // null: none; else score = c * tanh(score / c), c > 0
  Structure structure = Structure::Dense;
  std::vector<std::string> uses;   // coordinates the mask reads (informational)
  // The bias's plan (attn-plan-score; manifest "bias_plan"): the 32-bit column terms the wgmma kernel
  // stages per key column (shared memory), and the longest sequence for which its float32 element
  // terms are exact (0: none are evaluated in float32, no limit).
  int bias_col_words = 0;
  // The byte-packed split (manifest "bias_plan"."u8"; attn-plan-score bias_u8): the coordinates it packs,
  // which must be below 256 for it to run, and its column words. Empty: none.
  std::vector<std::string> bias_u8_coords;
  int bias_u8_col_words = 0;
  bool stage_keys = true;  // the wgmma kernel stages key columns for the mask (manifest "stage_keys"; absent: true)
  long long bias_f32_max_n = 0;
  TileSpec tiles;
  std::optional<HopperPlanSpec> plan_sm90;  // absent (a hand-written manifest): the registry's rule
  std::optional<Program> mask, key, bias, gate;

  bool grouped() const { return route.has_value() || key.has_value(); }
  int topk() const { return route ? route->topk : 1; }
};

struct PatternSpec {
  std::string pattern;
  Layout layout = Layout::Seq;
  std::map<std::string, double> params;
  std::vector<KernelSpec> kernels;
};

// Parse + validate. Throws ManifestError with a located message.
PatternSpec parse_manifest(const nlohmann::json& j);
PatternSpec parse_manifest_text(std::string_view text);  // JSON syntax errors become ManifestError
PatternSpec load_manifest(const std::string& path);      // unreadable file: ManifestError naming it

// A program on its own (tests, tools): `where` prefixes the error messages.
Program parse_program(const nlohmann::json& j, Slot slot, const std::string& where);

}  // namespace moga::ref
