"""moga.Pattern: a compiled pattern, callable on torch tensors; its CPU reference, sparsity and dumps."""
from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path
from typing import Dict, List, Optional, Union

import numpy as np

from . import _compiler
from ._native import _moga
from ._shapes import Shape, seq

_STAGES = ("ast", "attn", "lowered", "cuda")
_DUMP_FILES = {"ast": ".ast", "attn": ".attn.mlir", "lowered": ".lowered.mlir"}

# Patterns by id: the torch op carries the id (an int) so that its schema needs no Python object.
_REGISTRY: Dict[int, "Pattern"] = {}
_REGISTRY_LOCK = threading.Lock()
# moga._torch_ops.call, set when that module is imported (no import inside a call torch.compile traces).
_TORCH_CALL = [None]


class Pattern:
    """A compiled attention pattern (``moga.compile``, ``moga.pattern``, ``moga.load``).

    Call it on torch CUDA bf16 tensors ``q, k, v`` of shape [B, N, H, D]::

        out = pat(q, k, v, shape=moga.video(21, 30, 52), router_x=x, router_w=[W_r])

    See docs/python.md for every argument.
    """

    def __init__(self, native, *, source: Optional[str] = None, source_name: Optional[str] = None,
                 params: Optional[dict] = None, head_dim: int = 128, dumps: Optional[Dict[str, str]] = None,
                 builtin: Optional[str] = None):
        self._native = native
        self._source = source
        self._source_name = source_name
        self._compile_params = dict(params or {})
        self._head_dim = head_dim
        self._dumps = dict(dumps or {})
        self._builtin = builtin
        self._wprev = None  # the router weights of the previous GPU call (moga._torch_ops._weight_tokens)
        # Everything the torch wrapper reads is plain Python data (torch.compile traces it).
        self.name: str = native.name
        self.layout: str = native.layout
        self.kernels: List[dict] = list(native.kernels)
        self.routed_kernels: List[int] = list(native.routed_kernels)
        self.router_groups: List[int] = [self.kernels[i]["groups"] for i in self.routed_kernels]
        self.dense: bool = all(k["structure"] == "dense" and not k["has_bias"] for k in self.kernels)
        with _REGISTRY_LOCK:
            self._id = len(_REGISTRY) + 1
            _REGISTRY[self._id] = self

    # ---- description ---------------------------------------------------------------------------------
    @property
    def origin(self) -> str:
        return self._native.origin

    @property
    def params(self) -> Dict[str, float]:
        """The compile-time params the pattern was compiled with (manifest "params")."""
        return dict(self._native.params)

    @property
    def manifest(self) -> dict:
        return json.loads(self._native.manifest)

    @property
    def cuda(self) -> str:
        return self._native.cuda

    @property
    def source(self) -> Optional[str]:
        """The .moga source, when known (compiled here, or a shipped pattern)."""
        if self._source is None and self._builtin:
            self._source = _moga.builtin_source(self._builtin)
        return self._source

    @property
    def use_tuned(self) -> bool:
        """Use the tuning database's tiles (``moga.tune``) where it has some for a shape (default True)."""
        return self._native.use_tuned

    @use_tuned.setter
    def use_tuned(self, v: bool):
        self._native.use_tuned = bool(v)

    @property
    def precision(self) -> str:
        """The attention's precision on the GPU: ``"bf16"`` (default) or ``"fp8"`` (e4m3 q, k, v with
        per-head scales, f32 softmax, bf16 output; Hopper, head dim 128; docs/python.md, "FP8")."""
        return self._native.precision

    @precision.setter
    def precision(self, v: str):
        self._native.precision = str(v)

    def __repr__(self):
        ks = ", ".join(f"{k['name']}:{k['structure']}" for k in self.kernels)
        return f"<moga.Pattern {self.name} ({self.layout}; {ks}) from {self.origin}>"

    # ---- shapes ----------------------------------------------------------------------------------------
    def _shape(self, shape, n_tokens: Optional[int], arg: str = "shape") -> Shape:
        if shape is None:
            if self.layout == "video":
                raise ValueError(f"{arg}: pattern '{self.name}' has layout video: pass shape=moga.video(F, H, W)")
            if n_tokens is None:
                raise ValueError(f"{arg}: pass shape=moga.seq(N)")
            return seq(n_tokens)
        if isinstance(shape, int):
            shape = seq(shape)
        if not isinstance(shape, Shape):
            raise ValueError(f"{arg}: expected moga.seq(N) or moga.video(F, H, W), got {type(shape).__name__}")
        if shape.layout != self.layout:
            raise ValueError(f"{arg}: pattern '{self.name}' has layout {self.layout}, got {shape}")
        if n_tokens is not None and shape.N != n_tokens:
            raise ValueError(f"{arg}: {shape} has {shape.N} tokens but q has N = {n_tokens}")
        return shape

    # ---- the GPU op ------------------------------------------------------------------------------------
    def __call__(self, q, k, v, *, shape=None, router_x=None, router_w=None, out=None, layout: str = "bnhd",
                 deterministic: bool = False):
        """Runs the pattern (torch tensors). CUDA bf16: the fused kernels, on the current stream; CPU: the
        CPU reference (float64, brute force; for tests). Returns a new tensor, or ``out``. Differentiable
        in q, k, v, router_x and router_w (moga._autograd); ``deterministic``: the backward's dQ without
        atomics (bit-identical gradients across runs)."""
        call = _TORCH_CALL[0]
        if call is None:  # torch was not imported by moga/__init__ (MOGA_NO_TORCH=1)
            from . import _torch_ops  # noqa: F401  (sets _TORCH_CALL)

            call = _TORCH_CALL[0]
        return call(self, q, k, v, shape=shape, router_x=router_x, router_w=router_w, out=out, layout=layout,
                    deterministic=deterministic)

    def launch(self, q, k, v, out, *, shape=None, router_x=None, router_w=(), stream: int = 0):
        """The framework-free entry: q, k, v, out, router_x, router_w are ``moga.View``s (or anything
        with ``__cuda_array_interface__``: dtype given by moga.view), ``stream`` a CUstream as an int."""
        from ._views import as_view

        qv, kv, vv, ov = (as_view(t, n) for t, n in ((q, "q"), (k, "k"), (v, "v"), (out, "out")))
        sh = self._shape(shape, qv[2][1])
        xv = as_view(router_x, "router_x") if router_x is not None else None
        ws = [as_view(w, "router_w") for w in (router_w or ())]
        self._native.run(qv, kv, vv, ov, sh.native(), xv, ws, [], int(stream))

    def validate(self, q, k, v, out, *, shape=None, router_x=None, router_w=()):
        """Every check a launch makes, without a device (views as for launch). Raises ValueError."""
        from ._views import as_view

        qv, kv, vv, ov = (as_view(t, n) for t, n in ((q, "q"), (k, "k"), (v, "v"), (out, "out")))
        sh = self._shape(shape, qv[2][1])
        xv = as_view(router_x, "router_x") if router_x is not None else None
        ws = [as_view(w, "router_w") for w in (router_w or ())]
        self._native.validate(qv, kv, vv, ov, sh.native(), xv, ws)

    def last_routing(self, kernel: Optional[int] = None, stream: int = 0):
        """(gid int32 [B, N], prob float32 [B, N]) of routed kernel `kernel` (default: the first) in the
        last GPU call (synchronizes `stream`); [B, N, k] each for top-k routing (by decreasing probability)."""
        if not self.routed_kernels:
            raise ValueError(f"pattern '{self.name}' has no routed kernel")
        ki = self.routed_kernels[0] if kernel is None else kernel
        return self._native.last_routing(ki, stream)

    def compile_module(self, head_dim: int = 128) -> dict:
        """NVRTC-compiles (or finds in the disk cache) the GPU module for head_dim; no device needed."""
        return self._native.compile_module(head_dim)

    # ---- CPU -------------------------------------------------------------------------------------------
    def reference(self, q, k, v, *, shape=None, router_x=None, router_w=None, routing=None, per_kernel=False,
                  threads: int = 0, layout: str = "bnhd"):
        """The CPU reference (runtime/reference: brute force, float64) on numpy arrays or CPU torch
        tensors [B, N, H, D] (any float dtype). Returns float64 of the same kind (numpy / torch).

        ``routing``: per routed kernel, (gid [B, N] int, prob [B, N] float; [B, N, k] for top k) to use instead of routing
        router_x (e.g. the GPU's own, ``last_routing()``). ``per_kernel``: also return each kernel's
        weighted term."""
        is_torch = _is_torch(q)
        arrs = [_as_f32(t, n, layout) for t, n in ((q, "q"), (k, "k"), (v, "v"))]
        if arrs[0].ndim != 4:
            raise ValueError(f"q: expected [B, N, H, D], got shape {list(arrs[0].shape)}")
        sh = self._shape(shape, arrs[0].shape[1])
        x, ws, rs = self._router_args(router_x, router_w, routing)
        res = self._native.reference(arrs[0], arrs[1], arrs[2], sh.native(), x, ws, rs, per_kernel, threads)
        if layout == "bhnd":
            res = (res[0].transpose(0, 2, 1, 3), [t.transpose(0, 2, 1, 3) for t in res[1]]) if per_kernel \
                else res.transpose(0, 2, 1, 3)
        if is_torch:
            import torch

            if per_kernel:
                return torch.from_numpy(np.ascontiguousarray(res[0])), [torch.from_numpy(np.ascontiguousarray(t)) for t in res[1]]
            return torch.from_numpy(np.ascontiguousarray(res))
        return res

    def reference_backward(self, q, k, v, dout, *, shape=None, router_x=None, router_w=None, routing=None,
                           balance_loss: bool = False, balance_weight: float = 0.1, threads: int = 0) -> dict:
        """The float64 gradient oracle (runtime/reference/backward.h) of L = sum(out * dout) (+ the balance
        loss 0.1 * M * sum_i F_i P_i when ``balance_loss``), inputs as for reference(). Returns a dict of
        numpy float64 arrays: dq, dk, dv [B, N, H, D]; dx [B, N, d_model] (None without a router);
        drouter_w and dlogits, one per routed kernel ([d_model, M], [B, N, M]; None when no gradient reaches
        that router); balance_loss (a float). ``routing`` fixes the groups and gates (e.g. the GPU's); the
        router Jacobian still uses p = softmax(x W_r) when router_x and router_w are given."""
        arrs = [_as_f32(t, n, None) for t, n in ((q, "q"), (k, "k"), (v, "v"), (dout, "dout"))]
        if arrs[0].ndim != 4:
            raise ValueError(f"q: expected [B, N, H, D], got shape {list(arrs[0].shape)}")
        sh = self._shape(shape, arrs[0].shape[1])
        x, ws, rs = self._router_args(router_x, router_w, routing)
        r = self._native.reference_backward(*arrs, sh.native(), x, ws, rs, balance_loss, balance_weight, threads)
        r["drouter_w"] = [r["drouter_w"][ki] for ki in self.routed_kernels]
        r["dlogits"] = [r["dlogits"][ki] for ki in self.routed_kernels]
        return r

    def _router_args(self, router_x, router_w, routing):
        """(x float32, W_r per kernel index, (gid, prob) per kernel index) for the CPU reference."""
        x = None
        if router_x is not None:
            x = _as_f32(router_x, "router_x", None)
            if x.ndim != 3:
                raise ValueError(f"router_x: expected [B, N, d_model], got shape {list(x.shape)}")
        ws = [None] * len(self.kernels)
        if router_w is not None:
            wl = _per_routed(self, router_w, "router_w")
            for ki, w in zip(self.routed_kernels, wl):
                w = _as_f32(w, "router_w", None)
                if w.ndim != 2:
                    raise ValueError(f"router_w: expected [d_model, M], got shape {list(w.shape)}")
                ws[ki] = w
        rs = [None] * len(self.kernels)
        if routing is not None:
            rl = _per_routed(self, routing, "routing")
            for ki, r in zip(self.routed_kernels, rl):
                gid, prob = r
                rs[ki] = (np.ascontiguousarray(_np(gid), dtype=np.int32),
                          np.ascontiguousarray(_np(prob), dtype=np.float32))
        return x, ws, rs

    def sparsity(self, shape, batch: int = 1, exact_budget: int = 1 << 26) -> "Sparsity":
        """The block sparsity of each kernel for `shape`, as ``moga compile --shape`` prints it (the CPU
        block map from the mask programs, the manifest's tiles; routed kernels: a balanced stand-in
        routing)."""
        if isinstance(shape, int):
            shape = seq(shape)
        sh = self._shape(shape, None)
        return Sparsity(self._native.sparsity(sh.native(), batch, exact_budget))

    # ---- dumps and files ---------------------------------------------------------------------------------
    def dump(self, stage: str) -> str:
        """The text of a compiler stage: "ast", "attn" (MLIR from the AST), "lowered" (after the pipeline)
        or "cuda" (the generated CUDA C++). "cuda" needs no compiler; the others are recompiled from
        the source with moga-compile when they were not kept."""
        if stage not in _STAGES:
            raise ValueError(f"stage: expected one of {', '.join(_STAGES)}, got {stage!r}")
        if stage == "cuda":
            return self.cuda
        if stage not in self._dumps:
            if self.source is None:
                raise ValueError(f"stage: the source of '{self.name}' ({self.origin}) is unknown, so its "
                                 f"'{stage}' dump cannot be made: compile it with moga.compile()")
            m = self.manifest
            params = self._compile_params or m.get("params", {})
            d, stem = _compiler.compile_source(self.source, self._source_name or f"{self.name}.moga",
                                               params, int(m.get("head_dim", self._head_dim)))
            try:
                self._dumps.update(_read_dumps(d, stem))
            finally:
                shutil.rmtree(d, ignore_errors=True)
        return self._dumps[stage]

    def save(self, out_dir: Union[str, os.PathLike]) -> str:
        """Writes <name>.cu and <name>.json (what ``moga compile -o DIR`` writes; ``moga.load(DIR)``,
        rt::load_compiled and ``moga tune DIR`` read it), plus the source and dumps when known."""
        d = Path(out_dir)
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{self.name}.cu").write_text(self.cuda)
        (d / f"{self.name}.json").write_text(self._native.manifest)
        if self.source is not None:
            (d / f"{self.name}.moga").write_text(self.source)
        for st, ext in _DUMP_FILES.items():
            if st in self._dumps:
                (d / f"{self.name}{ext}").write_text(self._dumps[st])
        return str(d)


