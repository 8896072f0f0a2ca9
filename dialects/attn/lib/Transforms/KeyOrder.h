//===- KeyOrder.h - is a computed group key non-decreasing in token order? -===//
#pragma once

namespace mlir {
class Region;
namespace attn {

/// True when the key region's value is provably non-decreasing in the token index (t = pos; frame,
/// shot and shot_start are non-decreasing in it too) at every shape. The runtime's stable sort by such a
/// key is the identity, so every group is a run of consecutive tokens and the TMA kernel loads its
/// tiles from q, k, v without a sorted copy (runtime group_layout.h contiguous_tiles). Sound, not
/// complete: what it cannot prove is false. Forms: constants, non-decreasing coordinates, sums,
/// products and floor divisions by positive constants or shape dims, min / max, and the periodic form
/// a * (t / m) + g(t % m) with g non-decreasing on [0, m) and g's range at most a (a document id built
/// from a period of m tokens).
bool keyInTokenOrder(Region& key);

}  // namespace attn
}  // namespace mlir
