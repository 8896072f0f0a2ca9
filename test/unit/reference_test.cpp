// runtime/reference: manifest parsing / validation and the two program evaluators.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "runtime/reference/manifest.h"
#include "runtime/reference/program.h"
#include "test/unit/reference_fixtures.h"


namespace {

using namespace moga;
using namespace moga::ref;
using nlohmann::json;

Program prog(const char* text, Slot slot, const char* where = "test") { return parse_program(json::parse(text), slot, where); }

// A one-kernel manifest around `kernel` (merged over defaults).
json manifest_with(const json& kernel_overrides, const char* layout = "seq") {
  json k = {{"name", "k0"}, {"weight", 1.0}, {"accumulate", false}, {"route", nullptr}, {"route_gate", false},
            {"scale", nullptr}, {"softcap", nullptr}, {"structure", "dense"}, {"uses", json::array()},
            {"tiles", {{"block_m", 128}, {"block_n", 64}, {"warps", 4}, {"stages", 2}, {"head_dim", 128}}},
            {"mask", nullptr}, {"key", nullptr}, {"bias", nullptr}, {"gate", nullptr}};
  for (auto it = kernel_overrides.begin(); it != kernel_overrides.end(); ++it) k[it.key()] = it.value();
  return {{"pattern", "p"}, {"layout", layout}, {"params", json::object()}, {"kernels", json::array({k})}};
}

// The message of the ManifestError that parsing `j` throws ("" when none).
std::string manifest_error(const json& j) {
  try {
    parse_manifest(j);
  } catch (const ManifestError& e) {
    return e.what();
  }
  return "";
}

// ---- manifests ----------------------------------------------------------------------------------------

TEST(ReferenceManifest, ParsesAllFields) {
  const char* text = R"({"pattern": "moga", "layout": "video", "params": {"M": 5, "ext": 2, "temp": 0.5},
    "kernels": [
      {"name": "dynamic", "weight": 0.3333333333, "accumulate": false, "route": {"groups": 5, "topk": 2},
       "route_gate": true, "scale": null, "softcap": 30.0, "structure": "grouped", "uses": [],
       "tiles": {"block_m": 128, "block_n": 64, "warps": 4, "stages": 2, "head_dim": 128},
       "mask": null, "key": null, "bias": null, "gate": null},
      {"name": "frame_local", "weight": 0.3333333333, "accumulate": true, "route": null, "route_gate": false,
       "scale": 0.5, "softcap": null, "structure": "grouped_masked", "uses": ["pos"],
       "tiles": {"block_m": 64, "block_n": 32, "warps": 4, "stages": 3, "head_dim": 64},
       "mask": CAUSAL, "key": KEY, "bias": BIAS, "gate": GATE}]})";
  std::string s = text;
  auto put = [&](const std::string& what, const char* by) { s.replace(s.find(what), what.size(), by); };
  put("CAUSAL", reftest::kCausalMask);
  put("KEY", reftest::kFrameKey);
  put("BIAS", reftest::kDistanceBias);
  put("GATE", reftest::kPosGate);
  const PatternSpec p = parse_manifest_text(s);
  EXPECT_EQ(p.pattern, "moga");
  EXPECT_EQ(p.layout, Layout::Video);
  EXPECT_EQ(p.params.at("M"), 5);
  EXPECT_EQ(p.params.at("temp"), 0.5);
  ASSERT_EQ(p.kernels.size(), 2u);
  const KernelSpec& d = p.kernels[0];
  EXPECT_EQ(d.name, "dynamic");
  EXPECT_NEAR(d.weight, 1.0 / 3, 1e-9);
  ASSERT_TRUE(d.route);
  EXPECT_EQ(d.route->groups, 5);
  EXPECT_EQ(d.route->topk, 2);
  EXPECT_TRUE(d.route_gate);
  EXPECT_FALSE(d.scale);
  EXPECT_EQ(*d.softcap, 30.0);
  EXPECT_EQ(d.structure, Structure::Grouped);
  EXPECT_TRUE(d.grouped());
  EXPECT_FALSE(d.mask || d.key || d.bias || d.gate);
  const KernelSpec& f = p.kernels[1];
  EXPECT_TRUE(f.accumulate);
  EXPECT_EQ(*f.scale, 0.5);
  EXPECT_EQ(f.structure, Structure::GroupedMasked);
  EXPECT_EQ(f.tiles.block_m, 64);
  EXPECT_EQ(f.tiles.block_n, 32);
  EXPECT_EQ(f.tiles.stages, 3);
  EXPECT_EQ(f.tiles.head_dim, 64);
  ASSERT_TRUE(f.mask && f.key && f.bias && f.gate);
  EXPECT_EQ(f.mask->ops.size(), 5u);
  EXPECT_EQ(f.mask->result, 4);
  EXPECT_EQ(f.mask->ops[4].kind, OpKind::CmpI);
  EXPECT_EQ(f.mask->ops[4].pred, Pred::GE);
  EXPECT_EQ(f.key->ops[1].coord, CoordField::Frame);
  EXPECT_TRUE(f.bias->has_float);
  EXPECT_FALSE(f.mask->has_float);
  EXPECT_EQ(f.bias->arg_types[2], Type::I64);
  EXPECT_EQ(f.mask->where, "kernel 'frame_local' mask");
}

