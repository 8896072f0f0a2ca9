// The shipped patterns (compiled at build time) and the CUDA templates, embedded in the binary.
#pragma once

#include <string>
#include <vector>

namespace moga::kernels {

struct EmbeddedPattern {
  const char* name;      // file stem: "moga", "causal", ...
  const char* dsl;       // the .moga source
  const char* cuda;      // the generated CUDA C++ (default params, head_dim 128)
  const char* manifest;  // the JSON manifest
};

struct EmbeddedHeader {
  const char* name;  // "attention_fwd.cuh": the name the generated sources #include
  const char* text;
};

const std::vector<EmbeddedPattern>& embedded_patterns();
const std::vector<EmbeddedHeader>& embedded_headers();

}  // namespace moga::kernels
