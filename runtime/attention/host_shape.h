// The CPU reference's shape (coordinates, shot tables on the host) of an attention call's shape: what the
// forward and the backward classify their tiles and sort their computed keys with.
#pragma once

#include "runtime/attention/shape.h"
#include "runtime/reference/program.h"

namespace moga::rt {

inline ref::Shape host_shape(const AttentionShape& s) {
  if (!s.video) return ref::Shape::seq(s.N);
  ref::VideoShape vs;
  vs.F = s.F;
  vs.H = s.Hgt;
  vs.W = s.Wid;
  vs.shot_starts = s.shot_starts;
  return ref::Shape::video(vs);
}

}  // namespace moga::rt