TEST(ReferenceManifest, ParsesTheShippedStyleOfPrograms) {
  for (const char* m : {reftest::kCausalMask, reftest::kSlidingMask, reftest::kStgaMask, reftest::kNattenMask,
                        reftest::kModMask}) {
    const PatternSpec p = parse_manifest(manifest_with({{"structure", "masked"}, {"mask", json::parse(m)}}));
    EXPECT_TRUE(p.kernels[0].mask);
  }
}

struct BadCase {
  const char* what;
  json manifest;
  std::vector<std::string> expect;  // substrings of the message
};

TEST(ReferenceManifest, MalformedManifestsGiveLocatedErrors) {
  const json causal = json::parse(reftest::kCausalMask);
  auto with_op = [&](int i, const json& op) {
    json m = causal;
    m["ops"][i] = op;
    return m;
  };
  std::vector<BadCase> cases = {
      {"not an object", json::array(), {"must be a JSON object"}},
      {"no layout", json{{"pattern", "p"}, {"kernels", json::array()}}, {"pattern 'p'", "missing field \"layout\""}},
      {"bad layout", json{{"pattern", "p"}, {"layout", "image"}, {"kernels", json::array()}}, {"unknown layout 'image'"}},
      {"no kernels", json{{"pattern", "p"}, {"layout", "seq"}, {"kernels", json::array()}}, {"kernels", "is empty"}},
      {"param not a number", [] { json j = manifest_with({}); j["params"]["M"] = "five"; return j; }(),
       {"params", "\"M\" must be a number"}},
      {"no weight", [] { json j = manifest_with({}); j["kernels"][0].erase("weight"); return j; }(),
       {"kernels[0] 'k0'", "missing field \"weight\""}},
      {"weight a string", manifest_with({{"weight", "1"}}), {"kernels[0] 'k0'", "\"weight\" must be a number"}},
      {"unknown structure", manifest_with({{"structure", "sparse"}}), {"unknown structure 'sparse'"}},
      {"masked without mask", manifest_with({{"structure", "masked"}}), {"structure 'masked' needs a \"mask\" program"}},
      {"mask on dense", manifest_with({{"mask", causal}}), {"structure 'dense' but the kernel has a \"mask\""}},
      {"grouped without group", manifest_with({{"structure", "grouped"}}), {"needs a \"route\" or a \"key\""}},
      {"topk > groups", manifest_with({{"structure", "grouped"}, {"route", {{"groups", 2}, {"topk", 3}}}}),
       {"route", "\"topk\" = 3 is out of range [1, 2]"}},
      {"route and key", manifest_with({{"structure", "grouped"}, {"route", {{"groups", 2}, {"topk", 1}}},
                                       {"key", json::parse(reftest::kFrameKey)}}),
       {"both \"route\" and \"key\""}},
      {"route_gate without route", manifest_with({{"route_gate", true}}), {"\"route_gate\" is true but the kernel has no \"route\""}},
      {"softcap <= 0", manifest_with({{"softcap", 0.0}}), {"\"softcap\" must be positive"}},
      {"bias_plan not an object", manifest_with({{"bias_plan", 3}}), {"bias_plan", "must be an object"}},
      {"bias_plan words out of range", manifest_with({{"bias_plan", {{"col_words", 65}, {"f32_max_n", 0}}}}),
       {"bias_plan", "\"col_words\" = 65 is out of range"}},
      {"bias_plan without f32_max_n", manifest_with({{"bias_plan", {{"col_words", 2}}}}),
       {"bias_plan", "missing field \"f32_max_n\""}},
      {"bad tiles", manifest_with({{"tiles", {{"block_m", 0}}}}), {"tiles", "\"block_m\" = 0 is out of range"}},
      {"bad uses", manifest_with({{"uses", {"pos", "time"}}}), {"\"uses\" holds \"time\""}},
      {"duplicate names", [] { json j = manifest_with({}); j["kernels"].push_back(j["kernels"][0]); return j; }(),
       {"kernels[1]", "duplicate kernel name 'k0'"}},
      // programs
      {"unknown op", manifest_with({{"structure", "masked"}, {"mask", with_op(4, {{"op", "cmpx"}, {"operands", {2, 3}}})}}),
       {"kernels[0] 'k0': mask: ops[4]", "unknown op 'cmpx'"}},
      {"forward operand", manifest_with({{"structure", "masked"},
                                         {"mask", with_op(2, {{"op", "coord"}, {"operands", {3}}, {"coord", "pos"}})}}),
       {"mask: ops[2] 'coord'", "refers to ops[3], which is not an earlier op"}},
      {"negative operand", manifest_with({{"structure", "masked"},
                                          {"mask", with_op(4, {{"op", "cmpi"}, {"pred", "sge"}, {"operands", {2, -1}}})}}),
       {"mask: ops[4] 'cmpi'", "refers to ops[-1]"}},
      {"type mismatch", manifest_with({{"structure", "masked"}, {"mask", with_op(4, {{"op", "addi"}, {"operands", {0, 3}}})}}),
       {"mask: ops[4] 'addi'", "operand 0 (ops[0]) has type token, expected i64"}},
      {"arity", manifest_with({{"structure", "masked"}, {"mask", with_op(4, {{"op", "cmpi"}, {"pred", "sge"}, {"operands", {2}}})}}),
       {"ops[4] 'cmpi'", "takes 2 operand(s), got 1"}},
      {"bad pred", manifest_with({{"structure", "masked"}, {"mask", with_op(4, {{"op", "cmpi"}, {"pred", "uge"}, {"operands", {2, 3}}})}}),
       {"unknown cmpi predicate 'uge'"}},
      {"bad coord", manifest_with({{"structure", "masked"}, {"mask", with_op(2, {{"op", "coord"}, {"operands", {0}}, {"coord", "time"}})}}),
       {"mask: ops[2] 'coord'", "unknown coord 'time'"}},
      {"arg out of range", manifest_with({{"structure", "masked"}, {"mask", with_op(1, {{"op", "arg"}, {"index", 2}})}}),
       {"mask: ops[1] 'arg'", "\"index\" = 2 is out of range [0, 1]"}},
      {"const out of 32 bits", manifest_with({{"structure", "masked"},
                                              {"mask", with_op(3, {{"op", "const"}, {"type", "i64"}, {"value", 1LL << 40}})}}),
       {"mask: ops[3] 'const'", "out of range"}},
      {"declared type disagrees", manifest_with({{"structure", "masked"},
                                                 {"mask", with_op(4, {{"op", "cmpi"}, {"pred", "sge"}, {"operands", {2, 3}}, {"type", "i64"}})}}),
       {"ops[4] 'cmpi'", "declares type i64 but produces i1"}},
      {"wrong args", manifest_with({{"structure", "masked"}, {"mask", [&] { json m = causal; m["args"] = {"q"}; return m; }()}}),
       {"mask", "takes args [\"q\", \"kv\"], got [\"q\"]"}},
      {"result type", manifest_with({{"structure", "masked"}, {"mask", [&] { json m = causal; m["result"] = 2; return m; }()}}),
       {"mask", "result ops[2] has type i64; a mask program returns i1"}},
      {"result out of range", manifest_with({{"structure", "masked"}, {"mask", [&] { json m = causal; m["result"] = 9; return m; }()}}),
       {"mask", "\"result\" = 9 is out of range"}},
      {"select of mixed types", manifest_with({{"structure", "masked"},
                                               {"mask", with_op(4, {{"op", "select"}, {"operands", {0, 2, 3}}})}}),
       {"ops[4] 'select'", "operand 0 (ops[0]) has type token, expected i1"}},
      {"float op on ints", manifest_with({{"bias", [] { json b = json::parse(reftest::kDistanceBias); b["ops"][7] = {{"op", "negf"}, {"operands", {6}}}; return b; }()}}),
       {"bias: ops[7] 'negf'", "expected f32"}},
  };
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.what);
    const std::string msg = manifest_error(c.manifest);
    ASSERT_FALSE(msg.empty()) << "no error";
    EXPECT_EQ(msg.rfind("manifest: ", 0), 0u) << msg;
    for (const std::string& e : c.expect) EXPECT_NE(msg.find(e), std::string::npos) << "message: " << msg << "\nmissing: " << e;
  }
}

