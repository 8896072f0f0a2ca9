"""examples/finetune_moga.py on the CPU (torch + diffusers, no GPU; marked autograd_cpu, tools/gpu-check's
python row runs it too): a few training steps of the tiny Wan DiT through the CPU reference and its oracle
backward, the checkpoint it saves (routers under `moga run`'s names), and `moga run --weights` loading it.
The GPU run with its loss curve and step times is gpu-check's `finetune` row."""
import json
import os
import subprocess
import sys

import pytest

from conftest import DIFFUSERS_WHY, HAS_DIFFUSERS, REPO

pytestmark = [pytest.mark.autograd_cpu,
              pytest.mark.skipif(not HAS_DIFFUSERS, reason=f"the fine-tune needs torch and diffusers: {DIFFUSERS_WHY}")]
EXAMPLE = os.path.join(REPO, "examples", "finetune_moga.py")


def _moga_bin():
    b = os.environ.get("MOGA_BIN") or os.path.join(REPO, "build", "bin", "moga")
    return b if os.path.exists(b) else None


def test_finetune_cpu_and_moga_run_loads_it(tmp_path):
    out, js = tmp_path / "ft", tmp_path / "ft.json"
    cmd = [sys.executable, EXAMPLE, "--device", "cpu", "--steps", "3", "--frames", "2", "--height", "8", "--width", "8",
           "--time-steps", "0", "--out", str(out), "--json", str(js)]
    mb = _moga_bin()
    if mb:
        cmd += ["--moga", mb]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    print(r.stdout[-3000:], r.stderr[-3000:])
    assert js.exists(), f"no JSON (exit {r.returncode})"
    d = json.loads(js.read_text())
    assert d["loss_start"] > 0 and d["balance"] > 0
    from moga.train import read_safetensors_header

    keys = read_safetensors_header(d["checkpoint"])
    assert {"blocks.0.attn1.router.weight", "blocks.1.attn1.router.weight"} <= set(keys)
    assert keys["blocks.0.attn1.router.weight"]["shape"] == [5, 128]  # [M, dim], nn.Linear layout
    assert not any(".processor." in k for k in keys)
    if not mb:
        pytest.skip("the checkpoint was written, but no moga binary to load it (set MOGA_BIN or build build/bin/moga)")
    assert d["moga_run_rc"] == 0, r.stdout[-2000:]
