#include "runtime/tune/space.h"

#include <fmt/format.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <tuple>

#include "runtime/attention/registry.h"
#include "runtime/jit/xxh3.h"

namespace moga::tune {

using nlohmann::json;

// ---- Config ----------------------------------------------------------------------------------------

std::string Config::id() const {
  const rt::KernelVariant* v = rt::find_variant(variant);
  const std::string tag = v ? v->id_tag : variant;
  return fmt::format("{}{}bm{}_bn{}_w{}_s{}", tag, tag.empty() ? "" : "_", block_m, block_n, warps, stages);
}

std::optional<Config> Config::parse(const std::string& id) {
  Config c;
  const size_t bm = id.find("bm");
  if (bm == std::string::npos || (bm > 0 && id[bm - 1] != '_')) return std::nullopt;
  const std::string tag = bm ? id.substr(0, bm - 1) : "";
  const rt::KernelVariant* row = nullptr;
  for (const rt::KernelVariant& v : rt::kernel_registry())
    if (tag == v.id_tag) row = &v;
  if (!row) return std::nullopt;
  c.variant = row->name;
  char tail = 0;
  if (std::sscanf(id.c_str() + bm, "bm%d_bn%d_w%d_s%d%c", &c.block_m, &c.block_n, &c.warps, &c.stages, &tail) != 4)
    return std::nullopt;
  if (c.block_m <= 0 || c.block_n <= 0 || c.warps <= 0 || c.stages <= 0 || c.id() != id) return std::nullopt;
  return c;
}

int Config::threads() const {
  const rt::KernelVariant* v = rt::find_variant(variant);
  return v ? v->threads(rt::TileConfig{block_m, block_n, warps, stages}) : warps * 32;
}

bool Config::operator<(const Config& o) const {
  const bool a = wgmma(), b = o.wgmma();
  return std::tie(a, variant, block_m, block_n, warps, stages) <
         std::tie(b, o.variant, o.block_m, o.block_n, o.warps, o.stages);
}

// ---- manifest ----------------------------------------------------------------------------------------

std::string KernelInfo::pattern_hash_hex() const { return jit::hex64(pattern_hash); }

namespace {

int get_int(const json& obj, const char* field, const std::string& where) {
  auto it = obj.find(field);
  if (it == obj.end() || !it->is_number_integer())
    throw std::invalid_argument(fmt::format("{}: \"{}\" is missing or not an integer", where, field));
  return it->get<int>();
}

std::vector<int> tunable_list(const json& entry, const char* field, int fallback, const std::string& where) {
  std::set<int> values{fallback};  // the manifest's own choice is always a candidate
  auto t = entry.find("tunable");
  if (t != entry.end() && t->is_object()) {
    auto it = t->find(field);
    if (it != t->end()) {
      if (!it->is_array())
        throw std::invalid_argument(fmt::format("{}: tunable \"{}\" is not a list", where, field));
      for (const auto& v : *it) {
        if (!v.is_number_integer() || v.get<long long>() <= 0 || v.get<long long>() > 4096)
          throw std::invalid_argument(
              fmt::format("{}: tunable \"{}\" holds {}, expected positive integers", where, field, v.dump()));
        values.insert(v.get<int>());
      }
    }
  }
  return {values.begin(), values.end()};
}

KernelInfo info_of(const json& manifest, const json& entry, int index) {
  KernelInfo k;
  k.pattern = manifest.value("pattern", std::string("pattern"));
  if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string())
    throw std::invalid_argument(fmt::format("manifest: kernels[{}] has no name", index));
  k.kernel = entry["name"].get<std::string>();
  k.index = index;
  const std::string where = fmt::format("manifest: kernels[{}] '{}'", index, k.kernel);
  auto tiles = entry.find("tiles");
  if (tiles == entry.end() || !tiles->is_object())
    throw std::invalid_argument(fmt::format("{}: \"tiles\" is missing", where));
  k.tiles = {get_int(*tiles, "block_m", where), get_int(*tiles, "block_n", where), get_int(*tiles, "warps", where),
             get_int(*tiles, "stages", where)};
  k.manifest_head_dim = tiles->contains("head_dim") ? get_int(*tiles, "head_dim", where) : 128;
  auto set = [&](const char* f) { return entry.contains(f) && !entry[f].is_null(); };
  k.gathers = set("key") || set("route");
  k.dense = !k.gathers && !set("mask");
  k.bias = set("bias");
  if (auto plan = entry.find("plan"); plan != entry.end() && plan->is_object() && plan->contains("sm_90")) {
    const json& h = (*plan)["sm_90"];
    const std::string pw = where + " plan.sm_90";
    k.plan = {get_int(h, "block_m", pw), get_int(h, "block_n", pw), get_int(h, "warps", pw), get_int(h, "stages", pw),
              h.value("variant", std::string())};
    if (h.contains("head_dims") && h["head_dims"].is_array())
      for (const json& d : h["head_dims"])
        if (d.is_number_integer()) k.plan_head_dims.push_back(d.get<int>());
  }
  k.block_m = tunable_list(entry, "block_m", k.tiles.block_m, where);
  k.block_n = tunable_list(entry, "block_n", k.tiles.block_n, where);
  k.warps = tunable_list(entry, "warps", k.tiles.warps, where);
  k.stages = tunable_list(entry, "stages", k.tiles.stages, where);
  json what = entry;
  what.erase("tiles");
  what.erase("tunable");
  what.erase("plan");  // the Hopper plan (a row and its tiles) is how it runs, not what it computes
  // nlohmann::json keeps object keys sorted and prints doubles round-trip exact: dump() is canonical.
  const json hashed = {{"layout", manifest.value("layout", json())}, {"kernel", what}};
  k.pattern_hash = jit::xxh3(hashed.dump());
  return k;
}

}  // namespace

