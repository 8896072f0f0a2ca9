"""The differentiable pattern call: the custom ops ``moga::attention_train`` (the forward that keeps what the
backward needs) and ``moga::attention_backward``, joined by ``torch.library.register_autograd``.

    out = pat(q, k, v, shape=..., router_x=x, router_w=[W_r])   # q/k/v/x/W_r requiring grad: this path
    out.float().square().mean().backward()                       # q.grad, k.grad, v.grad, x.grad, W_r.grad

CUDA tensors: the forward routes each routed kernel first (PatternAttention::route into buffers this op
returns), then runs the attention with that routing, keeping every kernel's log-sum-exp and, for mixtures
and top-k, every kernel's own rows (RunOptions::branch_out); the backward is rt::AttentionBackward
(runtime/attention/backward.h) on the same routing, then per routed kernel rt::RouterBackward
(runtime/attention/router_backward.h): from the gate gradient through the router softmax to the logits
(p recomputed in float32 from the bf16 x, W_r), dW_r = x^T dlogits, dx = dlogits W_r^T (float32, summed over
the routed kernels). The balance loss is not part of the op (moga.train.balance_loss). CPU tensors: the
float64 CPU reference forward and its oracle backward (runtime/reference/backward.h), for tests.

Memory kept for the backward: q, k, v, out, router_x, W_r (references, no copies), lse (float32, B H N k per
kernel), the routing (B N k int32 + float32 per routed kernel) and, for mixtures and top-k, the rows
(bf16, B N k H D per kernel: the shipped `moga` keeps 3 tensors the size of out).

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
    kernel ([B][N][k])."""
    lse = [B * H * N * k["topk"] for k in pat.kernels]
    route = [B * N * pat.kernels[i]["topk"] for i in pat.routed_kernels]
    return lse, route


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
    ls, rs = _sizes(pat, B, N, H)
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
    ls, rs = _sizes(pat, B, N, H)
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
    ls, rs = _sizes(pat, B, N, H)
    nr = B * N * H * D * sum(k["topk"] for k in pat.kernels) if _keeps_rows(pat) else 0
    if q.device.type != "cuda":
        ls, rs, nr = [], [], 0
    return (q.new_empty(q.shape), q.new_empty(sum(ls), dtype=torch.float32),
            q.new_empty(sum(rs), dtype=torch.int32), q.new_empty(sum(rs), dtype=torch.float32), q.new_empty(nr))


# ---- the backward -----------------------------------------------------------------------------------

def _backward_cuda(pat, dout, q, k, v, out, lse, gid, prob, rows, x, ws, shape, deterministic):
    B, N, H, D = q.shape
    ls, rs = _sizes(pat, B, N, H)
    dout = _fix(dout, "dout")
    dq, dk, dv = (_empty(B, N, H, D, device=q.device, dtype=q.dtype) for _ in range(3))
    gated = [pat.kernels[ki]["route_gate"] for ki in pat.routed_kernels]
    dgate = [_empty(n, device=q.device, dtype=torch.float32) if gt else None for n, gt in zip(rs, gated)]
    xv, wv, dx, dws = None, [], None, []
    if pat.routed_kernels and x is not None:
        x = x.contiguous()  # RouterBackward reads the tokens as one [B N, d] matrix
        xv, wv = torch_view(x, "router_x"), [torch_view(w, "router_w") for w in ws]
        dx = _empty(B, N, x.shape[2], device=q.device, dtype=torch.float32)
        dws = [_empty(w.shape[0], w.shape[1], device=q.device, dtype=torch.float32) for w in ws]
    pat._native.run_backward(
        torch_view(q, "q"), torch_view(k, "k"), torch_view(v, "v"), torch_view(out, "out"), torch_view(dout, "dout"),
        Shape.from_list(shape).native(), [t.data_ptr() for t in _split(lse, ls)],
        [t.data_ptr() for t in _split(gid, rs)], [t.data_ptr() for t in _split(prob, rs)],
        _row_views(pat, rows, B, N, H, D), torch_view(dq, "dq"), torch_view(dk, "dk"), torch_view(dv, "dv"),
        [t.data_ptr() if t is not None else 0 for t in dgate], xv, wv, dx.data_ptr() if dx is not None else 0,
        [t.data_ptr() for t in dws], bool(deterministic), _raw_stream(q.device.index or 0))
    return dq, dk, dv, dx, dws


