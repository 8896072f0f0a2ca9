"""The torch custom ops ``moga::attention`` and ``moga::attention_out`` (torch.library.custom_op, with
fake implementations), and the checks of Pattern.__call__.

CUDA tensors: the pattern's fused kernels (rt::PatternAttention) on the current torch stream. CPU
tensors: the CPU reference (float64, brute force), for tests. Under torch.compile the op is one node of
the graph (no graph break); CUDA graphs may capture warm calls (the first call for a shape compiles
and uploads synchronously: make it before capturing).
"""
from __future__ import annotations

import os
import warnings
import weakref
from typing import List, Optional

import numpy as np
import torch

from ._pattern import _REGISTRY, _TORCH_CALL, Pattern
from ._shapes import Shape

_DTYPES = {torch.bfloat16: "bf16", torch.float16: "f16", torch.float32: "f32", torch.int32: "i32"}
# Eager calls skip the dispatcher and run the implementation directly (same checks, same code) unless
# MOGA_TORCH_DISPATCH=1; torch.compile, fake tensors and dispatch modes always go through the op.
_DIRECT = os.environ.get("MOGA_TORCH_DISPATCH", "0") != "1"
_copy_warned = set()

try:  # the raw current-stream getter inductor uses (cheaper than torch.cuda.current_stream())
    _raw_stream = torch._C._cuda_getCurrentRawStream
except AttributeError:  # pragma: no cover
    def _raw_stream(index):
        return torch.cuda.current_stream(index).cuda_stream


def torch_view(t: torch.Tensor, name: str) -> tuple:
    dt = _DTYPES.get(t.dtype)
    if dt is None:
        raise ValueError(f"{name}: unsupported dtype {t.dtype}")
    return (t.data_ptr(), dt, tuple(t.shape), tuple(t.stride()))


def _runtime_ok(t: torch.Tensor) -> bool:
    """Strides and alignment the kernels take without a copy (attention.h: D contiguous, the other
    strides multiples of 8 elements, 16-byte aligned)."""
    st = t.stride()
    if t.shape[-1] != 1 and st[-1] != 1:
        return False
    for s, n in zip(st[:-1], t.shape[:-1]):
        if n != 1 and s % 8:
            return False
    return t.data_ptr() % 16 == 0


def _fix(t: torch.Tensor, name: str) -> torch.Tensor:
    """The tensor itself when the kernels can read it, else a contiguous copy (warned once per argument)."""
    if _runtime_ok(t):
        return t
    if name not in _copy_warned:
        _copy_warned.add(name)
        warnings.warn(f"moga: {name} {list(t.shape)} strides {list(t.stride())} is not readable by the kernels "
                      f"(D contiguous, other strides multiples of 8, 16-byte aligned): copying it to a contiguous "
                      f"tensor (each call)", stacklevel=4)
    return t.contiguous()


def _weight_tokens(pat: Pattern, router_w) -> list:
    """The router weights' version counters when they are the very tensors (alive since, same storage
    base, same version) of the pattern's previous call, so the packed copy can be reused; else [] (the
    runtime repacks). A fresh tensor each call (even at a recycled address) is never "unchanged"; under
    CUDA graph capture nothing is (each replay repacks)."""
    if torch.cuda.is_current_stream_capturing():
        pat._wprev = None
        return []
    bases = [w if w._base is None else w._base for w in router_w]
    prev = pat._wprev
    same = prev is not None and len(prev) == len(bases) and all(
        r() is b and ver == b._version for (r, ver), b in zip(prev, bases))
    pat._wprev = [(weakref.ref(b), b._version) for b in bases]
    return [b._version for b in bases] if same else []


def _run_cuda(pat: Pattern, q, k, v, router_x, router_w, shape: List[int], out):
    if q.device.index not in (0, None):
        raise ValueError(f"q: the moga runtime runs on device ordinal 0 (cuda:0; use CUDA_VISIBLE_DEVICES to pick "
                         f"the GPU), got {q.device}")
    q, k, v = _fix(q, "q"), _fix(k, "k"), _fix(v, "v")
    xv = None
    ws = []
    tokens = []
    if router_x is not None:
        router_x = _fix(router_x, "router_x")
        xv = torch_view(router_x, "router_x")
        ws = [torch_view(w, "router_w") for w in router_w]
        tokens = _weight_tokens(pat, router_w)
    sh = Shape.from_list(shape)
    pat._native.run(torch_view(q, "q"), torch_view(k, "k"), torch_view(v, "v"), torch_view(out, "out"), sh.native(),
                    xv, ws, tokens, _raw_stream(q.device.index or 0))


