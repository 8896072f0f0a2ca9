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

// Byte-packed coordinates (attn-plan-score attn.u8): four values below 256 in one word, and the sum of the
// four byte distances of two such words, |a0 - b0| + ... + |a3 - b3|, which is one VABSDIFF4 on the GPU
// (float32 takes two instructions per distance). The runtime runs the packed split only while every
// coordinate it packs is below 256 at the call's shape (attention.cpp bias_bytes).
MOGA_HD inline unsigned pack_u8x4(int a, int b, int c, int d) {
  return (unsigned)a | (unsigned)b << 8 | (unsigned)c << 16 | (unsigned)d << 24;
}
MOGA_HD inline unsigned sad_u8x4(unsigned a, unsigned b) {
#if defined(__CUDA_ARCH__) || defined(__CUDACC_RTC__)
  unsigned r;
  asm("vabsdiff4.u32.u32.u32.add %0, %1, %2, %3;\n" : "=r"(r) : "r"(a), "r"(b), "r"(0u));
  return r;
#else
  unsigned r = 0;
  for (int i = 0; i < 32; i += 8) {
    const int x = (int)(a >> i & 255u), y = (int)(b >> i & 255u);
    r += (unsigned)(x > y ? x - y : y - x);
  }
  return r;
#endif
}

// The same sum as a float, exactly: the accumulator starts at the bits of 2^23, whose unit in the last place
// is 1, so the word is the float 2^23 + sum, and one full-rate FADD takes 2^23 off (an I2F conversion is a
// quarter-rate instruction; the sums are at most 4 x 255).
MOGA_HD inline float sad_u8x4_f(unsigned a, unsigned b) {
#if defined(__CUDA_ARCH__) || defined(__CUDACC_RTC__)
  unsigned r;
  asm("vabsdiff4.u32.u32.u32.add %0, %1, %2, %3;\n" : "=r"(r) : "r"(a), "r"(b), "r"(0x4B000000u));
  return __uint_as_float(r) - 8388608.0f;
#else
  return static_cast<float>(sad_u8x4(a, b));
#endif
}

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
