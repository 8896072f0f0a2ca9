#!/usr/bin/env python3
"""The PyTorch peer of `moga bench` for any compiled pattern: the same mask through FlexAttention,
and dense SDPA on cuDNN, at the same shape.

  python3 bench/peers/pattern_peer.py --manifest P.json --shape 32768|21x30x52 [--shots 0,8] \
      [--heads 12] [--head-dim 128] [--iters 20] [--d-model 1536] --json OUT
  python3 bench/peers/pattern_peer.py --count-only --backend numpy --manifest P.json --shape 131   (CI, no GPU)
  python3 bench/peers/pattern_peer.py --emit-flex --manifest P.json    (the mods as Python source, to read or paste)
  python3 bench/peers/pattern_peer.py ... --device cpu --verify        (a smoke test of this script without a GPU)

Where the mask comes from: the manifest that `moga compile -o DIR` (and `moga bench`) writes holds each
kernel's mask, key, bias and gate as a program (the lowered `attn` region in SSA order; format in
runtime/reference/manifest.h). This script interprets those programs with torch ops over q_idx /
kv_idx, the token coordinates computed from the index as coords.cuh does (frame-major raster order,
shot tables from --shots). So the mask_mod and score_mod are the expression the kernels compile, at any
length, with nothing hand-written per pattern. (Why not a Python emitter in the compiler: the
manifest is already the compiler's serialized output; interpreting it adds no second code generator
to keep in step, and it works on any `moga compile -o` output.)

Per kernel (branch) of the pattern:
  dense (no mask, key, route)  flex_attention without a block mask (score_mod when bias/softcap);
  mask                         flex with create_block_mask(mask_mod) in the natural order (built once,
                               outside every timing: it depends only on the shape);
  computed key (group expr)    tokens sorted by key (stable argsort, once per shape: Sparse-VideoGen's
                               layout transformation), a document mask over the sorted keys AND the
                               mask at the original coordinates, gather before / scatter after;
  routed (route linear(M) top k)  "MoGA the PyTorch way" (attention_peers.py): x @ W_r, softmax, top-k,
                               stable argsort of the k entries per token, gather, document mask over
                               the sorted ids (rebuilt every call: the routing changes every call),
                               flex, gate by the router probability, scatter-add back.
Timings (torch.cuda.Event, 3 warm-up calls, median of --iters):
  flex.layer_ms   the whole pattern: every kernel with its routing / gathers / block masks of routed
                  kernels, gates, weights, the sum;
  flex.kernel_ms  the flex_attention calls alone, on pre-sorted inputs with ready block masks;
  cudnn.ms        dense SDPA (cuDNN backend) on q, k, v of the same shape.
Also per unrouted kernel the exact number of visible (query, key) pairs, counted on the GPU from the
same programs (moga bench compares it with its own count: a check that both evaluate the same mask).
Every case runs in try/except: a failure is {"error": ...} in its part of the JSON, never a crash.
"""
import argparse
import json
import math
import statistics
import sys
import time
import traceback


# ---- the program interpreter (torch or numpy) ---------------------------------------------------------

class Backend:
    """The few array operations the programs need, for torch tensors, numpy arrays and Python scalars.
    (Inside FlexAttention's mask_mod the indices are 0-d tensors under vmap: no new tensors are made.)"""

    def __init__(self, xp):
        self.xp = xp
        self.is_torch = xp.__name__ == "torch"

    def _scalar(self, a):
        return isinstance(a, (bool, int, float))

    def minimum(self, a, b):
        if self._scalar(a) and self._scalar(b):
            return min(a, b)
        if not self.is_torch:
            return self.xp.minimum(a, b)
        if self._scalar(a):
            a, b = b, a
        return self.xp.clamp(a, max=b) if self._scalar(b) else self.xp.minimum(a, b)

    def maximum(self, a, b):
        if self._scalar(a) and self._scalar(b):
            return max(a, b)
        if not self.is_torch:
            return self.xp.maximum(a, b)
        if self._scalar(a):
            a, b = b, a
        return self.xp.clamp(a, min=b) if self._scalar(b) else self.xp.maximum(a, b)

    def where(self, c, a, b):
        if isinstance(c, bool):
            return a if c else b
        return self.xp.where(c, a, b)

    def to_float(self, a):
        if self._scalar(a):
            return float(a)
        return a.to(self.xp.float32) if self.is_torch else a.astype("float64")

    def ordered_ne(self, a, b):
        return (a != b) & (a == a) & (b == b)