std::vector<KernelInfo> all_kernels(const json& manifest) {
  auto ks = manifest.find("kernels");
  if (!manifest.is_object() || ks == manifest.end() || !ks->is_array())
    throw std::invalid_argument("manifest: no \"kernels\" list");
  std::vector<KernelInfo> out;
  for (size_t i = 0; i < ks->size(); ++i) out.push_back(info_of(manifest, (*ks)[i], static_cast<int>(i)));
  return out;
}

KernelInfo kernel_info(const json& manifest, const std::string& kernel) {
  std::vector<KernelInfo> all = all_kernels(manifest);
  std::string names;
  for (KernelInfo& k : all) {
    if (k.kernel == kernel) return std::move(k);
    names += (names.empty() ? "" : ", ") + k.kernel;
  }
  throw std::invalid_argument(fmt::format("pattern '{}' has no kernel '{}' (kernels: {})",
                                          manifest.value("pattern", std::string("?")), kernel, names));
}

// ---- rules -------------------------------------------------------------------------------------------

DeviceLimits DeviceLimits::assumed(const std::string& arch) {
  DeviceLimits l;
  l.arch = arch;
  l.name = fmt::format("assumed {} (no device queried)", arch);
  if (arch == "sm_80") l.smem_optin_bytes = 163 * 1024;
  if (arch == "sm_86" || arch == "sm_89") l.smem_optin_bytes = 99 * 1024;
  return l;
}

int attn_fwd_smem_bytes(int D, const Config& c) {
  const rt::KernelVariant* v = rt::find_variant(c.variant);
  return (v ? *v : rt::default_variant(rt::Engine::MmaSync))
      .smem_bytes(D, rt::TileConfig{c.block_m, c.block_n, c.warps, c.stages});
}

std::string static_check(const Config& c, int D, const DeviceLimits& lim) {
  // The tile rules are the registry's (KernelVariant::check_tiles, the runtime's own check); the tuner
  // adds what only it needs: the row runs on the arch, the head dims it tunes, the thread limit.
  const rt::KernelVariant* v = rt::find_variant(c.variant);
  if (!v) return fmt::format("no kernel variant '{}'", c.variant);
  if (!v->runs_on(lim.arch)) return fmt::format("{} does not run on {}", v->name, lim.arch);
  if (c.wgmma() && D != 128) return fmt::format("the wgmma kernel is tuned at head dim 128 only, not {}", D);
  const rt::TileConfig t{c.block_m, c.block_n, c.warps, c.stages};
  // threads before shared memory, as check_tiles reports shared memory last
  std::string why = v->check_tiles(t, D, INT_MAX);
  if (why.empty() && c.threads() > lim.max_threads_per_block)
    why = fmt::format("{} threads > {} per block", c.threads(), lim.max_threads_per_block);
  if (why.empty()) why = v->check_tiles(t, D, lim.smem_optin_bytes);
  return why;
}