TEST(ReferenceManifest, TextAndFileErrors) {
  try {
    parse_manifest_text("{\"pattern\": ");
    FAIL() << "no error";
  } catch (const ManifestError& e) {
    EXPECT_NE(std::string(e.what()).find("not valid JSON"), std::string::npos) << e.what();
  }
  try {
    load_manifest("/nonexistent/moga.json");
    FAIL() << "no error";
  } catch (const ManifestError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot open '/nonexistent/moga.json'"), std::string::npos) << e.what();
  }
}

// ---- element level -----------------------------------------------------------------------------------

struct Grid {
  int F, H, W;
  std::vector<int> shots;
};

TEST(ReferenceProgram, ElementMasksMatchDirectCpp) {
  const Program causal = prog(reftest::kCausalMask, Slot::Mask), sliding = prog(reftest::kSlidingMask, Slot::Mask),
                stga = prog(reftest::kStgaMask, Slot::Mask), natten = prog(reftest::kNattenMask, Slot::Mask),
                modm = prog(reftest::kModMask, Slot::Mask);
  const Program key = prog(reftest::kFrameKey, Slot::Key), bias = prog(reftest::kDistanceBias, Slot::Bias),
                gate = prog(reftest::kPosGate, Slot::Gate);
  ElementEvaluator ec(causal), es(sliding), et(stga), en(natten), em(modm), ek(key), eb(bias), eg(gate);
  for (const Grid& g : {Grid{7, 4, 5, {0, 2, 3, 6}}, Grid{5, 3, 6, {}}, Grid{9, 5, 4, {0, 4}}}) {
    const Shape shape = Shape::video({g.F, g.H, g.W, g.shots});
    const MaskShape& ms = shape.mask();
    long long stga_true = 0;
    for (int a = 0; a < shape.N(); ++a) {
      const Coords<int> qa = shape.coords(a);
      const reftest::Tok ta = reftest::tok_of(a, g.F, g.H, g.W, g.shots);
      ASSERT_EQ(qa.frame, ta.frame);
      ASSERT_EQ(qa.shot, ta.shot);
      ASSERT_EQ(qa.shot_start, ta.shot_start);
      ASSERT_EQ(qa.shot_end, ta.shot_end);
      ASSERT_EQ(ek.key(qa, ms), ta.frame);
      ASSERT_DOUBLE_EQ(eg.gate(qa, ms), reftest::pos_gate(ta));
      for (int b = 0; b < shape.N(); ++b) {
        const Coords<int> qb = shape.coords(b);
        const reftest::Tok tb = reftest::tok_of(b, g.F, g.H, g.W, g.shots);
        ASSERT_EQ(ec.mask(qa, qb, ms), reftest::causal_ok(ta, tb)) << a << " " << b;
        ASSERT_EQ(es.mask(qa, qb, ms), reftest::sliding_ok(ta, tb)) << a << " " << b;
        ASSERT_EQ(et.mask(qa, qb, ms), reftest::stga_ok(ta, tb, g.H, g.W)) << a << " " << b;
        ASSERT_EQ(en.mask(qa, qb, ms), reftest::natten_ok(ta, tb, g.H, g.W)) << a << " " << b;
        ASSERT_EQ(em.mask(qa, qb, ms), reftest::mod_ok(ta, tb)) << a << " " << b;
        stga_true += et.mask(qa, qb, ms);
        for (int h = 0; h < 3; ++h) ASSERT_DOUBLE_EQ(eb.bias(qa, qb, h, ms), reftest::distance_bias(ta, tb, h));
      }
    }
    EXPECT_GT(stga_true, 0);
    EXPECT_LT(stga_true, (long long)shape.N() * shape.N());
  }
}

