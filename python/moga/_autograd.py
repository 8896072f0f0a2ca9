"""The differentiable pattern call: the custom ops ``moga::attention_train`` (the forward that keeps what the
backward needs) and ``moga::attention_backward``, joined by ``torch.library.register_autograd``.

    out = pat(q, k, v, shape=..., router_x=x, router_w=[W_r])   # q/k/v/x/W_r requiring grad: this path
    out.float().square().mean().backward()                       # q.grad, k.grad, v.grad, x.grad, W_r.grad

CUDA tensors: the forward routes each routed kernel first (PatternAttention::route into buffers this op
returns), then runs the attention with that routing and keeps every kernel's log-sum-exp; the backward is
rt::AttentionBackward (runtime/attention/backward.h) on the same routing. The router's gradient: the
backward returns d L / d gate per (token, slot); here (inside the backward op, torch ops on the GPU) it goes
through the softmax Jacobian to the logits, dl = p * (dp - sum_m p_m dp_m) with dp_g = the gate gradient of
the slots routed to g and p = softmax(x W_r) recomputed in float32 from the bf16 x, W_r (what the GPU router
computes); the autograd formula then forms dW_r = x^T dl and dx = dl W_r^T. CPU tensors: the float64 CPU
reference forward and its oracle backward (runtime/reference/backward.h), for tests.

The op's schema carries only tensors, ints and bools (the pattern by registry id, the shape as an int list),
so torch.compile traces it as one forward and one backward node, with fake implementations.
"""
from __future__ import annotations

import os
from typing import List, Optional, Tuple

import torch

from ._pattern import _REGISTRY, Pattern
from ._shapes import Shape
from ._torch_ops import _fix, _raw_stream, torch_view

Tensor = torch.Tensor
# Tests set this: every buffer the ops hand to the kernels starts as NaN (gid as -1), so a value the kernels
# leave unwritten shows (python/tests/test_autograd.py).
POISON = os.environ.get("MOGA_POISON", "0") == "1"


def _empty(*shape, dtype, device) -> Tensor:
    if not POISON:
        return torch.empty(*shape, dtype=dtype, device=device)
    return torch.full(shape, -1 if dtype == torch.int32 else float("nan"), dtype=dtype, device=device)


def _sizes(pat: Pattern, B: int, N: int, H: int):
    """Element counts of the flat side outputs: lse per kernel (float32 [B][H][N k]), gid/prob per routed
    kernel ([B][N][k]), dlogits per routed kernel ([B][N][M])."""
    lse = [B * H * N * k["topk"] for k in pat.kernels]
    route = [B * N * pat.kernels[i]["topk"] for i in pat.routed_kernels]
    logits = [B * N * M for M in pat.router_groups]
    return lse, route, logits


def _keeps_rows(pat: Pattern) -> bool:
    """Whether the backward needs each kernel's own rows (RunOptions::branch_out): mixtures and top-k."""
    return len(pat.kernels) > 1 or any(k["topk"] > 1 for k in pat.kernels)


def _row_views(pat: Pattern, rows: Tensor, B: int, N: int, H: int, D: int) -> list:
    """Per kernel, a view of its rows in the flat bf16 `rows`: contiguous [B, N k, H, D]; [] when not kept."""
    if rows.numel() == 0:
        return []
    views, off = [], 0
    for k in pat.kernels:
        n = B * N * k["topk"] * H * D
        views.append(torch_view(rows[off:off + n].view(B, N * k["topk"], H, D), "branch_out"))
        off += n
    return views


def _split(flat: Tensor, sizes: List[int]) -> List[Tensor]:
    return list(torch.split(flat, sizes)) if sizes else []


def check_supported(pat: Pattern, deterministic: bool) -> None:
    """Raises NotSupportedError (a ValueError) naming what the GPU backward does not run for this pattern,
    before the forward spends any work (the backward's constructor makes no device work)."""
    key = bool(deterministic)
    ok = pat.__dict__.setdefault("_bwd_checked", {})
    if key not in ok:
        pat._native.check_backward(key)
        ok[key] = True


# ---- the forward ------------------------------------------------------------------------------------

def _train_cuda(pat, q, k, v, router_x, router_w, shape, out, lse, gid, prob, rows):
    if q.device.index not in (0, None):
        raise ValueError(f"q: the moga runtime runs on device ordinal 0 (cuda:0; use CUDA_VISIBLE_DEVICES to pick "
                         f"the GPU), got {q.device}")
    B, N, H, _ = q.shape
    ls, rs, _ = _sizes(pat, B, N, H)
    xv, ws = None, []
    if router_x is not None:
        xv = torch_view(_fix(router_x, "router_x"), "router_x")
        ws = [torch_view(w, "router_w") for w in router_w]
    lse_ptrs = [t.data_ptr() for t in _split(lse, ls)]
    gid_ptrs = [t.data_ptr() for t in _split(gid, rs)]
    prob_ptrs = [t.data_ptr() for t in _split(prob, rs)]
    pat._wprev = None  # the inference path's "same weights as the previous call" no longer holds
    pat._native.run_train(torch_view(q, "q"), torch_view(k, "k"), torch_view(v, "v"), torch_view(out, "out"),
                          Shape.from_list(shape).native(), xv, ws, gid_ptrs, prob_ptrs, lse_ptrs,
                          _row_views(pat, rows, B, N, H, q.shape[3]), _raw_stream(q.device.index or 0))


