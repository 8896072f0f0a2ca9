// CompileOptions: the default arch, the canonical key and its hash.
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <nvrtc.h>

#include <cstdlib>
#include <filesystem>

#include "runtime/jit/check.h"
#include "runtime/jit/jit.h"
#include "runtime/jit/module.h"
#include "runtime/jit/xxh3.h"

#ifndef MOGA_VERSION
#error "MOGA_VERSION must be defined by the build (top-level CMakeLists.txt)"
#endif

namespace moga::jit {

std::string nvrtc_version() {
  int major = 0, minor = 0;
  NVRTC_CHECK(nvrtcVersion(&major, &minor));
  return fmt::format("{}.{}", major, minor);
}

std::string cuda_include_dir() {
  for (const char* var : {"CUDA_HOME", "CUDA_PATH", ""}) {
    const char* root = *var ? std::getenv(var) : "/usr/local/cuda";
    if (!root || !*root) continue;
    const std::string dir = std::string(root) + "/include";
    if (std::filesystem::exists(dir + "/cuda_bf16.h")) return dir;
  }
  return "";
}

std::string CompileOptions::resolved_arch() const {
  if (!arch.empty()) return arch;
  // Once per process: the answer cannot change and hash() is called on every compile.
  static const std::string device_arch = [] {
    return device_available() ? Device::get().arch() : std::string("sm_90");
  }();
  return device_arch;
}

std::string CompileOptions::key() const {
  nlohmann::json headers_json = nlohmann::json::array();
  for (const EmbeddedHeader& h : headers)
    headers_json.push_back({{"name", h.name}, {"xxh3", hex64(xxh3(h.contents))}});
  nlohmann::json j = {
      {"arch", resolved_arch()},
      {"name", name},
      {"defines", defines},
      {"include_dirs", include_dirs},
      {"headers", headers_json},
      {"flags", flags},
      {"name_expressions", name_expressions},
      {"fixed", std::vector<std::string>(std::begin(detail::kFixedNvrtcOptions),
                                         std::end(detail::kFixedNvrtcOptions))},
      {"moga", MOGA_VERSION},
      {"nvrtc", nvrtc_version()},
  };
  return j.dump();  // keys sorted (std::map): the same options always give the same text
}

uint64_t CompileOptions::hash() const { return xxh3(key()); }

uint64_t compile_hash(const std::string& source, const CompileOptions& options) {
  // key() is one JSON object, so key||source cannot be split two ways.
  return xxh3(options.key(), source);
}

}  // namespace moga::jit
