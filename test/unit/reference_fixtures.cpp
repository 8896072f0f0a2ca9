// Shared fixtures of the CPU reference suites (declared in reference_fixtures.h):
// mask / key / bias / gate programs written as manifest JSON, the same masks written directly in C++
// (independently of runtime/reference: own coordinates, own shot tables), and the random seed.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>
#include "test/unit/reference_fixtures.h"

namespace reftest {

// ---- programs (manifest JSON) -----------------------------------------------------------------------

// q.pos >= kv.pos
extern const char* const kCausalMask = R"({"args": ["q", "kv"], "ops": [
  {"op": "arg", "index": 0}, {"op": "arg", "index": 1},
  {"op": "coord", "operands": [0], "coord": "pos"}, {"op": "coord", "operands": [1], "coord": "pos"},
  {"op": "cmpi", "pred": "sge", "operands": [2, 3]}], "result": 4})";

// abs(q.pos - kv.pos) <= 5
extern const char* const kSlidingMask = R"({"args": ["q", "kv"], "ops": [
  {"op": "arg", "index": 0}, {"op": "arg", "index": 1},
  {"op": "coord", "operands": [0], "coord": "pos"}, {"op": "coord", "operands": [1], "coord": "pos"},
  {"op": "subi", "operands": [2, 3]}, {"op": "absi", "operands": [4]},
  {"op": "const", "type": "i64", "value": 5}, {"op": "cmpi", "pred": "sle", "operands": [5, 6]}],
  "result": 7})";

// t.frame
extern const char* const kFrameKey = R"({"args": ["t"], "ops": [
  {"op": "arg", "index": 0}, {"op": "coord", "operands": [0], "coord": "frame"}], "result": 1})";

// STGA (kernels_src/patterns/stga.moga) with wr = wc = 2, tsize = 2, ext = 1:
//   region(t) = (t.row * 2 / H) * 2 + t.col * 2 / W;  tgroup(t) = (t.frame - t.shot_start) / 2
//   region(q) == region(kv) && (q.shot == kv.shot && tgroup(q) == tgroup(kv)
//     || kv.frame >= q.shot_start - 1 && kv.frame < q.shot_start
//     || kv.frame >= q.shot_end && kv.frame < q.shot_end + 1)
extern const char* const kStgaMask = R"({"args": ["q", "kv"], "ops": [
  {"op": "arg", "index": 0},
  {"op": "arg", "index": 1},
  {"op": "const", "type": "i64", "value": 2},
  {"op": "const", "type": "i64", "value": 2},
  {"op": "const", "type": "i64", "value": 2},
  {"op": "const", "type": "i64", "value": 1},
  {"op": "dim", "dim": "H"},
  {"op": "dim", "dim": "W"},
  {"op": "coord", "operands": [0], "coord": "row"},
  {"op": "muli", "operands": [8, 2]},
  {"op": "floordivsi", "operands": [9, 6]},
  {"op": "muli", "operands": [10, 3]},
  {"op": "coord", "operands": [0], "coord": "col"},
  {"op": "muli", "operands": [12, 3]},
  {"op": "floordivsi", "operands": [13, 7]},
  {"op": "addi", "operands": [11, 14]},
  {"op": "coord", "operands": [1], "coord": "row"},
  {"op": "muli", "operands": [16, 2]},
  {"op": "floordivsi", "operands": [17, 6]},
  {"op": "muli", "operands": [18, 3]},
  {"op": "coord", "operands": [1], "coord": "col"},
  {"op": "muli", "operands": [20, 3]},
  {"op": "floordivsi", "operands": [21, 7]},
  {"op": "addi", "operands": [19, 22]},
  {"op": "cmpi", "pred": "eq", "operands": [15, 23]},
  {"op": "coord", "operands": [0], "coord": "shot"},
  {"op": "coord", "operands": [1], "coord": "shot"},
  {"op": "cmpi", "pred": "eq", "operands": [25, 26]},
  {"op": "coord", "operands": [0], "coord": "frame"},
  {"op": "coord", "operands": [0], "coord": "shot_start"},
  {"op": "subi", "operands": [28, 29]},
  {"op": "floordivsi", "operands": [30, 4]},
  {"op": "coord", "operands": [1], "coord": "frame"},
  {"op": "coord", "operands": [1], "coord": "shot_start"},
  {"op": "subi", "operands": [32, 33]},
  {"op": "floordivsi", "operands": [34, 4]},
  {"op": "cmpi", "pred": "eq", "operands": [31, 35]},
  {"op": "andi", "operands": [27, 36]},
  {"op": "subi", "operands": [29, 5]},
  {"op": "cmpi", "pred": "sge", "operands": [32, 38]},
  {"op": "cmpi", "pred": "slt", "operands": [32, 29]},
  {"op": "andi", "operands": [39, 40]},
  {"op": "coord", "operands": [0], "coord": "shot_end"},
  {"op": "cmpi", "pred": "sge", "operands": [32, 42]},
  {"op": "addi", "operands": [42, 5]},
  {"op": "cmpi", "pred": "slt", "operands": [32, 44]},
  {"op": "andi", "operands": [43, 45]},
  {"op": "ori", "operands": [37, 41]},
  {"op": "ori", "operands": [47, 46]},
  {"op": "andi", "operands": [24, 48]}], "result": 49})";

