"""The differentiable pattern call (moga._autograd): gradients of q, k, v, router_x and router_w.

GPU tests (marked `gpu`; tools/gpu-check's `python` row): the GPU backward against two float64 oracles on
the same bf16 inputs — the CPU reference's backward (runtime/reference/backward.h, every pattern) and an
autograd float64 torch implementation written here from the semantics (dense, causal, keyed, routed with
the router's gradient) — rel L2 <= 2e-2; odd lengths; rows that see no key get a zero gradient, never NaN;
the deterministic mode bit-identical; torch.compile of a training step; the errors for what the backward
does not run. CPU tests (marked `autograd_cpu`, torch needed, no GPU): the op on CPU tensors (the oracle as
backward) against the torch float64 implementation, and torch.autograd.gradcheck of the router path.
Without torch or a GPU they skip, with the reason.
"""
import math

import pytest

from conftest import HAS_TORCH, rel_l2

if HAS_TORCH:
    import torch

import moga

TOL = 2e-2
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="torch is not installed")


@pytest.fixture(autouse=True)
def _poison(monkeypatch):
    """Every buffer the ops give the kernels (out, lse, routing, dq, dk, dv, dgate) starts as NaN."""
    if HAS_TORCH:
        import moga._autograd as ag

        monkeypatch.setattr(ag, "POISON", True)


# ---- float64 torch references, written from the semantics (docs/architecture.md) ------------------------

