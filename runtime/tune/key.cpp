#include "runtime/tune/key.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "runtime/jit/cache.h"
#include "runtime/jit/driver.h"
#include "runtime/jit/jit.h"
#include "runtime/jit/xxh3.h"

#ifndef MOGA_VERSION
#error "MOGA_VERSION must be defined by the build (top-level CMakeLists.txt)"
#endif

namespace moga::tune {

using nlohmann::json;

Versions Versions::current(const std::string& templates) {
  Versions v;
  v.moga = MOGA_VERSION;
  v.nvrtc = jit::nvrtc_version();
  v.driver = "none";
  if (const jit::Driver* d = jit::try_driver()) {
    int ver = 0;
    if (d->cuDriverGetVersion(&ver) == CUDA_SUCCESS) v.driver = fmt::format("{}.{}", ver / 1000, (ver % 1000) / 10);
  }
  v.templates = templates;
  return v;
}

json Versions::to_json() const {
  return {{"moga", moga}, {"nvrtc", nvrtc}, {"driver", driver}, {"templates", templates}};
}

std::string templates_hash(const std::vector<std::pair<std::string, std::string>>& headers) {
  json j = json::array();
  for (const auto& [name, text] : headers) j.push_back({name, jit::hex64(jit::xxh3(text))});
  return jit::hex64(jit::xxh3(j.dump()));
}


int round_up_pow2(int n) {
  long long p = 1;
  while (p < n) p <<= 1;
  return static_cast<int>(p);
}

ShapeBucket ShapeBucket::of(const Shape& s) { return {round_up_pow2(s.N), s.B, s.H, s.D}; }

std::string ShapeBucket::slug() const { return fmt::format("N{}-B{}-H{}-D{}", N, B, H, D); }

json DbKey::to_json() const {
  return {{"pattern", pattern},
          {"kernel", kernel},
          {"pattern_hash", pattern_hash},
          {"bucket", {{"N", bucket.N}, {"B", bucket.B}, {"H", bucket.H}, {"D", bucket.D}}},
          {"arch", arch},
          {"versions", versions.to_json()}};
}

DbKey DbKey::from_json(const json& j) {
  try {
    DbKey k;
    k.pattern = j.at("pattern").get<std::string>();
    k.kernel = j.at("kernel").get<std::string>();
    k.pattern_hash = j.at("pattern_hash").get<std::string>();
    const json& b = j.at("bucket");
    k.bucket = {b.at("N").get<int>(), b.at("B").get<int>(), b.at("H").get<int>(), b.at("D").get<int>()};
    k.arch = j.at("arch").get<std::string>();
    const json& v = j.at("versions");
    k.versions = {v.at("moga").get<std::string>(), v.at("nvrtc").get<std::string>(),
                  v.at("driver").get<std::string>(), v.at("templates").get<std::string>()};
    return k;
  } catch (const json::exception& e) {
    throw std::invalid_argument(fmt::format("tuning key: {}", e.what()));
  }
}

std::string DbKey::hash() const {
  json j = to_json();
  j.erase("pattern");
  return jit::hex64(jit::xxh3(j.dump()));
}

std::string DbKey::versions_tag() const { return jit::hex64(jit::xxh3(versions.to_json().dump())).substr(0, 8); }

std::string DbKey::kernel_dir() const {
  // sanitize() keeps at most 64 characters: shorten the readable part, never the hash.
  const std::string readable = jit::cache::sanitize(pattern + "." + kernel).substr(0, 40);
  return fmt::format("{}/{}-{}", jit::cache::sanitize(arch), readable, jit::cache::sanitize(pattern_hash));
}

std::string DbKey::relative_path() const {
  return fmt::format("{}/{}.{}.json", kernel_dir(), bucket.slug(), versions_tag());
}

bool DbKey::same_identity(const DbKey& o) const { return hash() == o.hash(); }

}  // namespace moga::tune
