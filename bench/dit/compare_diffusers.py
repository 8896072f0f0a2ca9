#!/usr/bin/env python3
"""Numerics of moga's CPU DiT against a model nobody here wrote: diffusers' WanTransformer3DModel.

Steps (all on the CPU, float32), for --config tiny or wan-1.3b-2l (Wan 1.3B widths, 2 blocks):
  1. `moga init-weights --config C --dtype f32` writes seeded weights under Wan2.1 names; this script perturbs
     every norm weight/bias (so a norm that ignored its weight would show) and saves them again with
     the reference `safetensors` package (a file moga did not write).
  2. diffusers builds WanTransformer3DModel with the matching config (CONFIGS below) and loads those weights through
     diffusers' OWN converter (convert_wan_transformer_to_diffusers, its single-file loader), strict.
  3. Both run one forward on the same latent / timestep / context; the relative L2 error
     ||moga - diffusers|| / ||diffusers|| is reported (and must be below --tol).
  4. The diffusers state dict (diffusers key names) is saved and moga runs on it too: moga's own
     diffusers -> Wan key mapping must give the same output as the Wan-named file.

Usage: python3 bench/dit/compare_diffusers.py [--moga build-dit/bin/moga] [--config tiny|wan-1.3b-2l]
                                             [--frames F --height H --width W] [--context-len L]
Defaults: tiny 16x3x6x10 latent, wan-1.3b-2l 16x2x4x6; an 11-token context (zero-padded to text_len).
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


# moga config -> diffusers WanTransformer3DModel arguments (and moga's text_len, the padded context
# length). rope_max_seq_len 1024 is Wan's rope_params(1024, ...) and diffusers' default.
CONFIGS = {
    "tiny": dict(num_attention_heads=2, attention_head_dim=64, ffn_dim=256, num_layers=2, text_dim=32, freq_dim=32,
                 text_len=16, latent=(3, 6, 10)),
    # Wan2.1 T2V-1.3B's widths (dim 1536 = 12 x 128, ffn 8960, umT5 4096, freq 256) with 2 blocks.
    "wan-1.3b-2l": dict(num_attention_heads=12, attention_head_dim=128, ffn_dim=8960, num_layers=2, text_dim=4096,
                        freq_dim=256, text_len=512, latent=(2, 4, 6)),
}


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
    ap.add_argument("--config", choices=sorted(CONFIGS), default="tiny")
    ap.add_argument("--frames", type=int, default=None, help="latent frames (default: per config)")
    ap.add_argument("--height", type=int, default=None, help="latent height (default: per config)")
    ap.add_argument("--width", type=int, default=None, help="latent width (default: per config)")
    ap.add_argument("--timestep", type=float, default=731.5)
    ap.add_argument("--context-len", type=int, default=11, help="tokens of the context (zero-padded to the config's text_len)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--init-scale", dest="unit_gain", action="store_false",
                    help="keep init-weights' normal(0, 0.02) instead of rescaling to std 1/sqrt(fan_in)")
    a = ap.parse_args()

    from diffusers import WanTransformer3DModel
    from diffusers.loaders.single_file_utils import convert_wan_transformer_to_diffusers

    cfg = CONFIGS[a.config]
    text_dim, text_len = cfg["text_dim"], cfg["text_len"]
    if a.context_len > text_len:
        sys.exit(f"--context-len {a.context_len} exceeds text_len {text_len} of {a.config}")
    torch.manual_seed(a.seed)
    tmp = None if a.workdir else tempfile.TemporaryDirectory(prefix="moga_cmp_")  # removed at exit
    wd = a.workdir or tmp.name
    os.makedirs(wd, exist_ok=True)
    wan_path = os.path.join(wd, "wan_init.safetensors")
    run([a.moga, "init-weights", "--config", a.config, "--seed", str(a.seed), "--dtype", "f32", "-o", wan_path])

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

    # 2. diffusers' model with the matching config, loaded through diffusers' own converter.
    model = WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=cfg["num_attention_heads"],
        attention_head_dim=cfg["attention_head_dim"], in_channels=16, out_channels=16, text_dim=text_dim,
        freq_dim=cfg["freq_dim"], ffn_dim=cfg["ffn_dim"], num_layers=cfg["num_layers"], cross_attn_norm=True,
        qk_norm="rms_norm_across_heads", eps=1e-6, rope_max_seq_len=1024).float().eval()
    conv = convert_wan_transformer_to_diffusers({k: v.clone() for k, v in sd.items()})
    missing, unexpected = model.load_state_dict(conv, strict=True), None

    # 3. Inputs.
    F, H, W = (v if v is not None else d for v, d in zip((a.frames, a.height, a.width), cfg["latent"]))
    latent = torch.randn(16, F, H, W, generator=g)
    ctx = torch.randn(a.context_len, text_dim, generator=g)
    lat_path = os.path.join(wd, "latent.safetensors")
    ctx_path = os.path.join(wd, "context.safetensors")
    save_file({"latent": latent.contiguous()}, lat_path)
    save_file({"context": ctx.contiguous()}, ctx_path)

    def moga_forward(weights, out):
        run([a.moga, "run", "--config", a.config, "--weights", weights, "--context", ctx_path, "--attention", "full",
             "--forward-latent", lat_path, "--timestep", str(a.timestep), "--out", out, "--no-progress"])
        return load_file(os.path.join(out, "forward.safetensors"))["velocity"]

    ours = moga_forward(wan_pert, os.path.join(wd, "out_wan"))

    # Wan (and diffusers' pipeline) pad the umT5 context with zeros to text_len before the model.
    ctx_pad = torch.zeros(text_len, text_dim)
    ctx_pad[: a.context_len] = ctx
    with torch.no_grad():
        ref = model(hidden_states=latent[None], timestep=torch.tensor([a.timestep]),
                    encoder_hidden_states=ctx_pad[None], return_dict=False)[0][0]
    err = rel_l2(ours, ref)
    maxabs = (ours.double() - ref.double()).abs().max().item()
    print(f"config {a.config}: dim {cfg['num_attention_heads'] * cfg['attention_head_dim']}, "
          f"ffn {cfg['ffn_dim']}, {cfg['num_layers']} blocks, "
          f"{sum(p.numel() for p in model.parameters()):,} params")
    print(f"latent 16x{F}x{H}x{W} ({F * (H // 2) * (W // 2)} tokens), t = {a.timestep}, context {a.context_len} tokens (padded to {text_len})")
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
