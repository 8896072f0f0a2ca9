"""GPU tests (marked `gpu`; skipped without torch + a CUDA device; tools/gpu-check's `python` row runs
them): every shipped pattern through the torch op against the CPU reference, the op under
torch.compile and inside a captured CUDA graph, the diffusers processor, the Python-call overhead."""
import json
import math
import os
import time

import pytest

from conftest import DIFFUSERS_WHY, HAS_DIFFUSERS, HAS_TORCH, rel_l2

pytestmark = pytest.mark.gpu

if HAS_TORCH:
    import torch

import moga

TOL = 1e-2


def rnd(*shape, scale=1.0, seed=0):
    g = torch.Generator(device="cuda").manual_seed(seed)
    return (torch.rand(*shape, device="cuda", generator=g) * 2 - 1).mul_(scale).to(torch.bfloat16)


def inputs(pat, shape, B=1, H=2, D=128, dm=256, seed=0):
    N = shape.N
    q, k, v = (rnd(B, N, H, D, seed=seed + i) for i in range(3))
    kw = {"shape": shape}
    if pat.routed_kernels:
        # logits well separated (|x W| ~ 3), so that bf16 and float64 routing agree almost everywhere
        kw["router_x"] = rnd(B, N, dm, seed=seed + 7)
        kw["router_w"] = [rnd(dm, M, scale=math.sqrt(27.0 / dm), seed=seed + 8 + j)
                          for j, M in enumerate(pat.router_groups)]
    return q, k, v, kw


def cpu(t):
    return t.detach().float().cpu()


def reference_of(pat, q, k, v, kw, gpu_routing=True):
    rk = {"shape": kw["shape"]}
    if pat.routed_kernels:
        if gpu_routing:  # the GPU's own routing, so near-ties cannot differ
            rk["routing"] = [pat.last_routing(ki) for ki in pat.routed_kernels]
        else:
            rk["router_x"] = cpu(kw["router_x"])
            rk["router_w"] = [cpu(w) for w in kw["router_w"]]
    return pat.reference(cpu(q), cpu(k), cpu(v), **rk)


SHAPES = {"seq": moga.seq(1531), "video": moga.video(7, 9, 13, shots=[0, 4])}


@pytest.fixture(scope="module", autouse=True)
def _prewarm_jit():
    """NVRTC-compiles every module the tests use at once, in threads (compile_module releases the GIL;
    the disk cache makes the tests' own first calls hits): gpu-check starts from an empty cache."""
    from concurrent.futures import ThreadPoolExecutor

    if not HAS_TORCH or not torch.cuda.is_available():
        yield
        return
    pats = [(moga.pattern(n), d) for n in moga.builtin_names() for d in (64, 128)]
    pats += [(moga.pattern("moga", params={"M": 16}), 128), (moga.pattern("moga_dynamic", params={"M": 16}), 128)]
    t0 = time.time()
    with ThreadPoolExecutor(max_workers=min(16, os.cpu_count() or 4)) as ex:
        list(ex.map(lambda pd: pd[0].compile_module(pd[1]), pats))
    print(f"prewarm: {len(pats)} modules in {time.time() - t0:.1f} s")
    yield


@pytest.mark.parametrize("name", moga.builtin_names())
@pytest.mark.parametrize("D", [128, 64])
def test_shipped_pattern_vs_reference(name, D):
    pat = moga.pattern(name)
    shape = SHAPES[pat.layout]
    q, k, v, kw = inputs(pat, shape, B=2 if D == 64 else 1, D=D)
    out = torch.full_like(q, float("nan"))  # poisoned: every element must be written
    pat(q, k, v, out=out, **kw)
    torch.cuda.synchronize()
    assert torch.isfinite(out).all(), f"{name}: NaN left in the output"
    ref = reference_of(pat, q, k, v, kw)
    err = rel_l2(cpu(out).numpy(), ref.numpy())
    assert err <= TOL, f"{name} D={D}: rel L2 {err:.3g}"
    # a new tensor, the same result (up to the accumulation order of a routed sort: atomics)
    o2 = pat(q, k, v, **kw)
    assert rel_l2(cpu(o2).numpy(), cpu(out).numpy()) <= 1e-3


# FP8 (pat.precision = "fp8"): the bound of the C++ GPU tests (docs/performance.md, "FP8": a host model of
# the algorithm gives rel L2 0.039 on uniform inputs); Hopper only.
FP8_TOL = 6e-2