def _coords(shape):
    n = torch.arange(shape.N)
    if shape.layout == "seq":
        return {"pos": n}
    hw = shape.H * shape.W
    return {"pos": n, "frame": n // hw, "row": (n % hw) // shape.W, "col": n % shape.W}


def visible(name, shape):
    """[N, N] bool (query, key) of a shipped single-kernel pattern, or None (dense)."""
    c = _coords(shape)
    qi, ki = (lambda a: a[:, None]), (lambda a: a[None, :])
    if name == "full":
        return None
    if name == "causal":
        return qi(c["pos"]) >= ki(c["pos"])
    if name == "strict_causal":
        return qi(c["pos"]) > ki(c["pos"])
    if name == "sliding_window":
        return (qi(c["pos"]) - ki(c["pos"])).abs() <= 256
    if name == "frame_local":
        return qi(c["frame"]) == ki(c["frame"])
    raise KeyError(name)


def attend64(q, k, v, vis, scale=None):
    """softmax(q k^T * scale) v in float64 over the visible keys; a row that sees none is 0 (and so is its
    gradient). q, k, v [B, N, H, D]; vis [N, N] / [B, N, N] bool or None."""
    D = q.shape[-1]
    s = torch.einsum("bnhd,bmhd->bhnm", q, k) * (scale or 1.0 / math.sqrt(D))
    if vis is None:
        p = torch.softmax(s, dim=-1)
    else:
        m = vis if vis.dim() == 3 else vis[None]
        m = m[:, None]  # [B, 1, N, N]
        s = s.masked_fill(~m, -1e300)
        e = torch.exp(s - s.amax(-1, keepdim=True)) * m
        p = e / e.sum(-1, keepdim=True).clamp_min(1e-300)
    return torch.einsum("bhnm,bmhd->bnhd", p, v)


def routed64(q, k, v, x, w, gid):
    """moga_dynamic in float64: p = softmax(x W), tokens attend within their group gid (fixed: the GPU's, so
    near-ties cannot differ), out = p_gid * attn. Differentiable in q, k, v, x and W."""
    p = torch.softmax(x @ w, dim=-1)
    g = gid.long()
    vis = g[:, :, None] == g[:, None, :]
    gate = p.gather(-1, g[..., None])  # [B, N, 1]
    return attend64(q, k, v, vis) * gate[..., None]


# ---- inputs ------------------------------------------------------------------------------------------

def rnd(*shape, scale=1.0, seed=0, device="cuda"):
    g = torch.Generator(device=device).manual_seed(seed)
    return (torch.rand(*shape, device=device, generator=g) * 2 - 1).mul_(scale).to(torch.bfloat16)


def leaves(*ts):
    return [t.detach().clone().requires_grad_(True) for t in ts]


def f64(t):
    return t.detach().double().cpu().requires_grad_(True)


def err(a, b):
    return rel_l2(a.detach().double().cpu().numpy(), b.detach().double().cpu().numpy())


SEQ = moga.seq(301)                      # odd: no multiple of the 64-row tiles
VIDEO = moga.video(3, 9, 13, shots=[0, 2])  # 351 tokens


def _grads_gpu(pat, shape, q, k, v, dout, **kw):
    q, k, v = leaves(q, k, v)
    out = pat(q, k, v, shape=shape, **kw)
    torch.cuda.synchronize()
    assert torch.isfinite(out).all(), "NaN in the forward"
    out.backward(dout)
    torch.cuda.synchronize()
    return out, q.grad, k.grad, v.grad


# ---- GPU: vs the CPU oracle and the torch float64 implementation ---------------------------------------

@pytest.mark.gpu
@pytest.mark.parametrize("name,D", [("full", 128), ("causal", 64), ("sliding_window", 128), ("frame_local", 128),
                                    ("stga", 64), ("natten2d", 128)])
def test_grads_vs_references(name, D):
    pat = moga.pattern(name)
    shape = SEQ if pat.layout == "seq" else VIDEO
    B, H = 2, 2
    q, k, v, dout = (rnd(B, shape.N, H, D, seed=i) for i in range(4))
    out, dq, dk, dv = _grads_gpu(pat, shape, q, k, v, dout)
    for t, n in ((dq, "dq"), (dk, "dk"), (dv, "dv")):
        assert torch.isfinite(t).all(), f"{name}: NaN/Inf in {n}"
    orc = pat.reference_backward(*(t.float().cpu() for t in (q, k, v, dout)), shape=shape)
    for n, g in (("dq", dq), ("dk", dk), ("dv", dv)):
        e = rel_l2(g.float().cpu().numpy(), orc[n])
        assert e <= TOL, f"{name} D={D} {n} vs the CPU oracle: rel L2 {e:.3g}"
    try:
        vis = visible(name, shape)
    except KeyError:
        return  # masks written only in the DSL: the oracle above is the check
    q6, k6, v6 = f64(q), f64(k), f64(v)
    attend64(q6, k6, v6, vis).backward(dout.double().cpu())
    for n, g, r in (("dq", dq, q6.grad), ("dk", dk, k6.grad), ("dv", dv, v6.grad)):
        e = err(g, r)
        assert e <= TOL, f"{name} D={D} {n} vs the torch float64 implementation: rel L2 {e:.3g}"


def _routed_inputs(pat, shape, B=2, H=2, D=128, dm=128, seed=0):
    q, k, v, dout = (rnd(B, shape.N, H, D, seed=seed + i) for i in range(4))
    x = rnd(B, shape.N, dm, seed=seed + 7)
    # logits |x W| ~ 1: the softmax is far from one-hot, so the router Jacobian is not ~0
    w = rnd(dm, pat.router_groups[0], scale=math.sqrt(3.0 / dm), seed=seed + 8)
    return q, k, v, dout, x, w


@pytest.mark.gpu
@pytest.mark.parametrize("deterministic", [False, True])
def test_routed_grads_with_router(deterministic):
    pat = moga.pattern("moga_dynamic")
    shape = VIDEO
    q, k, v, dout, x, w = _routed_inputs(pat, shape)
    ql, kl, vl, xl, wl = leaves(q, k, v, x, w)
    out = pat(ql, kl, vl, shape=shape, router_x=xl, router_w=[wl], deterministic=deterministic)
    gid, prob = pat.last_routing()  # the forward's routing (the op's own buffers, alive until backward)
    out.backward(dout)
    torch.cuda.synchronize()
    grads = {"dq": ql.grad, "dk": kl.grad, "dv": vl.grad, "dx": xl.grad, "dW": wl.grad}
    for n, g in grads.items():
        assert g is not None and torch.isfinite(g).all(), f"{n}: missing or not finite"
    # 1. the torch float64 implementation on the same routing
    q6, k6, v6, x6, w6 = (f64(t) for t in (q, k, v, x, w))
    routed64(q6, k6, v6, x6, w6, torch.from_numpy(gid)).backward(dout.double().cpu())
    for n, r in (("dq", q6.grad), ("dk", k6.grad), ("dv", v6.grad), ("dx", x6.grad), ("dW", w6.grad)):
        e = err(grads[n], r)
        assert e <= TOL, f"moga_dynamic {n} vs the torch float64 implementation: rel L2 {e:.3g}"
    # 2. the CPU oracle, fed the GPU's routing (its router Jacobian from x, W)
    _oracle_check(pat, shape, q, k, v, dout, x, w, grads, gid, prob, "moga_dynamic")


TOP2 = """pattern top2
layout video
param M = 4
route linear(M) top 2
group route
gate route.prob
"""


def _oracle_check(pat, shape, q, k, v, dout, x, w, grads, gid, prob, what):
    orc = pat.reference_backward(*(t.float().cpu() for t in (q, k, v, dout)), shape=shape, router_x=x.float().cpu(),
                                 router_w=[w.float().cpu()], routing=[(gid, prob)])
    for n, r in (("dq", orc["dq"]), ("dk", orc["dk"]), ("dv", orc["dv"]), ("dx", orc["dx"]),
                 ("dW", orc["drouter_w"][0])):
        e = rel_l2(grads[n].float().cpu().numpy(), r)
        assert e <= TOL, f"{what} {n} vs the CPU oracle: rel L2 {e:.3g}"


@pytest.mark.gpu
@pytest.mark.parametrize("name", ["moga", "top2"])
def test_mixture_and_topk_grads_vs_oracle(name):
    # the shipped mixture (routed + stga + frame_local, mean) and top-2 routing, router gradients included
    pat = moga.pattern("moga") if name == "moga" else moga.compile(TOP2, head_dim=128)
    shape = VIDEO
    q, k, v, dout, x, w = _routed_inputs(pat, shape, seed=11)
    ql, kl, vl, xl, wl = leaves(q, k, v, x, w)
    out = pat(ql, kl, vl, shape=shape, router_x=xl, router_w=[wl])
    gid, prob = pat.last_routing()
    out.backward(dout)
    torch.cuda.synchronize()
    grads = {"dq": ql.grad, "dk": kl.grad, "dv": vl.grad, "dx": xl.grad, "dW": wl.grad}
    for n, g in grads.items():
        assert g is not None and torch.isfinite(g).all(), f"{name} {n}: missing or not finite"
    _oracle_check(pat, shape, q, k, v, dout, x, w, grads, gid, prob, name)


@pytest.mark.gpu
def test_deterministic_bit_identical():
    # the backward of one forward, run twice (retain_graph): bit-identical with deterministic=True (the forward
    # of a routed pattern may order a group's keys differently from run to run: its sort scatters by atomics)
    for name, shape, routed in (("causal", SEQ, False), ("moga_dynamic", VIDEO, True), ("moga", VIDEO, True)):
        pat = moga.pattern(name)
        q, k, v, dout, x, w = _routed_inputs(pat, shape) if routed else (*(rnd(2, shape.N, 2, 128, seed=i)
                                                                           for i in range(4)), None, None)
        ts = leaves(q, k, v) + (leaves(x, w) if routed else [])
        kw = {"router_x": ts[3], "router_w": [ts[4]]} if routed else {}
        out = pat(*ts[:3], shape=shape, deterministic=True, **kw)
        runs = [torch.autograd.grad(out, ts, dout, retain_graph=True) for _ in range(2)]
        for a, b, n in zip(*runs, ("q", "k", "v", "x", "W")):
            assert torch.isfinite(a).all() and torch.equal(a, b), f"{name}: d{n} differs between two backward runs"


@pytest.mark.gpu
def test_rows_without_keys_get_zero_gradient():
    # q.pos > kv.pos: row 0 sees no key; its output and its dq are exactly 0, nothing is NaN
    pat = moga.compile("pattern strict_causal\nlayout seq\nmask q.pos > kv.pos\n", head_dim=128)
    shape = moga.seq(129)
    q, k, v, dout = (rnd(1, shape.N, 2, 128, seed=i) for i in range(4))
    out, dq, dk, dv = _grads_gpu(pat, shape, q, k, v, dout)
    for t, n in ((dq, "dq"), (dk, "dk"), (dv, "dv")):
        assert torch.isfinite(t).all(), f"{n}: NaN/Inf"
    assert torch.count_nonzero(out[:, 0]) == 0 and torch.count_nonzero(dq[:, 0]) == 0
    # the last key is seen by no query: no gradient reaches it
    assert torch.count_nonzero(dk[:, -1]) == 0 and torch.count_nonzero(dv[:, -1]) == 0
    q6, k6, v6 = f64(q), f64(k), f64(v)
    attend64(q6, k6, v6, visible("strict_causal", shape)).backward(dout.double().cpu())
    for n, g, r in (("dq", dq, q6.grad), ("dk", dk, k6.grad), ("dv", dv, v6.grad)):
        assert err(g, r) <= TOL, f"strict_causal {n}: rel L2 {err(g, r):.3g}"


@pytest.mark.gpu
def test_gradient_layouts_and_errors():
    pat = moga.pattern("causal")
    B, H, N, D = 1, 2, 200, 128
    qh, kh, vh = leaves(*(rnd(B, H, N, D, seed=i) for i in range(3)))
    o = pat(qh, kh, vh, layout="bhnd")  # [B, H, N, D] views; the gradients come back in that layout
    o.float().square().sum().backward()
    assert qh.grad.shape == (B, H, N, D) and torch.isfinite(qh.grad).all()
    q = rnd(1, 64, 2, 128).requires_grad_(True)
    with pytest.raises(ValueError, match="^out: an input requires grad"):
        pat(q, q, q, out=torch.empty_like(q))
    full = moga.pattern("full")
    kv = rnd(1, 16, 2, 128)
    with pytest.raises(ValueError, match=r"^k: 16 keys for 64 queries: cross-attention"):
        full(q, kv, kv)
    with torch.no_grad():  # no gradient wanted: the inference path, any pattern
        assert full(q, kv, kv).shape == q.shape


@pytest.mark.gpu
def test_gate_program_runs_or_is_refused_by_name():
    # a gate program (no gradient of its own): where the backward runs it, the gradients match the oracle;
    # where it does not, the differentiable call refuses it before the forward, naming the feature
    pat = moga.compile("pattern gated\nlayout seq\ngate 0.5 + 0.5 * (q.pos % 2)\nmask q.pos >= kv.pos\n",
                       head_dim=128)
    shape = moga.seq(193)
    q, k, v, dout = (rnd(1, shape.N, 2, 128, seed=20 + i) for i in range(4))
    try:
        pat._native.check_backward(False)
    except moga.NotSupportedError as e:
        assert "gate" in str(e), str(e)
        with pytest.raises(moga.NotSupportedError, match="gate"):
            pat(*leaves(q, k, v), shape=shape)
        return
    out, dq, dk, dv = _grads_gpu(pat, shape, q, k, v, dout)
    orc = pat.reference_backward(*(t.float().cpu() for t in (q, k, v, dout)), shape=shape)
    for n, g in (("dq", dq), ("dk", dk), ("dv", dv)):
        e = rel_l2(g.float().cpu().numpy(), orc[n])
        assert e <= TOL, f"gated {n} vs the CPU oracle: rel L2 {e:.3g}"


@pytest.mark.gpu
def test_torch_compile_training_step():
    pat = moga.pattern("moga_dynamic")
    shape = VIDEO
    q, k, v, dout, x, w = _routed_inputs(pat, shape)

    def step(q, k, v, x, w):
        return (pat(q, k, v, shape=shape, router_x=x, router_w=[w]).float() * dout.float()).sum()

    eager = leaves(q, k, v, x, w)
    step(*eager).backward()
    comp = leaves(q, k, v, x, w)
    torch._dynamo.reset()
    torch.compile(step, fullgraph=True)(*comp).backward()
    for a, b, n in zip(eager, comp, ("q", "k", "v", "x", "W")):
        assert err(b.grad, a.grad) <= 1e-2, f"{n}.grad under torch.compile: rel L2 {err(b.grad, a.grad):.3g}"


# ---- CPU (torch, no GPU): the op on CPU tensors, the oracle as its backward ---------------------------------

@needs_torch
@pytest.mark.autograd_cpu
def test_cpu_op_grads_vs_torch_float64():
    for name, shape in (("causal", moga.seq(37)), ("frame_local", moga.video(3, 3, 5))):
        pat = moga.pattern(name)
        q, k, v, dout = (torch.randn(1, shape.N, 2, 64, dtype=torch.float64, generator=torch.Generator().manual_seed(i))
                         for i in range(4))
        ql, kl, vl = leaves(q, k, v)
        pat(ql, kl, vl, shape=shape).backward(dout)
        q6, k6, v6 = leaves(q, k, v)
        attend64(q6, k6, v6, visible(name, shape)).backward(dout)
        # both float64 (the oracle reads float32 inputs): far below the bf16 bound
        for n, a, b in (("dq", ql.grad, q6.grad), ("dk", kl.grad, k6.grad), ("dv", vl.grad, v6.grad)):
            assert err(a, b) <= 1e-5, f"{name} {n}: rel L2 {err(a, b):.3g}"


def _tiny_routed_cpu(dtype, seed):
    """moga_dynamic (M = 3, D = 64) on 12 tokens, CPU: the pattern, the shape and q, k, v, x, W_r."""
    pat = moga.pattern("moga_dynamic", params={"M": 3}, head_dim=64)
    shape = moga.video(2, 2, 3)
    gen = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(1, shape.N, 1, 64, dtype=dtype, generator=gen) for _ in range(3))
    x = torch.randn(1, shape.N, 8, dtype=dtype, generator=gen)
    w = torch.randn(8, 3, dtype=dtype, generator=gen) * 2  # logits well apart: few near-ties
    return pat, shape, q, k, v, x, w


