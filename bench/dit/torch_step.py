#!/usr/bin/env python3
"""The PyTorch peer of `moga run`: one denoising step of the Wan2.1-1.3B DiT (diffusers'
WanTransformer3DModel, bf16, random weights) with torch SDPA on the cuDNN backend.

A step is one transformer forward plus the Euler update (negligible); timed with CUDA events after a
warm-up (timed too: "first_ms"), median of --iters forwards. Prints one JSON line per shape:
  {"peer": "torch_diffusers_cudnn", "frames": F, "height": H, "width": W, "tokens": N, "ms": ..., "first_ms": ...}
Usage (GPU machine, diffusers carried as a wheel): python3 bench/dit/torch_step.py --shape 21x60x104
"""
import argparse, json, sys

import torch
from diffusers import WanTransformer3DModel
from torch.nn.attention import SDPBackend, sdpa_kernel


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", action="append", required=True, help="latent FxHxW (latent pixels)")
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--compile", action="store_true", help="torch.compile the model (slow to start)")
    a = ap.parse_args()
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = WanTransformer3DModel(
            patch_size=(1, 2, 2), num_attention_heads=12, attention_head_dim=128, in_channels=16,
            out_channels=16, text_dim=4096, freq_dim=256, ffn_dim=8960, num_layers=30,
            cross_attn_norm=True, eps=1e-6, rope_max_seq_len=1024).to(torch.bfloat16).eval()
    if a.compile:
        model = torch.compile(model)
    ctx = torch.randn(1, 512, 4096, device="cuda", dtype=torch.bfloat16)
    for shape in a.shape:
        F, H, W = (int(x) for x in shape.split("x"))
        x = torch.randn(1, 16, F, H, W, device="cuda", dtype=torch.bfloat16)
        t = torch.tensor([900.0], device="cuda")
        times = []
        with torch.no_grad(), sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record()
            model(hidden_states=x, timestep=t, encoder_hidden_states=ctx, return_dict=False)  # warm-up
            e.record()
            torch.cuda.synchronize()
            first = s.elapsed_time(e)  # the first forward at this shape (cuDNN plans, allocator growth)
            for _ in range(a.iters):
                s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                s.record()
                v = model(hidden_states=x, timestep=t, encoder_hidden_states=ctx, return_dict=False)[0]
                x2 = x - 0.05 * v  # the Euler update of a step
                e.record()
                torch.cuda.synchronize()
                times.append(s.elapsed_time(e))
        times.sort()
        print(json.dumps({"peer": "torch_diffusers_cudnn" + ("_compiled" if a.compile else ""), "frames": F,
                          "height": H, "width": W, "tokens": F * (H // 2) * (W // 2),
                          "ms": times[len(times) // 2], "first_ms": first,
                          "device": torch.cuda.get_device_name()}), flush=True)
        del x2, v
    return 0


if __name__ == "__main__":
    sys.exit(main())
