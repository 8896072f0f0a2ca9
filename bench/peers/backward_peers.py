#!/usr/bin/env python3
"""PyTorch peer for bench/bench_backward.cpp (moga_bench_backward runs it after its own cases).

  python3 bench/peers/backward_peers.py --json OUT --n 8190,32760 [--iters 10] [--moga 21x30x52 --m 16]

Dense attention backward with torch SDPA, cuDNN backend (bf16, B = 1, H = 12, D = 128, q/k/v as [B, H, N, D]
views of [B, N, H, D] tensors, like ours): one forward with requires_grad, then out.backward(dout,
retain_graph=True) timed alone (CUDA events, 3 warm-up calls, median of --iters). TFLOP/s at 2.5x the forward's
4 N^2 H D FLOPs (FlashAttention's convention). The flash backend is timed too, for reference. A failure
becomes {"error": ...} in its row, never a crash.

--moga FxHxW (the MoGA training step, bf16, B = 1, H = 12, D = 128, router d_model 1536, M = --m), forward +
backward together per call (the step: out.backward(dout) right after the forward, the inputs and the router's
x and W requiring grad), "the PyTorch way" of the issue's peer (bench/peers/attention_peers.py's forward):
  moga_dynamic train   router (x @ W_r, softmax, argmax), torch.argsort (stable), q/k/v gathered into group
                       order, FlexAttention with a document mask over the sorted group ids (block mask built every
                       call: the routing changes), gate by the router probability, scattered back; backward
                       through all of it (d q, k, v, and d x, d W_r through the gate)
  moga train           the three-branch layer: the routed branch above + STGA (flex mask_mod on the video
                       coordinates: region and temporal group, one shot) + frame-local (document mask over
                       frames), block masks of the static branches built once, the mean of the three
"""
import argparse
import json
import statistics
import traceback

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

H, D = 12, 128


def timed(fn, iters, warm=3):
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


def moga_train(grid, M, iters):
    """The rows of --moga (module docstring): forward + backward per call, median of iters."""
    from torch.nn.attention.flex_attention import create_block_mask, flex_attention

    Fr, Hg, Wd = grid
    N, DM, dev = Fr * Hg * Wd, 1536, torch.device("cuda")
    flex = torch.compile(flex_attention, dynamic=False)
    g = torch.Generator(device=dev).manual_seed(77)
    rnd = lambda *shape, a=1.0: ((torch.rand(*shape, device=dev, generator=g) * 2 - 1) * a).to(torch.bfloat16)

    def block_mask(mod):
        try:
            return create_block_mask(mod, B=None, H=None, Q_LEN=N, KV_LEN=N, device=dev, _compile=True)
        except TypeError:  # a torch without the _compile argument
            return create_block_mask(mod, B=None, H=None, Q_LEN=N, KV_LEN=N, device=dev)

    q, k, v = (rnd(1, H, N, D).requires_grad_(True) for _ in range(3))
    dout = rnd(1, H, N, D)
    x = rnd(N, DM).requires_grad_(True)
    W = rnd(DM, M, a=(9.0 / DM) ** 0.5).requires_grad_(True)
    doc_buf = torch.zeros(N, dtype=torch.int64, device=dev)  # one buffer: the compiled mask_mod stays the same

    def doc_mod(b, h, qi, ki):
        return doc_buf[qi] == doc_buf[ki]

    def dynamic_branch():
        p = torch.softmax((x @ W).float(), dim=-1)
        prob, gid = p.max(dim=-1)
        order = torch.argsort(gid, stable=True)
        doc_buf.copy_(gid[order])
        bm = block_mask(doc_mod)
        o = flex(q[:, :, order], k[:, :, order], v[:, :, order], block_mask=bm)
        o = o * prob[order].to(o.dtype)[None, None, :, None]
        return torch.zeros_like(o).index_copy(2, order, o)

    pos = torch.arange(N, device=dev)
    frame, rowc, col = pos // (Hg * Wd), (pos % (Hg * Wd)) // Wd, pos % Wd
    region, tgroup = (rowc * 2 // Hg) * 2 + col * 2 // Wd, frame // 4

    def stga_mod(b, h, qi, ki):
        return (region[qi] == region[ki]) & (tgroup[qi] == tgroup[ki])

    def frame_mod(b, h, qi, ki):
        return frame[qi] == frame[ki]

    out = []
    for case in ("moga_dynamic train", "moga train"):
        row = {"peer": "torch_flex", "case": case, "N": N, "M": M, "B": 1, "H": H, "D": D, "d_model": DM}
        try:
            if case == "moga train":
                bm_stga, bm_frame = block_mask(stga_mod), block_mask(frame_mod)
                fwd = lambda: (dynamic_branch() + flex(q, k, v, block_mask=bm_stga) + flex(q, k, v, block_mask=bm_frame)) / 3
            else:
                fwd = dynamic_branch

            def step():
                for t in (q, k, v, x, W):
                    t.grad = None
                fwd().backward(dout)

            row["fwd_ms"] = timed(lambda: fwd(), iters)
            row["fwd_bwd_ms"] = timed(step, iters)
        except Exception as e:  # noqa: BLE001 - a row records the failure
            row["error"] = f"{type(e).__name__}: {e}"[:400]
            traceback.print_exc()
        out.append(row)
        print(json.dumps(row), flush=True)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", required=True)
    ap.add_argument("--n", default="8190,32760", help="dense lengths, or 'none' (the MoGA rows alone)")
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--moga", default="", help="FxHxW: also the MoGA training step the PyTorch way (see above)")
    ap.add_argument("--m", type=int, default=16)
    a = ap.parse_args()
    rows = []
    for n in [] if a.n == "none" else [int(x) for x in a.n.split(",")]:
        for name, backend in (("sdpa_cudnn", SDPBackend.CUDNN_ATTENTION), ("sdpa_flash", SDPBackend.FLASH_ATTENTION)):
            row = {"peer": name, "case": "full", "N": n, "B": 1, "H": H, "D": D}
            try:
                g = torch.Generator(device="cuda").manual_seed(n)
                mk = lambda: torch.randn(1, n, H, D, device="cuda", dtype=torch.bfloat16, generator=g)
                q, k, v = (mk().requires_grad_(True) for _ in range(3))
                dout = torch.randn(1, H, n, D, device="cuda", dtype=torch.bfloat16, generator=g)
                with sdpa_kernel([backend]):
                    out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))

                    def fwd():
                        F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))

                    def bwd():
                        q.grad = k.grad = v.grad = None
                        out.backward(dout, retain_graph=True)

                    row["fwd_ms"] = timed(fwd, a.iters)
                    row["bwd_ms"] = timed(bwd, a.iters)
                flops = 4.0 * n * n * H * D
                row["fwd_tflops"] = flops / row["fwd_ms"] * 1e-9
                row["bwd_tflops"] = 2.5 * flops / row["bwd_ms"] * 1e-9
            except Exception as e:  # noqa: BLE001 - a row records the failure
                row["error"] = f"{type(e).__name__}: {e}"
                traceback.print_exc()
            rows.append(row)
            print(json.dumps(row), flush=True)
    if a.moga:
        rows.extend(moga_train(tuple(int(x) for x in a.moga.split("x")), a.m, a.iters))
    env = {"torch": torch.__version__, "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version(),
           "device": torch.cuda.get_device_name()}
    json.dump({"rows": rows, "env": env}, open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()
