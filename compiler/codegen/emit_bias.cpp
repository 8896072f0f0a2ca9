// A kernel's bias split by attn-plan-score's placement (attn.at / attn.f32 on each op): the row part,
// the column part (staged per key column by the wgmma kernel's producer), the element part, and the
// composed per-element form; with byte-packed sums (attn.u8) a second split that evaluates them on
// packed coordinates. See codegen.h emitBias.
#include <map>
#include <set>

#include "compiler/codegen/codegen.h"
#include "fmt/format.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"

namespace moga::codegen {

using namespace mlir;

namespace {

enum class Place { Row, Col, Elem };

Place placeOf(Operation* op) {
  auto at = op->getAttrOfType<StringAttr>("attn.at");
  if (!at) {
    std::string s;
    llvm::raw_string_ostream os(s);
    os << "moga codegen: bias operation " << op->getName() << " at " << op->getLoc()
       << " has no placement (run attn-plan-score before the codegen)";
    throw std::runtime_error(s);
  }
  if (at.getValue() == "row") return Place::Row;
  if (at.getValue() == "col") return Place::Col;
  return Place::Elem;
}

bool isF32(Operation* op) { return op && op->hasAttr("attn.f32"); }

// The coordinates of a byte-packed sum's distances (attn-plan-score distanceTree), leaf by leaf: the
// row-placed operand of each subtraction into `row`, the column-placed one into `col`.
void distanceLeaves(Operation* op, std::map<Operation*, Place>& place, std::vector<Operation*>& row,
                    std::vector<Operation*>& col) {
  if (isa<math::AbsIOp>(op)) {
    Operation* sub = op->getOperand(0).getDefiningOp();
    for (Value c : sub->getOperands())
      (place.at(c.getDefiningOp()) == Place::Row ? row : col).push_back(c.getDefiningOp());
    return;
  }
  for (Value o : op->getOperands()) distanceLeaves(o.getDefiningOp(), place, row, col);
}

const char* cppType(Type t, bool colWord) {
  if (t.isInteger(1)) return colWord ? "int" : "bool";
  if (t.isInteger(64)) return "int";
  return "float";
}

struct BiasEmitter {
  Block& body;
  std::map<Operation*, int> index;     // op -> its value number vN
  std::map<Operation*, Place> place;
  // Row / column values the element part reads: int form, float form (read by an attn.f32 op).
  // Ordered by value number, so the generated source is the same on every run.
  struct ByIndex {
    const std::map<Operation*, int>* index;
    bool operator()(const std::pair<Operation*, bool>& a, const std::pair<Operation*, bool>& b) const {
      return std::make_pair(index->at(a.first), a.second) < std::make_pair(index->at(b.first), b.second);
    }
  };
  std::set<std::pair<Operation*, bool>, ByIndex> rowMembers{ByIndex{&index}}, colMembers{ByIndex{&index}};
  bool hInt = false, hFloat = false;  // the element part reads h (block argument 2)
  // The byte-packed form (bytes): the sums marked attn.u8, by their index; each is a row word u8_i of the
  // query's coordinates and a column word of the key's (after the other column words), and the ops under
  // them (attn.u8_part) are not emitted.
  bool bytes = false;
  std::vector<Operation*> words;

  bool skipped(Operation& op) { return bytes && op.hasAttr("attn.u8_part"); }
  bool packed(Operation* op) const { return bytes && op->hasAttr("attn.u8"); }
  static int wordIndex(Operation* op) { return (int)op->getAttrOfType<IntegerAttr>("attn.u8").getInt(); }

  BiasEmitter(Region& r, bool packedBytes) : body(r.front()), bytes(packedBytes) {
    int n = 0;
    for (Operation& op : body.without_terminator()) {
      index[&op] = n++;
      if (!isa<arith::ConstantOp>(op)) place[&op] = placeOf(&op);
      if (packed(&op)) {
        const int w = wordIndex(&op);
        if ((int)words.size() <= w) words.resize(w + 1);
        words[w] = &op;
      }
    }
    for (Operation& op : body.without_terminator()) {
      if (isa<arith::ConstantOp>(op) || place[&op] != Place::Elem || skipped(op) || packed(&op)) continue;
      for (Value o : op.getOperands()) {
        const bool asFloat = isF32(&op) && o.getType().isInteger(64);
        if (auto arg = llvm::dyn_cast<BlockArgument>(o)) {
          (asFloat ? hFloat : hInt) = true;
          continue;
        }
        Operation* d = o.getDefiningOp();
        if (isa<arith::ConstantOp>(d) || place[d] == Place::Elem) continue;
        (place[d] == Place::Row ? rowMembers : colMembers).insert({d, asFloat});
      }
    }
    // The yielded value may itself be a row or column value (a bias of one token only).
    Value y = cast<attn::YieldOp>(body.getTerminator()).getValue();
    if (Operation* d = y.getDefiningOp(); d && !isa<arith::ConstantOp>(d) && place[d] != Place::Elem)
      (place[d] == Place::Row ? rowMembers : colMembers).insert({d, false});
  }

