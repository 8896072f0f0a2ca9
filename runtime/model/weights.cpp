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

#include "runtime/jit/safe_file.h"

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

// ComfyUI-style single files prefix every key with "model.diffusion_model." (diffusers' single-file
// loader strips it too).
const std::string kComfyPrefix = "model.diffusion_model.";

std::string strip_comfy(const std::string& k) { return k.rfind(kComfyPrefix, 0) == 0 ? k.substr(kComfyPrefix.size()) : k; }

// Which layout a key (prefix stripped) belongs to. Only patch_embedding.* is spelled alike in both.
enum class KeyKind { Both, WanOnly, DiffusersOnly, Neither };
KeyKind key_kind(const std::string& k) {
  const bool wan = wan_to_diffusers(k).has_value(), diff = diffusers_to_wan(k).has_value();
  if (wan && diff) return KeyKind::Both;
  if (wan) return KeyKind::WanOnly;
  if (diff) return KeyKind::DiffusersOnly;
  // Names outside both tables still tell the layout by their modules (e.g. a stray attn1.* key).
  for (const char* p : {"condition_embedder.", "proj_out.", "scale_shift_table"})
    if (k.rfind(p, 0) == 0) return KeyKind::DiffusersOnly;
  for (const char* p : {".attn1.", ".attn2.", ".ffn.net.", ".scale_shift_table"})
    if (k.find(p) != std::string::npos) return KeyKind::DiffusersOnly;
  return KeyKind::Neither;
}

// Index files are small JSON; a bound keeps a hostile one from exhausting memory.
constexpr uint64_t kMaxIndexBytes = 64ull << 20;

bool ends_with(const std::string& s, const std::string& t) {
  return s.size() >= t.size() && s.compare(s.size() - t.size(), t.size(), t) == 0;
}

// A weight_map file name must stay inside the index's folder: relative, no ".." component, no empty
// component. Checked on the name as written (lexically): symlinks inside the folder are followed,
// since the Hugging Face cache links every snapshot file to ../../blobs/, and the user chose that
// folder; what is refused is an index (downloaded, untrusted) naming /etc/passwd or ../../x.
void check_shard_name(const std::string& idx, const std::string& key, const std::string& f) {
  auto bad = [&](const std::string& why) {
    throw CheckpointError(fmt::format("{}: weight_map['{}'] = '{}': {} (shard files must be inside the index's folder)", idx,
                                      key, f, why));
  };
  if (f.empty()) bad("empty file name");
  if (f.find('\0') != std::string::npos) bad("NUL in the file name");
  if (f[0] == '/') bad("an absolute path");
  size_t start = 0;
  while (start <= f.size()) {
    const size_t end = std::min(f.find('/', start), f.size());
    const std::string part = f.substr(start, end - start);
    if (part == "..") bad("a '..' component");
    if (part.empty() || part == ".") bad("an empty or '.' path component");
    start = end + 1;
  }
}

struct IndexShards {
  std::vector<std::string> files;                 // sorted, unique
  std::map<std::string, std::string> weight_map;  // tensor -> file path (as opened)
};

IndexShards read_index(const std::string& idx) {
  namespace fs = std::filesystem;
  const jit::FileBytes fb = jit::read_regular_file(idx, kMaxIndexBytes);
  if (fb.status != jit::RegularFile::Status::Ok) throw CheckpointError(idx + ": " + fb.why);
  nlohmann::json j;
  try {
    j = parse_json_unique_keys(fb.data, idx);
  } catch (const SafetensorsError& e) {
    throw CheckpointError(std::string(e.what()) + " (not a safetensors index?)");
  }
  if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
    throw CheckpointError(idx + ": no 'weight_map' object (not a safetensors index?)");
  if (j["weight_map"].empty()) throw CheckpointError(idx + ": 'weight_map' is empty");
  IndexShards r;
  std::set<std::string> files;
  for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
    if (!it->is_string()) throw CheckpointError(idx + ": weight_map['" + it.key() + "'] is not a file name");
    const std::string name = it->get<std::string>();
    check_shard_name(idx, it.key(), name);
    const std::string file = (fs::path(idx).parent_path() / name).string();
    files.insert(file);
    r.weight_map[it.key()] = file;
  }
  r.files.assign(files.begin(), files.end());
  return r;
}

struct Resolved {
  std::vector<std::string> files;
  std::optional<IndexShards> index;
  std::string index_path;
};

Resolved resolve_files(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) throw CheckpointError(path + ": no such file or directory");
  Resolved r;
  if (fs::is_directory(st)) {
    std::vector<fs::path> idx, shards;
    for (const auto& e : fs::directory_iterator(path, ec)) {
      const std::string n = e.path().filename().string();
      if (ends_with(n, ".safetensors.index.json")) idx.push_back(e.path());
      else if (ends_with(n, ".safetensors")) shards.push_back(e.path());
    }
    if (ec) throw CheckpointError(path + ": cannot list the directory: " + ec.message());
    if (idx.size() > 1) throw CheckpointError(path + ": more than one *.safetensors.index.json");
    if (idx.size() == 1) {
      r.index_path = idx[0].string();
      r.index = read_index(r.index_path);
      r.files = r.index->files;
      return r;
    }
    if (shards.empty()) throw CheckpointError(path + ": directory holds no .safetensors file");
    std::sort(shards.begin(), shards.end());
    for (const auto& s : shards) r.files.push_back(s.string());
    return r;
  }
  if (ends_with(path, ".json")) {
    r.index_path = path;
    r.index = read_index(path);
    r.files = r.index->files;
    return r;
  }
  r.files = {path};
  return r;
}