@pytest.mark.parametrize("name", ["full", "causal", "moga"])
def test_fp8_precision_vs_reference(name):
    if torch.cuda.get_device_capability() != (9, 0):
        pytest.skip("FP8 attention runs on sm_90")
    pat = moga.pattern(name)
    assert pat.precision == "bf16"
    with pytest.raises(ValueError, match="precision"):
        pat.precision = "fp16"
    pat.precision = "fp8"
    assert pat.precision == "fp8"
    shape = SHAPES[pat.layout]
    q, k, v, kw = inputs(pat, shape)
    out = torch.full_like(q, float("nan"))
    pat(q, k, v, out=out, **kw)
    torch.cuda.synchronize()
    assert torch.isfinite(out).all(), f"{name}: NaN left in the output"
    err = rel_l2(cpu(out).numpy(), reference_of(pat, q, k, v, kw).numpy())
    print(f"{name} fp8: rel L2 {err:.3g} (bound {FP8_TOL})")
    assert err <= FP8_TOL, f"{name} fp8: rel L2 {err:.3g}"


def test_bhnd_strides_without_copy():
    pat = moga.pattern("causal")
    B, H, N, D = 1, 2, 777, 128
    qh, kh, vh = (rnd(B, H, N, D, seed=i) for i in range(3))
    import warnings

    import moga._torch_ops as ops

    ops._copy_warned.clear()
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="moga:")  # a copy would warn
        o = pat(qh, kh, vh, layout="bhnd")
    ref = pat.reference(cpu(qh), cpu(kh), cpu(vh), layout="bhnd")
    assert o.shape == (B, H, N, D) and rel_l2(cpu(o).numpy(), ref.numpy()) <= TOL
    # a layout the kernels cannot read (D not contiguous) is copied, with a warning
    qd = rnd(B, N, D, H, seed=4).transpose(2, 3)
    with pytest.warns(UserWarning, match="copying"):
        o3 = pat(qd, qd, qd)
    ref3 = pat.reference(cpu(qd), cpu(qd), cpu(qd))
    assert rel_l2(cpu(o3).numpy(), ref3.numpy()) <= TOL


def test_errors_before_launch():
    pat = moga.pattern("causal")
    q = rnd(1, 64, 2, 128)
    with pytest.raises(ValueError, match="^k: expected dtype torch.bfloat16"):
        pat(q, q.float(), q)
    with pytest.raises(ValueError, match="^v: expected a tensor on cuda"):
        pat(q, q, q.cpu())
    with pytest.raises(ValueError, match="^q: head dim"):
        pat(q[..., :96], q[..., :96], q[..., :96])
    with pytest.raises(ValueError, match="out"):  # aliasing is checked by the runtime
        pat(q, q, q, out=q)


def test_torch_compile_and_cuda_graph():
    pat = moga.pattern("moga", params={"M": 16})
    shape = moga.video(6, 10, 12)
    q, k, v, kw = inputs(pat, shape)
    x, ws = kw["router_x"], kw["router_w"]

    def f(q, k, v, x, w):
        return pat(q, k, v, shape=shape, router_x=x, router_w=[w]) * 2

    eager = f(q, k, v, x, ws[0])
    torch._dynamo.reset()
    exp = torch._dynamo.explain(f)(q, k, v, x, ws[0])
    assert exp.graph_break_count == 0
    cf = torch.compile(f, fullgraph=True)
    assert rel_l2(cpu(cf(q, k, v, x, ws[0])).numpy(), cpu(eager).numpy()) <= TOL
    # torch.compile with CUDA graphs (reduce-overhead)
    torch._dynamo.reset()
    cg = torch.compile(f, mode="reduce-overhead", fullgraph=True)
    for _ in range(3):
        r = cg(q, k, v, x, ws[0])
    assert rel_l2(cpu(r).numpy(), cpu(eager).numpy()) <= TOL
    # a captured CUDA graph of warm calls, replayed on new inputs
    out = torch.empty_like(q)
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(2):
            pat(q, k, v, out=out, **kw)
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        pat(q, k, v, out=out, **kw)
    q2, k2, v2, kw2 = inputs(pat, shape, seed=11)
    q.copy_(q2), k.copy_(k2), v.copy_(v2), x.copy_(kw2["router_x"]), ws[0].copy_(kw2["router_w"][0])
    out.fill_(float("nan"))
    g.replay()
    torch.cuda.synchronize()
    want = pat(q2, k2, v2, **kw2)
    assert rel_l2(cpu(out).numpy(), cpu(want).numpy()) <= TOL, "the replay must see the new inputs and weights"
    assert rel_l2(cpu(out).numpy(), cpu(eager).numpy() / 2) > 0.1  # and not the old ones