// One op per program: the value of `op` applied to constants.
template <class V>
V eval_const_op(const json& op, Slot slot, const std::vector<json>& consts) {
  json p = {{"args", slot == Slot::Mask ? json{"q", "kv"} : json{"q"}}, {"ops", json::array()}};
  for (const json& c : consts) p["ops"].push_back(c);
  p["ops"].push_back(op);
  p["result"] = consts.size();
  const Program prg = parse_program(p, slot, "ops test");
  const Shape s = Shape::seq(4);
  const Coords<int> c = s.coords(0);
  if constexpr (std::is_same_v<V, bool>) return eval_mask(prg, c, c, s.mask());
  else return eval_gate(prg, c, s.mask());
}

json ci(long long v) { return {{"op", "const"}, {"type", "i64"}, {"value", v}}; }
json cb(bool v) { return {{"op", "const"}, {"type", "i1"}, {"value", v}}; }
json cf(double v) { return {{"op", "const"}, {"type", "f32"}, {"value", v}}; }
json cfs(const char* v) { return {{"op", "const"}, {"type", "f32"}, {"value", v}}; }

// An int op wrapped as (op(a, b) == expect) so it can be a mask.
bool int_op_is(const char* name, long long a, long long b, long long expect, int arity = 2) {
  json p = {{"args", {"q", "kv"}},
            {"ops", {ci(a), ci(b), {{"op", name}, {"operands", arity == 2 ? json{0, 1} : json{0}}}, ci(expect),
                     {{"op", "cmpi"}, {"pred", "eq"}, {"operands", {2, 3}}}}},
            {"result", 4}};
  const Program prg = parse_program(p, Slot::Mask, "int op");
  const Shape s = Shape::seq(1);
  return eval_mask(prg, s.coords(0), s.coords(0), s.mask());
}