class Sparsity(list):
    """Per kernel: a dict with name, block_m, block_n, tiles_q, tiles_k, empty, full, partial (tile pairs),
    work (fraction of entry pairs in non-empty tiles), density (visible fraction, or None when over the
    exact-count budget) and summary (the CLI's line). str() prints the CLI's lines."""

    def __str__(self):
        return "\n".join(k["summary"] for k in self)

    @property
    def density(self):
        return [k["density"] for k in self]


def _read_dumps(d: str, stem: str) -> Dict[str, str]:
    out = {}
    for st, ext in _DUMP_FILES.items():
        p = os.path.join(d, stem + ext)
        if os.path.exists(p):
            with open(p) as f:
                out[st] = f.read()
    return out


def _load_dir(d: str, stem: str, **kw) -> Pattern:
    native = _moga.Pattern.load_compiled(d, stem)
    dumps = _read_dumps(d, stem)
    return Pattern(native, dumps=dumps, **kw)


def _is_torch(t) -> bool:
    mod = type(t).__module__
    return mod.startswith("torch")


def _np(t):
    if _is_torch(t):
        t = t.detach()
        if t.device.type != "cpu":
            t = t.cpu()
        return t.float().numpy() if t.is_floating_point() else t.numpy()
    return np.asarray(t)


