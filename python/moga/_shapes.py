"""Problem shapes: ``moga.seq(N)`` and ``moga.video(F, H, W, shots=[0, 8])``."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, Tuple


@dataclass(frozen=True)
class Shape:
    """The token layout a pattern runs over (docs/dsl.md, "Token coordinates").

    ``layout`` is ``"seq"`` (N tokens) or ``"video"`` (an F x H x W latent grid in frame-major raster
    order, N = F*H*W, with ``shots``: the first frame of each shot, starting at 0; empty = one shot).
    """

    layout: str
    N: int
    F: int = 1
    H: int = 1
    W: int = 1
    shots: Tuple[int, ...] = ()

    def native(self):
        """The tuple the extension reads: (video, N, F, H, W, shots)."""
        return (self.layout == "video", self.N, self.F, self.H, self.W, list(self.shots))

    def as_list(self):
        """The int list the torch op carries (its schema has no struct type)."""
        return [1 if self.layout == "video" else 0, self.N, self.F, self.H, self.W, *self.shots]

    @staticmethod
    def from_list(v: Sequence[int]) -> "Shape":
        if v[0]:
            return Shape("video", v[1], v[2], v[3], v[4], tuple(v[5:]))
        return Shape("seq", v[1])

    def __str__(self):
        if self.layout == "seq":
            return f"seq({self.N})"
        s = f"video({self.F}x{self.H}x{self.W}"
        return s + (f", shots={list(self.shots)})" if self.shots else ")")


def _positive(name, v):
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ValueError(f"shape: {name} must be a positive int, got {v!r}")
    return int(v)


def seq(N: int) -> Shape:
    """A sequence of N tokens (``layout seq``)."""
    return Shape("seq", _positive("N", N))


def video(F: int, H: int, W: int, shots: Sequence[int] = ()) -> Shape:
    """An F x H x W latent grid (``layout video``); ``shots``: the first frame of each shot.

    A leading 0 is added when missing (``shots=[8]`` and ``shots=[0, 8]`` are the same two shots).
    """
    F, H, W = _positive("F", F), _positive("H", H), _positive("W", W)
    sh = [int(s) for s in shots]
    if sh and sh[0] != 0:
        sh = [0] + sh
    for a, b in zip(sh, sh[1:]):
        if b <= a:
            raise ValueError(f"shape: shots must be strictly increasing, got {list(shots)}")
    if sh and sh[-1] >= F:
        raise ValueError(f"shape: shot start {sh[-1]} is not a frame of F = {F}")
    if sh == [0]:
        sh = []
    return Shape("video", F * H * W, F, H, W, tuple(sh))