class Coords:
    """Token coordinates from a token index (coords.cuh's coords_of), computed on first use."""

    def __init__(self, idx, shape, fields=None):
        self.idx, self.s, self.cache = idx, shape, {}

    def get(self, name):
        if name not in self.cache:
            s, i = self.s, self.idx
            hw = s["H"] * s["W"]
            if name == "pos":
                v = i
            elif name == "frame":
                v = i // hw
            elif name == "row":
                v = (i % hw) // s["W"]
            elif name == "col":
                v = i % s["W"]
            elif name == "shot":
                v = s["shot_of_frame"][self.get("frame")]
            elif name == "shot_start":
                v = s["shot_first"][self.get("shot")]
            elif name == "shot_end":
                v = s["shot_first"][self.get("shot") + 1]
            else:
                raise ValueError(f"unknown coordinate '{name}'")
            self.cache[name] = v
        return self.cache[name]


def eval_program(prog, args, shape, be):
    """Evaluates a manifest program. args: per program argument a Coords (tokens) or an int / tensor (h)."""
    vals = []
    for i, op in enumerate(prog["ops"]):
        o = [vals[k] for k in op.get("operands", [])]
        kind = op["op"]
        if kind == "const":
            t = op.get("type")
            v = bool(op["value"]) if t == "i1" else float(op["value"]) if t == "f32" else int(op["value"])
        elif kind == "arg":
            v = args[op["index"]]
        elif kind == "coord":
            v = o[0].get(op["coord"])
        elif kind == "dim":
            v = shape[op["dim"]]
        elif kind in ("addi", "addf"):
            v = o[0] + o[1]
        elif kind in ("subi", "subf"):
            v = o[0] - o[1]
        elif kind in ("muli", "mulf"):
            v = o[0] * o[1]
        elif kind == "floordivsi":  # floor division (Python semantics; torch's // floors too)
            v = o[0] // o[1]
        elif kind == "floormod":
            v = o[0] % o[1]
        elif kind in ("minsi", "minimumf"):
            v = be.minimum(o[0], o[1])
        elif kind in ("maxsi", "maximumf"):
            v = be.maximum(o[0], o[1])
        elif kind in ("absi", "absf"):
            v = abs(o[0])
        elif kind == "divf":
            v = o[0] / o[1]
        elif kind == "negf":
            v = -o[0]
        elif kind == "sitofp":
            v = be.to_float(o[0])
        elif kind in ("cmpi", "cmpf"):
            p = op["pred"]
            a, b = o
            if p in ("eq", "oeq"):
                v = a == b
            elif p == "ne":
                v = a != b
            elif p == "one":
                v = be.ordered_ne(a, b)
            elif p in ("slt", "olt"):
                v = a < b
            elif p in ("sle", "ole"):
                v = a <= b
            elif p in ("sgt", "ogt"):
                v = a > b
            elif p in ("sge", "oge"):
                v = a >= b
            else:
                raise ValueError(f"ops[{i}]: unknown predicate '{p}'")
        elif kind == "andi":
            v = o[0] & o[1]
        elif kind == "ori":
            v = o[0] | o[1]
        elif kind == "xori":
            v = o[0] ^ o[1]
        elif kind == "select":
            v = be.where(o[0], o[1], o[2])
        else:
            raise ValueError(f"ops[{i}]: op '{kind}' is not supported by pattern_peer.py")
        vals.append(v)
    return vals[prog["result"]]


def make_shape(manifest, shape_text, shots, xp, device=None):
    """The runtime shape (coords.cuh's MaskShape) with the shot tables as arrays."""
    dims = [int(d) for d in shape_text.split("x")]
    video = manifest["layout"] == "video"
    if video != (len(dims) == 3):
        raise SystemExit(f"pattern '{manifest['pattern']}' is layout {manifest['layout']}: "
                         f"--shape expects {'FxHxW' if video else 'N'}, got '{shape_text}'")
    F, H, W = dims if video else (1, 1, dims[0])
    starts = [0] if not shots else shots
    if starts[0] != 0 or any(b <= a for a, b in zip(starts, starts[1:])) or starts[-1] >= F:
        raise SystemExit(f"--shots must start at 0, increase, and stay below F = {F}, got {shots}")
    shot_of_frame = [0] * F
    for si, s0 in enumerate(starts):
        for f in range(s0, F):
            shot_of_frame[f] = si
    first = starts + [F]
    if xp.__name__ == "torch":
        sof = xp.tensor(shot_of_frame, dtype=xp.int64, device=device)
        sf = xp.tensor(first, dtype=xp.int64, device=device)
    else:
        sof, sf = xp.asarray(shot_of_frame, dtype="int64"), xp.asarray(first, dtype="int64")
    return {"N": F * H * W, "F": F, "H": H, "W": W, "shot_of_frame": sof, "shot_first": sf}


