// How the runtime uses the tuning database: the tile config of every kernel of a pattern for one
// shape, tuned where a result exists (exact bucket, else the nearest tuned bucket), else the
// heuristic default (docs/autotune.md). The DiT runtime and the benchmarks build their
// PatternAttention with these options, so a `moga tune` run is picked up with no flag.
#pragma once

#include <string>
#include <vector>

#include "runtime/attention/attention.h"
#include "runtime/tune/key.h"

namespace moga::tune {

/// XXH3 of the embedded CUDA templates (runtime/kernels): part of every tuning key, so editing a
/// kernel template re-tunes.
std::string embedded_templates_hash();

/// `base` with `tiles` filled for each kernel that `base` does not set explicitly. `notes` (optional)
/// receives one line per kernel: "stga: bm64_bn64_w4_s2 (tuned)".
rt::AttentionOptions tuned_attention_options(const rt::LoadedPattern& pattern, const Shape& shape,
                                             rt::AttentionOptions base = {},
                                             std::vector<std::string>* notes = nullptr);

}  // namespace moga::tune