def _as_f32(t, name, layout):
    if _is_torch(t) and t.device.type != "cpu":
        raise ValueError(f"{name}: the CPU reference takes CPU tensors or numpy arrays, got a {t.device} tensor")
    a = _np(t)
    if not np.issubdtype(a.dtype, np.floating):
        raise ValueError(f"{name}: expected a float array, got {a.dtype}")
    if layout == "bhnd":
        if a.ndim != 4:
            raise ValueError(f"{name}: expected [B, H, N, D], got shape {list(a.shape)}")
        a = a.transpose(0, 2, 1, 3)
    elif layout not in (None, "bnhd"):
        raise ValueError(f"layout: expected 'bnhd' or 'bhnd', got {layout!r}")
    return np.ascontiguousarray(a, dtype=np.float32)


def _per_routed(pat: Pattern, v, name):
    """router_w / routing: one per routed kernel (a single one is accepted for one routed kernel)."""
    if not pat.routed_kernels:
        raise ValueError(f"{name}: pattern '{pat.name}' has no routed kernel")
    if isinstance(v, (list, tuple)) and not (name == "routing" and len(v) == 2 and not isinstance(v[0], (list, tuple))
                                            and len(pat.routed_kernels) == 1 and _np(v[0]).ndim in (2, 3)
                                            and np.issubdtype(_np(v[0]).dtype, np.integer)):
        items = list(v)
    else:
        items = [v]
    if len(items) != len(pat.routed_kernels):
        raise ValueError(f"{name}: pattern '{pat.name}' has {len(pat.routed_kernels)} routed kernel(s), "
                         f"got {len(items)}")
    return items