def kernel_kind(k):
    if k.get("route"):
        return "routed"
    if k.get("key"):
        return "keyed"
    if k.get("mask"):
        return "masked"
    return "dense"


def key_vector(k, shape, xp, be, device=None):
    N = shape["N"]
    idx = xp.arange(N, device=device) if be.is_torch else xp.arange(N, dtype="int64")
    key = eval_program(k["key"], [Coords(idx, shape)], shape, be)
    if isinstance(key, int):  # a constant key: one group
        key = idx * 0 + key
    return key


def count_visible(k, shape, xp, be, device=None, chunk=256):
    """Exact visible (query, key) pairs of an unrouted kernel: the mask (and key equality) on every pair."""
    N = shape["N"]
    ar = (lambda a, b: xp.arange(a, b, device=device)) if be.is_torch else (lambda a, b: xp.arange(a, b, dtype="int64"))
    kv = Coords(ar(0, N)[None, :], shape)
    key = key_vector(k, shape, xp, be, device) if k.get("key") else None
    total = 0
    for r0 in range(0, N, chunk):
        qi = ar(r0, min(N, r0 + chunk))[:, None]
        vis = True
        if k.get("mask"):
            vis = eval_program(k["mask"], [Coords(qi, shape), kv], shape, be)
        if key is not None:
            same = key[qi] == key[None, :]
            vis = same if isinstance(vis, bool) and vis else same & vis
        if isinstance(vis, bool):
            total += (qi.shape[0] * N) if vis else 0
        else:
            total += int(vis.sum())
    return total


# ---- --emit-flex: the programs as Python source (a mask_mod / score_mod to paste) ------------------------

_BINOP = {"addi": "+", "addf": "+", "subi": "-", "subf": "-", "muli": "*", "mulf": "*", "floordivsi": "//",
          "floormod": "%", "divf": "/", "andi": "&", "ori": "|", "xori": "^"}
_CMP = {"eq": "==", "oeq": "==", "ne": "!=", "slt": "<", "olt": "<", "sle": "<=", "ole": "<=", "sgt": ">",
        "ogt": ">", "sge": ">=", "oge": ">="}


def _coord_expr(tok, name):
    """coords.cuh's coords_of for token index expression `tok`, over the globals N F H W SHOT_OF_FRAME SHOT_FIRST."""
    frame = f"({tok} // (H * W))"
    shot = f"SHOT_OF_FRAME[{frame}]"
    return {"pos": tok, "frame": frame, "row": f"(({tok} % (H * W)) // W)", "col": f"({tok} % W)", "shot": shot,
            "shot_start": f"SHOT_FIRST[{shot}]", "shot_end": f"SHOT_FIRST[{shot} + 1]"}[name]


def emit_program(prog, arg_exprs, indent="    "):
    """Python lines computing the program into `v<result>`; arg_exprs: per argument the token index / h expression."""
    lines = []
    for i, op in enumerate(prog["ops"]):
        o = [f"v{k}" for k in op.get("operands", [])]
        kind = op["op"]
        if kind == "const":
            t = op.get("type")
            e = repr(bool(op["value"]) if t == "i1" else float(op["value"]) if t == "f32" else int(op["value"]))
        elif kind == "arg":
            e = arg_exprs[op["index"]]
        elif kind == "coord":
            # operand 0 is an arg op: use its token expression directly
            src = prog["ops"][op["operands"][0]]
            e = _coord_expr(arg_exprs[src["index"]], op["coord"])
        elif kind == "dim":
            e = op["dim"]
        elif kind in _BINOP:
            e = f"{o[0]} {_BINOP[kind]} {o[1]}"
        elif kind in ("cmpi", "cmpf"):
            e = (f"({o[0]} != {o[1]}) & ({o[0]} == {o[0]}) & ({o[1]} == {o[1]})" if op["pred"] == "one"
                 else f"{o[0]} {_CMP[op['pred']]} {o[1]}")
        elif kind in ("minsi", "minimumf"):
            e = f"torch.minimum(torch.as_tensor({o[0]}), torch.as_tensor({o[1]}))"
        elif kind in ("maxsi", "maximumf"):
            e = f"torch.maximum(torch.as_tensor({o[0]}), torch.as_tensor({o[1]}))"
        elif kind in ("absi", "absf"):
            e = f"abs({o[0]})"
        elif kind == "negf":
            e = f"-{o[0]}"
        elif kind == "sitofp":
            e = f"torch.as_tensor({o[0]}).float()"
        elif kind == "select":
            e = f"torch.where({o[0]}, {o[1]}, {o[2]})"
        else:
            raise ValueError(f"ops[{i}]: op '{kind}' is not supported")
        lines.append(f"{indent}v{i} = {e}")
    return lines, f"v{prog['result']}"


