// The problem shape an attention call (and a tuning key) is for. Plain data, no device.
#pragma once

#include <string>
#include <vector>

namespace moga::rt {

struct AttentionShape {
  int B = 1, N = 0, H = 0, D = 0;
  bool video = false;         // layout video: the latent grid below (N = F * Hgt * Wid)
  int F = 1, Hgt = 1, Wid = 1;
  std::vector<int> shot_starts;  // video: first frame of each shot (empty: one shot; else starts at 0)

  static AttentionShape seq(int B, int N, int H, int D);
  static AttentionShape make_video(int B, int F, int Hgt, int Wid, int H, int D, std::vector<int> shots = {});
  std::string describe() const;  // "B=1 N=1105 (video 5x13x17, shots 0,3) H=2 D=128"
};

}  // namespace moga::rt