def _layer_inputs():
    pat = moga.pattern("moga_dynamic", params={"M": 16})
    shape = moga.video(21, 30, 52)  # 32,760 tokens, the bench's M = 16 layer
    q, k, v, kw = inputs(pat, shape, H=12, D=128, dm=1536)
    return pat, q, k, v, kw


def test_python_paths_match_cpp_and_report_overhead():
    """The M = 16 layer from Python, through the dispatcher and from a C++ loop (PatternAttention::run, same
    object, same tensors) gives bit-identical outputs; the wall clock of 50 back-to-back calls each, best of
    5, is printed and written to $MOGA_OVERHEAD_JSON (gpu-check's python row reports it). The overhead is a
    measurement, not an assertion: speed is judged in benchmarks, never in a timed test."""
    pat, q, k, v, kw = _layer_inputs()
    out = torch.empty_like(q)
    for _ in range(3):
        pat(q, k, v, out=out, **kw)
    torch.cuda.synchronize()
    from moga._torch_ops import torch_view

    sh = kw["shape"].native()
    views = [torch_view(t, n) for t, n in ((q, "q"), (k, "k"), (v, "v"), (out, "out"))]
    xv = torch_view(kw["router_x"], "router_x")
    wv = [torch_view(w, "router_w") for w in kw["router_w"]]
    stream = torch.cuda.current_stream().cuda_stream
    iters = 50
    cpp, py, disp = [], [], []
    for _ in range(5):
        cpp.append(pat._native.bench_cpp_loop(*views, sh, xv, wv, iters, stream, True) / iters)
        pat(q, k, v, out=out, **kw)
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(iters):
            pat(q, k, v, out=out, **kw)
        torch.cuda.synchronize()
        py.append((time.perf_counter() - t0) / iters)
        t0 = time.perf_counter()
        for _ in range(iters):
            torch.ops.moga.attention_out(q, k, v, kw["router_x"], kw["router_w"], pat._id, kw["shape"].as_list(), out)
        torch.cuda.synchronize()
        disp.append((time.perf_counter() - t0) / iters)
    c, p, d = min(cpp), min(py), min(disp)
    # host time of one Python call alone (no GPU wait): how much slack the launch has
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    pat(q, k, v, out=out, **kw)
    host_us = (time.perf_counter() - t0) * 1e6
    torch.cuda.synchronize()
    rec = {"cpp_ms": c * 1e3, "python_ms": p * 1e3, "dispatcher_ms": d * 1e3, "overhead": p / c - 1,
           "dispatcher_overhead": d / c - 1, "host_us_one_call": host_us}
    print("overhead:", json.dumps(rec))
    if os.environ.get("MOGA_OVERHEAD_JSON"):
        with open(os.environ["MOGA_OVERHEAD_JSON"], "w") as f:
            json.dump(rec, f, indent=1)
    outs = []
    out.fill_(float("nan"))  # poisoned: each path must write every element
    pat(q, k, v, out=out, **kw)
    outs.append(out.clone())
    out.fill_(float("nan"))
    torch.ops.moga.attention_out(q, k, v, kw["router_x"], kw["router_w"], pat._id, kw["shape"].as_list(), out)
    outs.append(out.clone())
    out.fill_(float("nan"))
    pat._native.bench_cpp_loop(*views, sh, xv, wv, 1, stream, True)
    torch.cuda.synchronize()
    outs.append(out.clone())
    assert not torch.isnan(outs[0]).any(), "the Python call left NaN (unwritten) elements"
    assert torch.equal(outs[0], outs[1]), "the dispatcher path's output differs from the Python call's"
    assert torch.equal(outs[0], outs[2]), "the C++ loop's output differs from the Python call's"


