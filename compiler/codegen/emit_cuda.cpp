// attn.kernel ops -> one CUDA C++ translation unit: a variant struct per kernel and the entry points.
#include "compiler/codegen/codegen.h"
#include "fmt/format.h"

namespace moga::codegen {

using namespace mlir;

namespace {

int64_t tile(attn::KernelOp k, StringRef name, int64_t fallback) {
  if (auto tiles = k.getTilesAttr())
    if (auto v = llvm::dyn_cast_if_present<IntegerAttr>(tiles.get(name))) return v.getInt();
  return fallback;
}

std::string prefix(attn::PatternOp p, attn::KernelOp k) {
  return fmt::format("moga_{}_{}", p.getSymName().str(), k.getName().str());
}

// The key token's coordinates the per-element pass reads (attn-classify-blocks' key_uses), as the bit mask
// the kernel's producer stages (bit c = attn::Coord c, kernels_src/cuda/coords.cuh CoordBit). Without the
// attribute (the pass did not run): every coordinate, the safe answer.
unsigned keyUsesMask(attn::KernelOp k) {
  auto uses = k.getKeyUsesAttr();
  if (!uses) return 0x7f;
  unsigned m = 0;
  for (Attribute a : uses)
    if (auto c = attn::symbolizeCoord(llvm::cast<StringAttr>(a).getValue())) m |= 1u << static_cast<unsigned>(*c);
  return m;
}

}  // namespace

// Whether the wgmma kernel's producer stages each key column for the mask (score_pass.cuh KeyStaging):
// the mask reads key coordinates that need a gather (grouped kernels: perm) or divisions (anything but
// the position).
bool stageKeys(attn::KernelOp k) {
  const unsigned uses = keyUsesMask(k), pos = 1u << static_cast<unsigned>(attn::Coord::pos);
  const bool grouped = !k.getKey().empty() || k.getRouting();
  return uses != 0 && (grouped || (uses & ~pos) != 0);
}

namespace {

std::string variantStruct(attn::KernelOp k) {
  const bool hasMask = !k.getMask().empty(), hasKey = !k.getKey().empty();
  const bool hasBias = !k.getBias().empty(), hasGate = !k.getGate().empty();
  std::string s;
  s += fmt::format("// kernel `{}`: structure {}, weight {:.9g}{}\n", k.getName().str(),
                   k.getStructure().value_or("?").str(), k.getWeight().convertToDouble(),
                   k.getRouteGate() ? ", gated by the router probability" : "");
  s += fmt::format("struct {} {{\n", k.getName().str());
  s += fmt::format("  static constexpr bool kHasMask = {};\n", hasMask);
  s += fmt::format("  static constexpr bool kHasKey = {};\n", hasKey);
  // grouped (a computed key or a router): the kernel reads keys through a token order (perm); ungrouped
  // kernels run in the identity order, so their score pass needs no gather loads
  s += fmt::format("  static constexpr bool kGrouped = {};\n", hasKey || k.getRouting());
  s += fmt::format("  static constexpr bool kHasBias = {};\n", hasBias);
  s += fmt::format("  static constexpr bool kHasGate = {};\n", hasGate);
  s += fmt::format("  static constexpr bool kHasSoftcap = {};\n", k.getSoftcap().has_value());
  s += fmt::format("  static constexpr unsigned kKeyUses = {:#x};  // attn-classify-blocks key_uses: bit c = coordinate c\n",
                   keyUsesMask(k));
  s += fmt::format("  static constexpr bool kStageKeys = {};  // the wgmma producer stages key columns (stageKeys)\n",
                   stageKeys(k));
  s += fmt::format("  static constexpr float kSoftcap = {};\n",
                   floatLiteral(k.getSoftcap() ? k.getSoftcap()->convertToDouble() : 0.0));

  s += "  // The mask, generic over the value domain: T = int, B = bool (element) or T = moga::Ivl,\n"
       "  // B = moga::Tri (tile pair: false = empty, true = full, unknown = partial).\n";
  s += "  template <class T, class B>\n  MOGA_HD static B mask(const moga::Coords<T>& q, const moga::Coords<T>& kv,\n"
       "                         const moga::MaskShape& s) {\n";
  if (hasMask) {
    s += "    (void)s;\n";
    EmittedExpr e = emitRegionCpp(k.getMask(), {"q", "kv"}, Domain::Generic, "    ");
    s += e.body + fmt::format("    return {};\n", e.result);
  } else {
    s += "    (void)q; (void)kv; (void)s;\n    return B(true);\n";
  }
  s += "  }\n";

  s += "  MOGA_HD static int key(const moga::Coords<int>& t, const moga::MaskShape& s) {\n";
  if (hasKey) {
    s += "    (void)s;\n";
    EmittedExpr e = emitRegionCpp(k.getKey(), {"t"}, Domain::Element, "    ");
    s += e.body + fmt::format("    return {};\n", e.result);
  } else {
    s += "    (void)t; (void)s;\n    return 0;\n";
  }
  s += "  }\n";

  s += emitBias(k);

  s += "  MOGA_HD static float gate(const moga::Coords<int>& q, const moga::MaskShape& s) {\n";
  if (hasGate) {
    s += "    (void)q; (void)s;\n";
    EmittedExpr e = emitRegionCpp(k.getGate(), {"q"}, Domain::Element, "    ");
    s += e.body + fmt::format("    return {};\n", e.result);
  } else {
    s += "    (void)q; (void)s;\n    return 1.0f;\n";
  }
  s += "  }\n};\n\n";
  return s;
}

}  // namespace

std::string attentionEntry(attn::PatternOp p, attn::KernelOp k) { return prefix(p, k) + "_attn"; }
std::string blockMapEntry(attn::PatternOp p, attn::KernelOp k) { return prefix(p, k) + "_blockmap"; }
std::string keyEntry(attn::PatternOp p, attn::KernelOp k) { return prefix(p, k) + "_keys"; }
std::string gateEntry(attn::PatternOp p, attn::KernelOp k) { return prefix(p, k) + "_gates"; }

std::string emitCuda(attn::PatternOp p) {
  const std::string ns = "moga_gen_" + p.getSymName().str();
  std::string s = fmt::format(
      "// Generated by moga {} from pattern `{}` (layout {}). Do not edit: edit the .moga file.\n"
      "// One variant struct per kernel (mask/key/bias/gate hooks) and the extern \"C\" entry points;\n"
      "// the kernels themselves are the templates of kernels_src/cuda, included by entry.cuh.\n"
      "#include \"entry.cuh\"\n\nnamespace {} {{\n\n",
      MOGA_VERSION, p.getSymName().str(), attn::stringifyLayout(p.getLayout()).str(), ns);
  for (auto k : p.getBody().getOps<attn::KernelOp>()) s += variantStruct(k);
  s += fmt::format("}}  // namespace {}\n\n", ns);
  for (auto k : p.getBody().getOps<attn::KernelOp>()) {
    const std::string v = ns + "::" + k.getName().str();
    const int64_t d = tile(k, "head_dim", 128), bm = tile(k, "block_m", 128), bn = tile(k, "block_n", 64);
    const int64_t warps = tile(k, "warps", 4), stages = tile(k, "stages", 2);
    s += fmt::format("MOGA_ATTENTION_ENTRY({}, {}, {}, {}, {}, {}, {})\n", attentionEntry(p, k), v, d,
                     bm, bn, warps, stages);
    if (!k.getMask().empty() || !k.getKey().empty() || k.getRouting())
      s += fmt::format("MOGA_BLOCKMAP_ENTRY({}, {}, {}, {})\n", blockMapEntry(p, k), v, bm, bn);
    if (!k.getKey().empty()) s += fmt::format("MOGA_KEY_ENTRY({}, {})\n", keyEntry(p, k), v);
    if (!k.getGate().empty()) s += fmt::format("MOGA_GATE_ENTRY({}, {})\n", gateEntry(p, k), v);
  }
  return s;
}

}  // namespace moga::codegen