std::string resource_check(const Config& c, int regs, int smem, const DeviceLimits& lim) {
  if (regs > 0 && static_cast<long long>(regs) * c.threads() > lim.regs_per_block)
    return fmt::format("registers {} x {} threads = {} > {} per block", regs, c.threads(),
                       static_cast<long long>(regs) * c.threads(), lim.regs_per_block);
  if (smem > lim.smem_optin_bytes)
    return fmt::format("module shared memory {} B > opt-in limit {} B", smem, lim.smem_optin_bytes);
  return "";
}

Space build_space(const KernelInfo& k, int D, const DeviceLimits& lim) {
  Space s;
  s.head_dim = D;
  for (int bm : k.block_m)
    for (int bn : k.block_n)
      for (int w : k.warps)
        for (int st : k.stages) {
          const Config c{bm, bn, w, st};
          std::string why = static_check(c, D, lim);
          if (why.empty())
            s.kept.push_back(c);
          else
            s.pruned.push_back({c, std::move(why)});
        }
  // Every other row of the registry with every tile configuration of its space, where it runs (the
  // wgmma rows: an sm_90 target, D = 128); rows for another arch, and rows without a gather for a kernel
  // with one, are left out, not listed as pruned.
  for (const rt::KernelVariant& v : rt::kernel_registry()) {
    if (v.engine == rt::Engine::MmaSync || !v.runs_on(lim.arch)) continue;
    if (v.fp8) continue;  // another precision (AttentionOptions::precision), not a faster way to the same result
    if (k.gathers && v.gather_row) continue;  // it would run its gather row: that row is a candidate already
    for (const rt::TileConfig& t : v.tile_space(D)) {
      const Config c{t.block_m, t.block_n, t.warps, t.stages, v.name};
      std::string why = static_check(c, D, lim);
      if (why.empty())
        s.kept.push_back(c);
      else
        s.pruned.push_back({c, std::move(why)});
    }
  }
  // The lists are sorted sets, so the loops already produce id order; sort anyway (cheap, explicit).
  std::sort(s.kept.begin(), s.kept.end());
  return s;
}

std::optional<Config> heuristic_default(const KernelInfo& k, const Space& space, const DeviceLimits& lim) {
  // The runtime's own default (Engine::Auto): the wgmma kernel where it can run (the TMA row for kernels
  // without a gather, dense or masked: attention.cpp Impl::choose).
  if (!k.gathers && static_check(Config::tma_kernel(), space.head_dim, lim).empty()) return Config::tma_kernel();
  // a gathered kernel: the manifest's plan where it names a row at this head dim (sm90.tma.sorted for a key in
  // token order, sm90.ws.sq with a bias, sm90.ws), as Impl::choose launches it
  const auto& pd = k.plan_head_dims;
  if (k.gathers && k.plan.wgmma() && !k.plan.variant.empty() &&
      std::find(pd.begin(), pd.end(), space.head_dim) != pd.end() && static_check(k.plan, space.head_dim, lim).empty())
    return k.plan;
  if (static_check(Config::wgmma_kernel(), space.head_dim, lim).empty()) return Config::wgmma_kernel();
  if (static_check(k.tiles, space.head_dim, lim).empty()) return k.tiles;
  if (space.kept.empty()) return std::nullopt;
  auto dist = [&](const Config& c) {
    auto l = [](int a, int b) { return std::fabs(std::log2(static_cast<double>(a) / b)); };
    return l(c.block_m, k.tiles.block_m) + l(c.block_n, k.tiles.block_n) + l(c.warps, k.tiles.warps) +
           std::abs(c.stages - k.tiles.stages);
  };
  return *std::min_element(space.kept.begin(), space.kept.end(), [&](const Config& a, const Config& b) {
    const double da = dist(a), db = dist(b);
    if (da != db) return da < db;
    const int sa = attn_fwd_smem_bytes(space.head_dim, a), sb = attn_fwd_smem_bytes(space.head_dim, b);
    if (sa != sb) return sa > sb;  // nearer the manifest's footprint
    return a.id() < b.id();
  });
}

}  // namespace moga::tune
