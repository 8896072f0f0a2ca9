#!/usr/bin/env python3
"""Numerics of moga's CPU DiT against a model nobody here wrote: diffusers' WanTransformer3DModel.

Steps (all on the CPU, float32):
  1. `moga init-weights --config tiny` writes seeded weights under Wan2.1 names; this script perturbs
     every norm weight/bias (so a norm that ignored its weight would show) and saves them again with
     the reference `safetensors` package (a file moga did not write).
  2. diffusers builds WanTransformer3DModel with the tiny config and loads those weights through
     diffusers' OWN converter (convert_wan_transformer_to_diffusers, its single-file loader), strict.
  3. Both run one forward on the same latent / timestep / context; the relative L2 error
     ||moga - diffusers|| / ||diffusers|| is reported (and must be below --tol).
  4. The diffusers state dict (diffusers key names) is saved and moga runs on it too: moga's own
     diffusers -> Wan key mapping must give the same output as the Wan-named file.

Usage: python3 bench/dit/compare_diffusers.py [--moga build-dit/bin/moga] [--frames 3 --height 6 --width 10]
Needs: pip install torch diffusers safetensors numpy
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from safetensors.torch import load_file, save_file


def rel_l2(a, b):
    a = a.double().flatten()
    b = b.double().flatten()
    return (torch.linalg.norm(a - b) / torch.linalg.norm(b)).item()


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"command failed ({r.returncode}): {' '.join(cmd)}\n{r.stdout}\n{r.stderr}")
    return r.stdout


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    ap = argparse.ArgumentParser()
    ap.add_argument("--moga", default=os.path.join(root, "build-dit", "bin", "moga"))
    ap.add_argument("--frames", type=int, default=3)
    ap.add_argument("--height", type=int, default=6)
    ap.add_argument("--width", type=int, default=10)
    ap.add_argument("--timestep", type=float, default=731.5)
    ap.add_argument("--context-len", type=int, default=11, help="tokens of the context (padded to text_len=16)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--init-scale", dest="unit_gain", action="store_false",
                    help="keep init-weights' normal(0, 0.02) instead of rescaling to std 1/sqrt(fan_in)")
    a = ap.parse_args()

    from diffusers import WanTransformer3DModel
    from diffusers.loaders.single_file_utils import convert_wan_transformer_to_diffusers

    torch.manual_seed(a.seed)
    wd = a.workdir or tempfile.mkdtemp(prefix="moga_cmp_")
    os.makedirs(wd, exist_ok=True)
    wan_path = os.path.join(wd, "wan_init.safetensors")
    run([a.moga, "init-weights", "--config", "tiny", "--seed", str(a.seed), "-o", wan_path])

    # 1. Perturb the norms (init-weights sets them to 1 / 0) and save with the reference package.
    sd = load_file(wan_path)
    g = torch.Generator().manual_seed(a.seed + 1)
    for k in list(sd):
        if k.endswith(("norm_q.weight", "norm_k.weight", "norm3.weight")):
            sd[k] = 1.0 + 0.2 * torch.randn(sd[k].shape, generator=g)
        elif k.endswith("norm3.bias"):
            sd[k] = 0.2 * torch.randn(sd[k].shape, generator=g)
        elif k.endswith("modulation"):
            sd[k] = 0.2 * torch.randn(sd[k].shape, generator=g)  # larger than init: exercise the adaLN
        elif a.unit_gain and k.endswith(".weight") and sd[k].dim() >= 2:
            # std 1/sqrt(fan_in) instead of 0.02: every branch (attention, RoPE, FFN) moves the output
            fan_in = sd[k][0].numel()
            sd[k] = sd[k] / sd[k].std() / fan_in ** 0.5
    wan_pert = os.path.join(wd, "wan_perturbed.safetensors")
    save_file(sd, wan_pert)

    # 2. diffusers' model with the tiny config, loaded through diffusers' own converter.
    model = WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=64, in_channels=16, out_channels=16,
        text_dim=32, freq_dim=32, ffn_dim=256, num_layers=2, cross_attn_norm=True,
        qk_norm="rms_norm_across_heads", eps=1e-6).float().eval()
    conv = convert_wan_transformer_to_diffusers({k: v.clone() for k, v in sd.items()})
    missing, unexpected = model.load_state_dict(conv, strict=True), None

    # 3. Inputs.
    F, H, W = a.frames, a.height, a.width
    latent = torch.randn(16, F, H, W, generator=g)
    ctx = torch.randn(a.context_len, 32, generator=g)
    lat_path = os.path.join(wd, "latent.safetensors")
    ctx_path = os.path.join(wd, "context.safetensors")
    save_file({"latent": latent.contiguous()}, lat_path)
    save_file({"context": ctx.contiguous()}, ctx_path)

    def moga_forward(weights, out):
        run([a.moga, "run", "--config", "tiny", "--weights", weights, "--context", ctx_path, "--attention", "full",
             "--forward-latent", lat_path, "--timestep", str(a.timestep), "--out", out, "--no-progress"])
        return load_file(os.path.join(out, "forward.safetensors"))["velocity"]

    ours = moga_forward(wan_pert, os.path.join(wd, "out_wan"))

    # Wan (and diffusers' pipeline) pad the umT5 context with zeros to text_len before the model.
    ctx_pad = torch.zeros(16, 32)
    ctx_pad[: a.context_len] = ctx
    with torch.no_grad():
        ref = model(hidden_states=latent[None], timestep=torch.tensor([a.timestep]),
                    encoder_hidden_states=ctx_pad[None], return_dict=False)[0][0]
    err = rel_l2(ours, ref)
    maxabs = (ours.double() - ref.double()).abs().max().item()
    print(f"latent 16x{F}x{H}x{W} ({F * (H // 2) * (W // 2)} tokens), t = {a.timestep}, context {a.context_len} tokens")
    print(f"moga (CPU, float32) vs diffusers WanTransformer3DModel (torch {torch.__version__}, float32): "
          f"relative L2 error {err:.3e}, max abs error {maxabs:.3e}, |ref| rms {ref.pow(2).mean().sqrt().item():.3e}")

    # 4. moga on the diffusers-named state dict (moga's own key mapping).
    diff_path = os.path.join(wd, "diffusers_layout.safetensors")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, diff_path)
    ours_d = moga_forward(diff_path, os.path.join(wd, "out_diffusers"))
    same = torch.equal(ours_d, ours)
    print(f"moga on the diffusers-layout checkpoint: {'identical to' if same else 'DIFFERS from'} the Wan-layout run "
          f"(rel L2 {rel_l2(ours_d, ours):.1e})")

    ok = err < a.tol and same
    print("PASS" if ok else f"FAIL (tolerance {a.tol})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
