"""The torch op without a GPU: CPU tensors run the CPU reference through the same op; the fake
implementation under torch.compile (fullgraph: no graph break), opcheck, argument errors.
Skipped (loudly) where torch is not installed: CI does not install the 6 GB CUDA torch (docs/python.md)."""
import pytest

from conftest import HAS_TORCH, rel_l2

if not HAS_TORCH:
    pytest.skip("torch is not installed: the torch op tests need it (CI has no torch; docs/python.md)",
                allow_module_level=True)

import torch  # noqa: E402

import moga  # noqa: E402


def t(*shape, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g).to(dtype)


def test_op_cpu_matches_reference():
    p = moga.pattern("causal")
    q, k, v = (t(2, 37, 2, 16, seed=i) for i in range(3))
    out = p(q, k, v)
    ref = p.reference(q, k, v)
    assert out.dtype == q.dtype and out.shape == q.shape
    assert rel_l2(out.numpy(), ref.numpy()) <= 1e-6
    # [B, H, N, D] through strides
    qh, kh, vh = (x.transpose(1, 2).contiguous() for x in (q, k, v))
    oh = p(qh, kh, vh, layout="bhnd")
    assert oh.shape == qh.shape and rel_l2(oh.transpose(1, 2).numpy(), ref.numpy()) <= 1e-6
    # out=
    o2 = torch.full_like(q, float("nan"))
    assert p(q, k, v, out=o2) is o2 and rel_l2(o2.numpy(), ref.numpy()) <= 1e-6


def test_op_routed_cpu():
    p = moga.pattern("moga")
    shape = moga.video(4, 3, 5, shots=[0, 2])
    N = shape.N
    q, k, v = (t(1, N, 2, 16, seed=i) for i in range(3))
    x, w = t(1, N, 24, seed=5), t(24, 5, seed=6)
    out = p(q, k, v, shape=shape, router_x=x, router_w=[w])
    ref = p.reference(q, k, v, shape=shape, router_x=x, router_w=[w])
    assert rel_l2(out.numpy(), ref.numpy()) <= 1e-6


def test_torch_compile_fullgraph():
    p = moga.pattern("moga_dynamic")
    shape = moga.video(2, 3, 4)
    N = shape.N
    q, k, v = (t(1, N, 2, 16, seed=i) for i in range(3))
    x, w = t(1, N, 8, seed=4), t(8, 5, seed=5)

    def f(q, k, v, x, w):
        return p(q * 2, k, v, shape=shape, router_x=x, router_w=[w]) + 1

    eager = f(q, k, v, x, w)
    torch._dynamo.reset()
    cf = torch.compile(f, fullgraph=True, backend="aot_eager")  # a graph break would raise
    got = cf(q, k, v, x, w)
    assert rel_l2(got.numpy(), eager.numpy()) <= 1e-6
    exp = torch._dynamo.explain(f)(q, k, v, x, w)
    assert exp.graph_break_count == 0 and exp.graph_count == 1


def test_torch_compile_inductor():
    p = moga.pattern("causal")
    q, k, v = (t(1, 21, 2, 8, seed=i) for i in range(3))

    def f(q, k, v):
        o = torch.empty_like(q)
        p(q, k, v, out=o)
        return o.sum(dim=-1)

    torch._dynamo.reset()
    got = torch.compile(f, fullgraph=True)(q, k, v)
    assert rel_l2(got.numpy(), f(q, k, v).numpy()) <= 1e-6


def test_fake_tensor_and_opcheck():
    from torch._subclasses.fake_tensor import FakeTensorMode

    p = moga.pattern("causal")
    with FakeTensorMode():
        q = torch.empty(1, 64, 2, 128, dtype=torch.bfloat16, device="cuda")
        o = p(q, q, q)
        assert o.shape == q.shape and o.dtype == torch.bfloat16 and o.device.type == "cuda"
    q, k, v = (t(1, 17, 2, 8, seed=i) for i in range(3))
    torch.library.opcheck(torch.ops.moga.attention.default, (q, k, v, None, [], p._id, moga.seq(17).as_list()))
    torch.library.opcheck(torch.ops.moga.attention_out.default,
                          (q, k, v, None, [], p._id, moga.seq(17).as_list(), torch.empty_like(q)))


def test_argument_errors_name_the_argument():
    p = moga.pattern("moga_dynamic")
    shape = moga.video(2, 2, 4)
    q = t(1, 16, 2, 16)
    x, w = t(1, 16, 8), t(8, 5)
    with pytest.raises(ValueError, match=r"^q:"):
        p(q[0], q, q, shape=shape, router_x=x, router_w=[w])
    with pytest.raises(ValueError, match=r"^k:"):
        p(q, q[:, :, :1], q, shape=shape, router_x=x, router_w=[w])
    with pytest.raises(ValueError, match=r"^v:"):
        p(q, q, q[..., :8], shape=shape, router_x=x, router_w=[w])
    with pytest.raises(ValueError, match=r"^router_x:"):
        p(q, q, q, shape=shape)
    with pytest.raises(ValueError, match=r"^router_w:"):
        p(q, q, q, shape=shape, router_x=x, router_w=[t(8, 4)])
    with pytest.raises(ValueError, match=r"^shape:"):
        p(q, q, q, shape=moga.video(2, 2, 5), router_x=x, router_w=[w])
    with pytest.raises(ValueError, match=r"^shape:"):
        p(q, q, q, router_x=x, router_w=[w])
    with pytest.raises(ValueError, match=r"^out:"):
        p(q, q, q, shape=shape, router_x=x, router_w=[w], out=t(1, 16, 2, 8))
    with pytest.raises(ValueError, match=r"^layout:"):
        p(q, q, q, shape=shape, router_x=x, router_w=[w], layout="nhd")
    with pytest.raises(ValueError, match=r"^router_x:"):
        moga.pattern("causal")(q, q, q, router_x=x)


def test_router_weight_reuse_tokens(monkeypatch):
    """The packed W_r is reused only for the very same live tensors with the same version."""
    import moga._torch_ops as ops

    monkeypatch.setattr(torch.cuda, "is_current_stream_capturing", lambda: False)
    p = moga.pattern("moga_dynamic")
    w = torch.nn.Parameter(torch.randn(5, 8))
    assert ops._weight_tokens(p, [w.t()]) == []          # first call: repack
    v = ops._weight_tokens(p, [w.t()])
    assert v == [w._version]                              # same parameter (a new view): reuse
    with torch.no_grad():
        w.mul_(2)
    assert ops._weight_tokens(p, [w.t()]) == []          # modified in place: repack
    assert ops._weight_tokens(p, [w.t()]) != []
    assert ops._weight_tokens(p, [torch.randn(8, 5)]) == []
    assert ops._weight_tokens(p, [torch.randn(8, 5)]) == []  # fresh tensors are never "unchanged"
    monkeypatch.setattr(torch.cuda, "is_current_stream_capturing", lambda: True)
    assert ops._weight_tokens(p, [w.t()]) == []          # under capture: every replay repacks