  static std::string member(Operation* d, bool asFloat, int idx) {
    return fmt::format("v{}{}", idx, asFloat ? "_f" : "");
  }
  // Column values live as 32-bit words (BiasCol::w, what the producer stages): word k of member (d, f).
  int colWord(Operation* d, bool asFloat) const {
    int k = 0;
    for (auto m : colMembers) {
      if (m.first == d && m.second == asFloat) return k;
      ++k;
    }
    return -1;
  }
  bool colIsFloat(Operation* d, bool asFloat) const { return asFloat || d->getResult(0).getType().isF32(); }
  std::string constant(Operation* d, bool asFloat) {
    if (asFloat)
      if (auto c = dyn_cast<arith::ConstantIntOp>(d)) return floatLiteral(static_cast<double>(c.value()));
    return opExpr(*d, [](unsigned) -> std::string { return ""; }, Domain::Element);
  }

  // The statements of the row or column part and the member assignments.
  std::string part(Place p, const char* structName, const char* tok, const std::string& indent) {
    std::string s;
    for (Operation& op : body.without_terminator()) {
      if (isa<arith::ConstantOp>(op) || place[&op] != p) continue;
      auto a = [&](unsigned i) -> std::string {
        Value o = op.getOperand(i);
        if (auto arg = llvm::dyn_cast<BlockArgument>(o)) return arg.getArgNumber() == 2 ? "h" : tok;
        Operation* d = o.getDefiningOp();
        if (isa<arith::ConstantOp>(d)) return constant(d, false);
        return fmt::format("v{}", index[d]);
      };
      s += fmt::format("{}const auto v{} = {};\n", indent, index[&op], opExpr(op, a, Domain::Element));
    }
    s += fmt::format("{}{} out;\n", indent, structName);
    const auto& members = p == Place::Row ? rowMembers : colMembers;
    for (auto [d, asFloat] : members) {
      const int i = index[d];
      std::string v = fmt::format("v{}", i);
      if (p == Place::Row) {
        if (asFloat) v = fmt::format("(float)({})", v);
        s += fmt::format("{}out.{} = {};\n", indent, member(d, asFloat, i), v);
        continue;
      }
      if (asFloat) v = fmt::format("__float_as_uint(moga::i2f_exact({}))", v);
      else if (colIsFloat(d, false)) v = fmt::format("__float_as_uint({})", v);
      else v = fmt::format("(unsigned)({})", v);
      s += fmt::format("{}out.w[{}] = {};\n", indent, colWord(d, asFloat), v);
    }
    if (p == Place::Row) {
      if (hInt) s += indent + "out.h = h;\n";
      if (hFloat) s += indent + "out.h_f = (float)h;\n";
    }
    for (size_t w = 0; w < words.size(); ++w) {  // the packed coordinates: byte i = distance i's
      std::vector<Operation*> row, col;
      distanceLeaves(words[w], place, row, col);
      std::string args;
      for (Operation* c : p == Place::Row ? row : col) args += fmt::format("{}v{}", args.empty() ? "" : ", ", index[c]);
      for (size_t i = row.size(); i < 4; ++i) args += ", 0";
      if (p == Place::Row) s += fmt::format("{}out.u8_{} = moga::pack_u8x4({});\n", indent, w, args);
      else s += fmt::format("{}out.w[{}] = moga::pack_u8x4({});\n", indent, colMembers.size() + w, args);
    }
    return s + indent + "return out;\n";
  }

