// bf16 <-> float32 on the host, as the kernels see their bf16 tensors: round to nearest even, NaN stays a
// (quiet) NaN. For the tests, `moga check` / `moga bench` and the benchmarks that upload inputs and read
// outputs back (the model's safetensors have their own, with F16 beside it: runtime/model/safetensors.h).
#pragma once

#include <cstring>

namespace moga::rt {

inline unsigned short f2bf(float f) {
  unsigned u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fc0;
  u += 0x7fffu + ((u >> 16) & 1u);
  return (unsigned short)(u >> 16);
}

inline float bf2f(unsigned short h) {
  const unsigned u = (unsigned)h << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

}  // namespace moga::rt