TEST(ReferenceProgram, EveryOpOnTheElementLevel) {
  // floor semantics
  EXPECT_TRUE(int_op_is("floordivsi", 7, 2, 3));
  EXPECT_TRUE(int_op_is("floordivsi", -7, 2, -4));
  EXPECT_TRUE(int_op_is("floordivsi", 7, -2, -4));
  EXPECT_TRUE(int_op_is("floordivsi", -7, -2, 3));
  EXPECT_TRUE(int_op_is("floormod", -7, 3, 2));
  EXPECT_TRUE(int_op_is("floormod", 7, -3, -2));
  EXPECT_TRUE(int_op_is("addi", -7, 3, -4));
  EXPECT_TRUE(int_op_is("subi", -7, 3, -10));
  EXPECT_TRUE(int_op_is("muli", -7, 3, -21));
  EXPECT_TRUE(int_op_is("minsi", -7, 3, -7));
  EXPECT_TRUE(int_op_is("maxsi", -7, 3, 3));
  EXPECT_TRUE(int_op_is("absi", -7, 0, 7, 1));
  EXPECT_FALSE(int_op_is("absi", -7, 0, -7, 1));
  // comparisons
  const std::pair<const char*, std::array<bool, 3>> cmps[] = {  // (2 vs 3, 3 vs 3, 4 vs 3)
      {"eq", {false, true, false}}, {"ne", {true, false, true}},  {"slt", {true, false, false}},
      {"sle", {true, true, false}}, {"sgt", {false, false, true}}, {"sge", {false, true, true}}};
  for (const auto& [pred, want] : cmps)
    for (int i = 0; i < 3; ++i)
      EXPECT_EQ(eval_const_op<bool>({{"op", "cmpi"}, {"pred", pred}, {"operands", {0, 1}}}, Slot::Mask, {ci(2 + i), ci(3)}),
                want[i])
          << pred << " " << 2 + i;
  // booleans
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 2; ++b) {
      const std::vector<json> c = {cb(a), cb(b)};
      EXPECT_EQ(eval_const_op<bool>({{"op", "andi"}, {"operands", {0, 1}}}, Slot::Mask, c), a && b);
      EXPECT_EQ(eval_const_op<bool>({{"op", "ori"}, {"operands", {0, 1}}}, Slot::Mask, c), a || b);
      EXPECT_EQ(eval_const_op<bool>({{"op", "xori"}, {"operands", {0, 1}}}, Slot::Mask, c), a != b);
      EXPECT_EQ(eval_const_op<bool>({{"op", "cmpi"}, {"pred", "eq"}, {"operands", {0, 1}}}, Slot::Mask, c), a == b);
      EXPECT_EQ(eval_const_op<bool>({{"op", "cmpi"}, {"pred", "ne"}, {"operands", {0, 1}}}, Slot::Mask, c), a != b);
      EXPECT_EQ(eval_const_op<bool>({{"op", "select"}, {"operands", {0, 1, 0}}}, Slot::Mask, c), a ? (bool)b : (bool)a);
    }
  // floats
  const double nan = std::numeric_limits<double>::quiet_NaN();
  auto f2 = [&](const char* op, double a, double b) {
    return eval_const_op<double>({{"op", op}, {"operands", {0, 1}}}, Slot::Gate, {cf(a), cf(b)});
  };
  EXPECT_EQ(f2("addf", 1.5, 2.25), 3.75);
  EXPECT_EQ(f2("subf", 1.5, 2.25), -0.75);
  EXPECT_EQ(f2("mulf", 1.5, 2.0), 3.0);
  EXPECT_EQ(f2("divf", 1.0, 4.0), 0.25);
  EXPECT_EQ(f2("minimumf", 1.0, -4.0), -4.0);
  EXPECT_EQ(f2("maximumf", 1.0, -4.0), 1.0);
  EXPECT_TRUE(std::isnan(eval_const_op<double>({{"op", "minimumf"}, {"operands", {0, 1}}}, Slot::Gate, {cf(1.0), cfs("nan")})));
  EXPECT_TRUE(std::isnan(eval_const_op<double>({{"op", "maximumf"}, {"operands", {0, 1}}}, Slot::Gate, {cfs("nan"), cf(1.0)})));
  EXPECT_EQ(eval_const_op<double>({{"op", "negf"}, {"operands", {0}}}, Slot::Gate, {cf(2.5)}), -2.5);
  EXPECT_EQ(eval_const_op<double>({{"op", "absf"}, {"operands", {0}}}, Slot::Gate, {cf(-2.5)}), 2.5);
  EXPECT_EQ(eval_const_op<double>({{"op", "sitofp"}, {"operands", {0}}}, Slot::Gate, {ci(-3)}), -3.0);
  EXPECT_EQ(eval_const_op<double>({{"op", "addf"}, {"operands", {0, 1}}}, Slot::Gate, {cfs("-inf"), cf(1)}),
            -std::numeric_limits<double>::infinity());
  EXPECT_EQ(eval_const_op<double>({{"op", "select"}, {"operands", {0, 1, 2}}}, Slot::Gate, {cb(false), cf(1), cf(2)}), 2.0);
  const std::pair<const char*, std::array<bool, 4>> fcmps[] = {  // (1 vs 2, 2 vs 2, 3 vs 2, nan vs 2)
      {"oeq", {false, true, false, false}}, {"one", {true, false, true, false}}, {"olt", {true, false, false, false}},
      {"ole", {true, true, false, false}},  {"ogt", {false, false, true, false}}, {"oge", {false, true, true, false}}};
  (void)nan;
  for (const auto& [pred, want] : fcmps)
    for (int i = 0; i < 4; ++i)
      EXPECT_EQ(eval_const_op<bool>({{"op", "cmpf"}, {"pred", pred}, {"operands", {0, 1}}}, Slot::Mask,
                                    {i < 3 ? cf(1.0 + i) : cfs("nan"), cf(2.0)}),
                want[i])
          << pred << " " << i;
  // dims
  const Shape v = Shape::video({3, 4, 5, {}});
  for (const auto& [d, want] : {std::pair<const char*, int>{"N", 60}, {"F", 3}, {"H", 4}, {"W", 5}}) {
    const json p = {{"args", {"t"}}, {"ops", {{{"op", "dim"}, {"dim", d}}}}, {"result", 0}};
    EXPECT_EQ(eval_key(parse_program(p, Slot::Key, "dim"), v.coords(0), v.mask()), want) << d;
  }
  const Shape sq = Shape::seq(17);
  EXPECT_EQ(sq.coords(13).col, 13);
  EXPECT_EQ(sq.coords(13).frame, 0);
  EXPECT_EQ(sq.coords(13).shot_end, 1);
}