def emit_flex(manifest):
    """Python source: per kernel a FlexAttention mask_mod (natural token order) and score_mod; groups as
    comments (a key or a router needs the sort of make_branch; the mask here is the kernel's own)."""
    out = [f"# FlexAttention mods of pattern '{manifest['pattern']}' (layout {manifest['layout']}), generated by",
           "# bench/peers/pattern_peer.py --emit-flex from its manifest. Set the shape globals first:",
           "#   N, F, H, W (seq: F = H = 1, W = N); SHOT_OF_FRAME [F], SHOT_FIRST [shots + 1] int64 tensors.",
           "import torch", ""]
    for k in manifest["kernels"]:
        n = k["name"]
        if k.get("route"):
            out.append(f"# kernel {n}: routed (route linear({k['route']['groups']}) top {k['route']['topk']}"
                       f"{', gated by the router probability' if k.get('route_gate') else ''}): sort by group, document mask")
        if k.get("key"):
            lines, r = emit_program(k["key"], ["t"])
            out += [f"def key_{n}(t):", *lines, f"    return {r}", ""]
        if k.get("mask"):
            lines, r = emit_program(k["mask"], ["q_idx", "kv_idx"])
            out += [f"def mask_mod_{n}(b, h, q_idx, kv_idx):", *lines, f"    return {r}", ""]
        if k.get("softcap") is not None or k.get("bias"):
            out.append(f"def score_mod_{n}(score, b, h, q_idx, kv_idx):")
            if k.get("softcap") is not None:
                out.append(f"    score = {float(k['softcap'])!r} * torch.tanh(score / {float(k['softcap'])!r})")
            if k.get("bias"):
                lines, r = emit_program(k["bias"], ["q_idx", "kv_idx", "h"])
                out += lines + [f"    score = score + {r}"]
            out += ["    return score", ""]
        if k.get("gate"):
            lines, r = emit_program(k["gate"], ["q_idx"])
            out += [f"def gate_{n}(q_idx):", *lines, f"    return {r}", ""]
        out.append(f"# kernel {n}: weight {k.get('weight', 1.0)}, scale {k.get('scale') or '1/sqrt(head_dim)'}")
        out.append("")
    return "\n".join(out)


# ---- the GPU peer ---------------------------------------------------------------------------------------

def timed(torch, fn, iters, warm=3):
    if not torch.cuda.is_available():  # --device cpu (a smoke test of this script): wall clock
        for _ in range(warm):
            fn()
        ts = []
        for _ in range(iters):
            t0 = time.perf_counter()
            fn()
            ts.append((time.perf_counter() - t0) * 1e3)
        return statistics.median(ts)
    for _ in range(warm):
        fn()
    torch.cuda.synchronize()
    evs = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(iters)]
    for a, b in evs:
        a.record()
        fn()
        b.record()
    torch.cuda.synchronize()
    return statistics.median(a.elapsed_time(b) for a, b in evs)


