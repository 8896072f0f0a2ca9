#!/usr/bin/env python3
"""PyTorch peers for bench/bench_attention.cpp (moga_bench_attention runs this after its own cases).

  python3 bench/peers/attention_peers.py --json OUT --grids 21x30x52,21x45x80 --m 4,5,16,64 [--iters 10] [--budget-s S]

Cases (bf16, B = 1, H = 12, D = 128, same shapes as ours):
  full                 SDPA with the flash backend and with the cuDNN backend (ms, TFLOP/s = 4 N^2 H D / t);
  moga_dynamic M=...   "MoGA the PyTorch way": router (x @ W_r, softmax, argmax), torch.argsort of the
                       group ids (stable), gather of q/k/v into group order, FlexAttention with a
                       document mask over the sorted group ids (block mask rebuilt every call: the
                       routing changes every call), gate by the router probability, scatter back.
                       `layer_ms` times all of it; `kernel_ms` times flex_attention alone on the sorted
                       inputs with a ready block mask; prep_ms = layer_ms - kernel_ms. Useful FLOPs 4 D H sum_g n_g^2 (its own groups).
  moga                 the full MoGA layer the PyTorch way: the routed branch above + STGA (flex mask_mod
                       on the video coordinates, block mask built once per shape) + frame-local (document
                       mask over frames, built once), mean of the three; kernel_ms: the three flex calls.
Timing: torch.cuda.Event around each call, 3 warm-up calls, median of --iters calls, two input sets in
turn. Every case runs in try/except: a failure becomes {"error": ...} in its row, never a crash.
"""
import argparse
import json
import statistics
import sys
import time
import traceback

