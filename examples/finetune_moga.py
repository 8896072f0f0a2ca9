"""Fine-tune a tiny Wan-architecture DiT with MoGA attention (issue #15): flow matching on synthetic latents.

    python examples/finetune_moga.py --steps 300 --out out/finetune [--moga build/bin/moga] [--json r.json]

The model is diffusers' WanTransformer3DModel at moga's `tiny` config (dim 128, 2 heads x 64, 2 blocks,
text_dim 32, freq_dim 32, ffn 256: docs/model.md), with moga.diffusers' processor in every block: self-
attention through the `moga` pattern (routed groups + STGA + frame-local), each block with its own router
(an nn.Parameter), trained with the model. Where the fused `moga` mixture has no backward yet, the same
three branches run as separate differentiable patterns (moga.mean_of: the identical function; the script
says which it uses). The loss is flow matching (x_t = (1 - t) x_0 + t noise, target noise - x_0) plus the
routers' balance loss 0.1 * M * sum_i F_i P_i (moga.train). It prints the loss falling, the balance loss
and the group fractions F (each router's, averaged over the last 25 steps: within 2x of even when every F_i is
in [1 / 2M, 2 / M]; one step's F at a small latent is noisy), saves the checkpoint with the
routers under `moga run`'s names (moga.train.save_checkpoint: the diffusers layout, blocks.N.attn1.router.
weight), and, given --moga, loads it with `moga run --config tiny --weights ...`. Last, the training step
time with our processor vs diffusers' own attention (SDPA) on the same model, side by side.

Synthetic data: a fixed set of latents, each a smooth random field (low-resolution noise upsampled) drifting
across the frames, with a fixed random text context per latent; a model that learns them predicts the
velocity better than the noise baseline, so the loss falls. Needs torch with CUDA, diffusers, moga.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as Fn

import moga
import moga.diffusers as md
import moga.train as mt

TINY = dict(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=64, in_channels=16, out_channels=16,
            text_dim=32, freq_dim=32, ffn_dim=256, num_layers=2, cross_attn_norm=True,
            qk_norm="rms_norm_across_heads", eps=1e-6, rope_max_seq_len=1024)
TEXT_LEN = 16


DEV = "cuda"  # --device


def make_model(seed: int):
    from diffusers import WanTransformer3DModel

    torch.manual_seed(seed)
    return WanTransformer3DModel(**TINY).to(DEV)


def make_data(n: int, F: int, H: int, W: int, seed: int):
    g = torch.Generator(device=DEV).manual_seed(seed)
    low = torch.randn(n, 16, 1, max(1, H // 4), max(1, W // 4), device=DEV, generator=g)
    field = Fn.interpolate(low[:, :, 0], size=(H, W), mode="bilinear", align_corners=False)
    frames = [torch.roll(field, shifts=(f, 2 * f), dims=(2, 3)) for f in range(F)]  # drifting over the frames
    lat = torch.stack(frames, dim=2)
    lat = lat / lat.std()
    ctx = torch.randn(n, TEXT_LEN, TINY["text_dim"], device=DEV, generator=g)
    return lat, ctx


def flow_batch(lat, ctx, B, step):
    g = torch.Generator(device=DEV).manual_seed(10_000 + step)
    idx = torch.randint(0, lat.shape[0], (B,), device=DEV, generator=g)
    x0, c = lat[idx], ctx[idx]
    noise = torch.randn(x0.shape, device=DEV, generator=g)
    t = torch.rand(B, device=DEV, generator=g)
    xt = (1 - t.view(B, 1, 1, 1, 1)) * x0 + t.view(B, 1, 1, 1, 1) * noise
    return xt, c, t * 1000, noise - x0


def train_step(model, opt, batch, with_balance: bool):
    xt, c, ts, target = batch
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=DEV == "cuda"):
        pred = model(hidden_states=xt, timestep=ts, encoder_hidden_states=c, return_dict=False)[0]
    flow = Fn.mse_loss(pred.float(), target)
    bal = mt.balance_loss_of(model) if with_balance else torch.zeros((), device=DEV)
    opt.zero_grad(set_to_none=True)
    (flow + bal).backward()
    opt.step()
    return flow, bal


def sync():
    if DEV == "cuda":
        torch.cuda.synchronize()


def step_ms(model, batches, with_balance: bool, warmup: int = 3):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    times = []
    for i, b in enumerate(batches):
        sync()
        t0 = time.perf_counter()
        train_step(model, opt, b, with_balance)
        sync()
        if i >= warmup:
            times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def choose_pattern(explicit: str):
    if explicit != "auto":
        return explicit if "," not in explicit else explicit.split(","), "as given"
    try:
        moga.pattern("moga")._native.check_backward(False)
        return "moga", "the fused mixture (its backward runs)"
    except moga.NotSupportedError as e:
        return ["moga_dynamic", "stga", "frame_local"], f"its three branches as separate patterns ({e})"


def spread(F, M):
    """(min, max) of F * M over every router and group: 1.0 / 1.0 when even."""
    return float(F.min() * M), float(F.max() * M)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--height", type=int, default=32, help="latent height (before the 2x2 patching)")
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--latents", type=int, default=16, help="synthetic training latents")
    ap.add_argument("--pattern", default="auto", help="auto (moga, else its branches), a name, or names a,b,c (mean)")
    ap.add_argument("--time-steps", type=int, default=15, help="steps timed per processor (after 3 warm-up); 0: none")
    ap.add_argument("--time-shape", default="", help="F,H,W: also time the step at this latent (e.g. 21,60,104)")
    ap.add_argument("--out", default="out/finetune")
    ap.add_argument("--moga", default="", help="the moga CLI: load the checkpoint with `moga run`")
    ap.add_argument("--json", default="")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"],
                    help="cpu: the CPU reference and its oracle backward (float64, brute force: tiny latents only)")
    a = ap.parse_args(argv)
    global DEV
    DEV = a.device
    if DEV == "cuda" and not torch.cuda.is_available():
        sys.exit("finetune_moga: no CUDA device (the moga kernels and their backward run on the GPU; --device cpu "
                 "runs the CPU reference, for tiny latents)")
    os.makedirs(a.out, exist_ok=True)

    pattern, why = choose_pattern(a.pattern)
    model = make_model(a.seed)
    procs = md.apply(model, pattern)
    pat = next(iter(procs.values())).pattern
    M = pat.router_groups[0]
    n_tok = a.frames * (a.height // 2) * (a.width // 2)
    n_router = sum(p.numel() for n, p in model.named_parameters() if ".router." in n)
    print(f"model: WanTransformer3DModel tiny ({sum(p.numel() for p in model.parameters()):,} parameters, "
          f"{n_router:,} in routers), latent {a.frames}x{a.height}x{a.width} -> {n_tok} tokens, batch {a.batch}")
    print(f"attention: {pat.name if hasattr(pat, 'name') else pattern}: {why}; M = {M}")

    n_routers = sum(len(p.router) > 0 for p in procs.values())
    lat, ctx = make_data(a.latents, a.frames, a.height, a.width, a.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 20))
    hist, fr = [], []  # per step: (flow loss, balance loss), the routers' group fractions (stacked [routers, M])
    t0 = time.time()
    for step in range(a.steps):
        flow, bal = train_step(model, opt, flow_batch(lat, ctx, a.batch, step), True)
        sched.step()
        hist.append((flow.item(), bal.item()))
        fr.append(torch.stack(mt.group_fractions_of(model)).cpu())
        if step % 25 == 0 or step == a.steps - 1:
            w = min(25, len(hist))
            lo, hi = spread(torch.stack(fr[-w:]).mean(0), M)
            print(f"step {step:4d}  flow loss {statistics.mean(h[0] for h in hist[-w:]):.4f}  balance "
                  f"{hist[-1][1]:.4f} (even: {0.1 * n_routers:.4f})  groups F*M in [{lo:.2f}, {hi:.2f}]  "
                  f"{time.time() - t0:.0f} s", flush=True)
    w = min(25, max(1, a.steps // 4))
    loss_start = statistics.mean(h[0] for h in hist[:w])
    loss_end = statistics.mean(h[0] for h in hist[-w:])
    lo, hi = spread(torch.stack(fr[-w:]).mean(0), M)
    balanced = hi <= 2.0 and lo >= 0.5
    print(f"flow loss {loss_start:.4f} -> {loss_end:.4f} (mean of the first / last {w} steps); balance "
          f"{hist[-1][1]:.4f}; groups F*M in [{lo:.2f}, {hi:.2f}] over the last {w} steps, every router "
          f"({'within' if balanced else 'NOT within'} 2x of even)")

    ckpt = mt.save_checkpoint(model, os.path.join(a.out, "finetuned_tiny_moga.safetensors"),
                              {"format": "diffusers", "config": "tiny", "pattern": str(pattern)})
    print(f"checkpoint: {ckpt} ({os.path.getsize(ckpt) / 1e6:.1f} MB; routers as blocks.N.attn1.router.weight)")
    run_rc = None
    if a.moga:
        cmd = [a.moga, "run", "--config", "tiny", "--weights", ckpt, "--attention", "moga", "--frames", str(a.frames),
               "--height", str(a.height), "--width", str(a.width), "--steps", "2", "--no-progress",
               "--out", os.path.join(a.out, "moga-run")]
        r = subprocess.run(cmd, capture_output=True, text=True)
        run_rc = r.returncode
        print(f"moga run --weights: exit {r.returncode}\n" + "\n".join((r.stdout + r.stderr).strip().splitlines()[-8:]))

    # the training step, our processor vs diffusers' attention (SDPA), same model and batches: at the training
    # latent, and at --time-shape when given (e.g. 21,60,104: Wan's 480p latent, 32,760 tokens)
    shapes = [(a.frames, a.height, a.width)]
    if a.time_shape:
        shapes.append(tuple(int(x) for x in a.time_shape.split(",")))
    timing = []
    if a.time_steps > 0:
        ref = make_model(a.seed)  # diffusers' own processors (scaled_dot_product_attention)
        for tf, th, tw in shapes:
            tl, tc = make_data(2, tf, th, tw, a.seed + 1)
            batches = [flow_batch(tl, tc, a.batch, 50_000 + i) for i in range(a.time_steps + 3)]
            ours = step_ms(model, batches, True)
            sdpa = step_ms(ref, batches, False)
            tt = tf * (th // 2) * (tw // 2)
            timing.append(dict(latent=[tf, th, tw], tokens=tt, step_ms=ours, sdpa_step_ms=sdpa))
            print(f"training step at {tf}x{th}x{tw} ({tt} tokens, batch {a.batch}): moga {ours:.2f} ms | diffusers "
                  f"SDPA {sdpa:.2f} ms | SDPA / moga {sdpa / ours:.2f}x", flush=True)
            del tl, tc, batches
    res = dict(pattern=str(pattern), how=why, tokens=n_tok, steps=a.steps, loss_start=loss_start, loss_end=loss_end,
               balance=hist[-1][1], group_spread=[lo, hi], balanced=balanced, checkpoint=ckpt, moga_run_rc=run_rc,
               timing=timing)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)
    ok = loss_end < loss_start and balanced and run_rc in (None, 0)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