def run_gpu(a, manifest, out):
    import torch
    import torch.nn.functional as Fn
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.nn.attention.flex_attention import create_block_mask, flex_attention

    dev = torch.device(a.device)
    be = Backend(torch)
    shape = make_shape(manifest, a.shape, a.shots, torch, dev)
    N, Hh, D = shape["N"], a.heads, a.head_dim
    out["env"] = {"torch": torch.__version__, "cudnn": torch.backends.cudnn.version(),
                  "device": torch.cuda.get_device_name() if dev.type == "cuda" else "cpu"}
    gen = torch.Generator(device=dev)
    dt = torch.bfloat16 if dev.type == "cuda" else torch.float32
    gen.manual_seed(1234)

    def rnd(*s, scale=1.0):
        return (torch.rand(*s, device=dev, generator=gen) * 2 - 1).mul_(scale).to(dt)

    q, k, v = (rnd(1, Hh, N, D) for _ in range(3))

    # ---- dense cuDNN ------------------------------------------------------------------------------------
    cud = out["cudnn"] = {}
    try:
        if dev.type != "cuda":
            raise RuntimeError("cuDNN needs --device cuda")
        with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
            cud["ms"] = timed(torch, lambda: Fn.scaled_dot_product_attention(q, k, v), a.iters)
        cud["tflops"] = 4.0 * N * N * Hh * D / (cud["ms"] * 1e-3) / 1e12
    except Exception as e:  # noqa: BLE001
        cud["error"] = f"{type(e).__name__}: {e}"[:400]

    flex_out = out["flex"] = {"kernels": []}
    try:
        flex = torch.compile(flex_attention, dynamic=False)

        def block_mask(mod, L):
            try:
                return create_block_mask(mod, B=None, H=None, Q_LEN=L, KV_LEN=L, device=dev, _compile=True)
            except TypeError:  # a torch without _compile
                return create_block_mask(mod, B=None, H=None, Q_LEN=L, KV_LEN=L, device=dev)

        x = rnd(N, a.d_model) if any(kk.get("route") for kk in manifest["kernels"]) else None
        wa = 3.0 / math.sqrt(a.d_model)
        branches = []
        for kk in manifest["kernels"]:
            branches.append(make_branch(torch, be, kk, shape, q, k, v, x, rnd, wa, flex, block_mask, a, dev))
            row = {"name": kk["name"], "kind": kernel_kind(kk)}
            if not kk.get("route"):
                try:
                    row["visible_pairs"] = count_visible(kk, shape, torch, be, dev)
                except Exception as e:  # noqa: BLE001
                    row["visible_error"] = f"{type(e).__name__}: {e}"[:300]
            flex_out["kernels"].append(row)

        def layer():
            o = None
            for b in branches:
                y = b["layer"]()
                o = y if o is None else o + y
            return o

        def kernels():
            for b in branches:
                b["kernel"]()

        if a.verify:  # the peer's own output against the dense computation of the same programs
            got = layer().float()
            want = sum(dense_branch(torch, be, kk, shape, q, k, v, b["groups"], D)
                       for kk, b in zip(manifest["kernels"], branches))
            rel = float((got - want).norm() / want.norm().clamp_min(1e-30))
            out["verify"] = {"rel_l2": rel, "pass": rel <= (1e-2 if dt == torch.bfloat16 else 1e-4)}
            print(f"verify: FlexAttention path vs dense rel L2 {rel:.2e} {'PASS' if out['verify']['pass'] else 'FAIL'}",
                  file=sys.stderr)
        flex_out["layer_ms"] = timed(torch, layer, a.iters)
        for b in branches:
            b["prepare_kernel"]()
        flex_out["kernel_ms"] = timed(torch, kernels, a.iters)
        for b, row in zip(branches, flex_out["kernels"]):
            row["kernel_ms"] = timed(torch, b["kernel"], a.iters)
    except Exception as e:  # noqa: BLE001
        flex_out["error"] = f"{type(e).__name__}: {e}"[:400]
        traceback.print_exc()


