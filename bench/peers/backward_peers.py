#!/usr/bin/env python3
"""PyTorch peer for bench/bench_backward.cpp (moga_bench_backward runs it after its own cases).

  python3 bench/peers/backward_peers.py --json OUT --n 8190,32760 [--iters 10]

Dense attention backward with torch SDPA, cuDNN backend (bf16, B = 1, H = 12, D = 128, q/k/v as [B, H, N, D]
views of [B, N, H, D] tensors, like ours): one forward with requires_grad, then out.backward(dout,
retain_graph=True) timed alone (CUDA events, 3 warm-up calls, median of --iters). TFLOP/s at 2.5x the forward's
4 N^2 H D FLOPs (FlashAttention's convention). The flash backend is timed too, for reference. A failure
becomes {"error": ...} in its row, never a crash.
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", required=True)
    ap.add_argument("--n", default="8190,32760")
    ap.add_argument("--iters", type=int, default=10)
    a = ap.parse_args()
    rows = []
    for n in [int(x) for x in a.n.split(",")]:
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
    env = {"torch": torch.__version__, "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version(),
           "device": torch.cuda.get_device_name()}
    json.dump({"rows": rows, "env": env}, open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()
