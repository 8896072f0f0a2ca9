#!/usr/bin/env python3
"""The MoGA layer from Python (moga's torch op) vs FlexAttention the PyTorch way, in the same run.

  python3 python/bench/bench_layer.py [--grid 21x30x52] [--m 16] [--iters 20] [--json OUT] [--backward]

Cases (bf16, B = 1, H = 12, D = 128, d_model = 1536; the shapes of bench/bench_attention.cpp):
  moga_dynamic M=<m>  ours: pat(q, k, v, router_x=x, router_w=[W]) of moga.pattern("moga_dynamic",
                      params={"M": m}) (router, counting sort, block map and attention: the whole
                      layer); peer: route (x @ W, softmax, argmax), torch.argsort of the group ids, gather
                      of q/k/v into group order, FlexAttention with a document mask over the sorted ids
                      (block mask rebuilt every call), gate, scatter back (bench/peers/attention_peers.py).
  moga                ours: the shipped `moga` pattern (routed M=5 + STGA + frame-local, mean); peer:
                      the same three branches with FlexAttention (the static block masks built once).
--backward: forward + backward of each (issue #15's training step of the layer): ours through the
differentiable call (moga._autograd: the forward keeping lse / routing / branch rows, AttentionBackward,
RouterBackward), the peer through torch autograd (FlexAttention's backward, the gathers, the gate and the
router's x @ W); both torch.autograd.grad of (q, k, v, x, W) for a fixed dout, nothing accumulated.
Timing: torch.cuda.Event around each call, 3 warm-up calls, the median of --iters calls over two input
sets in turn. Prints `case: ours X ms, peer Y ms, ratio peer/ours Z` and writes JSON.
"""
import argparse
import json
import statistics
import sys
import time

import torch

import moga

H, D, DMODEL = 12, 128, 1536


