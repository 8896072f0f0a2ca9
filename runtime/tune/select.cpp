// See select.h.
#include "runtime/tune/select.h"

#include <nlohmann/json.hpp>

#include "runtime/jit/module.h"
#include "runtime/kernels/embedded.h"
#include "runtime/tune/db.h"
#include "runtime/tune/gpu_runner.h"
#include "runtime/tune/space.h"
#include "runtime/tune/tuner.h"

namespace moga::tune {

std::string embedded_templates_hash() {
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto& e : kernels::embedded_headers()) headers.emplace_back(e.name, e.text);
  return templates_hash(headers);
}

rt::AttentionOptions tuned_attention_options(const rt::LoadedPattern& pattern, const Shape& shape,
                                             rt::AttentionOptions base, std::vector<std::string>* notes) {
  const nlohmann::json manifest = nlohmann::json::parse(pattern.manifest_json);
  const DeviceLimits limits = jit::device_available() ? device_limits() : DeviceLimits::assumed_h100();
  const Versions versions = Versions::current(embedded_templates_hash());
  const TuneDb db;
  for (const KernelInfo& k : all_kernels(manifest)) {
    if (base.tiles.count(k.kernel)) continue;  // the caller's explicit choice wins
    const Choice c = best_config(k, shape, db, limits, versions);
    // A wgmma choice equal to what Engine::Auto runs without entries (heuristic_default: sm90.tma for kernels
    // without a gather, the manifest's plan for gathered ones; the untuned default is that choice) is left
    // without entries; anything else is named: a tiles entry (without a variant entry it selects sm80.mma) and,
    // for a wgmma row, the variant (so a tuned sm90.ws for a router whose plan is sm90.tma.sorted is kept).
    const bool autos = c.config.wgmma() && c.config == heuristic_default(k, build_space(k, shape.D, limits), limits);
    if (!autos) {
      base.tiles[k.kernel] = rt::TileConfig{c.config.block_m, c.config.block_n, c.config.warps, c.config.stages};
      if (c.config.wgmma()) base.variants[k.kernel] = c.config.variant;
    }
    if (notes) notes->push_back(k.kernel + ": " + c.config.id() + " (" + source_name(c.source) + ")");
  }
  return base;
}

}  // namespace moga::tune