  // The element part's statements, then its return: `return <bias>;` (bias_elem), or with `fma` the score
  // plus the bias times f, `x + f * bias` (bias_fma). There the factors of the bias's product that do not
  // vary along the row (row values, constants: a head's slope, a scale) join f, so `f * <factors>` is
  // invariant in the consumer's tile loop and hoisted out of it, and each element pays one FFMA for
  // them instead of an FMUL and an FFMA (docs/architecture.md, "The bias plan").
  std::string elemPart(const std::string& indent, bool fma = false) {
    std::string s;
    auto ref = [&](Value o, bool asFloat) -> std::string {
      if (llvm::isa<BlockArgument>(o)) return asFloat ? "r.h_f" : "r.h";
      Operation* d = o.getDefiningOp();
      if (isa<arith::ConstantOp>(d)) return constant(d, asFloat);
      const int i = index[d];
      if (place[d] == Place::Elem) return fmt::format("v{}", i);
      if (place[d] == Place::Row) return "r." + member(d, asFloat, i);
      const int w = colWord(d, asFloat);
      if (colIsFloat(d, asFloat)) return fmt::format("__uint_as_float(c.w[{}])", w);
      if (d->getResult(0).getType().isInteger(1)) return fmt::format("(c.w[{}] != 0u)", w);
      return fmt::format("(int)(c.w[{}])", w);
    };
    Value y = cast<attn::YieldOp>(body.getTerminator()).getValue();
    // Peel row-uniform factors off the root: y = a * b with a uniform, y = b / a with a uniform.
    auto uniform = [&](Value o) {
      Operation* d = o.getDefiningOp();
      return d && o.getType().isF32() && (isa<arith::ConstantOp>(d) || place[d] == Place::Row);
    };
    std::string factor = "f";
    std::set<Operation*> peeled;  // folded into the factor: no statement of their own
    while (Operation* d = fma ? y.getDefiningOp() : nullptr) {
      if (isa<arith::ConstantOp>(d) || place[d] != Place::Elem) break;
      if (!d->hasOneUse()) break;  // a product another op also reads keeps its statement
      if (isa<arith::MulFOp>(d) && uniform(d->getOperand(0))) {
        factor = fmt::format("({} * {})", factor, ref(d->getOperand(0), false));
        y = d->getOperand(1);
      } else if (isa<arith::MulFOp>(d) && uniform(d->getOperand(1))) {
        factor = fmt::format("({} * {})", factor, ref(d->getOperand(1), false));
        y = d->getOperand(0);
      } else if (isa<arith::DivFOp>(d) && uniform(d->getOperand(1))) {
        factor = fmt::format("({} / {})", factor, ref(d->getOperand(1), false));
        y = d->getOperand(0);
      } else {
        break;
      }
      peeled.insert(d);
    }
    for (Operation& op : body.without_terminator()) {
      if (isa<arith::ConstantOp>(op) || place[&op] != Place::Elem || peeled.count(&op) || skipped(op)) continue;
      const bool f32 = isF32(&op);
      if (packed(&op)) {  // the sum of the word's byte distances: one VABSDIFF4
        const int w = wordIndex(&op);
        s += fmt::format("{}const auto v{} = {}(r.u8_{}, c.w[{}]);\n", indent, index[&op],
                         f32 ? "moga::sad_u8x4_f" : "(int)moga::sad_u8x4", w, colMembers.size() + w);
        continue;
      }
      auto a = [&](unsigned i) {
        Value o = op.getOperand(i);
        return ref(o, f32 && o.getType().isInteger(64));
      };
      std::string expr;
      if (auto c = dyn_cast<arith::SIToFPOp>(op); c && isF32(c.getIn().getDefiningOp()))
        expr = a(0);  // already a float holding the exact integer
      else
        expr = f32 ? opExprF32(op, a) : opExpr(op, a, Domain::Element);
      s += fmt::format("{}const auto v{} = {};\n", indent, index[&op], expr);
    }
    if (!fma) return s + fmt::format("{}return {};\n", indent, ref(y, false));
    return s + fmt::format("{}return fmaf({}, {}, x);\n", indent, factor, ref(y, false));
  }

  std::string structDef(const char* name, Place p) {
    const auto& members = p == Place::Row ? rowMembers : colMembers;
    if (p == Place::Col) {  // 32-bit words, as the producer stages them (floats by their bits)
      if (colWords() == 0) return fmt::format("  struct {} {{}};\n", name);
      std::string s = fmt::format("  struct {} {{ unsigned w[{}]; }};  //", name, colWords());
      for (auto [d, asFloat] : members)
        s += fmt::format(" {} v{}{}", colIsFloat(d, asFloat) ? "float" : "int", index[d], asFloat ? "_f" : "");
      for (size_t w = 0; w < words.size(); ++w) s += fmt::format(" u8x4 v{}", index[words[w]]);
      return s + "\n";
    }
    std::string s = fmt::format("  struct {} {{", name);
    for (auto [d, asFloat] : members)
      s += fmt::format(" {} {};", asFloat ? "float" : cppType(d->getResult(0).getType(), p == Place::Col),
                       member(d, asFloat, index[d]));
    if (p == Place::Row && hInt) s += " int h;";
    if (p == Place::Row && hFloat) s += " float h_f;";
    for (size_t w = 0; w < words.size(); ++w) s += fmt::format(" unsigned u8_{};", w);
    return s + " };\n";
  }
  int colWords() const { return (int)(colMembers.size() + words.size()); }

