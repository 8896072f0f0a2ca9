// attn.kernel ops -> the JSON manifest the runtime and the CPU reference read.
#include "compiler/codegen/codegen.h"

namespace moga::codegen {

using namespace mlir;
using nlohmann::json;

namespace {

json dictToJson(DictionaryAttr dict) {
  json j = json::object();
  if (!dict) return j;
  for (NamedAttribute a : dict) {
    if (auto i = llvm::dyn_cast<IntegerAttr>(a.getValue())) {
      j[a.getName().str()] = i.getInt();
    } else if (auto arr = llvm::dyn_cast<ArrayAttr>(a.getValue())) {
      json list = json::array();
      for (Attribute e : arr) list.push_back(llvm::cast<IntegerAttr>(e).getInt());
      j[a.getName().str()] = list;
    } else if (auto s = llvm::dyn_cast<StringAttr>(a.getValue())) {
      j[a.getName().str()] = s.str();
    } else if (auto d = llvm::dyn_cast<DictionaryAttr>(a.getValue())) {
      j[a.getName().str()] = dictToJson(d);  // the plan's per-arch entries
    }
  }
  return j;
}

json regionOrNull(Region& r, std::vector<std::string> args) {
  return r.empty() ? json(nullptr) : serializeRegion(r, args);
}

// The byte-packed bias split (attn-plan-score bias_u8): the coordinates that must be below 256 for it and
// its column words, or null.
json biasBytes(attn::KernelOp k) {
  if (!k.getBiasU8Attr()) return nullptr;
  json coords = json::array();
  for (Attribute a : k.getBiasU8Attr()) coords.push_back(cast<StringAttr>(a).getValue().str());
  return {{"coords", coords}, {"col_words", biasColWordsU8(k)}};
}

}  // namespace

json emitManifest(attn::PatternOp p, const json& params) {
  json kernels = json::array();
  for (auto k : p.getBody().getOps<attn::KernelOp>()) {
    json route = nullptr;
    if (Value r = k.getRouting()) {
      auto op = r.getDefiningOp<attn::RouteOp>();
      route = {{"groups", op.getGroups()}, {"topk", op.getTopk()}};
    }
    json uses = json::array();
    if (auto u = k.getUsesAttr())
      for (Attribute a : u) uses.push_back(llvm::cast<StringAttr>(a).str());
    json entries = {{"attention", attentionEntry(p, k)}};
    if (!k.getMask().empty() || !k.getKey().empty() || k.getRouting()) entries["blockmap"] = blockMapEntry(p, k);
    if (!k.getKey().empty()) entries["keys"] = keyEntry(p, k);
    if (!k.getGate().empty()) entries["gates"] = gateEntry(p, k);
    kernels.push_back({
        {"name", k.getName().str()},
        {"weight", k.getWeight().convertToDouble()},
        {"accumulate", k.getAccumulate()},
        {"route", route},
        {"route_gate", k.getRouteGate()},
        {"scale", k.getScale() ? json(k.getScale()->convertToDouble()) : json(nullptr)},
        {"softcap", k.getSoftcap() ? json(k.getSoftcap()->convertToDouble()) : json(nullptr)},
        {"structure", k.getStructure().value_or("").str()},
        {"uses", uses},
        {"tiles", dictToJson(k.getTilesAttr())},
        {"tunable", dictToJson(k.getTunableAttr())},
        {"plan", dictToJson(k.getPlanAttr())},
        {"entries", entries},
        {"mask", regionOrNull(k.getMask(), {"q", "kv"})},
        {"key", regionOrNull(k.getKey(), {"t"})},
        {"bias", regionOrNull(k.getBias(), {"q", "kv", "h"})},
        {"stage_keys", stageKeys(k)},
        {"bias_plan", k.getBias().empty() ? json(nullptr)
                                          : json{{"col_words", biasColWords(k)},
                                                 {"f32_max_n", k.getBiasF32MaxN().value_or(0)},
                                                 {"u8", biasBytes(k)}}},
        {"gate", regionOrNull(k.getGate(), {"q"})},
    });
  }
  // What a caller passes at run time: the tensors and the runtime shape (never compiled in).
  json arguments = json::array({
      {{"name", "q"}, {"dtype", "bf16"}, {"shape", {"B", "N", "H", "D"}}},
      {{"name", "k"}, {"dtype", "bf16"}, {"shape", {"B", "N", "H", "D"}}},
      {{"name", "v"}, {"dtype", "bf16"}, {"shape", {"B", "N", "H", "D"}}},
      {{"name", "out"}, {"dtype", "bf16"}, {"shape", {"B", "N", "H", "D"}}},
  });
  bool routed = false;
  for (auto k : p.getBody().getOps<attn::KernelOp>())
    if (Value r = k.getRouting()) {
      routed = true;
      auto op = r.getDefiningOp<attn::RouteOp>();
      arguments.push_back({{"name", "router." + k.getName().str()}, {"dtype", "bf16"},
                           {"shape", {"d_model", std::to_string(op.getGroups())}}});
    }
  if (routed) arguments.push_back({{"name", "x"}, {"dtype", "bf16"}, {"shape", {"B", "N", "d_model"}}});
  json shape = p.getLayout() == attn::Layout::video
                   ? json{{"runtime", {"F", "H", "W", "shot_starts"}}, {"N", "F*H*W"}}
                   : json{{"runtime", {"N"}}};
  return {{"pattern", p.getSymName().str()},
          {"arguments", arguments},
          {"shape", shape},
          {"layout", attn::stringifyLayout(p.getLayout()).str()},
          {"params", params},
          {"tool_version", MOGA_VERSION},
          {"kernels", kernels}};
}

}  // namespace moga::codegen
