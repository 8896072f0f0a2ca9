#include "runtime/model/weights.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace moga::model {

// ---- key mapping ------------------------------------------------------------------------------------

namespace {

// {Wan2.1 prefix, diffusers prefix}; a name matches a prefix when it equals it or continues with '.'.
const std::vector<std::pair<std::string, std::string>> kTop = {
    {"patch_embedding", "patch_embedding"},
    {"text_embedding.0", "condition_embedder.text_embedder.linear_1"},
    {"text_embedding.2", "condition_embedder.text_embedder.linear_2"},
    {"time_embedding.0", "condition_embedder.time_embedder.linear_1"},
    {"time_embedding.2", "condition_embedder.time_embedder.linear_2"},
    {"time_projection.1", "condition_embedder.time_proj"},
    {"head.head", "proj_out"},
    {"head.modulation", "scale_shift_table"},
};
// Inside blocks.N.
const std::vector<std::pair<std::string, std::string>> kBlock = {
    {"modulation", "scale_shift_table"},
    {"self_attn.q", "attn1.to_q"},
    {"self_attn.k", "attn1.to_k"},
    {"self_attn.v", "attn1.to_v"},
    {"self_attn.o", "attn1.to_out.0"},
    {"self_attn.norm_q", "attn1.norm_q"},
    {"self_attn.norm_k", "attn1.norm_k"},
    {"self_attn.router", "attn1.router"},
    {"cross_attn.q", "attn2.to_q"},
    {"cross_attn.k", "attn2.to_k"},
    {"cross_attn.v", "attn2.to_v"},
    {"cross_attn.o", "attn2.to_out.0"},
    {"cross_attn.norm_q", "attn2.norm_q"},
    {"cross_attn.norm_k", "attn2.norm_k"},
    {"norm3", "norm2"},  // Wan's affine cross-attention norm is diffusers' norm2
    {"ffn.0", "ffn.net.0.proj"},
    {"ffn.2", "ffn.net.2"},
};

bool strip_prefix(const std::string& s, const std::string& prefix, std::string* rest) {
  if (s == prefix) {
    *rest = "";
    return true;
  }
  if (s.size() > prefix.size() && s.compare(0, prefix.size(), prefix) == 0 && s[prefix.size()] == '.') {
    *rest = s.substr(prefix.size());
    return true;
  }
  return false;
}

// The suffix after a module prefix: "" (a parameter itself, e.g. modulation) or ".weight" / ".bias".
bool good_suffix(const std::string& rest, bool param) {
  return param ? rest.empty() : (rest == ".weight" || rest == ".bias");
}

bool is_param_name(const std::string& wan_prefix) { return wan_prefix == "modulation" || wan_prefix == "head.modulation"; }

std::optional<std::string> map_key(const std::string& key, bool to_wan) {
  for (const auto& [w, d] : kTop) {
    const std::string& from = to_wan ? d : w;
    const std::string& to = to_wan ? w : d;
    std::string rest;
    if (strip_prefix(key, from, &rest) && good_suffix(rest, is_param_name(w))) return to + rest;
  }
  // blocks.N.<rest>
  const std::string b = "blocks.";
  if (key.compare(0, b.size(), b) != 0) return std::nullopt;
  size_t i = b.size();
  size_t j = i;
  while (j < key.size() && std::isdigit((unsigned char)key[j])) ++j;
  if (j == i || j >= key.size() || key[j] != '.') return std::nullopt;
  const std::string head = key.substr(0, j + 1), inner = key.substr(j + 1);
  for (const auto& [w, d] : kBlock) {
    const std::string& from = to_wan ? d : w;
    const std::string& to = to_wan ? w : d;
    std::string rest;
    if (strip_prefix(inner, from, &rest) && good_suffix(rest, is_param_name(w))) return head + to + rest;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> diffusers_to_wan(const std::string& key) { return map_key(key, true); }
std::optional<std::string> wan_to_diffusers(const std::string& key) { return map_key(key, false); }

const std::vector<std::pair<std::string, std::string>>& diffusers_rename_table() {
  static const std::vector<std::pair<std::string, std::string>> t = [] {
    std::vector<std::pair<std::string, std::string>> r = kTop;
    for (const auto& [w, d] : kBlock) r.push_back({"blocks.N." + w, "blocks.N." + d});
    return r;
  }();
  return t;
}

const char* layout_name(KeyLayout l) { return l == KeyLayout::Wan ? "Wan2.1" : "diffusers"; }

// ---- checkpoints ------------------------------------------------------------------------------------

namespace {

bool diffusers_only_name(const std::string& k) {
  for (const char* p : {"condition_embedder.", "proj_out.", "scale_shift_table"})
    if (k.rfind(p, 0) == 0) return true;
  for (const char* p : {".attn1.", ".attn2.", ".ffn.net.", ".scale_shift_table"})
    if (k.find(p) != std::string::npos) return true;
  return false;
}

std::vector<std::string> resolve_files(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path, ec)) throw std::runtime_error(path + ": no such file or directory");
  auto from_index = [](const fs::path& idx) {
    std::ifstream in(idx);
    nlohmann::json j;
    try {
      in >> j;
    } catch (const std::exception& e) {
      throw std::runtime_error(idx.string() + ": not a valid index JSON: " + e.what());
    }
    if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
      throw std::runtime_error(idx.string() + ": no 'weight_map' object (not a safetensors index?)");
    std::set<std::string> files;
    for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
      if (!it->is_string()) throw std::runtime_error(idx.string() + ": weight_map['" + it.key() + "'] is not a file name");
      files.insert((idx.parent_path() / it->get<std::string>()).string());
    }
    return std::vector<std::string>(files.begin(), files.end());
  };
  const fs::path p(path);
  if (fs::is_directory(p, ec)) {
    std::vector<fs::path> idx, st;
    for (const auto& e : fs::directory_iterator(p)) {
      const std::string n = e.path().filename().string();
      if (n.size() > 22 && n.substr(n.size() - 22) == ".safetensors.index.json") idx.push_back(e.path());
      else if (n.size() > 12 && n.substr(n.size() - 12) == ".safetensors") st.push_back(e.path());
    }
    if (idx.size() > 1) throw std::runtime_error(path + ": more than one *.safetensors.index.json");
    if (idx.size() == 1) return from_index(idx[0]);
    if (st.empty()) throw std::runtime_error(path + ": directory holds no .safetensors file");
    std::sort(st.begin(), st.end());
    std::vector<std::string> r;
    for (const auto& s : st) r.push_back(s.string());
    return r;
  }
  if (path.size() > 5 && path.substr(path.size() - 5) == ".json") return from_index(p);
  return {path};
}

}  // namespace