// NATTEN 2-D (natten2d.moga) with kr = kc = 1, via minsi / maxsi / absi:
//   q.frame == kv.frame && abs(kv.row - max(1, min(q.row, H-2))) <= 1 && abs(kv.col - max(1, min(q.col, W-2))) <= 1
extern const char* const kNattenMask = R"({"args": ["q", "kv"], "ops": [
  {"op": "arg", "index": 0},
  {"op": "arg", "index": 1},
  {"op": "const", "type": "i64", "value": 1},
  {"op": "coord", "operands": [0], "coord": "frame"},
  {"op": "coord", "operands": [1], "coord": "frame"},
  {"op": "cmpi", "pred": "eq", "operands": [3, 4]},
  {"op": "dim", "dim": "H"},
  {"op": "const", "type": "i64", "value": 2},
  {"op": "subi", "operands": [6, 7]},
  {"op": "coord", "operands": [0], "coord": "row"},
  {"op": "minsi", "operands": [9, 8]},
  {"op": "maxsi", "operands": [2, 10]},
  {"op": "coord", "operands": [1], "coord": "row"},
  {"op": "subi", "operands": [12, 11]},
  {"op": "absi", "operands": [13]},
  {"op": "cmpi", "pred": "sle", "operands": [14, 2]},
  {"op": "dim", "dim": "W"},
  {"op": "subi", "operands": [16, 7]},
  {"op": "coord", "operands": [0], "coord": "col"},
  {"op": "minsi", "operands": [18, 17]},
  {"op": "maxsi", "operands": [2, 19]},
  {"op": "coord", "operands": [1], "coord": "col"},
  {"op": "subi", "operands": [21, 20]},
  {"op": "absi", "operands": [22]},
  {"op": "cmpi", "pred": "sle", "operands": [23, 2]},
  {"op": "andi", "operands": [5, 15]},
  {"op": "andi", "operands": [25, 24]}], "result": 26})";

// (q.pos - kv.pos) mod 3 != 1 xor q.pos < 4, as select(q.pos >= 4, m, !m): exercises floormod of
// negative numbers, xori, select on i1.
extern const char* const kModMask = R"({"args": ["q", "kv"], "ops": [
  {"op": "arg", "index": 0}, {"op": "arg", "index": 1},
  {"op": "coord", "operands": [0], "coord": "pos"}, {"op": "coord", "operands": [1], "coord": "pos"},
  {"op": "subi", "operands": [2, 3]},
  {"op": "const", "type": "i64", "value": 3},
  {"op": "floormod", "operands": [4, 5]},
  {"op": "const", "type": "i64", "value": 1},
  {"op": "cmpi", "pred": "ne", "operands": [6, 7]},
  {"op": "const", "type": "i1", "value": true},
  {"op": "xori", "operands": [8, 9]},
  {"op": "const", "type": "i64", "value": 4},
  {"op": "cmpi", "pred": "sge", "operands": [2, 11]},
  {"op": "select", "operands": [12, 8, 10]}], "result": 13})";