def _dense_cpu(pat: Pattern, q, k, v):
    """Dense patterns with keys of another length (cross-attention) on the CPU: softmax(q k^T s) v per
    kernel, weighted (the reference's semantics for kernels without mask, key, bias)."""
    qn, kn, vn = (t.detach().to(torch.float64).numpy() for t in (q, k, v))
    outs = np.zeros(qn.shape, dtype=np.float64)
    D = qn.shape[-1]
    for kern in pat.kernels:
        if kern["has_gate"] or kern["routed"]:
            raise ValueError(f"k: keys of another length than the queries need a dense pattern without gates "
                             f"on the CPU (kernel '{kern['name']}')")
        scale = kern["scale"] if kern["scale"] is not None else 1.0 / np.sqrt(D)
        s = np.einsum("bnhd,bmhd->bhnm", qn, kn) * scale
        if kern["softcap"] is not None:
            c = kern["softcap"]
            s = c * np.tanh(s / c)
        s -= s.max(axis=-1, keepdims=True)
        p = np.exp(s)
        p /= p.sum(axis=-1, keepdims=True)
        outs += kern["weight"] * np.einsum("bhnm,bmhd->bnhd", p, vn)
    return torch.from_numpy(outs)


def _run_cpu(pat: Pattern, q, k, v, router_x, router_w, shape: List[int], out):
    if k.shape[1] != q.shape[1]:
        if not pat.dense:
            raise ValueError(f"k: {k.shape[1]} keys for {q.shape[1]} queries needs a dense pattern "
                             f"(no mask, group, router or bias); '{pat.name}' is not")
        out.copy_(_dense_cpu(pat, q, k, v).to(out.dtype))
        return
    sh = Shape.from_list(shape)
    res = pat.reference(q, k, v, shape=sh, router_x=router_x, router_w=list(router_w) if router_x is not None else None)
    out.copy_(res.to(out.dtype))


def _impl(q, k, v, router_x, router_w, pattern, shape, out):
    pat = _REGISTRY[pattern]
    if q.device.type == "cuda":
        _run_cuda(pat, q, k, v, router_x, router_w, shape, out)
    elif q.device.type == "cpu":
        _run_cpu(pat, q, k, v, router_x, router_w, shape, out)
    else:
        raise ValueError(f"q: expected a CUDA (or CPU) tensor, got {q.device}")


@torch.library.custom_op("moga::attention", mutates_args=())
def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, router_x: Optional[torch.Tensor],
              router_w: List[torch.Tensor], pattern: int, shape: List[int]) -> torch.Tensor:
    out = q.new_empty(q.shape)
    _impl(q, k, v, router_x, router_w, pattern, shape, out)
    return out


@attention.register_fake
def _attention_fake(q, k, v, router_x, router_w, pattern, shape):
    return q.new_empty(q.shape)


@torch.library.custom_op("moga::attention_out", mutates_args=("out",))
def attention_out(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, router_x: Optional[torch.Tensor],
                  router_w: List[torch.Tensor], pattern: int, shape: List[int], out: torch.Tensor) -> None:
    _impl(q, k, v, router_x, router_w, pattern, shape, out)


@attention_out.register_fake
def _attention_out_fake(q, k, v, router_x, router_w, pattern, shape, out):
    return None


# ---- the checks of Pattern.__call__ (plain Python on tensor metadata: torch.compile traces them) ---------

_dispatch_stack_len = getattr(torch._C, "_len_torch_dispatch_stack", None)


def _no_modes() -> bool:
    return _dispatch_stack_len is not None and _dispatch_stack_len() == 0


def _check4(t, name, dev, what="[B, N, H, D]"):
    if not isinstance(t, torch.Tensor):
        raise ValueError(f"{name}: expected a torch.Tensor, got {type(t).__name__}")
    if t.dim() != 4:
        raise ValueError(f"{name}: expected a 4-d tensor {what}, got shape {list(t.shape)}")
    if t.device != dev:
        raise ValueError(f"{name}: expected a tensor on {dev} (q's device), got {t.device}")
    if dev.type == "cuda" and t.dtype != torch.bfloat16:
        raise ValueError(f"{name}: expected dtype torch.bfloat16, got {t.dtype}")


def _needs_grad(q, k, v, x, ws) -> bool:
    if not torch.is_grad_enabled():
        return False
    return any(t is not None and t.requires_grad for t in (q, k, v, x, *ws))