// An index and its shards must agree: every tensor the index lists is in the file it names, and
// every tensor of a shard is listed (else a loader trusting the index would read another tensor).
void check_index_agrees(const std::string& idx, const IndexShards& ix,
                        const std::vector<std::unique_ptr<SafetensorsFile>>& files) {
  for (const auto& [tensor, file] : ix.weight_map) {
    const auto f = std::find_if(files.begin(), files.end(), [&](const auto& p) { return p->path() == file; });
    if (f == files.end() || !(*f)->has(tensor))
      throw CheckpointError(fmt::format("{}: weight_map puts tensor '{}' in {}, which does not hold it", idx, tensor, file));
  }
  for (const auto& f : files)
    for (const auto& t : f->tensors()) {
      auto it = ix.weight_map.find(t.name);
      if (it == ix.weight_map.end() || it->second != f->path())
        throw CheckpointError(fmt::format("{}: tensor '{}' is not listed in the index {}{}", f->path(), t.name, idx,
                                          it == ix.weight_map.end() ? "" : " under this file (it names " + it->second + ")"));
    }
}

std::string first_names(const std::vector<std::string>& v, size_t n = 3) {
  std::string r;
  for (size_t i = 0; i < v.size() && i < n; ++i) r += (i ? ", '" : "'") + v[i] + "'";
  if (v.size() > n) r += fmt::format(" and {} more", v.size() - n);
  return r;
}

}  // namespace

Checkpoint::Checkpoint(const std::string& path) : path_(path) {
  const Resolved res = resolve_files(path);
  for (const std::string& f : res.files) files_.push_back(std::make_unique<SafetensorsFile>(f));
  if (res.index) check_index_agrees(res.index_path, *res.index, files_);
  // The layout, from the names: diffusers-only names make it diffusers; Wan-only names beside them
  // are a mixed file, refused (mapping one half would report the other half's real keys as
  // unknown and count blocks from whichever half parses).
  std::vector<std::string> wan_only, diff_only;
  size_t prefixed = 0, total = 0;
  for (const auto& f : files_)
    for (const auto& t : f->tensors()) {
      ++total;
      prefixed += t.name.rfind(kComfyPrefix, 0) == 0;
      const KeyKind k = key_kind(strip_comfy(t.name));
      if (k == KeyKind::WanOnly) wan_only.push_back(t.name);
      if (k == KeyKind::DiffusersOnly) diff_only.push_back(t.name);
    }
  if (!wan_only.empty() && !diff_only.empty())
    throw CheckpointError(fmt::format(
        "checkpoint {} mixes Wan2.1 and diffusers key names: {} Wan2.1 name(s) ({}) and {} diffusers name(s) ({}); use one "
        "layout (docs/model.md, \"Checkpoint keys\")",
        path, wan_only.size(), first_names(wan_only), diff_only.size(), first_names(diff_only)));
  const bool diff = !diff_only.empty();
  layout_ = diff ? KeyLayout::Diffusers : KeyLayout::Wan;
  prefix_ = prefixed == total && total > 0 ? kComfyPrefix : "";
  for (size_t fi = 0; fi < files_.size(); ++fi)
    for (const auto& t : files_[fi]->tensors()) {
      std::string wan = strip_comfy(t.name);
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
        throw CheckpointError(fmt::format("{}: tensor '{}' appears twice ({} in {} and {} in {})", path, wan,
                                          it->second.original, files_[it->second.file]->path(), t.name, files_[fi]->path()));
    }
}

std::string Checkpoint::file_name(const std::string& wan) const {
  auto it = entries_.find(wan);
  if (it != entries_.end()) return it->second.original;
  if (layout_ == KeyLayout::Diffusers)
    if (auto d = wan_to_diffusers(wan)) return prefix_ + *d;
  return prefix_ + wan;
}

const TensorInfo& Checkpoint::info(const std::string& wan) const {
  auto it = entries_.find(wan);
  if (it == entries_.end()) throw CheckpointError(path_ + ": no tensor '" + wan + "'");
  return files_[it->second.file]->info(it->second.original);
}

void Checkpoint::read_f32(const std::string& wan, float* dst) const {
  auto it = entries_.find(wan);
  if (it == entries_.end()) throw CheckpointError(path_ + ": no tensor '" + wan + "'");
  const SafetensorsFile& f = *files_[it->second.file];
  f.read_f32(it->second.original, dst);
  check_finite(dst, (size_t)f.info(it->second.original).numel(), where(wan));
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
      const std::string spelled = ck.file_name(p.name);  // the diffusers name in a diffusers file
      missing.push_back(spelled == p.name ? p.name : spelled + " (Wan2.1 '" + p.name + "')");
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
  for (const auto& u : ck.unmapped()) unexpected.push_back(u + " (not a name of the diffusers layout)");
  if (!missing.empty() || !unexpected.empty() || !mismatched.empty()) {
    std::string msg = fmt::format("checkpoint {} ({} layout) does not match config '{}'{}:", path, layout_name(ck.layout()),
                                  cfg.name, M > 0 ? fmt::format(" with a router of M = {} groups", M) : "");
    if (!missing.empty()) msg += fmt::format("\n  {} missing key(s):{}", missing.size(), list_names(missing));
    if (!unexpected.empty()) msg += fmt::format("\n  {} unexpected key(s):{}", unexpected.size(), list_names(unexpected));
    if (!mismatched.empty()) msg += fmt::format("\n  {} shape mismatch(es):{}", mismatched.size(), list_names(mismatched));
    msg += config_hint(ck, cfg);
    throw CheckpointError(msg);
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
