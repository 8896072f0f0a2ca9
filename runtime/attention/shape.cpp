#include "runtime/attention/shape.h"

#include <fmt/format.h>

namespace moga::rt {

AttentionShape AttentionShape::seq(int B, int N, int H, int D) {
  AttentionShape s;
  s.B = B;
  s.N = N;
  s.H = H;
  s.D = D;
  s.Wid = N;
  return s;
}

AttentionShape AttentionShape::make_video(int B, int F, int Hgt, int Wid, int H, int D, std::vector<int> shots) {
  AttentionShape s;
  s.B = B;
  s.H = H;
  s.D = D;
  s.video = true;
  s.F = F;
  s.Hgt = Hgt;
  s.Wid = Wid;
  s.N = F * Hgt * Wid;
  s.shot_starts = std::move(shots);
  return s;
}

std::string AttentionShape::describe() const {
  std::string s = fmt::format("B={} N={}", B, N);
  if (video) {
    s += fmt::format(" (video {}x{}x{}", F, Hgt, Wid);
    if (!shot_starts.empty()) {
      s += ", shots";
      for (size_t i = 0; i < shot_starts.size(); ++i) s += fmt::format("{}{}", i ? "," : " ", shot_starts[i]);
    }
    s += ")";
  }
  return s + fmt::format(" H={} D={}", H, D);
}

}  // namespace moga::rt
