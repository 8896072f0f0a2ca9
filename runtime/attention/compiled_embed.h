// Compiled patterns embedded into a binary at build time (runtime/attention/embed_patterns.cmake):
// the test and benchmark binaries carry the pattern variants they need (test patterns, moga_dynamic
// with other M), since the GPU machine has no MLIR to compile .moga files. Load one with
// rt::load_from_text(e.cuda, e.manifest, e.label).
#pragma once

#include <string>
#include <vector>

namespace moga::rt {

struct CompiledText {
  const char* label;     // e.g. "moga_dynamic_M16"
  const char* cuda;      // generated CUDA C++
  const char* manifest;  // JSON manifest
};

}  // namespace moga::rt