def make_branch(torch, be, kk, shape, q, k, v, x, rnd, wa, flex, block_mask, a, dev):
    """One kernel as FlexAttention calls: {'layer': full branch incl. prep, 'prepare_kernel', 'kernel'}."""
    N = shape["N"]
    weight = float(kk.get("weight", 1.0))
    scale = kk.get("scale")
    softcap = kk.get("softcap")
    bias = kk.get("bias")
    mask = kk.get("mask")
    kind = kernel_kind(kk)
    # Token of each position in the order flex sees (None: natural order), as a persistent buffer the
    # compiled mask_mod / score_mod read: refilled in place when the routing changes.
    tok_buf = torch.zeros(N * (kk["route"]["topk"] if kk.get("route") else 1), dtype=torch.int64, device=dev)
    doc_buf = torch.zeros_like(tok_buf)
    sorted_order = kind in ("routed", "keyed")

    def tok(i):
        return tok_buf[i] if sorted_order else i

    def mask_mod(b, h, qi, ki):
        m = True
        if sorted_order:
            m = doc_buf[qi] == doc_buf[ki]
        if mask is not None:
            mm = eval_program(mask, [Coords(tok(qi), shape), Coords(tok(ki), shape)], shape, be)
            m = mm if m is True else m & mm
        return m

    score_mod = None
    if softcap is not None or bias is not None:
        c = float(softcap) if softcap is not None else None

        def score_mod(score, b, h, qi, ki):
            s = score
            if c is not None:
                s = c * torch.tanh(s / c)
            if bias is not None:
                s = s + eval_program(bias, [Coords(tok(qi), shape), Coords(tok(ki), shape), h], shape, be)
            return s

    gate = None
    if kk.get("gate"):
        idx = torch.arange(N, device=dev)
        g = eval_program(kk["gate"], [Coords(idx, shape)], shape, be)
        gate = (g if torch.is_tensor(g) else torch.full((N,), float(g), device=dev)).float()

    def attend(qs, ks, vs, bm):
        kw = {}
        if scale is not None:
            kw["scale"] = float(scale)
        return flex(qs, ks, vs, score_mod=score_mod, block_mask=bm, **kw)

    def finish(o):  # o: [1, H, N, D] in token order
        if gate is not None:
            o = o * gate.to(o.dtype)[None, None, :, None]
        return o * weight if weight != 1.0 else o

    st = {}
    if kind in ("dense", "masked"):
        bm = block_mask(mask_mod, N) if mask is not None else None
        return {"layer": lambda: finish(attend(q, k, v, bm)), "prepare_kernel": lambda: None,
                "kernel": lambda: attend(q, k, v, bm), "groups": lambda: None}

    if kind == "keyed":
        key = key_vector(kk, shape, torch, be, dev)
        order = torch.argsort(key, stable=True)
        tok_buf.copy_(order)
        doc_buf.copy_(key[order])
        bm = block_mask(mask_mod, N)  # static: once per shape
        qs, ks, vs = (t[:, :, order].contiguous() for t in (q, k, v))

        def layer():
            o = attend(q[:, :, order], k[:, :, order], v[:, :, order], bm)
            res = torch.empty_like(o)
            res[:, :, order] = o
            return finish(res)

        return {"layer": layer, "prepare_kernel": lambda: None, "kernel": lambda: attend(qs, ks, vs, bm),
                "groups": lambda: (key[:, None], None)}

    # routed, top k: the k entries of every token sorted by group id
    M, topk = kk["route"]["groups"], kk["route"]["topk"]
    W = rnd(a.d_model, M, scale=wa)

    def route():
        p = torch.softmax((x @ W).float(), dim=-1)
        prob, gid = torch.topk(p, topk, dim=-1)  # [N, k], by decreasing probability
        gid, prob = gid.reshape(-1), prob.reshape(-1)
        order = torch.argsort(gid, stable=True)
        return order // topk, gid[order], prob[order]

    def layer():
        tokens, doc, prob = route()
        tok_buf.copy_(tokens)
        doc_buf.copy_(doc)
        bm = block_mask(mask_mod, N * topk)  # the routing changes every call
        o = attend(q[:, :, tokens], k[:, :, tokens], v[:, :, tokens], bm)
        if kk.get("route_gate"):
            o = o * prob.to(o.dtype)[None, None, :, None]
        res = torch.zeros(1, q.shape[1], N, q.shape[3], dtype=o.dtype, device=dev)
        res.index_add_(2, tokens, o)
        return finish(res)

    def prepare_kernel():
        tokens, doc, _ = route()
        tok_buf.copy_(tokens)
        doc_buf.copy_(doc)
        st["bm"] = block_mask(mask_mod, N * topk)
        st["qkv"] = [t[:, :, tokens].contiguous() for t in (q, k, v)]

    def groups():  # [N, k] group ids and probabilities, as route() chose them
        p = torch.softmax((x @ W).float(), dim=-1)
        prob, gid = torch.topk(p, topk, dim=-1)
        return gid, prob

    return {"layer": layer, "prepare_kernel": prepare_kernel,
            "kernel": lambda: attend(*st["qkv"], st["bm"]), "groups": groups}


