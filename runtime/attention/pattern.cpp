#include "runtime/attention/pattern.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "runtime/kernels/embedded.h"

namespace moga::rt {

std::vector<std::string> builtin_names() {
  std::vector<std::string> names;
  for (const auto& p : kernels::embedded_patterns()) names.push_back(p.name);
  std::sort(names.begin(), names.end());
  return names;
}

LoadedPattern load_from_text(std::string cuda, std::string manifest_json, std::string origin) {
  LoadedPattern p;
  p.origin = std::move(origin);
  p.cuda = std::move(cuda);
  p.manifest_json = std::move(manifest_json);
  try {
    p.spec = ref::parse_manifest_text(p.manifest_json);
  } catch (const ref::ManifestError& e) {
    throw ref::ManifestError(fmt::format("{}: {}", p.origin, e.what()));
  }
  p.name = p.spec.pattern;
  if (p.cuda.find("entry.cuh") == std::string::npos)
    throw PatternError(fmt::format("{}: the CUDA source does not include \"entry.cuh\" (not a moga codegen output?)",
                                   p.origin));
  return p;
}

LoadedPattern load_builtin(const std::string& name) {
  for (const auto& e : kernels::embedded_patterns())
    if (name == e.name) return load_from_text(e.cuda, e.manifest, "builtin:" + name);
  std::string list;
  for (const auto& n : builtin_names()) list += (list.empty() ? "" : ", ") + n;
  throw PatternError(fmt::format("no shipped pattern '{}' (shipped: {})", name, list));
}

static std::string slurp(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw PatternError(fmt::format("cannot read {}", p.string()));
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

LoadedPattern load_compiled(const std::string& dir, const std::string& name) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw PatternError(fmt::format("load_compiled: '{}' is not a folder (expected the output of `moga compile -o DIR`)",
                                   dir));
  std::string stem = name;
  if (stem.empty()) {
    std::vector<std::string> found;
    for (const auto& e : fs::directory_iterator(dir, ec))
      if (e.path().extension() == ".json") found.push_back(e.path().stem().string());
    if (found.size() != 1)
      throw PatternError(fmt::format("load_compiled: '{}' holds {} manifests (*.json); name the pattern", dir,
                                     found.size()));
    stem = found[0];
  }
  const fs::path json = fs::path(dir) / (stem + ".json"), cu = fs::path(dir) / (stem + ".cu");
  if (!fs::exists(json)) throw PatternError(fmt::format("load_compiled: missing manifest {}", json.string()));
  if (!fs::exists(cu)) throw PatternError(fmt::format("load_compiled: missing CUDA source {}", cu.string()));
  return load_from_text(slurp(cu), slurp(json), json.string());
}

}  // namespace moga::rt
