// A compiled pattern, loaded for the runtime: the generated CUDA source and its manifest (parsed with
// ref::parse_manifest). Two sources:
//   load_builtin("moga")        a shipped pattern, compiled at build time and embedded in the binary
//                               (runtime/kernels/embedded.h);
//   load_compiled(DIR[, name])  the output of `moga compile -o DIR` / `moga-compile FILE DIR`:
//                               DIR/<name>.cu + DIR/<name>.json.
// The runtime cannot compile .moga itself (no MLIR on the GPU machine): patterns arrive compiled.
#pragma once

#include <string>
#include <vector>

#include "runtime/reference/manifest.h"

namespace moga::rt {

class PatternError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct LoadedPattern {
  std::string name;           // the pattern's name (manifest "pattern")
  std::string origin;         // "builtin:moga" or the .json path
  std::string cuda;           // the generated CUDA C++ (includes "entry.cuh")
  std::string manifest_json;  // the manifest text
  ref::PatternSpec spec;      // parsed and validated
};

// Names of the shipped patterns, sorted.
std::vector<std::string> builtin_names();
// Throws PatternError listing the shipped names when `name` is not one of them.
LoadedPattern load_builtin(const std::string& name);
// name empty: DIR must hold exactly one *.json (with its .cu). Throws PatternError naming the file
// that is missing or unreadable, or a ManifestError (from ref::parse_manifest) for a bad manifest.
LoadedPattern load_compiled(const std::string& dir, const std::string& name = "");
// From memory (tests, tools that already hold the text).
LoadedPattern load_from_text(std::string cuda, std::string manifest_json, std::string origin);

}  // namespace moga::rt
