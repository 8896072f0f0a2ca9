// `moga compile --shape`: the block sparsity of each kernel of a compiled pattern for one shape, as
// FlexAttention's BlockMask prints it, computed on the CPU from the kernels' mask programs.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "runtime/reference/program.h"

namespace moga::cli {

/// The integers of a --shape: "32760" -> {32760}, "21x30x52" -> {21, 30, 52}. Throws
/// std::invalid_argument for anything but 1 or 3 positive integers, or when their product (the
/// number of tokens) passes kMaxShapeTokens.
std::vector<int> parse_shape_dims(const std::string& text);

/// "32760" (seq) or "21x30x52" (video: frames x rows x cols); `shots`: first frame of each shot
/// after the first. Throws std::invalid_argument with what is wrong.
ref::Shape parse_shape(const std::string& text, const std::vector<int>& shots);

/// The most tokens a --shape may have: token indices and coordinates are 32-bit ints.
constexpr long long kMaxShapeTokens = 2147483647LL;

/// The most tile pairs the block maps of one --shape may hold in all (one byte each, for every
/// kernel at its tile sizes): 2^28, 256 MiB, about 1M tokens at 128x64 tiles.
constexpr long long kMaxShapeTilePairs = 1LL << 28;

/// Throws std::invalid_argument naming --shape when the block maps of `manifest`'s kernels for
/// `tokens` tokens would pass kMaxShapeTilePairs. Checked before any of them is built.
void check_sparsity_size(const nlohmann::json& manifest, long long tokens, const std::string& text);

void print_sparsity(const nlohmann::json& manifest, const ref::Shape& shape, std::ostream& out);

}  // namespace moga::cli
