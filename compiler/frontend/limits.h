// The front end's resource bounds (docs/dsl.md, "Limits"). Each one is checked before the work it
// bounds and reported as a located error naming the limit, so no input can exhaust the stack, the
// memory or the time of the compiler: a pattern is a few dozen lines, these are far above that.
#pragma once

#include <cstddef>

namespace moga::frontend::limits {

// A .moga file larger than this is refused before it is lexed (the shipped patterns are < 2 KiB).
constexpr size_t kMaxSourceBytes = 1 << 20;  // 1 MiB

// Height of an expression tree: as parsed (a flat chain `a + b + c ...` counts one level per
// operator) and after inlining defs (each def call counts one level). Every later stage (checks,
// inlining, MLIR generation, dumps) recurses over the tree, so this bounds their stack use.
constexpr int kMaxExprDepth = 256;

// Nodes of one statement's expression after inlining every def call. A def is inlined at each of
// its calls, so defs that call the previous one twice double the size per def; this stops that
// before it costs memory or time.
constexpr int kMaxExprNodes = 1 << 16;  // 65,536

// Statements of one file (top level and inside branches, each counted once; a `branch` block
// counts one), and of each kind.
constexpr int kMaxStatements = 1024;
constexpr int kMaxBranches = 64;
constexpr int kMaxParams = 256;
constexpr int kMaxDefs = 256;

// `route linear(M) top k`: 1 <= k <= M <= kMaxRouteGroups (the router's weight is d_model x M;
// the GPU router runs M <= 256, the CPU reference any M up to this bound).
constexpr int kMaxRouteGroups = 1024;

// Floats are 32-bit in the kernels: a float literal or compile-time float value beyond this
// magnitude would become infinity there.
constexpr double kMaxFloat = 3.4028234663852886e38;  // FLT_MAX

}  // namespace moga::frontend::limits