Checkpoint::Checkpoint(const std::string& path) : path_(path) {
  for (const std::string& f : resolve_files(path)) files_.push_back(std::make_unique<SafetensorsFile>(f));
  bool diff = false;
  for (const auto& f : files_)
    for (const auto& t : f->tensors())
      if (diffusers_only_name(t.name.rfind("model.diffusion_model.", 0) == 0 ? t.name.substr(22) : t.name)) diff = true;
  layout_ = diff ? KeyLayout::Diffusers : KeyLayout::Wan;
  for (size_t fi = 0; fi < files_.size(); ++fi)
    for (const auto& t : files_[fi]->tensors()) {
      // ComfyUI-style single files prefix every key with "model.diffusion_model." (diffusers'
      // single-file loader strips it too).
      const std::string pre = "model.diffusion_model.";
      std::string wan = t.name.rfind(pre, 0) == 0 ? t.name.substr(pre.size()) : t.name;
      if (diff) {
        auto m = diffusers_to_wan(wan);
        if (!m) {
          unmapped_.push_back(t.name);
          continue;
        }
        wan = *m;
      }
      auto [it, fresh] = entries_.emplace(wan, Entry{fi, t.name});
      if (!fresh)
        throw std::runtime_error(fmt::format("{}: tensor '{}' appears twice ({} in {} and {} in {})", path, wan,
                                             it->second.original, files_[it->second.file]->path(), t.name,
                                             files_[fi]->path()));
    }
}

const TensorInfo& Checkpoint::info(const std::string& wan) const {
  auto it = entries_.find(wan);
  if (it == entries_.end()) throw std::runtime_error(path_ + ": no tensor '" + wan + "'");
  return files_[it->second.file]->info(it->second.original);
}

