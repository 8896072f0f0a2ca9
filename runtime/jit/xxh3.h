// XXH3_64bits helpers. xxHash is compiled inline (XXH_INLINE_ALL) so our binaries do not need
// libxxhash.so.0 at run time: the GPU machine they travel to has no such library.
#pragma once

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <fmt/format.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace moga::jit {

inline uint64_t xxh3(std::string_view a) { return XXH3_64bits(a.data(), a.size()); }

// One hash over the concatenation a||b, without building it.
inline uint64_t xxh3(std::string_view a, std::string_view b) {
  XXH3_state_t* s = XXH3_createState();
  XXH3_64bits_reset(s);
  XXH3_64bits_update(s, a.data(), a.size());
  XXH3_64bits_update(s, b.data(), b.size());
  const uint64_t h = XXH3_64bits_digest(s);
  XXH3_freeState(s);
  return h;
}

inline std::string hex64(uint64_t h) { return fmt::format("{:016x}", h); }

}  // namespace moga::jit
