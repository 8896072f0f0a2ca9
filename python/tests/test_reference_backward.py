"""Pattern.reference_backward (the float64 gradient oracle, runtime/reference/backward.h) through the Python
API, without torch or a GPU: the gradients of a causal pattern against the analytic float64 gradient
written here in numpy, and the router's outputs of a routed pattern against their definitions (dW = x^T
dlogits, dx = dlogits W^T, the balance loss from F and P)."""
import numpy as np
import pytest

import moga
from conftest import rel_l2


def _causal_grads(q, k, v, do):
    D, N = q.shape[-1], q.shape[1]
    s = np.einsum("bnhd,bmhd->bhnm", q, k) / np.sqrt(D)
    s = np.where(np.tril(np.ones((N, N), bool)), s, -np.inf)
    e = np.exp(s - s.max(-1, keepdims=True))
    p = e / e.sum(-1, keepdims=True)
    dv = np.einsum("bhnm,bnhd->bmhd", p, do)
    dp = np.einsum("bnhd,bmhd->bhnm", do, v)
    ds = p * (dp - (dp * p).sum(-1, keepdims=True)) / np.sqrt(D)
    return np.einsum("bhnm,bmhd->bnhd", ds, k), np.einsum("bhnm,bnhd->bmhd", ds, q), dv


def test_causal_vs_numpy():
    rng = np.random.default_rng(0)
    q, k, v, do = (rng.standard_normal((2, 37, 2, 16)).astype(np.float32) for _ in range(4))  # odd length
    r = moga.pattern("causal").reference_backward(q, k, v, do)
    for n, a in zip(("dq", "dk", "dv"), _causal_grads(*(t.astype(np.float64) for t in (q, k, v, do)))):
        assert r[n].dtype == np.float64 and rel_l2(r[n], a) <= 1e-12, n
    assert r["dx"] is None and r["drouter_w"] == [] and r["balance_loss"] == 0.0


def test_routed_router_outputs():
    rng = np.random.default_rng(1)
    pat = moga.pattern("moga_dynamic")  # M = 5
    sh = moga.video(5, 2, 3)
    q, k, v, do = (rng.standard_normal((1, sh.N, 2, 16)).astype(np.float32) for _ in range(4))
    x = rng.standard_normal((1, sh.N, 8)).astype(np.float32)
    w = rng.standard_normal((8, 5)).astype(np.float32)
    r = pat.reference_backward(q, k, v, do, shape=sh, router_x=x, router_w=[w], balance_loss=True)
    dl = r["dlogits"][0]
    assert dl.shape == (1, sh.N, 5) and r["drouter_w"][0].shape == (8, 5) and r["dx"].shape == x.shape
    assert rel_l2(r["drouter_w"][0], np.einsum("bnd,bnm->dm", x.astype(np.float64), dl)) <= 1e-12
    assert rel_l2(r["dx"], dl @ w.astype(np.float64).T) <= 1e-12
    logits = x[0].astype(np.float64) @ w
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    F = np.bincount(p.argmax(-1), minlength=5) / sh.N
    assert r["balance_loss"] == pytest.approx(0.1 * 5 * (F * p.mean(0)).sum(), rel=1e-9)


def test_errors_name_the_argument():
    pat = moga.pattern("moga_dynamic")
    q = np.zeros((1, 30, 1, 16), np.float32)
    with pytest.raises(ValueError, match="router_x / router_w"):
        pat.reference_backward(q, q, q, q, shape=moga.video(5, 2, 3))
    with pytest.raises(ValueError, match="^dout"):
        moga.pattern("causal").reference_backward(q, q, q, q[:, :29])