def call(pat: Pattern, q, k, v, *, shape=None, router_x=None, router_w=None, out=None, layout="bnhd",
         deterministic=False):
    if not isinstance(q, torch.Tensor):
        raise ValueError(f"q: expected a torch.Tensor, got {type(q).__name__} (numpy arrays: use pat.reference)")
    dev = q.device
    if dev.type not in ("cuda", "cpu"):
        raise ValueError(f"q: expected a CUDA tensor (or a CPU tensor for the CPU reference), got {dev}")
    if layout not in ("bnhd", "bhnd"):
        raise ValueError(f"layout: expected 'bnhd' or 'bhnd', got {layout!r}")
    what = "[B, N, H, D]" if layout == "bnhd" else "[B, H, N, D]"
    for t, n in ((q, "q"), (k, "k"), (v, "v")):
        _check4(t, n, dev, what)
    if out is not None:
        _check4(out, "out", dev, what)
        if out.dtype != q.dtype:
            raise ValueError(f"out: expected dtype {q.dtype} (q's), got {out.dtype}")
    if layout == "bhnd":  # the kernels take any strides: [B, H, N, D] memory is a [B, N, H, D] view
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        if out is not None:
            out = out.transpose(1, 2)
    B, N, H, D = q.shape
    if k.shape[0] != B or k.shape[2] != H or k.shape[3] != D:
        raise ValueError(f"k: expected [B, Nk, H, D] = [{B}, Nk, {H}, {D}] (q's B, H, D), got {list(k.shape)}")
    if v.shape != k.shape:
        raise ValueError(f"v: expected k's shape {list(k.shape)}, got {list(v.shape)}")
    if out is not None and out.shape != q.shape:
        raise ValueError(f"out: expected q's shape {list(q.shape)}, got {list(out.shape)}")
    if dev.type == "cuda" and D not in (64, 128):
        raise ValueError(f"q: head dim D = {D} is not supported on the GPU (64 or 128)")
    sh = pat._shape(shape, N)
    ws: List[torch.Tensor] = []
    if pat.routed_kernels:
        if router_x is None or router_w is None:
            raise ValueError(f"router_x: pattern '{pat.name}' is routed (kernel "
                             f"'{pat.kernels[pat.routed_kernels[0]]['name']}'): pass router_x [B, N, d_model] and "
                             f"router_w=[W_r [d_model, M]] (one per routed kernel)")
        if not isinstance(router_x, torch.Tensor) or router_x.dim() != 3:
            raise ValueError(f"router_x: expected a 3-d tensor [B, N, d_model], got "
                             f"{list(router_x.shape) if isinstance(router_x, torch.Tensor) else type(router_x).__name__}")
        if router_x.device != dev:
            raise ValueError(f"router_x: expected a tensor on {dev}, got {router_x.device}")
        if router_x.shape[0] != B or router_x.shape[1] != N:
            raise ValueError(f"router_x: expected [B, N, d_model] = [{B}, {N}, d_model], got {list(router_x.shape)}")
        if dev.type == "cuda" and router_x.dtype != torch.bfloat16:
            raise ValueError(f"router_x: expected dtype torch.bfloat16, got {router_x.dtype}")
        ws = list(router_w) if isinstance(router_w, (list, tuple)) else [router_w]
        if len(ws) != len(pat.routed_kernels):
            raise ValueError(f"router_w: pattern '{pat.name}' has {len(pat.routed_kernels)} routed kernel(s), "
                             f"got {len(ws)} weight(s)")
        d_model = router_x.shape[2]
        for w, M in zip(ws, pat.router_groups):
            if not isinstance(w, torch.Tensor) or w.dim() != 2:
                raise ValueError("router_w: expected 2-d tensors [d_model, M]")
            if w.device != dev:
                raise ValueError(f"router_w: expected a tensor on {dev}, got {w.device}")
            if w.shape[0] != d_model or w.shape[1] != M:
                raise ValueError(f"router_w: expected [d_model, M] = [{d_model}, {M}], got {list(w.shape)}")
            if dev.type == "cuda" and w.dtype != torch.bfloat16:
                raise ValueError(f"router_w: expected dtype torch.bfloat16, got {w.dtype}")
    elif router_x is not None or router_w is not None:
        raise ValueError(f"router_x: pattern '{pat.name}' has no routed kernel; pass no router inputs")
    x = router_x if pat.routed_kernels else None
    spec = sh.as_list()
    if _needs_grad(q, k, v, x, ws):  # the differentiable op (moga._autograd)
        if out is not None:
            raise ValueError("out: an input requires grad, and a call writing into out= is not differentiable: "
                             "drop out= (or call under torch.no_grad())")
        res = _autograd.train_call(pat, q, k, v, x, ws, spec, deterministic)
        return res.transpose(1, 2) if layout == "bhnd" else res
    direct = _DIRECT and not torch.compiler.is_compiling() and type(q) is torch.Tensor and _no_modes()
    if out is None:
        if direct:
            res = q.new_empty(q.shape)
            _impl(q, k, v, x, ws, pat._id, spec, res)
        else:
            res = torch.ops.moga.attention(q, k, v, x, ws, pat._id, spec)
        return res.transpose(1, 2) if layout == "bhnd" else res
    if direct:
        _impl(q, k, v, x, ws, pat._id, spec, out)
    else:
        torch.ops.moga.attention_out(q, k, v, x, ws, pat._id, spec, out)
    return out.transpose(1, 2) if layout == "bhnd" else out


_TORCH_CALL[0] = call

from . import _autograd  # noqa: E402  (registers moga::attention_train / attention_backward; imports the helpers above)
