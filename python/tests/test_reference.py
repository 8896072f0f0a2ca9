"""The CPU reference through the Python API against a numpy float64 brute force written here from the
semantics in docs/architecture.md / docs/dsl.md (independent of runtime/reference).

Bound: relative L2 <= 1e-9 (both sides compute in float64 from the same float32 inputs; the
differences are summation order only). Odd lengths; rows with no visible key give 0, never NaN."""
import math

import numpy as np
import pytest

import moga
from conftest import rel_l2

BOUND = 1e-9


def rnd(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def coords_seq(N):
    return {"pos": np.arange(N)}


def coords_video(F, H, W, shots=()):
    pos = np.arange(F * H * W)
    frame = pos // (H * W)
    row = (pos % (H * W)) // W
    col = pos % W
    starts = list(shots) or [0]
    ends = starts[1:] + [F]
    shot_of_frame = np.zeros(F, dtype=np.int64)
    for s, (a, b) in enumerate(zip(starts, ends)):
        shot_of_frame[a:b] = s
    shot = shot_of_frame[frame]
    return {"pos": pos, "frame": frame, "row": row, "col": col, "shot": shot,
            "shot_start": np.array(starts)[shot], "shot_end": np.array(ends)[shot]}


def fdiv(a, b):
    return np.floor_divide(a, b)


def attend(q, k, v, visible, scale=None, bias=None, softcap=None):
    """[B, N, H, D] float64 softmax attention over `visible` [N, N] (or [B, N, N]); empty rows -> 0."""
    q, k, v = (t.astype(np.float64) for t in (q, k, v))
    D = q.shape[-1]
    s = np.einsum("bnhd,bmhd->bhnm", q, k) * (scale if scale is not None else 1.0 / math.sqrt(D))
    if softcap is not None:
        s = softcap * np.tanh(s / softcap)
    if bias is not None:
        s = s + bias  # [H, N, N]
    vis = visible if visible.ndim == 3 else visible[None]
    vis = vis[:, None, :, :]
    s = np.where(vis, s, -np.inf)
    m = s.max(axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    p = np.where(vis, np.exp(s - m), 0.0)
    den = p.sum(axis=-1, keepdims=True)
    p = np.divide(p, den, out=np.zeros_like(p), where=den > 0)
    return np.einsum("bhnm,bmhd->bnhd", p, v)


def pair(c, f):
    return f({k: v[:, None] for k, v in c.items()}, {k: v[None, :] for k, v in c.items()})


def route(x, w):
    logits = np.einsum("bnd,dm->bnm", x.astype(np.float64), w.astype(np.float64))
    logits -= logits.max(axis=-1, keepdims=True)
    p = np.exp(logits)
    p /= p.sum(axis=-1, keepdims=True)
    gid = p.argmax(axis=-1)
    return gid, p.max(axis=-1)


def check(pat, ref_np, q, k, v, **kw):
    got = pat.reference(q, k, v, **kw)
    assert got.dtype == np.float64 and got.shape == q.shape
    assert np.isfinite(got).all()
    err = rel_l2(got, ref_np)
    assert err <= BOUND, f"{pat.name}: rel L2 {err:.3g} > {BOUND}"
    return got


@pytest.mark.parametrize("N", [37, 101])
def test_causal_and_window_odd_lengths(N):
    rng = np.random.default_rng(N)
    B, H, D = 2, 3, 16
    q, k, v = rnd(rng, B, N, H, D), rnd(rng, B, N, H, D), rnd(rng, B, N, H, D)
    c = coords_seq(N)
    check(moga.pattern("causal"), attend(q, k, v, pair(c, lambda a, b: a["pos"] >= b["pos"])), q, k, v)
    w = moga.pattern("sliding_window", params={"window": 5})
    check(w, attend(q, k, v, pair(c, lambda a, b: np.abs(a["pos"] - b["pos"]) <= 5)), q, k, v, shape=moga.seq(N))
    check(moga.pattern("full"), attend(q, k, v, np.ones((N, N), bool)), q, k, v)


def test_all_masked_rows_are_zero():
    rng = np.random.default_rng(1)
    B, N, H, D = 1, 33, 2, 8
    q, k, v = rnd(rng, B, N, H, D), rnd(rng, B, N, H, D), rnd(rng, B, N, H, D)
    p = moga.compile("pattern strict\nlayout seq\nmask kv.pos < q.pos && q.pos % 4 != 3\n")
    c = coords_seq(N)
    vis = pair(c, lambda a, b: (b["pos"] < a["pos"]) & (a["pos"] % 4 != 3))
    got = check(p, attend(q, k, v, vis), q, k, v)
    assert np.all(got[:, 0] == 0.0)          # no key before token 0
    assert np.all(got[:, 3::4] == 0.0)       # masked rows
    assert np.abs(got[:, 1]).sum() > 0


def test_mixture_gate_weights():
    rng = np.random.default_rng(2)
    B, N, H, D = 1, 57, 2, 16
    q, k, v = rnd(rng, B, N, H, D), rnd(rng, B, N, H, D), rnd(rng, B, N, H, D)
    src = """pattern local_plus_global
layout seq
param window = 7
param sinks = 4
branch local {
  mask abs(q.pos - kv.pos) <= window
}
branch sink {
  mask kv.pos < sinks; gate 0.5
}
output sum(0.75 * local, 0.25 * sink)
"""
    p = moga.compile(src)
    c = coords_seq(N)
    want = 0.75 * attend(q, k, v, pair(c, lambda a, b: np.abs(a["pos"] - b["pos"]) <= 7)) \
        + 0.25 * 0.5 * attend(q, k, v, pair(c, lambda a, b: (b["pos"] < 4) & (a["pos"] >= 0)))
    check(p, want, q, k, v)


def test_bias_softcap_scale():
    rng = np.random.default_rng(3)
    B, N, H, D = 1, 41, 3, 16
    q, k, v = rnd(rng, B, N, H, D) * 3, rnd(rng, B, N, H, D) * 3, rnd(rng, B, N, H, D)
    src = """pattern softcapped_alibi
layout seq
param slope = 0.0625
mask q.pos >= kv.pos
bias -slope * (h + 1) * (q.pos - kv.pos)
softcap 30.0
scale 0.125
"""
    c = coords_seq(N)
    dpos = c["pos"][:, None] - c["pos"][None, :]
    bias = np.stack([-0.0625 * (h + 1) * dpos for h in range(H)])[None]
    want = attend(q, k, v, dpos >= 0, scale=0.125, softcap=30.0, bias=bias)
    check(moga.compile(src), want, q, k, v)


def video_inputs(seed, F, Hg, Wd, H=2, D=16, B=1):
    rng = np.random.default_rng(seed)
    N = F * Hg * Wd
    return [rnd(rng, B, N, H, D) for _ in range(3)]


def stga_vis(c, Hg, Wd, wr=2, wc=2, tsize=4, ext=2):
    def region(t):
        return fdiv(t["row"] * wr, Hg) * wc + fdiv(t["col"] * wc, Wd)

    def tgroup(t):
        return fdiv(t["frame"] - t["shot_start"], tsize)

    return pair(c, lambda a, b: (region(a) == region(b)) & (
        ((a["shot"] == b["shot"]) & (tgroup(a) == tgroup(b)))
        | ((b["frame"] >= a["shot_start"] - ext) & (b["frame"] < a["shot_start"]))
        | ((b["frame"] >= a["shot_end"]) & (b["frame"] < a["shot_end"] + ext))))


@pytest.mark.parametrize("grid,shots", [((5, 3, 7), ()), ((9, 5, 3), (0, 4, 7))])
def test_video_patterns(grid, shots):
    F, Hg, Wd = grid
    q, k, v = video_inputs(sum(grid), F, Hg, Wd)
    shape = moga.video(F, Hg, Wd, shots=shots)
    c = coords_video(F, Hg, Wd, shots)
    check(moga.pattern("frame_local"), attend(q, k, v, pair(c, lambda a, b: a["frame"] == b["frame"])), q, k, v,
          shape=shape)
    check(moga.pattern("stga"), attend(q, k, v, stga_vis(c, Hg, Wd)), q, k, v, shape=shape)
    kr = kc = 1
    nat = moga.pattern("natten2d", params={"kr": kr, "kc": kc})

    def natmask(a, b):
        cr = np.maximum(kr, np.minimum(a["row"], Hg - 1 - kr))
        cc = np.maximum(kc, np.minimum(a["col"], Wd - 1 - kc))
        return (a["frame"] == b["frame"]) & (np.abs(b["row"] - cr) <= kr) & (np.abs(b["col"] - cc) <= kc)

    check(nat, attend(q, k, v, pair(c, natmask)), q, k, v, shape=shape)


def test_routed_and_moga_mixture():
    F, Hg, Wd = 6, 4, 5
    B, H, D, dm, M = 2, 2, 16, 24, 5
    rng = np.random.default_rng(7)
    N = F * Hg * Wd
    q, k, v = (rnd(rng, B, N, H, D) for _ in range(3))
    x = rnd(rng, B, N, dm)
    w = rnd(rng, dm, M)
    gid, prob = route(x, w)
    vis = gid[:, :, None] == gid[:, None, :]  # [B, N, N]
    dyn = attend(q, k, v, vis) * prob[:, :, None, None]
    shape = moga.video(F, Hg, Wd, shots=[0, 3])
    check(moga.pattern("moga_dynamic"), dyn, q, k, v, shape=shape, router_x=x, router_w=[w])
    c = coords_video(F, Hg, Wd, (0, 3))
    want = (dyn + attend(q, k, v, stga_vis(c, Hg, Wd)) + attend(q, k, v, pair(c, lambda a, b: a["frame"] == b["frame"]))) / 3
    got = check(moga.pattern("moga"), want, q, k, v, shape=shape, router_x=x, router_w=w)
    # a given routing replaces the router (what the GPU tests feed back)
    got2 = moga.pattern("moga").reference(q, k, v, shape=shape, routing=[(gid.astype(np.int32), prob.astype(np.float32))])
    assert rel_l2(got2, want) <= 1e-6  # prob rounded to float32
    # per-kernel terms sum to the output
    out, terms = moga.pattern("moga").reference(q, k, v, shape=shape, router_x=x, router_w=[w], per_kernel=True)
    assert len(terms) == 3 and rel_l2(sum(terms), out) <= 1e-12


def test_reference_layout_and_errors():
    rng = np.random.default_rng(5)
    B, N, H, D = 1, 19, 2, 8
    q, k, v = (rnd(rng, B, N, H, D) for _ in range(3))
    p = moga.pattern("causal")
    a = p.reference(q, k, v)
    b = p.reference(*(t.transpose(0, 2, 1, 3) for t in (q, k, v)), layout="bhnd")
    assert b.shape == (B, H, N, D) and rel_l2(b.transpose(0, 2, 1, 3), a) == 0.0
    with pytest.raises(ValueError, match="router"):
        moga.pattern("moga_dynamic").reference(q, k, v, shape=moga.video(1, 1, N))
    with pytest.raises(ValueError, match="shape"):
        p.reference(q, k, v, shape=moga.seq(N + 2))
    with pytest.raises(ValueError, match="^k:"):
        p.reference(q, k[:, :5], v)
