"""Framework-free tensor views: (data pointer, dtype, shape, strides in elements)."""
from __future__ import annotations

from typing import NamedTuple, Optional, Sequence, Tuple

_CAI_DTYPES = {"<f2": "f16", "<f4": "f32", "<i4": "i32"}


class View(NamedTuple):
    ptr: int
    dtype: str            # "bf16", "f16", "f32", "i32"
    shape: Tuple[int, ...]
    strides: Tuple[int, ...]  # in elements


def view(ptr: int, shape: Sequence[int], strides: Optional[Sequence[int]] = None, dtype: str = "bf16") -> View:
    """A view of device memory at `ptr` (row-major strides unless given, in elements)."""
    shape = tuple(int(s) for s in shape)
    if strides is None:
        st, acc = [], 1
        for s in reversed(shape):
            st.append(acc)
            acc *= s
        strides = tuple(reversed(st))
    return View(int(ptr), dtype, shape, tuple(int(s) for s in strides))


_ITEM = {"bf16": 2, "f16": 2, "f32": 4, "i32": 4}


def as_view(t, name: str, dtype: Optional[str] = None) -> tuple:
    """A View, a torch tensor, or anything with __cuda_array_interface__ (bf16 has no typestr there:
    pass dtype="bf16" through moga.view for such arrays)."""
    if isinstance(t, View):
        return tuple(t)
    if isinstance(t, tuple) and len(t) == 4:
        return t
    mod = type(t).__module__
    if mod.startswith("torch"):
        from ._torch_ops import torch_view

        return torch_view(t, name)
    cai = getattr(t, "__cuda_array_interface__", None)
    if cai is not None:
        dt = dtype or _CAI_DTYPES.get(cai["typestr"])
        if dt is None:
            raise ValueError(f"{name}: unsupported __cuda_array_interface__ typestr {cai['typestr']!r}")
        item = _ITEM[dt]
        shape = tuple(cai["shape"])
        if cai.get("strides") is None:
            return tuple(view(cai["data"][0], shape, None, dt))
        strides = []
        for s in cai["strides"]:
            if s % item:
                raise ValueError(f"{name}: stride of {s} bytes is not a multiple of the {item}-byte element")
            strides.append(s // item)
        return (int(cai["data"][0]), dt, shape, tuple(strides))
    raise ValueError(f"{name}: expected a torch tensor, a moga.View or an object with __cuda_array_interface__, "
                     f"got {type(t).__name__}")
