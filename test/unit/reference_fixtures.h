// Shared fixtures of the reference tests (defined in reference_fixtures.cpp): manifest programs of the
// masks, keys, bias and gate the tests use, their brute-force twins over token coordinates, and the seed.
#pragma once

#include <cstdint>
#include <vector>

namespace reftest {
extern const char* const kCausalMask;
extern const char* const kSlidingMask;
extern const char* const kFrameKey;
extern const char* const kStgaMask;
extern const char* const kNattenMask;
extern const char* const kModMask;
extern const char* const kDistanceBias;
extern const char* const kPosGate;
struct Tok {
  int pos, frame, row, col, shot, shot_start, shot_end;
};
Tok tok_of(int t, int F, int H, int W, const std::vector<int>& shots);
bool causal_ok(const Tok& q, const Tok& kv);
bool sliding_ok(const Tok& q, const Tok& kv);
bool stga_ok(const Tok& q, const Tok& kv, int H, int W);
bool natten_ok(const Tok& q, const Tok& kv, int H, int W);
bool mod_ok(const Tok& q, const Tok& kv);
double distance_bias(const Tok& q, const Tok& kv, int h);
double pos_gate(const Tok& q);
uint64_t test_seed(const char* test);
}  // namespace reftest
