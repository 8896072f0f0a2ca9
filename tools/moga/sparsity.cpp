// See sparsity.h.
#include "tools/moga/sparsity.h"

#include <algorithm>
#include <stdexcept>

#include "runtime/reference/block_map.h"
#include "runtime/reference/manifest.h"

namespace moga::cli {

std::vector<int> parse_shape_dims(const std::string& text) {
  std::vector<int> dims;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('x', start);
    std::string part = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    size_t used = 0;
    int v = 0;
    try {
      v = std::stoi(part, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != part.size() || part.empty() || v <= 0)
      throw std::invalid_argument("--shape expects N or FxHxW with positive integers, got '" + text + "'");
    dims.push_back(v);
    if (end == std::string::npos) break;
    start = end + 1;
  }
  if (dims.size() != 1 && dims.size() != 3)
    throw std::invalid_argument("--shape expects N or FxHxW, got '" + text + "'");
  // Each factor fits an int (stoi), so the product of three fits in 64 bits.
  long long tokens = 1;
  for (int d : dims) tokens *= d;
  if (tokens > kMaxShapeTokens)
    throw std::invalid_argument("--shape " + text + " has " + std::to_string(tokens) +
                                " tokens; token indices are 32-bit, at most " +
                                std::to_string(kMaxShapeTokens));
  return dims;
}

ref::Shape parse_shape(const std::string& text, const std::vector<int>& shots) {
  const std::vector<int> dims = parse_shape_dims(text);
  if (dims.size() == 1) {
    if (!shots.empty()) throw std::invalid_argument("--shots needs a video shape FxHxW");
    return ref::Shape::seq(dims[0]);
  }
  ref::VideoShape v;
  v.F = dims[0];
  v.H = dims[1];
  v.W = dims[2];
  v.shot_starts.push_back(0);
  v.shot_starts.insert(v.shot_starts.end(), shots.begin(), shots.end());
  return ref::Shape::video(v);
}

void check_sparsity_size(const nlohmann::json& manifest, long long tokens, const std::string& text) {
  const ref::PatternSpec spec = ref::parse_manifest(manifest);
  long long pairs = 0;
  for (const ref::KernelSpec& k : spec.kernels) {
    const long long bm = std::max(1, k.tiles.block_m), bn = std::max(1, k.tiles.block_n);
    pairs += ((tokens + bm - 1) / bm) * ((tokens + bn - 1) / bn);  // <= 2^62: tokens < 2^31
    if (pairs > kMaxShapeTilePairs)
      throw std::invalid_argument(
          "--shape " + text + ": " + std::to_string(tokens) + " tokens need block maps of more than " +
          std::to_string(kMaxShapeTilePairs) + " tile pairs (one byte each; counted up to kernel '" +
          k.name + "'); give a smaller shape (about 1,000,000 tokens at most at 128x64 tiles)");
  }
}

void print_sparsity(const nlohmann::json& manifest, const ref::Shape& shape, std::ostream& out) {
  ref::PatternSpec spec = ref::parse_manifest(manifest);
  // The default options count the density exactly only while that is quick (density_budget);
  // beyond it the summary prints the bound the tiles give.
  for (const ref::BlockMap& m : ref::build_block_maps(spec, shape, 1, {})) out << m.summary() << "\n";
}

}  // namespace moga::cli
