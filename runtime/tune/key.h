// What a tuning result is keyed by (docs/autotune.md, "The key"):
//
//   (pattern hash, kernel, shape bucket, arch, versions)  -> one database file   (DbKey)
//   + config                                              -> one result in it    (Config::id())
//
// pattern hash  XXH3 of the manifest's kernel entry minus "tiles"/"tunable"/"plan" (+ the layout): what the
//               kernel computes, not how it is tiled (space.h, KernelInfo::pattern_hash)
// shape bucket  N rounded up to a power of two, B, H, D (lengths are runtime arguments: a new N in
//               the same bucket reuses the result, and never recompiles)
// arch          "sm_90"
// versions      moga's version, NVRTC's, the driver's and an XXH3 of the embedded CUDA templates
//               (kernels_src/cuda): a new toolchain or kernel template invalidates every result.
// No CUDA, no MLIR.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "runtime/attention/shape.h"

namespace moga::tune {

struct Versions {
  std::string moga;       // MOGA_VERSION
  std::string nvrtc;      // jit::nvrtc_version(), "13.0"
  std::string driver;     // cuDriverGetVersion as "13.0", or "none" without a driver
  std::string templates;  // XXH3 (16 hex) of the kernel templates' text, "" when unknown
  // This process's versions: MOGA_VERSION, NVRTC, the driver if one loads; `templates` is given by the
  // caller (tools/moga hashes runtime/kernels' embedded headers: templates_hash()).
  static Versions current(const std::string& templates);
  nlohmann::json to_json() const;
  bool operator==(const Versions& o) const {
    return moga == o.moga && nvrtc == o.nvrtc && driver == o.driver && templates == o.templates;
  }
};

// XXH3 over the names and texts of the headers, in the order given (16 hex digits).
std::string templates_hash(const std::vector<std::pair<std::string, std::string>>& headers);

// The problem a kernel is tuned for. `video` patterns also need the latent grid (the block map
// depends on it); the bucket does not include it (docs/autotune.md says why that is good enough).
// The problem a kernel is tuned for: the runtime's own shape type. `video` patterns also need the
// latent grid (the block map depends on it); the bucket does not include it (docs/autotune.md says
// why that is good enough).
using Shape = rt::AttentionShape;

struct ShapeBucket {
  int N = 0, B = 0, H = 0, D = 0;  // N: a power of two
  static ShapeBucket of(const Shape& s);
  std::string slug() const;  // "N4096-B1-H16-D128"
  bool operator==(const ShapeBucket& o) const { return N == o.N && B == o.B && H == o.H && D == o.D; }
};

// Smallest power of two >= n (n <= 1: 1).
int round_up_pow2(int n);

struct DbKey {
  std::string pattern;       // for readable names only: not part of the identity
  std::string kernel;
  std::string pattern_hash;  // 16 hex
  ShapeBucket bucket;
  std::string arch;
  Versions versions;

  // Canonical JSON of every field (what the file stores and compares on load).
  nlohmann::json to_json() const;
  static DbKey from_json(const nlohmann::json& j);  // throws std::invalid_argument when incomplete
  // XXH3 of to_json().dump() minus "pattern" (16 hex).
  std::string hash() const;
  // XXH3 of the versions JSON (8 hex): files of one toolchain share it.
  std::string versions_tag() const;
  // Relative to the database root (<cache_root>/tune):
  //   <arch>/<pattern>.<kernel>-<pattern hash>/<bucket slug>.<versions tag>.json
  std::string relative_path() const;
  // The folder part: every bucket and toolchain of one kernel lives in it.
  std::string kernel_dir() const;
  bool same_identity(const DbKey& o) const;  // equal in every field but `pattern`
};

}  // namespace moga::tune