@needs_torch
@pytest.mark.autograd_cpu
def test_cpu_router_gradcheck():
    # finite differences of the routed op on the CPU (float64 torch.autograd.gradcheck) for x and W: the
    # routing is piecewise constant, so the inputs are chosen away from ties (logits well apart)
    pat, shape, q, k, v, x, w = _tiny_routed_cpu(torch.float64, seed=3)

    def f(x, w):
        return pat(q, k, v, shape=shape, router_x=x, router_w=[w])

    # the oracle reads float32 inputs: eps and tolerances for that
    assert torch.autograd.gradcheck(f, leaves(x, w), eps=1e-3, atol=2e-3, rtol=2e-2)


@needs_torch
@pytest.mark.autograd_cpu
def test_cpu_opcheck_and_compile():
    # the registered ops' fake implementations and autograd registration (torch.library.opcheck), and a
    # training step under torch.compile(fullgraph=True) matching eager
    pat, shape, q, k, v, x, w = _tiny_routed_cpu(torch.float32, seed=4)
    args = (*leaves(q, k, v), leaves(x)[0], leaves(w), pat._id, shape.as_list(), False)
    torch.library.opcheck(torch.ops.moga.attention_train.default, args,
                          test_utils=("test_schema", "test_autograd_registration", "test_faketensor"))

    def step(q, k, v, x, w):
        return pat(q, k, v, shape=shape, router_x=x, router_w=[w]).square().sum()

    eager = leaves(q, k, v, x, w)
    step(*eager).backward()
    comp = leaves(q, k, v, x, w)
    torch._dynamo.reset()
    torch.compile(step, backend="aot_eager", fullgraph=True)(*comp).backward()
    for a, b, n in zip(eager, comp, ("q", "k", "v", "x", "W")):
        assert err(b.grad, a.grad) <= 1e-6, f"{n}.grad under torch.compile: rel L2 {err(b.grad, a.grad):.3g}"