TEST(ReferenceProgram, EvaluationErrorsNameKernelProgramAndOp) {
  const PatternSpec p = parse_manifest(manifest_with(
      {{"name", "divider"},
       {"structure", "masked"},
       {"mask", json::parse(R"({"args": ["q", "kv"], "ops": [
          {"op": "arg", "index": 0}, {"op": "arg", "index": 1},
          {"op": "coord", "operands": [0], "coord": "pos"}, {"op": "coord", "operands": [1], "coord": "pos"},
          {"op": "floordivsi", "operands": [2, 3]}, {"op": "const", "type": "i64", "value": 0},
          {"op": "cmpi", "pred": "sge", "operands": [4, 5]}], "result": 6})")}}));
  const Shape s = Shape::seq(4);
  ElementEvaluator ev(*p.kernels[0].mask);
  EXPECT_TRUE(ev.mask(s.coords(3), s.coords(1), s.mask()));
  try {
    ev.mask(s.coords(3), s.coords(0), s.mask());
    FAIL() << "no error";
  } catch (const ProgramError& e) {
    EXPECT_STREQ(e.what(), "kernel 'divider' mask: ops[4] 'floordivsi': division by zero (3 / 0)");
  }
  // The tile level divides by an interval holding 0 soundly (whole range), without an error.
  TileEvaluator tv(*p.kernels[0].mask);
  const Tri t = tv.mask(Coords<Ivl>{Ivl(0, 3), 0, 0, Ivl(0, 3), 0, 0, 1}, Coords<Ivl>{Ivl(0, 3), 0, 0, Ivl(0, 3), 0, 0, 1},
                        s.mask());
  EXPECT_EQ(t.v, 2);
  // Float ops are not allowed on the tile level.
  const Program fm = prog(R"({"args": ["q", "kv"], "ops": [
      {"op": "arg", "index": 0}, {"op": "coord", "operands": [0], "coord": "pos"}, {"op": "sitofp", "operands": [1]},
      {"op": "const", "type": "f32", "value": 2.5}, {"op": "cmpf", "pred": "olt", "operands": [2, 3]}], "result": 4})",
                          Slot::Mask, "kernel 'fm' mask");
  try {
    TileEvaluator bad(fm);
    FAIL() << "no error";
  } catch (const ProgramError& e) {
    EXPECT_STREQ(e.what(),
                 "kernel 'fm' mask: ops[2] 'sitofp': float ops are not allowed on the tile level (a mask or key must "
                 "be integer / boolean)");
  }
  EXPECT_TRUE(eval_mask(fm, s.coords(2), s.coords(0), s.mask()));
  EXPECT_FALSE(eval_mask(fm, s.coords(3), s.coords(0), s.mask()));
  // A program evaluated in the wrong slot.
  EXPECT_THROW(eval_key(fm, s.coords(0), s.mask()), ProgramError);
}