def timed(fn, iters, warm=3):
    for i in range(warm):
        fn(i)
    torch.cuda.synchronize()
    evs = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(iters)]
    for i, (a, b) in enumerate(evs):
        a.record()
        fn(warm + i)
        b.record()
    torch.cuda.synchronize()
    return statistics.median(a.elapsed_time(b) for a, b in evs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--grid", default="21x30x52")
    ap.add_argument("--m", type=int, default=16)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--json", default="")
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--backward", action="store_true", help="time forward + backward (training) instead")
    a = ap.parse_args()
    Fr, Hg, Wd = (int(x) for x in a.grid.split("x"))
    N = Fr * Hg * Wd
    dev = torch.device("cuda")
    gen = torch.Generator(device=dev)
    gen.manual_seed(1234)

    def rnd(*shape, s=1.0):
        return (torch.rand(*shape, device=dev, generator=gen) * 2 - 1).mul_(s).to(torch.bfloat16)

    # ours takes [B, N, H, D]; flex takes [B, H, N, D]: the same memory, viewed both ways
    qs = [rnd(1, H, N, D) for _ in range(2)]
    ks = [rnd(1, H, N, D) for _ in range(2)]
    vs = [rnd(1, H, N, D) for _ in range(2)]
    xs = [rnd(1, N, DMODEL) for _ in range(2)]
    wa = (9.0 / DMODEL) ** 0.5
    shape = moga.video(Fr, Hg, Wd)
    env = {"torch": torch.__version__, "device": torch.cuda.get_device_name(), "moga": moga.__version__,
           "grid": a.grid, "N": N, "mode": "forward+backward" if a.backward else "forward"}
    if a.backward:  # leaves that require grad; the gradient of the output is a fixed dout per input set
        for t in qs + ks + vs + xs:
            t.requires_grad_(True)
        douts = [rnd(1, N, H, D) for _ in range(2)]

    def train(fn, j, leaves):
        """forward + backward of fn() w.r.t. leaves (torch.autograd.grad: nothing accumulated)."""
        o = fn()
        o = o if o.shape == douts[j].shape else o.transpose(1, 2)  # the peer returns [B, H, N, D]
        return torch.autograd.grad(o, leaves, douts[j])
    rows = []

    from torch.nn.attention.flex_attention import create_block_mask, flex_attention

    flex = torch.compile(flex_attention, dynamic=False)

    def block_mask(mod):
        try:  # as bench/peers/attention_peers.py: the compiled block-mask builder
            return create_block_mask(mod, B=None, H=None, Q_LEN=N, KV_LEN=N, device=dev, _compile=True)
        except TypeError:  # a torch without the _compile argument
            return create_block_mask(mod, B=None, H=None, Q_LEN=N, KV_LEN=N, device=dev)

    doc_buf = torch.zeros(N, dtype=torch.int64, device=dev)

    def doc_mod(b, h, qi, ki):
        return doc_buf[qi] == doc_buf[ki]

    def dynamic_peer(x, W, q, k, v):
        p = torch.softmax((x[0] @ W).float(), dim=-1)
        prob, gid = p.max(dim=-1)
        order = torch.argsort(gid, stable=True)
        doc_buf.copy_(gid[order])
        bm = block_mask(doc_mod)
        o = flex(q[:, :, order], k[:, :, order], v[:, :, order], block_mask=bm)
        o = o * prob[order].to(o.dtype)[None, None, :, None]
        res = torch.empty_like(o)
        res[:, :, order] = o
        return res

    def case(name, ours_fn, peer_fn):
        row = {"case": name, "N": N}
        try:
            t0 = time.time()
            row["ours_ms"] = timed(ours_fn, a.iters)
            row["ours_first_calls_s"] = time.time() - t0
        except Exception as e:  # noqa: BLE001
            row["ours_error"] = f"{type(e).__name__}: {e}"[:400]
        if not a.no_peer:
            try:
                t0 = time.time()
                row["peer_ms"] = timed(peer_fn, a.iters)
                row["peer_first_calls_s"] = time.time() - t0
            except Exception as e:  # noqa: BLE001
                row["peer_error"] = f"{type(e).__name__}: {e}"[:400]
        if "ours_ms" in row and "peer_ms" in row:
            row["ratio_peer_over_ours"] = row["peer_ms"] / row["ours_ms"]
        rows.append(row)
        o = f"{row['ours_ms']:.3f} ms" if "ours_ms" in row else row.get("ours_error")
        p = f"{row['peer_ms']:.3f} ms" if "peer_ms" in row else row.get("peer_error", "skipped")
        r = f", ratio peer/ours {row['ratio_peer_over_ours']:.2f}x" if "ratio_peer_over_ours" in row else ""
        print(f"{name} N={N}: ours {o}, peer (FlexAttention) {p}{r}", flush=True)

    # ---- the M = m routed layer --------------------------------------------------------------------------
    M = a.m
    pat = moga.pattern("moga_dynamic", params={"M": M})
    W = rnd(DMODEL, M, s=wa).requires_grad_(a.backward)
    outs = [torch.empty(1, N, H, D, device=dev, dtype=torch.bfloat16) for _ in range(2)]

    def ours_dyn(i):
        j = i & 1
        args = (qs[j].transpose(1, 2), ks[j].transpose(1, 2), vs[j].transpose(1, 2))
        if a.backward:
            return train(lambda: pat(*args, shape=shape, router_x=xs[j], router_w=[W]), j,
                         [qs[j], ks[j], vs[j], xs[j], W])
        pat(*args, shape=shape, router_x=xs[j], router_w=[W], out=outs[j])

    def peer_dyn(i):
        j = i & 1
        fn = lambda: dynamic_peer(xs[j], W, qs[j], ks[j], vs[j])  # noqa: E731
        return train(fn, j, [qs[j], ks[j], vs[j], xs[j], W]) if a.backward else fn()

    sfx = " fwd+bwd" if a.backward else ""
    case(f"moga_dynamic M={M}{sfx}", ours_dyn, peer_dyn)

    # ---- the full MoGA layer (M = 5): routed + STGA + frame-local, mean --------------------------------
    full = moga.pattern("moga")
    W5 = rnd(DMODEL, 5, s=wa).requires_grad_(a.backward)

    def ours_moga(i):
        j = i & 1
        args = (qs[j].transpose(1, 2), ks[j].transpose(1, 2), vs[j].transpose(1, 2))
        if a.backward:
            return train(lambda: full(*args, shape=shape, router_x=xs[j], router_w=[W5]), j,
                         [qs[j], ks[j], vs[j], xs[j], W5])
        full(*args, shape=shape, router_x=xs[j], router_w=[W5], out=outs[j])

    pos = torch.arange(N, device=dev)
    frame = pos // (Hg * Wd)
    rowc = (pos % (Hg * Wd)) // Wd
    col = pos % Wd
    region = (rowc * 2 // Hg) * 2 + col * 2 // Wd
    tgroup = frame // 4

    def stga_mod(b, h, qi, ki):
        return (region[qi] == region[ki]) & (tgroup[qi] == tgroup[ki])

    def frame_mod(b, h, qi, ki):
        return frame[qi] == frame[ki]

    bms = {}

    def peer_moga(i):
        if not bms:
            bms["stga"] = block_mask(stga_mod)
            bms["frame"] = block_mask(frame_mod)
        j = i & 1
        q, k, v = qs[j], ks[j], vs[j]

        def fn():
            o1 = dynamic_peer(xs[j], W5, q, k, v)
            o2 = flex(q, k, v, block_mask=bms["stga"])
            o3 = flex(q, k, v, block_mask=bms["frame"])
            return (o1 + o2 + o3) / 3

        return train(fn, j, [q, k, v, xs[j], W5]) if a.backward else fn()

    case(f"moga{sfx}", ours_moga, peer_moga)

    out = {"env": env, "rows": rows}
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)
    bad = [r for r in rows if "ours_error" in r]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