# ---- constructors ---------------------------------------------------------------------------------------

def compile(source: Union[str, os.PathLike], params: Optional[dict] = None, head_dim: int = 128) -> Pattern:  # noqa: A001
    """Compiles a pattern: a path to a .moga file, or the source text itself (anything containing a
    newline or starting with ``pattern``). Raises moga.CompileError with the CLI's file:line:col + caret
    report. Needs moga-compile (moga._compiler.find_compiler)."""
    src = os.fspath(source)
    is_text = "\n" in src or src.lstrip().startswith("pattern ")
    if is_text:
        d, stem = _compiler.compile_source(src, "<string>", params, head_dim)
        text, name = src, "<string>"
    else:
        if not os.path.isfile(src):
            raise FileNotFoundError(f"source: no such .moga file: {src}")
        d, stem = _compiler.compile_file(src, params, head_dim)
        with open(src) as f:
            text = f.read()
        name = src
    try:
        return _load_dir(d, stem, source=text, source_name=name, params=params, head_dim=head_dim)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def pattern(name: str, params: Optional[dict] = None, head_dim: int = 128) -> Pattern:
    """A shipped pattern by name (kernels_src/patterns): embedded in the package, no compiler needed —
    unless params override its defaults, or head_dim is 64 (then its source is recompiled)."""
    if not params and head_dim == 128:
        return Pattern(_moga.Pattern.builtin(name), builtin=name, source_name=f"{name}.moga")
    src = _moga.builtin_source(name)
    d, stem = _compiler.compile_source(src, f"{name}.moga", params, head_dim)
    try:
        return _load_dir(d, stem, source=src, source_name=f"{name}.moga", params=params, head_dim=head_dim)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def load(path: Union[str, os.PathLike], name: str = "") -> Pattern:
    """A compiled pattern: the folder ``moga compile -o DIR`` (or Pattern.save) wrote (DIR/<name>.cu +
    DIR/<name>.json; `name` needed when DIR holds several). No compiler needed."""
    d = os.fspath(path)
    native = _moga.Pattern.load_compiled(d, name)
    stem = Path(native.origin).stem
    src = None
    p = os.path.join(d, stem + ".moga")
    if os.path.exists(p):
        with open(p) as f:
            src = f.read()
    return Pattern(native, dumps=_read_dumps(d, stem), source=src, source_name=p if src else None)


def builtin_names() -> List[str]:
    """The shipped patterns' names."""
    return list(_moga.builtin_names())