// bias(q, kv, h) = -0.25 * abs(q.pos - kv.pos) + 0.5 * h
extern const char* const kDistanceBias = R"({"args": ["q", "kv", "h"], "ops": [
  {"op": "arg", "index": 0}, {"op": "arg", "index": 1}, {"op": "arg", "index": 2},
  {"op": "coord", "operands": [0], "coord": "pos"}, {"op": "coord", "operands": [1], "coord": "pos"},
  {"op": "subi", "operands": [3, 4]}, {"op": "absi", "operands": [5]}, {"op": "sitofp", "operands": [6]},
  {"op": "const", "type": "f32", "value": -0.25}, {"op": "mulf", "operands": [7, 8]},
  {"op": "sitofp", "operands": [2]}, {"op": "const", "type": "f32", "value": 0.5},
  {"op": "mulf", "operands": [10, 11]}, {"op": "addf", "operands": [9, 12]}], "result": 13})";

// gate(q) = 1 / (1 + q.pos)
extern const char* const kPosGate = R"({"args": ["q"], "ops": [
  {"op": "arg", "index": 0}, {"op": "coord", "operands": [0], "coord": "pos"},
  {"op": "sitofp", "operands": [1]}, {"op": "const", "type": "f32", "value": 1.0},
  {"op": "addf", "operands": [3, 2]}, {"op": "divf", "operands": [3, 4]}], "result": 5})";

// ---- independent coordinates and masks ----------------------------------------------------------------


// Coordinates of token t of an F x H x W grid with the given shot starts (empty: one shot).
Tok tok_of(int t, int F, int H, int W, const std::vector<int>& shots) {
  Tok k{};
  k.pos = t;
  k.frame = t / (H * W);
  k.row = (t % (H * W)) / W;
  k.col = t % W;
  k.shot = 0;
  k.shot_start = 0;
  k.shot_end = F;
  for (size_t s = 0; s < shots.size(); ++s)
    if (shots[s] <= k.frame) {
      k.shot = (int)s;
      k.shot_start = shots[s];
      k.shot_end = s + 1 < shots.size() ? shots[s + 1] : F;
    }
  return k;
}

static int floordiv(int a, int b) {  // Python's //, written independently of interval.cuh
  int q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

bool causal_ok(const Tok& q, const Tok& kv) { return q.pos >= kv.pos; }
bool sliding_ok(const Tok& q, const Tok& kv) { return std::abs(q.pos - kv.pos) <= 5; }
bool stga_ok(const Tok& q, const Tok& kv, int H, int W) {
  auto region = [&](const Tok& t) { return floordiv(t.row * 2, H) * 2 + floordiv(t.col * 2, W); };
  auto tgroup = [&](const Tok& t) { return floordiv(t.frame - t.shot_start, 2); };
  if (region(q) != region(kv)) return false;
  if (q.shot == kv.shot && tgroup(q) == tgroup(kv)) return true;
  if (kv.frame >= q.shot_start - 1 && kv.frame < q.shot_start) return true;
  return kv.frame >= q.shot_end && kv.frame < q.shot_end + 1;
}
bool natten_ok(const Tok& q, const Tok& kv, int H, int W) {
  const int cr = std::max(1, std::min(q.row, H - 2)), cc = std::max(1, std::min(q.col, W - 2));
  return q.frame == kv.frame && std::abs(kv.row - cr) <= 1 && std::abs(kv.col - cc) <= 1;
}
bool mod_ok(const Tok& q, const Tok& kv) {
  const int d = q.pos - kv.pos;
  const int m = ((d % 3) + 3) % 3;
  const bool ne = m != 1;
  return q.pos >= 4 ? ne : !ne;
}
double distance_bias(const Tok& q, const Tok& kv, int h) { return -0.25 * std::abs(q.pos - kv.pos) + 0.5 * h; }
double pos_gate(const Tok& q) { return 1.0 / (1.0 + q.pos); }

// ---- seed -------------------------------------------------------------------------------------------

// MOGA_TEST_SEED=<n> replays a run; otherwise a fresh seed. Printed so a failure can be replayed.
uint64_t test_seed(const char* test) {
  static const uint64_t base = [] {
    if (const char* e = std::getenv("MOGA_TEST_SEED")) return (uint64_t)std::strtoull(e, nullptr, 10);
    std::random_device rd;
    return ((uint64_t)rd() << 32) ^ rd();
  }();
  std::printf("[   seed   ] %s: MOGA_TEST_SEED=%llu\n", test, (unsigned long long)base);
  std::fflush(stdout);
  return base;
}

}  // namespace reftest
