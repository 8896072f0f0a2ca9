"""moga.diffusers.MoGAAttnProcessor on a tiny WanTransformer3DModel on the CPU (the op runs the CPU
reference there): `full` reproduces diffusers' own attention; `moga` runs with its per-block router
weights as parameters of the model. Skipped where torch or diffusers is missing."""
import pytest

from conftest import DIFFUSERS_WHY, HAS_DIFFUSERS, rel_l2

if not HAS_DIFFUSERS:
    pytest.skip(f"the processor tests need torch and diffusers: {DIFFUSERS_WHY}", allow_module_level=True)

import torch  # noqa: E402
from diffusers import WanTransformer3DModel  # noqa: E402

import moga  # noqa: E402
import moga.diffusers as md  # noqa: E402


def tiny(layers=2):
    torch.manual_seed(0)
    return WanTransformer3DModel(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=16, in_channels=4,
                                 out_channels=4, text_dim=32, freq_dim=32, ffn_dim=64, num_layers=layers,
                                 rope_max_seq_len=64).eval()


def inputs(F=3, H=6, W=8, T=7):
    g = torch.Generator().manual_seed(1)
    lat = torch.randn(1, 4, F, H, W, generator=g)
    ctx = torch.randn(1, T, 32, generator=g)
    return lat, torch.tensor([500]), ctx


def test_full_matches_diffusers():
    m = tiny()
    lat, ts, ctx = inputs()
    with torch.no_grad():
        want = m(lat, ts, ctx, return_dict=False)[0]
        procs = md.apply(m, "full")
        got = m(lat, ts, ctx, return_dict=False)[0]
    assert len(procs) == 4  # attn1 + attn2 per block
    assert got.shape == want.shape
    assert rel_l2(got.numpy(), want.numpy()) <= 1e-4


def test_moga_processor_runs_with_router_parameters():
    m = tiny()
    lat, ts, ctx = inputs(F=4, H=6, W=8)
    procs = md.apply(m, "moga")
    names = [n for n, _ in m.named_parameters() if ".processor.router." in n]
    assert names == ["blocks.0.attn1.processor.router.0", "blocks.1.attn1.processor.router.0"]
    w = dict(m.named_parameters())["blocks.0.attn1.processor.router.0"]
    assert w.shape == (5, 32) and w.requires_grad
    sd = m.state_dict()
    assert "blocks.1.attn1.processor.router.0" in sd
    with torch.no_grad():
        out = m(lat, ts, ctx, return_dict=False)[0]
    assert out.shape == lat.shape and torch.isfinite(out).all()
    p = procs["blocks.0.attn1.processor"]
    assert p.grid == (4, 3, 4)
    # the router weights matter: other weights, another output
    with torch.no_grad():
        w.mul_(-3.0)
        out2 = m(lat, ts, ctx, return_dict=False)[0]
    assert not torch.allclose(out, out2)


def test_processor_needs_the_grid():
    m = tiny(layers=1)
    proc = md.MoGAAttnProcessor("stga")
    attn = m.blocks[0].attn1
    attn.set_processor(proc)
    h = torch.randn(1, 12, 32)
    with pytest.raises(ValueError, match="^grid:"):
        attn(h)
    proc.grid = (1, 3, 4)
    assert attn(h).shape == h.shape


def test_cross_diffusers_untouched():
    m = tiny(layers=1)
    lat, ts, ctx = inputs()
    with torch.no_grad():
        want = m(lat, ts, ctx, return_dict=False)[0]
        md.apply(m, "full", cross="diffusers")
        got = m(lat, ts, ctx, return_dict=False)[0]
    assert rel_l2(got.numpy(), want.numpy()) <= 1e-4


@pytest.mark.gpu
def test_moga_training_step_makes_no_host_synchronization():
    """A training step of one MoGA self-attention layer on the GPU (the forward recording the balance loss,
    the backward to the input and the router) makes no synchronizing CUDA call through torch, after a warm-up
    step (the first call per shape compiles and uploads its static maps): torch.cuda.set_sync_debug_mode
    ("error") raises on .item(), torch.bincount's readback of its max, blocking copies. The runtime's own
    calls are checked by gpu_backward_test's CapturesIntoAGraph."""
    torch.manual_seed(0)
    m = WanTransformer3DModel(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=64, in_channels=4,
                              out_channels=4, text_dim=32, freq_dim=32, ffn_dim=64, num_layers=1,
                              rope_max_seq_len=64)
    attn = m.blocks[0].attn1.cuda()
    proc = md.MoGAAttnProcessor("moga", dim=128, grid=(4, 6, 8))
    attn.set_processor(proc)
    proc.to("cuda")

    def step():
        h = torch.randn(1, 4 * 6 * 8, 128, device="cuda", requires_grad=True)
        out = attn(h)
        (out.float().square().mean() + proc.last_balance_loss).backward()
        return h.grad, proc.router[0].grad

    step()
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        dh, dw = step()
    finally:
        torch.cuda.set_sync_debug_mode(0)
    torch.cuda.synchronize()
    assert torch.isfinite(dh).all() and torch.isfinite(dw).all()
    assert dh.abs().sum() > 0 and dw.abs().sum() > 0
