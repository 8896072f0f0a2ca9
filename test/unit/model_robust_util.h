// Helpers the loader tests (model_robust_test.cpp) and the CLI tests (model_robust_cli_test.cpp) share:
// error text of opening or loading a checkpoint, a small two-tensor file, the tiny config's weights
// under other names or with a poisoned value.
#pragma once

#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "runtime/model/config.h"
#include "runtime/model/safetensors.h"
#include "runtime/model/weights.h"
#include "test/unit/model_test_util.h"

namespace modelrobust {

using namespace moga::model;
using modeltest::write_bytes;

inline bool has(const std::string& msg, const std::string& what) { return msg.find(what) != std::string::npos; }

inline std::string open_error(const std::string& path) {
  try {
    SafetensorsFile f(path);
  } catch (const SafetensorsError& e) {
    return e.what();
  }
  return "";
}

inline std::string write_and_open(const std::string& dir, const std::string& bytes, const std::string& name) {
  write_bytes(dir + "/" + name, bytes);
  return open_error(dir + "/" + name);
}

// Two F32 tensors a [2] and b [1], 12 bytes of data, and a header padded with `pad`.
inline const char* const kTwo = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})";
inline std::string twelve_bytes() {
  std::string d(12, '\0');
  const float v[3] = {1.5f, -2.f, 3.25f};
  std::memcpy(&d[0], v, 12);
  return d;
}

inline std::string load_error(const std::string& path, int M = 0, const std::string& config = "tiny") {
  try {
    load_weights(path, config_by_name(config), M);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

// The tiny config's synthetic weights under names from `rename`, with `poison` filled by `value`.
inline std::string write_tiny(const std::string& path, std::string (*rename)(const std::string&) = nullptr,
                       const std::string& poison = "", float value = 0, const std::string& drop = "") {
  std::vector<TensorWrite> t;
  for (const auto& p : param_list(config_by_name("tiny"), 0)) {
    if (p.name == drop) continue;
    TensorWrite w;
    w.name = rename ? rename(p.name) : p.name;
    w.shape = p.shape;
    const bool bad = p.name == poison;
    w.fill = [p, bad, value](float* d) {
      init_param(p, 3, d);
      if (bad) d[p.numel() / 2] = value;
    };
    t.push_back(w);
  }
  write_safetensors(path, t);
  return path;
}

inline std::string to_diffusers(const std::string& k) { return wan_to_diffusers(k).value_or(k); }

}  // namespace modelrobust