@pytest.mark.skipif(not HAS_DIFFUSERS, reason=DIFFUSERS_WHY or "-")
def test_processor_full_matches_diffusers_attention():
    from diffusers.models.transformers.transformer_wan import WanAttention, WanAttnProcessor, WanRotaryPosEmbed

    import moga.diffusers as md

    torch.manual_seed(0)
    dim, heads = 1536, 12
    attn = WanAttention(dim=dim, heads=heads, dim_head=dim // heads, eps=1e-6,
                        processor=WanAttnProcessor()).to("cuda", torch.bfloat16)
    F, H, W = 5, 12, 16
    lat = torch.randn(1, 16, F, 2 * H, 2 * W, device="cuda")
    rope = WanRotaryPosEmbed(dim // heads, (1, 2, 2), 1024).to("cuda")(lat)
    h = torch.randn(1, F * H * W, dim, device="cuda", dtype=torch.bfloat16)
    ctx = torch.randn(1, 77, dim, device="cuda", dtype=torch.bfloat16)
    with torch.no_grad():
        want = attn(h, None, None, rope)
        cross = WanAttention(dim=dim, heads=heads, dim_head=dim // heads, eps=1e-6, cross_attention_dim_head=dim // heads,
                             processor=WanAttnProcessor()).to("cuda", torch.bfloat16)
        want_x = cross(h, ctx)
        attn.set_processor(md.MoGAAttnProcessor("full"))
        got = attn(h, None, None, rope)
        cross.set_processor(md.MoGAAttnProcessor("full", self_attention=False))
        got_x = cross(h, ctx)
    assert rel_l2(cpu(got).numpy(), cpu(want).numpy()) <= TOL
    assert rel_l2(cpu(got_x).numpy(), cpu(want_x).numpy()) <= TOL


@pytest.mark.skipif(not HAS_DIFFUSERS, reason=DIFFUSERS_WHY or "-")
def test_wan_forward_moga_32760_tokens():
    """A WanTransformer3DModel forward (Wan2.1-1.3B layout, random weights, bf16) at 21x60x104 latents
    = 32,760 tokens with every self-attention through `moga`; the same forward with diffusers' own
    attention for the time."""
    from diffusers import WanTransformer3DModel

    import moga.diffusers as md

    torch.manual_seed(0)
    with torch.device("cuda"):
        m = WanTransformer3DModel(patch_size=(1, 2, 2), num_attention_heads=12, attention_head_dim=128,
                                  in_channels=16, out_channels=16, text_dim=4096, freq_dim=256, ffn_dim=8960,
                                  num_layers=30).to(torch.bfloat16).eval()
    lat = torch.randn(1, 16, 21, 60, 104, device="cuda", dtype=torch.bfloat16)
    ctx = torch.randn(1, 512, 4096, device="cuda", dtype=torch.bfloat16)
    ts = torch.tensor([500], device="cuda")

    def timed():
        with torch.no_grad():
            m(lat, ts, ctx, return_dict=False)
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            o = m(lat, ts, ctx, return_dict=False)[0]
            torch.cuda.synchronize()
        return o, time.perf_counter() - t0

    base, t_base = timed()
    procs = md.apply(m, "moga")
    assert procs["blocks.0.attn1.processor"].router[0].dtype == torch.bfloat16
    out, t_moga = timed()
    assert procs["blocks.0.attn1.processor"].grid == (21, 30, 52)
    assert out.shape == lat.shape and torch.isfinite(out).all()
    rec = {"tokens": 32760, "diffusers_sdpa_s": t_base, "moga_s": t_moga, "speedup": t_base / t_moga}
    print("wan forward:", json.dumps(rec))
    if os.environ.get("MOGA_WAN_JSON"):
        with open(os.environ["MOGA_WAN_JSON"], "w") as f:
            json.dump(rec, f, indent=1)


def test_tune_runs_and_is_picked_up(cache_dir):
    pat = moga.pattern("causal")
    shape = moga.seq(4096)
    t = pat.manifest["kernels"][0]["tiles"]
    cid = f"bm{t['block_m']}_bn{t['block_n']}_w{t['warps']}_s{t['stages']}"  # the manifest's own tiles
    dry = moga.tune(pat, shape, heads=4, head_dim=64, dry_run=True)
    assert cid in dry[0]["space"], (cid, dry[0]["space"])
    rows = moga.tune(pat, shape, heads=4, head_dim=64, configs=[cid], runs=10, quiet=True)
    assert rows[0]["results"][cid]["status"] == "ok", rows[0]["results"][cid]
    assert rows[0]["runtime_choice_source"].startswith("tuned")
    q, k, v, kw = inputs(pat, shape, H=4, D=64)
    out = pat(q, k, v, **kw)
    ref = reference_of(pat, q, k, v, kw)
    assert rel_l2(cpu(out).numpy(), ref.numpy()) <= TOL