// ---- tile level ---------------------------------------------------------------------------------------

// The tile-level result over random token sets (not only contiguous tiles) is sound: false -> no
// element pair true, true -> every element pair true.
TEST(ReferenceProgram, TileLevelIsSoundOnRandomTokenSets) {
  std::mt19937_64 rng(reftest::test_seed("ReferenceProgram.TileLevelIsSoundOnRandomTokenSets"));
  const char* masks[] = {reftest::kCausalMask, reftest::kSlidingMask, reftest::kStgaMask, reftest::kNattenMask,
                         reftest::kModMask};
  long long decided = 0, total = 0;
  for (int iter = 0; iter < 300; ++iter) {
    std::uniform_int_distribution<int> dim(1, 7);
    Grid g{dim(rng), dim(rng), dim(rng), {}};
    for (int f = 0; f < g.F; ++f)
      if (f == 0 || rng() % 3 == 0) g.shots.push_back(f);
    const Shape shape = Shape::video({g.F, g.H, g.W, g.shots});
    const int N = shape.N();
    auto pick = [&](std::vector<int>& set) {
      const int n = 1 + (int)(rng() % std::min(N, 12));
      const int base = (int)(rng() % N), spread = 1 + (int)(rng() % N);
      for (int i = 0; i < n; ++i) set.push_back(std::min(N - 1, base + (int)(rng() % spread)));
    };
    std::vector<int> qs, ks;
    pick(qs);
    pick(ks);
    auto summary = [&](const std::vector<int>& set) {
      Coords<Ivl> c;
      Coords<int> a = shape.coords(set[0]);
      c = Coords<Ivl>{a.pos, a.frame, a.row, a.col, a.shot, a.shot_start, a.shot_end};
      for (int t : set) {
        const Coords<int> x = shape.coords(t);
        const int v[7] = {x.pos, x.frame, x.row, x.col, x.shot, x.shot_start, x.shot_end};
        Ivl* f[7] = {&c.pos, &c.frame, &c.row, &c.col, &c.shot, &c.shot_start, &c.shot_end};
        for (int i = 0; i < 7; ++i) *f[i] = Ivl(std::min(f[i]->lo, v[i]), std::max(f[i]->hi, v[i]));
      }
      return c;
    };
    const Coords<Ivl> qi = summary(qs), ki = summary(ks);
    for (const char* m : masks) {
      const Program p = prog(m, Slot::Mask);
      const Tri t = eval_mask_tile(p, qi, ki, shape.mask());
      ++total;
      if (t.v == 2) continue;
      ++decided;
      for (int a : qs)
        for (int b : ks)
          ASSERT_EQ(eval_mask(p, shape.coords(a), shape.coords(b), shape.mask()), t.is_true())
              << "F H W " << g.F << " " << g.H << " " << g.W << " q " << a << " kv " << b;
    }
  }
  EXPECT_GT(decided, total / 10) << "the tile level decides too little to be useful";
}