@torch.library.custom_op("moga::attention_train", mutates_args=())
def attention_train(q: Tensor, k: Tensor, v: Tensor, router_x: Optional[Tensor], router_w: List[Tensor],
                    pattern: int, shape: List[int], deterministic: bool
                    ) -> Tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """(out, lse, gid, prob, rows): out as moga::attention; lse float32 (every kernel's rows' log-sum-exp,
    flat), gid int32 and prob float32 (every routed kernel's routing, flat), rows bf16 (every kernel's own
    rows, flat: mixtures and top-k only, else empty). CPU: all but out are empty (the CPU backward recomputes
    the forward)."""
    pat = _REGISTRY[pattern]
    B, N, H, D = q.shape
    ls, rs, _ = _sizes(pat, B, N, H)
    out = _empty(*q.shape, dtype=q.dtype, device=q.device)
    if q.device.type == "cuda":
        check_supported(pat, deterministic)  # here, not in the traced caller: the check calls the extension
        q, k, v = _fix(q, "q"), _fix(k, "k"), _fix(v, "v")
        lse = _empty(sum(ls), device=q.device, dtype=torch.float32)
        gid = _empty(sum(rs), device=q.device, dtype=torch.int32)
        prob = _empty(sum(rs), device=q.device, dtype=torch.float32)
        nr = B * N * H * D * sum(k["topk"] for k in pat.kernels) if _keeps_rows(pat) else 0
        rows = _empty(nr, device=q.device, dtype=q.dtype)
        _train_cuda(pat, q, k, v, router_x, router_w, shape, out, lse, gid, prob, rows)
        return out, lse, gid, prob, rows
    from ._torch_ops import _run_cpu

    _run_cpu(pat, q, k, v, router_x, router_w, shape, out)
    e = q.new_empty(0, dtype=torch.float32)
    return out, e, q.new_empty(0, dtype=torch.int32), e.clone(), q.new_empty(0)


@attention_train.register_fake
def _attention_train_fake(q, k, v, router_x, router_w, pattern, shape, deterministic):
    pat = _REGISTRY[pattern]
    B, N, H, D = q.shape
    ls, rs, _ = _sizes(pat, B, N, H)
    nr = B * N * H * D * sum(k["topk"] for k in pat.kernels) if _keeps_rows(pat) else 0
    if q.device.type != "cuda":
        ls, rs, nr = [], [], 0
    return (q.new_empty(q.shape), q.new_empty(sum(ls), dtype=torch.float32),
            q.new_empty(sum(rs), dtype=torch.int32), q.new_empty(sum(rs), dtype=torch.float32), q.new_empty(nr))


# ---- the backward -----------------------------------------------------------------------------------

def _dlogits(pat, x, ws, gid, dgate, B, N) -> List[Tensor]:
    """Per routed kernel: d L / d logits from d L / d gate through the router softmax (module docstring)."""
    res = []
    for j, ki in enumerate(pat.routed_kernels):
        kk = pat.kernels[ki]["topk"]
        p = torch.softmax(x.float() @ ws[j].float(), dim=-1)  # [B, N, M]
        if dgate[j] is None:  # routed but not gated by the router probability: no gradient reaches it
            res.append(torch.zeros_like(p))
            continue
        g = gid[j].view(B, N, kk).long()
        dp = torch.zeros_like(p).scatter_add_(-1, g, dgate[j].view(B, N, kk))
        res.append(p * (dp - (p * dp).sum(-1, keepdim=True)))
    return res


def _backward_cuda(pat, dout, q, k, v, out, lse, gid, prob, rows, x, ws, shape, deterministic):
    B, N, H, D = q.shape
    ls, rs, _ = _sizes(pat, B, N, H)
    dout = _fix(dout, "dout")
    dq, dk, dv = (_empty(B, N, H, q.shape[3], device=q.device, dtype=q.dtype) for _ in range(3))
    gids = _split(gid, rs)
    gated = [pat.kernels[ki]["route_gate"] for ki in pat.routed_kernels]
    dgate = [_empty(n, device=q.device, dtype=torch.float32) if gt else None for n, gt in zip(rs, gated)]
    pat._native.run_backward(
        torch_view(q, "q"), torch_view(k, "k"), torch_view(v, "v"), torch_view(out, "out"), torch_view(dout, "dout"),
        Shape.from_list(shape).native(), [t.data_ptr() for t in _split(lse, ls)], [t.data_ptr() for t in gids],
        [t.data_ptr() for t in _split(prob, rs)], _row_views(pat, rows, B, N, H, D), torch_view(dq, "dq"),
        torch_view(dk, "dk"), torch_view(dv, "dv"), [t.data_ptr() if t is not None else 0 for t in dgate],
        bool(deterministic), _raw_stream(q.device.index or 0))
    dl = _dlogits(pat, x, ws, gids, dgate, B, N) if pat.routed_kernels else []
    return dq, dk, dv, dl