def dense_branch(torch, be, kk, shape, q, k, v, groups, D):
    """The branch computed densely in float32 from the same programs ([H, N, N] scores): the check of the
    FlexAttention path (block masks, score_mod, sorting, scatter) that --verify runs at small N."""
    N, H = shape["N"], q.shape[1]
    dev = q.device
    ti = torch.arange(N, device=dev)
    qf, kf, vf = (t[0].float() for t in (q, k, v))  # [H, N, D]
    scale = kk.get("scale") or 1.0 / math.sqrt(D)
    s = torch.einsum("hnd,hmd->hnm", qf, kf) * scale
    if kk.get("softcap") is not None:
        c = float(kk["softcap"])
        s = c * torch.tanh(s / c)
    if kk.get("bias") is not None:
        b = eval_program(kk["bias"], [Coords(ti[None, :, None], shape), Coords(ti[None, None, :], shape),
                                      torch.arange(H, device=dev)[:, None, None]], shape, be)
        s = s + b
    vis = torch.ones(N, N, dtype=torch.bool, device=dev)
    if kk.get("mask") is not None:
        vis = vis & eval_program(kk["mask"], [Coords(ti[:, None], shape), Coords(ti[None, :], shape)], shape, be)
    g = groups()
    out = torch.zeros_like(qf)
    choices = [(None, None)] if g is None else [(g[0][:, j], None if g[1] is None else g[1][:, j]) for j in range(g[0].shape[1])]
    for gid_j, prob_j in choices:
        v_j = vis
        if gid_j is not None:
            member = (g[0][None, :, :] == gid_j[:, None, None]).any(-1)  # [t, u]: u is in t's j-th group
            v_j = vis & member
        sj = s.masked_fill(~v_j[None], float("-inf"))
        p = torch.softmax(sj, dim=-1).nan_to_num(0.0)
        o = p @ vf
        if prob_j is not None and kk.get("route_gate"):
            o = o * prob_j[None, :, None].float()
        out = out + o
    if kk.get("gate"):
        gv = eval_program(kk["gate"], [Coords(ti, shape)], shape, be)
        out = out * (gv.float()[None, :, None] if torch.is_tensor(gv) else float(gv))
    return out[None] * float(kk.get("weight", 1.0))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--emit-flex", action="store_true", help="print the kernels' mask_mod / score_mod as Python source")
    ap.add_argument("--manifest", required=True, help="the pattern's manifest (moga compile -o DIR writes DIR/<name>.json)")
    ap.add_argument("--shape", default="", help="N (seq) or FxHxW (video)")
    ap.add_argument("--shots", default="", help="first frame of each shot, from 0: 0,8,15")
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--head-dim", type=int, default=128)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--d-model", type=int, default=1536)
    ap.add_argument("--json", default="", help="write the result here (default: stdout)")
    ap.add_argument("--count-only", action="store_true", help="only count each unrouted kernel's visible pairs")
    ap.add_argument("--backend", choices=["torch", "numpy"], default="torch", help="for --count-only")
    ap.add_argument("--verify", action="store_true", help="check the FlexAttention output against a dense "
                    "computation of the same programs (small N: [H, N, N] scores)")
    ap.add_argument("--device", default="cuda", help="cuda; cpu runs FlexAttention on the CPU (a smoke test of this script)")
    a = ap.parse_args()
    a.shots = [int(s) for s in a.shots.split(",") if s]
    with open(a.manifest) as f:
        manifest = json.load(f)
    if a.emit_flex:
        print(emit_flex(manifest))
        return
    if not a.shape:
        ap.error("--shape is required")
    out = {"pattern": manifest["pattern"], "shape": a.shape, "heads": a.heads, "head_dim": a.head_dim}
    t0 = time.time()
    if a.count_only:
        if a.backend == "numpy":
            import numpy as xp
            dev = None
        else:
            import torch as xp
            dev = xp.device("cuda" if xp.cuda.is_available() else "cpu")
        be = Backend(xp)
        shape = make_shape(manifest, a.shape, a.shots, xp, dev)
        out["kernels"] = [{"name": k["name"], "kind": kernel_kind(k),
                           "visible_pairs": None if k.get("route") else count_visible(k, shape, xp, be, dev)}
                          for k in manifest["kernels"]]
    else:
        run_gpu(a, manifest, out)
    out["seconds"] = time.time() - t0
    text = json.dumps(out, indent=1)
    if a.json:
        with open(a.json, "w") as f:
            f.write(text + "\n")
    else:
        print(text)


if __name__ == "__main__":
    main()