  // The split's definitions: the structs, kBiasColWords<suffix>, bias_row / bias_col / bias_elem / bias_fma
  // with the suffix on every name (the byte-packed split: "U8" on the types and the constant, "_u8" on the
  // functions).
  std::string split(const char* typeSuffix, const char* fnSuffix, const std::string& constants = "") {
    const std::string row = std::string("BiasRow") + typeSuffix, col = std::string("BiasCol") + typeSuffix;
    std::string s = structDef(row.c_str(), Place::Row) + structDef(col.c_str(), Place::Col);
    s += fmt::format("  static constexpr int kBiasColWords{} = {};\n", typeSuffix, colWords()) + constants;
    s += fmt::format("  MOGA_HD static {0} bias_row{1}(const moga::Coords<int>& q, int h, const moga::MaskShape& s) {{\n"
                     "    (void)q; (void)h; (void)s;\n",
                     row, fnSuffix);
    s += part(Place::Row, row.c_str(), "q", "    ") + "  }\n";
    s += fmt::format("  MOGA_HD static {0} bias_col{1}(const moga::Coords<int>& kv, int h, const moga::MaskShape& s) {{\n"
                     "    (void)kv; (void)h; (void)s;\n",
                     col, fnSuffix);
    s += part(Place::Col, col.c_str(), "kv", "    ") + "  }\n";
    s += fmt::format("  MOGA_HD static float bias_elem{}(const {}& r, const {}& c) {{\n    (void)r; (void)c;\n", fnSuffix,
                     row, col);
    s += elemPart("    ") + "  }\n";
    s += fmt::format("  MOGA_HD static float bias_fma{}(const {}& r, const {}& c, float f, float x) {{\n"
                     "    (void)r; (void)c;\n",
                     fnSuffix, row, col);
    return s + elemPart("    ", true) + "  }\n";
  }
};

}  // namespace

int biasColWords(attn::KernelOp k) {
  return k.getBias().empty() ? 0 : BiasEmitter(k.getBias(), false).colWords();
}

int biasColWordsU8(attn::KernelOp k) {
  return k.getBias().empty() || !k.getBiasU8Attr() ? 0 : BiasEmitter(k.getBias(), true).colWords();
}

std::string emitBias(attn::KernelOp k) {
  std::string s =
      "  // The bias, split by attn-plan-score: bias_row once per query row, bias_col once per key column\n"
      "  // (the wgmma kernel's producer stages its kBiasColWords words per column), bias_elem per element.\n";
  if (k.getBias().empty()) {
    return s +
           "  struct BiasRow {};\n  struct BiasCol {};\n"
           "  static constexpr int kBiasColWords = 0;\n  static constexpr long long kBiasF32MaxN = 0;\n"
           "  MOGA_HD static BiasRow bias_row(const moga::Coords<int>&, int, const moga::MaskShape&) { return {}; }\n"
           "  MOGA_HD static BiasCol bias_col(const moga::Coords<int>&, int, const moga::MaskShape&) { return {}; }\n"
           "  MOGA_HD static float bias_elem(const BiasRow&, const BiasCol&) { return 0.0f; }\n"
           "  MOGA_HD static float bias_fma(const BiasRow&, const BiasCol&, float, float x) { return x; }\n"
           "  MOGA_HD static float bias(const moga::Coords<int>&, const moga::Coords<int>&, int,\n"
           "                          const moga::MaskShape&) { return 0.0f; }\n";
  }
  s += BiasEmitter(k.getBias(), false)
           .split("", "", fmt::format("  static constexpr long long kBiasF32MaxN = {};  // attn-plan-score bias_f32_max_n\n",
                                      k.getBiasF32MaxN().value_or(0)));
  s += "  MOGA_HD static float bias(const moga::Coords<int>& q, const moga::Coords<int>& kv, int h,\n"
       "                          const moga::MaskShape& s) {\n"
       "    return bias_elem(bias_row(q, h, s), bias_col(kv, h, s));\n  }\n";
  if (k.getBiasU8Attr()) {
    s += "  // The byte-packed split (attn.u8; moga::BiasBytes runs it while the shape's coordinates fit a byte).\n";
    s += BiasEmitter(k.getBias(), true).split("U8", "_u8");
  }
  return s;
}

}  // namespace moga::codegen
