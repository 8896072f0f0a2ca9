// Manifest parsing and validation (manifest.h).
#include "runtime/reference/manifest.h"

#include <cmath>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

namespace moga::ref {

using nlohmann::json;

namespace {

[[noreturn]] void fail(const std::string& where, const std::string& what) {
  throw ManifestError("manifest: " + (where.empty() ? what : where + ": " + what));
}

std::string kind_of(const json& j) {
  switch (j.type()) {
    case json::value_t::null: return "null";
    case json::value_t::object: return "an object";
    case json::value_t::array: return "an array";
    case json::value_t::string: return "a string";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "an integer";
    case json::value_t::number_float: return "a number";
    default: return "something else";
  }
}

std::string brief(const json& j) {
  std::string s = j.dump();
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

const json* find(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

const json& require(const json& obj, const char* key, const std::string& where) {
  const json* v = find(obj, key);
  if (!v) fail(where, std::string("missing field \"") + key + "\"");
  return *v;
}

std::string get_string(const json& v, const std::string& where, const char* key) {
  if (!v.is_string()) fail(where, std::string("\"") + key + "\" must be a string, got " + kind_of(v) + " " + brief(v));
  return v.get<std::string>();
}

double get_number(const json& v, const std::string& where, const char* key) {
  if (!v.is_number()) fail(where, std::string("\"") + key + "\" must be a number, got " + kind_of(v) + " " + brief(v));
  const double d = v.get<double>();
  if (!std::isfinite(d)) fail(where, std::string("\"") + key + "\" must be finite");
  return d;
}

bool get_bool(const json& v, const std::string& where, const char* key) {
  if (!v.is_boolean()) fail(where, std::string("\"") + key + "\" must be true or false, got " + kind_of(v) + " " + brief(v));
  return v.get<bool>();
}

// An integer (an integral float such as 64.0 is accepted) in [lo, hi].
long long get_int(const json& v, const std::string& where, const std::string& key, long long lo, long long hi) {
  long long x = 0;
  if (v.is_number_integer()) {
    x = v.get<long long>();
  } else if (v.is_number_unsigned()) {
    const auto u = v.get<unsigned long long>();
    if (u > (unsigned long long)std::numeric_limits<long long>::max()) fail(where, "\"" + key + "\" is out of range: " + brief(v));
    x = (long long)u;
  } else if (v.is_number_float() && std::isfinite(v.get<double>()) && v.get<double>() == std::floor(v.get<double>()) &&
             std::fabs(v.get<double>()) < 9e18) {
    x = (long long)v.get<double>();
  } else {
    fail(where, "\"" + key + "\" must be an integer, got " + kind_of(v) + " " + brief(v));
  }
  if (x < lo || x > hi)
    fail(where, "\"" + key + "\" = " + std::to_string(x) + " is out of range [" + std::to_string(lo) + ", " +
                    std::to_string(hi) + "]");
  return x;
}

struct OpInfo {
  const char* name;
  OpKind kind;
  int arity;  // -1: op-specific
};
constexpr OpInfo kOps[] = {
    {"const", OpKind::Const, 0},       {"arg", OpKind::Arg, 0},           {"coord", OpKind::Coord, 1},
    {"dim", OpKind::Dim, 0},           {"addi", OpKind::AddI, 2},         {"subi", OpKind::SubI, 2},
    {"muli", OpKind::MulI, 2},         {"floordivsi", OpKind::FloorDivSI, 2}, {"floormod", OpKind::FloorMod, 2},
    {"minsi", OpKind::MinSI, 2},       {"maxsi", OpKind::MaxSI, 2},       {"absi", OpKind::AbsI, 1},
    {"cmpi", OpKind::CmpI, 2},         {"andi", OpKind::AndI, 2},         {"ori", OpKind::OrI, 2},
    {"xori", OpKind::XOrI, 2},         {"select", OpKind::Select, 3},     {"addf", OpKind::AddF, 2},
    {"subf", OpKind::SubF, 2},         {"mulf", OpKind::MulF, 2},         {"divf", OpKind::DivF, 2},
    {"negf", OpKind::NegF, 1},         {"absf", OpKind::AbsF, 1},         {"minimumf", OpKind::MinimumF, 2},
    {"maximumf", OpKind::MaximumF, 2}, {"sitofp", OpKind::SIToFP, 1},     {"cmpf", OpKind::CmpF, 2},
};

const OpInfo* op_info(const std::string& name) {
  for (const auto& o : kOps)
    if (name == o.name) return &o;
  return nullptr;
}

std::string known_ops() {
  std::string s;
  for (const auto& o : kOps) s += (s.empty() ? "" : " ") + std::string(o.name);
  return s;
}

bool parse_coord(const std::string& s, CoordField* c) {
  static const std::pair<const char*, CoordField> t[] = {
      {"pos", CoordField::Pos},   {"frame", CoordField::Frame}, {"row", CoordField::Row},
      {"col", CoordField::Col},   {"shot", CoordField::Shot},   {"shot_start", CoordField::ShotStart},
      {"shot_end", CoordField::ShotEnd}};
  for (const auto& [n, v] : t)
    if (s == n) { *c = v; return true; }
  return false;
}

bool parse_type(const std::string& s, Type* t) {
  if (s == "i1") { *t = Type::I1; return true; }
  if (s == "i64") { *t = Type::I64; return true; }
  if (s == "f32") { *t = Type::F32; return true; }
  return false;
}

std::vector<std::string> expected_args(Slot s) {
  switch (s) {
    case Slot::Mask: return {"q", "kv"};
    case Slot::Key: return {"t"};
    case Slot::Bias: return {"q", "kv", "h"};
    case Slot::Gate: return {"q"};
  }
  return {};
}

Type result_type(Slot s) {
  switch (s) {
    case Slot::Mask: return Type::I1;
    case Slot::Key: return Type::I64;
    case Slot::Bias:
    case Slot::Gate: return Type::F32;
  }
  return Type::I1;
}

std::string join(const std::vector<std::string>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", \"" : "\"") + v[i] + "\"";
  return s + "]";
}

}  // namespace

const char* type_name(Type t) {
  switch (t) {
    case Type::I1: return "i1";
    case Type::I64: return "i64";
    case Type::F32: return "f32";
    case Type::Token: return "token";
  }
  return "?";
}

const char* op_name(OpKind k) {
  for (const auto& o : kOps)
    if (o.kind == k) return o.name;
  return "?";
}

const char* coord_name(CoordField c) {
  switch (c) {
    case CoordField::Pos: return "pos";
    case CoordField::Frame: return "frame";
    case CoordField::Row: return "row";
    case CoordField::Col: return "col";
    case CoordField::Shot: return "shot";
    case CoordField::ShotStart: return "shot_start";
    case CoordField::ShotEnd: return "shot_end";
  }
  return "?";
}

const char* slot_name(Slot s) {
  switch (s) {
    case Slot::Mask: return "mask";
    case Slot::Key: return "key";
    case Slot::Bias: return "bias";
    case Slot::Gate: return "gate";
  }
  return "?";
}

const char* structure_name(Structure s) {
  switch (s) {
    case Structure::Dense: return "dense";
    case Structure::Grouped: return "grouped";
    case Structure::GroupedMasked: return "grouped_masked";
    case Structure::Masked: return "masked";
  }
  return "?";
}

Program parse_program(const json& j, Slot slot, const std::string& where) {
  if (!j.is_object()) fail(where, "a program must be an object {\"args\", \"ops\", \"result\"}, got " + kind_of(j));
  Program p;
  p.slot = slot;
  p.where = where;

  // args
  const json& args = require(j, "args", where);
  if (!args.is_array()) fail(where, "\"args\" must be an array of names");
  for (const auto& a : args) {
    if (!a.is_string()) fail(where, "\"args\" must be an array of names, got " + brief(args));
    p.args.push_back(a.get<std::string>());
  }
  const auto want = expected_args(slot);
  if (p.args != want)
    fail(where, std::string("a ") + slot_name(slot) + " program takes args " + join(want) + ", got " + join(p.args));
  for (const auto& a : p.args) p.arg_types.push_back(a == "h" ? Type::I64 : Type::Token);

  // ops
  const json& ops = require(j, "ops", where);
  if (!ops.is_array()) fail(where, "\"ops\" must be an array");
  if (ops.empty()) fail(where, "\"ops\" is empty");
  p.ops.reserve(ops.size());
  for (size_t i = 0; i < ops.size(); ++i) {
    const json& oj = ops[i];
    std::string at = where + ": ops[" + std::to_string(i) + "]";
    if (!oj.is_object()) fail(at, "an op must be an object, got " + kind_of(oj) + " " + brief(oj));
    const std::string name = get_string(require(oj, "op", at), at, "op");
    const OpInfo* info = op_info(name);
    if (!info) fail(at, "unknown op '" + name + "' (known: " + known_ops() + ")");
    at += " '" + name + "'";
    Op op;
    op.kind = info->kind;

    // operands
    if (const json* oper = find(oj, "operands")) {
      if (!oper->is_array()) fail(at, "\"operands\" must be an array of op indices");
      for (size_t k = 0; k < oper->size(); ++k) {
        const json& x = (*oper)[k];
        if (!x.is_number_integer() && !x.is_number_unsigned())
          fail(at, "operand " + std::to_string(k) + " must be an op index, got " + brief(x));
        const long long idx = x.get<long long>();
        if (idx < 0 || idx >= (long long)i)
          fail(at, "operand " + std::to_string(k) + " refers to ops[" + std::to_string(idx) +
                       "], which is not an earlier op (ops are in SSA order)");
        op.operands.push_back((int)idx);
      }
    }
    if (info->arity >= 0 && (int)op.operands.size() != info->arity)
      fail(at, "takes " + std::to_string(info->arity) + " operand(s), got " + std::to_string(op.operands.size()));
    auto ot = [&](int k) { return p.ops[op.operands[k]].type; };
    auto need = [&](int k, Type t) {
      if (ot(k) != t)
        fail(at, "operand " + std::to_string(k) + " (ops[" + std::to_string(op.operands[k]) + "]) has type " +
                     type_name(ot(k)) + ", expected " + type_name(t));
    };

    switch (op.kind) {
      case OpKind::Const: {
        Type t;
        const std::string ts = get_string(require(oj, "type", at), at, "type");
        if (!parse_type(ts, &t)) fail(at, "unknown type '" + ts + "' (i1, i64, f32)");
        op.type = t;
        const json& v = require(oj, "value", at);
        if (t == Type::I64) {
          op.ivalue = get_int(v, at, "value", -2147483647LL, 2147483647LL);
        } else if (t == Type::I1) {
          if (v.is_boolean()) op.ivalue = v.get<bool>() ? 1 : 0;
          else op.ivalue = get_int(v, at, "value", 0, 1);
        } else {
          if (v.is_number()) {
            op.fvalue = v.get<double>();
          } else if (v.is_string() && (v == "inf" || v == "+inf" || v == "-inf" || v == "nan")) {
            const std::string s = v.get<std::string>();
            op.fvalue = s == "nan" ? std::numeric_limits<double>::quiet_NaN()
                                   : (s == "-inf" ? -1.0 : 1.0) * std::numeric_limits<double>::infinity();
          } else {
            fail(at, "an f32 value must be a number or \"inf\" / \"-inf\" / \"nan\", got " + brief(v));
          }
          p.has_float = true;
        }
        break;
      }
      case OpKind::Arg: {
        op.index = (int)get_int(require(oj, "index", at), at, "index", 0, (long long)p.args.size() - 1);
        op.type = p.arg_types[op.index];
        break;
      }
      case OpKind::Coord: {
        need(0, Type::Token);
        const std::string c = get_string(require(oj, "coord", at), at, "coord");
        if (!parse_coord(c, &op.coord))
          fail(at, "unknown coord '" + c + "' (pos frame row col shot shot_start shot_end)");
        op.type = Type::I64;
        break;
      }
      case OpKind::Dim: {
        const std::string d = get_string(require(oj, "dim", at), at, "dim");
        if (d == "N") op.dim = DimName::N;
        else if (d == "F") op.dim = DimName::F;
        else if (d == "H") op.dim = DimName::H;
        else if (d == "W") op.dim = DimName::W;
        else fail(at, "unknown dim '" + d + "' (N F H W)");
        op.type = Type::I64;
        break;
      }
      case OpKind::AddI: case OpKind::SubI: case OpKind::MulI: case OpKind::FloorDivSI:
      case OpKind::FloorMod: case OpKind::MinSI: case OpKind::MaxSI:
        need(0, Type::I64);
        need(1, Type::I64);
        op.type = Type::I64;
        break;
      case OpKind::AbsI:
        need(0, Type::I64);
        op.type = Type::I64;
        break;
      case OpKind::CmpI: {
        const std::string pr = get_string(require(oj, "pred", at), at, "pred");
        if (pr == "eq") op.pred = Pred::EQ;
        else if (pr == "ne") op.pred = Pred::NE;
        else if (pr == "slt") op.pred = Pred::LT;
        else if (pr == "sle") op.pred = Pred::LE;
        else if (pr == "sgt") op.pred = Pred::GT;
        else if (pr == "sge") op.pred = Pred::GE;
        else fail(at, "unknown cmpi predicate '" + pr + "' (eq ne slt sle sgt sge)");
        if (ot(0) != ot(1) || (ot(0) != Type::I64 && ot(0) != Type::I1))
          fail(at, std::string("compares ") + type_name(ot(0)) + " with " + type_name(ot(1)) +
                       "; cmpi takes two i64 (or two i1 for eq / ne)");
        if (ot(0) == Type::I1 && op.pred != Pred::EQ && op.pred != Pred::NE)
          fail(at, "an ordering predicate on i1 operands is not supported (only eq / ne)");
        op.type = Type::I1;
        break;
      }
      case OpKind::AndI: case OpKind::OrI: case OpKind::XOrI:
        need(0, Type::I1);
        need(1, Type::I1);
        op.type = Type::I1;
        break;
      case OpKind::Select:
        need(0, Type::I1);
        if (ot(1) != ot(2) || ot(1) == Type::Token)
          fail(at, std::string("select between ") + type_name(ot(1)) + " and " + type_name(ot(2)) +
                       "; both branches must have the same value type");
        op.type = ot(1);
        if (op.type == Type::F32) p.has_float = true;
        break;
      case OpKind::AddF: case OpKind::SubF: case OpKind::MulF: case OpKind::DivF:
      case OpKind::MinimumF: case OpKind::MaximumF:
        need(0, Type::F32);
        need(1, Type::F32);
        op.type = Type::F32;
        p.has_float = true;
        break;
      case OpKind::NegF: case OpKind::AbsF:
        need(0, Type::F32);
        op.type = Type::F32;
        p.has_float = true;
        break;
      case OpKind::SIToFP:
        need(0, Type::I64);
        op.type = Type::F32;
        p.has_float = true;
        break;
      case OpKind::CmpF: {
        const std::string pr = get_string(require(oj, "pred", at), at, "pred");
        if (pr == "oeq") op.pred = Pred::EQ;
        else if (pr == "one") op.pred = Pred::NE;
        else if (pr == "olt") op.pred = Pred::LT;
        else if (pr == "ole") op.pred = Pred::LE;
        else if (pr == "ogt") op.pred = Pred::GT;
        else if (pr == "oge") op.pred = Pred::GE;
        else fail(at, "unknown cmpf predicate '" + pr + "' (oeq one olt ole ogt oge)");
        need(0, Type::F32);
        need(1, Type::F32);
        op.type = Type::I1;
        p.has_float = true;
        break;
      }
    }
    // An explicit "type" on a non-const op must agree with the inferred one.
    if (op.kind != OpKind::Const) {
      if (const json* tj = find(oj, "type")) {
        Type t;
        const std::string ts = get_string(*tj, at, "type");
        if (ts == "token") t = Type::Token;
        else if (!parse_type(ts, &t)) fail(at, "unknown type '" + ts + "' (i1, i64, f32, token)");
        if (t != op.type) fail(at, "declares type " + ts + " but produces " + type_name(op.type));
      }
    }
    p.ops.push_back(std::move(op));
  }

  // result
  p.result = (int)get_int(require(j, "result", where), where, "result", 0, (long long)p.ops.size() - 1);
  const Type rt = result_type(slot);
  if (p.ops[p.result].type != rt)
    fail(where, "result ops[" + std::to_string(p.result) + "] has type " + type_name(p.ops[p.result].type) + "; a " +
                    slot_name(slot) + " program returns " + type_name(rt));
  return p;
}

namespace {

KernelSpec parse_kernel(const json& kj, size_t ki, Layout layout, const std::string& pattern_where) {
  (void)layout;
  std::string where = pattern_where + "kernels[" + std::to_string(ki) + "]";
  if (!kj.is_object()) fail(where, "a kernel must be an object, got " + kind_of(kj));
  KernelSpec k;
  k.name = get_string(require(kj, "name", where), where, "name");
  if (k.name.empty()) fail(where, "\"name\" is empty");
  where += " '" + k.name + "'";

  k.weight = get_number(require(kj, "weight", where), where, "weight");
  if (const json* v = find(kj, "accumulate")) k.accumulate = get_bool(*v, where, "accumulate");

  if (const json* r = find(kj, "route"); r && !r->is_null()) {
    const std::string rw = where + ": route";
    if (!r->is_object()) fail(rw, "must be an object {\"groups\", \"topk\"} or null, got " + kind_of(*r));
    RouteSpec rs;
    rs.groups = (int)get_int(require(*r, "groups", rw), rw, "groups", 1, 1 << 20);
    rs.topk = (int)get_int(require(*r, "topk", rw), rw, "topk", 1, rs.groups);
    k.route = rs;
  }
  if (const json* v = find(kj, "route_gate"); v && !v->is_null()) k.route_gate = get_bool(*v, where, "route_gate");
  if (const json* v = find(kj, "scale"); v && !v->is_null()) k.scale = get_number(*v, where, "scale");
  if (const json* v = find(kj, "softcap"); v && !v->is_null()) {
    k.softcap = get_number(*v, where, "softcap");
    if (*k.softcap <= 0) fail(where, "\"softcap\" must be positive, got " + brief(*v));
  }

  const std::string st = get_string(require(kj, "structure", where), where, "structure");
  if (st == "dense") k.structure = Structure::Dense;
  else if (st == "grouped") k.structure = Structure::Grouped;
  else if (st == "grouped_masked") k.structure = Structure::GroupedMasked;
  else if (st == "masked") k.structure = Structure::Masked;
  else fail(where, "unknown structure '" + st + "' (dense grouped grouped_masked masked)");

  if (const json* v = find(kj, "stage_keys"); v && !v->is_null()) k.stage_keys = get_bool(*v, where, "stage_keys");
  if (const json* b = find(kj, "bias_plan"); b && !b->is_null()) {
    const std::string bw = where + ": bias_plan";
    if (!b->is_object()) fail(bw, "must be an object {\"col_words\", \"f32_max_n\"} or null, got " + kind_of(*b));
    k.bias_col_words = (int)get_int(require(*b, "col_words", bw), bw, "col_words", 0, 64);
    k.bias_f32_max_n = get_int(require(*b, "f32_max_n", bw), bw, "f32_max_n", 0, 1LL << 31);
    if (const json* u = find(*b, "u8"); u && !u->is_null()) {
      const std::string uw = bw + ": u8";
      if (!u->is_object()) fail(uw, "must be an object {\"coords\", \"col_words\"} or null, got " + kind_of(*u));
      k.bias_u8_col_words = (int)get_int(require(*u, "col_words", uw), uw, "col_words", 1, 64);
      const json& cs = require(*u, "coords", uw);
      if (!cs.is_array() || cs.empty()) fail(uw, "\"coords\" must be a non-empty array of coordinate names");
      for (const auto& x : cs) {
        CoordField c;
        if (!x.is_string() || !parse_coord(x.get<std::string>(), &c))
          fail(uw, "\"coords\" holds " + brief(x) + ", not a coordinate (pos frame row col shot shot_start shot_end)");
        k.bias_u8_coords.push_back(x.get<std::string>());
      }
    }
  }

  if (const json* u = find(kj, "uses"); u && !u->is_null()) {
    if (!u->is_array()) fail(where, "\"uses\" must be an array of coordinate names");
    for (const auto& x : *u) {
      CoordField c;
      if (!x.is_string() || !parse_coord(x.get<std::string>(), &c))
        fail(where, "\"uses\" holds " + brief(x) + ", not a coordinate (pos frame row col shot shot_start shot_end)");
      k.uses.push_back(x.get<std::string>());
    }
  }

  if (const json* t = find(kj, "tiles"); t && !t->is_null()) {
    const std::string tw = where + ": tiles";
    if (!t->is_object()) fail(tw, "must be an object, got " + kind_of(*t));
    auto field = [&](const char* key, int* out) {
      if (const json* v = find(*t, key)) *out = (int)get_int(*v, tw, key, 1, 1 << 16);
    };
    field("block_m", &k.tiles.block_m);
    field("block_n", &k.tiles.block_n);
    field("warps", &k.tiles.warps);
    field("stages", &k.tiles.stages);
    field("head_dim", &k.tiles.head_dim);
  }

  if (const json* pl = find(kj, "plan"); pl && !pl->is_null()) {
    const std::string pw = where + ": plan";
    if (!pl->is_object()) fail(pw, "must be an object {\"sm_90\": {...}}, got " + kind_of(*pl));
    if (const json* h = find(*pl, "sm_90"); h && !h->is_null()) {
      const std::string hw = pw + ".sm_90";
      if (!h->is_object()) fail(hw, "must be an object, got " + kind_of(*h));
      HopperPlanSpec hp;
      hp.variant = get_string(require(*h, "variant", hw), hw, "variant");
      hp.block_m = (int)get_int(require(*h, "block_m", hw), hw, "block_m", 1, 1 << 16);
      hp.block_n = (int)get_int(require(*h, "block_n", hw), hw, "block_n", 1, 1 << 16);
      hp.warps = (int)get_int(require(*h, "warps", hw), hw, "warps", 1, 64);
      hp.stages = (int)get_int(require(*h, "stages", hw), hw, "stages", 1, 16);
      const json& dims = require(*h, "head_dims", hw);
      if (!dims.is_array()) fail(hw, "\"head_dims\" must be an array, got " + kind_of(dims));
      for (const auto& d : dims) {
        const int v = (int)get_int(d, hw, "head_dims", 64, 128);
        if (v != 64 && v != 128) fail(hw, "\"head_dims\" holds " + brief(d) + " (the kernels have 64 and 128)");
        hp.head_dims.push_back(v);
      }
      k.plan_sm90 = hp;
    }
  }

  auto program = [&](const char* key, Slot slot, std::optional<Program>* out) {
    if (const json* v = find(kj, key); v && !v->is_null()) *out = parse_program(*v, slot, where + ": " + key);
  };
  program("mask", Slot::Mask, &k.mask);
  program("key", Slot::Key, &k.key);
  program("bias", Slot::Bias, &k.bias);
  program("gate", Slot::Gate, &k.gate);
  // Evaluation errors name the kernel the same way.
  for (auto* p : {&k.mask, &k.key, &k.bias, &k.gate})
    if (*p) (*p)->where = "kernel '" + k.name + "' " + slot_name((*p)->slot);

  // Consistency of the declarations.
  if (k.route && k.key) fail(where, "has both \"route\" and \"key\": a kernel is grouped one way");
  if (k.route_gate && !k.route) fail(where, "\"route_gate\" is true but the kernel has no \"route\"");
  if (k.route_gate && k.gate) fail(where, "has both \"route_gate\" and a \"gate\" program: a kernel has one gate");
  const bool grouped_decl = k.structure == Structure::Grouped || k.structure == Structure::GroupedMasked;
  const bool masked_decl = k.structure == Structure::Masked || k.structure == Structure::GroupedMasked;
  if (grouped_decl != k.grouped())
    fail(where, "structure '" + st + "' " + (grouped_decl ? "needs a \"route\" or a \"key\"" : "but the kernel is grouped"));
  if (masked_decl != k.mask.has_value())
    fail(where, "structure '" + st + "' " + (masked_decl ? "needs a \"mask\" program" : "but the kernel has a \"mask\" program"));
  return k;
}

}  // namespace

PatternSpec parse_manifest(const json& j) {
  if (!j.is_object()) fail("", "the manifest must be a JSON object, got " + kind_of(j));
  PatternSpec p;
  p.pattern = get_string(require(j, "pattern", ""), "", "pattern");
  const std::string pn = "pattern '" + p.pattern + "'", pw = pn + ": ";
  const std::string layout = get_string(require(j, "layout", pn), pn, "layout");
  if (layout == "seq") p.layout = Layout::Seq;
  else if (layout == "video") p.layout = Layout::Video;
  else fail(pn, "unknown layout '" + layout + "' (seq, video)");

  if (const json* params = find(j, "params"); params && !params->is_null()) {
    if (!params->is_object()) fail(pw + "params", "must be an object of numbers");
    for (auto it = params->begin(); it != params->end(); ++it) {
      if (it.value().is_boolean()) p.params[it.key()] = it.value().get<bool>() ? 1.0 : 0.0;
      else p.params[it.key()] = get_number(it.value(), pw + "params", it.key().c_str());
    }
  }

  const json& kernels = require(j, "kernels", pn);
  if (!kernels.is_array()) fail(pw + "kernels", "must be an array");
  if (kernels.empty()) fail(pw + "kernels", "is empty: a pattern has at least one kernel");
  std::set<std::string> names;
  for (size_t i = 0; i < kernels.size(); ++i) {
    KernelSpec k = parse_kernel(kernels[i], i, p.layout, pw);
    if (!names.insert(k.name).second)
      fail(pw + "kernels[" + std::to_string(i) + "]", "duplicate kernel name '" + k.name + "'");
    p.kernels.push_back(std::move(k));
  }
  return p;
}

PatternSpec parse_manifest_text(std::string_view text) {
  json j;
  try {
    j = json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    throw ManifestError(std::string("manifest: not valid JSON: ") + e.what());
  }
  return parse_manifest(j);
}

PatternSpec load_manifest(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw ManifestError("manifest: cannot open '" + path + "'");
  std::stringstream ss;
  ss << f.rdbuf();
  try {
    return parse_manifest_text(ss.str());
  } catch (const ManifestError& e) {
    throw ManifestError(path + ": " + e.what());
  }
}

}  // namespace moga::ref