def _backward_cpu(pat, dout, q, k, v, x, ws, shape):
    sh = Shape.from_list(shape)
    f32 = [t.detach().float().contiguous().numpy() for t in (q, k, v, dout)]
    wl = [None] * len(pat.kernels)
    xa = None
    if pat.routed_kernels and x is not None:
        xa = x.detach().float().contiguous().numpy()
        for ki, w in zip(pat.routed_kernels, ws):
            wl[ki] = w.detach().float().contiguous().numpy()
    r = pat._native.reference_backward(*f32, sh.native(), xa, wl, [None] * len(pat.kernels))
    grads = [torch.from_numpy(r[n]).to(q.dtype) for n in ("dq", "dk", "dv")]
    dx, dws = None, []
    if xa is not None:
        dx = torch.from_numpy(r["dx"]).float()
        for ki, w in zip(pat.routed_kernels, ws):
            d = r["drouter_w"][ki]
            dws.append(torch.zeros(w.shape, dtype=torch.float32) if d is None else torch.from_numpy(d).float())
    return (*grads, dx, dws)


@torch.library.custom_op("moga::attention_backward", mutates_args=())
def attention_backward(dout: Tensor, q: Tensor, k: Tensor, v: Tensor, out: Tensor, lse: Tensor, gid: Tensor,
                       prob: Tensor, rows: Tensor, router_x: Optional[Tensor], router_w: List[Tensor], pattern: int,
                       shape: List[int], deterministic: bool) -> Tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """(dq, dk, dv, dx, dw): dx float32 [B, N, d] (empty without a router input), dw float32, every routed
    kernel's d L / d W_r [d, M], flat."""
    pat = _REGISTRY[pattern]
    if q.device.type == "cuda":
        dq, dk, dv, dx, dws = _backward_cuda(pat, dout, q, k, v, out, lse, gid, prob, rows, router_x, router_w,
                                             shape, deterministic)
    else:
        dq, dk, dv, dx, dws = _backward_cpu(pat, dout, q, k, v, router_x, router_w, shape)
    if dx is None:
        dx = q.new_empty(0, dtype=torch.float32)
    flat = torch.cat([t.reshape(-1) for t in dws]) if dws else q.new_empty(0, dtype=torch.float32)
    return dq, dk, dv, dx, flat


@attention_backward.register_fake
def _attention_backward_fake(dout, q, k, v, out, lse, gid, prob, rows, router_x, router_w, pattern, shape,
                             deterministic):
    pat = _REGISTRY[pattern]
    routed = bool(pat.routed_kernels) and router_x is not None
    dx = router_x.new_empty(router_x.shape, dtype=torch.float32) if routed else q.new_empty(0, dtype=torch.float32)
    nw = sum(w.numel() for w in router_w) if routed else 0
    return (q.new_empty(q.shape), q.new_empty(q.shape), q.new_empty(q.shape), dx,
            q.new_empty(nw, dtype=torch.float32))


def _setup_context(ctx, inputs, output):
    q, k, v, router_x, router_w, pattern, shape, deterministic = inputs
    out, lse, gid, prob, rows = output
    ctx.pattern, ctx.shape, ctx.deterministic = pattern, list(shape), bool(deterministic)
    ctx.save_for_backward(q, k, v, out, lse, gid, prob, rows, router_x, *router_w)


def _backward(ctx, dout, _dlse, _dgid, _dprob, _drows):
    q, k, v, out, lse, gid, prob, rows, x, *ws = ctx.saved_tensors
    pat = _REGISTRY[ctx.pattern]
    dq, dk, dv, dx, dw = torch.ops.moga.attention_backward(dout, q, k, v, out, lse, gid, prob, rows, x, ws,
                                                           ctx.pattern, ctx.shape, ctx.deterministic)
    if not (pat.routed_kernels and x is not None):
        return dq, dk, dv, None, [None] * len(ws), None, None, None
    dws = [d.view(w.shape).to(w.dtype) for d, w in zip(_split(dw, [w.numel() for w in ws]), ws)]
    return dq, dk, dv, dx.to(x.dtype), dws, None, None, None


torch.library.register_autograd("moga::attention_train", _backward, setup_context=_setup_context)


def train_call(pat: Pattern, q, k, v, x, ws, spec, deterministic: bool):
    """The differentiable call (Pattern.__call__ when an input requires grad): the output tensor."""
    if k.shape[1] != q.shape[1]:
        raise ValueError(f"k: {k.shape[1]} keys for {q.shape[1]} queries: cross-attention (Nk != N) has no "
                         f"backward yet (pattern '{pat.name}'); call it without gradients")
    return torch.ops.moga.attention_train(q, k, v, x, ws, pat._id, spec, bool(deterministic))[0]