def _backward_cpu(pat, dout, q, k, v, x, ws, shape):
    sh = Shape.from_list(shape)
    f32 = [t.detach().float().contiguous().numpy() for t in (q, k, v, dout)]
    wl = [None] * len(pat.kernels)
    xa = None
    if pat.routed_kernels:
        xa = x.detach().float().contiguous().numpy()
        for ki, w in zip(pat.routed_kernels, ws):
            wl[ki] = w.detach().float().contiguous().numpy()
    r = pat._native.reference_backward(*f32, sh.native(), xa, wl, [None] * len(pat.kernels))
    grads = [torch.from_numpy(r[n]).to(q.dtype) for n in ("dq", "dk", "dv")]
    B, N = q.shape[0], q.shape[1]
    dl = []
    for ki, M in zip(pat.routed_kernels, pat.router_groups):
        d = r["dlogits"][ki]
        dl.append(torch.zeros(B, N, M, dtype=torch.float32) if d is None else torch.from_numpy(d).float())
    return (*grads, dl)


@torch.library.custom_op("moga::attention_backward", mutates_args=())
def attention_backward(dout: Tensor, q: Tensor, k: Tensor, v: Tensor, out: Tensor, lse: Tensor, gid: Tensor,
                       prob: Tensor, rows: Tensor, router_x: Optional[Tensor], router_w: List[Tensor], pattern: int,
                       shape: List[int], deterministic: bool) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """(dq, dk, dv, dlogits): dlogits float32, every routed kernel's d L / d logits [B][N][M], flat."""
    pat = _REGISTRY[pattern]
    if q.device.type == "cuda":
        dq, dk, dv, dl = _backward_cuda(pat, dout, q, k, v, out, lse, gid, prob, rows, router_x, router_w, shape,
                                        deterministic)
    else:
        dq, dk, dv, dl = _backward_cpu(pat, dout, q, k, v, router_x, router_w, shape)
    flat = torch.cat([t.reshape(-1) for t in dl]) if dl else q.new_empty(0, dtype=torch.float32)
    return dq, dk, dv, flat


@attention_backward.register_fake
def _attention_backward_fake(dout, q, k, v, out, lse, gid, prob, rows, router_x, router_w, pattern, shape,
                             deterministic):
    pat = _REGISTRY[pattern]
    B, N, H, _ = q.shape
    _, _, lg = _sizes(pat, B, N, H)
    return (q.new_empty(q.shape), q.new_empty(q.shape), q.new_empty(q.shape),
            q.new_empty(sum(lg), dtype=torch.float32))


def _setup_context(ctx, inputs, output):
    q, k, v, router_x, router_w, pattern, shape, deterministic = inputs
    out, lse, gid, prob, rows = output
    ctx.pattern, ctx.shape, ctx.deterministic = pattern, list(shape), bool(deterministic)
    ctx.save_for_backward(q, k, v, out, lse, gid, prob, rows, router_x, *router_w)


def _backward(ctx, dout, _dlse, _dgid, _dprob, _drows):
    q, k, v, out, lse, gid, prob, rows, x, *ws = ctx.saved_tensors
    pat = _REGISTRY[ctx.pattern]
    dq, dk, dv, dl = torch.ops.moga.attention_backward(dout, q, k, v, out, lse, gid, prob, rows, x, ws, ctx.pattern,
                                                       ctx.shape, ctx.deterministic)
    dx, dws = None, [None] * len(ws)
    if pat.routed_kernels and x is not None:
        B, N = q.shape[0], q.shape[1]
        dls = _split(dl, [B * N * M for M in pat.router_groups])
        xf = x.float()
        acc = None
        dws = []
        for d, w, M in zip(dls, ws, pat.router_groups):
            d = d.view(B, N, M)
            dws.append(torch.einsum("bnd,bnm->dm", xf, d).to(w.dtype))  # dW_r = x^T dl
            t = d @ w.float().t()                                       # dx = dl W_r^T
            acc = t if acc is None else acc + t
        dx = acc.to(x.dtype)
    return dq, dk, dv, dx, dws, None, None, None


torch.library.register_autograd("moga::attention_train", _backward, setup_context=_setup_context)


def train_call(pat: Pattern, q, k, v, x, ws, spec, deterministic: bool):
    """The differentiable call (Pattern.__call__ when an input requires grad): the output tensor."""
    if k.shape[1] != q.shape[1]:
        raise ValueError(f"k: {k.shape[1]} keys for {q.shape[1]} queries: cross-attention (Nk != N) has no "
                         f"backward yet (pattern '{pat.name}'); call it without gradients")
    return torch.ops.moga.attention_train(q, k, v, x, ws, pat._id, spec, bool(deterministic))[0]
