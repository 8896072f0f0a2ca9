"""``moga.mean_of(patterns)``: the mean of several patterns' outputs, called like one pattern.

    moga_split = moga.mean_of(["moga_dynamic", "stga", "frame_local"])   # = the shipped `moga`
    out = moga_split(q, k, v, shape=moga.video(F, H, W), router_x=x, router_w=[W_r])

The shipped `moga` pattern is exactly this mean (kernels_src/patterns/moga.moga: `output mean(dynamic,
stga, frame_local)` of the same branches with the same defaults); as one fused pattern it runs its three
kernels in one call accumulating into one output. mean_of runs them as separate calls, which costs a sum and
a scale in torch, and lets each be differentiated on its own: the training path for mixtures where the
backward of the fused mixture is not available (the differentiable call says so by name).
"""
from __future__ import annotations

from typing import List, Sequence, Union

from ._pattern import Pattern
from ._pattern import pattern as _builtin


class BranchMean:
    """Several patterns of one layout, averaged. router_w: the routed kernels' weights of every pattern, in
    order (``router_groups`` lists their M)."""

    def __init__(self, patterns: Sequence[Pattern]):
        if not patterns:
            raise ValueError("patterns: expected at least one pattern")
        layouts = {p.layout for p in patterns}
        if len(layouts) != 1:
            raise ValueError(f"patterns: all must have one layout, got {sorted(layouts)}")
        self.patterns: List[Pattern] = list(patterns)
        self.name = "mean(" + ", ".join(p.name for p in self.patterns) + ")"
        self.layout = self.patterns[0].layout
        self.router_groups: List[int] = [M for p in self.patterns for M in p.router_groups]
        self.router_topk: List[int] = [p.kernels[i]["topk"] for p in self.patterns for i in p.routed_kernels]
        # one entry per routed kernel of all patterns (only the count and truthiness are read by callers)
        self.routed_kernels: List[int] = list(range(len(self.router_groups)))

    def __repr__(self):
        return f"<moga.BranchMean {self.name}>"

    def __call__(self, q, k, v, *, shape=None, router_x=None, router_w=None, layout: str = "bnhd",
                 deterministic: bool = False):
        ws = list(router_w or [])
        if len(ws) != len(self.router_groups):
            raise ValueError(f"router_w: {self.name} has {len(self.router_groups)} routed kernel(s), got {len(ws)}")
        total, used = None, 0
        for p in self.patterns:
            n = len(p.routed_kernels)
            kw = {"router_x": router_x, "router_w": ws[used:used + n]} if n else {}
            used += n
            o = p(q, k, v, shape=shape, layout=layout, deterministic=deterministic, **kw)
            total = o if total is None else total + o
        return total * (1.0 / len(self.patterns))


def mean_of(patterns: Sequence[Union[str, Pattern]]) -> BranchMean:
    """The mean of these patterns (shipped names or moga.Pattern objects)."""
    return BranchMean([p if isinstance(p, Pattern) else _builtin(p) for p in patterns])
