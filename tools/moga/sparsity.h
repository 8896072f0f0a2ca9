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
/// std::invalid_argument for anything but 1 or 3 positive integers.
std::vector<int> parse_shape_dims(const std::string& text);

/// "32760" (seq) or "21x30x52" (video: frames x rows x cols); `shots`: first frame of each shot
/// after the first. Throws std::invalid_argument with what is wrong.
ref::Shape parse_shape(const std::string& text, const std::vector<int>& shots);

void print_sparsity(const nlohmann::json& manifest, const ref::Shape& shape, std::ostream& out);

}  // namespace moga::cli