void Checkpoint::read_f32(const std::string& wan, float* dst) const {
  auto it = entries_.find(wan);
  if (it == entries_.end()) throw std::runtime_error(path_ + ": no tensor '" + wan + "'");
  files_[it->second.file]->read_f32(it->second.original, dst);
}

std::string Checkpoint::where(const std::string& wan) const {
  auto it = entries_.find(wan);
  if (it == entries_.end()) return path_ + ": tensor '" + wan + "'";
  if (it->second.original == wan) return files_[it->second.file]->path() + ": tensor '" + wan + "'";
  return files_[it->second.file]->path() + ": tensor '" + it->second.original + "' (Wan2.1 '" + wan + "')";
}

const std::vector<float>& Weights::at(const std::string& name) const {
  auto it = tensors.find(name);
  if (it == tensors.end()) throw std::runtime_error("weights: no tensor '" + name + "'");
  return it->second;
}

namespace {

bool is_router(const std::string& k) {
  const std::string s = ".self_attn.router.weight";
  return k.size() > s.size() && k.compare(k.size() - s.size(), s.size(), s) == 0 && k.rfind("blocks.", 0) == 0;
}

std::string list_names(const std::vector<std::string>& v, size_t limit = 12) {
  std::string r;
  for (size_t i = 0; i < v.size() && i < limit; ++i) r += "\n    " + v[i];
  if (v.size() > limit) r += fmt::format("\n    ... and {} more", v.size() - limit);
  return r;
}

// Which config would this checkpoint fit? (dim from patch_embedding, layers from the block indices.)
std::string config_hint(const Checkpoint& ck, const ModelConfig& cfg) {
  if (!ck.entries().count("patch_embedding.weight")) return "";
  const auto& pe = ck.info("patch_embedding.weight");
  if (pe.shape.empty()) return "";
  int layers = 0;
  for (const auto& [k, e] : ck.entries())
    if (k.rfind("blocks.", 0) == 0) layers = std::max(layers, std::atoi(k.c_str() + 7) + 1);
  const long long dim = pe.shape[0];
  if (dim == cfg.dim && layers == cfg.layers) return "";
  std::string fits;
  for (const auto& n : config_names()) {
    const ModelConfig c = config_by_name(n);
    if (c.dim == dim && c.layers == layers) fits = n;
  }
  return fmt::format("\n  hint: the checkpoint has dim {} and {} blocks; config '{}' has dim {} and {} blocks{}", dim, layers,
                     cfg.name, cfg.dim, cfg.layers, fits.empty() ? "" : " (try --config " + fits + ")");
}

}  // namespace

Weights load_weights(const std::string& path, const ModelConfig& cfg, int M, std::string* note) {
  Checkpoint ck(path);
  const std::vector<ParamInfo> want = param_list(cfg, M);
  std::set<std::string> wanted;
  for (const auto& p : want) wanted.insert(p.name);
  std::vector<std::string> missing, unexpected, mismatched;
  for (const auto& p : want) {
    if (!ck.entries().count(p.name)) {
      missing.push_back(p.name);
      continue;
    }
    const TensorInfo& t = ck.info(p.name);
    if (t.shape != p.shape)
      mismatched.push_back(fmt::format("{}: {} in the file, {} for config '{}'", ck.where(p.name), shape_str(t.shape),
                                       shape_str(p.shape), cfg.name));
  }
  int ignored_routers = 0;
  for (const auto& [k, e] : ck.entries()) {
    if (wanted.count(k)) continue;
    if (M == 0 && is_router(k)) {
      ++ignored_routers;
      continue;
    }
    unexpected.push_back(e.original == k ? k : e.original + " (Wan2.1 '" + k + "')");
  }
  for (const auto& u : ck.unmapped()) unexpected.push_back(u + " (no Wan2.1 name)");
  if (!missing.empty() || !unexpected.empty() || !mismatched.empty()) {
    std::string msg = fmt::format("checkpoint {} ({} layout) does not match config '{}'{}:", path, layout_name(ck.layout()),
                                  cfg.name, M > 0 ? fmt::format(" with a router of M = {} groups", M) : "");
    if (!missing.empty()) msg += fmt::format("\n  {} missing key(s):{}", missing.size(), list_names(missing));
    if (!unexpected.empty()) msg += fmt::format("\n  {} unexpected key(s):{}", unexpected.size(), list_names(unexpected));
    if (!mismatched.empty()) msg += fmt::format("\n  {} shape mismatch(es):{}", mismatched.size(), list_names(mismatched));
    msg += config_hint(ck, cfg);
    throw std::runtime_error(msg);
  }
  Weights w;
  w.config = cfg;
  w.router_groups = M;
  for (const auto& p : want) {
    std::vector<float> v((size_t)p.numel());
    ck.read_f32(p.name, v.data());
    w.tensors.emplace(p.name, std::move(v));
  }
  if (note) {
    *note = fmt::format("loaded {} tensors ({} layout) from {}", want.size(), layout_name(ck.layout()), path);
    if (ignored_routers) *note += fmt::format("; {} router weight(s) ignored (the pattern is not routed)", ignored_routers);
  }
  return w;
}