TEST(ReferenceProgram, TileLevelIsExactOnPoints) {
  // On single-token "tiles" every mask is decided and equals the element level.
  const Shape shape = Shape::video({6, 4, 4, {0, 3, 4}});
  for (const char* m : {reftest::kCausalMask, reftest::kStgaMask, reftest::kNattenMask, reftest::kModMask}) {
    const Program p = prog(m, Slot::Mask);
    TileEvaluator tv(p);
    ElementEvaluator ev(p);
    for (int a = 0; a < shape.N(); a += 3)
      for (int b = 0; b < shape.N(); ++b) {
        const Coords<int> x = shape.coords(a), y = shape.coords(b);
        const Coords<Ivl> xi{x.pos, x.frame, x.row, x.col, x.shot, x.shot_start, x.shot_end};
        const Coords<Ivl> yi{y.pos, y.frame, y.row, y.col, y.shot, y.shot_start, y.shot_end};
        const Tri t = tv.mask(xi, yi, shape.mask());
        ASSERT_NE(t.v, 2);
        ASSERT_EQ(t.is_true(), ev.mask(x, y, shape.mask()));
      }
  }
}

TEST(ReferenceProgram, ShapeValidation) {
  EXPECT_THROW(Shape::seq(0), std::invalid_argument);
  EXPECT_THROW(Shape::video({0, 2, 2, {}}), std::invalid_argument);
  EXPECT_THROW(Shape::video({4, 2, 2, {1, 2}}), std::invalid_argument);   // first shot at 0
  EXPECT_THROW(Shape::video({4, 2, 2, {0, 2, 2}}), std::invalid_argument);  // increasing
  EXPECT_THROW(Shape::video({4, 2, 2, {0, 4}}), std::invalid_argument);   // < F
  const Shape a = Shape::video({5, 1, 1, {0, 2}});
  const Shape b = a;  // copies point to their own tables
  EXPECT_NE(a.mask().shot_first, b.mask().shot_first);
  EXPECT_EQ(b.coords(3).shot, 1);
  EXPECT_EQ(b.coords(3).shot_start, 2);
  EXPECT_EQ(b.coords(1).shot_end, 2);
  EXPECT_EQ(b.num_shots(), 2);
}

}  // namespace
