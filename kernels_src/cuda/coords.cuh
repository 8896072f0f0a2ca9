// Token coordinates for the mask expressions, on the element level (T = int) and on the tile level
// (T = Ivl, the interval of each coordinate over a tile). NVRTC-compatible.
#pragma once
#include "interval.cuh"

namespace moga {

// Runtime shape of the token sequence. Changing it never recompiles a kernel.
struct MaskShape {
  int N;                      // tokens per batch item
  int F, H, W;                // video grid (seq layout: F = 1, H = 1, W = N)
  const int* shot_of_frame;   // [F] shot index of each frame (nullptr: one shot)
  const int* shot_first;      // [num_shots + 1] first frame of each shot, then F
};

// One bit per coordinate, in the order of the attn dialect's Coord enum (a variant's kKeyUses).
enum CoordBit : unsigned {
  kPosBit = 1u, kFrameBit = 2u, kRowBit = 4u, kColBit = 8u, kShotBit = 16u, kShotStartBit = 32u, kShotEndBit = 64u
};

template <class T>
struct Coords {
  T pos, frame, row, col, shot, shot_start, shot_end;
};

MOGA_HD inline Coords<int> coords_of(int tok, const MaskShape& s) {
  Coords<int> c;
  const int hw = s.H * s.W;
  c.pos = tok;
  c.frame = tok / hw;
  const int rem = tok - c.frame * hw;
  c.row = rem / s.W;
  c.col = rem - c.row * s.W;
  c.shot = s.shot_of_frame ? s.shot_of_frame[c.frame] : 0;
  c.shot_start = s.shot_first ? s.shot_first[c.shot] : 0;
  c.shot_end = s.shot_first ? s.shot_first[c.shot + 1] : s.F;
  return c;
}

}  // namespace moga