import torch
import torch.nn.functional as F

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
    ap.add_argument("--json", required=True)
    ap.add_argument("--grids", default="21x30x52,21x45x80")
    ap.add_argument("--m", default="4,5,16,64")
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--budget-s", type=float, default=0, help="skip the remaining cases after this many seconds")
    ap.add_argument("--dense-only", action="store_true", help="SDPA flash and cuDNN only (moga_bench_attention --cases dense)")
    a = ap.parse_args()
    t_start = time.time()

    def over_budget(row):
        if a.budget_s and time.time() - t_start > a.budget_s:
            row["error"] = f"skipped: time budget of {a.budget_s:.0f} s spent"
            return True
        return False
    grids = [tuple(int(v) for v in g.split("x")) for g in a.grids.split(",")]
    Ms = [int(m) for m in a.m.split(",")]
    dev = torch.device("cuda")
    env = {"torch": torch.__version__, "device": torch.cuda.get_device_name(), "cudnn": torch.backends.cudnn.version()}
    rows = []
    out = {"env": env, "rows": rows}

    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.nn.attention.flex_attention import create_block_mask, flex_attention

    flex = torch.compile(flex_attention, dynamic=False)

    def block_mask_for(N):
        def make(mod):
            try:
                return create_block_mask(mod, B=None, H=None, Q_LEN=N, KV_LEN=N, device=dev, _compile=True)
            except TypeError:  # a torch without the _compile argument
                return create_block_mask(mod, B=None, H=None, Q_LEN=N, KV_LEN=N, device=dev)
        return make
    gen = torch.Generator(device=dev)
    gen.manual_seed(1234)

    def rnd(*shape, a=1.0):
        return (torch.rand(*shape, device=dev, generator=gen, dtype=torch.float32) * 2 - 1).mul_(a).to(torch.bfloat16)

    def save():
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)

    for (Fr, Hg, Wd) in grids:
        N = Fr * Hg * Wd
        qs = [rnd(1, H, N, D) for _ in range(2)]
        ks = [rnd(1, H, N, D) for _ in range(2)]
        vs = [rnd(1, H, N, D) for _ in range(2)]
        xs = [rnd(N, DMODEL) for _ in range(2)]
        wa = (9.0 / DMODEL) ** 0.5
        block_mask = block_mask_for(N)

        # ---- dense -----------------------------------------------------------------------------------
        for name, backend in (("sdpa_flash", SDPBackend.FLASH_ATTENTION), ("sdpa_cudnn", SDPBackend.CUDNN_ATTENTION)):
            row = {"case": "full", "peer": name, "N": N}
            try:
                if over_budget(row):
                    raise StopIteration
                with sdpa_kernel(backend):
                    ms = timed(lambda i: F.scaled_dot_product_attention(qs[i & 1], ks[i & 1], vs[i & 1]), a.iters)
                row["ms"] = ms
                row["tflops"] = 4.0 * N * N * H * D / (ms * 1e-3) / 1e12
            except StopIteration:
                pass
            except Exception as e:  # noqa: BLE001
                row["error"] = f"{type(e).__name__}: {e}"[:400]
            print(json.dumps(row), file=sys.stderr, flush=True)
            rows.append(row)
            save()

        if a.dense_only:
            continue

        # ---- MoGA the PyTorch way ------------------------------------------------------------------------
        def route(x, W):
            p = torch.softmax((x @ W).float(), dim=-1)
            prob, gid = p.max(dim=-1)
            order = torch.argsort(gid, stable=True)
            return prob, gid, order

        # The document mask reads the sorted group ids from one persistent buffer, so the compiled
        # mask_mod is the same function every call (no recompilation); its contents change per call.
        doc_buf = torch.zeros(N, dtype=torch.int64, device=dev)

        def doc_mod(b, h, qi, ki):
            return doc_buf[qi] == doc_buf[ki]

        def doc_block_mask(doc):
            doc_buf.copy_(doc)
            return block_mask(doc_mod)

        def dynamic_branch(x, W, q, k, v):
            prob, gid, order = route(x, W)
            doc = gid[order]
            bm = doc_block_mask(doc)
            o = flex(q[:, :, order], k[:, :, order], v[:, :, order], block_mask=bm)
            o = o * prob[order].to(o.dtype)[None, None, :, None]
            res = torch.empty_like(o)
            res[:, :, order] = o
            return res

        for M in Ms:
            row = {"case": f"moga_dynamic M={M}", "peer": "torch_flex", "N": N, "M": M}
            try:
                if over_budget(row):
                    raise StopIteration
                W = rnd(DMODEL, M, a=wa)
                t0 = time.time()
                layer_ms = timed(lambda i: dynamic_branch(xs[i & 1], W, qs[i & 1], ks[i & 1], vs[i & 1]), a.iters)
                row["first_calls_s"] = time.time() - t0
                prob, gid, order = route(xs[0], W)
                counts = torch.bincount(gid, minlength=M).double()
                sum2 = float((counts * counts).sum())
                bm = doc_block_mask(gid[order])
                qo, ko, vo = (t[:, :, order].contiguous() for t in (qs[0], ks[0], vs[0]))
                kernel_ms = timed(lambda i: flex(qo, ko, vo, block_mask=bm), a.iters)
                flops = 4.0 * D * H * sum2
                row.update(layer_ms=layer_ms, kernel_ms=kernel_ms, prep_ms=layer_ms - kernel_ms, sum_n2=sum2, flops=flops,
                           layer_tflops=flops / (layer_ms * 1e-3) / 1e12, kernel_tflops=flops / (kernel_ms * 1e-3) / 1e12,
                           group_min=int(counts.min()), group_max=int(counts.max()))
            except StopIteration:
                pass
            except Exception as e:  # noqa: BLE001
                row["error"] = f"{type(e).__name__}: {e}"[:400]
                traceback.print_exc()
            print(json.dumps(row), file=sys.stderr, flush=True)
            rows.append(row)
            save()

        # ---- the full MoGA layer (M = 5, one shot): routed + STGA + frame-local, mean ---------------------
        row = {"case": "moga", "peer": "torch_flex", "N": N}
        try:
            if over_budget(row):
                raise StopIteration
            pos = torch.arange(N, device=dev)
            frame = pos // (Hg * Wd)
            rowc = (pos % (Hg * Wd)) // Wd
            col = pos % Wd
            wr = wc = 2
            tsize = 4
            region = (rowc * wr // Hg) * wc + col * wc // Wd
            tgroup = frame // tsize  # one shot: shot_start = 0; the borrowed frames of adjacent shots: none

            def stga_mod(b, h, qi, ki):
                return (region[qi] == region[ki]) & (tgroup[qi] == tgroup[ki])

            def frame_mod(b, h, qi, ki):
                return frame[qi] == frame[ki]

            bm_stga = block_mask(stga_mod)
            bm_frame = block_mask(frame_mod)
            W5 = rnd(DMODEL, 5, a=wa)

            def layer(i):
                q, k, v = qs[i & 1], ks[i & 1], vs[i & 1]
                o1 = dynamic_branch(xs[i & 1], W5, q, k, v)
                o2 = flex(q, k, v, block_mask=bm_stga)
                o3 = flex(q, k, v, block_mask=bm_frame)
                return (o1 + o2 + o3) / 3

            layer_ms = timed(layer, a.iters)
            prob, gid, order = route(xs[0], W5)
            bm = doc_block_mask(gid[order])
            qo, ko, vo = (t[:, :, order].contiguous() for t in (qs[0], ks[0], vs[0]))

            def kernels(i):
                flex(qo, ko, vo, block_mask=bm)
                flex(qs[0], ks[0], vs[0], block_mask=bm_stga)
                flex(qs[0], ks[0], vs[0], block_mask=bm_frame)

            kernel_ms = timed(kernels, a.iters)
            row.update(layer_ms=layer_ms, kernel_ms=kernel_ms, prep_ms=layer_ms - kernel_ms)
        except StopIteration:
            pass
        except Exception as e:  # noqa: BLE001
            row["error"] = f"{type(e).__name__}: {e}"[:400]
            traceback.print_exc()
        print(json.dumps(row), file=sys.stderr, flush=True)
        rows.append(row)
        save()
        del qs, ks, vs, xs
        torch.cuda.empty_cache()
    save()


if __name__ == "__main__":
    main()