// ---- synthetic weights ------------------------------------------------------------------------------

uint64_t NormalRng::next_u64() {
  uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

double NormalRng::uniform() { return ((next_u64() >> 11) + 0.5) * (1.0 / 9007199254740992.0); }

float NormalRng::normal() {
  if (have_) {
    have_ = false;
    return (float)spare_;
  }
  const double u1 = uniform(), u2 = uniform();
  const double r = std::sqrt(-2.0 * std::log(u1)), th = 6.283185307179586 * u2;
  spare_ = r * std::sin(th);
  have_ = true;
  return (float)(r * std::cos(th));
}

void NormalRng::fill(float* dst, size_t n, float mean, float std) {
  for (size_t i = 0; i < n; ++i) dst[i] = mean + std * normal();
}

uint64_t hash_name(const std::string& s, uint64_t seed) {
  uint64_t h = 1469598103934665603ull ^ (seed * 0x9e3779b97f4a7c15ull);
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

void init_param(const ParamInfo& p, uint64_t seed, float* dst) {
  const size_t n = (size_t)p.numel();
  const std::string& k = p.name;
  auto ends = [&](const char* s) {
    const size_t l = std::strlen(s);
    return k.size() >= l && k.compare(k.size() - l, l, s) == 0;
  };
  if (ends("norm_q.weight") || ends("norm_k.weight") || ends("norm3.weight")) {
    std::fill(dst, dst + n, 1.f);
  } else if (ends("norm3.bias")) {
    std::fill(dst, dst + n, 0.f);
  } else {
    NormalRng rng(hash_name(k, seed));
    rng.fill(dst, n, 0.f, 0.02f);
  }
}

Weights random_weights(const ModelConfig& cfg, uint64_t seed, int M) {
  Weights w;
  w.config = cfg;
  w.router_groups = M;
  const std::vector<ParamInfo> params = param_list(cfg, M);
  std::vector<std::vector<float>> values(params.size());
  // Tensors are independent (values depend on seed and name only): fill them on all cores.
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < params.size();) {
      values[i].resize((size_t)params[i].numel());
      init_param(params[i], seed, values[i].data());
    }
  };
  std::vector<std::thread> pool;
  const unsigned n = std::max(1u, std::min(8u, std::thread::hardware_concurrency()));
  for (unsigned t = 1; t < n; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  for (size_t i = 0; i < params.size(); ++i) w.tensors.emplace(params[i].name, std::move(values[i]));
  return w;
}

void write_random_checkpoint(const std::string& path, const ModelConfig& cfg, uint64_t seed, int M, DType dtype,
                             const std::map<std::string, std::string>& metadata) {
  std::vector<TensorWrite> t;
  for (const auto& p : param_list(cfg, M)) {
    TensorWrite w;
    w.name = p.name;
    w.dtype = dtype;
    w.shape = p.shape;
    w.fill = [p, seed](float* dst) { init_param(p, seed, dst); };
    t.push_back(std::move(w));
  }
  write_safetensors(path, t, metadata);
}

}  // namespace moga::model
